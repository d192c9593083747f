//! concurrency: N threads sharing one library at once. Every round starts
//! fresh threads that wait at a barrier and then call the optimizer
//! together, each a different mix of inputs; every output must equal the
//! single-threaded result for the same input, byte for byte, and once the
//! round's threads are joined the live counts must be exactly back.
//!
//! - `cdylib_threads`: the cdylib of `PYJAMAZ_LIB_PATH` loaded once and
//!   shared by the threads, as a binding's callers share it: its heap checked
//!   through `pyjamaz_alloc_stats`. Half of the results are freed by the
//!   thread that made them and half are handed back and freed by the main
//!   thread (as Node's async path frees on the main thread what a worker
//!   thread allocated), so the counting allocator sees frees on other threads
//!   than the allocation, under contention.
//! - `engine_threads`: the engine linked in, checked against this binary's
//!   test allocator (so thread spawn and exit are checked too).
//!
//! Fresh threads every round are the point: a per-thread buffer that is
//! never freed when its thread ends (the `canary-thread-leak` core) leaks
//! once per thread, and only a suite whose threads come and go sees it.
//! Built against that core, both tests fail.

use memsuite::abi::{Api, PyjamazOptions, PyjamazResult, PYJAMAZ_OK};
use memsuite::{optimize, run_suite, Ctx, Leak, LeakTally, Snapshot, Suite, Test, TestError};
use pyjamaz::{Format, Metric, Options, Output};
use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::panic::resume_unwind;
use std::process::ExitCode;
use std::sync::Barrier;
use std::thread;

/// Threads per round: twice the CI machine's cores, so they contend for the
/// cores as well as for the allocator.
const THREADS: usize = 4;
/// Calls each thread makes per round.
const CALLS_PER_THREAD: usize = 6;
/// Rounds at scale 1 (each starts `THREADS` fresh threads), per test.
const MAX_ROUNDS: u32 = 150;

/// What the threads call: small inputs on the full path (every format, SSIM),
/// a 256x256 photo re-encoded, and one call that starts encoder threads of
/// its own inside the calling thread.
const WORK: [Job; 5] = [
    Job::new("tiny.png", "", "ssim", 1),
    Job::new("small.jpg", "", "ssim", 1),
    Job::new("flat-128.png", "png,webp", "none", 1),
    Job::new("photo-256.jpg", "jpeg", "none", 1),
    Job::new("small.jpg", "", "ssim", 2),
];

static SUITE: Suite = Suite {
    name: "concurrency",
    fixtures: &["tiny.png", "small.jpg", "flat-128.png", "photo-256.jpg"],
    setup: memsuite::needs_lib,
    // The cdylib first: loading it maps a few MB at once, which belongs to
    // the start of the run, not to the final half where memtest fits its
    // slope.
    tests: &[
        Test {
            name: "cdylib_threads",
            warm_up: warm_up_cdylib,
            run: cdylib_threads,
        },
        Test {
            name: "engine_threads",
            warm_up: warm_up_engine,
            run: engine_threads,
        },
    ],
};

fn main() -> ExitCode {
    run_suite(&SUITE)
}

/// One call's input and options, as the C ABI takes them.
#[derive(Clone, Copy)]
struct Job {
    fixture: &'static str,
    /// Comma list; empty = every format.
    formats: &'static str,
    metric: &'static str,
    concurrency: u32,
}

impl Job {
    const fn new(
        fixture: &'static str,
        formats: &'static str,
        metric: &'static str,
        concurrency: u32,
    ) -> Job {
        Job {
            fixture,
            formats,
            metric,
            concurrency,
        }
    }

    fn options(&self) -> Options {
        Options {
            formats: pyjamaz::optimize::parse_formats(self.formats)
                .expect("the suite's format lists are valid"),
            metric: Metric::from_name(self.metric).expect("the suite's metrics are valid"),
            concurrency: self.concurrency,
            ..Options::default()
        }
    }
}

