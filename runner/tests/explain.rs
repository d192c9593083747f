//! `memtest explain`: each test plants a leak and asserts that its site is
//! named, and that a clean suite beside it shows no site above the noise
//! floor.
//!
//! - A Python and a Node suite in a project of their own (no build), each
//!   planting a leak in its own language.
//! - The C example's library built without its counter, leaking the copies
//!   strndup made: under valgrind, the site is intern_put.
//! - The repository's own canaries (leaky core: rust, python, node), and
//!   a retain canary: `#[ignore]`d, they reuse the last build
//!   (`--no-build`), so scripts/test.sh runs them after the fast tier built
//!   everything: `cargo test -p runner --test explain -- --ignored`.

mod common;

use common::memtest;
use std::path::{Path, PathBuf};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of `suite`'s "Where:" block.
fn block<'a>(text: &'a str, suite: &str) -> Vec<&'a str> {
    let head = format!("Where: {suite} (");
    text.lines()
        .skip_while(|l| !l.starts_with(&head))
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("Where: "))
        .collect()
}

/// The named frame of the top site of `suite`, and its whole line.
fn top_site(text: &str, suite: &str) -> (String, String) {
    let lines = block(text, suite);
    let top = lines
        .iter()
        .find(|l| l.starts_with("  1. "))
        .unwrap_or_else(|| panic!("no site for {suite}:\n{text}"));
    let name = top.rsplit_once("  at ").unwrap().1.to_string();
    (name, top.to_string())
}

fn assert_clean(text: &str, suite: &str) {
    let lines = block(text, suite);
    assert_eq!(
        lines.first().copied(),
        Some("  no leak site above the noise floor"),
        "{suite}:\n{text}"
    );
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// The line of `file` holding `marker`, 1-based.
fn line_of(file: &Path, marker: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|l| l.contains(marker))
        .unwrap()
        + 1
}

const PROJECT: &str = r#"
[runtimes.python]
kind = "python"
program = "python3"
flags = ["-u"]

[runtimes.node]
kind = "node"
program = "node"
flags = ["--expose-gc"]

[[suite]]
name = "py-planted"
runtime = "python"
script = "planted.py"

[[suite]]
name = "py-clean"
runtime = "python"
script = "planted.py"
env = { CLEAN = "1" }

[[suite]]
name = "js-planted"
runtime = "node"
script = "planted.js"

[[suite]]
name = "js-clean"
runtime = "node"
script = "planted.js"
env = { CLEAN = "1" }
"#;

const PLANTED_PY: &str = r#"import os
import memtest_suite as m

clean = os.environ.get("CLEAN") == "1"
kept = []

def main():
    cps = m.Checkpoints()
    for i in range(400):
        if i % 40 == 0:
            cps.record(i)
        block = bytearray(4096)
        if not clean:
            kept.append(block)  # the planted leak
        [bytes(64) for _ in range(20)]  # garbage, freed each round
    m.report("operations", 400)

m.run(main, name="planted")
"#;

const PLANTED_JS: &str = r#"const m = require('memtest-suite');
const clean = process.env.CLEAN === '1';
class PlantedLeak { constructor(i) { this.id = i; this.payload = new Array(64).fill(i); } }
const kept = [];
m.run(async () => {
  const cps = new m.Checkpoints();
  for (let i = 0; i < 2000; i++) {
    if (i % 100 === 0) cps.record(i);
    const leak = new PlantedLeak(i);
    if (!clean) kept.push(leak);
    Array.from({ length: 20 }, (_, j) => ({ j }));
  }
}, 'planted');
"#;

