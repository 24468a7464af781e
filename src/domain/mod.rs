//! Pure domain types: identifiers, users, groups, annotations, and the permission rules that
//! decide who may read, write and moderate what. Nothing here touches the database or HTTP.

pub mod annotation;
pub mod authz;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod group;
pub mod ids;
pub mod time;
pub mod user;
pub mod webhook;

pub use annotation::{Annotation, ModerationStatus};
pub use group::{Group, GroupType, Role};
pub use ids::{AnnotationId, UserId};
pub use user::{Identity, User};
