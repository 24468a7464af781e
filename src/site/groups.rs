//! Group pages (h's `h/views/groups.py`, `h/views/activity.py` group_search): create a group at
//! `/groups/new`; `/groups/<pubid>/<slug>` shows it, its annotations as the visitor may read
//! them, and Join or Leave. A private group's page is its invitation, as in h: anyone holding
//! the link may join (open groups need no joining; restricted ones are joined by an owner's
//! invitation through the API or the CLI).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::cards;
use super::errors::PageError;
use super::layout::{csrf_field, encode, login_first, page, page_with};
use super::visitor::Visitor;
use crate::app::AppState;
use crate::bus::Announcement;
use crate::domain::group::WORLD;
use crate::domain::{Group, GroupType, Role};
use crate::store::NewGroup;

/// The group page's path; the slug percent-encoded (a name's letters may be any script, and a
/// `Location` header must be ASCII).
fn group_path(g: &Group) -> String {
    format!("/groups/{}/{}", g.pubid, encode(&g.slug()))
}

#[derive(Deserialize, Default)]
pub struct NewGroupForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    r#type: String,
}

fn new_group_form(visitor: &Visitor, f: &NewGroupForm, errors: &[String]) -> Markup {
    let kind = if f.r#type.is_empty() {
        "private"
    } else {
        f.r#type.as_str()
    };
    html! {
        h1 { "New group" }
        @for e in errors { p.error { (e) } }
        form method="post" action="/groups/new" {
            (csrf_field(visitor))
            label for="name" { "Name" }
            input id="name" name="name" value=(f.name) required minlength="3" maxlength="25";
            label for="description" { "Description (optional)" }
            textarea id="description" name="description" maxlength="250" rows="3" { (f.description) }
            label for="type" { "Who may read and annotate" }
            select id="type" name="type" {
                option value="private" selected[kind == "private"] { "Private: members only; anyone with the invite link may join" }
                option value="restricted" selected[kind == "restricted"] { "Restricted: anyone may read, members annotate" }
                option value="open" selected[kind == "open"] { "Open: anyone may read and annotate" }
            }
            button type="submit" { "Create group" }
        }
    }
}

/// `GET /groups/new`.
pub async fn new_form(visitor: Visitor) -> Response {
    if visitor.identity.is_none() {
        return login_first("/groups/new");
    }
    let body = new_group_form(&visitor, &NewGroupForm::default(), &[]);
    page(&visitor, "New group", body)
}

/// Checks a new group as the API does (h's `CreateGroupAPISchema` limits).
fn check_new(f: &NewGroupForm) -> Result<GroupType, Vec<String>> {
    let mut errors = vec![];
    let len = f.name.chars().count();
    if f.name.trim() != f.name {
        errors.push("The name cannot start or end with spaces.".to_owned());
    } else if !(3..=25).contains(&len) {
        errors.push("The name must be 3 to 25 characters long.".to_owned());
    }
    if f.description.chars().count() > 250 {
        errors.push("The description must be at most 250 characters long.".to_owned());
    }
    let kind = match f.r#type.as_str() {
        "private" | "" => GroupType::Private,
        "restricted" => GroupType::Restricted,
        "open" => GroupType::Open,
        _ => {
            errors.push("Choose private, restricted or open.".to_owned());
            GroupType::Private
        }
    };
    if errors.is_empty() {
        Ok(kind)
    } else {
        Err(errors)
    }
}

/// `POST /groups/new`: the creator becomes its owner (their sockets hear `group-join`).
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(f): Form<NewGroupForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(f.csrf.as_deref())?;
    let Some(who) = &visitor.identity else {
        return Ok(login_first("/groups/new"));
    };
    let kind = match check_new(&f) {
        Ok(k) => k,
        Err(errors) => {
            let body = new_group_form(&visitor, &f, &errors);
            return Ok(page_with(
                &visitor,
                StatusCode::BAD_REQUEST,
                "New group",
                body,
            ));
        }
    };
    let description = f.description.trim();
    let (group, joined) = state
        .db()
        .create_group(
            &NewGroup {
                name: &f.name,
                description: (!description.is_empty()).then_some(description),
                group_type: kind,
                pre_moderated: false,
                authority: &who.user.authority,
                authority_provided_id: None,
                creator: Some(&who.user),
            },
            None,
        )
        .await?;
    if let Some(change) = joined {
        state.announce(Announcement::change(change)).await;
    }
    Ok(Redirect::to(&group_path(&group)).into_response())
}

async fn find(state: &AppState, pubid: &str) -> Result<Group, PageError> {
    state
        .group_by_pubid(pubid)
        .await?
        .ok_or(PageError::NotFound)
}

