//! Consortium governance (issue 14, point 3): where a board is set up, policy changes,
//! accrediting or revoking evaluators and verifiers, lowering a tier and the board's own
//! membership need k signatures from distinct members before they take effect. A proposal
//! carries the exact change and its digest; members sign the digest (offline if they like); the
//! signature that meets the threshold applies the change. The proposal, each signature and the
//! outcome are log entries, so anyone can check the decision from the log alone
//! ([`weir_core::board::verify_decision`]). Without a board the operator acts alone.

use serde_json::json;
use weir_authz::{Action, Subject, UserFacts};
use weir_core::board::{self, Change, Member};
use weir_core::{IdentityLevel, Name, RepoId, Scope};
use weir_store::board::{Proposal, Signature};
use weir_store::{Store, StoreError};
use weir_wire::ErrorCode;

use crate::access::signed_in;
use crate::{Context, Kind, ServiceError};

fn refused(kind: Kind, code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(kind, code, message)
}

/// The refusal of a change a board governs, made directly.
pub fn board_required(what: &str) -> ServiceError {
    refused(
        Kind::Conflict,
        ErrorCode::BoardRequired,
        format!("A board governs this registry: {what} needs its k-of-n decision."),
    )
    .next("propose it: weir board propose … (members sign with weir board sign ID --key FILE)")
}

/// Whether a board governs the registry.
pub async fn governed(store: &Store) -> Result<bool, ServiceError> {
    Ok(store.db.board().await?.is_some())
}

/// The board in force: its members and threshold.
pub async fn members(store: &Store) -> Result<Option<(Vec<Member>, usize)>, ServiceError> {
    match store.db.board().await? {
        None => Ok(None),
        Some(b) => {
            let m: Vec<Member> = serde_json::from_str(&b.members)
                .map_err(|e| StoreError::Corrupt(format!("board members: {e}")))?;
            Ok(Some((
                m,
                usize::try_from(b.threshold).unwrap_or(usize::MAX),
            )))
        }
    }
}

fn membership_event(
    ctx: &Context,
    now: i64,
    members: &[Member],
    threshold: usize,
) -> weir_core::Event {
    ctx.event(
        now,
        "board.membership",
        None,
        "in force",
        json!({"public": {"members": members, "threshold": threshold}}),
    )
}

fn invalid_change(message: impl Into<String>) -> ServiceError {
    refused(Kind::Invalid, ErrorCode::InvalidChange, message)
}

/// Sets up the first board (the operator, on the data dir). Members must be user accounts.
pub async fn init(
    store: &Store,
    members: &[Member],
    threshold: usize,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    check_members(store, members, threshold).await?;
    let text = serde_json::to_string(members).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store
        .db
        .create_board_logged(
            &text,
            threshold as i64,
            now,
            &membership_event(ctx, now, members, threshold),
        )
        .await
        .map_err(|e| match e {
            StoreError::Exists(_) => refused(
                Kind::Conflict,
                ErrorCode::AlreadyExists,
                "a board is set up already: its membership changes by its own decision",
            )
            .next("weir board propose membership --member NAME=KEYFILE … --threshold K"),
            other => other.into(),
        })
}

async fn check_members(
    store: &Store,
    members: &[Member],
    threshold: usize,
) -> Result<(), ServiceError> {
    board::check_membership(members, threshold).map_err(invalid_change)?;
    for m in members {
        let n = Name::parse(&m.name).map_err(|e| invalid_change(format!("{}: {e}", m.name)))?;
        weir_signing::public_key(&m.public_key)
            .map_err(|e| invalid_change(format!("{}'s key: {e}", m.name)))?;
        let user = store.db.account(n.as_str()).await?;
        if !user.is_some_and(|a| a.kind == weir_store::AccountKind::User) {
            return Err(invalid_change(format!("{} is not a user account", m.name)));
        }
    }
    Ok(())
}

