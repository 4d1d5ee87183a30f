use proptest::prelude::*;

use super::*;

fn name(s: &str) -> Name {
    Name::parse(s).expect("valid name")
}

fn user(n: &str, orgs: &[&str], scope: Scope, level: IdentityLevel) -> Subject {
    Subject::User(UserFacts {
        name: name(n),
        orgs: orgs.iter().map(|o| name(o)).collect(),
        owner_of: vec![],
        scope,
        level,
        // Attested outside the blocked region (XX) of `repo()`.
        country: Some("DE".into()),
    })
}

fn owner(n: &str, org: &str) -> Subject {
    Subject::User(UserFacts {
        name: name(n),
        orgs: vec![name(org)],
        owner_of: vec![name(org)],
        scope: Scope::Write,
        level: IdentityLevel::Account,
        country: None,
    })
}

fn repo(private: bool, tier: Tier) -> RepoFacts {
    RepoFacts {
        namespace: name("acme"),
        private,
        tier,
        min_level: IdentityLevel::Identified,
        blocked_countries: vec!["XX".into()],
        held: false,
    }
}

fn standing(grant: GrantState, terms: bool) -> AccessStanding {
    AccessStanding {
        terms_accepted: terms,
        grant,
    }
}

const TIERS: [Tier; 5] = [Tier::T0, Tier::T1, Tier::T2, Tier::T3, Tier::T4];

#[test]
fn private_repos_are_invisible_to_outsiders() {
    let r = repo(true, Tier::T0);
    for s in [
        Subject::Anonymous,
        user("bob", &[], Scope::Write, IdentityLevel::Accredited),
    ] {
        for a in [
            Action::ReadMetadata(&r),
            Action::Download(&r, AccessStanding::NONE),
            Action::Write(&r),
            Action::Review(&r),
            Action::RequestAccess(&r),
        ] {
            assert_eq!(
                authorize(&s, &a),
                Decision::deny(Reason::NotVisible),
                "{a:?}"
            );
        }
    }
    let alice = user("alice", &["acme"], Scope::Read, IdentityLevel::Account);
    assert!(authorize(&alice, &Action::Download(&r, AccessStanding::NONE)).allow);
    assert_eq!(
        authorize(&alice, &Action::Write(&r)),
        Decision::deny(Reason::TokenScope)
    );
}

#[test]
fn t2_follows_the_grant_and_the_level() {
    let r = repo(false, Tier::T2);
    let carol = |level| user("carol", &[], Scope::Read, level);
    let dl = |s: &Subject, g| authorize(s, &Action::Download(&r, standing(g, true)));
    assert_eq!(
        dl(&carol(IdentityLevel::Identified), GrantState::Approved),
        Decision::allow(Reason::Granted)
    );
    // the grant stops working the moment the attestation lapses
    assert_eq!(
        dl(&carol(IdentityLevel::Account), GrantState::Approved),
        Decision::deny(Reason::IdentityLevel)
    );
    assert_eq!(
        dl(&carol(IdentityLevel::Identified), GrantState::Expired),
        Decision::deny(Reason::Expired)
    );
    assert_eq!(
        dl(&carol(IdentityLevel::Identified), GrantState::Revoked),
        Decision::deny(Reason::Revoked)
    );
    assert_eq!(
        dl(&Subject::Anonymous, GrantState::Approved),
        Decision::deny(Reason::NotSignedIn)
    );
}

#[test]
fn region_blocks_apply_to_gated_tiers() {
    let r = repo(false, Tier::T1);
    let mut u = UserFacts {
        name: name("dan"),
        orgs: vec![],
        owner_of: vec![],
        scope: Scope::Read,
        level: IdentityLevel::Identified,
        country: Some("XX".into()),
    };
    let s = Subject::User(u.clone());
    assert_eq!(
        authorize(&s, &Action::Download(&r, standing(GrantState::None, true))),
        Decision::deny(Reason::Region)
    );
    u.country = Some("DE".into());
    assert!(
        authorize(
            &Subject::User(u.clone()),
            &Action::Download(&r, standing(GrantState::None, true))
        )
        .allow
    );
    // No attested country is no evidence of being outside the blocked regions (F10).
    u.country = None;
    assert_eq!(
        authorize(
            &Subject::User(u.clone()),
            &Action::Download(&r, standing(GrantState::None, true))
        ),
        Decision::deny(Reason::Region)
    );
    // ...while a repo that blocks no region does not ask.
    let open = repo(false, Tier::T1);
    let mut open = open;
    open.blocked_countries.clear();
    assert!(
        authorize(
            &Subject::User(u),
            &Action::Download(&open, standing(GrantState::None, true))
        )
        .allow
    );
}

