//! From the raw file to a [`Config`]: parses, then checks every value and
//! every cross-reference, collecting all problems (not just the first) so one
//! `memtest check` shows everything to fix. The tables are checked in the
//! order they depend on each other: build, defaults and profiles, runtimes
//! and wrappers, overrides, suites and their canaries, then what needs them
//! all (an override that selects nothing, a canary with nothing to catch).

use super::canary::{self, CanarySpec};
use super::checker::Checker;
use super::diag::Diagnostic;
use super::raw::{RawConfig, RawFixtures, RawSettings, RawSuite, Text};
use super::resolve::{Invocation, Source};
use super::{builtin, overrides, suite, tools};
use super::{Catches, Config, Fixtures, Profile, Suite};
use crate::model::Expect;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// Parses and checks `text`; all problems found, or the config.
pub(super) fn validate(text: &str, path: &Path, root: &Path) -> Result<Config, Vec<Diagnostic>> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let hint = parse_hint(e.message());
        // serde calls enum values "variants"; in memtest.toml a variant is a
        // library build, so say "value".
        let message = e
            .message()
            .trim_end()
            .replace("unknown variant", "unknown value");
        vec![Diagnostic::new(path, text, e.span(), message, hint)]
    })?;
    let mut c = Checker::new(text, path);

    let build = raw
        .build
        .map(|b| super::build::check_build(&mut c, b, root));
    let mut raw_defaults = raw.defaults;
    if let Some(inherit) = &raw_defaults.inherit {
        let hint = "[defaults] is what every profile starts from; `inherit` belongs in a profile";
        c.error(inherit.span(), "`inherit` in [defaults]", Some(hint.into()));
    }
    let default_canaries = raw_defaults.canaries.take().map(|list| {
        canary::check(
            &mut c,
            list.into_inner(),
            &Source::Defaults,
            None,
            build.as_ref(),
        )
    });
    let defaults = c.settings(raw_defaults);
    let profiles = check_profiles(&mut c, raw.profiles);
    let fixtures = raw.fixtures.map(|f| check_fixtures(&mut c, f, root));
    let (declared, unused_builtins) = tools::check_runtimes(&mut c, raw.runtimes, root);
    let mut known_runtimes = declared.clone();
    known_runtimes.extend(unused_builtins);
    let wrappers = tools::check_wrappers(&mut c, raw.wrappers, build.as_ref());

    let octx = overrides::Context {
        build: build.as_ref(),
        runtimes: &known_runtimes,
        wrappers: &wrappers,
    };
    let overrides: Vec<overrides::Checked> = raw
        .overrides
        .into_iter()
        .enumerate()
        .map(|(i, o)| overrides::check(&mut c, o, i + 1, &octx))
        .collect();

    let sctx = suite::Context {
        build: build.as_ref(),
        runtimes: &known_runtimes,
        wrappers: &wrappers,
        root,
    };
    let mut suites = Vec::new();
    let mut derived = Vec::new();
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    let mut all_checked = true;
    for (name, s) in suite_tables(&mut c, raw.suite_list, raw.suite_tables) {
        let Some((base, own)) = suite::check_suite(&mut c, s, &name, &sctx) else {
            all_checked = false;
            continue;
        };
        let specs = match own {
            Some(list) => canary::check(
                &mut c,
                list,
                &Source::Suite,
                Some(&base.name),
                build.as_ref(),
            ),
            None if base.expect == Expect::Pass => {
                inherited_canaries(&base, &overrides, &default_canaries)
            }
            None => Vec::new(),
        };
        let mut named = vec![(base.name.clone(), name.span())];
        let mut canaries = Vec::new();
        for spec in &specs {
            let (canary, span) = canary::expand(&base, spec);
            if canary.catches == Catches::Derived {
                derived.push((suites.len() + 1 + canaries.len(), span.clone()));
            }
            named.push((canary.name.clone(), span));
            canaries.push(canary);
        }
        for (name, span) in named {
            if let Some(first) = seen.get(&name) {
                let hint = format!(
                    "first defined at {}; suite names must be unique",
                    c.location(first.clone())
                );
                c.error(
                    span.clone(),
                    format!("duplicate suite `{name}`"),
                    Some(hint),
                );
            }
            seen.insert(name, span);
        }
        suites.push(base);
        suites.extend(canaries);
    }
    // A suite too broken to check could be the one an override selects.
    if all_checked {
        overrides::check_selects(&mut c, &overrides, &suites);
    }

    // The built-in runtimes join the config only when a suite runs on them.
    let mut runtimes = declared;
    for s in &suites {
        if !runtimes.contains_key(&s.runtime) {
            runtimes.insert(s.runtime.clone(), known_runtimes[&s.runtime].clone());
        }
    }
    let config = Config {
        path: path.to_path_buf(),
        root: root.to_path_buf(),
        build,
        defaults,
        overrides: overrides.into_iter().map(|o| o.entry).collect(),
        profiles,
        fixtures,
        runtimes,
        wrappers,
        suites,
    };
    check_derived_catches(&mut c, &config, &derived);
    match c.finish() {
        Some(problems) => Err(problems),
        None => Ok(config),
    }
}

