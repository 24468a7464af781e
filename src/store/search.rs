//! `GET /api/search` as SQL: filters, visibility and ordering in one query per page, with
//! full-text matching on each engine's own engine (SQLite FTS5, PostgreSQL `tsvector`), since h
//! needs Elasticsearch for this and scholia must not.

use super::rows::{ANNOTATION_COLS, AnnotationRow};
use sqlx::AssertSqlSafe;

use super::steps::Arg;
use super::{Db, Engine};
use crate::domain::group::WORLD;
use crate::domain::{Annotation, Identity};

/// Sort keys h accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortField {
    #[default]
    Updated,
    Created,
    Group,
    Id,
    User,
}

impl SortField {
    fn column(self) -> &'static str {
        match self {
            SortField::Updated => "a.updated",
            SortField::Created => "a.created",
            SortField::Group => "a.groupid",
            SortField::Id => "a.id",
            SortField::User => "a.userid",
        }
    }

    /// Date sorts compare `search_after` as a timestamp.
    pub fn is_date(self) -> bool {
        matches!(self, SortField::Updated | SortField::Created)
    }
}

/// URI constraint: the annotation's normalised URI is one of `uris`, and its version matches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UriMatch {
    pub uris: Vec<String>,
    /// `None`: unversioned only. `Some(n)`: version n. Matching any version is `all_versions`.
    pub version: Option<i64>,
    pub all_versions: bool,
}

/// A parsed, validated search.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// Any of these URI constraints (OR).
    pub uris: Vec<UriMatch>,
    pub groups: Vec<String>,
    /// Userids (`acct:...`) or bare usernames, any of them.
    pub users: Vec<String>,
    /// Every tag must be present (lower-cased).
    pub tags: Vec<String>,
    /// Any ancestor id.
    pub references: Vec<String>,
    pub text: Vec<String>,
    pub quote: Vec<String>,
    pub any: Vec<String>,
    pub limit: i64,
    pub offset: i64,
    pub sort: SortField,
    pub ascending: bool,
    /// Already converted: microseconds for date sorts, the raw string otherwise.
    pub search_after: Option<SearchAfter>,
    /// Only top-level annotations (for `_separate_replies`).
    pub top_level_only: bool,
    /// Only replies in these threads (the second query of `_separate_replies`).
    pub replies_to: Vec<String>,
}

