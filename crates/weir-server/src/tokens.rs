//! `GET /api/v1/tokens[?user=]` and `DELETE /api/v1/tokens/{id}`: an account's API tokens,
//! listed and revoked (never their secrets). The rules are [`weir_registry::tokens`].

use axum::Json;
use axum::extract::State;
use axum::routing::{delete, get};
use serde::Deserialize;
use weir_store::tokens::TokenRow;
use weir_wire::tokens as wire;

use crate::auth::Caller;
use crate::extract::{Path, Query, RequestMeta};
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/tokens", &["GET"], get(list))
        .add("/api/v1/tokens/{id}", &["DELETE"], delete(revoke))
}

fn token_json(t: TokenRow) -> wire::Token {
    wire::Token {
        id: t.id,
        user: t.account,
        scope: t.scope,
        name: t.display_name,
        created_at: iso8601(t.created_at),
        revoked_at: t.revoked_at.map(iso8601),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    user: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::Tokens>, ApiError> {
    let (user, rows) =
        weir_registry::tokens::list(&state.store, &caller.subject, q.user.as_deref()).await?;
    Ok(Json(wire::Tokens {
        user,
        tokens: rows.into_iter().map(token_json).collect(),
    }))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
) -> Result<Json<wire::Token>, ApiError> {
    let t = weir_registry::tokens::revoke(
        &state.store,
        &caller.subject,
        id,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(token_json(t)))
}
