//! Baselines: the figures of a previous run, saved per suite, and the pure
//! comparison that fails a suite whose figures got worse than its baseline by
//! more than a tolerance.
//!
//! A figure regresses when `measured > baseline + max(|baseline| * tolerance,
//! floor)`. The absolute floor (per metric, see [`floor`]) exists because a
//! relative tolerance on a tiny figure is meaningless: 10% of a 200 KB growth
//! is one allocator arena, and a suite must not flap on that. Improvements are
//! never failures.

use crate::model::{Failure, Figures, Metric};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tolerance used when the user gives none: 10% worse than baseline.
pub const DEFAULT_TOLERANCE: f64 = 0.10;

/// Absolute floors below which a difference is never a regression.
pub mod floors {
    /// Peak RSS: allocator arenas and page-cache effects move it by a few MB.
    pub const PEAK_RSS_BYTES: f64 = 4e6;
    /// RSS growth: same order as peak noise.
    pub const RSS_GROWTH_BYTES: f64 = 4e6;
    /// Slope: noise on a flat series fits to a few hundred KB/s on short runs.
    pub const SLOPE_BYTES_PER_SEC: f64 = 256e3;
    /// Duration: process start-up and scheduling jitter on a shared machine.
    pub const DURATION_MS: f64 = 500.0;
}

/// The floor of a metric.
pub fn floor(metric: Metric) -> f64 {
    match metric {
        Metric::PeakRss => floors::PEAK_RSS_BYTES,
        Metric::RssGrowth => floors::RSS_GROWTH_BYTES,
        Metric::Slope => floors::SLOPE_BYTES_PER_SEC,
        Metric::Duration => floors::DURATION_MS,
    }
}

/// Saved figures of one suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineEntry {
    pub peak_rss_bytes: u64,
    pub rss_growth_bytes: i64,
    /// Absent when the run was too short to fit a slope.
    #[serde(default)]
    pub slope_bytes_per_sec: Option<f64>,
    pub duration_ms: u64,
}

impl BaselineEntry {
    /// The saved figure of `metric`, in its unit (bytes, bytes/s, ms);
    /// `None` when the baseline run could not measure it.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::PeakRss => Some(self.peak_rss_bytes as f64),
            Metric::RssGrowth => Some(self.rss_growth_bytes as f64),
            Metric::Slope => self.slope_bytes_per_sec,
            Metric::Duration => Some(self.duration_ms as f64),
        }
    }

    /// The entry a run with these figures would save.
    pub fn from_figures(figures: &Figures, duration: Duration) -> BaselineEntry {
        BaselineEntry {
            peak_rss_bytes: figures.peak_rss().0,
            rss_growth_bytes: figures.rss_growth.0,
            slope_bytes_per_sec: figures.slope.map(|s| s.0),
            duration_ms: duration.as_millis() as u64,
        }
    }
}

/// Saved figures of every suite of a run, keyed by suite name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub suites: BTreeMap<String, BaselineEntry>,
}

