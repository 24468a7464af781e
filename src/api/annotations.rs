//! `/api/annotations`: create, read, update, delete, hide, unhide and flag (spec §8.4–§8.7,
//! §8.9; h's `h/views/api/annotations.py`, `h/views/api/moderation.py`, `h/views/api/flags.py`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, ClientId, JsonBody};
use super::presenter::present;
use super::write::{self, Prepared};
use crate::app::AppState;
use crate::bus::{Announcement, Known};
use crate::domain::{Annotation, AnnotationId, ModerationStatus, authz};
use crate::input;
use crate::render::{Author, Related, ViewerFacts, render};
use crate::store::{AnnotationWrite, ChangeAction, ModerationChange, Written};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/annotations", axum::routing::post(create))
        .route(
            "/api/annotations/{id}",
            get(read).patch(update).put(update).delete(delete),
        )
        .route("/api/annotations/{id}/hide", put(hide).delete(unhide))
        .route("/api/annotations/{id}/flag", put(flag))
}

/// Loads a live-or-deleted annotation by a URL id; malformed ids are simply not found.
async fn load(state: &AppState, id: &str) -> ApiResult<Annotation> {
    let id = AnnotationId::parse(id).ok_or(ApiError::NotFound)?;
    state
        .db()
        .annotation(id.as_str())
        .await?
        .ok_or(ApiError::NotFound)
}

/// Stores a prepared create or update through the group-commit writer (the change-log row goes
/// in the same transaction), announces the committed change, and answers the annotation as its
/// author now sees it.
///
/// A create is answered from what the request already holds (the new annotation has no flags,
/// and its author and group are known; its document title and routing facts were read in its
/// transaction), and the same facts go with its announcement so the hub need not read them back
/// either; an update is read back, since flags and another writer's document title may apply.
async fn store_and_present(
    state: &AppState,
    who: &crate::domain::Identity,
    prepared: Prepared,
    action: ChangeAction,
    client_id: Option<&str>,
) -> ApiResult<Json<Value>> {
    let Prepared {
        annotation,
        claims,
        group,
    } = prepared;
    let written = state
        .writer()
        .write(AnnotationWrite {
            annotation,
            document: claims,
            action,
            src_client_id: client_id.map(str::to_owned),
        })
        .await?;
    let Written {
        annotation,
        document_title,
        change,
        routing,
    } = written;
    // Only a create comes back with routing facts; an update is routed from the database.
    let Some(routing) = routing else {
        state.announce(Announcement::change(change)).await;
        return Ok(Json(present(state, &annotation, Some(who)).await?));
    };
    let related = Related {
        author: Some(Author {
            display_name: who.user.display_name.clone(),
        }),
        document_title,
        group: Some(group),
        flag_count: 0,
    };
    let viewer = ViewerFacts {
        is_author: true,
        can_moderate: authz::can_moderate(&annotation, related.group.as_ref(), Some(who)),
        flagged: false,
    };
    let body = render(state.site(), &annotation, &related, viewer);
    let known = Known {
        annotation,
        related,
        routing,
    };
    state.announce(Announcement::create(change, known)).await;
    Ok(Json(body))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    // h answers anonymous creates with 404 (a known FIXME there; kept for compatibility).
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let data = input::parse_create(&body).map_err(|e| ApiError::BadRequest(e.0))?;
    let prepared = write::prepare_create(&state, who, data).await?;
    store_and_present(
        &state,
        who,
        prepared,
        ChangeAction::Create,
        client_id.as_deref(),
    )
    .await
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ann = load(&state, &id).await?;
    let group = state.group_by_pubid(&ann.groupid).await?;
    if !authz::can_read(&ann, group.as_ref(), caller.identity()) {
        return Err(ApiError::NotFound);
    }
    Ok(Json(present(&state, &ann, caller.identity()).await?))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let ann = load(&state, &id).await?;
    let who = caller
        .identity()
        .filter(|w| authz::can_edit(&ann, Some(w)))
        .ok_or(ApiError::NotFound)?;
    let data =
        input::parse_update_for(&body, &ann.target_uri).map_err(|e| ApiError::BadRequest(e.0))?;
    let prepared = write::prepare_update(&state, who, ann, data).await?;
    store_and_present(
        &state,
        who,
        prepared,
        ChangeAction::Update,
        client_id.as_deref(),
    )
    .await
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ann = load(&state, &id).await?;
    if !authz::can_edit(&ann, caller.identity()) {
        return Err(ApiError::NotFound);
    }
    let change = state
        .db()
        .delete_annotation(&ann, client_id.as_deref())
        .await?;
    state.announce(Announcement::change(change)).await;
    Ok(Json(json!({"id": ann.id, "deleted": true})))
}

/// Sets the moderation status if the caller may moderate the annotation; 404 otherwise.
async fn moderate(
    state: &AppState,
    caller: &Caller,
    client_id: Option<&str>,
    id: &str,
    status: ModerationStatus,
) -> ApiResult<Response> {
    let ann = load(state, id).await?;
    let group = state.group_by_pubid(&ann.groupid).await?;
    if !authz::can_moderate(&ann, group.as_ref(), caller.identity()) {
        return Err(ApiError::NotFound);
    }
    let change = state
        .db()
        .set_moderation(&ModerationChange {
            annotation_id: &ann.id,
            userid: &ann.userid,
            groupid: &ann.groupid,
            status,
            src_client_id: client_id,
        })
        .await?;
    state.announce(Announcement::change(change)).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn hide(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    moderate(
        &state,
        &caller,
        client_id.as_deref(),
        &id,
        ModerationStatus::Spam,
    )
    .await
}

async fn unhide(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    moderate(
        &state,
        &caller,
        client_id.as_deref(),
        &id,
        ModerationStatus::Approved,
    )
    .await
}

/// Flags an annotation for moderators' review. Publishes nothing (h only emails moderators).
async fn flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let ann = load(&state, &id).await?;
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let group = state.group_by_pubid(&ann.groupid).await?;
    if !authz::can_read(&ann, group.as_ref(), Some(who)) {
        return Err(ApiError::NotFound);
    }
    state.db().flag_annotation(&ann.id, who.user.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
