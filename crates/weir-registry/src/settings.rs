//! Checks and derivations of the registry's settings.

/// Checks an OSV id prefix: `x_` followed by letters, digits and underscores.
pub fn valid_osv_prefix(p: &str) -> bool {
    p.strip_prefix("x_").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 32
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// The log origin for a public URL: its schemeless form plus `/log`.
pub fn log_origin(public_url: &str) -> String {
    let schemeless = public_url
        .trim_end_matches('/')
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    format!("{schemeless}/log")
}
