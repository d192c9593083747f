//! memtest as a user gets it: `cargo install --path <repo>/runner` into a
//! fresh folder outside the repository, then that binary, run from outside
//! the repository too, on copies of examples/c-library. With its memtest.toml
//! the copy is a project that has adopted memtest: `memtest init` leaves the
//! config alone and `memtest all --profile ci` passes, every canary caught.
//! Without it the copy is a project adopting memtest: `memtest init` writes a
//! config `memtest check` accepts and its starter suite passes (its canary
//! waits for the TODO only the user can fill in: which library call to make).
//! The suite helpers must come from inside the binary: nothing the installed
//! memtest runs may point back into this checkout.
//!
//! Slow: a cold install compiles the runner and its dependencies (minutes on
//! 2 cores; warm, seconds), so it is `#[ignore]`d and `scripts/test.sh --full`
//! runs it: `cargo test -p runner --test install -- --ignored`. The build goes
//! to target/install-test (MEMTEST_INSTALL_TARGET_DIR overrides), kept warm
//! between runs and apart from the test build's own target folder.

mod common;

use common::text;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Copies the example without its build outputs, memtest's state and the
/// files named in `skip`; its npm packages too when present (else the node
/// runtime's setup installs them from the lockfile).
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name_str = name.to_str().unwrap();
        if ["build", ".memtest"].contains(&name_str) || skip.contains(&name_str) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst, &[]);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn totals_of(json: &Path) -> serde_json::Value {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("a JSON report")).unwrap();
    report["totals"].clone()
}

fn install(root: &Path) -> PathBuf {
    let target = std::env::var_os("MEMTEST_INSTALL_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/install-test"));
    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["install", "--locked", "--debug", "--quiet", "--path"])
        .arg(repo().join("runner"))
        .arg("--root")
        .arg(root.join("inst"))
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo install failed:\n{}",
        text(&out)
    );
    println!(
        "cargo install --debug took {:.1} s (target {})",
        started.elapsed().as_secs_f64(),
        target.display()
    );
    let memtest = root.join("inst/bin/memtest");
    assert!(memtest.is_file(), "{} missing", memtest.display());
    memtest
}

#[test]
#[ignore = "slow: cargo install; scripts/test.sh --full runs it"]
fn an_installed_memtest_runs_a_copy_of_the_c_library_example() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    assert!(
        !root.starts_with(repo().canonicalize().unwrap()),
        "the temp folder must be outside the repository"
    );
    let memtest = install(&root);
    let run = |cwd: &Path, args: &[&str]| -> Output {
        Command::new(&memtest)
            .args(args)
            .current_dir(cwd)
            .env("NO_COLOR", "1")
            .output()
            .expect("the installed memtest runs")
    };

    let version = run(&root, &["--version"]);
    assert!(text(&version).contains(env!("CARGO_PKG_VERSION")));

    // Adopted: the example as it ships.
    let project = root.join("c-library");
    copy_tree(&repo().join("examples/c-library"), &project, &[]);
    // MEMTEST_HELPERS ?= ../../runner/helpers in the Makefile reaches this
    // checkout from the example's own place; from the copy it reaches
    // nothing, so the C suite compiles only with the helpers memtest wrote.
    assert!(!project.join("../../runner/helpers").exists());
    let config = std::fs::read_to_string(project.join("memtest.toml")).unwrap();
    let init = run(&project, &["init"]);
    assert_eq!(init.status.code(), Some(2), "{}", text(&init));
    assert!(text(&init).contains("already exists"), "{}", text(&init));
    assert_eq!(
        std::fs::read_to_string(project.join("memtest.toml")).unwrap(),
        config
    );

    let json = root.join("c-library.json");
    let started = Instant::now();
    let all = run(
        &project,
        &["all", "--profile", "ci", "--json", json.to_str().unwrap()],
    );
    println!(
        "memtest all on the copy took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    let totals = totals_of(&json);
    assert_eq!(
        (
            totals["passed"].as_u64(),
            totals["canary_caught"].as_u64(),
            totals["failed"].as_u64()
        ),
        // Three suites; their three leaky-build canaries and c-memory's
        // canary on the uncounted strdup build (RSS only).
        (Some(3), Some(4), Some(0)),
        "{totals}"
    );
    let helpers = project.join(".memtest/helpers");
    for file in [
        "python/memtest_suite.py",
        "node/memtest-suite.js",
        "c/memtest.h",
    ] {
        assert!(helpers.join(file).is_file(), "{file} not written");
    }

    // Adopting: the same project before it had a memtest.toml.
    let fresh = root.join("c-library-fresh");
    copy_tree(
        &repo().join("examples/c-library"),
        &fresh,
        &["memtest.toml"],
    );
    let init = run(&fresh, &["init"]);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    assert!(
        text(&init).contains("Makefile (library `intern`)"),
        "{}",
        text(&init)
    );
    let check = run(&fresh, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let json = root.join("fresh.json");
    let starter = run(
        &fresh,
        &[
            "run",
            "--exclude-tag",
            "canary",
            "--profile",
            "ci",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(starter.status.code(), Some(0), "{}", text(&starter));
    let totals = totals_of(&json);
    assert_eq!(
        (totals["passed"].as_u64(), totals["failed"].as_u64()),
        (Some(1), Some(0)),
        "{totals}"
    );
}
