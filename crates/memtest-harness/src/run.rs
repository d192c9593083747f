//! The plain-`main` runner: loads the environment, runs each test (warm-up,
//! then the leak-checked body), prints the per-test lines and the `MEMTEST`
//! figures memtest parses, `TEST PASSED` only when every test passed, and
//! turns the outcome into the exit status (0 passed, 1 a test failed, 2 the
//! environment was unusable).

use crate::env::{self, EnvError, Fixtures};
use crate::error::{chain, Error};
use crate::rss::peak_rss_bytes;
use memtest_alloc::{CountingAlloc, Leak, LeakCheck};
use std::any::Any;
use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::Instant;

/// Project state every test of a suite reads as [`Ctx::extra`], built once by
/// [`Suite::setup`] after the fixtures and before any test (so its own
/// allocations are outside every check).
pub trait Extra: 'static {
    /// Appended to the suite's `fixtures: …; scale …` header line, e.g.
    /// `"; library /path/libfoo.so"`; empty by default.
    fn describe(&self) -> String {
        String::new()
    }
}

impl Extra for () {}

/// One test: `warm_up` runs first and outside the leak check, so that
/// once-only allocations are made before the baseline; `run` is the test
/// proper, leak-checked as a whole, and returns how many operations it
/// performed.
pub struct Test<P: 'static = Infallible, X: 'static = ()> {
    pub name: &'static str,
    pub warm_up: fn(&Ctx<X>) -> Result<(), Error<P>>,
    pub run: fn(&Ctx<X>) -> Result<u64, Error<P>>,
}

/// One suite binary: its name (the test target), the fixtures it reads, the
/// set-up of its [`Extra`] state, and its tests in the order they run.
pub struct Suite<P: 'static = Infallible, X: 'static = ()> {
    pub name: &'static str,
    pub fixtures: &'static [&'static str],
    /// Fails the suite with exit status 2 when its `Err` says why the
    /// environment is unusable; [`no_setup`] for suites without state.
    pub setup: fn() -> Result<X, Error<P>>,
    pub tests: &'static [Test<P, X>],
}

/// The `setup` of a suite without [`Extra`] state.
pub fn no_setup<P>() -> Result<(), Error<P>> {
    Ok(())
}

/// The `warm_up` of a test that needs none.
pub fn no_warm_up<P, X>(_: &Ctx<X>) -> Result<(), Error<P>> {
    Ok(())
}

/// What a test can read: the loaded fixtures, the scale, the project's
/// state, and the binary's counting allocator (for its own leak checks).
pub struct Ctx<X = ()> {
    pub fixtures: Fixtures,
    pub scale: f64,
    pub extra: X,
    alloc: &'static CountingAlloc,
}

impl<X> Ctx<X> {
    /// The bytes of a fixture the suite listed.
    pub fn fixture(&self, name: &str) -> Result<&[u8], EnvError> {
        self.fixtures.get(name)
    }

    /// `base` scaled by `MEMTEST_SCALE`, rounded, at least one.
    pub fn iterations(&self, base: u32) -> u32 {
        env::scaled(base, self.scale)
    }

    /// The binary's global allocator, as handed to the harness.
    pub fn alloc(&self) -> &'static CountingAlloc {
        self.alloc
    }

    /// A checkpoint of a test's loop at `x` (operations or rounds done): in
    /// cause mode (`MEMTEST_CAUSE`) it prints the allocator's figures and
    /// the exact live count; nothing otherwise.
    pub fn checkpoint(&self, x: f64) {
        crate::cause::checkpoint(x, self.alloc);
    }

    /// Starts a leak check against the global allocator.
    pub fn leak_check(&self, name: impl Into<Cow<'static, str>>) -> LeakCheck<'static> {
        self.alloc.leak_check(name)
    }
}

/// How a binary runs its suite: the counting allocator it installed as its
/// `#[global_allocator]`, and the word its header line starts with.
#[derive(Debug, Clone, Copy)]
pub struct Harness {
    pub alloc: &'static CountingAlloc,
    /// `LABEL NAME: N tests` is the first line of the output.
    pub label: &'static str,
}

