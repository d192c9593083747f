//! Bisection of a memory regression, the pure part: what one run of the
//! selected suites at a commit says ([`Oracle::classify`]: good or bad), how
//! repeated runs of one commit are settled against noise ([`Rule`]), and the
//! binary search over the commits ([`search`]). `app/bisect.rs` checks the
//! commits out, builds and runs them; [`log`] is what it records and emits.
//!
//! The noise rule: a commit is run again until one outcome leads the other
//! by `margin` runs (default 2: two agreeing runs settle a quiet commit), at
//! most `max_runs` times (default 5); a commit still undecided then, or
//! whose lead can no longer reach the margin in the runs left, is skipped as
//! `git bisect skip` skips one, and so is a commit whose build fails.

pub mod log;
pub mod search;
pub mod sites;

use crate::model::{Criterion, Metric};
use crate::verdict::baseline::allowed;
use crate::verdict::baseline::BaselineEntry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One suite of one run at a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub suite: String,
    /// The verdict's label ("PASS", "FAIL", "CANARY OK", ...).
    pub verdict: String,
    /// The verdict lets a run succeed.
    pub success: bool,
    /// The criteria it failed on (or that a canary caught).
    pub failed_on: Vec<Criterion>,
    pub figures: BaselineEntry,
}

/// What makes a run bad.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Oracle {
    /// A selected suite's verdict fails the run (a failed suite, a missed
    /// canary).
    Verdict,
    /// A selected suite's figure is above `limit` (in the metric's unit).
    Above { metric: Metric, limit: f64 },
    /// A selected suite's figure is worse than its median at the --good
    /// commit by more than `percent` (and than the metric's baseline floor,
    /// as `run --baseline` judges).
    WorseThanGood { metric: Metric, percent: f64 },
}

/// How one run came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunClass {
    Good,
    Bad,
    /// No selected suite measured the oracle's figure: the run does not count.
    NoFigure,
}

/// The --good commit's figure per suite (the median of its runs): what
/// [`Oracle::WorseThanGood`] compares with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reference(pub BTreeMap<String, f64>);

impl Reference {
    /// The median of `metric` per suite over `runs`.
    pub fn of(metric: Metric, runs: &[Vec<Observation>]) -> Reference {
        let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for o in runs.iter().flatten() {
            if let Some(v) = o.figures.get(metric) {
                values.entry(o.suite.clone()).or_default().push(v);
            }
        }
        Reference(
            values
                .into_iter()
                .filter_map(|(s, v)| Some((s, crate::history::trend::Spread::of(&v)?.median)))
                .collect(),
        )
    }
}

impl Oracle {
    /// The figure the oracle judges, if it judges one.
    pub fn metric(&self) -> Option<Metric> {
        match self {
            Oracle::Verdict => None,
            Oracle::Above { metric, .. } | Oracle::WorseThanGood { metric, .. } => Some(*metric),
        }
    }

    /// "the verdict", "peak RSS above 120.0 MB", ...
    pub fn describe(&self) -> String {
        match self {
            Oracle::Verdict => "the verdict of the selected suites".into(),
            Oracle::Above { metric, limit } => {
                format!("{} above {}", metric.label(), metric.value(*limit))
            }
            Oracle::WorseThanGood { metric, percent } => {
                format!(
                    "{} worse than at --good by more than {percent}%",
                    metric.label()
                )
            }
        }
    }

    /// Good or bad: one run's observations judged. `reference` is needed by
    /// [`Oracle::WorseThanGood`] (a suite without one is not judged).
    pub fn classify(&self, run: &[Observation], reference: &Reference) -> RunClass {
        let bad = |cond: bool| if cond { RunClass::Bad } else { RunClass::Good };
        match *self {
            Oracle::Verdict if run.is_empty() => RunClass::NoFigure,
            Oracle::Verdict => bad(run.iter().any(|o| !o.success)),
            Oracle::Above { metric, limit } => {
                let values: Vec<f64> = run.iter().filter_map(|o| o.figures.get(metric)).collect();
                if values.is_empty() {
                    return RunClass::NoFigure;
                }
                bad(values.iter().any(|v| *v > limit))
            }
            Oracle::WorseThanGood { metric, percent } => {
                let worse: Vec<bool> = run
                    .iter()
                    .filter_map(|o| {
                        let base = *reference.0.get(&o.suite)?;
                        let now = o.figures.get(metric)?;
                        Some(now > base + allowed(metric, base, percent / 100.0))
                    })
                    .collect();
                if worse.is_empty() {
                    return RunClass::NoFigure;
                }
                bad(worse.contains(&true))
            }
        }
    }
}

/// How a commit's repeated runs are settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// At most this many runs of one commit.
    pub max_runs: u32,
    /// The lead (good runs minus bad, or bad minus good) that decides.
    pub margin: u32,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            max_runs: 5,
            margin: 2,
        }
    }
}

/// What a commit's runs settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Good,
    Bad,
    /// The runs did not agree within the rule, or the commit could not be
    /// built or run: skipped.
    Skipped,
}

