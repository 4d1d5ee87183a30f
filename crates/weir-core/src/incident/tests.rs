//! Clock and lifecycle tests with a controlled clock: each class's initial-report deadline,
//! updates every four weeks, the final report 60 days after resolution, and the disclosure rules
//! (90 days, +30 after a fix, 7 in the wild, embargo).

use super::*;

const T0: i64 = 1_800_000_000;

fn times() -> Times {
    Times {
        aware_at: T0,
        ..Times::default()
    }
}

fn clock(c: &[Clock], name: &str) -> Clock {
    c.iter().find(|x| x.name == name).cloned().expect(name)
}

#[test]
fn initial_report_deadline_per_class() {
    for (class, days) in [
        (Class::CriticalInfrastructure, 2),
        (Class::WeightsExfiltration, 5),
        (Class::Cyber, 5),
        (Class::Death, 10),
        (Class::OtherSerious, 15),
    ] {
        let due = T0 + days * DAY;
        let at = |now| {
            clock(
                &clocks(class, State::Received, &times(), now),
                "initial_report",
            )
        };
        assert_eq!(at(due).due, due, "{class:?}");
        assert!(!at(due).overdue, "{class:?} is not overdue at its deadline");
        assert!(at(due + 1).overdue, "{class:?} is overdue a second later");
        assert!(overdue(class, State::Received, &times(), due + 1));
        // Triage on time meets the clock.
        let mut t = times();
        t.triaged_at = Some(due - 1);
        let c = clocks(class, State::Triaged, &t, due + 10 * DAY);
        assert!(!clock(&c, "initial_report").overdue);
    }
    assert!(clocks(Class::Minor, State::Received, &times(), T0 + 1000 * DAY).is_empty());
}

#[test]
fn updates_every_four_weeks_and_the_final_report_sixty_days_after_resolution() {
    let mut t = times();
    t.triaged_at = Some(T0 + DAY);
    let c = clocks(Class::Cyber, State::Confirmed, &t, T0 + 30 * DAY);
    assert_eq!(clock(&c, "update").due, T0 + 29 * DAY);
    assert!(clock(&c, "update").overdue);
    t.last_update_at = Some(T0 + 20 * DAY);
    let c = clocks(Class::Cyber, State::Confirmed, &t, T0 + 30 * DAY);
    assert_eq!(clock(&c, "update").due, T0 + 48 * DAY);
    assert!(!clock(&c, "update").overdue);
    t.resolved_at = Some(T0 + 40 * DAY);
    let c = clocks(Class::Cyber, State::Mitigated, &t, T0 + 101 * DAY);
    assert!(
        c.iter().all(|x| x.name != "update"),
        "no updates once resolved"
    );
    assert_eq!(clock(&c, "final_report").due, T0 + 100 * DAY);
    assert!(clock(&c, "final_report").overdue);
    t.final_report_at = Some(T0 + 99 * DAY);
    let c = clocks(Class::Cyber, State::Mitigated, &t, T0 + 101 * DAY);
    assert!(!clock(&c, "final_report").overdue);
}

#[test]
fn disclosure_is_90_days_or_30_after_a_fix_or_7_in_the_wild_or_the_embargo() {
    let mut t = times();
    assert_eq!(disclosure_due(&t), T0 + 90 * DAY);
    t.resolved_at = Some(T0 + 10 * DAY);
    assert_eq!(disclosure_due(&t), T0 + 40 * DAY, "min(report+90, fix+30)");
    t.resolved_at = Some(T0 + 80 * DAY);
    assert_eq!(disclosure_due(&t), T0 + 90 * DAY);
    t.in_the_wild = true;
    assert_eq!(disclosure_due(&t), T0 + 7 * DAY);
    t.embargo_until = Some(T0 + 200 * DAY);
    assert_eq!(disclosure_due(&t), T0 + 200 * DAY);
    // The disclosure clock runs once confirmed and is met by disclosing.
    let t = times();
    assert!(
        clocks(Class::Minor, State::Triaged, &t, T0)
            .iter()
            .all(|c| c.name != "disclosure")
    );
    let c = clocks(Class::Minor, State::Confirmed, &t, T0 + 91 * DAY);
    assert!(clock(&c, "disclosure").overdue);
    // Closed records have no clocks.
    assert!(clocks(Class::Death, State::Rejected, &t, T0 + 1000 * DAY).is_empty());
    assert!(clocks(Class::Death, State::Withdrawn, &t, T0 + 1000 * DAY).is_empty());
}

