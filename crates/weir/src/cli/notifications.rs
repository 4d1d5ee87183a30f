//! `weir notifications`.

use anyhow::Result;
use clap::Subcommand;

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: NotificationsCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum NotificationsCommand {
    /// Your notifications, newest first.
    List,
    Read {
        id: i64,
    },
    /// Register a webhook (HMAC-signed deliveries; the secret is printed once).
    WebhookSet {
        url: String,
    },
    WebhookRemove,
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    notifications(command, &remote).await
}

async fn notifications(command: NotificationsCommand, remote: &Remote) -> Result<()> {
    let c = client(remote)?;
    match command {
        NotificationsCommand::List => {
            let v = c.notifications().await?;
            let list = v["notifications"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no notifications");
            }
            for n in list {
                println!(
                    "#{} {} {}{}: {}",
                    n["id"],
                    n["created_at"].as_str().unwrap_or("?"),
                    n["kind"].as_str().unwrap_or("?"),
                    if n["read"].as_bool() == Some(true) {
                        ""
                    } else {
                        " (new)"
                    },
                    n["message"].as_str().unwrap_or("").escape_debug()
                );
            }
        }
        NotificationsCommand::Read { id } => {
            c.mark_notification_read(id).await?;
            println!("marked #{id} read");
        }
        NotificationsCommand::WebhookSet { url } => {
            let v = c.set_webhook(&url).await?;
            println!(
                "webhook {} registered; secret (shown once): {}\n  deliveries carry X-Weir-Signature-256: sha256=HMAC-SHA256(secret, body)",
                v["url"].as_str().unwrap_or("?"),
                v["secret"].as_str().unwrap_or("?")
            );
        }
        NotificationsCommand::WebhookRemove => {
            c.remove_webhook().await?;
            println!("webhook removed");
        }
    }
    Ok(())
}
