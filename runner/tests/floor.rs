//! `memtest floor` end to end, on a tiny project: a C library that leaks
//! `MEMTEST_LEAK_BYTES` per call (malloc'd, written to, kept), called 100
//! times a run from a Python suite over ctypes. The suite's criterion is
//! synthetic with a known threshold: it reports as `native_leaks` the
//! kilobytes the library says it lost, so a run is caught exactly when
//! 100 calls lose 1000 bytes or more: at 10 bytes per call. The floor must
//! be found within 2x of that, with the criterion, the per-run figure and
//! the probe runs in the JSON; `--save` and `list --floors` must carry it;
//! and Ctrl-C in the middle of a search must stop it, leaving nothing.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const LIB_C: &str = r#"
#include <stdlib.h>
#include <string.h>
static long leaked;
void *volatile fake_sink;
long fake_leaked_bytes(void) { return leaked; }
void fake_call(void) {
    const char *bytes = getenv("MEMTEST_LEAK_BYTES");
    long n = bytes ? atol(bytes) : 0;
    if (n <= 0) return;
    char *p = malloc((size_t)n);
    memset(p, 0xA5, (size_t)n);
    fake_sink = p;
    leaked += n;
}
"#;

const SUITE_PY: &str = r#"
import ctypes, os, time
lib = ctypes.CDLL(os.environ["FAKE_LIB"])
lib.fake_leaked_bytes.restype = ctypes.c_long
print("MEMTEST progress=0", flush=True)
pace = float(os.environ.get("FAKE_PACE", "0"))
for i in range(100):
    lib.fake_call()
    time.sleep(pace)
print("MEMTEST progress=100", flush=True)
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
# The synthetic criterion: a counter that sees only whole kilobytes, and
# not a leak from plain malloc (`floor --heap c`), like a library's own.
if os.environ.get("MEMTEST_LEAK_HEAP") != "c":
    print(f"MEMTEST native_leaks={lib.fake_leaked_bytes() // 1000}", flush=True)
print("TEST PASSED", flush=True)
"#;

/// The project: the library built with cc, both variants the same file
/// (the leak only happens when the variable asks for it).
fn project(dir: &Path, sleep: &str) {
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(dir.join("libfake.so"))
        .arg("-x")
        .arg("c")
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut cc| {
            use std::io::Write;
            cc.stdin.take().unwrap().write_all(LIB_C.as_bytes())?;
            cc.wait()
        })
        .expect("cc runs");
    assert!(status.success(), "cc failed");
    std::fs::write(dir.join("suite.py"), SUITE_PY).unwrap();
    let text = format!(
        r#"
[build]
path = "libfake.so"
lib = "fake"
lib_env = "FAKE_LIB"
[build.variants.leaky]
path = "libfake.so"
[defaults]
grace = "500ms"
[runtimes.python]
kind = "python"
program = "python3"
[[suite]]
name = "tiny"
runtime = "python"
script = "suite.py"
env = {{ FAKE_SLEEP = "{sleep}" }}
canaries = [{{ variant = "leaky", env = {{ MEMTEST_LEAK_BYTES = "4096" }}, catches = ["native_leaks"] }}]
"#
    );
    std::fs::write(dir.join("memtest.toml"), text).unwrap();
}

fn memtest(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memtest"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("memtest runs")
}

