//! Micro-benchmarks of the server's per-request and per-event hot paths, in isolation (no
//! network, no database): URI normalisation, filter compilation and event keys, the
//! subscription-index lookup and hand-off to one socket's queue, rendering an annotation into
//! its notification frame, and encoding that frame as WebSocket bytes.
//!
//! Run: `cargo bench --bench hot` (add `-- --sample-count 20` for a quick pass, or a name
//! filter such as `-- lookup`).

use std::hint::black_box;

use axum::extract::ws::Utf8Bytes;
use divan::Bencher;
use divan::counter::BytesCount;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};

use scholia::domain::{Annotation, Group, GroupType};
use scholia::realtime::filter::{FilterLimits, Key, compile, event_keys};
use scholia::realtime::outbox;
use scholia::realtime::registry::Registry;
use scholia::render::{Author, Related, Site, ViewerFacts, render};

fn main() {
    divan::main();
}

// ---- URI normalisation ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum UriCase {
    Plain,
    Tracked,
    Pdf,
    Long,
}

impl UriCase {
    fn uri(self) -> &'static str {
        match self {
            UriCase::Plain => "https://example.com/articles/2024/annotation-server",
            // Query sorting, tracking-parameter removal, fragment drop, host case, default port.
            UriCase::Tracked => {
                "https://WWW.Example.com:443/search/?q=web+annotation&utm_source=feed\
                 &page=2&utm_medium=rss&lang=en&utm_campaign=spring#results"
            }
            UriCase::Pdf => "urn:x-pdf:6f1d6c4b2a3e4f5d8c9b0a1e2d3c4b5a",
            // Long path with percent-escapes to canonicalise, as PDFs behind CDNs often have.
            UriCase::Long => {
                "https://cdn.journals.example.org/content/volume-42/issue-7/pages/%7euser/\
                 papers/2024/a-very-long-title-of-a-scientific-paper-about-web-annotation-\
                 interoperability-and-its-discontents/fulltext/section%2Fthree/figures/\
                 ?download=true&format=pdf&session=4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99&ref=toc\
                 &fbclid=IwAR0abcdefghijklmnopqrstuvwxyz&version=3"
            }
        }
    }
}

#[divan::bench(args = [UriCase::Plain, UriCase::Tracked, UriCase::Pdf, UriCase::Long])]
fn uri_normalize(bencher: Bencher, case: UriCase) {
    let uri = case.uri();
    bencher.bench(|| scholia::uri::normalize(black_box(uri)).expect("valid URI"));
}

// ---- Filters -------------------------------------------------------------------------------

#[divan::bench]
fn filter_compile(bencher: Bencher) {
    // What the Hypothesis client sends for one page in the Public group.
    let filter = json!({
        "match_policy": "include_any",
        "clauses": [
            {"field": "/uri", "operator": "one_of", "value": ["https://example.com/a"],
             "case_sensitive": false},
            {"field": "/group", "operator": "equals", "value": "__world__"},
        ],
        "actions": {"create": true, "update": true, "delete": true},
    });
    bencher.bench(|| compile(black_box(&filter), FilterLimits::default()).expect("valid filter"));
}

#[divan::bench]
fn filter_event_keys(bencher: Bencher) {
    let references = vec!["Zx8a1bQcEe-3rYv2k9TqWw".to_owned()];
    let uris = vec![
        "httpx://example.com/a".to_owned(),
        "urn:x-pdf:6f1d6c4b2a3e4f5d8c9b0a1e2d3c4b5a".to_owned(),
    ];
    bencher.bench(|| {
        event_keys(
            black_box("Qm9vbGVhbkFubm90YXRpb24"),
            "__world__",
            &references,
            &uris,
            None,
        )
    });
}

// ---- Subscription index --------------------------------------------------------------------

fn socket_uri(i: usize) -> String {
    format!("httpx://bench.example/doc/{i}")
}

/// `classify` + `hand_off` of one event to the one socket subscribed to its URI, with `n`
/// sockets registered: the cost should not grow with `n`.
#[divan::bench(args = [1_000, 19_000])]
fn lookup(bencher: Bencher, n: usize) {
    let registry = Registry::default();
    let mut queues = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = outbox::channel(16);
        let id = registry.register(None, tx);
        registry.set_filter(id, vec![Key::Uri(socket_uri(i))]);
        queues.push(rx);
    }
    // Keys are computed outside the timed loop (`filter_event_keys` measures that).
    let keys: Vec<Vec<Key>> = (0..n)
        .map(|i| event_keys("ann", "__world__", &[], &[socket_uri(i)], None))
        .collect();
    let frame = Utf8Bytes::from("x".repeat(1536));
    let mut k = 0usize;
    bencher.bench_local(|| {
        // A stride over the sockets, so lookups do not all hit one warm cache line.
        k = (k + 7919) % n;
        let targets =
            registry.classify(&keys[k], |socket| socket.client_id.is_none().then_some(()));
        let handoff = registry.hand_off(&targets, |_| frame.clone());
        debug_assert_eq!(handoff.delivered, 1);
        // The socket's task would take the frame off its queue; keeps the queue from filling.
        queues[k].try_recv().expect("delivered")
    });
}

