//! Extractors whose rejections are [`ApiError`]s, so malformed paths, queries and bodies get the
//! same JSON error envelope as everything else (axum's own rejections are plain text).

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use weir_wire::ErrorCode;

use crate::ApiError;

pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| {
                ApiError::bad_request(
                    ErrorCode::InvalidPath,
                    format!("invalid URL path: {}", e.body_text()),
                )
            })
    }
}

pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e: QueryRejection| {
                ApiError::bad_request(
                    ErrorCode::InvalidQuery,
                    format!("invalid query string: {}", e.body_text()),
                )
            })
    }
}

/// A JSON body of any content type (the Hub client and git-lfs send several), bounded by the
/// router's body limit.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes =
            axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|e: BytesRejection| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            ErrorCode::TooLarge,
                            format!(
                                "the request body is larger than this route accepts (at most {} bytes for JSON, less where docs/API.md says so)",
                                crate::JSON_BODY_LIMIT
                            ),
                        )
                        .next("see the Limits section of docs/API.md")
                    } else {
                        ApiError::bad_request(ErrorCode::InvalidBody, e.body_text())
                    }
                })?;
        parse_json(&bytes).map(Json)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidJson,
            "request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidJson, format!("invalid JSON body: {e}"))
    })
}

/// The header an anonymous reporter presents their follow-up token in.
pub const FOLLOWUP_HEADER: &str = "x-weir-followup";

/// Request metadata: the request id (`X-Amzn-Trace-Id` or `X-Request-Id`) and the user agent,
/// each cut to 200 characters, recorded with events; and an anonymous reporter's follow-up
/// token (`X-Weir-Followup`), which is a secret: never recorded, never printed.
#[derive(Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
    pub followup: Option<String>,
}

impl std::fmt::Debug for RequestMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMeta")
            .field("request_id", &self.request_id)
            .field("user_agent", &self.user_agent)
            .field("followup", &self.followup.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl RequestMeta {
    pub fn of(headers: &axum::http::HeaderMap) -> RequestMeta {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(200).collect::<String>())
        };
        RequestMeta {
            request_id: header("x-amzn-trace-id").or_else(|| header("x-request-id")),
            user_agent: header("user-agent"),
            followup: headers
                .get(FOLLOWUP_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|t| t.len() <= 256)
                .map(str::to_string),
        }
    }

    /// The service context of a caller making this request.
    pub fn context(&self, caller: &crate::auth::Caller) -> weir_registry::Context {
        weir_registry::Context {
            actor: caller.name().map(|n| n.to_string()),
            request_id: self.request_id.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(RequestMeta::of(&parts.headers))
    }
}
