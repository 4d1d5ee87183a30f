//! API tokens as accounts manage them: a user lists and revokes their own; an operator any
//! user's. A token another user owns is, to everyone else, exactly like a missing one.

use serde_json::json;
use weir_authz::{Action, Subject};
use weir_store::Store;
use weir_store::tokens::TokenRow;
use weir_wire::ErrorCode;

use crate::access::signed_in;
use crate::{Context, Kind, ServiceError};

fn operator(subject: &Subject) -> bool {
    weir_authz::authorize(subject, &Action::Administer).allow
}

/// The tokens of `user` (default: the subject's own).
pub async fn list(
    store: &Store,
    subject: &Subject,
    user: Option<&str>,
) -> Result<(String, Vec<TokenRow>), ServiceError> {
    let me = signed_in(subject)?.to_string();
    let user = user.unwrap_or(&me).to_string();
    if user != me && !operator(subject) {
        return Err(ServiceError::refused(
            Kind::Forbidden,
            ErrorCode::NotOperator,
            "Only operators list another account's tokens.",
        ));
    }
    let rows = store.db.tokens_of(&user).await?;
    Ok((user, rows))
}

/// Revokes token `id`: it stops working at once, and the revocation is an event.
pub async fn revoke(
    store: &Store,
    subject: &Subject,
    id: i64,
    ctx: &Context,
    now: i64,
) -> Result<TokenRow, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let missing = || {
        ServiceError::refused(
            Kind::NotFound,
            ErrorCode::TokenNotFound,
            format!("no token {id} of yours"),
        )
        .next("list them with: weir token list")
    };
    let t = store.db.token(id).await?.ok_or_else(missing)?;
    if t.account != me && !operator(subject) {
        return Err(missing());
    }
    let mut e = ctx.event(now, "token.revoked", None, &t.scope, json!({"token": id}));
    e.subject = Some(t.account.clone());
    store.db.revoke_token_logged(id, now, &e).await?;
    Ok(store.db.token(id).await?.unwrap_or(t))
}

/// The most live tokens one account holds.
pub const MAX_LIVE_TOKENS: usize = 100;

/// The highest scope a token made from a browser session may have: an admin token (an
/// operator's) is made with `weir admin token create`, never from a session.
pub const MAX_SESSION_TOKEN_SCOPE: weir_core::Scope = weir_core::Scope::Write;

/// Creates a token for the subject itself (the web UI's token form, after the password was
/// asked again): at most the subject's own scope and never admin. Logged as `token.created`.
/// Returns the secret, shown once.
pub async fn create(
    store: &Store,
    subject: &Subject,
    own_scope: weir_core::Scope,
    scope: weir_core::Scope,
    name: &str,
    ctx: &Context,
    now: i64,
) -> Result<String, ServiceError> {
    let me = signed_in(subject)?.clone();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ServiceError::refused(
            Kind::Invalid,
            ErrorCode::InvalidBody,
            "a token's name is 1 to 64 characters, without control characters",
        ));
    }
    let ceiling = own_scope.min(MAX_SESSION_TOKEN_SCOPE);
    if scope > ceiling {
        return Err(ServiceError::refused(
            Kind::Forbidden,
            ErrorCode::NotOperator,
            format!("tokens made here go up to the '{}' scope", ceiling.as_str()),
        )
        .next("an operator makes admin tokens with: weir admin token create USER --scope admin"));
    }
    let live = store
        .db
        .tokens_of(me.as_str())
        .await?
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .count();
    if live >= MAX_LIVE_TOKENS {
        return Err(ServiceError::refused(
            Kind::Conflict,
            ErrorCode::InvalidBody,
            format!("you have {live} live tokens; at most {MAX_LIVE_TOKENS}"),
        )
        .next("revoke tokens you no longer use"));
    }
    let (token, _) = store
        .db
        .create_token_logged(&me, scope, name, |id| {
            let mut e = ctx.event(
                now,
                "token.created",
                None,
                scope.as_str(),
                json!({"token": id}),
            );
            e.subject = Some(me.to_string());
            e
        })
        .await?;
    Ok(token)
}
