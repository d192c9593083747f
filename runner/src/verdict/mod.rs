//! Verdict: pure functions from a suite's measurements and its limits to a
//! closed [`Verdict`]. The criteria come from the criterion table
//! (`model::SPECS`): each limit it lists is measured here ([`evidence`]) and
//! judged by its rule (`criteria::limit`), tested on scripted series without
//! any process.

pub mod baseline;
pub mod canary;
pub mod cause;
pub mod criteria;
pub mod series;
pub mod soak;

use crate::model::{
    Criterion, Exit, Expect, Failure, Figures, Job, KnownFloor, Limits, Measured, Outcome, Sample,
    Verdict,
};
use crate::units::{ByteDelta, Bytes, BytesPerSec, Value};
use criteria::Evidence;
use soak::{soak_slope, soak_stopped, SoakFits};

/// Applies the canary rule: a suite expected to fail turns its failures into
/// `CanaryCaught` and a pass into `CanaryMissed`. A canary with `catches`
/// counts as caught only when one of its failures is such a criterion;
/// failing on something else is a plain failure that says so.
pub fn apply_expectation(expect: Expect, catches: &[Criterion], failures: Vec<Failure>) -> Verdict {
    let on_target =
        || catches.is_empty() || failures.iter().any(|f| catches.contains(&f.criterion()));
    match (expect, failures.is_empty()) {
        (Expect::Pass, true) => Verdict::Passed,
        (Expect::Pass, false) => Verdict::Failed { failures },
        (Expect::Fail, true) => Verdict::CanaryMissed,
        (Expect::Fail, false) if on_target() => Verdict::CanaryCaught { failures },
        (Expect::Fail, false) => {
            let mut all = vec![Failure::CanaryWrongReason {
                catches: catches.to_vec(),
            }];
            all.extend(failures);
            Verdict::Failed { failures: all }
        }
    }
}

/// What the sampled series says, computed once per run and read by both the
/// figures and the criteria: where measuring starts, growth, and the slope
/// fits (see [`series`] for the definitions).
pub struct Trends {
    pub start_ms: u64,
    /// `None` when too few samples followed `start_ms`.
    pub rss_growth: Option<i64>,
    pub vms_growth: Option<i64>,
    /// Samples the growth was measured over.
    pub growth_samples: usize,
    pub slope: Option<series::SlopeFit>,
    pub per_op: Option<series::PerOpFit>,
    /// A soak by duration's fits over the whole measured run and over its
    /// last [`series::SOAK_RECENT_WINDOW`]; `None` for other runs.
    pub soak: Option<SoakFits>,
}

impl Trends {
    /// `soak`: the run is a soak by duration, whose slope is fitted over
    /// the whole run and its last window too.
    pub fn of(measured: &Measured, limits: &Limits, soak: bool) -> Trends {
        let samples = &measured.samples;
        let start_ms = series::measured_from_ms(samples, limits.warmup, &measured.progress);
        Trends {
            start_ms,
            rss_growth: series::growth(samples, start_ms, |s| s.rss_bytes),
            vms_growth: series::growth(samples, start_ms, |s| s.vms_bytes),
            growth_samples: series::growth_samples(samples, start_ms),
            slope: series::slope(samples, start_ms, limits.slope_window),
            per_op: series::slope_per_op(
                samples,
                &measured.progress,
                start_ms,
                limits.slope_window,
            ),
            soak: soak.then(|| SoakFits::of(samples, start_ms)),
        }
    }
}

/// Computes the figures of a run once: sampled and exact peaks, growth,
/// slope (see [`series`] for the exact definitions) and reported native leaks.
pub fn figures(measured: &Measured, trends: &Trends) -> Figures {
    let samples = &measured.samples;
    let reported_peak = measured
        .reported
        .get("peak_rss_bytes")
        .filter(|v| v.is_finite() && **v >= 0.0)
        .map(|v| Bytes(*v as u64));
    let peak_rss_exact = match (measured.peak_rss_exact, reported_peak) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Figures {
        peak_rss_sampled: Bytes(samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0)),
        peak_rss_exact,
        rss_growth: ByteDelta(trends.rss_growth.unwrap_or(0)),
        vms_growth: ByteDelta(trends.vms_growth.unwrap_or(0)),
        measured_from_ms: trends.start_ms,
        slope: trends.slope.map(|fit| BytesPerSec(fit.bytes_per_sec)),
        slope_per_op: trends.per_op.map(|fit| fit.bytes_per_op),
        native_leaks: reported_native_leaks(measured),
        soak: trends.soak.map(|fits| fits.figures()),
        live_growth: cause::live_growth(&measured.checkpoints).map(ByteDelta),
    }
}

