//! Reading evaluation harness logs (governance-anchors §2.2–2.3) into weir's normalized
//! [`ResultRecord`]:
//! - EleutherAI lm-evaluation-harness results JSON (`results_<date>.json`);
//! - UK AISI Inspect logs, `.eval` (a ZIP whose members are deflate- or zstd-compressed; only
//!   `header.json` is read, so large logs stay cheap) and `.json`.
//!
//! Guarantees: a hostile file cannot make us allocate more than [`MAX_MEMBER`] for a ZIP member
//! (the declared size is checked and the read is capped whatever the header claims); numbers
//! that are not finite or out of range are refused; whatever makes a run partial (a limit, fewer
//! samples than the suite, a cancelled or invalidated run) is recorded, never dropped.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek, SeekFrom};

use serde::Deserialize;
use weir_core::eval::{Harness, RESULT_TYPE, ResultRecord, Suite};

/// Largest ZIP member (decompressed) we read: Inspect headers are kilobytes.
pub const MAX_MEMBER: u64 = 64 * 1024 * 1024;

/// Largest magnitude accepted for any metric value.
const MAX_VALUE: f64 = 1e12;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read the log: {0}")]
    Io(String),
    #[error(
        "not a recognised evaluation log: {0} (weir reads lm-evaluation-harness results JSON and Inspect .eval/.json logs)"
    )]
    Unrecognised(String),
    #[error("invalid Inspect .eval archive: {0}")]
    Zip(String),
    #[error("invalid {harness} log: {problem}")]
    Invalid {
        harness: &'static str,
        problem: String,
    },
    #[error("the log has no result for suite {suite} (tasks {expected}); it has: {found}")]
    NoTask {
        suite: String,
        expected: String,
        found: String,
    },
    #[error("task {task} has no {metric} metric; it has: {found}")]
    NoMetric {
        task: String,
        metric: String,
        found: String,
    },
}

/// One task's numbers as a harness reported them.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    pub task: String,
    /// `metric → value`; the lm-eval filter suffix (`,none`) is dropped.
    pub metrics: BTreeMap<String, f64>,
    pub stderr: BTreeMap<String, Option<f64>>,
    /// Samples scored, when the log says.
    pub n: Option<i64>,
    pub partial: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLog {
    pub harness: Harness,
    pub harness_version: String,
    pub tasks: Vec<TaskResult>,
    /// A model revision the log names (a commit prefix, or a ref name that cannot be checked).
    pub logged_revision: Option<String>,
}

fn invalid(harness: Harness, problem: impl Into<String>) -> EvalError {
    EvalError::Invalid {
        harness: harness.as_str(),
        problem: problem.into(),
    }
}

fn check_value(harness: Harness, what: &str, v: f64) -> Result<f64, EvalError> {
    if !v.is_finite() || v.abs() > MAX_VALUE {
        return Err(invalid(harness, format!("{what} = {v} is out of range")));
    }
    Ok(v)
}

/// A revision named in a log: hex commit prefixes are kept for comparison; `main` (or nothing)
/// names no exact revision; any other name is kept and cannot match a commit id.
fn revision_named(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s == "main" {
        return None;
    }
    Some(s.to_ascii_lowercase())
}

/// Largest JSON log (lm-eval results, Inspect `.json`) read: it is parsed while streaming, with
/// unknown members (an Inspect log's samples) skipped, so memory stays bounded whatever its size;
/// this caps the CPU spent.
pub const MAX_JSON_LOG: u64 = 256 * 1024 * 1024;

/// Longest string kept from a log (a metric alias, a limit, model arguments); longer ones are
/// skipped while streaming.
const MAX_STRING: usize = 8192;

/// A JSON value read without building a tree: numbers, booleans and short strings are kept;
/// objects, arrays and long strings are skipped as they stream by (never materialized, unlike
/// `serde_json::Value`, whose tree costs many times the input).
#[derive(Debug, Clone, PartialEq, Default)]
enum Scalar {
    #[default]
    Null,
    Num(f64),
    Bool(bool),
    Str(String),
    /// An object, an array or a long string.
    Other,
}

