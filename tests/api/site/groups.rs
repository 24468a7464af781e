//! Group pages: creating a group, joining a private one from its invitation, leaving, and the
//! joins a page must refuse.

use reqwest::StatusCode;

use scholia::domain::GroupType;

use super::{Browser, user_in_browser};
use crate::helpers::{Backend, spawn_app};
use crate::on_both_engines;

on_both_engines!(
    a_private_group_is_joined_from_its_page_and_the_sockets_hear_it,
    pages_refuse_joins_their_group_does_not_allow,
    names_of_any_script_or_none_have_a_working_page,
);

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

async fn pages_refuse_joins_their_group_does_not_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let (bob, _, _) = user_in_browser(&app, "bob").await;
    let (_, _, alice) = user_in_browser(&app, "alice").await;
    for kind in [GroupType::Restricted, GroupType::Open] {
        let pubid = app.group(&bob, "Not by its page", kind, false).await;
        let group = app.db.group_by_pubid(&pubid).await.unwrap().unwrap();
        let here = format!("/groups/{pubid}/{}", group.slug());
        let (_, page) = alice.get(&here).await;
        assert!(!page.contains("Join "), "{page}");
        let (status, _, _) = alice.submit(&here, &here, &[("action", "join")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind:?}");
        assert_eq!(
            app.db
                .role_in(group.id, alice_id(&app).await)
                .await
                .unwrap(),
            None
        );
    }
    // A private group of another authority: its users only.
    let (carol, _) = app.user_of("carol", "partner.example").await;
    let pubid = app
        .group(&carol, "Partner readers", GroupType::Private, false)
        .await;
    let here = format!("/groups/{pubid}/partner-readers");
    let (_, page) = alice.get(&here).await;
    assert!(page.contains("Only users of partner.example"), "{page}");
    let (status, _, _) = alice.submit(&here, &here, &[("action", "join")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Leaving a group one is not in changes nothing; an unknown action is refused.
    let (status, _, _) = alice.submit(&here, &here, &[("action", "leave")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = alice.submit(&here, &here, &[("action", "promote")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn alice_id(app: &crate::helpers::TestApp) -> i64 {
    let userid = format!("acct:alice@{}", crate::helpers::AUTHORITY);
    app.db.user_by_userid(&userid).await.unwrap().unwrap().id
}

async fn names_of_any_script_or_none_have_a_working_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, _, bob) = user_in_browser(&app, "bob").await;
    for (name, slug) in [("Café ☕ Lecture", "caf%C3%A9-lecture"), ("!!!", "group")] {
        let (status, location, html) = bob
            .submit(
                "/groups/new",
                "/groups/new",
                &[("name", name), ("type", "private")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert!(location.ends_with(&format!("/{slug}")), "{location}");
        let (status, page) = bob.get(&location).await;
        assert_eq!(status, StatusCode::OK, "{location}: {page}");
        assert!(page.contains("you are its owner"), "{page}");
        // The slug-less address leads there too.
        let pubid = location.split('/').nth(2).unwrap();
        let r = bob
            .http
            .get(app.url(&format!("/groups/{pubid}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()[reqwest::header::LOCATION], location.as_str());
    }
}
