//! Reading the recorded events: operators only (an event may name who downloaded what, an
//! incident's reporter, a request's purpose). The log's public entries are the public view.

use weir_authz::{Action, Subject};
use weir_core::Event;
use weir_store::Store;
use weir_store::events::EventFilter;
use weir_wire::ErrorCode;
use weir_wire::events::EventRecord;

use crate::{Kind, ServiceError};

/// Most events one read returns.
pub const MAX_READ: i64 = 10_000;

/// The events matching `filter`, newest first, at most `limit` (1 to [`MAX_READ`]).
pub async fn read(
    store: &Store,
    subject: &Subject,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<(i64, Event)>, ServiceError> {
    crate::access::signed_in(subject)?;
    if !weir_authz::authorize(subject, &Action::Administer).allow {
        return Err(ServiceError::refused(
            Kind::Forbidden,
            ErrorCode::NotOperator,
            "Only operators read the recorded events.",
        )
        .next("the public view is the transparency log: weir log entries"));
    }
    if !(1..=MAX_READ).contains(&limit) {
        return Err(ServiceError::refused(
            Kind::Invalid,
            ErrorCode::InvalidQuery,
            format!("limit is 1 to {MAX_READ}"),
        ));
    }
    Ok(store.db.query_events(filter, limit).await?)
}

/// An event as the wire shows it.
pub fn record(id: i64, e: weir_core::Event) -> EventRecord {
    EventRecord {
        id,
        at: crate::clock::iso8601(e.at),
        actor: e.actor,
        action: e.action,
        repo: e.repo,
        subject: e.subject,
        decision: e.decision,
        reason: e.reason,
        request_id: e.request_id,
        user_agent: e.user_agent,
        details: e.details,
    }
}

/// One CSV field: quoted when it must be, and never read as a formula by a spreadsheet.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub const CSV_HEADER: &str =
    "id,at,actor,action,repo,subject,decision,reason,request_id,user_agent,details\n";

pub fn csv_line(r: &EventRecord) -> String {
    let opt = |o: &Option<String>| csv_field(o.as_deref().unwrap_or(""));
    format!(
        "{},{},{},{},{},{},{},{},{},{},{}\n",
        r.id,
        csv_field(&r.at),
        opt(&r.actor),
        csv_field(&r.action),
        opt(&r.repo),
        opt(&r.subject),
        csv_field(&r.decision),
        csv_field(&r.reason),
        opt(&r.request_id),
        opt(&r.user_agent),
        csv_field(&r.details.to_string()),
    )
}
