//! A publisher's page at `/{ns}`: its models (those the viewer may see), and its public
//! accountability record: standing with the rule that set it, releases and the share with
//! complete pre-release evaluations, incidents by state and by kind and severity, the median
//! time to triage, under-classified releases; the OSV feed linked.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weir_registry::listing;
use weir_wire::incidents::PublisherRecord;

use super::Chrome;
use super::session::Viewer;
use crate::extract::Path;
use crate::{ApiError, AppState, now};

#[derive(Template)]
#[template(path = "publisher.html")]
struct Page<'a> {
    chrome: &'a Chrome,
    name: String,
    kind: &'static str,
    models: Vec<(String, &'static str, &'static str)>,
    record: PublisherRecord,
    share: String,
    triage: String,
    severities: Vec<(String, String)>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: axum::http::Uri,
    Path(ns): Path<String>,
) -> Response {
    if weir_core::Name::parse(&ns).is_ok_and(|n| n.is_reserved_namespace()) {
        return crate::not_found(uri).await.into_response();
    }
    match build(&state, &viewer, &ns).await {
        Ok(p) => super::render(&p, Some(&viewer.headers)),
        Err(e) => viewer.error(e),
    }
}

async fn build<'a>(
    state: &'a AppState,
    viewer: &'a Viewer,
    ns: &str,
) -> Result<Page<'a>, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            weir_wire::ErrorCode::PublisherNotFound,
            format!("no publisher {ns:?}"),
        )
    };
    let account = state.store.db.account(ns).await?.ok_or_else(missing)?;
    let at = now();
    let page = listing::models(
        &state.store,
        &viewer.caller.subject,
        &listing::Query {
            author: Some(account.name.to_string()),
            sort: listing::Sort::Id,
            ascending: true,
            limit: Some(200),
            ..Default::default()
        },
        at,
    )
    .await?;
    let models = page
        .models
        .iter()
        .map(|m| {
            (
                m.repo.repo_id.to_string(),
                m.repo.tier.as_str(),
                m.repo.tier.name(),
            )
        })
        .collect();
    let mut record = weir_registry::standing::record(&state.store, account.name.as_str(), at)
        .await?
        .view;
    record.standing_since = state
        .store
        .db
        .standing(account.name.as_str())
        .await?
        .map(|s| super::day(s.since));
    let share = record
        .releases
        .share_evaluated
        .map(|s| format!("{:.0}%", s * 100.0))
        .unwrap_or_else(|| "no releases yet".into());
    let triage = record
        .incidents
        .median_hours_to_triage
        .map(|h| format!("{h:.1} hours"))
        .unwrap_or_else(|| "no triaged incidents".into());
    let severities = record
        .incidents
        .confirmed_by_kind_and_severity
        .iter()
        .map(|(kind, by)| {
            (
                kind.clone(),
                by.iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
        .collect();
    Ok(Page {
        chrome: &viewer.chrome,
        name: account.name.to_string(),
        kind: if account.kind == weir_store::AccountKind::Org {
            "organisation"
        } else {
            "user"
        },
        models,
        record,
        share,
        triage,
        severities,
    })
}
