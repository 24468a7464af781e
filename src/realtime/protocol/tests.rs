use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::{Incoming, interpret, pong, reply, whoyouare};
use crate::realtime::filter::{FilterLimits, Key};

fn parse(v: Value) -> Incoming {
    interpret(v.to_string().as_bytes(), FilterLimits::default())
}

const FILTER: &str = r#"{"match_policy":"include_any","clauses":[{"field":"/uri","operator":"one_of","value":["https://example.com/page"],"case_sensitive":false}],"actions":{"create":true,"update":true,"delete":true}}"#;

#[test]
fn not_json_and_not_objects() {
    let l = FilterLimits::default();
    assert_eq!(interpret(b"{nope", l), Incoming::NotJson);
    assert_eq!(interpret(b"", l), Incoming::NotJson);
    assert_eq!(interpret(b"\xff\xfe", l), Incoming::NotJson);
    for v in ["[1,2]", "\"x\"", "null", "5", "false"] {
        assert_eq!(interpret(v.as_bytes(), l), Incoming::Ignored, "{v}");
    }
}

#[test]
fn replies_only_to_numeric_ids() {
    assert_eq!(
        parse(json!({"type": "ping", "id": 123})),
        Incoming::Ping {
            reply_to: Some(json!(123))
        }
    );
    assert_eq!(
        parse(json!({"type": "ping", "id": 1.5})),
        Incoming::Ping {
            reply_to: Some(json!(1.5))
        }
    );
    // h-quirk kept: booleans are Python ints.
    assert_eq!(
        parse(json!({"type": "ping", "id": true})),
        Incoming::Ping {
            reply_to: Some(json!(true))
        }
    );
    for id in [json!("a string"), json!([1, 2, 3]), Value::Null] {
        assert_eq!(
            parse(json!({"type": "ping", "id": id})),
            Incoming::Ping { reply_to: None }
        );
    }
    assert_eq!(
        parse(json!({"type": "whoami"})),
        Incoming::Whoami { reply_to: None }
    );
}

#[test]
fn unknown_and_missing_types() {
    let err = |description: &str| Incoming::Error {
        reply_to: Some(json!(4)),
        kind: "invalid_type",
        description: description.to_owned(),
    };
    assert_eq!(
        parse(json!({"id": 4, "type": "donkeys"})),
        err("invalid message type: \"donkeys\"")
    );
    assert_eq!(
        parse(json!({"id": 4, "foo": "bar"})),
        err("invalid message type: null")
    );
    assert_eq!(
        parse(json!({"id": 4, "type": 5})),
        err("invalid message type: 5")
    );
    assert_eq!(
        parse(json!({"id": 4, "type": ""})),
        err("invalid message type: \"\"")
    );
}

#[test]
fn client_id_forms() {
    assert_eq!(
        parse(json!({"messageType": "client_id", "value": "abc"})),
        Incoming::ClientId(Some(json!("abc")))
    );
    assert_eq!(
        parse(json!({"type": "client_id", "value": 7, "id": 1})),
        Incoming::ClientId(Some(json!(7)))
    );
    assert_eq!(
        parse(json!({"type": "client_id", "value": null})),
        Incoming::ClientId(None)
    );
    assert_eq!(
        parse(json!({"type": "client_id", "id": 4})),
        Incoming::Error {
            reply_to: Some(json!(4)),
            kind: "invalid_data",
            description: "\"value\" is missing".into()
        }
    );
}

#[test]
fn a_filter_may_carry_since_in_either_form() {
    let f: Value = serde_json::from_str(FILTER).unwrap();
    let keys = vec![Key::Uri("httpx://example.com/page".into())];
    let at = |since| Incoming::Filter {
        keys: keys.clone(),
        since,
    };
    assert_eq!(parse(json!({"filter": f, "since": 42})), at(Some(42)));
    assert_eq!(
        parse(json!({"type": "filter", "filter": f, "since": 0})),
        at(Some(0))
    );
    assert_eq!(parse(json!({"filter": f, "since": null})), at(None));
    for bad in [json!(-1), json!("42"), json!(1.5), json!([1])] {
        let Incoming::Error {
            reply_to,
            kind,
            description,
        } = parse(json!({"type": "filter", "id": 3, "filter": f, "since": bad}))
        else {
            panic!("since {bad} accepted");
        };
        assert_eq!((reply_to, kind), (Some(json!(3)), "invalid_data"));
        assert!(description.contains("since"), "{description}");
    }
}

