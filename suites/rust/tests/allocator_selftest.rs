//! allocator_selftest: proves the suites' machinery can fail, without
//! fixtures or the library, so it runs in every `cargo test -p memsuite`.
//!
//! The unit tests of memtest-alloc drive private allocator instances,
//! because libtest's threads disturb the global counts. This binary is a
//! plain `main` on one thread, so it checks the *global* test allocator
//! exactly, and then runs a deliberately leaking suite in a child process to
//! check the harness's whole protocol: the `FAIL` line naming count and
//! bytes, `MEMTEST native_leaks`, no `TEST PASSED`, exit status 1.

use memsuite::{check_leaks, run_suite, Ctx, Suite, Test, TestError};
use std::process::{Command, ExitCode};

const CHILD_ARG: &str = "--leaky-child";
/// The deliberate leak: one allocation of exactly this many bytes.
const LEAK_BYTES: usize = 4096;

static LEAKY_SUITE: Suite = Suite {
    name: "allocator_selftest_child",
    fixtures: &[],
    setup: memsuite::no_lib,
    tests: &[
        Test {
            name: "clean",
            warm_up: no_warm_up,
            run: clean,
        },
        Test {
            name: "leaks_one_block",
            warm_up: no_warm_up,
            run: leaks_one_block,
        },
    ],
};

fn no_warm_up(_: &Ctx) -> Result<(), TestError> {
    Ok(())
}

fn clean(_: &Ctx) -> Result<u64, TestError> {
    let block = vec![1u8; LEAK_BYTES];
    assert_eq!(block.len(), LEAK_BYTES);
    Ok(1)
}

fn leaks_one_block(_: &Ctx) -> Result<u64, TestError> {
    let leaked: &'static mut [u8] = Box::leak(vec![1u8; LEAK_BYTES].into_boxed_slice());
    assert_eq!(std::hint::black_box(leaked).len(), LEAK_BYTES);
    Ok(1)
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == CHILD_ARG) {
        // Only the leaky suite's filter-free run: the harness ignores `--` args.
        return run_suite(&LEAKY_SUITE);
    }
    global_counts_are_exact();
    harness_reports_a_leak();
    println!("allocator_selftest: all checks passed");
    ExitCode::SUCCESS
}

fn global_counts_are_exact() {
    // Warm up stdout's buffer before any baseline.
    println!("allocator_selftest: global allocator");
    let clean = check_leaks("clean closure", || vec![0u8; LEAK_BYTES].len());
    assert_eq!(clean, Ok(LEAK_BYTES), "a closure freeing everything passes");

    let mut kept: Option<Box<[u8]>> = None;
    let leak = check_leaks("keeps a block", || {
        kept = Some(vec![0u8; LEAK_BYTES].into_boxed_slice());
    })
    .expect_err("a block kept past the check is a leak");
    assert_eq!((leak.allocations, leak.bytes), (1, LEAK_BYTES as i64));
    assert!(
        leak.to_string()
            .starts_with("keeps a block: +1 allocations (+4096 bytes) still live"),
        "{leak}"
    );

    // Freeing that block inside a new check reports the opposite figure.
    let freed = check_leaks("frees it", || kept = None).expect_err("an over-free is reported");
    assert_eq!((freed.allocations, freed.bytes), (-1, -(LEAK_BYTES as i64)));
}

fn harness_reports_a_leak() {
    println!("allocator_selftest: harness protocol on a leaking suite");
    let exe = std::env::current_exe().expect("own executable path");
    // The child needs a fixture folder even with no fixtures to read.
    let output = Command::new(exe)
        .arg(CHILD_ARG)
        .env("MEMTEST_FIXTURES", std::env::temp_dir())
        .env_remove("MEMTEST_SCALE")
        .output()
        .expect("spawn the leaky child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let has = |line: &str| stdout.lines().any(|l| l.starts_with(line));
    assert_eq!(output.status.code(), Some(1), "child output:\n{stdout}");
    assert!(has("ok   clean"), "{stdout}");
    assert!(
        has("FAIL leaks_one_block") && stdout.contains("+1 allocations (+4096 bytes)"),
        "{stdout}"
    );
    assert!(has("MEMTEST native_leaks=1"), "{stdout}");
    assert!(has("MEMTEST native_leaked_bytes=4096"), "{stdout}");
    assert!(has("MEMTEST peak_rss_bytes="), "{stdout}");
    assert!(!has("TEST PASSED"), "{stdout}");
}
