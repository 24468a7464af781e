//! Spec §9 items 29–47 and 69: which events a filter selects, on both engines.

use serde_json::{Value, json};

use super::{Probe, Ws, assert_no_event, filter, notification};
use crate::helpers::{Backend, spawn_app};
use crate::on_both_engines;
use scholia::domain::GroupType;

on_both_engines!(
    no_filter_or_empty_filter_gets_nothing,
    uri_filters_normalise_and_expand,
    id_group_and_reference_filters,
    version_suffixes,
);

fn ann_id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The next event must be a notification for `id`.
async fn expect(ws: &mut Ws, id: &str) -> Value {
    let ev = ws.event().await;
    let (_, payload) = notification(&ev);
    assert_eq!(payload["id"], id, "{ev}");
    ev
}

/// Items 29 and 30.
async fn no_filter_or_empty_filter_gets_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = app.user("alice").await;
    let mut probe = Probe::new(&app).await;
    let mut unfiltered = app.ws(None).await;
    let mut empty = app.ws(None).await;
    empty.apply(&filter(json!([]))).await;
    let mut unknown = app.ws(None).await;
    unknown
        .apply(&filter(json!([{"field": "/random", "value": "x"}])))
        .await;
    app.shared(&t, "__world__", "http://example.com", "public")
        .await;
    probe.sync(&app).await;
    for ws in [&mut unfiltered, &mut empty, &mut unknown] {
        ws.assert_quiet().await;
    }
}

/// Items 31–33, 35, 36, 40, 41, 47 and 69.
async fn uri_filters_normalise_and_expand(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = app.user("alice").await;
    let mut probe = Probe::new(&app).await;

    let mut two = app.ws(None).await;
    two.subscribe(json!([
        {"field": "/random", "value": "ignored"},
        {"field": "/uri", "operator": "equals", "value": ["https://example.com", "https://example.org", "https://example.org"]},
    ]))
    .await;
    let mut slash = app.ws(None).await;
    slash.subscribe_uri("http://example.com/?").await;

    let a = ann_id(
        &app.shared(&t, "__world__", "http://example.com", "com")
            .await,
    );
    expect(&mut two, &a).await;
    expect(&mut slash, &a).await;
    let b = ann_id(
        &app.shared(&t, "__world__", "https://example.org/", "org")
            .await,
    );
    expect(&mut two, &b).await;
    app.shared(&t, "__world__", "https://example.net", "net")
        .await;
    assert_no_event(&app, &mut probe, &mut [&mut two, &mut slash]).await;

    // Document URI expansion: a filter on the PDF fingerprint matches an annotation made on
    // the PDF's URL (the annotation side is expanded, the filter side is not).
    let mut pdf = app.ws(None).await;
    pdf.subscribe_uri("urn:x-pdf:1234").await;
    let doc = json!({"link": [{"href": "urn:x-pdf:1234"}]});
    let c = app
        .annotate(&t, json!({"uri": "https://othersite.com/foo.pdf", "document": doc, "permissions": {"read": ["group:__world__"]}}))
        .await;
    expect(&mut pdf, &ann_id(&c)).await;

    // A rel-canonical link equal to the annotation's own URI turns expansion off.
    let mut canon_fp = app.ws(None).await;
    canon_fp.subscribe_uri("urn:x-pdf:abcd").await;
    let doc = json!({"link": [{"href": "https://example.com/canon", "rel": "canonical"}, {"href": "urn:x-pdf:abcd"}]});
    app.annotate(&t, json!({"uri": "https://example.com/canon", "document": doc, "permissions": {"read": ["group:__world__"]}}))
        .await;
    assert_no_event(&app, &mut probe, &mut [&mut canon_fp]).await;

    // A second filter replaces the first (item 47).
    two.drain().await;
    two.subscribe_uri("https://example.net").await;
    app.shared(&t, "__world__", "https://example.com", "old")
        .await;
    let d = ann_id(
        &app.shared(&t, "__world__", "https://example.net", "new")
            .await,
    );
    expect(&mut two, &d).await;

    // Several matching clauses still mean one delivery (item 69).
    let mut many = app.ws(None).await;
    many.subscribe(json!([
        {"field": "/uri", "value": "https://example.net"},
        {"field": "/group", "value": "__world__"},
        {"field": "/group", "value": ["__world__"]},
    ]))
    .await;
    let e = ann_id(
        &app.shared(&t, "__world__", "https://example.net", "once")
            .await,
    );
    expect(&mut many, &e).await;
    // The marker is in __world__ too, so it arrives once more as the only other event.
    assert_no_event(&app, &mut probe, &mut [&mut many]).await;
}

