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
            if v.notifications.is_empty() {
                println!("no notifications");
            }
            for n in &v.notifications {
                println!(
                    "#{} {} {}{}: {}",
                    n.id,
                    n.created_at,
                    n.kind,
                    if n.read { "" } else { " (new)" },
                    n.message.escape_debug()
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
                v.url, v.secret
            );
        }
        NotificationsCommand::WebhookRemove => {
            c.remove_webhook().await?;
            println!("webhook removed");
        }
    }
    Ok(())
}
