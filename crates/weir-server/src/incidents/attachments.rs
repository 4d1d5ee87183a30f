//! Incident attachments: upload (bounded, rate-limited for anonymous reporters) and download.

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Path, Query};
use crate::limits::{MAX_ANON_ATTACHMENT, MAX_ATTACHMENT, MAX_ATTACHMENTS, MAX_REPORT_ATTACHMENTS};
use crate::{ApiError, AppState, gate, now};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use weir_store::blobs::Expect;
use weir_store::incidents::Attachment;
use weir_wire::ErrorCode;
use weir_wire::incidents as wire;

use super::*;

#[derive(Deserialize)]
pub struct AttachQuery {
    name: String,
}

pub(super) async fn attach(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    addr: Option<axum::Extension<crate::conn::ClientAddr>>,
    Path(id): Path<String>,
    Query(q): Query<AttachQuery>,
    body: Body,
) -> Result<(StatusCode, Json<wire::Attachment>), ApiError> {
    let (i, repo, role) = load(&state, &caller, &meta, &id).await?;
    if role.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAllowed,
            "Only the reporter, the publisher and operators attach files.",
        ));
    }
    let name: String = q.name.trim().to_string();
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\\']) {
        return Err(bad(
            ErrorCode::InvalidName,
            "an attachment name is 1–200 characters without slashes",
        ));
    }
    check_text("name", &name, 200)?;
    // Bounded per report (count and total) and per attachment; anonymous reporters also per
    // address per day. The cap of the stream is what is left of all three.
    let existing = state.store.db.attachments(i.id).await?;
    if existing.len() >= MAX_ATTACHMENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyAttachments,
            format!("a report has at most {MAX_ATTACHMENTS} attachments"),
        )
        .next("bundle the files into one archive"));
    }
    let used: u64 = existing.iter().map(|a| a.size.max(0) as u64).sum();
    let left = MAX_REPORT_ATTACHMENTS.saturating_sub(used);
    let per_file = if caller.anonymous() {
        MAX_ANON_ATTACHMENT
    } else {
        MAX_ATTACHMENT
    };
    let mut cap = per_file.min(left);
    let addr_key = caller
        .anonymous()
        .then(|| format!("attach:addr:{}", client_key(addr.as_ref())));
    let mut window = 0;
    if let Some(k) = addr_key.as_ref().filter(|_| cap > 0) {
        // Reserve what the address has left of the cap, give back what was not used.
        let l = crate::limits::ANON_ATTACHMENT_BYTES;
        let want = i64::try_from(cap).unwrap_or(i64::MAX);
        match state.store.db.take_rate_up_to(k, want, l, now()).await? {
            Ok((reserved, w)) => {
                cap = u64::try_from(reserved).unwrap_or(0);
                window = w;
            }
            Err(wait) => {
                return Err(rate_limited(
                    "attachment bytes from this address today",
                    wait,
                ));
            }
        }
    }
    if cap == 0 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "the report's attachments already total {used} bytes; at most {MAX_REPORT_ATTACHMENTS}"
            ),
        ));
    }
    let ingested = state
        .store
        .ingest(
            body.into_data_stream(),
            Expect {
                max_size: Some(cap),
                ..Expect::default()
            },
        )
        .await;
    if let Some(k) = &addr_key {
        let kept = ingested.as_ref().map(|(_, n)| *n).unwrap_or(0);
        let unused = i64::try_from(cap - kept.min(cap)).unwrap_or(0);
        // Not giving back only costs the address some of its allowance: never fail for it.
        if let Err(e) = state.store.db.give_back_rate(k, unused, window).await {
            tracing::warn!(error = %e, "could not give back unused attachment bytes");
        }
    }
    let (sha, size) = ingested?;
    let added_by = caller
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|| "reporter (follow-up token)".into());
    let a = Attachment {
        name,
        sha256: sha.to_string(),
        size: size as i64,
        added_by,
        at: now(),
    };
    let mut e = gate::event(
        &caller,
        &meta,
        "incident.attachment",
        Some(&repo),
        "change",
        "attached",
        json!({"public": {"id": i.osv_id}, "sha256": a.sha256, "name": a.name}),
    );
    e.subject = Some(i.osv_id.clone());
    state
        .store
        .db
        .add_attachment_logged(
            i.id,
            &a,
            &e,
            MAX_ATTACHMENTS as i64,
            MAX_REPORT_ATTACHMENTS as i64,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::Attachment {
            name: a.name,
            sha256: a.sha256,
            size: a.size,
        }),
    ))
}

/// Attachments are only ever downloaded: `application/octet-stream`, `attachment`, `nosniff`,
/// and a sandboxing CSP, so a browser never renders or runs them.
pub(super) async fn attachment(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (i, _, role) = load(&state, &caller, &meta, &id).await?;
    if role.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAllowed,
            "Attachments are for the reporter, the publisher and operators.",
        ));
    }
    let a = state
        .store
        .db
        .attachments(i.id)
        .await?
        .into_iter()
        .find(|a| a.sha256 == sha)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such attachment",
            )
        })?;
    let sha = weir_core::Sha256Hex::parse(&a.sha256).map_err(|_| ApiError::internal())?;
    let path = state
        .store
        .blobs
        .local_path(&sha)
        .await
        .map_err(|_| ApiError::internal())?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| ApiError::internal())?;
    let mut r = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"attachment.bin\""),
    );
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(r)
}
