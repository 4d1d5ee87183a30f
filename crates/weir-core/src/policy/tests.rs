//! Table tests of the default policy (the cases governance-anchors §1.10 and issue 5 list).

use super::*;
use crate::card;
use crate::eval::{Harness, RESULT_TYPE};

const REV: &str = "0123456789abcdef0123456789abcdef01234567";

fn card(compute: Option<f64>) -> CardFacts {
    let mut c = card::parse("");
    c.training_compute_flop = compute;
    c
}

fn result(domain: Domain, value: f64) -> ResultInput {
    let suite = format!("wmdp-{}", domain.as_str());
    ResultInput {
        id: format!("r-{suite}"),
        record: ResultRecord {
            kind: RESULT_TYPE.into(),
            repo: "acme/m".into(),
            revision: REV.into(),
            suite,
            suite_version: 1,
            domain,
            harness: Harness::LmEval,
            harness_version: "0.4.13".into(),
            task: format!("wmdp_{}", domain.as_str()),
            metric: "acc".into(),
            value,
            stderr: None,
            n: 1273,
            partial: vec![],
            logged_revision: None,
            raw_log_sha256: "0".repeat(64),
        },
        signed_by: Some("evallab".into()),
        accredited: true,
        chance: 0.25,
    }
}

fn evaluable() -> Vec<Domain> {
    vec![Domain::Bio, Domain::Chem, Domain::Cyber]
}

fn run(policy: &Policy, c: &CardFacts, results: Vec<ResultInput>) -> Classification {
    classify(
        policy,
        &Inputs {
            card: c,
            revision: REV,
            results,
            evidence: vec![],
            bases: vec![],
            last_assessed_compute: None,
            evaluable: evaluable(),
        },
    )
}

fn outcome(c: &Classification, d: Domain) -> Outcome {
    c.domains
        .iter()
        .find(|x| x.domain == d)
        .map(|x| x.outcome)
        .unwrap_or(Outcome::NotAssessed)
}

fn strict() -> Policy {
    let mut p = Policy::default_policy();
    p.ambiguity.unevaluated_above_presumption = Unevaluated::Ambiguous;
    p
}

#[test]
fn the_shipped_policy_parses_and_every_rule_names_a_source() {
    let p = Policy::default_policy();
    assert_eq!(p.compute_presumption.threshold_flop, 1e25);
    assert_eq!(p.compute_presumption.notify_days, 14);
    assert_eq!(p.ambiguity.tier, Tier::T3);
    assert_eq!(p.ruled_in.critical, Tier::T4);
    assert!(!p.export_control.enabled);
    // The shipped [outputs] section is the defaults, and a policy without one gets them.
    assert_eq!(p.outputs, crate::outputs::OutputRules::default());
    let start = DEFAULT_POLICY
        .find("\n[outputs]")
        .expect("an [outputs] section");
    let without = Policy::parse(&DEFAULT_POLICY[..start]).expect("parses");
    assert_eq!(without.outputs, p.outputs);
    let c = run(&p, &card(None), vec![]);
    assert!(c.rules.iter().all(|r| !r.source.is_empty()));
    assert_eq!(c.rules.len(), 7);
}

#[test]
fn above_the_compute_presumption_without_evaluations_is_t2_with_the_flag() {
    let c = run(&Policy::default_policy(), &card(Some(1.2e25)), vec![]);
    assert_eq!(c.minimum_tier, Tier::T2);
    assert!(c.presumption);
    assert_eq!(c.deciding_rule, Some("compute_presumption"));
    assert!(c.explain().contains("1.20e25"), "{}", c.explain());
}

#[test]
fn below_the_presumption_is_t0() {
    let c = run(&Policy::default_policy(), &card(Some(9e24)), vec![]);
    assert_eq!(c.minimum_tier, Tier::T0);
    assert!(!c.presumption);
    assert_eq!(c.deciding_rule, None);
    assert_eq!(c.explain(), "no rule raises the tier");
}

