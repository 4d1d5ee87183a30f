//! The one place that turns failures into HTTP answers.
//!
//! Every error response has a JSON body `{"error": code, "message": text, "next": hint}` and the
//! Hub's headers: `X-Error-Code` (the Hub's exception selector, when one applies) and
//! `X-Error-Message` (the text, because HEAD responses have no body). Handlers return
//! `Result<_, ApiError>` and never build error responses by hand.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use weir_authz::Reason;
use weir_store::{BlobError, StoreError};
use weir_wire::ErrorCode;

/// Boxed so that `Result<_, ApiError>` stays small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<ErrorBody>);

#[derive(Debug)]
pub struct ErrorBody {
    pub status: StatusCode,
    /// `X-Error-Code`, read by `huggingface_hub` to pick its exception class.
    pub hub_code: Option<&'static str>,
    /// Our machine-readable code (`repo_not_found`, `invalid_path`, a policy reason, …).
    pub error: ErrorCode,
    pub message: String,
    pub next: Option<String>,
    /// `X-Repo-Commit` on not-found entries, so the Hub client can cache the absence.
    pub repo_commit: Option<String>,
    /// Extra JSON fields (e.g. `url` on a 409 from repo creation, which the client reads).
    pub extra: Map<String, Value>,
    /// `Location` of a redirect (a moved repo's former name).
    pub location: Option<String>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, error: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(ErrorBody {
            status,
            hub_code: None,
            error,
            message: message.into(),
            next: None,
            repo_commit: None,
            extra: Map::new(),
            location: None,
        }))
    }

    pub fn next(mut self, hint: impl Into<String>) -> ApiError {
        self.next = Some(hint.into());
        self
    }

    pub fn hub(mut self, code: &'static str) -> ApiError {
        self.hub_code = Some(code);
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_string(), value);
        self
    }

    pub fn bad_request(error: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error, message)
    }

    /// The Hub answers 401 to anonymous callers and 404 to signed-in ones, for missing and for
    /// hidden (private) repos alike, so existence never leaks.
    pub fn repo_not_found(repo: &str, anonymous: bool) -> ApiError {
        let status = if anonymous {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::NOT_FOUND
        };
        let mut e = ApiError::new(
            status,
            ErrorCode::RepoNotFound,
            format!("Repository {repo} not found."),
        )
        .hub("RepoNotFound");
        e.next = Some(if anonymous {
            "check the name; if the repo is private, sign in with a token that can see it".into()
        } else {
            "check the name and that your account can see this repo".into()
        });
        e
    }

    pub fn revision_not_found(repo: &str, rev: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::RevisionNotFound,
            format!("Revision {rev} not found in {repo}."),
        )
        .hub("RevisionNotFound")
        .next(format!(
            "list branches and tags with GET /api/models/{repo}/refs"
        ))
    }

    pub fn entry_not_found(repo: &str, path: &str, commit: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::EntryNotFound,
            format!("Entry {path} not found in {repo} at {commit}."),
        )
        .hub("EntryNotFound")
        .next(format!(
            "list files with GET /api/models/{repo}/tree/{commit}?recursive=true"
        ));
        e.repo_commit = Some(commit.to_string());
        e
    }

    /// A Hub surface weir does not offer.
    /// 307 to where a moved repo now is (the Hub answers a former name so; its client follows).
    pub fn moved(from: &str, to: &str, location: String) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TEMPORARY_REDIRECT,
            ErrorCode::RepoMoved,
            format!("{from} moved to {to}"),
        );
        e.0.location = Some(location);
        e
    }

    pub fn not_implemented(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorCode::NotImplemented,
            format!("weir does not offer {what}."),
        )
        .hub("NotImplemented")
        .next("see docs/API.md, \"Hub surfaces weir does not offer\"")
    }

    pub fn invalid_token() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "Invalid credentials in Authorization header",
        )
        .next("create a token with 'weir admin token create USER' and pass it as 'Authorization: Bearer <token>'")
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; the server log has the details",
        )
        .next("retry; if it persists, report it to the operator")
    }

    /// A denial from the authorization module, as the Hub client understands it.
    pub fn denied(reason: Reason, repo: &str, anonymous: bool) -> ApiError {
        match reason {
            Reason::NotVisible => ApiError::repo_not_found(repo, anonymous),
            Reason::NotSignedIn => ApiError::new(
                StatusCode::UNAUTHORIZED,
                reason_code(reason),
                format!("Access to model {repo} is restricted. You must be authenticated to access it."),
            )
            .hub("GatedRepo")
            .next("sign in: pass a token (HF_TOKEN or WEIR_TOKEN)"),
            Reason::NotRequested => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                format!("Access to model {repo} is restricted and you are not in the authorized list."),
            )
            .hub("GatedRepo")
            .next(format!("request access to {repo} from its publisher")),
            Reason::TierNoEgress => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                format!("The weights of {repo} are never downloaded (restricted tier)."),
            )
            .hub("GatedRepo")
            .next("use the secure research environment to run jobs against it"),
            Reason::TokenScope => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                "Your token's scope does not allow this action.",
            )
            .next("create a token with a wider scope ('--scope write' to push, 'admin' for operator tasks)"),
            Reason::NotMember => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                format!("You are not a member of the namespace that owns {repo}."),
            )
            .next("ask an owner of the namespace to add you, or push under your own namespace"),
            Reason::NotReviewer => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                format!("Only the owners of {repo}'s namespace and operators may do this."),
            )
            .next("ask an owner of the namespace"),
            Reason::NotOperator => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                "Only operators (the registry's reviewers, with an admin token) may do this.",
            )
            .next("ask an operator of the registry"),
            Reason::NotGated => ApiError::new(
                StatusCode::CONFLICT,
                reason_code(reason),
                format!("{repo} is open (T0): there is nothing to request."),
            )
            .next("download it directly"),
            Reason::NotExportable => ApiError::new(
                StatusCode::CONFLICT,
                reason_code(reason),
                format!("Custodial export applies to restricted (T3) repos only; {repo} is not one."),
            ),
            Reason::OwnRequest => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                "Dual control: you may not approve your own request.",
            )
            .next("two other reviewers must approve it"),
            Reason::AlreadyApproved => ApiError::new(
                StatusCode::CONFLICT,
                reason_code(reason),
                "Dual control: you already approved this; a second, different reviewer must approve.",
            ),
            Reason::IncidentHold => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                format!("Deliveries of this revision of {repo} are on hold because of a confirmed incident: reason incident_hold."),
            )
            .hub("GatedRepo")
            .next(format!("see the public notice of the hold and any fixed revision: GET /api/v1/models/{repo}/holds (weir access check {repo} tells before downloading)")),
            Reason::OwnEvidence => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                "You filed this evidence: another operator must review it.",
            )
            .next("ask another operator to confirm or dismiss it"),
            Reason::TierLowering => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                format!("Lowering the tier of {repo} needs an operator and a recorded reason."),
            )
            .next("an operator runs: weir tier set NS/NAME TIER --reason TEXT"),
            Reason::IdentityLevel => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                "Your identity level is too low for this.",
            )
            .next("obtain an attestation from an accredited verifier: weir identity submit FILE"),
            // Download denials with their details come from `gate::gate_error`; these are the
            // short forms for other paths.
            Reason::TermsNotAccepted
            | Reason::Pending
            | Reason::Rejected
            | Reason::Expired
            | Reason::Revoked
            | Reason::Region => ApiError::new(StatusCode::FORBIDDEN, reason_code(reason), format!("Access to {repo} is denied: {}.", reason.code()))
                .hub("GatedRepo")
                .next(format!("see: weir access check {repo}")),
            Reason::TierCapsLevel | Reason::KindNeedsLevel | Reason::NotInProject | Reason::ProjectNotActive => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                format!("The research project may not run this on {repo}: {}.", reason.code()),
            )
            .next("see the project's models and levels: weir project show NS/NAME"),
            Reason::QuotaExhausted
            | Reason::AwardNotStarted
            | Reason::AwardExpired
            | Reason::AwardRevoked => ApiError::new(
                StatusCode::CONFLICT,
                reason_code(reason),
                format!("The research project's compute does not allow a job on {repo}: {}.", reason.code()),
            )
            .next("see the project's award: weir grant awards"),
            Reason::Conflict => ApiError::new(
                StatusCode::FORBIDDEN,
                reason_code(reason),
                "You declared a conflict of interest on this.",
            ),
            Reason::OpenTier
            | Reason::PublicRepo
            | Reason::Member
            | Reason::Owner
            | Reason::AdminToken
            | Reason::TermsAccepted
            | Reason::Granted
            | Reason::Accredited
            | Reason::OutputChecker
            | Reason::SignedIn => ApiError::internal(),
        }
    }
}

