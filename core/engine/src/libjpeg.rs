//! JPEG decoding and encoding with libjpeg-turbo's code (the `mozjpeg-sys`
//! build of it: the libjpeg-turbo codec with mozjpeg's extensions switched
//! off by the `JCP_FASTEST` profile), behind two safe functions.
//!
//! Why C here: on real photographs the pure-Rust path (zune-jpeg to decode,
//! jpeg-encoder plus a Huffman pass of our own to encode) took 2.35x
//! Pillow's time, the encoder 4-5x libjpeg-turbo's (docs/benchmarks/jpeg.md).
//! This is libjpeg-turbo's SIMD code (x86 SIMD needs `nasm` at build time;
//! without it mozjpeg-sys warns and builds plain C, same output, slower).
//!
//! Errors: libjpeg reports a fatal error by calling `error_exit`, whose
//! default calls `exit()`. Ours unwinds (`resume_unwind`, no panic hook, no
//! message on stderr) back to the `catch_unwind` around each call, which
//! then destroys the codec object (freeing every pool) and returns the
//! message. mozjpeg-sys compiles the C code with `-fexceptions` so unwinding
//! through its frames is defined. Warnings (corrupt but decodable data) are
//! ignored, as libjpeg-turbo's own tools and Pillow do; truncation is
//! decided before decoding by `format::structure`.
//!
//! Accounting: the pixel buffers and the encoded output are Rust `Vec`s, and
//! libjpeg's working memory (its pools: row buffers, up to the coefficients
//! of a progressive image) comes from `memory`, which replaces libjpeg's
//! malloc-based system memory functions with the Rust global allocator. So
//! the counting allocator sees the whole JPEG path, as it sees libdeflate's.
//! Every pool is released by `jpeg_destroy_*` on every path below.

use std::os::raw::{c_int, c_ulong};
use std::panic::{catch_unwind, AssertUnwindSafe};

use mozjpeg_sys as ffi;

mod memory;

/// Decoded samples, `channels` (1 = gray, 3 = RGB) per pixel, rows packed.
#[derive(Debug)]
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<u8>,
}

/// Decodes a JPEG to 8-bit gray or RGB. `Ok(None)` for colour spaces this
/// path does not convert (CMYK, YCCK): the caller decodes those otherwise.
pub fn decode(bytes: &[u8]) -> Result<Option<Decoded>, String> {
    // SAFETY: both structs are plain C data, valid when zeroed (libjpeg's
    // own examples memset them); neither moves while libjpeg holds
    // pointers to it (`err` from `cinfo`, `cinfo` from its pools).
    let mut err: ffi::jpeg_error_mgr = unsafe { std::mem::zeroed() };
    let mut cinfo: ffi::jpeg_decompress_struct = unsafe { std::mem::zeroed() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: see `decode_started`.
        unsafe {
            cinfo.common.err = install_error_handler(&mut err);
            ffi::jpeg_create_decompress(&mut cinfo);
            decode_started(&mut cinfo, bytes)
        }
    }));
    // SAFETY: safe on a zeroed struct (no pools yet) and after any error;
    // frees every pool libjpeg allocated.
    unsafe { ffi::jpeg_destroy_decompress(&mut cinfo) };
    result.unwrap_or_else(|payload| Err(unwind_message(payload)))
}

