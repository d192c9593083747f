//! The canary build's graded leak reaches the heap it names, with the size
//! and the frequency asked for: `MEMTEST_LEAK_BYTES=N` loses exactly one
//! counted block of N bytes per optimize call, `MEMTEST_LEAK_EVERY=K` one
//! in K calls, `MEMTEST_LEAK_HEAP=c` the same through libc's `malloc` (the
//! counting allocator sees nothing, malloc's own figures rise), and with
//! nothing set the leak is the input's copy as before.
//!
//! The variables are read once per process, so the test re-runs itself once
//! per setting (`GRADED_LEAK_CHILD=1`); a plain `main` (harness = false), as
//! in accounting.rs, because the counters are process-wide.

mod common;

use common::{abi_optimize, alloc_stats, AbiOptions};
use std::process::Command;

/// Optimize calls each child makes.
const CALLS: u64 = 100;
/// Not an image: the call fails after the canary has leaked.
const INPUT: &[u8] = b"not an image";

/// Bytes malloc has handed out and not had back (glibc's `mallinfo2`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn malloc_in_use() -> Option<u64> {
    #[repr(C)]
    struct Mallinfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }
    extern "C" {
        fn mallinfo2() -> Mallinfo2;
    }
    // SAFETY: mallinfo2 takes nothing and returns a plain struct.
    let m = unsafe { mallinfo2() };
    Some((m.uordblks + m.hblkhd) as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn malloc_in_use() -> Option<u64> {
    None
}

/// The child: CALLS optimize calls, then the counted heap's and malloc's
/// growth over them on one line.
fn child() {
    let before = alloc_stats();
    let malloc_before = malloc_in_use();
    for _ in 0..CALLS {
        let result = abi_optimize(Some(INPUT), &AbiOptions::default());
        assert_ne!(result.code, 0, "not an image, yet it succeeded");
    }
    let after = alloc_stats();
    let malloc_grew = match (malloc_before, malloc_in_use()) {
        (Some(a), Some(b)) => b as i64 - a as i64,
        _ => -1,
    };
    println!(
        "blocks={} bytes={} malloc={malloc_grew}",
        after.live_allocations as i64 - before.live_allocations as i64,
        after.live_bytes as i64 - before.live_bytes as i64,
    );
}

/// What a child with these variables set saw: (counted blocks, counted
/// bytes, malloc bytes or -1 where malloc cannot be asked).
fn run(env: &[(&str, &str)]) -> (i64, i64, i64) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("GRADED_LEAK_CHILD", "1");
    for name in [
        "MEMTEST_LEAK_BYTES",
        "MEMTEST_LEAK_EVERY",
        "MEMTEST_LEAK_HEAP",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{env:?}: {}\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let figure = |name: &str| -> i64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{env:?}: no {name} in {text:?}"))
    };
    (figure("blocks"), figure("bytes"), figure("malloc"))
}

fn graded_leaks_reach_the_heap_they_name() {
    let calls = CALLS as i64;
    // Unset: today's canary, a copy of the input and a marker per call.
    let (blocks, bytes, _) = run(&[]);
    assert_eq!(blocks, 2 * calls, "today's canary: copy and marker");
    assert_eq!(bytes, calls * (INPUT.len() as i64 + 8));

    let (blocks, bytes, _) = run(&[("MEMTEST_LEAK_BYTES", "1000")]);
    assert_eq!((blocks, bytes), (calls, calls * 1000), "one block a call");

    let (blocks, bytes, _) = run(&[("MEMTEST_LEAK_BYTES", "1")]);
    assert_eq!((blocks, bytes), (calls, calls), "a 1-byte leak is a block");

    let every = [("MEMTEST_LEAK_BYTES", "1000"), ("MEMTEST_LEAK_EVERY", "10")];
    let (blocks, bytes, _) = run(&every);
    assert_eq!((blocks, bytes), (calls / 10, calls / 10 * 1000));

    let (blocks, bytes, _) = run(&[("MEMTEST_LEAK_BYTES", "0")]);
    assert_eq!((blocks, bytes), (0, 0), "0 bytes: nothing leaks");

    let c_heap = [("MEMTEST_LEAK_BYTES", "1000"), ("MEMTEST_LEAK_HEAP", "c")];
    let (blocks, bytes, malloc) = run(&c_heap);
    assert_eq!((blocks, bytes), (0, 0), "malloc is not the counted heap");
    if malloc >= 0 {
        assert!(
            malloc >= calls * 1000,
            "malloc's bytes in use rose by {malloc}, less than the leak"
        );
        // The same calls leaking nothing move malloc far less.
        let (_, _, quiet) = run(&[("MEMTEST_LEAK_BYTES", "0")]);
        assert!(quiet < calls * 1000 / 2, "no leak, yet malloc +{quiet}");
    } else {
        println!("(no mallinfo2 here: the malloc heap's growth is not measured)");
    }
}

fn main() {
    if std::env::var_os("GRADED_LEAK_CHILD").is_some() {
        child();
        return;
    }
    graded_leaks_reach_the_heap_they_name();
    println!("graded_leaks_reach_the_heap_they_name ... ok");
}
