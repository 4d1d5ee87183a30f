//! Standardized evaluations (DESIGN.md §4, governance-anchors §2): hazard domains, versioned
//! suites, and the normalized result record an accredited evaluator signs.
//!
//! A [`ResultRecord`] is what weir derived from a raw harness log; its JSON text is the payload
//! the evaluator signs, so the signature covers (repo, exact revision, suite, harness, harness
//! version, metric, value, n, raw-log SHA-256). Whether a result may *count* is decided here, in
//! [`ResultRecord::counts`], from facts the caller supplies (signature, accreditation, revision).

use serde::{Deserialize, Serialize};

/// The hazard domains every suite informs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Bio,
    Chem,
    Cyber,
    Autonomy,
    Manipulation,
}

impl Domain {
    pub const ALL: [Domain; 5] = [
        Domain::Bio,
        Domain::Chem,
        Domain::Cyber,
        Domain::Autonomy,
        Domain::Manipulation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Bio => "bio",
            Domain::Chem => "chem",
            Domain::Cyber => "cyber",
            Domain::Autonomy => "autonomy",
            Domain::Manipulation => "manipulation",
        }
    }

    pub fn parse(s: &str) -> Option<Domain> {
        Domain::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A named, versioned evaluation suite: which metric counts and which domain it informs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    pub name: String,
    pub version: i64,
    pub domain: Domain,
    /// The metric that counts, as lm-evaluation-harness names it (`acc`).
    pub metric: String,
    /// Score of random guessing (0.25 for 4-choice questions).
    pub chance: f64,
    /// Question count of the currently distributed dataset.
    pub questions: i64,
    /// Question count of the original release, also accepted as a complete run.
    pub original_questions: Option<i64>,
    /// Task names that run this suite in the harnesses (`wmdp_bio`, `inspect_evals/wmdp_bio`).
    pub tasks: Vec<String>,
    /// Where the suite and its numbers come from.
    pub source: String,
}

impl Suite {
    /// Whether a run of `n` questions is the whole suite.
    pub fn is_full_run(&self, n: i64) -> bool {
        n == self.questions || Some(n) == self.original_questions
    }

    /// Whether a harness task name runs this suite (`inspect_evals/wmdp_bio` matches `wmdp_bio`).
    pub fn runs_task(&self, task: &str) -> bool {
        let short = task.rsplit('/').next().unwrap_or(task);
        self.tasks
            .iter()
            .any(|t| t == task || t.rsplit('/').next().unwrap_or(t) == short)
    }

    /// The metric under the harness's own name (Inspect's choice scorer says `accuracy`).
    pub fn metric_aliases(&self) -> Vec<&str> {
        match self.metric.as_str() {
            "acc" => vec!["acc", "accuracy"],
            m => vec![m],
        }
    }
}

/// The shipped suites: WMDP's three subsets (Li et al., ICML 2024, arXiv:2403.03218), 4-choice
/// questions, chance 0.25, counts of the distributed `cais/wmdp` dataset and of the paper.
pub fn default_suites() -> Vec<Suite> {
    let source = "WMDP (Li et al., ICML 2024, arXiv:2403.03218); counts: cais/wmdp on the Hub \
                  (dual-use filtered) and the paper";
    [
        ("wmdp-bio", Domain::Bio, "wmdp_bio", 1273, 1520),
        ("wmdp-chem", Domain::Chem, "wmdp_chem", 408, 412),
        ("wmdp-cyber", Domain::Cyber, "wmdp_cyber", 1987, 2225),
    ]
    .into_iter()
    .map(|(name, domain, task, n, original)| Suite {
        name: name.into(),
        version: 1,
        domain,
        metric: "acc".into(),
        chance: 0.25,
        questions: n,
        original_questions: Some(original),
        tasks: vec![task.into(), format!("inspect_evals/{task}")],
        source: source.into(),
    })
    .collect()
}

/// Which harness produced a raw log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Harness {
    #[serde(rename = "lm-eval")]
    LmEval,
    #[serde(rename = "inspect")]
    Inspect,
}

impl Harness {
    pub fn as_str(self) -> &'static str {
        match self {
            Harness::LmEval => "lm-eval",
            Harness::Inspect => "inspect",
        }
    }
}

