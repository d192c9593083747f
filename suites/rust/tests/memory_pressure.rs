//! memory_pressure: the seed's "10,000 large images" (long tier, runs alone).
//! Megapixel inputs through decode and re-encode, each leak-checked against
//! the test allocator, with RSS read at ten checkpoints: after the first
//! checkpoint (warm-up: allocator arenas, codec buffers) RSS must plateau.
//! memtest judges growth and slope from its own sampling too; the in-suite
//! bound is the seed's own pass criterion (growth under 500 MB).

use memsuite::{optimize, run_suite, Ctx, LeakTally, Suite, Test, TestError};
use pyjamaz::{Format, Metric, Options, Output};
use std::process::ExitCode;

/// The seed's figure; multiplied by `MEMTEST_SCALE`.
const MAX_IMAGES: u32 = 10_000;
/// RSS is read this many times over the run; the first reading is the base.
const CHECKPOINTS: u32 = 10;
/// The seed's pass criterion: "RSS growth < 500MB after 10K images".
const MAX_RSS_GROWTH_BYTES: u64 = 500_000_000;
/// Large results held at once in the batched test ("GPA and Arena" in the seed).
const HELD_AT_ONCE: usize = 8;
const MAX_HELD_BATCHES: u32 = 125;

/// Megapixel PNG and JPEG (2.4 MB and 0.6 MB encoded), and a 512x512 JPEG.
const ROTATION: [&str; 3] = ["photo-1024.jpg", "photo-1024.png", "photo-512.jpg"];

static SUITE: Suite = Suite {
    name: "memory_pressure",
    fixtures: &ROTATION,
    setup: memsuite::no_lib,
    tests: &[
        Test {
            name: "large_images_10k",
            warm_up,
            run: large_images_10k,
        },
        Test {
            name: "large_results_held_in_batches",
            warm_up,
            run: large_results_held_in_batches,
        },
    ],
};

fn main() -> ExitCode {
    run_suite(&SUITE)
}

/// JPEG re-encode without a metric: every call decodes a large image and
/// encodes it once, so 10K of them fit in minutes, not hours, while each
/// still allocates and frees several megabytes.
fn options() -> Options {
    Options {
        formats: vec![Format::Jpeg],
        metric: Metric::None,
        ..Options::default()
    }
}

fn warm_up(ctx: &Ctx) -> Result<(), TestError> {
    for name in ROTATION {
        optimize(name, ctx.fixture(name)?, &options())?;
    }
    Ok(())
}

fn check_output(name: &str, input: &[u8], output: &Output) {
    assert!(!output.bytes.is_empty(), "{name}: empty output");
    assert!(
        output.bytes.len() <= input.len(),
        "{name}: {} bytes out of a {}-byte input",
        output.bytes.len(),
        input.len()
    );
}

fn large_images_10k(ctx: &Ctx) -> Result<u64, TestError> {
    let max_images = ctx.iterations(MAX_IMAGES);
    let checkpoint_every = (max_images / CHECKPOINTS).max(1);
    let options = options();
    let mut tally = LeakTally::new(max_images);
    let mut base_rss_bytes: Option<u64> = None;
    let mut max_growth_bytes: u64 = 0;
    let mut done: u32 = 0;
    for index in 0..max_images {
        let name = ROTATION[index as usize % ROTATION.len()];
        let input = ctx.fixture(name)?;
        let check = ctx.leak_check("memory_pressure::large_images_10k (one image)");
        let output = optimize(name, input, &options)?;
        check_output(name, input, &output);
        drop(output);
        tally.record(index, check.finish());
        done += 1;
        if done % checkpoint_every == 0 {
            let rss_bytes = memsuite::current_rss_bytes().expect("/proc/self/status has VmRSS");
            let base = *base_rss_bytes.get_or_insert(rss_bytes);
            max_growth_bytes = max_growth_bytes.max(rss_bytes.saturating_sub(base));
            println!(
                "checkpoint {done}/{max_images}: rss {} MB, growth since first checkpoint {} MB",
                rss_bytes / 1_000_000,
                rss_bytes.saturating_sub(base) / 1_000_000
            );
        }
    }
    assert_eq!(done, max_images, "the loop ended early");
    assert!(base_rss_bytes.is_some(), "no RSS checkpoint was taken");
    tally.finish()?;
    memsuite::ensure!(
        max_growth_bytes < MAX_RSS_GROWTH_BYTES,
        "RSS grew {max_growth_bytes} bytes after the first checkpoint (limit {MAX_RSS_GROWTH_BYTES})"
    );
    Ok(u64::from(done))
}

/// Holds several large results at once, then drops them together: peak
/// memory is several images' worth, and it all comes back every batch.
fn large_results_held_in_batches(ctx: &Ctx) -> Result<u64, TestError> {
    let max_batches = ctx.iterations(MAX_HELD_BATCHES);
    let options = options();
    let mut tally = LeakTally::new(max_batches);
    let mut done: u32 = 0;
    for batch in 0..max_batches {
        let check = ctx.leak_check("memory_pressure::large_results_held_in_batches (one batch)");
        let mut held = Vec::with_capacity(HELD_AT_ONCE);
        let mut held_bytes: u64 = 0;
        for slot in 0..HELD_AT_ONCE {
            let name = ROTATION[(batch as usize + slot) % ROTATION.len()];
            let input = ctx.fixture(name)?;
            let output = optimize(name, input, &options)?;
            check_output(name, input, &output);
            held_bytes += output.bytes.len() as u64;
            held.push(output);
        }
        let (live_allocations, live_bytes) = check.delta();
        assert!(
            live_allocations >= HELD_AT_ONCE as i64,
            "held results are not live"
        );
        assert!(live_bytes >= held_bytes as i64, "held bytes are not live");
        drop(held);
        tally.record(batch, check.finish());
        done += 1;
    }
    assert_eq!(done, max_batches, "the loop ended early");
    tally.finish()?;
    Ok(u64::from(done) * HELD_AT_ONCE as u64)
}
