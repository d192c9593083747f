//! Fuzzes `pyjamaz_optimize` through the C ABI on arbitrary bytes and options
//! (the first bytes of a case pick the options, see `pyjamaz::fuzzing`):
//! no crash, no panic at the boundary, a defined error code, and live
//! allocations back to the baseline once the result is freed.
//!
//! Cases whose image header declares more than [`MAX_PIXELS`] are skipped,
//! as image codecs' own fuzz targets do: a 600-byte JPEG may declare
//! 12038 x 1280 pixels, which the core accepts (its limits are 16384 a side
//! and 512 MB) and optimizes correctly, in 8 s in release and a minute under
//! the fuzzer's AddressSanitizer (WebP quality search for a 192-byte
//! target). Such a case is slow, not stuck, yet trips libFuzzer's per-input
//! timeout, and spends the run's budget on one input. Large images are the
//! memory suites' and the corpus's; the header is read without decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyjamaz::fuzzing::HEADER_LEN;

/// The most pixels an image may declare to be fuzzed: 1024 x 512. The slow
/// case above, cut to that size, takes 2.5 s under ASan (the timeout: 10 s).
const MAX_PIXELS: u64 = 1 << 19;

/// The declared size of the case's image, if its header can be read.
fn declared_pixels(image: &[u8]) -> Option<u64> {
    let reader = image::ImageReader::new(std::io::Cursor::new(image))
        .with_guessed_format()
        .ok()?;
    let (width, height) = reader.into_dimensions().ok()?;
    Some(u64::from(width) * u64::from(height))
}

fuzz_target!(|data: &[u8]| {
    let image = data.get(HEADER_LEN..).unwrap_or_default();
    if declared_pixels(image).is_some_and(|pixels| pixels > MAX_PIXELS) {
        return;
    }
    pyjamaz::fuzzing::check_case(data, true);
});
