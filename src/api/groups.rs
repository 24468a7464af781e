//! `/api/groups`: list, create, read, and membership (spec §8.10; h's `h/views/api/groups.py`,
//! `h/views/api/group_members.py`, `h/presenters/group_json.py`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::{Caller, ClientId, JsonBody};
use crate::app::AppState;
use crate::bus::Announcement;
use crate::domain::group::WORLD;
use crate::domain::{Group, GroupType, Identity, Role, authz};
use crate::input::py_repr;
use crate::store::NewGroup;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/groups", get(list).post(create))
        .route("/api/groups/{id}", get(read))
        .route(
            "/api/groups/{id}/members/{userid}",
            post(add_member).delete(remove_member),
        )
}

/// h's group JSON for one group.
pub fn group_json(state: &AppState, g: &Group, expand_scopes: bool) -> Value {
    let mut v = json!({
        "id": g.pubid,
        "groupid": g.groupid(),
        "name": g.name,
        "links": {},
        "organization": null,
        "public": g.world_readable(),
        "scoped": false,
        "type": g.group_type.as_str(),
        "pre_moderated": g.pre_moderated,
    });
    if g.authority == state.authority() {
        v["links"] =
            json!({"html": format!("{}/groups/{}/{}", state.site().public_url, g.pubid, g.slug())});
    }
    if expand_scopes {
        v["scopes"] = json!({"enforced": false, "uri_patterns": []});
    }
    v
}

/// Finds a group by pubid or `group:<id>@<authority>`.
pub async fn find_group(state: &AppState, id: &str) -> ApiResult<Option<Group>> {
    if id.starts_with("group:") {
        Ok(state.db().group_by_groupid(id).await?)
    } else {
        Ok(state.db().group_by_pubid(id).await?)
    }
}

#[derive(Deserialize)]
struct ListParams {
    authority: Option<String>,
}

fn expands_scopes(raw: Option<&str>) -> bool {
    raw.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "expand" && v == "scopes")
    })
}

/// The world group of the caller's authority (if any), then the caller's groups.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> ApiResult<Json<Value>> {
    let expand = expands_scopes(raw.as_deref());
    let authority = match caller.identity() {
        Some(who) => who.user.authority.clone(),
        None => params
            .authority
            .unwrap_or_else(|| state.authority().to_owned()),
    };
    let mut groups = vec![];
    if let Some(world) = state.db().group_by_pubid(WORLD).await?
        && world.authority == authority
    {
        groups.push(world);
    }
    if let Some(who) = caller.identity() {
        for g in state.db().groups_of(who.user.id).await? {
            if g.pubid != WORLD {
                groups.push(g);
            }
        }
    }
    Ok(Json(Value::Array(
        groups
            .iter()
            .map(|g| group_json(&state, g, expand))
            .collect(),
    )))
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> ApiResult<Json<Value>> {
    let group = find_group(&state, &id).await?.ok_or(ApiError::NotFound)?;
    if !authz::can_read_group(&group, caller.identity()) {
        return Err(ApiError::NotFound);
    }
    Ok(Json(group_json(
        &state,
        &group,
        expands_scopes(raw.as_deref()),
    )))
}

