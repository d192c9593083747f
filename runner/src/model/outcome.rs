//! How a suite ended up: the [`Failure`]s of its criteria, its closed
//! [`Verdict`], the [`Figures`] derived from its samples and the whole
//! [`Outcome`]. The verdict module computes these; reporters read them.

use super::{Criterion, Job, Measured};
use crate::units::{ByteDelta, Bytes, BytesPerSec};
use serde::{Deserialize, Serialize};
use std::fmt;
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
    /// RSS kept rising per operation over the final window (the suite
    /// reported its progress): bytes per operation above the limit and rising
    /// on `rising_fraction` of the checkpoints.
    SlopePerOp {
        measured_bytes: f64,
        limit: Bytes,
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
    /// A limit is configured but the run was too short (or sampled too
    /// sparsely) to measure its figure: a criterion that cannot be measured
    /// fails rather than passing unseen.
    TooFewSamples {
        figure: String,
        samples: usize,
        needed: usize,
    },
    /// A wrapper (valgrind, heaptrack) reported findings.
    Wrapper {
        tool: String,
        summary: String,
    },
    /// A canary failed, but on none of the criteria it exists to trip: it
    /// proves nothing about the leak (the other failures are listed too).
    CanaryWrongReason {
        catches: Vec<Criterion>,
    },
}

impl Failure {
    /// The criterion this failure belongs to: its JSON tag, and what a
    /// canary's `catches` lists.
    pub fn criterion(&self) -> Criterion {
        match self {
            Failure::ExitCode { .. } => Criterion::ExitCode,
            Failure::Signal { .. } => Criterion::Signal,
            Failure::TimedOut { .. } => Criterion::TimedOut,
            Failure::SpawnFailed { .. } => Criterion::SpawnFailed,
            Failure::MarkerMissing { .. } => Criterion::MarkerMissing,
            Failure::RssGrowth { .. } => Criterion::RssGrowth,
            Failure::VmsGrowth { .. } => Criterion::VmsGrowth,
            Failure::PeakRss { .. } => Criterion::PeakRss,
            Failure::Slope { .. } => Criterion::Slope,
            Failure::SlopePerOp { .. } => Criterion::SlopePerOp,
            Failure::NativeLeaks { .. } => Criterion::NativeLeaks,
            Failure::Regression { .. } => Criterion::Regression,
            Failure::TooFewSamples { .. } => Criterion::TooFewSamples,
            Failure::Wrapper { .. } => Criterion::Wrapper,
            Failure::CanaryWrongReason { .. } => Criterion::CanaryWrongReason,
        }
    }
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
    /// Where growth and slope started measuring, ms into the run: after the
    /// warm-up, or at the suite's `progress=0` line if later.
    pub measured_from_ms: u64,
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

/// A finished suite: what ran, what was measured, what it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub job: Job,
    pub measured: Measured,
    pub figures: Figures,
    pub verdict: Verdict,
}

/// Formats a baseline metric by its name's unit: a growth is a signed
/// change, any other byte figure (a peak) a plain size.
fn metric_value(metric: &str, v: f64) -> String {
    if metric.ends_with("_bytes_per_sec") {
        BytesPerSec(v).to_string()
    } else if metric.ends_with("_growth_bytes") {
        ByteDelta(v as i64).to_string()
    } else if metric.ends_with("_bytes") {
        Bytes(v.max(0.0) as u64).to_string()
    } else if metric.ends_with("_ms") {
        crate::units::format_duration(Duration::from_millis(v.max(0.0) as u64))
    } else {
        format!("{v}")
    }
}

/// One line per failure, with the measured figure beside its limit.
/// Reporters print these rather than matching on the variants.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ExitCode { code } => write!(f, "exited with code {code}"),
            Failure::Signal { signal, name } => write!(f, "killed by signal {signal} ({name})"),
            Failure::TimedOut { limit } => {
                write!(f, "timed out after {}", crate::units::format_duration(*limit))
            }
            Failure::SpawnFailed { message } => write!(f, "could not start: {message}"),
            Failure::MarkerMissing { marker } => write!(f, "never printed `{marker}`"),
            Failure::RssGrowth { measured, limit } => {
                write!(f, "RSS grew {measured}, limit {limit}")
            }
            Failure::VmsGrowth { measured, limit } => {
                write!(f, "VMS grew {measured}, limit {limit}")
            }
            Failure::PeakRss { measured, limit } => write!(f, "peak RSS {measured}, limit {limit}"),
            Failure::Slope {
                measured,
                limit,
                rising_fraction,
            } => write!(
                f,
                "RSS still rising at {measured} (up on {:.0}% of checkpoints), limit {limit}",
                rising_fraction * 100.0
            ),
            Failure::SlopePerOp {
                measured_bytes,
                limit,
                rising_fraction,
            } => write!(
                f,
                "RSS still rising by {} per operation (up on {:.0}% of checkpoints), limit {limit}",
                ByteDelta(measured_bytes.round() as i64),
                rising_fraction * 100.0
            ),
            Failure::NativeLeaks { measured, limit } => {
                write!(f, "{measured} native allocations left live, limit {limit}")
            }
            Failure::Regression {
                metric,
                baseline,
                measured,
                tolerance,
            } => write!(
                f,
                "{metric} regressed: {} against baseline {} (tolerance {:.0}%)",
                metric_value(metric, *measured),
                metric_value(metric, *baseline),
                tolerance * 100.0
            ),
            Failure::TooFewSamples {
                figure,
                samples,
                needed,
            } => write!(
                f,
                "too few samples to judge {figure}: {samples}, need {needed} (run longer or sample more often)"
            ),
            Failure::Wrapper { tool, summary } => write!(f, "{tool}: {summary}"),
            Failure::CanaryWrongReason { catches } => write!(
                f,
                "canary failed, but not on what it exists to catch ({})",
                catches.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_metrics_print_in_their_unit() {
        assert_eq!(metric_value("rss_growth_bytes", 2e6), "+2.0 MB");
        assert_eq!(metric_value("rss_growth_bytes", -2e6), "-2.0 MB");
        assert_eq!(metric_value("peak_rss_bytes", 9e7), "90.0 MB");
        assert_eq!(metric_value("slope_bytes_per_sec", 1e6), "1.0 MB/s");
    }
}
