//! `all` and `run`, by phase: [`prepare`] checks everything the command line
//! and the config can get wrong before anything is built; [`stages`] runs
//! preflight, setup, build, helpers and fixtures under the run-wide
//! interrupt; [`execute`] hands the jobs to the executor with the verdict's
//! judge, while a plain thread feeds the events to the reporters.

use super::history;
use super::{AppError, Context, ExitStatus};
use crate::build::{self, fixtures, helpers, interpreter, preflight, setup};
use crate::cli::{ExecArgs, FilterArgs};
use crate::config::BuildForm;
use crate::config::{Config, Resolved, ResolvedSuite, Suite};
use crate::exec::{self, schedule, Budget, ExecOptions, Judge};
use crate::floor::FloorsFile;
use crate::model::site::{name_sites, Library};
use crate::model::Artifacts;
use crate::model::{staged, staged_then, Diagnosis, Event, Job, Outcome, Stage, Verdict};
use crate::plan::{self, PlanOptions};
use crate::process::Interrupt;
use crate::report::{self, ReportOptions, Reporter};
use crate::verdict::{self, baseline::Baseline};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What the command line asked for, checked.
pub(super) struct Request<'c> {
    /// The run-wide settings (the grace of setup and build steps).
    pub(super) run: Resolved,
    /// The selected suites, each with its effective settings.
    pub(super) suites: Vec<ResolvedSuite<'c>>,
    pub(super) baseline: Option<Arc<Baseline>>,
    /// `--floors`: each suite's detection floor, shown and judged.
    pub(super) floors: Option<Arc<FloorsFile>>,
    /// A fraction (the command line's percentage / 100).
    pub(super) tolerance: f64,
}

pub(super) fn prepare<'c>(
    config: &'c Config,
    ctx: &Context,
    filter: &FilterArgs,
    exec_args: &ExecArgs,
) -> Result<Request<'c>, AppError> {
    let (run, suites) = ctx.resolve(config, filter, exec_args.scale)?;
    let tolerance = ctx.report.tolerance;
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(AppError::Usage(format!(
            "--tolerance {tolerance}: give a percentage >= 0, e.g. 10"
        )));
    }
    let baseline = match &ctx.report.baseline {
        Some(path) => Some(Arc::new(Baseline::load(path).map_err(AppError::Baseline)?)),
        None => None,
    };
    let floors = match &exec_args.floors {
        Some(path) => Some(Arc::new(FloorsFile::load(path)?)),
        None => None,
    };
    Ok(Request {
        run,
        suites,
        baseline,
        floors,
        tolerance: tolerance / 100.0,
    })
}

/// What the stages before execution produced.
pub(super) struct Prepared {
    pub(super) interpreters: BTreeMap<String, String>,
    pub(super) artifacts: Artifacts,
    pub(super) helpers: PathBuf,
}

/// Preflight, setup, build, helpers and fixtures, each between its stage
/// events. After an interrupt, whatever a stage returned ends the run as
/// interrupted, before any suite.
pub(super) fn stages(
    config: &Config,
    req: &Request<'_>,
    building: bool,
    interrupt: &Interrupt,
    emit: &mut dyn FnMut(Event),
) -> Result<Prepared, AppError> {
    let grace = req.run.grace.value;
    let suites = &req.suites;
    let interpreters = staged(emit, Stage::Preflight, "toolchains on PATH", || {
        let needs = preflight::needs(config, suites, building);
        let path = std::env::var_os("PATH").unwrap_or_default();
        preflight::check(&needs, &path, &config.root)?;
        Ok(interpreter::resolve(config, suites)?)
    });
    let interpreters = unless_interrupted(interrupt, "preflight", interpreters)?;
    let plain: Vec<&Suite> = suites.iter().map(|s| s.suite).collect();
    for runtime in setup::pending(config, &plain) {
        let Some(cmd) = setup::command(config, runtime) else {
            continue;
        };
        let detail = format!("{} ({})", runtime.name, cmd.display());
        let done = staged(emit, Stage::Setup, &detail, || {
            Ok(setup::run(config, runtime, interrupt, grace)?)
        });
        unless_interrupted(interrupt, "setup", done)?;
    }
    // Before the build: a command build may compile a C suite against
    // helpers/c/memtest.h (MEMTEST_HELPERS is in its environment).
    let helpers = helpers::write(&config.state_dir()).map_err(AppError::Helpers)?;
    let request = build::request(config, suites);
    let artifacts = if building {
        let cargo = build::cargo::cargo_program();
        let stop = (interrupt, grace);
        build::build(config, &request, &cargo, &helpers, stop, emit).map_err(AppError::from)
    } else {
        build::reuse(config, &request).map_err(AppError::from)
    };
    let artifacts = unless_interrupted(interrupt, "the build", artifacts)?;
    if let Some(fx) = &config.fixtures {
        let dir = fx.dir.display().to_string();
        let set = staged_then(
            emit,
            Stage::Fixtures,
            &dir,
            || fixtures::ensure(config, fx, interrupt, grace).map_err(AppError::from),
            |set| format!("{dir} ({}, {} files)", set.freshness.as_str(), set.files),
        );
        unless_interrupted(interrupt, "fixture generation", set)?;
    }
    Ok(Prepared {
        interpreters,
        artifacts,
        helpers,
    })
}

