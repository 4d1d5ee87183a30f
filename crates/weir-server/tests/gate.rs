//! Gated delivery (`src/gate.rs`): no weight byte without an allow decision, as a property.

use crate::access::*;
use reqwest::StatusCode;
use weir_core::{IdentityLevel, Name, RepoId, Scope, Tier};

/// Property: whatever the tier, identity level, terms, grant state and caller, the server sends
/// file bytes exactly when the authorization module allows, and every gated delivery has an
/// `allow` event recorded before it.
#[test]
fn no_weight_byte_without_an_allow_decision() {
    use proptest::prelude::*;
    use weir_authz::{AccessStanding, Action, RepoFacts, Subject, UserFacts, authorize};
    use weir_core::{GrantState, RequestState};

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, _alice, carol) = rt.block_on(setup(Tier::T0));
    let repo = rt
        .block_on(app.store.db.repo(&RepoId::parse("acme/gated").expect("id")))
        .expect("db")
        .expect("repo");
    let tiers = vec![Tier::T0, Tier::T1, Tier::T2, Tier::T3, Tier::T4];
    let states = vec![
        None,
        Some(RequestState::Pending),
        Some(RequestState::Approved),
        Some(RequestState::Rejected),
        Some(RequestState::Revoked),
        Some(RequestState::Reset),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::sample::select(tiers),
        prop::sample::select(IdentityLevel::ALL[1..].to_vec()),
        prop::sample::select(states),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    );
    runner
        .run(
            &strategy,
            |(tier, level, state, terms, expired, anonymous)| {
                rt.block_on(async {
                    app.store.db.set_tier(&repo, tier).await.expect("tier");
                    set_level(&app, "carol", level, None).await;
                    if terms {
                        app.store
                            .db
                            .accept_terms(&repo, "carol")
                            .await
                            .expect("terms");
                    } else {
                        sqlx_free_terms_reset(&app, &repo).await;
                    }
                    let at = time::OffsetDateTime::now_utc().unix_timestamp();
                    let expires_at = expired.then_some(at - 10);
                    if let Some(s) = state {
                        let req = weir_store::AccessRequest {
                            account: "carol".into(),
                            state: s,
                            purpose: "p".into(),
                            fields: Default::default(),
                            requested_at: at,
                            due_at: at + 100,
                            decided_by: None,
                            decided_at: Some(at),
                            reason: Some("r".into()),
                            expires_at,
                        };
                        app.store
                            .db
                            .put_access_request(&repo, &req)
                            .await
                            .expect("request");
                    } else {
                        let mut req = app
                            .store
                            .db
                            .access_request(&repo, "carol")
                            .await
                            .expect("q");
                        if let Some(r) = req.as_mut() {
                            r.state = RequestState::Reset;
                            app.store
                                .db
                                .put_access_request(&repo, r)
                                .await
                                .expect("reset");
                        }
                    }
                    let before = app
                        .store
                        .db
                        .events(Some("acme/gated"), 1)
                        .await
                        .expect("events")
                        .first()
                        .map(|(id, _)| *id)
                        .unwrap_or(0);
                    let r = dl(&app, (!anonymous).then_some(carol.as_str())).await;
                    let status = r.status();
                    let body = r.bytes().await.expect("body");

                    let subject = if anonymous {
                        Subject::Anonymous
                    } else {
                        Subject::User(UserFacts {
                            name: Name::parse("carol").expect("n"),
                            orgs: vec![],
                            owner_of: vec![],
                            scope: Scope::Read,
                            level,
                            country: None,
                        })
                    };
                    let facts = RepoFacts {
                        namespace: Name::parse("acme").expect("n"),
                        private: false,
                        tier,
                        min_level: IdentityLevel::Identified,
                        blocked_countries: vec![],
                        held: false,
                    };
                    let grant = if anonymous {
                        GrantState::None
                    } else {
                        GrantState::of(state.filter(|s| *s != RequestState::Reset), expires_at, at)
                    };
                    let standing = AccessStanding {
                        terms_accepted: terms && !anonymous,
                        grant,
                    };
                    let expected = authorize(&subject, &Action::Download(&facts, standing));
                    prop_assert_eq!(
                        status == StatusCode::OK,
                        expected.allow,
                        "tier {:?} level {:?} state {:?} terms {} expired {} anon {}: {} vs {:?}",
                        tier,
                        level,
                        state,
                        terms,
                        expired,
                        anonymous,
                        status,
                        expected
                    );
                    if !expected.allow {
                        prop_assert!(&body[..] != b"weights\n");
                    } else if tier > Tier::T0 {
                        let events = app
                            .store
                            .db
                            .events(Some("acme/gated"), 1)
                            .await
                            .expect("events");
                        let (id, e) = events.first().expect("an event");
                        prop_assert!(*id > before);
                        prop_assert_eq!(e.decision.as_str(), "allow");
                    }
                    Ok(())
                })
            },
        )
        .expect("property holds");
}
