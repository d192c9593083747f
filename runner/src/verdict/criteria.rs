//! One pure function per pass criterion: each takes the figures (or the exit)
//! and one limit and returns the failure, if any. `judge` in the parent module
//! strings them together.

use super::series::{self, PerOpFit, SlopeFit};
use crate::model::{Criterion, Exit, Failure, Sample};
use crate::units::{ByteDelta, Bytes, BytesPerSec};
use std::time::Duration;

/// Share of checkpoints that must rise before a steep fit counts as a leak:
/// noise rises on about half, a leak on nearly all.
pub const RISING_FRACTION: f64 = 2.0 / 3.0;

/// How the process ended. `Interrupted` is not a failure: the verdict is
/// `Interrupted` instead, decided by the caller.
pub fn exit(exit: &Exit, timeout: Duration) -> Option<Failure> {
    match exit {
        Exit::Code { code: 0 } | Exit::Interrupted => None,
        Exit::Code { code } => Some(Failure::ExitCode { code: *code }),
        Exit::Signal { signal, name } => Some(Failure::Signal {
            signal: *signal,
            name: name.clone(),
        }),
        Exit::TimedOut { .. } => Some(Failure::TimedOut { limit: timeout }),
        Exit::SpawnFailed { message } => Some(Failure::SpawnFailed {
            message: message.clone(),
        }),
    }
}

/// The suite printed its pass marker (when one is required).
pub fn marker(seen: bool, marker: Option<&str>) -> Option<Failure> {
    match marker {
        Some(m) if !seen => Some(Failure::MarkerMissing {
            marker: m.to_string(),
        }),
        _ => None,
    }
}

/// Which growth figure a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    Rss,
    Vms,
}

impl Growth {
    fn criterion(self) -> Criterion {
        match self {
            Growth::Rss => Criterion::RssGrowth,
            Growth::Vms => Criterion::VmsGrowth,
        }
    }
}

/// A growth figure against its limit; `growth` is `None` when the run had
/// too few samples to measure it, which fails rather than passing unseen.
pub fn growth(
    which: Growth,
    growth: Option<i64>,
    samples: usize,
    limit: Option<Bytes>,
) -> Option<Failure> {
    let limit = limit?;
    let Some(measured) = growth else {
        return Some(Failure::TooFewSamples {
            figure: which.criterion().name().to_string(),
            samples,
            needed: series::MIN_GROWTH_SAMPLES,
        });
    };
    if measured <= limit.0 as i64 {
        return None;
    }
    let measured = ByteDelta(measured);
    Some(match which {
        Growth::Rss => Failure::RssGrowth { measured, limit },
        Growth::Vms => Failure::VmsGrowth { measured, limit },
    })
}

/// Peak RSS (see `Figures::peak_rss`) against its limit.
pub fn peak_rss(peak: Bytes, limit: Option<Bytes>) -> Option<Failure> {
    let limit = limit?;
    (peak > limit).then_some(Failure::PeakRss {
        measured: peak,
        limit,
    })
}

/// Leaking means both: the fitted slope is over the limit, and RSS rose on at
/// least [`RISING_FRACTION`] of the window's checkpoints. Either alone is
/// noise (a late step, or a slow wobble).
pub fn slope(
    fit: Option<SlopeFit>,
    window: &[Sample],
    limit: Option<BytesPerSec>,
) -> Option<Failure> {
    let limit = limit?;
    let Some(fit) = fit else {
        return Some(unmeasured_slope("slope", window));
    };
    leaking(fit.bytes_per_sec, limit.0, fit.rising_fraction).then_some(Failure::Slope {
        measured: BytesPerSec(fit.bytes_per_sec),
        limit,
        rising_fraction: fit.rising_fraction,
    })
}

/// The per-operation form of [`slope`], with the same leak rule. Without a
/// fit (the suite printed no `progress` lines over the window, or too few
/// samples fell inside them) a configured limit fails as unmeasurable.
pub fn slope_per_op(
    fit: Option<PerOpFit>,
    window: &[Sample],
    limit: Option<Bytes>,
) -> Option<Failure> {
    let limit = limit?;
    let Some(fit) = fit else {
        return Some(unmeasured_slope(
            "slope_per_op (does the suite print `MEMTEST progress=N`?)",
            window,
        ));
    };
    leaking(fit.bytes_per_op, limit.0 as f64, fit.rising_fraction).then_some(Failure::SlopePerOp {
        measured_bytes: fit.bytes_per_op,
        limit,
        rising_fraction: fit.rising_fraction,
    })
}

