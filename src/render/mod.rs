//! The annotation JSON, rendered for one viewer (spec §3.3; h's
//! `h/services/annotation_json.py`). The HTTP API and the Real Time API both call [`render`], so
//! what a socket receives is exactly what `GET /api/annotations/{id}` answers that viewer.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::group::WORLD;
use crate::domain::time::format_micros;
use crate::domain::{Annotation, Group, UserId, authz};

pub mod related;
pub mod session;

pub use related::RelatedReads;

/// Server-wide facts the renderer needs.
#[derive(Clone, Debug)]
pub struct Site {
    /// Public base URL, no trailing slash.
    pub public_url: String,
    /// The default authority; annotations of other authorities get no `links.html`.
    pub authority: String,
}

/// Facts about the annotation that come from other rows (gathered by [`RelatedReads`], or
/// known already to the write that made the annotation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Related {
    /// `None` if the author's user row does not exist (then `user_info` is left out).
    pub author: Option<Author>,
    pub document_title: Option<String>,
    /// The annotation's group, if it still exists.
    pub group: Option<Group>,
    /// Number of flags; shown only to moderators.
    pub flag_count: i64,
}

/// What the renderer shows of an annotation's author besides the userid (`user_info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Author {
    pub display_name: Option<String>,
}

/// What depends on who is looking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ViewerFacts {
    pub is_author: bool,
    pub can_moderate: bool,
    pub flagged: bool,
}

/// The JSON for one annotation as one viewer sees it, as a `Value` (the HTTP API's lists).
pub fn render(site: &Site, ann: &Annotation, rel: &Related, viewer: ViewerFacts) -> Value {
    serde_json::to_value(Rendered::new(site, ann, rel, viewer)).unwrap_or(Value::Null)
}

/// Keys the renderer writes itself; the same keys among the client's unknown fields
/// (`Annotation::extra`) are left out so they can never shadow or duplicate them.
const STANDARD_KEYS: [&str; 20] = [
    "id",
    "created",
    "updated",
    "user",
    "uri",
    "text",
    "tags",
    "group",
    "moderation_status",
    "permissions",
    "target",
    "document",
    "links",
    "actions",
    "mentions",
    "user_info",
    "references",
    "flagged",
    "moderation",
    "hidden",
];

/// One annotation as one viewer sees it, serialised straight to JSON text without building a
/// `Value` tree: the Real Time API renders every event this way, once per viewer class.
pub struct Rendered<'a> {
    site: &'a Site,
    ann: &'a Annotation,
    rel: &'a Related,
    viewer: ViewerFacts,
}

impl<'a> Rendered<'a> {
    pub fn new(site: &'a Site, ann: &'a Annotation, rel: &'a Related, viewer: ViewerFacts) -> Self {
        Rendered {
            site,
            ann,
            rel,
            viewer,
        }
    }
}

impl Serialize for Rendered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (ann, rel, viewer) = (self.ann, self.rel, self.viewer);
        let mut m = serializer.serialize_map(None)?;
        // Unknown keys the client sent come first.
        for (k, v) in &ann.extra {
            if !STANDARD_KEYS.contains(&k.as_str()) {
                m.serialize_entry(k, v)?;
            }
        }
        let hidden = ann.is_hidden() && !viewer.is_author;
        let redacted = hidden && !viewer.can_moderate;
        m.serialize_entry("id", &ann.id)?;
        m.serialize_entry("created", &format_micros(ann.created))?;
        m.serialize_entry("updated", &format_micros(ann.updated))?;
        m.serialize_entry("user", &ann.userid)?;
        m.serialize_entry("uri", &ann.target_uri)?;
        m.serialize_entry("text", if redacted { "" } else { &ann.text })?;
        m.serialize_entry("tags", if redacted { &[][..] } else { &ann.tags[..] })?;
        m.serialize_entry("group", &ann.groupid)?;
        let moderation_status = match (ann.moderation_status, ann.shared) {
            (Some(s), _) => Some(s.as_str()),
            (None, true) => Some("APPROVED"),
            (None, false) => None,
        };
        m.serialize_entry("moderation_status", &moderation_status)?;
        let author = [&ann.userid];
        m.serialize_entry(
            "permissions",
            &Permissions {
                read: [read_principal(ann, rel.group.as_ref())],
                admin: author,
                update: author,
                delete: author,
            },
        )?;
        m.serialize_entry(
            "target",
            &[Target {
                source: &ann.target_uri,
                description: ann.target_description.as_deref(),
                selector: (!ann.target_selectors.is_empty()).then_some(&ann.target_selectors[..]),
            }],
        )?;
        m.serialize_entry(
            "document",
            &Document {
                title: rel.document_title.as_ref().map(|t| [t]),
            },
        )?;
        m.serialize_entry("links", &links(self.site, ann))?;
        let actions: &[&str] = if viewer.can_moderate {
            &["moderate"]
        } else {
            &[]
        };
        m.serialize_entry("actions", actions)?;
        m.serialize_entry("mentions", &[] as &[Value])?;
        if let Some(author) = &rel.author {
            m.serialize_entry("user_info", author)?;
        }
        if !ann.references.is_empty() {
            m.serialize_entry("references", &ann.references)?;
        }
        m.serialize_entry("flagged", &viewer.flagged)?;
        if viewer.can_moderate {
            m.serialize_entry(
                "moderation",
                &Moderation {
                    flag_count: rel.flag_count,
                },
            )?;
        }
        m.serialize_entry("hidden", &hidden)?;
        m.end()
    }
}

#[derive(Serialize)]
struct Permissions<'a> {
    read: [String; 1],
    admin: [&'a String; 1],
    update: [&'a String; 1],
    delete: [&'a String; 1],
}

#[derive(Serialize)]
struct Target<'a> {
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<&'a [Value]>,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<[&'a String; 1]>,
}

#[derive(Serialize)]
struct Moderation {
    #[serde(rename = "flagCount")]
    flag_count: i64,
}

#[derive(Serialize)]
struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<String>,
    json: String,
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

fn links(site: &Site, ann: &Annotation) -> Links {
    let base = &site.public_url;
    let first_party = UserId::parse(&ann.userid).is_some_and(|u| u.authority == site.authority);
    Links {
        html: first_party.then(|| format!("{base}/a/{}", ann.id)),
        json: format!("{base}/api/annotations/{}", ann.id),
    }
}

#[cfg(test)]
mod tests;
