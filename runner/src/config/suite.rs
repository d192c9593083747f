//! `[[suite]]` checked, and its `canaries` expanded: each canary becomes a
//! suite of its own that inherits everything from the suite it is declared
//! on (runtime, target, args, cwd, tags, timeout, env, limits, exclusivity,
//! wrapper) except what it sets, so a limit changed on a suite can never
//! silently diverge from its canary's.

use super::diag::suggestion;
use super::raw::{RawCanary, RawSuite, Text};
use super::validate::Checker;
use super::{Build, LimitsPatch, Runtime, Suite, Target, Wrapper};
use crate::model::{Criterion, Expect, RuntimeKind};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// What a suite may refer to.
pub(super) struct Context<'a> {
    pub build: Option<&'a Build>,
    pub runtimes: &'a BTreeMap<String, Runtime>,
    pub wrappers: &'a BTreeMap<String, Wrapper>,
    pub root: &'a Path,
}

/// Checks one `[[suite]]`, appends it and its canaries to `out`, and returns
/// every name it defined with where, for the duplicate check.
pub(super) fn check_suite(
    c: &mut Checker<'_>,
    s: RawSuite,
    ctx: &Context<'_>,
    out: &mut Vec<Suite>,
) -> Vec<(String, Range<usize>)> {
    let name = s.name.get_ref().clone();
    let mut names = vec![(name.clone(), s.name.span())];
    check_name(c, &s.name);
    let limits = c.limits(&s.limits);
    let timeout = c.duration(&s.timeout, "timeout");
    let variant = s.variant.as_ref().map(|v| check_variant(c, v, ctx));
    if let Some(w) = &s.wrapper {
        if !ctx.wrappers.contains_key(w.get_ref()) {
            let known = ctx.wrappers.keys().map(String::as_str);
            let hint = suggestion(w.get_ref(), "wrappers", known)
                .or_else(|| Some(format!("define [wrappers.{}]", w.get_ref())));
            c.error(w.span(), format!("unknown wrapper `{}`", w.get_ref()), hint);
        }
    }
    let catches = check_catches(c, &s.catches);
    if let (Some(first), Expect::Pass) = (s.catches.first(), s.expect) {
        let hint = "add `expect = \"fail\"`, or declare the canary in the suite's `canaries`";
        c.error(first.span(), "`catches` is for canaries", Some(hint.into()));
    }
    let Some(runtime) = ctx.runtimes.get(s.runtime.get_ref()) else {
        let hint = suggestion(
            s.runtime.get_ref(),
            "runtimes",
            ctx.runtimes.keys().map(String::as_str),
        )
        .or_else(|| Some(format!("define [runtimes.{}]", s.runtime.get_ref())));
        let message = format!("unknown runtime `{}`", s.runtime.get_ref());
        c.error(s.runtime.span(), message, hint);
        return names;
    };
    let Some(target) = check_target(c, &s, runtime, ctx) else {
        return names;
    };
    let suite = Suite {
        name: name.clone(),
        runtime: runtime.name.clone(),
        kind: runtime.kind,
        target,
        args: s.args,
        cwd: s.cwd.map(Spanned::into_inner),
        tags: s.tags,
        timeout,
        env: s.env.into_iter().collect(),
        limits,
        expect: s.expect,
        catches,
        exclusive: s.exclusive,
        threads: check_threads(c, s.threads.as_ref()),
        variant: variant.flatten(),
        wrapper: s.wrapper.map(Spanned::into_inner),
        description: s.description,
        canary_of: None,
    };
    if !s.canaries.is_empty() && suite.expect == Expect::Fail {
        let span = s.canaries[0].span();
        let hint = "declare canaries on the suite that is expected to pass";
        c.error(span, "a canary cannot have canaries", Some(hint.into()));
    }
    let mut canaries = Vec::new();
    for raw in s.canaries {
        if let Some((canary, span)) = canary(c, &suite, raw, ctx) {
            names.push((canary.name.clone(), span));
            canaries.push(canary);
        }
    }
    out.push(suite);
    out.extend(canaries);
    names
}

