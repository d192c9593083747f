//! error_recovery: every error path returns its memory. Corrupt, truncated,
//! empty, bomb and unknown inputs, and invalid options, each checked on its
//! own against the test allocator, round after round, and each required to
//! fail with its own error code (a case that stopped failing, or failed for
//! another reason, would no longer test its path).

use memsuite::{optimize, run_suite, Ctx, LeakTally, Suite, Test, TestError};
use pyjamaz::{ErrorCode, Options};
use std::process::ExitCode;

/// Rounds at scale 1; each round runs every case once. Most error paths are
/// caught early and cost microseconds, so it takes many rounds for the suite to
/// run long enough (the seed's ~10 s) for memtest's RSS sampling to judge it.
const MAX_ROUNDS: u32 = 10_000;
/// Success/failure pairs at scale 1 (a full optimize of small.jpg each): at
/// CI scale (0.1) the suite then runs over a second, enough samples for
/// memtest to fit a slope even on a faster machine.
const MAX_PAIRS: u32 = 15_000;

/// An input the runner's fixtures provide, or one derived from them here.
#[derive(Clone, Copy)]
enum Input {
    Fixture(&'static str),
    Empty,
    /// The first half of a fixture: a JPEG cut mid-scan.
    FirstHalf(&'static str),
}

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    input: Input,
    /// `max_diff` of the options; a negative value is invalid.
    max_diff: Option<f64>,
    expect: ErrorCode,
}

const CASES: [Case; 7] = [
    Case {
        name: "corrupt.jpg",
        input: Input::Fixture("corrupt.jpg"),
        max_diff: None,
        expect: ErrorCode::CorruptInput,
    },
    Case {
        name: "truncated.png",
        input: Input::Fixture("truncated.png"),
        max_diff: None,
        expect: ErrorCode::TruncatedInput,
    },
    Case {
        name: "truncated jpeg (photo-256.jpg cut in half)",
        input: Input::FirstHalf("photo-256.jpg"),
        max_diff: None,
        expect: ErrorCode::TruncatedInput,
    },
    Case {
        name: "empty input",
        input: Input::Empty,
        max_diff: None,
        expect: ErrorCode::EmptyInput,
    },
    Case {
        name: "bomb.png",
        input: Input::Fixture("bomb.png"),
        max_diff: None,
        expect: ErrorCode::LimitsExceeded,
    },
    Case {
        name: "unknown.bin",
        input: Input::Fixture("unknown.bin"),
        max_diff: None,
        expect: ErrorCode::UnknownFormat,
    },
    Case {
        name: "negative max_diff",
        input: Input::Fixture("tiny.png"),
        max_diff: Some(-1.0),
        expect: ErrorCode::InvalidOptions,
    },
];

static SUITE: Suite = Suite {
    name: "error_recovery",
    fixtures: &[
        "corrupt.jpg",
        "truncated.png",
        "photo-256.jpg",
        "bomb.png",
        "unknown.bin",
        "tiny.png",
        "small.jpg",
    ],
    setup: memsuite::no_lib,
    tests: &[
        Test {
            name: "bad_inputs",
            warm_up,
            run: bad_inputs,
        },
        Test {
            name: "errors_between_successes",
            warm_up,
            run: errors_between_successes,
        },
    ],
};

fn main() -> ExitCode {
    run_suite(&SUITE)
}

fn bytes(ctx: &Ctx, input: Input) -> Result<&[u8], TestError> {
    Ok(match input {
        Input::Fixture(name) => ctx.fixture(name)?,
        Input::Empty => &[],
        Input::FirstHalf(name) => {
            let whole = ctx.fixture(name)?;
            &whole[..whole.len() / 2]
        }
    })
}

/// Runs one case and demands its error code; the error (with its message and
/// any decoder error inside) is dropped before returning.
fn run_case(ctx: &Ctx, case: &Case) -> Result<(), TestError> {
    let input = bytes(ctx, case.input)?;
    let options = Options {
        max_diff: case.max_diff,
        ..Options::default()
    };
    match pyjamaz::optimize(input, &options) {
        Ok(output) => Err(TestError::Check {
            message: format!(
                "{}: expected {}, got a {} output of {} bytes",
                case.name,
                case.expect,
                output.format.name(),
                output.bytes.len()
            ),
        }),
        Err(err) if err.code() == case.expect => {
            // The message is what the C ABI hands out: build it, as a caller would.
            assert!(
                !err.full_message().is_empty(),
                "{}: empty message",
                case.name
            );
            Ok(())
        }
        Err(err) => Err(TestError::Check {
            message: format!(
                "{}: expected {}, got {}: {}",
                case.name,
                case.expect,
                err.code(),
                err.full_message()
            ),
        }),
    }
}

fn warm_up(ctx: &Ctx) -> Result<(), TestError> {
    for case in &CASES {
        run_case(ctx, case)?;
    }
    optimize("small.jpg", ctx.fixture("small.jpg")?, &Options::default())?;
    Ok(())
}

fn bad_inputs(ctx: &Ctx) -> Result<u64, TestError> {
    let max_rounds = ctx.iterations(MAX_ROUNDS);
    let mut tally = LeakTally::new(max_rounds * CASES.len() as u32);
    let mut operations: u32 = 0;
    let mut rounds: u32 = 0;
    for _ in 0..max_rounds {
        for case in &CASES {
            let check = ctx.leak_check("error_recovery::bad_inputs (one case)");
            run_case(ctx, case)?;
            tally.record(operations, check.finish());
            operations += 1;
        }
        rounds += 1;
    }
    assert_eq!(rounds, max_rounds, "the loop ended early");
    assert_eq!(operations, max_rounds * CASES.len() as u32);
    tally.finish()?;
    Ok(u64::from(operations))
}

/// A failure right after a success (and the reverse) must not keep anything
/// of the other alive: e.g. a cache filled by the success and dropped on the
/// error path, or state left half-built by the error.
fn errors_between_successes(ctx: &Ctx) -> Result<u64, TestError> {
    let max_pairs = ctx.iterations(MAX_PAIRS);
    let success = ctx.fixture("small.jpg")?;
    let options = Options::default();
    let mut tally = LeakTally::new(max_pairs);
    let mut done: u32 = 0;
    for index in 0..max_pairs {
        let case = &CASES[index as usize % CASES.len()];
        let check = ctx.leak_check("error_recovery::errors_between_successes (one pair)");
        let output = optimize("small.jpg", success, &options)?;
        assert!(output.passed && !output.bytes.is_empty());
        run_case(ctx, case)?;
        drop(output);
        tally.record(index, check.finish());
        done += 1;
    }
    assert_eq!(done, max_pairs, "the loop ended early");
    tally.finish()?;
    Ok(u64::from(done) * 2)
}
