//! The services decide for themselves: called directly (as `weir admin` and `--demo` do, with no
//! handler in front), each asks `weir_authz` with the facts of that moment, and each state
//! change commits with its event or not at all. Real SQLite, real blobs.

use weir_authz::{Reason, Subject};
use weir_core::{CommitSignature, IdentityLevel, Name, RepoId, Scope, Tier};
use weir_registry::{Context, Kind, ServiceError, access, evidence, exports};
use weir_store::{Repo, Store};
use weir_wire::ErrorCode;

const NOW: i64 = 1_780_000_000;

struct World {
    _dir: tempfile::TempDir,
    store: Store,
}

fn name(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn ctx(actor: &str) -> Context {
    Context::local(actor, "services test")
}

fn filing(org: &str, purpose: &str) -> exports::Filing {
    exports::Filing {
        org: org.into(),
        purpose: purpose.into(),
    }
}

fn event(action: &str) -> weir_core::Event {
    ctx("op").event(NOW, action, None, "setup", serde_json::json!({}))
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_test(dir.path()).await.expect("store");
        for u in ["acme", "carol", "mallory", "op1", "op2"] {
            store
                .db
                .create_user(&name(u), None, u.starts_with("op"))
                .await
                .expect("user");
        }
        store.db.create_org(&name("lab")).await.expect("org");
        store
            .db
            .add_member(&name("lab"), &name("carol"), "member")
            .await
            .expect("member");
        World { _dir: dir, store }
    }

    async fn repo(&self, id: &str, tier: Tier) -> Repo {
        let sig = CommitSignature {
            name: "t".into(),
            email: "t@x".into(),
            time: 1,
        };
        let id = RepoId::parse(id).expect("id");
        let repo = self.store.create_repo(&id, false, sig).await.expect("repo");
        self.store.db.set_tier(&repo, tier).await.expect("tier");
        self.store.db.repo(&id).await.expect("db").expect("repo")
    }

    async fn subject(&self, user: &str, scope: Scope) -> Subject {
        access::subject_of(&self.store, &name(user), scope, NOW)
            .await
            .expect("subject")
            .0
    }

    async fn level(&self, user: &str, level: IdentityLevel) {
        self.store
            .db
            .set_identity_logged(&name(user), level, Some("NL"), None, &event("identity.set"))
            .await
            .expect("level");
    }

    async fn count(&self, action: &str) -> usize {
        self.store
            .db
            .events(None, 10_000)
            .await
            .expect("events")
            .iter()
            .filter(|(_, e)| e.action == action)
            .count()
    }

    /// An export of `repo` by carol (accredited, member of lab), approved by both operators.
    async fn approved_export(&self, repo: &Repo) -> i64 {
        self.level("carol", IdentityLevel::Accredited).await;
        let carol = self.subject("carol", Scope::Write).await;
        let e = exports::request(
            &self.store,
            repo,
            "main",
            &carol,
            &filing("lab", "audit"),
            &ctx("carol"),
            NOW,
        )
        .await
        .expect("request");
        for op in ["op1", "op2"] {
            let s = self.subject(op, Scope::Admin).await;
            exports::approve(&self.store, &s, e.id, &ctx(op), NOW)
                .await
                .expect("approve");
        }
        e.id
    }
}

