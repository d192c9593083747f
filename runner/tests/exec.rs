//! Integration tests of the executor: real child processes (python fixtures in
//! tests/fixtures), real sampling, real signals. Jobs are built directly, not
//! from memtest.toml. Timing bounds are generous: the machine is shared.

use runner::exec::ExecOptions;
use runner::model::{Criterion, Failure, Outcome, Verdict};
use runner::model::{Event, Exit, Expect, Job, Limits};
use runner::process::unix::pid_exists;
use runner::units::Bytes;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

mod common;
use common::{job, python_job};

fn opts(jobs: usize) -> ExecOptions {
    ExecOptions {
        budget: runner::exec::Budget {
            slots: jobs as u32,
            memory_bytes: None,
        },
        forward_output: false,
        sampler: runner::sample::SamplerKind::default_for_platform(),
    }
}

/// Runs the jobs (interrupted after `interrupt_after`, if given) and returns
/// the outcomes with every event emitted.
async fn run(
    jobs: Vec<Job>,
    opts: ExecOptions,
    interrupt_after: Option<Duration>,
) -> (Vec<Outcome>, Vec<Event>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let interrupt = async move {
        match interrupt_after {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let outcomes = common::run_jobs(jobs, opts, tx, interrupt).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (outcomes, events)
}

/// Alive and not a zombie (a reparented zombie may wait on a lazy init).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, r)| r.trim_start());
            pid_exists(pid) && !state.is_some_and(|s| s.starts_with('Z'))
        }
        Err(_) => false,
    }
}

/// Live (non-zombie) processes whose process group is `pgid`, from a /proc scan.
fn live_members_of_group(pgid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name: state, ppid, pgrp.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && fields[0] != "Z" {
            found.push(pid);
        }
    }
    found
}