/// Checks what a change names before it is proposed, so a decision never applies nonsense.
async fn check_change(store: &Store, change: &Change) -> Result<(), ServiceError> {
    let name_ok = |n: &str| {
        Name::parse(n)
            .map(|_| ())
            .map_err(|e| invalid_change(format!("{n}: {e}")))
    };
    let key_ok = |k: &str| {
        weir_signing::public_key(k)
            .map(|_| ())
            .map_err(|e| invalid_change(format!("key: {e}")))
    };
    match change {
        Change::PolicySet { text } => {
            if text.len() > 256 * 1024 {
                return Err(invalid_change("a policy is at most 256 KiB"));
            }
            weir_core::policy::Policy::parse(text)
                .map_err(|e| invalid_change(format!("the policy does not parse: {e}")))?;
        }
        Change::EvaluatorAdd { name, public_key } | Change::VerifierAdd { name, public_key } => {
            name_ok(name)?;
            key_ok(public_key)?;
        }
        Change::EvaluatorRevoke { name } | Change::VerifierRevoke { name } => name_ok(name)?,
        Change::SuiteAdd { suite } => crate::evaluators::check_suite(suite)?,
        Change::TierLower {
            repo,
            repo_id,
            tier,
            reason,
        } => {
            let id = RepoId::parse(repo).map_err(|e| invalid_change(format!("{repo}: {e}")))?;
            let r = store
                .db
                .repo(&id)
                .await?
                .filter(|r| r.id == *repo_id)
                .ok_or_else(|| invalid_change(format!("no model {repo}")))?;
            if *tier >= r.tier {
                return Err(invalid_change(format!(
                    "{repo} is {}: {} does not lower it",
                    r.tier.as_str(),
                    tier.as_str()
                )));
            }
            if reason.trim().is_empty() || reason.len() > 2000 {
                return Err(invalid_change(
                    "lowering a tier needs a reason of 1 to 2000 characters",
                ));
            }
        }
        Change::Membership { members, threshold } => {
            check_members(store, members, *threshold).await?
        }
        Change::PoolCreate { name, title, rules } => {
            if !weir_core::grants::plain_name(name) || title.trim().is_empty() || title.len() > 200
            {
                return Err(invalid_change(
                    "a pool name is 1 to 40 lowercase letters, digits, '-' or '_', and its title 1 to 200 characters",
                ));
            }
            rules.check().map_err(invalid_change)?;
            if store.db.pool(name).await?.is_some() {
                return Err(invalid_change(format!("pool {name} exists")));
            }
        }
        Change::GrantAward { application } => {
            if !crate::grants::panel_awards(store, *application).await? {
                return Err(invalid_change(format!(
                    "application {application} is not a largest-route application its panel voted to award"
                )));
            }
        }
    }
    Ok(())
}

/// A proposal with its change parsed and its signatures.
#[derive(Debug, Clone)]
pub struct Shown {
    pub proposal: Proposal,
    pub change: Change,
    pub signatures: Vec<Signature>,
    pub threshold: usize,
    /// The board in force now (a proposal made under another one is stale).
    pub board_sha256: String,
}

fn not_found(id: i64) -> ServiceError {
    refused(
        Kind::NotFound,
        ErrorCode::ProposalNotFound,
        format!("no board proposal {id}"),
    )
    .next("list them: weir board proposals")
}

/// Whether `subject` may see a proposal of `change`: all but lowering the tier of a repo
/// they cannot see (private stays indistinguishable from missing).
pub async fn visible_to(
    store: &Store,
    subject: &Subject,
    change: &Change,
) -> Result<bool, ServiceError> {
    let Change::TierLower { repo, .. } = change else {
        return Ok(true);
    };
    let Ok(id) = RepoId::parse(repo) else {
        return Ok(false);
    };
    Ok(match store.db.repo(&id).await? {
        Some(r) => {
            weir_authz::authorize(subject, &Action::ReadMetadata(&crate::access::facts(&r))).allow
        }
        None => false,
    })
}

/// A proposal (board decisions are public, but see [`visible_to`]).
pub async fn show(store: &Store, id: i64) -> Result<Shown, ServiceError> {
    let proposal = store.db.proposal(id).await?.ok_or_else(|| not_found(id))?;
    let change: Change = serde_json::from_str(&proposal.change)
        .map_err(|e| StoreError::Corrupt(format!("proposal {id}: {e}")))?;
    let signatures = store.db.proposal_signatures(id).await?;
    let (threshold, board_sha256) = match members(store).await? {
        Some((m, k)) => (k, board::board_sha256(&m, k)),
        None => (0, String::new()),
    };
    Ok(Shown {
        proposal,
        change,
        signatures,
        threshold,
        board_sha256,
    })
}