impl Rule {
    /// A rule that can decide: a margin of at least 1, reachable within
    /// `max_runs`.
    pub fn check(&self) -> Result<(), String> {
        if self.margin == 0 {
            return Err("--margin 0: a commit needs a lead of at least one run".into());
        }
        if self.max_runs < self.margin {
            return Err(format!(
                "--runs {} cannot reach --margin {}: give at least as many runs as the margin",
                self.max_runs, self.margin
            ));
        }
        Ok(())
    }

    /// Settles `runs` so far: `None` = run again.
    pub fn decide(&self, runs: &[RunClass]) -> Option<Decision> {
        let count = |c: RunClass| runs.iter().filter(|r| **r == c).count() as i64;
        let (good, bad) = (count(RunClass::Good), count(RunClass::Bad));
        let margin = i64::from(self.margin);
        if good - bad >= margin {
            return Some(Decision::Good);
        }
        if bad - good >= margin {
            return Some(Decision::Bad);
        }
        let left = i64::from(self.max_runs) - runs.len() as i64;
        ((good - bad).abs() + left < margin).then_some(Decision::Skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunClass::{Bad as B, Good as G, NoFigure as N};

    fn obs(suite: &str, success: bool, peak: u64) -> Observation {
        Observation {
            suite: suite.into(),
            verdict: if success { "PASS" } else { "FAIL" }.into(),
            success,
            failed_on: vec![],
            figures: BaselineEntry {
                peak_rss_bytes: peak,
                rss_growth_bytes: 0,
                slope_bytes_per_sec: None,
                duration_ms: 100,
            },
        }
    }

    #[test]
    fn the_rule_settles_on_a_lead_and_skips_what_cannot_reach_one() {
        let rule = Rule::default();
        let table: [(&[RunClass], Option<Decision>); 10] = [
            (&[G], None),
            (&[G, G], Some(Decision::Good)),
            (&[B, B], Some(Decision::Bad)),
            (&[G, B], None),
            (&[B, G, G], None),
            (&[B, G, G, G], Some(Decision::Good)),
            (&[G, B, B, B], Some(Decision::Bad)),
            // 2-2 with one run left: a lead of 2 is out of reach.
            (&[G, B, G, B], Some(Decision::Skipped)),
            (&[N, N, N, N, N], Some(Decision::Skipped)),
            (&[N, G, N, G], Some(Decision::Good)),
        ];
        for (runs, want) in table {
            assert_eq!(rule.decide(runs), want, "{runs:?}");
        }
        let single = Rule {
            max_runs: 1,
            margin: 1,
        };
        assert_eq!(single.decide(&[B]), Some(Decision::Bad));
        assert!(Rule {
            max_runs: 1,
            margin: 2
        }
        .check()
        .is_err());
        assert!(Rule {
            max_runs: 3,
            margin: 0
        }
        .check()
        .is_err());
    }

    #[test]
    fn the_verdict_oracle_fails_on_any_failed_suite() {
        let r = Reference::default();
        let o = Oracle::Verdict;
        assert_eq!(o.classify(&[obs("a", true, 1), obs("b", true, 1)], &r), G);
        assert_eq!(o.classify(&[obs("a", true, 1), obs("b", false, 1)], &r), B);
        assert_eq!(o.classify(&[], &r), N);
    }

    #[test]
    fn the_threshold_oracle_reads_the_figure_alone() {
        let r = Reference::default();
        let o = Oracle::Above {
            metric: Metric::PeakRss,
            limit: 120e6,
        };
        // A failed verdict under the limit is good for this oracle.
        assert_eq!(o.classify(&[obs("a", false, 100_000_000)], &r), G);
        assert_eq!(o.classify(&[obs("a", true, 130_000_000)], &r), B);
        let slope = Oracle::Above {
            metric: Metric::Slope,
            limit: 1e6,
        };
        assert_eq!(
            slope.classify(&[obs("a", true, 1)], &r),
            N,
            "no slope measured"
        );
        assert_eq!(o.describe(), "peak RSS above 120.0 MB");
    }

    #[test]
    fn the_relative_oracle_compares_with_the_good_commits_median() {
        let good_runs = vec![
            vec![obs("a", true, 50_000_000)],
            vec![obs("a", true, 52_000_000)],
            vec![obs("a", true, 90_000_000)],
        ];
        let reference = Reference::of(Metric::PeakRss, &good_runs);
        assert_eq!(reference.0["a"], 52e6);
        let o = Oracle::WorseThanGood {
            metric: Metric::PeakRss,
            percent: 10.0,
        };
        // 52 MB + 10% = 57.2 MB.
        assert_eq!(o.classify(&[obs("a", true, 57_000_000)], &reference), G);
        assert_eq!(o.classify(&[obs("a", true, 58_000_000)], &reference), B);
        // A suite the good commit did not have is not judged.
        assert_eq!(o.classify(&[obs("new", true, 1 << 40)], &reference), N);
    }
}
