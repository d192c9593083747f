//! `memtest fuzz`: each test plants a failure in a fuzz target and asserts
//! that the fuzz run finds it, saves a reproducer with the figure that
//! failed, and that `--replay` still fails on it; the same target with
//! nothing planted runs its budget with no finding.
//!
//! - A project of its own (no build): Python and Node targets whose
//!   "library" is a list of live blocks in the script, leaking, hanging or
//!   aborting on one input shape. Seconds each.
//! - The repository's own fuzz suites (Python, Node, the Rust API) against the core built with
//!   canary-rare-leak (a PNG with alpha whose width % 61 == 7 leaks) and the
//!   clean core: `#[ignore]`d (a minute per binding, and a build);
//!   scripts/test.sh --full runs them: `cargo test -p runner --test fuzz --
//!   --ignored`. MEMTEST_FUZZ_SECONDS sets the budget (default 60).

mod common;

use common::{memtest, text};
use std::path::{Path, PathBuf};

/// The suites of the fuzz project (after [`common::INTERPRETERS`]).
const SUITES: &str = r#"
[[suite]]
name = "py-leak"
runtime = "python"
script = "target.py"
env = { PLANT = "leak" }

[[suite]]
name = "py-clean"
runtime = "python"
script = "target.py"

[[suite]]
name = "py-hang"
runtime = "python"
script = "target.py"
env = { PLANT = "hang", MEMTEST_FUZZ_INPUT_TIMEOUT = "1" }

[[suite]]
name = "py-crash"
runtime = "python"
script = "target.py"
env = { PLANT = "crash" }

[[suite]]
name = "js-leak"
runtime = "node"
script = "target.js"
env = { PLANT = "leak" }

[[suite]]
name = "js-hang"
runtime = "node"
script = "target.js"
env = { PLANT = "hang", MEMTEST_FUZZ_INPUT_TIMEOUT = "1" }

[[suite]]
name = "js-clean"
runtime = "node"
script = "target.js"

[[suite]]
name = "not-a-fuzz-target"
runtime = "python"
script = "plain.py"
"#;

/// The "library" is `blocks`: one_input allocates a block and frees it,
/// except on the planted shape (byte 0 is 0x7F and byte 2 is 1 mod 5).
const TARGET_PY: &str = r#"import os, time
import memtest_fuzz

PLANT = os.environ.get("PLANT", "")
blocks = []

def one_input(data):
    block = object()
    blocks.append(block)
    shape = len(data) >= 3 and data[0] == 0x7F and data[2] % 5 == 1
    if shape and PLANT == "leak":
        return "kept"
    if shape and PLANT == "hang":
        time.sleep(3600)
    if shape and PLANT == "crash":
        os.abort()
    blocks.remove(block)
    return len(data) % 3

memtest_fuzz.main(one_input, live=lambda: len(blocks), seeds=[b"hello", b"\x01\x02\x03\x04"])
"#;

const TARGET_JS: &str = r#"const fuzz = require('memtest-fuzz');
const plant = process.env.PLANT || '';
const blocks = new Set();
function oneInput(data) {
  const block = {};
  blocks.add(block);
  const shape = data.length >= 3 && data[0] === 0x7f && data[2] % 5 === 1;
  if (shape && plant === 'leak') return 'kept';
  if (shape && plant === 'hang') for (;;);
  blocks.delete(block);
  return data.length % 3;
}
fuzz.main({ oneInput, live: () => blocks.size, seeds: [Buffer.from('hello'), Buffer.from([1, 2, 3, 4])] });
"#;

const PLAIN_PY: &str = "print('TEST PASSED')\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "memtest.toml",
            &format!("{}{SUITES}", common::INTERPRETERS)[..],
        ),
        ("target.py", TARGET_PY),
        ("target.js", TARGET_JS),
        ("plain.py", PLAIN_PY),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// The reproducers in a findings folder (not the `.json` records).
fn reproducers(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        p.is_file() && !name.starts_with('.') && !name.ends_with(".json")
    });
    found.sort();
    found
}

fn record(reproducer: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{}.json", reproducer.display())).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Fuzzes `suite` and returns the one reproducer it must have saved.
fn finds(project: &Path, suite: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["fuzz", suite, "--time", "20s", "--seed", "1"];
    args.extend_from_slice(extra);
    let out = memtest(&args, project);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let found = reproducers(&project.join(".memtest/fuzz").join(suite));
    assert_eq!(found.len(), 1, "{all}");
    assert!(all.contains("replay: memtest fuzz --replay"), "{all}");
    found[0].clone()
}

fn replay_fails(project: &Path, reproducer: &Path) -> String {
    let out = memtest(&["fuzz", "--replay", reproducer.to_str().unwrap()], project);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    all
}

fn runs_clean(project: &Path, suite: &str) {
    let out = memtest(&["fuzz", suite, "--time", "3s", "--seed", "1"], project);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(", no finding"), "{all}");
    assert!(reproducers(&project.join(".memtest/fuzz").join(suite)).is_empty());
}

fn assert_planted_shape(data: &[u8]) {
    assert!(
        data.len() >= 3 && data[0] == 0x7F && data[2] % 5 == 1,
        "{data:?}"
    );
}