/// # Safety
/// `cinfo` was created by `jpeg_create_decompress` with the unwinding error
/// handler installed, and `bytes` outlives the call.
unsafe fn decode_started(
    cinfo: &mut ffi::jpeg_decompress_struct,
    bytes: &[u8],
) -> Result<Option<Decoded>, String> {
    ffi::jpeg_mem_src(cinfo, bytes.as_ptr(), bytes.len() as c_ulong);
    ffi::jpeg_read_header(cinfo, 1);
    let out = match cinfo.jpeg_color_space {
        ffi::JCS_GRAYSCALE => ffi::JCS_GRAYSCALE,
        ffi::JCS_YCbCr | ffi::JCS_RGB => ffi::JCS_RGB,
        _ => return Ok(None),
    };
    cinfo.out_color_space = out;
    ffi::jpeg_start_decompress(cinfo);
    let (width, height) = (cinfo.output_width as usize, cinfo.output_height as usize);
    let channels = cinfo.output_components as usize;
    let stride = width * channels;
    // The caller checked the dimensions against its limits before this.
    // Not zeroed: libjpeg writes every row before the length is set below
    // (zeroing a megapixel image first cost ~5% of a decode).
    let mut pixels: Vec<u8> = Vec::with_capacity(stride * height);
    let base = pixels.as_mut_ptr();
    let mut rows: Vec<*mut u8> = (0..height).map(|y| base.add(y * stride)).collect();
    while (cinfo.output_scanline as usize) < height {
        let next = cinfo.output_scanline as usize;
        let read =
            ffi::jpeg_read_scanlines(cinfo, rows[next..].as_mut_ptr(), (height - next) as u32);
        if read == 0 {
            // Never with an in-memory source (it does not suspend); a guard
            // against looping forever if it ever did.
            return Err("libjpeg returned no rows".into());
        }
    }
    // SAFETY: all `height` rows of `stride` bytes were written above.
    pixels.set_len(stride * height);
    ffi::jpeg_finish_decompress(cinfo);
    Ok(Some(Decoded {
        width: width as u32,
        height: height as u32,
        channels: channels as u8,
        pixels,
    }))
}

/// Encodes packed RGB as a baseline JPEG at `quality` (1..=100) with
/// libjpeg-turbo's defaults: 4:2:0, the Annex K tables scaled by the IJG
/// formula (clamped to 8 bits, so every quality stays baseline), standard
/// Huffman tables, so the output is byte-identical to what libjpeg-turbo
/// (cjpeg, Pillow) writes for the same pixels and quality.
///
/// Huffman tables optimized per image (`optimize_coding`) were measured and
/// left off: 1-2% smaller on photographs but 2.7x the encode time
/// (docs/benchmarks/jpeg.md).
pub fn encode_rgb(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, String> {
    let stride = width as usize * 3;
    if rgb.len() != stride * height as usize || width == 0 || height == 0 {
        return Err(format!("{} bytes is not {width}x{height} RGB", rgb.len()));
    }
    // SAFETY: as in `decode`.
    let mut err: ffi::jpeg_error_mgr = unsafe { std::mem::zeroed() };
    let mut cinfo: ffi::jpeg_compress_struct = unsafe { std::mem::zeroed() };
    let mut dest = VecDestination::new(rgb.len() / 16);
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `cinfo` created with the unwinding handler; `dest` and
        // `rgb` outlive every libjpeg call; rows point into `rgb`, which
        // libjpeg only reads.
        unsafe {
            cinfo.common.err = install_error_handler(&mut err);
            ffi::jpeg_create_compress(&mut cinfo);
            cinfo.dest = dest.attach();
            cinfo.image_width = width;
            cinfo.image_height = height;
            cinfo.input_components = 3;
            cinfo.in_color_space = ffi::JCS_RGB;
            ffi::jpeg_c_set_int_param(
                &mut cinfo,
                ffi::J_INT_PARAM::JINT_COMPRESS_PROFILE,
                ffi::JCP_FASTEST as c_int,
            );
            ffi::jpeg_set_defaults(&mut cinfo);
            ffi::jpeg_set_quality(&mut cinfo, c_int::from(quality.clamp(1, 100)), 1);
            cinfo.optimize_coding = 0;
            ffi::jpeg_start_compress(&mut cinfo, 1);
            let rows: Vec<*const u8> = rgb.chunks_exact(stride).map(|r| r.as_ptr()).collect();
            while (cinfo.next_scanline as usize) < rows.len() {
                let next = cinfo.next_scanline as usize;
                let wrote = ffi::jpeg_write_scanlines(
                    &mut cinfo,
                    rows[next..].as_ptr(),
                    (rows.len() - next) as u32,
                );
                if wrote == 0 {
                    return Err("libjpeg accepted no rows".to_string());
                }
            }
            ffi::jpeg_finish_compress(&mut cinfo);
            Ok(())
        }
    }));
    // SAFETY: as in `decode`; the destination is no longer used after this.
    unsafe { ffi::jpeg_destroy_compress(&mut cinfo) };
    result.unwrap_or_else(|payload| Err(unwind_message(payload)))?;
    Ok(dest.out)
}

