//! Execute: spawns each job in its own process group, samples its process
//! tree, enforces the timeout, collects output into log files, and emits
//! [`Event`]s.

pub mod event;

pub use event::{Event, Exit, Measured, Sample, Stage, Stream};

use crate::plan::Job;
use crate::verdict::{self, baseline::Baseline, Outcome};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// How [`run_jobs`] runs a set of jobs.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Largest number of suites running at once (at least 1).
    pub jobs: usize,
    /// Emit an [`Event::Output`] for every line a suite prints.
    pub forward_output: bool,
    /// Figures of a previous run to compare against.
    pub baseline: Option<Arc<Baseline>>,
    /// Fraction by which a figure may be worse than its baseline.
    pub tolerance: f64,
}

/// Runs every job and returns one outcome per job, in the order given.
pub async fn run_jobs(
    jobs: Vec<Job>,
    opts: ExecOptions,
    events: UnboundedSender<Event>,
) -> Vec<Outcome> {
    // Stub: the executor lands in the next commits.
    let _ = (&opts, &events, verdict::apply_expectation);
    Vec::with_capacity(jobs.len())
}
