//! The automatic rules a research-environment job's outputs pass before any human reviews them
//! (issue 13, point 4): nothing that could carry the weights out leaves the environment. A file
//! is blocked when it is too large, when its first bytes are a weight or container format, when
//! it is binary and looks compressed, encrypted or random (high byte entropy), or when it is text
//! that carries data in bulk (more than 10,000 numbers, or a long base64 or hex run). A release
//! (the files of one job let out together) is also bounded in total.
//!
//! Pure and linear: every rule is one pass over the bytes, whatever they hold.

use serde::{Deserialize, Serialize};

/// The version of the rules weir ships, the policy's default `[outputs]` section.
pub const RULES_VERSION: &str = "outputs-v1";

/// The most files an `[outputs]` section may let out in one release, and the walk's bound.
pub const MAX_FILES: usize = 1000;

/// The limits the rules apply: the policy file's `[outputs]` section (a signed, logged policy
/// change replaces them; every job records the `version` its outputs were checked under).
/// [`OutputRules::default`] is the issue's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRules {
    pub source: String,
    /// Names these limits; recorded with every job's output decision.
    pub version: String,
    /// Largest file let out, bytes.
    #[serde(rename = "max_file_bytes")]
    pub max_file: u64,
    /// Largest release (all files of one job), bytes.
    #[serde(rename = "max_release_bytes")]
    pub max_release: u64,
    /// Most files in one release.
    pub max_files: usize,
    /// Most numbers a text file may hold.
    pub max_numbers: usize,
    /// Longest run of base64 or hex characters a text file may hold.
    pub max_encoded_run: usize,
    /// Binary files at least this long are checked for entropy.
    #[serde(rename = "entropy_min_bytes")]
    pub entropy_min_len: usize,
    /// Byte entropy (bits per byte, at most 8) above which a binary file is blocked.
    #[serde(rename = "max_entropy_bits")]
    pub max_entropy: f64,
}

impl Default for OutputRules {
    fn default() -> Self {
        OutputRules {
            source: "weir's own output checks (OpenSAFELY's model: automatic rules before two independent checkers); the numbers are ours".into(),
            version: RULES_VERSION.into(),
            max_file: 1 << 20,
            max_release: 5 << 20,
            max_files: 100,
            max_numbers: 10_000,
            max_encoded_run: 1024,
            entropy_min_len: 256,
            max_entropy: 7.0,
        }
    }
}

impl OutputRules {
    /// Outputs are held in the database until released: the limits stay bounded whatever a
    /// policy says.
    pub fn validate(&self) -> Result<(), String> {
        let v = &self.version;
        if v.is_empty()
            || v.len() > 64
            || !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err("version is 1 to 64 letters, digits, '.', '_' or '-'".into());
        }
        if !(1..=16 << 20).contains(&self.max_file) {
            return Err("max_file_bytes is 1 to 16 MiB".into());
        }
        if !(self.max_file..=64 << 20).contains(&self.max_release) {
            return Err("max_release_bytes is max_file_bytes to 64 MiB".into());
        }
        if !(1..=MAX_FILES).contains(&self.max_files) {
            return Err(format!("max_files is 1 to {MAX_FILES}"));
        }
        if !(16..=1 << 20).contains(&self.max_encoded_run) {
            return Err("max_encoded_run is 16 to 1048576".into());
        }
        if !(16..=1 << 20).contains(&self.entropy_min_len) {
            return Err("entropy_min_bytes is 16 to 1048576".into());
        }
        if !(self.max_entropy.is_finite() && self.max_entropy > 0.0 && self.max_entropy <= 8.0) {
            return Err("max_entropy_bits is above 0 and at most 8".into());
        }
        Ok(())
    }
}

/// Why a file (or a release) is blocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Finding {
    /// The file is larger than `max_file`.
    FileTooLarge { size: u64, max: u64 },
    /// The release is larger than `max_release` in total.
    ReleaseTooLarge { size: u64, max: u64 },
    /// The file starts like a weight, archive or compressed format.
    Format { format: String },
    /// A binary file whose bytes look compressed, encrypted or random.
    HighEntropy { bits_per_byte: f64, max: f64 },
    /// A text file with more numbers than `max_numbers`.
    ManyNumbers { count: usize, max: usize },
    /// A text file with a base64 or hex run longer than `max_encoded_run`.
    EncodedRun {
        encoding: String,
        length: usize,
        max: usize,
    },
    /// Output names are a channel too: they must be short and plain, and few.
    Names { problem: String },
}

