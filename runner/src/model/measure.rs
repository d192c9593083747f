//! What the executor measured about one suite's run: its samples, how it
//! exited, its exact peak, the figures it reported and what a wrapper found
//! (the verdict's input), and the [`Figures`] the verdict derives from them.
//! Nothing here is judged.

use super::{Checkpoint, Site};
use crate::units::{ByteDelta, Bytes, BytesPerSec};
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

/// A suite's own count of operations done (`MEMTEST progress=N`), at the
/// moment memtest read the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Milliseconds since the suite was spawned.
    pub t_ms: u64,
    pub operations: u64,
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
    /// The suite's progress lines, in order; empty when it reports none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<Progress>,
    /// Exact peak RSS of the main process (VmHWM read just before it was reaped,
    /// or reported by the suite as `peak_rss_bytes`).
    pub peak_rss_exact: Option<Bytes>,
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
    /// Leak sites, in attribution mode (`memtest explain`): printed by the
    /// suite (`MEMTEST site=` lines) and read from the wrapper's findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
    /// The suite's checkpoints in attribution mode (`MEMTEST checkpoint=`
    /// lines): live and allocator figures, and memtest's smaps reading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoints: Vec<Checkpoint>,
}

/// A wrapper's report on one suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapperFindings {
    /// "valgrind" or "heaptrack".
    pub tool: String,
    /// Definitely-lost leak records (valgrind).
    pub definitely_lost_records: u64,
    /// Bytes reported leaked (valgrind: definitely lost; heaptrack: all).
    pub leaked_bytes: u64,
    /// Invalid reads, writes and frees (valgrind), as unique errors.
    pub invalid_accesses: u64,
    /// Other valgrind errors (uninitialised values, syscall params, ...).
    pub other_errors: u64,
    /// Whether these findings fail the suite.
    pub failing: bool,
    /// One line for reports.
    pub summary: String,
    /// The file the findings were read from (set by the executor).
    #[serde(default)]
    pub output: Option<std::path::PathBuf>,
}

/// Figures derived from the samples, shown in every report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Figures {
    /// Highest sampled RSS of the tree (a lower bound: spikes between samples are missed).
    pub peak_rss_sampled: Bytes,
    /// Exact peak of the main process, from VmHWM or the suite's report
    /// (the larger of the two when both exist).
    pub peak_rss_exact: Option<Bytes>,
    pub rss_growth: ByteDelta,
    pub vms_growth: ByteDelta,
    pub slope: Option<BytesPerSec>,
    /// RSS bytes per operation over the slope window, when the suite
    /// reported its progress.
    pub slope_per_op: Option<f64>,
    pub native_leaks: Option<u64>,
    /// Growth of live bytes over the suite's checkpoints (the largest of
    /// its live figures), when it recorded any.
    #[serde(default)]
    pub live_growth: Option<ByteDelta>,
    /// Where growth and slope started measuring, ms into the run: after the
    /// warm-up, or at the suite's `progress=0` line if later.
    pub measured_from_ms: u64,
    /// A soak by duration's two slope fits; `None` for other runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<SoakSlopes>,
}

/// A soak's RSS slope over the whole measured run and over its last
/// `recent_window` share: a leak that starts late shows in the second, a
/// slow steady one in the first. Each is `None` with too few samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoakSlopes {
    #[serde(rename = "whole_bytes_per_sec")]
    pub whole: Option<BytesPerSec>,
    #[serde(rename = "recent_bytes_per_sec")]
    pub recent: Option<BytesPerSec>,
    /// The share of the run the recent fit covers (0.25).
    pub recent_window: f64,
}

impl Figures {
    /// The peak that limits and baselines use: the larger of the exact peak
    /// (when known) and the sampled one. For a single process the exact peak
    /// is always the larger; when the suite has children the sampled peak is
    /// of the whole tree and may exceed the main process's own VmHWM, and
    /// both are lower bounds of the true tree peak.
    pub fn peak_rss(&self) -> Bytes {
        self.peak_rss_exact
            .map_or(self.peak_rss_sampled, |e| e.max(self.peak_rss_sampled))
    }
}