fn refusal(r: Result<impl std::fmt::Debug, ServiceError>) -> (Kind, ErrorCode) {
    match r.expect_err("refused") {
        ServiceError::Refused(r) => (r.kind, r.code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn denial(r: Result<impl std::fmt::Debug, ServiceError>) -> Reason {
    match r.expect_err("denied") {
        ServiceError::Denied { reason, .. } => reason,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn a_review_by_someone_who_is_not_a_reviewer_is_denied_and_writes_nothing() {
    let w = World::new().await;
    let repo = w.repo("acme/gated", Tier::T2).await;
    let mallory = w.subject("mallory", Scope::Write).await;
    let decision = access::Decision {
        action: weir_core::access::ReviewAction::Approve,
        reason: None,
        expires_days: None,
    };
    let r = access::review(
        &w.store,
        &repo,
        &mallory,
        "mallory",
        decision,
        &ctx("mallory"),
        NOW,
    )
    .await;
    assert_eq!(denial(r), Reason::NotReviewer);
    let stored = w.store.db.access_request(&repo, "mallory").await;
    assert!(stored.expect("db").is_none());
    assert_eq!(w.count("access.review").await, 0);
}

#[tokio::test]
async fn gating_and_tier_changes_need_their_roles_even_without_a_handler() {
    let w = World::new().await;
    let repo = w.repo("acme/gated", Tier::T2).await;
    let mallory = w.subject("mallory", Scope::Write).await;
    let r = access::set_gating(
        &w.store,
        &repo,
        &mallory,
        Default::default(),
        &ctx("mallory"),
        NOW,
    )
    .await;
    assert_eq!(denial(r), Reason::NotReviewer);
    // The owner may raise, but not lower without an operator.
    let acme = w.subject("acme", Scope::Write).await;
    let lower = Some("oops".to_string());
    let r = access::set_tier(&w.store, &repo, &acme, Tier::T0, lower, &ctx("acme"), NOW).await;
    assert_eq!(refusal(r), (Kind::Forbidden, ErrorCode::TierLowering));
    assert_eq!(w.count("tier.set").await, 0);
    let before = access::set_tier(&w.store, &repo, &acme, Tier::T3, None, &ctx("acme"), NOW)
        .await
        .expect("raise");
    assert_eq!(before, Tier::T2);
    assert_eq!(w.count("tier.set").await, 1);
}

/// The export flow on the services: each step commits with exactly one event, the link goes
/// only to the requester and works once, and a spent link records nothing more.
#[tokio::test]
async fn export_steps_each_commit_with_their_event_and_the_link_works_once() {
    let w = World::new().await;
    let repo = w.repo("acme/restricted", Tier::T3).await;
    w.level("carol", IdentityLevel::Accredited).await;
    let carol = w.subject("carol", Scope::Write).await;
    // Not a member of the org named: refused, nothing written.
    let r = exports::request(
        &w.store,
        &repo,
        "main",
        &carol,
        &filing("otherlab", "audit"),
        &ctx("carol"),
        NOW,
    )
    .await;
    assert_eq!(refusal(r), (Kind::Forbidden, ErrorCode::NotMember));
    assert_eq!(w.count("export.request").await, 0);
    let id = w.approved_export(&repo).await;
    assert_eq!(w.count("export.request").await, 1);
    assert_eq!(w.count("export.approve").await, 2);
    // The requester cannot approve their own request, even with an admin token.
    let e = w.store.db.export(id).await.expect("db").expect("export");
    assert_eq!(e.state, "approved");
    let op1 = w.subject("op1", Scope::Admin).await;
    let r = exports::link(&w.store, &op1, id, 3600, &ctx("op1"), NOW).await;
    assert_eq!(refusal(r), (Kind::Forbidden, ErrorCode::NotRequester));
    let link = exports::link(&w.store, &carol, id, 3600, &ctx("carol"), NOW)
        .await
        .expect("link");
    let r = exports::link(&w.store, &carol, id, 3600, &ctx("carol"), NOW).await;
    assert_eq!(refusal(r), (Kind::Conflict, ErrorCode::LinkAlreadyIssued));
    assert_eq!(w.count("export.link").await, 1);
    let opened = exports::open_download(&w.store, &link.token, &ctx("-"), NOW + 1)
        .await
        .expect("open");
    assert_eq!(opened.export.state, "downloaded");
    assert_eq!(w.count("export.download").await, 1);
    let r = exports::open_download(&w.store, &link.token, &ctx("-"), NOW + 2).await;
    assert_eq!(refusal(r), (Kind::Gone, ErrorCode::LinkUsed));
    let r = exports::open_download(&w.store, &"0".repeat(64), &ctx("-"), NOW + 2).await;
    assert_eq!(refusal(r), (Kind::Gone, ErrorCode::LinkUnknown));
    assert_eq!(w.count("export.download").await, 1);
}

#[tokio::test]
async fn the_requester_never_approves_their_own_export() {
    let w = World::new().await;
    let repo = w.repo("acme/restricted", Tier::T3).await;
    w.level("carol", IdentityLevel::Accredited).await;
    let carol = w.subject("carol", Scope::Write).await;
    let e = exports::request(
        &w.store,
        &repo,
        "main",
        &carol,
        &filing("lab", "x"),
        &ctx("carol"),
        NOW,
    )
    .await
    .expect("request");
    let carol_admin = w.subject("carol", Scope::Admin).await;
    let r = exports::approve(&w.store, &carol_admin, e.id, &ctx("carol"), NOW).await;
    assert_eq!(denial(r), Reason::OwnRequest);
    assert_eq!(w.count("export.approve").await, 0);
}

/// The last step asks again: a requester demoted after the link was issued is denied, the
/// denial is recorded with the spending, and the link does not come back.
#[tokio::test]
async fn a_requester_demoted_after_the_link_is_denied_and_the_link_is_spent() {
    let w = World::new().await;
    let repo = w.repo("acme/restricted", Tier::T3).await;
    let id = w.approved_export(&repo).await;
    let carol = w.subject("carol", Scope::Write).await;
    let link = exports::link(&w.store, &carol, id, 3600, &ctx("carol"), NOW)
        .await
        .expect("link");
    w.level("carol", IdentityLevel::Identified).await;
    let r = exports::open_download(&w.store, &link.token, &ctx("-"), NOW + 1).await;
    assert!(matches!(r, Err(ServiceError::Denied { .. })), "{r:?}");
    let events = w.store.db.events(None, 10_000).await.expect("events");
    let (_, ev) = events
        .iter()
        .find(|(_, e)| e.action == "export.download")
        .expect("the denial is recorded");
    assert_eq!(ev.decision, "deny");
    assert_eq!(ev.actor.as_deref(), Some("carol"));
    w.level("carol", IdentityLevel::Accredited).await;
    let r = exports::open_download(&w.store, &link.token, &ctx("-"), NOW + 2).await;
    assert_eq!(refusal(r), (Kind::Gone, ErrorCode::LinkUsed));
}

#[tokio::test]
async fn evidence_waits_for_triage_and_only_an_operator_reviews_it() {
    let w = World::new().await;
    let repo = w.repo("acme/model", Tier::T0).await;
    let mallory = w.subject("mallory", Scope::Write).await;
    let filed = evidence::file(
        &w.store,
        &repo,
        &mallory,
        "cyber",
        "observed",
        &ctx("mallory"),
        NOW,
    )
    .await
    .expect("file");
    assert_eq!(filed.evidence.state, "pending_triage");
    assert_eq!((filed.before, filed.after), (Tier::T0, Tier::T0));
    let review = |decision: &str, severity: Option<&str>| evidence::ReviewInput {
        decision: decision.into(),
        severity: severity.map(String::from),
        reason: "seen".into(),
    };
    // The publisher does not judge evidence about its own model; the filer does not either.
    for who in ["acme", "mallory"] {
        let s = w.subject(who, Scope::Write).await;
        let r = evidence::review(
            &w.store,
            &s,
            filed.evidence.id,
            review("dismiss", None),
            &ctx(who),
            NOW,
        )
        .await;
        assert!(r.is_err(), "{who} reviewed evidence");
    }
    assert_eq!(w.count("evidence.reviewed").await, 0);
    let op = w.subject("op1", Scope::Admin).await;
    let id = filed.evidence.id;
    let bad = review("confirm", Some("apocalyptic"));
    let r = evidence::review(&w.store, &op, id, bad, &ctx("op1"), NOW).await;
    assert_eq!(refusal(r), (Kind::Invalid, ErrorCode::InvalidSeverity));
    let good = review("confirm", Some("high"));
    let r = evidence::review(&w.store, &op, id, good, &ctx("op1"), NOW)
        .await
        .expect("review");
    assert_eq!(r.evidence.state, "confirmed");
    assert_eq!(w.count("evidence.reviewed").await, 1);
}

/// A tier change decided on a stale read never overwrites a raise that committed meanwhile
/// (a classification or an incident raising the repo while the owner's request was in flight).
#[tokio::test]
async fn a_tier_change_decided_on_a_stale_read_is_refused() {
    let w = World::new().await;
    let stale = w.repo("acme/model", Tier::T1).await;
    let fresh = w
        .store
        .db
        .repo(&stale.repo_id)
        .await
        .expect("db")
        .expect("repo");
    w.store.db.set_tier(&fresh, Tier::T4).await.expect("raise");
    let acme = w.subject("acme", Scope::Write).await;
    let r = access::set_tier(&w.store, &stale, &acme, Tier::T2, None, &ctx("acme"), NOW).await;
    assert!(
        matches!(
            r,
            Err(ServiceError::Store(
                weir_store::StoreError::StateChanged { .. }
            ))
        ),
        "{r:?}"
    );
    let now = w
        .store
        .db
        .repo(&stale.repo_id)
        .await
        .expect("db")
        .expect("repo");
    assert_eq!(now.tier, Tier::T4);
}
