//! `weir admin suite`.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;

use weir_core::eval::{Domain, Suite};
use weir_store::Store;

use super::admin_event;

#[derive(Subcommand)]
pub enum SuiteCommand {
    /// Add a suite (or a new version of one).
    Add {
        name: String,
        /// bio, chem, cyber, autonomy or manipulation
        #[arg(long)]
        domain: String,
        #[arg(long, default_value = "acc")]
        metric: String,
        /// Score of random guessing.
        #[arg(long)]
        chance: f64,
        /// Question count of a complete run.
        #[arg(long)]
        questions: i64,
        /// Another question count also accepted as complete (an earlier dataset release).
        #[arg(long)]
        original_questions: Option<i64>,
        /// Harness task names that run the suite (repeatable).
        #[arg(long = "task", required = true)]
        tasks: Vec<String>,
        /// Where the suite comes from.
        #[arg(long)]
        source: String,
    },
    List,
}

pub async fn run(store: &Store, command: SuiteCommand) -> Result<()> {
    match command {
        SuiteCommand::Add {
            name,
            domain,
            metric,
            chance,
            questions,
            original_questions,
            tasks,
            source,
        } => {
            weir_core::Name::parse(&name).map_err(|e| anyhow!("suite name: {e}"))?;
            let domain = Domain::parse(&domain).ok_or_else(|| {
                anyhow!("unknown domain {domain:?}; use bio, chem, cyber, autonomy or manipulation")
            })?;
            if !(0.0..1.0).contains(&chance) {
                bail!("--chance {chance} must be in [0, 1)");
            }
            if questions <= 0 || original_questions.is_some_and(|o| o <= 0) {
                bail!("question counts must be positive");
            }
            if source.trim().is_empty() {
                bail!("--source must say where the suite comes from");
            }
            let event = admin_event("suite.add", Some(&name), "added");
            let s = store
                .db
                .add_suite_logged(
                    &Suite {
                        name,
                        version: 0,
                        domain,
                        metric,
                        chance,
                        questions,
                        original_questions,
                        tasks,
                        source,
                    },
                    &event,
                )
                .await?;
            weir_registry::classification::reclassify_all(
                store,
                Some("operator"),
                weir_registry::classification::Lowering::AfterReview,
                weir_registry::clock::now(),
            )
            .await?;
            println!("suite {} v{} ({})", s.name, s.version, s.domain.as_str());
        }
        SuiteCommand::List => {
            for s in store.db.suites().await? {
                println!(
                    "{} v{} {} {} chance {} n={} tasks {}",
                    s.name,
                    s.version,
                    s.domain.as_str(),
                    s.metric,
                    s.chance,
                    s.questions,
                    s.tasks.join(",")
                );
            }
        }
    }
    Ok(())
}
