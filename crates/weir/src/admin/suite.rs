//! `weir admin suite`.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_core::eval::{Domain, Suite};
use weir_store::Store;

use super::operator;

/// A suite as `weir admin suite add` and `weir board propose suite-add` take it.
#[derive(clap::Args)]
pub struct SuiteSpec {
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
}

impl SuiteSpec {
    pub fn into_suite(self) -> Result<Suite> {
        let domain = Domain::parse(&self.domain).ok_or_else(|| {
            anyhow!(
                "unknown domain {:?}; use bio, chem, cyber, autonomy or manipulation",
                self.domain
            )
        })?;
        Ok(Suite {
            name: self.name,
            version: 0,
            domain,
            metric: self.metric,
            chance: self.chance,
            questions: self.questions,
            original_questions: self.original_questions,
            tasks: self.tasks,
            source: self.source,
        })
    }
}

#[derive(Subcommand)]
pub enum SuiteCommand {
    /// Add a suite (or a new version of one). Where a board governs, propose it instead
    /// (`weir board propose suite-add`).
    Add(SuiteSpec),
    List,
}

pub async fn run(store: &Store, command: SuiteCommand) -> Result<()> {
    match command {
        SuiteCommand::Add(spec) => {
            let s = weir_registry::evaluators::add_suite(
                store,
                spec.into_suite()?,
                &operator(),
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