/// The job thread `thread` runs as its `call`-th call: each thread starts at
/// another place in the list, so different inputs run side by side.
fn job_for(thread: usize, call: usize) -> usize {
    (thread + call) % WORK.len()
}

/// Runs `body(thread)` on `THREADS` fresh threads that start together, joins
/// each one (a native join: its thread-locals are destroyed by then) and
/// returns their results in thread order; a thread's panic is re-raised.
fn on_fresh_threads<T: Send>(body: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(THREADS);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|index| {
                let (body, barrier) = (&body, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    body(index)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| resume_unwind(panic)))
            .collect()
    })
}

// ------------------------------------------------------------ engine_threads

/// The single-threaded result of every job, the reference the threads'
/// outputs must equal.
fn engine_references(ctx: &Ctx) -> Result<Vec<Output>, TestError> {
    WORK.iter()
        .map(|job| optimize(job.fixture, ctx.fixture(job.fixture)?, &job.options()))
        .collect()
}

/// One call of each job on this thread and on a round of threads: codec
/// tables, lazy statics and the first thread spawn's allocations come before
/// the baseline.
fn warm_up_engine(ctx: &Ctx) -> Result<(), TestError> {
    engine_references(ctx)?;
    let inputs = inputs(ctx)?;
    for result in on_fresh_threads(|thread| {
        (0..WORK.len()).try_for_each(|call| {
            let job = WORK[job_for(thread, call)];
            optimize(job.fixture, inputs[job_for(thread, call)], &job.options()).map(drop)
        })
    }) {
        result?;
    }
    Ok(())
}

fn inputs(ctx: &Ctx) -> Result<Vec<&[u8]>, TestError> {
    WORK.iter()
        .map(|job| ctx.fixture(job.fixture).map_err(TestError::from))
        .collect()
}

/// `CALLS_PER_THREAD` calls on one thread, each output compared with its
/// reference; the number of calls made.
fn engine_calls(
    thread: usize,
    inputs: &[&[u8]],
    options: &[Options],
    references: &[Output],
) -> Result<u64, TestError> {
    for call in 0..CALLS_PER_THREAD {
        let index = job_for(thread, call);
        let job = WORK[index];
        let output = optimize(job.fixture, inputs[index], &options[index])?;
        let reference = &references[index];
        memsuite::ensure!(
            output == *reference,
            "{} on thread {thread}: {} bytes of {} (distance {}, passed {}) where one thread \
             made {} bytes of {} (distance {}, passed {})",
            job.fixture,
            output.bytes.len(),
            output.format.name(),
            output.diff,
            output.passed,
            reference.bytes.len(),
            reference.format.name(),
            reference.diff,
            reference.passed
        );
    }
    Ok(CALLS_PER_THREAD as u64)
}

fn engine_threads(ctx: &Ctx) -> Result<u64, TestError> {
    let rounds = ctx.iterations(MAX_ROUNDS);
    let references = engine_references(ctx)?;
    let inputs = inputs(ctx)?;
    let options: Vec<Options> = WORK.iter().map(Job::options).collect();
    assert!(
        references.iter().any(|r| r.format == Format::Webp)
            && references.iter().any(|r| r.format != Format::Webp),
        "the jobs cover more than one encoder"
    );
    let mut tally = LeakTally::new(rounds);
    let mut calls: u64 = 0;
    for round in 0..rounds {
        let check = ctx.leak_check("concurrency::engine_threads (one round of threads)");
        let results =
            on_fresh_threads(|thread| engine_calls(thread, &inputs, &options, &references));
        let made = results.into_iter().sum::<Result<u64, TestError>>()?;
        tally.record(round, check.finish());
        calls += made;
    }
    assert_eq!(
        calls,
        u64::from(rounds) * (THREADS * CALLS_PER_THREAD) as u64,
        "a round ended early"
    );
    tally.finish()?;
    Ok(calls)
}