/// `fixtures`: the fixture stage alone (the generator if the cache is
/// stale), stopped by Ctrl-C as in a run; the folder.
pub(super) fn fixtures_alone(config: &Config, ctx: &Context) -> Result<PathBuf, AppError> {
    let grace = config.run_settings(&ctx.invocation(None)?)?.grace.value;
    let fx = config.fixtures.as_ref().ok_or_else(|| {
        AppError::Usage(format!(
            "{} has no [fixtures] table: this project's suites read no fixture folder",
            config.path.display()
        ))
    })?;
    // The signal listener needs a thread of its own while the generator is
    // waited for.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    let interrupt = Interrupt::on_signals(&runtime).map_err(AppError::Runtime)?;
    let set = fixtures::ensure(config, fx, &interrupt, grace).map_err(AppError::from);
    Ok(unless_interrupted(&interrupt, "fixture generation", set)?.dir)
}

/// `all` and `run`: every stage, in order.
pub(super) fn run_suites(
    config: &Config,
    ctx: &Context,
    filter: &FilterArgs,
    exec_args: &ExecArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    Ok(run_adjusted(config, ctx, filter, exec_args, opts, None)?.status)
}

/// What a run left for its caller: how it ended, and every outcome (its
/// sites named after the library the run built).
pub(super) struct Ran {
    pub(super) status: ExitStatus,
    pub(super) outcomes: Vec<Outcome>,
}

/// How `explain` changes a run: each planned job before it runs (its
/// attribution and cause modes), and the causes already diagnosed, which
/// every report of the run shows beside the suites' sites.
pub(super) struct Adjust<'a> {
    pub(super) job: &'a dyn Fn(&mut Job),
    pub(super) causes: BTreeMap<String, Diagnosis>,
}

/// Every stage, with each planned job changed by `adjust` before it runs
/// (`explain`'s attribution mode); such a run's durations are not history.
pub(super) fn run_adjusted(
    config: &Config,
    ctx: &Context,
    filter: &FilterArgs,
    exec_args: &ExecArgs,
    opts: &ReportOptions,
    adjust: Option<&Adjust<'_>>,
) -> Result<Ran, AppError> {
    let req = prepare(config, ctx, filter, exec_args)?;
    // The interrupt is caught from here on, for every stage.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    let interrupt = Interrupt::on_signals(&runtime).map_err(AppError::Runtime)?;
    let mut reporters = report::reporters(opts);
    let mut emit = |event: Event| {
        for r in reporters.iter_mut() {
            r.on_event(&event);
        }
    };
    let prepared = stages(config, &req, !exec_args.no_build, &interrupt, &mut emit)?;
    let plan_opts = PlanOptions {
        interpreters: prepared.interpreters,
        helpers: Some(&prepared.helpers),
    };
    let mut jobs = plan::plan(config, &req.suites, &prepared.artifacts, &plan_opts)?;
    if let Some(adjust) = adjust {
        jobs.iter_mut().for_each(adjust.job);
    }
    let history = history::load(config, &jobs);
    schedule::longest_first(&mut jobs, &history);
    let exec_opts = ExecOptions {
        budget: budget(exec_args),
        forward_output: opts.verbose,
        sampler: exec_args
            .sampler
            .unwrap_or_else(crate::sample::SamplerKind::default_for_platform),
    };
    let judge = judge(req.baseline, req.floors, req.tolerance);
    let started = std::time::SystemTime::now();
    let library = library_of(config, &prepared.artifacts);
    let named = Named {
        library,
        causes: adjust.map(|a| a.causes.clone()).unwrap_or_default(),
    };
    let outcomes = execute(
        runtime,
        &interrupt,
        jobs,
        exec_opts,
        judge,
        &named,
        &mut reporters,
    );
    // Only a plain run's durations say how long the next plain run takes.
    if ctx.wrapper.is_none() && adjust.is_none() {
        history::save(config, &outcomes);
    }
    if let Some(path) = &ctx.report.history {
        super::trend::append_history(config, ctx, path, &outcomes, started)?;
    }
    for r in reporters.iter_mut() {
        r.finish().map_err(AppError::ReportIo)?;
    }
    // An interrupt after the last suite ended still means the user stopped
    // the run.
    let status = if interrupt.is_set() {
        match interrupt.signal() {
            Some(libc::SIGTERM) => ExitStatus::Terminated,
            _ => ExitStatus::Interrupted,
        }
    } else {
        status_of(&outcomes)
    };
    Ok(Ran { status, outcomes })
}

