//! A safe wrapper over the C ABI, plus the engine's test images, shared by
//! the integration tests of the C ABI and the allocation accounting.
#![allow(dead_code)] // each test binary uses a different subset

// The image generators live with the engine's tests, which use them too; a
// path include shares them without a helper crate or a dev-only feature.
#[path = "../../engine/tests/common/mod.rs"]
mod images;
#[allow(unused_imports)] // graded_leak.rs needs no image
pub use images::*;

use std::ffi::{CStr, CString};

use pyjamaz::ffi::{self, PyjamazAllocStats, PyjamazOptions};

/// Options for the C ABI with owned strings.
#[derive(Debug, Clone, Default)]
pub struct AbiOptions {
    pub max_bytes: u64,
    pub max_diff: f64,
    pub metric: Option<String>,
    pub formats: Option<String>,
    pub concurrency: u32,
}

/// What a C ABI result held, copied out before it was freed.
#[derive(Debug, Clone, PartialEq)]
pub struct AbiResult {
    pub code: i32,
    pub output: Vec<u8>,
    pub format: Option<String>,
    pub diff: f64,
    pub passed: bool,
    pub message: Option<String>,
}

/// Calls `pyjamaz_optimize` with `input` (None = NULL pointer), copies the
/// result and frees it.
pub fn abi_optimize(input: Option<&[u8]>, opts: &AbiOptions) -> AbiResult {
    let metric = opts.metric.as_deref().map(|m| CString::new(m).unwrap());
    let formats = opts.formats.as_deref().map(|f| CString::new(f).unwrap());
    let raw = PyjamazOptions {
        input: input.map_or(std::ptr::null(), |i| {
            if i.is_empty() {
                std::ptr::NonNull::dangling().as_ptr()
            } else {
                i.as_ptr()
            }
        }),
        input_len: input.map_or(0, <[u8]>::len),
        max_bytes: opts.max_bytes,
        max_diff: opts.max_diff,
        metric: metric.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        formats: formats.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        concurrency: opts.concurrency,
    };
    unsafe {
        let result = ffi::pyjamaz_optimize(&raw);
        assert!(!result.is_null());
        let r = &*result;
        let copied = AbiResult {
            code: r.error_code,
            output: if r.output.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts(r.output, r.output_len).to_vec()
            },
            format: (!r.format.is_null())
                .then(|| CStr::from_ptr(r.format).to_string_lossy().into_owned()),
            diff: r.diff_value,
            passed: r.passed == 1,
            message: (!r.error_message.is_null()).then(|| {
                CStr::from_ptr(r.error_message)
                    .to_string_lossy()
                    .into_owned()
            }),
        };
        ffi::pyjamaz_free_result(result);
        copied
    }
}

pub fn alloc_stats() -> PyjamazAllocStats {
    let mut stats = PyjamazAllocStats::default();
    assert_eq!(unsafe { ffi::pyjamaz_alloc_stats(&mut stats) }, 0);
    stats
}