/// Proposes a change (board members and operators, where a board governs).
pub async fn propose(
    store: &Store,
    subject: &Subject,
    change: &Change,
    ctx: &Context,
    now: i64,
) -> Result<Shown, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let Some((board_members, threshold)) = members(store).await? else {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::NoBoard,
            "No board governs this registry: the operator makes this change directly.",
        )
        .next("an operator sets up a board with: weir admin --data DIR board init"));
    };
    let board_member = board_members.iter().any(|m| m.name == me);
    let d = weir_authz::authorize(subject, &Action::ProposeChange { board_member });
    if !d.allow {
        return Err(crate::research::project_denied(d.reason, "the board"));
    }
    // A tier lowering names its repo by id too, filled in here from the name.
    let mut change = change.clone();
    if let Change::TierLower { repo, repo_id, .. } = &mut change
        && let Ok(id) = RepoId::parse(repo)
        && let Some(r) = store.db.repo(&id).await?
    {
        *repo_id = r.id;
    }
    let change = &change;
    check_change(store, change).await?;
    let canonical = change.canonical();
    let sha = change.sha256();
    let kind = change.kind();
    let bsha = board::board_sha256(&board_members, threshold);
    let p = store
        .db
        .create_proposal_logged(kind, &canonical, &sha, &me, now, |id| {
            let digest = board::digest(id, &sha, &bsha);
            let ev = ctx.event(
                now,
                "board.propose",
                None,
                kind,
                json!({"proposal": id, "public": {"proposal": id, "kind": kind,
                    "change_sha256": sha, "board_sha256": bsha, "digest": digest}}),
            );
            (digest, vec![ev])
        })
        .await?;
    show(store, p.id).await
}

/// The subject a decided change acts as: the board's authority, with an operator's rights.
fn board_subject() -> Result<Subject, ServiceError> {
    let name = Name::parse("board").map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Subject::User(UserFacts {
        name,
        orgs: vec![],
        owner_of: vec![],
        scope: Scope::Admin,
        level: IdentityLevel::Accredited,
        country: None,
    }))
}

/// Applies a decided change.
#[allow(clippy::too_many_arguments)]
async fn apply(
    store: &Store,
    signer: &weir_tlog::note::Signer,
    proposal: i64,
    by: &str,
    change: &Change,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    match change {
        Change::PoolCreate { name, title, rules } => {
            crate::funding::create_pool_decided(
                store,
                name,
                title,
                "bounty",
                Some(rules),
                by,
                ctx,
                now,
            )
            .await?;
        }
        Change::GrantAward { application } => {
            crate::grants::award_by_board(store, *application, proposal, ctx, now).await?;
        }
        Change::PolicySet { text } => {
            crate::policy::set(store, signer, text, ctx, now).await?;
        }
        Change::EvaluatorAdd { name, public_key } => {
            crate::evaluators::add(store, name, public_key, ctx, now).await?;
        }
        Change::EvaluatorRevoke { name } => {
            crate::evaluators::revoke(store, name, ctx, now).await?;
        }
        Change::SuiteAdd { suite } => {
            crate::evaluators::add_suite_decided(store, suite.clone(), ctx, now).await?;
        }
        Change::VerifierAdd { name, public_key } => {
            let n = Name::parse(name).map_err(|e| invalid_change(e.to_string()))?;
            let mut e = ctx.event(now, "verifier.add", None, name, json!({}));
            e.subject = None;
            store
                .db
                .add_verifier_logged(&n, public_key.trim(), &e)
                .await?;
        }
        Change::VerifierRevoke { name } => {
            let e = ctx.event(now, "verifier.revoke", None, name, json!({}));
            store.db.revoke_verifier_logged(name, &e).await?;
        }
        Change::TierLower {
            repo,
            repo_id,
            tier,
            reason,
        } => {
            // The repo decided on, by its id: renamed or replaced since, the decision fails.
            let r = store
                .db
                .repo_by_id(*repo_id)
                .await?
                .filter(|r| r.repo_id.to_string() == *repo)
                .ok_or_else(|| {
                    invalid_change(format!(
                        "{repo} is not the repo this decision named any more"
                    ))
                })?;
            crate::access::set_tier_decided(
                store,
                &r,
                &board_subject()?,
                *tier,
                Some(reason.clone()),
                ctx,
                now,
            )
            .await?;
        }
        Change::Membership { members, threshold } => {
            let text =
                serde_json::to_string(members).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            store
                .db
                .replace_board_logged(
                    &text,
                    *threshold as i64,
                    now,
                    &membership_event(ctx, now, members, *threshold),
                )
                .await?;
        }
    }
    Ok(())
}

