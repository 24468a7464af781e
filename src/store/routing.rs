//! The two facts the router needs about an annotation's place besides the annotation itself: the
//! URI expansion its event is looked up under and any active Hide & Reveal checkpoint. Written
//! once over a connection, so the same SQL serves the router's reads through the pool and a
//! create's own write transaction, which answers both while the pages are still warm and spares
//! the router three reads per event.

use super::checkpoints::{CheckpointScope, INSTRUCTOR};
use super::exec::Exec;
use crate::domain::time::now_micros;

/// What a create's write transaction learned for routing its event.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoutingFacts {
    /// The annotation's URI expansion (as [`Db::expand_uri`](super::Db::expand_uri) gives it).
    pub uris: Vec<String>,
    pub checkpoint: Option<CheckpointScope>,
}

/// A document's claims, for its expansion. The column names are distinct from every other
/// statement's, so a multi-statement run can tell these rows apart ([`super::steps`]).
pub(crate) const DOCUMENT_URIS: &str = "SELECT type AS claim_type, uri AS claim_uri, \
     uri_normalized AS claim_uri_normalized FROM document_uris WHERE document_id = $1 ORDER BY id";
/// Whether an active checkpoint covers a group and document (its id, if so).
pub(crate) const ACTIVE_CHECKPOINT: &str = "SELECT c.id AS checkpoint_id FROM checkpoints c \
     JOIN groups g ON g.id = c.group_id WHERE g.pubid = $1 AND c.document_id = $2 \
     AND (c.reveal_date IS NULL OR c.reveal_date > $3) LIMIT 1";

/// h's rule once the document is known (`h/storage.py` `expand_uri`), given its claims as
/// (type, uri, normalised uri), for a `normalized` URI that `document_id` is the only document
/// to claim, if it claims it at all: unclaimed or a rel-canonical match stays as it is (every
/// annotation made on a canonical page targets it already); otherwise every URI it claims.
pub(crate) fn document_expansion(
    rows: Vec<(String, String, String)>,
    raw: &str,
    normalized: &str,
) -> Vec<String> {
    if !rows.iter().any(|(_, _, n)| n == normalized) {
        return vec![normalized.to_owned()];
    }
    expansion(rows, raw, normalized)
}

fn expansion(rows: Vec<(String, String, String)>, raw: &str, normalized: &str) -> Vec<String> {
    if rows
        .iter()
        .any(|(t, uri, _)| t == "rel-canonical" && uri == raw)
    {
        return vec![normalized.to_owned()];
    }
    rows.into_iter().map(|(_, _, n)| n).collect()
}

/// h's `expand_uri(normalized=True)` (spec §4.7), on one connection (pooled or inside a
/// transaction).
pub(crate) async fn expand_uri(
    conn: &mut impl Exec,
    raw: &str,
    normalized: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let doc: Option<(i64,)> = conn
        .fetch_optional(
            "SELECT document_id FROM document_uris WHERE uri_normalized = $1 \
             ORDER BY document_id LIMIT 1",
            &[normalized.into()],
        )
        .await?;
    match doc {
        Some((doc,)) => expand_in_document(conn, doc, raw, normalized).await,
        None => Ok(vec![normalized.to_owned()]),
    }
}

/// The expansion when the caller knows `document_id` is the only document claiming
/// `normalized` (it has just recorded that claim): one read instead of two.
async fn expand_in_document(
    conn: &mut impl Exec,
    document_id: i64,
    raw: &str,
    normalized: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = conn.fetch_all(DOCUMENT_URIS, &[document_id.into()]).await?;
    Ok(document_expansion(rows, raw, normalized))
}

/// The active checkpoint (reveal date unset or in the future) on this group and document.
pub(crate) async fn active_checkpoint(
    conn: &mut impl Exec,
    group_pubid: &str,
    document_id: i64,
) -> Result<Option<CheckpointScope>, sqlx::Error> {
    let args = [group_pubid.into(), document_id.into(), now_micros().into()];
    let active: Option<(i64,)> = conn.fetch_optional(ACTIVE_CHECKPOINT, &args).await?;
    if active.is_none() {
        return Ok(None);
    }
    checkpoint_scope(conn, group_pubid).await.map(Some)
}

/// What routing needs of a group known to have an active checkpoint.
pub(crate) async fn checkpoint_scope(
    conn: &mut impl Exec,
    group_pubid: &str,
) -> Result<CheckpointScope, sqlx::Error> {
    let instructors: Vec<(String,)> = conn
        .fetch_all(
            "SELECT u.userid FROM group_members m JOIN groups g ON g.id = m.group_id \
             JOIN users u ON u.id = m.user_id WHERE g.pubid = $1 AND m.lms_role = $2",
            &[group_pubid.into(), INSTRUCTOR.into()],
        )
        .await?;
    Ok(CheckpointScope {
        instructors: instructors.into_iter().map(|(u,)| u).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::expansion;

    fn row(t: &str, uri: &str, n: &str) -> (String, String, String) {
        (t.to_owned(), uri.to_owned(), n.to_owned())
    }

    #[test]
    fn every_claimed_uri_unless_the_match_is_rel_canonical() {
        let rows = vec![
            row("self-claim", "http://a/x", "httpx://a/x"),
            row("rel-canonical", "http://a/c", "httpx://a/c"),
        ];
        assert_eq!(
            expansion(rows.clone(), "http://a/x", "httpx://a/x"),
            vec!["httpx://a/x", "httpx://a/c"]
        );
        assert_eq!(
            expansion(rows, "http://a/c", "httpx://a/c"),
            vec!["httpx://a/c"]
        );
    }
}
