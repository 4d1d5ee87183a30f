//! The policy in force (`src/evals/policy.rs`), served signed.

use crate::common::TestApp;
use weir_tlog::note::{Note, Verifier};

#[tokio::test]
async fn the_policy_is_served_signed_with_the_log_key() {
    let app = TestApp::new().await;
    let p = app.json("/api/v1/policy", None).await;
    assert_eq!(p["default"], true);
    assert_eq!(p["policy"]["compute_presumption"]["threshold_flop"], 1e25);
    let v = Verifier::parse(p["verification_key"].as_str().expect("vkey")).expect("verifier");
    let note = Note::open(p["signature"].as_str().expect("sig"), &[v]).expect("verifies");
    let sha = p["sha256"].as_str().expect("sha");
    assert!(note.text.contains(sha), "{}", note.text);
    assert_eq!(
        crate::common::sha256_hex(p["text"].as_str().expect("text").as_bytes()),
        sha
    );
    let suites = app.json("/api/v1/eval/suites", None).await;
    let names: Vec<&str> = suites["suites"]
        .as_array()
        .expect("suites")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["wmdp-bio", "wmdp-chem", "wmdp-cyber"]);
    assert_eq!(suites["suites"][0]["questions"], 1273);
    assert_eq!(suites["suites"][0]["original_questions"], 1520);
}
