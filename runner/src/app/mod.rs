//! The run's orchestration: config -> selection -> preflight -> setup -> build
//! -> fixtures -> plan -> exec -> reports, and the mapping of how it ended to
//! an [`ExitStatus`]. Stages return typed errors; here, at the edge, they meet
//! the error reporter and become exit codes. Besides the reporters, only this
//! file writes to stdout: the answers of `list`, `matrix`, `check`,
//! `fixtures`, `init` and `hook`, which are the command's output rather than a
//! report.

mod bisect;
mod cause;
mod explain;
mod floor;
mod fuzz;
mod git;
mod history;
mod hook;
mod list;
mod run;
mod show;
mod trend;

use crate::build::{self, fixtures, interpreter, preflight, setup};
use crate::cli::{
    BaselineCommand, Cli, Command, FilterArgs, HookCommand, MatrixBy, ReportArgs, ShowFormat,
};
use crate::config::{self, Config, ConfigError, Invocation, ResolveError};
use crate::floor::{FloorsFile, FloorsFileError};
use crate::plan::{self, Filter, GroupBy, PlanError, SelectError};
use crate::report::{self, ErrorReporter, ReportError, ReportOptions};
use crate::verdict::baseline::BaselineError;
use std::path::PathBuf;

pub use list::list_table;
pub use show::{show_json, show_text};

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
    /// `bisect`: only commits that could not be judged separate the last
    /// good commit from the first bad one (they are listed).
    Inconclusive = 4,
    /// The user pressed Ctrl-C.
    Interrupted = 130,
    /// SIGTERM (a CI cancel, `timeout`) stopped the run, as Ctrl-C would.
    Terminated = 143,
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
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the baseline")]
    Baseline(#[source] BaselineError),
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    #[error(transparent)]
    Interpreter(#[from] interpreter::InterpreterError),
    #[error("cannot write the suite helpers")]
    Helpers(#[source] std::io::Error),
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error(transparent)]
    Build(#[from] build::BuildError),
    #[error(transparent)]
    Fixtures(#[from] fixtures::FixtureError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("interrupted during {during}: no suite ran")]
    Interrupted {
        during: &'static str,
        signal: Option<i32>,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("cannot write the report")]
    ReportIo(#[source] std::io::Error),
    #[error(transparent)]
    Hook(#[from] hook::HookError),
    #[error(transparent)]
    Floors(#[from] FloorsFileError),
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
}

impl AppError {
    pub fn status(&self) -> ExitStatus {
        match self {
            // A history that cannot be written after the run fails the run,
            // as a report would.
            AppError::History(crate::history::HistoryError::Write { .. }) => {
                ExitStatus::SuiteFailed
            }
            AppError::Config(_)
            | AppError::Select(_)
            | AppError::Plan(_)
            | AppError::Resolve(_)
            | AppError::Usage(_)
            | AppError::Baseline(_)
            | AppError::Hook(_)
            | AppError::Git(_)
            | AppError::History(_) => ExitStatus::UsageOrConfig,
            AppError::Preflight(_)
            | AppError::Helpers(_)
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
            AppError::Floors(FloorsFileError::Write { .. }) => ExitStatus::SuiteFailed,
            AppError::Floors(_) => ExitStatus::UsageOrConfig,
            AppError::Interrupted {
                signal: Some(libc::SIGTERM),
                ..
            } => ExitStatus::Terminated,
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
        duration: cli.duration,
        corpus: cli.corpus.clone(),
        once: match &cli.command {
            Command::Floor(_) => Some("floor"),
            Command::Explain(_) => Some("explain"),
            Command::Fuzz(_) => Some("fuzz"),
            _ => None,
        },
        report: cli.report.clone(),
    };
    match cli.command {
        Command::All(exec) => run::run_suites(&load()?, &ctx, &FilterArgs::default(), &exec, opts),
        Command::Run(args) if args.explain => {
            explain::run_then_explain(&load()?, &ctx, &args, opts)
        }
        Command::Run(args) => run::run_suites(&load()?, &ctx, &args.filter, &args.exec, opts),
        Command::Explain(args) => explain::explain(&load()?, &ctx, &args, opts),
        Command::List(args) => {
            let config = load()?;
            let (_, suites) = ctx.resolve(&config, &args.filter, None)?;
            let floors = args.floors.as_deref().map(FloorsFile::load).transpose()?;
            let width = crate::process::machine::terminal_columns();
            println!("{}", list_table(&suites, width));
            if let Some(floors) = &floors {
                let names: Vec<&str> = suites.iter().map(|s| s.suite.name.as_str()).collect();
                println!("{}", list::floors_table(floors, &names));
            }
            Ok(ExitStatus::Passed)
        }
        Command::Show(args) => {
            let config = load()?;
            let (_, suites) = ctx.resolve(&config, &args.filter, args.scale)?;
            match args.format {
                ShowFormat::Text => print!("{}", show_text(&suites)),
                ShowFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&show_json(&suites)).expect("JSON serialises")
                ),
            }
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
            ctx.resolve(&config, &FilterArgs::default(), None)?;
            println!(
                "{}: ok ({} suites, {} runtimes, {} overrides, {} profiles, {} wrappers)",
                config.path.display(),
                config.suites.len(),
                config.runtimes.len(),
                config.overrides.len(),
                config.profiles.len(),
                config.wrappers.len()
            );
            Ok(ExitStatus::Passed)
        }
        Command::Fixtures => {
            let dir = run::fixtures_alone(&load()?, &ctx)?;
            println!("{}", dir.display());
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
        Command::Floor(args) => {
            let verbose = ctx.report.verbose;
            floor::floor(&load()?, &ctx, &args, verbose)
        }
        Command::Init(args) => {
            let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
            let done =
                crate::init::run(&dir, args.force).map_err(|e| AppError::Usage(e.to_string()))?;
            print!("{done}");
            Ok(ExitStatus::Passed)
        }
        Command::Bisect(args) => bisect::bisect(&load()?, &ctx, &args, opts),
        Command::Trend(args) => trend::trend(&load, &ctx, &args, opts),
        Command::Fuzz(args) => fuzz::fuzz(&load()?, &ctx, &args, opts),
        Command::Hook(command) => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let done = match command {
                HookCommand::Install { tag, force } => {
                    let profile = cli.profile.as_deref().unwrap_or(hook::DEFAULT_PROFILE);
                    hook::install(&cwd, cli.config.as_deref(), profile, &tag, force)?
                }
                HookCommand::Uninstall => hook::uninstall(&cwd)?,
            };
            print!("{done}");
            Ok(ExitStatus::Passed)
        }
    }
}

/// Global flags every command may consult.
pub(crate) struct Context {
    pub(crate) profile: Option<String>,
    pub(crate) wrapper: Option<String>,
    /// `--duration D`: a soak by duration.
    pub(crate) duration: Option<std::time::Duration>,
    /// `--corpus DIR`, as given (relative to the current directory).
    pub(crate) corpus: Option<PathBuf>,
    /// The command runs each suite's work once, whatever the duration
    /// (`floor`, `explain`, `fuzz`; [`Invocation::once`]).
    pub(crate) once: Option<&'static str>,
    pub(crate) report: ReportArgs,
}

impl Context {
    /// The context of explain's own runs (attribution, cause probes, and
    /// `run --explain`'s): each suite's work once, under `wrapper`, and
    /// appended to the history only when `keep_history`.
    pub(crate) fn for_explain(&self, wrapper: Option<String>, keep_history: bool) -> Context {
        let mut report = self.report.clone();
        if !keep_history {
            report.history = None;
        }
        Context {
            profile: self.profile.clone(),
            wrapper,
            duration: self.duration,
            corpus: self.corpus.clone(),
            once: Some("explain"),
            report,
        }
    }

    /// The command line's part in every suite's settings (`--scale` given
    /// to this command, if it takes one).
    pub(crate) fn invocation(&self, scale: Option<f64>) -> Result<Invocation, AppError> {
        if let Some(scale) = scale.filter(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(AppError::Usage(format!(
                "--scale {scale}: give a positive multiplier, e.g. 0.5"
            )));
        }
        // Relative to where memtest was started, as a user typed it; the
        // suite runs in another folder.
        let corpus = match &self.corpus {
            None => None,
            Some(dir) => Some(
                std::path::absolute(dir)
                    .map_err(|e| AppError::Usage(format!("--corpus {}: {e}", dir.display())))?
                    .display()
                    .to_string(),
            ),
        };
        Ok(Invocation {
            profile: self.profile.clone(),
            scale,
            wrapper: self.wrapper.clone(),
            duration: self.duration,
            corpus,
            once: self.once,
        })
    }

    /// The run-wide settings, and the suites `filter` selects, each resolved
    /// for this invocation; an unknown profile or wrapper is an error even
    /// when nothing is selected.
    pub(crate) fn resolve<'c>(
        &self,
        config: &'c Config,
        filter: &FilterArgs,
        scale: Option<f64>,
    ) -> Result<(config::Resolved, Vec<config::ResolvedSuite<'c>>), AppError> {
        let inv = self.invocation(scale)?;
        let run = config.run_settings(&inv)?;
        let suites = plan::select(config, &to_filter(filter))?;
        Ok((run, config.resolve_all(&suites, &inv)?))
    }
}

pub(crate) fn to_filter(args: &FilterArgs) -> Filter {
    Filter {
        names: args.names.clone(),
        tags: args.tags.clone(),
        exclude_tags: args.exclude_tags.clone(),
        runtimes: args.runtimes.clone(),
        partition: args.partition,
    }
}

#[cfg(test)]
mod tests {
    use super::run::status_of;
    use super::*;
    use crate::model::{Exit, Figures, Measured, Outcome, Verdict};
    use crate::plan::PlanOptions;
    use std::time::Duration;

    fn outcome(verdict: Verdict) -> Outcome {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "").unwrap();
        let text = "[build]\npackage = \"p\"\nlib = \"p\"\nlib_env = \"L\"\n\
                    [runtimes.py]\nkind = \"python\"\nprogram = \"python3\"\n\
                    [[suite]]\nname = \"a\"\nruntime = \"py\"\nscript = \"a.py\"\n";
        let c = config::parse(text, &dir.path().join("memtest.toml"), dir.path()).unwrap();
        let mut artifacts = crate::model::Artifacts::default();
        artifacts.libs.insert("default".into(), "/l.so".into());
        let suites = c
            .resolve_all(&[&c.suites[0]], &Invocation::default())
            .unwrap();
        let job = plan::plan(&c, &suites, &artifacts, &PlanOptions::default())
            .unwrap()
            .remove(0);
        Outcome {
            job,
            floor: None,
            cause: None,
            measured: Measured {
                pid: 1,
                exit: Exit::Code { code: 0 },
                duration: Duration::from_secs(1),
                samples: vec![],
                progress: Vec::new(),
                peak_rss_exact: None,
                reported: Default::default(),
                marker_seen: true,
                log_tail: vec![],
                findings: None,
                sites: Vec::new(),
                checkpoints: Vec::new(),
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
