//! Leak or allocator? `memtest explain`'s probe runs. Every suite named is
//! run once in cause mode (`MEMTEST_CAUSE=1`: the helpers report their live
//! and allocator figures at each checkpoint, memtest reads smaps beside
//! them); each one whose RSS grew is run again with the allocator asked to
//! give memory back: `malloc_trim(0)` at each checkpoint
//! (`MEMTEST_MALLOC_TRIM=1`), `MALLOC_ARENA_MAX=2`, and jemalloc through
//! `LD_PRELOAD` where `libjemalloc.so.2` is installed. The verdict stage
//! (`verdict::cause`) turns the runs into a diagnosis per suite.
//!
//! Probe runs are never wrapped (a wrapper's own memory would be the
//! growth), judge no RSS limit (a suite that leaks must finish to be
//! explained), write no report file and leave no history.

use super::run::{run_adjusted, Adjust, Ran};
use super::{AppError, Context, ExitStatus};
use crate::cli::{ExecArgs, FilterArgs};
use crate::config::Config;
use crate::model::{Diagnosis, Job, Outcome, Probe};
use crate::report::ReportOptions;
use crate::verdict::cause::{diagnose, Run, GROWTH_FLOOR};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A probe's timeout grows by this: helpers read smaps and mallinfo at
/// each checkpoint, and tracemalloc traces a Python suite.
const PROBE_TIMEOUT_FACTOR: u32 = 3;

/// Where distributions put jemalloc (Debian's `libjemalloc2` and others).
const JEMALLOC_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
];

/// jemalloc's shared library, where installed (Linux: `LD_PRELOAD` is how
/// a probe swaps the allocator of any runtime without rebuilding it).
pub(super) fn jemalloc() -> Option<PathBuf> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    JEMALLOC_DIRS
        .iter()
        .map(|d| Path::new(d).join("libjemalloc.so.2"))
        .find(|p| p.is_file())
}

/// What the probe runs came to: each suite's diagnosis, or the status of
/// a run the user stopped (nothing after it runs).
pub(super) enum Diagnosed {
    Causes(BTreeMap<String, Diagnosis>),
    Stopped(ExitStatus),
}

/// The diagnosis of each of `names`, by suite name. `exec.no_build` is
/// honoured by the first run; the probes reuse its build.
pub(super) fn diagnose_suites(
    config: &Config,
    ctx: &Context,
    names: &[String],
    exec: &ExecArgs,
) -> Result<Diagnosed, AppError> {
    let plain = match probe_run(config, ctx, names, exec, Probe::Plain)? {
        Ok(outcomes) => outcomes,
        Err(stopped) => return Ok(Diagnosed::Stopped(stopped)),
    };
    let grown: Vec<String> = plain
        .iter()
        .filter(|o| run_of(o, Probe::Plain).rss_growth() >= GROWTH_FLOOR)
        .map(|o| o.job.suite.clone())
        .collect();
    let mut probes: Vec<Outcome> = Vec::new();
    if !grown.is_empty() {
        let reuse = ExecArgs {
            no_build: true,
            ..exec.clone()
        };
        let mut kinds = vec![Probe::MallocTrim, Probe::ArenaMax2];
        if jemalloc().is_some() {
            kinds.push(Probe::Jemalloc);
        }
        for probe in kinds {
            match probe_run(config, ctx, &grown, &reuse, probe)? {
                Ok(outcomes) => probes.extend(outcomes),
                Err(stopped) => return Ok(Diagnosed::Stopped(stopped)),
            }
        }
    }
    Ok(Diagnosed::Causes(
        plain
            .iter()
            .map(|o| {
                let runs: Vec<Run> = probes
                    .iter()
                    .filter(|p| p.job.suite == o.job.suite)
                    .map(|p| run_of(p, probe_of(&p.job)))
                    .collect();
                let native = o.measured.reported.get("native_leaked_bytes");
                let native = native.map(|b| b.max(0.0) as u64);
                let d = diagnose(&run_of(o, Probe::Plain), native, &runs);
                (o.job.suite.clone(), d)
            })
            .collect(),
    ))
}

