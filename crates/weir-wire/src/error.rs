//! The closed set of error codes: the `error` field of every error envelope. Each one is named
//! in docs/API.md (a test checks it), and a new failure gets a new variant here, not a string.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! codes {
    ($($variant:ident => $code:literal,)*) => {
        /// A machine-readable error code, snake_case on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the wire strings.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            pub fn parse(s: &str) -> Option<ErrorCode> {
                match s {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    AlreadyApplied => "already_applied",
    AlreadyApproved => "already_approved",
    AlreadyExists => "already_exists",
    AlreadyPending => "already_pending",
    AlreadyReleased => "already_released",
    AlreadyReviewed => "already_reviewed",
    AlreadySigned => "already_signed",
    ApplicationNotFound => "application_not_found",
    AttestationExpired => "attestation_expired",
    AwardExpired => "award_expired",
    AwardNotFound => "award_not_found",
    AwardNotStarted => "award_not_started",
    AwardRevoked => "award_revoked",
    BadCredentials => "bad_credentials",
    BadSignature => "bad_signature",
    BelowPolicyMinimum => "below_policy_minimum",
    BoardRequired => "board_required",
    BundleMismatch => "bundle_mismatch",
    Busy => "busy",
    CallClosed => "call_closed",
    CallNotFound => "call_not_found",
    ConflictDeclared => "conflict_declared",
    CoolDown => "cool_down",
    CsrfFailed => "csrf_failed",
    DefaultBranch => "default_branch",
    Embargoed => "embargoed",
    EmptyLog => "empty_log",
    EntryNotFound => "entry_not_found",
    EvaluationsRequired => "evaluations_required",
    EvaluatorNotAccredited => "evaluator_not_accredited",
    EvidenceNotFound => "evidence_not_found",
    Expired => "expired",
    ExportNotApproved => "export_not_approved",
    ExportNotFound => "export_not_found",
    ExportNotPending => "export_not_pending",
    FieldTooLong => "field_too_long",
    FixIsAffected => "fix_is_affected",
    HashMismatch => "hash_mismatch",
    HeadersTooLarge => "headers_too_large",
    IdentityLevel => "identity_level",
    IncidentHold => "incident_hold",
    IncidentNotFound => "incident_not_found",
    InsufficientFunds => "insufficient_funds",
    Internal => "internal",
    InvalidAction => "invalid_action",
    InvalidAlias => "invalid_alias",
    InvalidAmount => "invalid_amount",
    InvalidAttestation => "invalid_attestation",
    InvalidBody => "invalid_body",
    InvalidBundle => "invalid_bundle",
    InvalidCardMetadata => "invalid_card_metadata",
    InvalidChange => "invalid_change",
    InvalidClass => "invalid_class",
    InvalidCommit => "invalid_commit",
    InvalidCompute => "invalid_compute",
    InvalidCosignature => "invalid_cosignature",
    InvalidCountry => "invalid_country",
    InvalidDate => "invalid_date",
    InvalidDecision => "invalid_decision",
    InvalidDomain => "invalid_domain",
    InvalidEvalLog => "invalid_eval_log",
    InvalidExpiry => "invalid_expiry",
    InvalidField => "invalid_field",
    InvalidFormat => "invalid_format",
    InvalidJson => "invalid_json",
    InvalidKind => "invalid_kind",
    InvalidLevel => "invalid_level",
    InvalidName => "invalid_name",
    InvalidOid => "invalid_oid",
    InvalidOrg => "invalid_org",
    InvalidParams => "invalid_params",
    InvalidPath => "invalid_path",
    InvalidPurpose => "invalid_purpose",
    InvalidQuery => "invalid_query",
    InvalidQuota => "invalid_quota",
    InvalidRange => "invalid_range",
    InvalidRef => "invalid_ref",
    InvalidReference => "invalid_reference",
    InvalidRepoId => "invalid_repo_id",
    InvalidRequiredFields => "invalid_required_fields",
    InvalidSeverity => "invalid_severity",
    InvalidStandin => "invalid_standin",
    InvalidState => "invalid_state",
    InvalidStatus => "invalid_status",
    InvalidText => "invalid_text",
    InvalidTier => "invalid_tier",
    InvalidTile => "invalid_tile",
    InvalidToken => "invalid_token",
    InvalidTransition => "invalid_transition",
    InvalidUploadLink => "invalid_upload_link",
    InvalidUrl => "invalid_url",
    InvalidVote => "invalid_vote",
    JobNotFound => "job_not_found",
    KindNeedsLevel => "kind_needs_level",
    LinkAlreadyIssued => "link_already_issued",
    LinkExpired => "link_expired",
    LinkUnknown => "link_unknown",
    LinkUsed => "link_used",
    MethodNotAllowed => "method_not_allowed",
    MissingField => "missing_field",
    MissingFixedRevision => "missing_fixed_revision",
    MissingNote => "missing_note",
    MissingReason => "missing_reason",
    MissingSeverity => "missing_severity",
    MissingSummary => "missing_summary",
    NamespaceNotFound => "namespace_not_found",
    NoBoard => "no_board",
    NoNotificationClock => "no_notification_clock",
    NoPublisherKey => "no_publisher_key",
    NoPublisherSignature => "no_publisher_signature",
    NotAllowed => "not_allowed",
    NotExportable => "not_exportable",
    NotFound => "not_found",
    NotGated => "not_gated",
    NotImplemented => "not_implemented",
    NotInCall => "not_in_call",
    NotInLog => "not_in_log",
    NotInProject => "not_in_project",
    NotInReview => "not_in_review",
    NotMember => "not_member",
    NotOperator => "not_operator",
    NotReleased => "not_released",
    NotRequested => "not_requested",
    NotRequester => "not_requester",
    NotResolved => "not_resolved",
    NotReviewer => "not_reviewer",
    NotSealed => "not_sealed",
    NotSignedIn => "not_signed_in",
    NotUploaded => "not_uploaded",
    NotVisible => "not_visible",
    ObjectMissing => "object_missing",
    OutputsHeld => "outputs_held",
    OwnEvidence => "own_evidence",
    OwnRequest => "own_request",
    ParentMoved => "parent_moved",
    PayoutNotFound => "payout_not_found",
    Pending => "pending",
    PoolNotFound => "pool_not_found",
    ProjectNotActive => "project_not_active",
    ProjectNotFound => "project_not_found",
    ProposalNotFound => "proposal_not_found",
    PublisherNotFound => "publisher_not_found",
    PublisherSuspended => "publisher_suspended",
    QuotaExhausted => "quota_exhausted",
    RangeNotSatisfiable => "range_not_satisfiable",
    RateLimited => "rate_limited",
    ReasonRequired => "reason_required",
    RefExists => "ref_exists",
    Region => "region",
    Rejected => "rejected",
    RepoDeleted => "repo_deleted",
    RepoExists => "repo_exists",
    RepoMoved => "repo_moved",
    RepoNotFound => "repo_not_found",
    RequesterNotEligible => "requester_not_eligible",
    ResearchUnavailable => "research_unavailable",
    ResultNotFound => "result_not_found",
    RevisionNotFound => "revision_not_found",
    Revoked => "revoked",
    SignoffRequired => "signoff_required",
    SizeMismatch => "size_mismatch",
    StaleOrBadCosignature => "stale_or_bad_cosignature",
    StateChanged => "state_changed",
    SummaryTooLong => "summary_too_long",
    TagReleased => "tag_released",
    TermsNotAccepted => "terms_not_accepted",
    TermsTooLong => "terms_too_long",
    TierCapsLevel => "tier_caps_level",
    TierLowering => "tier_lowering",
    TierNoEgress => "tier_no_egress",
    TileNotFound => "tile_not_found",
    TokenNotFound => "token_not_found",
    TokenScope => "token_scope",
    TooLarge => "too_large",
    TooManyAliases => "too_many_aliases",
    TooManyAttachments => "too_many_attachments",
    TooManyFields => "too_many_fields",
    TooManyMembers => "too_many_members",
    TooManyModels => "too_many_models",
    TooManyRevisions => "too_many_revisions",
    UnknownField => "unknown_field",
    UnknownSuite => "unknown_suite",
    UnknownVerifier => "unknown_verifier",
    UnknownWitness => "unknown_witness",
    UnsafeSerialization => "unsafe_serialization",
    Unsupported => "unsupported",
    UnsupportedMediaType => "unsupported_media_type",
    UnsupportedRepoType => "unsupported_repo_type",
    UploadInterrupted => "upload_interrupted",
    UploadLinkExpired => "upload_link_expired",
    UserNotFound => "user_not_found",
    WeakPassword => "weak_password",
    WebhookPrivateAddress => "webhook_private_address",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A code this build does not know (from a newer server) is kept as text by [`Code`], so a
/// client never fails to read an error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Known(ErrorCode),
    Other(String),
}

impl Code {
    pub fn as_str(&self) -> &str {
        match self {
            Code::Known(c) => c.as_str(),
            Code::Other(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match ErrorCode::parse(&s) {
            Some(c) => Code::Known(c),
            None => Code::Other(s),
        })
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// The machine-readable code (one of [`ErrorCode`]; a client keeps an unknown one as text).
    #[schema(value_type = ErrorCode)]
    pub error: Code,
    /// What went wrong, for a person.
    pub message: String,
    /// The next step, when there is one.
    pub next: Option<String>,
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(
                "The closed set of error codes; docs/API.md says what each one means.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{s} is not snake_case"
            );
            assert_eq!(ErrorCode::parse(s), Some(*c));
            assert_eq!(serde_json::to_string(c).ok(), Some(format!("\"{s}\"")));
        }
        let other: Code =
            serde_json::from_str("\"from_a_newer_server\"").unwrap_or(Code::Other(String::new()));
        assert_eq!(other, Code::Other("from_a_newer_server".into()));
    }
}

/// A message and its next step as one line: `message; next`, without the `.;` a message that
/// ends its sentence would make.
pub fn with_next(message: &str, next: Option<&str>) -> String {
    match next {
        Some(n) if !n.is_empty() => format!("{}; {n}", message.trim_end().trim_end_matches('.')),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod join_tests {
    #[test]
    fn a_sentence_and_its_next_step_join_without_a_stray_stop() {
        assert_eq!(
            super::with_next("Repository a/b not found.", Some("sign in")),
            "Repository a/b not found; sign in"
        );
        assert_eq!(super::with_next("no such thing", None), "no such thing");
    }
}
