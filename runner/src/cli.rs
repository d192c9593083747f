//! The command line: clap definitions only. Turning these into work is app.rs's
//! job; keeping parsing apart lets tests check argument shapes without running
//! anything.

pub use crate::plan::Partition;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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

/// `memtest fuzz`: which fuzz suite, for how long, on which build.
#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// The fuzz suite (a suite whose script runs memtest_fuzz / memtest-fuzz) [default with --replay: the folder the reproducer is in]
    #[arg(value_name = "NAME", required_unless_present = "replay")]
    pub name: Option<String>,
    /// How long to fuzz
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub time: std::time::Duration,
    /// The mutation seed: the same seed gives the same inputs
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Fuzz this library variant (a [build.variants.NAME]) [default: the suite's own; with --replay, the one the reproducer was found on]
    #[arg(long, value_name = "V")]
    pub variant: Option<String>,
    /// Run one saved input again; exit 1 while it still fails
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// The engine (MEMTEST_FUZZ_ENGINE): auto, builtin or atheris (python)
    #[arg(long, value_name = "E", default_value = "auto")]
    pub engine: String,
    /// Run without the allocation check (how fast the plain fuzzer is)
    #[arg(long)]
    pub no_oracle: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    match crate::units::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("a duration above zero, e.g. 60s".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Show each suite's detection floor from this file (written by `floor --save`)
    #[arg(long, value_name = "FILE")]
    pub floors: Option<PathBuf>,
}

/// Which heap the graded leak comes from (MEMTEST_LEAK_HEAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LeakHeap {
    /// The library's own heap: its counting allocator sees the leak
    #[default]
    Rust,
    /// libc's malloc, behind the counting allocator's back: only RSS sees it
    C,
}

impl LeakHeap {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakHeap::Rust => "rust",
            LeakHeap::C => "c",
        }
    }
}

