//! JSON views shared by more than one handler module (the classification route and the Hub's
//! model info both show the card and the notification clock).

use weir_core::card::CardFacts;
use weir_core::policy::Policy;
use weir_wire::evals as wire;

use crate::iso8601;

/// The notification clock of the compute presumption, when it runs: due `notify_days` after the
/// presumption started, met when the notification is recorded.
pub fn notification(
    since: Option<i64>,
    notified: Option<&(i64, String)>,
    policy: &Policy,
    at: i64,
) -> Option<wire::NotificationClock> {
    let s = since?;
    let due = s + policy.compute_presumption.notify_days * 86_400;
    Some(wire::NotificationClock {
        rule: "compute_presumption".into(),
        started_at: iso8601(s),
        due: iso8601(due),
        days_left: (due - at + 86_399).div_euclid(86_400),
        notified_at: notified.map(|(t, _)| iso8601(*t)),
        reference: notified.map(|(_, r)| r.clone()),
        overdue: notified.is_none() && at > due,
    })
}

pub fn card_json(card: &CardFacts) -> wire::Card {
    wire::Card {
        license: card.license.clone(),
        base_model: card.base_models.clone(),
        tags: card.tags.clone(),
        training_compute_flop: card.training_compute_flop,
        parameters: card.parameters,
        closed_weights: card.closed_weights,
        hazard_domains: card
            .hazard_domains
            .iter()
            .map(|d| d.as_str().to_string())
            .collect(),
        contact: card.contact.clone(),
        errors: card.errors.clone(),
    }
}

/// The Hub's `gated` field for a tier: `false` (T0), `"auto"` (T1: accepting the terms is the
/// access), `"manual"` (T2 and above: a reviewer decides).
pub fn gated(tier: weir_core::Tier) -> serde_json::Value {
    match tier {
        weir_core::Tier::T0 => serde_json::json!(false),
        weir_core::Tier::T1 => serde_json::json!("auto"),
        _ => serde_json::json!("manual"),
    }
}

/// Text made inert for HTML and CommonMark: `&`, `<` and `>` escaped.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
