//! The OSV feed of disclosed records: `/osv/all.json` and `/osv/{id}.json`.

use crate::extract::Path;
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use weir_core::Tier;
use weir_store::Repo;
use weir_store::incidents::Incident;
use weir_wire::ErrorCode;

use super::*;

/// An OSV 1.7 record for a disclosed incident (governance-anchors §4.4, §4.6).
pub fn osv_record(i: &Incident, repo: &Repo, public_url: &str, tier: Tier, at: i64) -> Value {
    let repo_url = format!("{public_url}/{}", repo.repo_id);
    let purl = |rev: &str| {
        format!(
            "pkg:huggingface/{}/{}@{rev}?repository_url={}",
            repo.repo_id.namespace,
            repo.repo_id.name,
            percent_encoding::utf8_percent_encode(public_url, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    let mut events =
        vec![json!({"introduced": i.revisions.first().cloned().unwrap_or_else(|| "0".into())})];
    if let Some(f) = &i.fixed_revision {
        events.push(json!({"fixed": f}));
    }
    let details: Map<String, Value> = serde_json::from_str(&i.details).unwrap_or_default();
    let mut text = String::new();
    for k in DETAIL_FIELDS {
        if let Some(v) = details.get(*k).and_then(Value::as_str) {
            // OSV `details` is CommonMark: reporters' text must not become live HTML there.
            let inert = crate::views::html_escape(v);
            text.push_str(&format!("**{}**: {}\n\n", k.replace('_', " "), inert));
        }
    }
    let clocks = clocks_json(i, at);
    let mut record = json!({
        "schema_version": "1.7.5",
        "id": i.osv_id,
        "modified": iso8601(i.updated_at),
        "published": iso8601(i.disclosed_at.unwrap_or(i.updated_at)),
        "aliases": i.aliases,
        "summary": i.summary,
        "details": text.trim_end(),
        "affected": [{
            "ranges": [{"type": "GIT", "repo": repo_url, "events": events}],
            "versions": i.revisions,
            "database_specific": {
                "purl": purl(i.revisions.first().map(String::as_str).unwrap_or("")),
                "purls": i.revisions.iter().map(|r| purl(r)).collect::<Vec<_>>(),
            },
        }],
        "references": [
            {"type": "REPORT", "url": format!("{public_url}/api/v1/incidents/{}", i.osv_id)},
            {"type": "PACKAGE", "url": repo_url},
        ],
        "database_specific": {
            "kind": i.kind,
            "class": i.class,
            "severity": i.severity,
            "hazard_domain": i.domain,
            "state": i.state,
            "tier": tier.as_str(),
            "in_the_wild": i.in_the_wild,
            "delivery_hold": i.hold,
            "reported_at": iso8601(i.aware_at),
            "clocks": clocks["clocks"],
            "disclosure": {
                "policy": if i.in_the_wild { "7 days (exploited in the wild)" } else { "90 days, or 30 after a fix" },
                "due": clocks["disclosure_due"],
                "embargo_until": i.embargo_until.map(iso8601),
            },
        },
    });
    if let Some(w) = i.withdrawn_at {
        record["withdrawn"] = json!(iso8601(w));
    }
    record
}

pub(super) async fn public_records(state: &AppState) -> Result<Vec<(Incident, Value)>, ApiError> {
    let at = now();
    let repos = state.store.db.list_repos().await?;
    let mut out = Vec::new();
    for i in state.store.db.incidents(None).await? {
        if !is_public(&i) {
            continue;
        }
        let Some(repo) = repos.iter().find(|r| r.id == i.repo_id) else {
            continue;
        };
        // Private repos never appear in the public feed.
        if repo.private {
            continue;
        }
        let v = osv_record(&i, repo, &state.config.public_url, repo.tier, at);
        out.push((i, v));
    }
    Ok(out)
}

/// `GET /osv/all.json`: every disclosed record (a JSON array of OSV records).
pub(super) async fn osv_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let v: Vec<Value> = public_records(&state)
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    Ok(Json(Value::Array(v)))
}

pub(super) async fn osv_one(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = file.strip_suffix(".json").unwrap_or(&file);
    public_records(&state)
        .await?
        .into_iter()
        .find(|(i, _)| i.osv_id == id)
        .map(|(_, v)| Json(v))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("no disclosed record {id}"),
            )
            .next("only disclosed records are public; see /osv/all.json")
        })
}
