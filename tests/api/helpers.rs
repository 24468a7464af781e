//! The harness: `spawn_app` runs the real server on port 0 against a fresh database (a temp
//! SQLite file, or a fresh schema in the PostgreSQL named by `SCHOLIA_TEST_POSTGRES_URL`), and
//! `TestApp` offers request helpers.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use scholia::Config;
use scholia::domain::{GroupType, Role, User};
use scholia::store::{Db, NewGroup, NewUser};

pub const AUTHORITY: &str = "example.com";

/// Which engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the body once per engine: `#[tokio::test]`s named `sqlite` and `postgres` inside a
/// module named after the test.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_url().is_some() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            }
        }
    )*};
}

/// The PostgreSQL URL for tests. Missing locally: a notice, and the PostgreSQL half is skipped.
/// Missing under CI: a failure, so nothing skips silently there.
pub fn postgres_url() -> Option<String> {
    match std::env::var("SCHOLIA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but SCHOLIA_TEST_POSTGRES_URL is not set: PostgreSQL tests cannot be skipped in CI"
            )
        }
        _ => {
            eprintln!(
                "NOTICE: SCHOLIA_TEST_POSTGRES_URL is not set; skipping the PostgreSQL run of this test"
            );
            None
        }
    }
}

/// A database URL for a fresh, empty store on `backend`, plus the temp dir holding it.
pub async fn fresh_database(backend: Backend) -> (String, tempfile::TempDir) {
    // Every test that runs a server or a store comes through here.
    LazyLock::force(&TRACING);
    let dir = tempfile::tempdir().expect("temp dir");
    match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("test.db").display()),
            dir,
        ),
        Backend::Postgres => {
            let base = postgres_url().expect("PostgreSQL URL");
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::PgPool::connect(&base)
                .await
                .expect("connect to the test PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&pool)
                .await
                .expect("create schema");
            pool.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            (
                format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                dir,
            )
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    _data_dir: tempfile::TempDir,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Logs for every test in this binary, installed once and only when `TEST_LOG` is set: tests
/// are quiet by default, and `TEST_LOG=1` (with `RUST_LOG` to pick the level, info by default)
/// shows the server's logs, the access log included, in each test's own output.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_none() {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Written as the test harness's own output (nextest runs each test in a process of its
    // own, so what the server's threads log comes out with the test that ran it).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
});

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let (db_url, data_dir) = fresh_database(backend).await;
    spawn_on(&db_url, data_dir, tweak).await
}

/// A server on the database at `db_url` (several may share one PostgreSQL database: a cluster).
pub async fn spawn_on(
    db_url: &str,
    data_dir: tempfile::TempDir,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let db_url = db_url.to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config {
        database_url: Some(db_url.clone()),
        data_dir: data_dir.path().to_path_buf(),
        authority: Some(AUTHORITY.into()),
        ..Config::default()
    };
    tweak(&mut config);
    let db = Db::connect(&db_url).await.expect("database");
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(scholia::run(listener, config, db.clone(), shutdown.clone()));
    let app = TestApp {
        addr,
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        db,
        _data_dir: data_dir,
        shutdown,
        handle: Some(handle),
    };
    // `run` creates the world group before serving; wait until the server answers.
    for _ in 0..200 {
        if app
            .client
            .get(app.url("/_status"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server did not come up");
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics_text(&self) -> String {
        let r = self.client.get(self.url("/metrics")).send().await.unwrap();
        r.text().await.unwrap()
    }

    /// Stops the server and waits for `run` to return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let handle = self.handle.take().expect("running");
        tokio::time::timeout(Duration::from_secs(10), handle)
            .await
            .expect("stopped in time")
            .expect("join")
    }

    /// Creates a user of the default authority and a developer token; returns (user, token).
    pub async fn user(&self, name: &str) -> (User, String) {
        self.user_of(name, AUTHORITY).await
    }

    pub async fn user_of(&self, name: &str, authority: &str) -> (User, String) {
        let display = format!("{name} display");
        let user = self
            .db
            .create_user(&NewUser {
                username: name,
                authority,
                email: None,
                display_name: Some(&display),
            })
            .await
            .expect("create user");
        let token = self.db.create_developer_token(&user).await.expect("token");
        (user, token)
    }

    pub async fn group(
        &self,
        creator: &User,
        name: &str,
        group_type: GroupType,
        pre_moderated: bool,
    ) -> String {
        let g = self
            .db
            .create_group(
                &NewGroup {
                    name,
                    description: None,
                    group_type,
                    pre_moderated,
                    authority: &creator.authority,
                    authority_provided_id: None,
                    creator: Some(creator),
                },
                None,
            )
            .await
            .expect("group");
        g.0.pubid
    }

    pub async fn add_member(&self, pubid: &str, user: &User, role: Role) {
        let g = self.db.group_by_pubid(pubid).await.unwrap().unwrap();
        self.db.add_member(&g, user, role, None).await.unwrap();
    }

    pub fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    /// Sends a body-less request and returns only its status (hide, unhide, flag, members).
    pub async fn status(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> StatusCode {
        self.req(method, path, token).send().await.unwrap().status()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        json_of(
            self.req(reqwest::Method::GET, path, token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        json_of(
            self.req(reqwest::Method::POST, path, token)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn patch(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
        json_of(
            self.req(reqwest::Method::PATCH, path, token)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        json_of(
            self.req(reqwest::Method::DELETE, path, token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Creates an annotation and returns its JSON, asserting success.
    pub async fn annotate(&self, token: &str, body: Value) -> Value {
        let (status, json) = self.post("/api/annotations", Some(token), &body).await;
        assert_eq!(status, StatusCode::OK, "create failed: {json}");
        json
    }

    /// A shared annotation in `group` on `uri`.
    pub async fn shared(&self, token: &str, group: &str, uri: &str, text: &str) -> Value {
        self.annotate(
            token,
            json!({"uri": uri, "text": text, "group": group, "permissions": {"read": [format!("group:{group}")]}}),
        )
        .await
    }

    /// Ids of the rows of a search, in order.
    pub async fn search_ids(&self, query: &str, token: Option<&str>) -> Vec<String> {
        let (status, body) = self.get(&format!("/api/search?{query}"), token).await;
        assert_eq!(status, StatusCode::OK, "search failed: {body}");
        body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Rows in the annotations table and the change log, for "nothing half-written" checks.
    pub async fn row_counts(&self) -> (i64, i64) {
        let q = |sql: &'static str| async move {
            match &self.db {
                Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(p)
                    .await
                    .unwrap(),
                Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(p)
                    .await
                    .unwrap(),
            }
        };
        (
            q("SELECT COUNT(*) FROM annotations").await,
            q("SELECT COUNT(*) FROM change_log").await,
        )
    }
}

/// Status and JSON body (Null when the body is empty or not JSON).
pub async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub const NOT_FOUND: &str = "Either the resource you requested doesn't exist, or you are not currently authorized to see it.";
