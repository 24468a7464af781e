//! `POST`, `GET /api/webhooks` and `DELETE /api/webhooks/{id}`: a user's own webhooks (issue 16;
//! scholia's addition to h's API). The rules are `domain::webhook`'s, shared with
//! `scholia webhook add`; delivery is `realtime::webhooks`.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, JsonBody};
use crate::app::AppState;
use crate::domain::time::format_micros;
use crate::domain::webhook::WebhookSpec;
use crate::store::webhooks::Webhook;

/// Webhooks one user may have through the API (an administrator's `scholia webhook add` is not
/// capped): each is a delivery loop on the server.
pub const MAX_PER_USER: usize = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route("/api/webhooks/{id}", delete(remove))
}

/// A hook as its owner sees it; the secret only in the answer that created it.
fn hook_json(h: &Webhook, with_secret: bool) -> Value {
    let filter: Value = serde_json::from_str(&h.filter_json).unwrap_or(Value::Null);
    let status = match (&h.disabled_reason, &h.last_error) {
        (Some(_), _) => "disabled",
        (None, Some(_)) => "failing",
        (None, None) => "ok",
    };
    let mut v = json!({
        "id": h.id,
        "url": h.url,
        "filter": filter,
        "created": format_micros(h.created),
        "cursor": h.cursor,
        "delivered": h.delivered,
        "status": status,
        "attempts": h.attempts,
        "last_error": h.last_error,
        "disabled_reason": h.disabled_reason,
    });
    if with_secret {
        v["secret"] = json!(h.secret);
    }
    v
}

/// A string or a list of strings, as `uri`, `group` and `id` may be given.
fn strings(body: &Value, key: &str) -> Result<Vec<String>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("{key} must be a string or a list of strings")),
        Some(_) => Err(format!("{key} must be a string or a list of strings")),
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let Value::Object(fields) = &body else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["url", "uri", "group", "id"].contains(&k.as_str()))
    {
        return Err(ApiError::BadRequest(format!(
            "unknown field {unknown:?}: a webhook has url, uri, group and id"
        )));
    }
    let url = body
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::BadRequest("url is required, as a string".into()))?;
    let spec = (|| {
        WebhookSpec::new(
            url,
            strings(&body, "uri")?,
            strings(&body, "group")?,
            strings(&body, "id")?,
            state.config().webhook_allow_private,
        )
    })()
    .map_err(ApiError::BadRequest)?;
    let existing = state
        .db()
        .webhooks(Some(&who.userid))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if existing.len() >= MAX_PER_USER {
        return Err(ApiError::BadRequest(format!(
            "a user may have at most {MAX_PER_USER} webhooks; delete one first"
        )));
    }
    let hook = state
        .db()
        .add_webhook(&who.userid, &spec)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(hook_json(&hook, true)))
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let hooks = state
        .db()
        .webhooks(Some(&who.userid))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(Value::Array(
        hooks.iter().map(|h| hook_json(h, false)).collect(),
    )))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let removed = state
        .db()
        .remove_webhook(&id, Some(&who.userid))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    match removed {
        true => Ok(Json(json!({"id": id, "deleted": true}))),
        false => Err(ApiError::NotFound),
    }
}
