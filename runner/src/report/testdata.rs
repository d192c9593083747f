//! Hand-made outcomes and a capturing writer shared by the writers' tests:
//! fixed PIDs, times and paths, so snapshots are stable.

use super::model::*;
use crate::model::{
    Criterion, Exit, Expect, Failure, Figures, Job, Limits, Measured, Metric, Outcome, OverLimit,
    RuntimeKind, Sample, Verdict,
};
use crate::units::{ByteDelta, Bytes, BytesPerSec, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

pub fn job(name: &str, runtime: RuntimeKind, expect: Expect) -> Job {
    Job {
        suite: name.to_string(),
        runtime,
        tags: vec![runtime.as_str().to_string(), "fast".to_string()],
        argv: vec!["run".to_string()],
        env: vec![],
        cwd: PathBuf::from("/repo"),
        timeout: Duration::from_secs(90),
        grace: Duration::from_secs(3),
        sample_interval: Duration::from_millis(10),
        scale: 1.0,
        limits: Limits {
            rss_growth: Some(Bytes(16_000_000)),
            slope: Some(BytesPerSec(2e6)),
            peak_rss: Some(Bytes(200_000_000)),
            ..Limits::default()
        },
        expect,
        catches: vec![],
        exclusive: false,
        threads: 1,
        log_path: PathBuf::from(format!("/repo/.memtest/logs/{name}.log")),
        wrapper: None,
        duration: None,
    }
}

/// A series rising from `base` by `rise` bytes over `n` samples, 100 ms apart.
pub fn samples(n: u64, base: u64, rise: u64) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            t_ms: i * 100,
            rss_bytes: base + rise * i / n.max(2).saturating_sub(1),
            vms_bytes: 20 * base + rise * i / n.max(2).saturating_sub(1),
            processes: 1,
        })
        .collect()
}

pub fn outcome(name: &str, runtime: RuntimeKind, verdict: Verdict) -> Outcome {
    let expect = match verdict {
        Verdict::CanaryCaught { .. } | Verdict::CanaryMissed => Expect::Fail,
        _ => Expect::Pass,
    };
    let leaking = !matches!(verdict, Verdict::Passed | Verdict::CanaryMissed);
    let rise = if leaking { 40_000_000 } else { 1_000_000 };
    let exit = match &verdict {
        Verdict::Failed { failures } => failures
            .iter()
            .find_map(|f| match f {
                Failure::Signal { signal, name } => Some(Exit::Signal {
                    signal: *signal,
                    name: name.clone(),
                }),
                Failure::ExitCode { code } => Some(Exit::Code { code: *code }),
                _ => None,
            })
            .unwrap_or(Exit::Code { code: 0 }),
        Verdict::Interrupted => Exit::Interrupted,
        _ => Exit::Code { code: 0 },
    };
    let samples = samples(30, 50_000_000, rise);
    let mut job = job(name, runtime, expect);
    if runtime == RuntimeKind::Node {
        job.limits.slope_per_op = Some(Bytes(8_000));
    }
    Outcome {
        job,
        floor: None,
        cause: None,
        figures: Figures {
            peak_rss_sampled: Bytes(50_000_000 + rise),
            peak_rss_exact: (runtime == RuntimeKind::Rust).then_some(Bytes(51_000_000 + rise)),
            rss_growth: ByteDelta(rise as i64 * 4 / 5),
            vms_growth: ByteDelta(rise as i64 * 4 / 5),
            slope: Some(BytesPerSec(rise as f64 / 2.9)),
            // Node suites here report their progress: 1,000 operations.
            slope_per_op: (runtime == RuntimeKind::Node).then_some(rise as f64 / 1e3),
            native_leaks: (runtime != RuntimeKind::Rust).then_some(if leaking { 3 } else { 0 }),
            live_growth: None,
            // The warm-up share (0.2) of the 2.9 s the samples span.
            measured_from_ms: 580,
            soak: None,
        },
        measured: Measured {
            pid: 4242,
            exit,
            duration: Duration::from_millis(2_950),
            samples,
            progress: Vec::new(),
            peak_rss_exact: None,
            reported: BTreeMap::new(),
            marker_seen: !leaking,
            log_tail: vec![
                "iteration 100/100".to_string(),
                "thread 'main' panicked at suites/rust/tests/memory_leak.rs:42".to_string(),
            ],
            findings: None,
            sites: Vec::new(),
            checkpoints: Vec::new(),
        },
        verdict,
    }
}

/// A figure over its limit.
pub fn over(criterion: Criterion, measured: Value, limit: Value, rising: Option<f64>) -> Failure {
    Failure::OverLimit(OverLimit {
        criterion,
        measured,
        limit,
        rising_fraction: rising,
    })
}

/// One suite of every verdict, the failing ones with several criteria.
pub fn mixed_outcomes() -> Vec<Outcome> {
    vec![
        outcome("rust-memory-leak", RuntimeKind::Rust, Verdict::Passed),
        outcome(
            "rust-canary-leak",
            RuntimeKind::Rust,
            Verdict::CanaryCaught {
                failures: vec![over(
                    Criterion::RssGrowth,
                    Value::Delta(ByteDelta(32_000_000)),
                    Value::Delta(ByteDelta(16_000_000)),
                    None,
                )],
            },
        ),
        outcome(
            "node-optimize-loop",
            RuntimeKind::Node,
            Verdict::Failed {
                failures: vec![
                    over(
                        Criterion::RssGrowth,
                        Value::Delta(ByteDelta(32_000_000)),
                        Value::Delta(ByteDelta(16_000_000)),
                        None,
                    ),
                    over(
                        Criterion::Slope,
                        Value::Rate(BytesPerSec(13_793_103.0)),
                        Value::Rate(BytesPerSec(2e6)),
                        Some(0.9),
                    ),
                    over(
                        Criterion::SlopePerOp,
                        Value::PerOp(40_000.0),
                        Value::PerOp(8_000.0),
                        Some(0.9),
                    ),
                    over(
                        Criterion::NativeLeaks,
                        Value::Count(3),
                        Value::Count(0),
                        None,
                    ),
                    Failure::Regression {
                        metric: Metric::PeakRss,
                        baseline: 52_000_000.0,
                        measured: 90_000_000.0,
                        tolerance: 0.1,
                    },
                ],
            },
        ),
        outcome(
            "python-crash",
            RuntimeKind::Python,
            Verdict::Failed {
                failures: vec![
                    Failure::Signal {
                        signal: 11,
                        name: "SIGSEGV".to_string(),
                    },
                    Failure::MarkerMissing {
                        marker: "TEST PASSED".to_string(),
                    },
                ],
            },
        ),
        outcome(
            "python-canary-free",
            RuntimeKind::Python,
            Verdict::CanaryMissed,
        ),
    ]
}

/// 2026-01-02T03:04:05.678Z
pub const START_UNIX_MS: u64 = 1_767_323_045_678;

pub fn report_of(outcomes: &[Outcome]) -> Report {
    let mut report = Report::new(
        UNIX_EPOCH + Duration::from_millis(START_UNIX_MS),
        Duration::from_millis(12_345),
        false,
        outcomes.iter().map(SuiteReport::from_outcome).collect(),
    );
    // Snapshots must not change with every release.
    report.tool.version = "0.0.0-test".to_string();
    report
}

/// A `Write` whose bytes the test can read back after handing it away.
#[derive(Debug, Clone, Default)]
pub struct Sink(pub Arc<Mutex<Vec<u8>>>);

impl Sink {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
