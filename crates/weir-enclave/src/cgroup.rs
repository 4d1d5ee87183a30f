//! Per-job cgroups: memory, CPU and pids limits, the job's CPU time and peak memory, whether it
//! was OOM-killed, and killing whatever is left in it. cgroup v2 where its controllers are
//! available, v1 where they are bound there (as on hybrid hosts), none where no controller is
//! writable: then the limits fall back to rlimits (`RLIMIT_AS`, `RLIMIT_CPU`, `RLIMIT_NPROC`) and
//! CPU time and peak memory are not measured (`Outcome::cpu_ms` is `None`).

use std::path::{Path, PathBuf};

/// Which cgroup interface enforces the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

impl CgroupVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }
    }
}

/// Where job cgroups are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    /// One parent in the unified hierarchy with memory, cpu and pids enabled for its children.
    V2 { parent: PathBuf },
    /// One parent per v1 controller.
    V1 {
        memory: PathBuf,
        cpu: PathBuf,
        cpuacct: Option<PathBuf>,
        pids: PathBuf,
    },
    /// No writable controller: rlimits only.
    None,
}

/// The limits a job cgroup enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLimits {
    pub memory_bytes: u64,
    /// CPU bandwidth in thousandths of a CPU (1000 = one core).
    pub milli_cpus: u64,
    pub pids: u64,
}

/// What a job's cgroup measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_ms: Option<u64>,
    pub peak_memory: Option<u64>,
    pub oom_killed: bool,
}

