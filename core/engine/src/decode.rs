//! Decoding under limits, with each failure classified into the error codes
//! of the C ABI (see `format` for the truncated-versus-corrupt rule).

use std::io::Cursor;

use image::error::{DecodingError, ImageFormatHint};
use image::{
    DynamicImage, GrayImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage,
};

use crate::error::Error;
use crate::format::{self, Format, Structure};

/// Largest width or height accepted, in pixels.
pub const MAX_DIMENSION: u32 = 16_384;
/// Largest total the decoder may allocate for one image, in bytes.
pub const MAX_ALLOC_BYTES: u64 = 512 * 1024 * 1024;

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC_BYTES);
    limits
}

/// Decodes `bytes` (already sniffed as `format`).
///
/// Order matters: the header is read first so a decompression bomb is refused
/// from its claimed dimensions before anything big is allocated or walked;
/// then the container walk decides truncation independent of how lenient the
/// decoder is; only then are the pixels decoded.
pub fn decode(format: Format, bytes: &[u8]) -> Result<DynamicImage, Error> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits());
    let decoder = reader
        .into_decoder()
        .map_err(|err| classify(format, bytes, err, None))?;
    let dims = decoder.dimensions();
    if dims.0 > MAX_DIMENSION || dims.1 > MAX_DIMENSION {
        return Err(Error::LimitsExceeded {
            width: dims.0,
            height: dims.1,
            detail: format!("max {MAX_DIMENSION} pixels per side"),
        });
    }
    if decoder.total_bytes() > MAX_ALLOC_BYTES {
        return Err(Error::LimitsExceeded {
            width: dims.0,
            height: dims.1,
            detail: format!("pixels need more than {MAX_ALLOC_BYTES} bytes"),
        });
    }
    if dims.0 == 0 || dims.1 == 0 {
        return Err(Error::Corrupt {
            format: format.name(),
            source: None,
        });
    }
    if let Structure::EndsEarly(detail) = format::structure(format, bytes) {
        return Err(Error::Truncated {
            format: format.name(),
            detail,
        });
    }
    if format == Format::Jpeg {
        // libjpeg-turbo's decoder (see `libjpeg`); CMYK and YCCK fall
        // through to image's, which converts them to RGB.
        match crate::libjpeg::decode(bytes) {
            Ok(Some(decoded)) => return Ok(into_image(decoded)),
            Ok(None) => {}
            Err(message) => {
                let err = ImageError::Decoding(DecodingError::new(
                    ImageFormatHint::Exact(ImageFormat::Jpeg),
                    message,
                ));
                return Err(classify(format, bytes, err, Some(dims)));
            }
        }
    }
    DynamicImage::from_decoder(decoder).map_err(|err| classify(format, bytes, err, Some(dims)))
}

fn into_image(d: crate::libjpeg::Decoded) -> DynamicImage {
    let (w, h) = (d.width, d.height);
    // The buffer length is width x height x channels by construction.
    let mismatch = "libjpeg decoded a buffer of the announced size";
    match d.channels {
        1 => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, d.pixels).expect(mismatch)),
        _ => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, d.pixels).expect(mismatch)),
    }
}

fn classify(format: Format, bytes: &[u8], err: ImageError, dims: Option<(u32, u32)>) -> Error {
    if let ImageError::Limits(limit) = &err {
        let (width, height) = dims.unwrap_or_default();
        return Error::LimitsExceeded {
            width,
            height,
            detail: limit.to_string(),
        };
    }
    match format::structure(format, bytes) {
        Structure::EndsEarly(detail) => Error::Truncated {
            format: format.name(),
            detail,
        },
        Structure::Complete | Structure::Malformed(_) => Error::Corrupt {
            format: format.name(),
            source: Some(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn png_bytes(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 3) as u8, 90])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_a_valid_png() {
        let img = decode(Format::Png, &png_bytes(20, 10)).unwrap();
        assert_eq!((img.width(), img.height()), (20, 10));
    }

    #[test]
    fn half_a_png_is_truncated_and_garbage_is_corrupt() {
        let png = png_bytes(64, 64);
        let err = decode(Format::Png, &png[..png.len() / 2]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TruncatedInput, "{err}");

        let mut garbage = png[..33].to_vec(); // signature + IHDR
        garbage.extend((0..200u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
        let err = decode(Format::Png, &garbage).unwrap_err();
        assert_eq!(err.code(), ErrorCode::CorruptInput, "{err}");
    }
}