#[test]
fn lifecycle_roles_and_embargo() {
    use State::*;
    let due = T0 + 90 * DAY;
    assert!(transition(Received, Triaged, Role::Reviewer, due, T0).is_ok());
    assert!(transition(Received, Triaged, Role::Publisher, due, T0).is_ok());
    assert!(transition(Received, Triaged, Role::Reporter, due, T0).is_err());
    assert!(
        transition(Received, Confirmed, Role::Reviewer, due, T0).is_err(),
        "triage first"
    );
    assert!(transition(Triaged, Confirmed, Role::Reviewer, due, T0).is_ok());
    assert!(transition(Confirmed, Mitigated, Role::Publisher, due, T0).is_ok());
    assert_eq!(
        transition(Mitigated, Disclosed, Role::Reviewer, due, T0),
        Err(TransitionError::Embargoed { until: due })
    );
    assert!(transition(Mitigated, Disclosed, Role::Reviewer, due, due).is_ok());
    assert!(transition(Received, Withdrawn, Role::Reporter, due, T0).is_ok());
    assert!(transition(Received, Withdrawn, Role::Publisher, due, T0).is_err());
    assert!(transition(Disclosed, Withdrawn, Role::Reporter, due, due).is_err());
    assert!(transition(Disclosed, Withdrawn, Role::Reviewer, due, due).is_ok());
    assert!(transition(Rejected, Triaged, Role::Reviewer, due, T0).is_err());
}

/// F6, F9: the reporter cannot lift an operator's hold by withdrawing a confirmed report; the
/// publisher cannot reject reports about its own models; operators close confirmed ones.
#[test]
fn who_closes_an_incident() {
    use State::*;
    let due = T0 + 90 * DAY;
    for from in [Received, Triaged] {
        assert!(transition(from, Withdrawn, Role::Reporter, due, T0).is_ok());
        assert!(transition(from, Rejected, Role::Reviewer, due, T0).is_ok());
        assert!(matches!(
            transition(from, Rejected, Role::Publisher, due, T0),
            Err(TransitionError::Role { .. })
        ));
    }
    for from in [Confirmed, Mitigated] {
        assert!(
            transition(from, Withdrawn, Role::Reporter, due, T0).is_err(),
            "{from:?}: a reporter must not lift a hold"
        );
        assert!(transition(from, Withdrawn, Role::Reviewer, due, T0).is_err());
        assert!(transition(from, Rejected, Role::Reviewer, due, T0).is_ok());
        assert!(transition(from, Rejected, Role::Publisher, due, T0).is_err());
        assert!(transition(from, Rejected, Role::Reporter, due, T0).is_err());
    }
    assert!(transition(Triaged, Confirmed, Role::Publisher, due, T0).is_ok());
    assert!(transition(Confirmed, Mitigated, Role::Publisher, due, T0).is_ok());
}

#[test]
fn ids_and_aliases() {
    assert_eq!(osv_id("x_WEIR", 2026, 7), "x_WEIR-2026-0007");
    assert_eq!(osv_id("x_WEIR", 2026, 12345), "x_WEIR-2026-12345");
    for ok in ["CVE-2026-12345", "AVID-2026-R0123", "AIID-812"] {
        assert!(valid_alias(ok), "{ok}");
    }
    for bad in [
        "CVE-26-1",
        "AVID-2026-0123",
        "AIID-",
        "<script>",
        "GHSA-xxxx",
    ] {
        assert!(!valid_alias(bad), "{bad}");
    }
    assert_eq!(Class::parse("nuclear"), None);
    assert_eq!(Kind::parse("hazard"), Some(Kind::Hazard));
}
