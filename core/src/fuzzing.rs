//! The fuzz target's logic, shared by `fuzz/` (cargo fuzz) and a plain test
//! that replays the seed corpus on every `cargo test -p pyjamaz`.
//!
//! A fuzz case is [`HEADER_LEN`] option bytes followed by the image bytes, so
//! the fuzzer explores options and input together while seed files stay
//! readable (header + a real image). [`check_case`] drives the C ABI and
//! asserts what must hold for any input: no panic reached the boundary, the
//! code is one the header defines, a success has output, and once the result
//! is freed the library's live allocations are back to where they were.

use std::ffi::CStr;

use crate::ffi::{self, PyjamazAllocStats, PyjamazOptions};
use pyjamaz_engine::ErrorCode;

/// Bytes of a case that encode the options.
pub const HEADER_LEN: usize = 4;

const METRICS: [Option<&CStr>; 4] = [None, Some(c"ssim"), Some(c"none"), Some(c"dssim")];
const FORMATS: [Option<&CStr>; 8] = [
    None,
    Some(c""),
    Some(c"jpeg"),
    Some(c"png"),
    Some(c"webp"),
    Some(c"jpeg,webp"),
    Some(c"png, jpg"),
    Some(c"avif"),
];

/// The options a case header stands for (input fields left empty).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseOptions {
    pub metric: Option<&'static CStr>,
    pub formats: Option<&'static CStr>,
    pub max_bytes: u64,
    pub max_diff: f64,
    pub concurrency: u32,
}

/// Decodes a case header: byte 0 picks metric (bits 0-1) and format list
/// (bits 2-4); byte 1 the budget (0 = none, else n * 64 bytes); byte 2 the
/// max_diff (0 = none, 255 = negative/invalid, else n / 254); byte 3 the
/// concurrency (0..=3).
pub fn case_options(header: [u8; HEADER_LEN]) -> CaseOptions {
    CaseOptions {
        metric: METRICS[usize::from(header[0] & 0x03)],
        formats: FORMATS[usize::from((header[0] >> 2) & 0x07)],
        max_bytes: u64::from(header[1]) * 64,
        max_diff: match header[2] {
            255 => -1.0,
            n => f64::from(n) / 254.0,
        },
        concurrency: u32::from(header[3] & 0x03),
    }
}

/// Builds a case from option bytes and an image (used to write seeds).
pub fn make_case(header: [u8; HEADER_LEN], image: &[u8]) -> Vec<u8> {
    let mut case = header.to_vec();
    case.extend_from_slice(image);
    case
}

/// What one case produced, for callers that want to tally outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseOutcome {
    pub code: ErrorCode,
    pub output_len: usize,
}

fn live_allocations() -> u64 {
    let mut stats = PyjamazAllocStats::default();
    // SAFETY: stats is a valid, writable PyjamazAllocStats.
    let code = unsafe { ffi::pyjamaz_alloc_stats(&mut stats) };
    assert_eq!(code, 0, "pyjamaz_alloc_stats failed");
    stats.live_allocations
}

/// Runs one fuzz case through the C ABI and panics if an invariant breaks.
///
/// `check_accounting` compares live allocations before and after; it needs
/// the counting allocator to be the global allocator and no other thread
/// allocating meanwhile, which holds in the fuzzer and in a test binary that
/// runs one test.
pub fn check_case(data: &[u8], check_accounting: bool) -> CaseOutcome {
    if data.len() < HEADER_LEN {
        return CaseOutcome {
            code: ErrorCode::Ok,
            output_len: 0,
        };
    }
    let mut header = [0; HEADER_LEN];
    header.copy_from_slice(&data[..HEADER_LEN]);
    let opts = case_options(header);
    let input = &data[HEADER_LEN..];
    let raw = PyjamazOptions {
        // A dangling-but-non-null pointer for empty input exercises the
        // EMPTY_INPUT path rather than NULL_POINTER.
        input: if input.is_empty() {
            std::ptr::NonNull::dangling().as_ptr()
        } else {
            input.as_ptr()
        },
        input_len: input.len(),
        max_bytes: opts.max_bytes,
        max_diff: opts.max_diff,
        metric: opts.metric.map_or(std::ptr::null(), CStr::as_ptr),
        formats: opts.formats.map_or(std::ptr::null(), CStr::as_ptr),
        concurrency: opts.concurrency,
    };

    let before = check_accounting.then(live_allocations);
    // SAFETY: raw points at live data and static strings for the whole call.
    let result = unsafe { ffi::pyjamaz_optimize(&raw) };
    assert!(!result.is_null(), "pyjamaz_optimize returned NULL");
    // SAFETY: non-null results of pyjamaz_optimize are valid until freed.
    let outcome = unsafe { inspect(&*result) };
    // SAFETY: result came from pyjamaz_optimize and is freed once.
    unsafe { ffi::pyjamaz_free_result(result) };
    if let Some(before) = before {
        let after = live_allocations();
        assert_eq!(
            after, before,
            "live allocations {before} -> {after} after freeing a result with code {}",
            outcome.code
        );
    }
    outcome
}

/// Checks one result's invariants.
///
/// # Safety
///
/// `result` must be a valid, not yet freed result of `pyjamaz_optimize`.
unsafe fn inspect(result: &ffi::PyjamazResult) -> CaseOutcome {
    let code = ErrorCode::from_i32(result.error_code)
        .unwrap_or_else(|| panic!("undefined error code {}", result.error_code));
    assert_ne!(
        code,
        ErrorCode::Internal,
        "a panic reached the ABI boundary: {:?}",
        // SAFETY: error results carry a NUL-terminated message.
        unsafe { CStr::from_ptr(result.error_message) }
    );
    if code == ErrorCode::Ok {
        assert!(!result.output.is_null() && result.output_len > 0);
        assert!(result.error_message.is_null());
        assert!(!result.format.is_null());
        // SAFETY: format is a static NUL-terminated string on success.
        let format = unsafe { CStr::from_ptr(result.format) };
        assert!(
            [c"jpeg", c"png", c"webp", c"gif"].contains(&format),
            "unexpected format {format:?}"
        );
        assert!(result.passed == 0 || result.passed == 1);
        assert!(result.diff_value.is_finite() && result.diff_value >= 0.0);
    } else {
        assert!(result.output.is_null() && result.format.is_null());
        assert!(!result.error_message.is_null(), "error without a message");
    }
    CaseOutcome {
        code,
        output_len: result.output_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_maps_to_every_option() {
        let o = case_options([0b0001_0010, 2, 127, 7]);
        assert_eq!(o.metric, Some(c"none"));
        assert_eq!(o.formats, Some(c"webp"));
        assert_eq!(o.max_bytes, 128);
        assert!((o.max_diff - 0.5).abs() < 1e-9);
        assert_eq!(o.concurrency, 3);
        assert_eq!(case_options([0, 0, 255, 0]).max_diff, -1.0);
    }

    #[test]
    fn short_and_invalid_cases_do_not_panic() {
        check_case(b"", false);
        check_case(&[3, 0, 0, 0], false);
        let bogus_metric = check_case(&make_case([3, 0, 0, 0], b"\x89PNG\r\n\x1a\n"), false);
        assert_eq!(bogus_metric.code, ErrorCode::InvalidOptions);
        let unknown = check_case(&make_case([0, 0, 0, 0], b"not an image"), false);
        assert_eq!(unknown.code, ErrorCode::UnknownFormat);
    }
}