/// The error code of an authorization reason: the same snake_case text. Allow reasons never
/// reach an error and map to `internal`.
pub fn reason_code(reason: Reason) -> ErrorCode {
    match reason {
        Reason::NotVisible => ErrorCode::NotVisible,
        Reason::NotSignedIn => ErrorCode::NotSignedIn,
        Reason::TermsNotAccepted => ErrorCode::TermsNotAccepted,
        Reason::IdentityLevel => ErrorCode::IdentityLevel,
        Reason::NotRequested => ErrorCode::NotRequested,
        Reason::Pending => ErrorCode::Pending,
        Reason::Rejected => ErrorCode::Rejected,
        Reason::Expired => ErrorCode::Expired,
        Reason::Revoked => ErrorCode::Revoked,
        Reason::TokenScope => ErrorCode::TokenScope,
        Reason::TierNoEgress => ErrorCode::TierNoEgress,
        Reason::Region => ErrorCode::Region,
        Reason::NotMember => ErrorCode::NotMember,
        Reason::NotReviewer => ErrorCode::NotReviewer,
        Reason::NotOperator => ErrorCode::NotOperator,
        Reason::TierLowering => ErrorCode::TierLowering,
        Reason::NotGated => ErrorCode::NotGated,
        Reason::NotExportable => ErrorCode::NotExportable,
        Reason::OwnRequest => ErrorCode::OwnRequest,
        Reason::AlreadyApproved => ErrorCode::AlreadyApproved,
        Reason::OwnEvidence => ErrorCode::OwnEvidence,
        Reason::IncidentHold => ErrorCode::IncidentHold,
        Reason::NotInProject => ErrorCode::NotInProject,
        Reason::ProjectNotActive => ErrorCode::ProjectNotActive,
        Reason::TierCapsLevel => ErrorCode::TierCapsLevel,
        Reason::KindNeedsLevel => ErrorCode::KindNeedsLevel,
        Reason::QuotaExhausted => ErrorCode::QuotaExhausted,
        Reason::AwardNotStarted => ErrorCode::AwardNotStarted,
        Reason::AwardExpired => ErrorCode::AwardExpired,
        Reason::AwardRevoked => ErrorCode::AwardRevoked,
        Reason::Conflict => ErrorCode::ConflictDeclared,
        Reason::OpenTier
        | Reason::PublicRepo
        | Reason::Member
        | Reason::Owner
        | Reason::AdminToken
        | Reason::TermsAccepted
        | Reason::Granted
        | Reason::Accredited
        | Reason::OutputChecker
        | Reason::SignedIn => ErrorCode::Internal,
    }
}

