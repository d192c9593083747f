//! The settings a suite is run and judged by, as each layer of memtest.toml
//! writes them: [`SettingsPatch`] is one layer (`[defaults]`, an override, a
//! suite, a profile, the command line), every field optional; [`Settings`]
//! is the built-in bottom layer, every field set. The resolver
//! (`resolve.rs`) lays the patches over it in order.

use crate::model::Limits;
use crate::units::{Bytes, BytesPerSec};
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
    /// The library variant (overrides, suites and canaries only).
    pub variant: Option<String>,
    /// The wrapper (overrides, suites and the command line only).
    pub wrapper: Option<String>,
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
            variant: top.variant.clone().or_else(|| self.variant.clone()),
            wrapper: top.wrapper.clone().or_else(|| self.wrapper.clone()),
            limits: self.limits.overlay(&top.limits),
        }
    }
}

/// Limits one layer sets; `None` keeps the value below it. For
/// `native_leaks` and `marker`, `Some(None)` switches the check off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitsPatch {
    pub rss_growth: Option<Bytes>,
    pub vms_growth: Option<Bytes>,
    pub peak_rss: Option<Bytes>,
    pub slope: Option<BytesPerSec>,
    pub slope_per_op: Option<Bytes>,
    pub slope_window: Option<f64>,
    pub warmup: Option<f64>,
    pub native_leaks: Option<Option<u64>>,
    pub marker: Option<Option<String>>,
}

impl LimitsPatch {
    /// This patch with `top`'s settings over it (a canary's over its suite's).
    pub fn overlay(&self, top: &LimitsPatch) -> LimitsPatch {
        LimitsPatch {
            rss_growth: top.rss_growth.or(self.rss_growth),
            vms_growth: top.vms_growth.or(self.vms_growth),
            peak_rss: top.peak_rss.or(self.peak_rss),
            slope: top.slope.or(self.slope),
            slope_per_op: top.slope_per_op.or(self.slope_per_op),
            slope_window: top.slope_window.or(self.slope_window),
            warmup: top.warmup.or(self.warmup),
            native_leaks: top.native_leaks.or(self.native_leaks),
            marker: top.marker.clone().or_else(|| self.marker.clone()),
        }
    }

    pub fn apply(&self, limits: &mut Limits) {
        set_some(&mut limits.rss_growth, self.rss_growth);
        set_some(&mut limits.vms_growth, self.vms_growth);
        set_some(&mut limits.peak_rss, self.peak_rss);
        set_some(&mut limits.slope, self.slope);
        set_some(&mut limits.slope_per_op, self.slope_per_op);
        set(&mut limits.slope_window, self.slope_window);
        set(&mut limits.warmup, self.warmup);
        set(&mut limits.native_leaks, self.native_leaks);
        set(&mut limits.marker, self.marker.clone());
    }

    /// The keys (as memtest.toml spells them) this patch sets, so the
    /// resolver can say which layer each limit came from.
    pub fn keys(&self) -> Vec<&'static str> {
        let set = [
            ("rss_growth", self.rss_growth.is_some()),
            ("vms_growth", self.vms_growth.is_some()),
            ("peak_rss", self.peak_rss.is_some()),
            ("slope", self.slope.is_some()),
            ("slope_per_op", self.slope_per_op.is_some()),
            ("slope_window", self.slope_window.is_some()),
            ("warmup", self.warmup.is_some()),
            ("native_leaks", self.native_leaks.is_some()),
            ("marker", self.marker.is_some()),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(k, _)| k)
            .collect()
    }
}

/// Every limit key with its value as `show` prints it (`-` when the check is
/// off), in the order memtest.toml documents them.
pub fn limit_entries(limits: &Limits) -> Vec<(&'static str, String)> {
    fn or_off<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
    }
    vec![
        ("rss_growth", or_off(&limits.rss_growth)),
        ("vms_growth", or_off(&limits.vms_growth)),
        ("peak_rss", or_off(&limits.peak_rss)),
        ("slope", or_off(&limits.slope)),
        (
            "slope_per_op",
            or_off(&limits.slope_per_op.map(|b| format!("{b}/op"))),
        ),
        ("slope_window", limits.slope_window.to_string()),
        ("warmup", limits.warmup.to_string()),
        ("native_leaks", or_off(&limits.native_leaks)),
        ("marker", or_off(&limits.marker)),
    ]
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn set_some<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_patch_keeps_what_it_does_not_set_and_names_what_it_sets() {
        let mut limits = Limits::default();
        let patch = LimitsPatch {
            peak_rss: Some(Bytes(5)),
            marker: Some(None),
            ..LimitsPatch::default()
        };
        patch.apply(&mut limits);
        assert_eq!(limits.peak_rss, Some(Bytes(5)));
        assert_eq!(limits.marker, None);
        assert_eq!(limits.native_leaks, Some(0));
        assert_eq!(limits.warmup, Limits::default().warmup);
        assert_eq!(patch.keys(), ["peak_rss", "marker"]);
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
