//! `memtest explain SUITE...`: re-runs the named suites in attribution mode
//! and prints where they leak. Attribution mode is `MEMTEST_EXPLAIN=1` in
//! each suite's environment (the helpers then trace Python with
//! tracemalloc and snapshot V8's heap; a library with memtest-alloc's
//! tracker records every live block's stack) and, for a library with no
//! tracker of its own (any build that is not cargo's), valgrind memcheck
//! around the suite when it is installed: the wrapper memtest.toml defines
//! for valgrind, or the stock one. `--wrapper NAME` chooses instead.
//!
//! Before it, each suite is asked whether its RSS growth is a leak at all
//! (`app/cause.rs`: live and allocator figures, runs with memory given
//! back); the diagnosis is shown under its sites, in the terminal and in
//! every report of the attribution run.
//!
//! RSS limits are not judged here (tracking costs memory and time): the
//! run is for its sites, and its verdicts are shown for what they are.

use super::cause::{diagnose_suites, Diagnosed};
use super::run::{run_adjusted, Adjust, Ran};
use super::{AppError, Context, ExitStatus};
use crate::cli::{ExecArgs, ExplainArgs, FilterArgs, RunArgs, DEFAULT_TOP};
use crate::config::{BuildForm, Config};
use crate::model::{FindingsKind, Job, Outcome, RuntimeKind, Site, SiteSource};
use crate::report::sites::{render, SuiteSites};
use crate::report::ReportOptions;

/// Timeouts of suites in attribution mode without a wrapper grow by this:
/// a stack walk per native allocation, tracemalloc, two heap snapshots.
const ATTRIBUTION_TIMEOUT_FACTOR: u32 = 5;

/// `memtest explain`.
pub(super) fn explain(
    config: &Config,
    ctx: &Context,
    args: &ExplainArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let cause = !args.no_cause;
    explain_names(config, ctx, &args.names, args.top, cause, &args.exec, opts)
}

/// `run --explain`: the run, then `explain` of every suite that failed and
/// every canary that was caught, against the run's build. The run's exit
/// status stands; its report files hold the run (the explanation is
/// printed).
pub(super) fn run_then_explain(
    config: &Config,
    ctx: &Context,
    args: &RunArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let Ran { status, outcomes } = run_adjusted(config, ctx, &args.filter, &args.exec, opts, None)?;
    let names = to_explain(&outcomes);
    if names.is_empty() || matches!(status, ExitStatus::Interrupted | ExitStatus::Terminated) {
        return Ok(status);
    }
    let exec = ExecArgs {
        no_build: true,
        ..args.exec.clone()
    };
    let printed = ReportOptions {
        json: None,
        junit: None,
        plot_dir: None,
        html: None,
        summary: None,
        step_summary: None,
        github: false,
        ..opts.clone()
    };
    let quiet = ctx.for_explain(ctx.wrapper.clone(), false);
    explain_names(config, &quiet, &names, DEFAULT_TOP, true, &exec, &printed)?;
    Ok(status)
}

/// The suites a run should explain: those that failed, and the canaries it
/// caught (where the leak they plant is, and what it is).
fn to_explain(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| {
            matches!(
                o.verdict,
                crate::model::Verdict::Failed { .. } | crate::model::Verdict::CanaryCaught { .. }
            )
        })
        .map(|o| o.job.suite.clone())
        .collect()
}

