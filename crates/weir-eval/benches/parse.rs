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
}
