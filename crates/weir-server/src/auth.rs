//! Authentication: who is calling, from the `Authorization: Bearer` token. A missing header is an
//! anonymous caller; a present but unknown token is refused (never silently anonymous).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use weir_authz::{Action, Decision, Subject, authorize};
use weir_core::{IdentityLevel, Name, Scope};
use weir_store::TokenInfo;
use weir_wire::ErrorCode;

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

    pub fn level(&self) -> IdentityLevel {
        self.subject.level()
    }

    pub fn country(&self) -> Option<&str> {
        match &self.subject {
            Subject::User(u) => u.country.as_deref(),
            Subject::Anonymous => None,
        }
    }

    /// The caller's name, or an error saying to sign in.
    pub fn require_user(&self) -> Result<&Name, ApiError> {
        self.name().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                ErrorCode::NotSignedIn,
                "This action needs a signed-in account.",
            )
            .next("pass a token (WEIR_TOKEN, --token or 'weir login')")
        })
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

    /// Authenticates once per request: later extractors (a repo lookup) reuse the caller.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let caller = authenticate(parts, state).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
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
    let (subject, orgs) = account_subject(state, &info.account, info.scope).await?;
    Ok(Caller {
        subject,
        token: Some(info),
        orgs,
    })
}

/// The authorization facts of an account as they are now (see
/// [`weir_registry::access::subject_of`]).
pub async fn account_subject(
    state: &AppState,
    account: &Name,
    scope: Scope,
) -> Result<(Subject, Vec<(Name, String)>), ApiError> {
    Ok(weir_registry::access::subject_of(&state.store, account, scope, crate::now()).await?)
}