/// One run of the suites in cause mode under `probe`: their outcomes, or
/// the status of a run the user interrupted.
fn probe_run(
    config: &Config,
    ctx: &Context,
    names: &[String],
    exec: &ExecArgs,
    probe: Probe,
) -> Result<Result<Vec<Outcome>, ExitStatus>, AppError> {
    let quiet = ctx.for_explain(None, false);
    let filter = FilterArgs {
        names: names.to_vec(),
        ..FilterArgs::default()
    };
    // Each probe's suite lines, not its summary: explain's own follows.
    let opts = ReportOptions {
        github: false,
        step_summary: None,
        brief: true,
        ..ReportOptions::from_env()
    };
    let jemalloc = jemalloc();
    let set = move |job: &mut Job| cause_mode(job, probe, jemalloc.as_deref());
    let adjust = Adjust {
        job: &set,
        causes: BTreeMap::new(),
    };
    let Ran { status, outcomes } =
        run_adjusted(config, &quiet, &filter, exec, &opts, Some(&adjust))?;
    Ok(match status {
        ExitStatus::Interrupted | ExitStatus::Terminated => Err(status),
        _ => Ok(outcomes),
    })
}

/// The environment variable that tells which probe a run was.
const PROBE_ENV: &str = "MEMTEST_CAUSE_PROBE";

/// Sets cause mode and `probe` on a planned job.
fn cause_mode(job: &mut Job, probe: Probe, jemalloc: Option<&Path>) {
    job.env.push(("MEMTEST_CAUSE".into(), "1".into()));
    job.env.push((PROBE_ENV.into(), probe.label().into()));
    match probe {
        Probe::Plain => {}
        Probe::MallocTrim => job.env.push(("MEMTEST_MALLOC_TRIM".into(), "1".into())),
        Probe::ArenaMax2 => job.env.push(("MALLOC_ARENA_MAX".into(), "2".into())),
        Probe::Jemalloc => {
            if let Some(lib) = jemalloc {
                let mut preload = lib.display().to_string();
                if let Some((_, old)) = job.env.iter().find(|(k, _)| k == "LD_PRELOAD") {
                    preload = format!("{preload}:{old}");
                }
                job.env.retain(|(k, _)| k != "LD_PRELOAD");
                job.env.push(("LD_PRELOAD".into(), preload));
            }
        }
    }
    let limits = &mut job.limits;
    limits.rss_growth = None;
    limits.vms_growth = None;
    limits.peak_rss = None;
    limits.slope = None;
    limits.slope_per_op = None;
    job.wrapper = None;
    job.timeout *= PROBE_TIMEOUT_FACTOR;
}

/// Which probe a finished job was, from the variable [`cause_mode`] set.
fn probe_of(job: &Job) -> Probe {
    let label = job
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == PROBE_ENV)
        .map(|(_, v)| v.as_str());
    [Probe::MallocTrim, Probe::ArenaMax2, Probe::Jemalloc]
        .into_iter()
        .find(|p| Some(p.label()) == label)
        .unwrap_or(Probe::Plain)
}

/// The verdict's view of one finished run.
fn run_of(outcome: &Outcome, probe: Probe) -> Run {
    Run {
        probe,
        checkpoints: outcome.measured.checkpoints.clone(),
        sampled_growth_bytes: outcome.figures.rss_growth.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_probe_sets_its_variable_and_lifts_rss_limits() {
        let lib = Path::new("/usr/lib/libjemalloc.so.2");
        for (probe, var, value) in [
            (Probe::MallocTrim, "MEMTEST_MALLOC_TRIM", "1"),
            (Probe::ArenaMax2, "MALLOC_ARENA_MAX", "2"),
            (
                Probe::Jemalloc,
                "LD_PRELOAD",
                "/usr/lib/libjemalloc.so.2:/a.so",
            ),
        ] {
            let mut job = Job::example();
            job.env.push(("LD_PRELOAD".into(), "/a.so".into()));
            job.limits.rss_growth = Some(crate::units::Bytes(1));
            let timeout = job.timeout;
            cause_mode(&mut job, probe, Some(lib));
            assert!(job.env.contains(&("MEMTEST_CAUSE".into(), "1".into())));
            assert!(
                job.env.contains(&(var.into(), value.into())),
                "{:?}",
                job.env
            );
            assert_eq!(job.limits.rss_growth, None);
            assert_eq!(job.timeout, timeout * PROBE_TIMEOUT_FACTOR);
            assert_eq!(probe_of(&job), probe);
        }
    }
}
