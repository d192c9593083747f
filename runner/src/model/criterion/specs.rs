//! The criteria table, [`SPECS`]: one entry per criterion, in [`Criterion`]
//! order, where adding a criterion starts. In a file of its own because it
//! is most of the criterion module's length.

use super::{Column, Criterion, LimitSpec, Panel, PlotLine, Rule, Spec};
use crate::model::Figures;
use crate::units::{ByteDelta, Unit, Value};

const fn plain(criterion: Criterion, name: &'static str, label: &'static str) -> Spec {
    Spec {
        criterion,
        name,
        label,
        limit: None,
        column: None,
        plot: None,
    }
}

fn growth(b: Option<crate::units::Bytes>) -> Option<Value> {
    b.map(|b| Value::Delta(ByteDelta(b.0 as i64)))
}

/// The table, in [`Criterion`] order (which is also the order failures are
/// listed in and columns shown in).
pub const SPECS: [Spec; 17] = [
    plain(Criterion::ExitCode, "exit_code", "exit code"),
    plain(Criterion::Signal, "signal", "signal"),
    Spec {
        column: Some(Column {
            header: "duration",
            in_line: false,
            figure: |j| Some(Value::Duration(j.duration)),
            bound: Some(|j| Some(Value::Duration(j.timeout))),
        }),
        ..plain(Criterion::TimedOut, "timed_out", "timeout")
    },
    plain(Criterion::SpawnFailed, "spawn_failed", "start"),
    Spec {
        limit: Some(LimitSpec {
            key: "marker",
            json: "marker",
            unit: Unit::Text,
            can_switch_off: true,
            wrapper_clears: false,
            rule: Rule::Printed,
            failure: "never printed `{limit}`",
            unmeasured_hint: None,
            get: |l| l.marker.clone().map(Value::Text),
            set: |l, v| l.marker = v.and_then(|v| v.text().map(str::to_string)),
        }),
        ..plain(Criterion::MarkerMissing, "marker_missing", "pass marker")
    },
    Spec {
        limit: Some(LimitSpec {
            key: "rss_growth",
            json: "rss_growth_bytes",
            unit: Unit::Growth,
            can_switch_off: false,
            wrapper_clears: true,
            rule: Rule::AtMost,
            failure: "RSS grew {measured}, limit {limit}",
            unmeasured_hint: None,
            get: |l| growth(l.rss_growth),
            set: |l, v| l.rss_growth = v.and_then(|v| v.bytes()),
        }),
        column: Some(Column {
            header: "RSS growth",
            in_line: true,
            figure: |j| Some(Value::Delta(j.figures.rss_growth)),
            bound: None,
        }),
        plot: Some(PlotLine::GrowthLimit(Panel::Rss)),
        ..plain(Criterion::RssGrowth, "rss_growth", "RSS growth")
    },
    Spec {
        limit: Some(LimitSpec {
            key: "vms_growth",
            json: "vms_growth_bytes",
            unit: Unit::Growth,
            can_switch_off: false,
            wrapper_clears: true,
            rule: Rule::AtMost,
            failure: "VMS grew {measured}, limit {limit}",
            unmeasured_hint: None,
            get: |l| growth(l.vms_growth),
            set: |l, v| l.vms_growth = v.and_then(|v| v.bytes()),
        }),
        column: Some(Column {
            header: "VMS growth",
            in_line: false,
            figure: |j| Some(Value::Delta(j.figures.vms_growth)),
            bound: None,
        }),
        plot: Some(PlotLine::GrowthLimit(Panel::Vms)),
        ..plain(Criterion::VmsGrowth, "vms_growth", "VMS growth")
    },
    Spec {
        limit: Some(LimitSpec {
            key: "peak_rss",
            json: "peak_rss_bytes",
            unit: Unit::Size,
            can_switch_off: false,
            wrapper_clears: true,
            rule: Rule::AtMost,
            failure: "peak RSS {measured}, limit {limit}",
            unmeasured_hint: None,
            get: |l| l.peak_rss.map(Value::Size),
            set: |l, v| l.peak_rss = v.and_then(|v| v.bytes()),
        }),
        column: Some(Column {
            header: "peak RSS",
            in_line: true,
            figure: |j| Some(peak(j.figures)),
            bound: None,
        }),
        plot: Some(PlotLine::LevelLimit(Panel::Rss)),
        ..plain(Criterion::PeakRss, "peak_rss", "peak RSS")
    },
    Spec {
        limit: Some(LimitSpec {
            key: "slope",
            json: "slope_bytes_per_sec",
            unit: Unit::Rate,
            can_switch_off: false,
            wrapper_clears: true,
            rule: Rule::Rising,
            failure:
                "RSS still rising at {measured} (up on {rising} of checkpoints), limit {limit}",
            unmeasured_hint: None,
            get: |l| l.slope.map(Value::Rate),
            set: |l, v| l.slope = v.and_then(|v| v.rate()),
        }),
        column: Some(Column {
            header: "slope",
            in_line: true,
            figure: |j| j.figures.slope.map(Value::Rate),
            bound: None,
        }),
        plot: Some(PlotLine::FittedSlope),
        ..plain(Criterion::Slope, "slope", "slope")
    },
    Spec {
        limit: Some(LimitSpec {
            key: "slope_per_op",
            json: "slope_per_op_bytes",
            unit: Unit::PerOp,
            can_switch_off: false,
            wrapper_clears: true,
            rule: Rule::Rising,
            failure:
                "RSS still rising by {measured} (up on {rising} of checkpoints), limit {limit}",
            unmeasured_hint: Some("does the suite print `MEMTEST progress=N`?"),
            get: |l| l.slope_per_op.map(|b| Value::PerOp(b.as_f64())),
            set: |l, v| l.slope_per_op = v.and_then(|v| v.bytes()),
        }),
        column: Some(Column {
            header: "slope per op",
            in_line: true,
            figure: |j| j.figures.slope_per_op.map(Value::PerOp),
            bound: None,
        }),
        plot: Some(PlotLine::WindowNote),
        ..plain(Criterion::SlopePerOp, "slope_per_op", "slope per op")
    },
    Spec {
        limit: Some(LimitSpec {
            key: "native_leaks",
            json: "native_leaks",
            unit: Unit::Count,
            can_switch_off: true,
            wrapper_clears: false,
            rule: Rule::AtMostIfReported,
            failure: "{measured} native allocations left live, limit {limit}",
            unmeasured_hint: None,
            get: |l| l.native_leaks.map(Value::Count),
            set: |l, v| l.native_leaks = v.and_then(|v| v.count()),
        }),
        column: Some(Column {
            header: "native leaks",
            in_line: true,
            figure: |j| j.figures.native_leaks.map(Value::Count),
            bound: None,
        }),
        plot: Some(PlotLine::Note),
        ..plain(Criterion::NativeLeaks, "native_leaks", "native leaks")
    },
    Spec {
        // Measured from the helpers' checkpoint records, which a suite with
        // this limit prints (memtest sets MEMTEST_CAUSE for it).
        limit: Some(LimitSpec {
            key: "live_growth",
            json: "live_growth_bytes",
            unit: Unit::Growth,
            can_switch_off: false,
            wrapper_clears: true,
            rule: Rule::AtMost,
            failure: "live bytes grew {measured}, limit {limit}",
            unmeasured_hint: Some(
                "does the suite record checkpoints with the helpers (Checkpoints.record, memtest_checkpoint)?",
            ),
            get: |l| growth(l.live_growth),
            set: |l, v| l.live_growth = v.and_then(|v| v.bytes()),
        }),
        ..plain(Criterion::LiveGrowth, "live_growth", "live growth")
    },
    Spec {
        // Judged only when the floor is known (a floors file): a run does
        // not measure it, `memtest floor` does.
        limit: Some(LimitSpec {
            key: "max_floor",
            json: "max_floor_bytes_per_call",
            unit: Unit::PerCall,
            can_switch_off: false,
            wrapper_clears: false,
            rule: Rule::AtMostIfReported,
            failure: "detection floor {measured}, limit {limit}: too blind to trust",
            unmeasured_hint: None,
            get: |l| l.max_floor.map(Value::PerCall),
            set: |l, v| l.max_floor = v.and_then(|v| v.bytes()),
        }),
        column: Some(Column {
            header: "floor",
            in_line: false,
            figure: |j| j.floor.map(Value::PerCall),
            bound: None,
        }),
        plot: Some(PlotLine::Note),
        ..plain(Criterion::Floor, "floor", "detection floor")
    },
    plain(Criterion::Regression, "regression", "baseline regression"),
    plain(
        Criterion::TooFewSamples,
        "too_few_samples",
        "too few samples",
    ),
    plain(Criterion::Wrapper, "wrapper", "wrapper findings"),
    plain(
        Criterion::CanaryWrongReason,
        "canary_wrong_reason",
        "canary caught on another criterion",
    ),
];

