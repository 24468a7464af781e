//! Annotation creates and updates. Each stores the annotation, its document claims, its thread
//! and tag index rows and its full-text row, and appends one change-log row, in one
//! transaction: it commits whole or leaves nothing behind. Several writes may share one
//! transaction ([`super::HeldConnection::write_annotations`], used by the group-commit
//! [`super::writer`]).

use sqlx::{Column, Row};

use super::Engine;
use super::changelog::{APPEND_CHANGE, Change, ChangeAction};
use super::documents::{DocumentClaims, record_document};
use super::exec::Exec;
use super::routing::{
    ACTIVE_CHECKPOINT, DOCUMENT_URIS, RoutingFacts, active_checkpoint, checkpoint_scope,
    document_expansion, expand_uri,
};
use super::search_index::MARK_STALE;
use super::steps::Steps;
use super::tx::WriteTx;
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

const INSERT: &str = "INSERT INTO annotations (created, updated, userid, groupid, target_uri, \
     target_uri_normalized, text, quote, tags, shared, refs, thread_root, target_selectors, \
     target_description, document_id, extra, metadata, moderation_status, version, deleted, id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)";
const UPDATE: &str = "UPDATE annotations SET created = $1, updated = $2, userid = $3, groupid = $4, \
     target_uri = $5, target_uri_normalized = $6, text = $7, quote = $8, tags = $9, \
     shared = $10, refs = $11, thread_root = $12, target_selectors = $13, \
     target_description = $14, document_id = $15, extra = $16, metadata = $17, \
     moderation_status = $18, version = $19, deleted = $20 WHERE id = $21";

/// The statements of one write after its document is resolved, in order. Rows come back from
/// the change-log append (`seq`) and, for a create, the routing reads.
fn write_steps(
    w: &AnnotationWrite,
    a: &Annotation,
    engine: Engine,
    created: i64,
    claims_recorded: bool,
    steps: &mut Steps,
) {
    let creating = w.action == ChangeAction::Create;
    let quote = quote_of(a);
    steps.push(
        if creating { INSERT } else { UPDATE },
        vec![
            a.created.into(),
            a.updated.into(),
            a.userid.as_str().into(),
            a.groupid.as_str().into(),
            a.target_uri.as_str().into(),
            a.target_uri_normalized.as_str().into(),
            a.text.as_str().into(),
            quote.as_str().into(),
            json(&a.tags).into(),
            a.shared.into(),
            json(&a.references).into(),
            a.references.first().cloned().into(),
            json(&a.target_selectors).into(),
            a.target_description.clone().into(),
            a.document_id.into(),
            json(&a.extra).into(),
            a.metadata.as_ref().map(json).into(),
            a.moderation_status.map(|s| s.as_str().to_owned()).into(),
            a.version.into(),
            a.deleted.into(),
            a.id.as_str().into(),
        ],
    );
    // A new annotation has no old rows to clear (and SQLite's FTS5 table can only find one by
    // scanning).
    if !creating {
        steps.push(
            "DELETE FROM annotation_refs WHERE annotation_id = $1",
            vec![a.id.as_str().into()],
        );
        steps.push(
            "DELETE FROM annotation_tags WHERE annotation_id = $1",
            vec![a.id.as_str().into()],
        );
    }
    for r in &a.references {
        steps.push(
            "INSERT INTO annotation_refs (annotation_id, ref_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            vec![a.id.as_str().into(), r.as_str().into()],
        );
    }
    for t in &a.tags {
        steps.push(
            "INSERT INTO annotation_tags (annotation_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            vec![a.id.as_str().into(), t.to_lowercase().into()],
        );
    }
    if engine == Engine::Sqlite {
        // PostgreSQL indexes the columns themselves; on SQLite the FTS5 row follows the commit
        // (`search_index.rs`).
        steps.push(MARK_STALE, vec![a.id.as_str().into()]);
    }
    steps.push(
        APPEND_CHANGE,
        vec![
            w.action.as_str().into(),
            a.id.as_str().into(),
            a.userid.as_str().into(),
            a.groupid.as_str().into(),
            w.src_client_id.clone().into(),
            created.into(),
        ],
    );
    // What a create's response and event need, read while the pages are warm. Claims recorded
    // just now make `document_id` the only document claiming the annotation's URI.
    if let (true, Some(doc)) = (creating && claims_recorded, a.document_id) {
        steps.push(DOCUMENT_URIS, vec![doc.into()]);
        steps.push(
            ACTIVE_CHECKPOINT,
            vec![a.groupid.as_str().into(), doc.into(), now_micros().into()],
        );
        if w.document.as_ref().is_some_and(|c| c.title.is_none()) {
            steps.push(
                "SELECT title AS document_title FROM documents WHERE id = $1",
                vec![doc.into()],
            );
        }
    }
}