/// Payload type tag: a signature over one kind of statement is never valid for another.
pub const RESULT_TYPE: &str = "weir-eval-result/v1";

/// The normalized result weir derives from a raw log; its JSON is what an evaluator signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub repo: String,
    /// The exact revision (commit id) the result is about.
    pub revision: String,
    pub suite: String,
    pub suite_version: i64,
    pub domain: Domain,
    pub harness: Harness,
    pub harness_version: String,
    pub task: String,
    pub metric: String,
    pub value: f64,
    pub stderr: Option<f64>,
    /// Questions scored.
    pub n: i64,
    /// Why the run is not complete (limited, cancelled, fewer samples than the suite); empty
    /// when it is.
    pub partial: Vec<String>,
    /// A revision the log itself names, when it names one.
    pub logged_revision: Option<String>,
    pub raw_log_sha256: String,
}

/// Why a result does not count towards lowering a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ignored {
    Unsigned,
    EvaluatorNotAccredited,
    Partial,
    OtherRevision,
}

impl Ignored {
    pub fn describe(&self) -> &'static str {
        match self {
            Ignored::Unsigned => "not signed by an evaluator",
            Ignored::EvaluatorNotAccredited => {
                "the signing evaluator is not (or no longer) accredited"
            }
            Ignored::Partial => "partial or limited run",
            Ignored::OtherRevision => "run on another revision",
        }
    }
}

impl ResultRecord {
    pub fn complete(&self) -> bool {
        self.partial.is_empty()
    }

    /// Whether this result may count for `revision`: signed by a currently accredited evaluator,
    /// complete, and about exactly that revision (and, when the log names one, the log agrees).
    pub fn counts(&self, revision: &str, signed: bool, accredited: bool) -> Result<(), Ignored> {
        if !signed {
            return Err(Ignored::Unsigned);
        }
        if !accredited {
            return Err(Ignored::EvaluatorNotAccredited);
        }
        if !self.complete() {
            return Err(Ignored::Partial);
        }
        let logged_ok = self
            .logged_revision
            .as_deref()
            .is_none_or(|l| !l.is_empty() && revision.starts_with(l));
        if self.revision != revision || !logged_ok {
            return Err(Ignored::OtherRevision);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ResultRecord {
        ResultRecord {
            kind: RESULT_TYPE.into(),
            repo: "acme/m".into(),
            revision: "a".repeat(40),
            suite: "wmdp-bio".into(),
            suite_version: 1,
            domain: Domain::Bio,
            harness: Harness::LmEval,
            harness_version: "0.4.13".into(),
            task: "wmdp_bio".into(),
            metric: "acc".into(),
            value: 0.26,
            stderr: None,
            n: 1273,
            partial: vec![],
            logged_revision: None,
            raw_log_sha256: "0".repeat(64),
        }
    }

    #[test]
    fn only_signed_complete_exact_revision_results_count() {
        let r = record();
        let rev = "a".repeat(40);
        assert_eq!(r.counts(&rev, true, true), Ok(()));
        assert_eq!(r.counts(&rev, false, true), Err(Ignored::Unsigned));
        assert_eq!(
            r.counts(&rev, true, false),
            Err(Ignored::EvaluatorNotAccredited)
        );
        assert_eq!(
            r.counts(&"b".repeat(40), true, true),
            Err(Ignored::OtherRevision)
        );
        let mut p = record();
        p.partial.push("limit=10".into());
        assert_eq!(p.counts(&rev, true, true), Err(Ignored::Partial));
        let mut l = record();
        l.logged_revision = Some("bbbbbbb".into());
        assert_eq!(l.counts(&rev, true, true), Err(Ignored::OtherRevision));
        l.logged_revision = Some("aaaaaaa".into());
        assert_eq!(l.counts(&rev, true, true), Ok(()));
    }

    #[test]
    fn suites_match_tasks_and_counts() {
        let s = &default_suites()[0];
        assert!(s.runs_task("wmdp_bio") && s.runs_task("inspect_evals/wmdp_bio"));
        assert!(!s.runs_task("wmdp_chem"));
        assert!(s.is_full_run(1273) && s.is_full_run(1520) && !s.is_full_run(100));
        assert_eq!(Domain::parse("BIO"), Some(Domain::Bio));
        assert_eq!(Domain::parse("nuclear"), None);
    }
}
