//! One suite's part of the report: its verdict, failures, figures, limits
//! and samples, built from its outcome and read back as the verdict
//! module's types (for baselines and the criteria columns).

use crate::model::{
    Criterion, Diagnosis, Exit, Expect, Failure, Figures, Judged, KnownFloor, Limits, Outcome,
    RuntimeKind, Sample, Site, SoakSlopes, Stopped, Verdict, WrapperFindings,
};
use crate::units::{ByteDelta, Bytes, BytesPerSec, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Leak sites a suite's report keeps: the largest, as the console shows.
pub const SITES_KEPT: usize = 10;

/// The verdict's tag; its failures sit beside it in [`SuiteReport::failures`]
/// so that every suite has the same flat shape in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Passed,
    Failed,
    CanaryCaught,
    CanaryMissed,
    Interrupted,
    /// A soak by duration stopped before it finished (`Verdict::Incomplete`).
    Incomplete,
}

impl VerdictKind {
    /// The kind of a suite's verdict.
    pub fn of(verdict: &Verdict) -> VerdictKind {
        match verdict {
            Verdict::Passed => VerdictKind::Passed,
            Verdict::Failed { .. } => VerdictKind::Failed,
            Verdict::CanaryCaught { .. } => VerdictKind::CanaryCaught,
            Verdict::CanaryMissed => VerdictKind::CanaryMissed,
            Verdict::Interrupted => VerdictKind::Interrupted,
            Verdict::Incomplete { .. } => VerdictKind::Incomplete,
        }
    }

    /// The verdict's word in every report ("PASS", "CANARY OK", ...).
    pub fn label(self) -> &'static str {
        match self {
            VerdictKind::Passed => "PASS",
            VerdictKind::Failed => "FAIL",
            VerdictKind::CanaryCaught => "CANARY OK",
            VerdictKind::CanaryMissed => "CANARY MISSED",
            VerdictKind::Interrupted => "INTERRUPTED",
            VerdictKind::Incomplete => "INCOMPLETE",
        }
    }
}

/// One failed criterion plus its rendered text, so readers of the JSON need
/// not re-implement the formatting. (`text`, not `message`: `spawn_failed`
/// has a `message` field of its own, and the two sit in one object.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureReport {
    #[serde(flatten)]
    pub failure: Failure,
    pub text: String,
}

/// Figures with their units in their names.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FiguresReport {
    /// The peak the limits use: exact when known, else sampled.
    pub peak_rss_bytes: u64,
    /// Whether `peak_rss_bytes` is exact (VmHWM or suite-reported) rather than sampled.
    pub peak_rss_exact: bool,
    pub peak_rss_sampled_bytes: u64,
    pub rss_growth_bytes: i64,
    pub vms_growth_bytes: i64,
    pub slope_bytes_per_sec: Option<f64>,
    /// RSS bytes per operation over the slope window; only for suites that
    /// print `MEMTEST progress=N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope_per_op_bytes: Option<f64>,
    pub native_leaks: Option<u64>,
    /// Growth of live bytes over the suite's checkpoints (`live_growth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_growth_bytes: Option<i64>,
    /// Where growth and slope started measuring, ms into the run (after the
    /// warm-up, or at the suite's `progress=0` line if later). Absent in
    /// reports older than the field: readers fall back to the warm-up share.
    #[serde(default)]
    pub measured_from_ms: Option<u64>,
    /// A soak by duration's slopes over the whole run and its last window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<SoakSlopes>,
}

/// Limits with their units in their names; `null` = not checked. Each
/// limit's field name and unit are its criterion's (`LimitSpec::json`,
/// `LimitSpec::unit`), so the JSON lists every criterion the table has.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsReport {
    pub limits: Limits,
    pub timeout_ms: u64,
}

impl Default for LimitsReport {
    fn default() -> Self {
        LimitsReport {
            limits: Limits::none(),
            timeout_ms: 0,
        }
    }
}

impl Serialize for LimitsReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (_, spec) in Criterion::limited() {
            map.serialize_entry(spec.json, &(spec.get)(&self.limits))?;
        }
        map.serialize_entry("warmup", &self.limits.warmup)?;
        map.serialize_entry("slope_window", &self.limits.slope_window)?;
        map.serialize_entry("timeout_ms", &self.timeout_ms)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for LimitsReport {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LimitsReport, D::Error> {
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let mut limits = Limits::none();
        for (_, spec) in Criterion::limited() {
            let value = map.get(spec.json).and_then(|v| spec.unit.from_json(v));
            (spec.set)(&mut limits, value);
        }
        let fraction = |key: &str, or: f64| map.get(key).and_then(|v| v.as_f64()).unwrap_or(or);
        limits.warmup = fraction("warmup", limits.warmup);
        limits.slope_window = fraction("slope_window", limits.slope_window);
        let timeout_ms = map
            .get("timeout_ms")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| serde::de::Error::missing_field("timeout_ms"))?;
        Ok(LimitsReport { limits, timeout_ms })
    }
}

