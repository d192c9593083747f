//! Optimize throughput on generated photo-like images, and the overhead of the
//! counting allocator versus plain `System` in the same binary.
//!
//!     cargo run --release -p pyjamaz --example bench [-- --quick]
//!
//! Inputs are JPEGs of a 64x64 thumbnail and of about 64 KB, 1 MB and 4 MB,
//! optimized with default options (all formats, ssim metric, no budget).
//! Counting on and off runs are interleaved, and each mode reports its median,
//! so drift of a shared machine hits both modes alike. The counting switch is
//! `pyjamaz::alloc::set_counting`, flipped only between whole batches.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, RgbImage};
use pyjamaz::{alloc, optimize, Options};

/// A photo-like image: gradients, soft discs and fine texture.
fn photo(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let texture = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) >> 9) % 64;
        let wave = ((fx * 23.0).sin() * (fy * 17.0).cos() * 40.0) as i32;
        let disc = if (fx - 0.3).powi(2) + (fy - 0.6).powi(2) < 0.04 {
            70
        } else {
            0
        };
        let c = |base: f32, extra: i32| (base as i32 + extra + texture as i32).clamp(0, 255) as u8;
        image::Rgb([
            c(fx * 180.0, wave),
            c(fy * 160.0, disc),
            c((1.0 - fx) * 140.0, -wave / 2),
        ])
    }))
}

fn jpeg(img: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg)
        .expect("encoding input");
    out.into_inner()
}

/// A JPEG of roughly `target_bytes`, found by scaling the side length.
fn input_of_size(target_bytes: usize) -> (u32, Vec<u8>) {
    let mut side = 256u32;
    let mut bytes = jpeg(&photo(side, side));
    for _ in 0..3 {
        let scale = (target_bytes as f64 / bytes.len() as f64).sqrt();
        side = ((f64::from(side) * scale) as u32).clamp(16, 8192);
        bytes = jpeg(&photo(side, side));
    }
    (side, bytes)
}

fn run_batch(input: &[u8], iterations: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        let out = optimize(input, &Options::default()).expect("optimize");
        std::hint::black_box(out);
    }
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let reps = if quick { 1 } else { 3 };
    let thumb = (64, jpeg(&photo(64, 64)));
    let cases = [
        ("64x64", thumb, 200),
        ("~64 KB", input_of_size(64 * 1024), 20),
        ("~1 MB", input_of_size(1024 * 1024), 1),
        ("~4 MB", input_of_size(4 * 1024 * 1024), 1),
    ];

    println!(
        "{:<8} {:>11} {:>10} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "input", "pixels", "bytes", "ms/img", "images/s", "MB/s", "off ms", "overhead"
    );
    for (label, (side, input), iterations) in cases {
        run_batch(&input, 1); // warm caches and lazy statics in both modes
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            alloc::set_counting(true);
            on.push(run_batch(&input, iterations));
            alloc::set_counting(false);
            off.push(run_batch(&input, iterations));
        }
        alloc::set_counting(true);
        let per_on = median(on).as_secs_f64() / f64::from(iterations);
        let per_off = median(off).as_secs_f64() / f64::from(iterations);
        println!(
            "{:<8} {:>11} {:>10} {:>9.2} {:>10.1} {:>9.2} {:>9.2} {:>8.1}%",
            label,
            format!("{side}x{side}"),
            input.len(),
            per_on * 1e3,
            1.0 / per_on,
            input.len() as f64 / 1e6 / per_on,
            per_off * 1e3,
            (per_on / per_off - 1.0) * 100.0,
        );
    }
    println!("(ms/img, images/s and MB/s of input with counting on; overhead = on vs off, median of {reps})");
}
