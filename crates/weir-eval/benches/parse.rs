//! How long importing a large evaluation log takes to parse, and that it does not grow with the
//! log: an Inspect `.eval` with N MiB of sample members (zstd, as inspect-ai writes them) is read
//! through its `header.json` only. `cargo bench -p weir-eval --bench parse [-- MIB]`
//! (default 1024).

use std::io::{Seek, Write};
use std::time::Instant;

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.eval");
    let t = Instant::now();
    {
        let f = std::fs::File::create(&path).expect("create");
        let mut w = zip::ZipWriter::new(f);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Zstd)
            .compression_level(Some(1))
            .large_file(true);
        // Sample members of 1 MiB of loosely compressible text each.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut chunk = vec![0u8; 1 << 20];
        for i in 0..mib {
            for b in chunk.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = b"abcdefghij {}\":,0123456789"[(x % 26) as usize];
            }
            w.start_file(format!("samples/{i}_epoch_1.json"), o)
                .expect("start");
            w.write_all(&chunk).expect("write");
        }
        let header = r#"{"version": 2, "status": "success", "eval": {"task": "inspect_evals/wmdp_bio", "packages": {"inspect_ai": "0.3.285"}}, "results": {"total_samples": 1273, "completed_samples": 1273, "scores": [{"name": "choice", "metrics": {"accuracy": {"name": "accuracy", "value": 0.27}}}]}}"#;
        w.start_file("header.json", o).expect("start");
        w.write_all(header.as_bytes()).expect("write");
        let mut f = w.finish().expect("finish");
        f.flush().expect("flush");
        f.rewind().expect("rewind");
    }
    let size = std::fs::metadata(&path).expect("meta").len();
    println!(
        "built a {mib} MiB-of-samples .eval ({:.0} MiB on disk) in {:.1} s",
        size as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64()
    );
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let f = std::io::BufReader::new(std::fs::File::open(&path).expect("open"));
        let p = weir_eval::parse(f).expect("parse");
        assert_eq!(p.tasks.len(), 1);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("parse (header.json only): best of 5 = {:.3} ms", best * 1e3);

    // An lm-eval results file with many tasks (a full MMLU-style run has ~60).
    let mut results = serde_json::Map::new();
    let mut n = serde_json::Map::new();
    for i in 0..5000 {
        results.insert(
            format!("task_{i}"),
            serde_json::json!({"alias": format!("task_{i}"), "acc,none": 0.3, "acc_stderr,none": "N/A", "acc_norm,none": 0.31}),
        );
        n.insert(
            format!("task_{i}"),
            serde_json::json!({"original": 100, "effective": 100}),
        );
    }
    let text = serde_json::json!({"results": results, "n-samples": n, "lm_eval_version": "0.4.13"})
        .to_string();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let p = weir_eval::parse(std::io::Cursor::new(text.as_bytes())).expect("parse");
        assert_eq!(p.tasks.len(), 5000);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "lm-eval results, 5000 tasks ({} KiB): best of 5 = {:.2} ms",
        text.len() / 1024,
        best * 1e3
    );

    // An Inspect `.json` log of 64 MiB (samples inline, as inspect writes `--log-format json`):
    // read while streaming, the samples skipped, so the process's peak memory does not grow by
    // the log's size (a `serde_json::Value` of it took about 1 GiB).
    let path = dir.path().join("big.json");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        f.write_all(br#"{"version": 2, "status": "success", "eval": {"task": "wmdp_bio", "packages": {"inspect_ai": "0.3.285"}}, "results": {"total_samples": 10, "completed_samples": 10, "scores": [{"name": "choice", "metrics": {"accuracy": {"value": 0.27}}}]}, "samples": ["#)
            .expect("write");
        let sample = br#"{"id": 1, "input": "q", "messages": [{"role": "user", "content": "abcdefghij"}, {"role": "assistant", "content": [1, 2, 3, {"a": null}]}], "scores": {"choice": {"value": "C"}}},"#;
        let mut written = 0;
        while written < 64 << 20 {
            f.write_all(sample).expect("write");
            written += sample.len();
        }
        f.write_all(br#"{"id": 0}]}"#).expect("write");
    }
    let before = peak_rss_kib();
    let t = Instant::now();
    let p = weir_eval::parse(std::io::BufReader::new(
        std::fs::File::open(&path).expect("open"),
    ))
    .expect("parse");
    assert_eq!(p.tasks.len(), 1);
    println!(
        "Inspect .json of 64 MiB: {:.0} ms; peak RSS {} MiB before, {} MiB after",
        t.elapsed().as_secs_f64() * 1e3,
        before / 1024,
        peak_rss_kib() / 1024
    );
}

/// The process's peak resident set (VmHWM), in KiB (0 where /proc is absent).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
