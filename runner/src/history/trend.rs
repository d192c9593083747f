//! A history as trends: per suite, one [`Point`] per commit (in commit
//! order) holding every run of that commit, so each figure has a middle
//! (the median) and a spread band (lowest to highest run). Repeated runs of
//! one commit are what tell a real move from noise.

use super::{Commit, Machine, Record};
use crate::model::Metric;
use crate::verdict::baseline::BaselineEntry;
use std::collections::BTreeMap;

/// One run of a suite at a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub time_unix_ms: u64,
    pub success: bool,
    pub machine: Machine,
    pub profile: Option<String>,
    pub figures: BaselineEntry,
}

/// Every run of one suite at one commit (or, outside git, one run).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub commit: Option<Commit>,
    pub runs: Vec<Run>,
}

/// The lowest, middle and highest of a figure over a point's runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// Runs that measured the figure.
    pub n: usize,
}

impl Spread {
    /// `None` when no value is given.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            min: v[0],
            median,
            max: v[n - 1],
            n,
        })
    }
}

impl Point {
    /// The commit's short name, or the run's time outside git.
    pub fn label(&self) -> String {
        match &self.commit {
            Some(c) => c.short(),
            None => format!("run@{}", self.runs[0].time_unix_ms / 1000),
        }
    }

    pub fn subject(&self) -> &str {
        self.commit.as_ref().map_or("", |c| c.subject.as_str())
    }

    /// `metric` over the point's runs; `None` when no run measured it.
    pub fn spread(&self, metric: Metric) -> Option<Spread> {
        let values: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|r| r.figures.get(metric))
            .collect();
        Spread::of(&values)
    }

    /// Runs whose verdict let the run succeed.
    pub fn successes(&self) -> usize {
        self.runs.iter().filter(|r| r.success).count()
    }
}

/// One suite's points, oldest commit first.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteTrend {
    pub suite: String,
    pub points: Vec<Point>,
}

impl SuiteTrend {
    /// Metrics at least one point measured, in [`Metric::ALL`] order.
    pub fn metrics(&self) -> Vec<Metric> {
        Metric::ALL
            .into_iter()
            .filter(|m| self.points.iter().any(|p| p.spread(*m).is_some()))
            .collect()
    }
}

/// Which records a trend is drawn from.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Suites by name; empty = every suite.
    pub suites: Vec<String>,
    /// Only runs at this profile.
    pub profile: Option<String>,
}

/// Groups records into trends: suites by name, points by commit (a dirty
/// tree is a point of its own), ordered by the commits' depth (their count
/// of ancestors) when every point has one, else by commit time, and then by
/// first run; so the runs of a bisection (which visits commits out of
/// order) land where their commits belong.
pub fn trends(records: &[Record], filter: &Filter) -> Vec<SuiteTrend> {
    let mut by_suite: BTreeMap<&str, Vec<Point>> = BTreeMap::new();
    let wanted = |r: &Record| {
        (filter.suites.is_empty() || filter.suites.contains(&r.suite))
            && (filter.profile.is_none() || filter.profile == r.profile)
    };
    for r in records.iter().filter(|r| wanted(r)) {
        let points = by_suite.entry(&r.suite).or_default();
        let run = Run {
            time_unix_ms: r.time_unix_ms,
            success: r.success,
            machine: r.machine.clone(),
            profile: r.profile.clone(),
            figures: r.figures.clone(),
        };
        let same = |p: &&mut Point| match (&p.commit, &r.commit) {
            (Some(a), Some(b)) => a.id == b.id && a.dirty == b.dirty,
            _ => false,
        };
        match points.iter_mut().find(same) {
            Some(p) => p.runs.push(run),
            None => points.push(Point {
                commit: r.commit.clone(),
                runs: vec![run],
            }),
        }
    }
    by_suite
        .into_iter()
        .map(|(suite, mut points)| {
            let by_depth = points
                .iter()
                .all(|p| p.commit.as_ref().is_some_and(|c| c.depth.is_some()));
            points.sort_by_key(|p| {
                let first = p.runs.iter().map(|r| r.time_unix_ms).min().unwrap_or(0);
                let committed = p
                    .commit
                    .as_ref()
                    .map_or(first as i64 / 1000, |c| match c.depth {
                        Some(depth) if by_depth => depth as i64,
                        _ => c.time_unix,
                    });
                (committed, first)
            });
            SuiteTrend {
                suite: suite.to_string(),
                points,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    #[test]
    fn the_median_and_band_of_an_odd_and_an_even_count() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.n), (1.0, 2.0, 3.0, 3));
        let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 4.0));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn runs_group_by_commit_in_commit_order_whatever_order_they_ran_in() {
        // A bisection's order: the newest commit, then the oldest, then the
        // middle one, which ran twice.
        let records = [
            record("a", "c3", 300, 30),
            record("a", "c1", 100, 10),
            record("a", "c2", 200, 19),
            record("a", "c2", 200, 21),
            record("b", "c1", 100, 5),
        ];
        let t = trends(&records, &Filter::default());
        assert_eq!(t.len(), 2);
        let a = &t[0];
        assert_eq!(a.suite, "a");
        let labels: Vec<_> = a.points.iter().map(Point::label).collect();
        assert_eq!(labels, ["c1", "c2", "c3"]);
        let mid = a.points[1].spread(Metric::PeakRss).unwrap();
        assert_eq!((mid.min, mid.median, mid.max, mid.n), (19.0, 20.0, 21.0, 2));
        // Slope was never measured: no band, and not among the metrics.
        assert_eq!(a.points[1].spread(Metric::Slope), None);
        assert_eq!(
            a.metrics(),
            [Metric::PeakRss, Metric::RssGrowth, Metric::Duration]
        );
    }

    #[test]
    fn depth_orders_commits_that_share_a_second() {
        let at = |id: &str, depth: u64, run_ms: u64| {
            let mut r = record("a", id, 500, 1);
            r.commit.as_mut().unwrap().depth = Some(depth);
            r.time_unix_ms = run_ms;
            r
        };
        let records = [at("c9", 9, 1), at("c2", 2, 2), at("c5", 5, 3)];
        let labels: Vec<_> = trends(&records, &Filter::default())[0]
            .points
            .iter()
            .map(Point::label)
            .collect();
        assert_eq!(labels, ["c2", "c5", "c9"]);
    }

    #[test]
    fn the_filter_picks_suites_and_a_profile() {
        let mut soak = record("a", "c1", 100, 10);
        soak.profile = Some("soak".into());
        let records = [soak, record("a", "c1", 100, 11), record("b", "c1", 100, 5)];
        let filter = Filter {
            suites: vec!["a".into()],
            profile: Some("ci".into()),
        };
        let t = trends(&records, &filter);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].points[0].runs.len(), 1);
        assert_eq!(t[0].points[0].runs[0].figures.peak_rss_bytes, 11);
    }
}
