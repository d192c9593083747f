//! Unit tests of the counters and the leak checks.
//!
//! They drive their own allocator instances, not a global one: libtest runs
//! tests on several threads and allocates while they run, so exact counts
//! are only possible on counters nobody else touches.

use super::*;
use std::sync::Arc;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn alloc_and_dealloc_move_every_counter() {
    let local = CountingAlloc::new();
    assert_eq!(local.snapshot(), Snapshot::default());
    // SAFETY: non-zero sizes; each block is freed once with its layout.
    unsafe {
        let a = local.alloc(layout(100, 8));
        let b = local.alloc_zeroed(layout(28, 4));
        assert!(!a.is_null() && !b.is_null());
        assert_eq!(std::slice::from_raw_parts(b, 28), &[0u8; 28]);
        let both = local.snapshot();
        assert_eq!(
            both,
            Snapshot {
                live_allocations: 2,
                live_bytes: 128,
                total_allocations: 2,
                peak_bytes: 128,
            }
        );
        local.dealloc(a, layout(100, 8));
        local.dealloc(b, layout(28, 4));
    }
    let end = local.snapshot();
    assert_eq!((end.live_allocations, end.live_bytes), (0, 0));
    assert_eq!((end.total_allocations, end.peak_bytes), (2, 128));
}

#[test]
fn deliberate_leak_is_reported_with_count_and_bytes() {
    let local = CountingAlloc::new();
    let mut leaked = std::ptr::null_mut();
    let result = local.check_leaks("leaky step", || {
        // SAFETY: non-zero size; freed below, after the check.
        leaked = unsafe { local.alloc(layout(24, 8)) };
        assert!(!leaked.is_null());
    });
    let leak = result.expect_err("a live allocation must be reported");
    assert_eq!(leak.name, "leaky step");
    assert_eq!((leak.allocations, leak.bytes), (1, 24));
    assert_eq!(leak.leaked(), (1, 24));
    assert_eq!(
        leak.to_string(),
        "leaky step: +1 allocations (+24 bytes) still live at the end (before 0, after 1)"
    );
    // SAFETY: allocated above with the same layout.
    unsafe { local.dealloc(leaked, layout(24, 8)) };
    assert_eq!(local.snapshot().live_allocations, 0);
}

#[test]
fn clean_closure_passes_and_keeps_its_value() {
    let local = CountingAlloc::new();
    let result = local.check_leaks("clean", || {
        // SAFETY: non-zero size; the block is freed before returning.
        unsafe {
            let ptr = local.alloc_zeroed(layout(4096, 16));
            assert!(!ptr.is_null());
            let ptr = local.realloc(ptr, layout(4096, 16), 8192);
            assert!(!ptr.is_null());
            local.dealloc(ptr, layout(8192, 16));
        }
        7
    });
    assert_eq!(result, Ok(7));
    let counts = local.snapshot();
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
    // SAFETY: non-zero sizes, matching layouts, everything freed.
    let leak = unsafe {
        let ptr = local.alloc(layout(1000, 8));
        let check = local.leak_check("shrink");
        let ptr = local.realloc(ptr, layout(1000, 8), 100);
        assert_eq!(check.delta(), (0, -900));
        let leak = check.finish().expect_err("shrinking changes live bytes");
        local.dealloc(ptr, layout(100, 8));
        leak
    };
    assert_eq!((leak.allocations, leak.bytes), (0, -900));
    assert_eq!(leak.leaked(), (0, 0), "an over-free is no leak");
    assert!(leak.to_string().contains("+0 allocations (-900 bytes)"));
    let end = local.snapshot();
    assert_eq!((end.live_bytes, end.peak_bytes), (0, 1000));
}

#[test]
fn over_free_is_reported_as_negative() {
    let local = CountingAlloc::new();
    // SAFETY: allocated before the check, freed inside it, same layout.
    let ptr = unsafe { local.alloc(layout(64, 8)) };
    let result = local.check_leaks("frees an older block", || unsafe {
        local.dealloc(ptr, layout(64, 8))
    });
    let leak = result.expect_err("a freed pre-existing block changes the counts");
    assert_eq!((leak.allocations, leak.bytes), (-1, -64));
    assert_eq!(leak.before.live_allocations, 1);
    assert_eq!(leak.after.live_allocations, 0);
}

