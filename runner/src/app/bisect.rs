//! `memtest bisect --good REV --bad REV [SUITE...]`: finds the first commit
//! whose runs go bad, by the search, oracle and noise rule of
//! [`crate::bisect`]. Each tested commit is checked out in a worktree of its
//! own under `.memtest/bisect/` ([`git::Worktree`], removed on every way out)
//! and judged by running this very memtest binary there, on that commit's
//! own memtest.toml: `memtest --config <worktree>/memtest.toml run SUITE...
//! --json FILE` builds with the commit's `[build]` and runs the suites (later
//! runs of the commit pass `--no-build`). A child memtest keeps every
//! guarantee of a run (no suite outlives it, exit 3 when the build fails),
//! and a commit whose memtest.toml differs is judged by its own.
//!
//! The child runs in a process group of its own, so Ctrl-C reaches this
//! process only: the run-wide [`Interrupt`] passes SIGINT on to the child
//! memtest (which stops its build or suites as usual), waits for it, and
//! the worktree's guard removes the checkout. No `git bisect` state is ever
//! made: the user's HEAD, index and work tree are not touched.

use super::git::{self, Worktree};
use super::{AppError, Context, ExitStatus};
use crate::bisect::log::{self, Event, Log, Outcome, Role, RunLog, Step};
use crate::bisect::search::{Answer, Mark, Search};
use crate::bisect::{Decision, Observation, Oracle, Reference, Rule, RunClass};
use crate::cli::{BisectArgs, FigureArg};
use crate::config::Config;
use crate::history::Commit;
use crate::model::Metric;
use crate::process::Interrupt;
use crate::report::bisect::BisectReporter;
use crate::report::{self, ReportOptions, SuiteReport};
use crate::units::{parse_duration, Bytes, BytesPerSec, UnitError};
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

