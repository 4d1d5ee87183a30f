//! The seccomp programs every job runs under, built with `seccompiler` and handed to bwrap as
//! raw BPF (`--add-seccomp-fd`). Two programs: the deny list answers `EPERM`; `clone3` answers
//! `ENOSYS`, so the C library falls back to `clone`, whose flags the deny list can see (a new
//! namespace is refused; threads and processes are not).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Why a program could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the seccomp filter: {0}")]
pub struct SeccompError(String);

fn err(e: impl std::fmt::Display) -> SeccompError {
    SeccompError(e.to_string())
}

/// Syscalls no job may make, whatever their arguments.
const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_userfaultfd,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_fanotify_init,
    libc::SYS_lookup_dcookie,
    libc::SYS_syslog,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
];

/// `clone` flags that make a namespace.
const NAMESPACE_FLAGS: &[u64] = &[
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWCGROUP as u64,
];

fn arch() -> Result<TargetArch, SeccompError> {
    std::env::consts::ARCH.try_into().map_err(err)
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SeccompError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(err)
}

/// The deny list (`EPERM`): [`DENIED`], sockets of every family but `AF_UNIX`, and `clone` with
/// a namespace flag.
pub fn deny_list() -> Result<Vec<u8>, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for s in DENIED {
        rules.insert(*s, vec![]);
    }
    for s in [libc::SYS_socket, libc::SYS_socketpair] {
        rules.insert(
            s,
            vec![
                SeccompRule::new(vec![cond(0, SeccompCmpOp::Ne, libc::AF_UNIX as u64)?])
                    .map_err(err)?,
            ],
        );
    }
    let clone_rules = NAMESPACE_FLAGS
        .iter()
        .map(|f| SeccompRule::new(vec![cond(0, SeccompCmpOp::MaskedEq(*f), *f)?]).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    program(rules, SeccompAction::Errno(libc::EPERM as u32))
}

/// `clone3` answers `ENOSYS` (its flags are in memory the filter cannot read).
pub fn no_clone3() -> Result<Vec<u8>, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_clone3, vec![]);
    program(rules, SeccompAction::Errno(libc::ENOSYS as u32))
}

fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    on_match: SeccompAction,
) -> Result<Vec<u8>, SeccompError> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, on_match, arch()?).map_err(err)?;
    let bpf: BpfProgram = filter.try_into().map_err(err)?;
    let mut out = Vec::with_capacity(bpf.len() * 8);
    for ins in bpf {
        out.extend_from_slice(&ins.code.to_ne_bytes());
        out.push(ins.jt);
        out.push(ins.jf);
        out.extend_from_slice(&ins.k.to_ne_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programs_build_for_this_machine() {
        let deny = deny_list().expect("deny list");
        assert!(deny.len().is_multiple_of(8));
        assert!(
            deny.len() / 8 > DENIED.len(),
            "{} instructions",
            deny.len() / 8
        );
        // The kernel takes at most 4096 instructions.
        assert!(deny.len() / 8 < 4096);
        let clone3 = no_clone3().expect("clone3");
        assert!(!clone3.is_empty() && clone3.len().is_multiple_of(8));
    }
}
