//! Canaries: checked once where they are declared (on a suite, in
//! `[defaults]` or in an override), then expanded into a suite of their own
//! for each suite they belong to. A canary is its suite again, inheriting
//! everything it does not set, so a limit changed on a suite can never
//! silently diverge from its canary's. Without `name` it is called
//! `<suite>-canary-<variant or mode>`; without `catches` it must fail on one
//! of the memory criteria its suite is judged on (see
//! `resolve::derived_catches`).

use super::checker::Checker;
use super::raw::RawCanary;
use super::resolve::Source;
use super::settings::{LimitsPatch, SettingsPatch};
use super::{Build, Catches, Suite};
use crate::model::{Criterion, Expect};
use std::ops::Range;
use toml::Spanned;

/// A checked canary declaration, not yet tied to a suite.
#[derive(Debug, Clone)]
pub(super) struct CanarySpec {
    /// The declaration's inline table.
    pub span: Range<usize>,
    name: Option<(String, Range<usize>)>,
    variant: Option<String>,
    mode: Option<String>,
    env: Vec<(String, String)>,
    catches: Option<Vec<Criterion>>,
    description: Option<String>,
    tags: Vec<String>,
    limits: LimitsPatch,
    /// Where it is declared: its suite, `[defaults]` or an override.
    declared: Source,
}

/// Checks the canaries declared in one place. `of`: the suite they are
/// declared on, for messages.
pub(super) fn check(
    c: &mut Checker<'_>,
    raw: Vec<Spanned<RawCanary>>,
    declared: &Source,
    of: Option<&str>,
    build: Option<&Build>,
) -> Vec<CanarySpec> {
    raw.into_iter()
        .filter_map(|raw| check_one(c, raw, declared, of, build))
        .collect()
}

fn check_one(
    c: &mut Checker<'_>,
    raw: Spanned<RawCanary>,
    declared: &Source,
    of: Option<&str>,
    build: Option<&Build>,
) -> Option<CanarySpec> {
    let span = raw.span();
    let raw = raw.into_inner();
    if raw.variant.is_none() && raw.mode.is_none() && raw.env.is_empty() {
        let hint = "set variant = \"<leaky build>\", mode = \"<MEMTEST_CANARY value>\" or env";
        let message = match of {
            Some(suite) => format!("a canary of `{suite}` that changes nothing"),
            None => "a canary that changes nothing".to_string(),
        };
        c.error(span, message, Some(hint.into()));
        return None;
    }
    let variant = match &raw.variant {
        Some(v) => Some(c.variant(v, build)?),
        None => None,
    };
    if let Some(n) = &raw.name {
        c.suite_name(n);
    }
    let catches = raw.catches.as_ref().map(|list| c.catches(list));
    Some(CanarySpec {
        name: raw.name.map(|n| (n.get_ref().clone(), n.span())),
        variant,
        mode: raw.mode.map(Spanned::into_inner),
        env: raw.env.into_iter().collect(),
        catches,
        description: raw.description,
        tags: raw.tags,
        limits: c.limits(&raw.limits),
        declared: declared.clone(),
        span,
    })
}

/// `spec` as a canary of `base`, and the span naming it.
pub(super) fn expand(base: &Suite, spec: &CanarySpec) -> (Suite, Range<usize>) {
    let what = spec.variant.as_deref().or(spec.mode.as_deref());
    let (name, span) = match &spec.name {
        Some((name, span)) => (name.clone(), span.clone()),
        None => (
            format!("{}-canary-{}", base.name, what.unwrap_or("env")),
            spec.span.clone(),
        ),
    };
    let mut env = base.env.clone();
    env.extend(spec.env.iter().cloned());
    if let Some(m) = &spec.mode {
        env.push(("MEMTEST_CANARY".to_string(), m.clone()));
    }
    let mut tags = base.tags.clone();
    for tag in spec.tags.iter().cloned().chain(["canary".to_string()]) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let description = spec.description.clone().or_else(|| {
        Some(match (&spec.variant, &spec.mode) {
            (Some(v), _) => format!("{} on the `{v}` build: must fail", base.name),
            (None, Some(m)) => format!("{} in canary mode `{m}`: must fail", base.name),
            (None, None) => format!("{} with the canary's env: must fail", base.name),
        })
    });
    let source = Source::Canary(Box::new(spec.declared.clone()));
    let mut own = base.own.clone();
    own.push((
        source.clone(),
        SettingsPatch {
            variant: spec.variant.clone(),
            limits: spec.limits.clone(),
            ..SettingsPatch::default()
        },
    ));
    let catches = match &spec.catches {
        Some(list) => Catches::Listed(source, list.clone()),
        None => Catches::Derived,
    };
    let suite = Suite {
        name,
        tags,
        env,
        expect: Expect::Fail,
        catches,
        description,
        canary_of: Some(base.name.clone()),
        own,
        ..base.clone()
    };
    (suite, span)
}
