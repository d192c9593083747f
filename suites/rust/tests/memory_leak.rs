//! memory_leak: the seed's "10K optimization operations, zero leaks", on the
//! real optimizer. Every operation is leak-checked on its own against the
//! test allocator (so the count says how many operations leaked, and the
//! first one is named), and the loop always runs to its bound so a leak also
//! shows in RSS. Built with `--features canary-leak` this suite must fail.

use memsuite::{optimize, run_suite, Ctx, LeakTally, Suite, Test, TestError};
use pyjamaz::{Format, Metric, Options};
use std::process::ExitCode;

/// The seed's figure; multiplied by `MEMTEST_SCALE`.
const MAX_OPERATIONS: u32 = 10_000;
/// The size-budget path runs a binary search of up to 7 encodes per format:
/// fewer operations cover it.
const MAX_BUDGET_OPERATIONS: u32 = 1_000;
/// Spawning and joining encoder threads on every call.
const MAX_THREADED_OPERATIONS: u32 = 1_000;
const THREADS: u32 = 3;

/// How one operation of the 10K loop calls the optimizer.
#[derive(Clone, Copy)]
enum Kind {
    /// All formats, SSIM measured: the full default path.
    Full,
    /// JPEG only, no metric: decode and one re-encode, fast enough to run a
    /// larger input often (which is what makes a per-call leak visible in RSS).
    Reencode,
}

/// The loop cycles through these: small inputs on the full path, and a
/// 256x256 photo (~30 KB) re-encoded.
const ROTATION: [(&str, Kind); 4] = [
    ("tiny.png", Kind::Full),
    ("small.jpg", Kind::Full),
    ("flat-128.png", Kind::Full),
    ("photo-256.jpg", Kind::Reencode),
];

static SUITE: Suite = Suite {
    name: "memory_leak",
    fixtures: &["tiny.png", "small.jpg", "flat-128.png", "photo-256.jpg"],
    setup: memsuite::no_lib,
    tests: &[
        // Short tests first: the long, steady 10K loop then fills the end
        // of the run, where memtest fits its RSS slope (thread arenas and
        // search buffers settling would otherwise read as growth).
        Test {
            name: "optimize_with_budget",
            warm_up: warm_up_budget,
            run: optimize_with_budget,
        },
        Test {
            name: "optimize_threaded",
            warm_up: warm_up_threaded,
            run: optimize_threaded,
        },
        Test {
            name: "optimize_10k",
            warm_up: warm_up_rotation,
            run: optimize_10k,
        },
    ],
};

fn main() -> ExitCode {
    run_suite(&SUITE)
}

fn options_for(kind: Kind) -> Options {
    match kind {
        Kind::Full => Options::default(),
        Kind::Reencode => Options {
            formats: vec![Format::Jpeg],
            metric: Metric::None,
            ..Options::default()
        },
    }
}

/// One call of every kind: codec tables, lazily built statics and the
/// thread's first-use allocations happen here, before the baseline.
fn warm_up_rotation(ctx: &Ctx) -> Result<(), TestError> {
    for (name, kind) in ROTATION {
        optimize(name, ctx.fixture(name)?, &options_for(kind))?;
    }
    Ok(())
}

