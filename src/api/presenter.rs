//! Gathers what the renderer needs from other rows (author, group, document, flags) and renders
//! annotations for the caller. Lookups are shared across a page of results.

use std::collections::HashMap;

use serde_json::Value;

use super::error::ApiResult;
use crate::app::AppState;
use crate::domain::{Annotation, Group, Identity, authz};
use crate::render::{Related, ViewerFacts, render};

/// Renders a list of annotations for one viewer, in order.
pub async fn present_many(
    state: &AppState,
    anns: &[Annotation],
    viewer: Option<&Identity>,
) -> ApiResult<Vec<Value>> {
    let db = state.db();
    let mut groups: HashMap<String, Option<Group>> = HashMap::new();
    let mut titles: HashMap<i64, Option<String>> = HashMap::new();
    let userids: Vec<&str> = anns.iter().map(|a| a.userid.as_str()).collect();
    let names = db.display_names(&userids).await?;
    let flagged: Vec<String> = match viewer {
        Some(v) => {
            let ids: Vec<&str> = anns.iter().map(|a| a.id.as_str()).collect();
            db.flagged_by(&ids, v.user.id).await?
        }
        None => vec![],
    };

    let mut out = Vec::with_capacity(anns.len());
    for ann in anns {
        let group = match groups.get(&ann.groupid) {
            Some(g) => g.clone(),
            None => {
                let g = db.group_by_pubid(&ann.groupid).await?;
                groups.insert(ann.groupid.clone(), g.clone());
                g
            }
        };
        let title = match ann.document_id {
            Some(id) => match titles.get(&id) {
                Some(t) => t.clone(),
                None => {
                    let t = db.document_title(id).await?;
                    titles.insert(id, t.clone());
                    t
                }
            },
            None => None,
        };
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
        let related = Related {
            author_display_name: names.get(&ann.userid).cloned(),
            document_title: title,
            group,
            flag_count,
        };
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
