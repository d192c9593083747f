//! `[runtimes.NAME]` and `[wrappers.NAME]` checked, over the built-in ones
//! (see `builtin.rs`): a project's runtime of a built-in's name and kind
//! keeps what it does not set; a project's wrapper replaces the built-in.

use super::builtin;
use super::checker::Checker;
use super::raw::{RawRuntime, RawWrapper, Text};
use super::{Build, Runtime, Wrapper};
use crate::model::RuntimeKind;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// The project's runtimes, each merged over the built-in of its name when
/// their kinds agree; and separately the built-ins it does not declare
/// (added to the config only when a suite runs on them).
pub(super) fn check_runtimes(
    c: &mut Checker<'_>,
    raw: BTreeMap<Text, RawRuntime>,
    root: &Path,
) -> (BTreeMap<String, Runtime>, BTreeMap<String, Runtime>) {
    let mut builtins: BTreeMap<String, Runtime> = builtin::runtimes()
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    let mut runtimes = BTreeMap::new();
    for (name, r) in raw {
        let base = builtins
            .get(name.get_ref())
            .filter(|b| r.kind.is_none_or(|k| k == b.kind))
            .cloned();
        if base.is_some() {
            builtins.remove(name.get_ref());
        }
        let Some(kind) = r.kind.or(base.as_ref().map(|b| b.kind)) else {
            let hint = "add kind = \"rust\", \"node\", \"python\" or \"command\"";
            let message = format!("runtime `{}` has no `kind`", name.get_ref());
            c.error(name.span(), message, Some(hint.into()));
            continue;
        };
        let program = r
            .program
            .as_ref()
            .map(|p| p.get_ref().clone())
            .or_else(|| base.as_ref().and_then(|b| b.program.clone()));
        match (&r.program, &program, kind) {
            (_, None, RuntimeKind::Node | RuntimeKind::Python) => c.error(
                name.span(),
                format!("runtime `{}` has no `program`", name.get_ref()),
                Some(format!("add e.g. program = \"{}\"", default_program(kind))),
            ),
            (Some(p), _, RuntimeKind::Rust) => c.error(
                p.span(),
                "a rust runtime takes no `program`",
                Some("rust suites run the test executables cargo builds; remove it".into()),
            ),
            _ => {}
        }
        if let Some(setup) = &r.setup {
            if setup.get_ref().is_empty() {
                let hint = "write the command as a list, e.g. [\"npm\", \"ci\"], or remove it";
                c.error(setup.span(), "`setup` is empty", Some(hint.into()));
            }
        }
        let mut env: Vec<(String, String)> = base.as_ref().map_or_else(Vec::new, |b| b.env.clone());
        env.retain(|(k, _)| !r.env.contains_key(k));
        env.extend(r.env);
        let flags = match (r.flags, &base) {
            (None, Some(b)) => b.flags.clone(),
            (flags, _) => flags.unwrap_or_default(),
        };
        let name = name.into_inner();
        runtimes.insert(
            name.clone(),
            Runtime {
                name,
                kind,
                program,
                flags,
                env,
                setup: r.setup.map(Spanned::into_inner),
                setup_unless: r.setup_unless.map(|p| root.join(p.get_ref())),
            },
        );
    }
    (runtimes, builtins)
}

fn default_program(kind: RuntimeKind) -> &'static str {
    match kind {
        RuntimeKind::Node => "node",
        RuntimeKind::Python => "python3",
        RuntimeKind::Rust | RuntimeKind::Command => "",
    }
}

/// The built-in wrappers, then the project's (a project's of the same name
/// replaces the built-in).
pub(super) fn check_wrappers(
    c: &mut Checker<'_>,
    raw: BTreeMap<Text, RawWrapper>,
    build: Option<&Build>,
) -> BTreeMap<String, Wrapper> {
    let mut wrappers: BTreeMap<String, Wrapper> = builtin::wrappers()
        .into_iter()
        .map(|w| (w.name.clone(), w))
        .collect();
    for (name, w) in raw {
        let factor = c.positive(&w.timeout_factor, "timeout_factor");
        let span = w.argv.as_ref().map_or(name.span(), |a| a.span());
        let argv = w.argv.map(Spanned::into_inner).unwrap_or_default();
        // Where the findings go: said outright, or the argument that names
        // a file under ${log_dir}.
        let output = w
            .output
            .as_ref()
            .map(|o| o.get_ref().clone())
            .or_else(|| argv.iter().find_map(|a| findings_path(a)));
        if argv.is_empty() && w.variant.is_none() && w.env.is_empty() {
            c.error(
                span.clone(),
                "the wrapper changes nothing",
                Some(
                    "name the tool and its flags in `argv`, or a build `variant` and `env`".into(),
                ),
            );
        } else if output.is_none() {
            // A sanitizer wrapper has no argv to name it: `output` does.
            let hint = "make the tool write its findings to a file under ${log_dir}, \
                        e.g. \"--xml-file=${log_dir}/${suite}.xml\"";
            c.error(
                span.clone(),
                "`argv` names no findings file",
                Some(hint.into()),
            );
        }
        if let Some(variant) = &w.variant {
            let known = build.map(|b| b.variants.contains_key(variant.get_ref()));
            if known == Some(false) {
                let hint = format!("declare [build.variants.{}]", variant.get_ref());
                c.error(
                    variant.span(),
                    format!("unknown variant `{}`", variant.get_ref()),
                    Some(hint),
                );
            }
        }
        let name = name.into_inner();
        wrappers.insert(
            name.clone(),
            Wrapper {
                name,
                argv,
                env: w.env.into_iter().collect(),
                preload: w.preload.map(Spanned::into_inner),
                variant: w.variant.map(Spanned::into_inner),
                findings: w.findings,
                output: output.unwrap_or_default(),
                timeout_factor: factor.unwrap_or(1.0),
            },
        );
    }
    wrappers
}

/// The findings file a wrapper argument names: the text from `${log_dir}` on
/// (`--xml-file=${log_dir}/x.xml` gives `${log_dir}/x.xml`).
fn findings_path(arg: &str) -> Option<String> {
    arg.find("${log_dir}").map(|i| arg[i..].to_string())
}