/// A board member's signature over proposal `id`'s digest (base64 Ed25519, checked against the
/// member's registered key). The signature that meets the threshold applies the change; its
/// outcome (`applied`, or `failed: …` when the change no longer applies) is logged.
pub async fn sign(
    store: &Store,
    signer: &weir_tlog::note::Signer,
    subject: &Subject,
    id: i64,
    signature_b64: &str,
    ctx: &Context,
    now: i64,
) -> Result<Shown, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let shown = show(store, id).await?;
    let Some((board_members, threshold)) = members(store).await? else {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::NoBoard,
            "No board governs this registry.",
        ));
    };
    let mine = board_members.iter().find(|m| m.name == me);
    let d = weir_authz::authorize(
        subject,
        &Action::SignProposal {
            board_member: mine.is_some(),
        },
    );
    let Some(member) = mine.filter(|_| d.allow) else {
        return Err(refused(
            Kind::Forbidden,
            if d.reason == weir_authz::Reason::TokenScope {
                ErrorCode::TokenScope
            } else {
                ErrorCode::NotMember
            },
            "Only board members sign board proposals (with a write token).",
        ));
    };
    if shown.proposal.state != "pending" {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            format!("proposal {id} is {} already", shown.proposal.state),
        ));
    }
    if signature_b64.len() > 200 {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::BadSignature,
            "a signature is at most 200 characters of base64",
        ));
    }
    // The digest is recomputed from the stored change and the board now, never taken from
    // the request: a proposal made under another board can no longer be decided.
    let digest = board::digest(
        id,
        &shown.change.sha256(),
        &board::board_sha256(&board_members, threshold),
    );
    if digest != shown.proposal.digest {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::StateChanged,
            format!("the board changed since proposal {id} was made: it can no longer be decided"),
        )
        .next("propose it again"));
    }
    if !weir_signing::verify_board(&digest, signature_b64, &member.public_key) {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::BadSignature,
            format!("that is not {me}'s signature over proposal {id}'s digest {digest}"),
        )
        .next("sign the digest the proposal shows: weir board sign ID --key FILE"));
    }
    let sig = Signature {
        member: me.clone(),
        public_key: member.public_key.to_ascii_lowercase(),
        signature: signature_b64.trim().to_string(),
        at: now,
    };
    let ev = ctx.event(
        now,
        "board.sign",
        None,
        "signed",
        json!({"proposal": id, "public": {"proposal": id, "public_key": sig.public_key,
            "signature": sig.signature}}),
    );
    store
        .db
        .add_signature_logged(id, &sig, &ev)
        .await
        .map_err(|e| match e {
            StoreError::Exists(_) => refused(
                Kind::Conflict,
                ErrorCode::AlreadySigned,
                format!("you signed proposal {id} already"),
            ),
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::StateChanged,
                format!("proposal {id} was decided meanwhile"),
            ),
            other => other.into(),
        })?;
    // Signatures that count: distinct members of the board now, with the key they hold now.
    let valid = store
        .db
        .proposal_signatures(id)
        .await?
        .iter()
        .filter(|s| {
            board_members.iter().any(|m| {
                m.name == s.member
                    && m.public_key.eq_ignore_ascii_case(&s.public_key)
                    && weir_signing::verify_board(&digest, &s.signature, &m.public_key)
            })
        })
        .count();
    // The applier holds the decision's lease from before the move to applying until its end,
    // so another replica's recovery never takes a decision being applied for an interrupted one.
    let lease = if valid >= threshold {
        store
            .db
            .try_lease(weir_store::dialect::PROPOSAL_LEASE, id)
            .await?
    } else {
        None
    };
    if let Some(lease) = lease {
        // One signer wins the move to applying; the change applies once.
        let moved = store
            .db
            .move_proposal_logged(id, "pending", "applying", None, now, None)
            .await;
        match moved {
            Ok(()) => {
                let outcome = match apply(store, signer, id, &me, &shown.change, ctx, now).await {
                    Ok(()) => "applied".to_string(),
                    Err(e) => format!("failed: {e}"),
                };
                let to = if outcome == "applied" {
                    "applied"
                } else {
                    "failed"
                };
                let ev = ctx.event(
                    now,
                    "board.apply",
                    None,
                    to,
                    json!({"proposal": id, "public": {"proposal": id, "outcome": outcome,
                        "signatures": valid, "threshold": threshold}}),
                );
                let ended = store
                    .db
                    .move_proposal_logged(id, "applying", to, Some(&outcome), now, Some(&ev))
                    .await;
                lease.release().await;
                ended?;
            }
            Err(StoreError::StateChanged { .. }) => lease.release().await,
            Err(e) => {
                lease.release().await;
                return Err(e.into());
            }
        }
    }
    show(store, id).await
}

