//! Hide & Reveal checkpoints (h's `h/models/checkpoint.py`, `h/services/checkpoint.py`): in an
//! LMS course group, a checkpoint on a document keeps students from seeing classmates'
//! annotations on it until its reveal date. Instructors are members whose `lms_role` is
//! `lms_instructor`. Only realtime delivery applies them, as in h's streamer.

use std::collections::HashSet;

use sqlx::AssertSqlSafe;

use super::exec::HeldConnection;
use super::steps::Arg;
use super::{Db, StoreError, routing};
use crate::domain::time::now_micros;
use crate::domain::{Group, User};
use crate::uri::normalize;

/// The LMS role that makes a member an instructor.
pub const INSTRUCTOR: &str = "lms_instructor";

/// What routing needs when an active checkpoint covers an annotation's group and document.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointScope {
    /// Userids of the group's instructors.
    pub instructors: HashSet<String>,
}

impl Db {
    /// Sets a member's LMS role (`None` clears it). Fails if the user is not a member.
    pub async fn set_lms_role(
        &self,
        group: &Group,
        user: &User,
        lms_role: Option<&str>,
    ) -> Result<(), StoreError> {
        let updated = self
            .execute(
                "UPDATE group_members SET lms_role = $1 WHERE group_id = $2 AND user_id = $3",
                &[lms_role.into(), group.id.into(), user.id.into()],
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound(format!(
                "{} is not a member of {}",
                user.userid(),
                group.pubid
            )));
        }
        Ok(())
    }

    /// Creates a checkpoint on the document annotated at `uri` (any of its URIs); returns its
    /// id. `reveal_date` is in microseconds since the epoch.
    pub async fn create_checkpoint(
        &self,
        group: &Group,
        uri: &str,
        reveal_date: Option<i64>,
    ) -> Result<i64, StoreError> {
        let normalized = normalize(uri)
            .map_err(|e| StoreError::NotFound(format!("{uri:?} is not a valid URI: {e}")))?;
        let document: Option<(i64,)> = self
            .fetch_optional(
                "SELECT document_id FROM document_uris WHERE uri_normalized = $1 \
                 ORDER BY document_id LIMIT 1",
                &[normalized.into()],
            )
            .await?;
        let (document,) = document.ok_or_else(|| {
            StoreError::NotFound(format!("no annotated document has the URI {uri}"))
        })?;
        let (id,) = self
            .fetch_one(
                "INSERT INTO checkpoints (group_id, document_id, reveal_date, created) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
                &[
                    group.id.into(),
                    document.into(),
                    reveal_date.into(),
                    now_micros().into(),
                ],
            )
            .await?;
        Ok(id)
    }

    /// Sets (or clears) a checkpoint's reveal date.
    pub async fn set_reveal_date(
        &self,
        id: i64,
        reveal_date: Option<i64>,
    ) -> Result<(), StoreError> {
        let updated = self
            .execute(
                "UPDATE checkpoints SET reveal_date = $1 WHERE id = $2",
                &[reveal_date.into(), id.into()],
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound(format!("no checkpoint {id}")));
        }
        Ok(())
    }

    /// The scope of an active checkpoint (reveal date unset or in the future) on this group
    /// and document, if there is one.
    pub async fn active_checkpoint(
        &self,
        group_pubid: &str,
        document_id: i64,
    ) -> Result<Option<CheckpointScope>, sqlx::Error> {
        let mut conn = HeldConnection::take(self).await?;
        routing::active_checkpoint(&mut conn, group_pubid, document_id).await
    }

    /// The authors of the given annotations (a reply's ancestors).
    pub async fn authors_of(&self, ids: &[String]) -> Result<HashSet<String>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT userid FROM annotations WHERE id IN ({})",
            super::placeholders(1, ids.len())
        );
        let args: Vec<Arg> = ids.iter().map(Arg::from).collect();
        let rows: Vec<(String,)> = self.fetch_all(AssertSqlSafe(sql), &args).await?;
        Ok(rows.into_iter().map(|(u,)| u).collect())
    }
}
