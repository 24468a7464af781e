//! Row types as the database returns them, and their conversion into domain types. Columns are
//! plain TEXT/BIGINT/BOOLEAN so one struct decodes on both engines.

use serde_json::Value;

use super::changelog::Change;
use crate::domain::{Annotation, Group, User};

pub(crate) const USER_COLS: &str =
    "id, username, authority, email, display_name, nipsa, deleted, preferences";

/// [`USER_COLS`] qualified with a table alias, for joins (`u.id, u.username, ...`).
pub(crate) fn user_cols_of(alias: &str) -> String {
    USER_COLS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    authority: String,
    email: Option<String>,
    display_name: Option<String>,
    nipsa: bool,
    deleted: bool,
    preferences: String,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> User {
        User {
            id: r.id,
            username: r.username,
            authority: r.authority,
            email: r.email,
            display_name: r.display_name,
            nipsa: r.nipsa,
            deleted: r.deleted,
            preferences: match serde_json::from_str(&r.preferences) {
                Ok(Value::Object(m)) => m,
                _ => Default::default(),
            },
        }
    }
}

impl UserRow {
    /// The same row read through rusqlite (see [`super::direct`]), by column name.
    pub(crate) fn from_direct(r: &rusqlite::Row) -> rusqlite::Result<UserRow> {
        Ok(UserRow {
            id: r.get("id")?,
            username: r.get("username")?,
            authority: r.get("authority")?,
            email: r.get("email")?,
            display_name: r.get("display_name")?,
            nipsa: r.get("nipsa")?,
            deleted: r.get("deleted")?,
            preferences: r.get("preferences")?,
        })
    }
}

pub(crate) const GROUP_COLS: &str = "id, pubid, authority, authority_provided_id, name, \
                                     description, group_type, pre_moderated";

#[derive(sqlx::FromRow)]
pub(crate) struct GroupRow {
    id: i64,
    pubid: String,
    authority: String,
    authority_provided_id: Option<String>,
    name: String,
    description: Option<String>,
    group_type: String,
    pre_moderated: bool,
}

impl GroupRow {
    /// The same row read through rusqlite (see [`super::direct`]), by column name.
    pub(crate) fn from_direct(r: &rusqlite::Row) -> rusqlite::Result<GroupRow> {
        Ok(GroupRow {
            id: r.get("id")?,
            pubid: r.get("pubid")?,
            authority: r.get("authority")?,
            authority_provided_id: r.get("authority_provided_id")?,
            name: r.get("name")?,
            description: r.get("description")?,
            group_type: r.get("group_type")?,
            pre_moderated: r.get("pre_moderated")?,
        })
    }
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Group {
        Group {
            id: r.id,
            pubid: r.pubid,
            authority: r.authority,
            authority_provided_id: r.authority_provided_id,
            name: r.name,
            description: r.description,
            // The column only ever holds values written from `GroupType::as_str`.
            group_type: r
                .group_type
                .parse()
                .unwrap_or(crate::domain::GroupType::Private),
            pre_moderated: r.pre_moderated,
        }
    }
}

pub(crate) const ANNOTATION_COLS: &str = "a.id, a.created, a.updated, a.userid, a.groupid, \
    a.target_uri, a.target_uri_normalized, a.text, a.tags, a.shared, a.refs, \
    a.target_selectors, a.target_description, a.document_id, a.extra, a.metadata, \
    a.moderation_status, a.version, a.deleted";

#[derive(sqlx::FromRow)]
pub(crate) struct AnnotationRow {
    id: String,
    created: i64,
    updated: i64,
    userid: String,
    groupid: String,
    target_uri: String,
    target_uri_normalized: String,
    text: String,
    tags: String,
    shared: bool,
    refs: String,
    target_selectors: String,
    target_description: Option<String>,
    document_id: Option<i64>,
    extra: String,
    metadata: Option<String>,
    moderation_status: Option<String>,
    version: Option<i64>,
    deleted: bool,
}

fn json_or<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

impl From<AnnotationRow> for Annotation {
    fn from(r: AnnotationRow) -> Annotation {
        Annotation {
            id: r.id,
            created: r.created,
            updated: r.updated,
            userid: r.userid,
            groupid: r.groupid,
            target_uri: r.target_uri,
            target_uri_normalized: r.target_uri_normalized,
            text: r.text,
            tags: json_or(&r.tags),
            shared: r.shared,
            references: json_or(&r.refs),
            target_selectors: json_or(&r.target_selectors),
            target_description: r.target_description,
            document_id: r.document_id,
            extra: json_or(&r.extra),
            metadata: r.metadata.and_then(|m| serde_json::from_str(&m).ok()),
            moderation_status: r.moderation_status.and_then(|s| s.parse().ok()),
            version: r.version,
            deleted: r.deleted,
        }
    }
}

/// A change-log row as stored, and as the change feed carries it (same fields, as JSON).
#[derive(sqlx::FromRow, serde::Deserialize)]
pub(crate) struct ChangeRow {
    seq: i64,
    action: String,
    annotation_id: Option<String>,
    userid: Option<String>,
    groupid: Option<String>,
    src_client_id: Option<String>,
    created: i64,
}

impl ChangeRow {
    /// Rows with an action this build does not know (written by a newer version) are skipped.
    pub(crate) fn into_change(self) -> Option<Change> {
        Some(Change {
            seq: self.seq,
            action: self.action.parse().ok()?,
            annotation_id: self.annotation_id,
            userid: self.userid,
            groupid: self.groupid,
            src_client_id: self.src_client_id,
            created: self.created,
        })
    }
}