#[test]
fn tiers_can_be_raised_by_owners_and_lowered_only_by_operators_with_a_reason() {
    let r = repo(false, Tier::T2);
    let alice = owner("alice", "acme");
    let member = user("mia", &["acme"], Scope::Write, IdentityLevel::Account);
    let op = user("root", &[], Scope::Admin, IdentityLevel::Account);
    let set = |s: &Subject, to, has_reason| {
        authorize(
            s,
            &Action::SetTier {
                repo: &r,
                to,
                has_reason,
            },
        )
    };
    assert!(set(&alice, Tier::T3, false).allow);
    assert_eq!(
        set(&member, Tier::T3, false),
        Decision::deny(Reason::NotReviewer)
    );
    assert_eq!(
        set(&alice, Tier::T1, true),
        Decision::deny(Reason::TierLowering)
    );
    assert_eq!(
        set(&op, Tier::T1, false),
        Decision::deny(Reason::TierLowering)
    );
    assert!(set(&op, Tier::T1, true).allow);
}

#[test]
fn dual_control_rules() {
    let r = repo(false, Tier::T3);
    let requester = name("eve");
    let op = |n: &str| user(n, &[], Scope::Admin, IdentityLevel::Account);
    let approve = |s: &Subject, already| {
        authorize(
            s,
            &Action::ApproveExport {
                repo: &r,
                requester: &requester,
                already_approved: already,
            },
        )
    };
    assert!(approve(&op("rev1"), false).allow);
    assert_eq!(
        approve(&op("eve"), false),
        Decision::deny(Reason::OwnRequest)
    );
    assert_eq!(
        approve(&op("rev1"), true),
        Decision::deny(Reason::AlreadyApproved)
    );
    assert_eq!(
        approve(&owner("alice", "acme"), false),
        Decision::deny(Reason::NotOperator)
    );
    let accredited = user("eve", &["lab"], Scope::Read, IdentityLevel::Accredited);
    assert!(authorize(&accredited, &Action::RequestExport(&r)).allow);
    let lone = user("eve", &[], Scope::Read, IdentityLevel::Accredited);
    assert_eq!(
        authorize(&lone, &Action::RequestExport(&r)),
        Decision::deny(Reason::NotMember)
    );
    let t2 = repo(false, Tier::T2);
    assert_eq!(
        authorize(&accredited, &Action::RequestExport(&t2)),
        Decision::deny(Reason::NotExportable)
    );

    // Every later step asks again with the facts of that moment (F2, F3).
    let lab = name("lab");
    let receive =
        |s: &Subject, r: &RepoFacts| authorize(s, &Action::ReceiveExport { repo: r, org: &lab });
    assert!(receive(&accredited, &r).allow);
    let t4 = repo(false, Tier::T4);
    let approve_t4 = authorize(
        &op("rev1"),
        &Action::ApproveExport {
            repo: &t4,
            requester: &requester,
            already_approved: false,
        },
    );
    assert_eq!(approve_t4, Decision::deny(Reason::NotExportable));
    assert_eq!(
        receive(&accredited, &t4),
        Decision::deny(Reason::NotExportable)
    );
    let mut held = r.clone();
    held.held = true;
    assert_eq!(
        receive(&accredited, &held),
        Decision::deny(Reason::IncidentHold)
    );
    assert_eq!(
        authorize(
            &op("rev1"),
            &Action::ApproveExport {
                repo: &held,
                requester: &requester,
                already_approved: false,
            },
        ),
        Decision::deny(Reason::IncidentHold)
    );
    let demoted = user("eve", &["lab"], Scope::Read, IdentityLevel::Identified);
    assert_eq!(receive(&demoted, &r), Decision::deny(Reason::IdentityLevel));
    let left = user("eve", &["other"], Scope::Read, IdentityLevel::Accredited);
    assert_eq!(receive(&left, &r), Decision::deny(Reason::NotMember));
    assert_eq!(
        receive(&Subject::Anonymous, &r),
        Decision::deny(Reason::NotSignedIn)
    );
}

