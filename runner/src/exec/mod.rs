//! Execute: runs jobs, each in its own process group, sampling its process
//! tree, enforcing its timeout, collecting its output into a log file, and
//! emits [`Event`]s. The executor measures; whether a run passed is decided
//! by the judge it is handed (the verdict stage), as nextest's executor hands
//! raw results to its dispatcher.
//!
//! Scheduling ([`schedule`]): jobs start in the order given (the planner
//! puts the longest first) as soon as they fit beside the running ones: in
//! the `jobs` slots by their `threads`, and in the memory that was free by
//! their `peak_rss` ceilings; an `exclusive` job runs alone. When the
//! interrupt fires, every running suite is stopped (SIGTERM to its group,
//! SIGKILL after its grace period) and every job not yet started becomes an
//! `Interrupted` outcome, so the report is still written.
//!
//! Event order per suite: `SuiteStarted` then `SuiteFinished` (a suite that
//! could not spawn gets `SuiteStarted` with pid 0); a suite that never
//! started because of an interrupt gets only `SuiteFinished`.
//!
//! Unix only (Linux and macOS): process groups are what make clean-up exact;
//! the OS side lives in `crate::process` and `crate::sample`.

mod bounded;
pub mod findings;
mod output;
pub mod schedule;
mod suite;
mod zig_leaks;

#[cfg(test)]
pub(crate) use output::OutputLog;
pub use output::{parse_memtest_line, TAIL_LINES};
pub use schedule::Budget;

use crate::model::{Event, Job, Measured, Outcome};
use schedule::Demand;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How [`run_jobs`] runs a set of jobs.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Threads of suites at once, and the memory their ceilings may take.
    pub budget: Budget,
    /// Emit an [`Event::Output`] for every line a suite prints.
    pub forward_output: bool,
    /// How each suite's process tree is sampled.
    pub sampler: crate::sample::SamplerKind,
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
    // Orphans of a suite come to memtest, not init, from here on: they stay
    // ours to kill and reap (exec/suite.rs, `clean_up`). Set here, not at
    // start-up, so a daemon a build step leaves behind is not adopted.
    #[cfg(unix)]
    crate::process::unix::become_child_subreaper();
    let _ = events.send(Event::RunStarted {
        suites: jobs.len(),
        jobs: opts.budget.slots.max(1) as usize,
    });
    let (cancel_tx, mut cancel_rx) = watch::channel(false);
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
    let mut outcomes: Vec<Option<Outcome>> = vec![None; jobs.len()];
    let mut queue: VecDeque<(usize, Job)> = jobs.into_iter().enumerate().collect();
    let mut running: JoinSet<(usize, Outcome)> = JoinSet::new();
    let mut demands: Vec<(usize, Demand)> = Vec::new();
    loop {
        let cancelled = *cancel_rx.borrow();
        while let (false, Some((_, job))) = (cancelled, queue.front()) {
            let demand = Demand::of(job);
            let now: Vec<Demand> = demands.iter().map(|(_, d)| *d).collect();
            if !schedule::fits(opts.budget, &now, demand) {
                break;
            }
            let (index, job) = queue.pop_front().expect("front exists");
            demands.push((index, demand));
            let mut ctx = suite::SuiteContext {
                events: events.clone(),
                opts: opts.clone(),
                cancel: cancel_rx.clone(),
            };
            let judge = judge.clone();
            running.spawn(async move {
                let measured = suite::run(&job, &mut ctx).await;
                (index, finish(&ctx.events, &judge, &job, measured))
            });
        }
        if running.is_empty() && (cancelled || queue.is_empty()) {
            break;
        }
        tokio::select! {
            done = running.join_next(), if !running.is_empty() => match done {
                Some(Ok((index, outcome))) => {
                    demands.retain(|(i, _)| *i != index);
                    outcomes[index] = Some(outcome);
                }
                Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Some(Err(e)) => panic!("suite task cancelled: {e}"),
                None => {}
            },
            _ = cancel_rx.wait_for(|c| *c), if !cancelled => {}
        }
    }
    // Whatever never started was interrupted before it could.
    for (index, job) in queue {
        outcomes[index] = Some(finish(&events, &judge, &job, suite::never_started()));
    }
    watcher.abort();
    let _ = events.send(Event::RunFinished {
        duration: started.elapsed(),
    });
    outcomes
        .into_iter()
        .map(|o| o.expect("every job has an outcome"))
        .collect()
}

/// Judges a finished (or never started) suite and announces it.
fn finish(
    events: &UnboundedSender<Event>,
    judge: &Judge,
    job: &Job,
    measured: Measured,
) -> Outcome {
    let outcome = judge(job, measured);
    let _ = events.send(Event::SuiteFinished {
        outcome: Box::new(outcome.clone()),
    });
    outcome
}
