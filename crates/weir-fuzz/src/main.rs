//! `weir-fuzz TARGET [--seconds N] [--seed N]`: a coverage-blind mutation fuzzer that builds on
//! stable Rust, for the parsers that read untrusted input. Each target starts from its seed
//! corpus (`crates/weir-fuzz/corpus/TARGET/`), mutates inputs (bit flips, byte edits, inserts,
//! deletes, splices, truncation, repeated blocks, interesting numbers), and runs the parser
//! under `catch_unwind`. A panic (a crash) is written to `crates/weir-fuzz/crashes/` and the
//! run fails. Targets also check their own invariants (the NDJSON splitter loses no byte).
//!
//! Targets: `ndjson` (the commit reader's line splitter and line JSON), `safetensors` (header
//! length and header), `eval` (lm-eval and Inspect logs), `note` (signed notes, checkpoints,
//! cosignature keys, proof files), `card` (model-card front matter), `pickle` (the
//! unsafe-serialization scan of pickles, legacy PyTorch files and zip archives), `all`.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TARGETS: [&str; 6] = ["ndjson", "safetensors", "eval", "note", "card", "pickle"];
const MAX_INPUT: usize = 64 * 1024;

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [&[u8]; 14] = [
    b"0",
    b"-1",
    b"1e999",
    b"18446744073709551615",
    b"9223372036854775808",
    b"null",
    b"[]",
    b"{}",
    b"\"\"",
    b"\n",
    b"\r\n",
    b"\xff\xfe",
    b"\\u0000",
    b"\x00",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(9) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(v.len() - i).min(64) + 1;
                v.drain(i..(i + n).min(v.len()));
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = a + rng.below(other.len() - a) + 1;
                    let at = rng.below(v.len() + 1);
                    v.splice(at..at, other[a..b].iter().copied());
                }
            }
            5 => v.truncate(rng.below(v.len() + 1)),
            6 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(16) + 1).min(v.len());
                let block = v[a..b].to_vec();
                for _ in 0..rng.below(64) {
                    v.splice(b..b, block.iter().copied());
                }
            }
            7 => {
                let w = INTERESTING[rng.below(INTERESTING.len())];
                let at = rng.below(v.len() + 1);
                v.splice(at..at, w.iter().copied());
            }
            _ => {
                // Digits rewritten: numbers are where parsers overflow.
                if let Some(i) = (0..v.len())
                    .map(|_| rng.below(v.len()))
                    .find(|&i| v[i].is_ascii_digit())
                {
                    v[i] = b'0' + rng.below(10) as u8;
                    for _ in 0..rng.below(20) {
                        v.insert(i, b'9');
                    }
                }
            }
        }
    }
    v.truncate(MAX_INPUT);
    v
}

