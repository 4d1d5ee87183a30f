//! An account's notifications and its HMAC-signed webhook.

use crate::auth::Caller;
use crate::extract::{Json as JsonBody, Path};
use crate::{ApiError, AppState, iso8601};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use weir_wire::incidents as wire;

pub(super) async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::Notifications>, ApiError> {
    let me = caller.require_user()?.to_string();
    let list: Vec<_> = state
        .store
        .db
        .notifications(&me)
        .await?
        .iter()
        .map(|n| wire::Notification {
            id: n.id,
            kind: n.kind.clone(),
            message: n.message.clone(),
            created_at: iso8601(n.created_at),
            read: n.read_at.is_some(),
        })
        .collect();
    Ok(Json(wire::Notifications {
        notifications: list,
    }))
}

pub(super) async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<wire::MarkedRead>, ApiError> {
    let me = caller.require_user()?.to_string();
    let changed = state.store.db.mark_read(&me, id).await?;
    Ok(Json(wire::MarkedRead {
        id,
        read: true,
        changed,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    url: String,
}

/// Registers the caller's webhook; the HMAC secret is shown once. Deliveries carry
/// `X-Weir-Signature-256: sha256=HEX` = HMAC-SHA256(secret, body).
pub(super) async fn put_webhook(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<Json<wire::WebhookCreated>, ApiError> {
    let me = caller.require_user()?.to_string();
    let url = crate::webhook::checked_url(&state, &me, &body.url).await?;
    let url = url.as_str();
    let secret = crate::webhook::new_secret();
    state.store.db.set_webhook(&me, url, &secret).await?;
    Ok(Json(wire::WebhookCreated {
        url: url.to_string(),
        secret,
        signature: "X-Weir-Signature-256: sha256=HMAC-SHA256(secret, body) in hex; the secret is shown once".into(),
    }))
}

pub(super) async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let me = caller.require_user()?.to_string();
    Ok(Json(match state.store.db.webhook(&me).await? {
        Some(w) => {
            json!({"url": w.url, "created_at": iso8601(w.created_at), "last_status": w.last_status})
        }
        None => Value::Null,
    }))
}

pub(super) async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let me = caller.require_user()?.to_string();
    state.store.db.delete_webhook(&me).await?;
    Ok(StatusCode::NO_CONTENT)
}