fn check_threads(c: &mut Checker<'_>, threads: Option<&Spanned<u32>>) -> u32 {
    match threads {
        None => 1,
        Some(t) if *t.get_ref() == 0 => {
            let hint = "the threads the suite keeps busy: 1 or more";
            c.error(t.span(), "`threads` must be at least 1", Some(hint.into()));
            1
        }
        Some(t) => *t.get_ref(),
    }
}

fn check_name(c: &mut Checker<'_>, name: &Text) {
    let text = name.get_ref();
    let valid_chars = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.');
    if text.is_empty() || !text.chars().all(valid_chars) || text.starts_with('.') {
        let hint = "use letters, digits, '-', '_' and '.': the name becomes a log file name";
        c.error(
            name.span(),
            format!("invalid suite name `{text}`"),
            Some(hint.into()),
        );
    }
}

/// `Some(name)` when the variant exists (or errors were reported: `None`).
fn check_variant(c: &mut Checker<'_>, v: &Text, ctx: &Context<'_>) -> Option<String> {
    let Some(build) = ctx.build else {
        let hint = "variants are builds of the library: add a [build] with [build.variants.NAME]";
        c.error(v.span(), "a variant needs a [build]", Some(hint.into()));
        return None;
    };
    if build.variants.contains_key(v.get_ref()) {
        return Some(v.get_ref().clone());
    }
    let known = build.variants.keys().map(String::as_str);
    let hint = suggestion(v.get_ref(), "variants", known)
        .or_else(|| Some(format!("define [build.variants.{}]", v.get_ref())));
    c.error(v.span(), format!("unknown variant `{}`", v.get_ref()), hint);
    None
}

fn check_catches(c: &mut Checker<'_>, catches: &[Text]) -> Vec<Criterion> {
    catches
        .iter()
        .filter_map(|name| match name.get_ref().parse::<Criterion>() {
            Ok(criterion) if criterion != Criterion::CanaryWrongReason => Some(criterion),
            _ => {
                let names: Vec<&str> = Criterion::catchable().map(Criterion::name).collect();
                let hint = suggestion(name.get_ref(), "criteria", names.iter().copied())
                    .or_else(|| Some(format!("criteria: {}", names.join(", "))));
                let message = format!("unknown criterion `{}` in `catches`", name.get_ref());
                c.error(name.span(), message, hint);
                None
            }
        })
        .collect()
}

/// What the suite executes, by its runtime's kind.
fn check_target(
    c: &mut Checker<'_>,
    s: &RawSuite,
    runtime: &Runtime,
    ctx: &Context<'_>,
) -> Option<Target> {
    let kind = runtime.kind;
    let refuse = |c: &mut Checker<'_>, span: Range<usize>, key: &str, hint: &str| {
        let message = format!("a {} suite takes no `{key}`", kind.as_str());
        c.error(span, message, Some(hint.to_string()));
    };
    if let (Some(test), false) = (&s.test, kind == RuntimeKind::Rust) {
        refuse(
            c,
            test.span(),
            "test",
            "`test` names a rust test target; remove it",
        );
    }
    let program_kind = matches!(kind, RuntimeKind::Node | RuntimeKind::Python)
        || (kind == RuntimeKind::Command && runtime.program.is_some());
    if let (Some(cmd), true) = (&s.command, program_kind || kind == RuntimeKind::Rust) {
        let hint = "`command` is for command runtimes without a `program`; use `script` and `args`";
        refuse(c, cmd.span(), "command", hint);
    }
    match kind {
        RuntimeKind::Rust => {
            if let Some(script) = &s.script {
                let hint = "a rust suite runs its `test` target; remove `script`";
                refuse(c, script.span(), "script", hint);
            }
            let Some(test) = &s.test else {
                let hint =
                    "name a test target of the rust_suites package, e.g. test = \"memory_leak\"";
                let message = format!("rust suite `{}` has no `test`", s.name.get_ref());
                c.error(s.name.span(), message, Some(hint.into()));
                return None;
            };
            if ctx.build.and_then(Build::rust_suites).is_none() {
                let hint = "set [build] package = \"...\" and rust_suites = \"<package with the test targets>\"";
                let message = "rust suite without a cargo build naming rust_suites";
                c.error(test.span(), message, Some(hint.into()));
            }
            Some(Target::Test(test.get_ref().clone()))
        }
        _ if program_kind => match &s.script {
            Some(script) => Some(Target::Script(check_script(c, script, ctx.root))),
            None if kind == RuntimeKind::Command => Some(Target::Program),
            None => {
                let hint = format!(
                    "add script = \"suites/{0}/<file>\" (relative to memtest.toml)",
                    kind.as_str()
                );
                let message = format!(
                    "{} suite `{}` has no `script`",
                    kind.as_str(),
                    s.name.get_ref()
                );
                c.error(s.name.span(), message, Some(hint));
                None
            }
        },
        _ => {
            if let Some(script) = &s.script {
                let hint = "this runtime has no `program` to give it to: put it in `command`";
                refuse(c, script.span(), "script", hint);
            }
            match &s.command {
                Some(cmd) if !cmd.get_ref().is_empty() => Some(Target::Argv(cmd.get_ref().clone())),
                Some(cmd) => {
                    let hint = "write the argv as a list, e.g. [\"build/test_memory\"]";
                    c.error(cmd.span(), "`command` is empty", Some(hint.into()));
                    None
                }
                None => {
                    let hint = format!(
                        "add command = [\"<program>\", ...], or give [runtimes.{}] a `program`",
                        runtime.name
                    );
                    let message = format!("suite `{}` has no `command`", s.name.get_ref());
                    c.error(s.name.span(), message, Some(hint));
                    None
                }
            }
        }
    }
}

