//! scholia: a self-hostable annotation server that speaks the HTTP API and Real Time API of the
//! Hypothesis service ("h"), in one binary, on SQLite by default and PostgreSQL when asked.
//!
//! # Layout
//!
//! - [`config`]: defaults → `scholia.toml` → `SCHOLIA_*` environment → command-line flags.
//! - [`cli`]: the `scholia` commands: `serve` and the admin commands (users, tokens, groups,
//!   auth clients), which work on the same database as a running server; `bench` runs the load
//!   generator's own binary.
//! - [`domain`]: pure types (ids, users, groups, annotations) and the permission rules.
//! - [`uri`]: h-compatible URI normalisation and version scope keys.
//! - [`input`]: h's validation of annotation create/update bodies and document claims.
//! - [`store`]: all SQL, written once for SQLite and PostgreSQL, and the change log that
//!   every announced write appends to in its own transaction; the group-commit writer that
//!   stores annotation creates and updates, and (on SQLite) the WAL checkpointer beside it.
//! - [`auth`]: reading a request's bearer token, the JWT bearer grant, passwords.
//! - [`render`]: the annotation JSON for one viewer and the session model, with the one
//!   gatherer of what rendering needs from other rows; shared by the HTTP API and the Real
//!   Time API so they can never disagree.
//! - [`api`]: the HTTP API, one module per resource (and `/_bench/inject` for load tests).
//! - [`realtime`]: the Real Time API at `/ws`: protocol, filters, the subscription index, the
//!   per-socket task, and the hub that routes committed changes to sockets.
//! - [`client`]: serves the Hypothesis client (the npm package's files, `/embed.js`,
//!   `/app.html`), the login popup's first-party OAuth, and, in demo mode, the `/demo` page.
//! - [`site`]: the HTML pages at h's addresses that the client links to (`/`, `/a/<id>`,
//!   users', groups' and account pages, `/signup`, `/search`, `/stream`), their CSRF tokens
//!   and error pages; it reads and writes through the store and announces as the API does.
//! - [`bus`]: how committed changes reach the hub: the announcer (the one entry point of a
//!   committed write), the change feed between nodes (engine chosen by the `bus` setting), and
//!   the sequencer that merges both with the change log in `seq` order.
//! - [`app`]: shared state, the router, and [`app::run`], which serves a bound listener until a
//!   cancellation token fires.
//! - [`metrics`]: the Prometheus recorder and request metrics.
//! - [`http_log`]: request ids and the access log, one line per HTTP request.
//! - [`proxy`]: trusted reverse proxies, and the client address a request carries through them.
//!
//! The load generator is not in this crate: it is the workspace member `crates/scholia-bench`
//! (binary `scholia-bench`), which starts this server as a process and measures it from outside.
//!
//! # The path of one create
//!
//! `POST /api/annotations` ([`api::annotations`]) resolves the caller ([`auth`]), parses the body
//! into checked values ([`input`]), and hands an [`store::AnnotationWrite`] to the group-commit
//! [`store::Writer`], which stores the annotation and appends its change-log row in one
//! transaction and returns the committed [`store::Change`] with the routing facts read in that
//! transaction. The handler renders its answer from what it holds and calls
//! [`app::AppState::announce`] once, with an [`bus::Announcement`] carrying the change and what
//! the write knew ([`bus::Known`]); every other write (update, delete, moderation, group join or
//! leave) announces its change the same way, without the facts. The announcer puts it in this
//! node's hub inbox and tells the change feed. The hub's task ([`realtime::hub::run`]) takes
//! changes from the [`bus::Sequencer`] in `seq` order (a gap, a feed notice or a poll makes it
//! read the change log, so changes from admin commands or other nodes arrive the same way) and
//! routes each ([`realtime::fanout`], [`realtime::route`]): index lookup, a permission check per
//! candidate, one render per viewer class, and a non-blocking push onto each socket's bounded
//! queue, which the socket's own task ([`realtime::socket`]) writes out.
//!
//! `api/` and `realtime/` never import each other, and the store, render and bus know neither:
//! `.ci/run` checks it.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod auth;
pub mod bus;
pub mod cli;
pub mod client;
pub mod config;
pub mod domain;
pub mod http_log;
pub mod input;
pub mod metrics;
pub mod own_thread;
pub mod proxy;
pub mod realtime;
pub mod render;
pub mod serve;
pub mod site;
pub mod store;
pub mod uri;

pub use app::run;
pub use config::Config;
