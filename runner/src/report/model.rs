//! The report data: one plain, serialisable value per run, built once from the
//! executor's events (`builder.rs`) and read by every exporter (JSON, JUnit,
//! summary table, markdown, HTML, plots, annotations). `memtest merge` reads
//! it back from JSON, so the exporters never need the events. Its JSON form is documented in docs/report-schema.md;
//! bump [`SCHEMA_VERSION`] on any change that is not a pure addition.

mod suite;

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(test)]
pub use suite::SITES_KEPT;
pub use suite::{FailureReport, FiguresReport, LimitsReport, Series, SuiteReport, VerdictKind};

/// Version of the JSON report format.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run (or several merged runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// RFC 3339, UTC, millisecond precision.
    pub started_at: String,
    /// The same instant as milliseconds since the Unix epoch (what merge uses).
    pub started_at_unix_ms: u64,
    pub duration_ms: u64,
    /// The user interrupted the run: suites may be missing.
    pub interrupted: bool,
    /// Every suite's verdict lets the run succeed and the run was not interrupted.
    pub success: bool,
    pub totals: Totals,
    /// Sorted by name.
    pub suites: Vec<SuiteReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn current() -> Tool {
        Tool {
            name: "memtest".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Count of suites per verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    pub suites: usize,
    pub passed: usize,
    pub failed: usize,
    pub canary_caught: usize,
    pub canary_missed: usize,
    pub interrupted: usize,
    /// Soaks by duration stopped before they finished; left out of the
    /// JSON when none was.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub incomplete: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Totals {
    pub fn of(suites: &[SuiteReport]) -> Totals {
        let mut totals = Totals {
            suites: suites.len(),
            ..Totals::default()
        };
        for suite in suites {
            match suite.verdict {
                VerdictKind::Passed => totals.passed += 1,
                VerdictKind::Failed => totals.failed += 1,
                VerdictKind::CanaryCaught => totals.canary_caught += 1,
                VerdictKind::CanaryMissed => totals.canary_missed += 1,
                VerdictKind::Interrupted => totals.interrupted += 1,
                VerdictKind::Incomplete => totals.incomplete += 1,
            }
        }
        totals
    }
}

/// How a whole run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    Passed,
    Failed,
    Interrupted,
}

impl RunResult {
    /// The run's word in every report ("PASSED", ...).
    pub fn label(self) -> &'static str {
        match self {
            RunResult::Passed => "PASSED",
            RunResult::Failed => "FAILED",
            RunResult::Interrupted => "INTERRUPTED",
        }
    }

    /// The same word in lower case, for headings and CSS classes.
    pub fn name(self) -> &'static str {
        match self {
            RunResult::Passed => "passed",
            RunResult::Failed => "failed",
            RunResult::Interrupted => "interrupted",
        }
    }
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds
/// ("2026-01-02T03:04:05.678Z"), the form `started_at` promises.
pub fn rfc3339_utc(unix_ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(unix_ms)).to_string()
}

impl Report {
    /// A report of these suites (sorted here), with totals computed.
    pub fn new(
        started_at: SystemTime,
        duration: Duration,
        interrupted: bool,
        suites: Vec<SuiteReport>,
    ) -> Report {
        let unix_ms = started_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Report::from_parts(Tool::current(), unix_ms, duration, interrupted, suites)
    }

    pub(crate) fn from_parts(
        tool: Tool,
        started_at_unix_ms: u64,
        duration: Duration,
        interrupted: bool,
        mut suites: Vec<SuiteReport>,
    ) -> Report {
        suites.sort_by(|a, b| a.name.cmp(&b.name));
        let totals = Totals::of(&suites);
        let success = !interrupted && suites.iter().all(SuiteReport::is_success);
        Report {
            schema_version: SCHEMA_VERSION,
            tool,
            started_at: rfc3339_utc(started_at_unix_ms),
            started_at_unix_ms,
            duration_ms: duration.as_millis() as u64,
            interrupted,
            success,
            totals,
            suites,
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    /// How the run ended: passed, or else interrupted or failed.
    pub fn result(&self) -> RunResult {
        if self.success {
            RunResult::Passed
        } else if self.interrupted {
            RunResult::Interrupted
        } else {
            RunResult::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;
    use crate::model::{Failure, RuntimeKind, Verdict};

    #[test]
    fn totals_and_success_follow_the_verdicts() {
        let report = report_of(&mixed_outcomes());
        assert_eq!(
            report.totals,
            Totals {
                suites: 5,
                passed: 1,
                failed: 2,
                canary_caught: 1,
                canary_missed: 1,
                interrupted: 0,
                incomplete: 0,
            }
        );
        assert!(!report.success);
        let names: Vec<_> = report.suites.iter().map(|s| s.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);

        let ok = report_of(&mixed_outcomes()[..2]);
        assert!(ok.success);
        assert_eq!(ok.started_at, "2026-01-02T03:04:05.678Z");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_utc(1_767_323_045_678), "2026-01-02T03:04:05.678Z");
    }

    #[test]
    fn json_round_trips() {
        let report = report_of(&mixed_outcomes());
        let text = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn a_spawn_failure_keeps_its_own_message_beside_the_text() {
        let outcome = outcome(
            "spawn",
            RuntimeKind::Node,
            Verdict::Failed {
                failures: vec![Failure::SpawnFailed {
                    message: "node: not found".into(),
                }],
            },
        );
        let report = report_of(&[outcome]);
        let text = serde_json::to_string(&report).unwrap();
        assert_eq!(text.matches("\"message\":").count(), 1, "{text}");
        assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), report);
    }
}
