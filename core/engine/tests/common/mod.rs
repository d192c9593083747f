//! Test images generated in-process with `image` (photo-like pictures, a
//! decompression bomb's header), shared by the engine's integration tests and,
//! through a `#[path]` include, by the `pyjamaz` package's C ABI tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage, RgbaImage};

/// A deterministic photo-like image: smooth gradients, a few shapes and
/// hash noise, so lossy encoders have real work and sizes are realistic.
pub fn photo(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        let noise = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) >> 7) % 24;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let disc = ((fx - 0.6).powi(2) + (fy - 0.4).powi(2)) < 0.05;
        let r = (fx * 200.0) as u32 + noise;
        let g = (fy * 180.0) as u32 + noise / 2 + if disc { 60 } else { 0 };
        let b = ((fx + fy) * 90.0) as u32 + noise;
        image::Rgb([r.min(255) as u8, g.min(255) as u8, b.min(255) as u8])
    }))
}

/// The same image with a transparent hole.
pub fn photo_with_alpha(width: u32, height: u32) -> DynamicImage {
    let rgb = photo(width, height).to_rgb8();
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        let a = if x < width / 4 && y < height / 4 {
            0
        } else {
            255
        };
        image::Rgba([r, g, b, a])
    }))
}

pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match format {
        // image's JPEG/GIF encoders take RGB(A)8 only.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(img.to_rgb8()).write_to(&mut out, format),
        ImageFormat::Gif => DynamicImage::ImageRgba8(img.to_rgba8()).write_to(&mut out, format),
        _ => img.write_to(&mut out, format),
    }
    .expect("encoding a test image");
    out.into_inner()
}

/// A PNG whose IHDR claims `width` x `height`, with a valid CRC, followed by
/// a tiny IDAT and IEND: a decompression bomb's header in a few dozen bytes.
pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

/// CRC-32 (IEEE), bitwise: test data only, so speed does not matter.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
