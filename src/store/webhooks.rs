//! Webhooks and their delivery state (issue 16; `migrations/*/0006_webhooks.sql`).

use super::Db;
use crate::domain::time::now_micros;

/// One hook as stored.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Webhook {
    pub id: String,
    pub userid: String,
    pub url: String,
    pub secret: String,
    /// The WebSocket filter it follows, as JSON.
    pub filter_json: String,
    /// The last seq handled.
    pub cursor: i64,
    pub created: i64,
    pub delivered: i64,
    /// When the current run of failures began (microseconds).
    pub failing_since: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Set once the hook has failed for too long; it is then left alone.
    pub disabled_reason: Option<String>,
}

/// A hook to create.
pub struct NewWebhook<'a> {
    pub id: &'a str,
    pub userid: &'a str,
    pub url: &'a str,
    pub secret: &'a str,
    pub filter_json: &'a str,
    /// Delivery starts after this seq (the log's end when the hook is made).
    pub cursor: i64,
}

const COLS: &str = "id, userid, url, secret, filter_json, cursor, created, delivered, \
     failing_since, attempts, last_error, disabled_reason";

impl Db {
    /// Creates a hook for `userid` following `spec`, delivering changes committed from now on;
    /// returns it (with its new id and secret).
    pub async fn add_webhook(
        &self,
        userid: &str,
        spec: &crate::domain::webhook::WebhookSpec,
    ) -> Result<Webhook, sqlx::Error> {
        let id = crate::domain::webhook::new_id();
        let secret = crate::domain::webhook::new_secret();
        let filter = spec.filter().to_string();
        self.create_webhook(&NewWebhook {
            id: &id,
            userid,
            url: spec.url.as_str(),
            secret: &secret,
            filter_json: &filter,
            cursor: self.last_seq().await?,
        })
        .await?;
        self.webhook(&id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn create_webhook(&self, w: &NewWebhook<'_>) -> Result<(), sqlx::Error> {
        self.execute(
            "INSERT INTO webhooks (id, userid, url, secret, filter_json, cursor, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                w.id.into(),
                w.userid.into(),
                w.url.into(),
                w.secret.into(),
                w.filter_json.into(),
                w.cursor.into(),
                now_micros().into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Every hook (`userid: None`) or one user's, oldest first.
    pub async fn webhooks(&self, userid: Option<&str>) -> Result<Vec<Webhook>, sqlx::Error> {
        let sql = match userid {
            None => format!("SELECT {COLS} FROM webhooks ORDER BY created, id"),
            Some(_) => {
                format!("SELECT {COLS} FROM webhooks WHERE userid = $1 ORDER BY created, id")
            }
        };
        let args: Vec<_> = userid.into_iter().map(Into::into).collect();
        // Built from constants only.
        self.fetch_all(sqlx::AssertSqlSafe(sql), &args).await
    }

    pub async fn webhook(&self, id: &str) -> Result<Option<Webhook>, sqlx::Error> {
        let sql = format!("SELECT {COLS} FROM webhooks WHERE id = $1");
        self.fetch_optional(sqlx::AssertSqlSafe(sql), &[id.into()])
            .await
    }

    /// Removes a hook (only `userid`'s when given); whether one was removed.
    pub async fn remove_webhook(
        &self,
        id: &str,
        userid: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let n = match userid {
            None => {
                self.execute("DELETE FROM webhooks WHERE id = $1", &[id.into()])
                    .await?
            }
            Some(u) => {
                self.execute(
                    "DELETE FROM webhooks WHERE id = $1 AND userid = $2",
                    &[id.into(), u.into()],
                )
                .await?
            }
        };
        Ok(n > 0)
    }

    /// Moves a hook's cursor to `seq`, counting `delivered` deliveries and ending any run of
    /// failures; false if the hook is gone.
    pub async fn advance_webhook(
        &self,
        id: &str,
        seq: i64,
        delivered: i64,
    ) -> Result<bool, sqlx::Error> {
        let n = self
            .execute(
                "UPDATE webhooks SET cursor = CASE WHEN cursor < $2 THEN $2 ELSE cursor END, delivered = delivered + $3, \
                 failing_since = NULL, attempts = 0, last_error = NULL WHERE id = $1",
                &[id.into(), seq.into(), delivered.into()],
            )
            .await?;
        Ok(n > 0)
    }

    /// Records a failed attempt; with `disable`, also disables the hook with that reason.
    pub async fn webhook_failed(
        &self,
        id: &str,
        error: &str,
        failing_since: i64,
        disable: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        self.execute(
            "UPDATE webhooks SET attempts = attempts + 1, last_error = $2, \
             failing_since = COALESCE(failing_since, $3), disabled_reason = $4 WHERE id = $1",
            &[
                id.into(),
                error.into(),
                failing_since.into(),
                disable.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Disables a hook for good (its user is gone, its filter no longer compiles).
    pub async fn disable_webhook(&self, id: &str, reason: &str) -> Result<(), sqlx::Error> {
        self.execute(
            "UPDATE webhooks SET disabled_reason = $2 WHERE id = $1",
            &[id.into(), reason.into()],
        )
        .await?;
        Ok(())
    }
}

/// Which hooks this node delivers. On SQLite there is one server, so every hook is its own. On
/// PostgreSQL a node delivers a hook while it holds the hook's advisory lock on a connection
/// kept for that alone: the database releases the locks the moment that connection ends, a
/// kill -9 included, so another node (or the same one restarted) takes the hook over at once.
pub struct HookClaims {
    db: Db,
    conn: Option<super::HeldConnection>,
}

impl HookClaims {
    pub fn new(db: &Db) -> HookClaims {
        HookClaims {
            db: db.clone(),
            conn: None,
        }
    }

    /// Whether this node may deliver hook `id` now.
    pub async fn claim(&mut self, id: &str) -> Result<bool, sqlx::Error> {
        use super::exec::Exec;
        if let Db::Sqlite(_) = self.db {
            return Ok(true);
        }
        if self.conn.is_none() {
            self.conn = Some(super::HeldConnection::take(&self.db).await?);
        }
        let conn = self.conn.as_mut().expect("just taken");
        let key = lock_key(id);
        let r: Result<(bool,), _> = conn
            .fetch_one("SELECT pg_try_advisory_lock($1)", &[key.into()])
            .await;
        match r {
            Ok((held,)) => Ok(held),
            Err(e) => {
                self.forget().await;
                Err(e)
            }
        }
    }

    /// Gives hook `id` back (its worker stopped), so any node may claim it again.
    pub async fn release(&mut self, id: &str) {
        use super::exec::Exec;
        if let Some(conn) = self.conn.as_mut() {
            let r: Result<(bool,), _> = conn
                .fetch_one("SELECT pg_advisory_unlock($1)", &[lock_key(id).into()])
                .await;
            if r.is_err() {
                self.forget().await;
            }
        }
    }

    /// Closes the claims' connection rather than handing it back to the pool, where it would
    /// keep its locks and strand the hooks they hold.
    async fn forget(&mut self) {
        if let Some(super::HeldConnection::Postgres(c)) = self.conn.take() {
            let _ = c.close().await;
        }
    }

    /// Whether the claims made so far still hold (on PostgreSQL: the connection that holds them
    /// is alive). When false, every claim is lost: workers must stop and claim again.
    pub async fn alive(&mut self) -> bool {
        use super::exec::Exec;
        match &mut self.conn {
            None => matches!(self.db, Db::Sqlite(_)),
            Some(conn) => {
                // Bounded: a connection that hangs must not keep this node delivering hooks
                // that another node may have taken over.
                let probe = conn.fetch_one::<(i32,)>("SELECT 1", &[]);
                let ok = matches!(
                    tokio::time::timeout(std::time::Duration::from_secs(2), probe).await,
                    Ok(Ok(_))
                );
                if !ok {
                    self.forget().await;
                }
                ok
            }
        }
    }
}

/// The advisory lock key of a hook: FNV-1a of its id (stable across nodes and versions).
fn lock_key(id: &str) -> i64 {
    let h = format!("scholia-webhook:{id}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    h as i64
}
