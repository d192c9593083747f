//! A suite's effective settings, computed in one place from defaults,
//! profile, suite and wrapper: the timeout and limits it is judged by, the
//! build variant it runs against and the scale it runs at. `plan` builds jobs
//! with them and `list` shows them.

use super::jobs::PlanError;
use crate::config::{compose_variant, suggestion, Config, Settings, Suite, Wrapper};
use crate::model::{Criterion, Expect, Limits};
use std::time::Duration;

/// A suite's effective settings: what a run uses, and what `list` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'c> {
    /// The suite's timeout (or the default), times the profile's and the
    /// wrapper's factors.
    pub timeout: Duration,
    pub limits: Limits,
    pub wrapper: Option<&'c Wrapper>,
}

/// Defaults, profile, suite and wrapper, in that order. Under a wrapper the
/// sampled memory is mostly the tool's own (valgrind's shadow memory,
/// heaptrack's recorder), so RSS and VMS limits would judge the tool: the
/// criteria the table marks `wrapper_clears` are cleared. The exact checks
/// stay: exit, marker, native leaks, and the wrapper's own findings.
pub fn resolve<'c>(
    config: &'c Config,
    suite: &Suite,
    settings: &Settings,
    wrapper_override: Option<&str>,
) -> Result<Resolved<'c>, PlanError> {
    let wrapper = match wrapper_override.or(suite.wrapper.as_deref()) {
        None => None,
        Some(name) => Some(
            config
                .wrappers
                .get(name)
                .ok_or_else(|| PlanError::UnknownWrapper {
                    name: name.to_string(),
                    hint: suggestion(name, "wrappers", config.wrappers.keys().map(String::as_str)),
                })?,
        ),
    };
    let mut timeout = suite
        .timeout
        .unwrap_or(settings.timeout)
        .mul_f64(settings.timeout_factor);
    let mut limits = settings.limits.clone();
    suite.limits.apply(&mut limits);
    if let Some(w) = wrapper {
        timeout = timeout.mul_f64(w.timeout_factor);
        for (_, spec) in Criterion::limited().filter(|(_, l)| l.wrapper_clears) {
            (spec.set)(&mut limits, None);
        }
    }
    Ok(Resolved {
        timeout,
        limits,
        wrapper,
    })
}

/// The build variant `suite` runs against: its own, composed with the
/// variant of the wrapper it runs under (`wrapper`, else its own), if that
/// wrapper names one. An unknown wrapper adds nothing here: `resolve` says
/// so when the run is planned.
pub fn variant_of(config: &Config, suite: &Suite, wrapper: Option<&str>) -> String {
    let extra = wrapper
        .or(suite.wrapper.as_deref())
        .and_then(|name| config.wrappers.get(name))
        .and_then(|w| w.variant.as_deref());
    compose_variant(suite.variant(), extra)
}

/// The scale `suite` runs at: the run's, but a canary's at most
/// `canary_scale` (it only has to be caught).
pub fn scale_of(suite: &Suite, settings: &Settings, run_scale: f64) -> f64 {
    match (suite.expect, settings.canary_scale) {
        (Expect::Fail, Some(cap)) => run_scale.min(cap),
        _ => run_scale,
    }
}
