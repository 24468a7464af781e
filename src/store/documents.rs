//! Documents and their URIs: the claims an annotation's page makes about itself (canonical link,
//! DOI, PDF fingerprint, ...), recorded so that URI expansion can find every annotation on the
//! same document (`h/models/document/_document.py`, `h/storage.py` `expand_uri`).

use super::routing::RoutingTx;
use super::steps::Steps;
use super::{Db, db_run, placeholders};
use crate::domain::time::now_micros;

/// One URI a document claims, already normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentUri {
    pub uri: String,
    pub uri_normalized: String,
    pub r#type: String,
    pub content_type: String,
}

/// What a write says about its document: the claimant (the annotation's URI) and its claims.
#[derive(Clone, Debug, PartialEq)]
pub struct DocumentClaims {
    pub claimant: String,
    pub claimant_normalized: String,
    pub title: Option<String>,
    pub uris: Vec<DocumentUri>,
}

/// Records one claim (a no-op when the same claimant already made it).
const INSERT_CLAIM: &str = "INSERT INTO document_uris (document_id, claimant, claimant_normalized, uri, \
     uri_normalized, type, content_type, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (claimant_normalized, uri_normalized, type, content_type) DO NOTHING";

/// Document work that has to happen inside a caller's write transaction.
pub(crate) trait DocumentTx {
    /// Finds or creates the document the claims describe, merging documents the claims show to
    /// be one, and returns the document id. The claims themselves are added to `then`, to be
    /// recorded with the rest of the write. `opening` (a constant such as `BEGIN IMMEDIATE;`)
    /// goes first in the same query as the lookup.
    fn record_document(
        &mut self,
        claims: &DocumentClaims,
        opening: &'static str,
        then: &mut Steps,
    ) -> impl Future<Output = Result<i64, sqlx::Error>> + Send;
}

macro_rules! impl_document_tx {
    ($conn:ty) => {
        impl DocumentTx for $conn {
            async fn record_document(
                &mut self,
                claims: &DocumentClaims,
                opening: &'static str,
                then: &mut Steps,
            ) -> Result<i64, sqlx::Error> {
                let now = now_micros();
                let mut keys: Vec<&str> = vec![claims.claimant_normalized.as_str()];
                keys.extend(claims.uris.iter().map(|u| u.uri_normalized.as_str()));
                keys.sort_unstable();
                keys.dedup();
                let sql = format!(
                    "{opening}SELECT DISTINCT document_id FROM document_uris WHERE uri_normalized IN ({}) ORDER BY document_id",
                    placeholders(1, keys.len())
                );
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()));
                for k in &keys {
                    q = q.bind(*k);
                }
                let found: Vec<i64> = q.fetch_all(&mut *self).await?;
                let document_id = match found.split_first() {
                    None => {
                        sqlx::query_scalar(
                            "INSERT INTO documents (title, created, updated) VALUES ($1, $2, $2) RETURNING id",
                        )
                        .bind(&claims.title)
                        .bind(now)
                        .fetch_one(&mut *self)
                        .await?
                    }
                    Some((first, rest)) => {
                        // The claims join several documents: fold the others into the oldest,
                        // as h's `merge_documents` does.
                        for other in rest {
                            for sql in [
                                "UPDATE document_uris SET document_id = $1 WHERE document_id = $2",
                                "UPDATE annotations SET document_id = $1 WHERE document_id = $2",
                                "UPDATE checkpoints SET document_id = $1 WHERE document_id = $2",
                            ] {
                                sqlx::query(sql).bind(*first).bind(*other).execute(&mut *self).await?;
                            }
                            sqlx::query("DELETE FROM documents WHERE id = $1")
                                .bind(*other)
                                .execute(&mut *self)
                                .await?;
                        }
                        if let Some(title) = &claims.title {
                            then.push(
                                "UPDATE documents SET title = $1, updated = $2 WHERE id = $3",
                                vec![title.as_str().into(), now.into(), (*first).into()],
                            );
                        }
                        *first
                    }
                };
                for uri in &claims.uris {
                    then.push(
                        INSERT_CLAIM,
                        vec![
                            document_id.into(),
                            claims.claimant.as_str().into(),
                            claims.claimant_normalized.as_str().into(),
                            uri.uri.as_str().into(),
                            uri.uri_normalized.as_str().into(),
                            uri.r#type.as_str().into(),
                            uri.content_type.as_str().into(),
                            now.into(),
                        ],
                    );
                }
                Ok(document_id)
            }
        }
    };
}
impl_document_tx!(sqlx::SqliteConnection);
impl_document_tx!(sqlx::PgConnection);

impl Db {
    /// h's `expand_uri(normalized=True)` (spec §4.7): every normalised URI of the document that
    /// `raw` (normalised as `normalized`) belongs to, or just `normalized` when there is no such
    /// document or when `raw` is that document's rel-canonical link.
    pub async fn expand_uri(
        &self,
        raw: &str,
        normalized: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        db_run!(self, |p| p
            .acquire()
            .await?
            .expand_uri(raw, normalized)
            .await)
    }

    /// A document's title, if it has one.
    pub async fn document_title(&self, document_id: i64) -> Result<Option<String>, sqlx::Error> {
        let title: Option<Option<String>> = db_run!(self, |p| {
            sqlx::query_scalar("SELECT title FROM documents WHERE id = $1")
                .bind(document_id)
                .fetch_optional(p)
                .await?
        });
        Ok(title.flatten())
    }
}
