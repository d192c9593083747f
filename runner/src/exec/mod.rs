//! Execute: spawns each job in its own process group, samples its process
//! tree, enforces the timeout, collects output into log files, and emits
//! [`Event`]s.
//!
//! Scheduling: jobs start in the order given, at most `jobs` at once; an
//! `exclusive` job waits for every running job to end and runs alone (it takes
//! every slot). Ctrl-C stops every running suite (SIGTERM to its group, SIGKILL
//! after its grace period) and turns every job not yet started into an
//! `Interrupted` outcome, so the report is still written. The app installs its
//! Ctrl-C handler before the first stage ([`interrupt`]) and hands it to
//! [`run_jobs_until`]; [`run_jobs`] listens for Ctrl-C itself.
//!
//! Event order per suite: `SuiteStarted` then `SuiteFinished` (a suite that
//! could not spawn gets `SuiteStarted` with pid 0); a suite that never
//! started because of Ctrl-C gets only `SuiteFinished`.
//!
//! Unix only: process groups and /proc are what make tree sampling and
//! clean-up exact; all of that lives in `process_unix.rs` and `sample/`.

pub mod event;
#[cfg(unix)]
pub mod interrupt;
mod output;
#[cfg(unix)]
pub mod process_unix;
mod suite;

pub use event::{Event, Exit, Measured, Sample, Stage, Stream};
#[cfg(unix)]
pub use interrupt::Interrupt;
pub use output::{parse_memtest_line, TAIL_LINES};

use crate::plan::Job;
use crate::verdict::{self, baseline::Baseline, Outcome};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{watch, Semaphore};

/// How [`run_jobs`] runs a set of jobs.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Largest number of suites running at once (0 is taken as 1).
    pub jobs: usize,
    /// Emit an [`Event::Output`] for every line a suite prints.
    pub forward_output: bool,
    /// Figures of a previous run to compare against.
    pub baseline: Option<Arc<Baseline>>,
    /// Fraction by which a figure may be worse than its baseline.
    pub tolerance: f64,
}

/// Runs every job and returns one outcome per job, in the order given.
/// Ctrl-C interrupts the run (see the module docs).
pub async fn run_jobs(
    jobs: Vec<Job>,
    opts: ExecOptions,
    events: UnboundedSender<Event>,
) -> Vec<Outcome> {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: the run just cannot be interrupted.
            std::future::pending::<()>().await;
        }
    };
    run_jobs_until(jobs, opts, events, ctrl_c).await
}

/// [`run_jobs`], interrupted when `interrupt` completes instead of on Ctrl-C
/// (tests use a timer).
pub async fn run_jobs_until(
    jobs: Vec<Job>,
    opts: ExecOptions,
    events: UnboundedSender<Event>,
    interrupt: impl Future<Output = ()> + Send + 'static,
) -> Vec<Outcome> {
    let started = Instant::now();
    let slots = opts.jobs.max(1);
    let _ = events.send(Event::RunStarted {
        suites: jobs.len(),
        jobs: slots,
    });
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let watcher = {
        let events = events.clone();
        tokio::spawn(async move {
            interrupt.await;
            let _ = events.send(Event::Interrupted);
            let _ = cancel_tx.send(true);
            // Keep the sender alive so receivers keep seeing `true`.
            std::future::pending::<()>().await;
        })
    };
    let semaphore = Arc::new(Semaphore::new(slots));
    let mut running = Vec::with_capacity(jobs.len());
    for job in jobs {
        let wanted = if job.exclusive { slots } else { 1 } as u32;
        let mut cancel = cancel_rx.clone();
        let permit = tokio::select! {
            biased;
            _ = cancel.wait_for(|c| *c) => None,
            p = semaphore.clone().acquire_many_owned(wanted) => p.ok(),
        };
        let opts = opts.clone();
        let events = events.clone();
        running.push(tokio::spawn(async move {
            let entry = opts
                .baseline
                .as_ref()
                .and_then(|b| b.get(&job.suite).cloned());
            let measured = match permit {
                None => suite::never_started(),
                Some(_permit) => {
                    let mut ctx = suite::SuiteContext {
                        events: events.clone(),
                        forward_output: opts.forward_output,
                        cancel,
                    };
                    suite::run(&job, &mut ctx).await
                }
            };
            let outcome = verdict::judge(&job, measured, entry.as_ref(), opts.tolerance);
            let _ = events.send(Event::SuiteFinished {
                outcome: Box::new(outcome.clone()),
            });
            outcome
        }));
    }
    let mut outcomes = Vec::with_capacity(running.len());
    for task in running {
        match task.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("suite task cancelled: {e}"),
        }
    }
    watcher.abort();
    let _ = events.send(Event::RunFinished {
        duration: started.elapsed(),
    });
    outcomes
}
