//! What one annotation may carry (src/input/limits.rs): the largest annotation the bounds allow
//! is stored and found on both engines, and one past any bound is refused alike with a 400
//! naming the field, before anything is written. PostgreSQL refused a URI longer than its index
//! entries could hold with a 500, and 20,000 document links held the writer for seconds.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, spawn_app};
use crate::on_both_engines;
use scholia::input::limits::{
    MAX_DOCUMENT_URIS, MAX_REFERENCES, MAX_SELECTORS, MAX_TAG_BYTES, MAX_TAGS, MAX_URI_BYTES,
};

on_both_engines!(
    the_largest_annotation_allowed_is_stored_and_found,
    an_annotation_past_a_bound_is_refused_and_writes_nothing,
);

/// `len` bytes that do not compress (PostgreSQL compresses a value before indexing it, so a
/// repetitive long string would slip under its index limit).
fn random_text(len: usize) -> String {
    let mut s = String::with_capacity(len + 32);
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

fn uri_of(len: usize) -> String {
    let head = "http://example.com/";
    format!("{head}{}", random_text(len - head.len()))
}

async fn the_largest_annotation_allowed_is_stored_and_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.user("alice").await;
    let uri = uri_of(MAX_URI_BYTES);
    // h's schema allows tags of 1,000 characters and links of 3,000.
    let tags: Vec<String> = (0..MAX_TAGS).map(|_| random_text(1000)).collect();
    // The self-claim is one of the document's URIs.
    let links: Vec<Value> = (1..MAX_DOCUMENT_URIS)
        .map(|_| json!({"href": uri_of(3000), "rel": "alternate"}))
        .collect();
    let selectors: Vec<Value> = (0..MAX_SELECTORS)
        .map(|i| json!({"type": "TextQuoteSelector", "exact": format!("quote {i}")}))
        .collect();
    let created = app
        .annotate(
            &token,
            json!({
                "uri": uri, "text": "big", "tags": tags,
                "permissions": {"read": ["group:__world__"]},
                "target": [{"source": uri, "selector": selectors}],
                "document": {"link": links},
            }),
        )
        .await;
    let id = created["id"].as_str().unwrap();

    let (status, got) = app.get(&format!("/api/annotations/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["uri"], json!(uri));
    assert_eq!(got["tags"], json!(tags));
    assert_eq!(got["target"][0]["selector"], json!(selectors));
    // Found by its own URI, by one of its document's links, and by a tag.
    let alternate = links[7]["href"].as_str().unwrap();
    for query in [
        format!("uri={}", urlencode(&uri)),
        format!("uri={}", urlencode(alternate)),
        format!("tag={}", urlencode(&tags[42])),
    ] {
        assert_eq!(app.search_ids(&query, None).await, vec![id.to_owned()]);
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn an_annotation_past_a_bound_is_refused_and_writes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.user("alice").await;
    let ok = app
        .annotate(&token, json!({"uri": "http://example.com/", "tags": ["a"]}))
        .await;
    let before = app.row_counts().await;

    let long_uri = uri_of(MAX_URI_BYTES + 1);
    let many_links: Vec<Value> = (0..20_000)
        .map(|i| json!({"href": format!("http://example.com/{i}")}))
        .collect();
    let cases: Vec<(Value, String)> = vec![
        (
            json!({"uri": long_uri}),
            format!(
                "uri: is {} bytes long; at most {MAX_URI_BYTES} are allowed",
                MAX_URI_BYTES + 1
            ),
        ),
        (
            json!({"uri": "http://example.com/", "tags": vec!["t"; MAX_TAGS + 1]}),
            format!(
                "tags: has {} tags; at most {MAX_TAGS} are allowed",
                MAX_TAGS + 1
            ),
        ),
        (
            // Within h's 1,000 characters, but not within the bytes an index entry holds.
            json!({"uri": "http://example.com/", "tags": ["t", "€".repeat(700)]}),
            format!("tags.1: is 2100 bytes long; at most {MAX_TAG_BYTES} are allowed"),
        ),
        (
            json!({"uri": "http://example.com/", "references": vec!["AAAAAAAAAAAAAAAAAAAAAA"; MAX_REFERENCES + 1]}),
            format!(
                "references: has {} references; at most {MAX_REFERENCES} are allowed",
                MAX_REFERENCES + 1
            ),
        ),
        (
            json!({"uri": "http://example.com/", "target": [{"selector": vec![json!({"type": "X"}); MAX_SELECTORS + 1]}]}),
            format!(
                "target.0.selector: has {} selectors; at most {MAX_SELECTORS} are allowed",
                MAX_SELECTORS + 1
            ),
        ),
        (
            json!({"uri": "http://example.com/", "document": {"link": many_links}}),
            format!(
                "document: has 20001 URIs (links, DOIs and fingerprints); at most {MAX_DOCUMENT_URIS} are allowed"
            ),
        ),
        (
            // h bounds a link's href (3,000 characters) but not a PDF's URL.
            json!({"uri": "http://example.com/", "document": {"highwire": {"pdf_url": [long_uri]}}}),
            format!(
                "document: claims a URI {} bytes long; at most {MAX_URI_BYTES} are allowed",
                MAX_URI_BYTES + 1
            ),
        ),
    ];
    for (body, reason) in &cases {
        let (status, answer) = app.post("/api/annotations", Some(&token), body).await;
        assert_eq!(
            (status, answer),
            (
                StatusCode::BAD_REQUEST,
                json!({"status": "failure", "reason": reason})
            )
        );
    }
    // An update is bounded the same way and leaves the annotation as it was.
    let id = ok["id"].as_str().unwrap();
    let (status, answer) = app
        .patch(
            &format!("/api/annotations/{id}"),
            Some(&token),
            &json!({"tags": vec!["t"; MAX_TAGS + 1]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (_, got) = app
        .get(&format!("/api/annotations/{id}"), Some(&token))
        .await;
    assert_eq!(got["tags"], json!(["a"]));
    assert_eq!(app.row_counts().await, before);
}
