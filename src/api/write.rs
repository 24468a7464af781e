//! Turning a validated create or update body into the annotation to store: group checks,
//! reply threading, sharing and moderation status, document claims (h's
//! `h/services/annotation_write.py`, `h/views/api/annotations.py`).

use super::error::{ApiError, ApiResult};
use crate::app::AppState;
use crate::domain::time::now_micros;
use crate::domain::{Annotation, AnnotationId, Group, Identity, ModerationStatus, authz};
use crate::input::{self, CreateAnnotation, DocumentInput, UpdateAnnotation};
use crate::store::{DocumentClaims, DocumentUri};
use crate::uri;

/// An annotation ready to store, with the document claims to record alongside it.
pub struct Prepared {
    pub annotation: Annotation,
    pub claims: Option<DocumentClaims>,
    /// The annotation's group, as checked for writing.
    pub group: Group,
}

fn bad(reason: impl Into<String>) -> ApiError {
    ApiError::BadRequest(reason.into())
}

fn normalize(field: &str, raw: &str) -> ApiResult<String> {
    uri::normalize(raw).map_err(|e| bad(format!("{field}: {e}")))
}

/// The group an annotation is written to, if it exists and the caller may write to it.
async fn writable_group(state: &AppState, who: &Identity, pubid: &str) -> ApiResult<Group> {
    let group = state
        .group_by_pubid(pubid)
        .await?
        .ok_or_else(|| bad(format!("group: Invalid group id {pubid}")))?;
    if !authz::can_write_group(&group, Some(who)) {
        return Err(bad(
            "group: You may not create annotations in the specified group!",
        ));
    }
    Ok(group)
}

/// Normalises every claimed URI; a claim h could not normalise is refused with its URI named.
fn claims_for(claimant: &str, doc: &DocumentInput) -> ApiResult<DocumentClaims> {
    let mut uris = Vec::with_capacity(doc.uris.len());
    for c in &doc.uris {
        uris.push(DocumentUri {
            uri_normalized: normalize("document", &c.uri)?,
            uri: c.uri.clone(),
            r#type: c.r#type.clone(),
            content_type: c.content_type.clone(),
        });
    }
    Ok(DocumentClaims {
        claimant: claimant.to_owned(),
        claimant_normalized: normalize("uri", claimant)?,
        title: doc.title.clone(),
        uris,
    })
}

fn target_parts(t: Option<input::TargetInput>) -> (Vec<serde_json::Value>, Option<String>) {
    t.map_or((vec![], None), |t| (t.selectors, t.description))
}

/// `POST /api/annotations`.
pub async fn prepare_create(
    state: &AppState,
    who: &Identity,
    data: CreateAnnotation,
) -> ApiResult<Prepared> {
    let shared = data.shared();
    let mut version = data.document.as_ref().and_then(|d| d.version);
    let version_given = data.document.as_ref().is_some_and(|d| d.version_given);

    // A reply belongs to its thread root's group, whatever group the client sent.
    let groupid = match data.references.first() {
        Some(root_id) => {
            let root = match AnnotationId::parse(root_id) {
                Some(id) => state.db().annotation(id.as_str()).await?,
                None => None,
            };
            let root = root
                .filter(|r| !r.deleted)
                .ok_or_else(|| bad(format!("references.0: Annotation {root_id} does not exist")))?;
            if !version_given {
                version = root.version;
            }
            root.groupid
        }
        None => data.group.clone(),
    };
    let group = writable_group(state, who, &groupid).await?;

    let moderation_status = shared.then_some({
        if group.pre_moderated {
            ModerationStatus::Pending
        } else {
            ModerationStatus::Approved
        }
    });
    let claims = match &data.document {
        Some(doc) => Some(claims_for(&data.uri, doc)?),
        None => None,
    };
    let (target_selectors, target_description) = target_parts(data.target);
    let now = now_micros();
    let annotation = Annotation {
        id: AnnotationId::generate().to_string(),
        created: now,
        updated: now,
        userid: who.userid.clone(),
        groupid: group.pubid.clone(),
        target_uri_normalized: normalize("uri", &data.uri)?,
        target_uri: data.uri,
        text: data.text,
        tags: data.tags,
        shared,
        references: data.references,
        target_selectors,
        target_description,
        document_id: None,
        extra: data.extra,
        metadata: data.metadata,
        moderation_status,
        version,
        deleted: false,
    };
    Ok(Prepared {
        annotation,
        claims,
        group,
    })
}

/// The moderation status after an edit of a shared annotation (spec §8.6): none becomes
/// APPROVED; in a pre-moderated group APPROVED goes back to PENDING; DENIED always does.
pub fn status_after_edit(
    current: Option<ModerationStatus>,
    shared: bool,
    pre_moderated: bool,
) -> Option<ModerationStatus> {
    if !shared {
        return current;
    }
    let status = current.unwrap_or(ModerationStatus::Approved);
    Some(match status {
        ModerationStatus::Approved if pre_moderated => ModerationStatus::Pending,
        ModerationStatus::Denied => ModerationStatus::Pending,
        other => other,
    })
}

/// `PATCH /api/annotations/{id}`: applies the given fields to the stored annotation.
pub async fn prepare_update(
    state: &AppState,
    who: &Identity,
    mut ann: Annotation,
    data: UpdateAnnotation,
) -> ApiResult<Prepared> {
    let claims = match data.document_for(&ann.target_uri) {
        Some(doc) => {
            if doc.version_given {
                ann.version = doc.version;
            }
            let claimant = data.uri.as_deref().unwrap_or(&ann.target_uri);
            Some(claims_for(claimant, &doc)?)
        }
        None => None,
    };
    if let Some(uri) = data.uri {
        ann.target_uri_normalized = normalize("uri", &uri)?;
        ann.target_uri = uri;
    }
    if let Some(text) = data.text {
        ann.text = text;
    }
    if let Some(tags) = data.tags {
        ann.tags = tags;
    }
    if let Some(perms) = &data.permissions {
        ann.shared = input::is_shared(Some(perms), &ann.groupid);
    }
    if let Some(target) = data.target {
        ann.target_selectors = target.selectors;
        ann.target_description = target.description;
    }
    if data.metadata.is_some() {
        ann.metadata = data.metadata;
    }
    ann.extra.extend(data.extra);
    ann.updated = now_micros();

    let group = writable_group(state, who, &ann.groupid).await?;
    ann.moderation_status =
        status_after_edit(ann.moderation_status, ann.shared, group.pre_moderated);
    Ok(Prepared {
        annotation: ann,
        claims,
        group,
    })
}

#[cfg(test)]
mod tests {
    use super::status_after_edit;
    use crate::domain::ModerationStatus::*;

    #[test]
    fn sharing_follows_h_moderation_transitions() {
        // spec §9 item 77: (pre-moderated, previous status) -> status after sharing.
        assert_eq!(status_after_edit(None, true, false), Some(Approved));
        assert_eq!(status_after_edit(None, true, true), Some(Pending));
        assert_eq!(status_after_edit(Some(Denied), true, true), Some(Pending));
        assert_eq!(status_after_edit(Some(Pending), true, true), Some(Pending));
        assert_eq!(status_after_edit(Some(Spam), true, true), Some(Spam));
        assert_eq!(
            status_after_edit(Some(Approved), true, false),
            Some(Approved)
        );
        // item 78: making it private keeps the status.
        assert_eq!(
            status_after_edit(Some(Approved), false, false),
            Some(Approved)
        );
        assert_eq!(status_after_edit(None, false, true), None);
    }
}
