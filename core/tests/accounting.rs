//! The counting allocator through the C ABI: after 1,000 optimize/free
//! cycles, successes and errors mixed, live allocations and bytes are back
//! exactly to the baseline taken before the first call of the process.
//!
//! A plain `main` (harness = false in Cargo.toml): the counters are
//! process-wide, so no other thread, not even libtest's, may allocate while
//! it measures.

mod common;

use common::{abi_optimize, alloc_stats, encode, photo, photo_with_alpha, AbiOptions};
use image::ImageFormat;

fn live_allocations_return_to_baseline_after_1000_cycles() {
    let inputs = [
        encode(&photo(32, 32), ImageFormat::Png),
        encode(&photo(24, 20), ImageFormat::Jpeg),
        encode(&photo_with_alpha(16, 16), ImageFormat::WebP),
        encode(&photo(8, 8), ImageFormat::Gif),
    ];
    let truncated = inputs[0][..inputs[0].len() / 2].to_vec();
    let options = [
        AbiOptions::default(),
        AbiOptions {
            max_bytes: 300,
            max_diff: 0.05,
            concurrency: 3,
            ..AbiOptions::default()
        },
        AbiOptions {
            formats: Some("webp,jpeg".into()),
            metric: Some("none".into()),
            concurrency: 2,
            ..AbiOptions::default()
        },
        AbiOptions {
            metric: Some("bogus".into()),
            ..AbiOptions::default()
        },
    ];

    // Baseline before the first optimize call of this process: nothing may
    // stay allocated lazily by the first call (statics, thread-locals).
    let before = alloc_stats();
    assert!(
        before.total_allocations > 0,
        "the counting allocator is not installed"
    );
    let mut codes = [0usize; 10];
    for i in 0..1000 {
        let result = match i % 7 {
            5 => abi_optimize(Some(&truncated), &options[i % 4]),
            6 => abi_optimize(Some(b""), &options[0]),
            _ => abi_optimize(Some(&inputs[i % 4]), &options[i % 4]),
        };
        codes[result.code as usize] += 1;
    }
    let after = alloc_stats();

    assert!(
        codes[0] > 0 && codes[2] > 0 && codes[5] > 0 && codes[7] > 0,
        "{codes:?}"
    );
    assert!(after.total_allocations > before.total_allocations + 1000);
    assert!(after.peak_bytes >= before.peak_bytes);
    if cfg!(feature = "canary-leak") {
        // The canary leaks a copy of the input per call: it must show.
        assert!(after.live_allocations >= before.live_allocations + 1000);
    } else {
        assert_eq!(
            (after.live_allocations, after.live_bytes),
            (before.live_allocations, before.live_bytes),
            "live allocations/bytes before vs after"
        );
    }
}

fn main() {
    live_allocations_return_to_baseline_after_1000_cycles();
    println!("live_allocations_return_to_baseline_after_1000_cycles ... ok");
}
