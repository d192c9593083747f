//! `memtest floor`: each selected suite's detection floor, the smallest
//! per-call leak its own criteria catch. Each suite runs against its leaky
//! build (the variant its canaries use) with the leak graded by
//! `MEMTEST_LEAK_BYTES`: first with 0 (the clean run: it must pass, which
//! also shows the build reads the variable), then at the sizes
//! [`crate::floor::Search`] asks for, each probe run `--runs` times and
//! caught only when every run caught it.
//!
//! The searches go in rounds: every unfinished search's next probe is run
//! at once, through the executor, so the runs of all suites share the
//! `--jobs` slots as in `run`. An interrupt stops the round's suites (the
//! executor's guarantee) and the loop before the next round.

use super::run::{self, Request};
use super::{AppError, Context, ExitStatus};
use crate::cli::{FloorArgs, LeakHeap};
use crate::config::{Config, Invocation, ResolvedSuite, Source, Sourced};
use crate::exec::{self, ExecOptions, Judge};
use crate::floor::{
    self, FloorResult, FloorsFile, Found, Probe, Search, SearchOptions, SuiteFloor,
};
use crate::model::{Criterion, Event, Expect, Job, Limits, Outcome, Verdict};
use crate::plan::{self, PlanOptions};
use crate::process::Interrupt;
use crate::report::{self, ReportOptions, Reporter};
use crate::units::{format_duration, Bytes};
use crate::verdict;
use std::collections::BTreeMap;
use std::time::Instant;

/// The memory ceiling a probe of a suite without a `peak_rss` limit runs
/// under: a graded leak of megabytes a call in a suite of thousands of
/// calls would otherwise take the machine. The suite's own criteria must
/// catch the leak before it; a run stopped there counts as missed.
const SAFETY_CEILING: Bytes = Bytes(1_000_000_000);

/// One suite's search in progress.
struct Hunt {
    /// The suite planned against its leaky build, leaking nothing yet.
    base: Job,
    /// `base` has no `peak_rss` limit of its own: the probes run under
    /// [`SAFETY_CEILING`], which is not a criterion of the suite.
    safety_ceiling: bool,
    variant: String,
    /// MEMTEST_SCALE of its runs.
    scale: f64,
    search: Search,
    /// The clean run is still to come.
    clean_pending: bool,
    probes: Vec<Probe>,
    /// Operations of the measured loop, by probed size.
    operations: BTreeMap<u64, Option<u64>>,
    started: Instant,
    result: Option<FloorResult>,
    seconds: f64,
    /// The suite's own runs' durations, added up.
    run_seconds: f64,
}

