//! The run's orchestration: config -> selection -> preflight -> setup -> build
//! -> fixtures -> plan -> exec -> reports, and the mapping of how it ended to
//! an [`ExitStatus`]. Stages return typed errors; here, at the edge, they meet
//! the error reporter and become exit codes. Besides the reporters, only this
//! file writes to stdout: the answers of `list`, `matrix`, `check` and
//! `fixtures`, which are the command's output rather than a report.

use crate::build::{self, fixtures, interpreter, preflight, setup};
use crate::cli::{BaselineCommand, Cli, Command, ExecArgs, FilterArgs, MatrixBy, ReportArgs};
use crate::config::{self, Config, ConfigError, Settings, Suite};
use crate::exec::{self, Event, ExecOptions, Interrupt, Stage};
use crate::plan::{self, Filter, GroupBy, PlanError, PlanOptions, SelectError};
use crate::report::{self, ErrorReporter, ReportError, ReportOptions, Reporter};
use crate::verdict::baseline::{Baseline, BaselineError};
use crate::verdict::{Outcome, Verdict};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// How a memtest invocation ended; the process exit code is its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Every selected suite passed (canaries caught their leak).
    Passed = 0,
    /// At least one suite failed, or a report could not be written.
    SuiteFailed = 1,
    /// Bad command line or memtest.toml: nothing was built or run.
    UsageOrConfig = 2,
    /// The library, a test binary, a toolchain or a setup step was not ready.
    BuildOrPreflight = 3,
    /// The user pressed Ctrl-C.
    Interrupted = 130,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status as u8)
    }
}

