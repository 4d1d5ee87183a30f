//! Sandbox start overhead: `cargo bench -p weir-enclave --bench start` (as root, with the slot
//! users; see scripts/enclave-setup.sh). Runs `/usr/bin/true` in the full sandbox (cgroups,
//! seccomp, rlimits, bubblewrap as a slot user, the sweep) N times and prints the median and the
//! 90th percentile, then the same `true` run directly for comparison.

use std::time::{Duration, Instant};

use weir_enclave::{Limits, Sandbox, SandboxConfig, Spec};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("WEIR_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let work = tempfile::tempdir().expect("tempdir");
    let sandbox = match Sandbox::open(&SandboxConfig::new(work.path().join("enclave"))) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot open the sandbox: {e}");
            std::process::exit(1);
        }
    };
    let slot = sandbox.slots()[0].clone();
    let spec = Spec {
        argv: vec!["/usr/bin/true".into()],
        env: vec![],
        limits: Limits::default(),
        extra_ro: vec![],
    };
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let job = sandbox
            .job_dir(&format!("bench-{i}"), &slot)
            .expect("job dir");
        let t = Instant::now();
        let o = sandbox.run(&slot, &job, &spec).await.expect("run");
        times.push(t.elapsed());
        assert!(o.ending.succeeded(), "{o:?}");
        job.remove().expect("remove");
    }
    times.sort();
    let mut direct = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let s = std::process::Command::new("/usr/bin/true")
            .status()
            .expect("true");
        direct.push(t.elapsed());
        assert!(s.success());
    }
    direct.sort();
    println!(
        "sandboxed true: median {:.1} ms, p90 {:.1} ms ({n} runs, cgroup {:?})",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        sandbox
            .cgroup_version()
            .map(|v| v.as_str())
            .unwrap_or("none")
    );
    println!(
        "plain true:     median {:.1} ms",
        percentile(&direct, 0.5).as_secs_f64() * 1e3
    );
}
