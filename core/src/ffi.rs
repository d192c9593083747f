//! The C ABI of `include/pyjamaz.h`: every `extern "C"` function of the
//! library lives in this file, so the unsafe surface can be reviewed in one
//! place.
//!
//! Rules kept here: no panic crosses the boundary (each entry point catches
//! unwinds and reports `PYJAMAZ_ERR_INTERNAL`); `pyjamaz_optimize` never
//! returns NULL; everything a result owns (output bytes, error message) is
//! released by `pyjamaz_free_result`, and nothing else is allocated per call
//! that outlives it.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyjamaz_engine::error::{Error, ErrorCode};
use pyjamaz_engine::optimize::{self, Metric, Options, Output};

/// The ABI version this library implements (`PYJAMAZ_ABI_VERSION`).
pub const ABI_VERSION: u32 = 1;

/// `PyjamazOptions` of the header.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PyjamazOptions {
    pub input: *const u8,
    pub input_len: usize,
    pub max_bytes: u64,
    pub max_diff: f64,
    pub metric: *const c_char,
    pub formats: *const c_char,
    pub concurrency: u32,
}

/// `PyjamazResult` of the header.
#[repr(C)]
#[derive(Debug)]
pub struct PyjamazResult {
    pub output: *mut u8,
    pub output_len: usize,
    pub format: *const c_char,
    pub diff_value: f64,
    pub passed: i32,
    pub error_code: i32,
    pub error_message: *mut c_char,
}

/// `PyjamazAllocStats` of the header.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PyjamazAllocStats {
    pub live_allocations: u64,
    pub live_bytes: u64,
    pub total_allocations: u64,
    pub peak_bytes: u64,
}

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// Returns the library version as a static NUL-terminated string.
///
/// # Safety
///
/// Always safe to call. The returned pointer is static: the caller must not
/// free or write through it.
#[no_mangle]
pub unsafe extern "C" fn pyjamaz_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// Returns the ABI version this library implements (1).
///
/// # Safety
///
/// Always safe to call.
#[no_mangle]
pub unsafe extern "C" fn pyjamaz_abi_version() -> u32 {
    ABI_VERSION
}

/// Optimizes the image described by `*options`. Never returns NULL; failures
/// come back as an error code and message in the result.
///
/// # Safety
///
/// `options` must be NULL or point to a valid `PyjamazOptions` whose `input`
/// is NULL or valid for reads of `input_len` bytes, and whose `metric` and
/// `formats` are each NULL or a valid NUL-terminated string; all of them must
/// stay valid and unmodified for the duration of the call. The returned
/// result must be released with [`pyjamaz_free_result`] exactly once.
#[no_mangle]
pub unsafe extern "C" fn pyjamaz_optimize(options: *const PyjamazOptions) -> *mut PyjamazResult {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: forwarded from this function's contract.
        unsafe { optimize_raw(options) }
    }));
    let result = match outcome {
        Ok(Ok(output)) => success(output),
        Ok(Err(err)) => failure(err.code(), &err.full_message()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            failure(ErrorCode::Internal, &format!("internal error: {what}"))
        }
    };
    Box::into_raw(Box::new(result))
}

/// Reads the C options and runs the optimizer.
///
/// # Safety
///
/// Same contract as [`pyjamaz_optimize`].
unsafe fn optimize_raw(options: *const PyjamazOptions) -> Result<Output, Error> {
    // SAFETY: the caller guarantees options is NULL or valid.
    let Some(raw) = (unsafe { options.as_ref() }) else {
        return Err(Error::NullPointer { what: "options" });
    };
    if raw.input.is_null() {
        return Err(Error::NullPointer { what: "input" });
    }
    if raw.input_len > isize::MAX as usize {
        return Err(Error::InvalidOptions(format!(
            "input_len {} is larger than any buffer can be",
            raw.input_len
        )));
    }
    // SAFETY: the caller guarantees these are NULL or NUL-terminated strings.
    let metric = unsafe { c_str_option(raw.metric, "metric") }?;
    let formats = unsafe { c_str_option(raw.formats, "formats") }?;
    let options = Options {
        max_bytes: (raw.max_bytes > 0).then_some(raw.max_bytes),
        max_diff: (raw.max_diff != 0.0).then_some(raw.max_diff),
        metric: metric.map_or(Ok(Metric::Ssim), Metric::from_name)?,
        formats: optimize::parse_formats(formats.unwrap_or(""))?,
        concurrency: raw.concurrency,
    };
    let input: &[u8] = if raw.input_len == 0 {
        &[]
    } else {
        // SAFETY: input is non-null and, by contract, valid for input_len
        // bytes, which is at most isize::MAX.
        unsafe { std::slice::from_raw_parts(raw.input, raw.input_len) }
    };
    optimize::optimize(input, &options)
}

/// # Safety
///
/// `ptr` must be NULL or a valid NUL-terminated string.
unsafe fn c_str_option<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated by contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map(Some)
        .map_err(|_| Error::InvalidOptions(format!("{what} is not valid utf-8")))
}