// ---- Rendering and frame encoding ----------------------------------------------------------

fn site() -> Site {
    Site {
        public_url: "https://scholia.example".into(),
        authority: "example.com".into(),
    }
}

fn related() -> Related {
    Related {
        author: Some(Author {
            display_name: Some("Alice Annotator".into()),
        }),
        document_title: Some("On the Interoperability of Web Annotation Servers".into()),
        group: Some(Group {
            id: 1,
            pubid: "__world__".into(),
            authority: "example.com".into(),
            authority_provided_id: None,
            name: "Public".into(),
            description: None,
            group_type: GroupType::Open,
            pre_moderated: false,
        }),
        flag_count: 0,
    }
}

/// A shared Public-group annotation with text, tags and the client's usual three selectors;
/// it renders to about 1.5 KB of JSON.
fn annotation() -> Annotation {
    let quote = "annotation servers must agree byte for byte on normalised URIs";
    Annotation {
        id: "Qm9vbGVhbkFubm90YXRpb24".into(),
        created: 1_716_000_000_000_000,
        updated: 1_716_000_123_456_789,
        userid: "acct:alice@example.com".into(),
        groupid: "__world__".into(),
        target_uri: "https://example.com/articles/2024/annotation-server".into(),
        target_uri_normalized: "httpx://example.com/articles/2024/annotation-server".into(),
        text: "This claim needs a citation. The streamer and search both rely on the same \
               normalisation, so any divergence shows up as annotations that appear in one \
               and not the other. See the discussion in the second section, and compare with \
               how the proxy form strips its prefix before the scheme check."
            .into(),
        tags: vec!["citation-needed".into(), "uri".into(), "review".into()],
        shared: true,
        references: vec![],
        target_selectors: vec![
            json!({"type": "RangeSelector", "startContainer": "/main[1]/article[1]/p[4]",
                   "startOffset": 112, "endContainer": "/main[1]/article[1]/p[4]",
                   "endOffset": 175}),
            json!({"type": "TextPositionSelector", "start": 5210, "end": 5273}),
            json!({"type": "TextQuoteSelector", "exact": quote,
                   "prefix": "and for that reason, as argued above, ",
                   "suffix": ", or the Real Time API and search diverge."}),
        ],
        target_description: None,
        document_id: Some(7),
        extra: Default::default(),
        metadata: None,
        moderation_status: None,
        version: None,
        deleted: false,
    }
}

/// As `realtime::fanout::notification` (private) wraps a rendered annotation.
fn notification(seq: i64, payload: Value) -> String {
    json!({
        "type": "annotation-notification",
        "options": {"action": "create"},
        "payload": [payload],
        "seq": seq,
    })
    .to_string()
}

#[divan::bench]
fn render_frame(bencher: Bencher) {
    let (site, ann, rel) = (site(), annotation(), related());
    let len = notification(1, render(&site, &ann, &rel, ViewerFacts::default())).len();
    bencher.counter(BytesCount::new(len)).bench(|| {
        let payload = render(&site, black_box(&ann), &rel, ViewerFacts::default());
        Utf8Bytes::from(notification(42, payload))
    });
}

/// What tungstenite does for each `Message::Text` the socket task sends: an unmasked final text
/// frame appended to its reused output buffer (server frames are never masked).
#[divan::bench]
fn frame_encode(bencher: Bencher) {
    let (site, ann, rel) = (site(), annotation(), related());
    let text = notification(42, render(&site, &ann, &rel, ViewerFacts::default()));
    let payload = tungstenite::Utf8Bytes::from(text);
    let mut buf = Vec::with_capacity(4096);
    bencher
        .counter(BytesCount::new(payload.len()))
        .bench_local(|| {
            buf.clear();
            let frame = Frame::message(payload.clone(), OpCode::Data(Data::Text), true);
            frame.format(&mut buf).expect("writing to a Vec");
            black_box(buf.len())
        });
}
