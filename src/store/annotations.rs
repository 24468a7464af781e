//! Annotation reads, deletes, moderation and flags. Creates and updates are in
//! [`super::annotation_write`]. Each write appends its change-log row in the same transaction.

use super::changelog::{Change, ChangeAction, ChangeEntry, append_change};
use super::rows::{ANNOTATION_COLS, AnnotationRow};
use sqlx::AssertSqlSafe;

use super::exec::{Exec, HeldConnection};
use super::search_index;
use super::steps::Arg;
use super::{Db, Engine};
use crate::domain::time::now_micros;
use crate::domain::{Annotation, ModerationStatus};

/// A moderation status change (hide, unhide).
#[derive(Clone, Debug)]
pub struct ModerationChange<'a> {
    pub annotation_id: &'a str,
    /// The annotation's author and group, recorded in the change log like any annotation event.
    pub userid: &'a str,
    pub groupid: &'a str,
    pub status: ModerationStatus,
    pub src_client_id: Option<&'a str>,
}

impl Db {
    /// Loads an annotation by id, soft-deleted ones included.
    pub async fn annotation(&self, id: &str) -> Result<Option<Annotation>, sqlx::Error> {
        let sql = format!("SELECT {ANNOTATION_COLS} FROM annotations a WHERE a.id = $1");
        let row: Option<AnnotationRow> = self
            .fetch_optional(AssertSqlSafe(sql), &[id.into()])
            .await?;
        Ok(row.map(Annotation::from))
    }

    /// Soft-deletes an annotation (h keeps the row, marked deleted) and appends `delete`;
    /// returns the change, committed.
    pub async fn delete_annotation(
        &self,
        ann: &Annotation,
        src_client_id: Option<&str>,
    ) -> Result<Change, sqlx::Error> {
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        tx.execute(
            "UPDATE annotations SET deleted = TRUE, updated = $1 WHERE id = $2",
            &[now_micros().into(), ann.id.as_str().into()],
        )
        .await?;
        if tx.engine() == Engine::Sqlite {
            tx.execute(search_index::FORGET, &[ann.id.as_str().into()])
                .await?;
        }
        let entry = ChangeEntry {
            action: ChangeAction::Delete,
            annotation_id: Some(&ann.id),
            userid: Some(&ann.userid),
            groupid: Some(&ann.groupid),
            src_client_id,
        };
        let change = append_change(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Sets an annotation's moderation status and appends `update` (h publishes one even when
    /// the status did not change); returns the change, committed.
    pub async fn set_moderation(&self, m: &ModerationChange<'_>) -> Result<Change, sqlx::Error> {
        let mut conn = HeldConnection::take(self).await?;
        let mut tx = conn.begin_write().await?;
        tx.execute(
            "UPDATE annotations SET moderation_status = $1 WHERE id = $2",
            &[m.status.as_str().into(), m.annotation_id.into()],
        )
        .await?;
        let entry = ChangeEntry {
            action: ChangeAction::Update,
            annotation_id: Some(m.annotation_id),
            userid: Some(m.userid),
            groupid: Some(m.groupid),
            src_client_id: m.src_client_id,
        };
        let change = append_change(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Records that a user flagged an annotation (idempotent; announces nothing, as in h).
    pub async fn flag_annotation(
        &self,
        annotation_id: &str,
        user_id: i64,
    ) -> Result<(), sqlx::Error> {
        self.execute(
            "INSERT INTO flags (annotation_id, user_id, created) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            &[annotation_id.into(), user_id.into(), now_micros().into()],
        )
        .await?;
        Ok(())
    }

    /// Of `ids`, those the user has flagged.
    pub async fn flagged_by(&self, ids: &[&str], user_id: i64) -> Result<Vec<String>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT annotation_id FROM flags WHERE user_id = $1 AND annotation_id IN ({})",
            super::placeholders(2, ids.len())
        );
        let mut args = vec![Arg::from(user_id)];
        args.extend(ids.iter().map(|id| Arg::from(*id)));
        let rows: Vec<(String,)> = self.fetch_all(AssertSqlSafe(sql), &args).await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// The ids of the users who flagged an annotation (its flag count is their number).
    pub async fn flaggers(&self, annotation_id: &str) -> Result<Vec<i64>, sqlx::Error> {
        let rows: Vec<(i64,)> = self
            .fetch_all(
                "SELECT user_id FROM flags WHERE annotation_id = $1",
                &[annotation_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// How many users flagged an annotation.
    pub async fn flag_count(&self, annotation_id: &str) -> Result<i64, sqlx::Error> {
        let (count,) = self
            .fetch_one(
                "SELECT COUNT(*) FROM flags WHERE annotation_id = $1",
                &[annotation_id.into()],
            )
            .await?;
        Ok(count)
    }
}
