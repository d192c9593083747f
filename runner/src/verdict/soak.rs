//! A soak by duration's part of the verdict: its RSS slope fitted over the
//! whole measured run and over the last [`series::SOAK_RECENT_WINDOW`] of
//! it (both figures reported, both judged against the `slope` limit), and
//! when a soak that was stopped before it finished is `Incomplete`.

use super::criteria::{self, Evidence};
use super::series;
use crate::model::{
    Criterion, Exit, Failure, Job, LimitSpec, Measured, Sample, SoakSlopes, Stopped,
};
use crate::units::{BytesPerSec, Value};

/// The two slope fits of a soak by duration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoakFits {
    pub whole: Option<series::SlopeFit>,
    pub recent: Option<series::SlopeFit>,
}

impl SoakFits {
    pub fn of(samples: &[Sample], start_ms: u64) -> SoakFits {
        SoakFits {
            whole: series::slope(samples, start_ms, 1.0),
            recent: series::slope(samples, start_ms, series::SOAK_RECENT_WINDOW),
        }
    }

    pub fn figures(&self) -> SoakSlopes {
        let rate = |fit: Option<series::SlopeFit>| fit.map(|f| BytesPerSec(f.bytes_per_sec));
        SoakSlopes {
            whole: rate(self.whole),
            recent: rate(self.recent),
            recent_window: series::SOAK_RECENT_WINDOW,
        }
    }
}

/// A soak's `slope` limit, judged by the leak rule on the whole run's fit
/// and on the recent window's: the first that fails (a fit with too few
/// samples is judged as any other would be).
pub fn soak_slope(spec: &LimitSpec, limit: Value, fits: &SoakFits) -> Option<Failure> {
    [fits.whole, fits.recent].into_iter().find_map(|fit| {
        let evidence = Evidence {
            value: fit.map(|f| Value::Rate(BytesPerSec(f.bytes_per_sec))),
            rising_fraction: fit.map(|f| f.rising_fraction),
            samples: fit.map_or(0, |f| f.samples),
            needed: series::MIN_SLOPE_SAMPLES,
            ..Evidence::default()
        };
        criteria::limit(Criterion::Slope, spec, limit.clone(), evidence)
    })
}

