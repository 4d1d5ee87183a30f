//! Running one job in the sandbox: its directories, its limits, the launch chain (see the crate
//! docs), the wall clock and the output cap, and the sweep afterwards.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cgroup::{CgroupLimits, Cgroups, JobCgroup};

/// Why the sandbox could not be set up or a job could not be started. A job that runs and fails
/// is an [`Outcome`], not an error.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "the sandbox needs root (to switch to the slot users and write cgroups); it runs as uid {0}"
    )]
    NotRoot(u32),
    #[error("{0} not found: install bubblewrap (apt-get install bubblewrap)")]
    NoBwrap(PathBuf),
    #[error("{0} not found: install util-linux")]
    NoTool(&'static str),
    #[error("no group {0}: create it (groupadd --system {0})")]
    NoGroup(String),
    #[error(
        "no user {0}: create the slot users (useradd --system --no-create-home --shell /usr/sbin/nologin -g GROUP {0})"
    )]
    NoUser(String),
    #[error("no slot users configured")]
    NoSlots,
    #[error(
        "bubblewrap cannot make a user namespace here ({0}); on Ubuntu 23.10+ allow it with sysctl kernel.apparmor_restrict_unprivileged_userns=0"
    )]
    NoUserNamespace(String),
    #[error(
        "the slot users cannot reach the work dir {0}: every directory above it must be traversable by others (chmod o+x), or set [research] work_dir elsewhere"
    )]
    WorkDirUnreachable(PathBuf),
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid path inside a job: {0:?}")]
    BadPath(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Io { what, path, source }
}

/// What the operator configures.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub bwrap: PathBuf,
    /// The group the slot users share (owns the work dir and the staged files).
    pub group: String,
    /// One user per concurrent job slot.
    pub slot_users: Vec<String>,
    /// Where job directories are made (created `0710 root:GROUP`).
    pub work_dir: PathBuf,
    /// The cgroup file system root (normally `/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
}

impl SandboxConfig {
    pub fn new(work_dir: PathBuf) -> SandboxConfig {
        SandboxConfig {
            bwrap: PathBuf::from("/usr/bin/bwrap"),
            group: "weirjob".into(),
            slot_users: vec!["weirjob0".into(), "weirjob1".into()],
            work_dir,
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

/// A job slot: a dedicated host user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub index: usize,
    pub user: String,
    pub uid: u32,
}

/// Per-job limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_bytes: u64,
    /// CPU bandwidth, in cores.
    pub cpus: f64,
    pub pids: u32,
    pub wall: Duration,
    /// The largest single file a job may write (`RLIMIT_FSIZE`), also bounding its logs.
    pub file_bytes: u64,
    /// All of `/out` together.
    pub out_bytes: u64,
    /// At most this many entries in `/out`.
    pub out_files: usize,
    pub nofile: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 1 << 30,
            cpus: 1.0,
            pids: 64,
            wall: Duration::from_secs(600),
            file_bytes: 64 << 20,
            out_bytes: 64 << 20,
            out_files: 1000,
            nofile: 256,
        }
    }
}

/// What to run: argv inside the sandbox (an absolute path first), its environment besides
/// `PATH` and `HOME`.
#[derive(Debug, Clone)]
pub struct Spec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// More host files or directories mounted read-only (host path, absolute path inside), e.g.
    /// the built-in kinds' runner.
    pub extra_ro: Vec<(PathBuf, String)>,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The program exited with this code.
    Exited(i32),
    /// Killed by this signal (e.g. `SIGXFSZ` for a file over the cap, `SIGXCPU`).
    Signaled(i32),
    /// Still running at the wall-clock limit: killed.
    WallClock,
    /// Killed by the cgroup's OOM killer at the memory limit.
    OutOfMemory,
    /// Wrote more than the output cap: killed, and its outputs are not kept.
    OutputCap,
    /// Cancelled while running: killed.
    Cancelled,
}

impl Ending {
    pub fn succeeded(self) -> bool {
        self == Ending::Exited(0)
    }

    /// A short code for logs and events.
    pub fn code(self) -> String {
        match self {
            Ending::Exited(c) => format!("exit_{c}"),
            Ending::Signaled(s) => format!("signal_{s}"),
            Ending::WallClock => "wall_clock".into(),
            Ending::OutOfMemory => "out_of_memory".into(),
            Ending::OutputCap => "output_cap".into(),
            Ending::Cancelled => "cancelled".into(),
        }
    }
}

