//! History and trends at the edge: `run --history FILE` appends a run's
//! figures with the commit (asked of git), time, machine and profile; `trend`
//! reads a history back, prints it, writes its page, plots and JSON, and
//! with `--baseline` checks it for drift (exit 1 when a figure drifted past
//! the pinned baseline's tolerance).

use super::{git, AppError, Context, ExitStatus};
use crate::cli::TrendArgs;
use crate::config::Config;
use crate::history::{self, drift, trend, Machine, Record};
use crate::model::Outcome;
use crate::report::trend::{TrendFiles, TrendPage};
use crate::report::{Paint, ReportOptions};
use crate::verdict::baseline::Baseline;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The history `trend` reads when no `--history` is given.
fn default_history(config: &Config) -> std::path::PathBuf {
    config.state_dir().join("history.jsonl")
}

/// This machine, as history records it.
fn machine() -> Machine {
    Machine {
        host: sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    }
}

/// Appends one record per suite that ran to its end (as a baseline would
/// keep it: not interrupted, not under a wrapper) to `path`.
pub(super) fn append_history(
    config: &Config,
    ctx: &Context,
    path: &Path,
    outcomes: &[Outcome],
    started: SystemTime,
) -> Result<(), AppError> {
    let kept = Baseline::from_outcomes(outcomes);
    let commit = git::head(&config.root);
    let machine = machine();
    let unix_ms = started
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let records: Vec<Record> = outcomes
        .iter()
        .filter_map(|o| {
            Some(Record {
                schema_version: history::SCHEMA_VERSION,
                suite: o.job.suite.clone(),
                commit: commit.clone(),
                time: humantime::format_rfc3339_millis(started).to_string(),
                time_unix_ms: unix_ms,
                machine: machine.clone(),
                profile: ctx.profile.clone(),
                scale: o.job.scale,
                success: o.verdict.is_success(),
                figures: kept.get(&o.job.suite)?.clone(),
            })
        })
        .collect();
    Ok(history::append(path, &records, history::MAX_RECORDS)?)
}

/// `trend`: the history read, shown, written; 1 when a figure drifted.
pub(super) fn trend(
    load: &dyn Fn() -> Result<Config, AppError>,
    ctx: &Context,
    args: &TrendArgs,
    opts: &ReportOptions,
) -> Result<ExitStatus, AppError> {
    let source = match &ctx.report.history {
        Some(path) => path.clone(),
        None => default_history(&load()?),
    };
    let tolerance = ctx.report.tolerance;
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(AppError::Usage(format!(
            "--tolerance {tolerance}: give a percentage >= 0, e.g. 10"
        )));
    }
    let loaded = history::load(&source)?;
    let filter = trend::Filter {
        suites: args.names.clone(),
        profile: ctx.profile.clone(),
    };
    let trends = trend::trends(&loaded.records, &filter);
    if trends.is_empty() {
        return Err(AppError::Usage(format!(
            "{} has no run of {}{}",
            source.display(),
            if args.names.is_empty() {
                "any suite".into()
            } else {
                args.names.join(", ")
            },
            ctx.profile
                .as_ref()
                .map_or(String::new(), |p| format!(" at --profile {p}"))
        )));
    }
    let baseline = match &ctx.report.baseline {
        Some(path) => Some((Baseline::load(path).map_err(AppError::Baseline)?, path)),
        None => None,
    };
    let drift = baseline
        .as_ref()
        .map(|(b, _)| drift::check_all(&trends, b, tolerance / 100.0));
    let page = TrendPage {
        source: &source,
        trends: &trends,
        drift: drift
            .as_deref()
            .zip(baseline.as_ref().map(|(_, p)| p.as_path())),
        tolerance: tolerance / 100.0,
        skipped: loaded.skipped,
    };
    let files = TrendFiles {
        json: opts.json.clone(),
        html: opts.html.clone(),
        svg_dir: opts.plot_dir.clone(),
    };
    let written = crate::report::trend::write_files(&page, &files)?;
    crate::report::trend::print(
        &page,
        &written,
        Paint {
            enabled: opts.color,
        },
    )
    .map_err(AppError::ReportIo)?;
    Ok(if page.failed() {
        ExitStatus::SuiteFailed
    } else {
        ExitStatus::Passed
    })
}
