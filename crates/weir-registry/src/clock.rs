//! Time as the services see it: unix seconds, shown as RFC 3339.

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// RFC 3339 text of a unix time. Times come from our own clock and bounded inputs; one that
/// cannot be formatted is logged loudly and shown as `invalid-time`, never as 1970.
pub fn iso8601(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }) {
        Some(s) => s,
        None => {
            tracing::error!(
                unix,
                "a time outside the formattable range reached a response"
            );
            "invalid-time".to_string()
        }
    }
}
