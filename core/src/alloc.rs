//! The library's own heap accounting: the counting allocator of
//! `memtest-alloc`, installed as this crate's global allocator (see the crate
//! docs), so every Rust allocation made inside `libpyjamaz.so` is counted and
//! a binding can ask, through `pyjamaz_alloc_stats`, whether the native heap
//! went back to where it was. libdeflate (used by oxipng) is counted too: the
//! engine routes it through the global allocator via its allocator hook.
//! libwebp's C allocations are not visible here (it has no hook), which is
//! why RSS sampling stays the second line of evidence.
//!
//! With `MEMTEST_EXPLAIN` set (memtest's attribution mode) the allocator
//! also remembers the stack of every live block, and `pyjamaz_alloc_sites`
//! prints those still live, grouped by stack: the leak sites.
//!
//! Counters are relaxed atomics: each is individually exact, and a snapshot
//! taken while other threads allocate may mix moments, which is fine for the
//! "back to baseline after everything was freed" question it answers.

pub use memtest_alloc::CountingAlloc;

/// A snapshot of the counters, as `PyjamazAllocStats` reports them (the same
/// four fields, in the same order).
pub type AllocStats = memtest_alloc::Snapshot;

/// Reads the counters of the library's global allocator.
pub fn stats() -> AllocStats {
    crate::GLOBAL.snapshot()
}

/// The library's live blocks allocated at or after allocation number
/// `since` (a baseline's `total_allocations`; 0 for all), grouped by the
/// stack that allocated them, largest first, as `MEMTEST site=` lines.
/// Empty unless site tracking is on (`MEMTEST_EXPLAIN`, see memtest-alloc's
/// `sites` module).
pub fn site_lines(since: u64, max_sites: usize) -> memtest_alloc::SiteLines {
    crate::GLOBAL.site_lines(since, max_sites)
}

/// Labels this thread's allocations with the line of the binding's caller
/// (see memtest-alloc's `CountingAlloc::set_site_caller`).
pub fn set_site_caller(label: Option<&str>) {
    crate::GLOBAL.set_site_caller(label);
}

/// Turns site tracking on or off whatever `MEMTEST_EXPLAIN` says, for the
/// benchmark that measures its cost within one binary.
#[doc(hidden)]
pub fn set_tracking_sites(enabled: bool) {
    crate::GLOBAL.track_sites(enabled);
}

/// Turns counting on or off at run time, for the benchmark that measures the
/// counting overhead against plain `System` within one binary.
///
/// Memory allocated while counting is off and freed while it is on (or the
/// reverse) skews the live counters for good, so nothing but that benchmark
/// may call this.
#[doc(hidden)]
pub fn set_counting(enabled: bool) {
    crate::GLOBAL.set_counting(enabled);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_read_the_installed_global_allocator() {
        // Other tests allocate on their threads meanwhile, so only figures
        // that never go down are compared: allocations made, and the peak.
        let before = stats();
        let block = std::hint::black_box(vec![7u8; 1 << 20]);
        let during = stats();
        assert!(during.total_allocations > before.total_allocations);
        assert!(during.peak_bytes >= 1 << 20);
        assert!(during.live_bytes >= 1 << 20, "the block is live");
        drop(block);
        assert!(stats().total_allocations >= during.total_allocations);
    }
}
