//! The classification policy and the decision it makes (DESIGN.md §4, governance-anchors §1.10).
//!
//! A policy is a versioned TOML document; every rule carries the `source` it rests on, and a
//! policy whose rule lacks one is refused. [`classify`] is a pure function of the policy, the
//! model card, the evaluation results (with the facts that decide whether each counts), the
//! evidence filed about the model and the tiers of its base models. It returns every rule with
//! whether it fired, the outcome per hazard domain with the evidence used, and the minimum tier.
//!
//! Invariants: ambiguity escalates (open evidence makes a domain at least `ambiguous`); only
//! signed, complete results on the exact revision move a domain to `ruled_out`; the minimum tier
//! is the strictest tier any fired rule asks for.

use serde::{Deserialize, Serialize, Serializer};

use crate::card::CardFacts;
use crate::eval::{Domain, Ignored, ResultRecord};
use crate::tier::Tier;

/// The policy weir ships with.
pub const DEFAULT_POLICY: &str = include_str!("../policy/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub version: String,
    #[serde(default)]
    pub description: String,
    pub compute_presumption: ComputePresumption,
    pub ambiguity: Ambiguity,
    pub ruled_in: RuledIn,
    pub review_trigger: ReviewTrigger,
    pub derivatives: Derivatives,
    pub reassessment: Reassessment,
    pub export_control: ExportControl,
    /// Publisher standing rules (DESIGN.md §5).
    #[serde(default)]
    pub standing: crate::standing::StandingRules,
    /// What a release does with pickle-based files (the unsafe-serialization scan).
    #[serde(default)]
    pub serialization: Serialization,
    /// The research environment's automatic output rules (issue 13).
    #[serde(default)]
    pub outputs: crate::outputs::OutputRules,
}

/// Whether a release goes ahead with a file the scan graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Refuse,
    Allow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serialization {
    pub source: String,
    /// A file whose pickle imports dangerous code (process, file, network, evaluation).
    pub unsafe_serialization: Verdict,
    /// A file whose pickle imports code outside the safe list.
    pub suspicious_serialization: Verdict,
    /// A pickle-based file the scan could not read to its end (it cannot vouch for the rest).
    #[serde(default = "refuse")]
    pub unscannable_serialization: Verdict,
}

fn refuse() -> Verdict {
    Verdict::Refuse
}

