//! The messages a client sends and the replies it gets (spec §2; h's `h/streamer/websocket.py`
//! and `h/streamer/messages.py`). Pure: [`interpret`] turns one frame's bytes into what the
//! socket should do, so every rule here is unit-tested without a network.

use serde_json::{Map, Value, json};

use super::filter::{FilterLimits, Key, compile};

/// What one client frame asks for.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// Not JSON: h closes the socket with 1000 `invalid message format`.
    NotJson,
    /// JSON, but not an object: ignored, the socket stays open.
    Ignored,
    Ping {
        reply_to: Option<Value>,
    },
    Whoami {
        reply_to: Option<Value>,
    },
    /// `client_id`: `None` resets it (the JSON `null`).
    ClientId(Option<Value>),
    /// A new filter replacing the old one; with `since`, the client resumes after that seq
    /// (an addition to h's protocol: `docs/realtime-protocol.md`).
    Filter {
        keys: Vec<Key>,
        since: Option<i64>,
    },
    /// An error reply, sent only when `reply_to` is present.
    Error {
        reply_to: Option<Value>,
        kind: &'static str,
        description: String,
    },
}

impl Incoming {
    /// The message type, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Incoming::NotJson => "invalid_json",
            Incoming::Ignored => "ignored",
            Incoming::Ping { .. } => "ping",
            Incoming::Whoami { .. } => "whoami",
            Incoming::ClientId(_) => "client_id",
            Incoming::Filter { .. } => "filter",
            Incoming::Error { .. } => "error",
        }
    }
}

/// Interprets one data frame (text or binary alike).
pub fn interpret(raw: &[u8], limits: FilterLimits) -> Incoming {
    let Ok(value) = serde_json::from_slice::<Value>(raw) else {
        return Incoming::NotJson;
    };
    let Value::Object(msg) = value else {
        return Incoming::Ignored;
    };
    let reply_to = reply_id(&msg);
    match message_type(&msg).as_ref() {
        Some(Value::String(t)) if t == "ping" => Incoming::Ping { reply_to },
        Some(Value::String(t)) if t == "whoami" => Incoming::Whoami { reply_to },
        Some(Value::String(t)) if t == "client_id" => match msg.get("value") {
            Some(Value::Null) => Incoming::ClientId(None),
            Some(v) => Incoming::ClientId(Some(v.clone())),
            None => invalid_data(reply_to, "\"value\" is missing".to_owned()),
        },
        Some(Value::String(t)) if t == "filter" => match (msg.get("filter"), since(&msg)) {
            (None, _) => invalid_data(reply_to, "\"filter\" is missing".to_owned()),
            (_, Err(e)) => invalid_data(reply_to, e),
            (Some(f), Ok(since)) => match compile(f, limits) {
                Ok(keys) => Incoming::Filter { keys, since },
                Err(e) => invalid_data(reply_to, e.to_string()),
            },
        },
        other => Incoming::Error {
            reply_to,
            kind: "invalid_type",
            description: format!(
                "invalid message type: {}",
                serde_json::to_string(other.unwrap_or(&Value::Null)).unwrap_or_default()
            ),
        },
    }
}

/// A filter message's `since` (top level, beside `filter`): absent or `null` means none; anything
/// but a non-negative integer is refused, and with it the whole message.
fn since(msg: &Map<String, Value>) -> Result<Option<i64>, String> {
    match msg.get("since") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| format!("\"since\" must be a non-negative integer (a seq), got {v}")),
    }
}

/// The message type: `type`, or for messages without one the legacy forms, where a `filter` key
/// wins over `messageType: "client_id"` (spec §2.1).
fn message_type(msg: &Map<String, Value>) -> Option<Value> {
    match msg.get("type") {
        Some(t) if !t.is_null() => Some(t.clone()),
        _ if msg.contains_key("filter") => Some(Value::from("filter")),
        _ if msg.get("messageType").and_then(Value::as_str) == Some("client_id") => {
            Some(Value::from("client_id"))
        }
        _ => None,
    }
}

/// The id a reply goes to: only a JSON number (h-quirk kept: booleans too, as Python's bools
/// are ints).
fn reply_id(msg: &Map<String, Value>) -> Option<Value> {
    msg.get("id")
        .filter(|id| id.is_number() || id.is_boolean())
        .cloned()
}

fn invalid_data(reply_to: Option<Value>, description: String) -> Incoming {
    Incoming::Error {
        reply_to,
        kind: "invalid_data",
        description,
    }
}

/// A reply: the payload, then the server's `ok` and `reply_to`, which nothing can override.
pub fn reply(mut payload: Map<String, Value>, ok: bool, reply_to: &Value) -> String {
    payload.insert("ok".into(), Value::Bool(ok));
    payload.insert("reply_to".into(), reply_to.clone());
    Value::Object(payload).to_string()
}

/// `{"type":"pong","ok":true,"reply_to":N}`.
pub fn pong(reply_to: &Value) -> String {
    reply(object(json!({"type": "pong"})), true, reply_to)
}

/// `{"type":"whoyouare","userid":...,"ok":true,"reply_to":N}`.
pub fn whoyouare(userid: Option<&str>, reply_to: &Value) -> String {
    reply(
        object(json!({"type": "whoyouare", "userid": userid})),
        true,
        reply_to,
    )
}

/// `{"type":"error","error":{"type":kind,"description":...},"ok":false,"reply_to":N}`.
pub fn error(kind: &str, description: &str, reply_to: &Value) -> String {
    reply(
        object(json!({"type": "error", "error": {"type": kind, "description": description}})),
        false,
        reply_to,
    )
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests;
