//! The one authorization decision. Every handler that touches a repo, its bytes or an operator
//! task asks [`authorize`]; nothing else decides access.
//!
//! Invariants: deny by default (an action is allowed only by an explicit rule below), and every
//! decision carries a machine-readable [`Reason`]. Handlers turn a denial into an HTTP answer in
//! one place (the server's error module); they never inspect the rules.
//!
//! This is a hand-written rule set for the registry foundation. Access requests, identity levels
//! and the Cedar policy set arrive with the access-control issue behind this same function.

use serde::Serialize;
use weir_core::{Name, Scope, Tier};

/// Who is asking: nobody (anonymous) or an authenticated user through a token of some scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    User {
        name: Name,
        /// Orgs the user belongs to.
        orgs: Vec<Name>,
        scope: Scope,
    },
}

impl Subject {
    fn is_member_of(&self, namespace: &Name) -> bool {
        match self {
            Subject::Anonymous => false,
            Subject::User { name, orgs, .. } => name == namespace || orgs.contains(namespace),
        }
    }

    fn scope(&self) -> Option<Scope> {
        match self {
            Subject::Anonymous => None,
            Subject::User { scope, .. } => Some(*scope),
        }
    }
}

/// The facts about a repo that decisions depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFacts {
    pub namespace: Name,
    pub private: bool,
    pub tier: Tier,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Model info, tree, refs, card: readable by anyone who can see the repo, as on the Hub.
    ReadMetadata(&'a RepoFacts),
    /// File bytes (`/resolve`, native pull).
    Download(&'a RepoFacts),
    /// Commits, uploads, branches and tags.
    Write(&'a RepoFacts),
    /// Create a repo under a namespace.
    CreateRepo { namespace: &'a Name },
    /// Operator tasks.
    Administer,
}

/// Why a decision came out as it did. Serialized as snake_case codes, the same in the API and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    PublicRepo,
    Member,
    AdminToken,
    /// The caller may not know the repo exists (private, not a member): answer "not found".
    NotVisible,
    NotSignedIn,
    TokenScope,
    NotMember,
    /// Gated tiers wait for access requests (a later issue); until then they are closed.
    NotRequested,
    TierNoEgress,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::PublicRepo => "public_repo",
            Reason::Member => "member",
            Reason::AdminToken => "admin_token",
            Reason::NotVisible => "not_visible",
            Reason::NotSignedIn => "not_signed_in",
            Reason::TokenScope => "token_scope",
            Reason::NotMember => "not_member",
            Reason::NotRequested => "not_requested",
            Reason::TierNoEgress => "tier_no_egress",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allow: bool,
    pub reason: Reason,
}

impl Decision {
    fn allow(reason: Reason) -> Decision {
        Decision {
            allow: true,
            reason,
        }
    }
    fn deny(reason: Reason) -> Decision {
        Decision {
            allow: false,
            reason,
        }
    }
}

fn visible(subject: &Subject, repo: &RepoFacts) -> Option<Reason> {
    if subject.scope() == Some(Scope::Admin) {
        Some(Reason::AdminToken)
    } else if subject.is_member_of(&repo.namespace) {
        Some(Reason::Member)
    } else if !repo.private {
        Some(Reason::PublicRepo)
    } else {
        None
    }
}

/// The decision. Pure and total.
pub fn authorize(subject: &Subject, action: &Action<'_>) -> Decision {
    match action {
        Action::ReadMetadata(repo) => match visible(subject, repo) {
            Some(r) => Decision::allow(r),
            None => Decision::deny(Reason::NotVisible),
        },
        Action::Download(repo) => {
            let Some(why) = visible(subject, repo) else {
                return Decision::deny(Reason::NotVisible);
            };
            match repo.tier {
                Tier::T0 => Decision::allow(why),
                // Members and operators hold the weights already; everyone else waits for the
                // access-request flow.
                Tier::T1 | Tier::T2 if why != Reason::PublicRepo => Decision::allow(why),
                Tier::T1 | Tier::T2 if *subject == Subject::Anonymous => {
                    Decision::deny(Reason::NotSignedIn)
                }
                Tier::T1 | Tier::T2 => Decision::deny(Reason::NotRequested),
                Tier::T3 | Tier::T4 => Decision::deny(Reason::TierNoEgress),
            }
        }
        Action::Write(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.scope() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(Scope::Admin) => Decision::allow(Reason::AdminToken),
                Some(s) if !s.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
                Some(_) if subject.is_member_of(&repo.namespace) => Decision::allow(Reason::Member),
                Some(_) => Decision::deny(Reason::NotMember),
            }
        }
        Action::CreateRepo { namespace } => match subject.scope() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(Scope::Admin) => Decision::allow(Reason::AdminToken),
            Some(s) if !s.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
            Some(_) if subject.is_member_of(namespace) => Decision::allow(Reason::Member),
            Some(_) => Decision::deny(Reason::NotMember),
        },
        Action::Administer => match subject.scope() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(Scope::Admin) => Decision::allow(Reason::AdminToken),
            Some(_) => Decision::deny(Reason::TokenScope),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(s: &str) -> Name {
        Name::parse(s).expect("valid name")
    }

    fn user(n: &str, orgs: &[&str], scope: Scope) -> Subject {
        Subject::User {
            name: name(n),
            orgs: orgs.iter().map(|o| name(o)).collect(),
            scope,
        }
    }

    fn repo(ns: &str, private: bool, tier: Tier) -> RepoFacts {
        RepoFacts {
            namespace: name(ns),
            private,
            tier,
        }
    }

    #[test]
    fn public_t0_is_open_to_anyone() {
        let r = repo("acme", false, Tier::T0);
        for s in [Subject::Anonymous, user("bob", &[], Scope::Read)] {
            assert!(authorize(&s, &Action::ReadMetadata(&r)).allow);
            assert!(authorize(&s, &Action::Download(&r)).allow);
        }
    }

    #[test]
    fn private_repos_are_invisible_to_outsiders() {
        let r = repo("acme", true, Tier::T0);
        for s in [Subject::Anonymous, user("bob", &[], Scope::Write)] {
            for a in [
                Action::ReadMetadata(&r),
                Action::Download(&r),
                Action::Write(&r),
            ] {
                assert_eq!(authorize(&s, &a), Decision::deny(Reason::NotVisible));
            }
        }
        let alice = user("alice", &["acme"], Scope::Read);
        assert!(authorize(&alice, &Action::Download(&r)).allow);
        assert_eq!(
            authorize(&alice, &Action::Write(&r)),
            Decision::deny(Reason::TokenScope)
        );
    }

    #[test]
    fn writes_need_membership_and_write_scope() {
        let r = repo("acme", false, Tier::T0);
        assert_eq!(
            authorize(&Subject::Anonymous, &Action::Write(&r)),
            Decision::deny(Reason::NotSignedIn)
        );
        assert_eq!(
            authorize(&user("bob", &[], Scope::Write), &Action::Write(&r)),
            Decision::deny(Reason::NotMember)
        );
        assert!(authorize(&user("alice", &["acme"], Scope::Write), &Action::Write(&r)).allow);
        assert!(authorize(&user("acme", &[], Scope::Write), &Action::Write(&r)).allow);
        assert!(authorize(&user("root", &[], Scope::Admin), &Action::Write(&r)).allow);
    }

    #[test]
    fn create_repo() {
        let acme = name("acme");
        let a = Action::CreateRepo { namespace: &acme };
        assert!(authorize(&user("alice", &["acme"], Scope::Write), &a).allow);
        assert!(!authorize(&user("alice", &["acme"], Scope::Read), &a).allow);
        assert!(!authorize(&user("bob", &[], Scope::Write), &a).allow);
        assert!(!authorize(&Subject::Anonymous, &a).allow);
    }

    #[test]
    fn restricted_tiers_never_egress_to_outsiders() {
        for t in [Tier::T3, Tier::T4] {
            let r = repo("acme", false, t);
            assert_eq!(
                authorize(&user("bob", &[], Scope::Read), &Action::Download(&r)),
                Decision::deny(Reason::TierNoEgress)
            );
            // metadata stays readable, as on the Hub
            assert!(authorize(&Subject::Anonymous, &Action::ReadMetadata(&r)).allow);
        }
    }

    fn arb_scope() -> impl Strategy<Value = Scope> {
        prop_oneof![Just(Scope::Read), Just(Scope::Write), Just(Scope::Admin)]
    }
    fn arb_tier() -> impl Strategy<Value = Tier> {
        prop_oneof![
            Just(Tier::T0),
            Just(Tier::T1),
            Just(Tier::T2),
            Just(Tier::T3),
            Just(Tier::T4)
        ]
    }

    proptest! {
        // The matrix: whatever the subject, repo and action, the invariants hold.
        #[test]
        fn matrix(anon in any::<bool>(), member in any::<bool>(), scope in arb_scope(),
                  private in any::<bool>(), tier in arb_tier()) {
            let s = if anon { Subject::Anonymous } else if member {
                user("alice", &["acme"], scope) } else { user("bob", &["other"], scope) };
            let r = repo("acme", private, tier);
            let read = authorize(&s, &Action::ReadMetadata(&r));
            let dl = authorize(&s, &Action::Download(&r));
            let wr = authorize(&s, &Action::Write(&r));
            // anything allowed implies the repo is visible
            prop_assert!(!dl.allow || read.allow);
            prop_assert!(!wr.allow || read.allow);
            // anonymous never writes
            prop_assert!(!(anon && wr.allow));
            // read scope never writes
            prop_assert!(!(scope == Scope::Read && wr.allow));
            // outsiders never see private repos unless admin
            if private && !member && scope != Scope::Admin {
                prop_assert!(!read.allow);
                prop_assert_eq!(read.reason, Reason::NotVisible);
            }
            // T3/T4 bytes never reach outsiders
            if tier >= Tier::T3 && !member && scope != Scope::Admin {
                prop_assert!(!dl.allow);
            }
        }
    }
}
