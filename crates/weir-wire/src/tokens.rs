//! API tokens as their owners and operators list and revoke them (never the secret).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Token {
    pub id: i64,
    pub user: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// `GET /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tokens {
    pub user: String,
    pub tokens: Vec<Token>,
}
