//! `weir classify`.

use anyhow::Result;
use serde_json::{Value, json};

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
            v["notification"]["due"].as_str().unwrap_or("?")
        );
        return Ok(());
    }
    let v = client(remote)?.classification(&id, rev).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    println!(
        "{id}@{} (tier {}, policy {})",
        &s(&v["revision"]),
        s(&v["tier"]),
        s(&v["policy"]["version"])
    );
    println!(
        "minimum tier {}: {}",
        s(&v["minimum_tier"]),
        s(&v["explanation"])
    );
    println!("\nrules:");
    for r in v["rules"].as_array().into_iter().flatten() {
        let fired = r["fired"].as_bool().unwrap_or(false);
        println!(
            "  [{}] {:<20} {:<4} {}\n        source: {}",
            if fired { "fired" } else { "  -  " },
            s(&r["rule"]),
            r["tier"].as_str().unwrap_or(""),
            s(&r["detail"]),
            s(&r["source"])
        );
    }
    println!("\ndomains:");
    for d in v["domains"].as_array().into_iter().flatten() {
        println!("  {:<13} {}", s(&d["domain"]), s(&d["outcome"]));
        for e in d["evidence"].as_array().into_iter().flatten() {
            println!("      - {}", e.as_str().unwrap_or(""));
        }
    }
    let ignored = v["ignored_results"].as_array().cloned().unwrap_or_default();
    if !ignored.is_empty() {
        println!("\nresults that do not count:");
        for i in ignored {
            println!(
                "  {} {}: {}",
                &s(&i["id"])[..12.min(s(&i["id"]).len())],
                s(&i["suite"]),
                s(&i["why"])
            );
        }
    }
    if let Some(n) = v["notification"].as_object() {
        println!(
            "\nnotification clock ({}): started {}, due {}{}",
            n.get("rule").and_then(Value::as_str).unwrap_or("-"),
            n.get("started_at").and_then(Value::as_str).unwrap_or("-"),
            n.get("due").and_then(Value::as_str).unwrap_or("-"),
            if let Some(at) = n.get("notified_at").and_then(Value::as_str) {
                format!(
                    " — notified {at} ({})",
                    n.get("reference").and_then(Value::as_str).unwrap_or("-")
                )
            } else if n.get("overdue").and_then(Value::as_bool) == Some(true) {
                " — OVERDUE".to_string()
            } else {
                format!(
                    " ({} days left)",
                    n.get("days_left").cloned().unwrap_or(json!("?"))
                )
            }
        );
    }
    if v["reassessment_due"].as_bool() == Some(true) {
        println!(
            "\nre-assessment due: training compute more than doubled since the last assessment"
        );
    }
    let errors = v["card"]["errors"].as_array().cloned().unwrap_or_default();
    for e in errors {
        println!("card problem: {}", e.as_str().unwrap_or(""));
    }
    Ok(())
}