/// `bisect`: the search, printed as it goes, its log written after every
/// commit; the exit status of how it ended.
pub(super) fn bisect(
    config: &Config,
    ctx: &Context,
    args: &BisectArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let oracle = oracle_of(args)?;
    let rule = Rule {
        max_runs: args.runs,
        margin: args.margin,
    };
    rule.check().map_err(AppError::Usage)?;
    if args.exec.no_build {
        return Err(AppError::Usage(
            "bisect builds every commit it tests: drop --no-build".into(),
        ));
    }
    // The profile, wrapper, scale and suite names as the current
    // memtest.toml knows them: a name it does not know is most likely a typo.
    ctx.resolve(config, &args.filter, args.exec.scale)?;
    let top = git::toplevel(&config.root)?;
    let rel_config = std::fs::canonicalize(&config.path)
        .ok()
        .and_then(|p| p.strip_prefix(&top).ok().map(Path::to_path_buf))
        .ok_or_else(|| {
            AppError::Usage(format!(
                "{} is not inside the git work tree {}: bisect checks out commits of that repository",
                config.path.display(),
                top.display()
            ))
        })?;
    let (good, bad, line) = endpoints(&top, args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    let interrupt = Interrupt::on_signals(&runtime).map_err(AppError::Runtime)?;
    let home = config.state_dir().join("bisect");
    clear_leftovers(&top, &home);
    let mut tester = Tester {
        exe: std::env::current_exe().map_err(AppError::Runtime)?,
        top,
        rel_config,
        home: home.clone(),
        ctx,
        args,
        interrupt: &interrupt,
        oracle,
        rule,
        reference: Reference::default(),
        marks: 0,
    };
    let mut log = Log {
        schema_version: log::SCHEMA_VERSION,
        good,
        bad,
        commits: line.len(),
        first_parent: true,
        selection: selection_args(args),
        oracle,
        rule,
        reference: None,
        steps: Vec::new(),
        outcome: None,
        duration_ms: 0,
    };
    let log_path = ctx
        .report
        .json
        .clone()
        .unwrap_or_else(|| home.join("bisect.json"));
    let mut reporter = BisectReporter::new(std::io::stdout(), opts.color);
    let mut session = Session {
        log: &mut log,
        path: &log_path,
        started: Instant::now(),
        reporter: &mut reporter,
    };
    let outcome = search(&mut tester, &line, &mut session);
    let outcome = match outcome {
        Ok(o) => o,
        Err(AppError::Interrupted { .. }) => Outcome::Interrupted,
        Err(e) => return Err(e),
    };
    session.finish(outcome.clone())?;
    Ok(match outcome {
        Outcome::Found { .. } => ExitStatus::Passed,
        Outcome::Among { .. } => ExitStatus::Inconclusive,
        Outcome::EndpointsDisagree { .. } => ExitStatus::SuiteFailed,
        Outcome::EndpointUntestable { .. } => ExitStatus::BuildOrPreflight,
        Outcome::Interrupted => match interrupt.signal() {
            Some(libc::SIGTERM) => ExitStatus::Terminated,
            _ => ExitStatus::Interrupted,
        },
    })
}

/// The oracle the flags ask for; the one place a figure's name is read.
fn oracle_of(args: &BisectArgs) -> Result<Oracle, AppError> {
    let Some(figure) = args.figure else {
        return Ok(Oracle::Verdict);
    };
    let metric = match figure {
        FigureArg::PeakRss => Metric::PeakRss,
        FigureArg::RssGrowth => Metric::RssGrowth,
        FigureArg::Slope => Metric::Slope,
        FigureArg::Duration => Metric::Duration,
    };
    match (&args.above, args.worse_than_good) {
        (Some(text), None) => {
            let limit =
                parse_value(metric, text).map_err(|e| AppError::Usage(format!("--above: {e}")))?;
            Ok(Oracle::Above { metric, limit })
        }
        (None, Some(percent)) if percent.is_finite() && percent >= 0.0 => {
            Ok(Oracle::WorseThanGood { metric, percent })
        }
        (None, Some(percent)) => Err(AppError::Usage(format!(
            "--worse-than-good {percent}: give a percentage >= 0, e.g. 10"
        ))),
        _ => Err(AppError::Usage(
            "--figure needs --above VALUE or --worse-than-good PCT".into(),
        )),
    }
}

/// A threshold in the metric's unit (bytes, bytes/s, ms).
fn parse_value(metric: Metric, text: &str) -> Result<f64, UnitError> {
    match metric {
        Metric::PeakRss | Metric::RssGrowth => Bytes::parse(text).map(Bytes::as_f64),
        Metric::Slope => BytesPerSec::parse(text).map(|r| r.0),
        Metric::Duration => parse_duration(text).map(|d| d.as_millis() as f64),
    }
}

/// --good, --bad and the first-parent line of commits after --good up to
/// --bad.
fn endpoints(top: &Path, args: &BisectArgs) -> Result<(Commit, Commit, Vec<String>), AppError> {
    let good = git::commit(top, &args.good)?;
    let bad = git::commit(top, &args.bad)?;
    if good.id == bad.id || !git::is_ancestor(top, &good.id, &bad.id)? {
        return Err(AppError::Usage(format!(
            "--good {} must be an earlier commit than --bad {} (an ancestor of it)",
            args.good, args.bad
        )));
    }
    let line = git::line(top, &good.id, &bad.id)?;
    if line.last() != Some(&bad.id) {
        return Err(AppError::Usage(format!(
            "--good {} is not on the first-parent line of --bad {}: name a commit on it (e.g. where the branch was merged)",
            args.good, args.bad
        )));
    }
    Ok((good, bad, line))
}

/// Worktrees a bisection killed before it could clean up (SIGKILL, a power
/// cut) are removed, and the runs of the last bisection with them.
fn clear_leftovers(top: &Path, home: &Path) {
    if let Ok(entries) = std::fs::read_dir(home) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("wt-") {
                git::remove(top, &e.path());
            }
        }
    }
    let _ = git::git(top, &["worktree", "prune"]);
    let _ = std::fs::remove_dir_all(home.join("runs"));
}

/// What was asked of every run: its selection flags, for the log.
fn selection_args(args: &BisectArgs) -> Vec<String> {
    filter_args(args)
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn filter_args(args: &BisectArgs) -> Vec<OsString> {
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

/// The log being written and the reporter being told.
struct Session<'a> {
    log: &'a mut Log,
    path: &'a Path,
    started: Instant,
    reporter: &'a mut BisectReporter<std::io::Stdout>,
}

impl Session<'_> {
    fn emit(&mut self, event: Event) {
        self.reporter.on_event(&event);
    }

    /// Records a tested commit and rewrites the log.
    fn step(&mut self, step: Step) -> Result<(), AppError> {
        self.emit(Event::Decided(step.clone()));
        self.log.steps.push(step);
        self.write()
    }

    fn write(&mut self) -> Result<(), AppError> {
        self.log.duration_ms = self.started.elapsed().as_millis() as u64;
        report::bisect::write_log(self.path, self.log).map_err(AppError::ReportIo)
    }

    fn finish(&mut self, outcome: Outcome) -> Result<(), AppError> {
        self.log.outcome = Some(outcome.clone());
        self.write()?;
        self.emit(Event::Finished {
            outcome,
            log: self.path.to_owned(),
        });
        Ok(())
    }
}

