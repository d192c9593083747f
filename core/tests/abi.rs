//! Every error code of the C ABI, provoked through the extern functions the
//! way a binding would call them.

mod common;

use std::ffi::CStr;

use common::{abi_optimize, bomb_png, encode, photo, AbiOptions};
use image::ImageFormat;
use pyjamaz::ffi;
use pyjamaz::ErrorCode;

fn code_of(input: Option<&[u8]>, opts: &AbiOptions) -> ErrorCode {
    let result = abi_optimize(input, opts);
    let code = ErrorCode::from_i32(result.code).expect("a defined code");
    if code == ErrorCode::Ok {
        assert!(result.message.is_none());
    } else {
        let message = result.message.expect("errors carry a message");
        assert!(!message.is_empty());
        assert!(result.output.is_empty() && result.format.is_none());
    }
    code
}

#[test]
fn version_and_abi_version() {
    let version = unsafe { CStr::from_ptr(ffi::pyjamaz_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(unsafe { ffi::pyjamaz_abi_version() }, 1);
}

#[test]
fn success_fills_every_field() {
    let input = encode(&photo(32, 32), ImageFormat::Png);
    let result = abi_optimize(Some(&input), &AbiOptions::default());
    assert_eq!(result.code, 0);
    assert!(!result.output.is_empty());
    assert!(image::load_from_memory(&result.output).is_ok());
    let format = result.format.unwrap();
    assert!(
        ["jpeg", "png", "webp"].contains(&format.as_str()),
        "{format}"
    );
    assert!(result.passed);
    assert!(result.diff >= 0.0);
}

#[test]
fn null_pointers() {
    let result = unsafe { ffi::pyjamaz_optimize(std::ptr::null()) };
    let code = unsafe { (*result).error_code };
    unsafe { ffi::pyjamaz_free_result(result) };
    assert_eq!(code, ErrorCode::NullPointer.as_i32());
    assert_eq!(
        code_of(None, &AbiOptions::default()),
        ErrorCode::NullPointer
    );
    assert_eq!(
        unsafe { ffi::pyjamaz_alloc_stats(std::ptr::null_mut()) },
        ErrorCode::NullPointer.as_i32()
    );
    // Freeing NULL is a no-op.
    unsafe { ffi::pyjamaz_free_result(std::ptr::null_mut()) };
}

#[test]
fn empty_unknown_corrupt_truncated() {
    let d = AbiOptions::default();
    assert_eq!(code_of(Some(b""), &d), ErrorCode::EmptyInput);
    assert_eq!(
        code_of(Some(b"BM\0\0 not supported"), &d),
        ErrorCode::UnknownFormat
    );
    assert_eq!(code_of(Some(&[0u8; 64]), &d), ErrorCode::UnknownFormat);

    let png = encode(&photo(48, 48), ImageFormat::Png);
    let jpeg = encode(&photo(48, 48), ImageFormat::Jpeg);
    assert_eq!(
        code_of(Some(&png[..png.len() / 2]), &d),
        ErrorCode::TruncatedInput
    );
    assert_eq!(
        code_of(Some(&jpeg[..jpeg.len() / 2]), &d),
        ErrorCode::TruncatedInput
    );
    assert_eq!(code_of(Some(&png[..8]), &d), ErrorCode::TruncatedInput);

    let mut corrupt = png[..33].to_vec();
    corrupt.extend(
        std::iter::repeat_n(0x5Au8, 100)
            .enumerate()
            .map(|(i, b)| b ^ i as u8),
    );
    assert_eq!(code_of(Some(&corrupt), &d), ErrorCode::CorruptInput);
    // A valid structure with a broken CRC inside is corrupt, not truncated.
    let mut bad_crc = png.clone();
    bad_crc[29] ^= 0xFF; // last byte of the IHDR CRC
    assert_eq!(code_of(Some(&bad_crc), &d), ErrorCode::CorruptInput);
}

#[test]
fn limits_exceeded() {
    let d = AbiOptions::default();
    assert_eq!(
        code_of(Some(&bomb_png(100_000, 100_000)), &d),
        ErrorCode::LimitsExceeded
    );
    assert_eq!(
        code_of(Some(&bomb_png(20_000, 1)), &d),
        ErrorCode::LimitsExceeded
    );
}

#[test]
fn invalid_options() {
    let input = encode(&photo(16, 16), ImageFormat::Png);
    let cases = [
        AbiOptions {
            metric: Some("dssim".into()),
            ..AbiOptions::default()
        },
        AbiOptions {
            formats: Some("png,avif".into()),
            ..AbiOptions::default()
        },
        AbiOptions {
            max_diff: -0.5,
            ..AbiOptions::default()
        },
        AbiOptions {
            max_diff: f64::NAN,
            ..AbiOptions::default()
        },
    ];
    for opts in cases {
        assert_eq!(
            code_of(Some(&input), &opts),
            ErrorCode::InvalidOptions,
            "{opts:?}"
        );
    }
    // The documented defaults are accepted.
    for (metric, formats) in [
        (None, None),
        (Some("ssim"), Some("")),
        (Some("none"), Some("jpeg, webp")),
    ] {
        let opts = AbiOptions {
            metric: metric.map(Into::into),
            formats: formats.map(Into::into),
            ..AbiOptions::default()
        };
        assert_eq!(code_of(Some(&input), &opts), ErrorCode::Ok, "{opts:?}");
    }
}

#[test]
fn encode_error_when_the_only_encoder_fails() {
    // 16384 pixels wide is within the decode limits but beyond WebP's
    // 16383-pixel maximum, and the PNG original is not allowed.
    let wide = encode(
        &image::DynamicImage::ImageRgb8(image::RgbImage::new(16_384, 1)),
        ImageFormat::Png,
    );
    let opts = AbiOptions {
        formats: Some("webp".into()),
        ..AbiOptions::default()
    };
    assert_eq!(code_of(Some(&wide), &opts), ErrorCode::Encode);
}

#[test]
fn alloc_sites_name_the_call_that_holds_the_memory() {
    // Tracking is off by default: nothing to say, and a length of 0.
    assert_eq!(
        unsafe { ffi::pyjamaz_alloc_sites(0, std::ptr::null_mut(), 0) },
        0
    );
    pyjamaz::alloc::set_tracking_sites(true);
    let before = common::alloc_stats();
    let input = encode(&photo(32, 32), ImageFormat::Png);
    let formats = std::ffi::CString::new("png").unwrap();
    let options = ffi::PyjamazOptions {
        input: input.as_ptr(),
        input_len: input.len(),
        max_bytes: 0,
        max_diff: 0.0,
        metric: std::ptr::null(),
        formats: formats.as_ptr(),
        concurrency: 1,
    };
    // A result not freed yet: its blocks are live, made by pyjamaz_optimize.
    let held = unsafe { ffi::pyjamaz_optimize(&options) };
    let len =
        unsafe { ffi::pyjamaz_alloc_sites(before.total_allocations, std::ptr::null_mut(), 0) };
    let mut buf = vec![0u8; len + 1];
    unsafe {
        ffi::pyjamaz_alloc_sites(before.total_allocations, buf.as_mut_ptr().cast(), buf.len())
    };
    pyjamaz::alloc::set_tracking_sites(false);
    unsafe { ffi::pyjamaz_free_result(held) };
    let text = CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap();
    assert!(
        text.lines().all(|l| l.starts_with("MEMTEST site={")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("\"function\":\"pyjamaz_optimize\"")),
        "the held result's site names pyjamaz_optimize:\n{text}"
    );
    // A buffer too small gets a NUL-terminated prefix and the whole length.
    let mut small = [0xffu8; 8];
    let whole = unsafe { ffi::pyjamaz_alloc_sites(0, small.as_mut_ptr().cast(), small.len()) };
    assert!(whole >= small.len() || whole == 0);
    assert_eq!(small[whole.min(7)], 0);
}
