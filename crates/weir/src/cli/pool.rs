//! `weir pool`: funding pools (bounty, compute, grants), pledges, disbursements, bounty payouts
//! and members' statements. weir records obligations and decisions; it moves no money.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use weir_wire::funding::{
    BountyRules, Disbursement, Payout, PayoutDecision, PledgeSubmission, Pool, PoolSubmission,
};

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PoolCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum PoolCommand {
    /// (operator) Open a pool: bounty (with --rules FILE, JSON: {"pays": [{"kind",
    /// "class"?, "min_severity"?, "amount"}], "cap_per_report", "cap_per_pool"}), compute or
    /// grants.
    Create {
        name: String,
        #[arg(long)]
        title: String,
        /// bounty | compute | grants
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Every pool with its balance.
    List,
    /// One pool: rules, balance and ledger.
    Show { name: String },
    /// Pledge AMOUNT (in the registry's currency) to a pool.
    Pledge { pool: String, amount: String },
    /// (operator) Disburse from a compute or grants pool.
    Disburse {
        pool: String,
        amount: String,
        #[arg(long)]
        reason: String,
        /// The grant award it funds (public on the entry).
        #[arg(long)]
        award: Option<i64>,
    },
    /// Bounty payouts, newest first.
    Payouts,
    /// (operator) Decide payout ID: pay | reject (a proposed one) | reverse (a paid one).
    Decide {
        id: i64,
        decision: String,
        #[arg(long)]
        reason: String,
    },
    /// A member's statement: their pledges and payouts per pool (yours, or anyone's for
    /// operators).
    Statement { member: String },
}

fn print_pool(p: &Pool) {
    println!("pool {} ({}): {}", p.name, p.purpose, p.title);
    let b = &p.balance;
    println!(
        "  {} pledged, {} committed, {} paid, {} disbursed, {} available ({})",
        b.pledged, b.committed, b.paid, b.disbursed, b.available, p.currency
    );
}

fn print_payout(p: &Payout) {
    println!(
        "payout {} from {} for {}: {} {}{}",
        p.id,
        p.pool,
        p.source,
        p.amount,
        p.state,
        p.beneficiary
            .as_ref()
            .map(|b| format!(" (to {b})"))
            .unwrap_or_default()
    );
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    let client = client(&remote)?;
    match command {
        PoolCommand::Create {
            name,
            title,
            purpose,
            rules,
        } => {
            let rules: Option<BountyRules> = match rules {
                Some(f) => Some(
                    serde_json::from_slice(
                        &std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?,
                    )
                    .with_context(|| format!("{}: not bounty rules JSON", f.display()))?,
                ),
                None => None,
            };
            print_pool(
                &client
                    .create_pool(&PoolSubmission {
                        name,
                        title,
                        purpose,
                        rules,
                    })
                    .await?,
            );
        }
        PoolCommand::List => {
            for p in client.pools().await?.pools {
                print_pool(&p);
            }
        }
        PoolCommand::Show { name } => {
            let p = client.funding_pool(&name).await?;
            print_pool(&p);
            for e in &p.entries {
                println!(
                    "  #{} {} {} {}{}",
                    e.id,
                    e.at,
                    e.kind,
                    e.amount,
                    e.party
                        .as_ref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default()
                );
            }
        }
        PoolCommand::Pledge { pool, amount } => {
            print_pool(&client.pledge(&pool, &PledgeSubmission { amount }).await?)
        }
        PoolCommand::Disburse {
            pool,
            amount,
            reason,
            award,
        } => print_pool(
            &client
                .disburse(
                    &pool,
                    &Disbursement {
                        amount,
                        reason,
                        award,
                    },
                )
                .await?,
        ),
        PoolCommand::Payouts => {
            for p in client.payouts().await?.payouts {
                print_payout(&p);
            }
        }
        PoolCommand::Decide {
            id,
            decision,
            reason,
        } => print_payout(
            &client
                .decide_payout(id, &PayoutDecision { decision, reason })
                .await?,
        ),
        PoolCommand::Statement { member } => {
            let s = client.statement(&member).await?;
            println!("statement of {} ({})", s.member, s.currency);
            for l in &s.pools {
                println!(
                    "  {}: pledged {}, paid to {} {}",
                    l.pool, l.pledged, s.member, l.paid_to_member
                );
            }
        }
    }
    Ok(())
}
