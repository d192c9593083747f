//! Runs one suite: spawn in its own process group, stream its output to the
//! log, sample its tree, stop it on timeout or interrupt (SIGTERM to the
//! group, then SIGKILL after the grace period), and leave nothing behind.

use super::output::{Collected, Collector};
use super::process_unix as process;
use super::{Event, Exit, Measured, Sample, Stream};
use crate::plan::FindingsKind;
use crate::plan::Job;
use crate::sample::TreeSampler;
use crate::units::Bytes;
use crate::verdict::findings::{self, WrapperFindings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

/// How long the output readers may keep going after the suite's processes
/// are gone: a process that escaped its group could hold the pipes open.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);
/// A deadline that never comes, once SIGKILL has been sent.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);
/// Longest time `heaptrack_print` may take over one recording.
const HEAPTRACK_PRINT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the runner stopped a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Timeout,
    Interrupt,
    /// The tree's RSS passed the suite's `peak_rss` limit: the verdict is
    /// already a failure, and a leaking suite left running can take the
    /// whole machine (a leaky canary at full scale grows by gigabytes).
    Ceiling {
        rss_bytes: u64,
        limit_bytes: u64,
    },
}

/// What the suite task shares with the scheduler.
pub struct SuiteContext {
    pub events: mpsc::UnboundedSender<Event>,
    pub forward_output: bool,
    pub cancel: watch::Receiver<bool>,
}

fn measured_without_process(exit: Exit, duration: Duration) -> Measured {
    Measured {
        pid: 0,
        exit,
        duration,
        samples: Vec::new(),
        exact_peak_rss: None,
        reported: BTreeMap::new(),
        marker_seen: false,
        log_tail: Vec::new(),
        findings: None,
    }
}

/// The measurements of a suite that never started because of an interrupt.
pub fn never_started() -> Measured {
    measured_without_process(Exit::Interrupted, Duration::ZERO)
}

fn open_log(job: &Job) -> std::io::Result<std::fs::File> {
    if let Some(parent) = job.log_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::File::create(&job.log_path)
}