/// The full matrix: identity level × tier × action × grant state, for an outsider with a read
/// token (anonymous for `anonymous`). Every cell's decision and reason is in the snapshot, so a
/// change to any rule shows up as a reviewed diff.
#[test]
fn evidence_is_judged_by_operators_never_by_its_filer_or_the_publisher() {
    let r = repo(false, Tier::T2);
    let review =
        |s: &Subject, filed_by: &str| authorize(s, &Action::ReviewEvidence { repo: &r, filed_by });
    let op = user("op", &[], Scope::Admin, IdentityLevel::Identified);
    assert_eq!(review(&op, "dan").reason, Reason::AdminToken);
    assert_eq!(review(&op, "op").reason, Reason::OwnEvidence);
    let owner = owner("alice", "acme");
    assert_eq!(review(&owner, "dan").reason, Reason::NotOperator);
    assert_eq!(
        review(&Subject::Anonymous, "dan").reason,
        Reason::NotSignedIn
    );
    assert!(authorize(&owner, &Action::Contribute(&r)).allow);
    assert_eq!(
        authorize(&Subject::Anonymous, &Action::Contribute(&r)).reason,
        Reason::NotSignedIn
    );
}

#[test]
fn an_incident_hold_stops_every_download_of_the_revision() {
    let mut r = repo(false, Tier::T0);
    r.held = true;
    let op = user("op", &[], Scope::Admin, IdentityLevel::Accredited);
    for s in [Subject::Anonymous, op, owner("alice", "acme")] {
        let d = authorize(
            &s,
            &Action::Download(&r, standing(GrantState::Approved, true)),
        );
        assert_eq!((d.allow, d.reason), (false, Reason::IncidentHold));
        assert!(
            authorize(&s, &Action::ReadMetadata(&r)).allow,
            "metadata stays readable"
        );
    }
}

#[test]
fn incidents_are_reported_by_anyone_and_handled_by_operators_and_the_publisher() {
    let r = repo(false, Tier::T2);
    assert!(authorize(&Subject::Anonymous, &Action::ReportIncident(&r)).allow);
    let hidden = repo(true, Tier::T0);
    assert_eq!(
        authorize(&Subject::Anonymous, &Action::ReportIncident(&hidden)).reason,
        Reason::NotVisible
    );
    let op = user("op", &[], Scope::Admin, IdentityLevel::Identified);
    let publisher = owner("alice", "acme");
    let outsider = user("carol", &[], Scope::Write, IdentityLevel::Identified);
    assert_eq!(
        authorize(
            &op,
            &Action::HandleIncident {
                repo: &r,
                reporter: Some("dan"),
            }
        )
        .reason,
        Reason::AdminToken
    );
    assert_eq!(
        authorize(
            &publisher,
            &Action::HandleIncident {
                repo: &r,
                reporter: Some("dan"),
            }
        )
        .reason,
        Reason::Owner
    );
    assert_eq!(
        authorize(
            &outsider,
            &Action::HandleIncident {
                repo: &r,
                reporter: Some("dan"),
            }
        )
        .reason,
        Reason::NotReviewer
    );
    // An operator does not handle an incident they reported; a publisher reporting its own
    // model stays its publisher.
    let own = |me| Action::HandleIncident {
        repo: &r,
        reporter: Some(me),
    };
    assert_eq!(authorize(&op, &own("op")).reason, Reason::OwnRequest);
    assert_eq!(authorize(&publisher, &own("alice")).reason, Reason::Owner);
    let anonymous_report = Action::HandleIncident {
        repo: &r,
        reporter: None,
    };
    assert!(authorize(&op, &anonymous_report).allow);
    assert!(authorize(&op, &Action::SignOffRelease(&r)).allow);
    assert!(!authorize(&publisher, &Action::SignOffRelease(&r)).allow);
}

