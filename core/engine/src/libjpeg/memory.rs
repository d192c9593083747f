//! libjpeg's system memory functions (the `jmemsys.h` interface), on the
//! Rust global allocator, so the counting allocator of `libpyjamaz` (or a
//! test's leak-checking one) sees every pool libjpeg allocates.
//!
//! mozjpeg-sys compiles `jmemnobs.c`, whose functions call `malloc`. These
//! definitions come first in the link (this crate is linked before
//! mozjpeg-sys's archive), so the linker resolves libjpeg's references here
//! and never pulls `jmemnobs.o` in. Were it ever pulled (a new symbol added
//! to it), the link would fail on duplicate symbols: loudly, not silently
//! uncounted. `libjpeg_pools_come_from_the_rust_allocator` (in the parent's
//! tests) checks the routing.
//!
//! They are `#[no_mangle]`, so `libpyjamaz.so` exports them (rustc exports
//! every such symbol of a cdylib). Harmless: they are the complete set, so
//! whichever definition the dynamic linker binds (ours, or a system
//! libjpeg's in a program that loads both with RTLD_GLOBAL), every get is
//! freed by the same family.
//!
//! Each block carries its size in a 16-byte header, so freeing does not
//! depend on libjpeg passing back exactly the size it asked for.

use std::alloc::{alloc, dealloc, Layout};
use std::os::raw::{c_long, c_void};
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};

use mozjpeg_sys as ffi;

const HEADER: usize = 16;

/// Blocks handed to libjpeg so far, in the unit tests only: the proof that
/// libjpeg calls these functions and not jmemnobs.c's.
#[cfg(test)]
pub(crate) static BLOCKS_GIVEN: AtomicU64 = AtomicU64::new(0);

fn layout(total: usize) -> Option<Layout> {
    Layout::from_size_align(total, HEADER).ok()
}

unsafe fn get(size: usize) -> *mut c_void {
    let Some(total) = size.checked_add(HEADER) else {
        return std::ptr::null_mut();
    };
    let Some(layout) = layout(total) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `layout` has a non-zero size (HEADER is part of it).
    let block = alloc(layout);
    if block.is_null() {
        // libjpeg handles NULL (retries smaller, then its out-of-memory error).
        return std::ptr::null_mut();
    }
    block.cast::<usize>().write(total);
    #[cfg(test)]
    BLOCKS_GIVEN.fetch_add(1, Ordering::Relaxed);
    block.add(HEADER).cast()
}

unsafe fn free(object: *mut c_void) {
    if object.is_null() {
        return;
    }
    let block = object.cast::<u8>().sub(HEADER);
    let total = block.cast::<usize>().read();
    // SAFETY: `get` allocated `block` with this layout and recorded `total`.
    dealloc(
        block,
        layout(total).expect("the layout was valid when allocated"),
    );
}

/// # Safety
/// Called by libjpeg only; returns a block for `jpeg_free_small`.
#[no_mangle]
pub unsafe extern "C" fn jpeg_get_small(_cinfo: *mut c_void, size: usize) -> *mut c_void {
    get(size)
}

/// # Safety
/// `object` came from `jpeg_get_small` (or is NULL) and is not used again.
#[no_mangle]
pub unsafe extern "C" fn jpeg_free_small(_cinfo: *mut c_void, object: *mut c_void, _size: usize) {
    free(object)
}

/// # Safety
/// Called by libjpeg only; returns a block for `jpeg_free_large`.
#[no_mangle]
pub unsafe extern "C" fn jpeg_get_large(_cinfo: *mut c_void, size: usize) -> *mut c_void {
    get(size)
}

/// # Safety
/// `object` came from `jpeg_get_large` (or is NULL) and is not used again.
#[no_mangle]
pub unsafe extern "C" fn jpeg_free_large(_cinfo: *mut c_void, object: *mut c_void, _size: usize) {
    free(object)
}

/// All memory libjpeg wants, within `max_memory_to_use` when it is set: the
/// same answer as `jmemnobs.c` (no backing store, everything in memory).
///
/// # Safety
/// `cinfo` is a live libjpeg object with its memory manager set up.
#[no_mangle]
pub unsafe extern "C" fn jpeg_mem_available(
    cinfo: *mut ffi::jpeg_common_struct,
    _min_bytes_needed: usize,
    max_bytes_needed: usize,
    already_allocated: usize,
) -> usize {
    let limit = (*(*cinfo).mem).max_memory_to_use;
    if limit > 0 {
        (limit as usize).saturating_sub(already_allocated)
    } else {
        max_bytes_needed
    }
}

/// There is no backing store: libjpeg's own error, as in `jmemnobs.c`
/// (`C-unwind`: the error handler unwinds through here).
///
/// # Safety
/// `cinfo` is a live libjpeg object whose error manager is installed.
#[no_mangle]
pub unsafe extern "C-unwind" fn jpeg_open_backing_store(
    cinfo: *mut ffi::jpeg_common_struct,
    _info: *mut c_void,
    _total_bytes_needed: c_long,
) {
    let err = (*cinfo).err;
    (*err).msg_code = ffi::JERR_NO_BACKING_STORE;
    if let Some(exit) = (*err).error_exit {
        exit(&mut *cinfo);
    }
}

/// # Safety
/// Called by libjpeg only.
#[no_mangle]
pub unsafe extern "C" fn jpeg_mem_init(_cinfo: *mut c_void) -> c_long {
    0 // max_memory_to_use = 0: no limit, as jmemnobs.c
}

/// # Safety
/// Called by libjpeg only.
#[no_mangle]
pub unsafe extern "C" fn jpeg_mem_term(_cinfo: *mut c_void) {}
