//! [`ReportBuilder`]: the [`Report`] of a live run, built from the
//! executor's events by each reporter that needs the whole run.

use super::model::{Report, SuiteReport};
use crate::model::Event;
use std::time::{Duration, Instant, SystemTime};

/// Builds a [`Report`] from the executor's event stream (not to be confused
/// with exec's output collector, which gathers one suite's lines). Each
/// reporter that needs the whole run owns one.
#[derive(Debug)]
pub struct ReportBuilder {
    started_at: SystemTime,
    started: Instant,
    duration: Option<Duration>,
    interrupted: bool,
    suites: Vec<SuiteReport>,
}

impl Default for ReportBuilder {
    fn default() -> Self {
        ReportBuilder::new()
    }
}

impl ReportBuilder {
    pub fn new() -> ReportBuilder {
        ReportBuilder {
            started_at: SystemTime::now(),
            started: Instant::now(),
            duration: None,
            interrupted: false,
            suites: Vec::new(),
        }
    }

    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::SuiteFinished { outcome } => {
                self.suites.push(SuiteReport::from_outcome(outcome));
            }
            Event::Interrupted => self.interrupted = true,
            Event::RunFinished { duration } => self.duration = Some(*duration),
            _ => {}
        }
    }

    /// The report so far. Before `RunFinished` (an interrupt), the duration is
    /// the time since the builder was made.
    pub fn report(&self) -> Report {
        let duration = self.duration.unwrap_or_else(|| self.started.elapsed());
        Report::new(
            self.started_at,
            duration,
            self.interrupted,
            self.suites.clone(),
        )
    }

    /// Pins the start time, so tests get stable output.
    pub fn with_start(mut self, started_at: SystemTime) -> ReportBuilder {
        self.started_at = started_at;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;

    #[test]
    fn builder_builds_the_report_from_events() {
        let mut builder = ReportBuilder::new();
        for outcome in mixed_outcomes() {
            builder.on_event(&Event::SuiteFinished {
                outcome: Box::new(outcome),
            });
        }
        builder.on_event(&Event::RunFinished {
            duration: Duration::from_secs(7),
        });
        let report = builder.report();
        assert_eq!(report.totals.suites, 5);
        assert_eq!(report.duration_ms, 7_000);
        assert!(!report.interrupted);

        let mut interrupted = ReportBuilder::new();
        interrupted.on_event(&Event::Interrupted);
        let report = interrupted.report();
        assert!(report.interrupted && !report.success);
    }
}