/// The endpoints, then the binary search; how it ended.
fn search(tester: &mut Tester, line: &[String], s: &mut Session) -> Result<Outcome, AppError> {
    let (good, bad) = (s.log.good.clone(), s.log.bad.clone());
    s.emit(Event::Started {
        good: good.clone(),
        bad: bad.clone(),
        commits: line.len(),
        oracle: tester.oracle,
        rule: tester.rule,
    });
    let step = tester.test(Role::Good, &good, None, 0, s)?;
    if let Some(metric) = tester.relative_metric() {
        let runs: Vec<Vec<Observation>> = step.runs.iter().map(|r| r.suites.clone()).collect();
        tester.reference = Reference::of(metric, &runs);
        s.log.reference = Some(tester.reference.clone());
    }
    let decision = step.decision;
    s.step(step)?;
    if let Some(outcome) = endpoint_outcome("--good", &good, decision, Decision::Good) {
        return Ok(outcome);
    }
    let step = tester.test(Role::Bad, &bad, Some(line.len()), 0, s)?;
    let decision = step.decision;
    s.step(step)?;
    if let Some(outcome) = endpoint_outcome("--bad", &bad, decision, Decision::Bad) {
        return Ok(outcome);
    }
    let mut search = Search::new(line.len());
    while let Some(i) = search.next() {
        let commit = git::commit(&tester.top, &line[i])?;
        let step = tester.test(Role::Step, &commit, Some(i + 1), search.steps_left(), s)?;
        search.mark(
            i,
            match step.decision {
                Decision::Good => Mark::Good,
                Decision::Bad => Mark::Bad,
                Decision::Skipped => Mark::Skipped,
            },
        );
        s.step(step)?;
    }
    let at = |i: usize| git::commit(&tester.top, &line[i]);
    let before = |i: usize| if i == 0 { Ok(good.clone()) } else { at(i - 1) };
    Ok(match search.answer() {
        Answer::Found(i) => Outcome::Found {
            first_bad: at(i)?,
            last_good: before(i)?,
        },
        Answer::Among(indices) => Outcome::Among {
            last_good: before(indices[0])?,
            commits: indices.iter().map(|i| at(*i)).collect::<Result<_, _>>()?,
        },
    })
}

/// An endpoint that did not test as it must ends the bisection.
fn endpoint_outcome(flag: &str, c: &Commit, got: Decision, want: Decision) -> Option<Outcome> {
    let name = |d: Decision| match d {
        Decision::Good => "good",
        Decision::Bad => "bad",
        Decision::Skipped => "skipped",
    };
    match got {
        _ if got == want => None,
        Decision::Skipped => Some(Outcome::EndpointUntestable {
            message: format!(
                "{flag} {} could not be judged (see its step above)",
                c.short()
            ),
        }),
        _ => Some(Outcome::EndpointsDisagree {
            message: format!(
                "{flag} {} tests {}, not {}: nothing to search between the two",
                c.short(),
                name(got),
                name(want)
            ),
        }),
    }
}

/// Everything needed to test one commit.
struct Tester<'a> {
    exe: PathBuf,
    top: PathBuf,
    /// memtest.toml relative to the top of the work tree.
    rel_config: PathBuf,
    home: PathBuf,
    ctx: &'a Context,
    args: &'a BisectArgs,
    interrupt: &'a Interrupt,
    oracle: Oracle,
    rule: Rule,
    reference: Reference,
    /// Child memtests started so far (each gets a mark of its own).
    marks: u32,
}

/// One run of a commit: judged, or why the commit cannot be.
enum RunOnce {
    Ran(RunLog),
    Untestable(String),
}

