//! The Git LFS batch API with the "basic" transfer, as `huggingface_hub` uses it when Xet is off.
//!
//! Upload links are self-authorizing: the client sends the `PUT` without credentials, so each link
//! carries an HMAC over (repo, oid, size, expiry) made with the server's upload key. The bytes are
//! streamed into the blob store and checked against the signed oid and size; nothing is kept if
//! they differ.

use crate::extract::{Path, Query};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use weir_core::Sha256Hex;
use weir_store::blobs::Expect;
use weir_wire::ErrorCode;

use crate::auth::Caller;
use crate::extract::Json as JsonBody;
use crate::lookup::writable_repo;
use crate::{ApiError, AppState};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add(
            "/{ns}/{name}/info/lfs/objects/batch",
            &["POST"],
            post(batch),
        )
        .add("/api/lfs/objects/{oid}", &["PUT"], put(upload))
        .add("/api/lfs/verify/{ns}/{name}", &["POST"], post(verify))
}

const LFS_JSON: &str = "application/vnd.git-lfs+json";

fn sign(key: &[u8], repo: &str, oid: &str, size: u64, exp: i64) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(format!("weir-lfs-upload\n{repo}\n{oid}\n{size}\n{exp}").as_bytes());
    Some(mac)
}

#[derive(Deserialize)]
pub struct BatchObject {
    oid: String,
    size: i64,
}

#[derive(Deserialize)]
pub struct BatchRequest {
    operation: String,
    objects: Vec<BatchObject>,
    #[serde(default)]
    hash_algo: Option<String>,
}

fn lfs_json(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(LFS_JSON));
    r
}

async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(req): JsonBody<BatchRequest>,
) -> Result<Response, ApiError> {
    let name = name.strip_suffix(".git").unwrap_or(&name).to_string();
    let repo = writable_repo(&state, &caller, &ns, &name).await?;
    if req.operation != "upload" {
        return Err(ApiError::bad_request(
            ErrorCode::Unsupported,
            "only the upload operation is supported",
        )
        .next("download files through /{repo}/resolve/{revision}/{path}"));
    }
    if req.hash_algo.as_deref().is_some_and(|a| a != "sha256") {
        return Err(ApiError::bad_request(
            ErrorCode::Unsupported,
            "only sha256 is supported",
        ));
    }
    let repo_name = repo.repo_id.to_string();
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + state.config.upload_link_ttl_secs;
    let mut objects = Vec::with_capacity(req.objects.len());
    for o in req.objects {
        let Ok(sha) = Sha256Hex::parse(&o.oid) else {
            objects.push(json!({"oid": o.oid, "size": o.size, "error": {"code": 422, "message": "oid must be a lowercase hex sha256"}}));
            continue;
        };
        let Ok(size) = u64::try_from(o.size) else {
            objects.push(json!({"oid": o.oid, "size": o.size, "error": {"code": 422, "message": "size must not be negative"}}));
            continue;
        };
        // "Already present" only for bytes this repo possesses (possession before reference);
        // for any other object the client uploads and the server hashes the bytes, so the
        // answer never tells whether an unrelated hash is stored.
        if state.store.db.possessed(&repo, &sha).await? == Some(size)
            && state.store.blobs.size(&sha).await == Some(size)
        {
            objects.push(json!({"oid": o.oid, "size": size}));
            continue;
        }
        let sig = sign(
            &state.config.upload_key,
            &repo_name,
            sha.as_str(),
            size,
            exp,
        )
        .ok_or_else(ApiError::internal)?
        .finalize()
        .into_bytes();
        let href = format!(
            "{}/api/lfs/objects/{sha}?repo={repo_name}&size={size}&exp={exp}&sig={}",
            state.config.public_url,
            hex::encode(sig)
        );
        objects.push(json!({
            "oid": o.oid, "size": size, "authenticated": true,
            "actions": {
                "upload": {"href": href, "expires_in": state.config.upload_link_ttl_secs},
                "verify": {"href": format!("{}/api/lfs/verify/{repo_name}", state.config.public_url)},
            }
        }));
    }
    Ok(lfs_json(
        StatusCode::OK,
        json!({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}),
    ))
}

#[derive(Deserialize)]
struct UploadQuery {
    repo: String,
    size: u64,
    exp: i64,
    sig: String,
}

/// `PUT` of one LFS object through a signed link. Streams; the size cap is the signed size.
async fn upload(
    State(state): State<AppState>,
    Path(oid): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let denied = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidUploadLink,
            "this upload link is invalid or was altered",
        )
        .next("ask the LFS batch endpoint for a fresh link")
    };
    let sha = Sha256Hex::parse(&oid).map_err(|_| denied())?;
    let sig = hex::decode(&q.sig).map_err(|_| denied())?;
    sign(
        &state.config.upload_key,
        &q.repo,
        sha.as_str(),
        q.size,
        q.exp,
    )
    .ok_or_else(ApiError::internal)?
    .verify_slice(&sig)
    .map_err(|_| denied())?;
    if time::OffsetDateTime::now_utc().unix_timestamp() > q.exp {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::UploadLinkExpired,
            "this upload link has expired",
        )
        .next("ask the LFS batch endpoint for a fresh link"));
    }
    let expect = Expect {
        sha256: Some(sha.clone()),
        size: Some(q.size),
        max_size: Some(q.size),
    };
    // The link was signed for this repo by the batch endpoint after a write check; the bytes
    // hashed here become the repo's to reference.
    let repo_id = weir_core::RepoId::parse(&q.repo).map_err(|_| denied())?;
    let repo = state.store.db.repo(&repo_id).await?.ok_or_else(denied)?;
    let (stored, size) = state
        .store
        .ingest_for(&repo, body.into_data_stream(), expect)
        .await?;
    tracing::info!(repo = %q.repo, sha256 = %stored, size, "lfs object stored");
    Ok(Json(json!({"oid": stored.as_str(), "size": size})))
}

#[derive(Deserialize)]
pub struct VerifyRequest {
    oid: String,
    size: u64,
}

async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(req): JsonBody<VerifyRequest>,
) -> Result<Response, ApiError> {
    let repo = writable_repo(&state, &caller, &ns, &name).await?;
    let sha = Sha256Hex::parse(&req.oid)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidOid, e.to_string()))?;
    if state.store.db.possessed(&repo, &sha).await? != Some(req.size)
        || !state.store.has_blob(&sha, req.size).await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ObjectMissing,
            format!(
                "object {sha} of {} bytes was not uploaded to this repo",
                req.size
            ),
        )
        .next("upload it again through the link from the batch endpoint"));
    }
    Ok(lfs_json(
        StatusCode::OK,
        json!({"oid": sha.as_str(), "size": req.size}),
    ))
}