/// Header values must be visible ASCII; anything else becomes '?'.
fn header_text(s: &str) -> HeaderValue {
    let clean: String = s
        .chars()
        .take(1000)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = *self.0;
        let mut headers = HeaderMap::new();
        if let Some(code) = e.hub_code {
            headers.insert(
                HeaderName::from_static("x-error-code"),
                HeaderValue::from_static(code),
            );
        }
        // The Hub client matches this exact text for bad tokens; everything else carries our
        // reason code and the next step, since HEAD responses have no body.
        let text = match &e.next {
            _ if e.error == ErrorCode::InvalidToken => e.message.clone(),
            Some(n) => format!("{} [{}] Next: {n}", e.message, e.error),
            None => format!("{} [{}]", e.message, e.error),
        };
        headers.insert(
            HeaderName::from_static("x-error-message"),
            header_text(&text),
        );
        if let Some(c) = &e.repo_commit {
            headers.insert(HeaderName::from_static("x-repo-commit"), header_text(c));
        }
        if let Some(l) = &e.location
            && let Ok(v) = HeaderValue::from_str(l)
        {
            headers.insert(axum::http::header::LOCATION, v);
        }
        let mut body = json!({ "error": e.error, "message": e.message, "next": e.next });
        if let Value::Object(m) = &mut body {
            m.extend(e.extra);
        }
        (e.status, headers, Json(body)).into_response()
    }
}

