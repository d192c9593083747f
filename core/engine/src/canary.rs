//! **DELIBERATE MEMORY LEAK — test-only.** Compiled only with the cargo
//! feature `canary-leak`, which must never be enabled in a shipped build.
//!
//! memtest's canary suites run against a core built with this feature to
//! prove the memory suites can fail: every optimize call leaks a heap copy of
//! its input, through the global allocator, so both the native allocation
//! accounting (`pyjamaz_alloc_stats`) and RSS see it grow.

/// Leaks a copy of `input` on purpose (see the module docs).
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