/// `[[suite]]` and `[suites.NAME]` tables with their names, in file order.
fn suite_tables(
    c: &mut Checker<'_>,
    list: Vec<Spanned<RawSuite>>,
    tables: BTreeMap<Text, Spanned<RawSuite>>,
) -> Vec<(Text, RawSuite)> {
    let mut out = Vec::new();
    for s in list {
        let span = s.span();
        let s = s.into_inner();
        match s.name.clone() {
            Some(name) => out.push((name, s)),
            None => {
                let hint = "add name = \"...\", or write the suite as [suites.NAME]";
                c.error(span, "a [[suite]] without `name`", Some(hint.into()));
            }
        }
    }
    for (key, s) in tables {
        let s = s.into_inner();
        if let Some(name) = &s.name {
            let hint = format!(
                "the table's key is its name: remove `name` or write [suites.{}]",
                name.get_ref()
            );
            c.error(name.span(), "`name` in a [suites.NAME] table", Some(hint));
        }
        out.push((key, s));
    }
    out.sort_by_key(|(name, _)| name.span().start);
    out
}

/// The canaries of a suite that declares none: those of the last override
/// selecting it that has some, else `[defaults]`'s.
fn inherited_canaries(
    base: &Suite,
    overrides: &[overrides::Checked],
    defaults: &Option<Vec<CanarySpec>>,
) -> Vec<CanarySpec> {
    overrides
        .iter()
        .rev()
        .filter(|o| o.entry.filter.matches(base))
        .find_map(|o| o.canaries.clone())
        .or_else(|| defaults.clone())
        .unwrap_or_default()
}

/// A canary without `catches` must have something to fail on.
fn check_derived_catches(c: &mut Checker<'_>, config: &Config, derived: &[(usize, Range<usize>)]) {
    for (index, span) in derived {
        let canary = &config.suites[*index];
        let Ok(resolved) = config.resolve(canary, &Invocation::default()) else {
            continue;
        };
        if resolved.catches.value.is_empty() {
            let of = canary.canary_of.as_deref().unwrap_or_default();
            let hint =
                "list what it must fail on, e.g. catches = [\"exit_code\"] when the suite's \
                        own check catches the leak";
            let message = format!(
                "canary `{}` has nothing to catch: `{of}` sets no memory limit and no native_leaks check",
                canary.name
            );
            c.error(span.clone(), message, Some(hint.into()));
        }
    }
}

/// The built-in profiles with the project's over them.
fn check_profiles(
    c: &mut Checker<'_>,
    raw: BTreeMap<Text, RawSettings>,
) -> BTreeMap<String, Profile> {
    let mut profiles: BTreeMap<String, Profile> = builtin::profiles()
        .into_iter()
        .map(|(name, builtin)| {
            let profile = Profile {
                builtin,
                ..Profile::default()
            };
            (name.to_string(), profile)
        })
        .collect();
    let mut inherits = Vec::new();
    for (name, mut p) in raw {
        if let Some(list) = p.canaries.take() {
            let hint = "canaries are declared in [defaults], an override or a suite";
            c.error(list.span(), "`canaries` in a profile", Some(hint.into()));
        }
        if let Some(parent) = &p.inherit {
            inherits.push((name.get_ref().clone(), parent.clone()));
        }
        let inherit = p.inherit.take().map(Spanned::into_inner);
        let own = c.settings(p);
        let entry = profiles.entry(name.into_inner()).or_default();
        entry.inherit = inherit;
        entry.own = own;
    }
    check_inheritance(c, &profiles, &inherits);
    profiles
}

