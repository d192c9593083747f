//! The `memtest` binary's edges: exit codes and the machine-readable outputs
//! of `check`, `list` and `matrix` on this repository's memtest.toml, and on
//! broken copies of it. Nothing here builds the library or runs a suite.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::memtest;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_list_and_matrix_work_from_a_subdirectory() {
    // The config is found by walking up from the current directory.
    let cwd = repo().join("runner/src");
    let check = memtest(&["check"], &cwd);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains("memtest.toml: ok"));

    let list = memtest(&["list", "--tag", "canary"], &cwd);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let table = String::from_utf8_lossy(&list.stdout);
    assert!(
        table.contains("rust-canary-leak") && !table.contains("rust-memory-leak "),
        "{table}"
    );

    let matrix = memtest(&["matrix", "--by", "runtime"], &cwd);
    assert_eq!(matrix.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&matrix.stdout).expect("matrix is JSON");
    let include = json["include"].as_array().unwrap();
    assert!(
        include
            .iter()
            .any(|e| e["name"] == "rust" && e["args"] == "--runtime rust"),
        "{json}"
    );
}

#[test]
fn usage_and_config_errors_exit_2_before_anything_runs() {
    let root = repo();
    for args in [
        &["run", "no-such-suite"][..],
        &["--profile", "no-such-profile", "run"],
        &["--wrapper", "no-such-wrapper", "run"],
        &["run", "--partition", "0/2"],
        &["frobnicate"],
    ] {
        let out = memtest(args, &root);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error"), "{args:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root.join("memtest.toml")).unwrap();
    let broken = text.replacen("[defaults]", "[defaults]\nsample_intervall = \"10ms\"", 1);
    std::fs::write(dir.path().join("memtest.toml"), broken).unwrap();
    let out = memtest(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown field `sample_intervall`"), "{err}");
    assert!(err.contains("memtest.toml:"), "located: {err}");

    let empty = tempfile::tempdir().unwrap();
    let out = memtest(&["check"], empty.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no memtest.toml"), "{}", stderr(&out));
}

#[test]
fn no_build_without_a_previous_build_exits_3() {
    // A copy of the repository's config in an empty folder: its scripts do
    // not exist there, so keep only a rust suite.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("memtest.toml")).unwrap();
    let head = text.split("[[suite]]").next().unwrap();
    let config =
        format!("{head}[[suite]]\nname = \"only\"\nruntime = \"rust\"\ntest = \"memory_leak\"\n");
    std::fs::write(dir.path().join("memtest.toml"), config).unwrap();
    let out = memtest(&["run", "--no-build"], dir.path());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run once without --no-build"),
        "{}",
        stderr(&out)
    );
}
