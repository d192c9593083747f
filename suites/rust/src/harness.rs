//! The plain-`main` harness every suite binary runs through (`harness = false`):
//! load the environment, run each test as warm-up then leak-checked body,
//! report, exit. The runner samples this very process, so there is no libtest
//! and no extra threads; every test body is wrapped in a [`LeakCheck`], so no
//! test can forget the Zig-style "live allocations back to the start" check.
//!
//! Output protocol (read by memtest): `ok <test>` / `FAIL <test>: <why>` per
//! test, then `MEMTEST native_leaks=<n>`, `MEMTEST native_leaked_bytes=<n>`,
//! `MEMTEST peak_rss_bytes=<VmHWM>`, and `TEST PASSED` only when every test
//! passed. Exit status 0 when passed, 1 when a test failed, 2 when the
//! environment was unusable.

use crate::alloc::{Leak, LeakCheck};
use crate::env::{self, EnvError, Fixtures};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Why a test failed.
///
/// The leak variants own no heap memory when their names are static, so the
/// harness's own leak check around a test that returns one stays exact.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// One check against the test allocator found allocations left live.
    #[error(transparent)]
    Leak(#[from] Leak),
    /// Per-operation checks found leaks in some operations; the loop went on
    /// to the end so the leak also shows in RSS.
    #[error("{operations} of {of} operations left allocations live; the first (operation {index}): {first}")]
    Leaks {
        operations: u32,
        of: u32,
        index: u32,
        first: Leak,
    },
    /// The library's own accounting (`pyjamaz_alloc_stats` of the cdylib)
    /// did not return to its baseline: a leak in a heap the test allocator
    /// cannot see.
    #[error("library heap: {0}")]
    NativeLeak(Leak),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("optimize of {input} failed")]
    Optimize {
        input: &'static str,
        #[source]
        source: pyjamaz::Error,
    },
    #[error("{what}")]
    Ffi {
        what: String,
        #[source]
        source: libloading::Error,
    },
    #[error("check failed: {message}")]
    Check { message: String },
}

impl TestError {
    /// Whether this error owns no heap memory, so that the test allocator's
    /// count taken while it is alive is still exact.
    fn owns_no_heap(&self) -> bool {
        let borrowed = |leak: &Leak| matches!(leak.name, std::borrow::Cow::Borrowed(_));
        match self {
            TestError::Leak(leak) | TestError::NativeLeak(leak) => borrowed(leak),
            TestError::Leaks { first, .. } => borrowed(first),
            _ => false,
        }
    }

    /// Allocations and bytes this error reports in the library's own heap.
    fn library_leak(&self) -> (u64, u64) {
        match self {
            TestError::NativeLeak(leak) => {
                (leak.allocations.max(0) as u64, leak.bytes.max(0) as u64)
            }
            _ => (0, 0),
        }
    }
}

/// Per-operation leak checks over a bounded loop that must run to its end
/// even when an operation leaks (so a leak also shows in RSS, and the count
/// says how many operations leaked, not just that one did). Holds no heap
/// memory: tallying never disturbs the checks it tallies.
#[derive(Debug)]
pub struct LeakTally {
    of: u32,
    leaky: u32,
    first: Option<(u32, Leak)>,
}

impl LeakTally {
    /// A tally for a loop of `of` operations.
    pub fn new(of: u32) -> Self {
        LeakTally {
            of,
            leaky: 0,
            first: None,
        }
    }

    /// Records operation `index`'s check.
    pub fn record(&mut self, index: u32, check: Result<crate::alloc::Snapshot, Leak>) {
        if let Err(leak) = check {
            self.leaky += 1;
            if self.first.is_none() {
                self.first = Some((index, leak));
            }
        }
    }

    /// Operations that leaked so far.
    pub fn leaky(&self) -> u32 {
        self.leaky
    }

    /// `Err(TestError::Leaks)` when any operation leaked.
    pub fn finish(self) -> Result<(), TestError> {
        match self.first {
            None => Ok(()),
            Some((index, first)) => Err(TestError::Leaks {
                operations: self.leaky,
                of: self.of,
                index,
                first,
            }),
        }
    }
}

