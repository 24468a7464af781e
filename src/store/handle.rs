//! [`Store`]: the database handle together with the reads it can make without the pool.

use super::{Db, DirectReads};
use crate::domain::{Group, Identity};

/// A [`Db`] and, on a SQLite file, its direct reads ([`super::direct`]). The lookups every
/// request makes try the direct read first and fall back to the pool by themselves, so callers
/// only ever call the store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    /// Point reads on SQLite without a worker round trip; `None` on PostgreSQL.
    direct: Option<std::sync::Arc<DirectReads>>,
}

impl Store {
    pub fn new(db: Db) -> Store {
        let direct = DirectReads::for_db(&db).map(std::sync::Arc::new);
        Store { db, direct }
    }

    /// The database, for everything else.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// [`Db::identity_for_token`], read directly where it can be.
    pub async fn identity_for_token(&self, token: &str) -> Result<Option<Identity>, sqlx::Error> {
        if let Some(found) = self
            .direct
            .as_ref()
            .and_then(|d| d.identity_for_token(token))
        {
            return Ok(found);
        }
        self.db.identity_for_token(token).await
    }

    /// [`Db::group_by_pubid`], read directly where it can be.
    pub async fn group_by_pubid(&self, pubid: &str) -> Result<Option<Group>, sqlx::Error> {
        if let Some(found) = self.direct.as_ref().and_then(|d| d.group_by_pubid(pubid)) {
            return Ok(found);
        }
        self.db.group_by_pubid(pubid).await
    }
}
