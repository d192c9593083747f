//! memsuite: Zig-style memory suites for the Pyjamaz core.
//!
//! Every suite is its own test binary (`tests/*.rs`, `harness = false`), run
//! by memtest directly so that the process it samples is the test itself.
//! The generic machinery lives in two crates of this workspace:
//! `memtest-alloc` (the counting allocator and its leak checks) and
//! `memtest-harness` (the plain-`main` runner: warm-up, leak-checked body,
//! `MEMTEST` lines, `TEST PASSED`, exit status; fixtures and
//! `MEMTEST_SCALE`). This library holds what is Pyjamaz's own:
//!
//! - [`GLOBAL`]: the test allocator, installed as the global allocator of
//!   every binary that links memsuite, the analogue of Zig's
//!   `std.testing.allocator`. The core links in as the `pyjamaz-engine`
//!   rlib (named `pyjamaz` in Cargo.toml), which installs no allocator of its
//!   own, so the counts include everything the core allocates.
//! - [`PyjamazError`]: failures of the optimizer and of loading the cdylib,
//!   the project errors of [`TestError`].
//! - [`cdylib`]: the cdylib from `PYJAMAZ_LIB_PATH`, the [`Extra`] state of the
//!   suites that call the C ABI.
//! - [`abi`]: the C ABI's structs and codes, and the loaded cdylib's entry
//!   points, for the suites that call the library as the bindings do.
//! - [`run_suite`] and the type aliases the suites are written against.

pub mod abi;
pub mod cdylib;

pub use cdylib::{needs_lib, no_lib, Lib, LIB_PATH_ENV};
pub use memtest_alloc::{self as alloc, Leak, LeakCheck, Snapshot};
pub use memtest_harness::{
    chain, current_rss_bytes, ensure, no_warm_up, peak_rss_bytes, EnvError, Extra, LeakTally, Leaks,
};

use memtest_alloc::CountingAlloc;
use memtest_harness::Harness;
use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;

/// Why a memsuite test failed: the harness's reasons, or [`PyjamazError`].
pub type TestError = memtest_harness::Error<PyjamazError>;
/// A memsuite binary's suite; `setup` is [`no_lib`] or [`needs_lib`].
pub type Suite = memtest_harness::Suite<PyjamazError, Lib>;
pub type Test = memtest_harness::Test<PyjamazError, Lib>;
/// What a test reads: fixtures, scale, the cdylib path (`ctx.extra`).
pub type Ctx = memtest_harness::Ctx<Lib>;

/// Pyjamaz's own reasons for a test to fail.
#[derive(Debug, thiserror::Error)]
pub enum PyjamazError {
    #[error("optimize of {input} failed")]
    Optimize {
        input: &'static str,
        #[source]
        source: pyjamaz::Error,
    },
    /// Loading the cdylib or one of its symbols failed.
    #[error("{what}")]
    Ffi {
        what: String,
        #[source]
        source: libloading::Error,
    },
    #[error("{LIB_PATH_ENV} is not set: the runner sets it to the built cdylib")]
    LibPathUnset,
    #[error("{LIB_PATH_ENV} points at {}, which does not exist", path.display())]
    LibPathMissing { path: PathBuf },
}

impl From<PyjamazError> for TestError {
    fn from(err: PyjamazError) -> Self {
        TestError::Project(err)
    }
}

/// The test allocator. A `#[global_allocator]` in a library applies to every
/// binary linking it, including this crate's own unit tests.
#[global_allocator]
pub static GLOBAL: CountingAlloc = CountingAlloc::new();

/// Runs `suite` under the test allocator; the process exit status.
pub fn run_suite(suite: &Suite) -> ExitCode {
    Harness {
        alloc: &GLOBAL,
        label: "memsuite",
    }
    .run(suite)
}

/// Runs `work` and demands that every allocation it made through the test
/// allocator was freed by the time it returned.
pub fn check_leaks<T>(
    name: impl Into<Cow<'static, str>>,
    work: impl FnOnce() -> T,
) -> Result<T, Leak> {
    GLOBAL.check_leaks(name, work)
}

/// `pyjamaz::optimize`, with a failure naming the fixture it was given.
pub fn optimize(
    input_name: &'static str,
    input: &[u8],
    options: &pyjamaz::Options,
) -> Result<pyjamaz::Output, TestError> {
    pyjamaz::optimize(input, options).map_err(|source| {
        PyjamazError::Optimize {
            input: input_name,
            source,
        }
        .into()
    })
}