#[test]
fn an_ambiguous_bio_domain_is_t3() {
    // By the review trigger: a WMDP-bio score well above chance.
    let c = run(
        &Policy::default_policy(),
        &card(Some(1e23)),
        vec![result(Domain::Bio, 0.52)],
    );
    assert_eq!(outcome(&c, Domain::Bio), Outcome::Ambiguous);
    assert_eq!(c.minimum_tier, Tier::T3);
    assert_eq!(c.deciding_rule, Some("ambiguity"));
    // By filed evidence.
    let c = classify(
        &Policy::default_policy(),
        &Inputs {
            card: &card(None),
            revision: REV,
            results: vec![],
            evidence: vec![EvidenceInput {
                id: 1,
                domain: Domain::Bio,
                state: EvidenceState::Open,
                severity: None,
            }],
            bases: vec![],
            last_assessed_compute: None,
            evaluable: evaluable(),
        },
    );
    assert_eq!(outcome(&c, Domain::Bio), Outcome::Ambiguous);
    assert_eq!(c.minimum_tier, Tier::T3);
}

#[test]
fn ruled_in_high_is_t3_and_critical_is_t4_and_dismissed_evidence_is_ignored() {
    let ev = |state, severity| EvidenceInput {
        id: 7,
        domain: Domain::Cyber,
        state,
        severity,
    };
    let p = Policy::default_policy();
    let c0 = card(None);
    let with = |e: EvidenceInput| {
        classify(
            &p,
            &Inputs {
                card: &c0,
                revision: REV,
                results: vec![result(Domain::Cyber, 0.25)],
                evidence: vec![e],
                bases: vec![],
                last_assessed_compute: None,
                evaluable: evaluable(),
            },
        )
    };
    let high = with(ev(EvidenceState::Confirmed, Some(HazardSeverity::High)));
    assert_eq!(
        outcome(&high, Domain::Cyber),
        Outcome::RuledIn(HazardSeverity::High)
    );
    assert_eq!(high.minimum_tier, Tier::T3);
    assert_eq!(high.deciding_rule, Some("ruled_in"));
    let critical = with(ev(EvidenceState::Confirmed, Some(HazardSeverity::Critical)));
    assert_eq!(critical.minimum_tier, Tier::T4);
    let dismissed = with(ev(EvidenceState::Dismissed, None));
    assert_eq!(outcome(&dismissed, Domain::Cyber), Outcome::RuledOut);
    assert_eq!(dismissed.minimum_tier, Tier::T0);
    // Evidence awaiting triage (filed by an account that is not accredited) changes nothing
    // until an operator confirms it (F8: one account cannot freeze a model).
    let pending = with(ev(EvidenceState::PendingTriage, None));
    assert_eq!(outcome(&pending, Domain::Cyber), Outcome::RuledOut);
    assert_eq!(pending.minimum_tier, Tier::T0);
    let open = with(ev(EvidenceState::Open, None));
    assert_eq!(outcome(&open, Domain::Cyber), Outcome::Ambiguous);
}

#[test]
fn a_derivative_of_a_t3_model_is_t3_unless_fully_re_evaluated() {
    let p = Policy::default_policy();
    let c0 = card(None);
    let derivative = |results: Vec<ResultInput>| {
        classify(
            &p,
            &Inputs {
                card: &c0,
                revision: REV,
                results,
                evidence: vec![],
                bases: vec![BaseInput {
                    id: "acme/base".into(),
                    tier: Some(Tier::T3),
                }],
                last_assessed_compute: None,
                evaluable: evaluable(),
            },
        )
    };
    let c = derivative(vec![]);
    assert_eq!(c.minimum_tier, Tier::T3);
    assert_eq!(c.deciding_rule, Some("derivatives"));
    let all_out = || {
        vec![
            result(Domain::Bio, 0.26),
            result(Domain::Chem, 0.27),
            result(Domain::Cyber, 0.24),
        ]
    };
    assert_eq!(derivative(all_out()).minimum_tier, Tier::T0);

    // A partial lm-eval run on one domain does not count: inheritance stays.
    let mut partial = all_out();
    partial[0].record.partial = vec!["limit=100".into()];
    let c = derivative(partial);
    assert_eq!(c.minimum_tier, Tier::T3);
    assert_eq!(c.ignored_results.len(), 1);
    assert_eq!(c.ignored_results[0].reason, Ignored::Partial);
    // Neither does an unsigned one, one by a revoked evaluator or one on another revision.
    let mut unsigned = all_out();
    unsigned[1].signed_by = None;
    assert_eq!(derivative(unsigned).minimum_tier, Tier::T3);
    let mut revoked = all_out();
    revoked[1].accredited = false;
    assert_eq!(derivative(revoked).minimum_tier, Tier::T3);
    let mut other = all_out();
    other[2].record.revision = "f".repeat(40);
    let c = derivative(other);
    assert_eq!(c.minimum_tier, Tier::T3);
    assert_eq!(c.ignored_results[0].reason, Ignored::OtherRevision);
    // A base outside this registry passes nothing on.
    let c = classify(
        &p,
        &Inputs {
            card: &c0,
            revision: REV,
            results: vec![],
            evidence: vec![],
            bases: vec![BaseInput {
                id: "meta-llama/Llama-3".into(),
                tier: None,
            }],
            last_assessed_compute: None,
            evaluable: evaluable(),
        },
    );
    assert_eq!(c.minimum_tier, Tier::T0);
}

