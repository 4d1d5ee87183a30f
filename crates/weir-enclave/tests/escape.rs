//! Escape tests: each a real job in the real sandbox (bubblewrap as a slot user, seccomp,
//! cgroups, rlimits), trying what a job must never do, and the sweep afterwards. They need root,
//! bwrap and the slot users (`.ci/run` installs them); with `WEIR_ENCLAVE_REQUIRED=1` (set by
//! `.ci/run`) a machine without them fails instead of skipping.

use std::time::Duration;

use weir_enclave::{Ending, JobDir, Limits, Outcome, Sandbox, SandboxConfig, Spec};

struct Env {
    sandbox: Sandbox,
    /// Stands for the registry's data dir: a secret the job must never read.
    data: tempfile::TempDir,
    _work: tempfile::TempDir,
}

fn env() -> Option<Env> {
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::write(data.path().join("secret.key"), b"registry-secret").expect("secret");
    let work = tempfile::tempdir().expect("tempdir");
    let cfg = SandboxConfig::new(work.path().join("enclave"));
    match Sandbox::open(&cfg) {
        Ok(sandbox) => Some(Env {
            sandbox,
            data,
            _work: work,
        }),
        Err(e) if std::env::var_os("WEIR_ENCLAVE_REQUIRED").is_some() => {
            panic!("the sandbox is required here and cannot start: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED (no sandbox on this machine: {e}); .ci/run installs it");
            None
        }
    }
}

fn limits() -> Limits {
    Limits {
        memory_bytes: 256 << 20,
        cpus: 1.0,
        pids: 32,
        wall: Duration::from_secs(20),
        file_bytes: 1 << 20,
        out_bytes: 4 << 20,
        out_files: 100,
        nofile: 64,
    }
}

fn bash(script: &str) -> Spec {
    Spec {
        argv: vec!["/usr/bin/bash".into(), "-c".into(), script.into()],
        env: vec![],
        limits: limits(),
        extra_ro: vec![],
    }
}

fn job(env: &Env, name: &str, slot: usize) -> JobDir {
    let slot = &env.sandbox.slots()[slot];
    let j = env.sandbox.job_dir(name, slot).expect("job dir");
    let w = env.data.path().join("blob");
    std::fs::write(&w, b"WEIGHTS").expect("blob");
    j.add_weight("model.safetensors", &w).expect("weight");
    j.add_code("main.sh", b"echo from code\n", true)
        .expect("code");
    j
}

async fn run(env: &Env, j: &JobDir, slot: usize, spec: &Spec) -> (Outcome, String, String) {
    let o = env
        .sandbox
        .run(&env.sandbox.slots()[slot], j, spec)
        .await
        .expect("run");
    let out = std::fs::read_to_string(&j.stdout).unwrap_or_default();
    let err = std::fs::read_to_string(&j.stderr).unwrap_or_default();
    assert_eq!(o.left_behind, 0, "processes left behind: {o:?}");
    (o, out, err)
}

#[tokio::test]
async fn a_job_reads_its_weights_and_code_and_writes_its_outputs() {
    let Some(env) = env() else { return };
    let j = job(&env, "clean", 0);
    let (o, out, err) = run(
        &env,
        &j,
        0,
        &bash("cat /weights/model.safetensors; bash /job/main.sh; echo result > /out/result.txt; mkdir -p /out/sub; echo x > /out/sub/y.txt; ln -s /etc/passwd /out/link; id -u; env | sort"),
    )
    .await;
    assert_eq!(o.ending, Ending::Exited(0), "{out}{err}");
    assert!(
        out.contains("WEIGHTS") && out.contains("from code"),
        "{out}"
    );
    // The slot's own user, and a clean environment: PATH, HOME and what bwrap itself sets.
    assert!(
        out.contains(&env.sandbox.slots()[0].uid.to_string()),
        "{out}"
    );
    for line in out.lines().filter(|l| l.contains('=')) {
        let key = line.split('=').next().unwrap_or("");
        assert!(
            ["PATH", "HOME", "PWD", "SHLVL", "_", "OLDPWD"].contains(&key),
            "unexpected variable in the job's environment: {line}"
        );
    }
    let outputs = j.outputs(100);
    let names: Vec<&str> = outputs.iter().map(|(n, _, _)| n.as_str()).collect();
    // Regular files only: the symlink is not an output.
    assert_eq!(names, vec!["result.txt", "sub/y.txt"]);
    if env.sandbox.cgroup_version().is_some() {
        assert!(o.cpu_ms.is_some() && o.peak_memory.is_some(), "{o:?}");
    }
}

