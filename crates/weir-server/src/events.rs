//! `GET /api/v1/events`: the recorded events for operators and auditors, filtered by repo,
//! actor, action and time, newest first, a page at a time (`Link: <…>; rel="next"`), as JSON,
//! NDJSON or CSV (`format=`). The reading rules are [`weir_registry::events`].

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use weir_registry::clock::{parse_time, parse_until};
use weir_registry::events::{CSV_HEADER, csv_line, record};
use weir_store::events::EventFilter;
use weir_wire::ErrorCode;
use weir_wire::events::{EventPage, EventRecord};

use crate::auth::Caller;
use crate::extract::Query;
use crate::{ApiError, AppState};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new().add("/api/v1/events", &["GET"], get(list))
}

/// Events a page holds when the caller names no limit.
pub const DEFAULT_PAGE: i64 = 100;

#[derive(Deserialize)]
pub struct EventsQuery {
    repo: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
    format: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let bad = |m: String| ApiError::bad_request(ErrorCode::InvalidQuery, m);
    let parsed = |name: &str,
                  v: &Option<String>,
                  parse: fn(&str) -> Option<i64>|
     -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .map(|s| {
                parse(s).ok_or_else(|| {
                    bad(format!("{name} {s:?} is not a time"))
                        .next("use 2026-12-01, 2026-12-01T12:00:00Z or unix seconds")
                })
            })
            .transpose()
    };
    let time = |name: &str, v: &Option<String>| parsed(name, v, parse_time);
    let until = |name: &str, v: &Option<String>| parsed(name, v, parse_until);
    let filter = EventFilter {
        repo: q.repo.clone(),
        actor: q.actor.clone(),
        action: q.action.clone(),
        since: time("since", &q.since)?,
        until: until("until", &q.until)?,
        before_id: q
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| bad(format!("cursor {c:?} is not one this server gave")))
            })
            .transpose()?,
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    let events = weir_registry::events::read(&state.store, &caller.subject, &filter, limit).await?;
    let full = events.len() as i64 == limit;
    let records: Vec<EventRecord> = events.into_iter().map(|(id, e)| record(id, e)).collect();
    let next = full
        .then(|| records.last().map(|r| r.id.to_string()))
        .flatten();
    let mut resp = match q.format.as_deref().unwrap_or("json") {
        "json" => axum::Json(EventPage {
            events: records,
            next: next.clone(),
        })
        .into_response(),
        "ndjson" => {
            let mut body = String::new();
            for r in &records {
                body.push_str(&serde_json::to_string(r).map_err(|_| ApiError::internal())?);
                body.push('\n');
            }
            ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
        }
        "csv" => {
            let mut body = String::from(CSV_HEADER);
            for r in &records {
                body.push_str(&csv_line(r));
            }
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
        }
        other => {
            return Err(bad(format!("unknown format {other:?}")).next("use json, ndjson or csv"));
        }
    };
    if let Some(cursor) = next {
        let mut params: Vec<String> = Vec::new();
        for (k, v) in [
            ("repo", &q.repo),
            ("actor", &q.actor),
            ("action", &q.action),
            ("since", &q.since),
            ("until", &q.until),
            ("format", &q.format),
        ] {
            if let Some(v) = v {
                params.push(format!(
                    "{k}={}",
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                ));
            }
        }
        params.push(format!("limit={limit}"));
        params.push(format!("cursor={cursor}"));
        let link = format!(
            "<{}/api/v1/events?{}>; rel=\"next\"",
            state.config.public_url,
            params.join("&")
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}
