//! `[build]` checked: which of the three forms it is (cargo `package`, a
//! `command` with its `artifact`, a prebuilt `path`), that each form has what
//! it needs and nothing of another form, and its variants.

use super::checker::Checker;
use super::raw::{RawBuild, RawVariant};
use super::{Abi, Build, BuildForm, Variant, DEFAULT_VARIANT};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

pub(super) fn check_build(c: &mut Checker<'_>, raw: Spanned<RawBuild>, root: &Path) -> Build {
    let span = raw.span();
    let b = raw.into_inner();
    let abi = check_abi(c, &b);
    let forms: Vec<(&str, Range<usize>)> = [
        b.package.as_ref().map(|p| ("package", p.span())),
        b.command.as_ref().map(|p| ("command", p.span())),
        b.path.as_ref().map(|p| ("path", p.span())),
    ]
    .into_iter()
    .flatten()
    .collect();
    if forms.len() > 1 {
        let names: Vec<&str> = forms.iter().map(|(n, _)| *n).collect();
        c.error(
            forms[1].1.clone(),
            format!("[build] has both `{}` and `{}`", names[0], names[1]),
            Some(
                "keep one: `package` (cargo), `command` (any build system) or `path` (prebuilt)"
                    .into(),
            ),
        );
    }
    let form = match (b.package, b.command, b.path) {
        (Some(package), _, _) => {
            if b.lib.is_none() {
                let hint = "name the library, e.g. lib = \"mylib\" for libmylib.so";
                c.error(
                    package.span(),
                    "a cargo build needs `lib`",
                    Some(hint.into()),
                );
            }
            cargo_only_fields(c, b.artifact.as_ref(), b.cwd.as_ref(), b.env.as_ref());
            BuildForm::Cargo {
                package: package.into_inner(),
                profile: b
                    .profile
                    .map_or_else(|| "release".to_string(), Spanned::into_inner),
                features: b.features,
                rust_suites: b.rust_suites.map(Spanned::into_inner),
            }
        }
        (None, Some(argv), _) => {
            if argv.get_ref().is_empty() {
                let hint = "write the command as a list, e.g. [\"make\", \"-C\", \"native\"]";
                c.error(argv.span(), "`command` is empty", Some(hint.into()));
            }
            let artifact = b.artifact.map(Spanned::into_inner).unwrap_or_else(|| {
                let hint = "say where the library lands, e.g. artifact = \"build/${lib_file}\"";
                c.error(
                    argv.span(),
                    "a command build needs `artifact`",
                    Some(hint.into()),
                );
                String::new()
            });
            if artifact.contains("${lib_file}") && b.lib.is_none() {
                let hint = "add lib = \"<name>\": ${lib_file} is its platform file name";
                c.error(argv.span(), "`${lib_file}` needs `lib`", Some(hint.into()));
            }
            not_for_form(
                c,
                "command",
                &[("features", b.features.is_empty())],
                span.clone(),
            );
            not_for_form_text(
                c,
                "command",
                &[("profile", &b.profile), ("rust_suites", &b.rust_suites)],
            );
            BuildForm::Command {
                argv: argv.into_inner(),
                artifact,
                env: b
                    .env
                    .map(|e| e.into_inner().into_iter().collect())
                    .unwrap_or_default(),
                cwd: root.join(b.cwd.as_ref().map_or(".", |c| c.get_ref().as_str())),
            }
        }
        (None, None, Some(path)) => {
            not_for_form(
                c,
                "prebuilt",
                &[("features", b.features.is_empty())],
                span.clone(),
            );
            not_for_form_text(
                c,
                "prebuilt",
                &[
                    ("profile", &b.profile),
                    ("rust_suites", &b.rust_suites),
                    ("artifact", &b.artifact),
                    ("cwd", &b.cwd),
                ],
            );
            if let Some(env) = &b.env {
                let hint = "nothing is built; remove it";
                c.error(
                    env.span(),
                    "a prebuilt library takes no `env`",
                    Some(hint.into()),
                );
            }
            BuildForm::Prebuilt {
                path: path.into_inner(),
            }
        }
        (None, None, None) => {
            let hint = "add package = \"<cargo package>\", command = [...] with artifact = \"...\", \
                        or path = \"<prebuilt library>\"; or remove [build] to test what is installed";
            c.error(
                span.clone(),
                "[build] says neither how to build nor where the library is",
                Some(hint.into()),
            );
            BuildForm::Prebuilt {
                path: String::new(),
            }
        }
    };
    // Without a form, which keys a variant may set is unknown: say nothing
    // more than the error above.
    let formless = matches!(&form, BuildForm::Prebuilt { path } if path.is_empty());
    let variants = check_variants(c, b.variants, &form, formless);
    Build {
        form,
        lib: b.lib.map(Spanned::into_inner),
        abi,
        lib_env: b.lib_env.map(Spanned::into_inner),
        variants,
    }
}