/// `floor`: searches, prints the table, writes `--json` and `--save`.
pub(super) fn floor(
    config: &Config,
    ctx: &Context,
    args: &FloorArgs,
    verbose: bool,
) -> Result<ExitStatus, AppError> {
    if ctx.wrapper.is_some() {
        return Err(AppError::Usage(
            "floor runs suites as they are: drop --wrapper (the runs of a probe would share the tool's output files)".into(),
        ));
    }
    if args.exec.floors.is_some() {
        return Err(AppError::Usage(
            "floor measures the floors: drop --floors (--save FILE writes them)".into(),
        ));
    }
    let req = run::prepare(config, ctx, &args.filter, &args.exec)?;
    let inv = ctx.invocation(args.exec.scale)?;
    let req = Request {
        suites: leaky_suites(config, &inv, &req.suites, args)?,
        ..req
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    let interrupt = Interrupt::on_signals(&runtime).map_err(AppError::Runtime)?;
    // The console alone: `--json` is the floors' file here, not a run report.
    let console = ReportOptions {
        verbose,
        ..ReportOptions::from_env()
    };
    let mut reporters = report::reporters(&console);
    let mut emit = |event: Event| reporters.iter_mut().for_each(|r| r.on_event(&event));
    let building = !args.exec.no_build;
    let prepared = run::stages(config, &req, building, &interrupt, &mut emit)?;
    let plan_opts = PlanOptions {
        interpreters: prepared.interpreters,
        helpers: Some(&prepared.helpers),
    };
    let jobs = plan::plan(config, &req.suites, &prepared.artifacts, &plan_opts)?;
    let mut hunts = hunts(jobs, &req.suites, args);
    let started = Instant::now();
    let searching = Searching {
        runtime: &runtime,
        interrupt: &interrupt,
        exec: ExecOptions {
            budget: run::budget(&args.exec),
            forward_output: verbose,
            sampler: args
                .exec
                .sampler
                .unwrap_or_else(crate::sample::SamplerKind::default_for_platform),
        },
        judge: run::judge(None, None, 0.0),
    };
    searching.run(&mut hunts, &mut reporters, args);
    // Dropped without `finish`: the probe runs' summary table is not the
    // answer; the floors are.
    drop(reporters);
    let limits: Vec<Limits> = hunts.iter().map(|h| h.base.limits.clone()).collect();
    let floors: Vec<SuiteFloor> = hunts
        .into_iter()
        .map(|h| into_floor(h, ctx, args))
        .collect();
    println!(
        "{}",
        report::floors::floor_table(&floors, ctx.profile.as_deref())
    );
    let too_blind = over_max_floor(&floors, &limits);
    for line in &too_blind {
        println!("{line}");
    }
    println!(
        "searched {} suite{} in {}",
        floors.len(),
        if floors.len() == 1 { "" } else { "s" },
        format_duration(started.elapsed())
    );
    write_files(&floors, ctx, args)?;
    Ok(if interrupt.is_set() {
        match interrupt.signal() {
            Some(libc::SIGTERM) => ExitStatus::Terminated,
            _ => ExitStatus::Interrupted,
        }
    } else if too_blind.is_empty()
        && floors
            .iter()
            .all(|f| matches!(f.result, FloorResult::Floor { .. }))
    {
        ExitStatus::Passed
    } else {
        ExitStatus::SuiteFailed
    })
}

/// The selected suites that are not canaries, each on its leaky build:
/// the suite as resolved (its overrides, limits and scale), with the variant
/// put there from the command line or its canaries.
fn leaky_suites<'c>(
    config: &Config,
    inv: &Invocation,
    selected: &[ResolvedSuite<'c>],
    args: &FloorArgs,
) -> Result<Vec<ResolvedSuite<'c>>, AppError> {
    let targets: Vec<&ResolvedSuite<'c>> = selected
        .iter()
        .filter(|s| s.suite.expect == Expect::Pass)
        .collect();
    if targets.is_empty() {
        return Err(AppError::Usage(
            "no suite to search: a canary has no floor (name the suite it is declared on)".into(),
        ));
    }
    targets
        .into_iter()
        .map(|s| {
            let variant = leaky_variant(config, inv, s, args.variant.as_deref())?;
            let mut leaky = s.clone();
            leaky.settings.variant = Sourced {
                value: variant,
                source: Source::CommandLine,
            };
            Ok(leaky)
        })
        .collect()
}

/// The search's options, from `start` (1 byte until the clean run says).
fn search_options(args: &FloorArgs, start: u64) -> SearchOptions {
    SearchOptions {
        start,
        min: 1,
        max: args.max,
        step: args.step,
        precision: 2.0,
    }
}

/// A search per planned suite, none started.
fn hunts(jobs: Vec<Job>, leaky: &[ResolvedSuite<'_>], args: &FloorArgs) -> Vec<Hunt> {
    let opts = search_options(args, args.start.unwrap_or(1));
    jobs.into_iter()
        .zip(leaky)
        .map(|(base, suite)| {
            let (base, safety_ceiling) = with_safety_ceiling(base);
            Hunt {
                safety_ceiling,
                base,
                variant: suite.settings.variant.value.clone(),
                scale: suite.settings.scale.value,
                search: Search::new(opts),
                clean_pending: true,
                probes: Vec::new(),
                operations: BTreeMap::new(),
                started: Instant::now(),
                result: None,
                seconds: 0.0,
                run_seconds: 0.0,
            }
        })
        .collect()
}

/// What runs the rounds.
struct Searching<'a> {
    runtime: &'a tokio::runtime::Runtime,
    interrupt: &'a Interrupt,
    exec: ExecOptions,
    judge: Judge,
}

impl Searching<'_> {
    /// Rounds until every search is over or the interrupt fires; a round
    /// an interrupt cut short is not recorded.
    fn run(&self, hunts: &mut [Hunt], reporters: &mut Vec<Box<dyn Reporter>>, args: &FloorArgs) {
        let mut announced = 0;
        while !self.interrupt.is_set() {
            let round = next_round(hunts, args);
            if round.is_empty() {
                break;
            }
            let jobs: Vec<Job> = round.iter().map(|(_, _, job)| job.clone()).collect();
            let outcomes = self.execute_round(jobs, reporters, &mut announced);
            if self.interrupt.is_set() {
                break;
            }
            record_round(hunts, &round, &outcomes, args);
        }
    }

    /// Runs one round's jobs through the executor, feeding its events to
    /// the console on a plain thread as `run` does. The console hears one
    /// run: each round's start is announced with the count so far.
    fn execute_round(
        &self,
        jobs: Vec<Job>,
        reporters: &mut Vec<Box<dyn Reporter>>,
        announced: &mut usize,
    ) -> Vec<Outcome> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let mut moved = std::mem::take(reporters);
        let before = *announced;
        *announced += jobs.len();
        let feeder = std::thread::spawn(move || {
            while let Some(event) = rx.blocking_recv() {
                let event = match event {
                    Event::RunStarted { suites, jobs } => Event::RunStarted {
                        suites: before + suites,
                        jobs,
                    },
                    other => other,
                };
                let last = matches!(event, Event::RunFinished { .. });
                moved.iter_mut().for_each(|r| r.on_event(&event));
                // A task that outlives the run (a reader of a pipe) must
                // not keep this round from ending.
                if last {
                    break;
                }
            }
            moved
        });
        let outcomes = self.runtime.block_on(exec::run_jobs(
            jobs,
            self.exec.clone(),
            tx,
            self.interrupt.clone().wait(),
            self.judge.clone(),
        ));
        *reporters = feeder.join().expect("the reporter thread does not panic");
        outcomes
    }
}

