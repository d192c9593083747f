//! Pyjamaz, the shipped library: the optimizer of [`pyjamaz_engine`] (all of
//! it re-exported here) behind a C ABI, with exact accounting of its own
//! native heap.
//!
//! The C ABI (`include/pyjamaz.h`) is implemented in [`ffi`]; the fuzz
//! target's logic, which drives that ABI, in [`fuzzing`].
//!
//! # Allocation accounting
//!
//! A Rust cdylib carries its own global allocator, so the bindings can only
//! learn about the library's heap if the library counts it: this crate
//! installs [`alloc::CountingAlloc`] (from the `memtest-alloc` crate, which
//! the memory suites use too) as the `#[global_allocator]`, unconditionally,
//! and exports its counters through `pyjamaz_alloc_stats`.
//!
//! Rust cannot tell at compile time whether it is building the cdylib or the
//! rlib (one rustc invocation emits both), so every binary linking this rlib
//! gets the counting allocator too. That is why nothing but the fuzz target
//! and this package's own tests and examples depend on it: Rust code that
//! installs its own allocator (the memory suites) links `pyjamaz-engine`
//! instead, and a workspace build can never put two allocators in one binary.
//!
//! # The `canary-leak` feature
//!
//! **Deliberately leaks memory.** Forwards to the engine's `canary-leak`:
//! every optimize call leaks a heap copy of its input, so memtest's canary
//! suites can prove that a leak is caught. Never enable it outside those
//! canaries. `MEMTEST_LEAK_BYTES=N` (with `MEMTEST_LEAK_EVERY=K` and
//! `MEMTEST_LEAK_HEAP=rust|c`) grades it at run time: N bytes per call, on
//! one call in K, from the counted Rust heap or from libc's `malloc`
//! (`tests/graded_leak.rs` checks each reaches the heap it names).
//!
//! # The `canary-thread-leak` feature
//!
//! **Deliberately leaks memory, under concurrency only.** Forwards to the
//! engine's `canary-thread-leak`: every thread that calls optimize keeps a
//! scratch buffer that is never freed when the thread ends, so the
//! concurrent suites' canaries can prove that such a leak is caught, and the
//! single-threaded suites show that they cannot see it. Never enable it
//! outside those canaries.
//!
//! # The `canary-rare-leak` feature
//!
//! **Deliberately leaks memory, on one rare input shape only.** Forwards to
//! the engine's `canary-rare-leak`: a PNG with alpha whose width % 61 == 7
//! leaks a row buffer per call, any other input nothing. The fuzz suites'
//! canaries prove that leak-aware fuzzing finds it. Never enable it outside
//! those canaries.

pub mod alloc;
pub mod ffi;
pub mod fuzzing;

pub use pyjamaz_engine::*;

#[global_allocator]
static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc::new();