/// Why a baseline file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("baseline {path} is not valid baseline JSON")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write baseline {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Baseline {
    pub fn get(&self, suite: &str) -> Option<&BaselineEntry> {
        self.suites.get(suite)
    }

    /// The baseline of a finished run: one entry per suite that ran to the end
    /// (interrupted suites and spawn failures have no meaningful figures).
    pub fn from_outcomes<'a>(
        outcomes: impl IntoIterator<Item = &'a crate::model::Outcome>,
    ) -> Baseline {
        let suites = outcomes
            .into_iter()
            .filter(|o| {
                !matches!(
                    o.measured.exit,
                    crate::model::Exit::Interrupted | crate::model::Exit::SpawnFailed { .. }
                )
            })
            // A wrapped run's figures are the tool's (see `report::baseline_of`).
            .filter(|o| o.job.wrapper.is_none())
            .map(|o| {
                (
                    o.job.suite.clone(),
                    BaselineEntry::from_figures(&o.figures, o.measured.duration),
                )
            })
            .collect();
        Baseline { suites }
    }

    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| BaselineError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the baseline atomically: a run interrupted while saving (or a
    /// concurrent `--baseline` reader) sees the old file or the new, never
    /// half of one.
    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        let text = serde_json::to_string_pretty(self).expect("a baseline always serialises");
        crate::atomic::write_atomic(path, (text + "\n").as_bytes()).map_err(|source| {
            BaselineError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }
}

/// How much worse than `baseline` a figure of `metric` may be before it is a
/// regression: the tolerance (a fraction) of the baseline, at least the
/// metric's floor. Drift checks and bisection judge by it too.
pub fn allowed(metric: Metric, baseline: f64, tolerance: f64) -> f64 {
    (baseline.abs() * tolerance).max(floor(metric))
}

/// One metric against its baseline: a failure when worse by more than
/// `max(|baseline| * tolerance, floor)`.
fn check(metric: Metric, baseline: f64, measured: f64, tolerance: f64) -> Option<Failure> {
    let allowed = allowed(metric, baseline, tolerance);
    (measured > baseline + allowed).then_some(Failure::Regression {
        metric,
        baseline,
        measured,
        tolerance,
    })
}

/// Fails every figure worse than the baseline by more than the tolerance
/// (a fraction: 0.1 = 10%), with the absolute floors documented above. A
/// figure either run could not measure (a slope of a short run) is skipped.
pub fn compare(
    figures: &Figures,
    duration: Duration,
    entry: &BaselineEntry,
    tolerance: f64,
) -> Vec<Failure> {
    let now = BaselineEntry::from_figures(figures, duration);
    Metric::ALL
        .into_iter()
        .filter_map(|m| check(m, entry.get(m)?, now.get(m)?, tolerance))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{ByteDelta, Bytes, BytesPerSec};

    fn figures(peak: u64, growth: i64, slope: Option<f64>) -> Figures {
        Figures {
            peak_rss_sampled: Bytes(peak),
            rss_growth: ByteDelta(growth),
            slope: slope.map(BytesPerSec),
            ..Figures::default()
        }
    }

    fn entry() -> BaselineEntry {
        BaselineEntry {
            peak_rss_bytes: 100_000_000,
            rss_growth_bytes: 10_000_000,
            slope_bytes_per_sec: Some(1e6),
            duration_ms: 10_000,
        }
    }

    fn metrics(failures: &[Failure]) -> Vec<Metric> {
        failures
            .iter()
            .map(|f| match f {
                Failure::Regression { metric, .. } => *metric,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn within_tolerance_passes_and_improvements_never_fail() {
        let same = compare(
            &figures(109_000_000, 10_900_000, Some(1.09e6)),
            Duration::from_millis(10_900),
            &entry(),
            0.1,
        );
        assert!(same.is_empty(), "{same:?}");
        let better = compare(
            &figures(1, -5, Some(0.0)),
            Duration::from_millis(1),
            &entry(),
            0.1,
        );
        assert!(better.is_empty(), "{better:?}");
    }

    #[test]
    fn each_metric_worse_than_tolerance_fails_by_name() {
        let failures = compare(
            &figures(111_000_000, 15_000_000, Some(1.5e6)),
            Duration::from_millis(12_000),
            &entry(),
            0.1,
        );
        assert_eq!(metrics(&failures), Metric::ALL);
    }

    #[test]
    fn tiny_figures_do_not_flap_below_the_floor() {
        let small = BaselineEntry {
            peak_rss_bytes: 1_000_000,
            rss_growth_bytes: 100_000,
            slope_bytes_per_sec: Some(1_000.0),
            duration_ms: 100,
        };
        // Triple every figure: far over 10%, yet under each absolute floor.
        let failures = compare(
            &figures(3_000_000, 300_000, Some(3_000.0)),
            Duration::from_millis(300),
            &small,
            0.1,
        );
        assert!(failures.is_empty(), "{failures:?}");
        // Past the floor it does fail.
        let failures = compare(
            &figures(6_000_000, 100_000, Some(3_000.0)),
            Duration::from_millis(300),
            &small,
            0.1,
        );
        assert_eq!(metrics(&failures), [Metric::PeakRss]);
    }

    #[test]
    fn baseline_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/baseline.json");
        let mut baseline = Baseline::default();
        baseline.suites.insert("a".into(), entry());
        baseline.save(&path).unwrap();
        assert_eq!(Baseline::load(&path).unwrap(), baseline);
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(
            Baseline::load(&path),
            Err(BaselineError::Parse { .. })
        ));
    }
}