fn run_target(target: &str, input: &[u8], rng: &mut Rng) {
    match target {
        "ndjson" => {
            let max = 256 + rng.below(4096);
            let mut lines = weir_server::ndjson::LineBuffer::new(max);
            let mut got: Vec<u8> = Vec::new();
            let mut rest = input;
            let mut too_long = false;
            while !rest.is_empty() {
                let n = (rng.below(64) + 1).min(rest.len());
                if lines.push(&rest[..n]).is_err() {
                    too_long = true;
                    break;
                }
                rest = &rest[n..];
                while let Some(l) = lines.next_line() {
                    assert!(l.len() <= max, "a line over the limit came out");
                    let _ = serde_json::from_slice::<serde::de::IgnoredAny>(&l);
                    got.extend_from_slice(&l);
                    got.push(b'\n');
                }
            }
            if !too_long {
                // Every line and its newline, then the rest: exactly the input.
                got.extend_from_slice(&lines.finish());
                assert!(got == input, "the splitter lost or added bytes");
                assert!(
                    lines.scanned_total <= input.len() as u64 + 1,
                    "quadratic scanning"
                );
            }
        }
        "safetensors" => {
            let file_len = input.len() as u64 + rng.below(1 << 20) as u64;
            if let Ok(len) = weir_core::safetensors::header_len(input, file_len) {
                let end = (8 + len as usize).min(input.len());
                if let Ok(h) =
                    weir_core::safetensors::parse_header(&input[8.min(end)..end], file_len)
                {
                    let _ = h.parameters();
                }
            }
        }
        "eval" => {
            let _ = weir_eval::parse(Cursor::new(input.to_vec()));
        }
        "note" => {
            let text = String::from_utf8_lossy(input);
            let _ = weir_tlog::note::Note::parse(&text);
            let _ = weir_tlog::checkpoint::Checkpoint::parse_body(&text);
            let _ = weir_tlog::proof::ProofFile::parse(&text);
            let _ = weir_tlog::checkpoint::Cosigner::parse(text.trim());
            let _ = weir_tlog::note::Verifier::parse(text.trim());
            let _ = weir_tlog::tiles::parse_entry_bundle(input);
            let _ = weir_tlog::tiles::parse_path(&text);
        }
        "card" => {
            let _ = weir_core::card::parse(&String::from_utf8_lossy(input));
        }
        "pickle" => {
            let a = weir_core::pickle::scan_file(Cursor::new(input));
            let b = weir_core::pickle::scan_file(Cursor::new(input));
            assert!(a == b, "the scan is not deterministic");
            assert!(
                a.incomplete.is_none() || a.safety() >= weir_core::pickle::Safety::Suspicious,
                "an unfinished scan vouched for a file"
            );
        }
        other => panic!("unknown target {other}"),
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn load_corpus(target: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(corpus_dir(target))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// Fuzzes one target for `budget`; returns (executions, crash file if any).
fn fuzz(target: &str, budget: Duration, seed: u64) -> (u64, Option<PathBuf>) {
    let corpus = load_corpus(target);
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let mut execs = 0u64;
    // Seeds first, as they are.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    while start.elapsed() < budget {
        let input = match queue.pop() {
            Some(i) => i,
            None => {
                let base = &corpus[rng.below(corpus.len())];
                mutate(&mut rng, base, &corpus)
            }
        };
        let mut inner = Rng(rng.next() | 1);
        let r = catch_unwind(AssertUnwindSafe(|| run_target(target, &input, &mut inner)));
        execs += 1;
        if r.is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes");
            let _ = std::fs::create_dir_all(&dir);
            let name = {
                use sha2::Digest;
                hex::encode(&sha2::Sha256::digest(&input)[..8])
            };
            let path = dir.join(format!("{target}-{name}"));
            let _ = std::fs::write(&path, &input);
            return (execs, Some(path));
        }
    }
    (execs, None)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut target = None;
    let mut seconds = 10u64;
    let mut seed = 0x5eed_u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().and_then(|s| s.parse().ok()).unwrap_or(seconds),
            "--seed" => seed = it.next().and_then(|s| s.parse().ok()).unwrap_or(seed),
            "-h" | "--help" => {
                println!(
                    "usage: weir-fuzz {{{}|all}} [--seconds N] [--seed N]",
                    TARGETS.join("|")
                );
                return;
            }
            t => target = Some(t.to_string()),
        }
    }
    let Some(target) = target else {
        eprintln!(
            "error: name a target ({} or all); see weir-fuzz --help",
            TARGETS.join(", ")
        );
        std::process::exit(2);
    };
    let targets: Vec<&str> = if target == "all" {
        TARGETS.to_vec()
    } else if TARGETS.contains(&target.as_str()) {
        vec![target.as_str()]
    } else {
        eprintln!(
            "error: unknown target {target:?}; use one of {} or all",
            TARGETS.join(", ")
        );
        std::process::exit(2);
    };
    // Panics are expected to be caught; keep their messages short.
    std::panic::set_hook(Box::new(|info| eprintln!("crash: {info}")));
    let mut failed = false;
    for t in targets {
        let (execs, crash) = fuzz(t, Duration::from_secs(seconds), seed);
        match crash {
            None => println!("fuzz {t}: {execs} executions in {seconds} s, no crash (seed {seed})"),
            Some(p) => {
                println!(
                    "fuzz {t}: CRASH after {execs} executions; input saved to {}",
                    p.display()
                );
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
