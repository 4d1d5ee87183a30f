//! Client calls for access control: terms, requests, reviews, checks, tiers and identity, and
//! custodial export. Each answers with its `weir_wire` type.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use weir_core::RepoId;
use weir_wire::access::{
    AccessCheck, AccessRequest, AccessRequests, AttestationAccepted, Gating, Identity,
    RequestAnswer, Terms, TermsAccepted, TierChange,
};
use weir_wire::exports::{Export, ExportLink, ExportRequest};

use crate::{Client, Result, encode_segment};

impl Client {
    /// A JSON call answered with `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let mut rb = self.request(method, &self.url(path));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn access_check(&self, repo: &RepoId, revision: &str) -> Result<AccessCheck> {
        self.call(
            reqwest::Method::GET,
            &format!(
                "/api/v1/access/check?repo={}&revision={}",
                encode_segment(&repo.to_string()),
                encode_segment(revision)
            ),
            None::<&()>,
        )
        .await
    }

    pub async fn accept_terms(&self, repo: &RepoId) -> Result<TermsAccepted> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/repos/{repo}/access/terms"),
            None::<&()>,
        )
        .await
    }

    pub async fn terms(&self, repo: &RepoId) -> Result<Terms> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/repos/{repo}/access/terms"),
            None::<&()>,
        )
        .await
    }

    pub async fn request_access(
        &self,
        repo: &RepoId,
        purpose: &str,
        fields: &[(String, String)],
    ) -> Result<RequestAnswer> {
        let fields: std::collections::BTreeMap<&str, &str> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/repos/{repo}/access/requests"),
            Some(&json!({"purpose": purpose, "fields": fields})),
        )
        .await
    }

    pub async fn my_requests(&self, repo: Option<&RepoId>) -> Result<AccessRequests> {
        let q = repo
            .map(|r| format!("?repo={}", encode_segment(&r.to_string())))
            .unwrap_or_default();
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/access/requests{q}"),
            None::<&()>,
        )
        .await
    }

    pub async fn list_requests(
        &self,
        repo: &RepoId,
        state: Option<&str>,
    ) -> Result<AccessRequests> {
        let q = state
            .map(|s| format!("?state={}", encode_segment(s)))
            .unwrap_or_default();
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/repos/{repo}/access/requests{q}"),
            None::<&()>,
        )
        .await
    }

    pub async fn review(
        &self,
        repo: &RepoId,
        user: &str,
        action: &str,
        reason: Option<&str>,
        expires_days: Option<u32>,
    ) -> Result<AccessRequest> {
        self.call(
            reqwest::Method::POST,
            &format!(
                "/api/v1/repos/{repo}/access/requests/{}",
                encode_segment(user)
            ),
            Some(&json!({"action": action, "reason": reason, "expires_days": expires_days})),
        )
        .await
    }

    pub async fn set_tier(
        &self,
        repo: &RepoId,
        tier: &str,
        reason: Option<&str>,
    ) -> Result<TierChange> {
        self.call(
            reqwest::Method::PUT,
            &format!("/api/v1/repos/{repo}/tier"),
            Some(&json!({"tier": tier, "reason": reason})),
        )
        .await
    }

    pub async fn set_gating(&self, repo: &RepoId, settings: &Gating) -> Result<Gating> {
        self.call(
            reqwest::Method::PUT,
            &format!("/api/v1/repos/{repo}/gating"),
            Some(settings),
        )
        .await
    }

    pub async fn identity(&self) -> Result<Identity> {
        self.call(reqwest::Method::GET, "/api/v1/identity", None::<&()>)
            .await
    }

    pub async fn submit_attestation(
        &self,
        attestation: &weir_signing::SignedAttestation,
    ) -> Result<AttestationAccepted> {
        self.call(
            reqwest::Method::POST,
            "/api/v1/identity/attestations",
            Some(attestation),
        )
        .await
    }
}

impl Client {
    pub async fn request_export(
        &self,
        repo: &RepoId,
        org: &str,
        purpose: &str,
        revision: &str,
    ) -> Result<Export> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/repos/{repo}/exports"),
            Some(&ExportRequest {
                org: org.to_string(),
                purpose: purpose.to_string(),
                revision: Some(revision.to_string()),
            }),
        )
        .await
    }

    pub async fn export(&self, id: i64) -> Result<Export> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/exports/{id}"),
            None::<&()>,
        )
        .await
    }

    pub async fn approve_export(&self, id: i64) -> Result<Export> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/exports/{id}/approve"),
            None::<&()>,
        )
        .await
    }

    pub async fn export_link(&self, id: i64) -> Result<ExportLink> {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/exports/{id}/link"),
            None::<&()>,
        )
        .await
    }

    /// Downloads an export link's tar into `out`.
    pub async fn fetch_export(&self, url: &str, out: &std::path::Path) -> Result<u64> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let resp = self.send(self.http.get(url)).await?;
        let tmp = out.with_extension("partial");
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(crate::io_err(tmp.display()))?;
        let mut n = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            n += chunk.len() as u64;
            f.write_all(&chunk)
                .await
                .map_err(crate::io_err(tmp.display()))?;
        }
        f.sync_all().await.map_err(crate::io_err(tmp.display()))?;
        tokio::fs::rename(&tmp, out)
            .await
            .map_err(crate::io_err(out.display()))?;
        Ok(n)
    }
}