/// The answer when the database asks to be retried: 503 `busy`, retry after a second.
fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Busy,
        "the registry is busy writing; try again in a moment",
    )
    .next("retry after retry_after_secs")
    .with("retry_after_secs", serde_json::json!(1))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("{what} not found"),
            ),
            StoreError::Deleted { .. } => ApiError::new(
                StatusCode::GONE,
                ErrorCode::RepoDeleted,
                format!("{e}: its releases and log entries keep naming it"),
            )
            .next("pick another name"),
            StoreError::Exists(what) => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                format!("{what} already exists"),
            ),
            StoreError::Conflict { .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                ErrorCode::ParentMoved,
                e.to_string(),
            )
            .next("fetch the new head and rebase your commit on it"),
            StoreError::StateChanged { .. } => {
                ApiError::new(StatusCode::CONFLICT, ErrorCode::StateChanged, e.to_string())
                    .next("reload it and try again")
            }
            StoreError::InvalidCommit(msg) => ApiError::bad_request(ErrorCode::InvalidCommit, msg),
            // The Hub's answer, which its client raises as `EntryNotFoundError`.
            StoreError::NoSuchEntry(path) => ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::EntryNotFound,
                format!("cannot delete {path}: no such file or folder on the branch"),
            )
            .hub("EntryNotFound")
            .next("list the files with GET /api/models/NS/NAME/tree/BRANCH"),
            StoreError::NotUploaded { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NotUploaded,
                e.to_string(),
            )
            .next("upload the file's bytes through the LFS batch API for this repo, then commit"),
            StoreError::Blob(b) => b.into(),
            StoreError::Busy => busy(),
            StoreError::LimitReached(msg) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooManyAttachments,
                msg,
            )
            .next("bundle the files into one archive"),
            // PostgreSQL ended a statement that waited on another (a deadlock, a lock wait timed
            // out, a serialization failure): nothing was written, and a retry succeeds.
            StoreError::Db(ref err)
                if err
                    .as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c == "40P01" || c == "40001" || c == "55P03") =>
            {
                busy()
            }
            // PostgreSQL's TEXT holds no NUL (U+0000) and no bytes its encoding lacks: the
            // input's fault, not the server's.
            StoreError::Db(ref err)
                if err
                    .as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c == "22021" || c == "22P05") =>
            {
                ApiError::bad_request(
                    ErrorCode::InvalidText,
                    "text must not contain NUL (U+0000) characters",
                )
                .next("remove the NUL characters and send it again")
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> ApiError {
        match e {
            BlobError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooLarge,
                e.to_string(),
            ),
            BlobError::SizeMismatch { .. } => {
                ApiError::bad_request(ErrorCode::SizeMismatch, e.to_string())
                    .next("upload the exact bytes announced in the batch request")
            }
            BlobError::HashMismatch { .. } => {
                ApiError::bad_request(ErrorCode::HashMismatch, e.to_string())
                    .next("upload the exact bytes announced in the batch request")
            }
            BlobError::Interrupted(_) => {
                ApiError::bad_request(ErrorCode::UploadInterrupted, e.to_string())
                    .next("retry the upload")
            }
            BlobError::Io(err) => {
                tracing::error!(error = %err, "blob storage failure");
                ApiError::internal()
            }
        }
    }
}

impl From<weir_registry::ServiceError> for ApiError {
    fn from(e: weir_registry::ServiceError) -> ApiError {
        use weir_registry::{Kind, ServiceError};
        match e {
            ServiceError::Store(s) => s.into(),
            ServiceError::Refused(r) => {
                let status = match r.kind {
                    Kind::Conflict => StatusCode::CONFLICT,
                    Kind::Invalid => StatusCode::BAD_REQUEST,
                    Kind::NotFound => StatusCode::NOT_FOUND,
                    Kind::Forbidden => StatusCode::FORBIDDEN,
                    Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
                    Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                    Kind::Gone => StatusCode::GONE,
                };
                let r = *r;
                let mut out = ApiError::new(status, r.code, r.message);
                out.next = r.next;
                for (k, v) in r.extra {
                    out = out.with(&k, v);
                }
                out
            }
            ServiceError::Denied {
                reason,
                repo,
                anonymous,
            } => ApiError::denied(reason, &repo, anonymous),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_busy_database_is_a_503_to_retry() {
        let e = super::ApiError::from(weir_store::StoreError::Busy);
        assert_eq!(e.0.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.0.error, weir_wire::ErrorCode::Busy);
        assert_eq!(e.0.extra["retry_after_secs"], 1);
    }
}
