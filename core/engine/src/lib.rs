//! Pyjamaz's engine: the image optimizer as a plain Rust library.
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
//! # Why a crate of its own
//!
//! The shipped library is the `pyjamaz` package (`core/`): this engine plus
//! the C ABI and a counting `#[global_allocator]` that exports the cdylib's
//! heap through `pyjamaz_alloc_stats`. A binary can hold only one global
//! allocator, and the Rust memory suites (`suites/rust`) install their own
//! leak-checking one, so they link this crate, which installs none. Keeping
//! the allocator out of here (rather than behind a feature of one crate)
//! means no cargo feature unification can ever put both in one binary.
//!
//! # The `canary-leak` feature
//!
//! **Deliberately leaks memory.** With `canary-leak`, every optimize call
//! leaks a heap copy of its input, so memtest's canary suites can prove that
//! a leak is caught. Never enable it outside those canaries. The same build
//! leaks a size chosen at run time when `MEMTEST_LEAK_BYTES` is set (with
//! `MEMTEST_LEAK_EVERY` and `MEMTEST_LEAK_HEAP`, see `canary.rs`): memtest's
//! `floor` search grades the leak to find the smallest one a suite can see.
//!
//! # The `canary-thread-leak` feature
//!
//! **Deliberately leaks memory, but only under concurrency.** Each thread
//! that calls [`optimize`] gets a scratch buffer on its first call that is
//! never freed when the thread ends (see `canary.rs`): one allocation for a
//! program that calls from one thread, one more for every thread that calls
//! and ends. The concurrent suites must catch it; the single-threaded ones,
//! by construction, cannot. Never enable it outside those canaries.

//!
//! # The `canary-rare-leak` feature
//!
//! **Deliberately leaks memory, on one rare input shape only.** A PNG whose
//! decoded image has an alpha channel and a width of 61k + 7 pixels leaks one
//! row buffer per call; every other input is clean. The fixed-input suites
//! never feed that shape; memtest's fuzz suites must find it. Never enable it
//! outside those canaries.

#[cfg(any(
    feature = "canary-leak",
    feature = "canary-thread-leak",
    feature = "canary-rare-leak"
))]
mod canary;
pub mod decode;
mod deflate_alloc;
pub mod encode;
pub mod error;
pub mod format;
mod libjpeg;
pub mod optimize;
pub mod ssim;

pub use error::{Error, ErrorCode};
pub use format::Format;
pub use optimize::{optimize, Metric, Options, Output};
