//! `/api/profile` and `/api/profile/groups` (spec §8.11; h's `h/views/api/profile.py`,
//! `h/session.py`).

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, JsonBody};
use super::groups::group_json;
use crate::app::AppState;
use crate::domain::Identity;
use crate::render::session::session_model;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/profile", get(read).patch(update))
        .route("/api/profile/groups", get(groups))
}

#[derive(Deserialize)]
struct Params {
    authority: Option<String>,
}

/// The profile (the session model of h's `h/session.py` `profile`).
pub async fn profile_json(
    state: &AppState,
    who: Option<&Identity>,
    authority: Option<String>,
) -> ApiResult<Value> {
    Ok(session_model(state.db(), state.site(), who, authority).await?)
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<Params>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        profile_json(&state, caller.identity(), p.authority).await?,
    ))
}

const PREFERENCE_KEYS: [&str; 3] = [
    "show_sidebar_tutorial",
    "show_youtube_gdpr_banner",
    "shortcuts_preferences",
];

/// `PATCH /api/profile {"preferences": {...}}`: only h's known preference keys are accepted.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let prefs = body
        .get("preferences")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::BadRequest("preferences: 'preferences' is a required property".into())
        })?;
    if let Some(bad) = prefs
        .keys()
        .find(|k| !PREFERENCE_KEYS.contains(&k.as_str()))
    {
        return Err(ApiError::BadRequest(format!(
            "preferences: unknown preference key {bad:?}"
        )));
    }
    let mut stored = who.user.preferences.clone();
    stored.extend(prefs.clone());
    state.db().set_preferences(who.user.id, &stored).await?;
    let mut updated = who.clone();
    updated.user.preferences = stored;
    Ok(Json(profile_json(&state, Some(&updated), None).await?))
}

async fn groups(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let Some(who) = caller.identity() else {
        return Ok(Json(json!([])));
    };
    let groups = state.db().groups_of(who.user.id).await?;
    Ok(Json(Value::Array(
        groups
            .iter()
            .map(|g| group_json(&state, g, false))
            .collect(),
    )))
}
