//! **DELIBERATE MEMORY LEAKS — test-only.** Compiled only with one of the
//! cargo features `canary-leak` and `canary-thread-leak`, which must never be
//! enabled in a shipped build.
//!
//! memtest's canary suites run against a core built with one of them to
//! prove the memory suites can fail. Both leak through the global allocator,
//! so the native allocation accounting (`pyjamaz_alloc_stats`) and RSS see
//! them.
//!
//! - `canary-leak`: every optimize call leaks a heap copy of its input.
//! - `canary-thread-leak`: every *thread* that calls optimize leaks one
//!   buffer when it ends (see [`stage_in_thread_scratch`]). Nothing else
//!   leaks, so it is invisible to a suite that calls from one thread.

/// Leaks a copy of `input` on purpose (see the module docs).
#[cfg(feature = "canary-leak")]
pub(crate) fn leak_input(input: &[u8]) {
    // Leak at least one allocation even for empty input, so a canary counting
    // allocations fails on error paths too.
    let copy = input.to_vec().into_boxed_slice();
    let marker = Box::new(input.len());
    // black_box: an allocation nobody reads is removed by LLVM in release
    // builds once this is inlined, leak or not (seen: the canary leaked
    // nothing at all). Handing the pointers to black_box makes them escape.
    std::hint::black_box(Box::leak(copy));
    std::hint::black_box(Box::leak(marker));
}

/// Bytes of the per-thread scratch buffer: above glibc's default mmap
/// threshold (128 KiB), so each leaked buffer is its own mapping and shows
/// in RSS whole (it is filled when made), not hidden in an arena's slack.
#[cfg(feature = "canary-thread-leak")]
pub(crate) const SCRATCH_BYTES: usize = 256 * 1024;

#[cfg(feature = "canary-thread-leak")]
thread_local! {
    /// The calling thread's scratch buffer, made on its first optimize call.
    /// A raw pointer in a `Cell` has no destructor, so a thread's exit frees
    /// nothing: the Rust twin of C's `static __thread char *scratch;
    /// if (!scratch) scratch = malloc(N);` without a `pthread_key_create`
    /// destructor, the bug this canary plants.
    static SCRATCH: std::cell::Cell<*mut u8> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Stages (a prefix of) `input` in the calling thread's scratch buffer,
/// making the buffer on the thread's first call. The buffer is reused by
/// every later call on the same thread and never freed, so:
///
/// - a program calling from one thread sees one allocation, made by its
///   first call and constant after it: a suite that takes its baseline after
///   a warm-up call (every single-threaded suite here does) counts nothing;
/// - every thread that calls and then ends leaks [`SCRATCH_BYTES`] for good:
///   worker threads, a thread per request, a thread pool that is torn down.
///
/// Only the thread calling `optimize` stages; the encoder threads that
/// `Options::concurrency` starts inside one call do not, so a single caller
/// stays one allocation whatever its options.
#[cfg(feature = "canary-thread-leak")]
pub(crate) fn stage_in_thread_scratch(input: &[u8]) {
    SCRATCH.with(|slot| {
        let mut scratch = slot.get();
        if scratch.is_null() {
            // Filled, not zeroed: calloc's fresh zero pages would not be
            // resident, and the leak would not show in RSS.
            let block = vec![0xA5u8; SCRATCH_BYTES].into_boxed_slice();
            scratch = Box::into_raw(block).cast::<u8>();
            slot.set(scratch);
        }
        let staged = input.len().min(SCRATCH_BYTES);
        // SAFETY: `scratch` points at SCRATCH_BYTES bytes owned by this
        // thread alone (a thread-local), `staged` is at most that, and
        // `input` cannot overlap a block only this function hands out.
        unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), scratch, staged) };
        // See leak_input: the block must escape, or LLVM may drop it.
        std::hint::black_box(scratch);
    });
}
