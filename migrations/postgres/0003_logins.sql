-- First-party logins (h's login form and OAuth authorization-code flow, h/views/oauth.py):
-- browser sessions after a password login, and single-use authorization codes.
CREATE TABLE sessions (
    token           TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id),
    expires         BIGINT NOT NULL,
    created         BIGINT NOT NULL
);

CREATE TABLE authorization_codes (
    code            TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id),
    authclient_id   TEXT NOT NULL REFERENCES authclients(id),
    expires         BIGINT NOT NULL,
    created         BIGINT NOT NULL
);
