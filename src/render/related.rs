//! The one gatherer of what rendering needs besides the annotation itself ([`Related`]): the
//! author's display name, the group, the document's title. The HTTP API renders pages of
//! annotations with it and the hub each event it reads back; lookups are cached across the
//! annotations of one gatherer, so a page costs one query per distinct author set, group and
//! document, not one per annotation.

use std::collections::HashMap;

use super::{Author, Related};
use crate::domain::{Annotation, Group};
use crate::store::Db;

pub struct RelatedReads<'a> {
    db: &'a Db,
    /// By userid; `None` for a user who does not exist.
    authors: HashMap<String, Option<Author>>,
    groups: HashMap<String, Option<Group>>,
    titles: HashMap<i64, Option<String>>,
}

impl<'a> RelatedReads<'a> {
    pub fn new(db: &'a Db) -> RelatedReads<'a> {
        RelatedReads {
            db,
            authors: HashMap::new(),
            groups: HashMap::new(),
            titles: HashMap::new(),
        }
    }

    /// Reads the authors of `anns` in one query, ahead of [`RelatedReads::related`].
    pub async fn read_authors(&mut self, anns: &[Annotation]) -> Result<(), sqlx::Error> {
        let wanted: Vec<&str> = anns
            .iter()
            .map(|a| a.userid.as_str())
            .filter(|u| !self.authors.contains_key(*u))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let names = self.db.display_names(&wanted).await?;
        for userid in wanted {
            let author = names.get(userid).map(|n| Author {
                display_name: n.clone(),
            });
            self.authors.insert(userid.to_owned(), author);
        }
        Ok(())
    }

    /// A group by pubid, `None` if it no longer exists.
    pub async fn group(&mut self, pubid: &str) -> Result<Option<Group>, sqlx::Error> {
        if let Some(g) = self.groups.get(pubid) {
            return Ok(g.clone());
        }
        let g = self.db.group_by_pubid(pubid).await?;
        self.groups.insert(pubid.to_owned(), g.clone());
        Ok(g)
    }

    async fn title(&mut self, document_id: i64) -> Result<Option<String>, sqlx::Error> {
        if let Some(t) = self.titles.get(&document_id) {
            return Ok(t.clone());
        }
        let t = self.db.document_title(document_id).await?;
        self.titles.insert(document_id, t.clone());
        Ok(t)
    }

    /// What rendering `ann` needs, with `flag_count` as the caller counted it (it is shown to
    /// moderators only, and who may moderate is the caller's question).
    pub async fn related(
        &mut self,
        ann: &Annotation,
        flag_count: i64,
    ) -> Result<Related, sqlx::Error> {
        self.read_authors(std::slice::from_ref(ann)).await?;
        let author = self.authors.get(&ann.userid).cloned().flatten();
        let document_title = match ann.document_id {
            Some(d) => self.title(d).await?,
            None => None,
        };
        Ok(Related {
            author,
            document_title,
            group: self.group(&ann.groupid).await?,
            flag_count,
        })
    }
}