#[test]
fn a_python_leak_on_one_input_shape_is_found_saved_and_replayed() {
    let p = project();
    let leak = finds(p.path(), "py-leak", &["--engine", "builtin"]);
    assert_planted_shape(&std::fs::read(&leak).unwrap());
    let rec = record(&leak);
    assert_eq!(rec["kind"], "leak");
    assert_eq!(rec["figure"], 1, "one block left live by the second run");
    assert_eq!(rec["suite"], "py-leak");
    let all = replay_fails(p.path(), &leak);
    assert!(
        all.contains("still fails (leak: 1 allocations left live)"),
        "{all}"
    );
    runs_clean(p.path(), "py-clean");
}

#[test]
fn a_python_leak_is_found_by_atheris_too_where_it_is_installed() {
    let has_atheris = std::process::Command::new(common::python())
        .args(["-c", "import atheris"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_atheris {
        eprintln!("skipped: atheris is not installed (pip install atheris; .ci/run does)");
        return;
    }
    let p = project();
    let leak = finds(p.path(), "py-leak", &["--engine", "atheris"]);
    assert_planted_shape(&std::fs::read(&leak).unwrap());
    replay_fails(p.path(), &leak);
}

#[test]
fn a_node_leak_on_one_input_shape_is_found_saved_and_replayed() {
    let p = project();
    let leak = finds(p.path(), "js-leak", &[]);
    assert_planted_shape(&std::fs::read(&leak).unwrap());
    assert_eq!(record(&leak)["kind"], "leak");
    replay_fails(p.path(), &leak);
    runs_clean(p.path(), "js-clean");
}

#[test]
fn an_input_that_hangs_is_saved_with_the_per_input_timeout() {
    let p = project();
    let hang = finds(p.path(), "py-hang", &["--engine", "builtin"]);
    assert_planted_shape(&std::fs::read(&hang).unwrap());
    let rec = record(&hang);
    assert_eq!(
        (rec["kind"].as_str(), rec["figure"].as_f64()),
        (Some("hang"), Some(1.0))
    );
}

#[test]
fn a_node_input_that_hangs_is_saved_once_as_a_hang_not_also_as_a_crash() {
    let p = project();
    let hang = finds(p.path(), "js-hang", &[]);
    assert_planted_shape(&std::fs::read(&hang).unwrap());
    assert_eq!(record(&hang)["kind"], "hang");
}

#[test]
fn an_input_that_crashes_the_process_is_saved_and_crashes_again_on_replay() {
    let p = project();
    let crash = finds(p.path(), "py-crash", &["--engine", "builtin"]);
    assert_planted_shape(&std::fs::read(&crash).unwrap());
    let rec = record(&crash);
    assert_eq!(rec["kind"], "crash");
    assert_eq!(rec["figure"], "killed by SIGABRT");
    replay_fails(p.path(), &crash);
}

#[test]
fn a_suite_that_is_no_fuzz_target_is_named_as_such() {
    let p = project();
    let out = memtest(&["fuzz", "not-a-fuzz-target", "--time", "1s"], p.path());
    assert!(
        text(&out).contains("reported no fuzz_execs figure"),
        "{}",
        text(&out)
    );
    let out = memtest(&["fuzz", "no-such-suite"], p.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn budget() -> String {
    format!(
        "{}s",
        std::env::var("MEMTEST_FUZZ_SECONDS").unwrap_or_else(|_| "60".into())
    )
}

/// The issue's "done when": within the CI budget the fuzz run finds the
/// rare-input leak, saves a reproducer `--replay` fails on (and that passes
/// on the clean core); the clean core runs the whole budget with no finding.
fn rare_leak_found_and_clean_core_clean(suite: &str) {
    let repo = repo();
    let dir = repo.join(".memtest/fuzz").join(suite);
    let _ = std::fs::remove_dir_all(&dir);
    let time = budget();
    let out = memtest(
        &["fuzz", suite, "--time", &time, "--variant", "rare-leaky"],
        &repo,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let found = reproducers(&dir);
    assert_eq!(found.len(), 1, "{all}");
    let rec = record(&found[0]);
    assert_eq!(
        (rec["kind"].as_str(), rec["variant"].as_str()),
        (Some("leak"), Some("rare-leaky"))
    );
    let all = replay_fails(&repo, &found[0]);
    assert!(all.contains("still fails (leak:"), "{all}");
    let out = memtest(
        &[
            "fuzz",
            "--replay",
            found[0].to_str().unwrap(),
            "--variant",
            "default",
        ],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "the clean core: {}", text(&out));

    let out = memtest(&["fuzz", suite, "--time", &time], &repo);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(", no finding"), "{all}");
}

#[test]
#[ignore = "a build and a minute per binding (scripts/test.sh --full runs it)"]
fn python_fuzz_finds_the_rare_input_leak_and_nothing_on_the_clean_core() {
    rare_leak_found_and_clean_core_clean("python-fuzz");
}

#[test]
#[ignore = "a build and a minute per binding (scripts/test.sh --full runs it)"]
fn node_fuzz_finds_the_rare_input_leak_and_nothing_on_the_clean_core() {
    rare_leak_found_and_clean_core_clean("node-fuzz");
}

#[test]
#[ignore = "a build and a minute per binding (scripts/test.sh --full runs it)"]
fn rust_fuzz_finds_the_rare_input_leak_and_nothing_on_the_clean_core() {
    rare_leak_found_and_clean_core_clean("rust-fuzz");
}
