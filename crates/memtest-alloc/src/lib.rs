//! memtest-alloc: a counting global allocator and Zig-style leak checks.
//!
//! [`CountingAlloc`] forwards every call to [`System`] and keeps exact
//! counters of live allocations, live bytes, allocations made and the peak of
//! live bytes. A binary installs its own `static` instance as the
//! `#[global_allocator]`; a Rust cdylib carries its own global allocator, so
//! a shared library and the program loading it each count their own heap.
//!
//! On top of the counters, [`LeakCheck`] (and [`check_leaks`]) is the
//! analogue of Zig's `std.testing.allocator`: record the live counts before a
//! piece of work and demand that they are exactly back afterwards, or get a
//! [`Leak`] naming how many allocations and bytes were left live.
//!
//! ```
//! use memtest_alloc::CountingAlloc;
//!
//! #[global_allocator]
//! static GLOBAL: CountingAlloc = CountingAlloc::new();
//!
//! fn main() {
//!     let clean = GLOBAL.check_leaks("clean", || vec![0u8; 64].len());
//!     assert_eq!(clean, Ok(64));
//!
//!     let mut kept = None;
//!     let leak = GLOBAL
//!         .check_leaks("keeps a block", || kept = Some(vec![0u8; 64]))
//!         .unwrap_err();
//!     assert_eq!((leak.allocations, leak.bytes), (1, 64));
//!     assert!(leak.to_string().starts_with("keeps a block: +1 allocations (+64 bytes)"));
//! }
//! ```
//!
//! # Leak sites (feature `sites`)
//!
//! With the `sites` feature and `MEMTEST_EXPLAIN` set (memtest's
//! attribution mode), the allocator also records the stack of every live
//! block; `CountingAlloc::site_lines` prints the blocks still live, grouped
//! by stack, as memtest's `MEMTEST site=` lines. See the `sites` module.
//!
//! # Exactness
//!
//! The counters are relaxed atomics: each one is exact, and a snapshot taken
//! while other threads allocate may mix moments. A leak check is therefore
//! exact when nothing else allocates during it, or when every thread that
//! did was joined before it finished (joining synchronises). A benchmark of
//! the Pyjamaz optimizer measured the counting overhead within noise.

mod leak;
#[cfg(feature = "sites")]
pub mod sites;
#[cfg(feature = "sites")]
mod walk;

pub use leak::{check_leaks, Leak, LeakCheck};
#[cfg(feature = "sites")]
pub use sites::SiteLines;

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// The atomic counters of one [`CountingAlloc`].
#[derive(Debug)]
pub struct Counters {
    live_allocations: AtomicU64,
    live_bytes: AtomicU64,
    total_allocations: AtomicU64,
    peak_bytes: AtomicU64,
}

