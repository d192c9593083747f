//! Leak or allocator? `memtest explain` plants both and asserts each is
//! called by its name, with the figures that decided it:
//!
//! - a C program that frees everything but fragments glibc's heap across
//!   four threads (tests/fixtures/fragment.c) is **allocator retention**:
//!   live bytes flat, `malloc_trim` gives the growth back;
//! - the same program leaking the same RSS growth (`LEAK=1`) is a **leak**:
//!   malloc's in-use bytes grow with RSS, and a trim gives nothing back;
//! - one of the repository's own canaries (the leaky core under Rust's
//!   memtest-harness) is a leak too: `#[ignore]`d, it reuses the last build (scripts/test.sh runs
//!   it after the fast tier).

mod common;

use common::memtest;
use serde_json::Value;
use std::path::{Path, PathBuf};

const MB: i64 = 1_000_000;

const PROJECT: &str = r#"
[runtimes.native]
kind = "command"

[[suite]]
name = "fragments"
runtime = "native"
command = ["./fragment"]

[[suite]]
name = "leaks"
runtime = "native"
command = ["./fragment"]
env = { LEAK = "1" }
"#;

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The suite's diagnosis in a JSON report.
fn cause_of<'a>(report: &'a Value, suite: &str) -> &'a Value {
    let s = report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == suite)
        .unwrap_or_else(|| panic!("no {suite} in {report}"));
    &s["cause"]
}

/// The figure of kind `figure` (and `key` = `value`) among a diagnosis's
/// deciding figures (or its other ones), as bytes.
fn figure(list: &Value, figure: &str, key: (&str, &str), field: &str) -> Option<i64> {
    list.as_array()?
        .iter()
        .find(|e| e["figure"] == figure && (key.0.is_empty() || e[key.0] == key.1))
        .and_then(|e| e[field].as_i64())
}

