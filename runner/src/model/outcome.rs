//! How a suite ended up: the [`Failure`]s of its criteria, its closed
//! [`Verdict`] and the whole [`Outcome`]. The verdict module computes these; reporters read them.

use super::{Criterion, Diagnosis, Figures, Job, LimitSpec, Measured, Metric};
use crate::units::{Bytes, Value};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// One criterion that did not hold, with the measured figure beside its limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "criterion", rename_all = "snake_case")]
pub enum Failure {
    ExitCode {
        code: i32,
    },
    Signal {
        signal: i32,
        name: String,
    },
    TimedOut {
        limit: Duration,
    },
    SpawnFailed {
        message: String,
    },
    MarkerMissing {
        marker: String,
    },
    /// Worse than the saved baseline by more than the tolerance.
    Regression {
        metric: Metric,
        baseline: f64,
        measured: f64,
        tolerance: f64,
    },
    /// A limit is configured but the run was too short (or sampled too
    /// sparsely, or the suite never reported the figure) to measure it: a
    /// criterion that cannot be measured fails rather than passing unseen.
    TooFewSamples {
        #[serde(deserialize_with = "figure_name")]
        figure: Criterion,
        samples: usize,
        needed: usize,
    },
    /// A wrapper (valgrind, heaptrack) reported findings.
    Wrapper {
        tool: String,
        summary: String,
    },
    /// A canary failed, but on none of the criteria it exists to trip: it
    /// proves nothing about the leak (the other failures are listed too).
    CanaryWrongReason {
        catches: Vec<Criterion>,
    },
    /// A figure over its memtest.toml limit (RSS growth, peak RSS, slope,
    /// native leaks, ...): tagged by its own criterion's name in JSON.
    #[serde(untagged)]
    OverLimit(OverLimit),
}

/// A measured figure over its limit, for any criterion the table judges by
/// a limit (see `criterion::SPECS`).
#[derive(Debug, Clone, PartialEq)]
pub struct OverLimit {
    pub criterion: Criterion,
    pub measured: Value,
    pub limit: Value,
    /// For the leak rule: the share of the window's checkpoints that rose.
    pub rising_fraction: Option<f64>,
}

impl OverLimit {
    fn spec(&self) -> Option<&'static LimitSpec> {
        self.criterion.spec().limit.as_ref()
    }
}

/// `{"criterion": "rss_growth", "measured": 32000000, "limit": 16000000}`:
/// the same shape every other failure has, numbers in the unit of the
/// criterion's limit.
impl Serialize for OverLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("criterion", &self.criterion)?;
        map.serialize_entry("measured", &self.measured)?;
        map.serialize_entry("limit", &self.limit)?;
        if let Some(r) = self.rising_fraction {
            map.serialize_entry("rising_fraction", &r)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OverLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OverLimit, D::Error> {
        use serde::de::Error;
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let name = map.get("criterion").and_then(|v| v.as_str()).unwrap_or("");
        let criterion: Criterion = name.parse().map_err(D::Error::custom)?;
        let spec = criterion
            .spec()
            .limit
            .as_ref()
            .ok_or_else(|| D::Error::custom(format!("`{name}` is not judged by a limit")))?;
        let number = |key: &str| {
            map.get(key)
                .and_then(|v| spec.unit.from_json(v))
                .ok_or_else(|| D::Error::custom(format!("`{name}` failure without `{key}`")))
        };
        // `measured_bytes`: the per-operation slope's field before it took the
        // common name.
        let measured = number("measured").or_else(|_| number("measured_bytes"))?;
        Ok(OverLimit {
            criterion,
            measured,
            limit: number("limit")?,
            rising_fraction: map.get("rising_fraction").and_then(|v| v.as_f64()),
        })
    }
}

/// A too-few-samples figure by name; reports before the field was typed
/// appended a hint in parentheses, which is dropped.
fn figure_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Criterion, D::Error> {
    let text = String::deserialize(d)?;
    let name = text.split_whitespace().next().unwrap_or("");
    name.parse().map_err(serde::de::Error::custom)
}