// ------------------------------------------------------------ cdylib_threads

/// A job's input and C strings, made once (the threads share them).
struct AbiJob<'a> {
    input: &'a [u8],
    formats: CString,
    metric: CString,
    concurrency: u32,
}

/// What the single-threaded call through the C ABI returned for a job.
#[derive(PartialEq)]
struct AbiOutput {
    bytes: Vec<u8>,
    format: String,
    diff_bits: u64,
    passed: i32,
}

/// A result a thread hands back for the main thread to check and free.
struct Handed {
    job: usize,
    result: *mut PyjamazResult,
}

// SAFETY: a PyjamazResult is plain memory owned by whoever holds the
// pointer; the library allows freeing it on any thread, and only one thread
// holds a `Handed` at a time.
unsafe impl Send for Handed {}

fn abi_jobs(ctx: &Ctx) -> Result<Vec<AbiJob<'_>>, TestError> {
    WORK.iter()
        .map(|job| {
            Ok(AbiJob {
                input: ctx.fixture(job.fixture)?,
                formats: CString::new(job.formats).expect("no NUL in the suite's lists"),
                metric: CString::new(job.metric).expect("no NUL in the suite's metrics"),
                concurrency: job.concurrency,
            })
        })
        .collect()
}

/// `pyjamaz_optimize` of one job; never NULL (the header promises it).
fn abi_call(api: &Api, job: &AbiJob) -> *mut PyjamazResult {
    let options = PyjamazOptions {
        input: job.input.as_ptr(),
        input_len: job.input.len(),
        max_bytes: 0,
        max_diff: 0.0,
        metric: job.metric.as_ptr(),
        formats: job.formats.as_ptr(),
        concurrency: job.concurrency,
    };
    // SAFETY: the options point at live input bytes and C strings.
    let result = unsafe { (api.optimize)(&options) };
    assert!(!result.is_null(), "pyjamaz_optimize returned NULL");
    result
}

/// Copies a successful result out.
///
/// # Safety
/// `result` must be a live result of `pyjamaz_optimize`.
unsafe fn read_output(result: *mut PyjamazResult) -> Result<AbiOutput, TestError> {
    let r = &*result;
    memsuite::ensure!(
        r.error_code == PYJAMAZ_OK && !r.output.is_null() && !r.format.is_null(),
        "pyjamaz_optimize failed with code {}",
        r.error_code
    );
    Ok(AbiOutput {
        bytes: std::slice::from_raw_parts(r.output, r.output_len).to_vec(),
        format: CStr::from_ptr(r.format).to_string_lossy().into_owned(),
        diff_bits: r.diff_value.to_bits(),
        passed: r.passed,
    })
}

/// Compares a live result with its job's reference, without copying it.
///
/// # Safety
/// `result` must be a live result of `pyjamaz_optimize`.
unsafe fn matches(result: *mut PyjamazResult, reference: &AbiOutput) -> bool {
    let r = &*result;
    r.error_code == PYJAMAZ_OK
        && !r.output.is_null()
        && std::slice::from_raw_parts(r.output, r.output_len) == reference.bytes.as_slice()
        && CStr::from_ptr(r.format).to_bytes() == reference.format.as_bytes()
        && r.diff_value.to_bits() == reference.diff_bits
        && r.passed == reference.passed
}

fn abi_references(api: &Api, jobs: &[AbiJob]) -> Result<Vec<AbiOutput>, TestError> {
    jobs.iter()
        .map(|job| {
            let result = abi_call(api, job);
            // SAFETY: a live result, freed once right after.
            let output = unsafe { read_output(result) };
            unsafe { (api.free_result)(result) };
            output
        })
        .collect()
}