/// What a job did and used.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ending: Ending,
    pub wall_ms: u64,
    /// CPU time of every process of the job (`None` without cgroups).
    pub cpu_ms: Option<u64>,
    pub peak_memory: Option<u64>,
    /// Processes of the slot's user still alive after the sweep (0 unless something is badly
    /// wrong; the slot is then not reused).
    pub left_behind: usize,
    /// Which interface enforced the memory, CPU and pids limits (`None`: rlimits only).
    pub cgroup: Option<crate::CgroupVersion>,
}

/// A job's directories under the work dir: `weights/` and `code/` (read-only inside, staged by
/// the registry), `out/` (the slot user's), and the logs (the registry's, written through the
/// job's stdout and stderr).
#[derive(Debug, Clone)]
pub struct JobDir {
    pub root: PathBuf,
    pub weights: PathBuf,
    pub code: PathBuf,
    pub out: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    gid: u32,
}

/// A relative path of at most 16 components without `..`, absolute parts or NULs.
fn safe_rel(rel: &str) -> Result<PathBuf, SandboxError> {
    let p = Path::new(rel);
    let ok = !rel.is_empty()
        && !rel.contains('\0')
        && p.components().count() <= 16
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if ok {
        Ok(p.to_path_buf())
    } else {
        Err(SandboxError::BadPath(rel.to_string()))
    }
}

impl JobDir {
    fn chgrp(&self, path: &Path, mode: u32) -> Result<(), SandboxError> {
        std::os::unix::fs::chown(path, Some(0), Some(self.gid)).map_err(io("chown", path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(io("chmod", path))
    }

    fn make_parents(&self, base: &Path, rel: &Path) -> Result<PathBuf, SandboxError> {
        let target = base.join(rel);
        let mut dir = base.to_path_buf();
        if let Some(parent) = rel.parent() {
            for c in parent.components() {
                dir.push(c);
                if !dir.exists() {
                    std::fs::create_dir(&dir).map_err(io("mkdir", &dir))?;
                    self.chgrp(&dir, 0o750)?;
                }
            }
        }
        Ok(target)
    }

    /// Puts the blob at `src` at `weights/REL`: a hard link (the blob's mode becomes
    /// `0640 root:GROUP`, which nobody outside the group can reach through the data dir), or a
    /// copy when the work dir is on another file system.
    pub fn add_weight(&self, rel: &str, src: &Path) -> Result<(), SandboxError> {
        let rel = safe_rel(rel)?;
        let target = self.make_parents(&self.weights, &rel)?;
        if std::fs::hard_link(src, &target).is_err() {
            std::fs::copy(src, &target).map_err(io("copy", src))?;
        }
        self.chgrp(&target, 0o640)
    }

    /// Writes `code/REL` (`0750` when `executable`, else `0640`).
    pub fn add_code(&self, rel: &str, bytes: &[u8], executable: bool) -> Result<(), SandboxError> {
        let rel = safe_rel(rel)?;
        let target = self.make_parents(&self.code, &rel)?;
        std::fs::write(&target, bytes).map_err(io("write", &target))?;
        self.chgrp(&target, if executable { 0o750 } else { 0o640 })
    }

    /// The regular files the job left in `out/`, with their paths relative to it and sizes;
    /// symlinks, devices, fifos and anything else are skipped, never followed. At most `limit`
    /// entries are looked at.
    pub fn outputs(&self, limit: usize) -> Vec<(String, PathBuf, u64)> {
        let mut out = Vec::new();
        let mut stack = vec![self.out.clone()];
        let mut seen = 0usize;
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                seen += 1;
                if seen > limit {
                    return out;
                }
                let path = e.path();
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.file_type().is_dir() {
                    stack.push(path);
                } else if meta.file_type().is_file()
                    && let Ok(rel) = path.strip_prefix(&self.out)
                    && let Some(rel) = rel.to_str()
                {
                    out.push((rel.to_string(), path.clone(), meta.len()));
                }
            }
        }
        out.sort();
        out
    }