/// Reading anything of the host outside the job's three directories fails.
#[tokio::test]
async fn reading_outside_the_job_fails() {
    let Some(env) = env() else { return };
    let other = job(&env, "other", 1);
    std::fs::write(other.out.join("theirs.txt"), b"other job").expect("write");
    let j = job(&env, "reader", 0);
    let targets = [
        env.data.path().join("secret.key").display().to_string(),
        env.data.path().display().to_string(),
        "/root".into(),
        "/etc/shadow".into(),
        "/etc/passwd".into(),
        other.out.join("theirs.txt").display().to_string(),
        other.root.display().to_string(),
        "/proc/1/root/etc/shadow".into(),
        "/sys/fs/cgroup".into(),
    ];
    let script: String = targets
        .iter()
        .map(|t| format!("(cat '{t}' || ls '{t}') >/dev/null 2>&1 && echo 'READ {t}'; "))
        .collect();
    let (o, out, _) = run(&env, &j, 0, &bash(&format!("{script} ls /; true"))).await;
    assert_eq!(o.ending, Ending::Exited(0));
    assert!(
        !out.contains("READ"),
        "the job read outside its dirs:\n{out}"
    );
    for hidden in ["root", "home", "var", "etc/shadow", "srv"] {
        assert!(
            !out.lines().any(|l| l == hidden),
            "/{hidden} is visible: {out}"
        );
    }
}

/// Writing the weights, the code, `/`, `/etc`, `/usr` fails; `/out` and `/tmp` work.
#[tokio::test]
async fn writing_outside_out_fails() {
    let Some(env) = env() else { return };
    let j = job(&env, "writer", 0);
    let script = "for t in /weights/model.safetensors /weights/new /job/main.sh /job/new /x /etc/x /usr/x /bin/x /proc/sys/kernel/hostname; do (echo pwn > $t) 2>/dev/null && echo \"WROTE $t\"; done; echo ok > /out/ok; echo ok > /tmp/ok && echo TMP";
    let (o, out, _) = run(&env, &j, 0, &bash(script)).await;
    assert_eq!(o.ending, Ending::Exited(0));
    assert!(!out.contains("WROTE"), "{out}");
    assert!(out.contains("TMP"));
    assert_eq!(
        std::fs::read(j.weights.join("model.safetensors")).expect("weights"),
        b"WEIGHTS"
    );
}

/// No connection leaves: not to the registry's port on 127.0.0.1, not to any address, not UDP.
#[tokio::test]
async fn the_network_is_unreachable() {
    let Some(env) = env() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(8), listener.accept())
            .await
            .is_ok()
    });
    let j = job(&env, "net", 0);
    let script = format!(
        "for t in tcp/127.0.0.1/{port} tcp/10.0.0.1/80 tcp/1.1.1.1/443 udp/127.0.0.1/53 udp/8.8.8.8/53; do (exec 5<>/dev/$t && echo x >&5) 2>/dev/null && echo \"CONNECTED $t\"; done; true"
    );
    let (o, out, _) = run(&env, &j, 0, &bash(&script)).await;
    assert_eq!(o.ending, Ending::Exited(0));
    assert!(!out.contains("CONNECTED"), "{out}");
    assert!(
        !accepted.await.expect("join"),
        "the registry's port got a connection"
    );
}

/// The seccomp filter: every socket family but Unix, io_uring, bpf, ptrace, perf events and new
/// namespaces answer EPERM (Python's ctypes makes the raw calls).
#[tokio::test]
async fn the_seccomp_filter_refuses_dangerous_calls() {
    let Some(env) = env() else { return };
    if !std::path::Path::new("/usr/bin/python3").exists() {
        panic!("/usr/bin/python3 is needed for the seccomp probe");
    }
    let j = job(&env, "seccomp", 0);
    let probe = r#"
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(name, nr, *args):
    r = libc.syscall(nr, *args)
    e = ctypes.get_errno()
    print(name, "ok" if r >= 0 else os.strerror(e))
for fam, name in [(socket.AF_INET, "inet"), (socket.AF_INET6, "inet6"), (16, "netlink"), (17, "packet")]:
    try:
        socket.socket(fam, socket.SOCK_DGRAM if fam != 17 else socket.SOCK_RAW)
        print(name, "ok")
    except OSError as e:
        print(name, e.strerror)
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); print("unix ok")
except OSError as e:
    print("unix", e.strerror)
