//! Benchmark of the samplers: what one sample of a process tree costs the
//! runner, for the /proc sampler, the portable (sysinfo) one and the old
//! /proc method they replace, and how close sampled peaks come to the exact
//! ones (VmHWM, and `ru_maxrss` of the reaped child).
//!
//!     cargo run --release -p runner --example sampler_bench
//!
//! Part 1 samples a tree of N processes (`sh` + N-1 `sleep`s) every 10 ms for
//! 3 s with each bare sampler in a loop. CPU is this thread's CPU time
//! (CLOCK_THREAD_CPUTIME_ID) taken around each sample, so the sleeps between
//! samples do not count, summed and divided by samples. Then the
//! whole executor (`run_jobs`: tokio, output readers, the sampling
//! loop, default sampler) on the same tree, CPU of the whole runner process.
//!
//! Part 2 runs a python child with a known pattern — 100 MB in 10 MB steps
//! 100 ms apart, then a 200 MB spike freed as soon as it is touched (it lives
//! only as long as touching 200 MB takes, tens of ms) — and compares, per
//! sampler and sampling interval, the sampled peak of the tree, the last
//! VmHWM the sampler read, `ru_maxrss` from wait4 on the reaped child, and the
//! VmHWM the child read of itself just before exiting.
//!
//! Part 3 is the same pattern through the whole executor, as before.

// It measures /proc against sysinfo, so it runs where /proc is.
#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("sampler_bench compares the /proc sampler: linux only");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::run();
}

