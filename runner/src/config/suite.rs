//! `[[suite]]` and `[suites.NAME]` checked: its name, runtime (inferred
//! from the target when left out), target, and its own settings. Its
//! canaries are checked and expanded by the caller (`canary.rs`), which
//! knows the canaries of `[defaults]` and the overrides too.

use super::builtin;
use super::checker::Checker;
use super::raw::{RawCanary, RawSuite, Text};
use super::resolve::Source;
use super::settings::SettingsPatch;
use super::{Build, Catches, Runtime, Suite, Target, Wrapper};
use crate::model::{Expect, RuntimeKind};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// What a suite may refer to.
pub(super) struct Context<'a> {
    pub build: Option<&'a Build>,
    /// The project's runtimes and the built-in ones.
    pub runtimes: &'a BTreeMap<String, Runtime>,
    pub wrappers: &'a BTreeMap<String, Wrapper>,
    pub root: &'a Path,
}

/// A checked suite, and the canaries it declares itself (`None`: it leaves
/// them to `[defaults]` and the overrides).
pub(super) type Checked = (Suite, Option<Vec<Spanned<RawCanary>>>);

/// Checks one suite called `name`. `None` when it is too broken to run.
pub(super) fn check_suite(
    c: &mut Checker<'_>,
    s: RawSuite,
    name: &Text,
    ctx: &Context<'_>,
) -> Option<Checked> {
    c.suite_name(name);
    let limits = c.limits(&s.limits);
    let timeout = c.duration(&s.timeout, "timeout");
    let variant = s.variant.as_ref().and_then(|v| c.variant(v, ctx.build));
    if let Some(w) = &s.wrapper {
        c.wrapper(w, ctx.wrappers);
    }
    let listed = c.catches(&s.catches);
    if let (Some(first), Expect::Pass) = (s.catches.first(), s.expect) {
        let hint = "add `expect = \"fail\"`, or declare the canary in the suite's `canaries`";
        c.error(first.span(), "`catches` is for canaries", Some(hint.into()));
    }
    let runtime = runtime_of(c, &s, name, ctx)?;
    let target = check_target(c, &s, name, runtime, ctx)?;
    if let (Some(canaries), Expect::Fail) = (&s.canaries, s.expect) {
        if let Some(first) = canaries.first() {
            let hint = "declare canaries on the suite that is expected to pass";
            c.error(
                first.span(),
                "a canary cannot have canaries",
                Some(hint.into()),
            );
        }
    }
    let catches = match (s.expect, listed.is_empty()) {
        (Expect::Fail, false) => Catches::Listed(Source::Suite, listed),
        _ => Catches::Any,
    };
    let own = SettingsPatch {
        timeout,
        threads: c.threads(s.threads.as_ref()),
        variant,
        wrapper: s.wrapper.map(Spanned::into_inner),
        corpus: s.corpus.map(Spanned::into_inner),
        limits,
        ..SettingsPatch::default()
    };
    let suite = Suite {
        name: name.get_ref().clone(),
        runtime: runtime.name.clone(),
        kind: runtime.kind,
        target,
        args: s.args,
        cwd: s.cwd.map(Spanned::into_inner),
        tags: s.tags,
        env: s.env.into_iter().collect(),
        expect: s.expect,
        catches,
        exclusive: s.exclusive,
        description: s.description,
        canary_of: None,
        own: vec![(Source::Suite, own)],
    };
    Some((suite, s.canaries))
}

/// The runtime named, or the one its target implies (`test`: rust, a `.js`
/// script: node, a `.py` script: python).
fn runtime_of<'a>(
    c: &mut Checker<'_>,
    s: &RawSuite,
    name: &Text,
    ctx: &Context<'a>,
) -> Option<&'a Runtime> {
    let Some(wanted) = &s.runtime else {
        let script = s.script.as_ref().map(|p| p.get_ref().as_str());
        let inferred = builtin::runtime_for(s.test.is_some(), script);
        if let Some(runtime) = inferred.and_then(|r| ctx.runtimes.get(r)) {
            return Some(runtime);
        }
        let hint =
            "add runtime = \"<a [runtimes.NAME]>\"; it is inferred only for a `test` (rust), \
                    a .js script (node) and a .py script (python)";
        let message = format!("suite `{}` has no `runtime`", name.get_ref());
        c.error(name.span(), message, Some(hint.into()));
        return None;
    };
    if let Some(runtime) = ctx.runtimes.get(wanted.get_ref()) {
        return Some(runtime);
    }
    let known = ctx.runtimes.keys().map(String::as_str);
    let hint = super::diag::suggestion(wanted.get_ref(), "runtimes", known)
        .or_else(|| Some(format!("define [runtimes.{}]", wanted.get_ref())));
    let message = format!("unknown runtime `{}`", wanted.get_ref());
    c.error(wanted.span(), message, hint);
    None
}

/// What the suite executes, by its runtime's kind.
fn check_target(
    c: &mut Checker<'_>,
    s: &RawSuite,
    name: &Text,
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
                let message = format!("rust suite `{}` has no `test`", name.get_ref());
                c.error(name.span(), message, Some(hint.into()));
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
                    name.get_ref()
                );
                c.error(name.span(), message, Some(hint));
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
                    let message = format!("suite `{}` has no `command`", name.get_ref());
                    c.error(name.span(), message, Some(hint));
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