#[test]
fn decision_matrix() {
    let mut out = String::from("level       tier action   grant    -> decision\n");
    for level in IdentityLevel::ALL {
        let subject = if level == IdentityLevel::Anonymous {
            Subject::Anonymous
        } else {
            user("carol", &["elsewhere"], Scope::Read, level)
        };
        for tier in TIERS {
            let r = repo(false, tier);
            for grant in GrantState::ALL {
                let st = standing(grant, grant == GrantState::Approved);
                let elsewhere = name("elsewhere");
                let actions: [(&str, Action<'_>); 11] = [
                    ("metadata", Action::ReadMetadata(&r)),
                    ("download", Action::Download(&r, st)),
                    ("push", Action::Write(&r)),
                    ("review", Action::Review(&r)),
                    ("export", Action::RequestExport(&r)),
                    (
                        "receive",
                        Action::ReceiveExport {
                            repo: &r,
                            org: &elsewhere,
                        },
                    ),
                    ("contrib", Action::Contribute(&r)),
                    (
                        "evidence",
                        Action::ReviewEvidence {
                            repo: &r,
                            filed_by: "dan",
                        },
                    ),
                    ("report", Action::ReportIncident(&r)),
                    ("card", Action::ReadCard(&r)),
                    (
                        "handle",
                        Action::HandleIncident {
                            repo: &r,
                            reporter: Some("dan"),
                        },
                    ),
                ];
                for (label, action) in actions {
                    let d = authorize(&subject, &action);
                    out.push_str(&format!(
                        "{:<11} {:<4} {:<8} {:<8} -> {} {}\n",
                        level.as_str(),
                        tier.as_str(),
                        label,
                        grant.as_str(),
                        if d.allow { "allow" } else { "deny " },
                        d.reason.code()
                    ));
                }
            }
        }
    }
    insta::assert_snapshot!("decision_matrix", out);
}

fn arb_scope() -> impl Strategy<Value = Scope> {
    prop_oneof![Just(Scope::Read), Just(Scope::Write), Just(Scope::Admin)]
}
fn arb_tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(TIERS.to_vec())
}
fn arb_level() -> impl Strategy<Value = IdentityLevel> {
    prop::sample::select(IdentityLevel::ALL.to_vec())
}
fn arb_grant() -> impl Strategy<Value = GrantState> {
    prop::sample::select(GrantState::ALL.to_vec())
}

proptest! {
    #[test]
    fn invariants(anon in any::<bool>(), member in any::<bool>(), scope in arb_scope(),
                  level in arb_level(), private in any::<bool>(), tier in arb_tier(),
                  grant in arb_grant(), terms in any::<bool>(), blocked in any::<bool>()) {
        let s = if anon { Subject::Anonymous } else {
            Subject::User(UserFacts {
                name: name(if member { "alice" } else { "bob" }),
                orgs: if member { vec![name("acme")] } else { vec![] },
                owner_of: vec![],
                scope,
                level,
                country: Some(if blocked { "XX" } else { "DE" }.into()),
            })
        };
        let r = repo(private, tier);
        let st = standing(grant, terms);
        let read = authorize(&s, &Action::ReadMetadata(&r));
        let dl = authorize(&s, &Action::Download(&r, st));
        let wr = authorize(&s, &Action::Write(&r));
        // anything allowed implies the repo is visible
        prop_assert!(!dl.allow || read.allow);
        prop_assert!(!wr.allow || read.allow);
        // no weight byte of T3/T4 ever leaves by download, whoever asks
        prop_assert!(!(tier >= Tier::T3 && dl.allow));
        // gated tiers never serve anonymous callers
        prop_assert!(!(tier >= Tier::T1 && anon && dl.allow));
        // outsiders get T2 bytes only with an approved grant at the required level, outside blocked regions
        if tier == Tier::T2 && !member && scope != Scope::Admin && dl.allow {
            prop_assert_eq!(grant, GrantState::Approved);
            prop_assert!(level >= IdentityLevel::Identified);
            prop_assert!(!blocked);
        }
        if tier == Tier::T1 && !member && scope != Scope::Admin && dl.allow {
            prop_assert!(terms && !blocked);
        }
        // anonymous and read tokens never write
        prop_assert!(!(anon && wr.allow));
        prop_assert!(!(scope == Scope::Read && wr.allow));
        // outsiders never see private repos
        if private && !member && scope != Scope::Admin {
            prop_assert_eq!(read, Decision::deny(Reason::NotVisible));
            prop_assert_eq!(dl, Decision::deny(Reason::NotVisible));
        }
    }
}

