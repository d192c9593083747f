//! Behaviour of the optimizer through its Rust API: round trips per format,
//! the budget and distance constraints, the candidate rules and determinism
//! under concurrency.

mod common;

use std::time::{Duration, Instant};

use common::{bomb_png, encode, photo, photo_with_alpha};
use image::ImageFormat;
use pyjamaz_engine::{optimize, ErrorCode, Format, Metric, Options};

fn formats(list: &[Format]) -> Options {
    Options {
        formats: list.to_vec(),
        ..Options::default()
    }
}

#[test]
fn every_input_format_round_trips_to_every_output_format() {
    let img = photo(64, 48);
    for input_format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ] {
        let input = encode(&img, input_format);
        for target in Format::ENCODABLE {
            let out = optimize(&input, &formats(&[target]))
                .unwrap_or_else(|e| panic!("{input_format:?} -> {target:?}: {e}"));
            // The original is a candidate only when its format is allowed,
            // and GIF never is in an explicit list.
            let input_is_target = matches!(
                (input_format, target),
                (ImageFormat::Png, Format::Png)
                    | (ImageFormat::Jpeg, Format::Jpeg)
                    | (ImageFormat::WebP, Format::Webp)
            );
            if !input_is_target {
                assert_eq!(out.format, target, "{input_format:?} -> {target:?}");
            }
            let decoded = image::load_from_memory(&out.bytes).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (64, 48));
            assert!(out.passed, "no constraints, so the choice passes");
        }
    }
}

#[test]
fn png_output_is_lossless_and_keeps_alpha() {
    let img = photo_with_alpha(40, 40);
    let out = optimize(&encode(&img, ImageFormat::Png), &formats(&[Format::Png])).unwrap();
    assert_eq!(out.format, Format::Png);
    assert_eq!(out.diff, 0.0);
    let decoded = image::load_from_memory(&out.bytes).unwrap().to_rgba8();
    assert_eq!(decoded, img.to_rgba8());
}

#[test]
fn without_constraints_the_smallest_candidate_wins() {
    let input = encode(&photo(96, 96), ImageFormat::Png);
    let all = optimize(&input, &Options::default()).unwrap();
    for only in Format::ENCODABLE {
        let single = optimize(&input, &formats(&[only])).unwrap();
        assert!(
            all.bytes.len() <= single.bytes.len(),
            "{only:?} was smaller"
        );
    }
    assert!(all.bytes.len() < input.len());
}

#[test]
fn the_size_budget_is_honoured_by_searching_quality() {
    let input = encode(&photo(128, 128), ImageFormat::Png);
    for target in [Format::Jpeg, Format::Webp] {
        let free = optimize(&input, &formats(&[target])).unwrap();
        let budget = free.bytes.len() as u64 * 6 / 10;
        let options = Options {
            max_bytes: Some(budget),
            ..formats(&[target])
        };
        let out = optimize(&input, &options).unwrap();
        assert!(out.passed, "{target:?}: {} > {budget}", out.bytes.len());
        assert!(out.bytes.len() as u64 <= budget);
        assert_eq!(out.format, target);
        // A lower quality than the default was needed, so it is less similar.
        assert!(
            out.diff > free.diff,
            "{target:?}: {} <= {}",
            out.diff,
            free.diff
        );
    }
}

#[test]
fn an_impossible_budget_returns_the_smallest_candidate_unpassed() {
    let input = encode(&photo(64, 64), ImageFormat::Png);
    let options = Options {
        max_bytes: Some(10),
        ..Options::default()
    };
    let out = optimize(&input, &options).unwrap();
    assert!(!out.passed);
    assert!(out.bytes.len() > 10);
    let free = optimize(&input, &Options::default()).unwrap();
    assert!(out.bytes.len() <= free.bytes.len());
}

