//! Interruption trials: a real multi-suite run of the `memtest` binary,
//! stopped by SIGINT or SIGTERM at a random moment, many times over. The
//! suites are small Python fixtures chosen for what makes stopping hard: one
//! that leaks, one that leaves a grandchild in its group and another that
//! calls setsid, and two that ignore SIGTERM (one with a setsid grandchild
//! that ignores it too). After every trial: the exit status says which
//! signal stopped the run, no process of the run is left anywhere, and the
//! JSON and JUnit reports, when the run got far enough to write them, parse.
//!
//! Trials are bounded (12 by default, ~30 s); `MEMTEST_TRIALS=N` runs more,
//! `MEMTEST_TRIAL_SEED=S` replays a sequence of delays and signals, and
//! `MEMTEST_TRIAL_LOAD=N` keeps N threads spinning beside them (a loaded
//! machine stretches every step and opens the races a quiet one hides;
//! `scripts/test.sh --full` runs them so). A process left behind is named
//! with how it got away. No zombie can outlive memtest unseen: a zombie's
//! parent is either memtest (gone, so init reaps it) or a process of the
//! suite, which this check would have found running; zombies while memtest
//! runs are checked by tests/escape.rs.

mod common;

use common::marked;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The exit status memtest gives for SIGTERM: 143 (128 + 15), as a shell
/// reports a process that SIGTERM ended, though memtest stopped its suites
/// and wrote its reports first.
const SIGTERM_STATUS: &[i32] = &[143];

/// Every process started by one trial carries this variable with the
/// trial's own value: memtest passes its environment on to every suite, and
/// the suites' children inherit it, setsid or not.
const MARKER: &str = "MEMTEST_TRIAL_MARKER";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// No [build]: nothing is built, so every trial reaches its suites quickly.
fn write_config(dir: &Path) {
    for f in [
        "bounded.py",
        "leaking.py",
        "spawner.py",
        "hanging.py",
        "ignores_term.py",
    ] {
        std::fs::copy(fixture(f), dir.join(f)).unwrap();
    }
    let suite = |name: &str, script: &str| {
        format!("[[suite]]\nname = \"{name}\"\nruntime = \"python\"\nscript = \"{script}\"\n")
    };
    let text = [
        "[defaults]\ntimeout = \"30s\"\ngrace = \"300ms\"\nsample_interval = \"20ms\"\n".into(),
        "[runtimes.python]\nkind = \"python\"\nprogram = \"python3\"\n".into(),
        suite("bounded", "bounded.py"),
        suite("leaking", "leaking.py"),
        suite("spawner", "spawner.py"),
        suite("hanging", "hanging.py"),
        suite("ignores-term", "ignores_term.py"),
    ]
    .join("");
    std::fs::write(dir.join("memtest.toml"), text).unwrap();
}

/// xorshift64*: reproducible delays without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Well-formed enough to be XML a CI system reads: one root element, every
/// tag closed in order, attribute quotes balanced. (quick-junit only writes.)
fn check_xml(text: &str) -> Result<(), String> {
    let body = text
        .trim_start()
        .strip_prefix("<?xml")
        .map_or(Some(text.trim_start()), |rest| {
            rest.split_once("?>").map(|(_, b)| b)
        })
        .ok_or("unterminated XML declaration")?;
    let mut open: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        if open.is_empty() && !rest[..start].trim().is_empty() {
            return Err("text outside the root element".into());
        }
        let after = &rest[start + 1..];
        if let Some(c) = after.strip_prefix("![CDATA[") {
            let end = c.find("]]>").ok_or("unterminated CDATA")?;
            rest = &c[end + 3..];
            continue;
        }
        if let Some(c) = after.strip_prefix("!--") {
            let end = c.find("-->").ok_or("unterminated comment")?;
            rest = &c[end + 3..];
            continue;
        }
        let end = after.find('>').ok_or("unterminated tag")?;
        let tag = &after[..end];
        if tag.matches('"').count() % 2 != 0 {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        if let Some(closing) = tag.strip_prefix('/') {
            match open.pop() {
                Some(o) if o == closing.trim() => {}
                other => return Err(format!("</{closing}> closes {other:?}")),
            }
        } else if !tag.ends_with('/') {
            if open.is_empty() {
                roots += 1;
            }
            open.push(name);
        } else if open.is_empty() {
            roots += 1;
        }
        rest = &after[end + 1..];
    }
    if !open.is_empty() {
        return Err(format!("unclosed elements {open:?}"));
    }
    if roots != 1 || !rest.trim().is_empty() {
        return Err(format!("{roots} root elements, trailing {rest:?}"));
    }
    Ok(())
}