#[test]
fn the_floor_of_a_synthetic_criterion_is_found_within_2x() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "0");
    // The canary (4 KiB a call) is caught: the project is sound.
    let out = memtest(dir.path(), &["run", "--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let json = dir.path().join("floor.json");
    let floors = dir.path().join("floors.json");
    let out = memtest(
        dir.path(),
        &[
            "floor",
            "tiny",
            "--jobs",
            "2",
            "--json",
            json.to_str().unwrap(),
            "--save",
            floors.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("tiny"), "{stdout}");
    assert!(
        stderr.contains("tiny.floor-clean"),
        "the clean run: {stderr}"
    );

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let tiny = &report["suites"]["tiny"];
    assert_eq!(tiny["result"], "floor", "{tiny}");
    assert_eq!(tiny["variant"], "leaky");
    let floor = tiny["bytes_per_call"].as_u64().unwrap();
    let missed = tiny["missed_bytes_per_call"].as_u64().unwrap();
    // The true threshold is 10 bytes a call.
    assert!((10..=20).contains(&floor), "floor {floor} B/call: {tiny}");
    assert!(
        missed < 10 && floor <= 2 * missed,
        "{missed}..{floor}: {tiny}"
    );
    assert_eq!(tiny["caught_by"], serde_json::json!(["native_leaks"]));
    assert_eq!(tiny["operations"], 100);
    assert_eq!(tiny["bytes_per_run"], floor * 100);
    let probes = tiny["probes"].as_array().unwrap();
    assert!(probes.iter().all(|p| p["runs"] == 2), "{tiny}");
    for p in probes {
        let size = p["bytes_per_call"].as_u64().unwrap();
        assert_eq!(p["caught"], size >= 10, "probe {p}");
    }

    let out = memtest(dir.path(), &["list", "--floors", floors.to_str().unwrap()]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{listed}");
    assert!(
        listed.contains(&format!("{floor} B/call (native_leaks)")),
        "{listed}"
    );

    // `run --floors` shows the floor beside the verdict, console and JSON.
    let phrase = format!("would catch ≥ {floor} B/call (native_leaks)");
    let report = dir.path().join("run.json");
    let floors_arg = floors.to_str().unwrap();
    let run_args = ["run", "tiny", "--floors", floors_arg, "--json"];
    let out = memtest(
        dir.path(),
        &[&run_args[..], &[report.to_str().unwrap()]].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&phrase), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let suite = &json["suites"][0];
    assert_eq!(suite["floor"]["bytes_per_call"], floor, "{suite}");

    // A max_floor below the floor: `run --floors` and `floor` both fail it.
    let toml = dir.path().join("memtest.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replace(
        "script = \"suite.py\"\n",
        "script = \"suite.py\"\nlimits = { max_floor = \"4B\" }\n",
    );
    std::fs::write(&toml, text).unwrap();
    let out = memtest(
        dir.path(),
        &[&run_args[..], &[report.to_str().unwrap()]].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let failure = format!("detection floor {floor} B/call, limit 4 B/call");
    assert!(stderr.contains(&failure), "{stderr}");
    let out = memtest(dir.path(), &["floor", "tiny", "--jobs", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL tiny: detection floor"), "{stdout}");
    assert!(stdout.contains("limit 4 B/call"), "{stdout}");
}

#[test]
fn ctrl_c_stops_the_search_and_leaves_no_suite_running() {
    let dir = tempfile::tempdir().unwrap();
    // Each run sleeps: the search is still going when SIGINT comes.
    project(dir.path(), "3");
    let json = dir.path().join("floor.json");
    let child = Command::new(env!("CARGO_BIN_EXE_memtest"))
        .args(["floor", "tiny", "--json", json.to_str().unwrap()])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = dir.path().join(".memtest/logs");
    let probe_started = || {
        std::fs::read_dir(&logs).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().contains("floor-1B"))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe_started() {
        assert!(Instant::now() < deadline, "no probe started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill only reads its arguments; the pid is our own live child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "{:?}",
        sent.elapsed()
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["suites"]["tiny"]["result"], "interrupted");
    // No later probe was started after the interrupt.
    let later = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains("floor-8B"));
    assert!(!later, "the search went on after Ctrl-C");
    // Nothing of the suite is left.
    let script = dir.path().join("suite.py").display().to_string();
    let deadline = Instant::now() + Duration::from_secs(3);
    while running(&script) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!running(&script), "a probe still runs");
}

/// A live, non-zombie process whose command line mentions `needle`.
fn running(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        !zombie && String::from_utf8_lossy(&cmdline).contains(needle)
    })
}

/// One `floor --heap c` search of the tiny suite; its JSON record.
fn rss_only_search(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let json = dir.join("floor.json");
    let mut args = vec!["floor", "tiny", "--heap", "c", "--jobs", "2"];
    args.extend_from_slice(extra);
    args.extend(["--json", json.to_str().unwrap()]);
    let out = memtest(dir, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let tiny = report["suites"]["tiny"].clone();
    assert_eq!(tiny["result"], "floor", "{tiny}");
    let floor = tiny["bytes_per_call"].as_u64().unwrap();
    // 8 MB over 100 calls: caught from ~80 KB a call, on rss_growth.
    assert!((40_000..=200_000).contains(&floor), "floor {floor}: {tiny}");
    assert!(
        tiny["caught_by"].to_string().contains("rss_growth"),
        "{tiny}"
    );
    tiny
}

/// With the leak behind the library's count (`--heap c`), only RSS can see
/// it, and the search starts from the clean run's headroom under the RSS
/// limit instead of at 1 byte: 8 MB of room over 100 calls bounds the floor
/// at ~80 KB a call, and the first probe is the middle of [1 B, 80 KB] on a
/// log scale (~280 B). The floor is the same answer as a search from
/// `--start 1` finds (within its 2x), in fewer probes.
#[test]
fn an_rss_only_search_starts_from_the_clean_runs_headroom() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), "0.3");
    let toml = dir.path().join("memtest.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replace(
        "script = \"suite.py\"\n",
        "script = \"suite.py\"\nlimits = { rss_growth = \"8MB\" }\n",
    );
    // The calls spread over half a second, so the samples see RSS climb.
    let text = text.replace(
        "FAKE_SLEEP = \"0.3\"",
        "FAKE_SLEEP = \"0.3\", FAKE_PACE = \"0.005\"",
    );
    std::fs::write(&toml, text).unwrap();
    let from_headroom = rss_only_search(dir.path(), &[]);
    let probes = from_headroom["probes"].as_array().unwrap();
    let first = probes[0]["bytes_per_call"].as_u64().unwrap();
    assert!(
        (150..=600).contains(&first),
        "first probe {first} B/call, the root of ~80 KB: {from_headroom}"
    );
    let from_one = rss_only_search(dir.path(), &["--start", "1"]);
    let baseline = from_one["probes"].as_array().unwrap();
    assert_eq!(baseline[0]["bytes_per_call"], 1);
    assert!(
        probes.len() < baseline.len(),
        "{} probes from the headroom, {} from 1 byte",
        probes.len(),
        baseline.len()
    );
}
