//! Access to gated repos over `/api/v1/` (terms, requests, reviews, checks, tiers, gating,
//! identity attestations) and the Hub's owner endpoints (`user-access-request/*`).
//! Every decision goes through `weir_authz::authorize`; every state change is an event.

mod gating;
mod hub_owner;
mod identity;
mod requests;
mod terms;
mod tiers;

use crate::ApiError;
use crate::auth::Caller;
use axum::routing::{get, post, put};
use gating::set_gating;
use hub_owner::{hf_grant, hf_handle, hf_list};
use identity::{my_identity, submit_attestation};
use requests::{
    apply_review, list_requests, my_requests, request_access, review_action, review_request,
};
use terms::{accept_terms, check, terms};
use tiers::set_tier;
use weir_authz::Action;
use weir_store::Repo;

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/access/check", &["GET"], get(check))
        .add("/api/v1/access/requests", &["GET"], get(my_requests))
        .add(
            "/api/v1/repos/{ns}/{name}/access/terms",
            &["GET", "POST"],
            get(terms).post(accept_terms),
        )
        .add(
            "/api/v1/repos/{ns}/{name}/access/requests",
            &["GET", "POST"],
            get(list_requests).post(request_access),
        )
        .add(
            "/api/v1/repos/{ns}/{name}/access/requests/{user}",
            &["POST"],
            post(review_request),
        )
        .add("/api/v1/repos/{ns}/{name}/tier", &["PUT"], put(set_tier))
        .add(
            "/api/v1/repos/{ns}/{name}/gating",
            &["PUT"],
            put(set_gating),
        )
        .add("/api/v1/identity", &["GET"], get(my_identity))
        .add(
            "/api/v1/identity/attestations",
            &["POST"],
            post(submit_attestation).layer(axum::extract::DefaultBodyLimit::max(64 * 1024)),
        )
        .add(
            "/api/models/{ns}/{name}/user-access-request/handle",
            &["POST"],
            post(hf_handle),
        )
        .add(
            "/api/models/{ns}/{name}/user-access-request/grant",
            &["POST"],
            post(hf_grant),
        )
        .add(
            "/api/models/{ns}/{name}/user-access-request/{status}",
            &["GET"],
            get(hf_list),
        )
}

fn require(caller: &Caller, action: &Action<'_>, repo: &Repo) -> Result<(), ApiError> {
    caller.require(action, &repo.repo_id.to_string())
}
