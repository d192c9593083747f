//! Runs one suite, in phases: [`spawn`] it in its own process group (log
//! file, old wrapper findings cleared), [`supervise`] it until it exits
//! (output to the log, tree samples, timeout, interrupt, memory ceiling),
//! [`clean_up`] everything of it that is left, [`drain`] its output, and
//! build the [`Measured`] the judge receives.

use super::bounded::{Bounded, SAMPLES_OLD, SAMPLES_RECENT};
use super::findings;
use super::output::{OutputLog, OutputSummary};
use super::ExecOptions;
use crate::model::{Event, Exit, Job, Measured, Sample, Stream};
use crate::process::unix as process;
use crate::sample::TreeSampler;
use crate::units::Bytes;
use std::collections::{BTreeMap, HashSet};
use std::io::BufWriter;
use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

/// How long the output readers may keep going after the suite's processes
/// are gone: a process that escaped its group could hold the pipes open.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);
/// A deadline that never comes, once SIGKILL has been sent.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long the kill-time sweep keeps looking for a suite's processes. Each
/// round kills what it finds; a suite that forks faster than SIGKILL lands
/// (a fork bomb) is given up on, and what is left is reaped when it dies.
const SWEEP_LIMIT: Duration = Duration::from_secs(3);
/// Numbers the suites this memtest starts, for [`crate::sample::SUITE_ID_ENV`].
static SUITES_STARTED: AtomicU64 = AtomicU64::new(0);
/// The file a suite writes the input it is on to (a corpus file's path: the
/// helpers' corpus walks do), before it works on it. A process killed by a
/// signal, or for its timeout, cannot say what it was doing; this file still
/// can, and its content goes into the log tail every report shows.
pub const INPUT_FILE_ENV: &str = "MEMTEST_INPUT_FILE";
/// The most of the input file that is read: one path, not a dump.
const INPUT_FILE_MAX_BYTES: u64 = 4096;

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
    pub opts: ExecOptions,
    pub cancel: watch::Receiver<bool>,
}

impl SuiteContext {
    fn started(&self, job: &Job, pid: u32) {
        let _ = self.events.send(Event::SuiteStarted {
            job: Box::new(job.clone()),
            pid,
        });
    }

    fn output(&self, job: &Job, stream: Stream, line: &str) {
        if self.opts.forward_output {
            let _ = self.events.send(Event::Output {
                suite: job.suite.clone(),
                stream,
                line: line.to_string(),
            });
        }
    }
}

fn measured_without_process(exit: Exit, duration: Duration) -> Measured {
    Measured {
        pid: 0,
        exit,
        duration,
        samples: Vec::new(),
        progress: Vec::new(),
        peak_rss_exact: None,
        reported: BTreeMap::new(),
        marker_seen: false,
        log_tail: Vec::new(),
        findings: None,
        sites: Vec::new(),
        checkpoints: Vec::new(),
    }
}

/// The measurements of a suite that never started because of an interrupt.
pub fn never_started() -> Measured {
    measured_without_process(Exit::Interrupted, Duration::ZERO)
}

/// A started suite: its pid (= its process group), its log, its output
/// lines as they arrive, and its exit (status, and `ru_maxrss` in bytes)
/// from the thread that reaps it.
struct Spawned {
    pid: u32,
    /// The value of [`crate::sample::SUITE_ID_ENV`] every process of the
    /// suite inherits.
    suite_id: String,
    log: OutputLog<BufWriter<std::fs::File>>,
    lines: mpsc::UnboundedReceiver<(Stream, String)>,
    exited: oneshot::Receiver<std::io::Result<(ExitStatus, u64)>>,
}