fn warm_up_cdylib(ctx: &Ctx) -> Result<(), TestError> {
    let api = Api::load(ctx)?;
    let jobs = abi_jobs(ctx)?;
    abi_references(&api, &jobs)?;
    for mismatches in on_fresh_threads(|thread| abi_calls(&api, &jobs, &[], thread)) {
        mismatches?;
    }
    Ok(())
}

/// One thread's calls. With `references`, each result is compared with its
/// reference; every other one is freed here and the rest are handed back.
/// Without (the warm-up), everything is freed here.
fn abi_calls(
    api: &Api,
    jobs: &[AbiJob],
    references: &[AbiOutput],
    thread: usize,
) -> Result<Vec<Handed>, TestError> {
    let mut handed = Vec::with_capacity(CALLS_PER_THREAD);
    let mut wrong = None;
    for call in 0..CALLS_PER_THREAD {
        let index = job_for(thread, call);
        let result = abi_call(api, &jobs[index]);
        // SAFETY: a live result until freed below or by the main thread.
        if let Some(reference) = references.get(index) {
            if !unsafe { matches(result, reference) } {
                wrong.get_or_insert((index, call));
            }
        }
        if references.is_empty() || call % 2 == 0 {
            // SAFETY: freed once; never handed back.
            unsafe { (api.free_result)(result) };
        } else {
            handed.push(Handed { job: index, result });
        }
    }
    if let Some((index, call)) = wrong {
        for h in handed {
            // SAFETY: live results this thread still owns.
            unsafe { (api.free_result)(h.result) };
        }
        return Err(TestError::Check {
            message: format!(
                "{} on thread {thread} (call {call}): the result differs from the \
                 single-threaded one",
                WORK[index].fixture
            ),
        });
    }
    Ok(handed)
}

fn cdylib_threads(ctx: &Ctx) -> Result<u64, TestError> {
    let rounds = ctx.iterations(MAX_ROUNDS);
    let api = Api::load(ctx)?;
    let jobs = abi_jobs(ctx)?;
    let references = abi_references(&api, &jobs)?;
    // This side (the test allocator) is checked by the harness around the
    // whole test; the library's heap is checked per round here.
    let own = ctx.leak_check("concurrency::cdylib_threads (this process)");
    let baseline = api.stats();
    let mut leaky_rounds: u32 = 0;
    let mut calls: u64 = 0;
    for _ in 0..rounds {
        let start = api.stats();
        let per_thread = on_fresh_threads(|thread| abi_calls(&api, &jobs, &references, thread));
        let mut first_error = None;
        for handed in per_thread {
            match handed {
                Ok(handed) => {
                    for h in handed {
                        // Read on the main thread too: the bytes a worker
                        // thread wrote are all there once it is joined.
                        // SAFETY: a live result, freed once right after.
                        let same = unsafe { matches(h.result, &references[h.job]) };
                        unsafe { (api.free_result)(h.result) };
                        assert!(
                            same,
                            "{}: a handed-back result changed",
                            WORK[h.job].fixture
                        );
                    }
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        if let Some(err) = first_error {
            return Err(err);
        }
        let end = api.stats();
        if (end.live_allocations, end.live_bytes) != (start.live_allocations, start.live_bytes) {
            leaky_rounds += 1;
        }
        memsuite::ensure!(
            end.total_allocations > start.total_allocations,
            "a round of {THREADS} threads counted no allocation: the library does not count its heap"
        );
        calls += (THREADS * CALLS_PER_THREAD) as u64;
    }
    let (before, after) = (Snapshot::from(baseline), Snapshot::from(api.stats()));
    let (allocations, bytes) = before.live_delta(&after);
    if leaky_rounds > 0 || allocations != 0 || bytes != 0 {
        return Err(TestError::ForeignLeak(Leak {
            name: Cow::Owned(format!(
                "library heap: {leaky_rounds} of {rounds} rounds of {THREADS} threads sharing the cdylib"
            )),
            allocations,
            bytes,
            before,
            after,
        }));
    }
    own.finish()?;
    Ok(calls)
}
