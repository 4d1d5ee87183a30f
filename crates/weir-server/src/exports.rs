//! Dual control for custodial export of restricted (T3) weights (DESIGN.md §2): an accredited
//! organization's member requests a copy, two distinct operators approve (neither the requester),
//! the requester gets one single-use link that expires, and the download is a tar of the
//! revision's files. Every step is an audit event.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use weir_authz::{Action, RepoFacts};
use weir_core::Name;
use weir_store::{Export, Repo};
use weir_wire::ErrorCode;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::gate;
use crate::lookup::{resolve_revision, visible_repo};
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
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<ExportBody>,
) -> Result<(StatusCode, Json<weir_wire::exports::Export>), ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    caller.require(&Action::RequestExport(&f), &repo.repo_id.to_string())?;
    let user = caller.require_user()?.to_string();
    let org = Name::parse(&body.org)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidOrg, e.to_string()))?;
    if !caller.orgs.iter().any(|(o, _)| *o == org) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotMember,
            format!("you are not a member of {org}"),
        )
        .next("request the export on behalf of an organization you belong to"));
    }
    if body.purpose.trim().is_empty() || body.purpose.len() > 4000 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidPurpose,
            "state the purpose of the custodial copy in 1 to 4000 characters",
        ));
    }
    let commit =
        resolve_revision(&state, &repo, body.revision.as_deref().unwrap_or("main")).await?;
    let id = state
        .store
        .db
        .create_export(repo.id, &commit, &user, org.as_str(), body.purpose.trim())
        .await?;
    gate::record(
        &state,
        &gate::event(
            &caller,
            &meta,
            "export.request",
            Some(&repo),
            "change",
            "pending",
            json!({"export": id, "org": org.as_str(), "commit": commit.as_str()}),
        ),
    )
    .await?;
    let e = state
        .store
        .db
        .export(id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(export_json(&e))))
}

/// The export's repo as it is now: its current tier, and whether the exported revision is under
/// an incident hold. Every step asks `weir_authz` with these facts, never with those of the
/// request.
async fn current_facts(state: &AppState, e: &Export) -> Result<(Repo, RepoFacts), ApiError> {
    let repo = state
        .store
        .db
        .repo(&e.repo)
        .await?
        .ok_or_else(ApiError::internal)?;
    let mut f = gate::facts(&repo);
    f.held = state.store.db.is_held(repo.id, e.commit.as_str()).await?;
    Ok((repo, f))
}

/// Whether the requester, as they are now (level, attestations, org membership), may receive
/// the copy of the repo as it is now (tier, holds).
async fn requester_may_receive(
    state: &AppState,
    e: &Export,
    f: &RepoFacts,
) -> Result<weir_authz::Decision, ApiError> {
    let requester = Name::parse(&e.requester).map_err(|_| ApiError::internal())?;
    let org = Name::parse(&e.org).map_err(|_| ApiError::internal())?;
    let (subject, _) =
        crate::auth::account_subject(state, &requester, weir_core::Scope::Read).await?;
    Ok(weir_authz::authorize(
        &subject,
        &Action::ReceiveExport { repo: f, org: &org },
    ))
}

fn export_not_found(id: i64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::ExportNotFound,
        format!("no export {id} that you can see"),
    )
}

/// An export as its requester or an operator sees it; to anyone else every export, existing or
/// not, is the same 404 (an export names a T3 repo, which may be private).
async fn load(state: &AppState, caller: &Caller, id: i64) -> Result<Export, ApiError> {
    let e = state
        .store
        .db
        .export(id)
        .await?
        .ok_or_else(|| export_not_found(id))?;
    let operator = caller.authorize(&Action::Administer).allow;
    let requester = caller.name().is_some_and(|n| n.as_str() == e.requester);
    if !operator && !requester {
        return Err(export_not_found(id));
    }
    Ok(e)
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<weir_wire::exports::Export>, ApiError> {
    let e = load(&state, &caller, id).await?;
    Ok(Json(export_json(&e)))
}

async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<weir_wire::exports::Export>, ApiError> {
    let e = load(&state, &caller, id).await?;
    let (repo, _) = visible_repo(
        &state,
        &caller,
        e.repo.namespace.as_str(),
        e.repo.name.as_str(),
    )
    .await?;
    let (_, f) = current_facts(&state, &e).await?;
    let requester = Name::parse(&e.requester).map_err(|_| ApiError::internal())?;
    let me = caller.require_user()?.to_string();
    let already = e.approvals.contains(&me);
    caller.require(
        &Action::ApproveExport {
            repo: &f,
            requester: &requester,
            already_approved: already,
        },
        &repo.repo_id.to_string(),
    )?;
    if e.state != "pending" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ExportNotPending,
            format!("export {id} is {}", e.state),
        ));
    }
    // The requester must still qualify now, not only when they asked.
    let d = requester_may_receive(&state, &e, &f).await?;
    if !d.allow {
        return Err(requester_no_longer_qualifies(id, d.reason));
    }
    let after = state.store.db.approve_export(id, &me).await?;
    gate::record(
        &state,
        &gate::event(
            &caller,
            &meta,
            "export.approve",
            Some(&repo),
            "change",
            &after.state,
            json!({"export": id, "approvals": after.approvals.len()}),
        ),
    )
    .await?;
    Ok(Json(export_json(&after)))
}

