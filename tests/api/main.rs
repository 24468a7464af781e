//! Integration tests: a real server on port 0, real HTTP, SQLite always and PostgreSQL when
//! `SCHOLIA_TEST_POSTGRES_URL` is set.

mod helpers;
mod process;

mod access_log;
mod annotations;
mod auth;
mod backup;
mod changelog;
mod cli;
mod client;
mod cluster;
mod cluster_faults;
mod deploy;
mod direct;
mod documents;
mod e2e;
mod edge;
mod groups;
mod index;
mod limits;
mod login;
mod moderation;
mod permission_model;
mod pg_outage;
mod proxy;
mod realtime;
mod resume_faults;
mod schema;
mod search;
mod sequencer;
mod site;
mod startup;
mod store;
mod webhooks;
mod writer;
