//! `[[overrides]]` checked: its filter and its settings, each problem named
//! with the override it is in (`override #2 (runtime = "rust")`), and a
//! filter that selects no suite (a typo in a name or tag would otherwise
//! silently change nothing).

use super::canary::{self, CanarySpec};
use super::checker::Checker;
use super::diag::suggestion;
use super::filter::SuiteFilter;
use super::raw::{OneOrMany, RawOverride};
use super::resolve::Source;
use super::settings::SettingsPatch;
use super::{Build, Override, Runtime, Suite, Wrapper};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// A checked override, where its filter is written, and the canaries it
/// gives the suites it selects that declare none.
pub(super) struct Checked {
    pub entry: Override,
    pub filter_span: Range<usize>,
    pub canaries: Option<Vec<CanarySpec>>,
}

/// What an override may refer to.
pub(super) struct Context<'a> {
    pub build: Option<&'a Build>,
    pub runtimes: &'a BTreeMap<String, Runtime>,
    pub wrappers: &'a BTreeMap<String, Wrapper>,
}

pub(super) fn check(
    c: &mut Checker<'_>,
    raw: Spanned<RawOverride>,
    number: usize,
    ctx: &Context<'_>,
) -> Checked {
    let mark = c.mark();
    let o = raw.into_inner();
    let filter_span = o.filter.span();
    let filter = check_filter(c, o.filter, ctx.runtimes);
    let source = Source::Override {
        number,
        filter: filter.to_string(),
    };
    let settings = SettingsPatch {
        timeout: c.duration(&o.timeout, "timeout"),
        grace: c.duration(&o.grace, "grace"),
        sample_interval: c.duration(&o.sample_interval, "sample_interval"),
        scale: c.positive(&o.scale, "scale"),
        canary_scale: c.positive(&o.canary_scale, "canary_scale"),
        timeout_factor: c.positive(&o.timeout_factor, "timeout_factor"),
        threads: c.threads(o.threads.as_ref()),
        duration: None,
        variant: o.variant.as_ref().and_then(|v| c.variant(v, ctx.build)),
        wrapper: o.wrapper.as_ref().map(|w| {
            c.wrapper(w, ctx.wrappers);
            w.get_ref().clone()
        }),
        // A corpus belongs to the suite that streams it (or the command line).
        corpus: None,
        limits: c.limits(&o.limits),
    };
    let canaries = o
        .canaries
        .map(|raw| canary::check(c, raw, &source, None, ctx.build));
    c.note_since(mark, &source.to_string());
    Checked {
        entry: Override {
            number,
            filter,
            settings,
        },
        filter_span,
        canaries,
    }
}

fn check_filter(
    c: &mut Checker<'_>,
    raw: Spanned<super::raw::RawFilter>,
    runtimes: &BTreeMap<String, Runtime>,
) -> SuiteFilter {
    let raw = raw.into_inner();
    let values =
        |v: &Option<Spanned<OneOrMany>>| v.as_ref().map_or_else(Vec::new, |v| v.get_ref().values());
    let runtime_names = values(&raw.runtime);
    if let Some(span) = raw.runtime.as_ref().map(Spanned::span) {
        for r in runtime_names.iter().filter(|r| !runtimes.contains_key(*r)) {
            let hint = suggestion(r, "runtimes", runtimes.keys().map(String::as_str));
            c.error(
                span.clone(),
                format!("unknown runtime `{r}` in the filter"),
                hint,
            );
        }
    }
    let mut names = Vec::new();
    if let Some(name) = &raw.name {
        for n in name.get_ref().values() {
            match glob::Pattern::new(&n) {
                Ok(p) => names.push(p),
                Err(e) => {
                    let hint = "a glob: `*` any text, `?` one character, `[ab]` one of";
                    let message = format!("invalid name pattern `{n}`: {}", e.msg);
                    c.error(name.span(), message, Some(hint.into()));
                }
            }
        }
    }
    SuiteFilter {
        runtimes: runtime_names,
        tags: values(&raw.tag),
        names,
    }
}

/// Every override selects at least one suite.
pub(super) fn check_selects(c: &mut Checker<'_>, overrides: &[Checked], suites: &[Suite]) {
    for o in overrides {
        if suites.iter().any(|s| o.entry.filter.matches(s)) {
            continue;
        }
        let tags: Vec<&str> = suites
            .iter()
            .flat_map(|s| &s.tags)
            .map(String::as_str)
            .collect();
        let names = suites.iter().map(|s| s.name.as_str());
        let hint = o
            .entry
            .filter
            .tags
            .iter()
            .find_map(|t| suggestion(t, "tags", tags.iter().copied()))
            .or_else(|| {
                let first = o.entry.filter.names.first()?;
                suggestion(first.as_str(), "suites", names)
            })
            .or_else(|| Some("check the filter's values against `memtest list`".into()));
        let message = format!("override #{} selects no suite", o.entry.number);
        c.error(o.filter_span.clone(), message, hint);
    }
}
