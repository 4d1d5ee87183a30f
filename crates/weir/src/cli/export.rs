//! `weir export`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use weir_client::Client;

use weir_wire::exports::Export;

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ExportCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Ask for a custodial copy of NS/NAME[@REV] for your accredited organization.
    Request {
        repo: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        purpose: String,
    },
    /// (operator) Approve an export; two distinct operators, neither the requester.
    Approve { id: i64 },
    /// Show an export's state.
    Status { id: i64 },
    /// (requester) Get the single-use link once approved, and download the tar into OUT.
    Fetch { id: i64, out: PathBuf },
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    export(command, &client(&remote)?).await
}

fn print_export(v: &Export) {
    println!(
        "export {} of {}@{}: {} ({} of {} approvals: {}){}",
        v.id,
        v.repo,
        v.commit,
        v.state,
        v.approvals.len(),
        v.approvals_needed,
        v.approvals.join(", "),
        if v.link_issued { ", link issued" } else { "" }
    );
}

async fn export(command: ExportCommand, client: &Client) -> Result<()> {
    match command {
        ExportCommand::Request { repo, org, purpose } => {
            let (id, rev) = split_rev(&repo);
            print_export(
                &client
                    .request_export(&repo_id(id)?, &org, &purpose, rev)
                    .await?,
            );
        }
        ExportCommand::Approve { id } => print_export(&client.approve_export(id).await?),
        ExportCommand::Status { id } => print_export(&client.export(id).await?),
        ExportCommand::Fetch { id, out } => {
            let link = client.export_link(id).await?;
            let n = client.fetch_export(&link.url, &out).await?;
            println!(
                "export {id}: {n} bytes written to {} (the link is now used)",
                out.display()
            );
        }
    }
    Ok(())
}