impl Tester<'_> {
    fn relative_metric(&self) -> Option<Metric> {
        match self.oracle {
            Oracle::WorseThanGood { metric, .. } => Some(metric),
            _ => None,
        }
    }

    fn interrupted(&self) -> Result<(), AppError> {
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
    fn test(
        &mut self,
        role: Role,
        commit: &Commit,
        position: Option<usize>,
        steps_left: usize,
        s: &mut Session,
    ) -> Result<Step, AppError> {
        self.interrupted()?;
        s.emit(Event::Testing {
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
                        s.emit(Event::Ran(run.clone()));
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
        let code = self.child(tree, config, &json, &output, run)?;
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
    fn child(
        &mut self,
        tree: &Path,
        config: &Path,
        json: &Path,
        output: &Path,
        run: usize,
    ) -> Result<Option<i32>, AppError> {
        self.marks += 1;
        let mark = format!("{}.bisect.{}", std::process::id(), self.marks);
        let log = std::fs::File::create(output).map_err(AppError::ReportIo)?;
        let err = log.try_clone().map_err(AppError::ReportIo)?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(self.child_args(config, json, run))
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

    fn child_args(&self, config: &Path, json: &Path, run: usize) -> Vec<OsString> {
        let ctx = self.ctx;
        let mut a: Vec<OsString> = vec!["--config".into(), config.into()];
        for (flag, value) in [("--profile", &ctx.profile), ("--wrapper", &ctx.wrapper)] {
            if let Some(v) = value {
                a.extend([flag.into(), v.into()]);
            }
        }
        a.push("run".into());
        a.extend(filter_args(self.args));
        a.extend(["--json".into(), json.into()]);
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

/// The child's error in a line: its first `error:` line with what follows
/// on the same screen, or its last line.
fn last_error(output: &Path) -> String {
    let text = std::fs::read_to_string(output).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let from = lines.iter().position(|l| l.starts_with("error"));
    let picked: Vec<&str> = match from {
        Some(i) => lines[i..].iter().take(3).copied().collect(),
        None => lines.last().copied().into_iter().collect(),
    };
    let joined = picked.join(" | ");
    if joined.is_empty() {
        "(no output)".into()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command as Cmd};
    use clap::Parser;

    fn args(argv: &[&str]) -> BisectArgs {
        let mut full = vec!["memtest", "bisect", "--good", "g"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Cmd::Bisect(b) => b,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_flags_give_the_oracle_in_the_figures_unit() {
        assert_eq!(oracle_of(&args(&[])).unwrap(), Oracle::Verdict);
        let table = [
            (
                &["--figure", "peak_rss", "--above", "120MB"][..],
                Metric::PeakRss,
                120e6,
            ),
            (
                &["--figure", "rss_growth", "--above", "512KiB"],
                Metric::RssGrowth,
                524_288.0,
            ),
            (
                &["--figure", "slope", "--above", "1MB/s"],
                Metric::Slope,
                1e6,
            ),
            (
                &["--figure", "duration", "--above", "1.5s"],
                Metric::Duration,
                1500.0,
            ),
        ];
        for (argv, metric, limit) in table {
            assert_eq!(
                oracle_of(&args(argv)).unwrap(),
                Oracle::Above { metric, limit }
            );
        }
        assert_eq!(
            oracle_of(&args(&["--figure", "peak_rss", "--worse-than-good", "10"])).unwrap(),
            Oracle::WorseThanGood {
                metric: Metric::PeakRss,
                percent: 10.0
            }
        );
        for bad in [
            &["--figure", "peak_rss"][..],
            &["--figure", "slope", "--above", "1MB"],
            &["--figure", "peak_rss", "--worse-than-good=-5"],
        ] {
            assert!(oracle_of(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_selection_flag_reaches_the_child() {
        let a = args(&[
            "a",
            "--tag",
            "fast",
            "--runtime",
            "node",
            "--partition",
            "1/2",
        ]);
        assert_eq!(
            selection_args(&a),
            [
                "a",
                "--tag",
                "fast",
                "--runtime",
                "node",
                "--partition",
                "1/2"
            ]
        );
    }

    #[test]
    fn the_childs_error_is_its_error_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.log");
        std::fs::write(
            &p,
            "building\nerror: build failed\n  caused by: make exited 2\n\n",
        )
        .unwrap();
        assert_eq!(
            last_error(&p),
            "error: build failed | caused by: make exited 2"
        );
        std::fs::write(&p, "just this\n").unwrap();
        assert_eq!(last_error(&p), "just this");
        assert_eq!(last_error(&dir.path().join("none")), "(no output)");
    }
}
