//! The command line: clap definitions only. Turning these into work is app.rs's
//! job; keeping parsing apart lets tests check argument shapes without running
//! anything.

mod commands;

pub use crate::plan::Partition;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub use commands::{
    BaselineCommand, BisectArgs, ExecArgs, ExplainArgs, FigureArg, FilterArgs, FloorArgs, FuzzArgs,
    HookCommand, InitArgs, LeakHeap, ListArgs, MatrixArgs, MatrixBy, MergeArgs, RunArgs, ShowArgs,
    ShowFormat, TrendArgs, DEFAULT_TOP,
};

/// memtest: memory tests of a native library and its language bindings.
#[derive(Debug, Parser)]
#[command(name = "memtest", version, about, max_term_width = 100)]
pub struct Cli {
    /// memtest.toml to use [default: found by walking up from the current directory]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A [profiles.NAME] of memtest.toml overriding the defaults (e.g. ci, soak)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Run every selected suite under a [wrappers.NAME] tool (e.g. memcheck)
    #[arg(long, global = true, value_name = "NAME")]
    pub wrapper: Option<String>,

    /// Soak by duration: every suite repeats its work until this much time has passed (e.g. 60s, 30m, 24h); a soak stopped early is reported incomplete
    #[arg(long, global = true, value_name = "D", value_parser = parse_soak_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stream this folder of inputs through every selected suite that takes a corpus (MEMTEST_CORPUS; over each suite's `corpus`)
    #[arg(long, global = true, value_name = "DIR")]
    pub corpus: Option<PathBuf>,

    #[command(flatten)]
    pub report: ReportArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the library and run every suite
    All(ExecArgs),
    /// Run the suites picked by name, tag, runtime or partition
    Run(RunArgs),
    /// Show the suites memtest.toml defines
    List(ListArgs),
    /// Show each suite's effective settings and where each came from
    Show(ShowArgs),
    /// Re-run suites in attribution mode and show where they leak (leak sites, largest first)
    Explain(ExplainArgs),
    /// Print a CI strategy matrix (JSON) that splits the suites into jobs
    Matrix(MatrixArgs),
    /// Validate memtest.toml without building or running anything
    Check,
    /// Generate the fixture images (if missing or stale) and print their folder
    Fixtures,
    /// Merge JSON reports of several runs (e.g. CI matrix jobs) into one
    Merge(MergeArgs),
    /// Manage the saved baseline figures
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Write a starting memtest.toml (and starter suites) for the project here
    Init(InitArgs),
    /// Install or remove a git pre-commit hook that runs a tier of suites
    #[command(subcommand)]
    Hook(HookCommand),
    /// Find the first commit where the selected suites went bad: each tested commit built and run in a worktree of its own, noisy commits run again
    Bisect(BisectArgs),
    /// Each suite's figures over commits from a `run --history` file: a table, --html and --svg plots, and a drift check against a pinned --baseline
    Trend(TrendArgs),
    /// Search the smallest per-call leak each suite catches (its detection floor)
    Floor(FloorArgs),
    /// Fuzz a fuzz suite's binding for a while, judging each input by the library's live allocation count; or --replay one saved input
    Fuzz(FuzzArgs),
}

