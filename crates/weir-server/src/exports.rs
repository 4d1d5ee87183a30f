//! Custodial export of restricted (T3) weights over HTTP; the dual control itself is
//! [`weir_registry::exports`]. An accredited
//! organization's member requests a copy, two distinct operators approve (neither the requester),
//! the requester gets one single-use link that expires, and the download is a tar of the
//! revision's files. Every step is an audit event.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use weir_registry::exports;
use weir_store::Export;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::lookup::Visible;
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add(
            "/api/v1/repos/{ns}/{name}/exports",
            &["POST"],
            post(request_export),
        )
        .add("/api/v1/exports/{id}", &["GET"], get(show))
        .add("/api/v1/exports/{id}/approve", &["POST"], post(approve))
        .add("/api/v1/exports/{id}/link", &["POST"], post(link))
        .add("/api/v1/exports/download/{token}", &["GET"], get(download))
}

/// How long a download link stays valid.
pub const LINK_TTL_SECS: i64 = 24 * 3600;

fn export_json(e: &Export) -> weir_wire::exports::Export {
    weir_wire::exports::Export {
        id: e.id,
        repo: e.repo.to_string(),
        commit: e.commit.to_string(),
        requester: e.requester.clone(),
        org: e.org.clone(),
        purpose: e.purpose.clone(),
        state: e.state.to_string(),
        approvals: e.approvals.clone(),
        approvals_needed: weir_store::exports::APPROVALS_NEEDED,
        created_at: iso8601(e.created_at),
        link_issued: e.link_issued,
        link_expires_at: e.link_expires_at.map(iso8601),
        downloaded_at: e.downloaded_at.map(iso8601),
    }
}

#[derive(Deserialize)]
pub struct ExportBody {
    org: String,
    purpose: String,
    #[serde(default)]
    revision: Option<String>,
}

async fn request_export(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, .. }: Visible,
    JsonBody(body): JsonBody<ExportBody>,
) -> Result<(StatusCode, Json<weir_wire::exports::Export>), ApiError> {
    let e = exports::request(
        &state.store,
        &repo,
        body.revision.as_deref().unwrap_or("main"),
        &caller.subject,
        &exports::Filing {
            org: body.org,
            purpose: body.purpose,
        },
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(export_json(&e))))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<weir_wire::exports::Export>, ApiError> {
    let e = exports::show(&state.store, &caller.subject, id).await?;
    Ok(Json(export_json(&e)))
}

async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<weir_wire::exports::Export>, ApiError> {
    let e = exports::approve(
        &state.store,
        &caller.subject,
        id,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(export_json(&e)))
}

/// The requester's single download link, issued once after two approvals.
async fn link(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<weir_wire::exports::ExportLink>, ApiError> {
    let l = exports::link(
        &state.store,
        &caller.subject,
        id,
        LINK_TTL_SECS,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(weir_wire::exports::ExportLink {
        export: l.export,
        url: format!(
            "{}/api/v1/exports/download/{}",
            state.config.public_url, l.token
        ),
        expires_at: iso8601(l.expires_at),
        single_use: true,
    }))
}

/// Streams a tar of the export's files. The link works once.
async fn download(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = weir_registry::Context {
        actor: None,
        request_id: meta.request_id.clone(),
        user_agent: meta.user_agent.clone(),
    };
    let opened = exports::open_download(&state.store, &token, &ctx, now()).await?;
    let mut paths: Vec<(String, std::path::PathBuf)> = Vec::with_capacity(opened.files.len());
    for f in &opened.files {
        let blob = state.store.blobs.local_path(&f.sha256).await.map_err(|e| {
            tracing::error!(error = %e, "reading an exported blob");
            ApiError::internal()
        })?;
        paths.push((f.path.to_string(), blob));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        });
        for (path, blob) in paths {
            if let Err(err) = builder.append_path_with_name(&blob, &path) {
                tracing::error!(error = %err, path, "export stream failed");
                return;
            }
        }
        if let Ok(mut w) = builder.into_inner() {
            let _ = std::io::Write::flush(&mut w);
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

const CHUNK: usize = 1 << 20;

/// A `Write` that forwards 1 MiB chunks to the response body.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    buf: Vec<u8>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}
