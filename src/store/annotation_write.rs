//! Annotation creates and updates. Each stores the annotation, its document claims, its thread
//! and tag index rows and its full-text row, and appends one change-log row, in one
//! transaction: it commits whole or leaves nothing behind. Several writes may share one
//! transaction ([`Db::write_annotations`], used by the group-commit [`super::writer`]); if any of
//! them fails the whole transaction is rolled back and each is retried on its own, so one bad
//! write never takes another down with it.

use super::changelog::{Change, ChangeAction, ChangeEntry, append_change};
use super::documents::{DocumentClaims, DocumentTx};
use super::routing::{RoutingFacts, RoutingTx};
use super::{BeginWrite, Db, Engine, db_run};
use crate::domain::Annotation;
use crate::domain::time::now_micros;

/// A create or an update: the whole new state of the annotation.
#[derive(Clone, Debug)]
pub struct AnnotationWrite {
    pub annotation: Annotation,
    /// Document claims to record (always on create; on update only when `document` was sent).
    pub document: Option<DocumentClaims>,
    pub action: ChangeAction,
    pub src_client_id: Option<String>,
}

/// What a committed create or update stored.
#[derive(Clone, Debug)]
pub struct Written {
    /// The annotation as stored (its `document_id` set when claims were recorded).
    pub annotation: Annotation,
    /// The document's title as it stands after the write (creates only; `None` otherwise).
    pub document_title: Option<String>,
    /// The change-log row the write appended, exactly as the log holds it.
    pub change: Change,
    /// The event's routing facts, read in the same transaction (creates only).
    pub routing: Option<RoutingFacts>,
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

/// One annotation write inside a caller's transaction.
trait AnnotationTx {
    fn put_annotation(
        &mut self,
        w: &AnnotationWrite,
        engine: Engine,
    ) -> impl Future<Output = Result<Written, sqlx::Error>> + Send;
}

const INSERT: &str = "INSERT INTO annotations (created, updated, userid, groupid, target_uri, \
     target_uri_normalized, text, quote, tags, shared, refs, thread_root, target_selectors, \
     target_description, document_id, extra, metadata, moderation_status, version, deleted, id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";
const UPDATE: &str = "UPDATE annotations SET created = $1, updated = $2, userid = $3, groupid = $4, \
     target_uri = $5, target_uri_normalized = $6, text = $7, quote = $8, tags = $9, \
     shared = $10, refs = $11, thread_root = $12, target_selectors = $13, \
     target_description = $14, document_id = $15, extra = $16, metadata = $17, \
     moderation_status = $18, version = $19, deleted = $20 WHERE id = $21";

macro_rules! impl_annotation_tx {
    ($conn:ty) => {
        impl AnnotationTx for $conn {
            async fn put_annotation(&mut self, w: &AnnotationWrite, engine: Engine) -> Result<Written, sqlx::Error> {
                let mut a = w.annotation.clone();
                let quote = quote_of(&a);
                if let Some(claims) = &w.document {
                    a.document_id = Some(self.record_document(claims).await?);
                }
                let creating = w.action == ChangeAction::Create;
                sqlx::query(if creating { INSERT } else { UPDATE })
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
                    .bind(a.document_id)
                    .bind(json(&a.extra))
                    .bind(a.metadata.as_ref().map(json))
                    .bind(a.moderation_status.map(|s| s.as_str()))
                    .bind(a.version)
                    .bind(a.deleted)
                    .bind(&a.id)
                    .execute(&mut *self)
                    .await?;
                // A new annotation has no old rows to clear (and SQLite's FTS5 table can only
                // find one by scanning).
                if !creating {
                    for sql in [
                        "DELETE FROM annotation_refs WHERE annotation_id = $1",
                        "DELETE FROM annotation_tags WHERE annotation_id = $1",
                    ] {
                        sqlx::query(sql).bind(&a.id).execute(&mut *self).await?;
                    }
                }
                for r in &a.references {
                    sqlx::query("INSERT INTO annotation_refs (annotation_id, ref_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(&a.id)
                        .bind(r)
                        .execute(&mut *self)
                        .await?;
                }
                for t in &a.tags {
                    sqlx::query("INSERT INTO annotation_tags (annotation_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(&a.id)
                        .bind(t.to_lowercase())
                        .execute(&mut *self)
                        .await?;
                }
                if engine == Engine::Sqlite {
                    // PostgreSQL indexes the columns themselves; SQLite keeps a separate FTS5
                    // table.
                    if !creating {
                        sqlx::query("DELETE FROM annotations_fts WHERE annotation_id = $1")
                            .bind(&a.id)
                            .execute(&mut *self)
                            .await?;
                    }
                    sqlx::query("INSERT INTO annotations_fts (annotation_id, text, quote, tags) VALUES ($1, $2, $3, $4)")
                        .bind(&a.id)
                        .bind(&a.text)
                        .bind(&quote)
                        .bind(a.tags.join(" "))
                        .execute(&mut *self)
                        .await?;
                }
                let (routing, document_title) = if creating {
                    self.create_facts(&a, w.document.as_ref()).await?
                } else {
                    (None, None)
                };
                let created = now_micros();
                let entry = ChangeEntry {
                    action: Some(w.action),
                    annotation_id: Some(&a.id),
                    userid: Some(&a.userid),
                    groupid: Some(&a.groupid),
                    src_client_id: w.src_client_id.as_deref(),
                };
                let seq = append_change!(self, &entry, created)?;
                let change = Change {
                    seq,
                    action: w.action,
                    annotation_id: Some(a.id.clone()),
                    userid: Some(a.userid.clone()),
                    groupid: Some(a.groupid.clone()),
                    src_client_id: w.src_client_id.clone(),
                    created,
                };
                Ok(Written { annotation: a, document_title, change, routing })
            }
        }

        impl CreateFacts for $conn {
            async fn create_facts(
                &mut self,
                a: &Annotation,
                claims: Option<&DocumentClaims>,
            ) -> Result<(Option<RoutingFacts>, Option<String>), sqlx::Error> {
                // The claims just recorded make `document_id` the only document claiming the
                // annotation's URI, so its expansion needs one read, not two.
                let uris = match (claims, a.document_id) {
                    (Some(_), Some(doc)) => {
                        self.expand_in_document(doc, &a.target_uri, &a.target_uri_normalized).await?
                    }
                    _ => self.expand_uri(&a.target_uri, &a.target_uri_normalized).await?,
                };
                let checkpoint = match a.document_id {
                    Some(doc) => self.active_checkpoint(&a.groupid, doc).await?,
                    None => None,
                };
                let title = match (claims.and_then(|c| c.title.clone()), a.document_id) {
                    (Some(t), _) => Some(t),
                    (None, Some(doc)) => sqlx::query_scalar::<_, Option<String>>(
                        "SELECT title FROM documents WHERE id = $1",
                    )
                    .bind(doc)
                    .fetch_optional(&mut *self)
                    .await?
                    .flatten(),
                    (None, None) => None,
                };
                Ok((Some(RoutingFacts { uris, checkpoint }), title))
            }
        }
    };
}

/// What a create learns for its response and its event while its transaction is open.
trait CreateFacts {
    fn create_facts(
        &mut self,
        a: &Annotation,
        claims: Option<&DocumentClaims>,
    ) -> impl Future<Output = Result<(Option<RoutingFacts>, Option<String>), sqlx::Error>> + Send;
}

impl_annotation_tx!(sqlx::SqliteConnection);
impl_annotation_tx!(sqlx::PgConnection);

impl Db {
    /// Stores one created or updated annotation in its own transaction.
    pub async fn write_annotation(&self, w: &AnnotationWrite) -> Result<Written, sqlx::Error> {
        let engine = self.engine();
        db_run!(self, |p| {
            let mut tx = p.begin_write().await?;
            let written = tx.put_annotation(w, engine).await?;
            tx.commit().await?;
            Ok(written)
        })
    }

    /// Stores several writes, in one transaction when they all succeed; otherwise each in its
    /// own, so each gets its own outcome. Results are in the order of `writes`.
    pub async fn write_annotations(
        &self,
        writes: &[AnnotationWrite],
    ) -> Vec<Result<Written, sqlx::Error>> {
        if writes.len() > 1 {
            match self.write_together(writes).await {
                Ok(all) => return all.into_iter().map(Ok).collect(),
                Err(e) => {
                    tracing::debug!(error = %e, "a grouped write failed; writing one at a time")
                }
            }
        }
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            out.push(self.write_annotation(w).await);
        }
        out
    }

    async fn write_together(
        &self,
        writes: &[AnnotationWrite],
    ) -> Result<Vec<Written>, sqlx::Error> {
        let engine = self.engine();
        db_run!(self, |p| {
            let mut tx = p.begin_write().await?;
            let mut all = Vec::with_capacity(writes.len());
            for w in writes {
                all.push(tx.put_annotation(w, engine).await?);
            }
            tx.commit().await?;
            Ok(all)
        })
    }
}
