//! What a bisection records: the JSON log (`--json FILE`, by default
//! `.memtest/bisect/bisect.json`), rewritten after every commit so that an
//! interrupted bisection leaves what it learned, and the events the
//! bisection reporter prints as they happen.

use super::sites::SitesDiff;
use super::{Decision, Observation, Oracle, Reference, Rule, RunClass};
use crate::history::Commit;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Version of the log's JSON form.
pub const SCHEMA_VERSION: u32 = 1;

/// Why a commit was tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The --good commit: it must test good (and gives the reference).
    Good,
    /// The --bad commit: it must test bad.
    Bad,
    /// A commit the binary search picked.
    Step,
}

/// One run of the selected suites at a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    /// 1-based.
    pub run: usize,
    pub class: RunClass,
    /// memtest's exit code for the run.
    pub exit_code: Option<i32>,
    pub suites: Vec<Observation>,
    /// memtest's own output for the run.
    pub output: PathBuf,
}

/// One tested commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub role: Role,
    pub commit: Commit,
    /// 1-based position in the line of commits after --good (--bad is the
    /// last); `None` for --good.
    pub position: Option<usize>,
    pub runs: Vec<RunLog>,
    pub decision: Decision,
    /// Why a commit was skipped: its build failed, its runs disagreed.
    pub reason: Option<String>,
    pub duration_ms: u64,
}

impl Step {
    /// Runs of each class: (good, bad).
    pub fn tally(&self) -> (usize, usize) {
        let count = |c| self.runs.iter().filter(|r| r.class == c).count();
        (count(RunClass::Good), count(RunClass::Bad))
    }
}

/// How a bisection ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The first bad commit, and the last good one before it.
    Found {
        first_bad: Commit,
        last_good: Commit,
    },
    /// Only skipped commits separate the last good from the first bad one:
    /// the first bad commit is one of these.
    Among {
        last_good: Commit,
        commits: Vec<Commit>,
    },
    /// --good tested bad, or --bad tested good: there is nothing to search.
    EndpointsDisagree { message: String },
    /// --good or --bad could not be judged (its build failed, its runs
    /// never agreed).
    EndpointUntestable { message: String },
    /// Ctrl-C or SIGTERM stopped it.
    Interrupted,
}

/// The whole log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log {
    pub schema_version: u32,
    pub good: Commit,
    pub bad: Commit,
    /// Commits after --good up to --bad, first parent only.
    pub commits: usize,
    pub first_parent: bool,
    /// The selection passed to every run (names, --tag, --runtime ...).
    pub selection: Vec<String>,
    pub oracle: Oracle,
    pub rule: Rule,
    /// The --good commit's figures, for a relative oracle.
    pub reference: Option<Reference>,
    pub steps: Vec<Step>,
    pub outcome: Option<Outcome>,
    /// `--sites`: the leak sites that grew between the last good and the
    /// first bad commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<SitesDiff>,
    pub duration_ms: u64,
}

/// What the bisection reporter is told, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        good: Commit,
        bad: Commit,
        commits: usize,
        oracle: Oracle,
        rule: Rule,
    },
    /// A commit is checked out and built.
    Testing {
        role: Role,
        commit: Commit,
        position: Option<usize>,
        /// Worst case without skips, for a search step.
        steps_left: usize,
    },
    Ran(RunLog),
    Decided(Step),
    /// `--sites`: the last good and the first bad commit run in
    /// attribution mode.
    Explaining {
        last_good: Commit,
        first_bad: Commit,
        suites: Vec<String>,
    },
    Finished {
        outcome: Outcome,
        sites: Option<Box<SitesDiff>>,
        log: PathBuf,
    },
}
