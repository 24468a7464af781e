//! Document claims, metas and Python repr (vectors from h's
//! `tests/unit/h/util/document_claims_test.py` where they exist).

use serde_json::{Map, Value, json};

use super::claim;
use crate::input::*;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn uris(doc: Value, claimant: &str) -> Vec<DocumentUriClaim> {
    document_uris(&obj(doc), claimant)
}

#[test]
fn link_exclusions() {
    let c = "http://localhost:5000/docs/help";
    // bare {href} equal to the claimant
    assert_eq!(
        uris(json!({"link": [{"href": c}]}), c),
        vec![claim(c, "self-claim", "")]
    );
    // bare {href: "doi:…"}
    assert_eq!(
        uris(
            json!({"link": [{"href": "doi:10.3389/fenvs.2014.00003"}]}),
            c
        ),
        vec![claim(c, "self-claim", "")]
    );
    // {href, type: application/pdf}
    let pdf =
        json!({"link": [{"href": "http://example.com/example.pdf", "type": "application/pdf"}]});
    assert_eq!(uris(pdf, c), vec![claim(c, "self-claim", "")]);
    // …but not when other keys are present
    let pdf_rel = json!({"link": [{"href": "http://e.com/x.pdf", "type": "application/pdf", "rel": "alternate"}]});
    assert_eq!(
        uris(pdf_rel, c)[0],
        claim("http://e.com/x.pdf", "rel-alternate", "application/pdf")
    );
    // a claimant link with a type is kept
    assert_eq!(
        uris(json!({"link": [{"href": c, "type": "text/html"}]}), c)[0],
        claim(c, "", "text/html")
    );
}

#[test]
fn link_types_and_rel() {
    let c = "http://example.com/claimant.html";
    let doc = json!({"link": [
        {"href": "http://example.com/example.html", "type": "text/html"},
        {"href": "http://example.com/alternate.html", "rel": "alternate"},
        {"href": "http://example.com/canonical", "rel": "canonical"},
        {"href": "http://example.com/odd", "rel": 5},
    ]});
    assert_eq!(
        uris(doc, c),
        vec![
            claim("http://example.com/example.html", "", "text/html"),
            claim("http://example.com/alternate.html", "rel-alternate", ""),
            claim("http://example.com/canonical", "rel-canonical", ""),
            claim("http://example.com/odd", "rel-5", ""),
            claim(c, "self-claim", ""),
        ]
    );
}

#[test]
fn claim_order_is_links_pdf_doi_dc_then_self() {
    let c = "http://example.com/example.html";
    let doc = json!({
        "dc": {"identifier": ["doi:10.1038/nphys1170", "not-a-doi"]},
        "highwire": {"doi": ["10.1002/0470841559.ch1", "doi:"], "pdf_url": ["http://example.com/1.pdf"]},
        "link": [{"href": "urn:x-pdf:abc"}],
    });
    assert_eq!(
        uris(doc, c),
        vec![
            claim("urn:x-pdf:abc", "", ""),
            claim(
                "http://example.com/1.pdf",
                "highwire-pdf",
                "application/pdf"
            ),
            claim("doi:10.1002/0470841559.ch1", "highwire-doi", ""),
            claim("doi:10.1038/nphys1170", "dc-doi", ""),
            claim(c, "self-claim", ""),
        ]
    );
}

#[test]
fn uris_are_trimmed_and_blank_ones_dropped() {
    let doc = json!({
        "link": [{"href": " \n "}, {"href": "  http://a.example/  "}],
        "highwire": {"pdf_url": ["\r\n", " http://b.example/x.pdf\t"]},
    });
    assert_eq!(
        uris(doc, "http://c.example"),
        vec![
            claim("http://a.example/", "", ""),
            claim("http://b.example/x.pdf", "highwire-pdf", "application/pdf"),
            claim("http://c.example", "self-claim", ""),
        ]
    );
}

#[test]
fn doi_normalisation() {
    for doi in ["10.1001/1234", "doi:10.1001/1234"] {
        assert_eq!(
            doi_uri_from_string(doi).as_deref(),
            Some("doi:10.1001/1234")
        );
    }
    for url in [
        "http://doi.org/10.1234/5678",
        "https://doi.org/10.1234/5678",
        "http://dx.doi.org/10.1234/5678",
        "https://dx.doi.org/10.1234/5678",
    ] {
        assert_eq!(doi_uri_from_string(url), Some(format!("doi:{url}")));
    }
    for bad in [
        "doi:",
        "",
        "doi: ",
        " ",
        "9.1234/567",
        "chapter1/section1",
        "1234.5678",
        "10.0.0.1",
        "10.0/1234",
        "https://publisher.org/foo.html",
        "https://doi.org/",
        "10.123/4",
    ] {
        assert_eq!(doi_uri_from_string(bad), None, "{bad:?}");
    }
    assert_eq!(
        doi_uri_from_string("  doi: 10.1234/5678").as_deref(),
        Some("doi:10.1234/5678")
    );
    assert_eq!(
        doi_uri_from_string("10.1234.5.6/x y").as_deref(),
        Some("doi:10.1234.5.6/x y")
    );
    assert_eq!(
        doi_uri_from_string("10.12345/").as_deref(),
        Some("doi:10.12345/")
    );
}

