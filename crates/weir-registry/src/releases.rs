//! Releases: a commit's manifest signed as an OpenSSF model-signing bundle, recorded with its log
//! event.

use serde_json::json;
use sha2::{Digest, Sha256};
use weir_signing::model_signing::{Resource, is_ignored, statement};

/// Signs `commit`'s manifest and records the release with its log event (whose `public` details
/// name the repo, commit and bundle digest). Returns the release, the file count and the bundle's
/// SHA-256. Used by the HTTP endpoint and by `--demo`.
pub async fn release_commit(
    store: &weir_store::Store,
    key: &weir_signing::model_signing::ReleaseKey,
    repo: &weir_store::Repo,
    commit: &weir_core::CommitId,
    mut event: weir_core::Event,
) -> Result<(weir_store::releases::Release, usize, String), weir_store::StoreError> {
    // The manifest comes from the content addresses we already hold: no file is re-read.
    let mut resources = Vec::new();
    for file in store.db.files(repo, commit).await? {
        if is_ignored(file.path.as_str(), &[]) {
            continue;
        }
        let mut d = [0u8; 32];
        hex::decode_to_slice(file.sha256.as_str(), &mut d)
            .map_err(|e| weir_store::StoreError::Corrupt(e.to_string()))?;
        resources.push(Resource {
            name: file.path.to_string(),
            sha256: d,
        });
    }
    let payload = statement(repo.repo_id.name.as_str(), &resources);
    let bundle = key
        .sign(&payload)
        .map_err(|e| weir_store::StoreError::Corrupt(e.to_string()))?;
    let bundle_sha256 = hex::encode(Sha256::digest(bundle.as_bytes()));
    event.details = json!({"public": {"repo": repo.repo_id.to_string(), "commit": commit.as_str(), "bundle_sha256": bundle_sha256, "tier": repo.tier.as_str()}});
    let r = store
        .db
        .create_release(repo, commit, &bundle, &event)
        .await?;
    Ok((r, resources.len(), bundle_sha256))
}

/// The release gate on pickle-based files: every file of `commit` is scanned (now, if it never
/// was), and a file graded as the policy refuses stops the release, naming the file and what it
/// imports.
pub async fn serialization_allowed(
    store: &weir_store::Store,
    policy: &weir_core::policy::Policy,
    repo: &weir_store::Repo,
    commit: &weir_core::CommitId,
) -> Result<(), crate::ServiceError> {
    use weir_core::pickle::Safety;
    use weir_core::policy::Verdict;
    let rules = &policy.serialization;
    let mut refused = Vec::new();
    let mut facts: Vec<_> = store
        .ensure_commit_facts(repo, commit)
        .await?
        .into_iter()
        .collect();
    facts.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, f) in facts {
        let Some(report) = f.pickle else { continue };
        let graded = match report.safety() {
            Safety::Innocuous => Verdict::Allow,
            Safety::Suspicious => rules.suspicious_serialization,
            Safety::Dangerous => rules.unsafe_serialization,
        };
        // An unfinished scan is refused on its own rule, whatever the imports it did read.
        let unread = match report.incomplete {
            Some(_) => rules.unscannable_serialization,
            None => Verdict::Allow,
        };
        let verdict = if graded == Verdict::Refuse || unread == Verdict::Refuse {
            Verdict::Refuse
        } else {
            Verdict::Allow
        };
        if verdict == Verdict::Refuse {
            let worst = report.safety();
            let imports: Vec<String> = report
                .imports
                .iter()
                .filter(|i| i.safety == worst)
                .take(5)
                .map(|i| format!("{}.{}", i.module, i.name))
                .collect();
            let why = match (&report.incomplete, imports.is_empty()) {
                (Some(stop), true) => format!("the scan could not finish: {stop}"),
                (Some(stop), false) => {
                    format!(
                        "imports {}; the scan could not finish: {stop}",
                        imports.join(", ")
                    )
                }
                (None, _) => format!("imports {}", imports.join(", ")),
            };
            refused.push(format!("{path} is {} ({why})", worst.status()));
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(crate::ServiceError::refused(
        crate::Kind::Conflict,
        weir_wire::error::ErrorCode::UnsafeSerialization,
        format!(
            "{}@{} cannot be released: {}; loading a pickle runs the code it imports",
            repo.repo_id,
            &commit.as_str()[..12],
            refused.join("; ")
        ),
    )
    .next(
        "convert the weights to safetensors and commit them instead, or ask an operator to allow it in the policy ([serialization] in weir admin policy)",
    ))
}