/// Points libjpeg's error handling at `err`, with `error_exit` unwinding
/// and warnings silent.
///
/// # Safety
/// `err` must outlive the codec object it is installed into.
unsafe fn install_error_handler(err: &mut ffi::jpeg_error_mgr) -> *mut ffi::jpeg_error_mgr {
    let err = ffi::jpeg_std_error(err);
    err.error_exit = Some(error_exit);
    err.emit_message = Some(ignore_message);
    err
}

/// The message text of a fatal libjpeg error, carried by the unwind.
struct Fatal(String);

unsafe extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    type Format = unsafe extern "C-unwind" fn(&mut ffi::jpeg_common_struct, &mut [u8; 80]);
    let mut buffer = [0u8; 80];
    // SAFETY: `err` was installed by `install_error_handler`. format_message
    // writes at most JMSG_LENGTH_MAX (80) bytes, NUL-terminated, into its
    // buffer: the binding declares it `&[u8; 80]`, so it is called through
    // the same signature with `&mut` (what the C side does with it).
    let text = match (*cinfo.err).format_message {
        Some(format) => {
            let format: Format = std::mem::transmute(format);
            format(cinfo, &mut buffer);
            let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
            String::from_utf8_lossy(&buffer[..end]).into_owned()
        }
        None => format!("libjpeg error {}", (*cinfo.err).msg_code),
    };
    std::panic::resume_unwind(Box::new(Fatal(text)));
}

unsafe extern "C-unwind" fn ignore_message(_cinfo: &mut ffi::jpeg_common_struct, _level: c_int) {}

fn unwind_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<Fatal>() {
        Ok(fatal) => fatal.0,
        // Not libjpeg's: a panic of our own code inside the guarded block
        // (a bug) is re-raised, not turned into an image error.
        Err(other) => std::panic::resume_unwind(other),
    }
}

/// A libjpeg destination writing into a Rust `Vec` (so the output is
/// counted by the global allocator and needs no copy out of a C buffer).
/// `#[repr(C)]` with the manager first: libjpeg hands callbacks the manager
/// pointer, which is also the pointer to this struct.
#[repr(C)]
struct VecDestination {
    manager: ffi::jpeg_destination_mgr,
    out: Vec<u8>,
}

impl VecDestination {
    fn new(capacity: usize) -> Box<VecDestination> {
        Box::new(VecDestination {
            manager: ffi::jpeg_destination_mgr {
                next_output_byte: std::ptr::null_mut(),
                free_in_buffer: 0,
                init_destination: Some(Self::init),
                empty_output_buffer: Some(Self::empty),
                term_destination: Some(Self::term),
            },
            out: Vec::with_capacity(capacity.max(4096)),
        })
    }

    fn attach(&mut self) -> *mut ffi::jpeg_destination_mgr {
        &mut self.manager
    }

    /// Hands libjpeg the spare capacity of `out`.
    fn expose_spare(&mut self) {
        let spare = self.out.spare_capacity_mut();
        self.manager.free_in_buffer = spare.len();
        self.manager.next_output_byte = spare.as_mut_ptr().cast();
    }

    /// # Safety
    /// `cinfo.dest` was set from `attach` on a live `VecDestination`.
    unsafe fn from_cinfo(cinfo: &mut ffi::jpeg_compress_struct) -> &mut VecDestination {
        &mut *cinfo.dest.cast::<VecDestination>()
    }

    unsafe extern "C-unwind" fn init(cinfo: &mut ffi::jpeg_compress_struct) {
        Self::from_cinfo(cinfo).expose_spare();
    }

