//! The one resolver of a suite's effective settings, after nextest's
//! `settings_for`: the built-in values, then `[defaults]`, then every
//! `[[overrides]]` entry whose filter selects the suite (later ones win),
//! then the suite's own keys (and a canary's declaration), then the profile
//! (the built-in one of its name, then the project's, after the ones it
//! inherits), then the command line. Each value keeps where it came from, so
//! `memtest show` can say so. Planning, building, preflight, `list` and
//! `show` all ask this, so no two of them can disagree on a suite's timeout,
//! limits, variant, wrapper, scale or threads.

use super::settings::{LimitsPatch, Settings, SettingsPatch};
use super::{compose_variant, suggestion, Catches, Config, Profile, Suite, DEFAULT_VARIANT};
use crate::model::{Criterion, Expect, Limits, Rule};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What the command line says about every suite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Invocation {
    /// `--profile NAME`.
    pub profile: Option<String>,
    /// `--scale X`.
    pub scale: Option<f64>,
    /// `--wrapper NAME`: over every suite's own.
    pub wrapper: Option<String>,
    /// `--duration D`: a soak by duration.
    pub duration: Option<Duration>,
    /// `--corpus DIR` (made absolute by the caller): over every suite's own.
    pub corpus: Option<String>,
    /// The command runs each suite's work once (`floor`, `explain`, `fuzz`):
    /// a duration from a profile or the command line does not apply.
    pub once: Option<&'static str>,
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Builtin,
    Defaults,
    Override {
        number: usize,
        /// The filter as written, e.g. `runtime = "rust"`.
        filter: String,
    },
    /// The suite's own table.
    Suite,
    /// A canary's declaration (on its suite, in `[defaults]` or an override).
    Canary(Box<Source>),
    Profile {
        name: String,
        /// The built-in profile of that name, not the project's table.
        builtin: bool,
    },
    CommandLine,
    /// Computed from other values (a canary's `catches` from its limits).
    Derived,
    /// A canary's scale held at `canary_scale`, set where this says.
    CanaryScale(Box<Source>),
    /// The wrapper the suite runs under (it clears RSS and VMS limits).
    Wrapper(String),
    /// A canary runs its work once in a soak: it only has to be caught.
    CanaryOnce,
    /// The command (`floor`, `explain`, `fuzz`) runs each suite's work once.
    CommandOnce(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin => f.write_str("built-in"),
            Source::Defaults => f.write_str("[defaults]"),
            Source::Override { number, filter } => write!(f, "override #{number} ({filter})"),
            Source::Suite => f.write_str("suite"),
            Source::Canary(declared) => write!(f, "canary, declared in {declared}"),
            Source::Profile {
                name,
                builtin: true,
            } => write!(f, "profile {name} (built-in)"),
            Source::Profile { name, .. } => write!(f, "profile {name}"),
            Source::CommandLine => f.write_str("command line"),
            Source::Derived => f.write_str("derived from the limits"),
            Source::CanaryScale(at) => write!(f, "canary_scale, from {at}"),
            Source::Wrapper(name) => write!(f, "wrapper {name}"),
            Source::CanaryOnce => f.write_str("a canary runs once, not for a duration"),
            Source::CommandOnce(command) => {
                write!(
                    f,
                    "memtest {command} runs a suite's work once, not for a duration"
                )
            }
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

fn builtin<T>(value: T) -> Sourced<T> {
    Sourced {
        value,
        source: Source::Builtin,
    }
}

/// A suite's effective settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The suite's timeout as set, before any factor.
    pub timeout: Sourced<Duration>,
    pub timeout_factor: Sourced<f64>,
    /// The wrapper's own factor (1 without a wrapper).
    pub wrapper_timeout_factor: f64,
    /// What the run allows: `timeout` times `timeout_factor` times the
    /// wrapper's factor, plus `duration` for a soak (the last pass starts
    /// before the duration is up and may take a whole pass's time).
    pub run_timeout: Duration,
    /// A soak by duration: the suite repeats its work until it is up.
    pub duration: Sourced<Option<Duration>>,
    pub grace: Sourced<Duration>,
    pub sample_interval: Sourced<Duration>,
    /// MEMTEST_SCALE: a canary's held at `canary_scale`.
    pub scale: Sourced<f64>,
    pub canary_scale: Sourced<Option<f64>>,
    pub threads: Sourced<u32>,
    /// The build variant it runs against, composed with the wrapper's.
    pub variant: Sourced<String>,
    pub wrapper: Sourced<Option<String>>,
    /// The folder of inputs the suite streams (MEMTEST_CORPUS), as written:
    /// relative to memtest.toml, a template; `None`: the suite takes none.
    pub corpus: Sourced<Option<String>>,
    /// The limits as set, before a wrapper clears RSS and VMS ones.
    pub limits: Limits,
    /// Where each limit key's value came from.
    pub limit_sources: BTreeMap<&'static str, Source>,
    /// What the suite is judged by: `limits`, less those a wrapper clears.
    pub judged_limits: Limits,
    /// For a suite expected to fail: what it must fail on (empty: anything).
    pub catches: Sourced<Vec<Criterion>>,
}

impl Resolved {
    /// The wrapper the suite runs under, as declared.
    pub fn wrapper_in<'c>(&self, config: &'c Config) -> Option<&'c super::Wrapper> {
        // `resolve` refused an unknown wrapper.
        self.wrapper
            .value
            .as_ref()
            .and_then(|w| config.wrappers.get(w))
    }
}