#[test]
fn the_xml_check_can_fail() {
    assert!(check_xml("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/><c>t</c></a>\n").is_ok());
    assert!(check_xml("<a><b></a>").is_err());
    assert!(check_xml("<a></a><a></a>").is_err());
    assert!(check_xml("<a><b>").is_err());
    assert!(check_xml("<a x=\"1></a>").is_err());
}

/// Waits until `pid` catches SIGINT and SIGTERM (its SigCgt mask in
/// /proc/PID/status has both bits).
fn wait_until_caught(pid: u32) {
    let wanted = (1u64 << (libc::SIGINT - 1)) | (1u64 << (libc::SIGTERM - 1));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        if caught & wanted == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "memtest never caught SIGINT and SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Threads that spin until dropped: CPU load beside the trials.
struct Hogs {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn start(n: usize) -> Hogs {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Trial {
    index: u64,
    signal: i32,
    delay: Duration,
}

fn run_trial(dir: &Path, trial: &Trial) {
    let json = dir.join(format!("report-{}.json", trial.index));
    let junit = dir.join(format!("report-{}.xml", trial.index));
    let marker = format!("{}-{}", std::process::id(), trial.index);
    let child = Command::new(env!("CARGO_BIN_EXE_memtest"))
        .args(["run", "--jobs", "3", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env(MARKER, &marker)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("memtest starts");
    // The delay counts from when memtest catches both signals: before its
    // handlers are installed a signal's default action ends it, which no
    // code can help (and which leaves no child, since none was started).
    wait_until_caught(child.id());
    std::thread::sleep(trial.delay);
    // SAFETY: kill only reads its arguments; the pid is our own live child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, trial.signal) }, 0);
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!(
        "trial {} (signal {} after {:?}), stopped in {took:?}:\n{stderr}",
        trial.index, trial.signal, trial.delay
    );

    let code = out.status.code();
    if trial.signal == libc::SIGINT {
        assert_eq!(code, Some(130), "{what}");
    } else {
        assert!(
            code.is_some_and(|c| SIGTERM_STATUS.contains(&c)),
            "exit {code:?}: {what}"
        );
    }
    // Stopping takes the grace (300 ms) twice at most, plus the reports.
    assert!(took < Duration::from_secs(10), "{what}");

    // memtest has exited: nothing it started may be left. A SIGKILLed
    // process can take a moment to be reaped, so look a few times.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut left = marked(MARKER, &marker);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = marked(MARKER, &marker);
    }
    if !left.is_empty() {
        for p in &left {
            // SAFETY: as above; cleans up before failing.
            unsafe { libc::kill(p.pid as i32, libc::SIGKILL) };
        }
        // Each names its command line and how it got away (its parent,
        // group and session now).
        panic!("left running: {left:#?}; {what}");
    }

    // Stopped before any suite started, memtest says so and writes no
    // report; otherwise both reports must be there and whole.
    if stderr.contains("no suite ran") {
        return;
    }
    let text = std::fs::read(&json).unwrap_or_else(|e| panic!("no JSON report ({e}); {what}"));
    let report: serde_json::Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("bad JSON ({e}); {what}"));
    assert_eq!(report["interrupted"], true, "{what}");
    assert_eq!(report["suites"].as_array().map(Vec::len), Some(5), "{what}");
    let xml =
        std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit report ({e}); {what}"));
    if let Err(e) = check_xml(&xml) {
        panic!("JUnit report is not well-formed: {e}\n{xml}\n{what}");
    }
}

#[test]
fn runs_stopped_at_random_moments_leave_nothing_and_valid_reports() {
    let trials: u64 = std::env::var("MEMTEST_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("MEMTEST_TRIAL_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x6d65_6d74_6573_7421);
    let load: usize = std::env::var("MEMTEST_TRIAL_LOAD")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let _hogs = Hogs::start(load);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    for index in 0..trials {
        // From the moment the handlers are in (preflight) to well into the
        // suites: spawner's grandchildren exist from ~0.1 s, bounded ends
        // at ~1.5 s, the others run until stopped.
        let trial = Trial {
            index,
            signal: if rng.below(2) == 0 {
                libc::SIGINT
            } else {
                libc::SIGTERM
            },
            delay: Duration::from_millis(rng.below(2500)),
        };
        run_trial(dir.path(), &trial);
    }
    eprintln!(
        "{trials} interruption trials (seed {seed}, {load} busy threads beside) in {:?}",
        started.elapsed()
    );
}
