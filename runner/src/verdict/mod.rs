//! Verdict: pure functions from a suite's measurements and its limits to a
//! closed [`Verdict`]. Each pass criterion is a small function over the samples
//! and one limit, tested on scripted series without any process.

pub mod baseline;
pub mod findings;

use crate::exec::Measured;
use crate::plan::{Expect, Job};
use crate::units::{ByteDelta, Bytes, BytesPerSec};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One criterion that did not hold, with the measured figure beside its limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "criterion", rename_all = "snake_case")]
pub enum Failure {
    ExitCode {
        code: i32,
    },
    Signal {
        signal: i32,
        name: String,
    },
    TimedOut {
        limit: Duration,
    },
    SpawnFailed {
        message: String,
    },
    MarkerMissing {
        marker: String,
    },
    RssGrowth {
        measured: ByteDelta,
        limit: Bytes,
    },
    VmsGrowth {
        measured: ByteDelta,
        limit: Bytes,
    },
    PeakRss {
        measured: Bytes,
        limit: Bytes,
    },
    /// RSS kept rising over the final window: fitted slope above the limit and
    /// rising on `rising_fraction` of the checkpoints.
    Slope {
        measured: BytesPerSec,
        limit: BytesPerSec,
        rising_fraction: f64,
    },
    NativeLeaks {
        measured: u64,
        limit: u64,
    },
    /// Worse than the saved baseline by more than the tolerance.
    Regression {
        metric: String,
        baseline: f64,
        measured: f64,
        tolerance: f64,
    },
    /// A wrapper (valgrind, heaptrack) reported findings.
    Wrapper {
        tool: String,
        summary: String,
    },
}

/// The closed set of verdicts a suite can get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every criterion held.
    Passed,
    /// At least one criterion failed.
    Failed { failures: Vec<Failure> },
    /// A canary (`expect = "fail"`) failed as it must: the suite can see a leak.
    CanaryCaught { failures: Vec<Failure> },
    /// A canary passed: the suite cannot see the leak it was built to catch.
    CanaryMissed,
    /// The user interrupted the run before the suite finished.
    Interrupted,
}

impl Verdict {
    /// True when this verdict lets the run succeed.
    pub fn is_success(&self) -> bool {
        matches!(self, Verdict::Passed | Verdict::CanaryCaught { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Passed => "PASS",
            Verdict::Failed { .. } => "FAIL",
            Verdict::CanaryCaught { .. } => "CANARY OK",
            Verdict::CanaryMissed => "CANARY MISSED",
            Verdict::Interrupted => "INTERRUPTED",
        }
    }
}

/// Figures derived from the samples, shown in every report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Figures {
    /// Highest sampled RSS of the tree (a lower bound: spikes between samples are missed).
    pub peak_rss_sampled: Bytes,
    /// Exact peak of the main process, from VmHWM or the suite's report.
    pub peak_rss_exact: Option<Bytes>,
    pub rss_growth: ByteDelta,
    pub vms_growth: ByteDelta,
    pub slope: Option<BytesPerSec>,
    pub native_leaks: Option<u64>,
}

impl Figures {
    /// The peak that limits and baselines use: the exact one when known, else
    /// the sampled one.
    pub fn peak_rss(&self) -> Bytes {
        self.peak_rss_exact.unwrap_or(self.peak_rss_sampled)
    }
}

/// A finished suite: what ran, what was measured, what it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub job: Job,
    pub measured: Measured,
    pub figures: Figures,
    pub verdict: Verdict,
}

/// Applies the canary rule: a suite expected to fail turns its failures into
/// `CanaryCaught` and a pass into `CanaryMissed`.
pub fn apply_expectation(expect: Expect, failures: Vec<Failure>) -> Verdict {
    match (expect, failures.is_empty()) {
        (Expect::Pass, true) => Verdict::Passed,
        (Expect::Pass, false) => Verdict::Failed { failures },
        (Expect::Fail, true) => Verdict::CanaryMissed,
        (Expect::Fail, false) => Verdict::CanaryCaught { failures },
    }
}

/// Judges one finished suite: computes its figures once and checks every
/// criterion of its limits, the baseline (when given) and the canary rule.
pub fn judge(
    job: &Job,
    measured: Measured,
    baseline: Option<&baseline::BaselineEntry>,
    tolerance: f64,
) -> Outcome {
    // Stub: criteria land in the next commit.
    let _ = (
        baseline,
        tolerance,
        Duration::ZERO,
        BytesPerSec(0.0),
        ByteDelta(0),
    );
    Outcome {
        job: job.clone(),
        figures: Figures::default(),
        verdict: apply_expectation(job.expect, Vec::new()),
        measured,
    }
}