#[test]
fn python_and_js_sites_name_the_planted_line_and_constructor() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("memtest.toml"), PROJECT).unwrap();
    let py = dir.path().join("planted.py");
    std::fs::write(&py, PLANTED_PY).unwrap();
    std::fs::write(dir.path().join("planted.js"), PLANTED_JS).unwrap();
    let out = memtest(
        &[
            "explain",
            "py-planted",
            "py-clean",
            "js-planted",
            "js-clean",
        ],
        dir.path(),
    );
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (name, line) = top_site(&text, "py-planted");
    let planted = line_of(&py, "the planted leak");
    // tracemalloc grouped by traceback: the innermost frame is where the
    // buffer was made, the line before the planted append.
    assert_eq!(name, format!("planted.py:{}", planted - 2), "{line}");
    assert!(line.contains(" python "), "{line}");
    assert!(line.contains("grown"), "{line}");
    assert_clean(&text, "py-clean");

    let (name, line) = top_site(&text, "js-planted");
    assert_eq!(name, "PlantedLeak", "{line}");
    assert!(line.contains(" js "), "{line}");
    let retained = block(&text, "js-planted")[1];
    assert!(retained.contains("retained by Array["), "{retained}");
    assert!(retained.contains(".kept"), "{retained}");
    assert_clean(&text, "js-clean");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn a_library_without_a_counter_leaking_through_strndup_is_named_by_its_own_function() {
    if !["valgrind", "make", "cc"].iter().all(|p| on_path(p)) {
        eprintln!("skipped: needs valgrind, make and cc");
        return;
    }
    let config = repo().join("examples/c-library/memtest.toml");
    let out = memtest(
        &[
            "--config",
            config.to_str().unwrap(),
            "explain",
            "--no-cause",
            "c-memory-canary-strdup",
            "c-memory",
            "--scale",
            "0.05",
        ],
        &repo(),
    );
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Where: c-memory-canary-strdup (") && text.contains("valgrind memcheck"),
        "{text}"
    );
    let (name, line) = top_site(&text, "c-memory-canary-strdup");
    let intern_c = repo().join("examples/c-library/src/intern.c");
    let strndup = line_of(&intern_c, "char *copy = strndup(s, len);");
    assert_eq!(name, format!("intern_put (intern.c:{strndup})"), "{line}");
    assert!(line.contains("definitely lost"), "{line}");
    // strndup and malloc are folded, not named.
    let stack = block(&text, "c-memory-canary-strdup");
    assert_eq!(stack[1].trim(), "(2 allocator/runtime frames)", "{text}");
    assert_clean(&text, "c-memory");
}

/// The repository's own canaries, against the last build.
fn explain_repo(suites: &[&str]) -> String {
    // Sites only: the cause of growth is tests/cause.rs's.
    let mut args = vec!["explain", "--no-cause", "--no-build", "--profile", "ci"];
    args.extend_from_slice(suites);
    let out = memtest(&args, &repo());
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
#[ignore = "needs the repository's last build (scripts/test.sh runs it after the fast tier)"]
fn the_leaky_core_is_named_at_its_planted_function_in_every_runtime() {
    let text = explain_repo(&[
        "rust-memory-leak-canary-leaky",
        "rust-memory-leak",
        "python-ffi-memory-canary-leaky",
        "python-ffi-memory",
        "node-ffi-memory-canary-leaky",
        "node-ffi-memory",
    ]);
    let canary_rs = repo().join("core/engine/src/canary.rs");
    let copy = line_of(&canary_rs, "let copy = input.to_vec()");
    for suite in [
        "rust-memory-leak-canary-leaky",
        "python-ffi-memory-canary-leaky",
        "node-ffi-memory-canary-leaky",
    ] {
        let (name, line) = top_site(&text, suite);
        assert_eq!(
            name,
            format!("leak_input (canary.rs:{copy})"),
            "{suite}: {line}"
        );
        assert!(
            line.contains(" native ") && line.contains("still live"),
            "{line}"
        );
    }
    for clean in ["rust-memory-leak", "python-ffi-memory", "node-ffi-memory"] {
        assert_clean(&text, clean);
    }
}

#[test]
#[ignore = "needs the repository's last build (scripts/test.sh runs it after the fast tier)"]
fn the_retain_canaries_are_named_in_their_own_language() {
    let text = explain_repo(&[
        "python-gc-verification-canary-retain",
        "node-gc-verification-canary-retain",
    ]);
    // Python: tracemalloc knows where the kept results were made, the
    // binding's result, called from the suite's measured loop.
    let gc_py = repo().join("suites/python/gc_verification.py");
    let call = line_of(&gc_py, "r = pyjamaz.optimize(data, **options)");
    let (name, line) = top_site(&text, "python-gc-verification-canary-retain");
    assert!(name.starts_with("__init__.py:"), "{line}\n{text}");
    let stack = block(&text, "python-gc-verification-canary-retain");
    assert!(
        stack
            .iter()
            .any(|l| l.trim() == format!("gc_verification.py:{call}")),
        "{text}"
    );
    // Node: the results are plain objects; the retainer path names the
    // planted global.
    let (name, line) = top_site(&text, "node-gc-verification-canary-retain");
    assert_eq!(name, "Object", "{line}");
    let retained = block(&text, "node-gc-verification-canary-retain")[1];
    assert!(retained.contains("global.retained"), "{text}");
}
