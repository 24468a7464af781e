use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, json_of, spawn_app};
use crate::on_both_engines;

on_both_engines!(jwt_grant_refresh_and_revoke, bad_tokens_are_anonymous);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn grant(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn token_request(
    app: &crate::helpers::TestApp,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    json_of(
        app.client
            .post(app.url("/api/token"))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

const JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// spec §9 item 85, and the grant errors of §8.2.
async fn jwt_grant_refresh_and_revoke(backend: Backend) {
    let app = spawn_app(backend).await;
    app.user_of("pat", "partner.org").await;
    let client = app
        .db
        .create_authclient("partner.org", Some("Partner"))
        .await
        .unwrap();
    let claims = |sub: &str, aud: &str, nbf: i64, exp: i64| json!({"iss": client.id, "sub": sub, "aud": aud, "nbf": nbf, "exp": exp});
    let t = now();
    let good = grant(
        &client.secret,
        &claims("acct:pat@partner.org", "127.0.0.1", t, t + 300),
    );
    let (status, tokens) = token_request(&app, &[("grant_type", JWT), ("assertion", &good)]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        (tokens["token_type"].as_str(), tokens["expires_in"].as_i64()),
        (Some("Bearer"), Some(3600))
    );
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("5768-") && refresh.starts_with("4657-"));
    let whoami = |token: String| {
        let app = &app;
        async move { app.get("/api/profile", Some(&token)).await.1["userid"].clone() }
    };
    assert_eq!(whoami(access.clone()).await, "acct:pat@partner.org");
    assert_eq!(
        whoami(refresh.clone()).await,
        json!(null),
        "a refresh token is not a bearer token"
    );

    let (status, renewed) = token_request(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let access2 = renewed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        whoami(access.clone()).await,
        "acct:pat@partner.org",
        "the old access token still works"
    );
    assert_eq!(whoami(access2.clone()).await, "acct:pat@partner.org");

    let (_, debug) = app.get("/api/debug-token", Some(&access2)).await;
    assert_eq!(debug["userid"], "acct:pat@partner.org");
    assert_eq!(debug["client"]["id"], client.id.as_str());

    // Revoking the original refresh token ends its access token too.
    let r = app
        .client
        .post(app.url("/oauth/revoke"))
        .form(&[("token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(whoami(access.clone()).await, json!(null));
    assert_eq!(whoami(access2).await, "acct:pat@partner.org");

    // Refused grants answer h's OAuth error body (the OAuth JSON as the reason string).
    let oauth_error =
        |body: &Value| -> Value { serde_json::from_str(body["reason"].as_str().unwrap()).unwrap() };
    let cases: Vec<(String, StatusCode, &str, &str)> = vec![
        (
            "not-a-jwt".into(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid JWT grant token format.",
        ),
        (
            grant(
                "wrong",
                &claims("acct:pat@partner.org", "127.0.0.1", t, t + 300),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid grant token signature.",
        ),
        (
            grant(
                &client.secret,
                &claims("acct:pat@partner.org", "elsewhere.org", t, t + 300),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid claim 'aud' (audience) in grant token.",
        ),
        (
            grant(
                &client.secret,
                &claims("acct:pat@partner.org", "127.0.0.1", t - 600, t - 300),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Grant token is expired.",
        ),
        (
            grant(
                &client.secret,
                &claims("acct:pat@partner.org", "127.0.0.1", t, t + 3600),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Grant token lifetime is too long.",
        ),
        (
            grant(
                &client.secret,
                &claims("acct:ghost@partner.org", "127.0.0.1", t, t + 300),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Grant token subject (sub) could not be found.",
        ),
        (
            grant(
                &client.secret,
                &json!({"sub": "x", "aud": "127.0.0.1", "nbf": t, "exp": t + 300}),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Missing claim 'iss' (issuer) from grant token.",
        ),
    ];
    for (assertion, status, error, description) in cases {
        let (got, body) =
            token_request(&app, &[("grant_type", JWT), ("assertion", &assertion)]).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["status"], "failure");
        assert_eq!(
            oauth_error(&body),
            json!({"error": error, "error_description": description})
        );
    }
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "4657-nope"),
        ],
    )
    .await;
    assert_eq!(
        (status, oauth_error(&body)["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

/// spec §9 items 84, 5.
async fn bad_tokens_are_anonymous(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.user("alice").await;
    assert_eq!(
        app.get("/api/profile", Some(&token)).await.1["userid"],
        "acct:alice@example.com"
    );
    let (status, profile) = app.get("/api/profile", Some("6879-unknown")).await;
    assert_eq!(
        (status, profile["userid"].clone()),
        (StatusCode::OK, json!(null))
    );
    let r = app
        .client
        .get(app.url("/api/profile"))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(r).await.1["userid"],
        json!(null),
        "the Bearer prefix is case-sensitive"
    );
    let (status, debug) = app.get("/api/debug-token", Some("6879-unknown")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        debug["error_description"],
        "Bearer token does not exist or is expired"
    );
    // An expired access token is anonymous too.
    let client = app.db.create_authclient("example.com", None).await.unwrap();
    let (alice, _) = (
        app.db
            .user_by_userid("acct:alice@example.com")
            .await
            .unwrap()
            .unwrap(),
        (),
    );
    let issued = app.db.issue_oauth_tokens(&alice, &client).await.unwrap();
    assert_eq!(
        app.get("/api/profile", Some(&issued.access_token)).await.1["userid"],
        "acct:alice@example.com"
    );
    let expire = "UPDATE tokens SET expires = 1 WHERE value LIKE '5768-%'";
    match &app.db {
        scholia::store::Db::Sqlite(p) => sqlx::query(expire).execute(p).await.map(|_| ()),
        scholia::store::Db::Postgres(p) => sqlx::query(expire).execute(p).await.map(|_| ()),
    }
    .unwrap();
    assert_eq!(
        app.get("/api/profile", Some(&issued.access_token)).await.1["userid"],
        json!(null)
    );

    let (status, debug) = app.get("/api/debug-token", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(debug["error"], "missing_token");
}
