//! `weir serve --demo` seeds without error, and what it seeds keeps the security invariants:
//! its private repo never reaches the transparency log by name.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{WEIR, free_port};

#[test]
fn the_demo_seeds_and_its_private_repo_never_reaches_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = Command::new(WEIR)
        .args(["serve", "--demo", "--data"])
        .arg(dir.path().join("data"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let url = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let entries = rt.block_on(async {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        // Seeding finishes before the server listens; then the sequencer catches up.
        let mut last = 0u64;
        loop {
            assert!(Instant::now() < deadline, "the demo did not come up");
            if let Some(status) = child.try_wait().expect("wait") {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("weir serve --demo exited ({status}): {err}");
            }
            if let Ok(r) = http.get(format!("{url}/log/checkpoint")).send().await
                && r.status().is_success()
            {
                let text = r.text().await.expect("text");
                let size: u64 = text
                    .lines()
                    .nth(1)
                    .and_then(|l| l.parse().ok())
                    .expect("size line");
                if size > 0 && size == last {
                    break;
                }
                last = size;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut out = Vec::new();
        let mut index = 0;
        while index * 256 < last {
            let width = (last - index * 256).min(256);
            let path = weir_tlog::tiles::entries_path(index, width);
            let bytes = http
                .get(format!("{url}/log/{path}"))
                .send()
                .await
                .expect("tile")
                .bytes()
                .await
                .expect("bytes");
            for e in weir_tlog::tiles::parse_entry_bundle(&bytes).expect("bundle") {
                out.push(String::from_utf8(e).expect("utf8"));
            }
            index += 1;
        }
        out
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(entries.len() > 10, "{} entries", entries.len());
    assert!(entries.iter().any(|e| e.contains("acme/tiny-llama")));
    // The grants, funding and board the demo seeds are on the log: the compute pool's
    // disbursement names the demo award it funds; the board's pending proposal is there.
    assert!(
        entries
            .iter()
            .any(|e| e.contains(r#""entry":"disburse""#) && e.contains(r#""award":"#)),
        "no disbursement to an award on the log"
    );
    assert!(entries.iter().any(|e| e.contains("airr-2026")));
    assert!(entries.iter().any(|e| e.contains("board.propose")));
    for e in &entries {
        assert!(
            !e.contains("internal-draft"),
            "the demo's private repo is named in the log: {e}"
        );
    }
}
