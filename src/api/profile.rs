//! `/api/profile` and `/api/profile/groups` (spec §8.11; h's `h/views/api/profile.py`,
//! `h/session.py`).

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, JsonBody};
use super::groups::group_json;
use crate::app::AppState;
use crate::domain::group::WORLD;
use crate::domain::{Group, Identity};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/profile", get(read).patch(update))
        .route("/api/profile/groups", get(groups))
}

#[derive(Deserialize)]
struct Params {
    authority: Option<String>,
}

/// The session's group list: the world group of the user's authority if it exists, then the
/// user's groups by (lower-cased name, pubid) (h's `h/session.py` `_current_groups`).
pub async fn session_groups(
    state: &AppState,
    who: Option<&Identity>,
    authority: &str,
) -> ApiResult<Vec<Group>> {
    let mut groups = vec![];
    if let Some(world) = state.db().group_by_pubid(WORLD).await?
        && world.authority == authority
    {
        groups.push(world);
    }
    if let Some(who) = who {
        groups.extend(
            state
                .db()
                .groups_of(who.user.id)
                .await?
                .into_iter()
                .filter(|g| g.pubid != WORLD),
        );
    }
    Ok(groups)
}

fn session_group_json(state: &AppState, g: &Group) -> Value {
    let mut v = json!({"name": g.name, "id": g.pubid, "public": g.world_readable()});
    if !g.world_readable() {
        v["url"] = Value::from(format!(
            "{}/groups/{}/{}",
            state.site().public_url,
            g.pubid,
            g.slug()
        ));
    }
    v
}

/// Preferences as h reports them: `show_sidebar_tutorial` unless the user dismissed it.
fn preferences(who: Option<&Identity>) -> Value {
    let Some(who) = who else { return json!({}) };
    let stored = &who.user.preferences;
    let mut out = Map::new();
    if stored.get("show_sidebar_tutorial") != Some(&Value::Bool(false)) {
        out.insert("show_sidebar_tutorial".into(), Value::Bool(true));
    }
    for key in ["show_youtube_gdpr_banner", "shortcuts_preferences"] {
        if let Some(v) = stored.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// The profile (the session model of h's `h/session.py` `profile`).
pub async fn profile_json(
    state: &AppState,
    who: Option<&Identity>,
    authority: Option<String>,
) -> ApiResult<Value> {
    let authority = match who {
        Some(w) => w.user.authority.clone(),
        None => authority.unwrap_or_else(|| state.authority().to_owned()),
    };
    let groups = session_groups(state, who, &authority).await?;
    let mut v = json!({
        "userid": who.map(|w| w.userid.clone()),
        "authority": authority,
        "groups": groups.iter().map(|g| session_group_json(state, g)).collect::<Vec<_>>(),
        "features": {},
        "preferences": preferences(who),
    });
    if let Some(w) = who {
        v["user_info"] = json!({"display_name": w.user.display_name});
    }
    Ok(v)
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