/// `/groups/<pubid>`: to the page with its slug.
pub async fn without_slug(
    State(state): State<AppState>,
    Path(pubid): Path<String>,
) -> Result<Response, PageError> {
    let group = find(&state, &pubid).await?;
    Ok(Redirect::to(&group_path(&group)).into_response())
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<i64>,
}

/// `/groups/<pubid>/<slug>`.
pub async fn group_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((pubid, slug)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let group = find(&state, &pubid).await?;
    let here = group_path(&group);
    if slug != group.slug() {
        return Ok(Redirect::to(&here).into_response());
    }
    let role = visitor
        .identity
        .as_ref()
        .and_then(|w| w.role_in(&group.pubid));
    let members = state.db().member_count(group.id).await?;
    let same_authority = visitor
        .identity
        .as_ref()
        .is_some_and(|w| w.user.authority == group.authority);
    let may_join = role.is_none() && group.group_type == GroupType::Private;
    let readable = crate::domain::authz::can_read_group(&group, visitor.identity.as_ref());
    let list = if readable {
        let query = crate::store::SearchQuery {
            groups: vec![group.pubid.clone()],
            ..Default::default()
        };
        Some(
            cards::list(
                &state,
                visitor.identity.as_ref(),
                query,
                q.page.unwrap_or(1),
                &here,
            )
            .await?,
        )
    } else {
        None
    };
    let invite = format!("{}{here}", state.site().public_url);
    let body = html! {
        h1 { (group.name) }
        @if let Some(d) = &group.description { p { (d) } }
        p.muted {
            (kind_text(&group)) " · "
            @if group.pubid == WORLD { "every user" } @else {
                (members) @if members == 1 { " member" } @else { " members" }
            }
            @if let Some(r) = role { " · you are " (role_text(r)) }
        }
        @if may_join {
            @if visitor.identity.is_none() {
                p.notice { "You were invited to this group. " a href={ "/login?next=" (encode(&here)) } { "Log in" } " to join it." }
            } @else if same_authority {
                form method="post" action=(here) {
                    (csrf_field(&visitor))
                    input type="hidden" name="action" value="join";
                    p.notice { "You were invited to this group. Join it to read and annotate with its members." }
                    button type="submit" { "Join " (group.name) }
                }
            } @else {
                p.notice { "Only users of " (group.authority) " may join this group." }
            }
        }
        @if role.is_some() && group.pubid != WORLD {
            @if group.group_type == GroupType::Private {
                p { "Invite link (anyone who has it may join): " }
                code.token { (invite) }
            }
            form method="post" action=(here) {
                (csrf_field(&visitor))
                input type="hidden" name="action" value="leave";
                button type="submit" { "Leave this group" }
            }
        }
        @if let Some(list) = list { h2 { "Annotations" } (list) }
    };
    Ok(page(&visitor, &group.name, body))
}

fn kind_text(g: &Group) -> &'static str {
    match g.group_type {
        GroupType::Private => "Private group",
        GroupType::Restricted => "Restricted group: anyone may read, members annotate",
        GroupType::Open => "Open group: anyone may read and annotate",
    }
}

fn role_text(r: Role) -> &'static str {
    match r {
        Role::Owner => "its owner",
        Role::Admin => "an admin",
        Role::Moderator => "a moderator",
        Role::Member => "a member",
    }
}

#[derive(Deserialize)]
pub struct MembershipForm {
    csrf: Option<String>,
    #[serde(default)]
    action: String,
}

/// `POST /groups/<pubid>/<slug>` with `action=join` (a private group's invitation accepted) or
/// `action=leave`.
pub async fn membership(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((pubid, _slug)): Path<(String, String)>,
    Form(f): Form<MembershipForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(f.csrf.as_deref())?;
    let group = find(&state, &pubid).await?;
    let Some(who) = &visitor.identity else {
        return Ok(login_first(&group_path(&group)));
    };
    let membership = match f.action.as_str() {
        "join" => {
            if group.group_type != GroupType::Private || who.user.authority != group.authority {
                return Err(PageError::Forbidden(
                    "This group cannot be joined from its page.".into(),
                ));
            }
            // A member already keeps their role (an owner clicking twice stays the owner).
            Some(state.db().join_group(&group, &who.user, None).await?)
        }
        "leave" => {
            if group.pubid == WORLD {
                return Err(PageError::BadRequest(
                    "No one can leave the Public group.".into(),
                ));
            }
            Some(state.db().remove_member(&group, &who.user, None).await?)
        }
        _ => return Err(PageError::BadRequest("Unknown group action.".into())),
    };
    if let Some(change) = membership.and_then(|m| m.into_change()) {
        state.announce(Announcement::change(change)).await;
    }
    Ok(Redirect::to(&group_path(&group)).into_response())
}
