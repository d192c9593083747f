//! Leak checks over [`Counters`]: record the live counts, do some work,
//! demand they are back; the Rust analogue of the check Zig's
//! `std.testing.allocator` makes at the end of every test.

use crate::{Counters, Snapshot};
use std::borrow::Cow;
use std::fmt;

/// Allocations still live after a checked piece of work, relative to before
/// it. Negative figures mean more was freed than allocated (something
/// allocated before the check, e.g. a lazily built cache, was released
/// inside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// What was checked: a test name, or a test name and a step. Static
    /// names keep a `Leak` free of heap memory, so holding one does not
    /// itself disturb a later check (see [`Leak::owns_heap`]).
    pub name: Cow<'static, str>,
    /// Live allocations after minus before.
    pub allocations: i64,
    /// Live bytes after minus before.
    pub bytes: i64,
    pub before: Snapshot,
    pub after: Snapshot,
}

impl Leak {
    /// `Some` when the live counts of `after` differ from those of `before`.
    /// For counters read elsewhere, e.g. from a shared library's own
    /// allocator through its C ABI.
    pub fn between(
        name: impl Into<Cow<'static, str>>,
        before: Snapshot,
        after: Snapshot,
    ) -> Option<Leak> {
        let (allocations, bytes) = before.live_delta(&after);
        (allocations != 0 || bytes != 0).then(|| Leak {
            name: name.into(),
            allocations,
            bytes,
            before,
            after,
        })
    }

    /// Whether this `Leak` owns heap memory (an owned name). While such a
    /// leak is alive, the counters it was measured on are not back where the
    /// work left them, so its figure is not the whole story of a later check.
    pub fn owns_heap(&self) -> bool {
        matches!(&self.name, Cow::Owned(name) if name.capacity() > 0)
    }

    /// Allocations and bytes left live, negatives (over-frees) as zero: the
    /// figure to add to a leak total.
    pub fn leaked(&self) -> (u64, u64) {
        (self.allocations.max(0) as u64, self.bytes.max(0) as u64)
    }
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:+}`: +3 for leaks, -3 for over-frees, so a message never hides
        // which one it is.
        write!(
            f,
            "{}: {:+} allocations ({:+} bytes) still live at the end (before {}, after {})",
            self.name,
            self.allocations,
            self.bytes,
            self.before.live_allocations,
            self.after.live_allocations
        )
    }
}

impl std::error::Error for Leak {}

/// Records the live counts when started; [`LeakCheck::finish`] demands they
/// are back. Dropping a check without finishing it checks nothing, hence
/// `#[must_use]`.
#[derive(Debug)]
#[must_use = "a LeakCheck only checks when finish() is called"]
pub struct LeakCheck<'a> {
    counters: &'a Counters,
    name: Cow<'static, str>,
    before: Snapshot,
}

impl<'a> LeakCheck<'a> {
    /// Starts a check against `counters` (usually the global allocator's:
    /// [`crate::CountingAlloc::leak_check`]).
    pub fn start(counters: &'a Counters, name: impl Into<Cow<'static, str>>) -> Self {
        // An owned name is built before the baseline so its allocation is not
        // counted; it is freed after `finish` reads the counts, for the same
        // reason.
        let name = name.into();
        LeakCheck {
            counters,
            name,
            before: counters.snapshot(),
        }
    }

    /// The counts at the start.
    pub fn before(&self) -> Snapshot {
        self.before
    }

    /// Live allocations and bytes now minus at the start, without ending the
    /// check: e.g. to prove that what a test holds really is on the heap.
    pub fn delta(&self) -> (i64, i64) {
        self.before.live_delta(&self.counters.snapshot())
    }

    /// Ends the check: `Err` names the allocations and bytes left live.
    pub fn finish(self) -> Result<Snapshot, Leak> {
        let after = self.counters.snapshot();
        let (allocations, bytes) = self.before.live_delta(&after);
        if allocations == 0 && bytes == 0 {
            Ok(after)
        } else {
            Err(Leak {
                name: self.name,
                allocations,
                bytes,
                before: self.before,
                after,
            })
        }
    }
}

/// Runs `work` and demands that every allocation it made was freed by the
/// time it returned (its return value must therefore own no heap memory, or
/// be dropped inside).
pub fn check_leaks<T>(
    counters: &Counters,
    name: impl Into<Cow<'static, str>>,
    work: impl FnOnce() -> T,
) -> Result<T, Leak> {
    let check = LeakCheck::start(counters, name);
    let value = work();
    check.finish().map(|_| value)
}