params = ctypes.create_string_buffer(120)
call("io_uring_setup", 425, 1, params)
call("bpf", 321, 0, None, 0)
call("ptrace", 101, 0, 0, 0, 0)
call("unshare", 272, 0x10000000)
call("perf_event_open", 298, None, 0, -1, -1, 0)
call("keyctl", 250, 0, 0, 0, 0)
import threading
t = threading.Thread(target=lambda: print("thread ok")); t.start(); t.join()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0); print("fork ok")
"#;
    j.add_code("probe.py", probe.as_bytes(), false)
        .expect("probe");
    let spec = Spec {
        argv: vec!["/usr/bin/python3".into(), "/job/probe.py".into()],
        env: vec![],
        limits: limits(),
        extra_ro: vec![],
    };
    let (o, out, err) = run(&env, &j, 0, &spec).await;
    assert_eq!(o.ending, Ending::Exited(0), "{out}{err}");
    for denied in [
        "inet",
        "inet6",
        "netlink",
        "packet",
        "io_uring_setup",
        "bpf",
        "ptrace",
        "unshare",
        "perf_event_open",
        "keyctl",
    ] {
        let line = out
            .lines()
            .find(|l| l.split(' ').next() == Some(denied))
            .unwrap_or_else(|| panic!("no line for {denied}: {out}{err}"));
        assert!(
            line.ends_with("Operation not permitted"),
            "{denied} was not refused by seccomp: {line}"
        );
    }
    // What programs need still works: Unix sockets, threads, fork.
    for ok in ["unix ok", "thread ok", "fork ok"] {
        assert!(out.contains(ok), "{ok}: {out}{err}");
    }
}