#[cfg(target_os = "linux")]
mod linux {
    use runner::exec::{run_jobs, Budget, ExecOptions, Judge};
    use runner::model::{Expect, Job, Limits, RuntimeKind};
    use runner::process::unix::{own_cpu_micros, signal_group, SIGKILL};
    use runner::sample::{ru_maxrss_bytes, SamplerKind, TreeReading, TreeSampler};
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
            scale: 1.0,
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
            duration: None,
        }
    }

    fn opts() -> ExecOptions {
        ExecOptions {
            budget: Budget {
                slots: 1,
                memory_bytes: None,
            },
            forward_output: false,
            sampler: runner::sample::SamplerKind::default_for_platform(),
        }
    }

    /// CPU time (user + system) of the calling thread, in µs. From
    /// CLOCK_THREAD_CPUTIME_ID, which brings the running thread's time up to
    /// date: getrusage(RUSAGE_THREAD) does not (it advances only at ticks and
    /// context switches), and read ~0.5 µs around 40 µs samples here.
    fn thread_cpu_micros() -> f64 {
        // SAFETY: clock_gettime writes into the zeroed struct we pass.
        let ts = unsafe {
            let mut ts: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
            ts
        };
        ts.tv_sec as f64 * 1e6 + ts.tv_nsec as f64 / 1e3
    }

    /// What is measured in part 1: a sampler of this PR, or the method it
    /// replaced.
    #[derive(Clone, Copy)]
    enum Method {
        Kind(SamplerKind),
        Old,
    }

    impl Method {
        fn name(self) -> String {
            match self {
                Method::Kind(k) => k.to_string(),
                Method::Old => "old proc".into(),
            }
        }
    }

    /// The /proc sampler as it was before kept fds: every file opened, read and
    /// closed by path each sample, and status (VmHWM) read every sample.
    struct OldProc {
        root: u32,
        buf: String,
    }

    impl OldProc {
        fn read(&mut self, path: &str) -> bool {
            use std::io::Read;
            self.buf.clear();
            match std::fs::File::open(path) {
                Ok(mut f) => f.read_to_string(&mut self.buf).is_ok(),
                Err(_) => false,
            }
        }

        fn sample(&mut self) -> TreeReading {
            let mut r = TreeReading::default();
            if self.read(&format!("/proc/{}/status", self.root)) {
                r.root_hwm_bytes =
                    runner::sample::procfs::parse_status_kib(self.buf.as_bytes(), "VmHWM");
            }
            let mut stack = vec![self.root];
            while let Some(pid) = stack.pop() {
                if !self.read(&format!("/proc/{pid}/stat")) {
                    continue;
                }
                let Some(st) = runner::sample::procfs::parse_stat(self.buf.as_bytes()) else {
                    continue;
                };
                r.vms_bytes += st.vsize_bytes;
                r.rss_bytes += st.rss_pages * 4096;
                r.processes += 1;
                let tids: Vec<u32> = if st.threads <= 1 {
                    vec![pid]
                } else {
                    std::fs::read_dir(format!("/proc/{pid}/task"))
                        .map(|d| {
                            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                                .collect()
                        })
                        .unwrap_or_default()
                };
                for tid in tids {
                    if self.read(&format!("/proc/{pid}/task/{tid}/children")) {
                        stack.extend(runner::sample::procfs::parse_children(self.buf.as_bytes()));
                    }
                }
            }
            r
        }
    }

    enum AnySampler {
        New(TreeSampler),
        Old(OldProc),
    }

    impl AnySampler {
        fn new(method: Method, root: u32) -> AnySampler {
            match method {
                Method::Kind(k) => AnySampler::New(TreeSampler::with_kind(k, root)),
                Method::Old => AnySampler::Old(OldProc {
                    root,
                    buf: String::new(),
                }),
            }
        }

        fn sample(&mut self) -> TreeReading {
            match self {
                AnySampler::New(s) => s.sample(),
                AnySampler::Old(s) => s.sample(),
            }
        }
    }

    /// Bare sampler: (µs CPU per sample, µs wall per sample, processes seen).
    fn bare(method: Method, n: usize) -> (f64, f64, u32) {
        let mut child = std::process::Command::new("sh")
            .args(["-c", &tree_script(n)])
            .process_group(0)
            .spawn()
            .expect("sh");
        std::thread::sleep(Duration::from_millis(300)); // let the tree form
        let mut sampler = AnySampler::new(method, child.id());
        let (mut samples, mut wall, mut cpu_micros, mut processes) = (0u64, Duration::ZERO, 0.0, 0);
        let end = Instant::now() + RUN;
        while Instant::now() < end {
            let (t, cpu0) = (Instant::now(), thread_cpu_micros());
            processes = sampler.sample().processes;
            cpu_micros += thread_cpu_micros() - cpu0;
            wall += t.elapsed();
            samples += 1;
            std::thread::sleep(INTERVAL);
        }
        signal_group(child.id(), SIGKILL);
        let _ = child.wait();
        (
            cpu_micros / samples as f64,
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
        let judge: Judge =
            std::sync::Arc::new(|job: &Job, m| runner::verdict::judge(job, m, None, None, 0.1));
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

    // Flush left: Python reads indentation, so this text cannot follow
    // the module's.
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

    /// The pattern under one bare sampler until the child exits, reaped with
    /// wait4: (sampled peak, last VmHWM read, ru_maxrss, self VmHWM, samples).
    fn bare_accuracy(kind: SamplerKind, interval: Duration) -> (u64, Option<u64>, u64, u64, usize) {
        // Reaped below with wait4, for its rusage, which clippy cannot see.
        #[allow(clippy::zombie_processes)]
        let mut child = std::process::Command::new("python3")
            .args(["-c", PATTERN])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("python3");
        let pid = child.id();
        let mut sampler = TreeSampler::with_kind(kind, pid);
        let (mut peak, mut hwm, mut samples) = (0u64, None, 0usize);
        // SAFETY: rusage is plain data; wait4 writes into it and into status.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let mut status = 0;
        loop {
            let r = sampler.sample();
            if r.processes > 0 {
                samples += 1;
                peak = peak.max(r.rss_bytes);
                hwm = r.root_hwm_bytes.or(hwm);
            }
            // SAFETY: as above; WNOHANG returns at once.
            let reaped = unsafe { libc::wait4(pid as i32, &mut status, libc::WNOHANG, &mut usage) };
            if reaped == pid as i32 {
                break;
            }
            std::thread::sleep(interval);
        }
        let mut out = String::new();
        use std::io::Read;
        let _ = child.stdout.take().unwrap().read_to_string(&mut out);
        let own = out
            .split("self_hwm_bytes=")
            .nth(1)
            .and_then(|v| v.trim().parse().ok())
            // A broken pattern must not print as a 0 MB reading.
            .unwrap_or_else(|| panic!("the pattern child reported no self_hwm_bytes: {out:?}"));
        (peak, hwm, ru_maxrss_bytes(usage.ru_maxrss), own, samples)
    }

    async fn accuracy(interval: Duration) -> (u64, u64, u64, usize) {
        let argv = vec!["python3".into(), "-c".into(), PATTERN.into()];
        let job = job("pattern", argv, interval, Duration::from_secs(30));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let judge: Judge =
            std::sync::Arc::new(|job: &Job, m| runner::verdict::judge(job, m, None, None, 0.1));
        let outcomes = run_jobs(vec![job], opts(), tx, std::future::pending(), judge).await;
        let o = &outcomes[0];
        let self_hwm = o
            .measured
            .reported
            .get("self_hwm_bytes")
            .copied()
            .unwrap_or_else(|| panic!("the pattern child reported no self_hwm_bytes"))
            as u64;
        (
            o.figures.peak_rss_sampled.0,
            o.measured.peak_rss_exact.map_or(0, |b| b.0),
            self_hwm,
            o.measured.samples.len(),
        )
    }

    #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    pub async fn run() {
        let machine_processes = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter(|e| {
                    e.as_ref().is_ok_and(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
                })
                .count()
            })
            .unwrap_or(0);
        println!(
            "sampler cost: tree of N processes sampled every {INTERVAL:?} for {RUN:?} \
             ({machine_processes} processes on the machine)"
        );
        println!(
            "{:>4} | {:>9} | {:>15} | {:>16}",
            "N", "sampler", "bare CPU µs/smp", "bare wall µs/smp"
        );
        let methods = [
            Method::Old,
            Method::Kind(SamplerKind::Proc),
            Method::Kind(SamplerKind::Portable),
        ];
        for n in [1, 8, 32] {
            for method in methods {
                let (cpu, wall, seen) = bare(method, n);
                assert_eq!(seen as usize, n, "{} saw {seen} of {n}", method.name());
                println!("{n:>4} | {:>9} | {cpu:>15.1} | {wall:>16.1}", method.name());
            }
        }
        println!();
        println!("whole executor, default sampler (CPU of the runner process)");
        println!(
            "{:>4} | {:>19} | {:>7}",
            "N", "executor CPU µs/smp", "samples"
        );
        for n in [1, 8, 32] {
            let (ecpu, samples, eseen) = executor(n).await;
            assert!(eseen as usize >= n, "executor saw {eseen} of {n}");
            println!("{n:>4} | {ecpu:>19.1} | {samples:>7}");
        }
        let mb = |b: u64| b as f64 / 1e6;
        println!();
        println!(
            "accuracy, bare samplers: 10 x 10 MB steps, then a short 200 MB spike (MB = 10^6 bytes)"
        );
        println!(
            "{:>8} | {:>9} | {:>12} | {:>13} | {:>15} | {:>13} | {:>7}",
            "interval",
            "sampler",
            "sampled peak",
            "VmHWM (last)",
            "ru_maxrss (wait4)",
            "VmHWM (self)",
            "samples"
        );
        for ms in [1, 10, 50] {
            for kind in [SamplerKind::Proc, SamplerKind::Portable] {
                let (sampled, hwm, maxrss, own, samples) =
                    bare_accuracy(kind, Duration::from_millis(ms));
                let hwm = hwm.map_or("-".to_string(), |h| format!("{:.1} MB", mb(h)));
                println!(
                    "{:>6}ms | {:>9} | {:>9.1} MB | {:>13} | {:>14.1} MB | {:>10.1} MB | {samples:>7}",
                    ms,
                    kind.to_string(),
                    mb(sampled),
                    hwm,
                    mb(maxrss),
                    mb(own)
                );
            }
        }
        println!();
        println!("accuracy, whole executor (default sampler)");
        println!(
            "{:>8} | {:>12} | {:>15} | {:>13} | {:>7}",
            "interval", "sampled peak", "VmHWM (exec)", "VmHWM (self)", "samples"
        );
        for ms in [1, 10, 50] {
            let (sampled, exact, own, samples) = accuracy(Duration::from_millis(ms)).await;
            println!(
                "{:>6}ms | {:>9.1} MB | {:>12.1} MB | {:>10.1} MB | {samples:>7}",
                ms,
                mb(sampled),
                mb(exact),
                mb(own)
            );
        }
    }
}