fn check_abi(c: &mut Checker<'_>, b: &RawBuild) -> Option<Abi> {
    match (&b.abi_symbol, &b.abi_version) {
        (Some(symbol), Some(version)) => Some(Abi {
            symbol: symbol.get_ref().clone(),
            version: *version.get_ref(),
        }),
        (None, None) => None,
        (None, Some(v)) => {
            let hint = "name the function returning it, e.g. abi_symbol = \"mylib_abi_version\"";
            c.error(
                v.span(),
                "`abi_version` without `abi_symbol`",
                Some(hint.into()),
            );
            None
        }
        (Some(s), None) => {
            let hint = "add abi_version = N, the value the symbol must return";
            c.error(
                s.span(),
                "`abi_symbol` without `abi_version`",
                Some(hint.into()),
            );
            None
        }
    }
}

fn cargo_only_fields(
    c: &mut Checker<'_>,
    artifact: Option<&Spanned<String>>,
    cwd: Option<&Spanned<String>>,
    env: Option<&Spanned<BTreeMap<String, String>>>,
) {
    for (key, value) in [("artifact", artifact), ("cwd", cwd)] {
        if let Some(v) = value {
            let hint = "cargo finds the library from its own messages; remove it";
            c.error(
                v.span(),
                format!("a cargo build takes no `{key}`"),
                Some(hint.into()),
            );
        }
    }
    if let Some(env) = env {
        let hint = "set cargo's environment around memtest, or use a command build";
        c.error(
            env.span(),
            "a cargo build takes no `env`",
            Some(hint.into()),
        );
    }
}

fn not_for_form(c: &mut Checker<'_>, form: &str, fields: &[(&str, bool)], span: Range<usize>) {
    for (key, empty) in fields {
        if !empty {
            let hint = "cargo features belong to a cargo build (`package`); remove it";
            c.error(
                span.clone(),
                format!("a {form} build takes no `{key}`"),
                Some(hint.into()),
            );
        }
    }
}

fn not_for_form_text(c: &mut Checker<'_>, form: &str, fields: &[(&str, &Option<Spanned<String>>)]) {
    for (key, value) in fields {
        if let Some(v) = value {
            let hint = "it belongs to another form of [build]; remove it";
            c.error(
                v.span(),
                format!("a {form} build takes no `{key}`"),
                Some(hint.into()),
            );
        }
    }
}

fn check_variants(
    c: &mut Checker<'_>,
    raw: BTreeMap<Spanned<String>, Spanned<RawVariant>>,
    form: &BuildForm,
    formless: bool,
) -> BTreeMap<String, Variant> {
    let mut variants = BTreeMap::from([(DEFAULT_VARIANT.to_string(), Variant::default())]);
    for (name, v) in raw {
        if name.get_ref() == DEFAULT_VARIANT {
            let hint = "the library built without extras is `default`; pick another name";
            c.error(
                name.span(),
                "variant name `default` is reserved",
                Some(hint.into()),
            );
        }
        let span = v.span();
        let v = v.into_inner();
        let (allowed, what): (&[&str], &str) = match form {
            BuildForm::Cargo { .. } => (
                &["features", "rustflags", "toolchain", "target", "env"],
                "extra `features`, `rustflags` or `env`, a `toolchain` or a `target`",
            ),
            BuildForm::Command { .. } => (&["env", "args"], "extra `env` or `args`"),
            BuildForm::Prebuilt { .. } => (&["path"], "its own `path`"),
        };
        let given = [
            ("features", !v.features.is_empty()),
            ("env", !v.env.is_empty()),
            ("args", !v.args.is_empty()),
            ("path", v.path.is_some()),
            ("rustflags", !v.rustflags.is_empty()),
            ("toolchain", v.toolchain.is_some()),
            ("target", v.target.is_some()),
        ];
        for (key, set) in given {
            if set && !formless && !allowed.contains(&key) {
                let hint = format!("a variant of this [build] takes {what}");
                c.error(
                    span.clone(),
                    format!("variant `{}` sets `{key}`", name.get_ref()),
                    Some(hint),
                );
            }
        }
        variants.insert(
            name.into_inner(),
            Variant {
                features: v.features,
                env: v.env.into_iter().collect(),
                args: v.args,
                path: v.path.map(Spanned::into_inner),
                rustflags: v.rustflags,
                toolchain: v.toolchain.map(Spanned::into_inner),
                target: v.target.map(Spanned::into_inner),
            },
        );
    }
    variants
}
