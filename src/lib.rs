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
//! - [`auth`]: the JWT bearer grant.
//! - [`render`]: the annotation JSON for one viewer, shared by the HTTP API and the Real
//!   Time API so they can never disagree.
//! - [`api`]: the HTTP API, one module per resource.
//! - [`realtime`]: the Real Time API at `/ws`: protocol, filters, the subscription index, the
//!   per-socket task and the router that fans committed changes out to sockets.
//! - [`client`]: serves the Hypothesis client (the npm package's files, `/embed.js`,
//!   `/app.html`) and, in demo mode, the `/demo` page.
//! - [`bus`]: how committed changes reach the rest of the server: the change-log tailer and the
//!   in-process bus.
//! - [`app`]: shared state, the router, and [`app::run`], which serves a bound listener until a
//!   cancellation token fires.
//! - [`metrics`]: the Prometheus recorder and request metrics.
//!
//! The load generator is not in this crate: it is the workspace member `crates/scholia-bench`
//! (binary `scholia-bench`), which starts this server as a process and measures it from outside.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod auth;
pub mod bus;
pub mod cli;
pub mod client;
pub mod config;
pub mod domain;
pub mod input;
pub mod metrics;
pub mod realtime;
pub mod render;
pub mod store;
pub mod uri;

pub use app::run;
pub use config::Config;
