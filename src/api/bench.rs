//! `POST /_bench/inject`, the in-process publish path for load tests (`scholia bench`):
//! synthetic annotation creates are built in memory and handed to the hub through the
//! [`crate::bus::Inject`] seam, which routes them with the same code as committed changes
//! (index lookup, permission check, render once per viewer class, hand-off to socket queues),
//! skipping the store and the change log. It measures what routing and delivery cost by
//! themselves.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::JsonBody;
use crate::app::AppState;
use crate::bus::Known;
use crate::domain::time::now_micros;
use crate::domain::{Annotation, ModerationStatus};
use crate::render::{Author, Related};
use crate::store::{Change, ChangeAction, RoutingFacts};
use crate::uri;

/// How many events are routed between yields when unpaced, so socket tasks on the same core
/// get to write out their queues.
const YIELD_EVERY: u64 = 128;

/// A batch of synthetic events. Event `k` targets the URI `uri_template` with `{n}` replaced by
/// `k % uri_count`; its text starts with `bstamp:<unix ns>;` (the time it was routed, for
/// latency measured by the receiver) padded with `text_bytes` more characters.
#[derive(Deserialize)]
pub struct InjectRequest {
    pub uri_template: String,
    #[serde(default = "one")]
    pub uri_count: u64,
    pub events: u64,
    /// Events per second; 0 routes them as fast as the server can.
    #[serde(default)]
    pub rate: f64,
    #[serde(default)]
    pub text_bytes: usize,
}

fn one() -> u64 {
    1
}

pub fn router() -> Router<AppState> {
    Router::new().route("/_bench/inject", post(inject))
}

/// Routes the batch, then answers with how many frames were handed to sockets and how long the
/// batch took (wall time on the server).
async fn inject(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Json<Value>> {
    let req: InjectRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::BadRequest(format!("inject request: {e}")))?;
    if req.uri_count == 0 || !req.rate.is_finite() || req.rate < 0.0 {
        return Err(ApiError::BadRequest(
            "uri_count must be positive and rate a non-negative number".into(),
        ));
    }
    let Some(hub) = state.inject() else {
        return Err(ApiError::NotFound);
    };
    let group = state.db().group_by_pubid("__world__").await?;
    let userid = format!("acct:bench@{}", state.authority());
    // (as sent, normalised) per target, as a client's annotation would have them.
    let uris: Vec<(String, String)> = (0..req.uri_count.min(1_000_000))
        .map(|n| {
            let raw = req.uri_template.replace("{n}", &n.to_string());
            let normalized = uri::normalize(&raw).unwrap_or_else(|_| raw.clone());
            (raw, normalized)
        })
        .collect();
    let padding = "x".repeat(req.text_bytes);
    let started = Instant::now();
    let mut delivered = 0;
    for k in 0..req.events {
        if req.rate > 0.0 {
            let due = started + Duration::from_secs_f64(k as f64 / req.rate);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        } else if k % YIELD_EVERY == 0 {
            tokio::task::yield_now().await;
        }
        let target = &uris[(k % uris.len() as u64) as usize];
        let (change, known) = synthetic(&userid, group.clone(), target, &padding, k);
        delivered += hub.inject(&change, known);
    }
    Ok(Json(json!({
        "events": req.events,
        "delivered": delivered,
        "secs": started.elapsed().as_secs_f64(),
    })))
}

/// One shared, approved create in the public group on `target`, by a user who is not NIPSA'd.
fn synthetic(
    userid: &str,
    group: Option<crate::domain::Group>,
    (target, normalized): &(String, String),
    padding: &str,
    k: u64,
) -> (Change, Known) {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let now = now_micros();
    // Unique within a run without a random draw per event (22 characters, like h's ids).
    let id = format!("bench{k:017}");
    let ann = Annotation {
        id: id.clone(),
        created: now,
        updated: now,
        userid: userid.to_owned(),
        groupid: "__world__".into(),
        target_uri: target.clone(),
        target_uri_normalized: normalized.clone(),
        text: format!("bstamp:{stamp};{padding}"),
        tags: vec![],
        shared: true,
        references: vec![],
        target_selectors: vec![],
        target_description: None,
        document_id: None,
        extra: Default::default(),
        metadata: None,
        moderation_status: Some(ModerationStatus::Approved),
        version: None,
        deleted: false,
    };
    let change = Change {
        // Not a row of the change log; 0 marks a synthetic event on the wire.
        seq: 0,
        action: ChangeAction::Create,
        annotation_id: Some(id),
        userid: Some(userid.to_owned()),
        groupid: Some(ann.groupid.clone()),
        src_client_id: None,
        created: now,
    };
    let known = Known {
        annotation: ann,
        related: Related {
            author: Some(Author { display_name: None }),
            document_title: None,
            group,
            flag_count: 0,
        },
        routing: RoutingFacts {
            uris: vec![normalized.clone()],
            checkpoint: None,
        },
    };
    (change, known)
}