/// [`Harness::run`] with the label `suite`.
pub fn run_suite<P, X>(alloc: &'static CountingAlloc, suite: &Suite<P, X>) -> ExitCode
where
    P: std::error::Error + 'static,
    X: Extra,
{
    Harness {
        alloc,
        label: "suite",
    }
    .run(suite)
}

impl Harness {
    /// Runs `suite` and turns the outcome into the process exit status.
    /// Command line arguments not starting with `-`, when given, select the
    /// tests whose name contains one of them.
    pub fn run<P, X>(&self, suite: &Suite<P, X>) -> ExitCode
    where
        P: std::error::Error + 'static,
        X: Extra,
    {
        let started = Instant::now();
        // The first print allocates stdout's line buffer for good: do it
        // before any baseline.
        println!("{} {}: {} tests", self.label, suite.name, suite.tests.len());
        if let Err(why) = self.check_alloc_is_global() {
            println!("FAIL {}: {why}", suite.name);
            return ExitCode::from(2);
        }
        let ctx = match self.load_ctx(suite) {
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
            ctx.extra.describe()
        );

        let filters: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let selected: Vec<&Test<P, X>> = suite
            .tests
            .iter()
            .filter(|t| filters.is_empty() || filters.iter().any(|f| t.name.contains(f.as_str())))
            .collect();
        if selected.is_empty() {
            println!("FAIL {}: no test matches {:?}", suite.name, filters);
            return ExitCode::from(2);
        }

        let soak = match env::duration_from_env() {
            Ok(soak) => soak.map(|d| started + d),
            Err(err) => {
                println!("FAIL {}: {err}", suite.name);
                return ExitCode::from(2);
            }
        };
        let mut passed = Pass::default();
        // A soak by duration: every test again, pass after pass, until the
        // time is up or a test failed; what a pass leaves live counts.
        for passes in 1u64.. {
            passed.run(&selected, &ctx);
            let Some(deadline) = soak else { break };
            println!("MEMTEST soak_passes={passes}");
            if passed.failed > 0 || Instant::now() >= deadline {
                break;
            }
        }
        let Pass {
            failed,
            leaked_allocations,
            leaked_bytes,
            checked,
        } = passed;

        println!("MEMTEST native_leaks={leaked_allocations}");
        println!("MEMTEST native_leaked_bytes={leaked_bytes}");
        self.print_sites(&checked);
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

    /// In attribution mode (`MEMTEST_EXPLAIN`, site tracking on), the leak
    /// sites: blocks made inside a test's checked body and still live.
    /// Warm-ups and set-up are outside every window, so what they keep on
    /// purpose (fixtures, lazy statics) is no site.
    fn print_sites(&self, checked: &[(u64, u64)]) {
        #[cfg(feature = "sites")]
        if self.alloc.is_tracking_sites() {
            let inside = |seq: u64| checked.iter().any(|(from, to)| (*from..*to).contains(&seq));
            print!("{}", self.alloc.site_lines_where(&inside, MAX_SITES));
        }
        #[cfg(not(feature = "sites"))]
        let _ = checked;
    }

    /// An allocator that is not the binary's global one counts nothing, and
    /// every leak check against it would pass vacuously: refuse to run.
    fn check_alloc_is_global(&self) -> Result<(), &'static str> {
        if !self.alloc.is_counting() {
            return Err("the harness's allocator has counting switched off");
        }
        let before = self.alloc.snapshot().total_allocations;
        drop(std::hint::black_box(Box::new(0u64)));
        if self.alloc.snapshot().total_allocations == before {
            return Err("the allocator given to the harness counted no allocation: \
                        it is not this binary's #[global_allocator]");
        }
        Ok(())
    }

    fn load_ctx<P, X>(&self, suite: &Suite<P, X>) -> Result<Ctx<X>, Error<P>> {
        let scale = env::scale_from_env()?;
        let fixtures = Fixtures::load(suite.fixtures)?;
        let extra = (suite.setup)()?;
        Ok(Ctx {
            fixtures,
            scale,
            extra,
            alloc: self.alloc,
        })
    }
}

/// What the tests of a suite did, over every pass of a soak.
#[derive(Default)]
struct Pass {
    failed: usize,
    leaked_allocations: u64,
    leaked_bytes: u64,
    /// The allocation numbers of each checked body (from, to).
    checked: Vec<(u64, u64)>,
}

impl Pass {
    /// Runs each test once, printing its line.
    fn run<P, X>(&mut self, selected: &[&Test<P, X>], ctx: &Ctx<X>)
    where
        P: std::error::Error + 'static,
        X: Extra,
    {
        for test in selected {
            let started = Instant::now();
            let (outcome, leaked, window) = run_one(test, ctx);
            self.checked.push(window);
            // One record after each test's checked body, in cause mode.
            ctx.checkpoint(self.checked.len() as f64);
            let millis = started.elapsed().as_millis();
            self.leaked_allocations += leaked.0;
            self.leaked_bytes += leaked.1;
            match outcome {
                Ok(operations) => {
                    println!("ok   {} ({operations} operations, {millis} ms)", test.name)
                }
                Err(failure) => {
                    self.failed += 1;
                    println!("FAIL {} ({millis} ms): {}", test.name, failure);
                }
            }
        }
    }
}

enum Failure<P> {
    Error(Error<P>),
    Panic(String),
}

impl<P: std::error::Error + 'static> fmt::Display for Failure<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(err) => f.write_str(&chain(err)),
            Failure::Panic(message) => write!(f, "panicked: {message}"),
        }
    }
}

