//! The library's own heap accounting: a counting allocator wrapping `System`.
//!
//! The crate installs [`CountingAlloc`] as its global allocator (see the
//! crate docs), so every Rust allocation made inside `libpyjamaz.so` is
//! counted and a binding can ask, through `pyjamaz_alloc_stats`, whether the
//! native heap went back to where it was. libdeflate (used by oxipng) is
//! counted too: the engine routes it through the global allocator via its
//! allocator hook. libwebp's C allocations are not visible here (it has no
//! hook), which is why RSS sampling stays the second line of evidence.
//!
//! Counters are relaxed atomics: each is individually exact, and a snapshot
//! taken while other threads allocate may mix moments, which is fine for the
//! "back to baseline after everything was freed" question it answers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

static LIVE_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static TOTAL_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static PEAK_BYTES: AtomicU64 = AtomicU64::new(0);
/// Bench-only switch, see [`set_counting`].
static COUNTING: AtomicBool = AtomicBool::new(true);

/// A snapshot of the counters, as `PyjamazAllocStats` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocStats {
    pub live_allocations: u64,
    pub live_bytes: u64,
    pub total_allocations: u64,
    pub peak_bytes: u64,
}

/// Reads the counters.
pub fn stats() -> AllocStats {
    AllocStats {
        live_allocations: LIVE_ALLOCATIONS.load(Relaxed),
        live_bytes: LIVE_BYTES.load(Relaxed),
        total_allocations: TOTAL_ALLOCATIONS.load(Relaxed),
        peak_bytes: PEAK_BYTES.load(Relaxed),
    }
}

/// Turns counting on or off at run time, for the benchmark that measures the
/// counting overhead against plain `System` within one binary.
///
/// Memory allocated while counting is off and freed while it is on (or the
/// reverse) skews the live counters for good, so nothing but that benchmark
/// may call this.
#[doc(hidden)]
pub fn set_counting(enabled: bool) {
    COUNTING.store(enabled, Relaxed);
}

/// A global allocator that forwards to [`System`] and counts.
pub struct CountingAlloc;

#[inline]
fn on_alloc(size: usize) {
    let size = size as u64;
    LIVE_ALLOCATIONS.fetch_add(1, Relaxed);
    TOTAL_ALLOCATIONS.fetch_add(1, Relaxed);
    let live = LIVE_BYTES.fetch_add(size, Relaxed) + size;
    // Only touch the peak's cache line when it actually moves.
    if live > PEAK_BYTES.load(Relaxed) {
        PEAK_BYTES.fetch_max(live, Relaxed);
    }
}

#[inline]
fn on_dealloc(size: usize) {
    LIVE_ALLOCATIONS.fetch_sub(1, Relaxed);
    LIVE_BYTES.fetch_sub(size as u64, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments and
// only adds counter updates, so System's guarantees carry over unchanged.
unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() && COUNTING.load(Relaxed) {
            on_alloc(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() && COUNTING.load(Relaxed) {
            on_alloc(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        if COUNTING.load(Relaxed) {
            on_dealloc(layout.size());
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() && COUNTING.load(Relaxed) {
            // A realloc is one allocation changing size: live count unchanged.
            if new_size >= layout.size() {
                let grow = (new_size - layout.size()) as u64;
                let live = LIVE_BYTES.fetch_add(grow, Relaxed) + grow;
                if live > PEAK_BYTES.load(Relaxed) {
                    PEAK_BYTES.fetch_max(live, Relaxed);
                }
            } else {
                LIVE_BYTES.fetch_sub((layout.size() - new_size) as u64, Relaxed);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_balanced_through_the_allocator_interface() {
        let before = stats();
        let layout = Layout::from_size_align(100, 8).unwrap();
        unsafe {
            let p = CountingAlloc.alloc(layout);
            assert!(!p.is_null());
            let p = CountingAlloc.realloc(p, layout, 300);
            assert!(!p.is_null());
            let during = stats();
            assert!(during.total_allocations > before.total_allocations);
            assert!(during.peak_bytes >= 300);
            CountingAlloc.dealloc(p, Layout::from_size_align(300, 8).unwrap());
        }
        let after = stats();
        assert!(after.total_allocations > before.total_allocations);
    }
}
