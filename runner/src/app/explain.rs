//! `memtest explain SUITE...`: re-runs the named suites in attribution mode
//! and prints where they leak. Attribution mode is `MEMTEST_EXPLAIN=1` in
//! each suite's environment (the helpers then trace Python with
//! tracemalloc and snapshot V8's heap; a library with memtest-alloc's
//! tracker records every live block's stack) and, for a library with no
//! tracker of its own (any build that is not cargo's), valgrind memcheck
//! around the suite when it is installed: the wrapper memtest.toml defines
//! for valgrind, or the stock one. `--wrapper NAME` chooses instead.
//!
//! RSS limits are not judged here (tracking costs memory and time): the
//! run is for its sites, and its verdicts are shown for what they are.

use super::run::{run_adjusted, Ran};
use super::{AppError, Context, ExitStatus};
use crate::cli::{ExplainArgs, FilterArgs};
use crate::config::{BuildForm, Config};
use crate::model::{FindingsKind, Job, Outcome, RuntimeKind, Site};
use crate::report::sites::{render, SuiteSites};
use crate::report::ReportOptions;

/// Timeouts of suites in attribution mode without a wrapper grow by this:
/// a stack walk per native allocation, tracemalloc, two heap snapshots.
const ATTRIBUTION_TIMEOUT_FACTOR: u32 = 5;

/// The stock valgrind wrapper, for projects whose memtest.toml has none.
/// `memtest explain`.
pub(super) fn explain(
    config: &Config,
    ctx: &Context,
    args: &ExplainArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let (config, wrapper) = with_attribution_wrapper(config, ctx.wrapper.as_deref());
    let ctx = Context {
        profile: ctx.profile.clone(),
        wrapper: wrapper.clone(),
        duration: ctx.duration,
        corpus: ctx.corpus.clone(),
        report: ctx.report.clone(),
    };
    let filter = FilterArgs {
        names: args.names.clone(),
        ..FilterArgs::default()
    };
    let Ran { status, outcomes } = run_adjusted(
        &config,
        &ctx,
        &filter,
        &args.exec,
        opts,
        Some(&attribution_mode),
    )?;
    let explained: Vec<SuiteSites> = outcomes
        .iter()
        .map(|o| {
            let method = method_of(&config, wrapper.as_deref(), o.job.runtime);
            suite_sites(o, &method, args.top)
        })
        .collect();
    print!("{}", render(&explained));
    // Interrupted runs say so; otherwise the explanation is the answer.
    Ok(match status {
        ExitStatus::Interrupted | ExitStatus::Terminated => status,
        _ => ExitStatus::Passed,
    })
}

/// Sets attribution mode on a planned job.
fn attribution_mode(job: &mut Job) {
    job.env.push(("MEMTEST_EXPLAIN".into(), "1".into()));
    // The tracker's tables, symbolization and snapshots cost memory: no
    // RSS judgement, and above all no RSS ceiling stopping the suite before
    // it printed its sites.
    let limits = &mut job.limits;
    limits.rss_growth = None;
    limits.vms_growth = None;
    limits.peak_rss = None;
    limits.slope = None;
    limits.slope_per_op = None;
    if job.wrapper.is_none() {
        job.timeout *= ATTRIBUTION_TIMEOUT_FACTOR;
    }
}

/// The config to run, and the wrapper to run it under: the one asked for;
/// none for a cargo build (memtest-alloc's tracker answers inside the
/// library) or without a `[build]` (no library to attribute to, and
/// valgrind would report only the interpreters' exit-time leaks); else
/// valgrind memcheck when valgrind is on PATH, memtest.toml's valgrind
/// wrapper or, when it has none, the stock one added to a copy.
fn with_attribution_wrapper(config: &Config, asked: Option<&str>) -> (Config, Option<String>) {
    if let Some(name) = asked {
        return (config.clone(), Some(name.to_string()));
    }
    let untracked_library = matches!(
        config.build.as_ref().map(|b| &b.form),
        Some(BuildForm::Command { .. } | BuildForm::Prebuilt { .. })
    );
    if !untracked_library || !on_path("valgrind") {
        return (config.clone(), None);
    }
    // memcheck is built in (config/builtin.rs); a project's own valgrind
    // wrapper, under whatever name, is used as it declared it.
    let name = config
        .wrappers
        .values()
        .find(|w| w.findings == FindingsKind::ValgrindXml)
        .map(|w| w.name.clone());
    (config.clone(), name)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// What found the sites of a suite on `runtime`.
fn method_of(config: &Config, wrapper: Option<&str>, runtime: RuntimeKind) -> String {
    let tool = wrapper
        .and_then(|w| config.wrappers.get(w))
        .map(|w| match w.findings {
            FindingsKind::ValgrindXml => "valgrind memcheck",
            FindingsKind::Sanitizer => "LeakSanitizer",
            FindingsKind::Heaptrack => "heaptrack (no sites)",
        });
    let native = tool.unwrap_or(match config.build.as_ref().map(|b| &b.form) {
        Some(BuildForm::Cargo { .. }) => "memtest-alloc tracker",
        Some(_) => "no native tracker (valgrind not found)",
        None => "no library built",
    });
    match runtime {
        RuntimeKind::Python => format!("{native}; tracemalloc"),
        RuntimeKind::Node => format!("{native}; V8 heap snapshots"),
        RuntimeKind::Rust | RuntimeKind::Command => native.to_string(),
    }
}

/// The suite's sites, already named by the run: above the noise floor,
/// the `top` largest.
fn suite_sites(outcome: &Outcome, method: &str, top: usize) -> SuiteSites {
    let mut sites: Vec<Site> = outcome.measured.sites.clone();
    let total = sites.len();
    sites.retain(Site::above_noise_floor);
    sites.truncate(top);
    SuiteSites {
        suite: outcome.job.suite.clone(),
        verdict: crate::report::VerdictKind::of(&outcome.verdict)
            .label()
            .into(),
        method: method.into(),
        hidden: total - sites.len(),
        sites,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_mode_sets_the_variable_and_lifts_rss_limits() {
        let mut job = Job::example();
        job.limits.peak_rss = Some(crate::units::Bytes(50_000_000));
        job.limits.rss_growth = Some(crate::units::Bytes(1));
        let timeout = job.timeout;
        attribution_mode(&mut job);
        assert!(job.env.contains(&("MEMTEST_EXPLAIN".into(), "1".into())));
        assert_eq!((job.limits.peak_rss, job.limits.rss_growth), (None, None));
        assert_eq!(job.limits.native_leaks, Some(0), "exact checks stay");
        assert_eq!(job.timeout, timeout * ATTRIBUTION_TIMEOUT_FACTOR);
    }
}