/// Sites printed in attribution mode: the largest.
#[cfg(feature = "sites")]
const MAX_SITES: usize = 50;

/// What [`run_one`] gives back: the outcome, the allocations and bytes left
/// live, and the allocation numbers of the checked body (from, to).
type Ran<P> = (Result<u64, Failure<P>>, (u64, u64), (u64, u64));

/// Runs one test: warm-up, then the body inside a leak check. Returns the
/// outcome and the allocations and bytes it left live (test allocator plus
/// any foreign heap the test measured), counted only where the figure is
/// exact: not after a panic, nor beside an error owning heap memory; and
/// the allocation numbers its body spanned.
fn run_one<P, X>(test: &Test<P, X>, ctx: &Ctx<X>) -> Ran<P> {
    let warmed = catch_unwind(AssertUnwindSafe(|| (test.warm_up)(ctx)));
    match warmed {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return (Err(Failure::Error(err)), (0, 0), (0, 0)),
        Err(payload) => return (Err(Failure::Panic(panic_message(payload))), (0, 0), (0, 0)),
    }
    let check = ctx.leak_check(test.name);
    let from = check.before().total_allocations;
    let ran = catch_unwind(AssertUnwindSafe(|| (test.run)(ctx)));
    // Read the counts before anything below allocates (error chains, messages).
    let leak = check.finish();
    let window = (from, ctx.alloc().snapshot().total_allocations);
    let live = |leak: &Result<_, Leak>| match leak {
        Ok(_) => (0, 0),
        Err(leak) => leak.leaked(),
    };
    match ran {
        // The unwind ran the test's drops, but the panic machinery allocates
        // too: the figure would be noise.
        Err(payload) => (Err(Failure::Panic(panic_message(payload))), (0, 0), window),
        Ok(Ok(operations)) => {
            let leaked = live(&leak);
            match leak {
                Ok(_) => (Ok(operations), leaked, window),
                Err(leak) => (Err(Failure::Error(Error::Leak(leak))), leaked, window),
            }
        }
        Ok(Err(err)) => {
            let (foreign_allocations, foreign_bytes) = err.foreign_leaked();
            let (own_allocations, own_bytes) = if err.owns_heap() { (0, 0) } else { live(&leak) };
            let leaked = (
                own_allocations + foreign_allocations,
                own_bytes + foreign_bytes,
            );
            (Err(Failure::Error(err)), leaked, window)
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