impl Finding {
    /// One line for the researcher: what was found.
    pub fn message(&self) -> String {
        match self {
            Finding::FileTooLarge { size, max } => {
                format!("{size} bytes; an output file may have at most {max}")
            }
            Finding::ReleaseTooLarge { size, max } => {
                format!("{size} bytes in all; one release may have at most {max}")
            }
            Finding::Format { format } => format!("a {format} file (weights or an archive)"),
            Finding::HighEntropy { bits_per_byte, max } => format!(
                "binary data at {bits_per_byte:.2} bits per byte (compressed, encrypted or raw numbers; the limit is {max})"
            ),
            Finding::ManyNumbers { count, max } => {
                format!("{count} numbers; a text output may hold at most {max}")
            }
            Finding::EncodedRun {
                encoding,
                length,
                max,
            } => format!("a {encoding} run of {length} characters; at most {max}"),
            Finding::Names { problem } => problem.clone(),
        }
    }
}

/// Whether `path` is a plain output name: at most 4 parts, each 1 to 64 letters, digits, `.`,
/// `_` or `-`, starting with a letter or digit.
pub fn plain_name(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() <= 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 64
                && p.as_bytes()[0].is_ascii_alphanumeric()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        })
}

/// The names of a release: plain (see [`plain_name`]) and at most the rules' `max_files`.
pub fn check_names<'a>(
    paths: impl IntoIterator<Item = &'a str>,
    rules: &OutputRules,
) -> Option<Finding> {
    let mut n = 0usize;
    for p in paths {
        n += 1;
        if !plain_name(p) {
            return Some(Finding::Names {
                problem: "an output name that is not plain (at most 4 parts of 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit)".into(),
            });
        }
    }
    (n > rules.max_files).then(|| Finding::Names {
        problem: format!(
            "{n} output files; a release has at most {}",
            rules.max_files
        ),
    })
}

/// The format a file's first bytes announce, if it is one that can carry weights: tensor
/// formats, pickles, archives and compressed streams.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x93NUMPY", "npy"),
        (b"PK\x03\x04", "zip (npz, PyTorch, …)"),
        (b"PK\x05\x06", "zip (npz, PyTorch, …)"),
        (b"PK\x07\x08", "zip (npz, PyTorch, …)"),
        (b"GGUF", "gguf"),
        (b"\x1f\x8b", "gzip"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"\x89HDF\r\n\x1a\n", "hdf5"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"BZh", "bzip2"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"\x04\x22\x4d\x18", "lz4"),
    ];
    if let Some((_, name)) = MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Some(name);
    }
    // A pickle of protocol 2 or later opens with PROTO n.
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Some("pickle");
    }
    // safetensors: a little-endian u64 header length, then a JSON object of that length.
    if bytes.len() >= 10 {
        let mut n = [0u8; 8];
        n.copy_from_slice(&bytes[..8]);
        let n = u64::from_le_bytes(n);
        if bytes[8] == b'{' && n >= 2 && n <= (bytes.len() as u64).saturating_sub(8).max(2) {
            return Some("safetensors");
        }
    }
    None
}

