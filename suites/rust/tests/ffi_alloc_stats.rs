//! ffi_alloc_stats: the C ABI as the bindings use it. Loads the cdylib the
//! runner built (`PYJAMAZ_LIB_PATH`) with libloading, runs optimize/free
//! cycles through `pyjamaz_optimize` and `pyjamaz_free_result` (successes and
//! every input error), and demands that `pyjamaz_alloc_stats` reports the
//! library's live heap back at its baseline after every cycle. The library's
//! heap is its own (a cdylib has its own global allocator), so this is the
//! check the Node and Python suites rely on, proven here first.
//!
//! The structs (`memsuite::abi`) mirror `core/include/pyjamaz.h`, not the
//! core's Rust types: this is a caller of the C ABI, like the bindings.

use memsuite::abi::{
    Api, PyjamazOptions, PyjamazResult, ABI_VERSION, PYJAMAZ_ERR_CORRUPT_INPUT,
    PYJAMAZ_ERR_EMPTY_INPUT, PYJAMAZ_ERR_INVALID_OPTIONS, PYJAMAZ_ERR_NULL_POINTER,
    PYJAMAZ_ERR_UNKNOWN_FORMAT, PYJAMAZ_OK,
};
use memsuite::{run_suite, Ctx, Leak, Snapshot, Suite, Test, TestError};
use std::borrow::Cow;
use std::ffi::CStr;
use std::process::ExitCode;

/// Cycles at scale 1 (8 calls each): enough that at CI scale (0.1) the suite
/// runs over a second, so memtest has samples to fit a slope to.
const MAX_CYCLES: u32 = 8_000;

/// One call of a cycle: its input, its options and the code it must give.
struct Call {
    name: &'static str,
    /// `None` passes a NULL input pointer.
    input: Option<&'static str>,
    metric: &'static CStr,
    formats: &'static CStr,
    expect: i32,
}

const CALLS: [Call; 8] = [
    Call {
        name: "tiny.png",
        input: Some("tiny.png"),
        metric: c"ssim",
        formats: c"",
        expect: PYJAMAZ_OK,
    },
    Call {
        name: "small.jpg",
        input: Some("small.jpg"),
        metric: c"ssim",
        formats: c"",
        expect: PYJAMAZ_OK,
    },
    Call {
        name: "small.jpg as webp",
        input: Some("small.jpg"),
        metric: c"none",
        formats: c"webp",
        expect: PYJAMAZ_OK,
    },
    Call {
        name: "empty input",
        input: Some(""),
        metric: c"ssim",
        formats: c"",
        expect: PYJAMAZ_ERR_EMPTY_INPUT,
    },
    Call {
        name: "NULL input",
        input: None,
        metric: c"ssim",
        formats: c"",
        expect: PYJAMAZ_ERR_NULL_POINTER,
    },
    Call {
        name: "unknown.bin",
        input: Some("unknown.bin"),
        metric: c"ssim",
        formats: c"",
        expect: PYJAMAZ_ERR_UNKNOWN_FORMAT,
    },
    Call {
        name: "corrupt.jpg",
        input: Some("corrupt.jpg"),
        metric: c"ssim",
        formats: c"",
        expect: PYJAMAZ_ERR_CORRUPT_INPUT,
    },
    Call {
        name: "unknown metric",
        input: Some("tiny.png"),
        metric: c"bogus",
        formats: c"",
        expect: PYJAMAZ_ERR_INVALID_OPTIONS,
    },
];

static SUITE: Suite = Suite {
    name: "ffi_alloc_stats",
    fixtures: &["tiny.png", "small.jpg", "unknown.bin", "corrupt.jpg"],
    setup: memsuite::needs_lib,
    tests: &[
        Test {
            name: "abi_and_stats_contract",
            warm_up,
            run: abi_and_stats_contract,
        },
        Test {
            name: "optimize_free_cycles",
            warm_up,
            run: optimize_free_cycles,
        },
    ],
};

fn main() -> ExitCode {
    run_suite(&SUITE)
}

/// Loads and unloads the library once, so the loader's first-use
/// allocations on this side are made before the test allocator's baseline.
fn warm_up(ctx: &Ctx) -> Result<(), TestError> {
    let api = Api::load(ctx)?;
    for call in &CALLS {
        run_call(&api, ctx, call)?;
    }
    Ok(())
}

/// Calls `pyjamaz_optimize`, checks the result against the header's
/// promises for the expected code, and frees it.
fn run_call(api: &Api, ctx: &Ctx, call: &Call) -> Result<(), TestError> {
    let input: &[u8] = match call.input {
        Some("") => &[],
        Some(name) => ctx.fixture(name)?,
        None => &[],
    };
    let options = PyjamazOptions {
        input: if call.input.is_some() {
            input.as_ptr()
        } else {
            std::ptr::null()
        },
        input_len: input.len(),
        max_bytes: 0,
        max_diff: 0.0,
        metric: call.metric.as_ptr(),
        formats: call.formats.as_ptr(),
        concurrency: 1,
    };
    // SAFETY: options points at live input bytes and NUL-terminated strings.
    let result = unsafe { (api.optimize)(&options) };
    assert!(
        !result.is_null(),
        "{}: pyjamaz_optimize returned NULL",
        call.name
    );
    // SAFETY: non-NULL results point at a PyjamazResult until freed below.
    let checked = unsafe { check_result(call, &*result) };
    // SAFETY: freed exactly once, after the last read.
    unsafe { (api.free_result)(result) };
    checked
}

