//! Candidate encoders: JPEG (libjpeg-turbo's, see `libjpeg`), PNG (lossless,
//! optimised by oxipng at a fast preset) and lossy WebP (libwebp through the
//! `webp` crate), plus the quality search used when a size budget is set.

use std::borrow::Cow;
use std::io::Cursor;

use image::DynamicImage;

use crate::error::Error;

/// Default JPEG quality, as the original library used.
pub const JPEG_DEFAULT_QUALITY: u8 = 85;
/// Default WebP quality, as the original library used.
pub const WEBP_DEFAULT_QUALITY: u8 = 80;
/// Most encodes one quality search may spend.
pub const MAX_SEARCH_STEPS: u32 = 7;
/// A search stops early once a fitting encode uses this share of the budget.
const GOOD_ENOUGH_SHARE: f64 = 0.99;

/// The decoded image in the two layouts the encoders take, made once per call.
/// An RGB8 image (every JPEG, most photographs) is borrowed, not copied.
pub struct Pixels<'a> {
    pub width: u32,
    pub height: u32,
    /// Whether any pixel is not fully opaque.
    pub has_alpha: bool,
    /// RGB, alpha composited over white (what JPEG and the metric see).
    pub rgb: Cow<'a, [u8]>,
    /// RGBA, present only when `has_alpha`.
    pub rgba: Option<Vec<u8>>,
}

impl<'a> Pixels<'a> {
    pub fn new(img: &'a DynamicImage) -> Pixels<'a> {
        let (width, height) = (img.width(), img.height());
        if let DynamicImage::ImageRgb8(rgb) = img {
            return Pixels {
                width,
                height,
                has_alpha: false,
                rgb: Cow::Borrowed(rgb.as_raw()),
                rgba: None,
            };
        }
        if !img.color().has_alpha() {
            return Pixels {
                width,
                height,
                has_alpha: false,
                rgb: Cow::Owned(img.to_rgb8().into_raw()),
                rgba: None,
            };
        }
        let rgba = img.to_rgba8().into_raw();
        let has_alpha = rgba.chunks_exact(4).any(|p| p[3] != 255);
        let rgb: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| {
                let a = u32::from(p[3]);
                let over_white = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
                [over_white(p[0]), over_white(p[1]), over_white(p[2])]
            })
            .collect();
        Pixels {
            width,
            height,
            has_alpha,
            rgb: Cow::Owned(rgb),
            rgba: has_alpha.then_some(rgba),
        }
    }
}

