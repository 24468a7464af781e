//! Annotation writes and reads. Each write stores the annotation, its document claims, its
//! thread and tag index rows and its full-text row, and appends one change-log row, all in one
//! transaction: it commits whole or leaves nothing behind.

use super::changelog::{ChangeAction, ChangeEntry, append_change};
use super::documents::{DocumentClaims, DocumentTx};
use super::rows::{ANNOTATION_COLS, AnnotationRow};
use super::{BeginWrite, Db, Engine, db_run};
use crate::domain::time::now_micros;
use crate::domain::{Annotation, ModerationStatus};

/// A create or an update: the whole new state of the annotation.
#[derive(Clone, Debug)]
pub struct AnnotationWrite<'a> {
    pub annotation: &'a Annotation,
    /// Document claims to record (always on create; on update only when `document` was sent).
    pub document: Option<&'a DocumentClaims>,
    pub action: ChangeAction,
    pub src_client_id: Option<&'a str>,
}

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

/// The quoted text of an annotation: the `exact` of its TextQuoteSelector, for text search.
fn quote_of(ann: &Annotation) -> String {
    ann.target_selectors
        .iter()
        .filter(|s| s.get("type").and_then(|t| t.as_str()) == Some("TextQuoteSelector"))
        .filter_map(|s| s.get("exact").and_then(|e| e.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
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

    /// Stores a created or updated annotation and appends its change-log row. Returns the
    /// annotation's document id as stored (new when claims were recorded) and the change's seq.
    pub async fn write_annotation(
        &self,
        w: &AnnotationWrite<'_>,
    ) -> Result<(Option<i64>, i64), sqlx::Error> {
        let a = w.annotation;
        let quote = quote_of(a);
        let engine = self.engine();
        let written = db_run!(self, |p| {
            let mut tx = p.begin_write().await?;
            let mut document_id = a.document_id;
            if let Some(claims) = w.document {
                document_id = Some(tx.record_document(claims).await?);
            }
            let sql = if w.action == ChangeAction::Create {
                "INSERT INTO annotations (created, updated, userid, groupid, target_uri, \
                 target_uri_normalized, text, quote, tags, shared, refs, thread_root, target_selectors, \
                 target_description, document_id, extra, metadata, moderation_status, version, deleted, id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
            } else {
                "UPDATE annotations SET created = $1, updated = $2, userid = $3, groupid = $4, \
                 target_uri = $5, target_uri_normalized = $6, text = $7, quote = $8, tags = $9, \
                 shared = $10, refs = $11, thread_root = $12, target_selectors = $13, \
                 target_description = $14, document_id = $15, extra = $16, metadata = $17, \
                 moderation_status = $18, version = $19, deleted = $20 WHERE id = $21"
            };
            sqlx::query(sql)
                .bind(a.created)
                .bind(a.updated)
                .bind(&a.userid)
                .bind(&a.groupid)
                .bind(&a.target_uri)
                .bind(&a.target_uri_normalized)
                .bind(&a.text)
                .bind(&quote)
                .bind(json(&a.tags))
                .bind(a.shared)
                .bind(json(&a.references))
                .bind(a.references.first())
                .bind(json(&a.target_selectors))
                .bind(&a.target_description)
                .bind(document_id)
                .bind(json(&a.extra))
                .bind(a.metadata.as_ref().map(json))
                .bind(a.moderation_status.map(|s| s.as_str()))
                .bind(a.version)
                .bind(a.deleted)
                .bind(&a.id)
                .execute(&mut *tx)
                .await?;
            // A new annotation has no old rows to clear (and SQLite's FTS5 table can only find
            // one by scanning).
            let creating = w.action == ChangeAction::Create;
            if !creating {
                for sql in [
                    "DELETE FROM annotation_refs WHERE annotation_id = $1",
                    "DELETE FROM annotation_tags WHERE annotation_id = $1",
                ] {
                    sqlx::query(sql).bind(&a.id).execute(&mut *tx).await?;
                }
            }
            for r in &a.references {
                sqlx::query("INSERT INTO annotation_refs (annotation_id, ref_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(&a.id)
                    .bind(r)
                    .execute(&mut *tx)
                    .await?;
            }
            for t in &a.tags {
                sqlx::query("INSERT INTO annotation_tags (annotation_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(&a.id)
                    .bind(t.to_lowercase())
                    .execute(&mut *tx)
                    .await?;
            }
            if engine == Engine::Sqlite {
                // PostgreSQL indexes the columns themselves; SQLite keeps a separate FTS5 table.
                if !creating {
                    sqlx::query("DELETE FROM annotations_fts WHERE annotation_id = $1")
                        .bind(&a.id)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("INSERT INTO annotations_fts (annotation_id, text, quote, tags) VALUES ($1, $2, $3, $4)")
                    .bind(&a.id)
                    .bind(&a.text)
                    .bind(&quote)
                    .bind(a.tags.join(" "))
                    .execute(&mut *tx)
                    .await?;
            }
            let entry = ChangeEntry {
                action: Some(w.action),
                annotation_id: Some(&a.id),
                userid: Some(&a.userid),
                groupid: Some(&a.groupid),
                src_client_id: w.src_client_id,
            };
            let seq = append_change!(tx, &entry)?;
            tx.commit().await?;
            (document_id, seq)
        });
        Ok(written)
    }

    /// Soft-deletes an annotation (h keeps the row, marked deleted) and appends `delete`.
    pub async fn delete_annotation(
        &self,
        ann: &Annotation,
        src_client_id: Option<&str>,
    ) -> Result<(), sqlx::Error> {
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
                action: Some(ChangeAction::Delete),
                annotation_id: Some(&ann.id),
                userid: Some(&ann.userid),
                groupid: Some(&ann.groupid),
                src_client_id,
            };
            append_change!(tx, &entry)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Sets an annotation's moderation status and appends `update` (h publishes one even when
    /// the status did not change).
    pub async fn set_moderation(&self, m: &ModerationChange<'_>) -> Result<(), sqlx::Error> {
        db_run!(self, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query("UPDATE annotations SET moderation_status = $1 WHERE id = $2")
                .bind(m.status.as_str())
                .bind(m.annotation_id)
                .execute(&mut *tx)
                .await?;
            let entry = ChangeEntry {
                action: Some(ChangeAction::Update),
                annotation_id: Some(m.annotation_id),
                userid: Some(m.userid),
                groupid: Some(m.groupid),
                src_client_id: m.src_client_id,
            };
            append_change!(tx, &entry)?;
            tx.commit().await?;
        });
        Ok(())
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
