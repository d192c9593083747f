//! The pass criteria by name: one closed enum, so a criterion's name lives in
//! one place (the JSON tag of its failure, what a canary's `catches` lists,
//! what `memtest check` accepts).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A criterion a suite can fail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    ExitCode,
    Signal,
    TimedOut,
    SpawnFailed,
    MarkerMissing,
    RssGrowth,
    VmsGrowth,
    PeakRss,
    Slope,
    SlopePerOp,
    NativeLeaks,
    Regression,
    TooFewSamples,
    Wrapper,
    /// A canary that failed, but not on what it exists to catch.
    CanaryWrongReason,
}

impl Criterion {
    /// Every criterion, in the order failures are reported.
    pub const ALL: [Criterion; 15] = [
        Criterion::ExitCode,
        Criterion::Signal,
        Criterion::TimedOut,
        Criterion::SpawnFailed,
        Criterion::MarkerMissing,
        Criterion::RssGrowth,
        Criterion::VmsGrowth,
        Criterion::PeakRss,
        Criterion::Slope,
        Criterion::SlopePerOp,
        Criterion::NativeLeaks,
        Criterion::Regression,
        Criterion::TooFewSamples,
        Criterion::Wrapper,
        Criterion::CanaryWrongReason,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Criterion::ExitCode => "exit_code",
            Criterion::Signal => "signal",
            Criterion::TimedOut => "timed_out",
            Criterion::SpawnFailed => "spawn_failed",
            Criterion::MarkerMissing => "marker_missing",
            Criterion::RssGrowth => "rss_growth",
            Criterion::VmsGrowth => "vms_growth",
            Criterion::PeakRss => "peak_rss",
            Criterion::Slope => "slope",
            Criterion::SlopePerOp => "slope_per_op",
            Criterion::NativeLeaks => "native_leaks",
            Criterion::Regression => "regression",
            Criterion::TooFewSamples => "too_few_samples",
            Criterion::Wrapper => "wrapper",
            Criterion::CanaryWrongReason => "canary_wrong_reason",
        }
    }

    /// What a canary may list in `catches`: every criterion but the verdict
    /// on canaries themselves.
    pub fn catchable() -> impl Iterator<Item = Criterion> {
        Criterion::ALL
            .into_iter()
            .filter(|c| *c != Criterion::CanaryWrongReason)
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not a criterion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown criterion `{0}`")]
pub struct UnknownCriterion(pub String);

impl FromStr for Criterion {
    type Err = UnknownCriterion;

    fn from_str(s: &str) -> Result<Criterion, UnknownCriterion> {
        Criterion::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCriterion(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_the_serde_tags() {
        for c in Criterion::ALL {
            assert_eq!(c.name().parse::<Criterion>(), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        assert!("rss_grwth".parse::<Criterion>().is_err());
        assert!(!Criterion::catchable().any(|c| c == Criterion::CanaryWrongReason));
        assert_eq!(Criterion::catchable().count(), Criterion::ALL.len() - 1);
    }
}