fn reported_native_leaks(measured: &Measured) -> Option<u64> {
    measured
        .reported
        .get("native_leaks")
        .filter(|v| v.is_finite() && **v >= 0.0)
        .map(|v| v.round() as u64)
}

/// What the run shows about `criterion`'s figure: its measurement. Every
/// criterion with a limit in the table has an arm here; the rest have no
/// figure to judge. The detection floor is not measured by the run: it is
/// `floor`, from a floors file, when one was given.
pub fn evidence(
    criterion: Criterion,
    measured: &Measured,
    figures: &Figures,
    trends: &Trends,
    window: &[Sample],
    floor: Option<&KnownFloor>,
) -> Evidence {
    let growth = |g: Option<i64>| Evidence {
        value: g.map(|g| Value::Delta(ByteDelta(g))),
        samples: trends.growth_samples,
        needed: series::MIN_GROWTH_SAMPLES,
        ..Evidence::default()
    };
    let fitted = |fit: Option<(Value, f64)>| Evidence {
        value: fit.as_ref().map(|(v, _)| v.clone()),
        rising_fraction: fit.map(|(_, r)| r),
        samples: window.len(),
        needed: series::MIN_SLOPE_SAMPLES,
        ..Evidence::default()
    };
    let figure = |value: Option<Value>| Evidence {
        value,
        ..Evidence::default()
    };
    match criterion {
        Criterion::MarkerMissing => Evidence {
            printed: measured.marker_seen,
            ..Evidence::default()
        },
        Criterion::RssGrowth => growth(trends.rss_growth),
        Criterion::VmsGrowth => growth(trends.vms_growth),
        Criterion::PeakRss => figure(Some(Value::Size(figures.peak_rss()))),
        Criterion::Slope => fitted(
            trends
                .slope
                .map(|f| (Value::Rate(BytesPerSec(f.bytes_per_sec)), f.rising_fraction)),
        ),
        Criterion::SlopePerOp => fitted(
            trends
                .per_op
                .map(|f| (Value::PerOp(f.bytes_per_op), f.rising_fraction)),
        ),
        Criterion::NativeLeaks => figure(figures.native_leaks.map(Value::Count)),
        Criterion::LiveGrowth => Evidence {
            value: figures.live_growth.map(Value::Delta),
            samples: measured.checkpoints.len(),
            needed: 2,
            ..Evidence::default()
        },
        Criterion::Floor => figure(floor.map(KnownFloor::value)),
        Criterion::ExitCode
        | Criterion::Signal
        | Criterion::TimedOut
        | Criterion::SpawnFailed
        | Criterion::Regression
        | Criterion::TooFewSamples
        | Criterion::Wrapper
        | Criterion::CanaryWrongReason => Evidence::default(),
    }
}

/// Every failed criterion of a run, in a stable order: how it ended, then
/// each limit in the criterion table's order (marker, memory, native
/// leaks), wrapper findings, then the baseline.
pub fn failures(
    job: &Job,
    measured: &Measured,
    figures: &Figures,
    trends: &Trends,
    floor: Option<&KnownFloor>,
    baseline: Option<&baseline::BaselineEntry>,
    tolerance: f64,
) -> Vec<Failure> {
    let mut out: Vec<Failure> = Vec::new();
    out.extend(criteria::exit(&measured.exit, job.timeout));
    if let Exit::SpawnFailed { .. } = measured.exit {
        // Nothing ran: every other criterion would only repeat this one.
        return out;
    }
    let window = series::slope_window(&measured.samples, trends.start_ms, job.limits.slope_window);
    for (criterion, spec) in Criterion::limited() {
        let Some(limit) = (spec.get)(&job.limits) else {
            continue;
        };
        if let (Criterion::Slope, Some(fits)) = (criterion, &trends.soak) {
            out.extend(soak_slope(spec, limit, fits));
            continue;
        }
        let evidence = evidence(criterion, measured, figures, trends, window, floor);
        out.extend(criteria::limit(criterion, spec, limit, evidence));
    }
    if let Some(f) = measured.findings.as_ref().filter(|f| f.failing) {
        out.push(Failure::Wrapper {
            tool: f.tool.clone(),
            summary: f.summary.clone(),
        });
    }
    // Under a wrapper, memory and duration are the tool's: a plain run's
    // baseline says nothing about them.
    if let Some(entry) = baseline.filter(|_| job.wrapper.is_none()) {
        out.extend(baseline::compare(
            figures,
            measured.duration,
            entry,
            tolerance,
        ));
    }
    out
}

