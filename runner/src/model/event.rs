//! Typed events the stages and the executor emit. Reporters consume these and
//! nothing else: no stage but the reporters prints.

use super::{Job, Outcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A stage of the run before suites execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Preflight,
    Setup,
    Build,
    Fixtures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    StageStarted {
        stage: Stage,
        detail: String,
    },
    StageFinished {
        stage: Stage,
        detail: String,
        duration: Duration,
    },
    RunStarted {
        suites: usize,
        jobs: usize,
    },
    SuiteStarted {
        job: Box<Job>,
        pid: u32,
    },
    /// A line the suite printed (only forwarded when the reporter asked for it).
    Output {
        suite: String,
        stream: Stream,
        line: String,
    },
    SuiteFinished {
        outcome: Box<Outcome>,
    },
    /// Ctrl-C arrived; children are being stopped.
    Interrupted,
    RunFinished {
        duration: Duration,
    },
}

/// Runs `work` between a `StageStarted` and a `StageFinished` event (the
/// latter only on success: a failed stage ends the run with its error, which
/// the error reporter shows).
pub fn staged<T, E>(
    emit: &mut dyn FnMut(Event),
    stage: Stage,
    detail: &str,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    staged_then(emit, stage, detail, work, |_| detail.to_string())
}

/// [`staged`], with the finishing detail made from the result (e.g. how many
/// files a stage wrote).
pub fn staged_then<T, E>(
    emit: &mut dyn FnMut(Event),
    stage: Stage,
    detail: &str,
    work: impl FnOnce() -> Result<T, E>,
    finished: impl FnOnce(&T) -> String,
) -> Result<T, E> {
    emit(Event::StageStarted {
        stage,
        detail: detail.to_string(),
    });
    let started = std::time::Instant::now();
    let value = work()?;
    emit(Event::StageFinished {
        stage,
        detail: finished(&value),
        duration: started.elapsed(),
    });
    Ok(value)
}