/// The requester's single download link, issued once after two approvals.
async fn link(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<weir_wire::exports::ExportLink>, ApiError> {
    let e = load(&state, &caller, id).await?;
    let me = caller.require_user()?;
    if me.as_str() != e.requester {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotRequester,
            "only the requester receives the download link",
        ));
    }
    // Asked again with the caller's facts now and the repo's tier and holds now.
    let (repo, f) = current_facts(&state, &e).await?;
    caller.require(
        &Action::ReceiveExport {
            repo: &f,
            org: &Name::parse(&e.org).map_err(|_| ApiError::internal())?,
        },
        &repo.repo_id.to_string(),
    )?;
    if e.link_issued {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::LinkAlreadyIssued,
            "the download link was already issued; it is shown only once",
        )
        .next("ask for a new export if it was lost"));
    }
    if e.state != "approved" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ExportNotApproved,
            format!(
                "export {id} is {} ({} of {} approvals)",
                e.state,
                e.approvals.len(),
                weir_store::exports::APPROVALS_NEEDED
            ),
        )
        .next("two distinct reviewers must approve it first"));
    }
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let expires = now() + LINK_TTL_SECS;
    state
        .store
        .db
        .set_export_link(id, &hex::encode(Sha256::digest(token.as_bytes())), expires)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::LinkAlreadyIssued,
                "the download link was already issued; it is shown only once",
            )
        })?;
    gate::record(
        &state,
        &gate::event(
            &caller,
            &meta,
            "export.link",
            Some(&repo),
            "change",
            "link_issued",
            json!({"export": id, "expires_at": expires}),
        ),
    )
    .await?;
    Ok(Json(weir_wire::exports::ExportLink {
        export: id,
        url: format!(
            "{}/api/v1/exports/download/{token}",
            state.config.public_url
        ),
        expires_at: iso8601(expires),
        single_use: true,
    }))
}

/// Streams a tar of the export's files. The link works once.
async fn download(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let e = match state.store.db.consume_export_link(&hash, now()).await? {
        Ok(e) => e,
        Err(why) => {
            let (code, msg) = match why {
                "used" => (ErrorCode::LinkUsed, "this export link was already used"),
                "expired" => (ErrorCode::LinkExpired, "this export link has expired"),
                _ => (ErrorCode::LinkUnknown, "no such export link"),
            };
            return Err(ApiError::new(StatusCode::GONE, code, msg).next("ask for a new export"));
        }
    };
    let (repo, f) = current_facts(&state, &e).await?;
    let files = state.store.db.files(&repo, &e.commit).await?;
    let anon = Caller {
        subject: weir_authz::Subject::Anonymous,
        token: None,
        orgs: vec![],
    };
    // The last step asks again: the repo raised to T4, an incident hold, a requester demoted
    // (level lowered, attestation revoked or expired, left the org) all stop the copy, and the
    // spent link does not come back.
    let d = requester_may_receive(&state, &e, &f).await?;
    if !d.allow {
        let mut ev = gate::event(
            &anon,
            &meta,
            "export.download",
            Some(&repo),
            "deny",
            d.reason.code(),
            json!({"export": e.id, "commit": e.commit.as_str()}),
        );
        ev.actor = Some(e.requester.clone());
        gate::record(&state, &ev).await?;
        return Err(ApiError::denied(d.reason, &repo.repo_id.to_string(), false));
    }
    let mut ev = gate::event(
        &anon,
        &meta,
        "export.download",
        Some(&repo),
        "allow",
        "dual_control",
        json!({"export": e.id, "commit": e.commit.as_str(), "files": files.len()}),
    );
    ev.actor = Some(e.requester.clone());
    gate::record(&state, &ev).await?;

    let paths: Vec<(String, std::path::PathBuf)> = files
        .iter()
        .map(|f| (f.path.to_string(), state.store.blobs.path_of(&f.sha256)))
        .collect();
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

fn requester_no_longer_qualifies(id: i64, reason: weir_authz::Reason) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::RequesterNotEligible,
        format!(
            "export {id} cannot be approved now: the requester or the repo no longer qualifies ({})",
            reason.code()
        ),
    )
    .with("reason", json!(reason.code()))
    .next("the requester must be accredited and a member of the organization, and the repo T3 with no hold")
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
