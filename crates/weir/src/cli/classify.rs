//! `weir classify`.

use anyhow::Result;

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    /// NS/NAME[@REV]
    repo: String,
    /// Print the JSON the API returns.
    #[arg(long)]
    json: bool,
    /// (publisher) Record that the notification the compute presumption asks for was made,
    /// with its reference; this meets the notification clock.
    #[arg(long, value_name = "REFERENCE")]
    notified: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        repo,
        json,
        notified,
        remote,
    } = args;
    classify(&repo, json, notified.as_deref(), &remote).await
}

async fn classify(
    repo: &str,
    as_json: bool,
    notified: Option<&str>,
    remote: &Remote,
) -> Result<()> {
    let (r, rev) = split_rev(repo);
    let id = repo_id(r)?;
    if let Some(reference) = notified {
        let v = client(remote)?.record_notification(&id, reference).await?;
        println!(
            "{id}: notification recorded ({}), clock due {} is met",
            reference,
            v.notification.map(|n| n.due).unwrap_or_else(|| "-".into())
        );
        return Ok(());
    }
    let v = client(remote)?.classification(&id, rev).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{id}@{} (tier {}, policy {})",
        v.revision, v.tier, v.policy.version
    );
    println!("minimum tier {}: {}", v.minimum_tier, v.explanation);
    println!("\nrules:");
    for r in &v.rules {
        println!(
            "  [{}] {:<20} {:<4} {}\n        source: {}",
            if r.fired { "fired" } else { "  -  " },
            r.rule,
            r.tier.as_deref().unwrap_or(""),
            r.detail,
            r.source
        );
    }
    println!("\ndomains:");
    for d in &v.domains {
        println!("  {:<13} {}", d.domain, d.outcome);
        for e in &d.evidence {
            println!("      - {e}");
        }
    }
    if !v.ignored_results.is_empty() {
        println!("\nresults that do not count:");
        for i in &v.ignored_results {
            println!(
                "  {} {}: {}",
                i.id.get(..12).unwrap_or(&i.id),
                i.suite,
                i.why
            );
        }
    }
    if let Some(n) = &v.notification {
        println!(
            "\nnotification clock ({}): started {}, due {}{}",
            n.rule,
            n.started_at,
            n.due,
            if let Some(at) = &n.notified_at {
                format!(
                    " — notified {at} ({})",
                    n.reference.as_deref().unwrap_or("-")
                )
            } else if n.overdue {
                " — OVERDUE".to_string()
            } else {
                format!(" ({} days left)", n.days_left)
            }
        );
    }
    if v.reassessment_due {
        println!(
            "\nre-assessment due: training compute more than doubled since the last assessment"
        );
    }
    for e in &v.card.errors {
        println!("card problem: {e}");
    }
    Ok(())
}
