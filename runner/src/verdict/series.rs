//! Pure arithmetic over a suite's samples: warm-up trimming, checkpoints,
//! growth and the least-squares slope.
//!
//! Definitions (the report and the limits mean exactly these):
//! - the run spans `0..=T`, where `T` is the time of the last sample;
//! - warm-up: samples before `start` are ignored by growth and slope, where
//!   `start` is `warmup * T`, or the time of the suite's `MEMTEST
//!   progress=0` line when that is later (the suite says its measured loop
//!   begins there: an interpreter starting, a shim exec'ing it, the suite's
//!   own set-up are not growth, however long a loaded machine makes them);
//! - checkpoints: a span is cut into [`CHECKPOINTS`] equal time buckets and each
//!   non-empty bucket contributes the mean of its samples (a mean, so one noisy
//!   sample cannot make a checkpoint);
//! - growth: mean of the last checkpoint minus mean of the first checkpoint of
//!   the post-warm-up span;
//! - slope: least-squares fit of RSS against time over the samples with
//!   `t >= max(start, (1 - slope_window) * T)`, with the fraction of consecutive
//!   checkpoints of that window on which RSS rose.

use crate::model::{Progress, Sample};

/// Checkpoints a span is divided into.
pub const CHECKPOINTS: usize = 10;
/// Post-warm-up samples needed before growth means anything.
pub const MIN_GROWTH_SAMPLES: usize = 5;
/// Samples needed in the slope window before a fit means anything.
pub const MIN_SLOPE_SAMPLES: usize = 10;
/// The share of a soak by duration its recent slope is fitted over: the
/// last quarter (of a 24 h soak, the last 6 h), where a leak that began
/// late shows before it moves the whole run's fit.
pub const SOAK_RECENT_WINDOW: f64 = 0.25;

/// A fitted slope and how consistently the series rose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlopeFit {
    pub bytes_per_sec: f64,
    /// Fraction (0..=1) of consecutive checkpoint pairs where the later mean
    /// is strictly higher.
    pub rising_fraction: f64,
    /// Samples in the window.
    pub samples: usize,
}

fn span_end(samples: &[Sample]) -> u64 {
    samples.last().map_or(0, |s| s.t_ms)
}

/// The time `fraction` of the way through the run.
fn at_fraction(samples: &[Sample], fraction: f64) -> u64 {
    (fraction.clamp(0.0, 1.0) * span_end(samples) as f64).ceil() as u64
}

/// Where growth and slope start measuring: after the warm-up fraction, and
/// not before the suite's `progress=0` line (the start of its measured loop).
pub fn measured_from_ms(samples: &[Sample], warmup: f64, progress: &[Progress]) -> u64 {
    let by_fraction = at_fraction(samples, warmup);
    match progress.iter().find(|p| p.operations == 0) {
        Some(loop_start) => by_fraction.max(loop_start.t_ms),
        None => by_fraction,
    }
}

/// The samples at or after `start_ms`.
pub fn from_ms(samples: &[Sample], start_ms: u64) -> &[Sample] {
    let first = samples.partition_point(|s| s.t_ms < start_ms);
    &samples[first..]
}

/// Means of `value` over [`CHECKPOINTS`] equal time buckets of `samples`
/// (assumed sorted by time); empty buckets are skipped.
pub fn checkpoints(samples: &[Sample], value: impl Fn(&Sample) -> u64) -> Vec<f64> {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Vec::new();
    };
    let span = (last.t_ms - first.t_ms).max(1) as f64;
    let mut sums = [(0.0f64, 0u32); CHECKPOINTS];
    for s in samples {
        let pos = (s.t_ms - first.t_ms) as f64 / span;
        let bucket = ((pos * CHECKPOINTS as f64) as usize).min(CHECKPOINTS - 1);
        sums[bucket].0 += value(s) as f64;
        sums[bucket].1 += 1;
    }
    sums.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(sum, n)| sum / f64::from(*n))
        .collect()
}

/// Growth of `value` from `start_ms` on, or `None` with too few samples.
pub fn growth(samples: &[Sample], start_ms: u64, value: impl Fn(&Sample) -> u64) -> Option<i64> {
    let measured = from_ms(samples, start_ms);
    if measured.len() < MIN_GROWTH_SAMPLES {
        return None;
    }
    let cps = checkpoints(measured, value);
    match (cps.first(), cps.last()) {
        (Some(first), Some(last)) if cps.len() >= 2 => Some((last - first).round() as i64),
        _ => None,
    }
}

