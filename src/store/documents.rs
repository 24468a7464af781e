//! Documents and their URIs: the claims an annotation's page makes about itself (canonical link,
//! DOI, PDF fingerprint, ...), recorded so that URI expansion can find every annotation on the
//! same document (`h/models/document/_document.py`, `h/storage.py` `expand_uri`).

use sqlx::AssertSqlSafe;

use super::exec::{Exec, HeldConnection};
use super::steps::{Arg, Steps};
use super::tx::WriteTx;
use super::{Db, placeholders, routing};
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

/// Records one claim (a no-op when the same claimant already made it). The conflict has no
/// target because the engines enforce that uniqueness differently: SQLite on the columns,
/// PostgreSQL on their hashes (migrations/postgres/0004_long_uris.sql); `id` never conflicts.
const INSERT_CLAIM: &str = "INSERT INTO document_uris (document_id, claimant, claimant_normalized, uri, \
     uri_normalized, type, content_type, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT DO NOTHING";

/// Finds or creates the document the claims describe, inside the caller's write transaction,
/// merging documents the claims show to be one, and returns the document id. The claims
/// themselves are added to `then`, to be recorded with the rest of the write.
pub(crate) async fn record_document(
    tx: &mut WriteTx<'_>,
    claims: &DocumentClaims,
    then: &mut Steps,
) -> Result<i64, sqlx::Error> {
    let now = now_micros();
    let mut keys: Vec<&str> = vec![claims.claimant_normalized.as_str()];
    keys.extend(claims.uris.iter().map(|u| u.uri_normalized.as_str()));
    keys.sort_unstable();
    keys.dedup();
    let sql = format!(
        "SELECT DISTINCT document_id FROM document_uris WHERE uri_normalized IN ({}) \
         ORDER BY document_id",
        placeholders(1, keys.len())
    );
    let keys: Vec<Arg> = keys.into_iter().map(Arg::from).collect();
    let found: Vec<(i64,)> = tx.fetch_all(AssertSqlSafe(sql), &keys).await?;
    let document_id = match found.split_first() {
        None => {
            let (id,) = tx
                .fetch_one(
                    "INSERT INTO documents (title, created, updated) VALUES ($1, $2, $2) \
                     RETURNING id",
                    &[claims.title.clone().into(), now.into()],
                )
                .await?;
            id
        }
        Some(((first,), rest)) => {
            // The claims join several documents: fold the others into the oldest, as h's
            // `merge_documents` does.
            for (other,) in rest {
                for sql in [
                    "UPDATE document_uris SET document_id = $1 WHERE document_id = $2",
                    "UPDATE annotations SET document_id = $1 WHERE document_id = $2",
                    "UPDATE checkpoints SET document_id = $1 WHERE document_id = $2",
                ] {
                    tx.execute(sql, &[(*first).into(), (*other).into()]).await?;
                }
                tx.execute("DELETE FROM documents WHERE id = $1", &[(*other).into()])
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

impl Db {
    /// h's `expand_uri(normalized=True)` (spec §4.7): every normalised URI of the document that
    /// `raw` (normalised as `normalized`) belongs to, or just `normalized` when there is no such
    /// document or when `raw` is that document's rel-canonical link.
    pub async fn expand_uri(
        &self,
        raw: &str,
        normalized: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut conn = HeldConnection::take(self).await?;
        routing::expand_uri(&mut conn, raw, normalized).await
    }

    /// A document's title, if it has one.
    pub async fn document_title(&self, document_id: i64) -> Result<Option<String>, sqlx::Error> {
        let title: Option<(Option<String>,)> = self
            .fetch_optional(
                "SELECT title FROM documents WHERE id = $1",
                &[document_id.into()],
            )
            .await?;
        Ok(title.and_then(|(t,)| t))
    }
}