fn failures(o: &Outcome) -> &[Failure] {
    match &o.verdict {
        Verdict::Failed { failures } | Verdict::CanaryCaught { failures } => failures,
        _ => &[],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_suite_passes_with_figures_log_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = python_job(dir.path(), "bounded", "bounded.py", &[]);
    job.limits.native_leaks = Some(0);
    let mut o = opts(1);
    o.forward_output = true;
    let (outcomes, events) = run(vec![job.clone()], o, None).await;
    let out = &outcomes[0];
    assert_eq!(out.verdict, Verdict::Passed, "{:#?}", out.figures);
    let m = &out.measured;
    assert_eq!(m.exit, Exit::Code { code: 0 });
    assert!(m.marker_seen);
    assert_eq!(m.reported.get("native_leaks"), Some(&0.0));
    assert!(
        !m.reported.contains_key("iterations"),
        "malformed pair must be ignored"
    );
    assert!(m.samples.len() > 50, "{} samples", m.samples.len());
    // The 10 MB block is allocated over and over: VmHWM sees it even when a
    // sample falls between allocations.
    assert!(
        m.peak_rss_exact.unwrap() >= Bytes(10_000_000),
        "{:?}",
        m.peak_rss_exact
    );
    assert!(out.figures.peak_rss() >= out.figures.peak_rss_sampled);
    let log = std::fs::read_to_string(&job.log_path).unwrap();
    assert!(
        log.contains("MEMTEST native_leaks=0 iterations=bad=value\nTEST PASSED\n"),
        "{log}"
    );
    assert_eq!(m.log_tail.last().map(String::as_str), Some("TEST PASSED"));
    // Event order: run, suite started, output..., suite finished, run finished.
    assert!(matches!(
        events.first(),
        Some(Event::RunStarted { suites: 1, jobs: 1 })
    ));
    assert!(matches!(events[1], Event::SuiteStarted { pid, .. } if pid == m.pid));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Output { line, .. } if line == "TEST PASSED")));
    assert!(matches!(
        events[events.len() - 2],
        Event::SuiteFinished { .. }
    ));
    assert!(matches!(events.last(), Some(Event::RunFinished { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaking_suite_fails_on_growth_and_slope_and_its_canary_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let leak = python_job(dir.path(), "leak", "leaking.py", &[]);
    let mut canary = python_job(dir.path(), "leak-canary", "leaking.py", &[]);
    canary.expect = Expect::Fail;
    let (outcomes, _) = run(vec![leak, canary], opts(2), None).await;
    let kinds: Vec<_> = failures(&outcomes[0])
        .iter()
        .map(|f| f.to_string())
        .collect();
    let criteria: Vec<Criterion> = failures(&outcomes[0])
        .iter()
        .map(Failure::criterion)
        .collect();
    assert_eq!(
        criteria,
        [Criterion::RssGrowth, Criterion::Slope],
        "{kinds:?} {:#?}",
        outcomes[0].figures
    );
    assert!(
        outcomes[0].figures.slope.unwrap().0 > 5e6,
        "{:?}",
        outcomes[0].figures
    );
    assert!(matches!(outcomes[1].verdict, Verdict::CanaryCaught { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suite_past_its_peak_rss_limit_is_stopped_early() {
    let dir = tempfile::tempdir().unwrap();
    // leaking.py grows ~25 MB/s for 2 s; the 25 MB limit is passed well
    // before it would end on its own.
    let mut job = python_job(dir.path(), "ceiling", "leaking.py", &[]);
    job.limits.peak_rss = Some(Bytes(25_000_000));
    let (outcomes, _) = run(vec![job], opts(1), None).await;
    let out = &outcomes[0];
    assert!(
        out.measured.duration < Duration::from_millis(1800),
        "not stopped early: ran {:?}",
        out.measured.duration
    );
    assert!(
        matches!(out.measured.exit, Exit::Signal { .. }),
        "{:?}",
        out.measured.exit
    );
    assert!(failures(out)
        .iter()
        .any(|f| f.criterion() == Criterion::PeakRss));
    assert!(
        out.measured
            .log_tail
            .iter()
            .any(|l| l.contains("passed its peak_rss limit")),
        "{:?}",
        out.measured.log_tail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_are_reported_with_signal_name_and_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = vec![
        python_job(dir.path(), "segv", "crashing.py", &["segv"]),
        python_job(dir.path(), "abort", "crashing.py", &["abort"]),
    ];
    let (outcomes, _) = run(jobs, opts(2), None).await;
    for (out, name) in outcomes.iter().zip(["SIGSEGV", "SIGABRT"]) {
        match &out.measured.exit {
            Exit::Signal { name: got, .. } => assert_eq!(got, name),
            other => panic!("{}: {other:?}", out.job.suite),
        }
        assert!(matches!(failures(out)[0], Failure::Signal { .. }));
        assert!(failures(out)
            .iter()
            .any(|f| matches!(f, Failure::MarkerMissing { .. })));
        assert_eq!(out.measured.log_tail, ["about to crash"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_that_ignores_sigterm_is_killed_within_grace_plus_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = python_job(dir.path(), "hang", "hanging.py", &[]);
    job.timeout = Duration::from_millis(800);
    job.grace = Duration::from_millis(700);
    let started = Instant::now();
    let (outcomes, _) = run(vec![job.clone()], opts(1), None).await;
    let elapsed = started.elapsed();
    let out = &outcomes[0];
    assert_eq!(
        out.measured.exit,
        Exit::TimedOut {
            signal: libc::SIGKILL
        }
    );
    assert!(
        elapsed >= job.timeout + job.grace,
        "killed before the grace period ended: {elapsed:?}"
    );
    assert!(
        elapsed < job.timeout + job.grace + Duration::from_secs(1),
        "{elapsed:?}"
    );
    assert!(matches!(failures(out)[0], Failure::TimedOut { .. }));
    assert!(!alive(out.measured.pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grandchildren_are_sampled_and_none_survives_even_after_setsid() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = python_job(dir.path(), "spawner", "spawner.py", &[]);
    job.limits = Limits::default();
    let (outcomes, _) = run(vec![job], opts(1), None).await;
    let out = &outcomes[0];
    assert_eq!(out.verdict, Verdict::Passed, "{:?}", out.measured.log_tail);
    // main + two grandchildren for most of the run (a pyenv shim may add
    // short-lived helpers at start-up, so count the steady state).
    let steady = out
        .measured
        .samples
        .iter()
        .filter(|s| s.processes == 3)
        .count();
    assert!(steady > 30, "{steady} samples saw 3 processes");
    // Two grandchildren holding 30 MB each: the tree's RSS sees both, while
    // the main process's own VmHWM cannot.
    assert!(
        out.figures.peak_rss_sampled > Bytes(60_000_000),
        "{:?}",
        out.figures
    );
    assert!(out.figures.peak_rss_exact.unwrap() < Bytes(60_000_000));
    let pid = |k: &str| out.measured.reported[k] as u32;
    for child in [pid("inside_pid"), pid("escaped_pid")] {
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive(child) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(child), "grandchild {child} outlived its suite");
    }
    // Zombies still count as members until init reaps them, so look for live
    // members rather than asking killpg.
    assert_eq!(live_members_of_group(out.measured.pid), Vec::<u32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_running_suites_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut hang = python_job(dir.path(), "hang", "hanging.py", &[]);
    hang.grace = Duration::from_millis(300);
    let later = python_job(dir.path(), "later", "bounded.py", &[]);
    let started = Instant::now();
    let (outcomes, events) =
        run(vec![hang, later], opts(1), Some(Duration::from_millis(700))).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(outcomes.iter().all(|o| o.verdict == Verdict::Interrupted));
    assert!(outcomes[0].measured.pid > 0 && !alive(outcomes[0].measured.pid));
    assert_eq!(outcomes[1].measured.pid, 0, "never started");
    assert!(events.iter().any(|e| matches!(e, Event::Interrupted)));
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::SuiteFinished { .. }))
        .count();
    assert_eq!(finished, 2);
    assert!(matches!(events.last(), Some(Event::RunFinished { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_jobs_overlap_but_an_exclusive_one_runs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let timed = |name: &str| {
        let code = "import time; print('MEMTEST start=%f' % time.time(), flush=True); \
                    time.sleep(0.6); print('MEMTEST end=%f' % time.time())";
        let mut j = job(dir.path(), name, &[common::python(), "-c", code]);
        j.limits = Limits {
            marker: None,
            ..Limits::default()
        };
        j
    };
    let span = |o: &Outcome| (o.measured.reported["start"], o.measured.reported["end"]);
    let overlaps = |a: (f64, f64), b: (f64, f64)| a.0 < b.1 && b.0 < a.1;

    let (outcomes, _) = run(vec![timed("a"), timed("b")], opts(2), None).await;
    assert!(
        overlaps(span(&outcomes[0]), span(&outcomes[1])),
        "jobs=2 should overlap"
    );

    let mut solo = timed("solo");
    solo.exclusive = true;
    let (outcomes, _) = run(vec![timed("a"), solo, timed("c")], opts(3), None).await;
    assert!(!overlaps(span(&outcomes[0]), span(&outcomes[1])));
    assert!(!overlaps(span(&outcomes[1]), span(&outcomes[2])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_failures_and_env_reach_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let missing = job(dir.path(), "missing", &["/nonexistent/memtest-program"]);
    let mut env = job(
        dir.path(),
        "env",
        &[
            common::python(),
            "-c",
            "import os; print(os.environ['MEMTEST_FIXTURE_ENV']); print('TEST PASSED')",
        ],
    );
    env.limits = Limits::default();
    let (outcomes, events) = run(vec![missing, env], opts(2), None).await;
    assert!(matches!(
        outcomes[0].measured.exit,
        Exit::SpawnFailed { .. }
    ));
    assert!(matches!(
        failures(&outcomes[0]),
        [Failure::SpawnFailed { .. }]
    ));
    let started_missing = events
        .iter()
        .any(|e| matches!(e, Event::SuiteStarted { job, pid: 0 } if job.suite == "missing"));
    assert!(started_missing);
    assert_eq!(outcomes[1].measured.log_tail, ["set", "TEST PASSED"]);
    assert_eq!(outcomes[1].verdict, Verdict::Passed);
    let _: PathBuf = outcomes[1].job.log_path.clone();
}

/// A suite that holds its memory to the end: no sample may read the 0 of
/// its exit (its address space already released, or a zombie not yet
/// reaped), which pulled the last checkpoint down: a flat 80 MB read as
/// -16 MB of growth and a falling slope. Four runs, as the exit is caught
/// in most runs but not all.
#[tokio::test]
async fn the_exit_of_a_suite_is_not_a_sample() {
    let dir = tempfile::tempdir().unwrap();
    // os._exit: no interpreter shutdown, which would free the block first.
    let script = "import os, sys, time\nb = bytearray(b'\\x01') * 80_000_000\ntime.sleep(0.6)\n\
                  print('TEST PASSED')\nsys.stdout.flush()\nos._exit(0)";
    let jobs: Vec<Job> = (0..4)
        .map(|i| {
            job(
                dir.path(),
                &format!("holds-{i}"),
                &[common::python(), "-c", script],
            )
        })
        .collect();
    let (outcomes, _) = run(jobs, opts(2), None).await;
    for o in &outcomes {
        let rss: Vec<u64> = o.measured.samples.iter().map(|s| s.rss_bytes).collect();
        let last = *rss.last().expect("sampled");
        assert!(last > 80_000_000, "{}: last sample {last}", o.job.suite);
        let growth = o.figures.rss_growth.0;
        assert!(
            growth > -4_000_000,
            "{}: growth {growth} from {rss:?}",
            o.job.suite
        );
    }
}
