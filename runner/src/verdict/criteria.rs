//! Judging, as pure functions: how the process ended, and one limit
//! criterion against its limit by the rule the criterion table gives it
//! (`model::Rule`). What each figure is ([`Evidence`]) is measured in the
//! parent module; `judge` there strings the criteria together in the
//! table's order.

use crate::model::{Criterion, Exit, Failure, LimitSpec, OverLimit, Rule};
use crate::units::Value;
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

/// What a run shows about one criterion's figure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evidence {
    /// The figure; `None` when the run could not measure it.
    pub value: Option<Value>,
    /// The pass marker was printed (for [`Rule::Printed`]).
    pub printed: bool,
    /// For the leak rule: the share of the window's checkpoints that rose.
    pub rising_fraction: Option<f64>,
    /// Samples the figure was (or would have been) measured over, and how
    /// many it needs: said when it could not be measured.
    pub samples: usize,
    pub needed: usize,
}

/// One criterion's figure against its limit, by the rule of its entry.
pub fn limit(
    criterion: Criterion,
    spec: &LimitSpec,
    limit: Value,
    evidence: Evidence,
) -> Option<Failure> {
    if spec.rule == Rule::Printed {
        let marker = limit.text()?.to_string();
        return (!evidence.printed).then_some(Failure::MarkerMissing { marker });
    }
    let Some(measured) = evidence.value else {
        return (spec.rule != Rule::AtMostIfReported).then_some(Failure::TooFewSamples {
            figure: criterion,
            samples: evidence.samples,
            needed: evidence.needed,
        });
    };
    let over = measured.magnitude() > limit.magnitude();
    let rising = evidence.rising_fraction.unwrap_or(0.0) >= RISING_FRACTION;
    let fails = match spec.rule {
        Rule::Rising => over && rising,
        Rule::AtMost | Rule::AtMostIfReported | Rule::Printed => over,
    };
    fails.then_some(Failure::OverLimit(OverLimit {
        criterion,
        measured,
        limit,
        rising_fraction: evidence.rising_fraction,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::series::{self, scripted::*};
    use super::*;
    use crate::model::{Progress, Sample};
    use crate::units::{ByteDelta, Bytes, BytesPerSec};

    const MB: f64 = 1e6;

    fn spec(c: Criterion) -> &'static LimitSpec {
        c.spec().limit.as_ref().unwrap()
    }

    /// Where measuring starts with a warm-up of 0.2 and no `progress=0`.
    fn start(s: &[Sample]) -> u64 {
        series::measured_from_ms(s, 0.2, &[])
    }

    fn judge_slope(s: &[Sample], limit_mb_s: f64) -> Option<Failure> {
        let fit = series::slope(s, start(s), 0.5);
        let evidence = Evidence {
            value: fit.map(|f| Value::Rate(BytesPerSec(f.bytes_per_sec))),
            rising_fraction: fit.map(|f| f.rising_fraction),
            samples: series::slope_window(s, start(s), 0.5).len(),
            needed: series::MIN_SLOPE_SAMPLES,
            ..Evidence::default()
        };
        let limit_value = Value::Rate(BytesPerSec(limit_mb_s * MB));
        limit(
            Criterion::Slope,
            spec(Criterion::Slope),
            limit_value,
            evidence,
        )
    }

    fn judge_growth(s: &[Sample], limit_mb: f64) -> Option<Failure> {
        let evidence = Evidence {
            value: series::growth(s, start(s), |s| s.rss_bytes).map(|g| Value::Delta(ByteDelta(g))),
            samples: series::growth_samples(s, start(s)),
            needed: series::MIN_GROWTH_SAMPLES,
            ..Evidence::default()
        };
        let limit_value = Value::Delta(ByteDelta((limit_mb * MB) as i64));
        limit(
            Criterion::RssGrowth,
            spec(Criterion::RssGrowth),
            limit_value,
            evidence,
        )
    }

    fn judge_per_op(s: &[Sample], p: &[Progress], limit_bytes: u64) -> Option<Failure> {
        let fit = series::slope_per_op(s, p, start(s), 0.5);
        let evidence = Evidence {
            value: fit.map(|f| Value::PerOp(f.bytes_per_op)),
            rising_fraction: fit.map(|f| f.rising_fraction),
            samples: series::slope_window(s, start(s), 0.5).len(),
            needed: series::MIN_SLOPE_SAMPLES,
            ..Evidence::default()
        };
        let limit_value = Value::PerOp(limit_bytes as f64);
        limit(
            Criterion::SlopePerOp,
            spec(Criterion::SlopePerOp),
            limit_value,
            evidence,
        )
    }

    fn over(f: Option<Failure>) -> OverLimit {
        match f {
            Some(Failure::OverLimit(o)) => o,
            other => panic!("expected a figure over its limit, got {other:?}"),
        }
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
    fn marker_must_be_printed() {
        let marker = spec(Criterion::MarkerMissing);
        let text = Value::Text("TEST PASSED".into());
        let printed = |printed| Evidence {
            printed,
            ..Evidence::default()
        };
        assert_eq!(
            limit(
                Criterion::MarkerMissing,
                marker,
                text.clone(),
                printed(true)
            ),
            None
        );
        assert_eq!(
            limit(Criterion::MarkerMissing, marker, text, printed(false)),
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

    #[test]
    fn a_slowed_leak_passes_per_second_but_fails_per_operation() {
        // 4 KB per operation. At full speed (1 op/ms) that is 4 MB/s; slowed
        // 8x by a loaded machine, 0.5 MB/s, under a 1 MB/s limit. Per
        // operation it is 4 KB either way, over a 1 KB limit.
        let slowed = series(600, 10, |i| 30.0 * MB + (i as f64 * 10.0 / 8.0) * 4e3);
        let p = progress(6_000, 200, |t| t / 8);
        assert_eq!(judge_slope(&slowed, 1.0), None, "per second the leak hides");
        let o = over(judge_per_op(&slowed, &p, 1_000));
        assert_eq!(o.criterion, Criterion::SlopePerOp);
        assert!((o.measured.magnitude() - 4e3).abs() < 1.0, "{o:?}");
        assert_eq!(judge_per_op(&slowed, &p, 8_000), None, "the limit decides");
    }

    #[test]
    fn per_op_noise_and_missing_progress() {
        let flat = series(600, 10, |i| 30.0 * MB + noise(i) * MB);
        assert_eq!(judge_per_op(&flat, &progress(6_000, 100, |t| t), 10), None);
        match judge_per_op(&flat, &[], 1_000) {
            Some(Failure::TooFewSamples { figure, .. }) => {
                assert_eq!(figure, Criterion::SlopePerOp)
            }
            other => panic!("a limit without progress lines must fail, got {other:?}"),
        }
    }

    #[test]
    fn linear_leak_fails_slope_and_growth() {
        let s = series(500, 10, |i| 50.0 * MB + i as f64 * 0.1 * MB);
        let o = over(judge_slope(&s, 2.0));
        assert!((o.measured.magnitude() - 10.0 * MB).abs() < 1e3);
        assert_eq!(o.rising_fraction, Some(1.0));
        assert_eq!(over(judge_growth(&s, 16.0)).criterion, Criterion::RssGrowth);
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
        assert_eq!(over(judge_growth(&s, 16.0)).criterion, Criterion::RssGrowth);
    }

    #[test]
    fn too_few_samples_fail_a_configured_limit_instead_of_passing_unseen() {
        // Three samples, one inside the warm-up: two left to measure growth on.
        let s = series(3, 10, |i| i as f64 * MB);
        assert_eq!(
            judge_growth(&s, 1.0),
            Some(Failure::TooFewSamples {
                figure: Criterion::RssGrowth,
                samples: 2,
                needed: 5,
            })
        );
        assert!(matches!(
            judge_slope(&s, 1.0),
            Some(Failure::TooFewSamples { .. })
        ));
    }

    #[test]
    fn at_the_limit_passes_and_a_figure_not_reported_is_not_judged() {
        let peak = spec(Criterion::PeakRss);
        let at = |b| Evidence {
            value: Some(Value::Size(Bytes(b))),
            ..Evidence::default()
        };
        let ten = Value::Size(Bytes(10));
        assert_eq!(limit(Criterion::PeakRss, peak, ten.clone(), at(10)), None);
        assert_eq!(
            over(limit(Criterion::PeakRss, peak, ten, at(11))).criterion,
            Criterion::PeakRss
        );
        let leaks = spec(Criterion::NativeLeaks);
        let count = |n: Option<u64>| Evidence {
            value: n.map(Value::Count),
            ..Evidence::default()
        };
        let zero = Value::Count(0);
        assert_eq!(
            limit(Criterion::NativeLeaks, leaks, zero.clone(), count(Some(0))),
            None
        );
        assert_eq!(
            limit(Criterion::NativeLeaks, leaks, zero.clone(), count(None)),
            None
        );
        assert_eq!(
            limit(Criterion::NativeLeaks, leaks, zero, count(Some(2)))
                .unwrap()
                .to_string(),
            "2 native allocations left live, limit 0"
        );
    }
}