/// Starts the suite, or says in one line why it could not be started.
fn spawn(job: &Job, started: Instant) -> Result<Spawned, String> {
    let log = open_log(job)
        .map_err(|e| format!("cannot create log file {}: {e}", job.log_path.display()))?;
    let (program, args) = job.argv.split_first().ok_or("empty argv")?;
    if let Some(w) = &job.wrapper {
        findings::clear(w.findings, &w.output_path).map_err(|e| {
            format!(
                "cannot remove old findings {}: {e}",
                w.output_path.display()
            )
        })?;
    }
    let suite_id = format!(
        "{}.{}",
        std::process::id(),
        SUITES_STARTED.fetch_add(1, Ordering::Relaxed)
    );
    let input_file = input_file(job);
    match std::fs::remove_file(&input_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot remove {}: {e}", input_file.display()))
        }
        _ => {}
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .env(crate::sample::SUITE_ID_ENV, &suite_id)
        .env(INPUT_FILE_ENV, &input_file)
        .current_dir(&job.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    process::own_process_group(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{program} (in {}): {e}", job.cwd.display()))?;
    let pid = child.id();
    // memtest reaps the child itself, with wait4, for its rusage; the std
    // handle is dropped without waiting (std never kills or reaps on drop).
    let (exit_tx, exited) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = exit_tx.send(process::wait_reaping(pid));
    });
    let (line_tx, lines) = mpsc::unbounded_channel();
    if let Some(out) = child.stdout.take() {
        read_lines(OwnedFd::from(out), Stream::Stdout, line_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        read_lines(OwnedFd::from(err), Stream::Stderr, line_tx);
    }
    let log = OutputLog::new(BufWriter::new(log), job.limits.marker.clone(), started);
    Ok(Spawned {
        pid,
        suite_id,
        log,
        lines,
        exited,
    })
}

/// The suite's [`INPUT_FILE_ENV`], beside its log.
fn input_file(job: &Job) -> std::path::PathBuf {
    job.log_path.with_extension("input")
}

/// The input a suite that was killed or timed out had said it was on: the
/// first line of its input file, if it wrote one.
fn last_input(job: &Job, exit: &Exit) -> Option<String> {
    use std::io::Read;
    if !matches!(exit, Exit::Signal { .. } | Exit::TimedOut { .. }) {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(input_file(job))
        .ok()?
        .take(INPUT_FILE_MAX_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_string())
}

fn open_log(job: &Job) -> std::io::Result<std::fs::File> {
    if let Some(parent) = job.log_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::File::create(&job.log_path)
}

/// Reads one pipe line by line (lossy UTF-8: suites may print anything).
fn read_lines(fd: OwnedFd, which: Stream, tx: mpsc::UnboundedSender<(Stream, String)>) {
    let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    tokio::spawn(read_stream(pipe, which, tx));
}

async fn read_stream(
    stream: impl AsyncRead + Unpin,
    which: Stream,
    tx: mpsc::UnboundedSender<(Stream, String)>,
) {
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
}

/// Runs the job to its end and returns what was measured.
pub async fn run(job: &Job, ctx: &mut SuiteContext) -> Measured {
    let started = Instant::now();
    let mut spawned = match spawn(job, started) {
        Ok(s) => s,
        Err(message) => {
            ctx.started(job, 0);
            return measured_without_process(Exit::SpawnFailed { message }, started.elapsed());
        }
    };
    let pid = spawned.pid;
    ctx.started(job, pid);
    let mut sampler = TreeSampler::with_kind(ctx.opts.sampler, pid);
    let watched = supervise(job, ctx, &mut spawned, &mut sampler, started).await;
    let duration = started.elapsed();
    clean_up(pid, &spawned.suite_id, &sampler).await;
    let summary = drain(job, ctx, spawned).await;
    finish(job, pid, duration, watched, summary).await
}

/// What supervising the suite saw.
struct Watched {
    status: std::io::Result<(ExitStatus, u64)>,
    stop: Option<Stop>,
    samples: Vec<Sample>,
    /// Highest VmHWM of the main process read while it ran (Linux).
    hwm_bytes: Option<u64>,
}

/// Samples the tree and logs output until the suite exits; stops it on
/// timeout, interrupt or when it passes its memory ceiling (SIGTERM to the
/// group, SIGKILL after the grace period).
async fn supervise(
    job: &Job,
    ctx: &SuiteContext,
    spawned: &mut Spawned,
    sampler: &mut TreeSampler,
    started: Instant,
) -> Watched {
    let pid = spawned.pid;
    // Bounded: a soak by duration samples for hours (see `bounded`).
    let mut samples = Bounded::new(SAMPLES_RECENT, SAMPLES_OLD, |s: &Sample| s.rss_bytes);
    let mut hwm_bytes: Option<u64> = None;
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
    let mut stop = None;
    let mut cancel = ctx.cancel.clone();
    // VmHWM is read now and then while the suite runs (it is the costly
    // file); once more before stopping it, while it still has one.
    let begin_stop = |deadline: &mut std::pin::Pin<&mut tokio::time::Sleep>,
                      sampler: &mut TreeSampler,
                      hwm_bytes: &mut Option<u64>| {
        if let Some(h) = sampler.read_root_hwm() {
            *hwm_bytes = Some(hwm_bytes.map_or(h, |m| m.max(h)));
        }
        process::signal_group(pid, process::SIGTERM);
        deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + job.grace);
    };
    let status = loop {
        tokio::select! {
            status = &mut spawned.exited => {
                break status.unwrap_or_else(|_| Err(std::io::Error::other("the reaper thread died")));
            }
            _ = &mut deadline => match stop {
                None => {
                    stop = Some(Stop::Timeout);
                    begin_stop(&mut deadline, sampler, &mut hwm_bytes);
                }
                // The grace period ran out.
                Some(_) => {
                    process::signal_group(pid, process::SIGKILL);
                    deadline.as_mut().reset(tokio::time::Instant::now() + FOREVER);
                }
            },
            _ = cancel.wait_for(|c| *c), if stop.is_none() => {
                stop = Some(Stop::Interrupt);
                begin_stop(&mut deadline, sampler, &mut hwm_bytes);
            }
            _ = ticker.tick() => {
                let r = sampler.sample();
                if let Some(h) = r.root_hwm_bytes {
                    hwm_bytes = Some(hwm_bytes.map_or(h, |m| m.max(h)));
                }
                // A tree with no address space left is a root that is
                // exiting (its memory already released, or a zombie not yet
                // reaped): a reading of 0 that would pull the last
                // checkpoint down, not a sample of the suite.
                if r.processes == 0 || r.vms_bytes == 0 {
                    continue;
                }
                samples.push(Sample {
                    t_ms: started.elapsed().as_millis() as u64,
                    rss_bytes: r.rss_bytes,
                    vms_bytes: r.vms_bytes,
                    processes: r.processes,
                });
                if let (None, Some(limit_bytes)) = (&stop, ceiling_bytes) {
                    if r.rss_bytes > limit_bytes {
                        stop = Some(Stop::Ceiling { rss_bytes: r.rss_bytes, limit_bytes });
                        begin_stop(&mut deadline, sampler, &mut hwm_bytes);
                    }
                }
            }
            line = spawned.lines.recv(), if lines_open => match line {
                Some((stream, line)) => {
                    // A checkpoint: the suite has just measured itself, so
                    // its mappings are read now, as close to it as memtest
                    // can.
                    if spawned.log.line(stream, &line) {
                        if let Some(smaps) = crate::sample::smaps::read(pid) {
                            spawned.log.attach_smaps(smaps);
                        }
                    }
                    ctx.output(job, stream, &line);
                }
                None => lines_open = false,
            },
        }
    };
    Watched {
        status,
        stop,
        samples: samples.into_vec(),
        hwm_bytes,
    }
}

/// Nothing of the suite may outlive it, whatever the way it ended: its
/// process group, and every process that left the group (`setsid`) or lost
/// its parent (a double fork). Those are found at this moment, not only if a
/// sample happened to see them: every process carrying the suite's
/// [`SUITE_ID_ENV`](crate::sample::SUITE_ID_ENV) value, their live
/// descendants, and whatever the sampler saw. Each round kills what it
/// finds and reaps what was re-parented to memtest (the child subreaper,
/// Linux) and has died, until a round finds nothing, within
/// [`SWEEP_LIMIT`]. A pid is signalled or reaped only while its start time
/// matches, so a reused pid is never hit; the root itself was reaped by its
/// own thread before this runs.
async fn clean_up(pid: u32, suite_id: &str, sampler: &TreeSampler) {
    let mut known: HashSet<(u32, u64)> = sampler.seen().filter(|(p, _)| *p != pid).collect();
    let until = Instant::now() + SWEEP_LIMIT;
    loop {
        process::signal_group(pid, process::SIGKILL);
        known.extend(
            crate::sample::marked_processes(suite_id)
                .into_iter()
                .filter(|(p, _)| *p != pid),
        );
        let mut present = false;
        for &(p, start) in &known {
            if crate::sample::start_time(p) == Some(start) {
                present = true;
                process::signal_pid(p, process::SIGKILL);
                process::reap_if_exited(p);
            }
        }
        if !present || Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads what is left in the pipes (bounded: an escaped process could keep
/// them open) and closes the log.
async fn drain(job: &Job, ctx: &SuiteContext, mut spawned: Spawned) -> OutputSummary {
    let until = tokio::time::Instant::now() + OUTPUT_DRAIN;
    while let Ok(Some((stream, line))) = tokio::time::timeout_at(until, spawned.lines.recv()).await
    {
        spawned.log.line(stream, &line);
        ctx.output(job, stream, &line);
    }
    spawned.log.finish()
}

/// Turns what was seen into the judge's input: how it exited, its exact
/// peak, its reported figures, the log tail with memtest's own notes, and
/// the wrapper's findings.
async fn finish(
    job: &Job,
    pid: u32,
    duration: Duration,
    watched: Watched,
    summary: OutputSummary,
) -> Measured {
    let OutputSummary {
        mut tail,
        reported,
        progress,
        marker_seen,
        mut sites,
        checkpoints,
        log_error,
    } = summary;
    if let Some(Stop::Ceiling {
        rss_bytes,
        limit_bytes,
    }) = watched.stop
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
    let program = job.argv.first().map_or("", String::as_str);
    let (exit, maxrss_bytes) = match (watched.status, watched.stop) {
        (Err(e), _) => {
            let message = format!("waiting for {program}: {e}");
            (Exit::SpawnFailed { message }, None)
        }
        (Ok((_, rss)), Some(Stop::Interrupt)) => (Exit::Interrupted, Some(rss)),
        (Ok((s, rss)), Some(Stop::Timeout)) => (
            Exit::TimedOut {
                signal: process::stopping_signal(s),
            },
            Some(rss),
        ),
        (Ok((s, rss)), None | Some(Stop::Ceiling { .. })) => (process::exit_of(s), Some(rss)),
    };
    if let Some(input) = last_input(job, &exit) {
        tail.push(format!(
            "(memtest: the suite was on {input} when it ended; {INPUT_FILE_ENV})"
        ));
    }
    let findings = match (&job.wrapper, &exit) {
        (_, Exit::Interrupted) | (None, _) => None,
        (Some(w), _) => {
            let found = findings::read(w.findings, &w.output_path).await;
            sites.extend(found.sites);
            Some(found.findings)
        }
    };
    Measured {
        pid,
        exit,
        duration,
        samples: watched.samples,
        progress,
        peak_rss_exact: exact_peak(watched.hwm_bytes, maxrss_bytes).map(Bytes),
        reported,
        marker_seen,
        log_tail: tail,
        findings,
        sites,
        checkpoints,
    }
}

/// The main process's exact peak: VmHWM where /proc has it (read up to the
/// last sample). Linux's `ru_maxrss` starts from the spawner's own peak, so
/// it is used only where VmHWM does not exist (macOS: bytes, exact).
fn exact_peak(hwm_bytes: Option<u64>, maxrss_bytes: Option<u64>) -> Option<u64> {
    if cfg!(target_os = "linux") {
        hwm_bytes
    } else {
        hwm_bytes.or(maxrss_bytes.filter(|b| *b > 0))
    }
}