/// Runs a Python job that forks 200 sleeping children, as far as it can; how many it started.
async fn forks(env: &Env, name: &str) -> (Outcome, usize, String) {
    let j = job(env, name, 0);
    let probe = "import os, time\nn = 0\nfor i in range(200):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1\nprint('started', n, flush=True)\n";
    j.add_code("forks.py", probe.as_bytes(), false)
        .expect("probe");
    let spec = Spec {
        argv: vec!["/usr/bin/python3".into(), "/job/forks.py".into()],
        env: vec![],
        limits: limits(),
        extra_ro: vec![],
    };
    let (o, out, err) = run(env, &j, 0, &spec).await;
    let started = out
        .lines()
        .find_map(|l| l.strip_prefix("started "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(usize::MAX);
    (o, started, format!("{out}{err}"))
}

/// Forking past the pids limit fails inside; the children it left running are gone afterwards.
#[tokio::test]
async fn forking_past_the_pids_limit_fails() {
    let Some(env) = env() else { return };
    let (o, started, out) = forks(&env, "forks").await;
    assert!(
        started < limits().pids as usize,
        "forked {started} times under a limit of {}: {out} {o:?}",
        limits().pids
    );
    // `run` asserted that none of the sleeping children is left.
}

#[tokio::test]
async fn exceeding_memory_is_killed() {
    let Some(env) = env() else { return };
    let j = job(&env, "memory", 0);
    let mut spec = bash("x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo ${#x}");
    spec.limits.memory_bytes = 64 << 20;
    let (o, out, _) = run(&env, &j, 0, &spec).await;
    assert!(
        !out.contains("400000000"),
        "allocated past the limit: {o:?}"
    );
    if env.sandbox.cgroup_version().is_some() {
        assert_eq!(o.ending, Ending::OutOfMemory, "{o:?}");
    } else {
        assert!(!o.ending.succeeded());
    }
}

/// At the wall clock the job and everything it started are killed.
#[tokio::test]
async fn the_wall_clock_kills_everything() {
    let Some(env) = env() else { return };
    let j = job(&env, "wall", 0);
    let mut spec = bash(
        "sleep 100 & (sleep 100 &) ; setsid sleep 100 & nohup sleep 100 >/dev/null 2>&1 & wait",
    );
    spec.limits.wall = Duration::from_secs(1);
    let t = std::time::Instant::now();
    let (o, _, _) = run(&env, &j, 0, &spec).await;
    assert_eq!(o.ending, Ending::WallClock, "{o:?}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // `run` asserted nothing of the slot's user is left.
}

fn libc_sigxfsz() -> i32 {
    25
}

/// One file over the per-file cap, and many files over the total.
#[tokio::test]
async fn exceeding_the_output_cap_fails() {
    let Some(env) = env() else { return };
    let j = job(&env, "bigfile", 0);
    let (o, _, _) = run(&env, &j, 0, &bash("head -c 3000000 /dev/zero > /out/big")).await;
    // SIGXFSZ at the per-file cap.
    assert_eq!(o.ending, Ending::Signaled(libc_sigxfsz()), "{o:?}");
    let size = std::fs::metadata(j.out.join("big"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(size <= 1 << 20, "{size}");
    let j = job(&env, "manyfiles", 0);
    let (o, _, _) = run(
        &env,
        &j,
        0,
        &bash("for i in $(seq 1 10); do head -c 900000 /dev/zero > /out/f$i; done; sleep 2"),
    )
    .await;
    assert_eq!(o.ending, Ending::OutputCap, "{o:?}");
    let j = job(&env, "manyentries", 0);
    let (o, _, _) = run(
        &env,
        &j,
        0,
        &bash("for i in $(seq 1 300); do : > /out/e$i; done; sleep 2"),
    )
    .await;
    assert_eq!(o.ending, Ending::OutputCap, "{o:?}");
}

/// A job sees only its own processes, and a job in one slot cannot read another slot's files
/// even when it knows their paths.
#[tokio::test]
async fn slots_do_not_see_each_other() {
    let Some(env) = env() else { return };
    let a = job(&env, "slot-a", 0);
    let b = job(&env, "slot-b", 1);
    let sa = bash("echo mine > /out/a.txt; sleep 3");
    let sb = bash(&format!(
        "sleep 1; cat '{}' 2>/dev/null && echo READ; ls /proc | grep -c '^[0-9]'",
        a.out.join("a.txt").display()
    ));
    let (ra, rb) = tokio::join!(run(&env, &a, 0, &sa), run(&env, &b, 1, &sb));
    assert_eq!(ra.0.ending, Ending::Exited(0));
    assert!(!rb.1.contains("READ"), "{}", rb.1);
    let procs: usize =
        rb.1.lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(99);
    assert!(procs <= 4, "the job sees {procs} processes");
}

/// Without a writable cgroup controller the limits fall back to rlimits: memory (RLIMIT_AS) and
/// processes (RLIMIT_NPROC, per slot user) still hold, and CPU time is not measured.
#[tokio::test]
async fn without_cgroups_rlimits_still_hold() {
    let data = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let mut cfg = SandboxConfig::new(work.path().join("enclave"));
    cfg.cgroup_root = work.path().join("no-cgroups");
    let sandbox = match Sandbox::open(&cfg) {
        Ok(s) => s,
        Err(e) if std::env::var_os("WEIR_ENCLAVE_REQUIRED").is_some() => panic!("{e}"),
        Err(e) => {
            eprintln!("SKIPPED (no sandbox on this machine: {e})");
            return;
        }
    };
    assert_eq!(sandbox.cgroup_version(), None);
    let env = Env {
        sandbox,
        data,
        _work: work,
    };
    let j = job(&env, "nocg-memory", 0);
    let mut spec = bash("x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo ${#x}");
    spec.limits.memory_bytes = 128 << 20;
    let (o, out, _) = run(&env, &j, 0, &spec).await;
    assert!(!out.contains("400000000"), "{o:?}");
    assert_eq!(o.cpu_ms, None);
    let (_, started, out) = forks(&env, "nocg-forks").await;
    assert!(started < 60, "{out}");
}

/// A work dir the slot users cannot reach is refused when the sandbox opens, naming the fix,
/// rather than failing every job later.
#[tokio::test]
async fn an_unreachable_work_dir_is_refused_at_start() {
    if env().is_none() {
        return;
    }
    let closed = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        closed.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let err = Sandbox::open(&SandboxConfig::new(closed.path().join("enclave")))
        .expect_err("an unreachable work dir");
    assert!(
        err.to_string().contains("cannot reach the work dir"),
        "{err}"
    );
}