/// The sample series as parallel arrays: compact, and what plotting wants.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Series {
    pub t_ms: Vec<u64>,
    pub rss_bytes: Vec<u64>,
    pub vms_bytes: Vec<u64>,
}

impl Series {
    pub fn from_samples(samples: &[Sample]) -> Series {
        Series {
            t_ms: samples.iter().map(|s| s.t_ms).collect(),
            rss_bytes: samples.iter().map(|s| s.rss_bytes).collect(),
            vms_bytes: samples.iter().map(|s| s.vms_bytes).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.t_ms
            .len()
            .min(self.rss_bytes.len())
            .min(self.vms_bytes.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One suite's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    pub name: String,
    pub runtime: RuntimeKind,
    pub tags: Vec<String>,
    pub expect: Expect,
    pub verdict: VerdictKind,
    pub failures: Vec<FailureReport>,
    pub figures: FiguresReport,
    pub limits: LimitsReport,
    pub exit: Exit,
    pub duration_ms: u64,
    /// MEMTEST_SCALE the suite ran at (a canary may run below the run's).
    #[serde(default = "unit_scale")]
    pub scale: f64,
    pub log: PathBuf,
    /// Last lines the suite printed (bounded).
    pub log_tail: Vec<String>,
    /// Figures the suite reported on `MEMTEST name=value` lines.
    pub reported: BTreeMap<String, f64>,
    pub marker_seen: bool,
    /// What a wrapper (valgrind, heaptrack) found, when one ran.
    pub wrapper: Option<WrapperFindings>,
    pub samples: Series,
    /// Where the suite leaked (`memtest explain`, or a wrapper that names
    /// stacks): sites above the noise floor, named, largest first, at most
    /// [`SITES_KEPT`]. Absent in reports older than the field.
    #[serde(default)]
    pub sites: Vec<Site>,
    /// The suite's detection floor, from `run --floors FILE`; absent when
    /// the run had no floors file or the file holds none for the suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<KnownFloor>,
    /// Leak or allocator? The cause of its RSS growth and the figures that
    /// decided it, when `memtest explain` looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Diagnosis>,
}

fn unit_scale() -> f64 {
    1.0
}

/// The sites worth a report: above the noise floor, largest first, capped.
fn kept_sites(sites: &[Site]) -> Vec<Site> {
    let mut kept: Vec<Site> = sites
        .iter()
        .filter(|s| s.above_noise_floor())
        .cloned()
        .collect();
    kept.sort_by_key(|s| std::cmp::Reverse((s.bytes, s.blocks)));
    kept.truncate(SITES_KEPT);
    kept
}

impl SuiteReport {
    pub fn from_outcome(outcome: &Outcome) -> SuiteReport {
        let Outcome {
            job,
            measured,
            figures,
            floor,
            verdict,
            cause,
        } = outcome;
        let kind = VerdictKind::of(verdict);
        let failures: &[Failure] = match verdict {
            Verdict::Failed { failures }
            | Verdict::CanaryCaught { failures }
            | Verdict::Incomplete { failures, .. } => failures,
            Verdict::Passed | Verdict::CanaryMissed | Verdict::Interrupted => &[],
        };
        SuiteReport {
            name: job.suite.clone(),
            runtime: job.runtime,
            tags: job.tags.clone(),
            expect: job.expect,
            verdict: kind,
            failures: failures
                .iter()
                .map(|f| FailureReport {
                    failure: f.clone(),
                    text: f.to_string(),
                })
                .collect(),
            figures: FiguresReport::from_figures(figures),
            limits: LimitsReport::from_limits(&job.limits, job.timeout),
            exit: measured.exit.clone(),
            duration_ms: measured.duration.as_millis() as u64,
            scale: job.scale,
            log: job.log_path.clone(),
            log_tail: measured.log_tail.clone(),
            reported: measured.reported.clone(),
            marker_seen: measured.marker_seen,
            wrapper: measured.findings.clone(),
            samples: Series::from_samples(&measured.samples),
            sites: kept_sites(&measured.sites),
            floor: floor.clone(),
            cause: cause.clone(),
        }
    }

    /// The verdict back as the verdict module's type.
    pub fn verdict(&self) -> Verdict {
        let failures = || self.failures.iter().map(|f| f.failure.clone()).collect();
        match self.verdict {
            VerdictKind::Passed => Verdict::Passed,
            VerdictKind::Failed => Verdict::Failed {
                failures: failures(),
            },
            VerdictKind::CanaryCaught => Verdict::CanaryCaught {
                failures: failures(),
            },
            VerdictKind::CanaryMissed => Verdict::CanaryMissed,
            VerdictKind::Interrupted => Verdict::Interrupted,
            // Why it stopped is how it exited.
            VerdictKind::Incomplete => Verdict::Incomplete {
                stopped: match self.exit {
                    Exit::TimedOut { .. } => Stopped::TimedOut,
                    _ => Stopped::Interrupted,
                },
                failures: failures(),
            },
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(
            self.verdict,
            VerdictKind::Passed | VerdictKind::CanaryCaught
        )
    }

    /// The verdict's word ("PASS", "CANARY OK", ...).
    pub fn label(&self) -> &'static str {
        self.verdict.label()
    }

    /// The verdict's word with the detection floor beside it, when known:
    /// "PASS — would catch ≥ 256 B/call (native_leaks)".
    pub fn label_with_floor(&self) -> String {
        match &self.floor {
            Some(floor) => format!("{} — {floor}", self.label()),
            None => self.label().to_string(),
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    /// The figures back as the verdict module's type (for baselines).
    pub fn figures(&self) -> Figures {
        let f = &self.figures;
        Figures {
            peak_rss_sampled: Bytes(f.peak_rss_sampled_bytes),
            peak_rss_exact: f.peak_rss_exact.then_some(Bytes(f.peak_rss_bytes)),
            rss_growth: ByteDelta(f.rss_growth_bytes),
            vms_growth: ByteDelta(f.vms_growth_bytes),
            slope: f.slope_bytes_per_sec.map(BytesPerSec),
            slope_per_op: f.slope_per_op_bytes,
            native_leaks: f.native_leaks,
            live_growth: f.live_growth_bytes.map(ByteDelta),
            measured_from_ms: f.measured_from_ms.unwrap_or(0),
            soak: f.soak,
        }
    }

    /// What `criterion`'s column shows for this suite: its figure.
    pub fn figure(&self, criterion: Criterion) -> Option<Value> {
        criterion.figure(&self.judged(&self.figures()))
    }

    /// What `criterion`'s figure was judged by: its limit (or the timeout).
    pub fn bound(&self, criterion: Criterion) -> Option<Value> {
        criterion.bound(&self.judged(&self.figures()))
    }

    fn judged<'a>(&'a self, figures: &'a Figures) -> Judged<'a> {
        Judged {
            figures,
            limits: &self.limits.limits,
            duration: self.duration(),
            timeout: Duration::from_millis(self.limits.timeout_ms),
            floor: self.floor.as_ref().map(|f| Bytes(f.bytes_per_call)),
        }
    }

    /// Whether `criterion` failed (or, for a canary, caught it).
    pub fn tripped(&self, criterion: Criterion) -> bool {
        self.failures
            .iter()
            .any(|f| f.failure.criterion() == criterion)
    }

    /// Whether any failure concerns `criterion`'s figure: it tripped, or
    /// regressed against the baseline, or could not be measured.
    pub fn flagged(&self, criterion: Criterion) -> bool {
        self.failures
            .iter()
            .any(|f| f.failure.figure() == criterion)
    }

    /// The process died rather than finishing: its log tail explains more
    /// than its figures.
    pub fn crashed(&self) -> bool {
        !matches!(self.exit, Exit::Code { code: 0 } | Exit::Interrupted)
    }
}

impl FiguresReport {
    pub fn from_figures(f: &Figures) -> FiguresReport {
        FiguresReport {
            peak_rss_bytes: f.peak_rss().0,
            peak_rss_exact: f.peak_rss_exact.is_some(),
            peak_rss_sampled_bytes: f.peak_rss_sampled.0,
            rss_growth_bytes: f.rss_growth.0,
            vms_growth_bytes: f.vms_growth.0,
            slope_bytes_per_sec: f.slope.map(|s| s.0),
            slope_per_op_bytes: f.slope_per_op,
            native_leaks: f.native_leaks,
            live_growth_bytes: f.live_growth.map(|g| g.0),
            measured_from_ms: Some(f.measured_from_ms),
            soak: f.soak,
        }
    }
}

impl LimitsReport {
    pub fn from_limits(l: &Limits, timeout: Duration) -> LimitsReport {
        LimitsReport {
            limits: l.clone(),
            timeout_ms: timeout.as_millis() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::mixed_outcomes;

    #[test]
    fn suite_report_round_trips_verdict_and_figures() {
        for outcome in mixed_outcomes() {
            let suite = SuiteReport::from_outcome(&outcome);
            assert_eq!(suite.verdict(), outcome.verdict, "{}", suite.name);
            assert_eq!(suite.figures(), outcome.figures, "{}", suite.name);
        }
    }
}
