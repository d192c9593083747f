//! The pass criteria, each defined once. [`Criterion`] names them; [`SPECS`]
//! is the one table every stage reads for them: the name (the JSON tag of a
//! failure, what a canary's `catches` lists), the label reports show, and for
//! a criterion with a limit its memtest.toml key, unit (hence its parser and
//! formatter), JSON field, whether a wrapper clears it, the rule it is judged
//! by and the sentence its failure reads as; for a criterion with a figure its
//! report column; and the line the memory plot draws for it.
//!
//! Adding a criterion is one entry in [`SPECS`] (`criterion/specs.rs`) plus
//! its measurement: its field in [`Limits`] (the entry's `get`/`set` reach
//! it) and [`Figures`], and the arm of `verdict::evidence` that measures it. One more line is serde's:
//! `[defaults]` and profiles keep their keys spelled out in
//! `config::raw::RawSettings` so that each value keeps its span (a suite's
//! `limits` table is read key by key against this table and needs nothing).
//! Config parsing and validation, the resolver, the verdict, `list`, and
//! every report (console, JSON, JUnit, markdown, HTML, plots) iterate this
//! table; none of them names a criterion by a string. The test in
//! `report/every_format.rs` walks the table through all of them, so an entry
//! that misses one fails it.

mod specs;

use super::{Figures, Limits};
use crate::units::{Unit, Value};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use specs::SPECS;

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
    /// Live bytes (the allocator's in-use bytes, tracemalloc, V8's heap)
    /// grew: what a suite whose RSS growth is allocator retention is judged
    /// by instead.
    LiveGrowth,
    /// The detection floor over `max_floor`: the suite cannot see a leak
    /// that small.
    Floor,
    Regression,
    TooFewSamples,
    Wrapper,
    /// A canary that failed, but not on what it exists to catch.
    CanaryWrongReason,
}

/// Everything the stages need to know about one criterion.
#[derive(Debug)]
pub struct Spec {
    pub criterion: Criterion,
    /// The JSON tag of its failure and what `catches` lists.
    pub name: &'static str,
    /// What reports call it (captions, legends, `list`).
    pub label: &'static str,
    /// Its limit in memtest.toml, for a criterion judged against one.
    pub limit: Option<LimitSpec>,
    /// Its column in report tables: the measured figure beside its limit.
    pub column: Option<Column>,
    /// What the memory plot draws for it.
    pub plot: Option<PlotLine>,
}

/// A criterion's limit: how it is written, stored, judged and reported.
#[derive(Debug)]
pub struct LimitSpec {
    /// Its key in `[defaults]`, a profile and a suite's `limits`.
    pub key: &'static str,
    /// Its field in the JSON report's `limits` (unit in the name).
    pub json: &'static str,
    /// How the value is written (its parser) and printed (its formatter).
    pub unit: Unit,
    /// `key = false` switches the check off.
    pub can_switch_off: bool,
    /// Under a wrapper (valgrind, heaptrack) the sampled memory is mostly
    /// the tool's own: a limit on it would judge the tool, so it is cleared.
    pub wrapper_clears: bool,
    pub rule: Rule,
    /// The failure as a sentence: `{measured}`, `{limit}` and `{rising}`
    /// (the share of rising checkpoints) are filled in.
    pub failure: &'static str,
    /// Added to "too few samples to judge ..." when the figure could not be
    /// measured: what the suite may have missed.
    pub unmeasured_hint: Option<&'static str>,
    /// The limit of `limits`, in its unit.
    pub get: fn(&Limits) -> Option<Value>,
    /// Sets (or, with `None`, clears) the limit.
    pub set: fn(&mut Limits, Option<Value>),
}

/// How a figure is judged against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The suite printed the limit's line (the pass marker).
    Printed,
    /// Over the limit fails; a figure too few samples could measure fails
    /// too, rather than passing unseen.
    AtMost,
    /// The leak rule: over the limit and rising on at least
    /// `RISING_FRACTION` of the window's checkpoints (either alone is noise:
    /// a late step, a slow wobble); unmeasurable fails.
    Rising,
    /// Over the limit fails; a suite that does not report the figure is not
    /// judged on it.
    AtMostIfReported,
}

/// One suite's figures and what they were judged by: what a column reads.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub figures: &'a Figures,
    pub limits: &'a Limits,
    pub duration: Duration,
    pub timeout: Duration,
    /// The suite's detection floor per call, when a floors file gave one.
    pub floor: Option<crate::units::Bytes>,
}

/// A criterion's column in report tables.
#[derive(Debug)]
pub struct Column {
    pub header: &'static str,
    /// Shown on the console's one line per finished suite too.
    pub in_line: bool,
    /// The measured figure; `None` when the run did not give one.
    pub figure: fn(&Judged) -> Option<Value>,
    /// What the figure is judged by when that is not a memtest.toml limit
    /// (the timeout); `None` takes the criterion's limit.
    pub bound: Option<fn(&Judged) -> Option<Value>>,
}

/// The two panels of a memory plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Rss,
    Vms,
}

/// What the memory plot draws for a criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotLine {
    /// A dashed line at the limit above the level after the warm-up.
    GrowthLimit(Panel),
    /// A dashed line at the limit itself.
    LevelLimit(Panel),
    /// The fitted line over the slope window; the window turns red when
    /// the criterion trips.
    FittedSlope,
    /// Judged over the slope window but not drawable against time (per
    /// operation): a legend entry, and the window turns red when it trips.
    WindowNote,
    /// No line: a legend entry with the figure beside its limit.
    Note,
}

