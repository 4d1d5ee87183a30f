//! Consortium governance on the wire: the board, proposals and signatures.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A board member and the Ed25519 public key (hex) their signatures are checked with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoardMember {
    pub name: String,
    pub public_key: String,
}

/// `GET /api/v1/board`: who decides, and how many signatures a decision needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Board {
    pub members: Vec<BoardMember>,
    pub since: String,
    pub threshold: usize,
}

/// A change a board decides, by `kind`: `policy_set` (`text`), `evaluator_add` and
/// `verifier_add` (`name`, `public_key`), `evaluator_revoke` and `verifier_revoke` (`name`),
/// `tier_lower` (`repo`, `tier`, `reason`), `grant_award` (`application`), `membership`
/// (`members`, `threshold`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposedChange {
    /// `grant_award`: the largest-route application its panel voted to award.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<i64>,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<BoardMember>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `pool_create`: the bounty pool's rules, amounts in the currency's minor unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<BountyRulesMinor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// `tier_lower`: the repo's internal id, filled in by the registry when proposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<i64>,
    /// `suite_add`: the evaluation suite (its `version` is assigned when it applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<crate::evals::Suite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// `pool_create`: the pool's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A bounty rule with its amount in the currency's minor unit (e.g. cents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BountyRuleMinor {
    pub amount: i64,
    #[serde(default)]
    pub class: Option<String>,
    pub kind: String,
    #[serde(default)]
    pub min_severity: Option<String>,
    #[serde(default)]
    pub suite: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BountyRulesMinor {
    pub cap_per_pool: i64,
    pub cap_per_report: i64,
    pub pays: Vec<BountyRuleMinor>,
}

/// One member's signature on a proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BoardSignature {
    pub at: String,
    pub member: String,
    pub public_key: String,
    /// Base64 Ed25519 over `weir-board-signature-v1\n` + the digest.
    pub signature: String,
}

/// A proposal, public.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    /// SHA-256 of the board in force now; a proposal made under another board is stale.
    pub board_sha256: String,
    pub change: ProposedChange,
    /// SHA-256 of the change's canonical JSON.
    pub change_sha256: String,
    pub decided_at: Option<String>,
    /// What members sign: SHA-256 of `statement`.
    pub digest: String,
    pub id: i64,
    pub kind: String,
    /// `applied`, or `failed: …`, once decided.
    pub outcome: Option<String>,
    pub proposed_at: String,
    pub signatures: Vec<BoardSignature>,
    /// `pending`, `applying`, `applied` or `failed`.
    pub state: String,
    /// `weir-board-proposal-v2\nID\nCHANGE_SHA256\nBOARD_SHA256\n`.
    pub statement: String,
    pub threshold: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Proposals {
    pub proposals: Vec<Proposal>,
}

/// `POST /api/v1/board/proposals/{id}/signatures`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureSubmission {
    pub signature: String,
}