impl Counters {
    /// All zero: a fresh allocator has handed out nothing.
    pub const fn new() -> Self {
        Counters {
            live_allocations: AtomicU64::new(0),
            live_bytes: AtomicU64::new(0),
            total_allocations: AtomicU64::new(0),
            peak_bytes: AtomicU64::new(0),
        }
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            live_allocations: self.live_allocations.load(Relaxed),
            live_bytes: self.live_bytes.load(Relaxed),
            total_allocations: self.total_allocations.load(Relaxed),
            peak_bytes: self.peak_bytes.load(Relaxed),
        }
    }

    /// Starts a leak check against these counters (see [`LeakCheck`]).
    pub fn leak_check(&self, name: impl Into<Cow<'static, str>>) -> LeakCheck<'_> {
        LeakCheck::start(self, name)
    }

    /// Returns the allocation's index among all allocations made.
    #[inline]
    fn on_alloc(&self, size: usize) -> u64 {
        self.live_allocations.fetch_add(1, Relaxed);
        let seq = self.total_allocations.fetch_add(1, Relaxed);
        self.grow(size as u64);
        seq
    }

    #[inline]
    fn on_dealloc(&self, size: usize) {
        self.live_allocations.fetch_sub(1, Relaxed);
        self.live_bytes.fetch_sub(size as u64, Relaxed);
    }

    /// A realloc is one allocation changing size: the live count stays, the
    /// live bytes move by the difference, in one atomic step.
    #[inline]
    fn on_realloc(&self, old_size: usize, new_size: usize) {
        if new_size >= old_size {
            self.grow((new_size - old_size) as u64);
        } else {
            self.live_bytes
                .fetch_sub((old_size - new_size) as u64, Relaxed);
        }
    }

    #[inline]
    fn grow(&self, size: u64) {
        let live = self.live_bytes.fetch_add(size, Relaxed).wrapping_add(size);
        // Only write the peak's cache line when the peak actually moves.
        if live > self.peak_bytes.load(Relaxed) {
            self.peak_bytes.fetch_max(live, Relaxed);
        }
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

/// A reading of [`Counters`]. Field for field the `PyjamazAllocStats` of
/// Pyjamaz's C ABI, which is how a cdylib exports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Allocations handed out and not yet freed.
    pub live_allocations: u64,
    /// Bytes of those allocations (as requested, not as the system rounds them).
    pub live_bytes: u64,
    /// Allocations made since the allocator started (reallocs not counted).
    pub total_allocations: u64,
    /// Highest `live_bytes` seen since the allocator started.
    pub peak_bytes: u64,
}

impl Snapshot {
    /// Live allocations and live bytes of `later` minus those of `self`.
    /// Negative when more was freed than allocated in between.
    pub fn live_delta(&self, later: &Snapshot) -> (i64, i64) {
        // Wrapping, then reinterpreted: exact for any difference that fits
        // in an i64, even when a counter was skewed below zero.
        (
            later.live_allocations.wrapping_sub(self.live_allocations) as i64,
            later.live_bytes.wrapping_sub(self.live_bytes) as i64,
        )
    }
}

/// A `GlobalAlloc` that forwards to [`System`] and counts into its
/// [`Counters`]. Install one per binary:
///
/// ```
/// #[global_allocator]
/// static GLOBAL: memtest_alloc::CountingAlloc = memtest_alloc::CountingAlloc::new();
///
/// fn main() {
///     let before = GLOBAL.snapshot();
///     let block = vec![0u8; 1000];
///     let during = GLOBAL.snapshot();
///     assert_eq!(before.live_delta(&during), (1, 1000));
///     assert!(during.peak_bytes >= 1000);
///     drop(block);
/// }
/// ```
#[derive(Debug)]
pub struct CountingAlloc {
    counters: Counters,
    /// See [`CountingAlloc::set_counting`].
    counting: AtomicBool,
    #[cfg(feature = "sites")]
    sites: sites::Tracker,
}

impl CountingAlloc {
    /// A counting allocator with all counters at zero, counting.
    pub const fn new() -> Self {
        CountingAlloc {
            counters: Counters::new(),
            counting: AtomicBool::new(true),
            #[cfg(feature = "sites")]
            sites: sites::Tracker::new(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> Snapshot {
        self.counters.snapshot()
    }

    /// Starts a leak check against this allocator (see [`LeakCheck`]).
    pub fn leak_check(&self, name: impl Into<Cow<'static, str>>) -> LeakCheck<'_> {
        LeakCheck::start(&self.counters, name)
    }

    /// Runs `work` and demands that every allocation it made through this
    /// allocator was freed by the time it returned (see [`check_leaks`]).
    pub fn check_leaks<T>(
        &self,
        name: impl Into<Cow<'static, str>>,
        work: impl FnOnce() -> T,
    ) -> Result<T, Leak> {
        check_leaks(&self.counters, name, work)
    }

    /// Turns counting on or off at run time, for a benchmark that measures
    /// the counting overhead against plain `System` within one binary.
    ///
    /// Memory allocated while counting is off and freed while it is on (or
    /// the reverse) skews the live counters for good, so nothing but such a
    /// benchmark, flipping it between whole batches of work, may call this.
    pub fn set_counting(&self, enabled: bool) {
        self.counting.store(enabled, Relaxed);
    }

    /// Whether calls are being counted (true unless [`Self::set_counting`]
    /// turned it off).
    pub fn is_counting(&self) -> bool {
        self.counting.load(Relaxed)
    }

    /// Turns leak-site tracking on or off, whatever `MEMTEST_EXPLAIN` says
    /// (see [`sites`]). Blocks allocated while it was off have no site.
    #[cfg(feature = "sites")]
    pub fn track_sites(&self, on: bool) {
        self.sites.set(on);
    }

    /// Labels the allocations this thread makes from now on with the
    /// interpreter line that called the library (`"file.py:42"`; `None`
    /// clears it): each site's stack then ends with it, so a binding's
    /// caller and the native site show together. Does nothing while sites
    /// are not tracked.
    #[cfg(feature = "sites")]
    pub fn set_site_caller(&self, label: Option<&str>) {
        self.sites.set_caller(label);
    }

    /// Whether leak sites are tracked (`MEMTEST_EXPLAIN`, or
    /// [`Self::track_sites`]).
    #[cfg(feature = "sites")]
    pub fn is_tracking_sites(&self) -> bool {
        self.sites.is_on()
    }

    /// The live blocks allocated at or after allocation number `since` (a
    /// [`Snapshot::total_allocations`] taken as the baseline; 0 for all),
    /// grouped by the stack that allocated them, largest first, at most
    /// `max_sites`, as `MEMTEST site={json}` lines. Empty when tracking is
    /// off.
    #[cfg(feature = "sites")]
    pub fn site_lines(&self, since: u64, max_sites: usize) -> SiteLines {
        self.sites.lines(&|seq| seq >= since, max_sites)
    }

    /// [`Self::site_lines`] for the blocks whose allocation number `keep`
    /// accepts (e.g. those made inside any of several checked windows).
    #[cfg(feature = "sites")]
    pub fn site_lines_where(&self, keep: &dyn Fn(u64) -> bool, max_sites: usize) -> SiteLines {
        self.sites.lines(keep, max_sites)
    }

    /// The tracker's own allocations pass through uncounted (see [`sites`]).
    #[inline]
    fn is_trackers_own(&self) -> bool {
        #[cfg(feature = "sites")]
        {
            self.sites.may_track() && sites::busy()
        }
        #[cfg(not(feature = "sites"))]
        {
            false
        }
    }
}

impl CountingAlloc {
    #[inline]
    fn allocated(&self, ptr: *mut u8, size: usize) {
        if self.is_counting() && !self.is_trackers_own() {
            let _seq = self.counters.on_alloc(size);
            #[cfg(feature = "sites")]
            self.sites.allocated(ptr, size, _seq);
        }
        #[cfg(not(feature = "sites"))]
        let _ = ptr;
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged and only adds counter updates, which never touch the memory
// handed out, so System's guarantees carry over as they are.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for us.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            self.allocated(ptr, layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.allocated(ptr, layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (that is, System)
        // handed out, with its layout.
        unsafe { System.dealloc(ptr, layout) };
        if self.is_counting() && !self.is_trackers_own() {
            self.counters.on_dealloc(layout.size());
            #[cfg(feature = "sites")]
            self.sites.freed(ptr);
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let new_ptr = unsafe { System.realloc(ptr, layout, new_size) };
        // A failed realloc leaves the old block live and unchanged.
        if !new_ptr.is_null() && self.is_counting() && !self.is_trackers_own() {
            self.counters.on_realloc(layout.size(), new_size);
            #[cfg(feature = "sites")]
            self.sites.moved(ptr, new_ptr, new_size);
        }
        new_ptr
    }
}

#[cfg(test)]
mod tests;
