//! Store tests, written once and run on SQLite always and on PostgreSQL when
//! `SCHOLIA_TEST_POSTGRES_URL` is set (required when `CI=true`).

mod cases;
