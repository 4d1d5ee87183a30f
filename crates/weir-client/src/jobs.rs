//! Research-environment jobs: submit, read, cancel, outputs, review.

use weir_wire::jobs::{Job, JobSubmission, Jobs, OutputReview, Reviewed};

use crate::{Client, Result};

impl Client {
    pub async fn submit_job(&self, sub: &JobSubmission) -> Result<Job> {
        self.call(reqwest::Method::POST, "/api/v1/jobs", Some(sub))
            .await
    }

    pub async fn job(&self, id: i64) -> Result<Job> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/jobs/{id}"),
            None::<&()>,
        )
        .await
    }

    pub async fn jobs(&self, project: &str) -> Result<Jobs> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/jobs?project={}", crate::encode_segment(project)),
            None::<&()>,
        )
        .await
    }

    pub async fn job_log(&self) -> Result<Jobs> {
        self.call(reqwest::Method::GET, "/api/v1/jobs/log", None::<&()>)
            .await
    }

    /// The jobs awaiting review that the caller may check (operators, designated checkers).
    pub async fn review_queue(&self) -> Result<Jobs> {
        self.call(reqwest::Method::GET, "/api/v1/jobs/review", None::<&()>)
            .await
    }

    pub async fn cancel_job(&self, id: i64) -> Result<Job> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/jobs/{id}/cancel"),
            None::<&()>,
        )
        .await
    }

    pub async fn review_job(&self, id: i64, review: &OutputReview) -> Result<Reviewed> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/jobs/{id}/review"),
            Some(review),
        )
        .await
    }

    /// The bytes of `GET path` (a job's logs or one output file).
    async fn job_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self
            .send(self.request(reqwest::Method::GET, &self.url(path)))
            .await?;
        Ok(resp.bytes().await?.to_vec())
    }

    pub async fn job_logs(&self, id: i64) -> Result<Vec<u8>> {
        self.job_bytes(&format!("/api/v1/jobs/{id}/logs")).await
    }

    pub async fn job_output(&self, id: i64, path: &str) -> Result<Vec<u8>> {
        self.job_bytes(&format!(
            "/api/v1/jobs/{id}/outputs/{}",
            crate::encode_path(path)
        ))
        .await
    }
}
