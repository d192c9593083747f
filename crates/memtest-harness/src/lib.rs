//! memtest-harness: Zig-style memory suites as plain-`main` test binaries,
//! speaking the protocol memtest reads.
//!
//! memtest runs each suite as its own process (so the process it samples is
//! the test itself) and reads its stdout. A suite built on this crate:
//!
//! - reads `MEMTEST_FIXTURES` (the runner's generated inputs, loaded before
//!   any baseline) and `MEMTEST_SCALE` (the iteration multiplier:
//!   [`Ctx::iterations`] scales a test's seed count, never below one);
//! - runs every test's warm-up outside any check, so once-only allocations
//!   (lazy statics, codec tables, the stdout buffer) are made first, then the
//!   test body inside a leak check against the binary's counting allocator;
//! - prints `ok   NAME (N operations, T ms)` or `FAIL NAME (T ms): why` per
//!   test, then `MEMTEST native_leaks=N`, `MEMTEST native_leaked_bytes=N`,
//!   `MEMTEST peak_rss_bytes=N` (see [`peak_rss_bytes`]), and `TEST PASSED`
//!   only when every test passed;
//! - exits 0 when all passed, 1 when a test failed, 2 when the environment
//!   was unusable (a missing fixture, a bad scale, a failed set-up).
//!
//! # Using it in another cargo project
//!
//! Add `memtest-harness` as a dev-dependency, declare each suite as a test
//! target without libtest (memtest names each one with `--test NAME`):
//!
//! ```toml
//! [[test]]
//! name = "cache_churn"
//! harness = false
//! test = false    # optional: keep it out of a plain `cargo test`
//! ```
//!
//! and write `tests/cache_churn.rs`: install a [`CountingAlloc`] as the
//! global allocator, describe the suite, hand both to [`run_suite`].
//!
//! ```
//! use memtest_harness::{ensure, no_setup, no_warm_up, CountingAlloc, Ctx, Error, Suite, Test};
//! use std::collections::HashMap;
//! use std::process::ExitCode;
//!
//! #[global_allocator]
//! static GLOBAL: CountingAlloc = CountingAlloc::new();
//!
//! static SUITE: Suite = Suite {
//!     name: "cache_churn",
//!     fixtures: &[], // file names in MEMTEST_FIXTURES; ctx.fixture(name) reads them
//!     setup: no_setup,
//!     tests: &[Test {
//!         name: "fill_and_clear",
//!         warm_up: no_warm_up,
//!         run: fill_and_clear,
//!     }],
//! };
//!
//! /// Returns how many operations it ran; the harness checks the whole body
//! /// for leaks, and this checks every round on its own too.
//! fn fill_and_clear(ctx: &Ctx) -> Result<u64, Error> {
//!     let rounds = ctx.iterations(200);
//!     for round in 0..rounds {
//!         let check = ctx.leak_check("fill_and_clear (one round)");
//!         let cache: HashMap<u32, String> = (0..100).map(|i| (i, format!("{round}-{i}"))).collect();
//!         ensure!(cache.len() == 100, "the cache holds {} entries", cache.len());
//!         drop(cache);
//!         check.finish()?;
//!     }
//!     Ok(u64::from(rounds))
//! }
//!
//! fn main() -> ExitCode {
//!     memtest_harness::run_suite(&GLOBAL, &SUITE)
//! }
//! ```
//!
//! A project with errors of its own makes them the `P` of [`Error<P>`] (they
//! print through it unchanged), and one with state every test needs (a
//! library to load, a server to reach) loads it in [`Suite::setup`] as an
//! [`Extra`] that tests read as `ctx.extra`. Pyjamaz's `memsuite` does both.

mod cause;
pub mod corpus;
mod env;
mod error;
mod rss;
mod run;

pub use cause::{cause_mode, checkpoint_line};
pub use env::{
    scaled, EnvError, Fixtures, DURATION_ENV, FIXTURES_ENV, MAX_SCALE, MIN_SCALE, SCALE_ENV,
};
pub use error::{chain, Error, LeakTally, Leaks};
pub use memtest_alloc::{self, CountingAlloc, Leak, LeakCheck, Snapshot};
pub use rss::{current_rss_bytes, peak_rss_bytes};
pub use run::{no_setup, no_warm_up, run_suite, Ctx, Extra, Harness, Suite, Test};
