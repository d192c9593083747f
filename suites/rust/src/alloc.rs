//! The leak-checking test allocator: the Rust analogue of Zig's
//! `std.testing.allocator`.
//!
//! [`CountingAlloc`] wraps the system allocator and counts live allocations and
//! live bytes with atomics. `src/lib.rs` installs one as the `#[global_allocator]`
//! of every memsuite binary, and the core links in as the `pyjamaz-engine`
//! rlib (which installs no allocator), so the counts include every allocation
//! the core makes. [`LeakCheck`] and [`check_leaks`] record the counts before a
//! piece of work and demand that they are back exactly where they started
//! afterwards, naming how many allocations and bytes were leaked when not.
//!
//! The counters are process-wide, so a check is only exact when nothing else
//! allocates concurrently: the suites run their tests on one thread (any worker
//! threads of the core are joined before `optimize` returns).

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Atomic allocation counters. Relaxed ordering is enough: a check reads them
/// on the thread that did the work, after any helper threads were joined,
/// and joining synchronises.
#[derive(Debug)]
pub struct Counters {
    live_allocations: AtomicU64,
    live_bytes: AtomicU64,
    total_allocations: AtomicU64,
    peak_bytes: AtomicU64,
}

impl Counters {
    pub const fn new() -> Self {
        Counters {
            live_allocations: AtomicU64::new(0),
            live_bytes: AtomicU64::new(0),
            total_allocations: AtomicU64::new(0),
            peak_bytes: AtomicU64::new(0),
        }
    }

    fn on_alloc(&self, size_bytes: usize) {
        self.live_allocations.fetch_add(1, Ordering::Relaxed);
        self.total_allocations.fetch_add(1, Ordering::Relaxed);
        self.add_bytes(size_bytes);
    }

    fn on_dealloc(&self, size_bytes: usize) {
        self.live_allocations.fetch_sub(1, Ordering::Relaxed);
        self.live_bytes
            .fetch_sub(size_bytes as u64, Ordering::Relaxed);
    }

    fn add_bytes(&self, size_bytes: usize) {
        let now = self
            .live_bytes
            .fetch_add(size_bytes as u64, Ordering::Relaxed)
            .wrapping_add(size_bytes as u64);
        self.peak_bytes.fetch_max(now, Ordering::Relaxed);
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            live_allocations: self.live_allocations.load(Ordering::Relaxed),
            live_bytes: self.live_bytes.load(Ordering::Relaxed),
            total_allocations: self.total_allocations.load(Ordering::Relaxed),
            peak_bytes: self.peak_bytes.load(Ordering::Relaxed),
        }
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

/// A reading of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub live_allocations: u64,
    pub live_bytes: u64,
    /// Allocations made since the allocator started (reallocs not counted).
    pub total_allocations: u64,
    /// Highest `live_bytes` seen since the allocator started.
    pub peak_bytes: u64,
}

/// A `GlobalAlloc` that forwards to [`System`] and counts into its [`Counters`].
#[derive(Debug, Default)]
pub struct CountingAlloc {
    counters: Counters,
}

impl CountingAlloc {
    pub const fn new() -> Self {
        CountingAlloc {
            counters: Counters::new(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}

// SAFETY: every call forwards to `System` with the caller's layout unchanged;
// the counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            self.counters.on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            self.counters.on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        self.counters.on_dealloc(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_ptr = System.realloc(ptr, layout, new_size);
        // A failed realloc leaves the old block live and unchanged.
        if !new_ptr.is_null() {
            self.counters
                .live_bytes
                .fetch_sub(layout.size() as u64, Ordering::Relaxed);
            self.counters.add_bytes(new_size);
        }
        new_ptr
    }
}

/// Allocations still live after a checked piece of work, relative to before it.
/// Negative figures mean more was freed than allocated (something allocated
/// before the check, e.g. a lazily built cache, was released inside it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {} allocations ({} bytes) still live at the end (before {}, after {})",
    signed(*.allocations), signed(*.bytes), .before.live_allocations, .after.live_allocations)]
pub struct Leak {
    /// What was checked: a test name, or a test name and a step. Static names
    /// keep a `Leak` free of heap memory, so holding one does not itself
    /// disturb a later check.
    pub name: Cow<'static, str>,
    /// Live allocations after minus before.
    pub allocations: i64,
    /// Live bytes after minus before.
    pub bytes: i64,
    pub before: Snapshot,
    pub after: Snapshot,
}

/// `+3` for leaks, `-3` for over-frees, so a message never hides which one.
fn signed(value: i64) -> impl fmt::Display {
    struct Signed(i64);
    impl fmt::Display for Signed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{:+}", self.0)
        }
    }
    Signed(value)
}

/// Records the live counts when started; [`LeakCheck::finish`] demands they
/// are back. Dropping a check without finishing it checks nothing, so the
/// result is `#[must_use]`.
#[derive(Debug)]
#[must_use = "a LeakCheck only checks when finish() is called"]
pub struct LeakCheck<'a> {
    counters: &'a Counters,
    name: Cow<'static, str>,
    before: Snapshot,
}

