//! Evaluations and policy-driven classification over HTTP (DESIGN.md §4).
//!
//! - the policy in force (`GET /api/v1/policy`), signed with the log key;
//! - suites and accredited evaluators (read-only here; operators change them with `weir admin`);
//! - results: a raw harness log is uploaded, stored as a blob and parsed *here*, so the record an
//!   evaluator signs is what weir derived from the log, never numbers a client typed;
//! - evidence that a hazard domain cannot be ruled out, and its review by operators;
//! - classification per revision, and [`reclassify`], which stores a repo's classification and
//!   raises its tier at once when the policy asks for more (with a logged event).
//!
//! Every decision goes through `weir_authz`; every change commits with its event.

mod classification;
mod documentation;
mod evidence;
mod policy;
mod results;

use axum::routing::{get, post};
use classification::{get_classification, record_notification};
use documentation::documentation;
use evidence::{file_evidence, list_evidence, review_evidence};
use policy::{get_policy, list_evaluators, list_suites};
use results::{get_result, import_result, list_results, raw_log, sign_result};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/policy", &["GET"], get(get_policy))
        .add("/api/v1/eval/suites", &["GET"], get(list_suites))
        .add("/api/v1/evaluators", &["GET"], get(list_evaluators))
        .add(
            "/api/v1/models/{ns}/{name}/classification",
            &["GET"],
            get(get_classification),
        )
        .add(
            "/api/v1/models/{ns}/{name}/classification/notified",
            &["POST"],
            post(record_notification),
        )
        .add(
            "/api/v1/models/{ns}/{name}/evaluations",
            &["GET", "POST"],
            get(list_results).post(import_result),
        )
        .add("/api/v1/evaluations/{id}", &["GET"], get(get_result))
        .add("/api/v1/evaluations/{id}/raw", &["GET"], get(raw_log))
        .add(
            "/api/v1/evaluations/{id}/signature",
            &["POST"],
            post(sign_result),
        )
        .add(
            "/api/v1/models/{ns}/{name}/evidence",
            &["GET", "POST"],
            get(list_evidence).post(file_evidence),
        )
        .add(
            "/api/v1/evidence/{id}/review",
            &["POST"],
            post(review_evidence),
        )
        .add(
            "/api/v1/models/{ns}/{name}/documentation",
            &["GET"],
            get(documentation),
        )
}