mod research {
    use super::*;
    use weir_core::research::{AccessLevel, JobKind, ProjectStanding};

    const LEVELS: [AccessLevel; 3] = [AccessLevel::Al1, AccessLevel::Al2, AccessLevel::Al3];
    const KINDS: [JobKind; 4] = [
        JobKind::Generate,
        JobKind::Mcq,
        JobKind::Logits,
        JobKind::Command,
    ];
    const STANDINGS: [ProjectStanding; 5] = [
        ProjectStanding::Applied,
        ProjectStanding::Active,
        ProjectStanding::Rejected,
        ProjectStanding::Revoked,
        ProjectStanding::Expired,
    ];

    fn job<'a>(
        repo: &'a RepoFacts,
        project: ProjectStanding,
        member: bool,
        granted: Option<AccessLevel>,
        kind: JobKind,
    ) -> JobFacts<'a> {
        JobFacts {
            repo,
            project,
            member,
            required_level: IdentityLevel::Accredited,
            granted,
            kind,
            budget: weir_core::grants::Budget::Available,
        }
    }

    /// Every cell of tier × granted level × kind × project standing for an accredited
    /// member, snapshotted.
    #[test]
    fn run_job_matrix() {
        let grace = user("grace", &[], Scope::Write, IdentityLevel::Accredited);
        let mut out = String::from("tier granted kind     project  -> decision\n");
        for tier in TIERS {
            let r = repo(false, tier);
            for granted in LEVELS {
                for kind in KINDS {
                    for project in STANDINGS {
                        let f = job(&r, project, true, Some(granted), kind);
                        let d = authorize(&grace, &Action::RunJob(&f));
                        out.push_str(&format!(
                            "{:<4} {:<7} {:<8} {:<8} -> {} {}\n",
                            tier.as_str(),
                            granted.as_str(),
                            kind.as_str(),
                            format!("{project:?}").to_lowercase(),
                            if d.allow { "allow" } else { "deny " },
                            d.reason.code()
                        ));
                    }
                }
            }
        }
        insta::assert_snapshot!("run_job_matrix", out);
    }

    #[test]
    fn the_front_door_and_the_side_doors() {
        let r = repo(false, Tier::T3);
        let grace = user("grace", &[], Scope::Write, IdentityLevel::Accredited);
        let ok = job(
            &r,
            ProjectStanding::Active,
            true,
            Some(AccessLevel::Al1),
            JobKind::Mcq,
        );
        assert_eq!(
            authorize(&grace, &Action::RunJob(&ok)),
            Decision::allow(Reason::Granted)
        );
        // A read token, an anonymous caller, a non-member, an operator who is not on the team.
        let read = user("grace", &[], Scope::Read, IdentityLevel::Accredited);
        assert_eq!(
            authorize(&read, &Action::RunJob(&ok)),
            Decision::deny(Reason::TokenScope)
        );
        assert_eq!(
            authorize(&Subject::Anonymous, &Action::RunJob(&ok)),
            Decision::deny(Reason::NotSignedIn)
        );
        let outsider = JobFacts {
            member: false,
            ..ok.clone()
        };
        assert_eq!(
            authorize(&grace, &Action::RunJob(&outsider)),
            Decision::deny(Reason::NotMember)
        );
        let op = user("op", &[], Scope::Admin, IdentityLevel::Accredited);
        assert_eq!(
            authorize(&op, &Action::RunJob(&outsider)),
            Decision::deny(Reason::NotMember)
        );
        // A lapsed attestation, a region block, a hold, a model the project does not name.
        let lapsed = user("grace", &[], Scope::Write, IdentityLevel::Identified);
        assert_eq!(
            authorize(&lapsed, &Action::RunJob(&ok)),
            Decision::deny(Reason::IdentityLevel)
        );
        let mut blocked = repo(false, Tier::T3);
        blocked.blocked_countries = vec!["DE".into()];
        let b = JobFacts {
            repo: &blocked,
            ..ok.clone()
        };
        assert_eq!(
            authorize(&grace, &Action::RunJob(&b)),
            Decision::deny(Reason::Region)
        );
        let mut held = repo(false, Tier::T3);
        held.held = true;
        let h = JobFacts {
            repo: &held,
            ..ok.clone()
        };
        assert_eq!(
            authorize(&grace, &Action::RunJob(&h)),
            Decision::deny(Reason::IncidentHold)
        );
        let unnamed = JobFacts {
            granted: None,
            ..ok.clone()
        };
        assert_eq!(
            authorize(&grace, &Action::RunJob(&unnamed)),
            Decision::deny(Reason::NotInProject)
        );
        // A private model the caller cannot see answers like a missing one.
        let hidden = repo(true, Tier::T3);
        let p = JobFacts {
            repo: &hidden,
            ..ok.clone()
        };
        assert_eq!(
            authorize(&grace, &Action::RunJob(&p)),
            Decision::deny(Reason::NotVisible)
        );
    }

    #[test]
    fn projects_are_decided_by_operators_not_by_their_own_team() {
        let op = user("op", &[], Scope::Admin, IdentityLevel::Account);
        let grace = name("grace");
        let opn = name("op");
        let decide = |applicant: &Name, member: bool, s: &Subject| {
            authorize(s, &Action::DecideProject { applicant, member })
        };
        assert_eq!(
            decide(&grace, false, &op),
            Decision::allow(Reason::AdminToken)
        );
        assert_eq!(decide(&opn, false, &op), Decision::deny(Reason::OwnRequest));
        assert_eq!(
            decide(&grace, true, &op),
            Decision::deny(Reason::OwnRequest)
        );
        let writer = user("dan", &[], Scope::Write, IdentityLevel::Accredited);
        assert_eq!(
            decide(&grace, false, &writer),
            Decision::deny(Reason::NotOperator)
        );
        assert_eq!(
            decide(&grace, false, &Subject::Anonymous),
            Decision::deny(Reason::NotSignedIn)
        );
        // Sealed models are named at black-box only; the applicant must see the model.
        let t4 = repo(false, Tier::T4);
        let g = user("grace", &[], Scope::Write, IdentityLevel::Accredited);
        for level in LEVELS {
            let d = authorize(&g, &Action::UseModelInProject { repo: &t4, level });
            assert_eq!(d.allow, level == AccessLevel::Al1, "{level:?}");
        }
        let hidden = repo(true, Tier::T3);
        assert_eq!(
            authorize(
                &g,
                &Action::UseModelInProject {
                    repo: &hidden,
                    level: AccessLevel::Al1
                }
            ),
            Decision::deny(Reason::NotVisible)
        );
        assert_eq!(
            authorize(&g, &Action::ReadProject { member: false }),
            Decision::deny(Reason::NotMember)
        );
        assert!(authorize(&g, &Action::ReadProject { member: true }).allow);
        assert!(authorize(&op, &Action::ReadProject { member: false }).allow);
        // Output checkers: operators and designated checkers (with a write token), never the
        // job's author or its team.
        let review = |author: &Name, member: bool, checker: bool, s: &Subject| {
            authorize(
                s,
                &Action::ReviewOutputs {
                    author,
                    member,
                    checker,
                },
            )
        };
        assert!(review(&grace, false, false, &op).allow);
        assert_eq!(
            review(&opn, false, false, &op),
            Decision::deny(Reason::OwnRequest)
        );
        assert_eq!(
            review(&grace, true, false, &op),
            Decision::deny(Reason::OwnRequest)
        );
        assert_eq!(
            review(&opn, false, false, &g),
            Decision::deny(Reason::NotOperator)
        );
        let dana = Name::parse("dana").expect("name");
        let checker = |scope| {
            Subject::User(UserFacts {
                name: dana.clone(),
                orgs: vec![],
                owner_of: vec![],
                scope,
                level: IdentityLevel::Account,
                country: None,
            })
        };
        assert_eq!(
            review(&grace, false, true, &checker(Scope::Write)),
            Decision::allow(Reason::OutputChecker)
        );
        assert_eq!(
            review(&grace, false, true, &checker(Scope::Read)),
            Decision::deny(Reason::TokenScope)
        );
        // A designation never overrides independence.
        assert_eq!(
            review(&dana, false, true, &checker(Scope::Write)),
            Decision::deny(Reason::OwnRequest)
        );
        assert_eq!(
            review(&grace, true, true, &checker(Scope::Write)),
            Decision::deny(Reason::OwnRequest)
        );
        assert_eq!(
            review(&grace, false, true, &Subject::Anonymous),
            Decision::deny(Reason::NotSignedIn)
        );
    }

    /// A job runs only while its project's budget allows; each other budget names itself.
    #[test]
    fn the_budget_stops_jobs_with_its_own_reason() {
        use weir_core::grants::Budget;
        let r = repo(false, Tier::T3);
        let grace = user("grace", &[], Scope::Write, IdentityLevel::Accredited);
        for (budget, reason) in [
            (Budget::Available, None),
            (Budget::Exhausted, Some(Reason::QuotaExhausted)),
            (Budget::NotStarted, Some(Reason::AwardNotStarted)),
            (Budget::Expired, Some(Reason::AwardExpired)),
            (Budget::Revoked, Some(Reason::AwardRevoked)),
        ] {
            let f = JobFacts {
                budget,
                ..job(
                    &r,
                    ProjectStanding::Active,
                    true,
                    Some(AccessLevel::Al1),
                    JobKind::Mcq,
                )
            };
            let d = authorize(&grace, &Action::RunJob(&f));
            match reason {
                None => assert!(d.allow, "{budget:?}"),
                Some(reason) => assert_eq!(d, Decision::deny(reason), "{budget:?}"),
            }
        }
    }

    /// Grants: the team applies and reports; operators review, never their own application
    /// or project's, never after declaring a conflict; the team and operators read it.
    #[test]
    fn grants_are_reviewed_by_unconflicted_operators_off_the_team() {
        let grace = user("grace", &[], Scope::Write, IdentityLevel::Identified);
        let read = user("grace", &[], Scope::Read, IdentityLevel::Identified);
        let op = user("op", &[], Scope::Admin, IdentityLevel::Account);
        let applicant = Name::parse("grace").expect("name");
        let opn = Name::parse("op").expect("name");
        for action in [
            Action::ApplyGrant { member: true },
            Action::ReportProgress { member: true },
        ] {
            assert_eq!(authorize(&grace, &action), Decision::allow(Reason::Member));
            assert_eq!(
                authorize(&read, &action),
                Decision::deny(Reason::TokenScope)
            );
            assert_eq!(
                authorize(&Subject::Anonymous, &action),
                Decision::deny(Reason::NotSignedIn)
            );
        }
        assert_eq!(
            authorize(&grace, &Action::ApplyGrant { member: false }),
            Decision::deny(Reason::NotMember)
        );
        assert!(authorize(&op, &Action::ReadGrant { member: false }).allow);
        assert!(authorize(&read, &Action::ReadGrant { member: true }).allow);
        assert_eq!(
            authorize(&grace, &Action::ReadGrant { member: false }),
            Decision::deny(Reason::NotMember)
        );
        let review = |s: &Subject, applicant: &Name, member: bool, conflict: bool| {
            authorize(
                s,
                &Action::ReviewGrant {
                    applicant,
                    member,
                    conflict,
                },
            )
        };
        // No reviewer only on an automatic route, at the call's level, as the applicant is now.
        let auto = |s: &Subject, automatic_route: bool| {
            authorize(
                s,
                &Action::AwardAutomatically {
                    automatic_route,
                    required: IdentityLevel::Identified,
                },
            )
        };
        assert!(auto(&grace, true).allow);
        assert_eq!(auto(&grace, false), Decision::deny(Reason::NotReviewer));
        assert_eq!(auto(&op, true), Decision::deny(Reason::IdentityLevel));
        assert_eq!(
            auto(&Subject::Anonymous, true),
            Decision::deny(Reason::NotSignedIn)
        );
        assert!(review(&op, &applicant, false, false).allow);
        assert_eq!(
            review(&op, &applicant, false, true),
            Decision::deny(Reason::Conflict)
        );
        assert_eq!(
            review(&op, &opn, false, false),
            Decision::deny(Reason::OwnRequest)
        );
        assert_eq!(
            review(&op, &applicant, true, false),
            Decision::deny(Reason::OwnRequest)
        );
        assert_eq!(
            review(&grace, &opn, false, false),
            Decision::deny(Reason::NotOperator)
        );
    }

    /// The board: members (write token) and operators propose; only members sign, whatever
    /// their other roles.
    #[test]
    fn only_board_members_sign_and_members_or_operators_propose() {
        let m = user("mia", &[], Scope::Write, IdentityLevel::Account);
        let read = user("mia", &[], Scope::Read, IdentityLevel::Account);
        let op = user("op", &[], Scope::Admin, IdentityLevel::Account);
        assert!(authorize(&m, &Action::ProposeChange { board_member: true }).allow);
        assert!(
            authorize(
                &op,
                &Action::ProposeChange {
                    board_member: false
                }
            )
            .allow
        );
        assert_eq!(
            authorize(
                &m,
                &Action::ProposeChange {
                    board_member: false
                }
            ),
            Decision::deny(Reason::NotMember)
        );
        assert!(authorize(&m, &Action::SignProposal { board_member: true }).allow);
        assert_eq!(
            authorize(
                &op,
                &Action::SignProposal {
                    board_member: false
                }
            ),
            Decision::deny(Reason::NotMember)
        );
        assert_eq!(
            authorize(&read, &Action::SignProposal { board_member: true }),
            Decision::deny(Reason::TokenScope)
        );
        assert_eq!(
            authorize(
                &Subject::Anonymous,
                &Action::SignProposal { board_member: true }
            ),
            Decision::deny(Reason::NotSignedIn)
        );
    }

    /// Funding: anyone with a write token pledges; operators decide payouts, never their own;
    /// a statement names its parties to the member and operators only.
    #[test]
    fn payouts_are_decided_by_operators_never_by_their_beneficiary() {
        let u = user("rita", &[], Scope::Write, IdentityLevel::Account);
        let read = user("rita", &[], Scope::Read, IdentityLevel::Account);
        let op = user("op", &[], Scope::Admin, IdentityLevel::Account);
        assert!(authorize(&u, &Action::Pledge).allow);
        assert_eq!(
            authorize(&read, &Action::Pledge),
            Decision::deny(Reason::TokenScope)
        );
        assert!(authorize(&op, &Action::DecidePayout { beneficiary: false }).allow);
        assert_eq!(
            authorize(&op, &Action::DecidePayout { beneficiary: true }),
            Decision::deny(Reason::OwnRequest)
        );
        assert_eq!(
            authorize(&u, &Action::DecidePayout { beneficiary: false }),
            Decision::deny(Reason::NotOperator)
        );
        assert!(authorize(&u, &Action::ReadStatement { own: true }).allow);
        assert!(authorize(&op, &Action::ReadStatement { own: false }).allow);
        assert_eq!(
            authorize(&u, &Action::ReadStatement { own: false }),
            Decision::deny(Reason::NotMember)
        );
    }

    fn arb_standing() -> impl Strategy<Value = ProjectStanding> {
        prop::sample::select(STANDINGS.to_vec())
    }

    proptest! {
        #[test]
        fn jobs_run_only_for_active_members_within_the_tier_cap(
            scope in arb_scope(), level in arb_level(), tier in arb_tier(),
            member in any::<bool>(), project in arb_standing(),
            granted in prop::option::of(prop::sample::select(LEVELS.to_vec())),
            kind in prop::sample::select(KINDS.to_vec()), held in any::<bool>(),
            private in any::<bool>(), in_org in any::<bool>(),
            budget in prop::sample::select(weir_core::grants::Budget::ALL.to_vec()),
        ) {
            let s = user("grace", if in_org { &["acme"] } else { &[] }, scope, level);
            let mut r = repo(private, tier);
            r.held = held;
            let f = JobFacts { budget, ..job(&r, project, member, granted, kind) };
            let d = authorize(&s, &Action::RunJob(&f));
            if d.allow {
                prop_assert!(member && project == ProjectStanding::Active && !held);
                prop_assert_eq!(budget, weir_core::grants::Budget::Available);
                prop_assert!(scope >= Scope::Write);
                prop_assert!(level >= IdentityLevel::Accredited);
                prop_assert!(granted.is_some_and(|g| g >= kind.needs()));
                // T4 never runs grey- or white-box jobs.
                prop_assert!(!(tier == Tier::T4 && kind.needs() > AccessLevel::Al1));
                prop_assert!(authorize(&s, &Action::ReadMetadata(&r)).allow);
            }
        }
    }
}
