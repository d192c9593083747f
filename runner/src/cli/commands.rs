//! Each subcommand's own arguments, and the suite filters and execution
//! flags they share; the top level (global flags, the list of commands)
//! stays in cli.rs.

use crate::plan::Partition;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

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
    /// The first leak size probed, bytes per call [default: half the clean run's headroom under its RSS limits per leaking call, else 1 B]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub start: Option<u64>,
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
