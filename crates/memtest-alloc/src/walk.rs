//! The stack walk behind leak sites: the return addresses of the calls that
//! led to an allocation, innermost first.
//!
//! Built with frame pointers (`-C force-frame-pointers=yes`, detected by
//! build.rs as cfg `memtest_frame_pointers`) on x86_64 or aarch64, it
//! follows the frame-pointer chain: two loads per frame, no unwind tables.
//! libgcc's DWARF unwinder re-read each frame's unwind rules on every walk
//! and took 41% of a tracked run (docs/benchmarks/sites.md in memtest).
//! Otherwise it falls back to the `backtrace` crate's DWARF unwinder.
//!
//! Only frames of code known to keep frame pointers are followed: the walk
//! continues while each return address lies in the object this crate is
//! built into (the library, or an executable with std statically linked;
//! Rust's std ships with frame pointers since 1.79) and stops after
//! recording the first return address outside it (the library's caller:
//! libffi, a Node addon). That caller's own frame pointer is not trusted:
//! an interpreter built without frame pointers leaves anything in the
//! register. Each frame record is also checked to lie above the previous
//! one, aligned and within the thread's stack when that is known.

use std::ops::Range;

/// Walks the current stack into `ips`, returns how many were written.
/// `own` is the address range of the object this code is built into;
/// `caller_frames` is how many return addresses outside it are kept
/// (the DWARF walk can follow them; the frame-pointer walk keeps one).
#[inline(never)]
pub(crate) fn walk(ips: &mut [usize], own: &Range<usize>, caller_frames: usize) -> usize {
    #[cfg(all(
        memtest_frame_pointers,
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        let _ = caller_frames;
        frame_pointers(ips, own)
    }
    #[cfg(not(all(
        memtest_frame_pointers,
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        dwarf(ips, own, caller_frames)
    }
}

/// The largest distance between two frame records of one stack: a frame
/// pointer further up than this is not one (no frame of this code holds
/// a megabyte on the stack).
#[cfg(all(
    memtest_frame_pointers,
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const MAX_FRAME_BYTES: usize = 1 << 20;

#[cfg(all(
    memtest_frame_pointers,
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[inline(always)]
fn frame_pointers(ips: &mut [usize], own: &Range<usize>) -> usize {
    let mut fp: usize;
    // SAFETY: reads the frame-pointer register; no memory is touched.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
        #[cfg(target_arch = "aarch64")]
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    let stack = thread_stack();
    // The first record is this function's own: just above the stack pointer.
    let mut low = (&fp as *const usize as usize).saturating_sub(64);
    let mut depth = 0;
    while depth < ips.len() {
        let plausible = fp > low
            && fp.is_multiple_of(std::mem::align_of::<usize>())
            && fp - low <= MAX_FRAME_BYTES
            && stack
                .as_ref()
                .is_none_or(|s| !s.contains(&low) || (fp + 16 <= s.end));
        if !plausible {
            break;
        }
        // SAFETY: `fp` is the frame record of a function known to keep
        // frame pointers (this one, or one whose return address lay in the
        // own object), checked above to lie on this thread's stack, above
        // the previous record: [fp] is the caller's record, [fp + 8] the
        // return address (the same layout on x86_64 and aarch64).
        let (next, ret) = unsafe {
            (
                std::ptr::read(fp as *const usize),
                std::ptr::read((fp + std::mem::size_of::<usize>()) as *const usize),
            )
        };
        if ret == 0 {
            break;
        }
        ips[depth] = ret;
        depth += 1;
        if !own.contains(&ret) {
            break;
        }
        low = fp;
        fp = next;
    }
    depth
}

/// This thread's stack, when pthread can say (read once per thread).
#[cfg(all(
    memtest_frame_pointers,
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn thread_stack() -> Option<Range<usize>> {
    use std::cell::Cell;
    thread_local! {
        // (0, 0): not asked yet; (1, 1): pthread could not say.
        static STACK: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }
    let (lo, hi) = STACK.try_with(Cell::get).ok()?;
    if (lo, hi) == (1, 1) {
        return None;
    }
    if hi != 0 {
        return Some(lo..hi);
    }
    // SAFETY: attr is initialized by pthread_getattr_np before it is read
    // and destroyed after; the calls only write through the pointers given.
    let range = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            None
        } else {
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
            libc::pthread_attr_destroy(&mut attr);
            ok.then(|| addr as usize..addr as usize + size)
        }
    };
    let _ = STACK.try_with(|s| s.set(range.as_ref().map_or((1, 1), |r| (r.start, r.end))));
    range
}

#[cfg(not(all(
    memtest_frame_pointers,
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn dwarf(ips: &mut [usize], own: &Range<usize>, caller_frames: usize) -> usize {
    let mut depth = 0;
    let mut seen_own = false;
    let mut outside = 0;
    // SAFETY: `trace_unsynchronized` requires no concurrent unsynchronized
    // trace on platforms whose unwinder is not thread-safe (Windows'
    // dbghelp); this feature is for the Unix unwinders (libgcc's,
    // libunwind), which are.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            let ip = frame.ip() as usize;
            ips[depth] = ip;
            depth += 1;
            if own.contains(&ip) {
                seen_own = true;
                outside = 0;
            } else if seen_own {
                outside += 1;
            }
            depth < ips.len() && outside < caller_frames
        });
    }
    depth
}
