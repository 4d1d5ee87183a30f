//! `weir admin policy`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;

use weir_store::Store;

use super::raised_note;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Put FILE (TOML) in force: checked, signed with the log key, logged; every repo is
    /// re-classified and raised where the new policy asks for more.
    Set { file: PathBuf },
    /// Print the policy in force.
    Show,
}

pub async fn run(store: &Store, data: &Path, command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Show => {
            let p = weir_registry::policy::policy_in_force(store).await?;
            println!(
                "# version {} sha256 {}{}\n{}",
                p.policy.version,
                p.sha256,
                if p.set_by.is_none() {
                    " (shipped default)"
                } else {
                    ""
                },
                p.text
            );
        }
        PolicyCommand::Set { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let key_path = data.join("secrets").join("log.key");
            let skey = std::fs::read_to_string(&key_path).with_context(|| {
                format!(
                    "reading {} (the log key signs the policy; start 'weir serve --data {}' once to create it)",
                    key_path.display(),
                    data.display()
                )
            })?;
            let signer = weir_tlog::note::Signer::parse(&skey)
                .map_err(|e| anyhow!("{}: {e}", key_path.display()))?;
            if let Some(pinned) = store.db.pinned_key("log").await?
                && pinned != signer.verifier().vkey()
            {
                bail!(
                    "{} is not this database's log key: sign the policy from a data dir holding the registry's keys (a replica's, or a copy of the first one's DATA/secrets)",
                    key_path.display()
                );
            }
            let set = weir_registry::policy::set(
                store,
                &signer,
                &text,
                &weir_registry::Context::local("operator", "weir admin"),
                weir_registry::clock::now(),
            )
            .await
            .map_err(|e| anyhow!("{}: {e}", file.display()))?;
            println!(
                "policy {} in force (sha256 {}), signed and logged{}",
                set.version,
                set.sha256,
                raised_note(set.raised)
            );
        }
    }
    Ok(())
}