impl<'a> LeakCheck<'a> {
    /// Starts a check against the global test allocator.
    pub fn start(name: impl Into<Cow<'static, str>>) -> LeakCheck<'static> {
        LeakCheck::start_in(crate::GLOBAL.counters(), name)
    }

    /// Starts a check against the given counters (unit tests use their own).
    pub fn start_in(counters: &'a Counters, name: impl Into<Cow<'static, str>>) -> Self {
        // An owned name is built before the baseline so its allocation is not
        // counted; it is freed after `finish` reads the counts, for the same reason.
        let name = name.into();
        LeakCheck {
            counters,
            name,
            before: counters.snapshot(),
        }
    }

    /// Live counts now minus at the start, without ending the check.
    pub fn delta(&self) -> (i64, i64) {
        let now = self.counters.snapshot();
        delta(&self.before, &now)
    }

    /// Ends the check: `Err` names the allocations and bytes left live.
    pub fn finish(self) -> Result<Snapshot, Leak> {
        let after = self.counters.snapshot();
        let (allocations, bytes) = delta(&self.before, &after);
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

fn delta(before: &Snapshot, after: &Snapshot) -> (i64, i64) {
    (
        after.live_allocations.wrapping_sub(before.live_allocations) as i64,
        after.live_bytes.wrapping_sub(before.live_bytes) as i64,
    )
}

/// Runs `work` and demands that every allocation it made was freed by the time
/// it returned (its return value must therefore own no heap memory, or be
/// dropped inside). Checks against the global test allocator.
pub fn check_leaks<T>(
    name: impl Into<Cow<'static, str>>,
    work: impl FnOnce() -> T,
) -> Result<T, Leak> {
    check_leaks_in(crate::GLOBAL.counters(), name, work)
}

/// [`check_leaks`] against the given counters.
pub fn check_leaks_in<T>(
    counters: &Counters,
    name: impl Into<Cow<'static, str>>,
    work: impl FnOnce() -> T,
) -> Result<T, Leak> {
    let check = LeakCheck::start_in(counters, name);
    let value = work();
    check.finish().map(|_| value)
}

/// The global test allocator's counters as they are now.
pub fn snapshot() -> Snapshot {
    crate::GLOBAL.counters().snapshot()
}

#[cfg(test)]
mod tests {
    use super::*;

    // These tests drive their own allocator instance, not the global one:
    // libtest runs tests on several threads and allocates while they run, so
    // exact counts are only possible on counters nobody else touches.

    #[test]
    fn deliberate_leak_is_reported_with_count_and_bytes() {
        let local = CountingAlloc::new();
        let layout = Layout::from_size_align(24, 8).unwrap();
        let mut leaked = std::ptr::null_mut();
        let result = check_leaks_in(local.counters(), "leaky step", || {
            // SAFETY: non-zero size; freed below, after the check.
            leaked = unsafe { local.alloc(layout) };
            assert!(!leaked.is_null());
        });
        let leak = result.expect_err("a live allocation must be reported");
        assert_eq!(leak.name, "leaky step");
        assert_eq!((leak.allocations, leak.bytes), (1, 24));
        let message = leak.to_string();
        assert!(message.contains("+1 allocations (+24 bytes)"), "{message}");
        // SAFETY: allocated above with the same layout.
        unsafe { local.dealloc(leaked, layout) };
        assert_eq!(local.counters().snapshot().live_allocations, 0);
    }

    #[test]
    fn clean_closure_passes_and_keeps_its_value() {
        let local = CountingAlloc::new();
        let layout = Layout::from_size_align(4096, 16).unwrap();
        let result = check_leaks_in(local.counters(), "clean", || {
            // SAFETY: non-zero size; the block is freed before returning.
            unsafe {
                let ptr = local.alloc_zeroed(layout);
                assert!(!ptr.is_null());
                let ptr = local.realloc(ptr, layout, 8192);
                assert!(!ptr.is_null());
                let grown = Layout::from_size_align(8192, 16).unwrap();
                local.dealloc(ptr, grown);
            }
            7
        });
        assert_eq!(result, Ok(7));
        let counts = local.counters().snapshot();
        assert_eq!(
            counts.total_allocations, 1,
            "realloc is not a new allocation"
        );
        assert_eq!(counts.peak_bytes, 8192);
        assert_eq!((counts.live_allocations, counts.live_bytes), (0, 0));
    }

    #[test]
    fn realloc_that_shrinks_is_tracked_in_bytes() {
        let local = CountingAlloc::new();
        let layout = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: non-zero sizes, matching layouts, everything freed.
        let leak = unsafe {
            let ptr = local.alloc(layout);
            let check = LeakCheck::start_in(local.counters(), "shrink");
            let ptr = local.realloc(ptr, layout, 100);
            let leak = check.finish().expect_err("shrinking changes live bytes");
            local.dealloc(ptr, Layout::from_size_align(100, 8).unwrap());
            leak
        };
        assert_eq!((leak.allocations, leak.bytes), (0, -900));
        assert!(leak.to_string().contains("+0 allocations (-900 bytes)"));
        assert_eq!(local.counters().snapshot().live_bytes, 0);
    }

    #[test]
    fn over_free_is_reported_as_negative() {
        let local = CountingAlloc::new();
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: allocated before the check, freed inside it, same layout.
        let ptr = unsafe { local.alloc(layout) };
        let result = check_leaks_in(local.counters(), "frees an older block", || unsafe {
            local.dealloc(ptr, layout)
        });
        let leak = result.expect_err("a freed pre-existing block changes the counts");
        assert_eq!((leak.allocations, leak.bytes), (-1, -64));
    }
}