/// Every `inherit` names a profile, and no chain comes back to where it
/// started.
fn check_inheritance(
    c: &mut Checker<'_>,
    profiles: &BTreeMap<String, Profile>,
    inherits: &[(String, Text)],
) {
    for (name, parent) in inherits {
        if !profiles.contains_key(parent.get_ref()) {
            let hint = super::diag::suggestion(
                parent.get_ref(),
                "profiles",
                profiles.keys().map(String::as_str),
            )
            .or_else(|| Some(format!("define [profiles.{}]", parent.get_ref())));
            c.error(
                parent.span(),
                format!(
                    "profile `{name}` inherits unknown profile `{}`",
                    parent.get_ref()
                ),
                hint,
            );
            continue;
        }
        let mut at = parent.get_ref().as_str();
        for _ in 0..=profiles.len() {
            if at == name {
                let hint = "profiles inherit in a line, never in a circle: remove one `inherit`";
                c.error(
                    parent.span(),
                    format!("profile `{name}` inherits itself"),
                    Some(hint.into()),
                );
                break;
            }
            match profiles.get(at).and_then(|p| p.inherit.as_deref()) {
                Some(next) => at = next,
                None => break,
            }
        }
    }
}

/// `[fixtures]`: its folder and variable, and its generator's command, cwd
/// and inputs, each of which must exist (the inputs are hashed on every run).
fn check_fixtures(c: &mut Checker<'_>, f: RawFixtures, root: &Path) -> Fixtures {
    if let Some(env) = &f.env {
        if env.get_ref().is_empty() || env.get_ref().contains(['=', '\0']) {
            let hint = "a variable name, e.g. env = \"MEMTEST_FIXTURES\"";
            c.error(env.span(), "invalid `env`", Some(hint.into()));
        }
    }
    if let Some(dir) = &f.dir {
        if dir.get_ref().is_empty() {
            let hint = "a folder relative to memtest.toml, e.g. dir = \".memtest/fixtures\"";
            c.error(dir.span(), "`dir` is empty", Some(hint.into()));
        }
    }
    if let Some(argv) = &f.command {
        if argv.get_ref().is_empty() {
            let hint =
                "write the generator as a list, e.g. [\"python3\", \"gen.py\", \"${fixtures}\"]";
            c.error(argv.span(), "`command` is empty", Some(hint.into()));
        }
    } else if let Some(first) = f.cwd.iter().chain(&f.inputs).next() {
        let hint = "`cwd` and `inputs` belong to a generator: add `command`, or remove them";
        c.error(
            first.span(),
            "[fixtures] has no `command`",
            Some(hint.into()),
        );
    }
    let mut existing = |path: &Option<Text>, dir: bool, what: &str| {
        let text = path.as_ref()?;
        let abs = root.join(text.get_ref());
        let found = if dir { abs.is_dir() } else { abs.exists() };
        if !found {
            let hint = "paths are relative to the folder of memtest.toml";
            let message = format!("{what} `{}` does not exist", text.get_ref());
            c.error(text.span(), message, Some(hint.into()));
        }
        Some(abs)
    };
    let cwd = existing(&f.cwd, true, "fixture command folder");
    let inputs = f
        .inputs
        .iter()
        .filter_map(|i| existing(&Some(i.clone()), false, "fixture input"))
        .collect();
    Fixtures {
        dir: root.join(f.dir.as_ref().map_or(".memtest/fixtures", |d| d.get_ref())),
        env: f
            .env
            .map_or_else(|| "MEMTEST_FIXTURES".to_string(), Spanned::into_inner),
        command: f.command.map(Spanned::into_inner),
        cwd: cwd.unwrap_or_else(|| root.to_path_buf()),
        inputs,
    }
}

/// serde's messages say what was expected; add what to do for the common ones.
fn parse_hint(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("remove the key or fix its spelling (see the keys listed above)".into())
    } else if message.contains("missing field") {
        Some("add the key: memtest.toml at the repository root shows every key in use".into())
    } else if message.contains("duplicate key") {
        Some("each key may appear once per table".into())
    } else {
        None
    }
}
