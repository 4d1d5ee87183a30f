//! Evaluation results as stored.

use sha2::{Digest, Sha256};
use weir_core::eval::ResultRecord;
use weir_store::Repo;
use weir_store::evals::StoredResult;

/// The stored form of a normalized result: its payload (the exact bytes an evaluator signs) and
/// its id (the payload's SHA-256), unsigned.
pub fn new_result(
    repo: &Repo,
    record: &ResultRecord,
    raw_log_name: &str,
    imported_by: &str,
    now: i64,
) -> StoredResult {
    // Serializing a record of plain fields cannot fail.
    let payload = serde_json::to_string(record).unwrap_or_default();
    StoredResult {
        id: hex::encode(Sha256::digest(payload.as_bytes())),
        repo_id: repo.id,
        commit: record.revision.clone(),
        suite: record.suite.clone(),
        payload,
        raw_log_sha256: record.raw_log_sha256.clone(),
        raw_log_name: raw_log_name.to_string(),
        imported_by: imported_by.to_string(),
        created_at: now,
        evaluator: None,
        signature: None,
        signed_at: None,
    }
}