#[test]
fn switched_off_counting_leaves_the_counters_alone() {
    let local = CountingAlloc::new();
    local.set_counting(false);
    assert!(!local.is_counting());
    // SAFETY: non-zero sizes; freed with the grown layout.
    unsafe {
        let ptr = local.alloc(layout(512, 8));
        let ptr = local.realloc(ptr, layout(512, 8), 1024);
        local.dealloc(ptr, layout(1024, 8));
    }
    assert_eq!(local.snapshot(), Snapshot::default());
    local.set_counting(true);
    // SAFETY: as above.
    unsafe {
        let ptr = local.alloc(layout(16, 8));
        local.dealloc(ptr, layout(16, 8));
    }
    assert_eq!(local.snapshot().total_allocations, 1);
}

#[test]
fn peak_is_the_highest_live_figure_not_the_sum() {
    let local = CountingAlloc::new();
    // SAFETY: non-zero sizes; each block freed once with its layout.
    unsafe {
        for _ in 0..3 {
            let ptr = local.alloc(layout(300, 8));
            local.dealloc(ptr, layout(300, 8));
        }
        let a = local.alloc(layout(200, 8));
        let b = local.alloc(layout(200, 8));
        local.dealloc(a, layout(200, 8));
        local.dealloc(b, layout(200, 8));
    }
    let counts = local.snapshot();
    assert_eq!((counts.total_allocations, counts.peak_bytes), (5, 400));
}

#[test]
fn joined_threads_leave_exact_counts() {
    let local = Arc::new(CountingAlloc::new());
    let check = LeakCheck::start(local.counters(), "threads");
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let local = Arc::clone(&local);
            std::thread::spawn(move || {
                for size in 1..=500 {
                    // SAFETY: non-zero size; freed right away with its layout.
                    unsafe {
                        let ptr = local.alloc(layout(size, 1));
                        local.dealloc(ptr, layout(size, 1));
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let after = check.finish().expect("every block was freed");
    assert_eq!(after.total_allocations, 2000);
    assert!(after.peak_bytes >= 500 && after.peak_bytes <= 4 * 500);
}

/// The counters under contention: threads released together by a barrier
/// allocate and free at once, and half of the blocks are freed by another
/// thread than the one that made them (as a binding frees on its main thread
/// what a worker thread allocated). A lost update to a live counter would
/// leave it off by the count of lost updates; fetch_add/fetch_sub lose none.
#[test]
fn counts_stay_exact_under_contention_and_cross_thread_frees() {
    const THREADS: usize = 4;
    const BLOCKS: usize = 200_000;
    let local = Arc::new(CountingAlloc::new());
    let check = LeakCheck::start(local.counters(), "contention");
    let barrier = Arc::new(std::sync::Barrier::new(THREADS));
    let (send, receive) = std::sync::mpsc::channel::<Vec<(usize, usize)>>();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (local, barrier, send) = (Arc::clone(&local), Arc::clone(&barrier), send.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut handed = Vec::with_capacity(BLOCKS / 2);
                for i in 0..BLOCKS {
                    let size = 1 + (i * 7 + thread) % 300;
                    // SAFETY: non-zero size; each block is freed exactly once
                    // with its layout, here or by the receiving thread.
                    unsafe {
                        let ptr = local.alloc(layout(size, 8));
                        assert!(!ptr.is_null());
                        if i % 2 == 0 {
                            local.dealloc(ptr, layout(size, 8));
                        } else {
                            handed.push((ptr as usize, size));
                        }
                    }
                }
                send.send(handed).unwrap();
            })
        })
        .collect();
    drop(send);
    // Freed on this thread while the others may still be allocating.
    for handed in receive {
        for (ptr, size) in handed {
            // SAFETY: allocated above with this layout, not freed yet.
            unsafe { local.dealloc(ptr as *mut u8, layout(size, 8)) };
        }
    }
    for worker in workers {
        worker.join().unwrap();
    }
    let after = check
        .finish()
        .expect("every block was freed: the live counts are exactly back");
    assert_eq!(after.total_allocations, (THREADS * BLOCKS) as u64);
    let largest_live = (THREADS * BLOCKS / 2 * 300) as u64;
    assert!(after.peak_bytes > 0 && after.peak_bytes <= largest_live);
}

#[test]
fn leak_between_foreign_snapshots() {
    let before = Snapshot {
        live_allocations: 10,
        live_bytes: 1000,
        total_allocations: 50,
        peak_bytes: 4000,
    };
    let same_live = Snapshot {
        total_allocations: 90,
        ..before
    };
    assert_eq!(Leak::between("cycles", before, same_live), None);
    let grown = Snapshot {
        live_allocations: 13,
        live_bytes: 1300,
        ..same_live
    };
    let leak = Leak::between("cycles", before, grown).unwrap();
    assert_eq!((leak.allocations, leak.bytes), (3, 300));
    assert!(!leak.owns_heap());
    let owned = Leak::between(format!("{} cycles", 8), before, grown).unwrap();
    assert!(owned.owns_heap());
}
