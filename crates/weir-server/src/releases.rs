//! Signed releases (DESIGN.md §3): publishing a revision signs its manifest in the OpenSSF
//! model-signing format with the registry's P-256 key and announces it on the transparency log.
//! The bundle, its offline log proof and the public key are served at stable URLs.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weir_authz::Action;
use weir_signing::model_signing::{Resource, is_ignored};
use weir_tlog::merkle::inclusion_proof;
use weir_tlog::proof::ProofFile;
use weir_tlog::sequencer::needed;
use weir_wire::ErrorCode;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::lookup::Visible;
use crate::lookup::{resolve_revision, visible_repo};
use crate::{ApiError, AppState, gate};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add(
            "/api/v1/repos/{ns}/{name}/releases",
            &["POST"],
            post(release),
        )
        .add(
            "/api/v1/models/{ns}/{name}/releases/{rev}/model.sig",
            &["GET"],
            get(bundle),
        )
        .add(
            "/api/v1/models/{ns}/{name}/releases/{rev}/model.sig.tlog-proof",
            &["GET"],
            get(proof),
        )
        .add(
            "/api/v1/models/{ns}/{name}/releases/{rev}/model.sig.tlog-opening",
            &["GET"],
            get(opening),
        )
        .add("/api/v1/keys/release.pub.pem", &["GET"], get(public_key))
        .add(
            "/api/v1/models/{ns}/{name}/releases/{rev}/publisher.sig",
            &["GET", "PUT"],
            get(publisher_bundle).put(put_publisher_bundle),
        )
}

#[derive(Deserialize)]
pub struct ReleaseBody {
    #[serde(default)]
    revision: Option<String>,
}

async fn release(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: f }: Visible,
    JsonBody(body): JsonBody<ReleaseBody>,
) -> Result<(StatusCode, Json<weir_wire::releases::Release>), ApiError> {
    caller.require(&Action::Write(&f), &repo.repo_id.to_string())?;
    let rev = body.revision.unwrap_or_else(|| "main".into());
    let commit = resolve_revision(&state, &repo, &rev).await?;
    // The release gate: never at a tier below what the policy computes for this revision.
    weir_registry::classification::reclassify(
        &state.store,
        &repo.repo_id,
        caller.name().map(|n| n.as_str()),
        weir_registry::classification::Lowering::Never,
        crate::now(),
    )
    .await?;
    let repo = state
        .store
        .db
        .repo(&repo.repo_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    let c = weir_registry::classification::minimum_for(&state.store, &repo, &commit).await?;
    if repo.tier < c.minimum_tier {
        return Err(
            weir_registry::classification::below_minimum(&repo, &commit, "released", &c).into(),
        );
    }
    // Publisher standing: suspended never releases; probation and T2+ need evaluations.
    weir_registry::standing::release_allowed(
        &state.store,
        &repo,
        &commit,
        caller.name().map(|n| n.as_str()),
        crate::now(),
    )
    .await?;
    // Pickle-based files: scanned, and refused as the policy says.
    let policy = weir_registry::policy::policy_in_force(&state.store).await?;
    weir_registry::releases::serialization_allowed(&state.store, &policy.policy, &repo, &commit)
        .await?;
    let e = gate::event(
        &caller,
        &meta,
        "release",
        Some(&repo),
        "change",
        "released",
        json!({}),
    );
    let (r, files, bundle_sha256) = weir_registry::releases::release_commit(
        &state.store,
        &state.config.release_key,
        &repo,
        &commit,
        e,
    )
    .await
    .map_err(|err| match err {
        weir_store::StoreError::Exists(_) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyReleased,
            format!("{}@{commit} is already released", repo.repo_id),
        ),
        other => other.into(),
    })?;
    let base = format!(
        "{}/api/v1/models/{}/releases/{}",
        state.config.public_url, repo.repo_id, commit
    );
    Ok((
        StatusCode::CREATED,
        Json(weir_wire::releases::Release {
            repo: repo.repo_id.to_string(),
            commit: commit.to_string(),
            files,
            bundle_sha256,
            bundle_url: format!("{base}/model.sig"),
            proof_url: format!("{base}/model.sig.tlog-proof"),
            event: r.event_id,
        }),
    ))
}

async fn load(
    state: &AppState,
    caller: &Caller,
    ns: &str,
    name: &str,
    rev: &str,
) -> Result<(weir_store::Repo, weir_store::releases::Release), ApiError> {
    let (repo, _) = visible_repo(state, caller, ns, name).await?;
    let commit = resolve_revision(state, &repo, rev).await?;
    let r = state
        .store
        .db
        .release(&repo, &commit)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotReleased,
                format!("{}@{commit} has no signed release", repo.repo_id),
            )
            .next(format!(
                "the publisher releases it with: weir release {} --revision {rev}",
                repo.repo_id
            ))
        })?;
    Ok((repo, r))
}

fn plain(body: String, content_type: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The bundle, byte-exact as signed.
async fn bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name, rev)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (_, r) = load(&state, &caller, &ns, &name, &rev).await?;
    Ok(plain(r.bundle, "application/json"))
}