/// The leak rule both slopes share: over the limit and rising on at least
/// [`RISING_FRACTION`] of the window's checkpoints.
fn leaking(slope: f64, limit: f64, rising_fraction: f64) -> bool {
    slope > limit && rising_fraction >= RISING_FRACTION
}

/// A slope limit is set but the window held too few samples to fit it.
fn unmeasured_slope(figure: &str, window: &[Sample]) -> Failure {
    Failure::TooFewSamples {
        figure: figure.to_string(),
        samples: window.len(),
        needed: series::MIN_SLOPE_SAMPLES,
    }
}

/// Native allocations left live, as the suite reported them. Suites that do
/// not measure them report nothing and are not judged on them.
pub fn native_leaks(reported: Option<u64>, limit: Option<u64>) -> Option<Failure> {
    match (reported, limit) {
        (Some(measured), Some(limit)) if measured > limit => {
            Some(Failure::NativeLeaks { measured, limit })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::series::scripted::*;
    use super::*;

    const MB: f64 = 1e6;

    /// Where measuring starts with a warm-up of 0.2 and no `progress=0`.
    fn start(s: &[Sample]) -> u64 {
        series::measured_from_ms(s, 0.2, &[])
    }

    fn judge_slope(s: &[Sample], limit_mb_s: f64) -> Option<Failure> {
        slope(
            series::slope(s, start(s), 0.5),
            series::slope_window(s, start(s), 0.5),
            Some(BytesPerSec(limit_mb_s * MB)),
        )
    }

    fn judge_growth(s: &[Sample], limit_mb: f64) -> Option<Failure> {
        growth(
            Growth::Rss,
            series::growth(s, start(s), |s| s.rss_bytes),
            series::growth_samples(s, start(s)),
            Some(Bytes((limit_mb * MB) as u64)),
        )
    }

    #[test]
    fn exit_criteria() {
        let t = Duration::from_secs(5);
        assert_eq!(exit(&Exit::Code { code: 0 }, t), None);
        assert_eq!(exit(&Exit::Interrupted, t), None);
        assert_eq!(
            exit(&Exit::Code { code: 3 }, t),
            Some(Failure::ExitCode { code: 3 })
        );
        let segv = Exit::Signal {
            signal: 11,
            name: "SIGSEGV".into(),
        };
        assert_eq!(
            exit(&segv, t),
            Some(Failure::Signal {
                signal: 11,
                name: "SIGSEGV".into()
            })
        );
        assert_eq!(
            exit(&Exit::TimedOut { signal: 9 }, t),
            Some(Failure::TimedOut { limit: t })
        );
        let spawn = Exit::SpawnFailed {
            message: "no such file".into(),
        };
        assert!(matches!(exit(&spawn, t), Some(Failure::SpawnFailed { .. })));
    }

    #[test]
    fn marker_is_required_only_when_configured() {
        assert_eq!(marker(true, Some("TEST PASSED")), None);
        assert_eq!(marker(false, None), None);
        assert_eq!(
            marker(false, Some("TEST PASSED")),
            Some(Failure::MarkerMissing {
                marker: "TEST PASSED".into()
            })
        );
    }

    #[test]
    fn flat_and_noisy_flat_pass_every_memory_criterion() {
        for s in [
            series(500, 10, |_| 50.0 * MB),
            series(1000, 10, |i| 80.0 * MB + noise(i) * 2.0 * MB),
        ] {
            assert_eq!(judge_slope(&s, 0.5), None);
            assert_eq!(judge_growth(&s, 1.0), None);
        }
    }

    fn judge_per_op(
        s: &[Sample],
        p: &[crate::model::Progress],
        limit_bytes: u64,
    ) -> Option<Failure> {
        slope_per_op(
            series::slope_per_op(s, p, start(s), 0.5),
            series::slope_window(s, start(s), 0.5),
            Some(Bytes(limit_bytes)),
        )
    }

    #[test]
    fn a_slowed_leak_passes_per_second_but_fails_per_operation() {
        // 4 KB per operation. At full speed (1 op/ms) that is 4 MB/s; slowed
        // 8x by a loaded machine, 0.5 MB/s, under a 1 MB/s limit. Per
        // operation it is 4 KB either way, over a 1 KB limit.
        let slowed = series(600, 10, |i| 30.0 * MB + (i as f64 * 10.0 / 8.0) * 4e3);
        let p = progress(6_000, 200, |t| t / 8);
        assert_eq!(judge_slope(&slowed, 1.0), None, "per second the leak hides");
        match judge_per_op(&slowed, &p, 1_000) {
            Some(Failure::SlopePerOp { measured_bytes, .. }) => {
                assert!((measured_bytes - 4e3).abs() < 1.0, "{measured_bytes}")
            }
            other => panic!("expected a per-operation slope failure, got {other:?}"),
        }
        assert_eq!(judge_per_op(&slowed, &p, 8_000), None, "the limit decides");
    }

    #[test]
    fn per_op_noise_and_missing_progress() {
        let flat = series(600, 10, |i| 30.0 * MB + noise(i) * MB);
        assert_eq!(judge_per_op(&flat, &progress(6_000, 100, |t| t), 10), None);
        match judge_per_op(&flat, &[], 1_000) {
            Some(Failure::TooFewSamples { figure, .. }) => assert!(figure.contains("progress")),
            other => panic!("a limit without progress lines must fail, got {other:?}"),
        }
        assert_eq!(
            slope_per_op(None, &flat, None),
            None,
            "no limit, no judgement"
        );
    }

    #[test]
    fn linear_leak_fails_slope_and_growth() {
        let s = series(500, 10, |i| 50.0 * MB + i as f64 * 0.1 * MB);
        match judge_slope(&s, 2.0) {
            Some(Failure::Slope {
                measured,
                rising_fraction,
                ..
            }) => {
                assert!((measured.0 - 10.0 * MB).abs() < 1e3);
                assert_eq!(rising_fraction, 1.0);
            }
            other => panic!("expected a slope failure, got {other:?}"),
        }
        assert!(matches!(
            judge_growth(&s, 16.0),
            Some(Failure::RssGrowth { .. })
        ));
        // Under a generous limit the same series passes: the limit decides.
        assert_eq!(judge_slope(&s, 20.0), None);
    }

    #[test]
    fn step_inside_the_window_is_not_a_leak() {
        // A one-off step at 70% of the run: the fit is steep, but only one
        // checkpoint rose, so it is not called leaking.
        let s = series(1000, 10, |i| if i < 700 { 40.0 * MB } else { 90.0 * MB });
        let fit = series::slope(&s, start(&s), 0.5).unwrap();
        assert!(fit.bytes_per_sec > 10.0 * MB, "{fit:?}");
        assert_eq!(judge_slope(&s, 1.0), None);
        // ... but its growth still counts against the growth limit.
        assert!(matches!(
            judge_growth(&s, 16.0),
            Some(Failure::RssGrowth { .. })
        ));
    }

    #[test]
    fn too_few_samples_fail_a_configured_limit_instead_of_passing_unseen() {
        // Three samples, one inside the warm-up: two left to measure growth on.
        let s = series(3, 10, |i| i as f64 * MB);
        assert!(matches!(
            judge_growth(&s, 1.0),
            Some(Failure::TooFewSamples {
                samples: 2,
                needed: 5,
                ..
            })
        ));
        assert!(matches!(
            judge_slope(&s, 1.0),
            Some(Failure::TooFewSamples { .. })
        ));
        // No limit, no verdict.
        assert_eq!(growth(Growth::Rss, None, 3, None), None);
        assert_eq!(slope(None, &s, None), None);
    }

    #[test]
    fn vms_growth_reports_its_own_criterion() {
        let f = growth(Growth::Vms, Some(5_000_000), 100, Some(Bytes(1_000_000)));
        assert!(matches!(f, Some(Failure::VmsGrowth { .. })));
        assert_eq!(
            growth(Growth::Vms, Some(1_000_000), 100, Some(Bytes(1_000_000))),
            None
        );
    }

    #[test]
    fn peak_and_native_leaks() {
        assert_eq!(peak_rss(Bytes(10), Some(Bytes(10))), None);
        assert!(matches!(
            peak_rss(Bytes(11), Some(Bytes(10))),
            Some(Failure::PeakRss { .. })
        ));
        assert_eq!(peak_rss(Bytes(11), None), None);
        assert_eq!(native_leaks(Some(0), Some(0)), None);
        assert_eq!(native_leaks(None, Some(0)), None);
        assert_eq!(
            native_leaks(Some(2), Some(0)),
            Some(Failure::NativeLeaks {
                measured: 2,
                limit: 0
            })
        );
    }
}