impl Criterion {
    /// Every criterion, in the order failures are reported.
    pub const ALL: [Criterion; 17] = [
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
        Criterion::LiveGrowth,
        Criterion::Floor,
        Criterion::Regression,
        Criterion::TooFewSamples,
        Criterion::Wrapper,
        Criterion::CanaryWrongReason,
    ];

    /// Its entry in [`SPECS`].
    pub fn spec(self) -> &'static Spec {
        &SPECS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn label(self) -> &'static str {
        self.spec().label
    }

    /// What a canary may list in `catches`: every criterion but the verdict
    /// on canaries themselves.
    pub fn catchable() -> impl Iterator<Item = Criterion> {
        Criterion::ALL
            .into_iter()
            .filter(|c| *c != Criterion::CanaryWrongReason)
    }

    /// The criteria set in memtest.toml, with their limit's spec, in order.
    pub fn limited() -> impl Iterator<Item = (Criterion, &'static LimitSpec)> {
        SPECS
            .iter()
            .filter_map(|s| Some((s.criterion, s.limit.as_ref()?)))
    }

    /// The criteria with a report column, with it, in column order.
    pub fn columns() -> impl Iterator<Item = (Criterion, &'static Column)> {
        SPECS
            .iter()
            .filter_map(|s| Some((s.criterion, s.column.as_ref()?)))
    }

    /// The limit criterion set by `key` in memtest.toml.
    pub fn by_limit_key(key: &str) -> Option<(Criterion, &'static LimitSpec)> {
        Criterion::limited().find(|(_, l)| l.key == key)
    }

    /// This criterion's figure in one suite's run (its column's figure).
    pub fn figure(self, judged: &Judged) -> Option<Value> {
        (self.spec().column.as_ref()?.figure)(judged)
    }

    /// What this criterion's figure is judged by in one suite's run: its
    /// memtest.toml limit, or its column's own bound (the timeout).
    pub fn bound(self, judged: &Judged) -> Option<Value> {
        let spec = self.spec();
        match spec.column.as_ref().and_then(|c| c.bound) {
            Some(bound) => bound(judged),
            None => (spec.limit.as_ref()?.get)(judged.limits),
        }
    }
}

/// Why a limit's value in memtest.toml was refused: a message and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    pub message: String,
    pub hint: String,
}

impl LimitSpec {
    /// The limit as written in memtest.toml: `Ok(None)` switches it off.
    pub fn parse(&self, written: &toml::Value) -> Result<Option<Value>, LimitError> {
        let key = self.key;
        let refused = |message: String| {
            let off = if self.can_switch_off {
                ", or false to skip the check"
            } else {
                ""
            };
            LimitError {
                message,
                hint: format!("write {}{off}", self.unit.example()),
            }
        };
        match (written, self.unit) {
            (toml::Value::Boolean(false), _) if self.can_switch_off => Ok(None),
            (toml::Value::Boolean(true), _) if self.can_switch_off => {
                Err(refused(format!("`{key} = true` has no meaning")))
            }
            (toml::Value::Integer(n), Unit::Count) => u64::try_from(*n)
                .map(|n| Some(Value::Count(n)))
                .map_err(|_| refused(format!("invalid `{key}`"))),
            (toml::Value::String(s), Unit::Text) if !s.is_empty() => {
                Ok(Some(Value::Text(s.clone())))
            }
            (
                toml::Value::String(s),
                Unit::Size | Unit::Growth | Unit::Rate | Unit::PerOp | Unit::PerCall,
            ) => self.unit.parse(s).map(Some).map_err(|e| LimitError {
                message: format!("invalid `{key}`"),
                hint: e.to_string(),
            }),
            _ => Err(refused(format!("invalid `{key}`"))),
        }
    }

    /// The failure's sentence for these figures.
    pub fn failure_text(&self, measured: &Value, limit: &Value, rising: Option<f64>) -> String {
        let rising = rising.map_or_else(String::new, |r| format!("{:.0}%", r * 100.0));
        self.failure
            .replace("{measured}", &measured.to_string())
            .replace("{limit}", &limit.to_string())
            .replace("{rising}", &rising)
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
    fn limits_parse_switch_off_and_refuse_with_a_hint() {
        let (_, leaks) = Criterion::by_limit_key("native_leaks").unwrap();
        assert_eq!(leaks.parse(&toml::Value::Boolean(false)), Ok(None));
        let err = leaks.parse(&toml::Value::Boolean(true)).unwrap_err();
        assert_eq!(err.message, "`native_leaks = true` has no meaning");
        assert!(err.hint.contains("false to skip"), "{}", err.hint);
        let (_, growth) = Criterion::by_limit_key("rss_growth").unwrap();
        assert!(growth.parse(&toml::Value::Boolean(false)).is_err());
        let err = growth
            .parse(&toml::Value::String("16 parsecs".into()))
            .unwrap_err();
        assert_eq!(err.message, "invalid `rss_growth`");
        assert!(Criterion::by_limit_key("marker_missing").is_none());
    }

    #[test]
    fn failure_sentences_fill_in_their_figures() {
        let (_, slope) = Criterion::by_limit_key("slope").unwrap();
        let text = slope.failure_text(
            &Value::Rate(crate::units::BytesPerSec(3e6)),
            &Value::Rate(crate::units::BytesPerSec(1e6)),
            Some(0.9),
        );
        assert_eq!(
            text,
            "RSS still rising at 3.0 MB/s (up on 90% of checkpoints), limit 1.0 MB/s"
        );
    }
}
