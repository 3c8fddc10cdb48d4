//! The two places Manifold needs the OS directly: making a child die with Manifold
//! (parent-death signal, set between fork and exec) and signalling a child's process group.
#![allow(unsafe_code)]

/// Arranges for the child to be killed when Manifold dies, however it dies (`kill -9` included).
pub(crate) fn die_with_parent(cmd: &mut tokio::process::Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only calls async-signal-safe
    // functions (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Sends `signal` to every process in the group led by `pid`.
pub(crate) fn signal_group(pid: u32, signal: libc::c_int) {
    // SAFETY: killpg has no memory-safety preconditions; a stale pid only yields ESRCH.
    unsafe {
        libc::killpg(pid as libc::pid_t, signal);
    }
}
