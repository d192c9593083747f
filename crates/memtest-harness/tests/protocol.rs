//! protocol: the harness's whole output protocol, as memtest reads it, from
//! a suite with a project error type and `Extra` state of its own (the way
//! another project would use the crate).
//!
//! A plain `main` (harness = false): it re-runs itself as a child process in
//! one mode per scenario, and checks the child's lines and exit status:
//! passing suites print `TEST PASSED` and exit 0; leaks (own or foreign) and
//! panics print `FAIL` and the leak figures and exit 1; an unusable
//! environment exits 2 before any test.

use memtest_harness::{
    ensure, no_warm_up, CountingAlloc, Ctx, Error, Extra, Harness, Leak, LeakTally, Snapshot,
    Suite, Test,
};
use std::process::{Command, ExitCode, Output};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new();

/// Not installed anywhere: a harness handed this one must refuse to run.
static NOT_GLOBAL: CountingAlloc = CountingAlloc::new();

const MODE_ENV: &str = "PROTOCOL_CHILD";
const SETUP_ENV: &str = "PROTOCOL_SETUP";
const LEAK_BYTES: usize = 4096;

/// The project's own error type.
#[derive(Debug, thiserror::Error)]
#[error("service {name} unreachable")]
struct ServiceDown {
    name: &'static str,
}

impl From<ServiceDown> for Error<ServiceDown> {
    fn from(err: ServiceDown) -> Self {
        Error::Project(err)
    }
}

/// The project's suite state.
struct Service {
    endpoint: &'static str,
}

impl Extra for Service {
    fn describe(&self) -> String {
        format!("; service {}", self.endpoint)
    }
}

type ProjectSuite = Suite<ServiceDown, Service>;
type ProjectTest = Test<ServiceDown, Service>;
type ProjectCtx = Ctx<Service>;
type Result<T> = std::result::Result<T, Error<ServiceDown>>;

fn setup() -> Result<Service> {
    if std::env::var_os(SETUP_ENV).is_some() {
        return Err(ServiceDown { name: "cache" }.into());
    }
    Ok(Service {
        endpoint: "local:1",
    })
}

const fn test(name: &'static str, run: fn(&ProjectCtx) -> Result<u64>) -> ProjectTest {
    Test {
        name,
        warm_up: no_warm_up,
        run,
    }
}

static SUITE: ProjectSuite = Suite {
    name: "protocol_child",
    fixtures: &[],
    setup,
    tests: &[
        test("clean_rounds", clean_rounds),
        test("leaks_one_block", leaks_one_block),
        test("foreign_heap_leaks", foreign_heap_leaks),
        test("panics", panics),
        test("fails_a_check", fails_a_check),
        test("tallied_leak", tallied_leak),
    ],
};

/// Allocates and frees every round; reports the scaled round count.
fn clean_rounds(ctx: &ProjectCtx) -> Result<u64> {
    assert_eq!(ctx.extra.endpoint, "local:1");
    let rounds = ctx.iterations(10);
    for _ in 0..rounds {
        let check = ctx.leak_check("clean_rounds (one round)");
        let block = std::hint::black_box(vec![1u8; LEAK_BYTES]);
        ensure!(block.len() == LEAK_BYTES, "block of {}", block.len());
        drop(block);
        check.finish()?;
    }
    Ok(u64::from(rounds))
}

fn leaks_one_block(_: &ProjectCtx) -> Result<u64> {
    let leaked: &'static mut [u8] = Box::leak(vec![1u8; LEAK_BYTES].into_boxed_slice());
    assert_eq!(std::hint::black_box(leaked).len(), LEAK_BYTES);
    Ok(1)
}

/// A heap the test allocator cannot see, e.g. a shared library's counters.
fn foreign_heap_leaks(_: &ProjectCtx) -> Result<u64> {
    let before = Snapshot::default();
    let after = Snapshot {
        live_allocations: 3,
        live_bytes: 300,
        total_allocations: 9,
        peak_bytes: 900,
    };
    let leak = Leak::between("service heap: cycles", before, after).expect("the counts differ");
    Err(Error::ForeignLeak(leak))
}

fn panics(_: &ProjectCtx) -> Result<u64> {
    panic!("boom");
}

fn fails_a_check(_: &ProjectCtx) -> Result<u64> {
    ensure!(1 + 1 == 3, "arithmetic is {}", "sound");
    Ok(1)
}

/// Two of four operations leak 16 bytes each; the loop runs to its end.
fn tallied_leak(ctx: &ProjectCtx) -> Result<u64> {
    let mut tally = LeakTally::new(4);
    let mut kept = Vec::with_capacity(4);
    for index in 0..4u32 {
        let check = ctx.leak_check("tallied_leak (one operation)");
        if index % 2 == 1 {
            kept.push(vec![0u8; 16]);
        }
        tally.record(index, check.finish());
    }
    assert_eq!(tally.leaky(), 2);
    // Free them before the harness's own check: only the tally reports.
    drop(kept);
    tally.finish()?;
    Ok(4)
}

/// A suite that reads a fixture the runner never made.
static FIXTURE_SUITE: ProjectSuite = Suite {
    name: "protocol_fixture",
    fixtures: &["absent.bin"],
    setup,
    tests: &[test("clean_rounds", clean_rounds)],
};

fn main() -> ExitCode {
    match std::env::var(MODE_ENV).as_deref() {
        Ok("run") => memtest_harness::run_suite(&GLOBAL, &SUITE),
        Ok("fixture") => memtest_harness::run_suite(&GLOBAL, &FIXTURE_SUITE),
        Ok("wrong_alloc") => Harness {
            alloc: &NOT_GLOBAL,
            label: "protocol",
        }
        .run(&SUITE),
        _ => {
            parent();
            println!("protocol: all checks passed");
            ExitCode::SUCCESS
        }
    }
}

