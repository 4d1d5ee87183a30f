//! Model card facts (DESIGN.md §4, governance-anchors §1.7): the YAML front matter of a repo's
//! `README.md`, read the way the Hub reads it (`---` fenced block at the very start), plus the
//! weir fields the policy uses. A card that does not parse never breaks a download or model
//! info: its problems are reported as `errors` and the facts it could not give are unknown.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::eval::Domain;

/// Front matter larger than this is ignored (with an error): cards are documents, not data.
pub const MAX_FRONT_MATTER: usize = 256 * 1024;

/// Largest training compute we accept as a fact. Anything larger is a typo or an attack on the
/// arithmetic (1e40 FLOP is ~10^13 times today's largest runs).
const MAX_FLOP: f64 = 1e40;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CardFacts {
    /// The whole front matter as JSON (the Hub's `cardData`). Empty when there is none.
    pub data: Map<String, Value>,
    pub license: Option<String>,
    /// `base_model`: one id or a list, as on the Hub.
    pub base_models: Vec<String>,
    pub tags: Vec<String>,
    pub training_compute_flop: Option<f64>,
    pub parameters: Option<f64>,
    pub closed_weights: bool,
    /// Hazard domains the publisher declares relevant (`hazard_domains`).
    pub hazard_domains: Vec<Domain>,
    /// The responsible contact (`contact`).
    pub contact: Option<String>,
    /// What could not be read, one line each, naming the field.
    pub errors: Vec<String>,
}

/// Most values one front matter may hold, counting every value an alias replays (a YAML
/// "billion laughs" of nested aliases stops here instead of filling memory).
pub const MAX_NODES: usize = 100_000;
/// Deepest nesting of lists and mappings (below `serde_json`'s own limit, so whatever is read
/// can be stored and read back as JSON).
pub const MAX_DEPTH: usize = 64;

/// Parses YAML into JSON values within [`MAX_NODES`] and [`MAX_DEPTH`].
fn bounded_yaml(yaml: &str) -> Result<Value, serde_norway::Error> {
    use serde::de::DeserializeSeed;
    let budget = std::cell::Cell::new(0usize);
    Node {
        budget: &budget,
        depth: 0,
    }
    .deserialize(serde_norway::Deserializer::from_str(yaml))
}

struct Node<'a> {
    budget: &'a std::cell::Cell<usize>,
    depth: usize,
}

impl Node<'_> {
    fn spend<E: serde::de::Error>(&self) -> Result<(), E> {
        let n = self.budget.get() + 1;
        self.budget.set(n);
        if n > MAX_NODES {
            return Err(E::custom(format!(
                "more than {MAX_NODES} values (aliases included)"
            )));
        }
        Ok(())
    }

    fn child<E: serde::de::Error>(&self) -> Result<Node<'_>, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(Node {
            budget: self.budget,
            depth: self.depth + 1,
        })
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.spend()?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::String(v))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::Null)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.spend()?;
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(self, d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.spend()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.child()?)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.spend()?;
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(self.child()?)?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// The front matter text of a card, if it starts with a `---` fence that is closed.
fn front_matter(readme: &str) -> Option<&str> {
    let rest = readme.strip_prefix('\u{feff}').unwrap_or(readme);
    let rest = rest
        .strip_prefix("---\r\n")
        .or_else(|| rest.strip_prefix("---\n"))?;
    // The closing fence is a line that is exactly `---`.
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            return Some(&rest[..offset]);
        }
        offset += line.len();
    }
    None
}