/// Returns `Err(TestError::Check)` from the enclosing function unless `cond`
/// holds: for conditions that are an expected outcome under test rather than
/// a programming error (those use `assert!`).
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::harness::TestError::Check { message: format!($($fmt)+) });
        }
    };
}

/// One test: `warm_up` runs first and outside the leak check, so that
/// once-only allocations (lazy statics, thread-locals, codec tables, the
/// stdout buffer) are made before the baseline; `run` is the test proper,
/// leak-checked as a whole, and returns how many operations it performed.
pub struct Test {
    pub name: &'static str,
    pub warm_up: fn(&Ctx) -> Result<(), TestError>,
    pub run: fn(&Ctx) -> Result<u64, TestError>,
}

/// One suite binary: its name (the test target), the fixtures it reads, and
/// whether it needs the cdylib from `PYJAMAZ_LIB_PATH`.
pub struct Suite {
    pub name: &'static str,
    pub fixtures: &'static [&'static str],
    pub needs_lib: bool,
    pub tests: &'static [Test],
}

/// What a test can read: loaded fixtures, the scale, the cdylib path.
pub struct Ctx {
    pub fixtures: Fixtures,
    pub scale: f64,
    pub lib_path: Option<PathBuf>,
}

impl Ctx {
    pub fn fixture(&self, name: &str) -> Result<&[u8], TestError> {
        Ok(self.fixtures.get(name)?)
    }

    /// `base` scaled by `MEMTEST_SCALE`, at least one.
    pub fn iterations(&self, base: u32) -> u32 {
        env::scaled(base, self.scale)
    }

    pub fn lib_path(&self) -> Result<&std::path::Path, TestError> {
        self.lib_path
            .as_deref()
            .ok_or(TestError::Env(EnvError::LibPathUnset))
    }
}

/// Runs `suite` and turns the outcome into the process exit status. Command
/// line arguments, when given, select tests whose name contains one of them.
pub fn run_suite(suite: &Suite) -> ExitCode {
    // The first print allocates stdout's line buffer for good: do it before
    // any baseline.
    println!("memsuite {}: {} tests", suite.name, suite.tests.len());
    let ctx = match load_ctx(suite) {
        Ok(ctx) => ctx,
        Err(err) => {
            println!("FAIL {}: {}", suite.name, chain(&err));
            return ExitCode::from(2);
        }
    };
    println!(
        "fixtures: {}; scale {}{}",
        ctx.fixtures.origin,
        ctx.scale,
        ctx.lib_path
            .as_ref()
            .map(|p| format!("; library {}", p.display()))
            .unwrap_or_default()
    );

    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&Test> = suite
        .tests
        .iter()
        .filter(|t| filters.is_empty() || filters.iter().any(|f| t.name.contains(f.as_str())))
        .collect();
    if selected.is_empty() {
        println!("FAIL {}: no test matches {:?}", suite.name, filters);
        return ExitCode::from(2);
    }

    let mut failed = 0usize;
    let mut leaked_allocations = 0u64;
    let mut leaked_bytes = 0u64;
    for test in &selected {
        let started = Instant::now();
        let (outcome, leaked) = run_one(test, &ctx);
        let millis = started.elapsed().as_millis();
        leaked_allocations += leaked.0;
        leaked_bytes += leaked.1;
        match outcome {
            Ok(operations) => println!("ok   {} ({operations} operations, {millis} ms)", test.name),
            Err(failure) => {
                failed += 1;
                println!("FAIL {} ({millis} ms): {}", test.name, failure);
            }
        }
    }

    println!("MEMTEST native_leaks={leaked_allocations}");
    println!("MEMTEST native_leaked_bytes={leaked_bytes}");
    if let Some(peak) = peak_rss_bytes() {
        println!("MEMTEST peak_rss_bytes={peak}");
    }
    if failed == 0 {
        println!("{} tests passed", selected.len());
        println!("TEST PASSED");
        ExitCode::SUCCESS
    } else {
        println!("{failed} of {} tests failed", selected.len());
        ExitCode::FAILURE
    }
}

