//! Collects every problem found in one memtest.toml, each with its span,
//! and checks the values every table shares (sizes, rates, durations,
//! fractions, the settings of `[defaults]`, profiles and overrides).

use super::diag::{suggestion, Diagnostic};
use super::raw::{RawLimits, RawSettings, Text, Written};
use super::settings::{LimitsPatch, SettingsPatch};
use super::{Build, Wrapper};
use crate::model::Criterion;
use crate::units::parse_duration;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Collects diagnostics against one source text.
pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
    problems: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(text: &'a str, path: &'a Path) -> Checker<'a> {
        Checker {
            text,
            path,
            problems: Vec::new(),
        }
    }

    /// `path:line:col` of `span`, for one-line mentions.
    pub(super) fn location(&self, span: Range<usize>) -> String {
        Diagnostic::new(self.path, self.text, Some(span), "", None).location()
    }

    pub(super) fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let d = Diagnostic::new(self.path, self.text, Some(span), message, hint);
        self.problems.push(d);
    }

    pub(super) fn duration(&mut self, value: &Option<Text>, key: &str) -> Option<Duration> {
        let v = value.as_ref()?;
        let d = self.unit(v, key, parse_duration)?;
        if d.is_zero() {
            self.error(v.span(), format!("`{key}` must be longer than zero"), None);
            return None;
        }
        Some(d)
    }

    fn unit<T, E: std::fmt::Display>(
        &mut self,
        v: &Text,
        key: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Option<T> {
        match parse(v.get_ref()) {
            Ok(x) => Some(x),
            Err(e) => {
                self.error(v.span(), format!("invalid `{key}`"), Some(e.to_string()));
                None
            }
        }
    }

    /// A fraction of the run: `0 <= x < 1` (or `0 < x <= 1` for windows).
    pub(super) fn fraction(
        &mut self,
        v: &Option<Spanned<f64>>,
        key: &str,
        window: bool,
    ) -> Option<f64> {
        let v = v.as_ref()?;
        let x = *v.get_ref();
        let ok = if window {
            x > 0.0 && x <= 1.0
        } else {
            (0.0..1.0).contains(&x)
        };
        if !ok {
            let range = if window { "0 < x <= 1" } else { "0 <= x < 1" };
            let hint = format!("a fraction of the run, {range}, e.g. 0.2");
            self.error(v.span(), format!("`{key}` out of range"), Some(hint));
            return None;
        }
        Some(x)
    }

    pub(super) fn positive(&mut self, v: &Option<Spanned<f64>>, key: &str) -> Option<f64> {
        let v = v.as_ref()?;
        let x = *v.get_ref();
        if !(x.is_finite() && x > 0.0) {
            self.error(v.span(), format!("`{key}` must be a positive number"), None);
            return None;
        }
        Some(x)
    }

    /// A fraction written as a limit (`warmup`, `slope_window`): a number
    /// in range, or reported.
    fn written_fraction(&mut self, v: &Written, key: &str, window: bool) -> Option<f64> {
        let x = match v.get_ref() {
            toml::Value::Float(x) => *x,
            toml::Value::Integer(n) => *n as f64,
            _ => f64::NAN,
        };
        self.fraction(&Some(Spanned::new(v.span(), x)), key, window)
    }

    /// Each limit read by its criterion's entry in the table; the two
    /// fractions that shape the measuring (`warmup`, `slope_window`) are
    /// not criteria and are read here.
    pub(super) fn limits(&mut self, raw: &RawLimits) -> LimitsPatch {
        let mut patch = LimitsPatch::default();
        for (key, value) in &raw.entries {
            match key.get_ref().as_str() {
                "slope_window" => {
                    patch.slope_window = self.written_fraction(value, "slope_window", true)
                }
                "warmup" => patch.warmup = self.written_fraction(value, "warmup", false),
                name => match Criterion::by_limit_key(name) {
                    Some((criterion, spec)) => match spec.parse(value.get_ref()) {
                        Ok(limit) => {
                            patch.values.insert(criterion, limit);
                        }
                        Err(e) => self.error(value.span(), e.message, Some(e.hint)),
                    },
                    None => {
                        let keys: Vec<&str> = Criterion::limited()
                            .map(|(_, l)| l.key)
                            .chain(["slope_window", "warmup"])
                            .collect();
                        let hint = suggestion(name, "limits", keys);
                        self.error(key.span(), format!("unknown limit `{name}`"), hint);
                    }
                },
            }
        }
        patch
    }

    /// `[defaults]` or a profile: the settings keys and the limits, spelled
    /// out at the top level. (`inherit` and `canaries` are taken first by
    /// the caller, which knows whether they belong.)
    pub(super) fn settings(&mut self, mut raw: RawSettings) -> SettingsPatch {
        let limits = raw.take_limits();
        SettingsPatch {
            timeout: self.duration(&raw.timeout, "timeout"),
            grace: self.duration(&raw.grace, "grace"),
            sample_interval: self.duration(&raw.sample_interval, "sample_interval"),
            scale: self.positive(&raw.scale, "scale"),
            canary_scale: self.positive(&raw.canary_scale, "canary_scale"),
            timeout_factor: self.positive(&raw.timeout_factor, "timeout_factor"),
            threads: self.threads(raw.threads.as_ref()),
            duration: self.duration(&raw.duration, "duration"),
            variant: None,
            wrapper: None,
            corpus: None,
            limits: self.limits(&limits),
        }
    }

    pub(super) fn threads(&mut self, threads: Option<&Spanned<u32>>) -> Option<u32> {
        let t = threads?;
        if *t.get_ref() == 0 {
            let hint = "the threads the suite keeps busy: 1 or more";
            self.error(t.span(), "`threads` must be at least 1", Some(hint.into()));
            return None;
        }
        Some(*t.get_ref())
    }

    /// A suite's (or canary's) name: it becomes a log file's name.
    pub(super) fn suite_name(&mut self, name: &Text) {
        let text = name.get_ref();
        let valid_chars = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.');
        if text.is_empty() || !text.chars().all(valid_chars) || text.starts_with('.') {
            let hint = "use letters, digits, '-', '_' and '.': the name becomes a log file name";
            self.error(
                name.span(),
                format!("invalid suite name `{text}`"),
                Some(hint.into()),
            );
        }
    }

    /// `Some(name)` when the variant exists (`None`: reported).
    pub(super) fn variant(&mut self, v: &Text, build: Option<&Build>) -> Option<String> {
        let Some(build) = build else {
            let hint =
                "variants are builds of the library: add a [build] with [build.variants.NAME]";
            self.error(v.span(), "a variant needs a [build]", Some(hint.into()));
            return None;
        };
        if build.variants.contains_key(v.get_ref()) {
            return Some(v.get_ref().clone());
        }
        let known = build.variants.keys().map(String::as_str);
        let hint = suggestion(v.get_ref(), "variants", known)
            .or_else(|| Some(format!("define [build.variants.{}]", v.get_ref())));
        self.error(v.span(), format!("unknown variant `{}`", v.get_ref()), hint);
        None
    }

    /// Reports `w` unless it names a wrapper.
    pub(super) fn wrapper(&mut self, w: &Text, wrappers: &BTreeMap<String, Wrapper>) {
        if !wrappers.contains_key(w.get_ref()) {
            let known = wrappers.keys().map(String::as_str);
            let hint = suggestion(w.get_ref(), "wrappers", known)
                .or_else(|| Some(format!("define [wrappers.{}]", w.get_ref())));
            self.error(w.span(), format!("unknown wrapper `{}`", w.get_ref()), hint);
        }
    }

    /// What a canary must fail on, by criterion name.
    pub(super) fn catches(&mut self, catches: &[Text]) -> Vec<Criterion> {
        catches
            .iter()
            .filter_map(|name| match name.get_ref().parse::<Criterion>() {
                Ok(criterion) if criterion != Criterion::CanaryWrongReason => Some(criterion),
                _ => {
                    let names: Vec<&str> = Criterion::catchable().map(Criterion::name).collect();
                    let hint = suggestion(name.get_ref(), "criteria", names.iter().copied())
                        .or_else(|| Some(format!("criteria: {}", names.join(", "))));
                    let message = format!("unknown criterion `{}` in `catches`", name.get_ref());
                    self.error(name.span(), message, hint);
                    None
                }
            })
            .collect()
    }

    /// Problems found so far: a caller marks where its own begin, to add
    /// context to them (see [`Checker::note_since`]).
    pub(super) fn mark(&self) -> usize {
        self.problems.len()
    }

    /// Appends `context` to the message of every problem found since `mark`
    /// (an override's values are named with the override they are in).
    pub(super) fn note_since(&mut self, mark: usize, context: &str) {
        for d in &mut self.problems[mark..] {
            d.message = format!("{} ({context})", d.message);
        }
    }

    /// Every problem, in file order, as a reader fixes them top to bottom;
    /// `None` when there is none.
    pub(super) fn finish(mut self) -> Option<Vec<Diagnostic>> {
        if self.problems.is_empty() {
            return None;
        }
        self.problems.sort_by_key(|d| (d.line, d.col));
        Some(self.problems)
    }
}