/// The release's log entry with its inclusion proof and the checkpoint: a `tlog-proof@v1` file
/// whose `extra` line carries the entry, so it verifies offline.
async fn proof(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name, rev)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (_, r) = load(&state, &caller, &ns, &name, &rev).await?;
    let not_yet = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotInLog,
            "the release is not in a signed checkpoint yet",
        )
        .next("retry in a second")
    };
    weir_registry::log::sequence_once(&state.store, &state.config.log_signer).await?;
    let index = state
        .store
        .db
        .log_index_of_event(r.event_id)
        .await?
        .ok_or_else(not_yet)?;
    let head = state.store.db.log_state().await?;
    let note = head.checkpoint.ok_or_else(not_yet)?;
    if index >= head.size {
        return Err(not_yet());
    }
    let entry = state
        .store
        .db
        .log_entry(index)
        .await?
        .ok_or_else(ApiError::internal)?;
    let want = needed(|s| inclusion_proof(s, index, head.size));
    let src = state.store.db.log_hashes(&want).await?;
    let path = inclusion_proof(&src, index, head.size).map_err(|_| ApiError::internal())?;
    Ok(plain(
        ProofFile {
            extra: Some(entry),
            index,
            path,
            checkpoint: note,
        }
        .to_text(),
        "text/plain; charset=utf-8",
    ))
}

/// The opening of a private repo's sealed release entry (its salt and public facts), for those
/// who may see the repo: with it, `weir verify` checks that the sealed entry announces this
/// bundle. A public repo's entry is in clear and has none.
async fn opening(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name, rev)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (_, r) = load(&state, &caller, &ns, &name, &rev).await?;
    // Sealed when it was logged (the repo was private then), whatever the repo is now.
    let sealed = match state.store.db.log_index_of_event(r.event_id).await? {
        Some(i) => state
            .store
            .db
            .log_entry(i)
            .await?
            .and_then(|e| serde_json::from_slice::<Value>(&e).ok())
            .is_some_and(|e| e["private"] == true),
        None => false,
    };
    if !sealed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotSealed,
            "the release's log entry is in clear (or not in the log yet); it needs no opening",
        ));
    }
    let o = state
        .store
        .db
        .event_opening(r.event_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(plain(
        serde_json::to_string(&o).map_err(|_| ApiError::internal())?,
        "application/json",
    ))
}

async fn public_key(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(plain(
        state
            .config
            .release_key
            .public_pem()
            .map_err(|_| ApiError::internal())?,
        "application/x-pem-file",
    ))
}

/// `PUT …/releases/{rev}/publisher.sig`: the publisher's own `model_signing sign key` bundle for a
/// released revision. Verified against the namespace's registered key and against the released
/// files, then kept beside the registry's bundle.
async fn put_publisher_bundle(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Visible { repo, facts: f }: Visible,
    Path((_, _, rev)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<weir_wire::releases::PublisherBundle>, ApiError> {
    caller.require(&Action::Write(&f), &repo.repo_id.to_string())?;
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let bundle = std::str::from_utf8(&body).map_err(|_| {
        ApiError::bad_request(ErrorCode::InvalidBundle, "the bundle must be UTF-8 JSON")
    })?;
    let key = state
        .store
        .db
        .publisher_key(repo.repo_id.namespace.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::NoPublisherKey,
                format!("{} has no registered signing key", repo.repo_id.namespace),
            )
            .next("the operator registers it: weir admin publisher-key set NAMESPACE --key PUB_PEM")
        })?;
    let v = weir_signing::model_signing::verify_bundle(bundle, &key)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidBundle, e.to_string()))?;
    let mut files = Vec::new();
    for file in state.store.db.files(&repo, &commit).await? {
        if is_ignored(file.path.as_str(), &v.ignore_paths) {
            continue;
        }
        let mut d = [0u8; 32];
        hex::decode_to_slice(file.sha256.as_str(), &mut d).map_err(|_| ApiError::internal())?;
        files.push(Resource {
            name: file.path.to_string(),
            sha256: d,
        });
    }
    weir_signing::model_signing::compare(&v.resources, &files).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::BundleMismatch,
            format!(
                "the bundle does not describe {}@{commit}: {e}",
                repo.repo_id
            ),
        )
    })?;
    let digest = hex::encode(Sha256::digest(bundle.as_bytes()));
    let mut e = gate::event(
        &caller,
        &meta,
        "release.publisher_signature",
        Some(&repo),
        "change",
        "signed",
        json!({}),
    );
    e.details = json!({"public": {"repo": repo.repo_id.to_string(), "commit": commit.as_str(), "publisher_bundle_sha256": digest}});
    state
        .store
        .db
        .set_publisher_bundle(&repo, &commit, bundle, &e)
        .await
        .map_err(|err| match err {
            weir_store::StoreError::NotFound(_) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::NotReleased,
                format!("{}@{commit} is not released yet", repo.repo_id),
            )
            .next(format!(
                "release it first: weir release {} --revision {rev}",
                repo.repo_id
            )),
            other => other.into(),
        })?;
    Ok(Json(weir_wire::releases::PublisherBundle {
        repo: repo.repo_id.to_string(),
        commit: commit.to_string(),
        files: files.len(),
        publisher_bundle_sha256: digest,
    }))
}

async fn publisher_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name, rev)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (repo, _) = load(&state, &caller, &ns, &name, &rev).await?;
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let b = state
        .store
        .db
        .publisher_bundle(&repo, &commit)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NoPublisherSignature,
                format!("{}@{commit} has no publisher signature", repo.repo_id),
            )
        })?;
    Ok(plain(b, "application/json"))
}