/// The library under test as stacks show it: every built variant's file,
/// the rust suites' executables (they link the library), and its name as a
/// function prefix (`mylib` -> `mylib_engine::...`, `intern` ->
/// `intern_put`).
fn library_of(config: &Config, artifacts: &Artifacts) -> Library {
    let path = |p: &Path| p.display().to_string();
    let mut library = Library {
        objects: artifacts.libs.values().map(|p| path(p)).collect(),
        prefixes: Vec::new(),
    };
    library
        .objects
        .extend(artifacts.tests.values().map(|p| path(p)));
    if let Some(build) = &config.build {
        library.prefixes.extend(build.lib.iter().cloned());
        if let BuildForm::Cargo { package, .. } = &build.form {
            library.prefixes.push(package.replace('-', "_"));
        }
    }
    library.prefixes.dedup();
    library
}

/// `--jobs` slots (the machine's cores by default), and the memory free now,
/// less a tenth for everything else, for the suites' ceilings.
pub(super) fn budget(exec_args: &ExecArgs) -> Budget {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    Budget {
        slots: exec_args.jobs.unwrap_or(cores),
        memory_bytes: crate::process::machine::available_memory_bytes().map(|b| b / 10 * 9),
    }
}

/// The verdict stage as the executor's judge, with the baseline to compare
/// against and the floors file whose floors the reports show and
/// `max_floor` judges.
pub(super) fn judge(
    baseline: Option<Arc<Baseline>>,
    floors: Option<Arc<FloorsFile>>,
    tolerance: f64,
) -> Judge {
    Arc::new(move |job: &Job, measured| {
        let entry = baseline.as_ref().and_then(|b| b.get(&job.suite));
        let floor = floors
            .as_ref()
            .and_then(|f| f.suites.get(&job.suite))
            .and_then(|f| f.known());
        verdict::judge(job, measured, floor.as_ref(), entry, tolerance)
    })
}

/// After an interrupt, whatever a stage returned (its own "stopped" error,
/// or a result it reached anyway) ends the run as interrupted.
fn unless_interrupted<T>(
    interrupt: &Interrupt,
    during: &'static str,
    result: Result<T, AppError>,
) -> Result<T, AppError> {
    if interrupt.is_set() {
        return Err(AppError::Interrupted {
            during,
            signal: interrupt.signal(),
        });
    }
    result
}

/// What every outcome gets before any report sees it: its sites named after
/// the library, and the cause `explain` diagnosed for its suite.
#[derive(Clone)]
struct Named {
    library: Library,
    causes: BTreeMap<String, Diagnosis>,
}

impl Named {
    fn apply(&self, outcome: &mut Outcome) {
        name_sites(&mut outcome.measured.sites, &self.library);
        if let Some(d) = self.causes.get(&outcome.job.suite) {
            outcome.cause = Some(d.clone());
        }
    }
}

/// Hands the jobs to the executor on the run's tokio runtime while a plain
/// thread feeds its events to the reporters (reporters may block on their
/// output; the executor's sampling must not).
fn execute(
    runtime: tokio::runtime::Runtime,
    interrupt: &Interrupt,
    jobs: Vec<Job>,
    opts: ExecOptions,
    judge: Judge,
    named: &Named,
    reporters: &mut Vec<Box<dyn Reporter>>,
) -> Vec<Outcome> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let mut moved = std::mem::take(reporters);
    let naming = named.clone();
    let feeder = std::thread::spawn(move || {
        while let Some(mut event) = rx.blocking_recv() {
            // Sites are named once, here, so every report shows the same
            // frame for each.
            if let Event::SuiteFinished { outcome } = &mut event {
                naming.apply(outcome);
            }
            for r in moved.iter_mut() {
                r.on_event(&event);
            }
        }
        moved
    });
    let outcomes = runtime.block_on(exec::run_jobs(
        jobs,
        opts,
        tx,
        interrupt.clone().wait(),
        judge,
    ));
    // Dropping the runtime drops every task still holding a sender, which
    // ends the feeder's loop. Readers of pipes a killed suite's escaped
    // grandchild still holds must not keep the run alive.
    runtime.shutdown_timeout(Duration::from_millis(100));
    *reporters = feeder.join().expect("the reporter thread does not panic");
    outcomes
        .into_iter()
        .map(|mut o| {
            named.apply(&mut o);
            o
        })
        .collect()
}

/// 130 when interrupted (143 is decided by the caller, who knows the signal),
/// 1 when any suite did not succeed, else 0.
pub fn status_of(outcomes: &[Outcome]) -> ExitStatus {
    if outcomes.iter().any(|o| o.verdict == Verdict::Interrupted) {
        ExitStatus::Interrupted
    } else if outcomes.iter().all(|o| o.verdict.is_success()) {
        ExitStatus::Passed
    } else {
        ExitStatus::SuiteFailed
    }
}