/// Items 37–39.
async fn id_group_and_reference_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, t) = app.user("alice").await;
    let mut probe = Probe::new(&app).await;
    let club = app.group(&alice, "Club", GroupType::Open, false).await;

    let root = ann_id(
        &app.shared(&t, "__world__", "http://example.com", "root")
            .await,
    );
    let other = ann_id(
        &app.shared(&t, "__world__", "http://example.com", "other")
            .await,
    );
    // Routing is asynchronous: let these creates go by before anyone subscribes to them.
    probe.sync(&app).await;

    let mut by_id = app.ws(None).await;
    by_id
        .subscribe(json!([{"field": "/id", "operator": "equals", "value": root}]))
        .await;
    let mut by_group = app.ws(None).await;
    by_group
        .subscribe(json!([{"field": "/group", "value": [club]}]))
        .await;
    let mut thread = app.ws(None).await;
    thread
        .subscribe(json!([{"field": "/references", "operator": "one_of", "value": root}]))
        .await;

    let (s, _) = app
        .patch(
            &format!("/api/annotations/{root}"),
            Some(&t),
            &json!({"text": "edited"}),
        )
        .await;
    assert!(s.is_success());
    let ev = expect(&mut by_id, &root).await;
    assert_eq!(notification(&ev).0, "update");
    app.patch(
        &format!("/api/annotations/{other}"),
        Some(&t),
        &json!({"text": "edited"}),
    )
    .await;

    let reply = |parent: Vec<String>| json!({"uri": "http://example.com", "references": parent, "text": "reply", "permissions": {"read": ["group:__world__"]}});
    let r1 = ann_id(&app.annotate(&t, reply(vec![root.clone()])).await);
    expect(&mut thread, &r1).await;
    let r2 = ann_id(
        &app.annotate(&t, reply(vec![root.clone(), r1.clone()]))
            .await,
    );
    expect(&mut thread, &r2).await;
    app.annotate(&t, reply(vec![other.clone()])).await;

    let in_club = ann_id(&app.shared(&t, &club, "http://example.com", "club").await);
    expect(&mut by_group, &in_club).await;
    assert_no_event(
        &app,
        &mut probe,
        &mut [&mut by_id, &mut by_group, &mut thread],
    )
    .await;
}

/// Items 42–46, with quirk Q5 fixed: `:all` matches every version.
async fn version_suffixes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, t) = app.user("alice").await;
    let mut probe = Probe::new(&app).await;
    let uri = "http://example.com/doc";
    let mut sockets: Vec<(&str, Ws)> = vec![];
    for suffix in ["", ":v0", ":v1", ":v3", ":v1:v3", ":all"] {
        let mut ws = app.ws(None).await;
        ws.subscribe_uri(&format!("{uri}{suffix}")).await;
        sockets.push((suffix, ws));
    }
    let versioned = |v: i64| json!({"uri": uri, "document": {"version": v}, "text": format!("v{v}"), "permissions": {"read": ["group:__world__"]}});
    let v3 = ann_id(&app.annotate(&t, versioned(3)).await);
    let plain = ann_id(&app.shared(&t, "__world__", uri, "plain").await);
    let marker = probe.sync(&app).await;

    let expected: [(&str, &[&str]); 6] = [
        ("", &[&plain]),
        (":v0", &[&plain]),
        (":v1", &[]),
        (":v3", &[&v3]),
        (":v1:v3", &[&v3]),
        (":all", &[&v3, &plain]),
    ];
    for ((suffix, ws), (s2, ids)) in sockets.iter_mut().zip(expected) {
        assert_eq!(*suffix, s2);
        let mut got = vec![];
        loop {
            let ev = ws.event().await;
            let id = notification(&ev).1["id"].as_str().unwrap().to_owned();
            if id == marker {
                break;
            }
            got.push(id);
        }
        let want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "filter suffix {suffix:?}");
    }
}