fn success(output: Output) -> PyjamazResult {
    let bytes = output.bytes.into_boxed_slice();
    let output_len = bytes.len();
    PyjamazResult {
        output: Box::into_raw(bytes).cast::<u8>(),
        output_len,
        format: output.format.c_name().as_ptr(),
        diff_value: output.diff,
        passed: i32::from(output.passed),
        error_code: ErrorCode::Ok.as_i32(),
        error_message: std::ptr::null_mut(),
    }
}

fn failure(code: ErrorCode, message: &str) -> PyjamazResult {
    // A message with an interior NUL would be cut short in C; make it visible.
    let message = CString::new(message.replace('\0', "\\0")).expect("interior NULs were replaced");
    PyjamazResult {
        output: std::ptr::null_mut(),
        output_len: 0,
        format: std::ptr::null(),
        diff_value: 0.0,
        passed: 0,
        error_code: code.as_i32(),
        error_message: message.into_raw(),
    }
}

/// Frees a result returned by [`pyjamaz_optimize`], with its output bytes and
/// error message. NULL is a no-op.
///
/// # Safety
///
/// `result` must be NULL or a pointer returned by [`pyjamaz_optimize`] that
/// has not been freed yet, with its fields unmodified. It must not be used
/// after this call.
#[no_mangle]
pub unsafe extern "C" fn pyjamaz_free_result(result: *mut PyjamazResult) {
    if result.is_null() {
        return;
    }
    // Dropping only reconstructs and frees what pyjamaz_optimize allocated;
    // a panic is impossible here short of a corrupted result, and even then
    // it must not unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: by contract, result came from Box::into_raw in
        // pyjamaz_optimize and is freed once.
        let result = unsafe { Box::from_raw(result) };
        if !result.output.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(result.output, result.output_len);
            // SAFETY: output/output_len came from a Box<[u8]> in `success`.
            drop(unsafe { Box::from_raw(slice) });
        }
        if !result.error_message.is_null() {
            // SAFETY: error_message came from CString::into_raw in `failure`.
            drop(unsafe { CString::from_raw(result.error_message) });
        }
    }));
}

/// Writes the library's heap accounting into `*out`.
///
/// # Safety
///
/// `out` must be NULL or valid for a write of one `PyjamazAllocStats`.
#[no_mangle]
pub unsafe extern "C" fn pyjamaz_alloc_stats(out: *mut PyjamazAllocStats) -> i32 {
    // SAFETY: the caller guarantees out is NULL or valid for writes.
    let Some(out) = (unsafe { out.as_mut() }) else {
        return ErrorCode::NullPointer.as_i32();
    };
    let stats = crate::alloc::stats();
    *out = PyjamazAllocStats {
        live_allocations: stats.live_allocations,
        live_bytes: stats.live_bytes,
        total_allocations: stats.total_allocations,
        peak_bytes: stats.peak_bytes,
    };
    ErrorCode::Ok.as_i32()
}

/// Names the caller of the calls this thread makes next (`"file.py:42"`, the
/// binding's caller; NULL clears it): in attribution mode each leak site's
/// stack then ends with that line, so the Python line that called the core
/// and the native site show together. Does nothing unless the library was
/// loaded with `MEMTEST_EXPLAIN` set.
///
/// # Safety
///
/// `label` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pyjamaz_alloc_sites_caller(label: *const c_char) {
    if label.is_null() {
        crate::alloc::set_site_caller(None);
        return;
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let label = unsafe { std::ffi::CStr::from_ptr(label) }.to_string_lossy();
    crate::alloc::set_site_caller(Some(&label));
}

/// Most sites `pyjamaz_alloc_sites` prints: the largest; the rest are the
/// small end of what is live.
const MAX_SITES: usize = 50;

/// Writes the library's leak sites into `buf`: its live heap blocks
/// allocated at or after allocation number `since` (the `total_allocations`
/// of a `pyjamaz_alloc_stats` baseline; 0 for all), grouped by the stack
/// that allocated them, largest first, as `MEMTEST site={json}` lines (the
/// format of memtest's docs/protocol.md), NUL-terminated. Returns the length
/// of the whole text without the NUL: when it is `cap` or more, only the
/// first `cap - 1` bytes were written; call again with a larger buffer. The
/// text is empty unless the library was loaded with `MEMTEST_EXPLAIN` set
/// (site tracking costs a stack walk per allocation).
///
/// # Safety
///
/// `buf` must be NULL (with `cap` 0: ask for the length) or valid for
/// writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn pyjamaz_alloc_sites(since: u64, buf: *mut c_char, cap: usize) -> usize {
    let lines = crate::alloc::site_lines(since, MAX_SITES);
    let text = lines.as_bytes();
    if !buf.is_null() && cap > 0 {
        let n = text.len().min(cap - 1);
        // SAFETY: the caller guarantees buf is valid for cap bytes; n < cap.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    text.len()
}
