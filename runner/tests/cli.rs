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
        table.contains("rust-memory-leak-canary-leaky") && !table.contains("rust-memory-leak "),
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
    let broken = text.replacen(
        "\n[defaults]\n",
        "\n[defaults]\nsample_intervall = \"10ms\"\n",
        1,
    );
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
    // not exist there, so keep only a rust suite (and no overrides, which
    // would select nothing).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("memtest.toml")).unwrap();
    let head = text.split("\n[[overrides]]").next().unwrap();
    // Its [fixtures] generator's inputs are not there either.
    let (before, after) = head.split_once("[fixtures]").unwrap();
    let head = format!("{before}{}", &after[after.find("\n[").unwrap()..]);
    let config = format!("{head}\n[suites.only]\ntest = \"memory_leak\"\n");
    std::fs::write(dir.path().join("memtest.toml"), config).unwrap();
    let out = memtest(&["run", "--no-build"], dir.path());
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run once without --no-build"),
        "{}",
        stderr(&out)
    );
}

/// A project with no build, one python suite and the fixture generator
/// `command` (a shell line), in a fresh folder.
fn fixture_project(command: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("noop.py"), "print('TEST PASSED')\n").unwrap();
    let text = format!(
        "[fixtures]\ncommand = [\"sh\", \"-c\", \"{command}\"]\n\
         [runtimes.python]\nkind = \"python\"\nprogram = \"python3\"\n\
         [[suite]]\nname = \"noop\"\nruntime = \"python\"\nscript = \"noop.py\"\n"
    );
    std::fs::write(dir.path().join("memtest.toml"), text).unwrap();
    dir
}

#[test]
fn a_failing_fixture_generator_exits_3_with_its_stderr_before_any_suite() {
    let dir = fixture_project("echo making tiny.png; echo gen broke: bad seed >&2; exit 1");
    let out = memtest(&["run"], dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("the fixture generator failed"), "{err}");
    assert!(
        err.contains("gen broke: bad seed"),
        "the stderr tail: {err}"
    );
    assert!(!err.contains("noop"), "no suite ran: {err}");
}

#[test]
fn the_fixtures_command_generates_once_and_prints_the_folder() {
    let dir = fixture_project(
        "echo x >> ${root}/runs; mkdir -p ${fixtures}; echo data > ${fixtures}/in.bin",
    );
    let fx = dir.path().join(".memtest/fixtures");
    for _ in 0..2 {
        let out = memtest(&["fixtures"], dir.path());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            fx.display().to_string()
        );
    }
    assert_eq!(
        std::fs::read_to_string(fx.join("in.bin")).unwrap(),
        "data\n"
    );
    let runs = std::fs::read_to_string(dir.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "the second call used the cache");
}

#[test]
fn the_builtin_ci_profile_runs_a_config_that_defines_no_profiles() {
    // A foreign project's first `run --profile ci`: its suite passes only
    // when it is given the built-in profile's scale.
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[runtimes.sh]
kind = "command"

[suites.scaled]
runtime = "sh"
command = ["sh", "-c", "test \"$MEMTEST_SCALE\" = 0.1 && echo 'TEST PASSED'"]
"#;
    let path = dir.path().join("project.toml");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap();
    let out = memtest(&["--config", path, "run", "--profile", "ci"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plain = memtest(&["--config", path, "run"], dir.path());
    assert_eq!(plain.status.code(), Some(1), "scale 1 without the profile");

    let show = memtest(
        &[
            "--config",
            path,
            "--profile",
            "soak",
            "show",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show is JSON");
    let scale = &json["scaled"]["settings"]["scale"];
    assert_eq!(scale["value"], "10");
    assert_eq!(scale["source"], "profile soak (built-in)");
}
