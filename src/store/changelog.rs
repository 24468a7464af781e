//! The change log: a durable, strictly ordered record of every event clients may be told about
//! (annotation create/update/delete, group join/leave) and of changes caches must hear of
//! (NIPSA). Rows are appended inside the transaction of the change they describe, so a write that
//! does not commit leaves no row, and a row always describes a committed write.

use std::fmt;
use std::str::FromStr;

use super::exec::Exec;
use super::{Db, rows::ChangeRow};
use crate::domain::time::now_micros;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
    GroupJoin,
    GroupLeave,
    /// A user's NIPSA flag changed (no client message; caches reload the user).
    UserChange,
}

impl ChangeAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Create => "create",
            ChangeAction::Update => "update",
            ChangeAction::Delete => "delete",
            ChangeAction::GroupJoin => "group-join",
            ChangeAction::GroupLeave => "group-leave",
            ChangeAction::UserChange => "user-change",
        }
    }

    /// Annotation events, as opposed to user events.
    pub fn is_annotation(self) -> bool {
        matches!(
            self,
            ChangeAction::Create | ChangeAction::Update | ChangeAction::Delete
        )
    }
}

impl fmt::Display for ChangeAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "create" => ChangeAction::Create,
            "update" => ChangeAction::Update,
            "delete" => ChangeAction::Delete,
            "group-join" => ChangeAction::GroupJoin,
            "group-leave" => ChangeAction::GroupLeave,
            "user-change" => ChangeAction::UserChange,
            other => return Err(format!("unknown change action {other:?}")),
        })
    }
}

/// One committed change, as read back from the log and published on the bus.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Strictly increasing position in the log.
    pub seq: i64,
    pub action: ChangeAction,
    pub annotation_id: Option<String>,
    pub userid: Option<String>,
    /// The group pubid (the annotation's group, or the group joined or left).
    pub groupid: Option<String>,
    /// The writer's `X-Client-Id`, for echo suppression.
    pub src_client_id: Option<String>,
    /// Commit time, microseconds since the epoch.
    pub created: i64,
}

/// What a write appends; `seq` and `created` are assigned by the store.
#[derive(Clone, Debug)]
pub(crate) struct ChangeEntry<'a> {
    pub action: ChangeAction,
    pub annotation_id: Option<&'a str>,
    pub userid: Option<&'a str>,
    pub groupid: Option<&'a str>,
    pub src_client_id: Option<&'a str>,
}

impl ChangeEntry<'_> {
    /// An entry for `action` with no other field set.
    pub fn new(action: ChangeAction) -> Self {
        ChangeEntry {
            action,
            annotation_id: None,
            userid: None,
            groupid: None,
            src_client_id: None,
        }
    }

    /// The change as the log holds it once appended at `seq`, committed at `created`.
    pub fn committed(&self, seq: i64, created: i64) -> Change {
        Change {
            seq,
            action: self.action,
            annotation_id: self.annotation_id.map(str::to_owned),
            userid: self.userid.map(str::to_owned),
            groupid: self.groupid.map(str::to_owned),
            src_client_id: self.src_client_id.map(str::to_owned),
            created,
        }
    }
}

pub(crate) const APPEND_CHANGE: &str = "INSERT INTO change_log (action, annotation_id, userid, groupid, src_client_id, created) \
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq";

/// Appends one row to the change log inside the transaction `tx`; returns the [`Change`] as
/// the log holds it, for the caller to announce once the transaction commits.
pub(crate) async fn append_change(
    tx: &mut impl Exec,
    entry: &ChangeEntry<'_>,
) -> Result<Change, sqlx::Error> {
    let created = now_micros();
    let args = [
        entry.action.as_str().into(),
        entry.annotation_id.into(),
        entry.userid.into(),
        entry.groupid.into(),
        entry.src_client_id.into(),
        created.into(),
    ];
    let (seq,) = tx.fetch_one(APPEND_CHANGE, &args).await?;
    Ok(entry.committed(seq, created))
}

impl Db {
    /// Changes with `seq > after`, oldest first, at most `limit` of them.
    pub async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<Change>, sqlx::Error> {
        let rows: Vec<ChangeRow> = self
            .fetch_all(
                "SELECT seq, action, annotation_id, userid, groupid, src_client_id, created \
                 FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[after.into(), limit.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(ChangeRow::into_change)
            .collect())
    }

    /// The newest `seq` in the log (0 when empty).
    pub async fn last_seq(&self) -> Result<i64, sqlx::Error> {
        let (last,): (Option<i64>,) = self
            .fetch_one("SELECT MAX(seq) FROM change_log", &[])
            .await?;
        Ok(last.unwrap_or(0))
    }
}
