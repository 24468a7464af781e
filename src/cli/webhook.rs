//! `scholia webhook add|list|remove`: a user's annotation events POSTed to a URL (issue 16;
//! delivery in `realtime::webhooks`, the rules in `domain::webhook`).

use clap::{Args, Subcommand};

use super::admin::{find_user, open};
use crate::config::Config;
use crate::domain::webhook::WebhookSpec;

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Create a webhook; prints its id, then its secret (`whsec_…`, shown only here).
    Add(WebhookAdd),
    /// List every webhook: id, user, url, cursor, deliveries, and state.
    List,
    /// Remove a webhook.
    Remove {
        /// The webhook's id (`wh_…`).
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct WebhookAdd {
    /// Where events are POSTed (http or https).
    #[arg(long)]
    pub url: String,
    /// Whose events: a username of the default authority, or a full userid. The hook receives
    /// only what this user may read.
    #[arg(long)]
    pub user: String,
    /// A document URI to follow (repeatable).
    #[arg(long = "uri")]
    pub uris: Vec<String>,
    /// A group pubid to follow (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// An annotation id to follow (repeatable).
    #[arg(long = "id")]
    pub ids: Vec<String>,
    /// Allow a loopback, private or link-local target (the server needs
    /// --webhook-allow-private too).
    #[arg(long)]
    pub allow_private: bool,
}

pub async fn run(config: &Config, cmd: WebhookCommand) -> anyhow::Result<()> {
    let (db, authority) = open(config).await?;
    match cmd {
        WebhookCommand::Add(a) => {
            let user = find_user(&db, &authority, &a.user).await?;
            let spec = WebhookSpec::new(
                &a.url,
                a.uris,
                a.groups,
                a.ids,
                config.webhook_allow_private,
            )
            .map_err(anyhow::Error::msg)?;
            let hook = db.add_webhook(&user.userid().to_string(), &spec).await?;
            println!("{}", hook.id);
            println!("{}", hook.secret);
        }
        WebhookCommand::List => {
            for h in db.webhooks(None).await? {
                let state = match (&h.disabled_reason, &h.last_error) {
                    (Some(r), _) => format!("disabled: {r}"),
                    (None, Some(e)) => format!("failing ({} attempts): {e}", h.attempts),
                    (None, None) => "ok".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\tcursor={}\tdelivered={}\t{state}",
                    h.id, h.userid, h.url, h.cursor, h.delivered
                );
            }
        }
        WebhookCommand::Remove { id } => {
            anyhow::ensure!(db.remove_webhook(&id, None).await?, "no webhook {id}");
            println!("removed {id}");
        }
    }
    db.close().await;
    Ok(())
}