/// `base` with [`SAFETY_CEILING`] as its `peak_rss` when it has none, and
/// whether it was put there.
fn with_safety_ceiling(mut base: Job) -> (Job, bool) {
    let imposed = base.limits.peak_rss.is_none();
    if imposed {
        base.limits.peak_rss = Some(SAFETY_CEILING);
    }
    (base, imposed)
}

/// The leaky build a suite's floor is searched on: `--variant`, else the
/// one variant its canaries run against (as resolved: an override may set
/// it).
fn leaky_variant(
    config: &Config,
    inv: &Invocation,
    suite: &ResolvedSuite<'_>,
    asked: Option<&str>,
) -> Result<String, AppError> {
    let Some(build) = &config.build else {
        return Err(AppError::Usage(format!(
            "{} has no [build]: a floor needs a leaky build of the library to grade",
            config.path.display()
        )));
    };
    if let Some(v) = asked {
        if !build.variants.contains_key(v) {
            let known: Vec<&str> = build.variants.keys().map(String::as_str).collect();
            return Err(AppError::Usage(format!(
                "--variant {v}: no [build.variants.{v}] (variants: {})",
                known.join(", ")
            )));
        }
        return Ok(v.to_string());
    }
    let canaries: Vec<&crate::config::Suite> = config
        .suites
        .iter()
        .filter(|c| c.canary_of.as_deref() == Some(suite.suite.name.as_str()))
        .collect();
    let own = &suite.settings.variant.value;
    let mut variants: Vec<String> = config
        .resolve_all(&canaries, inv)?
        .into_iter()
        .map(|c| c.settings.variant.value)
        .filter(|v| v != own)
        .collect();
    variants.sort();
    variants.dedup();
    match variants.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(AppError::Usage(format!(
            "suite `{}` has no canary on a leaky build: give --variant NAME",
            suite.suite.name
        ))),
        many => Err(AppError::Usage(format!(
            "suite `{}` has canaries on several builds ({}): give --variant NAME",
            suite.suite.name,
            many.join(", ")
        ))),
    }
}

/// Every unfinished search's next runs: (hunt, size, job); size 0 is the
/// clean run.
fn next_round(hunts: &[Hunt], args: &FloorArgs) -> Vec<(usize, u64, Job)> {
    let mut round = Vec::new();
    for (i, hunt) in hunts.iter().enumerate() {
        if hunt.result.is_some() {
            continue;
        }
        if hunt.clean_pending {
            round.push((i, 0, probe_job(&hunt.base, 0, 1, args)));
            continue;
        }
        if let Some(size) = hunt.search.next() {
            for run in 1..=args.runs {
                round.push((i, size, probe_job(&hunt.base, size, run, args)));
            }
        }
    }
    round
}

/// The suite's job with the leak graded: its own name and log per run.
fn probe_job(base: &Job, bytes: u64, run: u32, args: &FloorArgs) -> Job {
    let mut job = base.clone();
    job.suite = if bytes == 0 {
        format!("{}.floor-clean", base.suite)
    } else {
        format!("{}.floor-{bytes}B.{run}", base.suite)
    };
    job.log_path = base.log_path.with_file_name(format!("{}.log", job.suite));
    job.env.extend([
        ("MEMTEST_LEAK_BYTES".to_string(), bytes.to_string()),
        ("MEMTEST_LEAK_EVERY".to_string(), args.every.to_string()),
        (
            "MEMTEST_LEAK_HEAP".to_string(),
            args.heap.as_str().to_string(),
        ),
    ]);
    job
}