/// A row of [`write_steps`], told apart by its first column's name.
enum StepRow {
    Seq(i64),
    Claim(String, String, String),
    Checkpoint,
    Title(Option<String>),
    Other,
}

impl<'r, R: Row> sqlx::FromRow<'r, R> for StepRow
where
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<StepRow, sqlx::Error> {
        let Some(first) = row.columns().first() else {
            return Ok(StepRow::Other);
        };
        Ok(match first.name() {
            "seq" => StepRow::Seq(row.try_get(0)?),
            "claim_type" => StepRow::Claim(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?),
            "checkpoint_id" => StepRow::Checkpoint,
            "document_title" => StepRow::Title(row.try_get(0)?),
            _ => StepRow::Other,
        })
    }
}

/// What the rows of [`write_steps`] say.
#[derive(Default)]
struct StepRows {
    seq: Option<i64>,
    claims: Vec<(String, String, String)>,
    checkpoint: bool,
    title: Option<String>,
}

impl StepRows {
    fn of(rows: Vec<StepRow>) -> StepRows {
        let mut got = StepRows::default();
        for row in rows {
            match row {
                StepRow::Seq(seq) => got.seq = Some(seq),
                StepRow::Claim(t, uri, n) => got.claims.push((t, uri, n)),
                StepRow::Checkpoint => got.checkpoint = true,
                StepRow::Title(title) => got.title = title,
                StepRow::Other => {}
            }
        }
        got
    }
}

/// One annotation write inside `tx`; `last` when no other write follows it in the
/// transaction, so that on SQLite its statements commit in the same query
/// ([`WriteTx::run_final_steps`]).
pub(super) async fn put_annotation(
    tx: &mut WriteTx<'_>,
    w: &AnnotationWrite,
    last: bool,
) -> Result<Written, sqlx::Error> {
    let mut a = w.annotation.clone();
    let mut steps = Steps::default();
    if let Some(claims) = &w.document {
        a.document_id = Some(record_document(tx, claims, &mut steps).await?);
    }
    let created = now_micros();
    let claims_recorded = w.document.is_some();
    write_steps(w, &a, tx.engine(), created, claims_recorded, &mut steps);
    // The reads some creates still make after this run come after the commit when this write
    // is the last (on SQLite). They are what the router would otherwise read after it, and
    // nothing of ours writes in between (this connection is the only writer); if they fail,
    // the write stands and the router reads them itself.
    let rows = if last {
        tx.run_final_steps(&steps).await?
    } else {
        tx.run_steps(&steps).await?
    };
    let got = StepRows::of(rows);
    let seq = got.seq.ok_or(sqlx::Error::RowNotFound)?;
    let (routing, document_title) = match routing_facts(tx, w, &a, claims_recorded, got).await {
        Ok(facts) => facts,
        // Committed already: the write stands, and without the facts the router reads them
        // itself, as it does for an update.
        Err(e) if tx.committed() => {
            tracing::debug!(error = %e, "routing reads after a commit failed");
            (None, None)
        }
        Err(e) => return Err(e),
    };
    let change = Change {
        seq,
        action: w.action,
        annotation_id: Some(a.id.clone()),
        userid: Some(a.userid.clone()),
        groupid: Some(a.groupid.clone()),
        src_client_id: w.src_client_id.clone(),
        created,
    };
    Ok(Written {
        annotation: a,
        document_title,
        change,
        routing,
    })
}

/// A create's routing facts and document title, from the rows its steps returned and, where
/// those do not say, from reads of its own.
async fn routing_facts(
    tx: &mut WriteTx<'_>,
    w: &AnnotationWrite,
    a: &Annotation,
    claims_recorded: bool,
    got: StepRows,
) -> Result<(Option<RoutingFacts>, Option<String>), sqlx::Error> {
    let creating = w.action == ChangeAction::Create;
    Ok(match (creating, claims_recorded, a.document_id) {
        (false, _, _) => (None, None),
        (true, true, Some(_)) => {
            let checkpoint = if got.checkpoint {
                Some(checkpoint_scope(tx, &a.groupid).await?)
            } else {
                None
            };
            let uris = document_expansion(got.claims, &a.target_uri, &a.target_uri_normalized);
            let title = w
                .document
                .as_ref()
                .and_then(|c| c.title.clone())
                .or(got.title);
            (Some(RoutingFacts { uris, checkpoint }), title)
        }
        // A create without claims: no document but the URI's own to look at.
        (true, _, _) => {
            let uris = expand_uri(tx, &a.target_uri, &a.target_uri_normalized).await?;
            let checkpoint = match a.document_id {
                Some(doc) => active_checkpoint(tx, &a.groupid, doc).await?,
                None => None,
            };
            (Some(RoutingFacts { uris, checkpoint }), None)
        }
    })
}
