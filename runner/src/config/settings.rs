//! The settings a suite is run and judged by, as each layer of memtest.toml
//! writes them: [`SettingsPatch`] is one layer (`[defaults]`, an override, a
//! suite, a profile, the command line), every field optional; [`Settings`]
//! is the built-in bottom layer, every field set. The resolver
//! (`resolve.rs`) lays the patches over it in order.

use crate::model::{Criterion, Limits};
use crate::units::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The built-in value of every setting: what applies where no layer of
/// memtest.toml says otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub timeout: Duration,
    pub grace: Duration,
    pub sample_interval: Duration,
    /// MEMTEST_SCALE: multiplies every suite's iteration counts.
    pub scale: f64,
    /// The largest scale a canary runs at (`None`: the run's scale). A
    /// canary only has to be caught, and a leak caught at a small scale is
    /// caught at any larger one (it grows with the work), so running it at
    /// full scale buys no proof and costs the longest suites' time again.
    pub canary_scale: Option<f64>,
    /// Multiplies the suite's timeout (a soak profile runs longer).
    pub timeout_factor: f64,
    /// Threads the suite keeps busy (its share of `--jobs`).
    pub threads: u32,
    /// A soak by duration: the suite repeats its work until this much time
    /// has passed (`None`: its fixed count of iterations, once).
    pub duration: Option<Duration>,
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_secs(120),
            grace: Duration::from_secs(3),
            sample_interval: Duration::from_millis(10),
            scale: 1.0,
            canary_scale: None,
            timeout_factor: 1.0,
            threads: 1,
            duration: None,
            limits: Limits::default(),
        }
    }
}

/// What one layer sets; `None` keeps the value below it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch {
    pub timeout: Option<Duration>,
    pub grace: Option<Duration>,
    pub sample_interval: Option<Duration>,
    pub scale: Option<f64>,
    pub canary_scale: Option<f64>,
    pub timeout_factor: Option<f64>,
    pub threads: Option<u32>,
    /// A soak by duration (`[defaults]`, profiles and the command line).
    pub duration: Option<Duration>,
    /// The library variant (overrides, suites and canaries only).
    pub variant: Option<String>,
    /// The wrapper (overrides, suites and the command line only).
    pub wrapper: Option<String>,
    /// The folder of inputs (MEMTEST_CORPUS) as written: relative to
    /// memtest.toml, a template (suites and the command line only).
    pub corpus: Option<String>,
    pub limits: LimitsPatch,
}

impl SettingsPatch {
    /// This patch with `top`'s settings over it (a project's profile over
    /// the built-in one of the same name).
    pub fn overlay(&self, top: &SettingsPatch) -> SettingsPatch {
        SettingsPatch {
            timeout: top.timeout.or(self.timeout),
            grace: top.grace.or(self.grace),
            sample_interval: top.sample_interval.or(self.sample_interval),
            scale: top.scale.or(self.scale),
            canary_scale: top.canary_scale.or(self.canary_scale),
            timeout_factor: top.timeout_factor.or(self.timeout_factor),
            threads: top.threads.or(self.threads),
            duration: top.duration.or(self.duration),
            variant: top.variant.clone().or_else(|| self.variant.clone()),
            wrapper: top.wrapper.clone().or_else(|| self.wrapper.clone()),
            corpus: top.corpus.clone().or_else(|| self.corpus.clone()),
            limits: self.limits.overlay(&top.limits),
        }
    }
}

/// Limits one layer sets; a criterion absent from `values` keeps the limit
/// below it, and `Some(None)` there switches the check off
/// (`native_leaks = false`). Keyed by criterion: what each limit means, and
/// how it is set on [`Limits`], is the criterion table's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitsPatch {
    pub values: BTreeMap<Criterion, Option<Value>>,
    pub slope_window: Option<f64>,
    pub warmup: Option<f64>,
}

impl LimitsPatch {
    /// This patch with `top`'s settings over it (a canary's over its suite's).
    pub fn overlay(&self, top: &LimitsPatch) -> LimitsPatch {
        let mut values = self.values.clone();
        values.extend(top.values.iter().map(|(c, v)| (*c, v.clone())));
        LimitsPatch {
            values,
            slope_window: top.slope_window.or(self.slope_window),
            warmup: top.warmup.or(self.warmup),
        }
    }

    pub fn apply(&self, limits: &mut Limits) {
        for (criterion, value) in &self.values {
            if let Some(spec) = &criterion.spec().limit {
                (spec.set)(limits, value.clone());
            }
        }
        set(&mut limits.slope_window, self.slope_window);
        set(&mut limits.warmup, self.warmup);
    }

    /// The limit this patch sets for `criterion` (`Some(None)`: switched off).
    pub fn get(&self, criterion: Criterion) -> Option<Option<&Value>> {
        self.values.get(&criterion).map(Option::as_ref)
    }

    /// The keys (as memtest.toml spells them) this patch sets, in the table's
    /// order, so the resolver can say which layer each limit came from.
    pub fn keys(&self) -> Vec<&'static str> {
        Criterion::limited()
            .filter(|(c, _)| self.values.contains_key(c))
            .map(|(_, spec)| spec.key)
            .chain(self.slope_window.map(|_| "slope_window"))
            .chain(self.warmup.map(|_| "warmup"))
            .collect()
    }
}

/// Every limit key with its value as `show` prints it (`-` when the check is
/// off), in the table's order, then the two fractions that shape measuring.
pub fn limit_entries(limits: &Limits) -> Vec<(&'static str, String)> {
    Criterion::limited()
        .map(|(_, spec)| {
            let value = (spec.get)(limits).map_or_else(|| "-".to_string(), |v| v.to_string());
            (spec.key, value)
        })
        .chain([
            ("slope_window", limits.slope_window.to_string()),
            ("warmup", limits.warmup.to_string()),
        ])
        .collect()
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Bytes;

    #[test]
    fn limits_patch_keeps_what_it_does_not_set_and_names_what_it_sets() {
        let mut limits = Limits::default();
        let patch = LimitsPatch {
            values: [
                (Criterion::PeakRss, Some(Value::Size(Bytes(5)))),
                (Criterion::MarkerMissing, None),
            ]
            .into(),
            ..LimitsPatch::default()
        };
        patch.apply(&mut limits);
        assert_eq!(limits.peak_rss, Some(Bytes(5)));
        assert_eq!(limits.marker, None);
        assert_eq!(limits.native_leaks, Some(0));
        assert_eq!(limits.warmup, Limits::default().warmup);
        assert_eq!(patch.keys(), ["marker", "peak_rss"]);
        let keys: Vec<&str> = limit_entries(&limits).iter().map(|(k, _)| *k).collect();
        assert!(patch.keys().iter().all(|k| keys.contains(k)));
    }

    #[test]
    fn overlay_takes_the_top_where_it_speaks() {
        let base = SettingsPatch {
            scale: Some(0.1),
            sample_interval: Some(Duration::from_millis(20)),
            ..SettingsPatch::default()
        };
        let top = SettingsPatch {
            scale: Some(1.0),
            ..SettingsPatch::default()
        };
        let both = base.overlay(&top);
        assert_eq!(both.scale, Some(1.0));
        assert_eq!(both.sample_interval, Some(Duration::from_millis(20)));
    }
}
