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
