//! Routes libdeflate's C allocations (oxipng's compressor) through the Rust
//! global allocator, whichever one the final binary installs: the counting
//! allocator in `libpyjamaz.so`, the leak-checking one in the memory suites.
//! Without the hook those allocations go to C `malloc`, where neither can see
//! them. libwebp has no such hook, which is why RSS sampling stays the second
//! line of evidence.

/// libdeflate's allocator hook: C `malloc`/`free` semantics (no size on free),
/// so each block carries its size in a header in front of the payload.
mod hook {
    use std::alloc::{alloc, dealloc, Layout};
    use std::ffi::c_void;

    /// Header size; also the alignment handed out, which covers max_align_t.
    const HEADER: usize = 16;

    fn layout(size: usize) -> Option<Layout> {
        Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
    }

    pub(super) unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
        let Some(layout) = layout(size) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the layout is non-zero sized (it includes the header).
        let base = unsafe { alloc(layout) };
        if base.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: base is valid for HEADER bytes and aligned to 16.
        unsafe {
            base.cast::<usize>().write(size);
            base.add(HEADER).cast()
        }
    }

    pub(super) unsafe extern "C" fn free(ptr: *mut c_void) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: ptr came from `malloc` above, so the header precedes it and
        // holds the size the layout was made from.
        unsafe {
            let base = ptr.cast::<u8>().sub(HEADER);
            let size = base.cast::<usize>().read();
            let layout = layout(size).expect("layout was valid at allocation");
            dealloc(base, layout);
        }
    }
}

/// Installs the hook. Idempotent and cheap after the first call; called
/// before any PNG work.
pub(crate) fn hook_libdeflate() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called before any compressor exists in this library (the
        // Once runs before the first PNG encode), so no block allocated with
        // the old allocator is ever freed with the new one.
        unsafe { libdeflate_sys::libdeflate_set_memory_allocator(hook::malloc, hook::free) }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_round_trips_sizes() {
        unsafe {
            let p = hook::malloc(1000);
            assert!(!p.is_null());
            assert_eq!(p as usize % 16, 0);
            std::ptr::write_bytes(p.cast::<u8>(), 0xAB, 1000);
            hook::free(p);
            hook::free(std::ptr::null_mut());
        }
    }
}
