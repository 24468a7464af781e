//! The site's pages over real HTTP, as a browser uses them: a cookie jar, the CSRF token taken
//! from the form, redirects looked at one by one.

mod accounts;
mod groups;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    every_page_answers_html_and_errors_are_pages,
    forms_without_the_token_change_nothing,
    the_annotation_page_follows_read_permissions_and_escapes,
);

/// A browser: cookies kept, redirects not followed.
pub struct Browser {
    pub http: reqwest::Client,
    base: String,
}

/// The value of the first `name="csrf"` field of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a CSRF field")
        + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            http,
            base: app.base.clone(),
        }
    }

    /// GET as a browser navigates: asking for HTML.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form; answers the status, the `Location` (if any) and the body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(ACCEPT, "text/html")
            .form(form)
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status(), location, r.text().await.unwrap())
    }

    /// Fills the form on `page` (its CSRF token taken from it) and posts it to `action`.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let (status, html) = self.get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}: {html}");
        let token = csrf_of(&html);
        let mut form = vec![("csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }

    /// Logs in through the login form.
    pub async fn log_in(&self, username: &str, password: &str) {
        let (status, location, body) = self
            .submit(
                "/login",
                "/login",
                &[
                    ("username", username),
                    ("password", password),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(location, "/");
    }
}

/// A user with a password, logged in in a browser of their own.
pub async fn user_in_browser(
    app: &TestApp,
    name: &str,
) -> (scholia::domain::User, String, Browser) {
    let (user, token) = app.user(name).await;
    let hash = scholia::auth::password::hash("correct horse".into())
        .await
        .unwrap();
    app.db.set_password_hash(user.id, &hash).await.unwrap();
    let browser = Browser::new(app);
    browser.log_in(name, "correct horse").await;
    (user, token, browser)
}

async fn every_page_answers_html_and_errors_are_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, _, alice) = user_in_browser(&app, "alice").await;
    let anon = Browser::new(&app);
    for path in [
        "/",
        "/stream",
        "/docs/help",
        "/signup",
        "/forgot-password",
        "/users/alice",
        "/search?q=tag%3A%22x%22",
        "/groups/__world__/public",
    ] {
        for (who, b) in [("anonymous", &anon), ("alice", &alice)] {
            let (status, html) = b.get(path).await;
            assert_eq!(status, StatusCode::OK, "{path} as {who}: {html}");
            assert!(html.starts_with("<!DOCTYPE html>"), "{path}: {html}");
        }
    }
    // Pages for users only: the logged-out visitor is sent to log in and come back.
    for path in ["/groups/new", "/account/settings", "/account/developer"] {
        let (status, html) = alice.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        let r = anon.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let next = format!("/login?next={}", crate::annotations::urlencode(path));
        assert_eq!(r.headers()[LOCATION], next.as_str());
    }
    let (_, home) = alice.get("/").await;
    assert!(home.contains("Logged in as"), "{home}");
    assert!(home.contains("acct:alice@example.com"), "{home}");
    // `/u/<user>` (the client's author link) leads to the user's page.
    let r = anon.http.get(app.url("/u/alice")).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/users/alice");
    let (status, _) = anon.get("/users/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Pages may not be framed by other sites (clickjacking).
    let r = anon.http.get(app.url("/signup")).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(
        r.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
    // Another authority's user has no page here, even with a local namesake.
    let r = anon
        .http
        .get(app.url("/u/acct%3Aalice%40partner.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A search is bounded; a malformed page number is a page, not plain text.
    let long = format!("/search?q={}", "word+".repeat(300));
    let (status, html) = anon.get(&long).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("at most"), "{html}");
    let (status, html) = anon.get("/search?q=x&page=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");

    // An unknown page is a page for a browser and h's JSON for everyone else.
    let (status, html) = anon.get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("<h1>Not found</h1>"), "{html}");
    let r = reqwest::get(app.url("/no/such/page")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().contains("json"));
    let (status, body) = anon.get("/api/no/such/thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"status\":\"failure\""), "{body}");
}

async fn forms_without_the_token_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, _, b) = user_in_browser(&app, "alice").await;
    for token in [None, Some("forged")] {
        let mut form = vec![("name", "Forged group"), ("type", "private")];
        if let Some(t) = token {
            form.push(("csrf", t));
        }
        let (status, _, html) = b.post("/groups/new", &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
        assert!(html.contains("did not come from this site"), "{html}");
    }
    assert!(
        app.db
            .groups_of(alice.id)
            .await
            .unwrap()
            .iter()
            .all(|g| g.name != "Forged group")
    );
    // Another visitor's token is not this one's.
    let anon = Browser::new(&app);
    let (_, html) = anon.get("/login").await;
    let theirs = csrf_of(&html);
    let (status, _, _) = b
        .post(
            "/groups/new",
            &[("csrf", &theirs), ("name", "Forged group")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The login form too: a token-less post logs no one in.
    let fresh = Browser::new(&app);
    let (status, _, _) = fresh
        .post(
            "/login",
            &[("username", "alice"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn the_annotation_page_follows_read_permissions_and_escapes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, alice_token, alice) = user_in_browser(&app, "alice").await;
    let public = app
        .annotate(
            &alice_token,
            json!({"uri": "https://blog.example/post", "text": "<script>alert(1)</script> hi",
                   "target": [{"selector": [{"type": "TextQuoteSelector", "exact": "quoted words"}]}],
                   "permissions": {"read": ["group:__world__"]}}),
        )
        .await;
    let id = public["id"].as_str().unwrap();
    let private = app
        .annotate(
            &alice_token,
            json!({"uri": "https://blog.example/post", "text": "mine only"}),
        )
        .await;
    let private_id = private["id"].as_str().unwrap();
    let anon = Browser::new(&app);

    // No page of blog.example has loaded the client: the annotation itself is shown.
    let (status, html) = anon.get(&format!("/a/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; hi"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("quoted words"));
    assert!(html.contains(&format!("https://blog.example/post#annotations:{id}")));
    // Once one has, readers are sent to the page, where the client opens on the annotation.
    let r = anon
        .http
        .get(app.url("/embed.js"))
        .header("Referer", "https://blog.example/other-post")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status() == StatusCode::SERVICE_UNAVAILABLE);
    let r = anon
        .http
        .get(app.url(&format!("/a/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[LOCATION].to_str().unwrap(),
        format!("https://blog.example/post#annotations:{id}")
    );
    let (status, html) = anon.get(&format!("/a/{id}?view=page")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("quoted words"));

    // A private annotation is a 404 page to others, and readable by its author.
    let (status, html) = anon.get(&format!("/a/{private_id}?view=page")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("mine only"));
    let (status, html) = alice.get(&format!("/a/{private_id}?view=page")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("mine only"));
    // The same on the activity page.
    let (_, html) = anon.get("/users/alice").await;
    assert!(
        html.contains("quoted words") && !html.contains("mine only"),
        "{html}"
    );
    let (_, html) = alice.get("/users/alice").await;
    assert!(html.contains("mine only"), "{html}");
    // A document URI written with non-ASCII letters still leads there, percent-encoded (a
    // `Location` is ASCII).
    let odd = app
        .annotate(
            &alice_token,
            json!({"uri": "https://blog.example/caf\u{e9}", "text": "accented",
                   "permissions": {"read": ["group:__world__"]}}),
        )
        .await;
    let odd_id = odd["id"].as_str().unwrap();
    let r = anon
        .http
        .get(app.url(&format!("/a/{odd_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[LOCATION].to_str().unwrap(),
        format!("https://blog.example/caf%C3%A9#annotations:{odd_id}")
    );
    // A deleted one is gone.
    app.delete(&format!("/api/annotations/{id}"), Some(&alice_token))
        .await;
    let (status, _) = anon.get(&format!("/a/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
