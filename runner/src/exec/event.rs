//! Typed events the executor emits. Reporters consume these and nothing else:
//! no stage but the reporters prints.

use crate::plan::Job;
use crate::units::Bytes;
use crate::verdict::findings::WrapperFindings;
use crate::verdict::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One reading of a suite's whole process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the suite was spawned.
    pub t_ms: u64,
    /// Sum of resident set sizes over the process tree.
    pub rss_bytes: u64,
    /// Sum of virtual memory sizes over the process tree.
    pub vms_bytes: u64,
    /// Processes in the tree at this reading.
    pub processes: u32,
}

/// How the suite's process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exit {
    Code {
        code: i32,
    },
    Signal {
        signal: i32,
        name: String,
    },
    /// Killed by the runner after its timeout; `signal` is what finally ended it.
    TimedOut {
        signal: i32,
    },
    /// Killed by the runner because the user pressed Ctrl-C.
    Interrupted,
    /// Could not be spawned at all.
    SpawnFailed {
        message: String,
    },
}

/// Everything measured about one suite's run: the executor's output and the
/// verdict's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub pid: u32,
    pub exit: Exit,
    pub duration: Duration,
    pub samples: Vec<Sample>,
    /// Exact peak RSS of the main process (VmHWM read just before it was reaped,
    /// or reported by the suite as `peak_rss_bytes`).
    pub exact_peak_rss: Option<Bytes>,
    /// Figures the suite reported on `MEMTEST name=value` lines, e.g.
    /// `native_leaks`, `native_live_bytes`, `peak_rss_bytes`.
    pub reported: BTreeMap<String, f64>,
    /// The suite printed its pass marker.
    pub marker_seen: bool,
    /// Last lines of stdout+stderr (bounded), for crash reports.
    pub log_tail: Vec<String>,
    /// What the wrapper (valgrind, heaptrack) found, read after the suite
    /// exited; `None` when the suite ran without a wrapper or the wrapper
    /// wrote nothing.
    #[serde(default)]
    pub findings: Option<WrapperFindings>,
}

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