/// Encodes a baseline JPEG at `quality` (1..=100) with libjpeg-turbo's
/// defaults (4:2:0, IJG-scaled Annex K tables, standard Huffman tables):
/// the bytes libjpeg-turbo itself writes for these pixels (see `libjpeg`).
pub fn jpeg(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, Error> {
    crate::libjpeg::encode_rgb(&pixels.rgb, pixels.width, pixels.height, quality).map_err(
        |detail| Error::Encode {
            format: "jpeg",
            detail,
        },
    )
}

/// Encodes a lossy WebP at `quality` (0..=100).
pub fn webp(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, Error> {
    let encoder = match &pixels.rgba {
        Some(rgba) => webp::Encoder::from_rgba(rgba, pixels.width, pixels.height),
        None => webp::Encoder::from_rgb(&pixels.rgb, pixels.width, pixels.height),
    };
    let memory = encoder
        .encode_simple(false, f32::from(quality))
        .map_err(|err| Error::Encode {
            format: "webp",
            detail: format!("{err:?}"),
        })?;
    Ok(memory.to_vec())
}

fn png_options() -> oxipng::Options {
    // Preset 1 (one deflate trial, reductions on) at libdeflate level 6 with
    // the None and Paeth filters. Measured on a 600x600 photo: level 10 (the
    // preset's own) takes 395 ms for a 10% smaller file, level 6 takes 68 ms;
    // a 64x64 image stays under a millisecond. Paeth suits photos, None
    // suits palette-reduced graphics.
    let mut opts = oxipng::Options::from_preset(1);
    opts.deflate = oxipng::Deflaters::Libdeflater { compression: 6 };
    opts.filter.clear();
    opts.filter.insert(oxipng::RowFilter::None);
    opts.filter.insert(oxipng::RowFilter::Paeth);
    opts
}

/// Encodes a lossless PNG, reduced (palette, grayscale, bit depth) and
/// recompressed by oxipng.
pub fn png(pixels: &Pixels) -> Result<Vec<u8>, Error> {
    crate::deflate_alloc::hook_libdeflate();
    let (color, data) = match &pixels.rgba {
        Some(rgba) => (oxipng::ColorType::RGBA, rgba.clone()),
        None => (
            oxipng::ColorType::RGB {
                transparent_color: None,
            },
            pixels.rgb.to_vec(),
        ),
    };
    let encode_error = |err: oxipng::PngError| Error::Encode {
        format: "png",
        detail: err.to_string(),
    };
    let raw = oxipng::RawImage::new(
        pixels.width,
        pixels.height,
        color,
        oxipng::BitDepth::Eight,
        data,
    )
    .map_err(encode_error)?;
    raw.create_optimized_png(&png_options())
        .map_err(encode_error)
}

/// One encode of a quality search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub quality: u8,
    pub bytes: Vec<u8>,
}

/// Encodes at `default_quality`; with a budget that it misses, binary-searches
/// lower qualities for the highest one that fits, in at most
/// [`MAX_SEARCH_STEPS`] encodes in all. Returns the best fitting encode, or the
/// smallest one seen when none fits (the caller then reports passed = 0).
pub fn search_quality(
    default_quality: u8,
    budget_bytes: Option<u64>,
    mut encode: impl FnMut(u8) -> Result<Vec<u8>, Error>,
) -> Result<Encoded, Error> {
    let first = Encoded {
        quality: default_quality,
        bytes: encode(default_quality)?,
    };
    let Some(budget) = budget_bytes else {
        return Ok(first);
    };
    let fits = |e: &Encoded| e.bytes.len() as u64 <= budget;
    if fits(&first) {
        return Ok(first);
    }
    let (mut lo, mut hi) = (1u8, default_quality.saturating_sub(1));
    let mut best_fit: Option<Encoded> = None;
    let mut smallest = first;
    let mut steps = 1;
    while steps < MAX_SEARCH_STEPS && lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let attempt = Encoded {
            quality: mid,
            bytes: encode(mid)?,
        };
        steps += 1;
        if fits(&attempt) {
            let good_enough = attempt.bytes.len() as f64 >= budget as f64 * GOOD_ENOUGH_SHARE;
            lo = mid + 1;
            best_fit = Some(attempt);
            if good_enough {
                break;
            }
        } else {
            hi = mid - 1;
            if attempt.bytes.len() < smallest.bytes.len() {
                smallest = attempt;
            }
        }
    }
    Ok(best_fit.unwrap_or(smallest))
}

/// Decodes a candidate we encoded, for the metric.
pub fn decode_candidate(format: image::ImageFormat, bytes: &[u8]) -> Result<DynamicImage, Error> {
    image::load(Cursor::new(bytes), format).map_err(|err| {
        Error::Internal(format!(
            "re-decoding our own {format:?} candidate failed: {err}"
        ))
    })
}

