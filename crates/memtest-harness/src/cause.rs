//! Cause mode (`MEMTEST_CAUSE`, set by `memtest explain` to tell a leak from
//! memory the allocator keeps): a checkpoint record of the process's live
//! and allocator figures, `MEMTEST checkpoint=X native_live_bytes=..
//! rss_bytes=.. malloc_in_use_bytes=.. malloc_free_bytes=..` (glibc's
//! `mallinfo2`), after `malloc_trim(0)` when `MEMTEST_MALLOC_TRIM` is set.
//! The harness prints one after each test's checked body; a test prints
//! more from its loop with [`crate::Ctx::checkpoint`].

use crate::rss::current_rss_bytes;
use memtest_alloc::CountingAlloc;
use std::fmt::Write as _;

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether memtest asked for checkpoint records.
pub fn cause_mode() -> bool {
    flag("MEMTEST_CAUSE")
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    #[repr(C)]
    pub struct MallInfo2 {
        pub arena: usize,
        pub ordblks: usize,
        pub smblks: usize,
        pub hblks: usize,
        pub hblkhd: usize,
        pub usmblks: usize,
        pub fsmblks: usize,
        pub uordblks: usize,
        pub fordblks: usize,
        pub keepcost: usize,
    }

    extern "C" {
        pub fn mallinfo2() -> MallInfo2;
        pub fn malloc_trim(pad: usize) -> i32;
    }
}

/// The record's line for checkpoint `x` (the trim, where asked, done).
pub fn checkpoint_line(x: f64, alloc: &CountingAlloc) -> String {
    let mut line = format!("MEMTEST checkpoint={x}");
    let _ = write!(line, " native_live_bytes={}", alloc.snapshot().live_bytes);
    // Reassigned after a trim, where glibc is.
    #[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(unused_mut))]
    let mut rss = current_rss_bytes();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if flag("MEMTEST_MALLOC_TRIM") {
            // SAFETY: malloc_trim takes a size and touches only the heap.
            unsafe { glibc::malloc_trim(0) };
            let after = current_rss_bytes();
            if let (Some(before), Some(now)) = (rss, after) {
                let _ = write!(line, " malloc_trimmed_bytes={}", before.saturating_sub(now));
            }
            rss = after;
        }
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let mi = unsafe { glibc::mallinfo2() };
        let _ = write!(
            line,
            " malloc_in_use_bytes={} malloc_free_bytes={}",
            mi.uordblks + mi.hblkhd,
            mi.fordblks
        );
    }
    if let Some(rss) = rss {
        let _ = write!(line, " rss_bytes={rss}");
    }
    line
}

/// Prints the record for checkpoint `x` in cause mode; nothing otherwise.
pub fn checkpoint(x: f64, alloc: &CountingAlloc) {
    if cause_mode() {
        println!("{}", checkpoint_line(x, alloc));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ALLOC: CountingAlloc = CountingAlloc::new();

    #[test]
    fn a_record_carries_the_exact_count_and_the_allocators_figures() {
        let line = checkpoint_line(3.0, &ALLOC);
        assert!(
            line.starts_with("MEMTEST checkpoint=3 native_live_bytes="),
            "{line}"
        );
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(line.contains(" malloc_in_use_bytes="), "{line}");
            assert!(line.contains(" rss_bytes="), "{line}");
        }
    }
}