    /// Total bytes and entries under `out/` (not following symlinks), stopping past `limit`
    /// entries.
    ///
    /// Runs while the job does, so it walks by file descriptor: each directory is opened
    /// relative to its parent with `O_NOFOLLOW`, and a directory the job swaps for a symlink
    /// between two looks is never followed out of `out/`.
    fn out_usage(&self, limit: usize) -> (u64, usize) {
        use nix::fcntl::{AtFlags, OFlag};
        use nix::sys::stat::{Mode, SFlag, fstatat};
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut bytes = 0u64;
        let mut entries = 0usize;
        let Ok(root) = nix::dir::Dir::open(&self.out, flags, Mode::empty()) else {
            return (0, 0);
        };
        let mut stack = vec![root];
        while let Some(mut dir) = stack.pop() {
            let names: Vec<std::ffi::CString> = dir
                .iter()
                .flatten()
                .map(|e| e.file_name().to_owned())
                .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
                .collect();
            for name in names {
                entries += 1;
                if entries > limit {
                    return (bytes, entries);
                }
                let Ok(st) = fstatat(&dir, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
                    continue;
                };
                // Allocated blocks, so sparse files count for what they hold on disk too.
                bytes += (st.st_size.max(0) as u64).max(st.st_blocks.max(0) as u64 * 512);
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
                    && let Ok(sub) =
                        nix::dir::Dir::openat(&dir, name.as_c_str(), flags, Mode::empty())
                {
                    stack.push(sub);
                }
            }
        }
        (bytes, entries)
    }

    /// Removes the job's directories.
    pub fn remove(&self) -> Result<(), SandboxError> {
        std::fs::remove_dir_all(&self.root).map_err(io("remove", &self.root))
    }
}

/// The sandbox: the slot users, the cgroups, the seccomp programs, the work dir.
#[derive(Debug)]
pub struct Sandbox {
    bwrap: PathBuf,
    gid: u32,
    slots: Vec<Slot>,
    work_dir: PathBuf,
    cgroups: Cgroups,
    /// Distinguishes this sandbox's cgroups from another's on the same host.
    tag: String,
    deny_bpf: PathBuf,
    clone3_bpf: PathBuf,
}

fn which(tool: &'static str) -> Result<PathBuf, SandboxError> {
    for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(SandboxError::NoTool(tool))
}

