//! The secure research environment's sandbox (issue 13, point 3): a job runs as a dedicated
//! per-slot user under bubblewrap, with the weights and its code read-only, one writable output
//! directory with a size cap, no network at all (its own network namespace, and a seccomp filter
//! that refuses every socket family but Unix, `ptrace`, `mount`, `bpf`, `io_uring_*`, new
//! namespaces, …), cgroup memory, CPU and pids limits (v2, or v1 where the controllers are bound
//! there), rlimits (FSIZE, NOFILE, NPROC, CORE), a wall-clock kill, and a sweep that leaves no
//! process of the slot's user behind. Nothing of the registry (its data dir, its secrets, other
//! jobs) is mounted.
//!
//! How a job starts, and why each step is there:
//! 1. `sh` (as root, the registry's own user) joins the job's cgroups and opens the seccomp
//!    programs on fds 3 and 4, then `exec`s
//! 2. `prlimit`, which sets the rlimits and `exec`s
//! 3. `setpriv --reuid SLOT --regid GROUP --clear-groups`, which drops every privilege, then
//! 4. `bwrap` as the slot's user: new user, mount, pid, network, ipc, uts and cgroup namespaces,
//!    `--disable-userns`, `--cap-drop ALL`, `--die-with-parent`, `--new-session`, `--clearenv`,
//!    `/` read-only, `/usr` read-only, `/weights` and `/job` read-only, `/out` writable.
//!
//! The job's directories live under the sandbox's work dir, which only the job group can
//! traverse (`0710 root:GROUP`); weight files are hard links to the registry's blobs (the blob's
//! mode becomes `0640 root:GROUP`; the data dir itself stays `0700`), the output dir belongs to the
//! slot's user (`0700`), so one slot never reads another's outputs.
//!
//! The sandbox needs root (to switch to the slot users and to write cgroups), `bwrap`, `setpriv`
//! and `prlimit` (util-linux), a group and one user per slot (`README.md`, "The sandbox").

pub mod cgroup;
pub mod sandbox;
pub mod seccomp;

pub use cgroup::{CgroupVersion, Cgroups};
pub use sandbox::{
    Ending, JobDir, Limits, Outcome, Sandbox, SandboxConfig, SandboxError, Slot, Spec,
};