impl Scalar {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Num(x) => Some(*x),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        *self == Scalar::Null
    }
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Null => f.write_str("null"),
            Scalar::Num(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Other => f.write_str("an object or array"),
        }
    }
}

struct ScalarVisitor;

impl<'de> serde::de::Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Num(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Num(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(if v.len() <= MAX_STRING {
            Scalar::Str(v.to_string())
        } else {
            Scalar::Other
        })
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
        while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
        while a
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Scalar::Other)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// The model arguments of a run, kept only for the revision they name: lm-eval's
/// `pretrained=x,revision=y` string or a `{"revision": …}` object; everything else is skipped.
#[derive(Debug, Clone, Default, PartialEq)]
struct ModelArgs {
    revision: Option<String>,
}

impl<'de> Deserialize<'de> for ModelArgs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ModelArgs, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ModelArgs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("model arguments")
            }
            fn visit_str<E>(self, s: &str) -> Result<ModelArgs, E> {
                Ok(ModelArgs {
                    revision: s
                        .split(',')
                        .filter_map(|kv| kv.split_once('='))
                        .find(|(k, _)| k.trim() == "revision")
                        .and_then(|(_, v)| revision_named(v)),
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<ModelArgs, A::Error> {
                let mut out = ModelArgs::default();
                while let Some(k) = a.next_key::<Scalar>()? {
                    let v: Scalar = a.next_value()?;
                    if let (Scalar::Str(k), Scalar::Str(v)) = (k, v)
                        && k == "revision"
                    {
                        out.revision = revision_named(&v);
                    }
                }
                Ok(out)
            }
            fn visit_unit<E>(self) -> Result<ModelArgs, E> {
                Ok(ModelArgs::default())
            }
            fn visit_none<E>(self) -> Result<ModelArgs, E> {
                Ok(ModelArgs::default())
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<ModelArgs, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<ModelArgs, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(ModelArgs::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<ModelArgs, E> {
                Ok(ModelArgs::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<ModelArgs, E> {
                Ok(ModelArgs::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<ModelArgs, E> {
                Ok(ModelArgs::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<ModelArgs, E> {
                Ok(ModelArgs::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// Inspect's `packages`, kept only for the `inspect_ai` version.
#[derive(Debug, Clone, Default)]
struct Packages {
    inspect_ai: Option<String>,
}

impl<'de> Deserialize<'de> for Packages {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Packages, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Packages;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of package versions")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Packages, A::Error> {
                let mut out = Packages::default();
                while let Some(k) = a.next_key::<Scalar>()? {
                    let v: Scalar = a.next_value()?;
                    if let (Scalar::Str(k), Scalar::Str(v)) = (k, v)
                        && k == "inspect_ai"
                    {
                        out.inspect_ai = Some(v);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

// ---- lm-evaluation-harness -------------------------------------------------------------------

#[derive(Deserialize)]
struct LmEvalFile {
    results: Option<BTreeMap<String, BTreeMap<String, Scalar>>>,
    #[serde(rename = "n-samples", default)]
    n_samples: BTreeMap<String, NSamples>,
    #[serde(default)]
    config: Option<LmConfig>,
    #[serde(default)]
    lm_eval_version: Option<String>,
}

#[derive(Deserialize)]
struct NSamples {
    original: i64,
    effective: i64,
}

#[derive(Deserialize)]
struct LmConfig {
    #[serde(default)]
    limit: Scalar,
    #[serde(default)]
    model_revision: Option<String>,
    #[serde(default)]
    model_sha: Option<String>,
    #[serde(default)]
    model_args: ModelArgs,
}

fn parse_lm_eval(f: LmEvalFile) -> Result<ParsedLog, EvalError> {
    let h = Harness::LmEval;
    let results = f
        .results
        .ok_or_else(|| invalid(h, "missing the `results` object"))?;
    let mut global = Vec::new();
    let mut logged_revision = None;
    if let Some(c) = &f.config {
        if !c.limit.is_null() {
            global.push(format!("limited run (limit={})", c.limit));
        }
        logged_revision = c
            .model_sha
            .as_deref()
            .and_then(revision_named)
            .or_else(|| c.model_revision.as_deref().and_then(revision_named))
            .or_else(|| c.model_args.revision.clone());
    }
    let mut tasks = Vec::new();
    for (task, m) in results {
        let mut metrics = BTreeMap::new();
        let mut stderr = BTreeMap::new();
        for (key, value) in &m {
            let Some((metric, filter)) = key.split_once(',') else {
                continue; // `alias`, `name`, `sample_len`
            };
            let name = if filter == "none" {
                metric.to_string()
            } else {
                format!("{metric},{filter}")
            };
            if let Some(base) = name.strip_suffix("_stderr") {
                let e = match value {
                    Scalar::Num(x) => Some(check_value(h, &format!("{task} {key}"), *x)?),
                    Scalar::Str(s) if s == "N/A" => None,
                    other => {
                        return Err(invalid(
                            h,
                            format!("{task} {key}: expected a number or \"N/A\", got {other}"),
                        ));
                    }
                };
                stderr.insert(base.to_string(), e);
            } else {
                let x = value.as_f64().ok_or_else(|| {
                    invalid(h, format!("{task} {key}: expected a number, got {value}"))
                })?;
                metrics.insert(name, check_value(h, &format!("{task} {key}"), x)?);
            }
        }
        let mut partial = global.clone();
        let n = match f.n_samples.get(&task) {
            Some(ns) => {
                if ns.effective < 0 || ns.original < 0 {
                    return Err(invalid(h, format!("{task}: negative sample counts")));
                }
                if ns.effective < ns.original {
                    partial.push(format!(
                        "n-samples effective {} < original {}",
                        ns.effective, ns.original
                    ));
                }
                Some(ns.effective)
            }
            None => m
                .get("sample_len")
                .and_then(Scalar::as_f64)
                .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 1e15)
                .map(|x| x as i64),
        };
        tasks.push(TaskResult {
            task,
            metrics,
            stderr,
            n,
            partial,
        });
    }
    Ok(ParsedLog {
        harness: h,
        harness_version: f.lm_eval_version.unwrap_or_else(|| "unknown".into()),
        tasks,
        logged_revision,
    })
}

// ---- Inspect -----------------------------------------------------------------------------------

#[derive(Deserialize)]
struct InspectLog {
    #[serde(default)]
    status: Option<String>,
    eval: Option<InspectSpec>,
    #[serde(default)]
    results: Option<InspectResults>,
    #[serde(default)]
    invalidated: bool,
}

#[derive(Deserialize)]
struct InspectSpec {
    task: String,
    #[serde(default)]
    model_args: ModelArgs,
    #[serde(default)]
    packages: Packages,
    #[serde(default)]
    config: Option<InspectConfig>,
}

#[derive(Deserialize)]
struct InspectConfig {
    #[serde(default)]
    limit: Scalar,
}

#[derive(Deserialize)]
struct InspectResults {
    total_samples: i64,
    completed_samples: i64,
    #[serde(default)]
    scores: Vec<InspectScore>,
}

#[derive(Deserialize)]
struct InspectScore {
    #[serde(default)]
    name: String,
    #[serde(default)]
    metrics: BTreeMap<String, InspectMetric>,
    #[serde(default)]
    scored_samples: Option<i64>,
}

#[derive(Deserialize)]
struct InspectMetric {
    value: Scalar,
}

fn parse_inspect(log: InspectLog) -> Result<ParsedLog, EvalError> {
    let h = Harness::Inspect;
    let spec = log
        .eval
        .ok_or_else(|| invalid(h, "missing the `eval` spec"))?;
    let mut partial = Vec::new();
    let status = log.status.unwrap_or_else(|| "unknown".into());
    if status != "success" {
        partial.push(format!("status {status}, not success"));
    }
    if log.invalidated {
        partial.push("the log is invalidated".into());
    }
    if let Some(c) = &spec.config
        && !c.limit.is_null()
    {
        partial.push(format!("limited run (limit={})", c.limit));
    }
    let mut metrics = BTreeMap::new();
    let mut stderr = BTreeMap::new();
    let mut n = None;
    match &log.results {
        None => partial.push("the log has no results (the run did not finish)".into()),
        Some(r) => {
            if r.total_samples < 0 || r.completed_samples < 0 {
                return Err(invalid(h, "negative sample counts"));
            }
            if r.completed_samples < r.total_samples {
                partial.push(format!(
                    "completed {} of {} samples",
                    r.completed_samples, r.total_samples
                ));
            }
            n = Some(r.completed_samples);
            // The first scorer is the headline one; others keep their scorer's name as prefix.
            for (i, score) in r.scores.iter().enumerate() {
                if i == 0 {
                    n = score.scored_samples.or(n);
                }
                for (name, m) in &score.metrics {
                    let Some(x) = m.value.as_f64() else {
                        continue; // non-numeric metric values (dicts) are not ours to judge
                    };
                    let x = check_value(h, &format!("{} {name}", score.name), x)?;
                    let key = if i == 0 {
                        name.clone()
                    } else {
                        format!("{}/{name}", score.name)
                    };
                    if name == "stderr" && i == 0 {
                        stderr.insert("accuracy".to_string(), Some(x));
                    } else {
                        metrics.insert(key, x);
                    }
                }
            }
        }
    }
    Ok(ParsedLog {
        harness: h,
        harness_version: spec
            .packages
            .inspect_ai
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        tasks: vec![TaskResult {
            task: spec.task,
            metrics,
            stderr,
            n,
            partial,
        }],
        logged_revision: spec.model_args.revision.clone(),
    })
}

/// Reads `header.json` out of an Inspect `.eval` archive, capped at [`MAX_MEMBER`].
fn read_eval_header<R: Read + Seek>(r: R) -> Result<InspectLog, EvalError> {
    let mut z = zip::ZipArchive::new(r).map_err(|e| EvalError::Zip(e.to_string()))?;
    let member = z.by_name("header.json").map_err(|e| match e {
        zip::result::ZipError::FileNotFound => EvalError::Zip(
            "no header.json member: the eval has not finished (or this is not an Inspect log)"
                .into(),
        ),
        e => EvalError::Zip(e.to_string()),
    })?;
    if member.size() > MAX_MEMBER {
        return Err(EvalError::Zip(format!(
            "header.json declares {} bytes, more than the {MAX_MEMBER} read",
            member.size()
        )));
    }
    let mut buf = Vec::new();
    member
        .take(MAX_MEMBER + 1)
        .read_to_end(&mut buf)
        .map_err(|e| EvalError::Zip(format!("header.json: {e}")))?;
    if buf.len() as u64 > MAX_MEMBER {
        return Err(EvalError::Zip(format!(
            "header.json inflates past {MAX_MEMBER} bytes"
        )));
    }
    serde_json::from_slice(&buf).map_err(|e| invalid(Harness::Inspect, format!("header.json: {e}")))
}

/// Reads a log of any supported kind, telling them apart by content.
pub fn parse<R: Read + Seek>(mut r: R) -> Result<ParsedLog, EvalError> {
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut r, &mut magic)?;
    r.seek(SeekFrom::Start(0))
        .map_err(|e| EvalError::Io(e.to_string()))?;
    if got == 4 && &magic == b"PK\x03\x04" {
        return parse_inspect(read_eval_header(r)?);
    }
    if got >= 2 && &magic[..2] == b"PK" {
        return Err(EvalError::Zip("truncated or damaged ZIP archive".into()));
    }
    // JSON: bounded in size, then read while streaming, twice: which harness wrote it (only the
    // top-level keys are looked at), then that harness's typed fields (everything else skipped).
    let len = r
        .seek(SeekFrom::End(0))
        .map_err(|e| EvalError::Io(e.to_string()))?;
    if len > MAX_JSON_LOG {
        return Err(EvalError::Unrecognised(format!(
            "a JSON log of {len} bytes is larger than the {MAX_JSON_LOG} read; Inspect logs of that size belong in the .eval format"
        )));
    }
    r.seek(SeekFrom::Start(0))
        .map_err(|e| EvalError::Io(e.to_string()))?;
    // Only an object (serde would take a sequence for a struct, too).
    let mut first = [0u8; 1];
    loop {
        if read_up_to(&mut r, &mut first)? == 0 {
            return Err(EvalError::Unrecognised(
                "not JSON either: the file is empty".into(),
            ));
        }
        if !first[0].is_ascii_whitespace() {
            break;
        }
    }
    if first[0] != b'{' {
        return Err(EvalError::Unrecognised(
            "the JSON is not an object (not JSON either, if it is not JSON at all)".into(),
        ));
    }
    r.seek(SeekFrom::Start(0))
        .map_err(|e| EvalError::Io(e.to_string()))?;
    let probe: Probe = serde_json::from_reader(BufReader::new(&mut r)).map_err(|e| {
        EvalError::Unrecognised(if e.is_data() {
            format!("the JSON is not an object: {e}")
        } else {
            format!("not JSON either: {e}")
        })
    })?;
    r.seek(SeekFrom::Start(0))
        .map_err(|e| EvalError::Io(e.to_string()))?;
    if probe.eval.is_some() && (probe.status.is_some() || probe.version.is_some()) {
        let log: InspectLog = serde_json::from_reader(BufReader::new(r))
            .map_err(|e| invalid(Harness::Inspect, e.to_string()))?;
        return parse_inspect(log);
    }
    if probe.results.is_some() || probe.lm_eval_version.is_some() {
        let f: LmEvalFile = serde_json::from_reader(BufReader::new(r))
            .map_err(|e| invalid(Harness::LmEval, e.to_string()))?;
        return parse_lm_eval(f);
    }
    Err(EvalError::Unrecognised(
        "no `results` (lm-evaluation-harness) or `eval` (Inspect) object".into(),
    ))
}

/// Which top-level members a JSON log has (their contents skipped while streaming).
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    eval: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    status: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    version: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    results: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    lm_eval_version: Option<serde::de::IgnoredAny>,
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, EvalError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(EvalError::Io(e.to_string())),
        }
    }
    Ok(n)
}

/// Turns a parsed log into the record for `suite` on `repo@revision`. The record is partial (and
/// so never counts) when the run was, or when it did not cover the whole suite.
pub fn normalize(
    log: &ParsedLog,
    suite: &Suite,
    repo: &str,
    revision: &str,
    raw_log_sha256: &str,
) -> Result<ResultRecord, EvalError> {
    let t = log
        .tasks
        .iter()
        .find(|t| suite.runs_task(&t.task))
        .ok_or_else(|| EvalError::NoTask {
            suite: suite.name.clone(),
            expected: suite.tasks.join(", "),
            found: log
                .tasks
                .iter()
                .map(|t| t.task.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let (metric, value) = suite
        .metric_aliases()
        .into_iter()
        .find_map(|m| t.metrics.get(m).map(|v| (m, *v)))
        .ok_or_else(|| EvalError::NoMetric {
            task: t.task.clone(),
            metric: suite.metric.clone(),
            found: t.metrics.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
    if (metric == "acc" || metric == "accuracy") && !(0.0..=1.0).contains(&value) {
        return Err(invalid(
            log.harness,
            format!("{} {metric} = {value} is not a proportion", t.task),
        ));
    }
    let mut partial = t.partial.clone();
    let n = t.n.unwrap_or(0);
    if !suite.is_full_run(n) {
        partial.push(format!(
            "n={n} is not the whole suite ({}{} questions)",
            suite.questions,
            suite
                .original_questions
                .map(|o| format!(" or {o}"))
                .unwrap_or_default()
        ));
    }
    Ok(ResultRecord {
        kind: RESULT_TYPE.into(),
        repo: repo.into(),
        revision: revision.into(),
        suite: suite.name.clone(),
        suite_version: suite.version,
        domain: suite.domain,
        harness: log.harness,
        harness_version: log.harness_version.clone(),
        task: t.task.clone(),
        metric: suite.metric.clone(),
        value,
        stderr: t.stderr.get(metric).copied().flatten(),
        n,
        partial,
        logged_revision: log.logged_revision.clone(),
        raw_log_sha256: raw_log_sha256.into(),
    })
}

#[cfg(test)]
mod tests;
