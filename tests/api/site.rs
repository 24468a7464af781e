//! The site's pages over real HTTP, as a browser uses them: a cookie jar, the CSRF token taken
//! from the form, redirects looked at one by one.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::on_both_engines;

on_both_engines!(
    every_page_answers_html_and_errors_are_pages,
    signup_is_closed_unless_opened_and_then_checks_its_input,
    forms_without_the_token_change_nothing,
    a_private_group_is_joined_from_its_page_and_the_sockets_hear_it,
    the_annotation_page_follows_read_permissions_and_escapes,
    account_pages_change_the_password_and_show_a_working_token,
    password_guesses_are_limited_per_address,
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

async fn a_private_group_is_joined_from_its_page_and_the_sockets_hear_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, bob_token, bob) = user_in_browser(&app, "bob").await;
    let (_, alice_token, alice) = user_in_browser(&app, "alice").await;

    // Bob makes a group on /groups/new and lands on its page, which shows the invite link.
    let (status, location, html) = bob
        .submit(
            "/groups/new",
            "/groups/new",
            &[
                ("name", "Reading <club>"),
                ("description", "Books & more"),
                ("type", "private"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    assert!(
        location.starts_with("/groups/") && location.ends_with("/reading-club"),
        "{location}"
    );
    let pubid = location.split('/').nth(2).unwrap().to_owned();
    let (_, page) = bob.get(&location).await;
    assert!(
        page.contains("Reading &lt;club&gt;"),
        "names are escaped: {page}"
    );
    assert!(
        page.contains(&format!("{}{location}", app.base)),
        "invite link: {page}"
    );
    assert!(page.contains("Leave this group"));
    let note = app
        .shared(
            &bob_token,
            &pubid,
            "https://example.com/book",
            "members only",
        )
        .await;
    let note_id = note["id"].as_str().unwrap().to_owned();

    // Alice, with a socket open, follows the link: a Join button and no annotations yet.
    let mut ws = app.ws(Some(&alice_token)).await;
    let (_, page) = alice.get(&location).await;
    assert!(page.contains("Join Reading &lt;club&gt;"), "{page}");
    assert!(!page.contains("members only"), "{page}");
    let (status, back, _) = alice
        .submit(&location, &location, &[("action", "join")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(back, location);
    let ev = ws.event().await;
    assert_eq!(ev["type"], "session-change", "{ev}");
    assert_eq!(ev["action"], "group-join");
    let (_, page) = alice.get(&location).await;
    assert!(page.contains("members only"), "{page}");
    assert!(page.contains("2 members"), "{page}");
    // She reads the group's annotation through the API now too.
    let (status, _) = app
        .get(&format!("/api/annotations/{note_id}"), Some(&alice_token))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Joining twice does not demote the owner; Bob's role stays.
    let (status, _, _) = bob
        .submit(&location, &location, &[("action", "join")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = bob.get(&location).await;
    assert!(page.contains("you are its owner"), "{page}");

    let (status, _, _) = alice
        .submit(&location, &location, &[("action", "leave")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let ev = ws.event().await;
    assert_eq!(ev["action"], "group-leave", "{ev}");
    let (status, _) = app
        .get(&format!("/api/annotations/{note_id}"), Some(&alice_token))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A logged-out visitor with the link is asked to log in first.
    let (_, page) = Browser::new(&app).get(&location).await;
    assert!(page.contains("to join it"), "{page}");
    assert!(!page.contains("members only"));
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
    // A deleted one is gone.
    app.delete(&format!("/api/annotations/{id}"), Some(&alice_token))
        .await;
    let (status, _) = anon.get(&format!("/a/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
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

    // Log out: the session ends.
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
    // The login above took one of the address's 10; nine more wrong guesses are answered...
    for _ in 0..9 {
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
}
