//! First-party login for the client's popup: `/oauth/authorize` → `/login` → a code posted to
//! the sidebar → `grant_type=authorization_code` at `/api/token`.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::helpers::{AUTHORITY, Backend, spawn_app};
use crate::on_both_engines;

on_both_engines!(password_login_and_authorization_code_grant);

async fn password_login_and_authorization_code_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, _) = app.user("alice").await;
    let hash = scholia::auth::password::hash("correct horse".into())
        .await
        .unwrap();
    app.db.set_password_hash(alice.id, &hash).await.unwrap();
    let client_id = app.db.first_party_client(AUTHORITY).await.unwrap().id;
    // A browser's cookie jar: the login form's CSRF token is tied to a cookie.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = |origin: &str, client: &str| {
        format!(
            "{}/oauth/authorize?client_id={client}&origin={}&response_mode=web_message&response_type=code&state=s123",
            app.base,
            crate::annotations::urlencode(origin)
        )
    };

    // Not logged in: off to the login form, and back here afterwards.
    let r = http
        .get(authorize(&app.base, &client_id))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let login = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        login.starts_with("/login?next=%2Foauth%2Fauthorize"),
        "{login}"
    );
    let next = url::Url::parse(&format!("{}{login}", app.base))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    let form = http
        .get(format!("{}{login}", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("name=\"password\""));
    let csrf = crate::site::csrf_of(&form);

    let post = |user: &str, pass: &str, next: &str| {
        http.post(app.url("/login"))
            .form(&[
                ("username", user),
                ("password", pass),
                ("next", next),
                ("csrf", csrf.as_str()),
            ])
            .send()
    };
    for (user, pass) in [("alice", "wrong horse"), ("nobody", "correct horse")] {
        let r = post(user, pass, &next).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Wrong username or password.")
        );
    }
    // Only local paths may follow a login.
    let r = post("alice", "correct horse", "https://evil.example/")
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/");
    let r = post("alice", "correct horse", &next).await.unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()[LOCATION].to_str().unwrap(), next);
    let cookie = r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );

    // Logged in: a page posts the code and state to the sidebar's origin.
    let page = http
        .get(authorize(&app.base, &client_id))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let message = page
        .split("postMessage(")
        .nth(1)
        .unwrap()
        .split(", ")
        .next()
        .unwrap();
    let message: Value = serde_json::from_str(message).unwrap();
    assert_eq!(message["type"], "authorization_response");
    assert_eq!(message["state"], "s123");
    let code = message["code"].as_str().unwrap();

    let exchange = |code: String| {
        app.client
            .post(app.url("/api/token"))
            .form(&[
                ("client_id", client_id.as_str()),
                ("code", code.as_str()),
                ("grant_type", "authorization_code"),
            ])
            .send()
    };
    let r = exchange(code.to_owned()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    assert!(tokens["expires_in"].as_f64().unwrap() > 10.0);
    let (_, profile) = app
        .get("/api/profile", tokens["access_token"].as_str())
        .await;
    assert_eq!(profile["userid"], format!("acct:alice@{AUTHORITY}"));
    // A code works once.
    let r = exchange(code.to_owned()).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("invalid_grant"));

    // Another origin or client never gets a code.
    for url in [
        authorize("https://evil.example", &client_id),
        authorize(&app.base, "not-our-client"),
    ] {
        let r = http.get(url).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(!r.text().await.unwrap().contains("postMessage"));
    }
}
