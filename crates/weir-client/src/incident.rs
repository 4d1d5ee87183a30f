//! Client calls for incidents, the OSV feed, publisher records, notifications and release
//! sign-offs, each answered with its `weir_wire` type; anonymous reporters pass their follow-up
//! token, which travels in the `X-Weir-Followup` header.

use std::path::Path;

use serde_json::json;
use weir_core::RepoId;

use weir_wire::incidents::{
    Attachment, Incident, Incidents, MarkedRead, Notifications, OsvRecord, PublisherRecord, Report,
    Signoff, TransitionRequest, WebhookCreated,
};

use crate::{Client, Result, encode_segment, io_err};

impl Client {
    fn with_followup(
        &self,
        rb: reqwest::RequestBuilder,
        followup: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match followup {
            Some(t) => rb.header("x-weir-followup", t),
            None => rb,
        }
    }

    pub async fn report_incident(&self, body: &Report) -> Result<Incident> {
        let rb = self
            .request(reqwest::Method::POST, &self.url("/api/v1/incidents"))
            .json(body);
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn incidents(&self, query: &[(&str, String)]) -> Result<Incidents> {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_segment(v)))
            .collect();
        self.get_json(&format!("/api/v1/incidents?{}", q.join("&")))
            .await
    }

    pub async fn incident(&self, id: &str, followup: Option<&str>) -> Result<Incident> {
        let rb = self.with_followup(
            self.request(
                reqwest::Method::GET,
                &self.url(&format!("/api/v1/incidents/{}", encode_segment(id))),
            ),
            followup,
        );
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn incident_transition(
        &self,
        id: &str,
        body: &TransitionRequest,
        followup: Option<&str>,
    ) -> Result<Incident> {
        let rb = self.with_followup(
            self.request(
                reqwest::Method::POST,
                &self.url(&format!(
                    "/api/v1/incidents/{}/transition",
                    encode_segment(id)
                )),
            )
            .json(body),
            followup,
        );
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn incident_update(
        &self,
        id: &str,
        note: &str,
        final_report: bool,
    ) -> Result<Incident> {
        let rb = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!("/api/v1/incidents/{}/updates", encode_segment(id))),
            )
            .json(&json!({"note": note, "final": final_report}));
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn incident_attach(
        &self,
        id: &str,
        file: &Path,
        followup: Option<&str>,
    ) -> Result<Attachment> {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "attachment".into());
        let f = tokio::fs::File::open(file)
            .await
            .map_err(io_err(file.display()))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
        let rb = self.with_followup(
            self.request(
                reqwest::Method::POST,
                &self.url(&format!(
                    "/api/v1/incidents/{}/attachments?name={}",
                    encode_segment(id),
                    encode_segment(&name)
                )),
            )
            .body(body),
            followup,
        );
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn osv_all(&self) -> Result<Vec<OsvRecord>> {
        self.get_json("/osv/all.json").await
    }

    pub async fn publisher_record(&self, name: &str) -> Result<PublisherRecord> {
        self.get_json(&format!(
            "/api/v1/publishers/{}/record",
            encode_segment(name)
        ))
        .await
    }

    pub async fn notifications(&self) -> Result<Notifications> {
        self.get_json("/api/v1/notifications").await
    }

    pub async fn mark_notification_read(&self, id: i64) -> Result<MarkedRead> {
        let rb = self.request(
            reqwest::Method::POST,
            &self.url(&format!("/api/v1/notifications/{id}/read")),
        );
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn set_webhook(&self, url: &str) -> Result<WebhookCreated> {
        let rb = self
            .request(
                reqwest::Method::PUT,
                &self.url("/api/v1/notifications/webhook"),
            )
            .json(&json!({ "url": url }));
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn remove_webhook(&self) -> Result<()> {
        let rb = self.request(
            reqwest::Method::DELETE,
            &self.url("/api/v1/notifications/webhook"),
        );
        self.send(rb).await?;
        Ok(())
    }

    pub async fn signoff(&self, repo: &RepoId, revision: &str, reason: &str) -> Result<Signoff> {
        let rb = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!(
                    "/api/v1/repos/{repo}/releases/{}/signoff",
                    encode_segment(revision)
                )),
            )
            .json(&json!({ "reason": reason }));
        Ok(self.send(rb).await?.json().await?)
    }
}
