//! `weir admin org`.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

#[derive(Subcommand)]
pub enum OrgCommand {
    Add {
        name: String,
        /// Members to add (repeatable); the first becomes an owner.
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

pub async fn run(store: &Store, command: OrgCommand) -> Result<()> {
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        OrgCommand::Add { name, members } => {
            let n = parse_name(&name)?;
            let roles: Vec<(Name, &str)> = members
                .iter()
                .enumerate()
                .map(|(i, m)| Ok((parse_name(m)?, if i == 0 { "owner" } else { "member" })))
                .collect::<Result<_>>()?;
            let mut e = super::admin_event("org.add", Some(n.as_str()), "created");
            e.details = serde_json::json!({
                "members": roles.iter().map(|(m, r)| serde_json::json!({"member": m.as_str(), "role": r})).collect::<Vec<_>>()
            });
            store
                .db
                .create_org_logged(&n, &roles, &e)
                .await
                .map_err(|err| match err {
                    weir_store::StoreError::NotFound(what) => anyhow!(
                        "no {what}; create the user first with 'weir admin user add {}'",
                        what.trim_start_matches("user ")
                    ),
                    other => anyhow!("{other}"),
                })?;
            println!("created org {n} with {} member(s)", members.len());
        }
    }
    Ok(())
}
