//! Benchmark of the sampler: what one sample of a process tree costs the
//! runner, and how close sampled peaks come to the kernel's exact VmHWM.
//!
//!     cargo run --release -p runner --example sampler_bench
//!
//! Part 1 samples a tree of N processes (`sh` + N-1 `sleep`s) every 10 ms for
//! 3 s, twice: with the bare `TreeSampler` in a loop, and through the whole
//! executor (`run_jobs`: tokio, output readers, the sampling loop). CPU
//! is the runner's own user+system time from getrusage, divided by samples.
//!
//! Part 2 runs a python child with a known pattern — 100 MB in 10 MB steps
//! 100 ms apart, then a 200 MB spike freed as soon as it is touched (it lives
//! only as long as touching 200 MB takes, tens of ms) — and compares the
//! sampled peak of the tree, the VmHWM the executor read on its last sample,
//! and the VmHWM the child read of itself just before exiting (`MEMTEST
//! self_hwm_bytes`), at several sampling intervals.

use runner::exec::{run_jobs, ExecOptions};
use runner::model::{Expect, Job, Limits, RuntimeKind};
use runner::process::unix::{own_cpu_micros, signal_group, SIGKILL};
use runner::sample::TreeSampler;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(10);
const RUN: Duration = Duration::from_secs(3);

fn tree_script(n: usize) -> String {
    format!(
        "for i in $(seq {}); do sleep 30 & done; wait",
        n.saturating_sub(1)
    )
}

fn job(suite: &str, argv: Vec<String>, interval: Duration, timeout: Duration) -> Job {
    let dir = std::env::temp_dir().join("memtest-sampler-bench");
    Job {
        suite: suite.to_string(),
        runtime: RuntimeKind::Python,
        tags: vec![],
        argv,
        env: vec![],
        cwd: std::env::temp_dir(),
        timeout,
        grace: Duration::from_millis(100),
        sample_interval: interval,
        limits: Limits {
            marker: None,
            native_leaks: None,
            ..Limits::default()
        },
        expect: Expect::Pass,
        catches: vec![],
        exclusive: false,
        threads: 1,
        log_path: dir.join(format!("{suite}.log")),
        wrapper: None,
    }
}

fn opts() -> ExecOptions {
    ExecOptions {
        budget: runner::exec::Budget {
            slots: 1,
            memory_bytes: None,
        },
        forward_output: false,
    }
}

/// Bare sampler: (µs CPU per sample, µs wall per sample, processes seen).
fn bare(n: usize) -> (f64, f64, u32) {
    let mut child = std::process::Command::new("sh")
        .args(["-c", &tree_script(n)])
        .process_group(0)
        .spawn()
        .expect("sh");
    std::thread::sleep(Duration::from_millis(300)); // let the tree form
    let mut sampler = TreeSampler::new(child.id());
    let (mut samples, mut wall, mut processes) = (0u64, Duration::ZERO, 0);
    let cpu0 = own_cpu_micros();
    let end = Instant::now() + RUN;
    while Instant::now() < end {
        let t = Instant::now();
        processes = sampler.sample().processes;
        wall += t.elapsed();
        samples += 1;
        std::thread::sleep(INTERVAL);
    }
    let cpu = own_cpu_micros() - cpu0;
    signal_group(child.id(), SIGKILL);
    let _ = child.wait();
    (
        cpu as f64 / samples as f64,
        wall.as_secs_f64() * 1e6 / samples as f64,
        processes,
    )
}

/// Whole executor: (µs CPU per sample, samples, max processes).
async fn executor(n: usize) -> (f64, usize, u32) {
    let argv = vec![
        "sh".into(),
        "-c".into(),
        format!("{}; ", tree_script(n)).replace("wait", "sleep 3; kill 0"),
    ];
    let job = job(
        &format!("tree-{n}"),
        argv,
        INTERVAL,
        Duration::from_secs(10),
    );
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let cpu0 = own_cpu_micros();
    let judge: runner::exec::Judge =
        std::sync::Arc::new(|job: &Job, m| runner::verdict::judge(job, m, None, 0.1));
    let outcomes = run_jobs(vec![job], opts(), tx, std::future::pending(), judge).await;
    let cpu = own_cpu_micros() - cpu0;
    let m = &outcomes[0].measured;
    let processes = m.samples.iter().map(|s| s.processes).max().unwrap_or(0);
    (
        cpu as f64 / m.samples.len().max(1) as f64,
        m.samples.len(),
        processes,
    )
}

const PATTERN: &str = r#"
import time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
steps = []
for i in range(10):
    steps.append(bytearray(b"\x01") * 10_000_000)
    time.sleep(0.1)
spike = bytearray(b"\x01") * 200_000_000
del spike
time.sleep(0.3)
print("MEMTEST self_hwm_bytes=%d" % hwm())
"#;

async fn accuracy(interval: Duration) -> (u64, u64, u64, usize) {
    let argv = vec!["python3".into(), "-c".into(), PATTERN.into()];
    let job = job("pattern", argv, interval, Duration::from_secs(30));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let judge: runner::exec::Judge =
        std::sync::Arc::new(|job: &Job, m| runner::verdict::judge(job, m, None, 0.1));
    let outcomes = run_jobs(vec![job], opts(), tx, std::future::pending(), judge).await;
    let o = &outcomes[0];
    let self_hwm = o
        .measured
        .reported
        .get("self_hwm_bytes")
        .copied()
        .unwrap_or(0.0) as u64;
    (
        o.figures.peak_rss_sampled.0,
        o.measured.peak_rss_exact.map_or(0, |b| b.0),
        self_hwm,
        o.measured.samples.len(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("sampler cost: tree of N processes sampled every {INTERVAL:?} for {RUN:?}");
    println!(
        "{:>4} | {:>15} | {:>16} | {:>19} | {:>7}",
        "N", "bare CPU µs/smp", "bare wall µs/smp", "executor CPU µs/smp", "samples"
    );
    for n in [1, 8, 32] {
        let (cpu, wall, seen) = bare(n);
        let (ecpu, samples, eseen) = executor(n).await;
        assert_eq!(seen as usize, n, "bare sampler saw {seen} of {n}");
        assert!(eseen as usize >= n, "executor saw {eseen} of {n}");
        println!("{n:>4} | {cpu:>15.1} | {wall:>16.1} | {ecpu:>19.1} | {samples:>7}");
    }
    println!();
    println!("accuracy: 10 x 10 MB steps, then a short 200 MB spike (MB = 10^6 bytes)");
    println!(
        "{:>8} | {:>12} | {:>15} | {:>13} | {:>7}",
        "interval", "sampled peak", "VmHWM (exec)", "VmHWM (self)", "samples"
    );
    for ms in [1, 10, 50] {
        let (sampled, exact, own, samples) = accuracy(Duration::from_millis(ms)).await;
        let mb = |b: u64| b as f64 / 1e6;
        println!(
            "{:>6}ms | {:>9.1} MB | {:>12.1} MB | {:>10.1} MB | {samples:>7}",
            ms,
            mb(sampled),
            mb(exact),
            mb(own)
        );
    }
}
