//! Webhook delivery (issue 16): each hook reads the change log from its durable cursor, decides
//! and renders each change for its user as a replay does (the same JSON as the WebSocket event),
//! and POSTs it with Standard Webhooks headers, one at a time, in seq order, at least once.
//!
//! A 2xx moves the cursor past the change; anything else, or no answer within
//! [`client::TIMEOUT`], is tried again after `retry_base`, doubling up to [`RETRY_MAX`], the hook
//! waiting meanwhile (other hooks do not). A hook that has failed for `disable_after` is disabled
//! with the reason, shown by `scholia webhook list`. On PostgreSQL a node delivers a hook while it
//! holds the hook's advisory lock ([`HookClaims`]), so on a cluster each hook goes out from one
//! node, and a node that dies hands its hooks over at once. Restarts resume from the cursor.

pub mod client;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::filter::compile;
use super::hub::Hub;
use super::registry::Viewer;
use super::replay::Replay;
use crate::domain::time::now_micros;
use crate::domain::webhook::sign;
use crate::store::webhooks::{HookClaims, Webhook};

/// Retries wait at most this long.
pub const RETRY_MAX: Duration = Duration::from_secs(300);
/// How often the set of hooks is read again (new hooks start within this).
const RESCAN: Duration = Duration::from_secs(1);
/// Log rows a hook reads at a time.
const BATCH: i64 = 100;

/// How webhooks are delivered (from the configuration).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WebhookSettings {
    pub allow_private: bool,
    /// The first retry's wait; each next one doubles, up to [`RETRY_MAX`].
    pub retry_base: Duration,
    /// A hook failing for this long is disabled.
    pub disable_after: Duration,
}

/// The wait before retry number `attempt` (1-based).
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(RETRY_MAX)
}

/// Delivers every enabled hook whose lease this node holds, until `stop`.
pub async fn run(hub: Hub, settings: WebhookSettings, stop: CancellationToken) {
    let client = match client::Client::new(settings.allow_private) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks are off: no HTTP client");
            return;
        }
    };
    let mut claims = HookClaims::new(hub.db());
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        if !running.is_empty() && !claims.alive().await {
            // The connection holding this node's claims is gone, and the claims with it.
            tracing::warn!("lost the webhook claims; claiming again");
            for (_, task) in running.drain() {
                task.abort();
            }
        }
        match hub.db().webhooks(None).await {
            Ok(hooks) => {
                let mut ended = Vec::new();
                running.retain(|id, task| {
                    let keep = !task.is_finished() && hooks.iter().any(|h| &h.id == id);
                    if !keep {
                        task.abort();
                        ended.push(id.clone());
                    }
                    keep
                });
                for id in ended {
                    claims.release(&id).await;
                }
                for hook in hooks {
                    if hook.disabled_reason.is_some() || running.contains_key(&hook.id) {
                        continue;
                    }
                    match claims.claim(&hook.id).await {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not claim a webhook");
                            break;
                        }
                    }
                    let id = hook.id.clone();
                    let worker = Worker {
                        hub: hub.clone(),
                        client: client.clone(),
                        settings,
                        stop: stop.clone(),
                    };
                    running.insert(id, tokio::spawn(worker.run(hook)));
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the webhooks"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(RESCAN) => {}
        }
    }
    for (_, task) in running {
        let _ = task.await;
    }
}

/// Why a hook's worker stopped delivering.
enum Halt {
    Stopped,
    /// The hook is gone.
    NotOurs,
    Disabled,
}

struct Worker {
    hub: Hub,
    client: client::Client,
    settings: WebhookSettings,
    stop: CancellationToken,
}

