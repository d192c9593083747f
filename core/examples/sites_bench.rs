//! The cost of leak-site tracking (memtest's attribution mode): the same
//! optimize workload with the counting allocator plain and with every
//! allocation's stack recorded, in one binary.
//!
//!     cargo run --release -p pyjamaz --example sites_bench [-- --mode both|plain|tracking]
//!
//! `--mode plain` runs the plain batches only, for an outside tool to wrap
//! (`heaptrack target/release/examples/sites_bench --mode plain`), so its
//! cost is measured on the very same work. Batches alternate between the
//! modes and each mode reports its median of 3, so drift of a shared machine
//! hits both alike. The switch is `pyjamaz::alloc::set_tracking_sites`,
//! flipped only between whole batches. The results of docs/benchmarks/sites.md
//! in memtest come from this program.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, RgbImage};
use pyjamaz::{alloc, optimize, Options};

/// A photo-like image: gradients and fine texture.
fn photo(side: u32) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(RgbImage::from_fn(side, side, |x, y| {
        let texture = ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) >> 9) % 64;
        let (fx, fy) = (x as f32 / side as f32, y as f32 / side as f32);
        let c = |base: f32| (base as u32 + texture).min(255) as u8;
        image::Rgb([c(fx * 180.0), c(fy * 160.0), c((1.0 - fx) * 140.0)])
    }));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg)
        .expect("encoding input");
    out.into_inner()
}

/// Runs the batch; returns its time and the allocations it made.
fn run_batch(input: &[u8], iterations: u32) -> (Duration, u64) {
    let before = alloc::stats().total_allocations;
    let start = Instant::now();
    for _ in 0..iterations {
        let out = optimize(input, &Options::default()).expect("optimize");
        std::hint::black_box(out);
    }
    (start.elapsed(), alloc::stats().total_allocations - before)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args
        .iter()
        .position(|a| a == "--mode")
        .and_then(|i| args.get(i + 1))
        .map_or("both", String::as_str)
        .to_string();
    let cases = [("64x64", photo(64), 200), ("256x256", photo(256), 40)];
    println!(
        "{:<8} {:>8} {:>12} {:>11} {:>14} {:>7}",
        "input", "bytes", "allocs/img", "plain ms", "tracking ms", "ratio"
    );
    let started = Instant::now();
    for (label, input, iterations) in cases {
        run_batch(&input, 2); // lazy statics and codec tables in both modes
        let (mut plain, mut tracking, mut allocs) = (Vec::new(), Vec::new(), 0);
        for _ in 0..3 {
            if mode != "tracking" {
                alloc::set_tracking_sites(false);
                let (t, n) = run_batch(&input, iterations);
                plain.push(t);
                allocs = n / u64::from(iterations);
            }
            if mode != "plain" {
                alloc::set_tracking_sites(true);
                let (t, n) = run_batch(&input, iterations);
                tracking.push(t);
                allocs = n / u64::from(iterations);
            }
        }
        alloc::set_tracking_sites(false);
        let per = |v: Vec<Duration>| {
            (!v.is_empty()).then(|| median(v).as_secs_f64() * 1e3 / f64::from(iterations))
        };
        let (p, t) = (per(plain), per(tracking));
        let show = |v: Option<f64>| v.map_or("-".to_string(), |ms| format!("{ms:.2}"));
        let ratio = match (p, t) {
            (Some(p), Some(t)) => format!("{:.1}x", t / p),
            _ => "-".to_string(),
        };
        println!(
            "{label:<8} {:>8} {allocs:>12} {:>11} {:>14} {ratio:>7}",
            input.len(),
            show(p),
            show(t)
        );
    }
    println!(
        "(ms per image, median of 3 batches; mode {mode}; whole run {:.1} s)",
        started.elapsed().as_secs_f64()
    );
}
