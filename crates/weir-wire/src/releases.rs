//! Releases on the wire.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/repos/{ns}/{name}/releases`: the signed release and where its files are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Release {
    pub bundle_sha256: String,
    pub bundle_url: String,
    pub commit: String,
    /// The sequence number of its log event.
    pub event: i64,
    pub files: usize,
    pub proof_url: String,
    pub repo: String,
}

/// `PUT /api/v1/models/{ns}/{name}/releases/{rev}/publisher.sig`: the publisher's bundle,
/// verified against the namespace's key and the release's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublisherBundle {
    pub commit: String,
    pub files: usize,
    pub publisher_bundle_sha256: String,
    pub repo: String,
}

/// `POST /api/v1/repos/{ns}/{name}/releases` takes the revision to release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseRequest {
    pub revision: Option<String>,
}