/// A project with `toml` and the fixture built in it; `None` where the
/// test cannot run.
fn project(toml: &str) -> Option<tempfile::TempDir> {
    if !cfg!(target_os = "linux") || !on_path("cc") {
        eprintln!("skipped: needs Linux (glibc) and cc");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("memtest.toml"), toml).unwrap();
    let helpers = repo().join("runner/helpers/c");
    let built = std::process::Command::new("cc")
        .args(["-O1", "-pthread", "-I"])
        .arg(&helpers)
        .arg(repo().join("runner/tests/fixtures/fragment.c"))
        .args(["-o", "fragment", "-lm"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(built.success());
    Some(dir)
}

#[test]
fn fragmentation_is_allocator_retention_and_the_same_growth_leaked_is_a_leak() {
    let Some(dir) = project(PROJECT) else { return };
    let json = dir.path().join("explain.json");
    let out = memtest(
        &[
            "--json",
            json.to_str().unwrap(),
            "explain",
            "fragments",
            "leaks",
        ],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();

    // Fragmentation: RSS grew by tens of MB, live bytes did not, and
    // malloc_trim gave most of it back.
    let retained = cause_of(&report, "fragments");
    assert_eq!(
        retained["cause"], "allocator_retention",
        "{retained}\n{text}"
    );
    let deciding = &retained["deciding"];
    let rss = figure(deciding, "rss_growth", ("probe", "plain"), "growth_bytes").unwrap();
    let live = figure(
        deciding,
        "live_growth",
        ("source", "malloc_in_use"),
        "growth_bytes",
    );
    let trimmed = figure(deciding, "trimmed", ("", ""), "bytes").unwrap();
    assert!(rss > 20 * MB, "RSS grew {rss}: {retained}");
    assert!(live.unwrap().abs() < MB, "live bytes moved: {retained}");
    assert!(
        trimmed * 2 >= rss,
        "trim returned {trimmed} of {rss}: {retained}"
    );
    assert!(
        text.contains("cause: allocator retention: malloc_trim returned"),
        "{text}"
    );
    // glibc held the freed memory: the free bytes it reports are most of
    // the growth.
    let held = figure(&retained["other"], "free_held", ("", ""), "bytes").unwrap();
    assert!(
        held * 2 >= rss,
        "malloc held {held} free of {rss}: {retained}"
    );

    // The planted leak of the same growth: live bytes grew with RSS.
    let leaked = cause_of(&report, "leaks");
    assert_eq!(leaked["cause"], "leak", "{leaked}\n{text}");
    let deciding = &leaked["deciding"];
    let leak_rss = figure(deciding, "rss_growth", ("probe", "plain"), "growth_bytes").unwrap();
    let live = figure(
        deciding,
        "live_growth",
        ("source", "malloc_in_use"),
        "growth_bytes",
    )
    .unwrap();
    assert!(
        leak_rss * 2 > rss && leak_rss < rss * 2,
        "not the same growth: {leak_rss} vs {rss}"
    );
    assert!(
        live * 10 >= leak_rss * 9,
        "live {live} of RSS {leak_rss}: {leaked}"
    );
    // ... and nothing the allocator could give back.
    let trim_growth = figure(
        &leaked["other"],
        "rss_growth",
        ("probe", "malloc_trim"),
        "growth_bytes",
    )
    .unwrap();
    assert!(trim_growth * 10 >= leak_rss * 9, "{leaked}");
    assert!(text.contains("cause: leak: live bytes +"), "{text}");
}

const RUN_PROJECT: &str = r#"
[runtimes.native]
kind = "command"

[[suite]]
name = "limited"
runtime = "native"
command = ["./fragment"]
env = { LEAK = "1" }
limits = { rss_growth = "8MB" }

[[suite]]
name = "small"
runtime = "native"
command = ["./fragment"]
env = { ROUNDS = "3" }
limits = { rss_growth = "32MB" }
canaries = [{ mode = "leak", env = { LEAK = "1", ROUNDS = "10" } }]
"#;

#[test]
fn run_explain_explains_the_failed_suite_and_the_caught_canary_only() {
    let Some(dir) = project(RUN_PROJECT) else {
        return;
    };
    let json = dir.path().join("run.json");
    let out = memtest(
        &["--json", json.to_str().unwrap(), "run", "--explain"],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the run's status stands:\n{text}\n{err}"
    );
    for explained in ["limited", "small-canary-leak"] {
        let head = format!("Where: {explained} (");
        let block: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with(&head))
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(
            block
                .iter()
                .any(|l| l.starts_with("  cause: leak: live bytes +")),
            "{explained}:\n{text}\n{err}"
        );
    }
    assert!(!text.contains("Where: small ("), "it passed:\n{text}");
    // The report file is the run's, every suite in it.
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["suites"].as_array().unwrap().len(), 3, "{report}");
}

const LIVE_PROJECT: &str = r#"
[runtimes.native]
kind = "command"

[[suite]]
name = "retained"
runtime = "native"
command = ["./fragment"]
limits = { live_growth = "4MB" }

[[suite]]
name = "leaked"
runtime = "native"
command = ["./fragment"]
env = { LEAK = "1" }
limits = { live_growth = "4MB" }
"#;

#[test]
fn a_suite_judged_by_live_bytes_passes_on_retention_and_fails_on_a_leak() {
    let Some(dir) = project(LIVE_PROJECT) else {
        return;
    };
    let json = dir.path().join("run.json");
    let out = memtest(&["--json", json.to_str().unwrap(), "run"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let suite = |name: &str| {
        report["suites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    // Both grew RSS by tens of MB; only the leak grew live bytes.
    let retained = suite("retained");
    assert_eq!(retained["verdict"], "passed", "{retained}");
    assert!(retained["figures"]["live_growth_bytes"].as_i64().unwrap() < MB);
    assert!(retained["figures"]["rss_growth_bytes"].as_i64().unwrap() > 10 * MB);
    let leaked = suite("leaked");
    assert_eq!(leaked["verdict"], "failed", "{leaked}");
    let failure = &leaked["failures"][0];
    assert_eq!(failure["criterion"], "live_growth", "{leaked}");
    assert!(failure["measured"].as_i64().unwrap() > 40 * MB, "{leaked}");
}

#[test]
#[ignore = "needs the repository's last build (scripts/test.sh runs it after the fast tier)"]
fn the_leaky_core_canary_is_called_a_leak() {
    let suite = "rust-memory-leak-canary-leaky";
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("explain.json");
    let out = memtest(
        &[
            "--json",
            json.to_str().unwrap(),
            "explain",
            "--no-build",
            "--profile",
            "ci",
            suite,
        ],
        &repo(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let cause = cause_of(&report, suite);
    assert_eq!(cause["cause"], "leak", "{cause}\n{text}");
    // The library's own count saw the leaked copies, and they are live
    // bytes of a size RSS shows.
    let native = figure(&cause["deciding"], "live_growth", ("", ""), "growth_bytes").unwrap();
    assert!(native > 256 * 1024, "{cause}");
}