const PARENT: &str = "weir-enclave";
const CPU_PERIOD_US: u64 = 100_000;

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("writing {value:?} to {}: {e}", path.display()),
        )
    })
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key value` lines (`memory.events`, `cpu.stat`, `memory.oom_control`).
fn read_key(path: &Path, key: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

impl Cgroups {
    /// Finds a writable cgroup interface under `root` (normally `/sys/fs/cgroup`) and makes the
    /// registry's parent cgroups; `Cgroups::None` when there is none.
    pub fn detect(root: &Path) -> Cgroups {
        match Cgroups::try_v2(root) {
            Ok(Some(c)) => return c,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cgroup v2 not usable for the sandbox"),
        }
        match Cgroups::try_v1(root) {
            Ok(Some(c)) => c,
            Ok(None) => Cgroups::None,
            Err(e) => {
                tracing::warn!(error = %e, "cgroup v1 not usable for the sandbox");
                Cgroups::None
            }
        }
    }

    fn try_v2(root: &Path) -> std::io::Result<Option<Cgroups>> {
        let controllers = match std::fs::read_to_string(root.join("cgroup.controllers")) {
            Ok(c) => c,
            Err(_) => return Ok(None),
        };
        let have: Vec<&str> = controllers.split_whitespace().collect();
        if !["memory", "cpu", "pids"].iter().all(|c| have.contains(c)) {
            return Ok(None);
        }
        write(&root.join("cgroup.subtree_control"), "+memory +cpu +pids")?;
        let parent = root.join(PARENT);
        std::fs::create_dir_all(&parent)?;
        write(&parent.join("cgroup.subtree_control"), "+memory +cpu +pids")?;
        Ok(Some(Cgroups::V2 { parent }))
    }

    fn try_v1(root: &Path) -> std::io::Result<Option<Cgroups>> {
        let dir = |c: &str| root.join(c);
        let (memory, cpu, pids) = (dir("memory"), dir("cpu"), dir("pids"));
        if ![&memory, &cpu, &pids]
            .iter()
            .all(|d| d.join("cgroup.procs").exists())
        {
            return Ok(None);
        }
        let mut made = Vec::new();
        for d in [&memory, &cpu, &pids] {
            let p = d.join(PARENT);
            std::fs::create_dir_all(&p)?;
            made.push(p);
        }
        let cpuacct = dir("cpuacct");
        let cpuacct = if cpuacct.join("cpuacct.usage").exists() {
            let p = cpuacct.join(PARENT);
            std::fs::create_dir_all(&p)?;
            Some(p)
        } else if cpu.join("cpuacct.usage").exists() {
            // cpu and cpuacct mounted together.
            None
        } else {
            None
        };
        Ok(Some(Cgroups::V1 {
            memory: made[0].clone(),
            cpu: made[1].clone(),
            pids: made[2].clone(),
            cpuacct,
        }))
    }

    pub fn version(&self) -> Option<CgroupVersion> {
        match self {
            Cgroups::V2 { .. } => Some(CgroupVersion::V2),
            Cgroups::V1 { .. } => Some(CgroupVersion::V1),
            Cgroups::None => None,
        }
    }

    /// Makes the cgroup of job `name` with `limits`. Returns `None` with [`Cgroups::None`].
    pub fn create(&self, name: &str, limits: CgroupLimits) -> std::io::Result<Option<JobCgroup>> {
        let dirs: Vec<PathBuf> = match self {
            Cgroups::None => return Ok(None),
            Cgroups::V2 { parent } => vec![parent.join(name)],
            Cgroups::V1 {
                memory,
                cpu,
                cpuacct,
                pids,
            } => {
                let mut d = vec![memory.join(name), cpu.join(name), pids.join(name)];
                if let Some(a) = cpuacct {
                    d.push(a.join(name));
                }
                d
            }
        };
        for d in &dirs {
            // A leftover of a crashed run under the same name: empty it first.
            if d.exists() {
                kill_all(d);
                let _ = std::fs::remove_dir(d);
            }
            std::fs::create_dir(d)?;
        }
        let cg = JobCgroup {
            version: self.version().unwrap_or(CgroupVersion::V2),
            dirs,
        };
        cg.set_limits(limits)?;
        Ok(Some(cg))
    }
}

/// One job's cgroup (one directory per v1 controller, or one v2 directory).
#[derive(Debug)]
pub struct JobCgroup {
    version: CgroupVersion,
    dirs: Vec<PathBuf>,
}

impl JobCgroup {
    fn set_limits(&self, l: CgroupLimits) -> std::io::Result<()> {
        let quota = (l.milli_cpus.max(10) * CPU_PERIOD_US / 1000).max(1000);
        match self.version {
            CgroupVersion::V2 => {
                let d = &self.dirs[0];
                write(&d.join("memory.max"), &l.memory_bytes.to_string())?;
                // No swap: the limit is the limit (absent when swap accounting is off).
                let _ = write(&d.join("memory.swap.max"), "0");
                write(&d.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
                write(&d.join("pids.max"), &l.pids.to_string())?;
            }
            CgroupVersion::V1 => {
                let (mem, cpu, pids) = (&self.dirs[0], &self.dirs[1], &self.dirs[2]);
                write(
                    &mem.join("memory.limit_in_bytes"),
                    &l.memory_bytes.to_string(),
                )?;
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &l.memory_bytes.to_string())?;
                }
                write(&cpu.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
                write(&pids.join("pids.max"), &l.pids.to_string())?;
            }
        }
        Ok(())
    }

    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The `cgroup.procs` files a process writes its pid into to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// CPU time, peak memory and OOM kills so far.
    pub fn usage(&self) -> Usage {
        match self.version {
            CgroupVersion::V2 => {
                let d = &self.dirs[0];
                Usage {
                    cpu_ms: read_key(&d.join("cpu.stat"), "usage_usec").map(|u| u / 1000),
                    peak_memory: read_u64(&d.join("memory.peak")),
                    oom_killed: read_key(&d.join("memory.events"), "oom_kill").unwrap_or(0) > 0,
                }
            }
            CgroupVersion::V1 => {
                let mem = &self.dirs[0];
                let acct = self.dirs.get(3).unwrap_or(&self.dirs[1]);
                Usage {
                    cpu_ms: read_u64(&acct.join("cpuacct.usage")).map(|ns| ns / 1_000_000),
                    peak_memory: read_u64(&mem.join("memory.max_usage_in_bytes")),
                    oom_killed: read_key(&mem.join("memory.oom_control"), "oom_kill").unwrap_or(0)
                        > 0,
                }
            }
        }
    }

    /// The pids in the cgroup now.
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for d in &self.dirs {
            for p in procs(d) {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Kills every process in the cgroup, then removes it. Returns how many were left alive.
    pub fn destroy(&self) -> usize {
        let mut left = 0;
        for d in &self.dirs {
            left += kill_all(d);
        }
        for d in &self.dirs {
            for _ in 0..50 {
                if std::fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        left
    }
}

/// The live (not zombie) processes of a cgroup.
fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|p: &i32| !zombie(*p))
        .collect()
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// SIGKILLs the processes of `dir` until none is left (at most about a second); the number
/// still there after that.
fn kill_all(dir: &Path) -> usize {
    for _ in 0..100 {
        let pids = procs(dir);
        if pids.is_empty() {
            return 0;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    procs(dir).len()
}
