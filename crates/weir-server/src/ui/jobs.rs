//! Output checking in the browser: the jobs whose held outputs the viewer checks (operators and
//! designated checkers, never the job's own team), each file's content and the automatic rules'
//! findings, and one blind vote per file through `weir_registry::jobs::review_outputs`; two
//! checkers who approve every file release them.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::Chrome;
use super::session::{SessionForm, Viewer};
use crate::extract::{Path, RequestMeta};
use crate::{ApiError, AppState, now};

/// The most of one held file the page shows.
pub const PREVIEW: usize = 32 * 1024;

pub(super) struct JobRow {
    pub id: i64,
    pub project: String,
    pub repo: String,
    pub kind: String,
    pub submitted: String,
}

/// The jobs awaiting the viewer's check; `None` when the viewer checks no outputs.
pub(super) async fn queue(state: &AppState, viewer: &Viewer) -> Option<Vec<JobRow>> {
    let jobs = weir_registry::jobs::review_queue(&state.store, &viewer.caller.subject, 100)
        .await
        .ok()?;
    Some(
        jobs.into_iter()
            .map(|j| JobRow {
                id: j.id,
                project: j.project,
                repo: j.repo.to_string(),
                kind: j.kind.as_str().to_string(),
                submitted: super::day(j.submitted_at),
            })
            .collect(),
    )
}

pub(super) struct FileView {
    index: usize,
    path: String,
    size: i64,
    findings: String,
    preview: Option<String>,
    cut: bool,
}

#[derive(Template)]
#[template(path = "review_job.html")]
struct Page<'a> {
    chrome: &'a Chrome,
    id: i64,
    project: String,
    repo: String,
    kind: String,
    state: String,
    files: Vec<FileView>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Response {
    match build(&state, &viewer, id).await {
        Ok(p) => super::render(&p, None),
        Err(e) => viewer.error(e),
    }
}

async fn build<'a>(state: &AppState, viewer: &'a Viewer, id: i64) -> Result<Page<'a>, ApiError> {
    let subject = &viewer.caller.subject;
    let (job, _) = weir_registry::jobs::output_access(&state.store, subject, id).await?;
    let mut files = vec![];
    for (index, o) in state
        .store
        .db
        .job_outputs(id)
        .await?
        .into_iter()
        .enumerate()
    {
        let bytes = weir_registry::jobs::output_file(&state.store, subject, id, &o.path).await?;
        let cut = bytes.len() > PREVIEW;
        let shown = &bytes[..bytes.len().min(PREVIEW)];
        let preview = std::str::from_utf8(shown)
            .ok()
            .or_else(|| {
                // A cut may split a character: text is text up to the last whole one.
                std::str::from_utf8(&shown[..shown.len().saturating_sub(3)]).ok()
            })
            .map(str::to_string);
        files.push(FileView {
            index,
            path: o.path,
            size: o.size,
            findings: if o.findings == "[]" {
                String::new()
            } else {
                o.findings
            },
            preview,
            cut,
        });
    }
    Ok(Page {
        chrome: &viewer.chrome,
        id,
        project: job.project,
        repo: job.repo.to_string(),
        kind: job.kind.as_str().to_string(),
        state: job.outputs_state,
        files,
    })
}

pub(super) async fn vote(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    SessionForm { viewer, form, .. }: SessionForm<Vec<(String, String)>>,
) -> Response {
    let get = |k: String| {
        form.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
    };
    let mut votes = vec![];
    for i in 0..1000 {
        let Some(path) = get(format!("path_{i}")) else {
            break;
        };
        votes.push(weir_registry::jobs::FileVote {
            path,
            vote: get(format!("vote_{i}")).unwrap_or_default(),
            reason: get(format!("reason_{i}")).unwrap_or_default(),
        });
    }
    let meta = RequestMeta::of(&viewer.headers);
    let done = weir_registry::jobs::review_outputs(
        &state.store,
        &viewer.caller.subject,
        id,
        &votes,
        &meta.context(&viewer.caller),
        now(),
    )
    .await;
    viewer.after(done, "/review#jobs")
}
