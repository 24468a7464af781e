//! The stored annotation and its moderation status.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// h's `ModerationStatus` (`h/models/annotation.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModerationStatus {
    Approved,
    Pending,
    Denied,
    Spam,
}

impl ModerationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ModerationStatus::Approved => "APPROVED",
            ModerationStatus::Pending => "PENDING",
            ModerationStatus::Denied => "DENIED",
            ModerationStatus::Spam => "SPAM",
        }
    }

    /// PENDING, DENIED and SPAM annotations are "hidden" from ordinary readers.
    pub fn is_hidden(self) -> bool {
        !matches!(self, ModerationStatus::Approved)
    }
}

impl fmt::Display for ModerationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModerationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "APPROVED" => Ok(ModerationStatus::Approved),
            "PENDING" => Ok(ModerationStatus::Pending),
            "DENIED" => Ok(ModerationStatus::Denied),
            "SPAM" => Ok(ModerationStatus::Spam),
            other => Err(format!("unknown moderation status {other:?}")),
        }
    }
}

/// An annotation as stored (including soft-deleted ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: String,
    pub created: i64,
    pub updated: i64,
    pub userid: String,
    /// The group's pubid.
    pub groupid: String,
    pub target_uri: String,
    pub target_uri_normalized: String,
    pub text: String,
    pub tags: Vec<String>,
    pub shared: bool,
    /// Ancestor ids, thread root first.
    pub references: Vec<String>,
    pub target_selectors: Vec<Value>,
    pub target_description: Option<String>,
    pub document_id: Option<i64>,
    pub extra: Map<String, Value>,
    pub metadata: Option<Value>,
    pub moderation_status: Option<ModerationStatus>,
    pub version: Option<i64>,
    pub deleted: bool,
}

impl Annotation {
    /// Hidden by moderation (PENDING, DENIED or SPAM).
    pub fn is_hidden(&self) -> bool {
        self.moderation_status
            .is_some_and(ModerationStatus::is_hidden)
    }

    /// The id of the thread root, or this annotation's own id if it is top-level.
    pub fn thread_root(&self) -> &str {
        self.references
            .first()
            .map_or(self.id.as_str(), String::as_str)
    }
}