/// The detection-floor criterion alone, for `memtest floor`, which
/// measures the floor rather than running the suite once: the failure a
/// run with this floor would have on it, by the same rule and sentence.
pub fn judge_floor(limits: &Limits, floor: &KnownFloor) -> Option<Failure> {
    let spec = Criterion::Floor.spec().limit.as_ref()?;
    let limit = (spec.get)(limits)?;
    let evidence = Evidence {
        value: Some(floor.value()),
        ..Evidence::default()
    };
    criteria::limit(Criterion::Floor, spec, limit, evidence)
}

/// Judges one finished suite: computes its figures once, checks every
/// criterion of its limits, the baseline (when given) and the canary rule.
/// `floor` is the suite's detection floor from a floors file: reported
/// beside the verdict and judged against `max_floor`. An interrupted suite
/// is `Interrupted` whatever it measured; a soak by duration stopped
/// before it finished is `Incomplete`, with the limits already over on
/// what it showed.
pub fn judge(
    job: &Job,
    measured: Measured,
    floor: Option<&KnownFloor>,
    baseline: Option<&baseline::BaselineEntry>,
    tolerance: f64,
) -> Outcome {
    let trends = Trends::of(&measured, &job.limits, job.duration.is_some());
    let figures = figures(&measured, &trends);
    let verdict = if let Some(stopped) = soak_stopped(job, &measured) {
        // Exit status, marker and end-of-run figures are not there to
        // judge; a limit already over is.
        let seen = failures(
            job, &measured, &figures, &trends, floor, baseline, tolerance,
        );
        Verdict::Incomplete {
            stopped,
            failures: seen
                .into_iter()
                .filter(|f| matches!(f, Failure::OverLimit(_)))
                .collect(),
        }
    } else if measured.exit == Exit::Interrupted {
        Verdict::Interrupted
    } else {
        apply_expectation(
            job.expect,
            &canary::catches(job),
            failures(
                job, &measured, &figures, &trends, floor, baseline, tolerance,
            ),
        )
    };
    Outcome {
        job: job.clone(),
        measured,
        figures,
        floor: floor.cloned(),
        verdict,
        cause: None,
    }
}

#[cfg(test)]
mod tests {
    use super::series::scripted::series;
    use super::*;

    #[test]
    fn a_canary_counts_only_when_it_fails_on_what_it_catches() {
        let leak = Failure::OverLimit(crate::model::OverLimit {
            criterion: Criterion::NativeLeaks,
            measured: Value::Count(3),
            limit: Value::Count(0),
            rising_fraction: None,
        });
        let crash = Failure::Signal {
            signal: 11,
            name: "SIGSEGV".into(),
        };
        let catches = vec![Criterion::NativeLeaks];
        assert!(matches!(
            apply_expectation(Expect::Fail, &catches, vec![crash.clone(), leak.clone()]),
            Verdict::CanaryCaught { .. }
        ));
        let Verdict::Failed { failures } =
            apply_expectation(Expect::Fail, &catches, vec![crash.clone()])
        else {
            panic!("a canary that only crashed must fail")
        };
        assert_eq!(failures[0].criterion(), Criterion::CanaryWrongReason);
        assert_eq!(failures[1], crash);
        // Without `catches`, any failure counts; a pass is always missed.
        assert!(matches!(
            apply_expectation(Expect::Fail, &[], vec![crash]),
            Verdict::CanaryCaught { .. }
        ));
        assert_eq!(
            apply_expectation(Expect::Fail, &catches, vec![]),
            Verdict::CanaryMissed
        );
        assert_eq!(
            apply_expectation(Expect::Pass, &catches, vec![]),
            Verdict::Passed
        );
    }

