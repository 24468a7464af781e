//! `GET /api/search` (spec §8.8; h's `h/views/api/annotations.py` `search`,
//! `h/schemas/annotation.py` `SearchParamsSchema`, `h/search/query.py`).

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::Caller;
use super::presenter::present_many;
use crate::app::AppState;
use crate::domain::time::parse_search_after;
use crate::store::{SearchQuery, SortField, search::SearchAfter, search::UriMatch};
use crate::uri::{self, Version};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/search", get(search))
}

const LIMIT_DEFAULT: i64 = 20;
const LIMIT_MAX: i64 = 200;
const OFFSET_MAX: i64 = 9800;
/// h fetches at most this many replies for `_separate_replies`.
const REPLIES_MAX: i64 = 200;

/// Query parameters as h's colander schema reads them; errors are collected and answered
/// together, `field: message` per line.
struct Params {
    pairs: Vec<(String, String)>,
    errors: Vec<String>,
}

impl Params {
    fn all(&self, names: &[&str]) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn last(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn int(&mut self, name: &str, default: i64, max: i64) -> i64 {
        let Some(raw) = self.last(name).map(str::to_owned) else {
            return default;
        };
        match raw.trim().parse::<i64>() {
            Ok(n) if n < 0 => {
                self.errors
                    .push(format!("{name}: {n} is less than minimum value 0"));
                default
            }
            Ok(n) if n > max => {
                self.errors
                    .push(format!("{name}: {n} is greater than maximum value {max}"));
                default
            }
            Ok(n) => n,
            Err(_) => {
                self.errors
                    .push(format!("{name}: \"{raw}\" is not a number"));
                default
            }
        }
    }

    fn one_of<T: Copy>(&mut self, name: &str, default: T, options: &[(&str, T)]) -> T {
        let Some(raw) = self.last(name).map(str::to_owned) else {
            return default;
        };
        match options.iter().find(|(o, _)| *o == raw) {
            Some((_, v)) => *v,
            None => {
                let names: Vec<&str> = options.iter().map(|(o, _)| *o).collect();
                self.errors.push(format!(
                    "{name}: \"{raw}\" is not one of {}",
                    names.join(", ")
                ));
                default
            }
        }
    }
}

/// A search URI without a scheme is taken as `http://` (h's `UriCombinedWildcardFilter`).
fn with_scheme(base: &str) -> String {
    let has_scheme = base.split_once(':').is_some_and(|(scheme, _)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if has_scheme {
        base.to_owned()
    } else {
        format!("http://{base}")
    }
}

/// A search URI parameter, read and normalised; expanding it to equivalent URIs needs the
/// database and is the handler's part.
pub struct UriParam {
    pub base: String,
    pub normalized: String,
    pub versions: Vec<Version>,
}

/// A search request's parameters, checked.
pub struct SearchRequest {
    /// Everything but `uris`, which [`UriParam`]s become once expanded.
    pub query: SearchQuery,
    pub uris: Vec<UriParam>,
    pub separate_replies: bool,
}

async fn uri_matches(state: &AppState, values: Vec<UriParam>) -> ApiResult<Vec<UriMatch>> {
    let mut out = vec![];
    for UriParam {
        base,
        normalized,
        versions,
    } in values
    {
        let uris = state.db().expand_uri(&base, &normalized).await?;
        if versions.is_empty() {
            out.push(UriMatch {
                uris: uris.clone(),
                version: None,
                all_versions: false,
            });
        }
        for v in versions {
            out.push(match v {
                Version::Unversioned => UriMatch {
                    uris: uris.clone(),
                    version: None,
                    all_versions: false,
                },
                Version::Number(n) => UriMatch {
                    uris: uris.clone(),
                    version: Some(i64::try_from(n).unwrap_or(i64::MAX)),
                    all_versions: false,
                },
                Version::All => UriMatch {
                    uris: uris.clone(),
                    version: None,
                    all_versions: true,
                },
            });
        }
    }
    Ok(out)
}

/// Reads a raw query string as h's `SearchParamsSchema` does; the error is the 400's reason.
/// Pure, so the fuzz target `search_params` drives it directly.
pub fn parse_params(raw: &str) -> Result<SearchRequest, String> {
    let pairs = url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut p = Params {
        pairs,
        errors: vec![],
    };
    // As in a JSON body (`input::nul_path`): refused alike on both engines.
    let nuls: Vec<String> = p
        .pairs
        .iter()
        .filter(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| crate::input::nul_reason(k))
        .collect();
    p.errors.extend(nuls);
    let limit = p.int("limit", LIMIT_DEFAULT, LIMIT_MAX);
    let mut offset = p.int("offset", 0, OFFSET_MAX);
    let sort = p.one_of(
        "sort",
        SortField::Updated,
        &[
            ("updated", SortField::Updated),
            ("created", SortField::Created),
            ("group", SortField::Group),
            ("id", SortField::Id),
            ("user", SortField::User),
        ],
    );
    let ascending = p.one_of(
        "order",
        false,
        &[
            ("asc", true),
            ("desc", false),
            ("ASC", true),
            ("DESC", false),
        ],
    );
    let search_after = match p.last("search_after").map(str::to_owned) {
        None => None,
        Some(raw) if sort.is_date() => match parse_search_after(&raw) {
            Some(m) => Some(SearchAfter::Micros(m)),
            None => {
                p.errors
                    .push(format!("search_after: \"{raw}\" is not a date or a number"));
                None
            }
        },
        Some(raw) => Some(SearchAfter::Text(raw)),
    };
    if search_after.is_some() {
        offset = 0;
    }
    let separate = p
        .last("_separate_replies")
        .is_some_and(|v| matches!(v, "true" | "True" | "1"));
    if !p.errors.is_empty() {
        return Err(p.errors.join("\n"));
    }

    let query = SearchQuery {
        uris: vec![],
        groups: p.all(&["group"]),
        users: p.all(&["user"]),
        tags: p.all(&["tag", "tags"]),
        references: p.all(&["references"]),
        text: p.all(&["text"]),
        quote: p.all(&["quote"]),
        any: p.all(&["any"]),
        limit,
        offset,
        sort,
        ascending,
        search_after,
        top_level_only: separate,
        replies_to: vec![],
    };
    let mut uris = vec![];
    for value in p.all(&["uri", "url"]) {
        let (base, versions) = uri::parse_uri_versions(&value);
        let base = with_scheme(&base);
        let normalized = uri::normalize(&base).map_err(|e| format!("uri: {e}"))?;
        uris.push(UriParam {
            base,
            normalized,
            versions,
        });
    }
    Ok(SearchRequest {
        query,
        uris,
        separate_replies: separate,
    })
}

async fn search(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let SearchRequest {
        query,
        uris,
        separate_replies: separate,
    } = parse_params(raw.as_deref().unwrap_or_default()).map_err(ApiError::BadRequest)?;
    let query = SearchQuery {
        uris: uri_matches(&state, uris).await?,
        ..query
    };
    let who = caller.identity();
    if query.has_full_text() {
        // SQLite indexes text after writes are answered, in batches: have the rest indexed
        // now and wait for it, so that a search finds every annotation whose create or update
        // was answered before it.
        state.writer().search_index().caught_up().await;
    }
    let page = state.db().search(&query, who).await?;
    let rows = present_many(&state, &page.rows, who).await?;
    let mut body = json!({"total": page.total, "rows": rows});
    if separate {
        let replies = if page.rows.is_empty() {
            vec![]
        } else {
            // A fresh query: every visible reply in those threads, whatever the first
            // query's filters were.
            let replies_query = SearchQuery {
                replies_to: page.rows.iter().map(|a| a.id.clone()).collect(),
                limit: REPLIES_MAX,
                sort: query.sort,
                ascending: query.ascending,
                ..SearchQuery::default()
            };
            let found = state.db().search(&replies_query, who).await?;
            present_many(&state, &found.rows, who).await?
        };
        body["replies"] = Value::Array(replies);
    }
    Ok(Json(body))
}
