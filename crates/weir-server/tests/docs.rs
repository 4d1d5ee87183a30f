//! docs/API.md names every error code the server can answer: the codes are the closed set
//! `weir_wire::ErrorCode`, so a new one without a line in the docs fails here.

use std::path::Path;

use weir_wire::ErrorCode;

#[test]
fn api_md_names_every_error_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        ErrorCode::ALL.len() > 100,
        "found only {} codes",
        ErrorCode::ALL.len()
    );
    let doc = std::fs::read_to_string(root.join("../../docs/API.md")).expect("docs/API.md");
    let missing: Vec<&str> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !doc.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/API.md does not name these codes: {missing:?}"
    );
}

/// Every denial reason of the authorization module answers with the code of the same name.
#[test]
fn every_denial_reason_is_an_error_code() {
    let authz = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../weir-authz/src/lib.rs"),
    )
    .expect("authz");
    let allows = [
        "open_tier",
        "public_repo",
        "member",
        "owner",
        "admin_token",
        "terms_accepted",
        "granted",
        "accredited",
        "output_checker",
        "signed_in",
    ];
    for line in authz.lines() {
        if let Some((_, rhs)) = line.trim().split_once("=> \"")
            && line.trim().starts_with("Reason::")
            && let Some(code) = rhs.strip_suffix("\",")
            && !allows.contains(&code)
        {
            assert!(
                ErrorCode::parse(code).is_some(),
                "reason {code} is not an ErrorCode"
            );
        }
    }
}
