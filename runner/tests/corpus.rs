//! Corpus mode end to end, on the repository's own corpus suites (Rust API,
//! Node, Python): a corpus of 200 generated files (seed 7, not the fixture
//! folder's seed 1) streamed through each with `run --corpus DIR`, every
//! file's outcome counted as the generator says it must be, and the leaky
//! core's canaries failing on every file.
//!
//! `#[ignore]`d: it builds the core (clean and leaky) and runs six suites
//! (~1 min warm); scripts/test.sh runs it:
//! `cargo test -p runner --test corpus -- --ignored`.

mod common;

use common::memtest;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// What the generator says it wrote: (files, valid, broken, mutated).
fn generate(out: &Path, count: u32, seed: u64) -> (u64, u64, u64, u64) {
    let count = count.to_string();
    let seed = seed.to_string();
    let args = [
        "run",
        "--release",
        "--quiet",
        "-p",
        "pyjamaz-fixtures",
        "--",
        "corpus",
        "--count",
        &count,
        "--seed",
        &seed,
        "--out",
    ];
    let done = Command::new("cargo")
        .args(args)
        .arg(out)
        .current_dir(repo())
        .output()
        .expect("cargo runs");
    let text = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(
        done.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let field = |name: &str| -> u64 {
        let key = format!("{name}=");
        let at = text
            .find(&key)
            .unwrap_or_else(|| panic!("no {name} in {text}"));
        let rest = &text[at + key.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (
        field("files"),
        field("valid"),
        field("broken"),
        field("mutated"),
    )
}

fn figure(suite: &Value, name: &str) -> u64 {
    suite["reported"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("{} reported no {name}", suite["name"])) as u64
}

#[test]
#[ignore = "builds the core and runs the corpus suites; scripts/test.sh runs it"]
fn every_file_of_a_generated_corpus_gets_its_outcome_and_the_leaky_core_fails_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let (files, valid, broken, mutated) = generate(&corpus, 200, 7);
    assert_eq!(files, 200);
    assert!(
        broken >= 10 && mutated >= 2,
        "a corpus with too few bad files proves little"
    );
    let json = dir.path().join("corpus.json");
    let out = memtest(
        &[
            "run",
            "--tag",
            "corpus",
            "--profile",
            "ci",
            "--corpus",
            corpus.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        &repo(),
    );
    // The console lines go to stderr (stdout is kept for a report on `-`).
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let suites = report["suites"].as_array().unwrap();
    let mut clean_counts = Vec::new();
    for runtime in ["rust", "node", "python"] {
        let name = format!("{runtime}-corpus");
        let find = |n: &str| {
            suites
                .iter()
                .find(|s| s["name"] == n)
                .unwrap_or_else(|| panic!("no {n}"))
        };
        let suite = find(&name);
        assert_eq!(suite["verdict"], "passed", "{name}");
        let ok = figure(suite, "corpus_ok");
        let decode = figure(suite, "corpus_decode_errors");
        assert_eq!(
            figure(suite, "corpus_files"),
            files,
            "{name}: every file, once"
        );
        assert_eq!(
            (
                figure(suite, "corpus_leaks"),
                figure(suite, "corpus_crashes")
            ),
            (0, 0),
            "{name}"
        );
        assert_eq!(ok + decode, files, "{name}");
        // Valid files optimize, broken ones fail to decode, mutated ones
        // go either way.
        assert!(
            ok >= valid && ok <= valid + mutated,
            "{name}: {ok} ok of {valid} valid"
        );
        assert!(
            decode >= broken && decode <= broken + mutated,
            "{name}: {decode} decode errors"
        );
        clean_counts.push((ok, decode));
        assert!(
            text.contains(&format!("{name} ({runtime}): ")) && text.contains("corpus 200 files: "),
            "the console line shows the counts: {text}"
        );

        let canary = find(&format!("{name}-canary-leaky"));
        assert_eq!(canary["verdict"], "canary_caught", "{name}'s canary");
        // The leaky core leaks a copy of every input it is given, decoded
        // or not (the bindings refuse an empty one before calling it).
        assert_eq!(figure(canary, "corpus_ok"), 0, "{name}'s canary");
        assert!(
            figure(canary, "corpus_leaks") >= files - broken,
            "{name}'s canary: {} leaks",
            figure(canary, "corpus_leaks")
        );
        assert!(figure(canary, "native_leaks") >= files, "{name}'s canary");
    }
    // One core: the three bindings agree on every file.
    assert!(
        clean_counts.windows(2).all(|w| w[0] == w[1]),
        "{clean_counts:?}"
    );
}

/// The C helper's walk and tally, compiled with the system's cc.
#[test]
fn the_c_helper_walks_nested_folders_lazily_and_reports_the_counts() {
    let on_path = |p: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    if !on_path("cc") {
        eprintln!("skipped: no cc");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("corpus");
    for f in ["top.png", "a/one.jpg", "a/b/two.gif", "a/b/three.bin"] {
        let path = root.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, f).unwrap();
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
    let program = r#"
#include "memtest.h"
#include "memtest_corpus.h"
int main(void) {
    memtest_corpus_walk walk;
    memtest_corpus_tally tally = {{0}};
    const char *path;
    MEMTEST_CHECK(memtest_corpus_open(&walk, memtest_corpus_dir()) == 0, "no corpus");
    while ((path = memtest_corpus_next(&walk)) != NULL) {
        int outcome = strstr(path, ".bin") ? MEMTEST_CORPUS_DECODE_ERROR
                    : strstr(path, ".gif") ? MEMTEST_CORPUS_LEAK : MEMTEST_CORPUS_OK;
        printf("file %s\n", path);
        {
            char said[4096] = "";
            FILE *f = fopen(getenv("MEMTEST_INPUT_FILE"), "r");
            if (f) { if (!fgets(said, sizeof said, f)) said[0] = 0; fclose(f); }
            printf("said %s", said);
        }
        memtest_corpus_record(&tally, path, outcome, "planted");
    }
    memtest_corpus_close(&walk);
    memtest_corpus_report(&tally);
    MEMTEST_CHECK(memtest_corpus_failed(&tally) == 0, "%lu files leaked or crashed", memtest_corpus_failed(&tally));
    return memtest_finish("corpus");
}
"#;
    let source = dir.path().join("walk.c");
    std::fs::write(&source, program).unwrap();
    let exe = dir.path().join("walk");
    let helpers = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/c");
    let built = Command::new("cc")
        .args(["-std=c99", "-D_DEFAULT_SOURCE", "-Wall", "-Werror", "-I"])
        .arg(&helpers)
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg("-lm")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let said = dir.path().join("walk.input");
    let run = Command::new(&exe)
        .env("MEMTEST_CORPUS", &root)
        .env("MEMTEST_INPUT_FILE", &said)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    for pair in lines.windows(2) {
        if let Some(file) = pair[0].strip_prefix("file ") {
            assert_eq!(
                pair[1],
                format!("said {file}"),
                "each file said before it is worked on: {out}"
            );
        }
    }
    assert!(
        !said.exists(),
        "memtest_corpus_close removes the input file"
    );
    let mut files: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("file "))
        .map(|p| p.strip_prefix(root.to_str().unwrap()).unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["/a/b/three.bin", "/a/b/two.gif", "/a/one.jpg", "/top.png"],
        "{out}"
    );
    for line in [
        "MEMTEST corpus_files=4",
        "MEMTEST corpus_ok=2",
        "MEMTEST corpus_decode_errors=1",
        "MEMTEST corpus_leaks=1",
        "MEMTEST corpus_crashes=0",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} in {out}");
    }
    assert!(
        out.contains("corpus leak: ") && out.contains("two.gif: planted"),
        "{out}"
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "a leaking file fails the suite: {out}"
    );
    assert!(!out.contains("TEST PASSED"), "{out}");
}

/// The suites of that project (after [`common::INTERPRETERS`]).
const KILLED_SUITES: &str = r#"
[[suite]]
name = "py-segv"
runtime = "python"
script = "walk.py"
corpus = "corpus"
env = { PLANT = "segv" }

[[suite]]
name = "py-hang"
runtime = "python"
script = "walk.py"
corpus = "corpus"
timeout = "3s"
env = { PLANT = "hang" }

[[suite]]
name = "js-segv"
runtime = "node"
script = "walk.js"
corpus = "corpus"
env = { PLANT = "segv" }

[[suite]]
name = "py-clean"
runtime = "python"
script = "walk.py"
corpus = "corpus"
"#;

/// Walks the corpus with the helper and dies on b.bin as PLANT says.
const WALK_PY: &str = r#"import os, signal, time
import memtest_suite as m
import memtest_corpus as mc

PLANT = os.environ.get("PLANT", "")

def main():
    tally = mc.Tally()
    for path in mc.corpus_files(mc.corpus_dir()):
        if path.name == "b.bin" and PLANT == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if path.name == "b.bin" and PLANT == "hang":
            time.sleep(3600)
        tally.record(path, "ok", "")
    tally.report()
    tally.check()

m.run(main)
"#;

const WALK_JS: &str = r#"const path = require('node:path');
const m = require('memtest-suite');
const mc = require('memtest-corpus');
m.run(() => {
  const tally = new mc.Tally();
  for (const file of mc.corpusFiles(mc.corpusDir())) {
    if (path.basename(file) === 'b.bin') process.kill(process.pid, 'SIGSEGV');
    tally.record(file, 'ok', '');
  }
  tally.report();
  tally.check();
});
"#;

/// A suite killed by a signal, or for its timeout, is reported with the
/// corpus file it was on (the helpers' walks write it to MEMTEST_INPUT_FILE
/// before each file); a walk that ends leaves no such file behind.
#[test]
fn a_killed_corpus_suite_is_reported_with_the_file_it_was_on() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "memtest.toml",
            &format!("{}{KILLED_SUITES}", common::INTERPRETERS)[..],
        ),
        ("walk.py", WALK_PY),
        ("walk.js", WALK_JS),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    for f in ["a.png", "b.bin", "c.jpg"] {
        std::fs::write(corpus.join(f), f).unwrap();
    }
    let out = memtest(&["run", "--jobs", "2"], dir.path());
    let all = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let said = format!(
        "the suite was on {} when it ended",
        corpus.join("b.bin").display()
    );
    assert_eq!(
        all.matches(&said).count(),
        3,
        "py-segv, py-hang, js-segv: {all}"
    );
    assert!(all.contains("killed by signal 11 (SIGSEGV)"), "{all}");
    assert!(all.contains("timed out after 3.0s"), "{all}");
    assert!(all.contains("PASS") && all.contains("py-clean"), "{all}");
    let left: Vec<_> = walkdir(&dir.path().join(".memtest"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "input"))
        .collect();
    assert!(
        left.iter()
            .all(|p| !p.to_string_lossy().contains("py-clean")),
        "the clean walk removed its input file: {left:?}"
    );
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}
