//! `weir export`.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_client::Client;

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

fn print_export(v: &serde_json::Value) {
    println!(
        "export {} of {}@{}: {} ({} of {} approvals: {}){}",
        v["id"],
        v["repo"].as_str().unwrap_or("?"),
        v["commit"].as_str().unwrap_or("?"),
        v["state"].as_str().unwrap_or("?"),
        v["approvals"].as_array().map(|a| a.len()).unwrap_or(0),
        v["approvals_needed"],
        v["approvals"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        if v["link_issued"] == true {
            ", link issued"
        } else {
            ""
        }
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
            let url = link["url"]
                .as_str()
                .ok_or_else(|| anyhow!("the server sent no link"))?;
            let n = client.fetch_export(url, &out).await?;
            println!(
                "export {id}: {n} bytes written to {} (the link is now used)",
                out.display()
            );
        }
    }
    Ok(())
}