/// A selected suite with its effective settings for this run: what every
/// stage after selection reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSuite<'c> {
    pub suite: &'c Suite,
    pub settings: Resolved,
}

/// Every suite of `suites`, resolved for `inv`.
pub fn resolve_all<'c>(
    config: &Config,
    suites: &[&'c Suite],
    inv: &Invocation,
) -> Result<Vec<ResolvedSuite<'c>>, ResolveError> {
    suites
        .iter()
        .map(|suite| {
            Ok(ResolvedSuite {
                suite,
                settings: resolve(config, Some(suite), inv)?,
            })
        })
        .collect()
}

/// A name the command line or a profile's chain gives that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("no profile `{name}` in {}{}", path.display(), hint_suffix(hint))]
    UnknownProfile {
        name: String,
        path: PathBuf,
        hint: Option<String>,
    },
    #[error("no wrapper `{name}` in memtest.toml{}", hint_suffix(hint))]
    UnknownWrapper { name: String, hint: Option<String> },
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

/// The layers over the built-ins, in the order they apply.
fn layers<'c>(
    config: &'c Config,
    suite: Option<&'c Suite>,
    inv: &Invocation,
) -> Result<Vec<(Source, std::borrow::Cow<'c, SettingsPatch>)>, ResolveError> {
    use std::borrow::Cow;
    let mut out = vec![(Source::Defaults, Cow::Borrowed(&config.defaults))];
    if let Some(suite) = suite {
        for o in config.overrides.iter().filter(|o| o.filter.matches(suite)) {
            let source = Source::Override {
                number: o.number,
                filter: o.filter.to_string(),
            };
            out.push((source, Cow::Borrowed(&o.settings)));
        }
        for (source, patch) in &suite.own {
            out.push((source.clone(), Cow::Borrowed(patch)));
        }
    }
    if let Some(name) = &inv.profile {
        for (name, profile) in profile_chain(config, name)? {
            for (builtin, patch) in [(true, &profile.builtin), (false, &profile.own)] {
                let source = Source::Profile {
                    name: name.to_string(),
                    builtin,
                };
                out.push((source, Cow::Borrowed(patch)));
            }
        }
    }
    let command_line = SettingsPatch {
        scale: inv.scale,
        wrapper: inv.wrapper.clone(),
        duration: inv.duration,
        corpus: inv.corpus.clone(),
        ..SettingsPatch::default()
    };
    out.push((Source::CommandLine, Cow::Owned(command_line)));
    Ok(out)
}

/// `name` and the profiles it inherits, the first applied first.
fn profile_chain<'c>(
    config: &'c Config,
    name: &str,
) -> Result<Vec<(&'c str, &'c Profile)>, ResolveError> {
    let (key, profile) =
        config
            .profiles
            .get_key_value(name)
            .ok_or_else(|| ResolveError::UnknownProfile {
                name: name.to_string(),
                path: config.path.clone(),
                hint: suggestion(name, "profiles", config.profiles.keys().map(String::as_str)),
            })?;
    let mut chain = vec![(key.as_str(), profile)];
    // Validation guarantees the chain ends and names known profiles.
    let mut next = profile.inherit.as_deref();
    while let Some((key, p)) = next.and_then(|n| config.profiles.get_key_value(n)) {
        if chain.len() > config.profiles.len() {
            break;
        }
        chain.push((key.as_str(), p));
        next = p.inherit.as_deref();
    }
    chain.reverse();
    Ok(chain)
}