/// Number of samples growth would use (for the too-few-samples report).
pub fn growth_samples(samples: &[Sample], start_ms: u64) -> usize {
    from_ms(samples, start_ms).len()
}

/// The samples the slope is fitted over: the final `slope_window` of the
/// run, from `start_ms` at the earliest.
pub fn slope_window(samples: &[Sample], start_ms: u64, slope_window: f64) -> &[Sample] {
    from_ms(
        samples,
        start_ms.max(at_fraction(samples, 1.0 - slope_window)),
    )
}

/// Least-squares slope of RSS over the final window, or `None` with too few
/// samples.
pub fn slope(samples: &[Sample], start_ms: u64, window: f64) -> Option<SlopeFit> {
    let window = slope_window(samples, start_ms, window);
    if window.len() < MIN_SLOPE_SAMPLES {
        return None;
    }
    let t0 = window[0].t_ms;
    let points: Vec<(f64, f64)> = window
        .iter()
        .map(|s| ((s.t_ms - t0) as f64 / 1e3, s.rss_bytes as f64))
        .collect();
    Some(SlopeFit {
        bytes_per_sec: least_squares(&points)?,
        rising_fraction: rising_fraction(window),
        samples: window.len(),
    })
}

/// The least-squares slope of y over x, or `None` when x does not vary.
fn least_squares(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in points {
        sxy += (x - mean_x) * (y - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    (sxx != 0.0).then(|| sxy / sxx)
}

/// Fraction of consecutive checkpoints of `window` where RSS is higher than
/// at the one before.
fn rising_fraction(window: &[Sample]) -> f64 {
    let cps = checkpoints(window, |s| s.rss_bytes);
    if cps.len() < 2 {
        return 0.0;
    }
    let rises = cps.windows(2).filter(|w| w[1] > w[0]).count();
    rises as f64 / (cps.len() - 1) as f64
}

/// A fitted slope of RSS against the suite's own operation count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerOpFit {
    pub bytes_per_op: f64,
    /// As [`SlopeFit::rising_fraction`], over the same window.
    pub rising_fraction: f64,
}

/// Operations done at `t_ms`, linear between the two progress lines around
/// it; `None` outside the span the lines cover.
fn operations_at(progress: &[Progress], t_ms: u64) -> Option<f64> {
    let after = progress.partition_point(|p| p.t_ms < t_ms);
    let hi = progress.get(after)?;
    if hi.t_ms == t_ms {
        return Some(hi.operations as f64);
    }
    let lo = progress.get(after.checked_sub(1)?)?;
    let share = (t_ms - lo.t_ms) as f64 / (hi.t_ms - lo.t_ms) as f64;
    Some(lo.operations as f64 + share * (hi.operations as f64 - lo.operations as f64))
}

/// Least-squares slope of RSS against operations over the slope window:
/// each sample's operation count is interpolated from the progress lines.
/// `None` without at least [`MIN_SLOPE_SAMPLES`] samples inside the span of
/// the progress lines, or when no operation was done in the window.
pub fn slope_per_op(
    samples: &[Sample],
    progress: &[Progress],
    start_ms: u64,
    window: f64,
) -> Option<PerOpFit> {
    let window = slope_window(samples, start_ms, window);
    let points: Vec<(f64, f64)> = window
        .iter()
        .filter_map(|s| Some((operations_at(progress, s.t_ms)?, s.rss_bytes as f64)))
        .collect();
    if points.len() < MIN_SLOPE_SAMPLES {
        return None;
    }
    Some(PerOpFit {
        bytes_per_op: least_squares(&points)?,
        rising_fraction: rising_fraction(window),
    })
}

/// Scripted series for the tests of this module and of the criteria.
#[cfg(test)]
pub(crate) mod scripted {
    use crate::model::{Progress, Sample};

    /// One sample every `interval_ms` for `n` samples, RSS from `rss(i)`.
    pub fn series(n: usize, interval_ms: u64, rss: impl Fn(usize) -> f64) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                t_ms: i as u64 * interval_ms,
                rss_bytes: rss(i).max(0.0) as u64,
                vms_bytes: rss(i).max(0.0) as u64 * 2,
                processes: 1,
            })
            .collect()
    }

    /// Progress lines every `every_ms` up to `end_ms`, `rate(t_ms)` operations
    /// done by each.
    pub fn progress(end_ms: u64, every_ms: u64, ops: impl Fn(u64) -> u64) -> Vec<Progress> {
        (0..=end_ms / every_ms)
            .map(|k| Progress {
                t_ms: k * every_ms,
                operations: ops(k * every_ms),
            })
            .collect()
    }

    /// Deterministic noise in -1..1 (an LCG), so tests never flap.
    pub fn noise(i: usize) -> f64 {
        let x = (i as u64)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as f64 / (1u64 << 31) as f64) - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::scripted::*;
    use super::*;

    const MB: f64 = 1e6;

    /// Where measuring starts for a suite that prints no `progress=0`.
    fn start(s: &[Sample], warmup: f64) -> u64 {
        measured_from_ms(s, warmup, &[])
    }

    #[test]
    fn flat_series_has_no_growth_and_no_slope() {
        let s = series(500, 10, |_| 50.0 * MB);
        assert_eq!(growth(&s, start(&s, 0.2), |s| s.rss_bytes), Some(0));
        let fit = slope(&s, start(&s, 0.2), 0.5).unwrap();
        assert_eq!(fit.bytes_per_sec, 0.0);
        assert_eq!(fit.rising_fraction, 0.0);
    }

    #[test]
    fn linear_leak_grows_and_fits_its_rate() {
        // 1 MB per 100 ms = 10 MB/s for 5 s.
        let s = series(500, 10, |i| 50.0 * MB + i as f64 * 0.1 * MB);
        let fit = slope(&s, start(&s, 0.2), 0.5).unwrap();
        assert!((fit.bytes_per_sec - 10.0 * MB).abs() < 1e3, "{fit:?}");
        assert_eq!(fit.rising_fraction, 1.0);
        // Post-warm-up span is 1.0..4.99 s; checkpoint means are 0.4 s apart
        // from the first bucket's middle to the last one's: 9 * 0.4 s * 10 MB/s.
        let g = growth(&s, start(&s, 0.2), |s| s.rss_bytes).unwrap() as f64;
        assert!((g - 36.0 * MB).abs() < 0.5 * MB, "{g}");
    }

    #[test]
    fn noisy_flat_series_rises_on_about_half_the_checkpoints() {
        let s = series(1000, 10, |i| 80.0 * MB + noise(i) * 2.0 * MB);
        let fit = slope(&s, start(&s, 0.2), 0.5).unwrap();
        assert!(fit.bytes_per_sec.abs() < 0.2 * MB, "{fit:?}");
        assert!(fit.rising_fraction < 2.0 / 3.0, "{fit:?}");
        let g = growth(&s, start(&s, 0.2), |s| s.rss_bytes).unwrap();
        assert!(g.unsigned_abs() < MB as u64, "{g}");
    }

    #[test]
    fn step_then_plateau_has_growth_but_a_flat_final_window() {
        let s = series(1000, 10, |i| if i < 300 { 40.0 * MB } else { 90.0 * MB });
        // Warm-up ends at 2 s (i = 200); the step at 3 s is inside the growth span.
        assert_eq!(
            growth(&s, start(&s, 0.2), |s| s.rss_bytes),
            Some(50_000_000)
        );
        let fit = slope(&s, start(&s, 0.2), 0.5).unwrap();
        assert_eq!(fit.bytes_per_sec, 0.0);
    }

    #[test]
    fn too_few_samples_give_no_figures() {
        let s = series(4, 10, |i| i as f64 * MB);
        assert_eq!(growth(&s, start(&s, 0.0), |s| s.rss_bytes), None);
        assert_eq!(slope(&s, start(&s, 0.0), 1.0), None);
        assert_eq!(growth(&[], start(&[], 0.2), |s| s.rss_bytes), None);
        assert_eq!(slope(&[], start(&[], 0.2), 0.5), None);
    }

    #[test]
    fn per_op_slope_is_the_same_leak_at_any_speed() {
        // 1 KB leaked per operation. Alone: 1 operation per ms. Under load:
        // the same suite at a third of the speed, so a third of the MB/s.
        for ms_per_op in [1u64, 3] {
            let s = series(600, 10, |i| {
                30.0 * MB + (i as f64 * 10.0 / ms_per_op as f64) * 1e3
            });
            let p = progress(6_000, 250, |t| t / ms_per_op);
            let fit = slope_per_op(&s, &p, start(&s, 0.2), 0.5).unwrap();
            assert!(
                (fit.bytes_per_op - 1e3).abs() < 1.0,
                "{ms_per_op} ms/op: {fit:?}"
            );
            assert_eq!(fit.rising_fraction, 1.0);
            let per_sec = slope(&s, start(&s, 0.2), 0.5).unwrap().bytes_per_sec;
            assert!((per_sec - 1e6 / ms_per_op as f64).abs() < 1e3, "{per_sec}");
        }
    }

    #[test]
    fn per_op_slope_follows_uneven_progress() {
        // Operations come in bursts (fast, then stalled by load), RSS follows
        // the operations: per second it looks uneven, per operation it is 2 KB.
        let ops = |t: u64| {
            if t < 3_000 {
                t
            } else {
                3_000 + (t - 3_000) / 4
            }
        };
        let s = series(600, 10, |i| 10.0 * MB + ops(i as u64 * 10) as f64 * 2e3);
        let p = progress(6_000, 100, ops);
        let fit = slope_per_op(&s, &p, start(&s, 0.2), 0.5).unwrap();
        assert!((fit.bytes_per_op - 2e3).abs() < 20.0, "{fit:?}");
    }

    #[test]
    fn per_op_slope_needs_progress_over_the_window() {
        let s = series(600, 10, |i| 10.0 * MB + i as f64 * 1e3);
        assert_eq!(slope_per_op(&s, &[], start(&s, 0.2), 0.5), None);
        // Progress lines that stop before the window starts cover no sample.
        assert_eq!(
            slope_per_op(&s, &progress(2_000, 100, |t| t), start(&s, 0.2), 0.5),
            None
        );
        // No operation done in the window: nothing to divide by.
        assert_eq!(
            slope_per_op(&s, &progress(6_000, 100, |_| 7), start(&s, 0.2), 0.5),
            None
        );
    }

    #[test]
    fn operations_are_interpolated_between_progress_lines() {
        let p = progress(1_000, 500, |t| t / 10); // 0, 50, 100 operations
        assert_eq!(operations_at(&p, 0), Some(0.0));
        assert_eq!(operations_at(&p, 250), Some(25.0));
        assert_eq!(operations_at(&p, 500), Some(50.0));
        assert_eq!(operations_at(&p, 1_001), None);
    }

    #[test]
    fn warmup_trims_by_time_not_by_count() {
        let s = series(101, 10, |i| i as f64);
        let trimmed = from_ms(&s, start(&s, 0.2));
        assert_eq!(trimmed.first().unwrap().t_ms, 200);
        assert_eq!(
            slope_window(&s, start(&s, 0.2), 0.5).first().unwrap().t_ms,
            500
        );
        assert_eq!(
            slope_window(&s, start(&s, 0.8), 0.5).first().unwrap().t_ms,
            800
        );
    }

    #[test]
    fn the_suites_progress_zero_line_starts_the_measurement_when_later() {
        // An interpreter starting (RSS climbing to 18 MB) for the first 40%
        // of the run, then a flat loop: with warm-up alone the climb counts
        // as growth; from the suite's `progress=0` line it does not.
        let s = series(101, 10, |i| {
            if i < 40 {
                5.0 * MB + i as f64 * 0.3 * MB
            } else {
                18.0 * MB
            }
        });
        let loop_start = [Progress {
            t_ms: 400,
            operations: 0,
        }];
        let by_warmup = start(&s, 0.2);
        assert_eq!(by_warmup, 200);
        assert!(growth(&s, by_warmup, |s| s.rss_bytes).unwrap() > 5_000_000);
        let from_loop = measured_from_ms(&s, 0.2, &loop_start);
        assert_eq!(from_loop, 400);
        assert_eq!(growth(&s, from_loop, |s| s.rss_bytes), Some(0));
        // The warm-up fraction still holds when the loop starts earlier, and
        // only a zero count marks the loop's start.
        let early = [Progress {
            t_ms: 50,
            operations: 0,
        }];
        assert_eq!(measured_from_ms(&s, 0.2, &early), 200);
        let late_count = [Progress {
            t_ms: 900,
            operations: 40,
        }];
        assert_eq!(measured_from_ms(&s, 0.2, &late_count), 200);
        assert_eq!(slope_window(&s, from_loop, 0.5).first().unwrap().t_ms, 500);
        assert_eq!(slope_window(&s, 700, 0.5).first().unwrap().t_ms, 700);
    }
}