#[test]
fn under_the_strict_reading_only_counting_results_lower_an_unevaluated_presumed_model() {
    let p = strict();
    let c1 = card(Some(1.2e25));
    let c = run(&p, &c1, vec![]);
    assert_eq!(c.minimum_tier, Tier::T3);
    assert_eq!(outcome(&c, Domain::Chem), Outcome::Ambiguous);
    let all = || {
        vec![
            result(Domain::Bio, 0.26),
            result(Domain::Chem, 0.27),
            result(Domain::Cyber, 0.24),
        ]
    };
    assert_eq!(run(&p, &c1, all()).minimum_tier, Tier::T2);
    let mut partial = all();
    partial[0].record.partial = vec!["n-samples effective 10 < original 1273".into()];
    assert_eq!(run(&p, &c1, partial).minimum_tier, Tier::T3);
    let mut unsigned = all();
    unsigned[0].signed_by = None;
    assert_eq!(run(&p, &c1, unsigned).minimum_tier, Tier::T3);
    let mut wrong = all();
    wrong[0].record.logged_revision = Some("deadbee".into());
    assert_eq!(run(&p, &c1, wrong).minimum_tier, Tier::T3);
}

#[test]
fn reassessment_at_twice_the_compute_and_export_control_when_enabled() {
    let mut p = Policy::default_policy();
    let c1 = card(Some(5e24));
    let c = classify(
        &p,
        &Inputs {
            card: &c1,
            revision: REV,
            results: vec![],
            evidence: vec![],
            bases: vec![],
            last_assessed_compute: Some(2e24),
            evaluable: evaluable(),
        },
    );
    assert!(c.reassessment_due);
    let mut closed = card(Some(2e26));
    closed.closed_weights = true;
    assert_eq!(run(&p, &closed, vec![]).minimum_tier, Tier::T2);
    p.export_control.enabled = true;
    let c = run(&p, &closed, vec![]);
    assert_eq!(c.minimum_tier, Tier::T3);
    assert_eq!(c.deciding_rule, Some("export_control"));
}

#[test]
fn bad_policies_are_refused_with_the_rule_named() {
    let no_source =
        DEFAULT_POLICY.replacen("source = \"Ambiguity escalates", "source = \"\"\nx = \"", 1);
    assert!(Policy::parse(&no_source).is_err());
    let empty_source = DEFAULT_POLICY.replace(
        "source = \"Re-assess when training compute exceeds 2x the last assessed (OpenAI Preparedness Framework v1, >2x effective compute)\"",
        "source = \" \"",
    );
    assert_eq!(
        Policy::parse(&empty_source),
        Err(PolicyError::MissingSource("reassessment"))
    );
    let big_files =
        DEFAULT_POLICY.replace("max_file_bytes = 1048576", "max_file_bytes = 1073741824");
    assert!(matches!(
        Policy::parse(&big_files),
        Err(PolicyError::Invalid {
            rule: "outputs",
            ..
        })
    ));
    let bad_margin = DEFAULT_POLICY.replace("margin_over_chance = 0.10", "margin_over_chance = 7");
    assert!(matches!(
        Policy::parse(&bad_margin),
        Err(PolicyError::Invalid {
            rule: "review_trigger",
            ..
        })
    ));
    assert!(matches!(
        Policy::parse("version = 1"),
        Err(PolicyError::Toml(_))
    ));
    let unknown = format!("{DEFAULT_POLICY}\n[surprise]\nx = 1\n");
    assert!(matches!(Policy::parse(&unknown), Err(PolicyError::Toml(_))));
}