/// A change from its wire form; a missing or unknown field is `invalid_change`.
pub fn from_wire(c: &weir_wire::board::ProposedChange) -> Result<Change, ServiceError> {
    let need = |v: &Option<String>, f: &str| {
        v.clone()
            .ok_or_else(|| invalid_change(format!("a {} change needs {f}", c.kind)))
    };
    Ok(match c.kind.as_str() {
        "policy_set" => Change::PolicySet {
            text: need(&c.text, "text")?,
        },
        "evaluator_add" => Change::EvaluatorAdd {
            name: need(&c.name, "name")?,
            public_key: need(&c.public_key, "public_key")?
                .trim()
                .to_ascii_lowercase(),
        },
        "evaluator_revoke" => Change::EvaluatorRevoke {
            name: need(&c.name, "name")?,
        },
        "verifier_add" => Change::VerifierAdd {
            name: need(&c.name, "name")?,
            public_key: need(&c.public_key, "public_key")?
                .trim()
                .to_ascii_lowercase(),
        },
        "verifier_revoke" => Change::VerifierRevoke {
            name: need(&c.name, "name")?,
        },
        "suite_add" => {
            let s = c
                .suite
                .as_ref()
                .ok_or_else(|| invalid_change("a suite_add change needs suite"))?;
            Change::SuiteAdd {
                suite: weir_core::eval::Suite {
                    name: s.name.clone(),
                    version: 0,
                    domain: weir_core::eval::Domain::parse(&s.domain).ok_or_else(|| {
                        invalid_change(
                            "the suite's domain is bio, chem, cyber, autonomy or manipulation",
                        )
                    })?,
                    metric: s.metric.clone(),
                    chance: s.chance,
                    questions: s.questions,
                    original_questions: s.original_questions,
                    tasks: s.tasks.clone(),
                    source: s.source.clone(),
                },
            }
        }
        "tier_lower" => Change::TierLower {
            repo: need(&c.repo, "repo")?,
            repo_id: c.repo_id.unwrap_or(0),
            tier: weir_core::Tier::parse(&need(&c.tier, "tier")?)
                .ok_or_else(|| invalid_change("tier is T0 to T4"))?,
            reason: need(&c.reason, "reason")?,
        },
        "pool_create" => Change::PoolCreate {
            name: need(&c.name, "name")?,
            title: need(&c.title, "title")?,
            rules: {
                let r = c
                    .rules
                    .as_ref()
                    .ok_or_else(|| invalid_change("a pool_create change needs rules"))?;
                weir_core::ledger::BountyRules {
                    pays: r
                        .pays
                        .iter()
                        .map(|x| weir_core::ledger::BountyRule {
                            kind: x.kind.clone(),
                            class: x.class.clone(),
                            min_severity: x.min_severity.clone(),
                            suite: x.suite.clone(),
                            amount: x.amount,
                        })
                        .collect(),
                    cap_per_report: r.cap_per_report,
                    cap_per_pool: r.cap_per_pool,
                }
            },
        },
        "grant_award" => Change::GrantAward {
            application: c
                .application
                .ok_or_else(|| invalid_change("a grant_award change needs application"))?,
        },
        "membership" => Change::Membership {
            members: c
                .members
                .clone()
                .ok_or_else(|| invalid_change("a membership change needs members"))?
                .into_iter()
                .map(|m| Member {
                    name: m.name,
                    public_key: m.public_key.trim().to_ascii_lowercase(),
                })
                .collect(),
            threshold: c
                .threshold
                .ok_or_else(|| invalid_change("a membership change needs threshold"))?,
        },
        other => {
            return Err(invalid_change(format!(
                "unknown change {other:?} (policy_set, evaluator_add, evaluator_revoke, verifier_add, verifier_revoke, suite_add, tier_lower, grant_award, pool_create, membership)"
            )));
        }
    })
}

