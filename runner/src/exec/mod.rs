//! Execute: runs jobs, each in its own process group, sampling its process
//! tree, enforcing its timeout, collecting its output into a log file, and
//! emits [`Event`]s. The executor measures; whether a run passed is decided
//! by the judge it is handed (the verdict stage), as nextest's executor hands
//! raw results to its dispatcher.
//!
//! Scheduling: jobs start in the order given, at most `jobs` at once; an
//! `exclusive` job waits for every running job to end and runs alone (it takes
//! every slot). When the interrupt fires, every running suite is stopped
//! (SIGTERM to its group, SIGKILL after its grace period) and every job not
//! yet started becomes an `Interrupted` outcome, so the report is still
//! written.
//!
//! Event order per suite: `SuiteStarted` then `SuiteFinished` (a suite that
//! could not spawn gets `SuiteStarted` with pid 0); a suite that never
//! started because of an interrupt gets only `SuiteFinished`.
//!
//! Unix only: process groups and tree sampling are what make clean-up exact;
//! the OS side lives in `crate::process` and `crate::sample`.

pub mod findings;
mod output;
mod suite;

pub use output::{parse_memtest_line, TAIL_LINES};

use crate::model::{Event, Job, Measured, Outcome};
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
}

/// Decides a finished suite's outcome from what was measured.
pub type Judge = Arc<dyn Fn(&Job, Measured) -> Outcome + Send + Sync>;

/// Runs every job and returns one outcome per job, in the order given. The
/// run is interrupted when `interrupt` completes (see the module docs).
pub async fn run_jobs(
    jobs: Vec<Job>,
    opts: ExecOptions,
    events: UnboundedSender<Event>,
    interrupt: impl Future<Output = ()> + Send + 'static,
    judge: Judge,
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
        let judge = judge.clone();
        running.push(tokio::spawn(async move {
            let measured = match permit {
                None => suite::never_started(),
                Some(_permit) => {
                    let mut ctx = suite::SuiteContext {
                        events: events.clone(),
                        opts,
                        cancel,
                    };
                    suite::run(&job, &mut ctx).await
                }
            };
            let outcome = judge(&job, measured);
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