impl Failure {
    /// The criterion this failure belongs to: its JSON tag, and what a
    /// canary's `catches` lists.
    pub fn criterion(&self) -> Criterion {
        match self {
            Failure::ExitCode { .. } => Criterion::ExitCode,
            Failure::Signal { .. } => Criterion::Signal,
            Failure::TimedOut { .. } => Criterion::TimedOut,
            Failure::SpawnFailed { .. } => Criterion::SpawnFailed,
            Failure::MarkerMissing { .. } => Criterion::MarkerMissing,
            Failure::Regression { .. } => Criterion::Regression,
            Failure::TooFewSamples { .. } => Criterion::TooFewSamples,
            Failure::Wrapper { .. } => Criterion::Wrapper,
            Failure::CanaryWrongReason { .. } => Criterion::CanaryWrongReason,
            Failure::OverLimit(o) => o.criterion,
        }
    }

    /// The criterion whose figure this failure is about: its own, or the
    /// figure a regression or too few samples concern. Reports mark that
    /// figure's column.
    pub fn figure(&self) -> Criterion {
        match self {
            Failure::Regression { metric, .. } => metric.criterion(),
            Failure::TooFewSamples { figure, .. } => *figure,
            other => other.criterion(),
        }
    }
}

/// The closed set of verdicts a suite can get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every criterion held.
    Passed,
    /// At least one criterion failed.
    Failed { failures: Vec<Failure> },
    /// A canary (`expect = "fail"`) failed as it must: the suite can see a leak.
    CanaryCaught { failures: Vec<Failure> },
    /// A canary passed: the suite cannot see the leak it was built to catch.
    CanaryMissed,
    /// The user interrupted the run before the suite finished.
    Interrupted,
    /// A soak by duration (`Job::duration`) stopped before its suite
    /// finished: interrupted, or past its timeout. Judged on what it showed:
    /// `failures` are the memory limits already over on the samples seen
    /// (exit status, marker and the figures a suite prints at its end are
    /// not there to judge). Never a success.
    Incomplete {
        stopped: Stopped,
        failures: Vec<Failure>,
    },
}

/// Why a soak is [`Verdict::Incomplete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    Interrupted,
    TimedOut,
}

impl Stopped {
    /// "interrupted", "timed out": how reports say it.
    pub fn describe(self) -> &'static str {
        match self {
            Stopped::Interrupted => "interrupted",
            Stopped::TimedOut => "timed out",
        }
    }
}

impl Verdict {
    /// True when this verdict lets the run succeed.
    pub fn is_success(&self) -> bool {
        matches!(self, Verdict::Passed | Verdict::CanaryCaught { .. })
    }
}

/// A finished suite: what ran, what was measured, what it means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub job: Job,
    pub measured: Measured,
    pub figures: Figures,
    /// The suite's detection floor, when the run was given a floors file
    /// that holds one: the figure `max_floor` judges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<KnownFloor>,
    pub verdict: Verdict,
    /// Leak or allocator? The cause of its RSS growth, when `memtest
    /// explain` (or `run --explain`) looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Diagnosis>,
}

/// A suite's detection floor as measured by `memtest floor` (and read from
/// its floors file): the smallest per-call leak its own criteria caught,
/// and the criteria that caught it. Reports show it beside the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownFloor {
    pub bytes_per_call: u64,
    pub caught_by: Vec<Criterion>,
}

impl KnownFloor {
    /// The floor in the unit `max_floor` is written in.
    pub fn value(&self) -> Value {
        Value::PerCall(Bytes(self.bytes_per_call))
    }
}

/// "would catch ≥ 256 B/call (native_leaks)": what every report writes
/// beside the verdict.
impl fmt::Display for KnownFloor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.caught_by.iter().map(|c| c.name()).collect();
        write!(f, "would catch ≥ {}", self.value())?;
        if !names.is_empty() {
            write!(f, " ({})", names.join(", "))?;
        }
        Ok(())
    }
}

