//! Accounts on the site: signup, settings, the developer token, logging out, and the limit on
//! password guesses.

use reqwest::StatusCode;

use super::{Browser, csrf_of, user_in_browser};
use crate::helpers::{Backend, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    signup_is_closed_unless_opened_and_then_checks_its_input,
    signup_returns_where_it_was_asked_to_and_nowhere_else,
    logging_out_elsewhere_revokes_the_sidebars_tokens,
    account_pages_change_the_password_and_show_a_working_token,
    password_guesses_are_limited_per_address,
);

async fn signup_is_closed_unless_opened_and_then_checks_its_input(backend: Backend) {
    let closed = spawn_app(backend).await;
    let b = Browser::new(&closed);
    let (status, html) = b.get("/signup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("does not take registrations"), "{html}");
    assert!(!html.contains("name=\"password\""));
    let (_, _, _) = b
        .post(
            "/signup",
            &[
                ("username", "mallory"),
                ("email", "m@example.org"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert!(
        closed
            .db
            .user_by_userid("acct:mallory@example.com")
            .await
            .unwrap()
            .is_none()
    );

    let app = spawn_app_with(backend, |c| c.open_signup = true).await;
    let b = Browser::new(&app);
    // h's rules, each with its reason; nothing is created.
    for (name, email, pass, reason) in [
        ("x", "x@example.org", "long enough", "3 to 30 characters"),
        ("bad name!", "x@example.org", "long enough", "only letters"),
        ("carol", "no-at-sign", "long enough", "email address"),
        ("carol", "carol@example.org", "short", "at least 8"),
    ] {
        let (status, _, html) = b
            .submit(
                "/signup",
                "/signup",
                &[("username", name), ("email", email), ("password", pass)],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {html}");
        assert!(html.contains(reason), "{reason}: {html}");
    }
    let (status, location, _) = b
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "carol"),
                ("email", "carol@example.org"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/");
    let (_, home) = b.get("/").await;
    assert!(home.contains("acct:carol@example.com"), "{home}");
    // The password works on the login form, from another browser.
    let other = Browser::new(&app);
    other.log_in("carol", "long enough").await;
    // The same name (ignoring case and dots, as h) or email cannot register twice.
    let third = Browser::new(&app);
    let (status, _, html) = third
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "Ca.rol"),
                ("email", "new@example.org"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("taken"), "{html}");
    let (status, _, html) = third
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "dave"),
                ("email", "CAROL@example.org"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("already exists"), "{html}");
}

async fn account_pages_change_the_password_and_show_a_working_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, first_token, alice) = user_in_browser(&app, "alice").await;
    let elsewhere = Browser::new(&app);
    elsewhere.log_in("alice", "correct horse").await;

    // The developer token (the test harness made one): shown, then regenerated; the new one
    // works on the API and the old one no longer does.
    let token_on = |html: &str| {
        let at = html.find("id=\"token\">").expect("the token is shown") + 11;
        html[at..].split('<').next().unwrap().to_owned()
    };
    let (_, html) = alice.get("/account/developer").await;
    assert_eq!(token_on(&html), first_token, "{html}");
    let (status, _, _) = alice
        .submit("/account/developer", "/account/developer", &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = alice.get("/account/developer").await;
    let token = token_on(&html);
    assert_ne!(token, first_token);
    let (_, profile) = app.get("/api/profile", Some(&token)).await;
    assert_eq!(profile["userid"], "acct:alice@example.com");
    let (_, profile) = app.get("/api/profile", Some(&first_token)).await;
    assert_eq!(profile["userid"], serde_json::Value::Null);

    // A wrong current password changes nothing.
    let (status, _, html) = alice
        .submit(
            "/account/settings",
            "/account/settings",
            &[
                ("action", "password"),
                ("password", "wrong"),
                ("new_password", "battery staple"),
                ("new_password_again", "battery staple"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Wrong current password"), "{html}");
    let (status, location, _) = alice
        .submit(
            "/account/settings",
            "/account/settings",
            &[
                ("action", "password"),
                ("password", "correct horse"),
                ("new_password", "battery staple"),
                ("new_password_again", "battery staple"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/account/settings?done=password");
    // The other browser was logged out; this one was not; the new password works.
    let (_, html) = elsewhere.get("/").await;
    assert!(!html.contains("Logged in as"), "{html}");
    let (_, html) = alice.get("/").await;
    assert!(html.contains("Logged in as"), "{html}");
    Browser::new(&app).log_in("alice", "battery staple").await;

    // Email, with the password.
    let (status, _, _) = alice
        .submit(
            "/account/settings",
            "/account/settings",
            &[
                ("action", "email"),
                ("email", "alice@example.org"),
                ("password", "battery staple"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let user = app
        .db
        .user_by_userid("acct:alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("alice@example.org"));

    // `GET /logout` shows a button (a link must change nothing); the post ends the session.
    let (status, html) = alice.get("/logout").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("action=\"/logout\""), "{html}");
    let (_, html) = alice.get("/").await;
    let (status, location, _) = alice.post("/logout", &[("csrf", &csrf_of(&html))]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/");
    let (_, html) = alice.get("/").await;
    assert!(!html.contains("Logged in as"));
}

async fn password_guesses_are_limited_per_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, _, _) = user_in_browser(&app, "alice").await;
    let guesser = Browser::new(&app);
    // Right passwords cost nothing (the login above, and this one)...
    guesser.log_in("alice", "correct horse").await;
    // ...ten wrong guesses are answered...
    for _ in 0..10 {
        let (status, _, html) = guesser
            .submit(
                "/login",
                "/login",
                &[("username", "alice"), ("password", "guess")],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Wrong username or password."));
    }
    // ...and then even the right password waits.
    let (status, _, html) = guesser
        .submit(
            "/login",
            "/login",
            &[("username", "alice"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{html}");
    assert!(html.contains("Too many attempts"), "{html}");
    // So do password checks behind a session (the settings page), from the same address.
    let (status, _, _) = guesser
        .submit(
            "/account/settings",
            "/account/settings",
            &[
                ("action", "email"),
                ("email", "a@example.org"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

async fn signup_returns_where_it_was_asked_to_and_nowhere_else(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.open_signup = true).await;
    for (n, (next, expected)) in [
        (
            "/oauth/authorize?client_id=x&state=s",
            "/oauth/authorize?client_id=x&state=s",
        ),
        ("/\t/evil.example", "/"),
        ("//evil.example", "/"),
    ]
    .into_iter()
    .enumerate()
    {
        let b = Browser::new(&app);
        let name = format!("newcomer{n}");
        let email = format!("{name}@example.org");
        let page = format!("/signup?next={}", crate::annotations::urlencode(next));
        let (status, location, html) = b
            .submit(
                &page,
                "/signup",
                &[
                    ("username", &name),
                    ("email", &email),
                    ("password", "long enough"),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert_eq!(location, expected, "{next:?}");
    }
}

async fn logging_out_elsewhere_revokes_the_sidebars_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, developer, b) = user_in_browser(&app, "alice").await;
    let client = app
        .db
        .first_party_client(crate::helpers::AUTHORITY)
        .await
        .unwrap();
    let sidebar = app.db.issue_oauth_tokens(&alice, &client).await.unwrap();
    let (_, profile) = app.get("/api/profile", Some(&sidebar.access_token)).await;
    assert_eq!(profile["userid"], "acct:alice@example.com");
    let (status, location, _) = b
        .submit(
            "/account/settings",
            "/account/settings",
            &[("action", "sessions")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/account/settings?done=sessions");
    let (_, profile) = app.get("/api/profile", Some(&sidebar.access_token)).await;
    assert_eq!(
        profile["userid"],
        serde_json::Value::Null,
        "the sidebar's token is revoked"
    );
    let (_, profile) = app.get("/api/profile", Some(&developer)).await;
    assert_eq!(
        profile["userid"], "acct:alice@example.com",
        "the developer token stays"
    );
    let (_, html) = b.get("/").await;
    assert!(
        html.contains("Logged in as"),
        "this browser stays logged in"
    );
}
