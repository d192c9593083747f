//! [`Metric`]: a figure a run is compared on against a saved baseline
//! (`memtest baseline save`), by the name baseline files and `regression`
//! failures give it, and the criterion whose report column shows it.

use super::Criterion;
use crate::units::{ByteDelta, Bytes, BytesPerSec, Value};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A figure compared against a saved baseline: its name in baseline files
/// and in a `regression` failure, and the column it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Metric {
    #[serde(rename = "peak_rss_bytes")]
    PeakRss,
    #[serde(rename = "rss_growth_bytes")]
    RssGrowth,
    #[serde(rename = "slope_bytes_per_sec")]
    Slope,
    #[serde(rename = "duration_ms")]
    Duration,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::PeakRss,
        Metric::RssGrowth,
        Metric::Slope,
        Metric::Duration,
    ];

    /// The criterion whose column shows this figure.
    pub fn criterion(self) -> Criterion {
        match self {
            Metric::PeakRss => Criterion::PeakRss,
            Metric::RssGrowth => Criterion::RssGrowth,
            Metric::Slope => Criterion::Slope,
            Metric::Duration => Criterion::TimedOut,
        }
    }

    /// The baseline metric shown in `criterion`'s column, if any.
    pub fn of(criterion: Criterion) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.criterion() == criterion)
    }

    /// A figure of this metric (in its unit: bytes, bytes/s, ms) as a value.
    pub fn value(self, v: f64) -> Value {
        match self {
            Metric::PeakRss => Value::Size(Bytes(v.max(0.0) as u64)),
            Metric::RssGrowth => Value::Delta(ByteDelta(v as i64)),
            Metric::Slope => Value::Rate(BytesPerSec(v)),
            Metric::Duration => Value::Duration(Duration::from_millis(v.max(0.0) as u64)),
        }
    }

    /// What reports call it: the header of its column.
    pub fn label(self) -> &'static str {
        self.criterion()
            .spec()
            .column
            .as_ref()
            .map_or(self.criterion().label(), |c| c.header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_keep_their_baseline_names_and_columns() {
        let names: Vec<_> = Metric::ALL
            .iter()
            .map(|m| serde_json::to_value(m).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "peak_rss_bytes",
                "rss_growth_bytes",
                "slope_bytes_per_sec",
                "duration_ms"
            ]
        );
        assert_eq!(Metric::of(Criterion::TimedOut), Some(Metric::Duration));
        assert_eq!(Metric::Duration.label(), "duration");
        assert_eq!(Metric::RssGrowth.value(-2e6).to_string(), "-2.0 MB");
        assert_eq!(Metric::PeakRss.value(9e7).to_string(), "90.0 MB");
    }
}
