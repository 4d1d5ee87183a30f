//! The transparency log over HTTP (C2SP `tlog-tiles` under `/log/`) and its sequencer.
//!
//! The sequencer integrates pending events in batches every interval, in one store transaction,
//! then signs a checkpoint over the committed head and stores it only if that head is still
//! current. It never signs anything but a committed head, so every checkpoint it ever signed is a
//! prefix of every later one, also after a crash at any point.

use std::time::Duration;
use weir_wire::ErrorCode;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use weir_tlog::merkle::{inclusion_proof, tree_hash};
use weir_tlog::proof::ProofFile;
use weir_tlog::sequencer::needed;
use weir_tlog::tiles::{TILE_WIDTH, entry_bundle, parse_path};

use crate::extract::{Path, Query};
use crate::{ApiError, AppState};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/log/checkpoint", &["GET"], get(checkpoint))
        .add("/log/vkey", &["GET"], get(vkey))
        .add("/log/tile/{*path}", &["GET"], get(tile))
        .add("/api/v1/log/proof/{index}", &["GET"], get(proof))
        .add("/api/v1/log/consistency", &["GET"], get(consistency))
        .add(
            "/api/v1/log/cosignatures",
            &["POST"],
            axum::routing::post(add_cosignature)
                .layer(axum::extract::DefaultBodyLimit::max(16 * 1024)),
        )
}

/// Largest batch integrated at once.
/// Integrates and signs once (`weir_registry::log::sequence_once` with this server's key).
pub async fn sequence_once(state: &AppState) -> Result<u64, weir_store::StoreError> {
    weir_registry::log::sequence_once(&state.store, &state.config.log_signer).await
}

/// Runs the periodic sequencer until the process ends, while this replica holds the sequencer
/// lease: replicas sharing a PostgreSQL database take turns, the others trying every interval,
/// so one that dies is replaced within an interval or two. (Integration on demand — a release
/// waiting for its proof, a checkpoint asked for between integration and signing — may run on
/// any replica: every integration is a write transaction, serialized by the write lock, and a
/// checkpoint is stored only for the current head.)
pub fn spawn_sequencer(state: AppState) {
    let every = Duration::from_millis(state.config.log_interval_ms.max(10));
    tokio::spawn(async move {
        let mut lease: Option<weir_store::tlog::SequencerLease> = None;
        loop {
            if let Some(l) = &mut lease
                && !l.alive().await
            {
                tracing::warn!("the sequencer lease was lost; another replica may take it");
                lease = None;
            }
            if lease.is_none() {
                // Pinged every round: idle for ten rounds (30 s at least), it is lost.
                let idle = (every * 10).max(Duration::from_secs(30));
                match state.store.db.try_sequencer_lease(idle).await {
                    Ok(Some(l)) => {
                        tracing::info!("this replica runs the log sequencer");
                        lease = Some(l);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "could not ask for the sequencer lease"),
                }
            }
            if let Some(fence) = lease.as_ref().map(|l| l.fence())
                && let Err(e) = weir_registry::log::sequence_as(
                    &state.store,
                    &state.config.log_signer,
                    Some(fence),
                )
                .await
            {
                tracing::error!(error = %e, "log sequencing failed; retrying");
            }
            tokio::time::sleep(every).await;
        }
    });
}

fn text(body: String, immutable: bool) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    r
}

async fn signed_head(state: &AppState) -> Result<(u64, String), ApiError> {
    let head = state.store.db.log_state().await?;
    match head.checkpoint {
        Some(c) => Ok((head.size, c)),
        None => {
            // Between integration and signing: sign now (idempotent) rather than serve nothing.
            let size = sequence_once(state).await?;
            let head = state.store.db.log_state().await?;
            Ok((size, head.checkpoint.ok_or_else(ApiError::internal)?))
        }
    }
}

/// The signed checkpoint with the cosignatures witnesses sent for it.
async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (size, mut note) = signed_head(&state).await?;
    for line in state.store.db.cosignatures(size).await? {
        note.push_str(&line);
    }
    Ok(text(note, false))
}

#[derive(serde::Deserialize)]
pub struct CosignatureBody {
    /// One signature line, `— <witness> <base64>`, over the current checkpoint.
    line: String,
}