/// A deterministic photo-like test image: gradients, a disc, hash noise.
#[cfg(test)]
pub(crate) fn test_photo(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        let noise = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) >> 7) % 24;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let disc = ((fx - 0.6).powi(2) + (fy - 0.4).powi(2)) < 0.05;
        let r = (fx * 200.0) as u32 + noise;
        let g = (fy * 180.0) as u32 + noise / 2 + if disc { 60 } else { 0 };
        let b = ((fx + fy) * 90.0) as u32 + noise;
        image::Rgb([r.min(255) as u8, g.min(255) as u8, b.min(255) as u8])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;
    use crate::ssim::{self, Luma};

    /// The segments of a JPEG before its scan: (marker, body).
    fn segments(jpeg: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        let mut pos = 2;
        while jpeg[pos + 1] != 0xDA {
            let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
            out.push((jpeg[pos + 1], &jpeg[pos + 4..pos + 2 + len]));
            pos += 2 + len;
        }
        out.push((0xDA, &jpeg[pos + 4..]));
        out
    }

    #[test]
    fn jpeg_is_one_420_scan_with_ijg_scaled_tables() {
        let photo = test_photo(96, 64);
        let pixels = Pixels::new(&photo);
        for (quality, luma_dc) in [(85, 5), (50, 16), (20, 40)] {
            let out = jpeg(&pixels, quality).unwrap();
            let segs = segments(&out);
            // Annex K's luma DC step 16, scaled as libjpeg scales it.
            let dqt = segs.iter().find(|(m, b)| *m == 0xDB && b[0] == 0).unwrap();
            assert_eq!(dqt.1[1], luma_dc, "quality {quality}");
            let sof = segs.iter().find(|(m, _)| *m == 0xC0).expect("baseline");
            // Y 2x2, Cb 1x1, Cr 1x1: 4:2:0.
            assert_eq!(
                [sof.1[5], sof.1[7], sof.1[10], sof.1[13]],
                [3, 0x22, 0x11, 0x11]
            );
            let scans = out.windows(2).filter(|w| w == &[0xFF, 0xDA]).count();
            assert_eq!(scans, 1, "one interleaved scan");
            assert_eq!(segs.last().unwrap().1[0], 3, "all components in it");
        }
        let size = |q| jpeg(&pixels, q).unwrap().len();
        assert!(size(40) < size(85) && size(85) < size(95));
    }

    #[test]
    fn jpeg_is_smaller_than_images_encoder_at_the_same_ssim() {
        let img = test_photo(320, 240);
        let reference = Luma::from_image(&img);
        let distance = |bytes: &[u8]| {
            let back = crate::decode::decode(Format::Jpeg, bytes).unwrap();
            ssim::distance(&reference, &Luma::from_image(&back))
        };
        let ours = jpeg(&Pixels::new(&img), 85).unwrap();
        let mut old = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut old, 85)
            .encode_image(&img)
            .unwrap();
        assert!(
            ours.len() * 100 < old.len() * 90,
            "ours {} vs image's {}",
            ours.len(),
            old.len()
        );
        let (d_ours, d_old) = (distance(&ours), distance(&old));
        assert!(
            d_ours <= d_old * 1.05 + 1e-4,
            "distance {d_ours} vs {d_old}"
        );
    }

    /// A fake encoder whose size is 100 bytes per quality point.
    fn linear(q: u8) -> Result<Vec<u8>, Error> {
        Ok(vec![0; usize::from(q) * 100])
    }

    #[test]
    fn no_budget_means_one_encode_at_the_default() {
        let mut calls = 0;
        let got = search_quality(85, None, |q| {
            calls += 1;
            linear(q)
        })
        .unwrap();
        assert_eq!((got.quality, calls), (85, 1));
    }

    #[test]
    fn budget_finds_the_highest_fitting_quality_within_seven_steps() {
        let mut calls = 0;
        let got = search_quality(85, Some(4_000), |q| {
            calls += 1;
            linear(q)
        })
        .unwrap();
        assert!(calls <= MAX_SEARCH_STEPS, "{calls} encodes");
        assert!(got.bytes.len() <= 4_000);
        assert_eq!(got.quality, 40);
    }

    #[test]
    fn impossible_budget_returns_the_smallest_seen() {
        let got = search_quality(85, Some(10), linear).unwrap();
        assert!(got.bytes.len() > 10);
        assert!(got.quality < 10, "quality {}", got.quality);
    }

    #[test]
    fn alpha_is_composited_over_white_for_rgb() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            2,
            1,
            image::Rgba([0, 0, 0, 0]),
        ));
        let pixels = Pixels::new(&img);
        assert!(pixels.has_alpha);
        assert_eq!(pixels.rgb, vec![255; 6]);
        let opaque = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            2,
            1,
            image::Rgba([9, 9, 9, 255]),
        ));
        let pixels = Pixels::new(&opaque);
        assert!(!pixels.has_alpha && pixels.rgba.is_none());
    }
}