/// One line per failure, with the measured figure beside its limit.
/// Reporters print these rather than matching on the variants.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ExitCode { code } => write!(f, "exited with code {code}"),
            Failure::Signal { signal, name } => write!(f, "killed by signal {signal} ({name})"),
            Failure::TimedOut { limit } => {
                write!(
                    f,
                    "timed out after {}",
                    crate::units::format_duration(*limit)
                )
            }
            Failure::SpawnFailed { message } => write!(f, "could not start: {message}"),
            Failure::MarkerMissing { marker } => f.write_str(
                &Criterion::MarkerMissing
                    .spec()
                    .limit
                    .as_ref()
                    .expect("the marker is a limit")
                    .failure
                    .replace("{limit}", marker),
            ),
            Failure::Regression {
                metric,
                baseline,
                measured,
                tolerance,
            } => write!(
                f,
                "{} regressed: {} against baseline {} (tolerance {:.0}%)",
                metric.label(),
                metric.value(*measured),
                metric.value(*baseline),
                tolerance * 100.0
            ),
            Failure::TooFewSamples {
                figure,
                samples,
                needed,
            } => {
                let hint = figure
                    .spec()
                    .limit
                    .as_ref()
                    .and_then(|l| l.unmeasured_hint)
                    .map_or_else(String::new, |h| format!(" ({h})"));
                write!(
                    f,
                    "too few samples to judge {figure}{hint}: {samples}, need {needed} (run longer or sample more often)"
                )
            }
            Failure::Wrapper { tool, summary } => write!(f, "{tool}: {summary}"),
            Failure::CanaryWrongReason { catches } => write!(
                f,
                "canary failed, but not on what it exists to catch ({})",
                catches
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Failure::OverLimit(o) => match o.spec() {
                Some(spec) => {
                    f.write_str(&spec.failure_text(&o.measured, &o.limit, o.rising_fraction))
                }
                None => write!(f, "{} {}, limit {}", o.criterion, o.measured, o.limit),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{ByteDelta, Bytes, BytesPerSec};

    fn round_trip(f: &Failure) -> serde_json::Value {
        let json = serde_json::to_value(f).unwrap();
        let back: Failure = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(&back, f, "{json}");
        json
    }

    #[test]
    fn over_limit_failures_keep_the_json_shape_of_their_criterion() {
        let growth = Failure::OverLimit(OverLimit {
            criterion: Criterion::RssGrowth,
            measured: Value::Delta(ByteDelta(32_000_000)),
            limit: Value::Delta(ByteDelta(16_000_000)),
            rising_fraction: None,
        });
        assert_eq!(
            round_trip(&growth),
            serde_json::json!({"criterion": "rss_growth", "measured": 32000000, "limit": 16000000})
        );
        assert_eq!(growth.to_string(), "RSS grew +32.0 MB, limit +16.0 MB");
        let slope = Failure::OverLimit(OverLimit {
            criterion: Criterion::Slope,
            measured: Value::Rate(BytesPerSec(3e6)),
            limit: Value::Rate(BytesPerSec(1e6)),
            rising_fraction: Some(0.75),
        });
        assert_eq!(round_trip(&slope)["rising_fraction"], 0.75);
        // The per-operation slope's old field name still reads.
        let old = serde_json::json!({"criterion": "slope_per_op", "measured_bytes": 4000.0,
            "limit": 1000, "rising_fraction": 1.0});
        let Failure::OverLimit(o) = serde_json::from_value(old).unwrap() else {
            panic!()
        };
        assert_eq!(o.measured, Value::PerOp(4000.0));
        // Other failures are unchanged.
        let peak = Failure::TooFewSamples {
            figure: Criterion::SlopePerOp,
            samples: 1,
            needed: 5,
        };
        assert_eq!(round_trip(&peak)["figure"], "slope_per_op");
        assert!(peak
            .to_string()
            .contains("slope_per_op (does the suite print"));
        let legacy = serde_json::json!({"criterion": "too_few_samples",
            "figure": "slope_per_op (does the suite print `MEMTEST progress=N`?)",
            "samples": 1, "needed": 5});
        assert_eq!(serde_json::from_value::<Failure>(legacy).unwrap(), peak);
        let _ = Bytes(0);
    }

    #[test]
    fn regressions_name_their_metric_and_print_in_its_unit() {
        let f = Failure::Regression {
            metric: Metric::RssGrowth,
            baseline: -2e6,
            measured: 2e6,
            tolerance: 0.1,
        };
        assert_eq!(round_trip(&f)["metric"], "rss_growth_bytes");
        assert_eq!(
            f.to_string(),
            "RSS growth regressed: +2.0 MB against baseline -2.0 MB (tolerance 10%)"
        );
        assert_eq!(f.figure(), Criterion::RssGrowth);
    }
}