/// Diagnoses the cause of each suite's growth (unless `cause` is false),
/// then re-runs the suites in attribution mode and prints where they leak,
/// with the cause under each.
pub(super) fn explain_names(
    config: &Config,
    ctx: &Context,
    names: &[String],
    top: usize,
    cause: bool,
    exec: &ExecArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let (causes, exec) = if cause {
        let causes = match diagnose_suites(config, ctx, names, exec)? {
            Diagnosed::Causes(causes) => causes,
            Diagnosed::Stopped(status) => return Ok(status),
        };
        let reuse = ExecArgs {
            no_build: true,
            ..exec.clone()
        };
        (causes, reuse)
    } else {
        (Default::default(), exec.clone())
    };
    let (config, wrapper) = with_attribution_wrapper(config, ctx.wrapper.as_deref());
    let ctx = ctx.for_explain(wrapper.clone(), true);
    let filter = FilterArgs {
        names: names.to_vec(),
        ..FilterArgs::default()
    };
    let adjust = Adjust {
        job: &attribution_mode,
        causes,
    };
    let Ran { status, outcomes } =
        run_adjusted(&config, &ctx, &filter, &exec, opts, Some(&adjust))?;
    let explained: Vec<SuiteSites> = outcomes
        .iter()
        .map(|o| {
            let tools = tools_of(&config, wrapper.as_deref(), o.job.runtime);
            suite_sites(o, tools, top)
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

/// The tools that look for the sites of a suite on `runtime`.
fn tools_of(config: &Config, wrapper: Option<&str>, runtime: RuntimeKind) -> Vec<&'static str> {
    let tool = wrapper
        .and_then(|w| config.wrappers.get(w))
        .map(|w| match w.findings {
            FindingsKind::ValgrindXml => SiteSource::Valgrind.label(),
            FindingsKind::Sanitizer => SiteSource::Sanitizer.label(),
            FindingsKind::Heaptrack => "heaptrack (no sites)",
        });
    let native = tool.unwrap_or(match config.build.as_ref().map(|b| &b.form) {
        Some(BuildForm::Cargo { .. }) => SiteSource::MemtestAlloc.label(),
        Some(_) => "no native tracker (valgrind not found)",
        None => "no library built",
    });
    match runtime {
        RuntimeKind::Python => vec![native, SiteSource::Tracemalloc.label()],
        RuntimeKind::Node => vec![native, SiteSource::HeapSnapshot.label()],
        RuntimeKind::Rust | RuntimeKind::Command => vec![native],
    }
}

/// The suite's sites, already named by the run: above the noise floor,
/// the `top` largest, under the tools that looked and any other that found
/// some of them.
fn suite_sites(outcome: &Outcome, looked_with: Vec<&'static str>, top: usize) -> SuiteSites {
    let mut sites: Vec<Site> = outcome.measured.sites.clone();
    let total = sites.len();
    sites.retain(Site::above_noise_floor);
    sites.truncate(top);
    let method = method(looked_with, &sites);
    SuiteSites {
        suite: outcome.job.suite.clone(),
        verdict: crate::report::VerdictKind::of(&outcome.verdict)
            .label()
            .into(),
        method,
        hidden: total - sites.len(),
        sites,
        cause: outcome.cause.clone(),
    }
}

/// The tools that looked, then each tool that found a site and is not
/// among them: a Zig suite run under valgrind names its sites from Zig's
/// own leak check, and says so.
fn method(mut tools: Vec<&'static str>, sites: &[Site]) -> String {
    for site in sites {
        let label = site.source.label();
        if !tools.contains(&label) {
            tools.push(label);
        }
    }
    tools.join("; ")
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

    #[test]
    fn the_method_names_the_tools_that_looked_and_any_other_that_found() {
        let site = |source| Site {
            layer: crate::model::Layer::Native,
            source,
            bytes: 64,
            blocks: 1,
            frames: Vec::new(),
            name: None,
        };
        let looked = || vec!["valgrind memcheck", "tracemalloc"];
        let both = "valgrind memcheck; tracemalloc";
        assert_eq!(
            method(looked(), &[]),
            both,
            "no sites: the tools that looked"
        );
        let found = [site(SiteSource::Tracemalloc), site(SiteSource::Valgrind)];
        assert_eq!(
            method(looked(), &found),
            both,
            "found by the tools that looked"
        );
        let zig = [
            site(SiteSource::ZigAllocator),
            site(SiteSource::ZigAllocator),
        ];
        assert_eq!(
            method(vec!["valgrind memcheck"], &zig),
            "valgrind memcheck; Zig's leak check"
        );
    }
}
