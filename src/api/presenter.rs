//! Renders annotations for the caller, with what rendering needs from other rows gathered by
//! [`RelatedReads`] (shared across a page of results).

use serde_json::Value;

use super::error::ApiResult;
use crate::app::AppState;
use crate::domain::{Annotation, Identity, authz};
use crate::render::{RelatedReads, ViewerFacts, render};

/// Renders a list of annotations for one viewer, in order.
pub async fn present_many(
    state: &AppState,
    anns: &[Annotation],
    viewer: Option<&Identity>,
) -> ApiResult<Vec<Value>> {
    let db = state.db();
    let mut reads = RelatedReads::new(db);
    reads.read_authors(anns).await?;
    let flagged: Vec<String> = match viewer {
        Some(v) => {
            let ids: Vec<&str> = anns.iter().map(|a| a.id.as_str()).collect();
            db.flagged_by(&ids, v.user.id).await?
        }
        None => vec![],
    };

    let mut out = Vec::with_capacity(anns.len());
    for ann in anns {
        let group = reads.group(&ann.groupid).await?;
        let can_moderate = authz::can_moderate(ann, group.as_ref(), viewer);
        let flag_count = if can_moderate {
            db.flag_count(&ann.id).await?
        } else {
            0
        };
        let facts = ViewerFacts {
            is_author: viewer.is_some_and(|v| v.userid == ann.userid),
            can_moderate,
            flagged: flagged.contains(&ann.id),
        };
        let related = reads.related(ann, flag_count).await?;
        out.push(render(state.site(), ann, &related, facts));
    }
    Ok(out)
}

/// Renders one annotation for one viewer.
pub async fn present(
    state: &AppState,
    ann: &Annotation,
    viewer: Option<&Identity>,
) -> ApiResult<Value> {
    let mut v = present_many(state, std::slice::from_ref(ann), viewer).await?;
    Ok(v.pop().unwrap_or(Value::Null))
}
