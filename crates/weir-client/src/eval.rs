//! Client calls for evaluations and classification: import a harness log, sign a result as an
//! accredited evaluator, read a classification, file and review hazard evidence, export the
//! model documentation.
//!
//! Invariant: an evaluator signs only a payload it checked. `sign_result` refuses a payload
//! that does not parse as a result record, and, given the raw log, one whose numbers or log
//! digest differ from what this machine reads in that log.

use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};
use weir_core::RepoId;
use weir_core::eval::ResultRecord;

use weir_wire::evals::{
    Classification, EvalResult, EvalResults, Evaluators, Evidence, EvidenceList,
    NotificationRecorded, PolicyInForce, Suites,
};

use crate::{Client, ClientError, Result, encode_segment, io_err};

/// Reads and hashes a log locally (blocking; call from `spawn_blocking`).
fn read_log(path: &Path) -> Result<(weir_eval::ParsedLog, String)> {
    let f = std::fs::File::open(path).map_err(io_err(path.display()))?;
    let parsed = weir_eval::parse(std::io::BufReader::new(f))
        .map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))?;
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path).map_err(io_err(path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).map_err(io_err(path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok((parsed, hex::encode(h.finalize())))
}

async fn read_log_async(path: &Path) -> Result<(weir_eval::ParsedLog, String)> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || read_log(&p))
        .await
        .map_err(|e| ClientError::Invalid(e.to_string()))?
}

impl Client {
    /// Uploads a raw harness log for `suite` on `repo@revision`. The log is parsed here first,
    /// so a file weir cannot read fails before any byte is sent.
    pub async fn import_eval(
        &self,
        repo: &RepoId,
        revision: &str,
        suite: &str,
        file: &Path,
    ) -> Result<EvalResult> {
        read_log_async(file).await?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "log".into());
        let f = tokio::fs::File::open(file)
            .await
            .map_err(io_err(file.display()))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
        let url = self.url(&format!(
            "/api/v1/models/{repo}/evaluations?revision={}&suite={}&filename={}",
            encode_segment(revision),
            encode_segment(suite),
            encode_segment(&name)
        ));
        let rb = self.request(reqwest::Method::POST, &url).body(body);
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn eval_result(&self, id: &str) -> Result<EvalResult> {
        self.get_json(&format!("/api/v1/evaluations/{}", encode_segment(id)))
            .await
    }

    /// Signs result `id` as `evaluator` with its Ed25519 secret key (hex) and submits the
    /// signature. With `check`, the payload must match what this machine reads in that raw log.
    pub async fn sign_eval(
        &self,
        id: &str,
        evaluator: &str,
        secret_hex: &str,
        check: Option<&Path>,
    ) -> Result<EvalResult> {
        let r = self.eval_result(id).await?;
        let payload = r.payload.as_str();
        let record: ResultRecord = serde_json::from_str(payload).map_err(|e| {
            ClientError::Invalid(format!(
                "result {id}: the payload is not a result record: {e}"
            ))
        })?;
        if hex::encode(Sha256::digest(payload.as_bytes())) != id {
            return Err(ClientError::Invalid(format!(
                "result {id}: the served payload does not hash to its id; refusing to sign"
            )));
        }
        if let Some(path) = check {
            let (parsed, sha) = read_log_async(path).await?;
            if sha != record.raw_log_sha256 {
                return Err(ClientError::Invalid(format!(
                    "{} has SHA-256 {sha}, but result {id} is about a log with {}; refusing to sign",
                    path.display(),
                    record.raw_log_sha256
                )));
            }
            let task = parsed
                .tasks
                .iter()
                .find(|t| t.task == record.task)
                .ok_or_else(|| {
                    ClientError::Invalid(format!(
                        "{} has no task {}; refusing to sign",
                        path.display(),
                        record.task
                    ))
                })?;
            let local = ["acc", "accuracy", record.metric.as_str()]
                .iter()
                .find_map(|m| task.metrics.get(*m).copied());
            if local != Some(record.value) {
                return Err(ClientError::Invalid(format!(
                    "{} gives {} = {local:?} for {}, but the result says {}; refusing to sign",
                    path.display(),
                    record.metric,
                    record.task,
                    record.value
                )));
            }
        }
        let signature = weir_signing::sign_result(payload, secret_hex)
            .map_err(|e| ClientError::Invalid(format!("evaluator key: {e}")))?;
        let rb = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!(
                    "/api/v1/evaluations/{}/signature",
                    encode_segment(id)
                )),
            )
            .json(&json!({"evaluator": evaluator, "signature": signature}));
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn classification(&self, repo: &RepoId, revision: &str) -> Result<Classification> {
        self.get_json(&format!(
            "/api/v1/models/{repo}/classification?revision={}",
            encode_segment(revision)
        ))
        .await
    }

    pub async fn record_notification(
        &self,
        repo: &RepoId,
        reference: &str,
    ) -> Result<NotificationRecorded> {
        let rb = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!("/api/v1/models/{repo}/classification/notified")),
            )
            .json(&json!({ "reference": reference }));
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn file_evidence(
        &self,
        repo: &RepoId,
        domain: &str,
        summary: &str,
    ) -> Result<Evidence> {
        let rb = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!("/api/v1/models/{repo}/evidence")),
            )
            .json(&json!({"domain": domain, "summary": summary}));
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn evidence(&self, repo: &RepoId) -> Result<EvidenceList> {
        self.get_json(&format!("/api/v1/models/{repo}/evidence"))
            .await
    }

    pub async fn review_evidence(
        &self,
        id: i64,
        decision: &str,
        severity: Option<&str>,
        reason: &str,
    ) -> Result<Evidence> {
        let rb = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!("/api/v1/evidence/{id}/review")),
            )
            .json(&json!({"decision": decision, "severity": severity, "reason": reason}));
        Ok(self.send(rb).await?.json().await?)
    }

    /// The EU GPAI Model Documentation Form fields the registry knows, as JSON or Markdown.
    pub async fn documentation(
        &self,
        repo: &RepoId,
        revision: &str,
        markdown: bool,
    ) -> Result<String> {
        let url = self.url(&format!(
            "/api/v1/models/{repo}/documentation?revision={}&format={}",
            encode_segment(revision),
            if markdown { "markdown" } else { "json" }
        ));
        Ok(self
            .send(self.request(reqwest::Method::GET, &url))
            .await?
            .text()
            .await?)
    }

    pub async fn suites(&self) -> Result<Suites> {
        self.get_json("/api/v1/eval/suites").await
    }

    pub async fn evaluators(&self) -> Result<Evaluators> {
        self.get_json("/api/v1/evaluators").await
    }

    pub async fn eval_results(&self, repo: &RepoId) -> Result<EvalResults> {
        self.get_json(&format!("/api/v1/models/{repo}/evaluations"))
            .await
    }

    pub async fn policy(&self) -> Result<PolicyInForce> {
        self.get_json("/api/v1/policy").await
    }
}