/// Feeds a round's outcomes to the searches they belong to.
fn record_round(
    hunts: &mut [Hunt],
    round: &[(usize, u64, Job)],
    outcomes: &[Outcome],
    args: &FloorArgs,
) {
    let mut by_hunt: BTreeMap<(usize, u64), Vec<&Outcome>> = BTreeMap::new();
    for ((i, size, _), outcome) in round.iter().zip(outcomes) {
        by_hunt.entry((*i, *size)).or_default().push(outcome);
    }
    for ((i, size), runs) in by_hunt {
        let hunt = &mut hunts[i];
        hunt.run_seconds += runs
            .iter()
            .map(|o| o.measured.duration.as_secs_f64())
            .sum::<f64>();
        if size == 0 {
            hunt.clean_pending = false;
            if let Verdict::Failed { failures } = &runs[0].verdict {
                let mut reasons: Vec<Criterion> = failures.iter().map(|f| f.criterion()).collect();
                reasons.dedup();
                hunt.result = Some(FloorResult::CleanFailed { reasons });
                hunt.seconds = hunt.started.elapsed().as_secs_f64();
            } else if args.start.is_none() && !counts_the_leak(runs[0], args) {
                // Not from 1 byte where the RSS limits' headroom says the
                // floor is kilobytes away: the same floor, fewer probes.
                if let Some(start) = floor::start_from_headroom(runs[0], args.every) {
                    hunt.search = Search::new(search_options(args, start));
                }
            }
            continue;
        }
        let caught: Vec<Vec<Criterion>> = runs
            .iter()
            .map(|o| {
                let by = floor::caught_by(o, args.criterion);
                // Stopped by the safety ceiling: the suite saw nothing.
                if hunt.safety_ceiling && by.contains(&Criterion::PeakRss) {
                    Vec::new()
                } else {
                    by
                }
            })
            .collect();
        let (is_caught, by) = floor::judge_probe(&caught);
        hunt.probes.push(Probe {
            bytes_per_call: size,
            runs: runs.len() as u32,
            caught_runs: caught.iter().filter(|c| !c.is_empty()).count() as u32,
            caught: is_caught,
            caught_by: by,
        });
        let ops = runs
            .iter()
            .filter_map(|o| o.measured.progress.last().map(|p| p.operations))
            .max()
            .filter(|ops| *ops > 0);
        hunt.operations.insert(size, ops);
        hunt.search.record(size, is_caught);
        if let Some(found) = hunt.search.found() {
            hunt.result = Some(result_of(found, hunt, args.every));
            hunt.seconds = hunt.started.elapsed().as_secs_f64();
        }
    }
}

/// Whether the suite's exact native count sees the graded leak: then one
/// block is caught, and 1 byte (the default start) is the floor's first
/// and only probe.
fn counts_the_leak(clean: &Outcome, args: &FloorArgs) -> bool {
    args.heap == LeakHeap::Rust && clean.figures.native_leaks.is_some()
}

fn result_of(found: Found, hunt: &Hunt, every: u64) -> FloorResult {
    match found {
        Found::Floor { caught, missed } => {
            let at = hunt
                .probes
                .iter()
                .rev()
                .find(|p| p.bytes_per_call == caught);
            let operations = hunt.operations.get(&caught).copied().flatten();
            FloorResult::Floor {
                bytes_per_call: caught,
                missed_bytes_per_call: missed,
                caught_by: at.map(|p| p.caught_by.clone()).unwrap_or_default(),
                operations,
                bytes_per_run: operations.map(|ops| ops.div_ceil(every) * caught),
            }
        }
        Found::Blind { missed } => FloorResult::Blind {
            missed_bytes_per_call: missed,
        },
    }
}

fn into_floor(hunt: Hunt, ctx: &Context, args: &FloorArgs) -> SuiteFloor {
    let seconds = if hunt.result.is_some() {
        hunt.seconds
    } else {
        hunt.started.elapsed().as_secs_f64()
    };
    SuiteFloor {
        suite: hunt.base.suite.clone(),
        variant: hunt.variant,
        heap: args.heap.as_str().to_string(),
        every: args.every,
        profile: ctx.profile.clone(),
        scale: hunt.scale,
        criterion: args.criterion,
        result: hunt.result.unwrap_or(FloorResult::Interrupted),
        probes: hunt.probes,
        seconds,
        run_seconds: hunt.run_seconds,
    }
}

/// One line per suite whose floor is above its `max_floor`: a suite too
/// blind to trust fails, like a missed canary.
fn over_max_floor(floors: &[SuiteFloor], limits: &[Limits]) -> Vec<String> {
    floors
        .iter()
        .zip(limits)
        .filter_map(|(floor, limits)| {
            let failure = verdict::judge_floor(limits, &floor.known()?)?;
            Some(format!("FAIL {}: {failure}", floor.suite))
        })
        .collect()
}

fn write_files(floors: &[SuiteFloor], ctx: &Context, args: &FloorArgs) -> Result<(), AppError> {
    if let Some(path) = &ctx.report.json {
        // This invocation's floors alone, with every probe.
        FloorsFile::of(floors).write(path)?;
    }
    if let Some(path) = &args.save {
        FloorsFile::save_merged(path, floors)?;
    }
    Ok(())
}