    #[test]
    fn criterion_names_are_the_json_tags() {
        let f = Failure::OverLimit(crate::model::OverLimit {
            criterion: Criterion::RssGrowth,
            measured: Value::Delta(ByteDelta(1)),
            limit: Value::Delta(ByteDelta(0)),
            rising_fraction: None,
        });
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["criterion"], f.criterion().name());
    }
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn job(limits: Limits, expect: Expect) -> Job {
        Job {
            limits,
            expect,
            ..Job::example()
        }
    }

    fn measured(exit: Exit, rss: impl Fn(usize) -> f64) -> Measured {
        Measured {
            pid: 1,
            exit,
            duration: Duration::from_secs(5),
            samples: series(500, 10, rss),
            progress: Vec::new(),
            peak_rss_exact: None,
            reported: BTreeMap::new(),
            marker_seen: true,
            log_tail: vec![],
            findings: None,
            sites: Vec::new(),
            checkpoints: Vec::new(),
        }
    }

    fn limits() -> Limits {
        Limits {
            rss_growth: Some(Bytes(16_000_000)),
            slope: Some(BytesPerSec(2e6)),
            ..Limits::default()
        }
    }

    #[test]
    fn a_flat_clean_run_passes_and_a_leak_fails_with_figures() {
        let ok = judge(
            &job(limits(), Expect::Pass),
            measured(Exit::Code { code: 0 }, |_| 5e7),
            None,
            None,
            0.1,
        );
        assert_eq!(ok.verdict, Verdict::Passed);
        assert_eq!(ok.figures.peak_rss_sampled, Bytes(50_000_000));
        let leak = judge(
            &job(limits(), Expect::Pass),
            measured(Exit::Code { code: 0 }, |i| 5e7 + i as f64 * 1e5),
            None,
            None,
            0.1,
        );
        let Verdict::Failed { failures } = &leak.verdict else {
            panic!("{:?}", leak.verdict)
        };
        let criteria: Vec<Criterion> = failures.iter().map(Failure::criterion).collect();
        assert_eq!(criteria, [Criterion::RssGrowth, Criterion::Slope]);
        assert!(leak.figures.slope.unwrap().0 > 9e6);
    }

    #[test]
    fn canaries_invert_and_interrupts_override() {
        let leak = |exit| measured(exit, |i| 5e7 + i as f64 * 1e5);
        let caught = judge(
            &job(limits(), Expect::Fail),
            leak(Exit::Code { code: 0 }),
            None,
            None,
            0.1,
        );
        assert!(matches!(caught.verdict, Verdict::CanaryCaught { .. }));
        let missed = judge(
            &job(limits(), Expect::Fail),
            measured(Exit::Code { code: 0 }, |_| 5e7),
            None,
            None,
            0.1,
        );
        assert_eq!(missed.verdict, Verdict::CanaryMissed);
        let stopped = judge(
            &job(limits(), Expect::Fail),
            leak(Exit::Interrupted),
            None,
            None,
            0.1,
        );
        assert_eq!(stopped.verdict, Verdict::Interrupted);
    }

    #[test]
    fn crash_marker_natives_and_wrapper_all_reported() {
        let mut m = measured(
            Exit::Signal {
                signal: 11,
                name: "SIGSEGV".into(),
            },
            |_| 5e7,
        );
        m.marker_seen = false;
        m.reported.insert("native_leaks".into(), 3.0);
        m.findings = Some(crate::exec::findings::parse_valgrind_xml(
            "<error><kind>InvalidRead</kind></error>",
        ));
        let out = judge(&job(limits(), Expect::Pass), m, None, None, 0.1);
        let Verdict::Failed { failures } = &out.verdict else {
            panic!()
        };
        let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert_eq!(text[0], "killed by signal 11 (SIGSEGV)");
        assert_eq!(text[1], "never printed `TEST PASSED`");
        assert_eq!(text[2], "3 native allocations left live, limit 0");
        assert!(
            text[3].starts_with("valgrind: 0 definitely lost"),
            "{}",
            text[3]
        );
        assert_eq!(out.figures.native_leaks, Some(3));
    }

    #[test]
    fn spawn_failure_is_the_only_failure() {
        let mut m = measured(
            Exit::SpawnFailed {
                message: "no such file".into(),
            },
            |_| 0.0,
        );
        m.samples.clear();
        m.marker_seen = false;
        let out = judge(&job(limits(), Expect::Pass), m, None, None, 0.1);
        assert_eq!(
            out.verdict,
            Verdict::Failed {
                failures: vec![Failure::SpawnFailed {
                    message: "no such file".into()
                }]
            }
        );
    }

    #[test]
    fn exact_peak_prefers_the_larger_of_vmhwm_and_report_and_limits_use_it() {
        let mut m = measured(Exit::Code { code: 0 }, |_| 5e7);
        m.peak_rss_exact = Some(Bytes(60_000_000));
        m.reported.insert("peak_rss_bytes".into(), 70e6);
        let lim = Limits {
            peak_rss: Some(Bytes(65_000_000)),
            ..limits()
        };
        let out = judge(&job(lim, Expect::Pass), m, None, None, 0.1);
        assert_eq!(out.figures.peak_rss_exact, Some(Bytes(70_000_000)));
        let Verdict::Failed { failures } = &out.verdict else {
            panic!("{:?}", out.verdict)
        };
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].to_string(), "peak RSS 70.0 MB, limit 65.0 MB");
    }

    #[test]
    fn baseline_regressions_join_the_failures() {
        let entry = baseline::BaselineEntry {
            peak_rss_bytes: 10_000_000,
            rss_growth_bytes: 0,
            slope_bytes_per_sec: Some(0.0),
            duration_ms: 5000,
        };
        let out = judge(
            &job(Limits::default(), Expect::Pass),
            measured(Exit::Code { code: 0 }, |_| 5e7),
            None,
            Some(&entry),
            0.1,
        );
        let Verdict::Failed { failures } = &out.verdict else {
            panic!()
        };
        assert_eq!(
            failures[0].to_string(),
            "peak RSS regressed: 50.0 MB against baseline 10.0 MB (tolerance 10%)"
        );
        // Under a wrapper the figures are the tool's: no comparison.
        let mut wrapped = job(Limits::default(), Expect::Pass);
        wrapped.wrapper = Some(crate::model::WrapperRun {
            name: "memcheck".into(),
            findings: crate::model::FindingsKind::ValgrindXml,
            output_path: "s.xml".into(),
        });
        let out = judge(
            &wrapped,
            measured(Exit::Code { code: 0 }, |_| 5e7),
            None,
            Some(&entry),
            0.1,
        );
        assert_eq!(out.verdict, Verdict::Passed);
    }

    #[test]
    fn a_floor_above_max_floor_fails_naming_both_and_one_below_passes() {
        let lim = Limits {
            max_floor: Some(Bytes(1_000)),
            ..limits()
        };
        let flat = || measured(Exit::Code { code: 0 }, |_| 5e7);
        let floor = |bytes| KnownFloor {
            bytes_per_call: bytes,
            caught_by: vec![Criterion::NativeLeaks],
        };
        let blind = floor(4_096);
        let out = judge(
            &job(lim.clone(), Expect::Pass),
            flat(),
            Some(&blind),
            None,
            0.1,
        );
        let Verdict::Failed { failures } = &out.verdict else {
            panic!("a floor over max_floor must fail: {:?}", out.verdict)
        };
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].criterion(), Criterion::Floor);
        let text = failures[0].to_string();
        assert!(text.contains("4.1 KB/call"), "{text}");
        assert!(text.contains("1.0 KB/call"), "{text}");
        assert_eq!(out.floor, Some(blind.clone()));
        assert_eq!(judge_floor(&lim, &blind), Some(failures[0].clone()));
        // At or below the limit passes; no floor known is not judged.
        let sharp = floor(64);
        let ok = judge(
            &job(lim.clone(), Expect::Pass),
            flat(),
            Some(&sharp),
            None,
            0.1,
        );
        assert_eq!(ok.verdict, Verdict::Passed);
        assert_eq!(judge_floor(&lim, &sharp), None);
        assert_eq!(judge_floor(&lim, &floor(1_000)), None);
        let unknown = judge(&job(lim.clone(), Expect::Pass), flat(), None, None, 0.1);
        assert_eq!(unknown.verdict, Verdict::Passed);
        // Without max_floor the floor is shown, never judged.
        let shown = judge(
            &job(limits(), Expect::Pass),
            flat(),
            Some(&blind),
            None,
            0.1,
        );
        assert_eq!(shown.verdict, Verdict::Passed);
        assert_eq!(
            shown.floor.unwrap().to_string(),
            "would catch ≥ 4.1 KB/call (native_leaks)"
        );
    }
}
