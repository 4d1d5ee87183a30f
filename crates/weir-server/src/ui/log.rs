//! The transparency-log explorer: the checkpoint with its cosignatures, the entries decoded a
//! page at a time (newest first), search by repo (an entry about a private repo is sealed and
//! names nothing, so it never matches), and one entry's page whose inclusion proof the browser
//! verifies itself (`/static/logverify.js`, our own RFC 6962 verifier) against the checkpoint,
//! with the command that does the same offline.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::Chrome;
use super::session::Viewer;
use crate::extract::{Path, Query};
use crate::{ApiError, AppState};

/// Entries per page.
pub const PAGE: u64 = 25;
/// The most entries one search by repo reads (older ones: a page further, or `weir log entries`).
pub const MAX_SCAN: u64 = 5_000;

pub(super) struct EntryRow {
    index: u64,
    at: String,
    action: String,
    repo: String,
    decision: String,
    reason: String,
}

fn row(index: u64, bytes: &[u8]) -> EntryRow {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_string();
    let sealed = v["private"] == true;
    EntryRow {
        index,
        at: v["at"]
            .as_i64()
            .map(crate::iso8601)
            .unwrap_or_else(|| "-".into()),
        action: s("action"),
        repo: if sealed { "(sealed)".into() } else { s("repo") },
        decision: s("decision"),
        reason: s("reason"),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Params {
    before: Option<u64>,
    repo: String,
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage<'a> {
    chrome: &'a Chrome,
    origin: String,
    size: u64,
    root_b64: String,
    root_hex: String,
    note: String,
    cosignatures: Vec<String>,
    entries: Vec<EntryRow>,
    repo: String,
    older: Option<String>,
    newest: String,
    scanned_to: Option<u64>,
    public_url: &'a str,
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    q: Result<Query<Params>, ApiError>,
) -> Response {
    let p = match q {
        Ok(Query(p)) => p,
        Err(e) => return viewer.error(e),
    };
    match build(&state, &viewer, p).await {
        Ok(page) => super::render(&page, Some(&viewer.headers)),
        Err(e) => viewer.error(e),
    }
}

async fn build<'a>(
    state: &'a AppState,
    viewer: &'a Viewer,
    p: Params,
) -> Result<LogPage<'a>, ApiError> {
    let head = weir_registry::log::signed_proof(&state.store, None).await?;
    let (size, root, note, cosignatures) = match head {
        Some(h) => (h.size, h.root, h.note, h.cosignatures),
        None => (0, [0u8; 32], String::new(), vec![]),
    };
    let repo = p.repo.trim().to_string();
    if repo.len() > 200 {
        return Err(ApiError::bad_request(
            weir_wire::ErrorCode::InvalidQuery,
            "a repo name is at most 200 bytes",
        ));
    }
    let before = p.before.unwrap_or(size).min(size);
    let mut entries = vec![];
    let mut at = before;
    let floor = if repo.is_empty() {
        before.saturating_sub(PAGE)
    } else {
        before.saturating_sub(MAX_SCAN)
    };
    // Newest first, read in chunks.
    while at > floor && (entries.len() as u64) < PAGE {
        let start = at.saturating_sub(PAGE.max(256)).max(floor);
        let chunk = state.store.db.log_entries(start, at - start).await?;
        for (i, bytes) in chunk.iter().enumerate().rev() {
            let index = start + i as u64;
            if (entries.len() as u64) == PAGE {
                at = index + 1;
                break;
            }
            let r = row(index, bytes);
            if repo.is_empty() || r.repo == repo {
                entries.push(r);
            }
            at = index;
        }
        // A chunk that came back short (or empty) still moves on: the loop always ends.
        if (entries.len() as u64) < PAGE {
            at = start;
        }
    }
    let older = (at > 0).then(|| {
        let mut q = vec![("before", at.to_string())];
        if !repo.is_empty() {
            q.push(("repo", repo.clone()));
        }
        format!(
            "/log?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    });
    let newest = if repo.is_empty() {
        "/log".to_string()
    } else {
        format!(
            "/log?{}",
            serde_urlencoded::to_string([("repo", &repo)]).unwrap_or_default()
        )
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(LogPage {
        newest,
        chrome: &viewer.chrome,
        origin: note.lines().next().unwrap_or("").to_string(),
        size,
        root_b64: b64.encode(root),
        root_hex: hex::encode(root),
        note,
        cosignatures,
        scanned_to: (!repo.is_empty()).then_some(at),
        entries,
        repo,
        older,
        public_url: &state.config.public_url,
    })
}

#[derive(Template)]
#[template(path = "log_entry.html")]
struct EntryPage<'a> {
    chrome: &'a Chrome,
    index: u64,
    row: EntryRow,
    pretty: String,
    entry_b64: String,
    proof: String,
    vkey: String,
    public_url: &'a str,
}

pub(super) async fn entry(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(index): Path<u64>,
) -> Response {
    let missing = || {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            weir_wire::ErrorCode::NotInLog,
            format!("entry {index} is not in the log (yet)"),
        )
        .next("entries appear within about a second of their event")
    };
    let head = match weir_registry::log::signed_proof(&state.store, Some(index)).await {
        Ok(Some(h)) => h,
        Ok(None) => return viewer.error(missing()),
        Err(e) => return viewer.error(e),
    };
    let Some(proof) = head.proof else {
        return viewer.error(missing());
    };
    let bytes = match state.store.db.log_entries(index, 1).await {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        Ok(_) => return viewer.error(missing()),
        Err(e) => return viewer.error(e),
    };
    let pretty = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    let page = EntryPage {
        chrome: &viewer.chrome,
        index,
        row: row(index, &bytes),
        pretty,
        entry_b64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        proof: proof.to_text(),
        vkey: state.config.log_signer.verifier().vkey(),
        public_url: &state.config.public_url,
    };
    super::render(&page, Some(&viewer.headers))
}
