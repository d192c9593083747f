//! `memtest hook install|uninstall` end to end, in throw-away git
//! repositories: the real binary writes the hook, a real `git commit` runs
//! it, and the hook's memtest run decides whether the commit happens. The
//! project is one memtest.toml with a trivial Python suite tagged `fast`
//! (and a `long` one the hook must not run), so a commit takes seconds.

mod common;

use common::text;

use std::path::Path;
use std::process::{Command, Output};

const CONFIG: &str = r#"
[runtimes.python]
kind = "python"
program = "python3"

[[suite]]
name = "quick-suite"
runtime = "python"
script = "suites/quick.py"
tags = ["fast"]
timeout = "60s"

[[suite]]
name = "slow-suite"
runtime = "python"
script = "suites/slow.py"
tags = ["long"]
timeout = "60s"

[profiles.ci]
"#;

/// Passes unless a file named BROKEN sits at the project's top.
const QUICK: &str = r#"
import pathlib, sys
if (pathlib.Path(__file__).resolve().parent.parent / "BROKEN").exists():
    print("quick-suite: BROKEN is here")
    sys.exit(1)
print("quick-suite ran")
print("TEST PASSED")
"#;

const SLOW: &str = "print('slow-suite ran')\nprint('TEST PASSED')\n";

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A command isolated from the developer's git settings and from any
/// repository around the temp folder (the tests' repositories are inside it).
fn isolated(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CEILING_DIRECTORIES", std::env::temp_dir())
        .env("GIT_AUTHOR_NAME", "memtest test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "memtest test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("NO_COLOR", "1")
        .env_remove("MEMTEST");
    cmd
}

fn git(dir: &Path, args: &[&str]) -> Output {
    isolated("git", dir).args(args).output().expect("git runs")
}

fn memtest(dir: &Path, args: &[&str]) -> Output {
    isolated(env!("CARGO_BIN_EXE_memtest"), dir)
        .args(args)
        .output()
        .expect("memtest runs")
}

fn commits(dir: &Path) -> usize {
    let out = git(dir, &["rev-list", "--count", "--all"]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// A git repository holding the project, nothing committed yet.
fn project() -> Option<tempfile::TempDir> {
    if !on_path("git") || !on_path("python3") {
        println!("skipped: git and python3 must be on PATH");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let init = git(root, &["init", "-q"]);
    assert!(init.status.success(), "{}", text(&init));
    std::fs::create_dir_all(root.join("suites")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("memtest.toml"), CONFIG).unwrap();
    std::fs::write(root.join("suites/quick.py"), QUICK).unwrap();
    std::fs::write(root.join("suites/slow.py"), SLOW).unwrap();
    std::fs::write(root.join("src/lib.c"), "int f(void) { return 1; }\n").unwrap();
    std::fs::write(root.join(".gitignore"), ".memtest/\n").unwrap();
    Some(dir)
}

fn hook_path(root: &Path) -> std::path::PathBuf {
    root.join(".git/hooks/pre-commit")
}

#[test]
fn the_hook_runs_the_fast_tier_and_a_failing_suite_blocks_the_commit() {
    let Some(dir) = project() else { return };
    let root = dir.path();

    // From a subfolder: memtest.toml is found above and named from the top.
    let out = memtest(&root.join("src"), &["hook", "install"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("pre-commit"), "{}", text(&out));
    let hook = std::fs::read_to_string(hook_path(root)).unwrap();
    assert!(
        hook.contains("--config memtest.toml --profile ci run --tag fast"),
        "{hook}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(hook_path(root))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable");
    }

    // A clean tree: the hook runs the fast suite (only), the commit happens.
    git(root, &["add", "-A"]);
    let commit = git(root, &["commit", "-q", "-m", "first"]);
    let said = text(&commit);
    assert!(commit.status.success(), "{said}");
    assert!(
        said.contains(
            "memtest pre-commit hook: memtest --config memtest.toml --profile ci run --tag fast"
        ),
        "{said}"
    );
    assert!(said.contains("quick-suite"), "the fast suite ran:\n{said}");
    assert!(!said.contains("slow-suite"), "only the fast tier:\n{said}");
    assert_eq!(commits(root), 1);

    // A failing fast suite: memtest exits 1 and git refuses the commit.
    std::fs::write(root.join("BROKEN"), "").unwrap();
    git(root, &["add", "-A"]);
    let commit = git(root, &["commit", "-q", "-m", "second"]);
    let said = text(&commit);
    assert!(!commit.status.success(), "the commit went through:\n{said}");
    assert!(said.contains("quick-suite"), "{said}");
    assert_eq!(commits(root), 1, "no second commit");

    // Uninstalled: the same commit goes through without memtest.
    let out = memtest(root, &["hook", "uninstall"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!hook_path(root).exists());
    let commit = git(root, &["commit", "-q", "-m", "second"]);
    assert!(commit.status.success(), "{}", text(&commit));
    assert!(!text(&commit).contains("memtest"), "{}", text(&commit));
    assert_eq!(commits(root), 2);
    let again = memtest(root, &["hook", "uninstall"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        text(&again).contains("nothing to remove"),
        "{}",
        text(&again)
    );
}

#[test]
fn another_tier_by_tag_and_profile() {
    let Some(dir) = project() else { return };
    let root = dir.path();
    let out = memtest(
        root,
        &["--profile", "ci", "hook", "install", "--tag", "long"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    git(root, &["add", "-A"]);
    let commit = git(root, &["commit", "-q", "-m", "first"]);
    let said = text(&commit);
    assert!(commit.status.success(), "{said}");
    assert!(
        said.contains("slow-suite") && !said.contains("quick-suite"),
        "{said}"
    );

    // A profile the config does not have: refused when installing, not at
    // every commit.
    let out = memtest(root, &["--profile", "nope", "hook", "install"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("nope"), "{}", text(&out));
}

#[test]
fn a_hook_memtest_did_not_write_is_never_lost() {
    let Some(dir) = project() else { return };
    let root = dir.path();
    let mine = "#!/bin/sh\necho my own hook\n";
    std::fs::create_dir_all(hook_path(root).parent().unwrap()).unwrap();
    std::fs::write(hook_path(root), mine).unwrap();

    let out = memtest(root, &["hook", "install"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("did not write it") && said.contains("--force"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(hook_path(root)).unwrap(), mine);

    let out = memtest(root, &["hook", "uninstall"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("left alone"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(hook_path(root)).unwrap(), mine);

    // --force keeps it beside ours; uninstall puts it back.
    let out = memtest(root, &["hook", "install", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let backup = root.join(".git/hooks/pre-commit.before-memtest");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), mine);
    assert!(std::fs::read_to_string(hook_path(root))
        .unwrap()
        .contains("memtest-hook"));
    // Installing again over its own hook needs no --force.
    let out = memtest(root, &["hook", "install"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = memtest(root, &["hook", "uninstall"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(hook_path(root)).unwrap(), mine);
    assert!(!backup.exists());
}

#[test]
fn outside_a_git_repository_is_a_clear_error() {
    if !on_path("git") {
        println!("skipped: no git on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("memtest.toml"), CONFIG).unwrap();
    for args in [&["hook", "install"][..], &["hook", "uninstall"]] {
        let out = memtest(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("is not inside a git work tree"),
            "{args:?}: {}",
            text(&out)
        );
    }
}
