//! Ctrl-C (and SIGTERM) for a whole run, not only its suites. One handler
//! for SIGINT and SIGTERM is installed before the first stage and turns the
//! first signal into a flag (remembering which signal it was) that
//! every stage sees: the executor awaits it, and the stages that wait on a
//! child process (cargo, runtime setup) poll it and stop that child's process
//! group. Without it, Ctrl-C during the build killed memtest by the signal's
//! default action: no clean exit code, no cleared status line, and cargo's
//! rustc processes left to finish on their own. SIGTERM is what CI runners,
//! `timeout` and process supervisors send; it gets the same orderly stop, so
//! a cancelled CI job still leaves no suite running and writes its reports.

use super::unix::{self as process_unix, SIGKILL};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a blocking stage looks at the flag while its child runs.
const POLL: Duration = Duration::from_millis(50);

/// Whether the user asked the run to stop; cheap to clone and to check.
#[derive(Debug, Clone)]
pub struct Interrupt {
    /// 0 while not set, else the signal that set it.
    flag: watch::Receiver<i32>,
}

/// Sets an [`Interrupt`] by hand (tests, and the signal listener).
#[derive(Debug)]
pub struct Trigger(watch::Sender<i32>);

impl Trigger {
    /// Sets the interrupt as a Ctrl-C would.
    pub fn fire(&self) {
        self.fire_with(libc::SIGINT);
    }

    /// Sets the interrupt on behalf of `signal`. Only the first one counts:
    /// the exit status names what stopped the run, not a later echo.
    pub fn fire_with(&self, signal: i32) {
        self.0.send_if_modified(|current| {
            if *current == 0 {
                *current = signal;
                true
            } else {
                false
            }
        });
    }
}

impl Interrupt {
    /// An interrupt that only `Trigger::fire` sets.
    pub fn manual() -> (Trigger, Interrupt) {
        let (tx, rx) = watch::channel(0);
        (Trigger(tx), Interrupt { flag: rx })
    }

    /// Listens for SIGINT and SIGTERM on `runtime`. The handlers are
    /// installed before this returns, so neither signal can kill the process
    /// from then on; [`Interrupt::signal`] tells which one arrived first.
    pub fn on_signals(runtime: &tokio::runtime::Runtime) -> std::io::Result<Interrupt> {
        use tokio::signal::unix::{signal, SignalKind};
        let (trigger, interrupt) = Interrupt::manual();
        let (mut sigint, mut sigterm) = runtime.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })?;
        runtime.spawn(async move {
            // Every further signal lands here too, and changes nothing: the
            // run is already stopping, within each child's grace period.
            loop {
                let got = tokio::select! {
                    s = sigint.recv() => s.map(|_| libc::SIGINT),
                    s = sigterm.recv() => s.map(|_| libc::SIGTERM),
                };
                match got {
                    Some(signal) => trigger.fire_with(signal),
                    None => break,
                }
            }
            std::future::pending::<()>().await;
        });
        Ok(interrupt)
    }

    /// The former name of [`Interrupt::on_signals`], kept while callers move
    /// over: it listens for SIGTERM too.
    pub fn on_sigint(runtime: &tokio::runtime::Runtime) -> std::io::Result<Interrupt> {
        Interrupt::on_signals(runtime)
    }

    pub fn is_set(&self) -> bool {
        *self.flag.borrow() != 0
    }

    /// The signal that stopped the run (SIGINT for a manual trigger), if any:
    /// the exit status is 128 + this number (130 for SIGINT, 143 for SIGTERM).
    pub fn signal(&self) -> Option<i32> {
        Some(*self.flag.borrow()).filter(|s| *s != 0)
    }

    /// Completes once the interrupt is set (at once if it already is).
    pub async fn wait(mut self) {
        if self.flag.wait_for(|set| *set != 0).await.is_err() {
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
    fn the_first_signal_is_remembered() {
        let (trigger, interrupt) = Interrupt::manual();
        assert!(!interrupt.is_set());
        assert_eq!(interrupt.signal(), None);
        trigger.fire_with(libc::SIGTERM);
        trigger.fire();
        assert!(interrupt.is_set());
        assert_eq!(interrupt.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn sigterm_to_the_process_sets_the_interrupt() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let interrupt = Interrupt::on_signals(&runtime).unwrap();
        // The handler is installed: SIGTERM no longer ends this test process.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        let waited = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), interrupt.clone().wait()).await
        });
        assert!(waited.is_ok(), "SIGTERM did not set the interrupt");
        assert_eq!(interrupt.signal(), Some(libc::SIGTERM));
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
