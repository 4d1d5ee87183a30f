//! `weir admin identity`.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

use super::admin_event;

#[derive(Subcommand)]
pub enum AdminIdentityCommand {
    /// Set USER's level directly.
    Set {
        user: String,
        #[arg(long)]
        level: String,
        #[arg(long)]
        country: Option<String>,
        /// The level lapses after this many days.
        #[arg(long)]
        days: Option<u32>,
    },
    /// Revoke an attestation by id: grants that needed it stop working at once.
    Revoke { attestation: String },
}

pub async fn run(store: &Store, command: AdminIdentityCommand) -> Result<()> {
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        AdminIdentityCommand::Set {
            user,
            level,
            country,
            days,
        } => {
            let u = parse_name(&user)?;
            let lv = weir_core::IdentityLevel::parse(&level).ok_or_else(|| {
                anyhow!(
                    "unknown level {level:?}; use account, affiliated, identified or accredited"
                )
            })?;
            let country = country
                .map(|c| {
                    weir_core::identity::parse_country(&c)
                        .ok_or_else(|| anyhow!("{c:?} is not a two-letter country code"))
                })
                .transpose()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let expires = days.map(|d| now + i64::from(d) * 86_400);
            store
                .db
                .set_identity_logged(
                    &u,
                    lv,
                    country.as_deref(),
                    expires,
                    &admin_event("identity.set", Some(u.as_str()), lv.as_str()),
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("{u} is now {}", lv.as_str());
        }
        AdminIdentityCommand::Revoke { attestation } => {
            store
                .db
                .revoke_attestation_logged(
                    &attestation,
                    &admin_event("identity.revoke", None, &attestation),
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!(
                "revoked attestation {attestation}; grants that relied on it stop working now"
            );
        }
    }
    Ok(())
}