#[test]
fn max_diff_rejects_lossy_candidates_that_are_too_far() {
    let input = encode(&photo(96, 96), ImageFormat::Png);
    let lossy = optimize(&input, &formats(&[Format::Jpeg, Format::Webp])).unwrap();
    assert!(lossy.diff > 0.0, "a lossy encode has a distance");

    // A limit below every lossy distance leaves only lossless PNG.
    let strict = Options {
        max_diff: Some(lossy.diff / 100.0),
        ..Options::default()
    };
    let out = optimize(&input, &strict).unwrap();
    assert!(out.passed);
    assert_eq!(out.format, Format::Png);
    assert_eq!(out.diff, 0.0);

    // Without PNG nothing meets it: smallest candidate, not passed.
    let strict_lossy = Options {
        max_diff: Some(lossy.diff / 100.0),
        ..formats(&[Format::Jpeg, Format::Webp])
    };
    let out = optimize(&input, &strict_lossy).unwrap();
    assert!(!out.passed);
    assert!(out.diff > lossy.diff / 100.0);

    // A generous limit accepts the lossy winner.
    let loose = Options {
        max_diff: Some(0.5),
        ..formats(&[Format::Jpeg, Format::Webp])
    };
    let out = optimize(&input, &loose).unwrap();
    assert!(out.passed && out.diff <= 0.5);
}

#[test]
fn metric_none_reports_zero_and_never_rejects() {
    let input = encode(&photo(64, 64), ImageFormat::Png);
    let options = Options {
        metric: Metric::None,
        max_diff: Some(1e-9),
        ..formats(&[Format::Jpeg])
    };
    let out = optimize(&input, &options).unwrap();
    assert_eq!(out.diff, 0.0);
    assert!(out.passed);
}

#[test]
fn the_original_is_kept_when_nothing_beats_it() {
    // Our own optimized PNG is a fixpoint: re-encoding it ties at best, and
    // on a tie the original bytes win (no needless re-encode).
    let input = encode(&photo(48, 48), ImageFormat::Png);
    let once = optimize(&input, &formats(&[Format::Png])).unwrap();
    let twice = optimize(&once.bytes, &formats(&[Format::Png])).unwrap();
    assert_eq!(twice.format, Format::Png);
    assert_eq!(twice.bytes, once.bytes);
    assert!(twice.passed && twice.diff == 0.0);
}

#[test]
fn concurrency_gives_the_same_bytes_as_sequential() {
    let input = encode(&photo(80, 60), ImageFormat::Jpeg);
    for budget in [None, Some(1_500)] {
        let base = Options {
            max_bytes: budget,
            max_diff: Some(0.2),
            ..Options::default()
        };
        let sequential = optimize(&input, &base).unwrap();
        for threads in [2, 3, 8] {
            let parallel = optimize(
                &input,
                &Options {
                    concurrency: threads,
                    ..base.clone()
                },
            )
            .unwrap();
            assert_eq!(parallel, sequential, "{threads} threads, budget {budget:?}");
        }
    }
}

#[test]
fn concurrent_callers_get_the_same_bytes() {
    let input = encode(&photo(64, 64), ImageFormat::Png);
    let expected = optimize(&input, &Options::default()).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| optimize(&input, &Options::default()).unwrap()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expected);
        }
    });
}

#[test]
fn a_decompression_bomb_is_refused_fast() {
    let bomb = bomb_png(100_000, 100_000);
    assert!(bomb.len() < 100);
    let start = Instant::now();
    let err = optimize(&bomb, &Options::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitsExceeded, "{err}");
    // Generous bound: refusing must not decode; decoding would take minutes
    // or abort on allocation.
    assert!(start.elapsed() < Duration::from_secs(2));

    // Within dimension limits but over the allocation limit is refused too.
    let err = optimize(&bomb_png(16_000, 16_000), &Options::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LimitsExceeded, "{err}");
}

#[test]
fn half_a_file_is_truncated_and_garbage_after_a_header_is_corrupt() {
    let img = photo(64, 64);
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ] {
        let full = encode(&img, format);
        let err = optimize(&full[..full.len() / 2], &Options::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TruncatedInput, "{format:?}: {err}");
    }
    let garbage: Vec<u8> = (0..400u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let png = encode(&img, ImageFormat::Png);
    let jpeg = encode(&img, ImageFormat::Jpeg);
    for (name, header_len, file) in [("png", 33, &png), ("jpeg", 20, &jpeg)] {
        let mut bad = file[..header_len].to_vec();
        bad.extend_from_slice(&garbage);
        let err = optimize(&bad, &Options::default()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::CorruptInput, "{name}: {err}");
    }
}
