//! No process escapes, whichever way a suite ends. The `detacher` fixture
//! detaches two grandchildren as soon as it starts (one by setsid, one by a
//! double fork, so its parent is gone), and the sample interval is longer
//! than the suite lives before it is stopped: no sample ever sees them, so
//! memtest must find them when the suite ends. For each of the four ways a
//! suite is stopped (SIGINT and SIGTERM to memtest, its timeout, its
//! `peak_rss` ceiling) nothing of the suite may be left running, and, while
//! memtest still runs, no zombie of it either (memtest is the child
//! subreaper on Linux: orphans come to it, and it must reap them).

mod common;

use common::{marked, zombie_children, Leftover};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Every process of one test carries `MARKER=<its own value>` (memtest's
/// environment reaches every suite and its descendants).
const MARKER: &str = "MEMTEST_ESCAPE_MARKER";

/// The grandchildren's command line holds this (the fixture's HOLD script).
const HELD: &str = "30_000_000";

/// A companion suite that outlives the detacher, so memtest is still
/// running (and could hold zombies) after the detacher was cleaned up.
const SLEEPER: &str = "import time\ntime.sleep(12)\nprint('TEST PASSED')\n";

fn write_config(dir: &Path, detacher: &str, with_sleeper: bool) {
    std::fs::copy(common::fixture("detacher.py"), dir.join("detacher.py")).unwrap();
    std::fs::write(dir.join("sleeper.py"), SLEEPER).unwrap();
    let mut text = String::from(
        "[defaults]\ngrace = \"300ms\"\n\
         # Longer than the detacher lives before it is stopped: only the\n\
         # sample at the start (before python runs) is taken.\n\
         sample_interval = \"5s\"\n\
         [runtimes.python]\nkind = \"python\"\nprogram = \"python3\"\n\
         [[suite]]\nname = \"detacher\"\nruntime = \"python\"\nscript = \"detacher.py\"\n",
    );
    text.push_str(detacher);
    if with_sleeper {
        text.push_str(
            "\n[[suite]]\nname = \"sleeper\"\nruntime = \"python\"\nscript = \"sleeper.py\"\n\
             timeout = \"60s\"\n",
        );
    }
    std::fs::write(dir.join("memtest.toml"), text).unwrap();
}

fn spawn(dir: &Path, marker: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_memtest"))
        .args(["run", "--jobs", "2", "--json", "report.json"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env(MARKER, marker)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("memtest starts")
}

fn held(marker: &str) -> Vec<Leftover> {
    marked(MARKER, marker)
        .into_iter()
        .filter(|p| p.cmdline.contains(HELD))
        .collect()
}

/// Polls for up to 30 s (the machine is shared).
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Nothing of the run is left: checked a few times for 2 s, since a
/// SIGKILLed process takes a moment to go. Kills what it finds before
/// failing, naming each process and how it got away.
fn assert_nothing_left(marker: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut left = marked(MARKER, marker);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = marked(MARKER, marker);
    }
    for p in &left {
        // SAFETY: kill only reads its arguments; cleaning up before failing.
        unsafe { libc::kill(p.pid as i32, libc::SIGKILL) };
    }
    assert!(left.is_empty(), "{what}: left running: {left:#?}");
}

/// Both grandchildren hold their memory: the detacher made its `detached`
/// file.
/// (Stopped before, a grandchild still starting would die of SIGPIPE on
/// its first write to the dead suite's pipe, and prove nothing.)
fn wait_detached(dir: &Path, marker: &str) -> Vec<Leftover> {
    wait_until("the detacher's `detached` file", || {
        dir.join("detached").exists()
    });
    let away = held(marker);
    assert_eq!(away.len(), 2, "{away:#?}");
    away
}

/// The detacher's grandchildren go when it is stopped, while the sleeper
/// still runs; then memtest holds no zombie.
fn check_cleaned_while_running(memtest: &Child, marker: &str, what: &str) {
    wait_until(&format!("{what}: the grandchildren to go"), || {
        held(marker).is_empty()
    });
    // The sweep reaps within milliseconds of its kill; give it a margin.
    std::thread::sleep(Duration::from_millis(300));
    let zombies = zombie_children(memtest.id());
    assert!(
        zombies.is_empty(),
        "{what}: memtest holds zombies {zombies:?}"
    );
    assert!(
        marked(MARKER, marker)
            .iter()
            .any(|p| p.cmdline.contains("sleeper.py")),
        "{what}: the sleeper should still be running"
    );
}

fn signal_trial(signal: i32, want_code: i32, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "timeout = \"60s\"\n", false);
    let marker = format!("{}-{name}", std::process::id());
    let memtest = spawn(dir.path(), &marker);
    let away = wait_detached(dir.path(), &marker);
    // SAFETY: kill only reads its arguments; the pid is our own live child.
    assert_eq!(unsafe { libc::kill(memtest.id() as i32, signal) }, 0);
    let out = memtest.wait_with_output().unwrap();
    let what = format!(
        "{name} after the detach ({away:#?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(want_code), "{what}");
    assert_nothing_left(&marker, &what);
}

#[test]
fn sigint_leaves_no_detached_grandchild() {
    signal_trial(libc::SIGINT, 130, "sigint");
}

#[test]
fn sigterm_leaves_no_detached_grandchild() {
    signal_trial(libc::SIGTERM, 143, "sigterm");
}

/// A suite memtest stops by itself (timeout, ceiling) while another suite
/// runs on.
fn stopped_suite_trial(detacher: &str, name: &str, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), detacher, true);
    let marker = format!("{}-{name}", std::process::id());
    let memtest = spawn(dir.path(), &marker);
    wait_detached(dir.path(), &marker);
    check_cleaned_while_running(&memtest, &marker, name);
    let out = memtest.wait_with_output().unwrap();
    let what = format!("{name}:\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "the detacher fails: {what}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let text = report.to_string();
    assert!(text.contains(want), "the report names {want}: {what}");
    assert_nothing_left(&marker, &what);
}

#[test]
fn a_timeout_leaves_no_detached_grandchild() {
    // Python starts three interpreters before it detaches: seconds under load.
    stopped_suite_trial("timeout = \"4s\"\n", "timeout", "timed_out");
}

#[test]
fn the_peak_rss_ceiling_leaves_no_detached_grandchild() {
    // The second sample (at 5 s) finds 80 MB in the suite's main process.
    stopped_suite_trial(
        "timeout = \"60s\"\nargs = [\"grow\"]\nlimits = { peak_rss = \"60MB\" }\n",
        "ceiling",
        "peak_rss",
    );
}
