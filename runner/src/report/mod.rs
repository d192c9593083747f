//! Report: everything the user sees. Reporters consume [`Event`]s and nothing
//! else prints: the live progress and summary table on stderr
//! ([`ConsoleReporter`]), result files and GitHub annotations
//! ([`FilesReporter`]), and errors that end the program ([`ErrorReporter`]).
//!
//! Every writer takes a [`Report`] (plain data, built once from the events by
//! a [`ReportBuilder`]) rather than events, so `memtest merge` can feed the same
//! writers from JSON files of partitioned CI jobs.

pub mod bisect;
mod builder;
mod console;
mod error;
#[cfg(test)]
mod every_format;
pub mod export;
mod files;
pub mod floors;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
mod merge;
mod model;
pub mod plot;
pub mod sites;
pub mod table;
#[cfg(test)]
mod testdata;
mod text;
pub mod trend;

pub use builder::ReportBuilder;
pub use console::{print_summary, ConsoleReporter};
pub use error::{render_error, ErrorReporter};
pub use export::Exporter;
pub use files::{write_files, FilesReporter, Written};
pub use json::render_json;
pub use merge::{baseline_of, merge, read_report, save_baseline, MergeSummary};
pub use model::{
    FailureReport, FiguresReport, LimitsReport, Report, RunResult, Series, SuiteReport, Tool,
    Totals, VerdictKind, SCHEMA_VERSION,
};
pub use text::{closing_line, Paint};

use crate::model::Event;
use crate::verdict::baseline::BaselineError;
use std::io::IsTerminal;
use std::path::PathBuf;

/// A consumer of executor events.
pub trait Reporter: Send {
    fn on_event(&mut self, event: &Event);
    /// Called once after `RunFinished` (or after an interrupt): write files.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What to report and where. Build it with [`ReportOptions::from_env`] and set
/// the file fields from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// `--json FILE`: the full report, see docs/report-schema.md.
    pub json: Option<PathBuf>,
    /// `--junit FILE`: JUnit XML, one testsuite per runtime.
    pub junit: Option<PathBuf>,
    /// `--plot DIR`: one SVG memory plot per suite.
    pub plot_dir: Option<PathBuf>,
    /// `--html FILE`: one self-contained HTML page of the run.
    pub html: Option<PathBuf>,
    /// `--baseline FILE`: saved figures the HTML page shows beside the new
    /// ones (the executor compares against them on its own).
    pub baseline: Option<PathBuf>,
    /// `--baseline-report FILE`: the baseline run's JSON report; the HTML page
    /// shows its figures and draws its RSS curves under the new ones.
    pub baseline_report: Option<PathBuf>,
    /// `--summary FILE`: markdown summary.
    pub summary: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`: emit `::error` annotations for failed suites.
    pub github: bool,
    /// `$GITHUB_STEP_SUMMARY`: the markdown summary is appended here too.
    pub step_summary: Option<PathBuf>,
    /// Print every line the suites print, prefixed by the suite's name.
    pub verbose: bool,
    /// ANSI colours on stderr.
    pub color: bool,
    /// stderr is a terminal: redraw a status line in place.
    pub tty: bool,
    /// The console prints each suite's line but no summary table: a run
    /// that serves another (explain's cause probes), whose own summary
    /// follows.
    pub brief: bool,
}

impl ReportOptions {
    /// Terminal, colour and CI settings from the environment; no files.
    /// Colour follows the NO_COLOR / CLICOLOR_FORCE conventions.
    pub fn from_env() -> ReportOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let tty = std::io::stderr().is_terminal() && var("TERM").as_deref() != Some("dumb");
        let forced = var("CLICOLOR_FORCE").is_some_and(|v| v != "0");
        ReportOptions {
            github: var("GITHUB_ACTIONS").as_deref() == Some("true"),
            step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            color: forced || (tty && var("NO_COLOR").is_none()),
            tty,
            ..ReportOptions::default()
        }
    }

    /// Whether any file or annotation output was asked for.
    pub fn wants_files(&self) -> bool {
        self.json.is_some()
            || self.junit.is_some()
            || self.plot_dir.is_some()
            || self.html.is_some()
            || self.summary.is_some()
            || self.step_summary.is_some()
            || self.github
    }
}

/// The reporters a run uses: the console always, files when asked for.
pub fn reporters(opts: &ReportOptions) -> Vec<Box<dyn Reporter>> {
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(ConsoleReporter::stderr(opts))];
    if opts.wants_files() {
        reporters.push(Box::new(FilesReporter::new(opts.clone())));
    }
    reporters
}

/// Why a report could not be written, read or merged.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read report {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a memtest JSON report", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{} has report schema version {found}; this memtest reads version {expected}",
        path.display()
    )]
    SchemaVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("suite `{suite}` is in both {} and {}", first.display(), second.display())]
    DuplicateSuite {
        suite: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("nothing to merge: give at least one report")]
    NoInputs,
    #[error("cannot render the junit report")]
    Junit {
        #[source]
        source: quick_junit::SerializeError,
    },
    #[error("cannot draw the memory plot of suite `{suite}`")]
    Plot {
        suite: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Its own message names the file and whether it was read or written.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
}

impl ReportError {
    /// For [`Reporter::finish`], which speaks `io::Error`: keeps this error
    /// (and its causes) as the inner error.
    pub fn into_io(self) -> std::io::Error {
        match self {
            ReportError::Write { source, path } => {
                std::io::Error::new(source.kind(), ReportError::Write { path, source })
            }
            other => std::io::Error::other(other),
        }
    }
}
