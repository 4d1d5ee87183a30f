//! `weir admin policy`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;
use serde_json::json;

use sha2::{Digest, Sha256};
use weir_core::policy::Policy;
use weir_store::Store;
use weir_store::evals::StoredPolicy;

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
            let policy = Policy::parse(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let sha = hex::encode(Sha256::digest(text.as_bytes()));
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
            let note = weir_tlog::note::Note::sign(
                &weir_registry::policy::policy_note_text(&policy.version, &sha),
                &[&signer],
            )
            .map_err(|e| anyhow!("signing the policy: {e}"))?;
            let previous = weir_registry::policy::policy_in_force(store).await?;
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let event = weir_core::Event {
                at,
                actor: Some("operator".into()),
                action: "policy.set".into(),
                repo: None,
                subject: None,
                decision: "change".into(),
                reason: policy.version.clone(),
                request_id: None,
                user_agent: Some("weir admin".into()),
                details: json!({"public": {"version": policy.version, "sha256": sha, "previous_sha256": previous.sha256}}),
            };
            store
                .db
                .set_policy_logged(
                    &StoredPolicy {
                        seq: 0,
                        version: policy.version.clone(),
                        text,
                        sha256: sha.clone(),
                        signature: note.to_text(),
                        set_by: "operator".into(),
                        created_at: at,
                    },
                    &event,
                )
                .await?;
            let raised = weir_registry::classification::reclassify_all(
                store,
                Some("operator"),
                weir_registry::classification::Lowering::AfterReview,
                weir_registry::clock::now(),
            )
            .await?;
            println!(
                "policy {} in force (sha256 {sha}), signed and logged{}",
                policy.version,
                raised_note(raised)
            );
        }
    }
    Ok(())
}