/// The peak limits use, marked as a lower bound when it was only sampled.
fn peak(f: &Figures) -> Value {
    match f.peak_rss_exact {
        Some(_) => Value::Size(f.peak_rss()),
        None => Value::AtLeast(f.peak_rss()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Limits;

    #[test]
    fn the_table_is_in_criterion_order_and_names_round_trip() {
        for (i, c) in Criterion::ALL.into_iter().enumerate() {
            assert_eq!(SPECS[i].criterion, c, "entry {i}");
            assert_eq!(c.name().parse::<Criterion>(), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        assert!("rss_grwth".parse::<Criterion>().is_err());
        assert!(!Criterion::catchable().any(|c| c == Criterion::CanaryWrongReason));
        assert_eq!(Criterion::catchable().count(), Criterion::ALL.len() - 1);
    }

    #[test]
    fn every_limit_is_set_and_read_back_through_its_accessors() {
        let mut limits = Limits::none();
        for (c, spec) in Criterion::limited() {
            assert_eq!((spec.get)(&limits), None, "{c}");
            let example = match spec.unit {
                Unit::Text => toml::Value::String("DONE".into()),
                Unit::Count => toml::Value::Integer(2),
                Unit::Rate => toml::Value::String("3MB/s".into()),
                _ => toml::Value::String("3MB".into()),
            };
            let value = spec.parse(&example).unwrap().unwrap();
            (spec.set)(&mut limits, Some(value.clone()));
            assert_eq!((spec.get)(&limits), Some(value), "{c}");
            (spec.set)(&mut limits, None);
            assert_eq!((spec.get)(&limits), None, "{c}");
        }
    }
}