/// Reads one stream line by line (lossy UTF-8: suites may print anything).
fn read_lines(
    stream: impl AsyncRead + Unpin + Send + 'static,
    which: Stream,
    tx: mpsc::UnboundedSender<(Stream, String)>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let line = text.trim_end_matches(['\n', '\r']).to_string();
                    if tx.send((which, line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Runs the job to its end and returns what was measured.
pub async fn run(job: &Job, ctx: &mut SuiteContext) -> Measured {
    let started = Instant::now();
    let log = match open_log(job) {
        Ok(f) => f,
        Err(e) => {
            let message = format!("cannot create log file {}: {e}", job.log_path.display());
            let _ = ctx.events.send(Event::SuiteStarted {
                job: Box::new(job.clone()),
                pid: 0,
            });
            return measured_without_process(Exit::SpawnFailed { message }, started.elapsed());
        }
    };
    let Some((program, args)) = job.argv.split_first() else {
        let _ = ctx.events.send(Event::SuiteStarted {
            job: Box::new(job.clone()),
            pid: 0,
        });
        let message = "empty argv".to_string();
        return measured_without_process(Exit::SpawnFailed { message }, started.elapsed());
    };
    if let Some(w) = &job.wrapper {
        if let Err(e) = clear_findings(w.findings, &w.output_path) {
            let _ = ctx.events.send(Event::SuiteStarted {
                job: Box::new(job.clone()),
                pid: 0,
            });
            let message = format!(
                "cannot remove old findings {}: {e}",
                w.output_path.display()
            );
            return measured_without_process(Exit::SpawnFailed { message }, started.elapsed());
        }
    }
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&job.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    process::own_process_group(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = ctx.events.send(Event::SuiteStarted {
                job: Box::new(job.clone()),
                pid: 0,
            });
            let message = format!("{program}: {e}");
            return measured_without_process(Exit::SpawnFailed { message }, started.elapsed());
        }
    };
    let pid = child.id().unwrap_or(0);
    let _ = ctx.events.send(Event::SuiteStarted {
        job: Box::new(job.clone()),
        pid,
    });

    let (line_tx, mut line_rx) = mpsc::unbounded_channel();
    if let Some(out) = child.stdout.take() {
        read_lines(out, Stream::Stdout, line_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        read_lines(err, Stream::Stderr, line_tx.clone());
    }
    drop(line_tx);
    let mut collector = Collector::new(std::io::BufWriter::new(log), job.limits.marker.clone());
    let on_line = |collector: &mut Collector<_>, (stream, line): (Stream, String)| {
        collector.line(stream, &line);
        if ctx.forward_output {
            let suite = job.suite.clone();
            let _ = ctx.events.send(Event::Output {
                suite,
                stream,
                line,
            });
        }
    };

    let mut sampler = TreeSampler::new(pid);
    let mut samples: Vec<Sample> = Vec::new();
    let mut hwm: Option<u64> = None;
    let mut take_sample = |samples: &mut Vec<Sample>, sampler: &mut TreeSampler| {
        let r = sampler.sample();
        if r.processes > 0 {
            samples.push(Sample {
                t_ms: started.elapsed().as_millis() as u64,
                rss_bytes: r.rss_bytes,
                vms_bytes: r.vms_bytes,
                processes: r.processes,
            });
        }
        if let Some(h) = r.root_hwm_bytes {
            hwm = Some(hwm.map_or(h, |m: u64| m.max(h)));
        }
    };
    let interval = job.sample_interval.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(job.timeout);
    tokio::pin!(deadline);
    // Wrapped runs are not judged on RSS (the tool inflates it), so they are
    // not stopped on it either.
    let ceiling_bytes = match job.wrapper {
        None => job.limits.peak_rss.map(|b| b.0),
        Some(_) => None,
    };
    let mut lines_open = true;

    // Phase 1: run until the suite exits or must be stopped.
    let mut stop = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = &mut deadline => match stop {
                None => {
                    stop = Some(Stop::Timeout);
                    begin_stop(pid, job.grace, &mut deadline);
                }
                // The grace period ran out.
                Some(_) => {
                    process::signal_group(pid, process::SIGKILL);
                    deadline.as_mut().reset(tokio::time::Instant::now() + FOREVER);
                }
            },
            _ = ctx.cancel.wait_for(|c| *c), if stop.is_none() => {
                stop = Some(Stop::Interrupt);
                begin_stop(pid, job.grace, &mut deadline);
            }
            _ = ticker.tick() => {
                take_sample(&mut samples, &mut sampler);
                let rss_bytes = samples.last().map_or(0, |s| s.rss_bytes);
                if let (None, Some(limit_bytes)) = (&stop, ceiling_bytes) {
                    if rss_bytes > limit_bytes {
                        stop = Some(Stop::Ceiling { rss_bytes, limit_bytes });
                        begin_stop(pid, job.grace, &mut deadline);
                    }
                }
            }
            line = line_rx.recv(), if lines_open => match line {
                Some(l) => on_line(&mut collector, l),
                None => lines_open = false,
            },
        }
    };
    let duration = started.elapsed();
    // Nothing of the suite may outlive it: the group, and anything seen in
    // its tree that left the group (setsid), whatever the way it ended.
    process::signal_group(pid, process::SIGKILL);
    for (seen, start) in sampler.seen() {
        if seen != pid && crate::sample::start_time(seen) == Some(start) {
            process::signal_pid(seen, process::SIGKILL);
        }
    }
    let drain_until = tokio::time::Instant::now() + OUTPUT_DRAIN;
    while lines_open {
        match tokio::time::timeout_at(drain_until, line_rx.recv()).await {
            Ok(Some(l)) => on_line(&mut collector, l),
            Ok(None) | Err(_) => lines_open = false,
        }
    }
    let Collected {
        tail,
        reported,
        marker_seen,
        log_error,
    } = collector.finish();
    let mut tail = tail;
    if let Some(Stop::Ceiling {
        rss_bytes,
        limit_bytes,
    }) = stop
    {
        tail.push(format!(
            "(memtest: stopped the suite early: RSS {} passed its peak_rss limit {})",
            Bytes(rss_bytes),
            Bytes(limit_bytes)
        ));
    }
    if let Some(e) = log_error {
        tail.push(format!(
            "(memtest: writing {} failed: {e})",
            job.log_path.display()
        ));
    }

    let exit = match (status, stop) {
        (Err(e), _) => Exit::SpawnFailed {
            message: format!("waiting for {program}: {e}"),
        },
        (Ok(_), Some(Stop::Interrupt)) => Exit::Interrupted,
        (Ok(s), Some(Stop::Timeout)) => Exit::TimedOut {
            signal: process::stopping_signal(s),
        },
        (Ok(s), None | Some(Stop::Ceiling { .. })) => process::exit_of(s),
    };
    let findings = match (&job.wrapper, &exit) {
        (_, Exit::Interrupted) | (None, _) => None,
        (Some(w), _) => Some(read_findings(w.findings, &w.output_path).await),
    };
    Measured {
        pid,
        exit,
        duration,
        samples,
        exact_peak_rss: hwm.map(Bytes),
        reported,
        marker_seen,
        log_tail: tail,
        findings,
    }
}

/// Starts stopping a suite: SIGTERM to its group now, SIGKILL when the
/// deadline (moved to now + grace) passes.
fn begin_stop(pgid: u32, grace: Duration, deadline: &mut std::pin::Pin<&mut tokio::time::Sleep>) {
    process::signal_group(pgid, process::SIGTERM);
    deadline.as_mut().reset(tokio::time::Instant::now() + grace);
}

/// The files a wrapper may leave for `path`: heaptrack appends its
/// compression suffix to the name it was given.
fn findings_candidates(kind: FindingsKind, path: &Path) -> Vec<PathBuf> {
    let suffixes: &[&str] = match kind {
        FindingsKind::ValgrindXml => &[""],
        FindingsKind::Heaptrack => &["", ".zst", ".gz"],
    };
    suffixes
        .iter()
        .map(|ext| {
            let mut p = path.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        })
        .collect()
}

/// Removes what a previous run's wrapper left, so that a wrapper that dies
/// before writing anything is not credited with the old findings.
fn clear_findings(kind: FindingsKind, path: &Path) -> std::io::Result<()> {
    for p in findings_candidates(kind, path) {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Findings that say why there are none: failing for valgrind (the suite
/// then went unchecked), informational for heaptrack (which never fails a
/// suite on its own).
fn no_findings(kind: FindingsKind, summary: String) -> WrapperFindings {
    let (tool, failing) = match kind {
        FindingsKind::ValgrindXml => ("valgrind", true),
        FindingsKind::Heaptrack => ("heaptrack", false),
    };
    WrapperFindings {
        tool: tool.to_string(),
        definitely_lost_records: 0,
        leaked_bytes: 0,
        invalid_accesses: 0,
        other_errors: 0,
        failing,
        summary,
        output: None,
    }
}

/// Reads what the wrapper left at `path` (heaptrack's recording through
/// `heaptrack_print`, printing only its totals).
async fn read_findings(kind: FindingsKind, path: &Path) -> WrapperFindings {
    let Some(file) = findings_candidates(kind, path)
        .into_iter()
        .find(|p| p.is_file())
    else {
        return no_findings(kind, format!("no findings at {}", path.display()));
    };
    let mut found = match kind {
        FindingsKind::ValgrindXml => match tokio::fs::read(&file).await {
            Ok(bytes) => findings::parse_valgrind_xml(&String::from_utf8_lossy(&bytes)),
            Err(e) => no_findings(kind, format!("cannot read {}: {e}", file.display())),
        },
        FindingsKind::Heaptrack => {
            let printed = tokio::time::timeout(
                HEAPTRACK_PRINT_TIMEOUT,
                Command::new("heaptrack_print")
                    .args([
                        "--print-peaks=0",
                        "--print-allocators=0",
                        "--print-temporary=0",
                        "--print-leaks=0",
                    ])
                    .arg(&file)
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .output(),
            )
            .await;
            let parsed = match &printed {
                Ok(Ok(out)) => {
                    findings::parse_heaptrack_print(&String::from_utf8_lossy(&out.stdout))
                }
                _ => None,
            };
            parsed.unwrap_or_else(|| {
                let why = match printed {
                    Err(_) => "timed out".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(out)) => format!("printed no totals ({})", out.status),
                };
                no_findings(kind, format!("heaptrack_print {}: {why}", file.display()))
            })
        }
    };
    found.output = Some(file);
    found
}