#[test]
fn metas_flatten_wrap_and_skip_links() {
    let doc = obj(json!({
        "foo": "string",
        "list": ["one", "two"],
        "facebook": {"description": ["d"], "image": "i"},
        "link": [{"href": "http://example.com/link"}],
        "nothing": null,
        "empty": {},
        "version": 3,
    }));
    assert_eq!(
        document_metas(&doc),
        vec![
            ("foo".to_string(), json!(["string"])),
            ("list".to_string(), json!(["one", "two"])),
            ("facebook.description".to_string(), json!(["d"])),
            ("facebook.image".to_string(), json!(["i"])),
            ("nothing".to_string(), json!([null])),
            ("version".to_string(), json!([3])),
        ]
    );
}

#[test]
fn titles_are_trimmed_and_blank_ones_dropped() {
    let doc = obj(
        json!({"title": ["   My Document", "My Document   ", "\nMy Document\n\n", "\tMy Document \t \t "]}),
    );
    assert_eq!(
        document_metas(&doc),
        vec![(
            "title".to_string(),
            json!(["My Document", "My Document", "My Document", "My Document"])
        )]
    );
    for t in [
        json!(null),
        json!([null, null]),
        json!(""),
        json!(["", ""]),
        json!(" "),
        json!("\n\n  \n"),
    ] {
        assert!(document_metas(&obj(json!({ "title": t }))).is_empty());
    }
    // Non-title whitespace is kept.
    assert_eq!(
        document_metas(&obj(json!({"foo": " "}))),
        vec![("foo".to_string(), json!([" "]))]
    );
}

#[test]
fn document_input_title_and_version() {
    let d = document_input(
        &obj(json!({"title": ["", " First ", "Second"], "version": 0})),
        "u",
    )
    .unwrap();
    assert_eq!(d.title.as_deref(), Some("First"));
    assert_eq!((d.version, d.version_given), (None, true));
    let d = document_input(&obj(json!({"title": "Solo", "version": 7})), "u").unwrap();
    assert_eq!(d.title.as_deref(), Some("Solo"));
    assert_eq!((d.version, d.version_given), (Some(7), true));
    let d = document_input(&obj(json!({"title": [5, "x"]})), "u").unwrap();
    assert_eq!(d.title.as_deref(), Some("x"));
    assert!(!document_input(&obj(json!({})), "u").unwrap().version_given);
    let huge = document_input(&obj(json!({"version": u64::MAX})), "u").unwrap_err();
    assert_eq!(
        huge.0,
        "document.version: 18446744073709551615 is greater than the maximum of 9223372036854775807"
    );
}

#[test]
fn create_document_version_through_parse() {
    let c = parse_create(&json!({"uri": "u", "document": {"version": 2, "title": "T"}})).unwrap();
    assert!(c.document_given);
    let d = c.document.unwrap();
    assert_eq!(
        (d.version, d.version_given, d.title.as_deref()),
        (Some(2), true, Some("T"))
    );
}

#[test]
fn python_repr_of_values() {
    let cases = [
        (json!(null), "None"),
        (json!(true), "True"),
        (json!(false), "False"),
        (json!(5), "5"),
        (json!(-7), "-7"),
        (json!(u64::MAX), "18446744073709551615"),
        (json!(1.0), "1.0"),
        (json!(-0.0), "-0.0"),
        (json!(0.5), "0.5"),
        (json!(1e16), "1e+16"),
        (json!(1e15), "1000000000000000.0"),
        (json!(1.5e20), "1.5e+20"),
        (json!(0.0001), "0.0001"),
        (json!(0.00001), "1e-05"),
        (json!(1.2345e-7), "1.2345e-07"),
        (json!(123456789.125), "123456789.125"),
        (json!("it's"), "\"it's\""),
        (json!("both ' and \""), "'both \\' and \"'"),
        (
            json!("a\\b\n\t\r\u{1}\u{7f}"),
            "'a\\\\b\\n\\t\\r\\x01\\x7f'",
        ),
        (json!("é ü 日本 😀"), "'é ü 日本 😀'"),
        (
            json!("\u{a0}\u{ad}\u{200b}\u{2028}\u{e000}\u{10ffff}"),
            "'\\xa0\\xad\\u200b\\u2028\\ue000\\U0010ffff'",
        ),
        (json!([]), "[]"),
        (json!({}), "{}"),
        (json!([1, "a", [null]]), "[1, 'a', [None]]"),
        (
            json!({"type": "foo", "n": {"x": false}}),
            "{'type': 'foo', 'n': {'x': False}}",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(py_repr(&value), expected, "{value}");
    }
    assert_eq!(py_str(&json!("raw")), "raw");
    assert_eq!(py_str(&json!(["raw"])), "['raw']");
}

#[test]
fn python_strip_matches_str_strip() {
    assert_eq!(py_strip("\u{1c}\u{1f} x \u{3000}\u{85}"), "x");
    assert_eq!(py_strip("\u{200b}x"), "\u{200b}x"); // zero-width space is not whitespace
}

#[test]
fn odd_but_schema_valid_documents_do_not_panic() {
    let doc = json!({
        "title": {"nested": " t "},
        "link": [{"href": "x", "rel": null}, {"href": "y", "rel": ["a"]}],
        "dc": {"identifier": []},
        "highwire": {},
    });
    let c = parse_create(&json!({"uri": "u", "document": doc})).unwrap();
    let d = c.document.unwrap();
    assert_eq!(d.title, None);
    assert_eq!(d.uris[0], claim("x", "rel-None", ""));
    assert_eq!(d.uris[1], claim("y", "rel-['a']", ""));
    assert_eq!(d.metas[0], ("title.nested".to_string(), json!([" t "])));
}
