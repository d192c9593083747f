//! Why a test failed: the harness's own reasons (leaks, environment, failed
//! checks) and the project's, in one [`Error`] the harness can read leak
//! figures from; plus [`LeakTally`] for per-operation checks over a loop.

use crate::env::EnvError;
use memtest_alloc::{Leak, Snapshot};
use std::convert::Infallible;

/// Why a test failed, generic over the project's own errors `P`.
///
/// A project implements `From<MyError> for Error<MyError>` (allowed by the
/// orphan rules, since `MyError` is its own type) to use `?` on them.
///
/// The leak variants own no heap memory when their names are static, so the
/// harness's own leak check around a test that returns one stays exact.
#[derive(Debug, thiserror::Error)]
pub enum Error<P = Infallible> {
    /// One check against the test allocator found allocations left live.
    #[error(transparent)]
    Leak(#[from] Leak),
    /// Per-operation checks found leaks in some operations.
    #[error(transparent)]
    Leaks(#[from] Leaks),
    /// A heap the test allocator cannot see (e.g. a shared library's own
    /// allocator, read through its API) did not return to its baseline; the
    /// leak's name says which heap. Counted into `MEMTEST native_leaks` like
    /// a leak of the test's own.
    #[error(transparent)]
    ForeignLeak(Leak),
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A condition that is an expected outcome under test did not hold (see
    /// [`ensure!`](crate::ensure)).
    #[error("check failed: {message}")]
    Check { message: String },
    /// The project's own error.
    #[error(transparent)]
    Project(P),
}

impl<P> Error<P> {
    /// Whether this error may own heap memory, so that the test allocator's
    /// count taken while it is alive is not exact.
    pub(crate) fn owns_heap(&self) -> bool {
        match self {
            Error::Leak(leak) | Error::ForeignLeak(leak) => leak.owns_heap(),
            Error::Leaks(leaks) => leaks.first.owns_heap(),
            _ => true,
        }
    }

    /// Allocations and bytes this error reports left live in a foreign heap.
    pub(crate) fn foreign_leaked(&self) -> (u64, u64) {
        match self {
            Error::ForeignLeak(leak) => leak.leaked(),
            _ => (0, 0),
        }
    }
}

/// Returns `Err(Error::Check)` from the enclosing function (which returns
/// `Result<_, memtest_harness::Error<P>>`) unless `cond` holds: for
/// conditions that are an expected outcome under test rather than a
/// programming error (those use `assert!`).
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return ::core::result::Result::Err($crate::Error::Check {
                message: ::std::format!($($fmt)+),
            });
        }
    };
}

/// Per-operation checks of a loop found leaks: how many operations leaked,
/// and the first one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{operations} of {of} operations left allocations live; the first (operation {index}): {first}"
)]
pub struct Leaks {
    pub operations: u32,
    pub of: u32,
    pub index: u32,
    pub first: Leak,
}

/// Per-operation leak checks over a bounded loop that must run to its end
/// even when an operation leaks (so a leak also shows in RSS, and the count
/// says how many operations leaked, not just that one did). Holds no heap
/// memory beyond the first leak's: tallying never disturbs the checks it
/// tallies.
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
    pub fn record(&mut self, index: u32, check: Result<Snapshot, Leak>) {
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

    /// `Err(Leaks)` when any operation leaked.
    pub fn finish(self) -> Result<(), Leaks> {
        match self.first {
            None => Ok(()),
            Some((index, first)) => Err(Leaks {
                operations: self.leaky,
                of: self.of,
                index,
                first,
            }),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(name: &'static str, allocations: i64, bytes: i64) -> Leak {
        let before = Snapshot::default();
        let after = Snapshot {
            live_allocations: allocations as u64,
            live_bytes: bytes as u64,
            ..before
        };
        Leak::between(name, before, after).unwrap()
    }

    #[test]
    fn chain_joins_causes() {
        let err: Error = EnvError::FixtureUnreadable {
            name: "tiny.png",
            path: "/nowhere/tiny.png".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        }
        .into();
        assert_eq!(
            chain(&err),
            "fixture tiny.png cannot be read from /nowhere/tiny.png: gone"
        );
    }

    fn ensure_positive(value: i32) -> Result<(), Error> {
        ensure!(value > 0, "{value} is not positive");
        Ok(())
    }

    #[test]
    fn ensure_returns_a_check_error() {
        assert!(ensure_positive(1).is_ok());
        let err = ensure_positive(-2).unwrap_err();
        assert_eq!(err.to_string(), "check failed: -2 is not positive");
        assert!(err.owns_heap());
    }

    #[test]
    fn tally_counts_leaky_operations_and_keeps_the_first() {
        let mut tally = LeakTally::new(5);
        tally.record(0, Ok(Snapshot::default()));
        tally.record(1, Err(leak("op", 1, 24)));
        tally.record(2, Ok(Snapshot::default()));
        tally.record(3, Err(leak("op", 2, 48)));
        assert_eq!(tally.leaky(), 2);
        let leaks = tally.finish().unwrap_err();
        assert_eq!((leaks.operations, leaks.of, leaks.index), (2, 5, 1));
        assert_eq!(leaks.first.bytes, 24);
        let err: Error = leaks.into();
        assert!(!err.owns_heap(), "a static-named leak owns nothing");
        assert_eq!(
            err.to_string(),
            "2 of 5 operations left allocations live; the first (operation 1): \
             op: +1 allocations (+24 bytes) still live at the end (before 0, after 1)"
        );
        assert!(LeakTally::new(3).finish().is_ok());
    }

    #[test]
    fn foreign_leaks_are_counted_and_project_errors_print_unchanged() {
        let err: Error = Error::ForeignLeak(leak("library heap: cycles", 3, 300));
        assert_eq!(err.foreign_leaked(), (3, 300));
        assert!(err
            .to_string()
            .starts_with("library heap: cycles: +3 allocations"));
        let over_free: Error = Error::ForeignLeak(leak("library heap: cycles", -1, -8));
        assert_eq!(over_free.foreign_leaked(), (0, 0));

        let io = std::io::Error::other("disk on fire");
        let project: Error<std::io::Error> = Error::Project(io);
        assert_eq!(project.to_string(), "disk on fire");
        assert_eq!(project.foreign_leaked(), (0, 0));
        assert!(project.owns_heap());
    }
}