impl Default for Serialization {
    fn default() -> Self {
        Serialization {
            source: "weir's own release rule: loading a pickle runs the code it imports (Python pickle documentation; the Hub's picklescan); safetensors carries no code".into(),
            unsafe_serialization: Verdict::Refuse,
            suspicious_serialization: Verdict::Allow,
            unscannable_serialization: Verdict::Refuse,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputePresumption {
    pub source: String,
    pub threshold_flop: f64,
    pub tier: Tier,
    pub notify_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unevaluated {
    NotAssessed,
    Ambiguous,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ambiguity {
    pub source: String,
    pub tier: Tier,
    pub unevaluated_above_presumption: Unevaluated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuledIn {
    pub source: String,
    pub high: Tier,
    pub critical: Tier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewTrigger {
    pub source: String,
    pub margin_over_chance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derivatives {
    pub source: String,
    pub inherit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reassessment {
    pub source: String,
    pub compute_ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportControl {
    pub source: String,
    pub enabled: bool,
    pub threshold_ops: f64,
    pub tier: Tier,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("invalid policy TOML: {0}")]
    Toml(String),
    #[error("policy rule [{0}] must name its source")]
    MissingSource(&'static str),
    #[error("policy rule [{rule}]: {problem}")]
    Invalid { rule: &'static str, problem: String },
}

impl Policy {
    pub fn default_policy() -> Policy {
        // The shipped file is checked by a unit test, so this cannot fail at run time.
        Policy::parse(DEFAULT_POLICY).unwrap_or_else(|e| panic!("shipped policy: {e}"))
    }

    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        for (rule, source) in [
            ("compute_presumption", &self.compute_presumption.source),
            ("ambiguity", &self.ambiguity.source),
            ("ruled_in", &self.ruled_in.source),
            ("review_trigger", &self.review_trigger.source),
            ("derivatives", &self.derivatives.source),
            ("reassessment", &self.reassessment.source),
            ("export_control", &self.export_control.source),
            ("outputs", &self.outputs.source),
        ] {
            if source.trim().is_empty() {
                return Err(PolicyError::MissingSource(rule));
            }
        }
        let invalid = |rule, problem: &str| {
            Err(PolicyError::Invalid {
                rule,
                problem: problem.into(),
            })
        };
        if self.version.trim().is_empty() {
            return invalid("version", "version must not be empty");
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.compute_presumption.threshold_flop) {
            return invalid("compute_presumption", "threshold_flop must be positive");
        }
        if !(1..=365).contains(&self.compute_presumption.notify_days) {
            return invalid("compute_presumption", "notify_days must be 1 to 365");
        }
        let m = self.review_trigger.margin_over_chance;
        if !(m.is_finite() && (0.0..1.0).contains(&m)) {
            return invalid("review_trigger", "margin_over_chance must be in [0, 1)");
        }
        if !(self.reassessment.compute_ratio.is_finite() && self.reassessment.compute_ratio > 1.0) {
            return invalid("reassessment", "compute_ratio must be greater than 1");
        }
        if !positive(self.export_control.threshold_ops) {
            return invalid("export_control", "threshold_ops must be positive");
        }
        if let Err(problem) = self.standing.validate() {
            return Err(PolicyError::Invalid {
                rule: "standing",
                problem,
            });
        }
        if let Err(problem) = self.outputs.validate() {
            return Err(PolicyError::Invalid {
                rule: "outputs",
                problem,
            });
        }
        if self.ruled_in.critical < self.ruled_in.high {
            return invalid("ruled_in", "critical must be at least as strict as high");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HazardSeverity {
    High,
    Critical,
}

impl HazardSeverity {
    pub fn parse(s: &str) -> Option<HazardSeverity> {
        match s {
            "high" => Some(HazardSeverity::High),
            "critical" => Some(HazardSeverity::Critical),
            _ => None,
        }
    }
}

/// What the evidence says about one hazard domain, ordered from least to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    NotAssessed,
    RuledOut,
    Ambiguous,
    RuledIn(HazardSeverity),
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NotAssessed => "not_assessed",
            Outcome::RuledOut => "ruled_out",
            Outcome::Ambiguous => "ambiguous",
            Outcome::RuledIn(HazardSeverity::High) => "ruled_in(high)",
            Outcome::RuledIn(HazardSeverity::Critical) => "ruled_in(critical)",
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One evaluation result and the facts that decide whether it counts.
#[derive(Debug, Clone)]
pub struct ResultInput {
    pub id: String,
    pub record: ResultRecord,
    pub signed_by: Option<String>,
    /// Whether `signed_by` is an evaluator the operator accredits now.
    pub accredited: bool,
    /// The suite's chance score.
    pub chance: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceState {
    /// Filed by an accredited account: the domain is `ambiguous` at once, until reviewed.
    Open,
    /// Filed by anyone else: waits for an operator's triage and changes nothing until then, so
    /// one account cannot freeze a model.
    PendingTriage,
    Confirmed,
    Dismissed,
}

impl EvidenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceState::Open => "open",
            EvidenceState::PendingTriage => "pending_triage",
            EvidenceState::Confirmed => "confirmed",
            EvidenceState::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<EvidenceState> {
        match s {
            "open" => Some(EvidenceState::Open),
            "pending_triage" => Some(EvidenceState::PendingTriage),
            "confirmed" => Some(EvidenceState::Confirmed),
            "dismissed" => Some(EvidenceState::Dismissed),
            _ => None,
        }
    }
}

/// Evidence someone filed that a hazard domain cannot be ruled out.
#[derive(Debug, Clone)]
pub struct EvidenceInput {
    pub id: i64,
    pub domain: Domain,
    pub state: EvidenceState,
    /// Set when a reviewer confirmed the evidence as ruling the domain in.
    pub severity: Option<HazardSeverity>,
}

/// A base model the card names, and its tier when it is a repo of this registry.
#[derive(Debug, Clone)]
pub struct BaseInput {
    pub id: String,
    pub tier: Option<Tier>,
}

#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub card: &'a CardFacts,
    /// The exact revision being classified.
    pub revision: &'a str,
    pub results: Vec<ResultInput>,
    pub evidence: Vec<EvidenceInput>,
    pub bases: Vec<BaseInput>,
    /// Training compute when counting evaluations were last made for this repo.
    pub last_assessed_compute: Option<f64>,
    /// Domains some suite informs (re-evaluating a derivative means covering these).
    pub evaluable: Vec<Domain>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainResult {
    pub domain: Domain,
    pub outcome: Outcome,
    /// The evidence used, one line each.
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    pub rule: &'static str,
    pub source: String,
    pub fired: bool,
    /// The tier the rule asks for when it fired.
    pub tier: Option<Tier>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IgnoredResult {
    pub id: String,
    pub suite: String,
    pub reason: Ignored,
    pub why: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub policy_version: String,
    pub revision: String,
    pub minimum_tier: Tier,
    /// The rule that set the minimum tier (none when nothing raised it above T0).
    pub deciding_rule: Option<&'static str>,
    pub domains: Vec<DomainResult>,
    pub rules: Vec<RuleResult>,
    pub ignored_results: Vec<IgnoredResult>,
    /// Results that counted (signed, accredited, complete, this revision).
    pub counted_results: usize,
    /// EU AI Act art. 51 presumption: training compute above the threshold.
    pub presumption: bool,
    pub reassessment_due: bool,
}

impl Classification {
    /// The deciding rule and its detail, for error messages: `ambiguity (bio is ambiguous: …)`.
    pub fn explain(&self) -> String {
        match self
            .deciding_rule
            .and_then(|r| self.rules.iter().find(|x| x.rule == r))
        {
            Some(r) => format!("rule {}: {}", r.rule, r.detail),
            None => "no rule raises the tier".into(),
        }
    }
}

fn fmt_flop(x: f64) -> String {
    format!("{x:.2e}")
}

pub fn classify(policy: &Policy, input: &Inputs) -> Classification {
    let margin = policy.review_trigger.margin_over_chance;
    let mut domains: Vec<DomainResult> = Domain::ALL
        .iter()
        .map(|d| DomainResult {
            domain: *d,
            outcome: Outcome::NotAssessed,
            evidence: Vec::new(),
        })
        .collect();
    fn raise(domains: &mut [DomainResult], d: Domain, o: Outcome, line: String) {
        if let Some(slot) = domains.iter_mut().find(|x| x.domain == d) {
            slot.outcome = slot.outcome.max(o);
            slot.evidence.push(line);
        }
    }

    let mut ignored = Vec::new();
    let mut triggered = Vec::new();
    let mut counted = 0usize;
    for r in &input.results {
        let rec = &r.record;
        match rec.counts(input.revision, r.signed_by.is_some(), r.accredited) {
            Err(reason) => ignored.push(IgnoredResult {
                id: r.id.clone(),
                suite: rec.suite.clone(),
                why: reason.describe(),
                reason,
            }),
            Ok(()) => {
                counted += 1;
                let who = r.signed_by.as_deref().unwrap_or("?");
                let limit = r.chance + margin;
                if rec.value > limit {
                    triggered.push(format!("{} {}", rec.domain.as_str(), rec.suite));
                    raise(
                        &mut domains,
                        rec.domain,
                        Outcome::Ambiguous,
                        format!(
                            "result {}: {} {} = {:.4} on n={} is above chance {} + margin {margin} (review trigger), signed by {who}",
                            r.id, rec.suite, rec.metric, rec.value, rec.n, r.chance
                        ),
                    );
                } else {
                    raise(
                        &mut domains,
                        rec.domain,
                        Outcome::RuledOut,
                        format!(
                            "result {}: {} {} = {:.4} on n={} is within chance {} + margin {margin}, signed by {who}",
                            r.id, rec.suite, rec.metric, rec.value, rec.n, r.chance
                        ),
                    );
                }
            }
        }
    }
    for e in &input.evidence {
        match (e.state, e.severity) {
            (EvidenceState::Dismissed | EvidenceState::PendingTriage, _) => {}
            (EvidenceState::Open, _) => raise(
                &mut domains,
                e.domain,
                Outcome::Ambiguous,
                format!(
                    "evidence #{} filed, awaiting review (ambiguity escalates)",
                    e.id
                ),
            ),
            (EvidenceState::Confirmed, None) => raise(
                &mut domains,
                e.domain,
                Outcome::Ambiguous,
                format!("evidence #{} confirmed by a reviewer", e.id),
            ),
            (EvidenceState::Confirmed, Some(s)) => raise(
                &mut domains,
                e.domain,
                Outcome::RuledIn(s),
                format!(
                    "evidence #{} confirmed by a reviewer as ruling the domain in ({})",
                    e.id,
                    Outcome::RuledIn(s).as_str()
                ),
            ),
        }
    }

    let compute = input.card.training_compute_flop;
    let cp = &policy.compute_presumption;
    let presumption = compute.is_some_and(|c| c > cp.threshold_flop);
    if presumption && policy.ambiguity.unevaluated_above_presumption == Unevaluated::Ambiguous {
        let in_scope: Vec<Domain> = input
            .evaluable
            .iter()
            .chain(input.card.hazard_domains.iter())
            .copied()
            .collect();
        for d in in_scope {
            if domains
                .iter()
                .any(|x| x.domain == d && x.outcome == Outcome::NotAssessed)
            {
                raise(
&mut domains,
                    d,
                    Outcome::Ambiguous,
                    "no accepted evaluation while above the compute presumption (policy: unevaluated_above_presumption = ambiguous)".into(),
                );
            }
        }
    }

    let mut rules = Vec::new();
    rules.push(RuleResult {
        rule: "compute_presumption",
        source: cp.source.clone(),
        fired: presumption,
        tier: presumption.then_some(cp.tier),
        detail: match compute {
            None => "the card declares no training_compute_flop".into(),
            Some(c) if presumption => format!(
                "training compute {} FLOP > {} FLOP: systemic risk presumed, notify within {} days",
                fmt_flop(c),
                fmt_flop(cp.threshold_flop),
                cp.notify_days
            ),
            Some(c) => format!(
                "training compute {} FLOP <= {} FLOP",
                fmt_flop(c),
                fmt_flop(cp.threshold_flop)
            ),
        },
    });

    let ec = &policy.export_control;
    let export =
        ec.enabled && input.card.closed_weights && compute.is_some_and(|c| c >= ec.threshold_ops);
    rules.push(RuleResult {
        rule: "export_control",
        source: ec.source.clone(),
        fired: export,
        tier: export.then_some(ec.tier),
        detail: if !ec.enabled {
            "disabled in this policy".into()
        } else if export {
            format!(
                "closed weights trained with >= {} operations",
                fmt_flop(ec.threshold_ops)
            )
        } else {
            "open weights or compute below the threshold".into()
        },
    });

    rules.push(RuleResult {
        rule: "review_trigger",
        source: policy.review_trigger.source.clone(),
        fired: !triggered.is_empty(),
        tier: None,
        detail: if triggered.is_empty() {
            format!(
                "no counted result is more than {margin} above chance ({counted} counted, {} ignored)",
                ignored.len()
            )
        } else {
            format!("above chance + {margin}: {}", triggered.join(", "))
        },
    });

    let ambiguous: Vec<&str> = domains
        .iter()
        .filter(|d| d.outcome == Outcome::Ambiguous)
        .map(|d| d.domain.as_str())
        .collect();
    rules.push(RuleResult {
        rule: "ambiguity",
        source: policy.ambiguity.source.clone(),
        fired: !ambiguous.is_empty(),
        tier: (!ambiguous.is_empty()).then_some(policy.ambiguity.tier),
        detail: if ambiguous.is_empty() {
            "no hazard domain is ambiguous".into()
        } else {
            format!(
                "{} cannot be ruled out, treated as reached",
                ambiguous.join(", ")
            )
        },
    });

    let worst_in = domains
        .iter()
        .filter_map(|d| match d.outcome {
            Outcome::RuledIn(s) => Some((s, d.domain)),
            _ => None,
        })
        .max();
    rules.push(RuleResult {
        rule: "ruled_in",
        source: policy.ruled_in.source.clone(),
        fired: worst_in.is_some(),
        tier: worst_in.map(|(s, _)| match s {
            HazardSeverity::High => policy.ruled_in.high,
            HazardSeverity::Critical => policy.ruled_in.critical,
        }),
        detail: match worst_in {
            None => "no hazard domain is ruled in".into(),
            Some((s, d)) => format!("{} is {}", d.as_str(), Outcome::RuledIn(s).as_str()),
        },
    });

    let inherited = input
        .bases
        .iter()
        .filter_map(|b| b.tier.map(|t| (t, b.id.as_str())))
        .max();
    let reevaluated = !input.evaluable.is_empty()
        && input.evaluable.iter().all(|d| {
            domains
                .iter()
                .any(|x| x.domain == *d && x.outcome == Outcome::RuledOut)
        })
        && domains.iter().all(|x| x.outcome <= Outcome::RuledOut);
    let inherit = policy.derivatives.inherit && inherited.is_some() && !reevaluated;
    rules.push(RuleResult {
        rule: "derivatives",
        source: policy.derivatives.source.clone(),
        fired: inherit,
        tier: if inherit { inherited.map(|(t, _)| t) } else { None },
        detail: match inherited {
            None if input.bases.is_empty() => "the card names no base model".into(),
            None => format!(
                "base model(s) {} are not in this registry",
                input
                    .bases
                    .iter()
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some((t, id)) if inherit => {
                format!("derivative of {id} ({}), inherits its tier", t.as_str())
            }
            Some((t, id)) if !policy.derivatives.inherit => {
                format!("derivative of {id} ({}), inheritance disabled", t.as_str())
            }
            Some((t, id)) => format!(
                "derivative of {id} ({}), re-evaluated: every evaluable domain ruled out on this revision",
                t.as_str()
            ),
        },
    });

    let ratio = policy.reassessment.compute_ratio;
    let reassess = match (compute, input.last_assessed_compute) {
        (Some(c), Some(last)) => c > ratio * last,
        _ => false,
    };
    rules.push(RuleResult {
        rule: "reassessment",
        source: policy.reassessment.source.clone(),
        fired: reassess,
        tier: None,
        detail: match (compute, input.last_assessed_compute) {
            (Some(c), Some(last)) if reassess => format!(
                "training compute {} > {ratio} x last assessed {}: re-run the evaluations",
                fmt_flop(c),
                fmt_flop(last)
            ),
            (_, Some(last)) => format!("last assessed at {} FLOP", fmt_flop(last)),
            _ => "no earlier assessment".into(),
        },
    });

    let mut minimum = Tier::T0;
    let mut deciding = None;
    for r in &rules {
        if let Some(t) = r.tier
            && t > minimum
        {
            minimum = t;
            deciding = Some(r.rule);
        }
    }
    Classification {
        policy_version: policy.version.clone(),
        revision: input.revision.to_string(),
        minimum_tier: minimum,
        deciding_rule: deciding,
        domains,
        rules,
        ignored_results: ignored,
        counted_results: counted,
        presumption,
        reassessment_due: reassess,
    }
}

#[cfg(test)]
mod tests;