impl Worker {
    async fn run(self, hook: Webhook) {
        let id = hook.id.clone();
        match self.deliver_all(hook).await {
            Ok(Halt::Disabled) => tracing::warn!(hook = %id, "webhook disabled"),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(hook = %id, error = %e, "webhook delivery paused by a database error")
            }
        }
    }

    /// Delivers from the hook's cursor until halted.
    async fn deliver_all(&self, mut hook: Webhook) -> Result<Halt, sqlx::Error> {
        let db = self.hub.db().clone();
        let keys = match serde_json::from_str(&hook.filter_json)
            .map_err(|e| e.to_string())
            .and_then(|f| compile(&f, self.hub.limits().filter).map_err(|e| e.to_string()))
        {
            Ok(k) => k.into_boxed_slice(),
            Err(e) => {
                db.disable_webhook(&hook.id, &format!("its filter is invalid: {e}"))
                    .await?;
                return Ok(Halt::Disabled);
            }
        };
        let url = match url::Url::parse(&hook.url) {
            Ok(u) => u,
            Err(e) => {
                db.disable_webhook(&hook.id, &format!("its url is invalid: {e}"))
                    .await?;
                return Ok(Halt::Disabled);
            }
        };
        let lag = metrics::gauge!("scholia_webhook_lag", "hook" => hook.id.clone());
        loop {
            if self.stop.is_cancelled() {
                return Ok(Halt::Stopped);
            }
            let changes = db.changes_after(hook.cursor, BATCH).await?;
            // Read after the rows (the pruner raises the horizon before it deletes).
            if hook.cursor < db.log_horizon().await? {
                // Failing for longer than the log keeps changes: some are gone unsent.
                let reason = "changes it had not delivered were pruned from the change log \
                     (changelog_retention_secs is shorter than its failures lasted)";
                db.disable_webhook(&hook.id, reason).await?;
                return Ok(Halt::Disabled);
            }
            let Some(last) = changes.last().map(|c| c.seq) else {
                lag.set(0.0);
                let routed = self.hub.registry().routed_notified();
                tokio::select! {
                    _ = self.stop.cancelled() => return Ok(Halt::Stopped),
                    _ = routed => {}
                    _ = tokio::time::sleep(RESCAN) => {}
                }
                continue;
            };
            lag.set((db.last_seq().await? - hook.cursor) as f64);
            // The user as they are now: memberships and existence, read once per batch.
            let Some(viewer) = self.viewer(&hook.userid, &keys).await? else {
                db.disable_webhook(
                    &hook.id,
                    &format!("its user {} no longer exists", hook.userid),
                )
                .await?;
                return Ok(Halt::Disabled);
            };
            for change in changes {
                let seq = change.seq;
                let mut replay =
                    Replay::of_changes(&self.hub, viewer.clone(), hook.cursor, seq, vec![change]);
                while let Some(frames) = replay.next_page().await? {
                    for frame in frames {
                        if let Some(halt) = self.post(&mut hook, &url, seq, &frame).await? {
                            return Ok(halt);
                        }
                        // Written per delivery: a restart must not send it again.
                        if !db.advance_webhook(&hook.id, seq, 1).await? {
                            return Ok(Halt::NotOurs);
                        }
                    }
                }
                hook.cursor = seq;
            }
            // Changes that were not for this hook move the cursor too.
            if !db.advance_webhook(&hook.id, last, 0).await? {
                return Ok(Halt::NotOurs);
            }
            hook.cursor = last;
        }
    }

    async fn viewer(
        &self,
        userid: &str,
        keys: &[super::filter::Key],
    ) -> Result<Option<Viewer>, sqlx::Error> {
        let db = self.hub.db();
        let Some(user) = db.user_by_userid(userid).await?.filter(|u| !u.deleted) else {
            return Ok(None);
        };
        let identity = db.identity_of(user).await?;
        Ok(Some(Viewer {
            identity: Some(Arc::new(identity)),
            client_id: None,
            keys: keys.into(),
        }))
    }

    /// POSTs one event until it is taken; `Some` when the hook must halt instead.
    async fn post(
        &self,
        hook: &mut Webhook,
        url: &url::Url,
        seq: i64,
        body: &str,
    ) -> Result<Option<Halt>, sqlx::Error> {
        let msg_id = format!("{}_{seq}", hook.id);
        loop {
            let error = match self.attempt(hook, url, &msg_id, body).await {
                Ok(()) => {
                    metrics::counter!("scholia_webhook_deliveries_total", "outcome" => "ok")
                        .increment(1);
                    hook.failing_since = None;
                    hook.attempts = 0;
                    return Ok(None);
                }
                Err(e) => e,
            };
            metrics::counter!("scholia_webhook_deliveries_total", "outcome" => "failed")
                .increment(1);
            hook.attempts += 1;
            let now = now_micros();
            let since = *hook.failing_since.get_or_insert(now);
            let failing_for = Duration::from_micros((now - since).max(0) as u64);
            let disable = (failing_for >= self.settings.disable_after).then(|| {
                format!(
                    "failed for {} s ({} attempts), last: {error}",
                    failing_for.as_secs(),
                    hook.attempts
                )
            });
            self.hub
                .db()
                .webhook_failed(&hook.id, &error, since, disable.as_deref())
                .await?;
            if disable.is_some() {
                return Ok(Some(Halt::Disabled));
            }
            metrics::counter!("scholia_webhook_retries_total").increment(1);
            let wait = backoff(self.settings.retry_base, hook.attempts.max(1) as u32);
            tracing::debug!(hook = %hook.id, seq, %error, ?wait, "webhook delivery failed; retrying");
            tokio::select! {
                _ = self.stop.cancelled() => return Ok(Some(Halt::Stopped)),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt: Ok on a 2xx, else why not.
    async fn attempt(
        &self,
        hook: &Webhook,
        url: &url::Url,
        msg_id: &str,
        body: &str,
    ) -> Result<(), String> {
        let timestamp = now_micros() / 1_000_000;
        let signature = sign(&hook.secret, msg_id, timestamp, body)?;
        let signed = client::Signed {
            id: msg_id,
            timestamp,
            signature: &signature,
        };
        match self.client.post(url, &signed, body).await? {
            s if (200..300).contains(&s) => Ok(()),
            s => Err(format!("HTTP {s}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let waits: Vec<u64> = (1..=12).map(|a| backoff(base, a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(base, 100), RETRY_MAX);
    }
}