fn child(mode: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(std::env::current_exe().expect("own path"));
    command
        .args(args)
        .env(MODE_ENV, mode)
        .env_remove("MEMTEST_FIXTURES")
        .env_remove("MEMTEST_SCALE")
        .env_remove("MEMTEST_DURATION_MS")
        .env_remove(SETUP_ENV);
    for (key, value) in env {
        command.env(key, value);
    }
    let Output { status, stdout, .. } = command.output().expect("spawn the child");
    (status.code(), String::from_utf8_lossy(&stdout).into_owned())
}

fn has(stdout: &str, prefix: &str) -> bool {
    stdout.lines().any(|l| l.starts_with(prefix))
}

fn parent() {
    // A clean test alone, at half scale: exit 0 and the full protocol.
    let (code, out) = child("run", &["clean"], &[("MEMTEST_SCALE", "0.5")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(has(&out, "suite protocol_child: 6 tests"), "{out}");
    assert!(
        has(&out, "fixtures: none; scale 0.5; service local:1"),
        "{out}"
    );
    assert!(has(&out, "ok   clean_rounds (5 operations, "), "{out}");
    assert!(has(&out, "MEMTEST native_leaks=0"), "{out}");
    assert!(has(&out, "MEMTEST native_leaked_bytes=0"), "{out}");
    assert!(has(&out, "MEMTEST peak_rss_bytes="), "{out}");
    assert_eq!(out.lines().last(), Some("TEST PASSED"), "{out}");

    // Every test: each failure kind, one line each, figures summed.
    let (code, out) = child("run", &[], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(has(&out, "ok   clean_rounds (10 operations, "), "{out}");
    assert!(
        has(&out, "FAIL leaks_one_block")
            && out.contains("leaks_one_block: +1 allocations (+4096 bytes) still live"),
        "{out}"
    );
    assert!(
        has(&out, "FAIL foreign_heap_leaks")
            && out.contains("): service heap: cycles: +3 allocations (+300 bytes)"),
        "{out}"
    );
    assert!(
        has(&out, "FAIL panics") && out.contains("panicked: boom"),
        "{out}"
    );
    assert!(out.contains("check failed: arithmetic is sound"), "{out}");
    assert!(
        out.contains("2 of 4 operations left allocations live; the first (operation 1): tallied_leak (one operation): +1 allocations (+16 bytes)"),
        "{out}"
    );
    // The own leak (1 block, 4096 bytes) plus the foreign one (3, 300); the
    // panic and the tallied leak (freed before the end) add nothing.
    assert!(has(&out, "MEMTEST native_leaks=4"), "{out}");
    assert!(has(&out, "MEMTEST native_leaked_bytes=4396"), "{out}");
    assert!(has(&out, "5 of 6 tests failed"), "{out}");
    assert!(!has(&out, "TEST PASSED"), "{out}");

    // An unusable environment: exit 2 before any test, the reason named.
    // (mode, arguments, environment, the line saying why)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let unusable: [Case; 6] = [
        ("run", &[], &[(SETUP_ENV, "1")], "FAIL protocol_child: service cache unreachable"),
        ("run", &[], &[("MEMTEST_SCALE", "0")], "FAIL protocol_child: MEMTEST_SCALE=\"0\" is not a number"),
        ("run", &["no_such_test"], &[], "FAIL protocol_child: no test matches [\"no_such_test\"]"),
        ("wrong_alloc", &[], &[], "FAIL protocol_child: the allocator given to the harness counted no allocation"),
        ("fixture", &[], &[], "FAIL protocol_fixture: MEMTEST_FIXTURES is not set"),
        ("fixture", &[], &[("MEMTEST_FIXTURES", "/nonexistent")], "FAIL protocol_fixture: fixture absent.bin cannot be read from /nonexistent/absent.bin: "),
    ];
    for (mode, args, env, line) in unusable {
        let (code, out) = child(mode, args, env);
        assert_eq!(code, Some(2), "{out}");
        assert!(has(&out, line), "{line:?} missing in:\n{out}");
        assert!(!has(&out, "MEMTEST ") && !has(&out, "TEST PASSED"), "{out}");
    }
    // No fixtures listed: an empty MEMTEST_FIXTURES is no problem.
    let (code, out) = child("run", &["clean"], &[("MEMTEST_FIXTURES", "")]);
    assert_eq!(code, Some(0), "{out}");

    // A soak by duration: every test again, pass after pass, until the time
    // is up; a pass reported after each.
    let started = std::time::Instant::now();
    let (code, out) = child("run", &["clean"], &[("MEMTEST_DURATION_MS", "300")]);
    assert_eq!(code, Some(0), "{out}");
    let passes = out
        .lines()
        .filter(|l| l.starts_with("MEMTEST soak_passes="))
        .count();
    assert!(passes >= 2, "{out}");
    assert!(has(&out, &format!("MEMTEST soak_passes={passes}")), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("ok   clean_rounds"))
            .count(),
        passes,
        "{out}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    // ... and stops at the first pass with a failure.
    let (code, out) = child("run", &["leaks"], &[("MEMTEST_DURATION_MS", "60000")]);
    assert_eq!(code, Some(1), "{out}");
    assert!(has(&out, "MEMTEST soak_passes=1"), "{out}");
    assert!(!has(&out, "MEMTEST soak_passes=2"), "{out}");
    let (code, out) = child("run", &["clean"], &[("MEMTEST_DURATION_MS", "soon")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        has(&out, "FAIL protocol_child: MEMTEST_DURATION_MS=\"soon\""),
        "{out}"
    );
}
