//! Consortium governance over HTTP: the board (public), proposals (board members and operators
//! propose; anyone reads) and signatures (board members); the rules are
//! [`weir_registry::board`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use weir_registry::board as svc;
use weir_wire::ErrorCode;
use weir_wire::board as wire;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path};
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/board", &["GET"], get(board))
        .add(
            "/api/v1/board/proposals",
            &["GET", "POST"],
            get(proposals).post(propose),
        )
        .add("/api/v1/board/proposals/{id}", &["GET"], get(proposal))
        .add(
            "/api/v1/board/proposals/{id}/signatures",
            &["POST"],
            post(sign),
        )
}

fn proposal_json(s: &svc::Shown) -> wire::Proposal {
    let p = &s.proposal;
    wire::Proposal {
        id: p.id,
        kind: p.kind.clone(),
        change: svc::to_wire(&s.change),
        change_sha256: p.change_sha256.clone(),
        statement: weir_core::board::statement(p.id, &p.change_sha256, &s.board_sha256),
        board_sha256: s.board_sha256.clone(),
        digest: p.digest.clone(),
        proposed_at: iso8601(p.proposed_at),
        state: p.state.clone(),
        decided_at: p.decided_at.map(iso8601),
        outcome: p.outcome.clone(),
        threshold: s.threshold,
        signatures: s
            .signatures
            .iter()
            .map(|g| wire::BoardSignature {
                member: g.member.clone(),
                public_key: g.public_key.clone(),
                signature: g.signature.clone(),
                at: iso8601(g.at),
            })
            .collect(),
    }
}

async fn board(State(state): State<AppState>) -> Result<Json<wire::Board>, ApiError> {
    let b = state
        .store
        .db
        .board()
        .await
        .map_err(weir_registry::ServiceError::from)?;
    let Some((members, threshold)) = svc::members(&state.store).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NoBoard,
            "no board governs this registry: its operators decide alone",
        ));
    };
    Ok(Json(wire::Board {
        members: members
            .into_iter()
            .map(|m| wire::BoardMember {
                name: m.name,
                public_key: m.public_key,
            })
            .collect(),
        threshold,
        since: iso8601(b.map(|b| b.since).unwrap_or(0)),
    }))
}

async fn proposals(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::Proposals>, ApiError> {
    let mut out = Vec::new();
    for p in state
        .store
        .db
        .proposals(200)
        .await
        .map_err(weir_registry::ServiceError::from)?
    {
        let s = svc::show(&state.store, p.id).await?;
        if svc::visible_to(&state.store, &caller.subject, &s.change).await? {
            out.push(proposal_json(&s));
        }
    }
    Ok(Json(wire::Proposals { proposals: out }))
}

async fn proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<wire::Proposal>, ApiError> {
    let s = svc::show(&state.store, id).await?;
    if !svc::visible_to(&state.store, &caller.subject, &s.change).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ProposalNotFound,
            format!("no board proposal {id}"),
        ));
    }
    Ok(Json(proposal_json(&s)))
}

async fn propose(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    JsonBody(body): JsonBody<wire::ProposedChange>,
) -> Result<(StatusCode, Json<wire::Proposal>), ApiError> {
    let change = svc::from_wire(&body)?;
    let s = svc::propose(
        &state.store,
        &caller.subject,
        &change,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(proposal_json(&s))))
}

async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<wire::SignatureSubmission>,
) -> Result<Json<wire::Proposal>, ApiError> {
    let s = svc::sign(
        &state.store,
        &state.config.log_signer,
        &caller.subject,
        id,
        &body.signature,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(proposal_json(&s)))
}