/// Everything that can stop a command before or after its suites ran.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the baseline")]
    Baseline(#[source] BaselineError),
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    #[error(transparent)]
    Interpreter(#[from] interpreter::InterpreterError),
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error(transparent)]
    Build(#[from] build::BuildError),
    #[error(transparent)]
    Fixtures(#[from] fixtures::FixtureError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("interrupted during {during}: no suite ran")]
    Interrupted { during: &'static str },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("cannot write the report")]
    ReportIo(#[source] std::io::Error),
}

impl AppError {
    pub fn status(&self) -> ExitStatus {
        match self {
            AppError::Config(_)
            | AppError::Select(_)
            | AppError::Plan(_)
            | AppError::Usage(_)
            | AppError::Baseline(_) => ExitStatus::UsageOrConfig,
            AppError::Preflight(_)
            | AppError::Interpreter(_)
            | AppError::Setup(_)
            | AppError::Build(_)
            | AppError::Fixtures(_)
            | AppError::Runtime(_) => ExitStatus::BuildOrPreflight,
            // A merge or baseline over unreadable reports is a usage error;
            // failing to write results after a run fails the run.
            AppError::Report(ReportError::Read { .. } | ReportError::Parse { .. })
            | AppError::Report(ReportError::SchemaVersion { .. } | ReportError::NoInputs)
            | AppError::Report(ReportError::DuplicateSuite { .. }) => ExitStatus::UsageOrConfig,
            AppError::Report(_) | AppError::ReportIo(_) => ExitStatus::SuiteFailed,
            AppError::Interrupted { .. } => ExitStatus::Interrupted,
        }
    }
}

/// Runs one parsed command line to its exit status, reporting any error.
pub fn run(cli: Cli) -> ExitStatus {
    let opts = report_options(&cli.report);
    match dispatch(cli, &opts) {
        Ok(status) => status,
        Err(err) => {
            ErrorReporter::stderr(opts.color).error(&err);
            err.status()
        }
    }
}

fn report_options(args: &ReportArgs) -> ReportOptions {
    ReportOptions {
        json: args.json.clone(),
        junit: args.junit.clone(),
        plot_dir: args.plot.clone(),
        html: args.html.clone(),
        baseline: args.baseline.clone(),
        baseline_report: args.baseline_report.clone(),
        summary: args.summary.clone(),
        verbose: args.verbose,
        ..ReportOptions::from_env()
    }
}

fn dispatch(cli: Cli, opts: &ReportOptions) -> Result<ExitStatus, AppError> {
    let load = || -> Result<Config, AppError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Ok(config::load(&config::locate(cli.config.as_deref(), &cwd)?)?)
    };
    let ctx = Context {
        profile: cli.profile.clone(),
        wrapper: cli.wrapper.clone(),
        report: cli.report.clone(),
    };
    match cli.command {
        Command::All(exec) => run_suites(&load()?, &ctx, &FilterArgs::default(), &exec, opts),
        Command::Run(run) => run_suites(&load()?, &ctx, &run.filter, &run.exec, opts),
        Command::List(filter) => {
            let config = load()?;
            let settings = ctx.settings(&config)?;
            let suites = plan::select(&config, &to_filter(&filter))?;
            println!("{}", list_table(&settings, &suites));
            Ok(ExitStatus::Passed)
        }
        Command::Matrix(args) => {
            let by = match args.by {
                MatrixBy::Runtime => GroupBy::Runtime,
                MatrixBy::Tag => GroupBy::Tag,
            };
            let matrix = plan::matrix(&load()?, by);
            // One line: CI writes it into $GITHUB_OUTPUT as `matrix=<json>`.
            println!(
                "{}",
                serde_json::to_string(&matrix).expect("matrix serialises")
            );
            Ok(ExitStatus::Passed)
        }
        Command::Check => {
            let config = load()?;
            ctx.settings(&config)?;
            ctx.check_wrapper(&config)?;
            println!(
                "{}: ok ({} suites, {} runtimes, {} profiles, {} wrappers)",
                config.path.display(),
                config.suites.len(),
                config.runtimes.len(),
                config.profiles.len(),
                config.wrappers.len()
            );
            Ok(ExitStatus::Passed)
        }
        Command::Fixtures => {
            let set = fixtures::ensure(&load()?.fixtures.dir)?;
            println!("{}", set.dir.display());
            Ok(ExitStatus::Passed)
        }
        Command::Merge(args) => {
            let merged = report::merge(&args.inputs, &args.output)?;
            report::write_files(&merged.report, opts, &mut std::io::stdout())?;
            report::print_summary(&merged.report, opts).map_err(AppError::ReportIo)?;
            let totals = &merged.report.totals;
            Ok(if totals.interrupted > 0 {
                ExitStatus::Interrupted
            } else if totals.failed > 0 || totals.canary_missed > 0 {
                ExitStatus::SuiteFailed
            } else {
                ExitStatus::Passed
            })
        }
        Command::Baseline(BaselineCommand::Save { from, output }) => {
            let output = output.or(cli.report.baseline.clone()).ok_or_else(|| {
                AppError::Usage(
                    "say where to save the baseline: -o FILE (or --baseline FILE)".into(),
                )
            })?;
            report::save_baseline(&from, &output)?;
            Ok(ExitStatus::Passed)
        }
    }
}

/// Global flags every command may consult.
struct Context {
    profile: Option<String>,
    wrapper: Option<String>,
    report: ReportArgs,
}

impl Context {
    fn settings(&self, config: &Config) -> Result<Settings, AppError> {
        Ok(config.settings(self.profile.as_deref())?)
    }

    fn check_wrapper(&self, config: &Config) -> Result<(), AppError> {
        match &self.wrapper {
            Some(name) if !config.wrappers.contains_key(name) => Err(PlanError::UnknownWrapper {
                name: name.clone(),
                hint: config::suggestion(
                    name,
                    "wrappers",
                    config.wrappers.keys().map(String::as_str),
                ),
            }
            .into()),
            _ => Ok(()),
        }
    }
}

fn to_filter(args: &FilterArgs) -> Filter {
    Filter {
        names: args.names.clone(),
        tags: args.tags.clone(),
        exclude_tags: args.exclude_tags.clone(),
        runtimes: args.runtimes.clone(),
        partition: args.partition,
    }
}

/// `all` and `run`: every stage, in order. Everything that can be wrong with
/// the command line or the config is checked before anything is built.
fn run_suites(
    config: &Config,
    ctx: &Context,
    filter: &FilterArgs,
    exec_args: &ExecArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let settings = ctx.settings(config)?;
    ctx.check_wrapper(config)?;
    let suites = plan::select(config, &to_filter(filter))?;
    let scale = exec_args.scale.unwrap_or(settings.scale);
    if !(scale.is_finite() && scale > 0.0) {
        return Err(AppError::Usage(format!(
            "--scale {scale}: give a positive multiplier, e.g. 0.5"
        )));
    }
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

    // Ctrl-C is caught from here on, for every stage (see exec::interrupt).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(AppError::Runtime)?;
    let interrupt = Interrupt::on_sigint(&runtime).map_err(AppError::Runtime)?;
    let stop = (&interrupt, settings.grace);
    let mut reporters = report::reporters(opts);
    let mut emit = |event: Event| {
        for r in reporters.iter_mut() {
            r.on_event(&event);
        }
    };
    let wrapper = ctx.wrapper.as_deref();
    let building = !exec_args.no_build;

    let preflight = stage(&mut emit, Stage::Preflight, "toolchains on PATH", || {
        let needs = preflight::needs(config, &suites, wrapper, building);
        let path = std::env::var_os("PATH").unwrap_or_default();
        preflight::check(&needs, &path, &config.root)?;
        Ok(interpreter::resolve(config, &suites, wrapper)?)
    });
    let interpreters = unless_interrupted(&interrupt, "preflight", preflight)?;
    for runtime in setup::pending(config, &suites) {
        let detail = format!(
            "{} ({})",
            runtime.name,
            runtime.setup.as_deref().unwrap_or_default().join(" ")
        );
        let done = stage(&mut emit, Stage::Setup, &detail, || {
            Ok(setup::run(config, runtime, stop.0, stop.1)?)
        });
        unless_interrupted(&interrupt, "setup", done)?;
    }
    let request = build::request(&suites);
    let artifacts = if building {
        let cargo = build::cargo::cargo_program();
        build::build(config, &request, &cargo, stop, &mut emit).map_err(AppError::from)
    } else {
        build::reuse(config, &request).map_err(AppError::from)
    };
    let artifacts = unless_interrupted(&interrupt, "the build", artifacts)?;
    let dir = config.fixtures.dir.display().to_string();
    emit(Event::StageStarted {
        stage: Stage::Fixtures,
        detail: dir.clone(),
    });
    let started = Instant::now();
    let set = fixtures::ensure(&config.fixtures.dir).map_err(AppError::from);
    let set = unless_interrupted(&interrupt, "fixture generation", set)?;
    let how = if set.regenerated {
        "generated"
    } else {
        "cached"
    };
    emit(Event::StageFinished {
        stage: Stage::Fixtures,
        detail: format!("{dir} ({how}, {} files)", set.manifest.files.len()),
        duration: started.elapsed(),
    });

    let plan_opts = PlanOptions {
        settings: &settings,
        scale,
        wrapper,
        interpreters,
    };
    let jobs = plan::plan(config, &suites, &artifacts, &plan_opts)?;
    let exec_opts = ExecOptions {
        jobs: exec_args.jobs.map_or(1, |j| j as usize),
        forward_output: opts.verbose,
        baseline,
        tolerance: tolerance / 100.0,
    };
    let outcomes = execute(runtime, &interrupt, jobs, exec_opts, &mut reporters);
    for r in reporters.iter_mut() {
        r.finish().map_err(AppError::ReportIo)?;
    }
    // A Ctrl-C after the last suite ended still means the user stopped the run.
    Ok(if interrupt.is_set() {
        ExitStatus::Interrupted
    } else {
        status_of(&outcomes)
    })
}

/// After Ctrl-C, whatever a stage returned (its own "stopped" error, or a
/// result it reached anyway) ends the run as interrupted, before any suite.
fn unless_interrupted<T>(
    interrupt: &Interrupt,
    during: &'static str,
    result: Result<T, AppError>,
) -> Result<T, AppError> {
    if interrupt.is_set() {
        return Err(AppError::Interrupted { during });
    }
    result
}

/// Runs `work` between a StageStarted and a StageFinished event (the latter
/// only on success: a failed stage ends the run with its error).
fn stage<T>(
    emit: &mut dyn FnMut(Event),
    stage: Stage,
    detail: &str,
    work: impl FnOnce() -> Result<T, AppError>,
) -> Result<T, AppError> {
    emit(Event::StageStarted {
        stage,
        detail: detail.to_string(),
    });
    let started = Instant::now();
    let value = work()?;
    emit(Event::StageFinished {
        stage,
        detail: detail.to_string(),
        duration: started.elapsed(),
    });
    Ok(value)
}

/// Hands the jobs to the executor on the run's tokio runtime while a plain
/// thread feeds its events to the reporters (reporters may block on their
/// output; the executor's sampling must not).
fn execute(
    runtime: tokio::runtime::Runtime,
    interrupt: &Interrupt,
    jobs: Vec<plan::Job>,
    opts: ExecOptions,
    reporters: &mut Vec<Box<dyn Reporter>>,
) -> Vec<Outcome> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let mut moved = std::mem::take(reporters);
    let feeder = std::thread::spawn(move || {
        while let Some(event) = rx.blocking_recv() {
            for r in moved.iter_mut() {
                r.on_event(&event);
            }
        }
        moved
    });
    let outcomes = runtime.block_on(exec::run_jobs_until(
        jobs,
        opts,
        tx,
        interrupt.clone().wait(),
    ));
    // Dropping the runtime drops every task still holding a sender, which
    // ends the feeder's loop.
    drop(runtime);
    *reporters = feeder.join().expect("the reporter thread does not panic");
    outcomes
}

/// 130 when interrupted, 1 when any suite did not succeed, else 0.
pub fn status_of(outcomes: &[Outcome]) -> ExitStatus {
    if outcomes.iter().any(|o| o.verdict == Verdict::Interrupted) {
        ExitStatus::Interrupted
    } else if outcomes.iter().all(|o| o.verdict.is_success()) {
        ExitStatus::Passed
    } else {
        ExitStatus::SuiteFailed
    }
}

/// `memtest list`: one row per suite with its limits after the profile.
pub fn list_table(settings: &Settings, suites: &[&Suite]) -> String {
    use tabled::settings::Style;
    #[derive(tabled::Tabled)]
    struct Row {
        name: String,
        runtime: String,
        tags: String,
        limits: String,
        timeout: String,
    }
    let rows = suites.iter().map(|suite| {
        let mut limits = settings.limits.clone();
        suite.limits.apply(&mut limits);
        let mut parts = Vec::new();
        if let Some(b) = limits.rss_growth {
            parts.push(format!("rss growth <= {b}"));
        }
        if let Some(b) = limits.vms_growth {
            parts.push(format!("vms growth <= {b}"));
        }
        if let Some(b) = limits.peak_rss {
            parts.push(format!("peak rss <= {b}"));
        }
        if let Some(r) = limits.slope {
            parts.push(format!("slope <= {r}"));
        }
        if let Some(n) = limits.native_leaks {
            parts.push(format!("native leaks <= {n}"));
        }
        let mut runtime = suite.runtime.clone();
        if let Some(v) = &suite.variant {
            runtime.push_str(&format!(" ({v})"));
        }
        let mut tags = suite.tags.join(", ");
        if suite.expect == plan::Expect::Fail {
            tags.push_str(if tags.is_empty() {
                "expect fail"
            } else {
                "; expect fail"
            });
        }
        let timeout = suite
            .timeout
            .unwrap_or(settings.timeout)
            .mul_f64(settings.timeout_factor);
        Row {
            name: suite.name.clone(),
            runtime,
            tags,
            limits: parts.join(", "),
            timeout: crate::units::format_duration(timeout),
        }
    });
    tabled::Table::new(rows).with(Style::sharp()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Exit, Measured};
    use crate::verdict::Figures;
    use std::time::Duration;

    fn outcome(verdict: Verdict) -> Outcome {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "").unwrap();
        let text = "[build]\npackage = \"p\"\nlib = \"p\"\nlib_env = \"L\"\n\
                    [runtimes.py]\nkind = \"python\"\nprogram = \"python3\"\n\
                    [[suite]]\nname = \"a\"\nruntime = \"py\"\nscript = \"a.py\"\n";
        let c = config::parse(text, &dir.path().join("memtest.toml"), dir.path()).unwrap();
        let settings = c.settings(None).unwrap();
        let mut artifacts = plan::Artifacts::default();
        artifacts.libs.insert("default".into(), "/l.so".into());
        let opts = PlanOptions {
            settings: &settings,
            scale: 1.0,
            wrapper: None,
            interpreters: Default::default(),
        };
        let job = plan::plan(&c, &[&c.suites[0]], &artifacts, &opts)
            .unwrap()
            .remove(0);
        Outcome {
            job,
            measured: Measured {
                pid: 1,
                exit: Exit::Code { code: 0 },
                duration: Duration::from_secs(1),
                samples: vec![],
                exact_peak_rss: None,
                reported: Default::default(),
                marker_seen: true,
                log_tail: vec![],
                findings: None,
            },
            figures: Figures::default(),
            verdict,
        }
    }

    #[test]
    fn exit_status_follows_the_worst_outcome() {
        let pass = outcome(Verdict::Passed);
        let caught = outcome(Verdict::CanaryCaught { failures: vec![] });
        let missed = outcome(Verdict::CanaryMissed);
        let stopped = outcome(Verdict::Interrupted);
        assert_eq!(
            status_of(&[pass.clone(), caught.clone()]),
            ExitStatus::Passed
        );
        assert_eq!(
            status_of(&[pass.clone(), missed.clone()]),
            ExitStatus::SuiteFailed
        );
        assert_eq!(status_of(&[missed, stopped]), ExitStatus::Interrupted);
        assert_eq!(status_of(&[]), ExitStatus::Passed);
        assert_eq!(ExitStatus::Interrupted as u8, 130);
    }

    #[test]
    fn errors_map_to_their_exit_codes() {
        let usage = AppError::Usage("x".into());
        assert_eq!(usage.status(), ExitStatus::UsageOrConfig);
        let missing = AppError::Build(build::BuildError::NotBuilt { path: "/x".into() });
        assert_eq!(missing.status(), ExitStatus::BuildOrPreflight);
        let unknown = AppError::Select(SelectError::UnknownSuite {
            name: "x".into(),
            hint: None,
        });
        assert_eq!(unknown.status(), ExitStatus::UsageOrConfig);
    }
}