fn optimize_10k(ctx: &Ctx) -> Result<u64, TestError> {
    let max_operations = ctx.iterations(MAX_OPERATIONS);
    let full = options_for(Kind::Full);
    let reencode = options_for(Kind::Reencode);
    let mut tally = LeakTally::new(max_operations);
    let mut output_bytes_total: u64 = 0;
    let mut done: u32 = 0;
    for index in 0..max_operations {
        let (name, kind) = ROTATION[index as usize % ROTATION.len()];
        let input = ctx.fixture(name)?;
        let options = match kind {
            Kind::Full => &full,
            Kind::Reencode => &reencode,
        };
        let check = ctx.leak_check("memory_leak::optimize_10k (one operation)");
        let output = optimize(name, input, options)?;
        // No budget and no distance limit: the winner always passes, and the
        // original is a candidate whenever its format is allowed, so nothing
        // larger than the input can win.
        assert!(output.passed, "{name}: an unconstrained optimize must pass");
        assert!(!output.bytes.is_empty(), "{name}: empty output");
        assert!(
            output.bytes.len() <= input.len(),
            "{name}: output of {} bytes is larger than the {}-byte input",
            output.bytes.len(),
            input.len()
        );
        output_bytes_total += output.bytes.len() as u64;
        drop(output);
        tally.record(index, check.finish());
        done += 1;
    }
    assert_eq!(done, max_operations, "the loop ended early");
    assert!(output_bytes_total > 0);
    tally.finish()?;
    Ok(u64::from(done))
}

fn budget_options(input: &[u8]) -> Options {
    Options {
        // Half the input with a loose distance limit: the JPEG and WebP
        // quality searches run on every call.
        max_bytes: Some(input.len() as u64 / 2),
        max_diff: Some(0.2),
        ..Options::default()
    }
}

fn warm_up_budget(ctx: &Ctx) -> Result<(), TestError> {
    let input = ctx.fixture("small.jpg")?;
    optimize("small.jpg", input, &budget_options(input))?;
    Ok(())
}

fn optimize_with_budget(ctx: &Ctx) -> Result<u64, TestError> {
    let max_operations = ctx.iterations(MAX_BUDGET_OPERATIONS);
    let input = ctx.fixture("small.jpg")?;
    let options = budget_options(input);
    let budget = input.len() / 2;
    let mut tally = LeakTally::new(max_operations);
    let mut passed: u32 = 0;
    let mut done: u32 = 0;
    for index in 0..max_operations {
        let check = ctx.leak_check("memory_leak::optimize_with_budget (one operation)");
        let output = optimize("small.jpg", input, &options)?;
        assert!(!output.bytes.is_empty());
        assert!(
            !output.passed || output.bytes.len() <= budget,
            "passed with {} bytes over a {budget}-byte budget",
            output.bytes.len()
        );
        passed += u32::from(output.passed);
        drop(output);
        tally.record(index, check.finish());
        done += 1;
    }
    assert_eq!(done, max_operations, "the loop ended early");
    // The same input and options every time: the optimizer is deterministic.
    assert!(
        passed == 0 || passed == max_operations,
        "{passed} of {max_operations} passed"
    );
    tally.finish()?;
    Ok(u64::from(done))
}

fn threaded_options() -> Options {
    Options {
        concurrency: THREADS,
        ..Options::default()
    }
}

fn warm_up_threaded(ctx: &Ctx) -> Result<(), TestError> {
    optimize("small.jpg", ctx.fixture("small.jpg")?, &threaded_options())?;
    Ok(())
}

fn optimize_threaded(ctx: &Ctx) -> Result<u64, TestError> {
    let max_operations = ctx.iterations(MAX_THREADED_OPERATIONS);
    let input = ctx.fixture("small.jpg")?;
    let options = threaded_options();
    // Thread stacks, handles and thread-locals of the encoder threads must all
    // be gone once optimize returns: the threads are scoped and joined.
    let sequential = optimize("small.jpg", input, &Options::default())?;
    let mut tally = LeakTally::new(max_operations);
    let mut done: u32 = 0;
    for index in 0..max_operations {
        let check = ctx.leak_check("memory_leak::optimize_threaded (one operation)");
        let output = optimize("small.jpg", input, &options)?;
        assert_eq!(
            output.format, sequential.format,
            "threads changed the choice"
        );
        assert!(
            output.bytes == sequential.bytes,
            "threads changed the bytes"
        );
        drop(output);
        tally.record(index, check.finish());
        done += 1;
    }
    assert_eq!(done, max_operations, "the loop ended early");
    tally.finish()?;
    Ok(u64::from(done))
}