/// `POST /api/v1/log/cosignatures`: a registered witness's Ed25519 cosignature (type 0x04) of
/// the current checkpoint. Verified before it is attached.
async fn add_cosignature(
    State(state): State<AppState>,
    crate::extract::Json(body): crate::extract::Json<CosignatureBody>,
) -> Result<Response, ApiError> {
    let (size, note) = signed_head(&state).await?;
    let bad = |code: ErrorCode, msg: String| ApiError::bad_request(code, msg);
    // Exactly one signature line: anything else (more lines, a forged line under the log's own
    // name) would be stored and served with the checkpoint, and break every verifier.
    let one = body.line.strip_suffix('\n').unwrap_or(&body.line);
    if one.is_empty() || one.len() > 1024 || one.contains(['\n', '\r']) {
        return Err(bad(
            ErrorCode::InvalidCosignature,
            "send exactly one signature line, '— <witness> <base64>'".into(),
        ));
    }
    let parsed = weir_tlog::note::Note::parse(&format!("{note}{one}\n"))
        .map_err(|e| bad(ErrorCode::InvalidCosignature, e.to_string()))?;
    let sig = parsed
        .signatures
        .last()
        .ok_or_else(|| bad(ErrorCode::InvalidCosignature, "no signature line".into()))?
        .clone();
    if sig.name == state.config.log_signer.name() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::UnknownWitness,
            "a cosignature cannot be made under the log's own key name",
        ));
    }
    let witnesses = state.store.db.witnesses().await?;
    let (_, vkey) = witnesses
        .iter()
        .find(|(n, _)| *n == sig.name)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::UnknownWitness,
                format!("{} is not a registered witness", sig.name),
            )
            .next("the operator registers witnesses with: weir admin witness add NAME --key VKEY")
        })?;
    let cosigner =
        weir_tlog::checkpoint::Cosigner::parse(vkey).map_err(|_| ApiError::internal())?;
    let only = weir_tlog::note::Note {
        text: parsed.text.clone(),
        signatures: vec![sig.clone()],
    };
    let ts = cosigner.verify(&only).map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::StaleOrBadCosignature,
            format!("the cosignature does not verify over the current checkpoint (size {size})"),
        )
        .next("fetch /log/checkpoint again and cosign that")
    })?;
    let now = crate::now();
    if ts > (now + 600) as u64 {
        return Err(bad(
            ErrorCode::InvalidCosignature,
            "the cosignature's timestamp is in the future".into(),
        ));
    }
    // Stored re-serialized from the verified signature, never as submitted.
    state
        .store
        .db
        .add_cosignature(size, &sig.name, &sig.line())
        .await?;
    Ok(text(
        format!("cosigned size {size} by {}\n", sig.name),
        false,
    ))
}

async fn vkey(State(state): State<AppState>) -> Response {
    text(
        format!("{}\n", state.config.log_signer.verifier().vkey()),
        true,
    )
}

async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let (level, index, width) = parse_path(&full)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidTile, e.to_string()))?;
    let size = state.store.db.log_state().await?.size;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::TileNotFound,
            format!("{full} does not exist (yet)"),
        )
    };
    let start = index.checked_mul(TILE_WIDTH).ok_or_else(not_found)?;
    // Checked: an index near u64::MAX must be a 404, never an overflow or an empty 200.
    let end = start.checked_add(width).ok_or_else(not_found)?;
    let body = match level {
        None => {
            if end > size {
                return Err(not_found());
            }
            let entries = state.store.db.log_entries(start, width).await?;
            entry_bundle(&entries).map_err(|_| ApiError::internal())?
        }
        Some(l) => {
            let shift = 8 * u32::from(l);
            let count = if shift >= 64 { 0 } else { size >> shift };
            if end > count {
                return Err(not_found());
            }
            let hashes = state
                .store
                .db
                .log_hash_range(l.checked_mul(8).ok_or_else(not_found)?, start, width)
                .await?;
            if hashes.len() as u64 != width {
                return Err(ApiError::internal());
            }
            hashes.concat()
        }
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(r)
}

/// `GET /api/v1/log/proof/{index}`: a `c2sp.org/tlog-proof@v1` file for the entry against the
/// current signed checkpoint.
async fn proof(
    State(state): State<AppState>,
    Path(index): Path<u64>,
) -> Result<Response, ApiError> {
    let (size, note) = signed_head(&state).await?;
    if index >= size {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotInLog,
            format!("entry {index} is not in the log of size {size} yet"),
        )
        .next("retry after the next checkpoint (about a second)"));
    }
    let want = needed(|s| inclusion_proof(s, index, size));
    let src = state.store.db.log_hashes(&want).await?;
    let path = inclusion_proof(&src, index, size).map_err(|_| ApiError::internal())?;
    Ok(text(
        ProofFile {
            extra: None,
            index,
            path,
            checkpoint: note,
        }
        .to_text(),
        false,
    ))
}

#[derive(serde::Deserialize)]
pub struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

/// `GET /api/v1/log/consistency?old=N[&new=M]`: the RFC 6962 consistency proof, one base64 hash
/// per line (verified by the client against both signed roots).
async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let (size, _) = signed_head(&state).await?;
    let new = q.new.unwrap_or(size);
    if q.old > new || new > size {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRange,
            format!("need old <= new <= {size}"),
        ));
    }
    let want = needed(|s| {
        let _ = tree_hash(s, new);
        weir_tlog::merkle::consistency_proof(s, q.old, new)
    });
    let src = state.store.db.log_hashes(&want).await?;
    let proof =
        weir_tlog::merkle::consistency_proof(&src, q.old, new).map_err(|_| ApiError::internal())?;
    use base64::Engine;
    let body: String = proof
        .iter()
        .map(|h| format!("{}\n", base64::engine::general_purpose::STANDARD.encode(h)))
        .collect();
    Ok(text(body, false))
}