fn load_ctx(suite: &Suite) -> Result<Ctx, EnvError> {
    let scale = env::scale_from_env()?;
    let fixtures = Fixtures::load(suite.fixtures)?;
    let lib_path = if suite.needs_lib {
        Some(env::lib_path_from_env()?)
    } else {
        None
    };
    Ok(Ctx {
        fixtures,
        scale,
        lib_path,
    })
}

enum Failure {
    Error(TestError),
    Panic(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Error(err) => f.write_str(&chain(err)),
            Failure::Panic(message) => write!(f, "panicked: {message}"),
        }
    }
}

/// Runs one test: warm-up, then the body inside a leak check. Returns the
/// outcome and the allocations and bytes it left live (test allocator plus
/// the library's own heap when the test measured it), counted only where the
/// figure is exact: not after a panic, nor beside an error owning heap memory.
fn run_one(test: &Test, ctx: &Ctx) -> (Result<u64, Failure>, (u64, u64)) {
    let warmed = catch_unwind(AssertUnwindSafe(|| (test.warm_up)(ctx)));
    match warmed {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return (Err(Failure::Error(err)), (0, 0)),
        Err(payload) => return (Err(Failure::Panic(panic_message(payload))), (0, 0)),
    }
    let check = LeakCheck::start(test.name);
    let ran = catch_unwind(AssertUnwindSafe(|| (test.run)(ctx)));
    // Read the counts before anything below allocates (error chains, messages).
    let leak = check.finish();
    let live = |leak: &Result<_, Leak>| match leak {
        Ok(_) => (0, 0),
        Err(leak) => (leak.allocations.max(0) as u64, leak.bytes.max(0) as u64),
    };
    match ran {
        // The unwind ran the test's drops, but the panic machinery allocates
        // too: the figure would be noise.
        Err(payload) => (Err(Failure::Panic(panic_message(payload))), (0, 0)),
        Ok(Ok(operations)) => {
            let leaked = live(&leak);
            match leak {
                Ok(_) => (Ok(operations), leaked),
                Err(leak) => (Err(Failure::Error(TestError::Leak(leak))), leaked),
            }
        }
        Ok(Err(err)) => {
            let (library_allocations, library_bytes) = err.library_leak();
            let (own_allocations, own_bytes) = if err.owns_no_heap() {
                live(&leak)
            } else {
                (0, 0)
            };
            let leaked = (
                own_allocations + library_allocations,
                own_bytes + library_bytes,
            );
            (Err(Failure::Error(err)), leaked)
        }
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// An error and its causes, `: `-joined, so one line says everything.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The kernel's exact high-water mark of this process's RSS (`VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_kib(&status, "VmHWM:").map(|kib| kib * 1024)
}

/// The current RSS of this process (`VmRSS`).
pub fn current_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_kib(&status, "VmRSS:").map(|kib| kib * 1024)
}

fn parse_vm_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_lines_parse_in_kib() {
        let status = "Name:\tx\nVmHWM:\t   12345 kB\nVmRSS:\t  100 kB\n";
        assert_eq!(parse_vm_kib(status, "VmHWM:"), Some(12345));
        assert_eq!(parse_vm_kib(status, "VmRSS:"), Some(100));
        assert_eq!(parse_vm_kib(status, "VmSwap:"), None);
        // Current first: the other tests allocate on their own threads, so
        // RSS read after the peak may already be above it; the peak read
        // later covers every earlier RSS.
        let current = current_rss_bytes().unwrap();
        assert!(peak_rss_bytes().unwrap() >= current);
    }

    #[test]
    fn chain_joins_causes() {
        let err = EnvError::FixtureUnreadable {
            name: "tiny.png",
            path: "/nowhere/tiny.png".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(
            chain(&err),
            "fixture tiny.png cannot be read from /nowhere/tiny.png: gone"
        );
    }

    fn ensure_positive(value: i32) -> Result<(), TestError> {
        ensure!(value > 0, "{value} is not positive");
        Ok(())
    }

    #[test]
    fn ensure_returns_a_check_error() {
        assert!(ensure_positive(1).is_ok());
        let err = ensure_positive(-2).unwrap_err();
        assert_eq!(err.to_string(), "check failed: -2 is not positive");
    }
}