/// A change in its wire form.
pub fn to_wire(c: &Change) -> weir_wire::board::ProposedChange {
    let mut w = weir_wire::board::ProposedChange {
        kind: c.kind().to_string(),
        application: None,
        title: None,
        rules: None,
        members: None,
        name: None,
        public_key: None,
        reason: None,
        repo: None,
        repo_id: None,
        suite: None,
        text: None,
        threshold: None,
        tier: None,
    };
    match c {
        Change::PolicySet { text } => w.text = Some(text.clone()),
        Change::EvaluatorAdd { name, public_key } | Change::VerifierAdd { name, public_key } => {
            w.name = Some(name.clone());
            w.public_key = Some(public_key.clone());
        }
        Change::EvaluatorRevoke { name } | Change::VerifierRevoke { name } => {
            w.name = Some(name.clone())
        }
        Change::TierLower {
            repo,
            repo_id,
            tier,
            reason,
        } => {
            w.repo = Some(repo.clone());
            w.repo_id = Some(*repo_id);
            w.tier = Some(tier.as_str().to_string());
            w.reason = Some(reason.clone());
        }
        Change::GrantAward { application } => w.application = Some(*application),
        Change::SuiteAdd { suite } => {
            w.suite = Some(weir_wire::evals::Suite {
                chance: suite.chance,
                domain: suite.domain.as_str().to_string(),
                metric: suite.metric.clone(),
                name: suite.name.clone(),
                original_questions: suite.original_questions,
                questions: suite.questions,
                source: suite.source.clone(),
                tasks: suite.tasks.clone(),
                version: suite.version,
            })
        }
        Change::PoolCreate { name, title, rules } => {
            w.name = Some(name.clone());
            w.title = Some(title.clone());
            w.rules = Some(weir_wire::board::BountyRulesMinor {
                pays: rules
                    .pays
                    .iter()
                    .map(|x| weir_wire::board::BountyRuleMinor {
                        kind: x.kind.clone(),
                        class: x.class.clone(),
                        min_severity: x.min_severity.clone(),
                        suite: x.suite.clone(),
                        amount: x.amount,
                    })
                    .collect(),
                cap_per_report: rules.cap_per_report,
                cap_per_pool: rules.cap_per_pool,
            });
        }
        Change::Membership { members, threshold } => {
            w.members = Some(
                members
                    .iter()
                    .map(|m| weir_wire::board::BoardMember {
                        name: m.name.clone(),
                        public_key: m.public_key.clone(),
                    })
                    .collect(),
            );
            w.threshold = Some(*threshold);
        }
    }
    w
}

/// Ends the proposals a stopped server left `applying` as failed, each with its outcome on the
/// log: whether the change took effect is for the board to check, and to propose again.
pub async fn recover(store: &Store, now: i64) -> Result<usize, ServiceError> {
    let ctx = Context::local("weir", "weir serve");
    let mut n = 0;
    for p in store.db.proposals(10_000).await? {
        // Applied right now by another replica (it holds the decision's lease): left alone.
        if p.state != "applying"
            || store
                .db
                .lease_is_held(weir_store::dialect::PROPOSAL_LEASE, p.id)
                .await?
        {
            continue;
        }
        let outcome = "failed: interrupted while applying (check the change, propose it again)";
        let ev = ctx.event(
            now,
            "board.apply",
            None,
            "failed",
            json!({"proposal": p.id, "public": {"proposal": p.id, "outcome": outcome}}),
        );
        match store
            .db
            .move_proposal_logged(p.id, "applying", "failed", Some(outcome), now, Some(&ev))
            .await
        {
            Ok(()) => n += 1,
            Err(StoreError::StateChanged { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}