impl SearchQuery {
    /// Whether the search matches words (`text`, `quote`, `any`), which on SQLite reads the
    /// full-text index (`search_index.rs`).
    pub fn has_full_text(&self) -> bool {
        [&self.text, &self.quote, &self.any]
            .iter()
            .any(|words| words.iter().any(|w| !w.trim().is_empty()))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum SearchAfter {
    Micros(i64),
    Text(String),
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct SearchResult {
    pub total: i64,
    pub rows: Vec<Annotation>,
}

struct Sql {
    text: String,
    binds: Vec<Arg>,
}

impl Sql {
    fn push(&mut self, b: Arg) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
    fn text(&mut self, s: &str) -> String {
        self.push(Arg::from(s))
    }
    fn list(&mut self, items: &[String]) -> String {
        items
            .iter()
            .map(|i| self.text(i))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Turns free text into an FTS5 query restricted to `columns`: each word quoted (so operators in
/// user input are just words), all words required.
fn fts5_query(columns: &str, words: &[String]) -> String {
    let terms: Vec<String> = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    format!("{{{columns}}} : ({})", terms.join(" AND "))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Db {
    /// Runs a search as `viewer` sees it (spec §8.8): deleted annotations never, others' NIPSA'd
    /// annotations never (anonymous viewers included), private ones only to their author, hidden
    /// ones to their author and the group's moderators, private groups to members.
    pub async fn search(
        &self,
        q: &SearchQuery,
        viewer: Option<&Identity>,
    ) -> Result<SearchResult, sqlx::Error> {
        let engine = self.engine();
        let mut s = Sql {
            text: String::new(),
            binds: vec![],
        };
        let mut conds: Vec<String> = vec!["a.deleted = FALSE".into()];

        // Visibility.
        let me = s.text(viewer.map_or("", |v| v.userid.as_str()));
        let my_id = s.push(Arg::from(viewer.map_or(-1, |v| v.user.id)));
        conds.push(format!(
            "(a.userid = {me} OR NOT EXISTS (SELECT 1 FROM users u WHERE u.userid = a.userid AND u.nipsa = TRUE))"
        ));
        let member_groups = format!(
            "(SELECT g.pubid FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = {my_id})"
        );
        let moderated_groups = format!(
            "(SELECT g.pubid FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = {my_id} \
             AND m.role IN ('owner', 'admin', 'moderator'))"
        );
        let world = s.text(WORLD);
        let hidden = "a.moderation_status IN ('PENDING', 'DENIED', 'SPAM')";
        conds.push(format!(
            "((a.shared = FALSE AND a.userid = {me}) \
             OR (a.shared = TRUE AND NOT ({hidden}) AND (a.groupid = {world} \
                 OR a.groupid IN (SELECT pubid FROM groups WHERE group_type IN ('open', 'restricted')) \
                 OR a.groupid IN {member_groups})) \
             OR (a.shared = TRUE AND ({hidden}) AND (a.userid = {me} OR a.groupid IN {moderated_groups})))"
        ));

        // Filters.
        if !q.uris.is_empty() {
            let mut ors = vec![];
            for m in &q.uris {
                if m.uris.is_empty() {
                    continue;
                }
                let list = s.list(&m.uris);
                let version = if m.all_versions {
                    String::new()
                } else {
                    match m.version {
                        None => " AND a.version IS NULL".to_owned(),
                        Some(v) => format!(" AND a.version = {}", s.push(Arg::from(v))),
                    }
                };
                ors.push(format!("(a.target_uri_normalized IN ({list}){version})"));
            }
            conds.push(if ors.is_empty() {
                "FALSE".into()
            } else {
                format!("({})", ors.join(" OR "))
            });
        }
        if !q.groups.is_empty() {
            conds.push(format!("a.groupid IN ({})", s.list(&q.groups)));
        }
        if !q.users.is_empty() {
            let mut ors = vec![];
            for u in &q.users {
                if u.starts_with("acct:") {
                    ors.push(format!("LOWER(a.userid) = LOWER({})", s.text(u)));
                } else {
                    let pattern = s.text(&format!("acct:{}@%", escape_like(&u.to_lowercase())));
                    ors.push(format!("LOWER(a.userid) LIKE {pattern} ESCAPE '\\'"));
                }
            }
            conds.push(format!("({})", ors.join(" OR ")));
        }
        for tag in &q.tags {
            let t = s.text(&tag.to_lowercase());
            conds.push(format!(
                "EXISTS (SELECT 1 FROM annotation_tags t WHERE t.annotation_id = a.id AND t.tag = {t})"
            ));
        }
        if !q.references.is_empty() {
            let list = s.list(&q.references);
            conds.push(format!(
                "EXISTS (SELECT 1 FROM annotation_refs r WHERE r.annotation_id = a.id AND r.ref_id IN ({list}))"
            ));
        }
        if !q.replies_to.is_empty() {
            conds.push(format!("a.thread_root IN ({})", s.list(&q.replies_to)));
        }
        if q.top_level_only {
            conds.push("a.thread_root IS NULL".into());
        }
        for (columns, words, pg_expr) in [
            ("text", &q.text, "a.text"),
            ("quote", &q.quote, "a.quote"),
            (
                "text quote tags",
                &q.any,
                "a.text || ' ' || a.quote || ' ' || a.tags",
            ),
        ] {
            if words.iter().all(|w| w.trim().is_empty()) {
                continue;
            }
            match engine {
                Engine::Sqlite => {
                    let m = s.text(&fts5_query(columns, words));
                    conds.push(format!(
                        "a.id IN (SELECT annotation_id FROM annotations_fts WHERE annotations_fts MATCH {m})"
                    ));
                }
                Engine::Postgres => {
                    let m = s.text(&words.join(" "));
                    conds.push(format!(
                        "to_tsvector('simple', {pg_expr}) @@ plainto_tsquery('simple', {m})"
                    ));
                }
            }
        }
        let filter_where = conds.join(" AND ");

        // Page: search_after narrows, then sort, limit, offset.
        let col = q.sort.column();
        let dir = if q.ascending { "ASC" } else { "DESC" };
        let mut page_where = filter_where.clone();
        if let Some(after) = &q.search_after {
            let v = match after {
                SearchAfter::Micros(m) => s.push(Arg::from(*m)),
                SearchAfter::Text(t) => s.text(t),
            };
            let op = if q.ascending { ">" } else { "<" };
            page_where = format!("{page_where} AND {col} {op} {v}");
        }
        let limit = s.push(Arg::from(q.limit));
        let offset = s.push(Arg::from(q.offset));
        s.text = format!(
            "SELECT {ANNOTATION_COLS} FROM annotations a \
             WHERE {page_where} ORDER BY {col} {dir}, a.id {dir} LIMIT {limit} OFFSET {offset}"
        );
        let count_sql = format!("SELECT COUNT(*) FROM annotations a WHERE {filter_where}");

        let rows: Vec<AnnotationRow> = self.fetch_all(AssertSqlSafe(s.text), &s.binds).await?;
        // `total` counts every match of the filters, ignoring paging (as h's `hits.total`).
        // The count uses a prefix of the same binds; extra trailing binds are not allowed, so
        // bind only those the filter text refers to.
        let used = s.binds.len() - 2 - usize::from(q.search_after.is_some());
        let (total,): (i64,) = self
            .fetch_one(AssertSqlSafe(count_sql), &s.binds[..used])
            .await?;
        Ok(SearchResult {
            total,
            rows: rows.into_iter().map(Annotation::from).collect(),
        })
    }
}
