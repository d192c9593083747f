//! memsuite: Zig-style memory suites for the Pyjamaz core.
//!
//! Every suite is its own test binary (`tests/*.rs`, `harness = false`), run
//! by memtest directly so that the process it samples is the test itself.
//! This library holds what they share:
//!
//! - [`alloc`]: the leak-checking test allocator, installed below as the
//!   global allocator of every binary that links memsuite, the analogue of
//!   Zig's `std.testing.allocator`. The core links in as the
//!   `pyjamaz-engine` rlib (named `pyjamaz` in Cargo.toml), which installs
//!   no allocator of its own, so the counts include everything the core
//!   allocates.
//! - [`harness`]: the plain-`main` runner (warm-up, leak-checked body,
//!   `MEMTEST` lines, `TEST PASSED`, exit status).
//! - [`env`]: fixtures, `MEMTEST_SCALE` and `PYJAMAZ_LIB_PATH` from the runner.

pub mod alloc;
pub mod env;
pub mod harness;

pub use alloc::{check_leaks, Leak, LeakCheck};
pub use harness::{run_suite, Ctx, LeakTally, Suite, Test, TestError};

/// `pyjamaz::optimize`, with a failure naming the fixture it was given.
pub fn optimize(
    input_name: &'static str,
    input: &[u8],
    options: &pyjamaz::Options,
) -> Result<pyjamaz::Output, TestError> {
    pyjamaz::optimize(input, options).map_err(|source| TestError::Optimize {
        input: input_name,
        source,
    })
}

/// The test allocator. A `#[global_allocator]` in a library applies to every
/// binary linking it, including this crate's own unit tests.
#[global_allocator]
pub static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc::new();