/// Why a soak by duration did not finish, when it ran and was stopped:
/// such a run is [`Verdict::Incomplete`]. A suite that never started (an
/// interrupt before its turn) is plainly interrupted.
pub fn soak_stopped(job: &Job, measured: &Measured) -> Option<Stopped> {
    if job.duration.is_none() || measured.pid == 0 {
        return None;
    }
    match measured.exit {
        Exit::Interrupted => Some(Stopped::Interrupted),
        Exit::TimedOut { .. } => Some(Stopped::TimedOut),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::series::scripted::series;
    use super::*;
    use crate::model::{Expect, Limits, Verdict};
    use crate::units::{Bytes, BytesPerSec};
    use crate::verdict::judge;
    use std::collections::BTreeMap;
    use std::time::Duration;

    /// A soak judged on `slope` (2 MB/s) and peak RSS (200 MB).
    fn soak() -> Job {
        Job {
            limits: Limits {
                slope: Some(BytesPerSec(2e6)),
                peak_rss: Some(Bytes(200_000_000)),
                ..Limits::default()
            },
            expect: Expect::Pass,
            duration: Some(Duration::from_secs(60)),
            ..Job::example()
        }
    }

    /// 60 s at 100 ms a sample, RSS from `rss(i)`, no end-of-run figures.
    fn measured(pid: u32, exit: Exit, rss: impl Fn(usize) -> f64) -> Measured {
        Measured {
            pid,
            exit,
            duration: Duration::from_secs(60),
            samples: series(600, 100, rss),
            progress: Vec::new(),
            peak_rss_exact: None,
            reported: BTreeMap::new(),
            marker_seen: false,
            log_tail: vec![],
            findings: None,
            sites: Vec::new(),
            checkpoints: Vec::new(),
        }
    }

    /// Flat at 50 MB for three quarters of the run, then 5 MB/s: a leak
    /// that starts late.
    fn late_leak(i: usize) -> f64 {
        5e7 + i.saturating_sub(450) as f64 * 5e5
    }

    #[test]
    fn a_late_leak_fails_on_the_recent_window_where_the_whole_run_hides_it() {
        let done = judge(
            &soak(),
            Measured {
                marker_seen: true,
                ..measured(1, Exit::Code { code: 0 }, late_leak)
            },
            None,
            None,
            0.1,
        );
        let slopes = done.figures.soak.expect("a soak reports both slopes");
        let (whole, recent) = (slopes.whole.unwrap().0, slopes.recent.unwrap().0);
        assert!(
            whole < 2e6,
            "the whole run's fit is under the limit: {whole}"
        );
        assert!(recent > 4e6, "the last quarter shows the leak: {recent}");
        assert_eq!(slopes.recent_window, 0.25);
        let Verdict::Failed { failures } = &done.verdict else {
            panic!("{:?}", done.verdict)
        };
        let over: Vec<Criterion> = failures.iter().map(Failure::criterion).collect();
        assert_eq!(over, [Criterion::Slope]);
        // The same series in a run that is not a soak: one slope, no pair.
        let plain = judge(
            &Job {
                duration: None,
                ..soak()
            },
            measured(1, Exit::Code { code: 0 }, |_| 5e7),
            None,
            None,
            0.1,
        );
        assert_eq!(plain.figures.soak, None);
        // A flat soak passes on both.
        let flat = judge(
            &soak(),
            Measured {
                marker_seen: true,
                ..measured(1, Exit::Code { code: 0 }, |_| 5e7)
            },
            None,
            None,
            0.1,
        );
        assert_eq!(flat.verdict, Verdict::Passed);
    }

    #[test]
    fn a_soak_stopped_early_is_incomplete_and_judged_on_what_it_showed() {
        let stopped = |exit: Exit, rss: fn(usize) -> f64| {
            judge(&soak(), measured(1, exit, rss), None, None, 0.1).verdict
        };
        // Interrupted with a clean series: incomplete, nothing over. No
        // marker, no exit status, no native_leaks figure is held against it.
        assert_eq!(
            stopped(Exit::Interrupted, |_| 5e7),
            Verdict::Incomplete {
                stopped: Stopped::Interrupted,
                failures: vec![],
            }
        );
        // Timed out, with a leak already over its limit: it says so.
        let Verdict::Incomplete {
            stopped: Stopped::TimedOut,
            failures,
        } = stopped(Exit::TimedOut { signal: 15 }, late_leak)
        else {
            panic!("a timed-out soak is incomplete")
        };
        let over: Vec<Criterion> = failures.iter().map(Failure::criterion).collect();
        assert_eq!(over, [Criterion::Slope]);
        assert!(!Verdict::Incomplete {
            stopped: Stopped::TimedOut,
            failures
        }
        .is_success());
        // A soak that never started is plainly interrupted; a run that is
        // not a soak is interrupted or fails on its timeout, as before.
        let never = judge(
            &soak(),
            measured(0, Exit::Interrupted, |_| 5e7),
            None,
            None,
            0.1,
        );
        assert_eq!(never.verdict, Verdict::Interrupted);
        let plain = Job {
            duration: None,
            ..soak()
        };
        let cut = judge(
            &plain,
            measured(1, Exit::Interrupted, |_| 5e7),
            None,
            None,
            0.1,
        );
        assert_eq!(cut.verdict, Verdict::Interrupted);
        let late = judge(
            &plain,
            measured(1, Exit::TimedOut { signal: 9 }, |_| 5e7),
            None,
            None,
            0.1,
        );
        assert!(matches!(late.verdict, Verdict::Failed { .. }));
    }
}