fn parse_soak_duration(s: &str) -> Result<std::time::Duration, String> {
    match crate::units::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("a duration longer than zero, e.g. 30m".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Report flags: what the reporters write besides the live progress.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportArgs {
    /// Write a JSON report (every sample, figure and verdict; bisect: its log; trend: the trend)
    #[arg(long, global = true, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write a JUnit XML report
    #[arg(long, global = true, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Write one SVG memory plot per suite into DIR (trend: one SVG of each suite's figures over commits)
    #[arg(long, global = true, value_name = "DIR", visible_alias = "svg")]
    pub plot: Option<PathBuf>,

    /// Write one self-contained HTML page of the run (plots inline, no network; trend: the trend page)
    #[arg(long, global = true, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Append a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)
    #[arg(long, global = true, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Compare figures against this baseline file
    #[arg(long, global = true, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Append each suite's figures, commit, time and machine to this history (JSON lines) [trend: default .memtest/history.jsonl]
    #[arg(long, global = true, value_name = "FILE")]
    pub history: Option<PathBuf>,

    /// JSON report of the baseline run: the HTML page shows its figures and draws its RSS curves
    #[arg(long, global = true, value_name = "FILE")]
    pub baseline_report: Option<PathBuf>,

    /// Percent by which a figure may exceed its baseline
    #[arg(long, global = true, value_name = "PCT", default_value_t = 10.0)]
    pub tolerance: f64,

    /// Stream every line the suites print
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_names_filters_and_global_flags_anywhere() {
        let cli = Cli::try_parse_from([
            "memtest",
            "--profile",
            "ci",
            "run",
            "a",
            "b",
            "--tag",
            "fast",
            "--tag",
            "rust",
            "--exclude-tag",
            "long",
            "--runtime",
            "node",
            "--partition",
            "2/3",
            "-j",
            "2",
            "--no-build",
            "--json",
            "out.json",
        ])
        .unwrap();
        assert_eq!(cli.profile.as_deref(), Some("ci"));
        assert_eq!(cli.report.json, Some(PathBuf::from("out.json")));
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.filter.names, ["a", "b"]);
        assert_eq!(run.filter.tags, ["fast", "rust"]);
        assert_eq!(run.filter.exclude_tags, ["long"]);
        assert_eq!(run.filter.runtimes, ["node"]);
        assert_eq!(run.filter.partition, Some(Partition { k: 2, n: 3 }));
        assert_eq!(run.exec.jobs, Some(2));
        assert!(run.exec.no_build);
    }

    #[test]
    fn floor_takes_suites_criterion_and_search_settings() {
        let cli = Cli::try_parse_from([
            "memtest",
            "--profile",
            "ci",
            "floor",
            "a",
            "--criterion",
            "native_leaks",
            "--heap",
            "c",
            "--every",
            "10",
            "--start",
            "4KiB",
            "--runs",
            "3",
            "--save",
            "floors.json",
            "--json",
            "out.json",
        ])
        .unwrap();
        let Command::Floor(f) = cli.command else {
            panic!("not floor")
        };
        assert_eq!(f.filter.names, ["a"]);
        assert_eq!(f.criterion, Some(crate::model::Criterion::NativeLeaks));
        assert_eq!(
            (f.heap, f.every, f.start, f.runs),
            (LeakHeap::C, 10, Some(4096), 3)
        );
        assert_eq!((f.max, f.step), (64 << 20, 8.0));
        assert_eq!(f.save, Some(PathBuf::from("floors.json")));
        assert_eq!(cli.report.json, Some(PathBuf::from("out.json")));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for argv in [
            &["memtest", "run", "--partition", "4/3"][..],
            &["memtest", "run", "--partition", "0/3"],
            &["memtest", "run", "--jobs", "0"],
            &["memtest", "matrix", "--by", "colour"],
            &["memtest", "merge"],
            &["memtest", "hook"],
            &["memtest", "hook", "install", "--tag"],
            &["memtest", "explain"],
            &["memtest", "floor", "--runs", "1"],
            &["memtest", "floor", "--criterion", "rss_grwth"],
            &["memtest", "floor", "--step", "1.5"],
            &["memtest", "floor", "--start", "0"],
            &["memtest", "floor", "--every", "0"],
        ] {
            assert!(
                Cli::try_parse_from(argv).is_err(),
                "{argv:?} should be refused"
            );
        }
    }

    #[test]
    fn hook_install_defaults_to_the_fast_tag() {
        let cli = Cli::try_parse_from(["memtest", "hook", "install"]).unwrap();
        let Command::Hook(HookCommand::Install { tag, force }) = cli.command else {
            panic!("not hook install")
        };
        assert_eq!((tag.as_str(), force), ("fast", false));
        let cli = Cli::try_parse_from([
            "memtest",
            "--profile",
            "soak",
            "hook",
            "install",
            "--tag",
            "quick",
            "--force",
        ])
        .unwrap();
        assert_eq!(cli.profile.as_deref(), Some("soak"));
        assert!(matches!(
            cli.command,
            Command::Hook(HookCommand::Install { ref tag, force: true }) if tag == "quick"
        ));
    }

    #[test]
    fn bisect_takes_revisions_a_selection_and_an_oracle() {
        let cli = Cli::try_parse_from([
            "memtest",
            "bisect",
            "--good",
            "v1",
            "c-memory",
            "--figure",
            "peak_rss",
            "--above",
            "120MB",
            "--runs",
            "3",
            "--history",
            "h.jsonl",
        ])
        .unwrap();
        assert_eq!(cli.report.history, Some(PathBuf::from("h.jsonl")));
        let Command::Bisect(b) = cli.command else {
            panic!("not bisect")
        };
        assert_eq!((b.good.as_str(), b.bad.as_str()), ("v1", "HEAD"));
        assert_eq!(b.filter.names, ["c-memory"]);
        assert_eq!(b.figure, Some(FigureArg::PeakRss));
        assert_eq!(b.above.as_deref(), Some("120MB"));
        assert_eq!((b.runs, b.margin), (3, 2));
        for argv in [
            &["memtest", "bisect"][..],
            &["memtest", "bisect", "--good", "a", "--above", "1MB"],
            &["memtest", "bisect", "--good", "a", "--figure", "rss"],
            &[
                "memtest",
                "bisect",
                "--good",
                "a",
                "--figure",
                "slope",
                "--above",
                "1MB/s",
                "--worse-than-good",
                "10",
            ],
        ] {
            assert!(
                Cli::try_parse_from(argv).is_err(),
                "{argv:?} should be refused"
            );
        }
    }

    #[test]
    fn trend_takes_suites_and_writes_through_the_report_flags() {
        let cli = Cli::try_parse_from([
            "memtest",
            "trend",
            "a",
            "--svg",
            "plots",
            "--html",
            "t.html",
            "--baseline",
            "b.json",
        ])
        .unwrap();
        assert_eq!(cli.report.plot, Some(PathBuf::from("plots")));
        assert_eq!(cli.report.html, Some(PathBuf::from("t.html")));
        let Command::Trend(t) = cli.command else {
            panic!("not trend")
        };
        assert_eq!(t.names, ["a"]);
    }

    #[test]
    fn partitions_parse() {
        assert_eq!("1/1".parse(), Ok(Partition { k: 1, n: 1 }));
        assert_eq!("3/4".parse(), Ok(Partition { k: 3, n: 4 }));
        for bad in ["", "1", "a/b", "1/0", "5/4", "1/2/3"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
