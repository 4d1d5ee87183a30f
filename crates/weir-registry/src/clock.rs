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

/// A time as a person or a script writes it: RFC 3339 (`2026-12-01T00:00:00Z`), a date
/// (`2026-12-01`, midnight UTC) or unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let date =
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// The end of a period a person names: a bare date is the whole day (its last second), any
/// other form as [`parse_time`].
pub fn parse_until(s: &str) -> Option<i64> {
    let t = parse_time(s)?;
    let is_date = s.trim().len() == 10 && s.trim().as_bytes().get(4) == Some(&b'-');
    Some(if is_date { t + 86_399 } else { t })
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_parse_in_the_three_forms() {
        assert_eq!(super::parse_time("86400"), Some(86_400));
        assert_eq!(super::parse_time("1970-01-02"), Some(86_400));
        assert_eq!(super::parse_time("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(super::parse_time("yesterday"), None);
        assert_eq!(super::parse_until("1970-01-02"), Some(2 * 86_400 - 1));
        assert_eq!(super::parse_until("86400"), Some(86_400));
    }
}