#[test]
fn filter_forms() {
    let f: Value = serde_json::from_str(FILTER).unwrap();
    let keys = vec![Key::Uri("httpx://example.com/page".into())];
    let expected = Incoming::Filter {
        keys: keys.clone(),
        since: None,
    };
    assert_eq!(parse(json!({ "filter": f })), expected);
    assert_eq!(
        parse(json!({"type": "filter", "id": 9, "filter": f})),
        expected
    );
    // A legacy message with both forms is a filter.
    assert_eq!(
        parse(json!({"filter": f, "messageType": "client_id", "value": "x"})),
        expected
    );
    assert_eq!(
        parse(json!({"type": "filter", "id": 9})),
        Incoming::Error {
            reply_to: Some(json!(9)),
            kind: "invalid_data",
            description: "\"filter\" is missing".into()
        }
    );
    assert_eq!(
        parse(json!({"type": "filter", "id": 9, "filter": {"wibble": "giraffe"}})),
        Incoming::Error {
            reply_to: Some(json!(9)),
            kind: "invalid_data",
            description: "failed to parse filter".into()
        }
    );
}

#[test]
fn reply_keys_cannot_be_overridden() {
    let mut payload = Map::new();
    payload.insert("ok".into(), json!("mine"));
    payload.insert("reply_to".into(), json!("mine"));
    let r: Value = serde_json::from_str(&reply(payload, true, &json!(3))).unwrap();
    assert_eq!(r, json!({"ok": true, "reply_to": 3}));
    assert_eq!(
        pong(&json!(123)),
        r#"{"type":"pong","ok":true,"reply_to":123}"#
    );
    assert_eq!(
        whoyouare(None, &json!(1)),
        r#"{"type":"whoyouare","userid":null,"ok":true,"reply_to":1}"#
    );
}

/// Random JSON biased towards the protocol's own keys and shapes, so the generator reaches deep
/// into the filter compiler rather than stopping at "not an object".
fn arbitrary(rng: &mut StdRng, depth: u32) -> Value {
    const KEYS: [&str; 12] = [
        "type",
        "id",
        "filter",
        "messageType",
        "value",
        "clauses",
        "match_policy",
        "actions",
        "field",
        "operator",
        "x",
        "case_sensitive",
    ];
    const STRINGS: [&str; 14] = [
        "ping",
        "whoami",
        "client_id",
        "filter",
        "include_any",
        "/uri",
        "/id",
        "/group",
        "/references",
        "http://example.com:v1:all",
        "http://[::1",
        "http://a:99999/",
        "",
        "é\u{0}",
    ];
    let pick = if depth >= 4 {
        rng.random_range(0..5)
    } else {
        rng.random_range(0..8)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random_range(-5i64..5)),
        3 => json!(rng.random::<f64>() * 1e300),
        4 => Value::from(STRINGS[rng.random_range(0..STRINGS.len())]),
        5 => {
            let n = rng.random_range(0..4);
            Value::Array((0..n).map(|_| arbitrary(rng, depth + 1)).collect())
        }
        _ => {
            let n = rng.random_range(0..5);
            let mut m = Map::new();
            for _ in 0..n {
                m.insert(
                    KEYS[rng.random_range(0..KEYS.len())].into(),
                    arbitrary(rng, depth + 1),
                );
            }
            Value::Object(m)
        }
    }
}

/// Fuzzing in miniature: many random messages (and random bytes) through the parser and the
/// filter compiler. Nothing may panic, and a reply is only ever addressed to a numeric id.
#[test]
fn random_messages_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x5c401a);
    let limits = FilterLimits::default();
    for _ in 0..20_000 {
        let msg = arbitrary(&mut rng, 0);
        let raw = msg.to_string();
        match interpret(raw.as_bytes(), limits) {
            Incoming::Ping { reply_to: Some(id) }
            | Incoming::Whoami { reply_to: Some(id) }
            | Incoming::Error {
                reply_to: Some(id), ..
            } => assert!(id.is_number() || id.is_boolean(), "{raw}"),
            _ => {}
        }
        let mut bytes = raw.into_bytes();
        if !bytes.is_empty() {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = rng.random();
        }
        let _ = interpret(&bytes, limits);
    }
}
