//! Testing one commit: its worktree, the child memtest runs on it until the
//! noise rule settles, and what each run's JSON report says. The child runs
//! in a process group of its own with a mark in its environment; an
//! interrupt is passed on to it (SIGINT, then SIGKILL after
//! [`CHILD_GRACE`]), and whatever carries the mark afterwards is killed.

use super::super::git::{self, Worktree};
use super::super::{AppError, Context};
use crate::bisect::log::{Event, Role, RunLog, Step};
use crate::bisect::{Decision, Observation, Oracle, Reference, Rule, RunClass};
use crate::cli::BisectArgs;
use crate::history::Commit;
use crate::model::Metric;
use crate::process::Interrupt;
use crate::report::{self, SuiteReport};
use crate::verdict::baseline::BaselineEntry;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a child memtest gets to stop its suites after SIGINT before it
/// is killed: its own suites' grace, and its reports, fit well inside.
const CHILD_GRACE: Duration = Duration::from_secs(30);

/// Runs of --good a relative oracle takes the median of.
const REFERENCE_RUNS: usize = 3;

/// The selection flags every run is given (names, --tag, --runtime ...).
pub(super) fn filter_args(args: &BisectArgs) -> Vec<OsString> {
    let f = &args.filter;
    let mut out: Vec<OsString> = f.names.iter().map(OsString::from).collect();
    for (flag, values) in [
        ("--tag", &f.tags),
        ("--exclude-tag", &f.exclude_tags),
        ("--runtime", &f.runtimes),
    ] {
        for v in values {
            out.extend([OsString::from(flag), OsString::from(v)]);
        }
    }
    if let Some(p) = f.partition {
        out.extend([OsString::from("--partition"), OsString::from(p.to_string())]);
    }
    out
}

/// Everything needed to test one commit.
pub(super) struct Tester<'a> {
    pub(super) exe: PathBuf,
    pub(super) top: PathBuf,
    /// memtest.toml relative to the top of the work tree.
    pub(super) rel_config: PathBuf,
    pub(super) home: PathBuf,
    pub(super) ctx: &'a Context,
    pub(super) args: &'a BisectArgs,
    pub(super) interrupt: &'a Interrupt,
    pub(super) oracle: Oracle,
    pub(super) rule: Rule,
    pub(super) reference: Reference,
    /// Child memtests started so far (each gets a mark of its own).
    pub(super) marks: u32,
}

/// One run of a commit: judged, or why the commit cannot be.
enum RunOnce {
    Ran(RunLog),
    Untestable(String),
}

