//! The drift check: each figure's trend against a pinned baseline (a
//! baseline file saved once and committed, not refreshed by every run), by
//! the rule `run --baseline` uses (worse by more than the tolerance and the
//! metric's floor). A figure that creeps a little per commit passes every
//! comparison with the commit before it, yet fails here once the creep adds
//! up; both are computed, so a report can show the one catching what the
//! other lets through. Each point is judged by its median run.

use super::trend::SuiteTrend;
use crate::model::Metric;
use crate::verdict::baseline::allowed;
use crate::verdict::baseline::{Baseline, BaselineEntry};

/// One figure of one suite against its pinned value.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub metric: Metric,
    pub pinned: f64,
    /// The most the figure may reach: pinned plus the allowed worsening.
    pub limit: f64,
    /// The newest point's median.
    pub latest: f64,
    /// Index of the point from which on every point is over the limit, when
    /// the newest is: since when it drifted.
    pub over_since: Option<usize>,
    /// Points the comparison with the point before would have failed (each
    /// index is of the later point).
    pub steps_over: Vec<usize>,
    /// The largest rise from one point to the next, as a fraction of the
    /// earlier one, and the index of the later point.
    pub largest_step: Option<(usize, f64)>,
}

impl Drift {
    /// The newest point is over the limit.
    pub fn failed(&self) -> bool {
        self.over_since.is_some()
    }

    /// The newest point's change since the pinned value, as a fraction.
    pub fn change(&self) -> Option<f64> {
        (self.pinned != 0.0).then(|| (self.latest - self.pinned) / self.pinned.abs())
    }
}

/// One suite's drift checks; `pinned` is `false` when the baseline has no
/// entry for it (nothing to check against).
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteDrift {
    pub suite: String,
    pub pinned: bool,
    pub checks: Vec<Drift>,
}

impl SuiteDrift {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(Drift::failed)
    }
}

/// Checks every figure of every trend against `baseline`, `tolerance` a
/// fraction (0.1 = 10%).
pub fn check_all(trends: &[SuiteTrend], baseline: &Baseline, tolerance: f64) -> Vec<SuiteDrift> {
    trends
        .iter()
        .map(|t| check(t, baseline.get(&t.suite), tolerance))
        .collect()
}

/// Checks one suite's figures against its pinned entry.
pub fn check(trend: &SuiteTrend, pinned: Option<&BaselineEntry>, tolerance: f64) -> SuiteDrift {
    let Some(entry) = pinned else {
        return SuiteDrift {
            suite: trend.suite.clone(),
            pinned: false,
            checks: Vec::new(),
        };
    };
    let checks = Metric::ALL
        .into_iter()
        .filter_map(|metric| {
            let pinned = entry.get(metric)?;
            // Points that measured the figure, with their index.
            let medians: Vec<(usize, f64)> = trend
                .points
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i, p.spread(metric)?.median)))
                .collect();
            let &(_, latest) = medians.last()?;
            Some(judge(metric, pinned, &medians, latest, tolerance))
        })
        .collect();
    SuiteDrift {
        suite: trend.suite.clone(),
        pinned: true,
        checks,
    }
}

fn judge(metric: Metric, pinned: f64, medians: &[(usize, f64)], latest: f64, tol: f64) -> Drift {
    let limit = pinned + allowed(metric, pinned, tol);
    let over_since = medians
        .iter()
        .rev()
        .take_while(|(_, v)| *v > limit)
        .last()
        .map(|(i, _)| *i);
    let mut steps_over = Vec::new();
    let mut largest_step: Option<(usize, f64)> = None;
    for pair in medians.windows(2) {
        let ((_, before), (i, after)) = (pair[0], pair[1]);
        if after > before + allowed(metric, before, tol) {
            steps_over.push(i);
        }
        if before != 0.0 {
            let rise = (after - before) / before.abs();
            if largest_step.is_none_or(|(_, r)| rise > r) {
                largest_step = Some((i, rise));
            }
        }
    }
    Drift {
        metric,
        pinned,
        limit,
        latest,
        over_since,
        steps_over,
        largest_step,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::super::trend::{trends, Filter};
    use super::*;

    fn pinned(peak: u64) -> Baseline {
        let mut b = Baseline::default();
        b.suites
            .insert("a".into(), record("a", "c0", 0, peak).figures);
        b
    }

    #[test]
    fn a_slow_creep_passes_every_step_and_fails_against_the_pinned_baseline() {
        // +2% a commit from 50 MB: every step is far under 10% (and under the
        // 4 MB floor), but after 8 commits the total is 17%.
        let mut peak = 50e6;
        let records: Vec<_> = (0..9)
            .map(|i| {
                let r = record("a", &format!("c{i}"), i, peak as u64);
                peak *= 1.02;
                r
            })
            .collect();
        let t = trends(&records, &Filter::default());
        let drift = check_all(&t, &pinned(50_000_000), 0.10);
        let d = &drift[0];
        assert!(d.pinned && d.failed());
        let peak = d
            .checks
            .iter()
            .find(|c| c.metric == Metric::PeakRss)
            .unwrap();
        assert!(peak.steps_over.is_empty(), "{peak:?}");
        let (_, step) = peak.largest_step.unwrap();
        assert!((step - 0.02).abs() < 1e-6, "{step}");
        // 50 MB + max(5 MB, 4 MB) = 55 MB: 1.02^5 * 50 = 55.2 is the first over.
        assert_eq!(peak.limit, 55e6);
        assert_eq!(peak.over_since, Some(5));
        assert!((peak.change().unwrap() - 0.1717).abs() < 1e-3);
        // The other figures held.
        assert!(d
            .checks
            .iter()
            .filter(|c| c.metric != Metric::PeakRss)
            .all(|c| !c.failed()));
    }

    #[test]
    fn a_jump_fails_both_ways_and_a_recovered_figure_passes() {
        let sizes = [50_000_000, 50_000_000, 70_000_000, 50_500_000];
        let records: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, p)| record("a", &format!("c{i}"), i as i64, *p))
            .collect();
        let t = trends(&records, &Filter::default());
        let d = &check_all(&t, &pinned(50_000_000), 0.10)[0];
        let peak = &d.checks[0];
        assert_eq!(peak.metric, Metric::PeakRss);
        assert_eq!(peak.steps_over, [2]);
        assert!(!peak.failed(), "back under the limit at the newest commit");
        // Over at the newest only when it stays over.
        let t = trends(&records[..3], &Filter::default());
        let peak = &check_all(&t, &pinned(50_000_000), 0.10)[0].checks[0];
        assert_eq!(peak.over_since, Some(2));
    }

    #[test]
    fn a_suite_missing_from_the_baseline_is_not_checked() {
        let t = trends(&[record("b", "c0", 0, 1)], &Filter::default());
        let d = &check_all(&t, &pinned(1), 0.1)[0];
        assert!(!d.pinned && !d.failed() && d.checks.is_empty());
    }
}