/// Validates a create body as h's `CreateGroupAPISchema` does.
fn parse_create(
    body: &Value,
    who: &Identity,
    default_authority: &str,
) -> Result<NewGroupBody, String> {
    let obj = body
        .as_object()
        .ok_or_else(|| format!("{} is not of type 'object'", py_repr(body)))?;
    let mut errors = vec![];
    let name = match obj.get("name") {
        None => {
            errors.push("'name' is a required property".to_owned());
            String::new()
        }
        Some(Value::String(n)) => {
            let len = n.chars().count();
            if len < 3 {
                errors.push(format!(
                    "name: {} is too short",
                    py_repr(&Value::from(n.as_str()))
                ));
            } else if len > 25 {
                errors.push(format!(
                    "name: {} is too long",
                    py_repr(&Value::from(n.as_str()))
                ));
            } else if n.trim() != n {
                errors.push(
                    "name: Group names can't have leading or trailing whitespace.".to_owned(),
                );
            }
            n.clone()
        }
        Some(other) => {
            errors.push(format!("name: {} is not of type 'string'", py_repr(other)));
            String::new()
        }
    };
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.chars().count() <= 250 => Some(d.clone()),
        Some(Value::String(d)) => {
            errors.push(format!(
                "description: {} is too long",
                py_repr(&Value::from(d.as_str()))
            ));
            None
        }
        Some(other) => {
            errors.push(format!(
                "description: {} is not of type 'string'",
                py_repr(other)
            ));
            None
        }
    };
    let group_type = match obj.get("type") {
        None => GroupType::Private,
        Some(Value::String(t)) => t.parse().unwrap_or_else(|_| {
            errors.push(format!(
                "type: {} is not one of ['private', 'restricted', 'open']",
                py_repr(&Value::from(t.as_str()))
            ));
            GroupType::Private
        }),
        Some(other) => {
            errors.push(format!(
                "type: {} is not one of ['private', 'restricted', 'open']",
                py_repr(other)
            ));
            GroupType::Private
        }
    };
    let pre_moderated = match obj.get("pre_moderated") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errors.push(format!(
                "pre_moderated: {} is not of type 'boolean'",
                py_repr(other)
            ));
            false
        }
    };
    let groupid = match obj.get("groupid") {
        None | Some(Value::Null) => None,
        Some(Value::String(g)) => {
            if who.user.authority == default_authority {
                errors.push(format!(
                    "groupid: You may only set groupid for groups of a third-party authority, not {default_authority}"
                ));
                None
            } else {
                match g.strip_prefix("group:").and_then(|r| r.rsplit_once('@')) {
                    Some((id, auth)) if auth == who.user.authority && !id.is_empty() => {
                        Some(id.to_owned())
                    }
                    _ => {
                        errors.push(format!(
                            "groupid: {} does not match \"group:<id>@{}\"",
                            py_repr(&Value::from(g.as_str())),
                            who.user.authority
                        ));
                        None
                    }
                }
            }
        }
        Some(other) => {
            errors.push(format!(
                "groupid: {} is not of type 'string'",
                py_repr(other)
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(NewGroupBody {
            name,
            description,
            group_type,
            pre_moderated,
            groupid,
        })
    } else {
        Err(errors.join(", "))
    }
}

struct NewGroupBody {
    name: String,
    description: Option<String>,
    group_type: GroupType,
    pre_moderated: bool,
    groupid: Option<String>,
}

/// Creates a group owned by the caller (who thereby joins it: `group-join`).
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let b = parse_create(&body, who, state.authority()).map_err(ApiError::BadRequest)?;
    let (group, joined) = state
        .db()
        .create_group(
            &NewGroup {
                name: &b.name,
                description: b.description.as_deref(),
                group_type: b.group_type,
                pre_moderated: b.pre_moderated,
                authority: &who.user.authority,
                authority_provided_id: b.groupid.as_deref(),
                creator: Some(&who.user),
            },
            client_id.as_deref(),
        )
        .await?;
    if let Some(change) = joined {
        state.announce(Announcement::change(change)).await;
    }
    Ok(Json(group_json(&state, &group, false)))
}

/// Resolves the `{userid}` path segment: `me` is the caller.
async fn target_user(
    state: &AppState,
    who: Option<&Identity>,
    userid: &str,
) -> ApiResult<crate::domain::User> {
    if userid == "me" {
        return who.map(|w| w.user.clone()).ok_or(ApiError::NotFound);
    }
    state
        .db()
        .user_by_userid(userid)
        .await?
        .filter(|u| !u.deleted)
        .ok_or(ApiError::NotFound)
}

/// Adds a member of the group's authority. In h (`h/views/api/group_members.py`,
/// `Permission.Group.MEMBER_ADD`) only an auth client of the group's authority may; scholia has
/// no auth-client callers on this API, so it lets the group's owners and admins add users
/// instead. No one may add themselves: knowing a private group's id must not make one a member
/// (joining by invitation is a page's job). Everyone else gets h's 404.
async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    Path((id, userid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let group = find_group(&state, &id).await?.ok_or(ApiError::NotFound)?;
    let user = target_user(&state, Some(who), &userid).await?;
    let manager = who.role_in(&group.pubid).is_some_and(|r| r >= Role::Admin);
    if !manager || user.authority != group.authority {
        return Err(ApiError::NotFound);
    }
    let membership = state
        .db()
        .add_member(&group, &user, Role::Member, client_id.as_deref())
        .await?;
    if let Some(change) = membership.into_change() {
        state.announce(Announcement::change(change)).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a member: anyone may leave; owners, admins and moderators may remove members of
/// lower roles.
async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    ClientId(client_id): ClientId,
    Path((id, userid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let who = caller.identity().ok_or(ApiError::NotFound)?;
    let group = find_group(&state, &id).await?.ok_or(ApiError::NotFound)?;
    if !authz::can_read_group(&group, Some(who)) {
        return Err(ApiError::NotFound);
    }
    let user = target_user(&state, Some(who), &userid).await?;
    if user.id != who.user.id {
        let mine = who.role_in(&group.pubid);
        let theirs = state.db().role_in(group.id, user.id).await?;
        let allowed = match (mine, theirs) {
            (Some(m), Some(t)) => m.can_moderate() && m > t,
            _ => false,
        };
        if !allowed {
            return Err(ApiError::NotFound);
        }
    }
    let membership = state
        .db()
        .remove_member(&group, &user, client_id.as_deref())
        .await?;
    if let Some(change) = membership.into_change() {
        state.announce(Announcement::change(change)).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
