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

mod sites;
mod tester;

use super::git;
use super::{AppError, Context, ExitStatus};
use crate::bisect::log::{self, Event, Log, Outcome, Role, Step};
use crate::bisect::search::{Answer, Mark, Search};
use crate::bisect::sites::SitesDiff;
use crate::bisect::{Decision, Observation, Oracle, Reference, Rule};
use crate::cli::{BisectArgs, FigureArg};
use crate::config::Config;
use crate::history::Commit;
use crate::model::Metric;
use crate::process::Interrupt;
use crate::report::bisect::BisectReporter;
use crate::report::ReportOptions;
use crate::units::{parse_duration, Bytes, BytesPerSec, UnitError};
use std::path::Path;
use std::time::Instant;
use tester::{filter_args, Tester};

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
        sites: None,
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
    let sites = match &outcome {
        Outcome::Found {
            first_bad,
            last_good,
        } if args.sites => {
            let suites = session
                .log
                .steps
                .iter()
                .rev()
                .find(|s| s.commit.id == first_bad.id)
                .map(|step| sites::bad_suites(&tester, step))
                .unwrap_or_default();
            let emit = &mut |e| session.reporter.on_event(&e);
            Some(sites::compare(
                &mut tester,
                last_good,
                first_bad,
                suites,
                emit,
            )?)
        }
        _ => None,
    };
    session.finish(outcome.clone(), sites)?;
    if interrupt.is_set() {
        return Ok(match interrupt.signal() {
            Some(libc::SIGTERM) => ExitStatus::Terminated,
            _ => ExitStatus::Interrupted,
        });
    }
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
        crate::report::bisect::write_log(self.path, self.log).map_err(AppError::ReportIo)
    }

    fn finish(&mut self, outcome: Outcome, sites: Option<SitesDiff>) -> Result<(), AppError> {
        self.log.outcome = Some(outcome.clone());
        self.log.sites = sites.clone();
        self.write()?;
        self.emit(Event::Finished {
            outcome,
            sites: sites.map(Box::new),
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
    let step = tester.test(Role::Good, &good, None, 0, &mut |e| s.emit(e))?;
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
    let step = tester.test(Role::Bad, &bad, Some(line.len()), 0, &mut |e| s.emit(e))?;
    let decision = step.decision;
    s.step(step)?;
    if let Some(outcome) = endpoint_outcome("--bad", &bad, decision, Decision::Bad) {
        return Ok(outcome);
    }
    let mut search = Search::new(line.len());
    while let Some(i) = search.next() {
        let commit = git::commit(&tester.top, &line[i])?;
        let left = search.steps_left();
        let step = tester.test(Role::Step, &commit, Some(i + 1), left, &mut |e| s.emit(e))?;
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
}