/// `suite`'s settings (or, without a suite, the run-wide ones) for `inv`.
pub fn resolve(
    config: &Config,
    suite: Option<&Suite>,
    inv: &Invocation,
) -> Result<Resolved, ResolveError> {
    let base = Settings::default();
    let mut timeout = builtin(base.timeout);
    let mut timeout_factor = builtin(base.timeout_factor);
    let mut grace = builtin(base.grace);
    let mut sample_interval = builtin(base.sample_interval);
    let mut scale = builtin(base.scale);
    let mut canary_scale = builtin(base.canary_scale);
    let mut threads = builtin(base.threads);
    let mut duration = builtin(base.duration);
    let mut variant = builtin(DEFAULT_VARIANT.to_string());
    let mut wrapper: Sourced<Option<String>> = builtin(None);
    let mut corpus: Sourced<Option<String>> = builtin(None);
    let mut limits = base.limits;
    let mut limit_sources: BTreeMap<&'static str, Source> = BTreeMap::new();
    for (source, patch) in layers(config, suite, inv)? {
        let p: &SettingsPatch = &patch;
        take(&mut timeout, p.timeout, &source);
        take(&mut timeout_factor, p.timeout_factor, &source);
        take(&mut grace, p.grace, &source);
        take(&mut sample_interval, p.sample_interval, &source);
        take(&mut scale, p.scale, &source);
        take(&mut canary_scale, p.canary_scale.map(Some), &source);
        take(&mut threads, p.threads, &source);
        take(&mut duration, p.duration.map(Some), &source);
        take(&mut variant, p.variant.clone(), &source);
        take(&mut wrapper, p.wrapper.clone().map(Some), &source);
        take(&mut corpus, p.corpus.clone().map(Some), &source);
        apply_limits(&mut limits, &mut limit_sources, &p.limits, &source);
    }
    let wrapper_def = match &wrapper.value {
        None => None,
        Some(name) => {
            Some(
                config
                    .wrappers
                    .get(name)
                    .ok_or_else(|| ResolveError::UnknownWrapper {
                        name: name.clone(),
                        hint: suggestion(
                            name,
                            "wrappers",
                            config.wrappers.keys().map(String::as_str),
                        ),
                    })?,
            )
        }
    };
    variant.value = compose_variant(
        &variant.value,
        wrapper_def.and_then(|w| w.variant.as_deref()),
    );
    let expect = suite.map_or(Expect::Pass, |s| s.expect);
    if let (Expect::Fail, Some(cap)) = (expect, canary_scale.value) {
        if cap < scale.value {
            scale = Sourced {
                value: cap,
                source: Source::CanaryScale(Box::new(canary_scale.source.clone())),
            };
        }
    }
    if expect == Expect::Fail && duration.value.is_some() {
        duration = Sourced {
            value: None,
            source: Source::CanaryOnce,
        };
    }
    if let (Some(command), Some(_)) = (inv.once, duration.value) {
        duration = Sourced {
            value: None,
            source: Source::CommandOnce(command),
        };
    }
    let wrapper_timeout_factor = wrapper_def.map_or(1.0, |w| w.timeout_factor);
    let mut judged_limits = limits.clone();
    if wrapper_def.is_some() {
        clear_tool_dominated(&mut judged_limits);
    }
    let catches = match suite.map(|s| &s.catches) {
        None | Some(Catches::Any) => builtin(Vec::new()),
        Some(Catches::Listed(source, list)) => Sourced {
            value: list.clone(),
            source: source.clone(),
        },
        Some(Catches::Derived) => Sourced {
            value: derived_catches(&limits),
            source: Source::Derived,
        },
    };
    Ok(Resolved {
        run_timeout: timeout
            .value
            .mul_f64(timeout_factor.value * wrapper_timeout_factor)
            + duration.value.unwrap_or_default(),
        duration,
        wrapper_timeout_factor,
        timeout,
        timeout_factor,
        grace,
        sample_interval,
        scale,
        canary_scale,
        threads,
        variant,
        wrapper,
        corpus,
        limits,
        limit_sources,
        judged_limits,
        catches,
    })
}

fn take<T>(slot: &mut Sourced<T>, value: Option<T>, source: &Source) {
    if let Some(value) = value {
        *slot = Sourced {
            value,
            source: source.clone(),
        };
    }
}

fn apply_limits(
    limits: &mut Limits,
    sources: &mut BTreeMap<&'static str, Source>,
    patch: &LimitsPatch,
    source: &Source,
) {
    patch.apply(limits);
    for key in patch.keys() {
        sources.insert(key, source.clone());
    }
}

/// Under a wrapper the sampled memory is mostly the tool's own (valgrind's
/// shadow memory, heaptrack's recorder), so RSS and VMS limits would judge
/// the tool: they are cleared. The exact checks stay: exit, marker, native
/// leaks, and the wrapper's own findings.
fn clear_tool_dominated(limits: &mut Limits) {
    for (_, spec) in Criterion::limited().filter(|(_, l)| l.wrapper_clears) {
        (spec.set)(limits, None);
    }
}

/// A canary's `catches` when it names none: every memory criterion its
/// suite has a limit for, and `native_leaks` while that check is on. A
/// canary counts as caught when it fails on any one of them, so each must be
/// a way the suite sees a leak: a crash or a timeout is not among them (a
/// canary whose suite catches a leak only by its own exit status, or that
/// sets no memory limit and reports no native count, lists `catches`).
pub fn derived_catches(limits: &Limits) -> Vec<Criterion> {
    // Every limit the table judges by a figure: not the marker, which a
    // crash also trips.
    Criterion::limited()
        .filter(|(_, l)| l.rule != Rule::Printed)
        // The floor judges how blind the suite is, not whether it saw this
        // canary's leak.
        .filter(|(c, _)| *c != Criterion::Floor)
        .filter(|(_, l)| (l.get)(limits).is_some())
        .map(|(c, _)| c)
        .collect()
}
