//! Where a floor search starts when only RSS can see the leak: from the
//! clean run's headroom under its RSS limits, instead of at 1 byte.
//!
//! The headroom per leaking call bounds the floor from above: a leak that
//! size pushes `rss_growth` (or `peak_rss`, `slope_per_op`) over its limit.
//! The suite's own checks and the slope may catch far less, so the floor
//! lies anywhere in [1 B, bound]; the search starts in the middle of that
//! range on a log scale (the square root of the bound), from where it is at
//! most half the range's probes from any floor, where from 1 byte a
//! kilobyte floor costs four probes of growing x8 before the bisection.
//! The estimate only moves the first probe: the search still grows or
//! shrinks from there until a miss and a catch bracket the floor, so a bad
//! estimate costs probes, never a wrong floor.

use crate::model::Outcome;

/// The first size to probe, bytes per call, for a suite whose clean run is
/// `clean` and whose leak comes on one call in `every`: the square root of
/// the smallest per-call headroom, or `None` when the run shows no headroom
/// to read (no RSS limit, no operation count, or no room at all).
pub fn start_from_headroom(clean: &Outcome, every: u64) -> Option<u64> {
    let limits = &clean.job.limits;
    let figures = &clean.figures;
    let operations = clean.measured.progress.last().map(|p| p.operations)?;
    // Calls that leak over the measured loop.
    let leaking = (operations / every.max(1)).max(1) as f64;
    let total =
        |limit: Option<u64>, used: i64| limit.map(|l| (l as f64 - used.max(0) as f64) / leaking);
    let peak = figures.peak_rss_exact.unwrap_or(figures.peak_rss_sampled).0 as i64;
    let per_op = limits
        .slope_per_op
        .zip(figures.slope_per_op)
        .map(|(limit, slope)| (limit.0 as f64 - slope.max(0.0)) * every.max(1) as f64);
    let headroom = [
        total(limits.rss_growth.map(|b| b.0), figures.rss_growth.0),
        total(limits.peak_rss.map(|b| b.0), peak),
        per_op,
    ]
    .into_iter()
    .flatten()
    .filter(|h| *h > 0.0)
    .fold(f64::INFINITY, f64::min);
    headroom
        .is_finite()
        .then(|| (headroom.sqrt().round() as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Exit, Figures, Job, Measured, Progress, Verdict};
    use crate::units::{ByteDelta, Bytes};
    use std::time::Duration;

    /// A clean run of 1000 operations that grew `growth` under limits.
    fn clean(rss_growth: Option<u64>, growth: i64, slope_per_op: Option<(u64, f64)>) -> Outcome {
        let mut job = Job::example();
        job.limits.rss_growth = rss_growth.map(Bytes);
        job.limits.peak_rss = None;
        job.limits.slope_per_op = slope_per_op.map(|(l, _)| Bytes(l));
        let measured = Measured {
            pid: 1,
            exit: Exit::Code { code: 0 },
            duration: Duration::from_secs(1),
            samples: Vec::new(),
            progress: vec![Progress {
                t_ms: 900,
                operations: 1000,
            }],
            peak_rss_exact: None,
            reported: Default::default(),
            marker_seen: true,
            log_tail: Vec::new(),
            findings: None,
            sites: Vec::new(),
            checkpoints: Vec::new(),
        };
        let figures = Figures {
            rss_growth: ByteDelta(growth),
            slope_per_op: slope_per_op.map(|(_, s)| s),
            ..Figures::default()
        };
        Outcome {
            job,
            measured,
            figures,
            floor: None,
            verdict: Verdict::Passed,
            cause: None,
        }
    }

    #[test]
    fn the_start_is_the_root_of_the_smallest_headroom_per_leaking_call() {
        // 4 MB limit, 1 MB grown: 3 MB over 1000 calls, 3 KB a call.
        let c = clean(Some(4_000_000), 1_000_000, None);
        assert_eq!(start_from_headroom(&c, 1), Some(55)); // sqrt(3000)
                                                          // A leak on one call in 10: ten times the bytes per leaking call.
        assert_eq!(start_from_headroom(&c, 10), Some(173)); // sqrt(30000)
                                                            // slope_per_op leaves less room (500 B an op, 100 used): it wins.
        let c = clean(Some(4_000_000), 1_000_000, Some((500, 100.0)));
        assert_eq!(start_from_headroom(&c, 1), Some(20)); // sqrt(400)
    }

    #[test]
    fn no_headroom_to_read_leaves_the_default_start() {
        assert_eq!(start_from_headroom(&clean(None, 0, None), 1), None);
        // Over its limit already: no room, nothing to estimate from.
        let full = clean(Some(1_000), 5_000, None);
        assert_eq!(start_from_headroom(&full, 1), None);
        let mut quiet = clean(Some(4_000_000), 0, None);
        quiet.measured.progress.clear();
        assert_eq!(start_from_headroom(&quiet, 1), None, "no operation count");
    }
}