    /// libjpeg filled the whole spare capacity: keep it and grow.
    unsafe extern "C-unwind" fn empty(cinfo: &mut ffi::jpeg_compress_struct) -> ffi::boolean {
        let dest = Self::from_cinfo(cinfo);
        let full = dest.out.capacity();
        // SAFETY: libjpeg wrote every byte up to the capacity.
        dest.out.set_len(full);
        dest.out.reserve(full.max(4096));
        dest.expose_spare();
        1
    }

    unsafe extern "C-unwind" fn term(cinfo: &mut ffi::jpeg_compress_struct) {
        let dest = Self::from_cinfo(cinfo);
        let written = dest.out.capacity() - dest.out.len() - dest.manager.free_in_buffer;
        // SAFETY: libjpeg wrote `written` bytes after the current length.
        dest.out.set_len(dest.out.len() + written);
        dest.manager.free_in_buffer = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> Vec<u8> {
        (0..height)
            .flat_map(|y| {
                // Smooth: no wrap-around edge for 4:2:0 chroma to smear.
                (0..width).flat_map(move |x| [(x * 2) as u8, (y * 4) as u8, ((x + y) / 2) as u8])
            })
            .collect()
    }

    #[test]
    fn round_trip_keeps_size_and_pixels_close() {
        let rgb = gradient(97, 61);
        let jpeg = encode_rgb(&rgb, 97, 61, 90).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "starts with SOI");
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9], "ends with EOI");
        let back = decode(&jpeg).unwrap().expect("YCbCr decodes");
        assert_eq!((back.width, back.height, back.channels), (97, 61, 3));
        let worst = rgb
            .iter()
            .zip(&back.pixels)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst < 24, "largest channel error {worst}");
    }

    #[test]
    fn output_grows_past_the_first_buffer() {
        // Noise compresses badly: far more than the initial capacity.
        let rgb: Vec<u8> = (0..512u32 * 512 * 3)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let jpeg = encode_rgb(&rgb, 512, 512, 95).unwrap();
        assert!(jpeg.len() > rgb.len() / 16, "{} bytes", jpeg.len());
        let back = decode(&jpeg).unwrap().unwrap();
        assert_eq!(back.pixels.len(), rgb.len());
    }

    #[test]
    fn every_quality_stays_baseline() {
        let rgb = gradient(32, 32);
        for q in [1, 10, 24, 50, 100] {
            let jpeg = encode_rgb(&rgb, 32, 32, q).unwrap();
            assert!(
                jpeg.windows(2).any(|w| w == [0xFF, 0xC0]),
                "q{q}: no SOF0 (baseline) marker"
            );
            assert!(
                !jpeg.windows(2).any(|w| w == [0xFF, 0xC1]),
                "q{q}: extended frame"
            );
        }
    }

    #[test]
    fn fatal_errors_come_back_as_messages_without_a_panic() {
        let err = decode(b"\xFF\xD8\xFF\xE0 not a jpeg").unwrap_err();
        assert!(!err.is_empty());
        let err = decode(&[0u8; 64]).unwrap_err();
        assert!(err.to_lowercase().contains("jpeg"), "{err}");
        assert!(encode_rgb(&[0; 10], 2, 2, 85).is_err());
    }

    #[test]
    fn libjpeg_pools_come_from_the_rust_allocator() {
        use std::sync::atomic::Ordering;
        let before = memory::BLOCKS_GIVEN.load(Ordering::Relaxed);
        let jpeg = encode_rgb(&gradient(64, 64), 64, 64, 85).unwrap();
        decode(&jpeg).unwrap().unwrap();
        let given = memory::BLOCKS_GIVEN.load(Ordering::Relaxed) - before;
        // Each codec object takes its manager and several pools; zero would
        // mean libjpeg still calls jmemnobs.c's malloc.
        assert!(given >= 4, "libjpeg took {given} blocks through memory.rs");
    }

    #[test]
    fn grayscale_decodes_to_one_channel() {
        let gray = image::GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 5 + y) as u8]));
        let mut jpeg = std::io::Cursor::new(Vec::new());
        gray.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let back = decode(jpeg.get_ref()).unwrap().unwrap();
        assert_eq!((back.width, back.height, back.channels), (40, 30, 1));
    }
}