/// Shannon entropy of the bytes, in bits per byte.
pub fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    for b in bytes {
        counts[*b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// How many numbers a text holds: maximal runs of digits (with a sign, a decimal point and an
/// exponent counted as part of the same number).
fn numbers(text: &[u8]) -> usize {
    let mut count = 0;
    let mut in_number = false;
    for (i, b) in text.iter().enumerate() {
        let part = b.is_ascii_digit()
            || (in_number && matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            || (*b == b'-' && text.get(i + 1).is_some_and(u8::is_ascii_digit));
        if part && !in_number && (b.is_ascii_digit() || *b == b'-') {
            count += 1;
        }
        in_number = part;
    }
    count
}

/// The longest run of base64 characters and whether it is all hex digits.
fn longest_encoded_run(text: &[u8]) -> (usize, bool) {
    let (mut best, mut best_hex) = (0usize, false);
    let (mut run, mut hex) = (0usize, true);
    for b in text {
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_') {
            run += 1;
            hex &= b.is_ascii_hexdigit();
            if run > best {
                best = run;
                best_hex = hex;
            }
        } else {
            run = 0;
            hex = true;
        }
    }
    (best, best_hex)
}

/// Whether the bytes are text (UTF-8 without NUL).
fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The rules' findings on one file (empty: the file may go on to human review). `size` is the
/// file's full size; `bytes` its content, or its first bytes when it is larger than the rules'
/// `max_file` (the format is still named).
pub fn check_file(size: u64, bytes: &[u8], rules: &OutputRules) -> Vec<Finding> {
    let mut out = Vec::new();
    if size > rules.max_file {
        out.push(Finding::FileTooLarge {
            size,
            max: rules.max_file,
        });
    }
    if let Some(format) = sniff(bytes) {
        out.push(Finding::Format {
            format: format.to_string(),
        });
    }
    if size > rules.max_file {
        return out;
    }
    if is_text(bytes) {
        let count = numbers(bytes);
        if count > rules.max_numbers {
            out.push(Finding::ManyNumbers {
                count,
                max: rules.max_numbers,
            });
        }
        let (length, hex) = longest_encoded_run(bytes);
        if length > rules.max_encoded_run {
            out.push(Finding::EncodedRun {
                encoding: if hex { "hex" } else { "base64" }.to_string(),
                length,
                max: rules.max_encoded_run,
            });
        }
    } else if bytes.len() >= rules.entropy_min_len {
        let bits = entropy(bytes);
        if bits > rules.max_entropy {
            out.push(Finding::HighEntropy {
                bits_per_byte: (bits * 100.0).round() / 100.0,
                max: rules.max_entropy,
            });
        }
    }
    out
}

/// A release's total against the rules (the files are checked one by one with [`check_file`]).
pub fn check_release(sizes: &[u64], rules: &OutputRules) -> Option<Finding> {
    let size = sizes.iter().fold(0u64, |a, s| a.saturating_add(*s));
    (size > rules.max_release).then_some(Finding::ReleaseTooLarge {
        size,
        max: rules.max_release,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_are_plain_and_few() {
        for ok in ["results.json", "a/b/c/d.txt", "run-1_x.csv"] {
            assert!(plain_name(ok), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in [
            "_logs/stdout.txt",
            ".hidden",
            "a//b",
            "a/b/c/d/e",
            "a b",
            &long,
            "é.txt",
            "",
        ] {
            assert!(!plain_name(bad), "{bad:?}");
        }
        let rules = OutputRules::default();
        assert!(check_names(["a.txt", "b.txt"], &rules).is_none());
        let many: Vec<String> = (0..=rules.max_files).map(|i| format!("f{i}")).collect();
        assert!(check_names(many.iter().map(String::as_str), &rules).is_some());
        assert!(check_names(many.iter().take(100).map(String::as_str), &rules).is_none());
        let fewer = OutputRules {
            max_files: 3,
            ..OutputRules::default()
        };
        assert!(check_names(many.iter().take(4).map(String::as_str), &fewer).is_some());
    }

    #[test]
    fn a_policy_cannot_unbound_the_rules() {
        assert_eq!(OutputRules::default().validate(), Ok(()));
        let bad = [
            OutputRules {
                version: "".into(),
                ..OutputRules::default()
            },
            OutputRules {
                version: "v 1".into(),
                ..OutputRules::default()
            },
            OutputRules {
                max_file: 0,
                ..OutputRules::default()
            },
            OutputRules {
                max_file: 1 << 30,
                max_release: 1 << 30,
                ..OutputRules::default()
            },
            OutputRules {
                max_release: 1024,
                ..OutputRules::default()
            },
            OutputRules {
                max_files: MAX_FILES + 1,
                ..OutputRules::default()
            },
            OutputRules {
                max_entropy: 9.0,
                ..OutputRules::default()
            },
            OutputRules {
                max_entropy: f64::NAN,
                ..OutputRules::default()
            },
            OutputRules {
                entropy_min_len: 0,
                ..OutputRules::default()
            },
        ];
        for r in bad {
            assert!(r.validate().is_err(), "{r:?}");
        }
    }

    fn check(bytes: &[u8]) -> Vec<Finding> {
        check_file(bytes.len() as u64, bytes, &OutputRules::default())
    }

    /// Pseudo-random bytes (xorshift), as compressed or encrypted data look.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn every_weight_and_container_format_is_blocked() {
        let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let mut st = (header.len() as u64).to_le_bytes().to_vec();
        st.extend_from_slice(header);
        st.extend_from_slice(&[0u8; 8]);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("safetensors", st),
            ("npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}".to_vec()),
            ("zip (npz, PyTorch, …)", b"PK\x03\x04\x14\x00rest".to_vec()),
            ("pickle", b"\x80\x04\x95\x10\x00\x00\x00".to_vec()),
            ("gguf", b"GGUF\x03\x00\x00\x00".to_vec()),
            ("gzip", b"\x1f\x8b\x08\x00\x00".to_vec()),
            ("zstd", b"\x28\xb5\x2f\xfd\x00".to_vec()),
            ("hdf5", b"\x89HDF\r\n\x1a\n\x00".to_vec()),
            ("xz", b"\xfd7zXZ\x00\x00".to_vec()),
        ];
        for (format, bytes) in cases {
            assert!(
                check(&bytes).contains(&Finding::Format {
                    format: format.into()
                }),
                "{format}: {:?}",
                check(&bytes)
            );
        }
    }

    #[test]
    fn high_entropy_binary_is_blocked_and_plain_binary_is_not() {
        let f = check(&noise(4096));
        assert!(
            matches!(f.as_slice(), [Finding::HighEntropy { .. }]),
            "{f:?}"
        );
        // Raw float32 weights look the same to the rule.
        let floats: Vec<u8> = (0..2048)
            .flat_map(|i| ((i as f32 * 0.37).sin() * 0.02).to_le_bytes())
            .collect();
        assert!(
            !check(&floats).is_empty(),
            "raw f32 tensors: {:?}",
            check(&floats)
        );
        // A sparse binary (a bitmap with a few values) passes.
        let mut sparse = vec![0u8; 4096];
        for i in (0..4096).step_by(64) {
            sparse[i] = 0xff;
        }
        assert!(check(&sparse).is_empty(), "{:?}", check(&sparse));
    }

    #[test]
    fn text_carrying_data_in_bulk_is_blocked() {
        let csv: String = (0..12_000).map(|i| format!("{}.{}\n", i, i % 7)).collect();
        assert!(
            matches!(
                check(csv.as_bytes()).as_slice(),
                [Finding::ManyNumbers { count: 12_000, .. }]
            ),
            "{:?}",
            check(csv.as_bytes())
        );
        let hex: String = noise(800).iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            check(format!("weights: {hex}\n").as_bytes()).contains(&Finding::EncodedRun {
                encoding: "hex".into(),
                length: 1600,
                max: 1024
            })
        );
        let b64: String = "QUJDRGVmZ2g0NTY3Kys/".repeat(60);
        assert!(matches!(
            check(b64.as_bytes()).as_slice(),
            [Finding::EncodedRun { encoding, .. }] if encoding == "base64"
        ));
    }

    #[test]
    fn an_evaluation_result_passes() {
        let results = serde_json::json!({
            "results": {"wmdp_bio": {"acc,none": 0.4125, "acc_stderr,none": 0.0137}},
            "n-samples": {"wmdp_bio": {"original": 1273, "effective": 1273}},
            "config": {"model": "weir", "model_args": "acme/restricted-model@0123456789abcdef0123456789abcdef01234567"},
        })
        .to_string();
        assert_eq!(check(results.as_bytes()), vec![]);
        let completions = "Q: What is 2+2?\nA: 4\n".repeat(200);
        assert_eq!(check(completions.as_bytes()), vec![]);
        assert_eq!(check(b""), vec![]);
    }

    #[test]
    fn sizes_are_bounded_per_file_and_per_release() {
        let rules = OutputRules::default();
        // A large file is named by its first bytes only, and blocked by its size.
        assert_eq!(
            check_file(2 << 20, b"GGUF", &rules),
            vec![
                Finding::FileTooLarge {
                    size: 2 << 20,
                    max: 1 << 20
                },
                Finding::Format {
                    format: "gguf".into()
                }
            ]
        );
        assert_eq!(check_release(&[1 << 20; 5], &rules), None);
        assert_eq!(
            check_release(&[1 << 20; 6], &rules),
            Some(Finding::ReleaseTooLarge {
                size: 6 << 20,
                max: 5 << 20
            })
        );
        assert!(check_release(&[u64::MAX, 1], &rules).is_some());
    }

    proptest::proptest! {
        /// Any bytes: the rules answer (no panic) and name a reason for each finding.
        #[test]
        fn any_bytes_get_an_answer(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            for f in check(&bytes) {
                proptest::prop_assert!(!f.message().is_empty());
            }
        }
    }
}
