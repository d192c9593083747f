//! Pyjamaz: an image optimizer with a C ABI and exact accounting of its own
//! native heap.
//!
//! [`optimize`] detects the input format from its magic bytes (JPEG, PNG,
//! WebP, GIF), decodes it under limits (a decompression bomb is an error, not
//! an OOM), encodes candidates in the allowed formats (JPEG and lossy WebP at
//! a quality found by binary search when a size budget is set, PNG losslessly
//! through oxipng), keeps the original bytes as a candidate, and returns the
//! smallest candidate meeting `max_bytes` and `max_diff` (distance = 1 - SSIM
//! on luma). When none does, the smallest candidate comes back with
//! `passed = false`; that is a result, not an error.
//!
//! The original is a candidate when no format list is given, or when its own
//! format is in the list (so `formats = "webp"` really yields WebP).
//!
//! The C ABI (`include/pyjamaz.h`) is implemented in [`ffi`].
//!
//! # Allocation accounting and the `cdylib-alloc` feature
//!
//! A Rust cdylib carries its own global allocator, so the bindings can only
//! learn about the library's heap if the library counts it: with the default
//! feature `cdylib-alloc`, [`alloc::CountingAlloc`] is installed as the
//! `#[global_allocator]` and exported through `pyjamaz_alloc_stats`.
//!
//! Rust cannot tell at compile time whether it is building the cdylib or the
//! rlib (one rustc invocation emits both), yet the rlib is linked into Rust
//! memory suites that install *their own* leak-checking global allocator, and
//! a binary may only have one. Hence the feature, on by default (the cdylib
//! that `cargo build -p pyjamaz` produces counts), which Rust dependents turn
//! off with `default-features = false`.
//!
//! Caveat: cargo unifies features within one build. When a single command
//! builds both `pyjamaz` with its defaults and a crate that installs its own
//! allocator (e.g. `cargo test --workspace`), the feature is on for both and
//! that crate fails to link ("global allocator conflicts"). Build such crates
//! with `-p <crate>` on their own.
//!
//! # The `canary-leak` feature
//!
//! **Deliberately leaks memory.** With `canary-leak`, every optimize call
//! leaks a heap copy of its input, so memtest's canary suites can prove that
//! a leak is caught. Never enable it outside those canaries.

pub mod alloc;
#[cfg(feature = "canary-leak")]
mod canary;
pub mod decode;
pub mod encode;
pub mod error;
pub mod ffi;
pub mod format;
pub mod fuzzing;
pub mod optimize;
pub mod ssim;

pub use error::{Error, ErrorCode};
pub use format::Format;
pub use optimize::{optimize, Metric, Options, Output};

#[cfg(feature = "cdylib-alloc")]
#[global_allocator]
static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc;

/// Whether this build counts its heap (feature `cdylib-alloc`); when false,
/// [`alloc::stats`] stays at zero.
pub const COUNTS_ALLOCATIONS: bool = cfg!(feature = "cdylib-alloc");
