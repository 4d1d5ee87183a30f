//! Authentication: who is calling, from the `Authorization: Bearer` token. A missing header is an
//! anonymous caller; a present but unknown token is refused (never silently anonymous).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use weir_authz::{Action, Decision, Subject, authorize};
use weir_core::{Name, Scope};
use weir_store::TokenInfo;

use crate::{ApiError, AppState};

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: Subject,
    pub token: Option<TokenInfo>,
    pub orgs: Vec<(Name, String)>,
}

impl Caller {
    pub fn anonymous(&self) -> bool {
        self.token.is_none()
    }

    pub fn name(&self) -> Option<&Name> {
        self.token.as_ref().map(|t| &t.account)
    }

    pub fn scope(&self) -> Option<Scope> {
        self.token.as_ref().map(|t| t.scope)
    }

    /// Asks the authorization module. The one entry point handlers use.
    pub fn authorize(&self, action: &Action<'_>) -> Decision {
        let d = authorize(&self.subject, action);
        tracing::debug!(
            allow = d.allow,
            reason = d.reason.code(),
            "authorization decision"
        );
        d
    }

    /// Authorizes or returns the error the client should see for `repo`.
    pub fn require(&self, action: &Action<'_>, repo: &str) -> Result<(), ApiError> {
        let d = self.authorize(action);
        if d.allow {
            Ok(())
        } else {
            Err(ApiError::denied(d.reason, repo, self.anonymous()))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Caller {
                subject: Subject::Anonymous,
                token: None,
                orgs: vec![],
            });
        };
        let value = value.to_str().map_err(|_| ApiError::invalid_token())?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(ApiError::invalid_token)?
            .trim();
        let info = state
            .store
            .db
            .authenticate(token)
            .await?
            .ok_or_else(ApiError::invalid_token)?;
        let orgs = state.store.db.orgs_of(info.account.as_str()).await?;
        let subject = Subject::User {
            name: info.account.clone(),
            orgs: orgs.iter().map(|(o, _)| o.clone()).collect(),
            scope: info.scope,
        };
        Ok(Caller {
            subject,
            token: Some(info),
            orgs,
        })
    }
}