impl Tester<'_> {
    pub(super) fn relative_metric(&self) -> Option<Metric> {
        match self.oracle {
            Oracle::WorseThanGood { metric, .. } => Some(metric),
            _ => None,
        }
    }

    pub(super) fn interrupted(&self) -> Result<(), AppError> {
        if self.interrupt.is_set() {
            return Err(AppError::Interrupted {
                during: "the bisection",
                signal: self.interrupt.signal(),
            });
        }
        Ok(())
    }

    /// Checks `commit` out, runs it until the rule settles, removes the
    /// checkout (also on error and interrupt: the worktree's drop).
    pub(super) fn test(
        &mut self,
        role: Role,
        commit: &Commit,
        position: Option<usize>,
        steps_left: usize,
        emit: &mut dyn FnMut(Event),
    ) -> Result<Step, AppError> {
        self.interrupted()?;
        emit(Event::Testing {
            role,
            commit: commit.clone(),
            position,
            steps_left,
        });
        let started = Instant::now();
        let path = self.home.join(format!("wt-{}", commit.short()));
        git::remove(&self.top, &path);
        let tree = Worktree::add(&self.top, &path, &commit.id)?;
        self.interrupted()?;
        let config = tree.path().join(&self.rel_config);
        let mut runs: Vec<RunLog> = Vec::new();
        let mut reason = None;
        let decision = if !config.is_file() {
            reason = Some(format!("no {} at this commit", self.rel_config.display()));
            Decision::Skipped
        } else {
            loop {
                match self.run_once(tree.path(), &config, commit, runs.len() + 1)? {
                    RunOnce::Untestable(why) => {
                        reason = Some(why);
                        break Decision::Skipped;
                    }
                    RunOnce::Ran(run) => {
                        emit(Event::Ran(run.clone()));
                        runs.push(run);
                    }
                }
                if let Some(d) = self.decide(role, &runs) {
                    if d == Decision::Skipped {
                        reason = Some(self.disagreement(&runs));
                    }
                    break d;
                }
            }
        };
        drop(tree);
        Ok(Step {
            role,
            commit: commit.clone(),
            position,
            runs,
            decision,
            reason,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The rule, except for --good under a relative oracle: its runs are
    /// the reference, good by definition once enough measured the figure.
    fn decide(&self, role: Role, runs: &[RunLog]) -> Option<Decision> {
        let classes: Vec<RunClass> = runs.iter().map(|r| r.class).collect();
        if role == Role::Good && self.relative_metric().is_some() {
            let measured = classes.iter().filter(|c| **c == RunClass::Good).count();
            return if measured >= REFERENCE_RUNS {
                Some(Decision::Good)
            } else if runs.len() >= self.rule.max_runs.max(REFERENCE_RUNS as u32) as usize {
                Some(Decision::Skipped)
            } else {
                None
            };
        }
        self.rule.decide(&classes)
    }

    fn disagreement(&self, runs: &[RunLog]) -> String {
        let count = |c| runs.iter().filter(|r| r.class == c).count();
        format!(
            "its runs did not settle ({} good, {} bad, {} without the figure, in {} runs)",
            count(RunClass::Good),
            count(RunClass::Bad),
            count(RunClass::NoFigure),
            runs.len()
        )
    }

    /// One child memtest on the worktree: build (first run only) and run
    /// the selection, its JSON report read back.
    fn run_once(
        &mut self,
        tree: &Path,
        config: &Path,
        commit: &Commit,
        run: usize,
    ) -> Result<RunOnce, AppError> {
        self.interrupted()?;
        let runs_dir = self.home.join("runs");
        std::fs::create_dir_all(&runs_dir).map_err(AppError::ReportIo)?;
        let json = runs_dir.join(format!("{}-{run}.json", commit.short()));
        let output = runs_dir.join(format!("{}-{run}.log", commit.short()));
        let _ = std::fs::remove_file(&json);
        let argv = self.child_args(config, &json, run);
        let code = self.child(tree, argv, &output)?;
        let says = || last_error(&output);
        Ok(match code {
            Some(0 | 1) => {
                let suites = match report::read_report(&json) {
                    Ok(r) => r.suites.iter().map(observation).collect::<Vec<_>>(),
                    Err(e) => return Ok(RunOnce::Untestable(format!("no report: {e}"))),
                };
                RunOnce::Ran(RunLog {
                    run,
                    class: self.classify(&suites),
                    exit_code: code,
                    suites,
                    output,
                })
            }
            Some(3) => RunOnce::Untestable(format!("build or preflight failed: {}", says())),
            Some(2) => RunOnce::Untestable(format!("its memtest.toml or selection: {}", says())),
            other => RunOnce::Untestable(format!(
                "memtest ended with {}: {}",
                other.map_or("a signal".into(), |c| format!("exit {c}")),
                says()
            )),
        })
    }

    fn classify(&self, suites: &[Observation]) -> RunClass {
        match self.relative_metric() {
            // --good's own runs: good when they measured the figure.
            Some(metric) if self.reference.0.is_empty() => {
                if suites.iter().any(|o| o.figures.get(metric).is_some()) {
                    RunClass::Good
                } else {
                    RunClass::NoFigure
                }
            }
            _ => self.oracle.classify(suites, &self.reference),
        }
    }

    /// Starts the child memtest and waits for it, passing an interrupt on;
    /// its exit code (`None`: a signal ended it).
    pub(super) fn child(
        &mut self,
        tree: &Path,
        argv: Vec<OsString>,
        output: &Path,
    ) -> Result<Option<i32>, AppError> {
        self.marks += 1;
        let mark = format!("{}.bisect.{}", std::process::id(), self.marks);
        let log = std::fs::File::create(output).map_err(AppError::ReportIo)?;
        let err = log.try_clone().map_err(AppError::ReportIo)?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(argv)
            .current_dir(tree)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            // The bisection's runs are not the CI job's result.
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env(crate::sample::SUITE_ID_ENV, &mark)
            .process_group(0);
        // Cargo projects: the commits share one target folder, so the
        // registry dependencies build once, not once per commit.
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            cmd.env("CARGO_TARGET_DIR", self.home.join("target"));
        }
        let mut child = cmd.spawn().map_err(AppError::Runtime)?;
        let status = crate::process::interrupt::wait_or_stop(
            &mut child,
            self.interrupt,
            libc::SIGINT,
            CHILD_GRACE,
        )
        .map_err(AppError::Runtime)?;
        sweep(&mark);
        match status {
            None => Err(AppError::Interrupted {
                during: "the bisection",
                signal: self.interrupt.signal(),
            }),
            Some(_) if self.interrupt.is_set() => self.interrupted().map(|_| None),
            Some(status) => Ok(status.code()),
        }
    }

    /// `--config CONFIG [--profile P] [--wrapper W]`: what every child
    /// memtest is given before its command.
    pub(super) fn global_args(&self, config: &Path) -> Vec<OsString> {
        let ctx = self.ctx;
        let mut a: Vec<OsString> = vec!["--config".into(), config.into()];
        for (flag, value) in [("--profile", &ctx.profile), ("--wrapper", &ctx.wrapper)] {
            if let Some(v) = value {
                a.extend([flag.into(), v.into()]);
            }
        }
        a
    }

    /// `--json FILE` and the execution flags passed on (--jobs, --scale,
    /// --sampler).
    pub(super) fn exec_args(&self, json: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["--json".into(), json.into()];
        let exec = &self.args.exec;
        if let Some(jobs) = exec.jobs {
            a.extend(["--jobs".into(), jobs.to_string().into()]);
        }
        if let Some(scale) = exec.scale {
            a.extend(["--scale".into(), scale.to_string().into()]);
        }
        if let Some(sampler) = exec.sampler {
            a.extend(["--sampler".into(), sampler.name().into()]);
        }
        a
    }

    fn child_args(&self, config: &Path, json: &Path, run: usize) -> Vec<OsString> {
        let ctx = self.ctx;
        let mut a = self.global_args(config);
        a.push("run".into());
        a.extend(filter_args(self.args));
        a.extend(self.exec_args(json));
        if run > 1 {
            a.push("--no-build".into());
        }
        let cwd = std::env::current_dir().unwrap_or_default();
        for (flag, path) in [
            ("--history", &ctx.report.history),
            ("--baseline", &ctx.report.baseline),
        ] {
            if let Some(p) = path {
                a.extend([flag.into(), cwd.join(p).into()]);
            }
        }
        if ctx.report.baseline.is_some() {
            let tolerance = ctx.report.tolerance.to_string();
            a.extend(["--tolerance".into(), tolerance.into()]);
        }
        a
    }
}

/// One suite of a child's report as the oracle sees it.
fn observation(s: &SuiteReport) -> Observation {
    Observation {
        suite: s.name.clone(),
        verdict: s.label().to_string(),
        success: s.is_success(),
        failed_on: s.failures.iter().map(|f| f.failure.criterion()).collect(),
        figures: BaselineEntry::from_figures(&s.figures(), s.duration()),
    }
}

/// Whatever the child memtest started and left (its build's processes
/// carry the mark; its suites are its own to sweep): killed.
fn sweep(mark: &str) {
    let until = Instant::now() + Duration::from_secs(3);
    loop {
        let left = crate::sample::marked_processes(mark);
        if left.is_empty() || Instant::now() >= until {
            return;
        }
        for (pid, start) in left {
            if crate::sample::start_time(pid) == Some(start) {
                crate::process::unix::signal_pid(pid, crate::process::unix::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child's error in a line: memtest's `error:` and its `caused by:`
/// lines, and the first error the tool under them printed (a compiler's
/// `file:line: error: ...` from the build log's tail); else its last line.
pub(super) fn last_error(output: &Path) -> String {
    let text = std::fs::read_to_string(output).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let Some(from) = lines.iter().position(|l| l.starts_with("error:")) else {
        return lines.last().map_or("(no output)".into(), |l| l.to_string());
    };
    let mut picked: Vec<&str> = vec![lines[from].trim_start_matches("error:").trim()];
    let rest = &lines[from + 1..];
    picked.extend(
        rest.iter()
            .filter_map(|l| l.strip_prefix("caused by:"))
            .map(str::trim),
    );
    picked.extend(
        rest.iter()
            .find(|l| l.contains("error:") && !l.starts_with("caused by:"))
            .copied(),
    );
    picked.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_childs_error_is_its_error_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.log");
        std::fs::write(
            &p,
            "building\nerror: build failed\n  caused by: make exited 2\n\n",
        )
        .unwrap();
        assert_eq!(last_error(&p), "build failed: make exited 2");
        std::fs::write(
            &p,
            "error: cannot build the library\n  caused by: `make` failed (exit status: 2)\n    \
             last lines of build.log:\n    cc -c lib.c\n    lib.c:12:5: error: expected ';'\n",
        )
        .unwrap();
        assert_eq!(
            last_error(&p),
            "cannot build the library: `make` failed (exit status: 2): lib.c:12:5: error: expected ';'"
        );
        std::fs::write(&p, "just this\n").unwrap();
        assert_eq!(last_error(&p), "just this");
        assert_eq!(last_error(&dir.path().join("none")), "(no output)");
    }
}
