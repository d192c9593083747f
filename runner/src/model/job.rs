//! What a suite is asked to do: the [`Job`] the planner hands the executor,
//! with its resolved [`Limits`](super::Limits), the kind of runtime it runs on and the
//! wrapper around it. Plain data shared by every stage, so no stage has to
//! import another to name it.

use super::{Criterion, Limits};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Whether a suite is meant to pass, or is a canary that must fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    #[default]
    Pass,
    Fail,
}

/// The language runtime of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Rust,
    Node,
    Python,
    /// Any program: a C or Zig test binary, `zig build test`, pytest, ruby.
    Command,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Rust => "rust",
            RuntimeKind::Node => "node",
            RuntimeKind::Python => "python",
            RuntimeKind::Command => "command",
        }
    }
}

/// One suite, ready to execute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub suite: String,
    pub runtime: RuntimeKind,
    pub tags: Vec<String>,
    /// argv[0] is the program (wrapper first when a wrapper is used).
    pub argv: Vec<String>,
    /// Full environment additions (the child also inherits the runner's env).
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL on timeout or interrupt.
    pub grace: Duration,
    pub sample_interval: Duration,
    /// MEMTEST_SCALE for this suite: the run's scale, or less for a canary
    /// (see `Settings::canary_scale`).
    #[serde(default = "unit_scale")]
    pub scale: f64,
    pub limits: Limits,
    pub expect: Expect,
    /// For a canary: the criteria it exists to trip (`Failure::criterion`
    /// names). A canary that fails only on something else (a crash, a
    /// timeout) has not shown that the suite sees the leak. Empty = any.
    #[serde(default)]
    pub catches: Vec<Criterion>,
    /// Runs alone: no other suite runs at the same time.
    pub exclusive: bool,
    /// Threads (of `--jobs` slots) the suite keeps busy while it runs.
    #[serde(default = "one")]
    pub threads: u32,
    /// stdout and stderr of the suite go here in full.
    pub log_path: PathBuf,
    /// The wrapper (valgrind, heaptrack) the suite runs under, if any.
    pub wrapper: Option<WrapperRun>,
    /// A soak by duration (`--duration`, the `soak` profile): the suite
    /// repeats its work until this much time has passed
    /// (`MEMTEST_DURATION_MS`), and a run stopped before it finished is
    /// judged `Incomplete` on what it showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

fn one() -> u32 {
    1
}

fn unit_scale() -> f64 {
    1.0
}

#[cfg(test)]
impl Job {
    /// A plain job for tests to adjust.
    pub fn example() -> Job {
        Job {
            suite: "s".into(),
            runtime: RuntimeKind::Python,
            tags: vec![],
            argv: vec!["python3".into()],
            env: vec![],
            cwd: ".".into(),
            timeout: Duration::from_secs(10),
            grace: Duration::from_secs(1),
            sample_interval: Duration::from_millis(10),
            scale: 1.0,
            limits: Limits::default(),
            expect: Expect::Pass,
            catches: vec![],
            exclusive: false,
            threads: 1,
            log_path: "s.log".into(),
            wrapper: None,
            duration: None,
        }
    }
}

/// How to read what a wrapper found after the suite exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingsKind {
    /// valgrind `--xml=yes` output: errors and leak records.
    ValgrindXml,
    /// heaptrack's recording: summarised with `heaptrack_print` when present.
    Heaptrack,
    /// AddressSanitizer / LeakSanitizer reports, one file per process
    /// (`log_path=PATH` writes `PATH.<pid>`).
    Sanitizer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapperRun {
    pub name: String,
    pub findings: FindingsKind,
    /// Where the wrapper writes its findings (already interpolated).
    pub output_path: PathBuf,
}