/// # Safety
/// `result` must be a live result of `pyjamaz_optimize`.
unsafe fn check_result(call: &Call, result: &PyjamazResult) -> Result<(), TestError> {
    memsuite::ensure!(
        result.error_code == call.expect,
        "{}: error code {} where {} was expected{}",
        call.name,
        result.error_code,
        call.expect,
        message(result)
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    );
    if call.expect == PYJAMAZ_OK {
        assert!(
            !result.output.is_null() && result.output_len > 0,
            "{}: no output",
            call.name
        );
        assert!(!result.format.is_null(), "{}: no format", call.name);
        assert!(
            result.error_message.is_null(),
            "{}: message on success",
            call.name
        );
        let format = CStr::from_ptr(result.format).to_str().unwrap_or("?");
        assert!(
            ["jpeg", "png", "webp", "gif"].contains(&format),
            "{}: format {format}",
            call.name
        );
    } else {
        assert!(result.output.is_null(), "{}: output on error", call.name);
        let text = message(result);
        assert!(
            text.is_some_and(|m| !m.is_empty()),
            "{}: error without a message",
            call.name
        );
    }
    Ok(())
}

/// # Safety
/// `result` must be a live result of `pyjamaz_optimize`.
unsafe fn message(result: &PyjamazResult) -> Option<String> {
    (!result.error_message.is_null()).then(|| {
        CStr::from_ptr(result.error_message)
            .to_string_lossy()
            .into_owned()
    })
}

fn abi_and_stats_contract(ctx: &Ctx) -> Result<u64, TestError> {
    let api = Api::load(ctx)?;
    // SAFETY: no arguments; returns a constant.
    let version = unsafe { (api.abi_version)() };
    assert_eq!(
        version, ABI_VERSION,
        "the runner checks this too; the header says 1"
    );
    // SAFETY: NULL is the documented error case.
    let code = unsafe { (api.alloc_stats)(std::ptr::null_mut()) };
    assert_eq!(
        code, PYJAMAZ_ERR_NULL_POINTER,
        "alloc_stats(NULL) must be refused"
    );
    let before = api.stats();
    run_call(&api, ctx, &CALLS[0])?;
    let after = api.stats();
    // If the cdylib was built without its counting allocator, every figure
    // stays 0 and a "back to baseline" check would pass vacuously.
    memsuite::ensure!(
        after.total_allocations > before.total_allocations,
        "pyjamaz_alloc_stats did not count the allocations of an optimize call \
         (total_allocations stayed {}): was the cdylib built without its counting allocator?",
        after.total_allocations
    );
    memsuite::ensure!(
        after.peak_bytes > 0,
        "peak_bytes stayed 0 across an optimize call"
    );
    Ok(2)
}

fn optimize_free_cycles(ctx: &Ctx) -> Result<u64, TestError> {
    let max_cycles = ctx.iterations(MAX_CYCLES);
    let api = Api::load(ctx)?;
    // The library's own first-use allocations (lazy statics, codec tables)
    // happen in its first calls, not in the measured cycles.
    for call in &CALLS {
        run_call(&api, ctx, call)?;
    }
    // This side (the test allocator) is checked by the harness around the
    // whole test; this one is the library's heap, per cycle.
    let own = ctx.leak_check("ffi_alloc_stats::optimize_free_cycles (this process)");
    let baseline = api.stats();
    let mut leaky_cycles: u32 = 0;
    let mut done: u32 = 0;
    for _ in 0..max_cycles {
        let cycle_start = api.stats();
        for call in &CALLS {
            run_call(&api, ctx, call)?;
        }
        let cycle_end = api.stats();
        if (cycle_end.live_allocations, cycle_end.live_bytes)
            != (cycle_start.live_allocations, cycle_start.live_bytes)
        {
            leaky_cycles += 1;
        }
        memsuite::ensure!(
            cycle_end.total_allocations > cycle_start.total_allocations,
            "a cycle of {} calls counted no allocation: the library does not count its heap",
            CALLS.len()
        );
        done += 1;
    }
    let end = api.stats();
    assert_eq!(done, max_cycles, "the loop ended early");
    let (before, after) = (Snapshot::from(baseline), Snapshot::from(end));
    let (allocations, bytes) = before.live_delta(&after);
    // A cycle that leaked and a later one that freed it would cancel out in
    // the end-to-end figure: any leaky cycle fails the test.
    if leaky_cycles > 0 || allocations != 0 || bytes != 0 {
        // In attribution mode, where the library's blocks were made: its
        // own tracker, which this process's harness cannot see.
        print!("{}", api.sites(baseline.total_allocations));
        return Err(TestError::ForeignLeak(Leak {
            name: Cow::Owned(format!(
                "library heap: {leaky_cycles} of {max_cycles} optimize/free cycles through the C ABI"
            )),
            allocations,
            bytes,
            before,
            after,
        }));
    }
    own.finish()?;
    Ok(u64::from(done) * CALLS.len() as u64)
}