fn number(v: &Value) -> Result<f64, String> {
    let n = match v {
        Value::Number(n) => n.as_f64().ok_or("not a number")?,
        Value::String(s) => s
            .trim()
            .replace('_', "")
            .parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number"))?,
        other => return Err(format!("expected a number, got {other}")),
    };
    if !n.is_finite() || n < 0.0 {
        return Err(format!("{n} is not a finite non-negative number"));
    }
    if n > MAX_FLOP {
        return Err(format!("{n:e} is implausibly large (limit {MAX_FLOP:e})"));
    }
    Ok(n)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads the facts of a card. Never fails: problems land in `errors`.
/// The most bytes of plain words kept of one card for the catalogue's full-text search.
pub const MAX_PLAIN_WORDS: usize = 32 * 1024;

/// A text as plain words for searching: lowercase letters and digits, every run of anything
/// else one space, trimmed, at most `cap` bytes (cut at a word boundary). Markdown's syntax,
/// HTML and punctuation fall away, and nothing left is a SQL `LIKE` wildcard.
pub fn plain_words(text: &str, cap: usize) -> String {
    let mut out = String::new();
    let mut gap = false;
    let mut cut = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            let sep = usize::from(gap && !out.is_empty());
            if out.len() + sep + c.to_lowercase().map(char::len_utf8).sum::<usize>() > cap {
                cut = true;
                break;
            }
            if sep == 1 {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    // A word cut at the cap would match less than it says: drop it.
    if cut {
        match out.rfind(' ') {
            Some(sp) => out.truncate(sp),
            None => out.clear(),
        }
    }
    out
}

/// The most distinct words kept of one card for the full-text search, and the longest word
/// (a longer one is no word anybody searches for).
pub const MAX_TERMS: usize = 4096;
pub const MAX_TERM: usize = 64;

/// A text's distinct plain words (see [`plain_words`]), sorted, at most [`MAX_TERMS`] of at
/// most [`MAX_TERM`] bytes each: what the catalogue's full-text search indexes and asks for.
pub fn terms(text: &str) -> Vec<String> {
    let mut set = std::collections::BTreeSet::new();
    for w in plain_words(text, text.len()).split(' ') {
        if w.is_empty() || w.len() > MAX_TERM {
            continue;
        }
        if set.len() == MAX_TERMS {
            break;
        }
        set.insert(w.to_string());
    }
    set.into_iter().collect()
}

pub fn parse(readme: &str) -> CardFacts {
    let mut facts = CardFacts::default();
    let Some(yaml) = front_matter(readme) else {
        return facts;
    };
    if yaml.len() > MAX_FRONT_MATTER {
        facts.errors.push(format!(
            "front matter: {} bytes is more than the {MAX_FRONT_MATTER} bytes read",
            yaml.len()
        ));
        return facts;
    }
    let value: Value = match bounded_yaml(yaml) {
        Ok(v) => v,
        Err(e) => {
            facts
                .errors
                .push(format!("front matter: invalid YAML: {e}"));
            return facts;
        }
    };
    let data = match value {
        Value::Object(m) => m,
        Value::Null => return facts,
        _ => {
            facts
                .errors
                .push("front matter: expected a mapping of fields".into());
            return facts;
        }
    };
    facts.license = data.get("license").and_then(|v| v.as_str()).map(Into::into);
    facts.base_models = data.get("base_model").map(strings).unwrap_or_default();
    facts.tags = data.get("tags").map(strings).unwrap_or_default();
    for (key, slot) in [
        ("training_compute_flop", &mut facts.training_compute_flop),
        ("parameters", &mut facts.parameters),
    ] {
        if let Some(v) = data.get(key) {
            match number(v) {
                Ok(n) => *slot = Some(n),
                Err(e) => facts.errors.push(format!("{key}: {e}")),
            }
        }
    }
    match data.get("closed_weights") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => facts.closed_weights = *b,
        Some(other) => facts.errors.push(format!(
            "closed_weights: expected true or false, got {other}"
        )),
    }
    if let Some(v) = data.get("hazard_domains") {
        for d in strings(v) {
            match Domain::parse(&d) {
                Some(d) if !facts.hazard_domains.contains(&d) => facts.hazard_domains.push(d),
                Some(_) => {}
                None => facts.errors.push(format!(
                    "hazard_domains: unknown domain {d:?} (bio, chem, cyber, autonomy, manipulation)"
                )),
            }
        }
    }
    facts.contact = data.get("contact").and_then(|v| v.as_str()).map(Into::into);
    facts.data = data;
    facts
}

/// What `POST /api/validate-yaml` reports about a card, as the Hub does: `errors` refuse it (the
/// client raises `ValueError` before uploading), `warnings` accept it (the client warns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// The Hub's message for a card without metadata (a warning: the card is still accepted).
pub const NO_METADATA: &str = "empty or missing yaml metadata in repo card";

/// Fields the Hub reads whose shape it checks: one string, or a list of strings.
const STRING_OR_LIST: [&str; 6] = [
    "license",
    "tags",
    "datasets",
    "language",
    "metrics",
    "base_model",
];
/// Fields that are one string.
const STRING: [&str; 4] = [
    "library_name",
    "pipeline_tag",
    "license_name",
    "license_link",
];

/// The front matter as the Hub client can read it back (`cardData`): the Hub fields whose shape
/// [`validate`] refuses are left out (a card pushed natively never went through that check, and
/// the client's `ModelCardData` raises on them), and so is the one name the client reserves.
pub fn hub_card_data(data: &Map<String, Value>) -> Map<String, Value> {
    data.iter()
        .filter(|(k, v)| {
            let k = k.as_str();
            if k == "ignore_metadata_errors" {
                return false;
            }
            if STRING_OR_LIST.contains(&k) {
                return match v {
                    Value::Null | Value::String(_) => true,
                    Value::Array(a) => a.iter().all(Value::is_string),
                    _ => false,
                };
            }
            if STRING.contains(&k) {
                return matches!(v, Value::Null | Value::String(_));
            }
            k != "model-index" || matches!(v, Value::Null | Value::Array(_))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Checks a card the way the Hub checks one before an upload: the front matter must be a YAML
/// mapping, the Hub's common fields must have their shapes, and weir's own fields (compute,
/// parameters, closed weights, hazard domains) must read, so a publisher learns at upload what
/// the policy could not use. A card with no front matter (or an unclosed fence, which the Hub
/// client reads as none) is accepted with a warning.
pub fn validate(readme: &str) -> Validation {
    let facts = parse(readme);
    let mut v = Validation {
        errors: facts.errors,
        warnings: Vec::new(),
    };
    if v.errors.is_empty() && facts.data.is_empty() {
        v.warnings.push(NO_METADATA.into());
    }
    for key in STRING_OR_LIST {
        let ok = match facts.data.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => true,
            Some(Value::Array(a)) => a.iter().all(Value::is_string),
            Some(_) => false,
        };
        if !ok {
            v.errors
                .push(format!("\"{key}\" must be a string or a list of strings"));
        }
    }
    for key in STRING {
        if !matches!(
            facts.data.get(key),
            None | Some(Value::Null) | Some(Value::String(_))
        ) {
            v.errors.push(format!("\"{key}\" must be a string"));
        }
    }
    if !matches!(
        facts.data.get("model-index"),
        None | Some(Value::Null) | Some(Value::Array(_))
    ) {
        v.errors
            .push("\"model-index\" must be a list of models with their results".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_keep_letters_and_digits_only() {
        assert_eq!(
            plain_words(
                "# Évaluation\n**Refusal**-rate: 100%_of <script>x</script>",
                1000
            ),
            "évaluation refusal rate 100 of script x script"
        );
        assert_eq!(plain_words("  ", 10), "");
        // Cut at the cap on a word boundary, never inside a character or a word.
        assert_eq!(plain_words("alpha beta gamma", 12), "alpha beta");
        assert_eq!(plain_words("ééééé", 3), "");
    }

    #[test]
    fn terms_are_distinct_bounded_words() {
        assert_eq!(
            terms("Refusal-calibration, REFUSAL and calibration; 7B"),
            vec!["7b", "and", "calibration", "refusal"]
        );
        let long = "x".repeat(MAX_TERM + 1);
        assert_eq!(terms(&format!("{long} ok")), vec!["ok"]);
        let many: String = (0..MAX_TERMS + 10).map(|i| format!("w{i} ")).collect();
        assert_eq!(terms(&many).len(), MAX_TERMS);
    }

    proptest::proptest! {
        #[test]
        fn plain_words_are_bounded_and_never_wildcards(text in ".{0,300}", cap in 1usize..64) {
            let w = plain_words(&text, cap);
            proptest::prop_assert!(w.len() <= cap);
            proptest::prop_assert!(w.chars().all(|c| c == ' ' || c.is_alphanumeric()));
            proptest::prop_assert!(!w.contains("  ") && !w.starts_with(' ') && !w.ends_with(' '));
        }
    }

    #[test]
    fn card_data_for_the_hub_client_leaves_out_what_it_cannot_read() {
        let f = parse(
            "---\nlicense: mit\ntags: 5\nlibrary_name: [x]\nignore_metadata_errors: true\nmodel-index: 3\ncustom: {a: 1}\n---\n",
        );
        let safe = hub_card_data(&f.data);
        let keys: Vec<&String> = safe.keys().collect();
        assert_eq!(keys, ["custom", "license"]);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused_not_expanded() {
        // 20 aliases to a list of 20, nested 6 times: 20^6 = 64 million values if expanded.
        let mut y = String::from(
            "---\na0: &a0 [x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x]\n",
        );
        for i in 1..7 {
            let refs = vec![format!("*a{}", i - 1); 20].join(", ");
            y.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        y.push_str("---\n");
        let f = parse(&y);
        assert!(
            f.errors[0].contains("values (aliases included)"),
            "{:?}",
            f.errors
        );
        let deep = format!("---\nx: {}1{}\n---\n", "[".repeat(100), "]".repeat(100));
        let f = parse(&deep);
        assert!(f.errors[0].contains("nested deeper"), "{:?}", f.errors);
        // A few aliases in a normal card are fine.
        let f = parse("---\nbase: &b acme/base\nbase_model: *b\ntags: [a]\n---\n");
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        assert_eq!(f.base_models, vec!["acme/base"]);
    }

    #[test]
    fn validation_refuses_what_the_hub_refuses_and_warns_on_no_metadata() {
        assert_eq!(validate("# just markdown\n").warnings, vec![NO_METADATA]);
        assert_eq!(validate("---\nlicense: mit\n").warnings, vec![NO_METADATA]);
        assert_eq!(validate("---\n---\n").warnings, vec![NO_METADATA]);
        let ok = validate(
            "---\nlicense: mit\ntags: [a, b]\nbase_model: x/y\nlibrary_name: transformers\n---\n# M\n",
        );
        assert_eq!(ok, Validation::default());
        let bad = validate(
            "---\nlicense: {a: 1}\ntags: [1, 2]\nlibrary_name: [x]\nmodel-index: 3\n---\n",
        );
        assert_eq!(bad.errors.len(), 4, "{:?}", bad.errors);
        assert!(bad.errors[0].contains("license"));
        let yaml = validate("---\nlicense: [unclosed\n---\n");
        assert!(yaml.errors[0].contains("invalid YAML"), "{yaml:?}");
        let weir = validate("---\ntraining_compute_flop: lots\n---\n");
        assert!(
            weir.errors[0].starts_with("training_compute_flop"),
            "{weir:?}"
        );
        assert!(!validate("---\n- a\n---\n").errors.is_empty());
    }

    #[test]
    fn reads_hub_and_weir_fields() {
        let f = parse(
            "---\nlicense: apache-2.0\nbase_model: acme/base\ntags: [text-generation, safety]\n\
             training_compute_flop: 1.2e25\nparameters: \"7.3e10\"\nclosed_weights: false\n\
             hazard_domains: [bio, cyber]\ncontact: safety@acme.example\n---\n# Model\n",
        );
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        assert_eq!(f.license.as_deref(), Some("apache-2.0"));
        assert_eq!(f.base_models, vec!["acme/base"]);
        assert_eq!(f.tags, vec!["text-generation", "safety"]);
        assert_eq!(f.training_compute_flop, Some(1.2e25));
        assert_eq!(f.parameters, Some(7.3e10));
        assert_eq!(f.hazard_domains, vec![Domain::Bio, Domain::Cyber]);
        assert_eq!(f.contact.as_deref(), Some("safety@acme.example"));
        assert_eq!(f.data["license"], "apache-2.0");
    }

    #[test]
    fn no_card_and_bad_cards_give_errors_not_failures() {
        assert_eq!(parse("# just markdown\n"), CardFacts::default());
        assert_eq!(parse("---\nlicense: mit\n"), CardFacts::default()); // unclosed
        assert!(!parse("---\n: : [\n---\n").errors.is_empty());
        let f = parse(
            "---\ntraining_compute_flop: 1e400\nclosed_weights: maybe\nhazard_domains: [nukes]\nparameters: -3\n---\n",
        );
        assert_eq!(f.training_compute_flop, None);
        assert_eq!(f.errors.len(), 4, "{:?}", f.errors);
        let f = parse("---\n- a\n- b\n---\n");
        assert_eq!(f.errors, vec!["front matter: expected a mapping of fields"]);
        let huge = format!("---\nx: \"{}\"\n---\n", "a".repeat(MAX_FRONT_MATTER));
        assert_eq!(parse(&huge).errors.len(), 1);
    }

    #[test]
    fn base_model_lists_and_crlf() {
        let f = parse("---\r\nbase_model:\r\n  - a/b\r\n  - c/d\r\n---\r\n");
        assert_eq!(f.base_models, vec!["a/b", "c/d"]);
    }
}
