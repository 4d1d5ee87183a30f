//! `weir admin events`: the recorded events, newest first, filtered, as a table, NDJSON or CSV
//! (the same rows as `GET /api/v1/events`).

use anyhow::{Result, anyhow};
use weir_registry::clock::{parse_time, parse_until};
use weir_registry::events::{CSV_HEADER, MAX_READ, csv_line, record};
use weir_store::Store;
use weir_store::events::EventFilter;

#[derive(clap::Args)]
pub struct Args {
    /// Only events about this repo (NS/NAME).
    #[arg(long)]
    repo: Option<String>,
    /// Only events by this account.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action (`download`, `tier.set`, `access.review`, …).
    #[arg(long)]
    action: Option<String>,
    /// From this time on (2026-12-01, RFC 3339 or unix seconds).
    #[arg(long)]
    since: Option<String>,
    /// Up to this time.
    #[arg(long)]
    until: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// `table`, `ndjson` or `csv`.
    #[arg(long, default_value = "table")]
    format: String,
}

pub async fn run(store: &Store, args: Args) -> Result<()> {
    let parsed = |name: &str,
                  v: &Option<String>,
                  parse: fn(&str) -> Option<i64>|
     -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| {
                parse(s).ok_or_else(|| {
                    anyhow!("--{name} {s:?} is not a time; use 2026-12-01, 2026-12-01T12:00:00Z or unix seconds")
                })
            })
            .transpose()
    };
    let time = |name: &str, v: &Option<String>| parsed(name, v, parse_time);
    let until = |name: &str, v: &Option<String>| parsed(name, v, parse_until);
    if !(1..=MAX_READ).contains(&args.limit) {
        return Err(anyhow!("--limit is 1 to {MAX_READ}"));
    }
    let filter = EventFilter {
        repo: args.repo.clone(),
        actor: args.actor.clone(),
        action: args.action.clone(),
        since: time("since", &args.since)?,
        until: until("until", &args.until)?,
        before_id: None,
    };
    let events = store.db.query_events(&filter, args.limit).await?;
    let records = events.into_iter().map(|(id, e)| record(id, e));
    match args.format.as_str() {
        "table" => {
            for r in records {
                println!(
                    "{:>7}  {}  {:<22} {:<6} {:<28} {:<16} {}",
                    r.id,
                    r.at,
                    r.action,
                    r.decision,
                    r.repo.as_deref().unwrap_or("-"),
                    r.actor.as_deref().unwrap_or("-"),
                    r.reason
                );
            }
        }
        "ndjson" => {
            for r in records {
                println!("{}", serde_json::to_string(&r)?);
            }
        }
        "csv" => {
            print!("{CSV_HEADER}");
            for r in records {
                print!("{}", csv_line(&r));
            }
        }
        other => {
            return Err(anyhow!(
                "unknown --format {other:?}; use table, ndjson or csv"
            ));
        }
    }
    Ok(())
}
