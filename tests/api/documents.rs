use serde_json::json;

use crate::annotations::urlencode;
use crate::helpers::{Backend, spawn_app};
use crate::on_both_engines;

on_both_engines!(document_claims_are_kept);

async fn document_claims_are_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = app.user("alice").await;
    let body = json!({
        "uri": "https://example.com/paper.pdf",
        "group": "__world__",
        "permissions": {"read": ["group:__world__"]},
        "document": {
            "title": ["A Paper"],
            "link": [{"href": "urn:x-pdf:1234"}, {"href": "https://example.com/paper", "rel": "canonical"}],
            "highwire": {"doi": ["10.1234/5678"]},
        },
    });
    let ann = app.annotate(&token, body).await;
    assert_eq!(ann["document"], json!({"title": ["A Paper"]}));
    let id = ann["id"].as_str().unwrap().to_owned();
    // Every claimed URI now finds it (spec §4.7).
    for uri in [
        "urn:x-pdf:1234",
        "doi:10.1234/5678",
        "https://example.com/paper.pdf",
        "http://example.com/paper.pdf",
    ] {
        let q = format!("uri={}", urlencode(uri));
        assert_eq!(app.search_ids(&q, None).await, vec![id.clone()], "{uri}");
    }
}

#[tokio::test]
async fn a_rel_canonical_claim_of_the_searched_uri_disables_expansion() {
    // A rel-canonical claim whose raw URI is the searched URI disables expansion (item 36).
    let app = spawn_app(Backend::Sqlite).await;
    let (_, token) = app.user("alice").await;
    let on_page = app
        .annotate(&token, json!({"uri": "https://example.com/page?x=1", "permissions": {"read": ["group:__world__"]},
            "document": {"link": [{"href": "https://example.com/page", "rel": "canonical"}]}}))
        .await;
    let on_canonical = app
        .shared(&token, "__world__", "https://example.com/page", "c")
        .await;
    let found = app
        .search_ids("uri=https%3A%2F%2Fexample.com%2Fpage", None)
        .await;
    assert_eq!(found, vec![on_canonical["id"].as_str().unwrap().to_owned()]);
    let found = app
        .search_ids("uri=https%3A%2F%2Fexample.com%2Fpage%3Fx%3D1", None)
        .await;
    assert!(found.contains(&on_page["id"].as_str().unwrap().to_owned()));
}