/// Single-quotes `s` for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Sandbox {
    /// Checks everything the sandbox needs and prepares the work dir, the parent cgroups and
    /// the seccomp programs.
    pub fn open(cfg: &SandboxConfig) -> Result<Sandbox, SandboxError> {
        let uid = nix::unistd::getuid().as_raw();
        if uid != 0 {
            return Err(SandboxError::NotRoot(uid));
        }
        if !cfg.bwrap.exists() {
            return Err(SandboxError::NoBwrap(cfg.bwrap.clone()));
        }
        which("setpriv")?;
        which("prlimit")?;
        let group = nix::unistd::Group::from_name(&cfg.group)
            .ok()
            .flatten()
            .ok_or_else(|| SandboxError::NoGroup(cfg.group.clone()))?;
        let gid = group.gid.as_raw();
        if cfg.slot_users.is_empty() {
            return Err(SandboxError::NoSlots);
        }
        let mut slots = Vec::new();
        for (index, name) in cfg.slot_users.iter().enumerate() {
            let u = nix::unistd::User::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| SandboxError::NoUser(name.clone()))?;
            if u.uid.as_raw() == 0 {
                return Err(SandboxError::NoUser(format!(
                    "{name} (uid 0 is not a slot user)"
                )));
            }
            slots.push(Slot {
                index,
                user: name.clone(),
                uid: u.uid.as_raw(),
            });
        }
        let work = &cfg.work_dir;
        std::fs::create_dir_all(work).map_err(io("mkdir", work))?;
        std::os::unix::fs::chown(work, Some(0), Some(gid)).map_err(io("chown", work))?;
        std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o710))
            .map_err(io("chmod", work))?;
        let deny_bpf = work.join("seccomp-deny.bpf");
        let clone3_bpf = work.join("seccomp-clone3.bpf");
        for (path, prog) in [
            (&deny_bpf, crate::seccomp::deny_list()?),
            (&clone3_bpf, crate::seccomp::no_clone3()?),
        ] {
            std::fs::write(path, prog).map_err(io("write", path))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(io("chmod", path))?;
        }
        let sandbox = Sandbox {
            bwrap: cfg.bwrap.clone(),
            gid,
            slots,
            work_dir: work.clone(),
            cgroups: Cgroups::detect(&cfg.cgroup_root),
            tag: {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                work.hash(&mut h);
                std::process::id().hash(&mut h);
                format!("{:08x}", h.finish() as u32)
            },
            deny_bpf,
            clone3_bpf,
        };
        sandbox.check_userns()?;
        sandbox.check_work_dir()?;
        Ok(sandbox)
    }

    /// Runs `/usr/bin/true` under bwrap as the first slot user, with `extra` mounts: the
    /// start-up checks, so a host that cannot run jobs says so at once, not at the first job.
    /// Waits for the slot to be free (a running job in it holds it up to its wall clock).
    fn probe(&self, extra: &[&std::ffi::OsStr]) -> Result<std::process::Output, SandboxError> {
        let slot = &self.slots[0];
        // The slot's lock: a job of another process in this slot ends with a sweep that kills
        // every process of the slot user, this probe included.
        let _held = lock_slot(slot.uid)?;
        std::process::Command::new("setpriv")
            .args([
                "--reuid",
                &slot.uid.to_string(),
                "--regid",
                &self.gid.to_string(),
                "--clear-groups",
                "--",
            ])
            .arg(&self.bwrap)
            .args([
                "--unshare-all",
                "--unshare-user",
                "--ro-bind",
                "/usr",
                "/usr",
            ])
            .args([
                "--symlink",
                "usr/lib",
                "/lib",
                "--symlink",
                "usr/lib64",
                "/lib64",
            ])
            .args(extra)
            .arg("/usr/bin/true")
            .env_clear()
            .output()
            .map_err(io("running", &self.bwrap))
    }

    /// The host lets the slot users make a user namespace.
    fn check_userns(&self) -> Result<(), SandboxError> {
        let out = self.probe(&[])?;
        if out.status.success() {
            Ok(())
        } else {
            Err(SandboxError::NoUserNamespace(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }

    /// bubblewrap resolves a job's mounts as the slot user: the work dir must be reachable.
    fn check_work_dir(&self) -> Result<(), SandboxError> {
        let out = self.probe(&[
            "--ro-bind".as_ref(),
            self.work_dir.as_os_str(),
            "/work".as_ref(),
        ])?;
        if out.status.success() {
            Ok(())
        } else {
            Err(SandboxError::WorkDirUnreachable(self.work_dir.clone()))
        }
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn cgroup_version(&self) -> Option<crate::CgroupVersion> {
        self.cgroups.version()
    }

    /// Makes the directories of job `name` (a fresh, empty set) for `slot`.
    pub fn job_dir(&self, name: &str, slot: &Slot) -> Result<JobDir, SandboxError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SandboxError::BadPath(name.to_string()));
        }
        let root = self.work_dir.join(name);
        if root.exists() {
            std::fs::remove_dir_all(&root).map_err(io("remove", &root))?;
        }
        let j = JobDir {
            weights: root.join("weights"),
            code: root.join("code"),
            out: root.join("out"),
            stdout: root.join("stdout.log"),
            stderr: root.join("stderr.log"),
            root,
            gid: self.gid,
        };
        std::fs::create_dir(&j.root).map_err(io("mkdir", &j.root))?;
        j.chgrp(&j.root, 0o710)?;
        for d in [&j.weights, &j.code] {
            std::fs::create_dir(d).map_err(io("mkdir", d))?;
            j.chgrp(d, 0o750)?;
        }
        std::fs::create_dir(&j.out).map_err(io("mkdir", &j.out))?;
        std::os::unix::fs::chown(&j.out, Some(slot.uid), Some(self.gid))
            .map_err(io("chown", &j.out))?;
        std::fs::set_permissions(&j.out, std::fs::Permissions::from_mode(0o700))
            .map_err(io("chmod", &j.out))?;
        Ok(j)
    }

    /// The argument list: `sh -c SCRIPT prlimit … -- setpriv … -- bwrap … -- ARGV`.
    fn command(
        &self,
        slot: &Slot,
        job: &JobDir,
        spec: &Spec,
        cg: Option<&JobCgroup>,
    ) -> Vec<String> {
        let l = &spec.limits;
        let mut script = String::from("set -e; ");
        if let Some(cg) = cg {
            for f in cg.procs_files() {
                script.push_str(&format!("echo $$ > {}; ", sh_quote(&f.to_string_lossy())));
            }
        }
        script.push_str(&format!(
            "exec 3< {} 4< {}; exec \"$0\" \"$@\"",
            sh_quote(&self.deny_bpf.to_string_lossy()),
            sh_quote(&self.clone3_bpf.to_string_lossy())
        ));
        let mut a: Vec<String> = vec!["-c".into(), script, "prlimit".into()];
        a.push(format!("--fsize={}", l.file_bytes.min(l.out_bytes)));
        a.push(format!("--nofile={}", l.nofile));
        a.push("--core=0".into());
        // Per slot user, so it bounds the job's processes even without cgroups (threads count).
        a.push(format!("--nproc={}", l.pids.saturating_add(8)));
        if cg.is_none() {
            a.push(format!("--as={}", l.memory_bytes));
            let cpu_secs = (l.wall.as_secs_f64() * l.cpus.max(0.01)).ceil() as u64;
            a.push(format!("--cpu={}", cpu_secs.max(1)));
        }
        a.extend(
            [
                "--",
                "setpriv",
                "--reuid",
                &slot.uid.to_string(),
                "--regid",
                &self.gid.to_string(),
                "--clear-groups",
                "--",
            ]
            .map(String::from),
        );
        a.push(self.bwrap.to_string_lossy().into_owned());
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        a.extend(s(&[
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--hostname",
            "enclave",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin",
            "--setenv",
            "HOME",
            "/out",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/sbin",
            "/sbin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
        ]));
        for etc in ["/etc/ld.so.cache", "/etc/alternatives"] {
            if Path::new(etc).exists() {
                a.extend(s(&["--ro-bind", etc, etc]));
            }
        }
        a.extend(s(&[
            "--proc", "/proc", "--dev", "/dev", "--size", "67108864", "--tmpfs", "/tmp",
        ]));
        for (host, inside, writable) in [
            (&job.weights, "/weights", false),
            (&job.code, "/job", false),
            (&job.out, "/out", true),
        ] {
            a.push(if writable { "--bind" } else { "--ro-bind" }.into());
            a.push(host.to_string_lossy().into_owned());
            a.push(inside.into());
        }
        for (host, inside) in &spec.extra_ro {
            a.push("--ro-bind".into());
            a.push(host.to_string_lossy().into_owned());
            a.push(inside.clone());
        }
        for (k, v) in &spec.env {
            a.extend(["--setenv".into(), k.clone(), v.clone()]);
        }
        a.extend(s(&[
            "--add-seccomp-fd",
            "3",
            "--add-seccomp-fd",
            "4",
            "--remount-ro",
            "/",
            "--chdir",
            "/out",
            "--",
        ]));
        a.extend(spec.argv.iter().cloned());
        a
    }

    /// Runs `spec` in `job`'s directories as `slot`: returns when the job and every process it
    /// made are gone.
    ///
    /// The slot is held for the whole run by a lock file shared by every process on the host
    /// (`/run/weir-enclave/slot-UID.lock`): the sweep kills whatever the slot's user runs, so two
    /// registries (or two test runs) on one host never share a slot at once.
    pub async fn run(
        &self,
        slot: &Slot,
        job: &JobDir,
        spec: &Spec,
    ) -> Result<Outcome, SandboxError> {
        self.run_cancellable(slot, job, spec, &|| false).await
    }

    /// [`Sandbox::run`], also killing the job as soon as `cancelled()` says so (asked every
    /// 50 ms).
    pub async fn run_cancellable(
        &self,
        slot: &Slot,
        job: &JobDir,
        spec: &Spec,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<Outcome, SandboxError> {
        let _held = hold_slot(slot.uid).await?;
        let l = spec.limits;
        let name = format!(
            "{}-{}",
            self.tag,
            job.root
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("job")
        );
        let cg = self
            .cgroups
            .create(
                &name,
                CgroupLimits {
                    memory_bytes: l.memory_bytes,
                    milli_cpus: (l.cpus * 1000.0).round().max(10.0) as u64,
                    pids: u64::from(l.pids),
                },
            )
            .map_err(io("cgroup", &self.work_dir))?;
        let args = self.command(slot, job, spec, cg.as_ref());
        let stdout = std::fs::File::create(&job.stdout).map_err(io("create", &job.stdout))?;
        let stderr = std::fs::File::create(&job.stderr).map_err(io("create", &job.stderr))?;
        let started = Instant::now();
        let mut child = tokio::process::Command::new("/bin/sh")
            .args(&args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(io("starting", Path::new("/bin/sh")))?;
        let deadline = started + l.wall;
        let mut over_cap = false;
        let mut was_cancelled = false;
        let status = loop {
            let tick = tokio::time::sleep(Duration::from_millis(50));
            tokio::select! {
                s = child.wait() => break Some(s.map_err(io("waiting for", &self.bwrap))?),
                _ = tick => {
                    let (bytes, entries) = job.out_usage(l.out_files);
                    if bytes > l.out_bytes || entries > l.out_files {
                        over_cap = true;
                        break None;
                    }
                    if Instant::now() >= deadline {
                        break None;
                    }
                    if cancelled() {
                        was_cancelled = true;
                        break None;
                    }
                }
            }
        };
        if status.is_none() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        let wall_ms = started.elapsed().as_millis() as u64;
        let usage = cg.as_ref().map(|c| c.usage()).unwrap_or_default();
        let uid = slot.uid;
        let left_behind = tokio::task::spawn_blocking(move || {
            cg.as_ref().map(|c| c.destroy()).unwrap_or(0) + sweep_user(uid)
        })
        .await
        .unwrap_or(usize::MAX);
        // The cap is checked once more at the end: a burst between two looks does not slip by.
        let (bytes, entries) = job.out_usage(l.out_files);
        over_cap |= bytes > l.out_bytes || entries > l.out_files;
        let ending = if was_cancelled {
            Ending::Cancelled
        } else if over_cap {
            Ending::OutputCap
        } else if usage.oom_killed {
            Ending::OutOfMemory
        } else {
            match status {
                None => Ending::WallClock,
                Some(s) => {
                    use std::os::unix::process::ExitStatusExt;
                    match (s.code(), s.signal()) {
                        // bwrap reports a child killed by signal N as 128 + N.
                        (Some(c), _) if c > 128 && c < 160 => Ending::Signaled(c - 128),
                        (Some(c), _) => Ending::Exited(c),
                        (None, Some(sig)) => Ending::Signaled(sig),
                        (None, None) => Ending::Signaled(0),
                    }
                }
            }
        };
        Ok(Outcome {
            ending,
            wall_ms,
            cpu_ms: usage.cpu_ms,
            peak_memory: usage.peak_memory,
            left_behind,
            cgroup: self.cgroups.version(),
        })
    }
}

const LOCK_DIR: &str = "/run/weir-enclave";

/// Waits for the host-wide lock of the slot of `uid`, blocking the thread.
fn lock_slot(uid: u32) -> Result<nix::fcntl::Flock<std::fs::File>, SandboxError> {
    let dir = Path::new(LOCK_DIR);
    std::fs::create_dir_all(dir).map_err(io("mkdir", dir))?;
    let path = dir.join(format!("slot-{uid}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| {
        SandboxError::Io {
            what: "lock",
            path,
            source: std::io::Error::from(e),
        }
    })
}

/// Waits for the host-wide lock of the slot of `uid`.
async fn hold_slot(uid: u32) -> Result<nix::fcntl::Flock<std::fs::File>, SandboxError> {
    tokio::task::spawn_blocking(move || lock_slot(uid))
        .await
        .map_err(|e| SandboxError::Io {
            what: "lock",
            path: PathBuf::from(LOCK_DIR),
            source: std::io::Error::other(e),
        })?
}

/// The pids of processes whose real uid is `uid`.
fn pids_of_user(uid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let real = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u32>().ok());
        // A zombie runs nothing and holds nothing but its pid until its parent (or init)
        // reaps it.
        let zombie = status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|v| v.trim_start().starts_with('Z'));
        if real == Some(uid) && !zombie {
            out.push(pid);
        }
    }
    out
}

/// Kills every process of the slot's user (the user runs nothing but jobs); how many survive.
fn sweep_user(uid: u32) -> usize {
    for _ in 0..100 {
        let pids = pids_of_user(uid);
        if pids.is_empty() {
            return 0;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    pids_of_user(uid).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_paths_stay_inside() {
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "a\0b"] {
            assert!(safe_rel(bad).is_err(), "{bad:?}");
        }
        assert!(safe_rel("model.safetensors").is_ok());
        assert!(safe_rel("sub/dir/config.json").is_ok());
        assert_eq!(sh_quote("a'b"), "'a'\\''b'");
    }
}
