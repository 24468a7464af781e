//! The annotation JSON, rendered for one viewer (spec §3.3; h's
//! `h/services/annotation_json.py`). The HTTP API and the Real Time API both call [`render`], so
//! what a socket receives is exactly what `GET /api/annotations/{id}` answers that viewer.

use serde_json::{Map, Value, json};

use crate::domain::group::WORLD;
use crate::domain::time::format_micros;
use crate::domain::{Annotation, Group, UserId, authz};

/// Server-wide facts the renderer needs.
#[derive(Clone, Debug)]
pub struct Site {
    /// Public base URL, no trailing slash.
    pub public_url: String,
    /// The default authority; annotations of other authorities get no `links.html`.
    pub authority: String,
}

/// Facts about the annotation that come from other rows.
#[derive(Clone, Debug, Default)]
pub struct Related {
    /// `None` if the author's user row does not exist (then `user_info` is left out).
    pub author_display_name: Option<Option<String>>,
    pub document_title: Option<String>,
    /// The annotation's group, if it still exists.
    pub group: Option<Group>,
    /// Number of flags; shown only to moderators.
    pub flag_count: i64,
}

/// What depends on who is looking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ViewerFacts {
    pub is_author: bool,
    pub can_moderate: bool,
    pub flagged: bool,
}

/// The JSON for one annotation as one viewer sees it.
pub fn render(site: &Site, ann: &Annotation, rel: &Related, viewer: ViewerFacts) -> Value {
    // Unknown keys the client sent come first; every standard key below overwrites them.
    let mut out: Map<String, Value> = ann.extra.clone();

    let moderation_status = match (ann.moderation_status, ann.shared) {
        (Some(s), _) => Value::from(s.as_str()),
        (None, true) => Value::from("APPROVED"),
        (None, false) => Value::Null,
    };
    let hidden = ann.is_hidden() && !viewer.is_author;
    let (text, tags) = if hidden && !viewer.can_moderate {
        (String::new(), vec![])
    } else {
        (ann.text.clone(), ann.tags.clone())
    };

    out.insert("id".into(), Value::from(ann.id.as_str()));
    out.insert("created".into(), Value::from(format_micros(ann.created)));
    out.insert("updated".into(), Value::from(format_micros(ann.updated)));
    out.insert("user".into(), Value::from(ann.userid.as_str()));
    out.insert("uri".into(), Value::from(ann.target_uri.as_str()));
    out.insert("text".into(), Value::from(text));
    out.insert("tags".into(), json!(tags));
    out.insert("group".into(), Value::from(ann.groupid.as_str()));
    out.insert("moderation_status".into(), moderation_status);
    out.insert(
        "permissions".into(),
        json!({
            "read": [read_principal(ann, rel.group.as_ref())],
            "admin": [ann.userid],
            "update": [ann.userid],
            "delete": [ann.userid],
        }),
    );
    let mut target = Map::new();
    target.insert("source".into(), Value::from(ann.target_uri.as_str()));
    if let Some(d) = &ann.target_description {
        target.insert("description".into(), Value::from(d.as_str()));
    }
    if !ann.target_selectors.is_empty() {
        target.insert(
            "selector".into(),
            Value::Array(ann.target_selectors.clone()),
        );
    }
    out.insert("target".into(), Value::Array(vec![Value::Object(target)]));
    out.insert(
        "document".into(),
        match &rel.document_title {
            Some(t) => json!({ "title": [t] }),
            None => json!({}),
        },
    );
    out.insert("links".into(), links(site, ann));
    out.insert(
        "actions".into(),
        if viewer.can_moderate {
            json!(["moderate"])
        } else {
            json!([])
        },
    );
    out.insert("mentions".into(), json!([]));
    if let Some(name) = &rel.author_display_name {
        out.insert("user_info".into(), json!({ "display_name": name }));
    } else {
        out.remove("user_info");
    }
    if ann.references.is_empty() {
        out.remove("references");
    } else {
        out.insert("references".into(), json!(ann.references));
    }
    out.insert("flagged".into(), Value::from(viewer.flagged));
    if viewer.can_moderate {
        out.insert("moderation".into(), json!({ "flagCount": rel.flag_count }));
    } else {
        out.remove("moderation");
    }
    out.insert("hidden".into(), Value::from(hidden));
    Value::Object(out)
}

/// `permissions.read`: the author for private annotations; `group:__world__` for shared ones an
/// anonymous reader could see (h-quirk Q15, kept: clients re-send it); else `group:<pubid>`.
fn read_principal(ann: &Annotation, group: Option<&Group>) -> String {
    if !ann.shared {
        return ann.userid.clone();
    }
    let anonymous_can_read = authz::can_read(ann, group, None);
    if ann.groupid == WORLD || anonymous_can_read {
        format!("group:{WORLD}")
    } else {
        format!("group:{}", ann.groupid)
    }
}

fn links(site: &Site, ann: &Annotation) -> Value {
    let base = &site.public_url;
    let mut links = Map::new();
    let first_party = UserId::parse(&ann.userid).is_some_and(|u| u.authority == site.authority);
    if first_party {
        links.insert("html".into(), Value::from(format!("{base}/a/{}", ann.id)));
    }
    links.insert(
        "json".into(),
        Value::from(format!("{base}/api/annotations/{}", ann.id)),
    );
    Value::Object(links)
}

#[cfg(test)]
mod tests;
