//! docs/API.md names every error code the server can answer and every reason code of the
//! authorization module: the codes are read out of the sources, so a new one without a line in
//! the docs fails here.

use std::collections::BTreeSet;
use std::path::Path;

/// String literals that are the code argument of `ApiError::new`, `ApiError::bad_request` or a
/// module's `bad(…)` helper: the first snake_case literal after the call.
fn codes_in(src: &str, out: &mut BTreeSet<String>) {
    for call in ["ApiError::new(", "ApiError::bad_request(", "bad("] {
        let mut rest = src;
        while let Some(i) = rest.find(call) {
            // `bad(` on its own, not the end of another name (`ApiError::bad_request(` has its own).
            let own = rest[..i]
                .bytes()
                .last()
                .is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b':'));
            rest = &rest[i + call.len()..];
            if call == "bad(" && !own {
                continue;
            }
            let window = &rest[..rest.len().min(300)];
            if let Some(q) = window.find('"') {
                let lit = &window[q + 1..];
                if let Some(end) = lit.find('"') {
                    let code = &lit[..end];
                    if !code.is_empty()
                        && code
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    {
                        out.insert(code.to_string());
                    }
                }
            }
        }
    }
}

fn walk(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            codes_in(&std::fs::read_to_string(&p).expect("read"), out);
        }
    }
}

#[test]
fn api_md_names_every_error_and_reason_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut codes = BTreeSet::new();
    walk(&root.join("src"), &mut codes);
    let authz = std::fs::read_to_string(root.join("../weir-authz/src/lib.rs")).expect("authz");
    for line in authz.lines() {
        if let Some((_, rhs)) = line.trim().split_once("=> \"")
            && line.trim().starts_with("Reason::")
            && let Some(code) = rhs.strip_suffix("\",")
        {
            codes.insert(code.to_string());
        }
    }
    assert!(codes.len() > 100, "found only {} codes", codes.len());
    let doc = std::fs::read_to_string(root.join("../../docs/API.md")).expect("docs/API.md");
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !doc.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/API.md does not name these codes: {missing:?}"
    );
}
