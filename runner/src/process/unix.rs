//! Every OS-specific piece of process control, in one place: process groups,
//! signals, signal names and exit statuses. The rest of the executor speaks
//! in plain Rust types.

use crate::model::Exit;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

pub use libc::{SIGKILL, SIGTERM};

/// Puts the child in a process group of its own (pgid = its pid), so one
/// signal reaches the whole suite and the terminal's Ctrl-C reaches only the
/// runner, which then stops the suites itself.
pub fn own_process_group(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

/// Sends `signal` to every process of the group `pgid`. False when the group
/// no longer exists.
pub fn signal_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // A pgid of 0 or 1 would mean "our own group" or init's: never signal those.
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg only reads its arguments.
    unsafe { libc::killpg(pgid, signal) == 0 }
}

/// Sends `signal` to one process.
pub fn signal_pid(pid: u32, signal: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 1 {
        return false;
    }
    // SAFETY: kill only reads its arguments.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// True while a process with this pid exists (zombies included).
pub fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 checks existence and permission without sending anything.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// True while the process group has any member.
pub fn group_exists(pgid: u32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // SAFETY: as above, signal 0 sends nothing.
    pgid > 1 && unsafe { libc::killpg(pgid, 0) == 0 }
}

/// Makes memtest the reaper of every orphan among its descendants (Linux's
/// `PR_SET_CHILD_SUBREAPER`, as systemd, tini and container runtimes do): a
/// process of a suite whose parent exits is re-parented to memtest instead
/// of init, so it stays memtest's to kill and to reap. False where the
/// platform has no such thing (macOS): there the kill-time sweep alone
/// finds orphans. Idempotent.
pub fn become_child_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only sets a flag on this
        // process; the unused arguments are zero as the manual asks.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Reaps `pid` if it is a child of this process that has exited, without
/// blocking. True when it was reaped now. Only for processes memtest
/// adopted (orphans of a suite, see [`become_child_subreaper`]): a child
/// that other code waits for must never be passed here.
pub fn reap_if_exited(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 1 {
        return false;
    }
    let mut status: libc::c_int = 0;
    // SAFETY: waitpid writes the status we pass; WNOHANG never blocks.
    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == pid }
}

/// "SIGSEGV" for 11, and so on; "SIG<n>" for signals without a common name.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("SIG{signal}"),
    };
    name.to_string()
}

/// How a reaped process ended.
pub fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code { code },
        (None, Some(signal)) => Exit::Signal {
            signal,
            name: signal_name(signal),
        },
        // Neither: stopped/continued statuses are never returned by wait().
        (None, None) => Exit::Code { code: -1 },
    }
}

/// The signal that ended a process the runner stopped: the one it died of,
/// or SIGTERM when it exited by itself in reaction to SIGTERM.
pub fn stopping_signal(status: ExitStatus) -> i32 {
    status.signal().unwrap_or(SIGTERM)
}

/// Waits for the child `pid` (blocking) and reaps it: its exit status and its
/// maximum resident set size in bytes from `wait4`'s rusage. The caller owns
/// the reaping: nothing else may wait for `pid`, so until this returns the
/// pid cannot be reused and signalling it stays safe.
///
/// `ru_maxrss` is KiB on Linux and bytes on macOS. On Linux it starts from
/// the spawner's own peak (the forked child inherits it until exec), so it
/// is only a usable exact peak elsewhere; see exec.
pub fn wait_reaping(pid: u32) -> std::io::Result<(ExitStatus, u64)> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: wait4 writes the status and the zeroed rusage we pass.
        let (ret, usage) = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let ret = libc::wait4(pid, &mut status, 0, &mut usage);
            (ret, usage)
        };
        if ret == pid {
            let maxrss = u64::try_from(usage.ru_maxrss).unwrap_or(0);
            return Ok((ExitStatus::from_raw(status), maxrss_bytes(maxrss)));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `ru_maxrss` in bytes: the kernel reports KiB on Linux, bytes on macOS.
pub fn maxrss_bytes(ru_maxrss: u64) -> u64 {
    if cfg!(target_os = "macos") {
        ru_maxrss
    } else {
        ru_maxrss.saturating_mul(1024)
    }
}

/// CPU time (user + system) this process has used, in microseconds; for the
/// sampler benchmark.
pub fn own_cpu_micros() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_exits() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(signal_name(libc::SIGABRT), "SIGABRT");
        assert_eq!(signal_name(63), "SIG63");
        assert_eq!(
            exit_of(ExitStatus::from_raw(3 << 8)),
            Exit::Code { code: 3 }
        );
        assert_eq!(
            exit_of(ExitStatus::from_raw(libc::SIGSEGV)),
            Exit::Signal {
                signal: libc::SIGSEGV,
                name: "SIGSEGV".into()
            }
        );
        assert_eq!(stopping_signal(ExitStatus::from_raw(0)), SIGTERM);
        assert_eq!(stopping_signal(ExitStatus::from_raw(SIGKILL)), SIGKILL);
    }

    #[test]
    #[allow(clippy::zombie_processes)] // wait_reaping is the wait
    fn reaping_gives_the_status_and_a_peak() {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "exit 7"]);
        own_process_group(&mut cmd);
        let child = cmd.spawn().unwrap();
        let (status, maxrss) = wait_reaping(child.id()).unwrap();
        assert_eq!(status.code(), Some(7));
        assert!(maxrss > 100_000, "a shell peaks above 100 KB: {maxrss}");
        assert!(!pid_exists(child.id()), "reaped, not a zombie");
        assert_eq!(
            maxrss_bytes(2),
            if cfg!(target_os = "macos") { 2 } else { 2048 }
        );
    }

    #[test]
    fn refuses_to_signal_init_or_our_own_group() {
        assert!(!signal_group(0, 0));
        assert!(!signal_group(1, 0));
        assert!(!signal_pid(1, 0));
        assert!(pid_exists(std::process::id()));
    }
}
