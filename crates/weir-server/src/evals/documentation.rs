//! The EU GPAI Model Documentation Form fields the registry knows, as JSON or Markdown.

use crate::auth::Caller;
use crate::extract::Query;
use crate::lookup::Visible;
use crate::lookup::resolve_revision;
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weir_authz::Action;
use weir_core::RepoId;
use weir_registry::classification::classify_at;
use weir_wire::ErrorCode;

use crate::views::notification;

#[derive(Deserialize)]
pub struct DocQuery {
    revision: Option<String>,
    format: Option<String>,
}

pub(super) fn field(id: &str, name: &str, value: Value, source: &str) -> Value {
    let known = !value.is_null();
    json!({"id": id, "field": name, "value": value, "source": if known { source } else { "unknown" }})
}

pub(super) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// `GET /api/v1/models/{ns}/{name}/documentation?revision=&format=json|markdown`: the fields of
/// the EU GPAI Code of Practice Model Documentation Form that the registry knows, each with
/// where the value comes from (`registry`, `card`, or `unknown`).
pub(super) async fn documentation(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, facts: _ }: Visible,
    Query(q): Query<DocQuery>,
) -> Result<Response, ApiError> {
    let markdown = match q.format.as_deref() {
        None | Some("json") => false,
        Some("markdown") | Some("md") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidFormat,
                format!("unknown format {other:?}"),
            )
            .next("use json or markdown"));
        }
    };
    let releases = state.store.db.releases_of(&repo).await?;
    // The documented revision: the one asked for, else the latest release, else main.
    let commit = match (&q.revision, releases.first()) {
        (Some(r), _) => resolve_revision(&state, &repo, r).await?,
        (None, Some(rel)) => rel.commit.clone(),
        (None, None) => resolve_revision(&state, &repo, "main").await?,
    };
    let (c, card, policy) = classify_at(&state.store, &repo, &commit).await?;
    let release = releases.iter().find(|r| r.commit == commit);
    let base_url = &state.config.public_url;
    let mut deps = Vec::new();
    for b in &card.base_models {
        let mut d = json!({"model": b, "in_registry": false});
        // A base the caller cannot see is documented exactly like one not in the registry.
        if let Ok(id) = RepoId::parse(b)
            && let Some(base) = state.store.db.repo(&id).await?
            && caller
                .authorize(&Action::ReadMetadata(&crate::gate::facts(&base)))
                .allow
        {
            d["in_registry"] = json!(true);
            d["tier"] = json!(base.tier.as_str());
            if let Some(r) = state.store.db.releases_of(&base).await?.first() {
                d["release"] = json!({
                    "commit": r.commit.as_str(),
                    "bundle_sha256": sha256_hex(&r.bundle),
                    "bundle_url": format!("{base_url}/api/v1/models/{id}/releases/{}/model.sig", r.commit),
                });
            }
        }
        deps.push(d);
    }
    let data = |k: &str| card.data.get(k).cloned().unwrap_or(Value::Null);
    let stored = state.store.db.classification(&repo).await?;
    let owner = state
        .store
        .db
        .account(repo.repo_id.namespace.as_str())
        .await?;
    let fields = vec![
        field("1.1", "Provider", json!(owner.map(|a| a.name.to_string())), "registry"),
        field("1.2", "Model name", json!(repo.repo_id.to_string()), "registry"),
        field(
            "1.2",
            "Public versions",
            json!(releases.iter().map(|r| json!({"commit": r.commit.as_str(), "released_at": iso8601(r.created_at)})).collect::<Vec<_>>()),
            "registry",
        ),
        field(
            "1.3",
            "Model authenticity (secure hash)",
            match release {
                Some(r) => json!({
                    "algorithm": "sha256",
                    "revision": commit.as_str(),
                    "signed_manifest_sha256": sha256_hex(&r.bundle),
                    "bundle_url": format!("{base_url}/api/v1/models/{}/releases/{commit}/model.sig", repo.repo_id),
                    "transparency_log_proof_url": format!("{base_url}/api/v1/models/{}/releases/{commit}/model.sig.tlog-proof", repo.repo_id),
                }),
                None => Value::Null,
            },
            "registry",
        ),
        field("1.4", "Release date", json!(release.map(|r| iso8601(r.created_at))), "registry"),
        field("1.5", "Union market release date", Value::Null, "unknown"),
        field("1.6", "Model dependencies", if card.base_models.is_empty() { json!("N/A") } else { json!(deps) }, "card"),
        field("2.1", "Architecture", data("architecture"), "card"),
        field("2.3", "Modalities (pipeline tag)", data("pipeline_tag"), "card"),
        field(
            "2.x",
            "Total parameters",
            json!(card.parameters.map(|p| format!("{p:.1e}"))),
            "card",
        ),
        field("3.x", "Licence", json!(card.license), "card"),
        field(
            "3.x",
            "Distribution channels",
            json!(format!("weir registry {base_url}/{}, tier {} ({})", repo.repo_id, repo.tier.as_str(), repo.tier.name())),
            "registry",
        ),
        field("4.x", "Acceptable use policy (access terms)", if repo.gating.terms.trim().is_empty() { Value::Null } else { json!(repo.gating.terms) }, "registry"),
        field("5.x", "Training data", data("datasets"), "card"),
        field(
            "6.x",
            "Training compute (FLOP)",
            json!(card.training_compute_flop.map(|x| format!("{x:.2e}"))),
            "card",
        ),
        field("6.x", "Training time", data("training_time"), "card"),
        field("6.x", "Energy consumption", data("energy_kwh"), "card"),
        field(
            "7.x",
            "Systemic risk",
            json!({
                "presumed": c.presumption,
                "rule": "EU AI Act art. 51(2) (policy: compute_presumption)",
                "notification": notification(stored.as_ref().and_then(|s| s.presumption_since).filter(|_| c.presumption), stored.as_ref().and_then(|s| s.notified.as_ref()), &policy.policy, now()),
                "minimum_tier": c.minimum_tier.as_str(),
                "deciding_rule": c.deciding_rule,
                "counted_evaluations": c.counted_results,
                "policy_version": policy.policy.version,
            }),
            "registry",
        ),
        field("-", "Responsible contact", json!(card.contact), "card"),
    ];
    let doc = json!({
        "form": "EU GPAI Code of Practice, Transparency chapter: Model Documentation Form (fields the registry knows)",
        "repo": repo.repo_id.to_string(),
        "revision": commit.as_str(),
        "generated_at": iso8601(now()),
        "fields": fields,
    });
    if !markdown {
        return Ok(Json(doc).into_response());
    }
    let mut md = format!(
        "# Model documentation: {}\n\nRevision `{}`. Generated {} by the weir registry from what it knows; \
         fields marked *unknown* are for the provider to complete.\n\n| # | Field | Value | Source |\n|---|---|---|---|\n",
        repo.repo_id,
        commit.as_str(),
        iso8601(now())
    );
    for f in doc["fields"].as_array().into_iter().flatten() {
        let value = match &f["value"] {
            Value::Null => "*unknown*".to_string(),
            Value::String(s) => s.clone(),
            other => format!("`{other}`"),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            f["id"].as_str().unwrap_or(""),
            f["field"].as_str().unwrap_or(""),
            md_cell(&value),
            f["source"].as_str().unwrap_or("")
        ));
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )],
        md,
    )
        .into_response())
}

/// A value inside a Markdown table cell: no pipes or newlines, no HTML (rendered inertly).
pub(super) fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}