/// `memtest floor`: which suites, and how the leak is graded and searched.
#[derive(Debug, Clone, Args)]
pub struct FloorArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Count a probe as caught only when this criterion failed (e.g. native_leaks, rss_growth) [default: any that sees a leak]
    #[arg(long, value_name = "C")]
    pub criterion: Option<crate::model::Criterion>,
    /// The leaky build to grade [default: the variant of the suite's canaries]
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
    /// Where the leak comes from (MEMTEST_LEAK_HEAP)
    #[arg(long, value_enum, default_value_t = LeakHeap::Rust)]
    pub heap: LeakHeap,
    /// Leak on one call in K (MEMTEST_LEAK_EVERY)
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// The first leak size probed, bytes per call
    #[arg(long, value_name = "SIZE", default_value = "1", value_parser = parse_size)]
    pub start: u64,
    /// The largest leak size probed; not caught there, the suite is blind
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max: u64,
    /// The factor between sizes until a leak is caught (then bisected to within 2x)
    #[arg(long, value_name = "X", default_value_t = 8.0, value_parser = parse_step)]
    pub step: f64,
    /// Runs of each probe; a size counts as caught only when every run caught it
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..))]
    pub runs: u32,
    /// Merge the floors found into this file (read by `list --floors`)
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    match crate::units::Bytes::parse(s) {
        Ok(b) if b.0 >= 1 => Ok(b.0),
        Ok(_) => Err("a leak of at least 1 byte".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_soak_duration(s: &str) -> Result<std::time::Duration, String> {
    match crate::units::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("a duration longer than zero, e.g. 30m".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_step(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 2.0 => Ok(x),
        _ => Err(format!("`{s}`: a factor of 2 or more")),
    }
}

/// Flags that shape how suites execute, shared by `all` and `run`.
#[derive(Debug, Clone, Default, Args)]
pub struct ExecArgs {
    /// Threads of suites at once, by each suite's `threads` (exclusive suites run alone) [default: the machine's cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,

    /// Multiply every suite's iteration counts (MEMTEST_SCALE) [default: from the profile]
    #[arg(long, value_name = "X")]
    pub scale: Option<f64>,

    /// Reuse the library and test binaries of the last build instead of building
    #[arg(long)]
    pub no_build: bool,

    /// How process trees are sampled: proc (Linux's /proc, cheapest) or portable (sysinfo) [default: proc on Linux, portable elsewhere]
    #[arg(long, value_name = "KIND")]
    pub sampler: Option<crate::sample::SamplerKind>,

    /// Show each suite's detection floor from this file (`floor --save`) beside its verdict, and fail a suite whose floor is above its `max_floor`
    #[arg(long, value_name = "FILE")]
    pub floors: Option<PathBuf>,
}

/// Which suites: the filters of `run` and `list`.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Suite names (exact)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// Only suites with this tag (repeat for any of several)
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,

    /// Leave out suites with this tag (repeatable)
    #[arg(long = "exclude-tag", value_name = "T")]
    pub exclude_tags: Vec<String>,

    /// Only suites on this runtime (repeat for any of several)
    #[arg(long = "runtime", value_name = "RUNTIME")]
    pub runtimes: Vec<String>,

    /// Only the k-th of n equal slices of the selection, e.g. 1/3
    #[arg(long, value_name = "k/n")]
    pub partition: Option<Partition>,
}

#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The scale a run with --scale X would use
    #[arg(long, value_name = "X")]
    pub scale: Option<f64>,
    /// text, or json ({suite: {settings: {key: {value, source}}}})
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Then explain every suite that failed and every canary caught: leak sites, and leak or allocator
    #[arg(long)]
    pub explain: bool,
}

/// Leak sites `explain` (and `run --explain`) shows per suite by default.
pub const DEFAULT_TOP: usize = 5;

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// Suite names (exact), canaries included
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Leak sites shown per suite
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Leave out the runs that tell a leak from allocator retention (sites only)
    #[arg(long)]
    pub no_cause: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BisectArgs {
    /// A commit where the selected suites are good
    #[arg(long, value_name = "REV")]
    pub good: String,
    /// A later commit where they are bad
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub bad: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Judge this figure instead of the verdict (with --above or --worse-than-good)
    #[arg(long, value_enum, value_name = "FIGURE")]
    pub figure: Option<FigureArg>,
    /// Bad when the figure is above this, e.g. 120MB, 1MB/s (slope), 30s (duration)
    #[arg(long, value_name = "VALUE", requires = "figure")]
    pub above: Option<String>,
    /// Bad when the figure is worse than its median at --good by more than PCT percent
    #[arg(
        long,
        value_name = "PCT",
        requires = "figure",
        conflicts_with = "above"
    )]
    pub worse_than_good: Option<f64>,
    /// At most this many runs of one commit
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: u32,
    /// The lead (good runs over bad, or bad over good) that settles a commit
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub margin: u32,
    /// Once found, run the bad suites in attribution mode (`explain`) at the last good and the first bad commit, and show the leak sites that grew
    #[arg(long)]
    pub sites: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
}

/// A figure a bisection can judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FigureArg {
    #[value(name = "peak_rss")]
    PeakRss,
    #[value(name = "rss_growth")]
    RssGrowth,
    Slope,
    Duration,
}

#[derive(Debug, Clone, Args)]
pub struct TrendArgs {
    /// Suite names [default: every suite in the history]
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    /// Group suites into one CI job per runtime or per tag
    #[arg(long, value_enum, default_value_t = MatrixBy::Runtime)]
    pub by: MatrixBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixBy {
    Runtime,
    Tag,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// JSON reports written by `--json`
    #[arg(required = true, value_name = "REPORT")]
    pub inputs: Vec<PathBuf>,
    /// Where to write the merged JSON report
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// The project's folder [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Overwrite an existing memtest.toml (starter suites are never overwritten)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write the repository's pre-commit hook: `memtest run --tag TAG` at --profile (default ci) before each commit
    Install {
        /// The tag of the tier the hook runs
        #[arg(long, value_name = "T", default_value = "fast")]
        tag: String,
        /// Replace a pre-commit hook memtest did not write (it is kept beside, and put back by uninstall)
        #[arg(long)]
        force: bool,
    },
    /// Remove memtest's pre-commit hook (a hook memtest did not write is left alone)
    Uninstall,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Save the figures of a JSON report as the baseline later runs compare to
    Save {
        /// A JSON report written by `--json`
        #[arg(long, value_name = "REPORT")]
        from: PathBuf,
        /// Where to write the baseline [default: the --baseline file]
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
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
            (LeakHeap::C, 10, 4096, 3)
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
