//! `POST /api/validate-yaml` (`src/hub/cards.rs`): the Hub's answer shape, refusals that name the
//! field, a warning for cards without metadata, and bounds.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn validate(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let r = app
        .req(Method::POST, "/api/validate-yaml", None)
        .json(&body)
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_good_card_passes_and_a_card_without_metadata_is_warned_about() {
    let app = TestApp::new().await;
    let card = "---\nlicense: mit\ntags: [a]\nbase_model: [x/y, z/w]\n---\n# M\n";
    let (s, v) = validate(&app, json!({"content": card, "repoType": "model"})).await;
    assert_eq!(s, StatusCode::OK);
    insta::assert_json_snapshot!(v, @r#"
    {
      "errors": [],
      "warnings": []
    }
    "#);
    let (s, v) = validate(&app, json!({"content": "# no metadata\n"})).await;
    assert_eq!(s, StatusCode::OK);
    insta::assert_json_snapshot!(v, @r#"
    {
      "errors": [],
      "warnings": [
        {
          "message": "empty or missing yaml metadata in repo card"
        }
      ]
    }
    "#);
}

#[tokio::test]
async fn a_malformed_card_is_refused_naming_each_problem() {
    let app = TestApp::new().await;
    let card = "---\nlicense: {a: 1}\nhazard_domains: [nukes]\n---\n";
    let (s, v) = validate(&app, json!({"content": card, "repoType": "model"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    insta::assert_json_snapshot!(v, @r#"
    {
      "error": "invalid_card_metadata",
      "errors": [
        {
          "message": "hazard_domains: unknown domain \"nukes\" (bio, chem, cyber, autonomy, manipulation)"
        },
        {
          "message": "\"license\" must be a string or a list of strings"
        }
      ],
      "message": "Invalid metadata in README.md: hazard_domains: unknown domain \"nukes\" (bio, chem, cyber, autonomy, manipulation); \"license\" must be a string or a list of strings",
      "next": "fix the YAML front matter between the two --- lines at the top of README.md",
      "warnings": []
    }
    "#);
    let (s, v) = validate(&app, json!({"content": "---\n: : [\n---\n"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid YAML"))
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = TestApp::new().await;
    let (s, v) = validate(&app, json!({"content": "# x", "repoType": "kernel"})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    let (s, v) = validate(&app, json!({"repoType": "model"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let huge = "a".repeat(3 << 20);
    let (s, v) = validate(&app, json!({"content": huge})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
}
