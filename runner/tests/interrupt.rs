//! Ctrl-C on the `memtest` binary, as a user sends it: SIGINT to the memtest
//! process alone (a terminal would also reach nothing else, since every child
//! runs in a process group of its own). Once during the build, against a fake
//! cargo that leaves a grandchild, and once while suites run. Either way:
//! exit 130, and no child process left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A small memtest.toml in `dir`: no scripts of the repository, no real build.
fn config(dir: &Path, suites: &str) {
    let text = format!(
        "[build]\npackage = \"pyjamaz\"\nlib = \"pyjamaz\"\nlib_env = \"PYJAMAZ_LIB_PATH\"\n\
         [defaults]\ngrace = \"500ms\"\n\
         [runtimes.python]\nkind = \"python\"\nprogram = \"python3\"\n{suites}"
    );
    std::fs::write(dir.join("memtest.toml"), text).unwrap();
}

fn spawn(dir: &Path, args: &[&str], cargo: Option<&Path>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memtest"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cargo) = cargo {
        cmd.env("CARGO", cargo);
    }
    cmd.spawn().expect("memtest starts")
}

/// Polls `ready` for up to 20 s (the machine is shared).
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigint_and_wait(child: Child) -> (Output, Duration) {
    // SAFETY: kill only reads its arguments; the pid is our own live child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    (out, sent.elapsed())
}

/// Running and not a zombie (an orphaned zombie waits for a lazy init).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, r)| r.trim_start());
        !state.is_some_and(|s| s.starts_with('Z'))
    })
}

fn assert_gone(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "{what} ({pid}) outlived memtest");
}

fn pids_in(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn ctrl_c_during_the_build_stops_cargo_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("noop.py"), "").unwrap();
    config(
        dir.path(),
        "[[suite]]\nname = \"noop\"\nruntime = \"python\"\nscript = \"noop.py\"\n",
    );
    // A cargo that works slowly, with a child of its own (as rustc is).
    let pids = dir.path().join("cargo.pids");
    let fake = dir.path().join("fake-cargo");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nsleep 300 &\necho $$ $! > {}\nwait\n",
            pids.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let memtest = spawn(dir.path(), &["run"], Some(&fake));
    wait_until("the fake cargo", || pids_in(&pids).len() == 2);
    let (out, took) = sigint_and_wait(memtest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("error: interrupted during the build: no suite ran"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let [cargo, grandchild] = <[u32; 2]>::try_from(pids_in(&pids)).unwrap();
    assert_gone(cargo, "the fake cargo");
    assert_gone(grandchild, "cargo's child");
}

#[test]
fn ctrl_c_during_the_fixture_generator_stops_it_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("noop.py"), "").unwrap();
    let pids = dir.path().join("gen.pids");
    // No [build]: the generator is the only child before the suites. It
    // starts a child of its own, as `cargo run` does.
    let text = format!(
        "[defaults]\ngrace = \"500ms\"\n\
         [fixtures]\ncommand = [\"sh\", \"-c\", \"sleep 300 & echo $$ $! > {}; wait\"]\n\
         [runtimes.python]\nkind = \"python\"\nprogram = \"python3\"\n\
         [[suite]]\nname = \"noop\"\nruntime = \"python\"\nscript = \"noop.py\"\n",
        pids.display()
    );
    std::fs::write(dir.path().join("memtest.toml"), text).unwrap();

    let memtest = spawn(dir.path(), &["run"], None);
    wait_until("the generator", || pids_in(&pids).len() == 2);
    let (out, took) = sigint_and_wait(memtest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("error: interrupted during fixture generation: no suite ran"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let [generator, child] = <[u32; 2]>::try_from(pids_in(&pids)).unwrap();
    assert_gone(generator, "the generator");
    assert_gone(child, "the generator's child");
}

#[test]
fn ctrl_c_while_suites_run_writes_the_report_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("hanging.py"), dir.path().join("hanging.py")).unwrap();
    config(
        dir.path(),
        "[[suite]]\nname = \"hang\"\nruntime = \"python\"\nscript = \"hanging.py\"\n\
         [[suite]]\nname = \"later\"\nruntime = \"python\"\nscript = \"hanging.py\"\n",
    );
    // --no-build only needs the library to exist; no suite here loads it.
    let lib = dir.path().join(".memtest/lib/default/libpyjamaz.so");
    std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
    std::fs::write(&lib, "").unwrap();
    let json = dir.path().join("report.json");
    let script = dir.path().join("hanging.py").display().to_string();

    let memtest = spawn(
        dir.path(),
        &["run", "--no-build", "--json", json.to_str().unwrap()],
        None,
    );
    wait_until("the suite to start", || !running(&script).is_empty());
    // Time for it to start ignoring SIGTERM, so that only SIGKILL ends it.
    std::thread::sleep(Duration::from_millis(500));
    let suite = running(&script);
    let (out, took) = sigint_and_wait(memtest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    // The suite ignores SIGTERM: SIGKILL after the 500 ms grace ends it.
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(stderr.contains("INTERRUPTED: 2 suites"), "{stderr}");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("the report is JSON");
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["totals"]["interrupted"], 2);
    let suites = report["suites"].as_array().unwrap();
    assert!(
        suites.iter().all(|s| s["verdict"] == "interrupted"),
        "{report}"
    );
    for pid in suite {
        assert_gone(pid, "the suite");
    }
    assert!(running(&script).is_empty(), "a suite still runs");
}

/// Live processes whose command line mentions `needle` (the suite's
/// script: its log is only flushed when it ends).
fn running(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) && alive(pid) {
            found.push(pid);
        }
    }
    found
}
