//! Annotation reads, deletes, moderation and flags. Creates and updates are in
//! [`super::annotation_write`]. Each write appends its change-log row in the same transaction.

use super::changelog::{Change, ChangeAction, ChangeEntry, append_change};
use super::rows::{ANNOTATION_COLS, AnnotationRow};
use super::{BeginWrite, Db, Engine, db_run};
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
        let row: Option<AnnotationRow> =
            db_run!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(p)
                .await?);
        Ok(row.map(Annotation::from))
    }

    /// Soft-deletes an annotation (h keeps the row, marked deleted) and appends `delete`;
    /// returns the change, committed.
    pub async fn delete_annotation(
        &self,
        ann: &Annotation,
        src_client_id: Option<&str>,
    ) -> Result<Change, sqlx::Error> {
        let engine = self.engine();
        db_run!(self, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query("UPDATE annotations SET deleted = TRUE, updated = $1 WHERE id = $2")
                .bind(now_micros())
                .bind(&ann.id)
                .execute(&mut *tx)
                .await?;
            if engine == Engine::Sqlite {
                sqlx::query("DELETE FROM annotations_fts WHERE annotation_id = $1")
                    .bind(&ann.id)
                    .execute(&mut *tx)
                    .await?;
            }
            let entry = ChangeEntry {
                action: ChangeAction::Delete,
                annotation_id: Some(&ann.id),
                userid: Some(&ann.userid),
                groupid: Some(&ann.groupid),
                src_client_id,
            };
            let change = append_change!(tx, &entry)?;
            tx.commit().await?;
            Ok(change)
        })
    }

    /// Sets an annotation's moderation status and appends `update` (h publishes one even when
    /// the status did not change); returns the change, committed.
    pub async fn set_moderation(&self, m: &ModerationChange<'_>) -> Result<Change, sqlx::Error> {
        db_run!(self, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query("UPDATE annotations SET moderation_status = $1 WHERE id = $2")
                .bind(m.status.as_str())
                .bind(m.annotation_id)
                .execute(&mut *tx)
                .await?;
            let entry = ChangeEntry {
                action: ChangeAction::Update,
                annotation_id: Some(m.annotation_id),
                userid: Some(m.userid),
                groupid: Some(m.groupid),
                src_client_id: m.src_client_id,
            };
            let change = append_change!(tx, &entry)?;
            tx.commit().await?;
            Ok(change)
        })
    }

    /// Records that a user flagged an annotation (idempotent; announces nothing, as in h).
    pub async fn flag_annotation(
        &self,
        annotation_id: &str,
        user_id: i64,
    ) -> Result<(), sqlx::Error> {
        db_run!(self, |p| {
            sqlx::query(
                "INSERT INTO flags (annotation_id, user_id, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(annotation_id)
            .bind(user_id)
            .bind(now_micros())
            .execute(p)
            .await?;
        });
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
        db_run!(self, |p| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).bind(user_id);
            for id in ids {
                q = q.bind(*id);
            }
            q.fetch_all(p).await
        })
    }

    /// The ids of the users who flagged an annotation (its flag count is their number).
    pub async fn flaggers(&self, annotation_id: &str) -> Result<Vec<i64>, sqlx::Error> {
        db_run!(self, |p| {
            sqlx::query_scalar("SELECT user_id FROM flags WHERE annotation_id = $1")
                .bind(annotation_id)
                .fetch_all(p)
                .await
        })
    }

    /// How many users flagged an annotation.
    pub async fn flag_count(&self, annotation_id: &str) -> Result<i64, sqlx::Error> {
        db_run!(self, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM flags WHERE annotation_id = $1")
                .bind(annotation_id)
                .fetch_one(p)
                .await
        })
    }
}
