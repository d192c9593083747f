//! corpus: every file of a folder (MEMTEST_CORPUS: the suite's `corpus`, by
//! default the fixture folder's generated `corpus/`, or `memtest run --corpus
//! DIR`) through `pyjamaz::optimize`, one at a time, each call leak-checked
//! on its own against the test allocator, with memory bounded whatever the
//! folder's size: the folder is walked lazily (`memtest_harness::corpus`),
//! each file read, optimized and dropped before the next.
//!
//! Each file gets an outcome: ok, decode error (the error a bad file must
//! give: empty, unknown format, corrupt, truncated, over the limits), crash
//! (any other error, a panic, an empty result) or leak (allocations of the
//! call left live). The suite goes on past every failure, prints the counts
//! as `corpus_*` figures and fails on any leak or crash.

use memsuite::{run_suite, Ctx, Leaks, Suite, Test, TestError};
use memtest_harness::corpus::{corpus_dir, CorpusFiles, Outcome, Tally};
use pyjamaz::{ErrorCode, Options};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::ExitCode;

/// Files optimized once, unchecked, before the measured pass: codec tables
/// made on first use are not a file's leak.
const WARM_UP_FILES: usize = 50;
const PROGRESS_EVERY: u64 = 20;
/// The counts so far, so that a suite killed later has delivered them.
const CHECKPOINT_EVERY: u64 = 500;

static SUITE: Suite = Suite {
    name: "corpus",
    fixtures: &["tiny.png", "small.jpg", "flat-128.png"],
    setup: memsuite::no_lib,
    tests: &[Test {
        name: "every_file",
        warm_up,
        run: every_file,
    }],
};

fn main() -> ExitCode {
    run_suite(&SUITE)
}

fn corpus_error(err: impl std::error::Error) -> TestError {
    TestError::Check {
        message: memsuite::chain(&err),
    }
}

/// One optimize call's outcome, with a detail that owns no heap memory: it
/// is made inside the call's leak check. The output is dropped before
/// returning.
fn optimize(input: &[u8]) -> (Outcome, &'static str) {
    let options = Options::default();
    match catch_unwind(AssertUnwindSafe(|| pyjamaz::optimize(input, &options))) {
        Err(_) => (Outcome::Crash, "panicked"),
        Ok(Ok(output)) if output.bytes.is_empty() => (Outcome::Crash, "an empty result"),
        Ok(Ok(_)) => (Outcome::Ok, ""),
        Ok(Err(err)) => match err.code() {
            code @ (ErrorCode::EmptyInput
            | ErrorCode::UnknownFormat
            | ErrorCode::CorruptInput
            | ErrorCode::TruncatedInput
            | ErrorCode::LimitsExceeded) => (Outcome::DecodeError, code.name()),
            code => (Outcome::Crash, code.name()),
        },
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TestError> {
    std::fs::read(path).map_err(corpus_error)
}

fn warm_up(ctx: &Ctx) -> Result<(), TestError> {
    for name in SUITE.fixtures {
        optimize(ctx.fixture(name)?);
    }
    let dir = corpus_dir().map_err(corpus_error)?;
    for path in CorpusFiles::new(&dir)
        .map_err(corpus_error)?
        .take(WARM_UP_FILES)
    {
        optimize(&read(&path.map_err(corpus_error)?)?);
    }
    Ok(())
}

fn every_file(ctx: &Ctx) -> Result<u64, TestError> {
    let dir = corpus_dir().map_err(corpus_error)?;
    let mut tally = Tally::default();
    let mut first_leak = None;
    println!("MEMTEST progress=0");
    for path in CorpusFiles::new(&dir).map_err(corpus_error)? {
        let path = path.map_err(corpus_error)?;
        let input = read(&path)?;
        let check = ctx.leak_check("corpus::every_file (one file)");
        let (outcome, detail) = optimize(&input);
        let (outcome, detail) = match check.finish() {
            Ok(_) => (outcome, detail.to_string()),
            Err(leak) => {
                let detail = format!("{leak} ({detail})");
                let index = tally.files() as u32;
                first_leak.get_or_insert((index, leak));
                (Outcome::Leak, detail)
            }
        };
        tally.record(&path, outcome, &detail);
        if tally.files() % PROGRESS_EVERY == 0 {
            println!("MEMTEST progress={}", tally.files());
        }
        if tally.files() % CHECKPOINT_EVERY == 0 {
            tally.report();
        }
    }
    println!("MEMTEST progress={}", tally.files());
    tally.report();
    if let Some((index, first)) = first_leak {
        return Err(Leaks {
            operations: tally.count(Outcome::Leak) as u32,
            of: tally.files() as u32,
            index,
            first,
        }
        .into());
    }
    tally.finish().map_err(corpus_error)?;
    Ok(tally.files())
}
