//! Writes the fuzz seed corpus, `fuzz/corpus/seed/`: tiny valid images of
//! each format, truncated and corrupt ones, a bomb header and option
//! variations, each prefixed with the option header of `pyjamaz::fuzzing`.
//!
//!     cargo run -p pyjamaz --example fuzz_seeds
//!
//! Deterministic: running it again rewrites identical files.

use std::path::Path;

use image::{DynamicImage, ImageFormat, RgbaImage};
use pyjamaz::fuzzing::make_case;

// The engine's test-image helpers (encode, crc32), as core/tests include them.
#[path = "../engine/tests/common/mod.rs"]
mod common;
use common::{crc32, encode};

fn image(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        let a = if x == 0 && y == 0 { 0 } else { 255 };
        image::Rgba([(x * 40) as u8, (y * 50) as u8, ((x ^ y) * 30) as u8, a])
    }))
}

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/seed");
    std::fs::create_dir_all(&dir)?;
    let img = image(6, 5);
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, format) in [
        ("png", ImageFormat::Png),
        ("jpeg", ImageFormat::Jpeg),
        ("gif", ImageFormat::Gif),
        ("webp", ImageFormat::WebP),
    ] {
        let bytes = encode(&img, format);
        seeds.push((format!("{name}-valid"), make_case([0, 0, 0, 0], &bytes)));
        // budget + diff + concurrency + a format list
        seeds.push((
            format!("{name}-constrained"),
            make_case([0b0001_0101, 3, 20, 2], &bytes),
        ));
        seeds.push((
            format!("{name}-truncated"),
            make_case([0, 0, 0, 0], &bytes[..bytes.len() / 2]),
        ));
        let mut corrupt = bytes[..bytes.len().min(16)].to_vec();
        corrupt.extend((0..48u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8));
        if format == ImageFormat::WebP {
            // Keep the RIFF size truthful, so the garbage is what is wrong.
            let riff_len = (corrupt.len() - 8) as u32;
            corrupt[4..8].copy_from_slice(&riff_len.to_le_bytes());
        }
        seeds.push((format!("{name}-corrupt"), make_case([0, 0, 0, 0], &corrupt)));
    }
    let mut bomb =
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x02\0\0\0".to_vec();
    let crc = crc32(&bomb[12..29]);
    bomb.extend_from_slice(&crc.to_be_bytes());
    seeds.push(("png-bomb".into(), make_case([0, 0, 0, 0], &bomb)));
    seeds.push(("empty".into(), make_case([0, 0, 0, 0], b"")));
    seeds.push((
        "unknown".into(),
        make_case([0, 0, 0, 0], b"BM not an image"),
    ));
    seeds.push((
        "bad-options".into(),
        make_case([0b0001_1111, 0, 255, 0], &encode(&img, ImageFormat::Png)),
    ));
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