fn check_script(c: &mut Checker<'_>, script: &Text, root: &Path) -> PathBuf {
    let file = PathBuf::from(script.get_ref());
    if !root.join(&file).is_file() {
        let hint = format!(
            "no file {}; paths are relative to the folder of memtest.toml",
            root.join(&file).display()
        );
        let message = format!("script `{}` does not exist", script.get_ref());
        c.error(script.span(), message, Some(hint));
    }
    file
}

/// A canary of `base`, and the span naming it.
fn canary(
    c: &mut Checker<'_>,
    base: &Suite,
    raw: Spanned<RawCanary>,
    ctx: &Context<'_>,
) -> Option<(Suite, Range<usize>)> {
    let span = raw.span();
    let raw = raw.into_inner();
    if raw.variant.is_none() && raw.mode.is_none() && raw.env.is_empty() {
        let hint = "set variant = \"<leaky build>\", mode = \"<MEMTEST_CANARY value>\" or env";
        c.error(
            span.clone(),
            format!("a canary of `{}` that changes nothing", base.name),
            Some(hint.into()),
        );
        return None;
    }
    let variant = match &raw.variant {
        Some(v) => Some(check_variant(c, v, ctx)?),
        None => base.variant.clone(),
    };
    let mode = raw.mode.as_ref().map(|m| m.get_ref().clone());
    let what = raw
        .variant
        .as_ref()
        .map(|v| v.get_ref().clone())
        .or(mode.clone());
    let (name, name_span) = match &raw.name {
        Some(n) => {
            check_name(c, n);
            (n.get_ref().clone(), n.span())
        }
        None => (
            format!("{}-canary-{}", base.name, what.as_deref().unwrap_or("env")),
            span,
        ),
    };
    let mut env = base.env.clone();
    env.extend(raw.env);
    if let Some(m) = &mode {
        env.push(("MEMTEST_CANARY".to_string(), m.clone()));
    }
    let mut tags = base.tags.clone();
    for tag in raw.tags.into_iter().chain(["canary".to_string()]) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let description = raw.description.or_else(|| {
        Some(match (&raw.variant, &mode) {
            (Some(v), _) => format!("{} on the `{}` build: must fail", base.name, v.get_ref()),
            (None, Some(m)) => format!("{} in canary mode `{m}`: must fail", base.name),
            (None, None) => format!("{} with the canary's env: must fail", base.name),
        })
    });
    let limits: LimitsPatch = base.limits.overlay(&c.limits(&raw.limits));
    let catches = check_catches(c, &raw.catches);
    let suite = Suite {
        name,
        tags,
        env,
        limits,
        expect: Expect::Fail,
        catches,
        variant,
        description,
        canary_of: Some(base.name.clone()),
        ..base.clone()
    };
    Some((suite, name_span))
}
