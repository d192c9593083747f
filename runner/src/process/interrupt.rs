//! Ctrl-C for a whole run, not only its suites. One SIGINT handler is
//! installed before the first stage and turns the signal into a flag that
//! every stage sees: the executor awaits it, and the stages that wait on a
//! child process (cargo, runtime setup) poll it and stop that child's process
//! group. Without it, Ctrl-C during the build killed memtest by the signal's
//! default action: no clean exit code, no cleared status line, and cargo's
//! rustc processes left to finish on their own.

use super::unix::{self as process_unix, SIGKILL};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a blocking stage looks at the flag while its child runs.
const POLL: Duration = Duration::from_millis(50);

/// Whether the user asked the run to stop; cheap to clone and to check.
#[derive(Debug, Clone)]
pub struct Interrupt {
    flag: watch::Receiver<bool>,
}

/// Sets an [`Interrupt`] by hand (tests, and the signal listener).
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Interrupt {
    /// An interrupt that only `Trigger::fire` sets.
    pub fn manual() -> (Trigger, Interrupt) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Interrupt { flag: rx })
    }

    /// Listens for SIGINT on `runtime`. The handler is installed before this
    /// returns, so a Ctrl-C from then on can no longer kill the process.
    pub fn on_sigint(runtime: &tokio::runtime::Runtime) -> std::io::Result<Interrupt> {
        use tokio::signal::unix::{signal, SignalKind};
        let (trigger, interrupt) = Interrupt::manual();
        let mut sigint = runtime.block_on(async { signal(SignalKind::interrupt()) })?;
        runtime.spawn(async move {
            // Every further Ctrl-C lands here too, and changes nothing: the
            // run is already stopping, within each child's grace period.
            if sigint.recv().await.is_some() {
                trigger.fire();
                std::future::pending::<()>().await;
            }
        });
        Ok(interrupt)
    }

    pub fn is_set(&self) -> bool {
        *self.flag.borrow()
    }

    /// Completes once the interrupt is set (at once if it already is).
    pub async fn wait(mut self) {
        if self.flag.wait_for(|set| *set).await.is_err() {
            // The trigger is gone without firing: it never will.
            std::future::pending::<()>().await;
        }
    }
}

/// Waits for `child`, which must lead its own process group
/// (`CommandExt::process_group(0)`). On interrupt, sends `signal` to the
/// group, then SIGKILL if anything of it is left after `grace`, reaps the
/// child and returns `None`.
pub fn wait_or_stop(
    child: &mut Child,
    interrupt: &Interrupt,
    signal: i32,
    grace: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    let pgid = child.id();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if interrupt.is_set() {
            break;
        }
        std::thread::sleep(POLL);
    }
    process_unix::signal_group(pgid, signal);
    let deadline = Instant::now() + grace;
    let mut reaped = false;
    // The leader may go first while its children (rustc under cargo) are
    // still stopping: wait for the whole group, not just the leader.
    while Instant::now() < deadline {
        reaped = reaped || child.try_wait()?.is_some();
        if reaped && !process_unix::group_exists(pgid) {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
    process_unix::signal_group(pgid, SIGKILL);
    child.wait()?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    fn group_of_sleepers(script: &str) -> Child {
        Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn a_finished_child_is_waited_for_as_usual() {
        let (_trigger, interrupt) = Interrupt::manual();
        let mut child = group_of_sleepers("exit 3");
        let status = wait_or_stop(&mut child, &interrupt, libc::SIGINT, Duration::ZERO);
        assert_eq!(status.unwrap().unwrap().code(), Some(3));
    }

    /// Running and not a zombie (an orphaned zombie waits for a lazy init).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            let state = stat.rsplit_once(')').map(|(_, r)| r.trim_start());
            !state.is_some_and(|s| s.starts_with('Z'))
        })
    }

    #[test]
    fn an_interrupt_stops_the_whole_group_and_sigkill_follows_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild");
        let (trigger, interrupt) = Interrupt::manual();
        // Everything ignores SIGINT, as a stubborn rustc might: only the
        // SIGKILL after the grace period ends it.
        let mut child = group_of_sleepers(&format!(
            "trap '' INT; sleep 30 & echo $! > {}; sleep 30; wait",
            pid_file.display()
        ));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let text = std::fs::read_to_string(&pid_file).unwrap();
        let grandchild: u32 = text.trim().parse().unwrap();
        trigger.fire();
        let started = Instant::now();
        let grace = Duration::from_millis(300);
        let status = wait_or_stop(&mut child, &interrupt, libc::SIGINT, grace);
        assert!(status.unwrap().is_none());
        let took = started.elapsed();
        assert!(took >= grace && took < Duration::from_secs(3), "{took:?}");
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive(grandchild) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert!(!alive(grandchild), "grandchild {grandchild} survived");
    }
}
