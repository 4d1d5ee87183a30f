//! Identity levels: the caller's, and verifiers' signed attestations.

use crate::auth::Caller;
use crate::extract::Json as JsonBody;
use crate::extract::RequestMeta;
use crate::gate::{self};
use crate::{ApiError, AppState, iso8601, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use weir_core::IdentityLevel;
use weir_store::AttestationRecord;
use weir_wire::ErrorCode;
use weir_wire::access as wire;

pub(super) async fn my_identity(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::Identity>, ApiError> {
    let user = caller.require_user()?.to_string();
    let id = state.store.db.identity(&user, now()).await?;
    Ok(Json(wire::Identity {
        user,
        level: id.level.as_str().to_string(),
        country: id.country,
        source: id.source.to_string(),
        expires_at: id.expires_at.map(iso8601),
    }))
}

/// `POST /api/v1/identity/attestations`: a verifier's signed attestation, checked against the
/// verifier's registered key. Anyone may submit one (usually the user it is about).
pub(super) async fn submit_attestation(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    JsonBody(a): JsonBody<weir_signing::SignedAttestation>,
) -> Result<(StatusCode, Json<wire::AttestationAccepted>), ApiError> {
    let bad = |code: ErrorCode, msg: String| ApiError::bad_request(code, msg);
    let claims =
        weir_signing::claims(&a).map_err(|e| bad(ErrorCode::InvalidAttestation, e.to_string()))?;
    let key = state.store.db.verifier_key(&claims.verifier).await?.ok_or_else(|| {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::UnknownVerifier, format!("{} is not a registered, active verifier", claims.verifier))
            .next("ask the operator to register the verifier: weir admin verifier add NAME --key FILE")
    })?;
    let claims = weir_signing::verify(&a, &key).map_err(|e| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::BadSignature,
            e.to_string(),
        )
    })?;
    let at = now();
    if claims.expires_at <= at {
        return Err(bad(
            ErrorCode::AttestationExpired,
            format!("this attestation expired at {}", iso8601(claims.expires_at)),
        ));
    }
    if claims.level <= IdentityLevel::Account {
        return Err(bad(
            ErrorCode::InvalidAttestation,
            "an attestation must state affiliated, identified or accredited".into(),
        ));
    }
    let subject = weir_core::Name::parse(&claims.subject)
        .map_err(|e| bad(ErrorCode::InvalidAttestation, e.to_string()))?;
    if state.store.db.account(subject.as_str()).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UserNotFound,
            format!("no user {subject}"),
        ));
    }
    let country = match claims.country.as_deref() {
        Some(c) => Some(weir_core::identity::parse_country(c).ok_or_else(|| {
            bad(
                ErrorCode::InvalidCountry,
                format!("{c:?} is not an ISO alpha-2 code"),
            )
        })?),
        None => None,
    };
    let id = weir_signing::id(&a);
    // The log keeps the digest and the level, never personal data.
    let mut e = gate::event(
        &caller,
        &meta,
        "identity.attest",
        None,
        "change",
        claims.level.as_str(),
        json!({"attestation": id, "verifier": claims.verifier}),
    );
    e.subject = Some(subject.to_string());
    let record = AttestationRecord {
        id: id.clone(),
        subject: subject.clone(),
        verifier: claims.verifier.clone(),
        level: claims.level,
        country,
        issued_at: claims.issued_at,
        expires_at: claims.expires_at,
    };
    state
        .store
        .db
        .record_attestation_logged(&record, &e)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::AttestationAccepted {
            id,
            subject: subject.to_string(),
            level: claims.level.as_str().to_string(),
            expires_at: iso8601(claims.expires_at),
        }),
    ))
}
