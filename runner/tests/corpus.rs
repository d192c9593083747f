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
    let run = Command::new(&exe)
        .env("MEMTEST_CORPUS", &root)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
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
