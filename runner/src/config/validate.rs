//! From the raw file to a [`Config`]: parses, then checks every value and
//! every cross-reference, collecting all problems (not just the first) so one
//! `memtest check` shows everything to fix.

use super::diag::Diagnostic;
use super::raw::{RawConfig, RawFixtures, RawLimits, RawSettings, Text, Written};
use super::{suggestion, Config, Fixtures, LimitsPatch, Runtime, Settings, SettingsPatch, Wrapper};
use crate::model::{Criterion, RuntimeKind};
use crate::units::parse_duration;
use std::collections::{BTreeMap, HashMap};
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

impl Checker<'_> {
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
    fn fraction(&mut self, v: &Written, key: &str, window: bool) -> Option<f64> {
        let x = match v.get_ref() {
            toml::Value::Float(x) => *x,
            toml::Value::Integer(n) => *n as f64,
            _ => f64::NAN,
        };
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

    fn positive(&mut self, v: &Option<Spanned<f64>>, key: &str) -> Option<f64> {
        let v = v.as_ref()?;
        let x = *v.get_ref();
        if !(x.is_finite() && x > 0.0) {
            self.error(v.span(), format!("`{key}` must be a positive number"), None);
            return None;
        }
        Some(x)
    }

    /// Each limit read by its criterion's entry in the table; the two
    /// fractions that shape the measuring (`warmup`, `slope_window`) are
    /// not criteria and are read here.
    pub(super) fn limits(&mut self, raw: &RawLimits) -> LimitsPatch {
        let mut patch = LimitsPatch::default();
        for (key, value) in &raw.entries {
            match key.get_ref().as_str() {
                "slope_window" => patch.slope_window = self.fraction(value, "slope_window", true),
                "warmup" => patch.warmup = self.fraction(value, "warmup", false),
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

    fn settings(&mut self, mut raw: RawSettings) -> SettingsPatch {
        let limits = raw.take_limits();
        SettingsPatch {
            inherit: raw.inherit.map(Spanned::into_inner),
            timeout: self.duration(&raw.timeout, "timeout"),
            grace: self.duration(&raw.grace, "grace"),
            sample_interval: self.duration(&raw.sample_interval, "sample_interval"),
            scale: self.positive(&raw.scale, "scale"),
            canary_scale: self.positive(&raw.canary_scale, "canary_scale"),
            timeout_factor: self.positive(&raw.timeout_factor, "timeout_factor"),
            limits: self.limits(&limits),
        }
    }
}

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
    let mut c = Checker {
        text,
        path,
        problems: Vec::new(),
    };

    let build = raw
        .build
        .map(|b| super::build::check_build(&mut c, b, root));
    if let Some(inherit) = &raw.defaults.inherit {
        let hint = "[defaults] is what every profile starts from; `inherit` belongs in a profile";
        c.error(inherit.span(), "`inherit` in [defaults]", Some(hint.into()));
    }
    let mut defaults = Settings::default();
    c.settings(raw.defaults).apply(&mut defaults);
    let inherits: Vec<(String, Text)> = raw
        .profiles
        .iter()
        .filter_map(|(name, p)| Some((name.get_ref().clone(), p.inherit.clone()?)))
        .collect();
    let profiles: BTreeMap<String, SettingsPatch> = raw
        .profiles
        .into_iter()
        .map(|(name, p)| (name.into_inner(), c.settings(p)))
        .collect();
    check_inheritance(&mut c, &profiles, &inherits);
    let fixtures = raw.fixtures.map(|f| check_fixtures(&mut c, f, root));

    let mut runtimes = BTreeMap::new();
    for (name, r) in raw.runtimes {
        match (&r.program, r.kind) {
            (None, RuntimeKind::Node | RuntimeKind::Python) => c.error(
                name.span(),
                format!("runtime `{}` has no `program`", name.get_ref()),
                Some(format!(
                    "add e.g. program = \"{}\"",
                    default_program(r.kind)
                )),
            ),
            (Some(p), RuntimeKind::Rust) => c.error(
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
        let name = name.into_inner();
        runtimes.insert(
            name.clone(),
            Runtime {
                name,
                kind: r.kind,
                program: r.program.map(Spanned::into_inner),
                flags: r.flags,
                env: r.env.into_iter().collect(),
                setup: r.setup.map(Spanned::into_inner),
                setup_unless: r.setup_unless.map(|p| root.join(p.get_ref())),
            },
        );
    }

    let mut wrappers = BTreeMap::new();
    for (name, w) in raw.wrappers {
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
            let known = build
                .as_ref()
                .map(|b| b.variants.contains_key(variant.get_ref()));
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

    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    let mut suites = Vec::with_capacity(raw.suites.len());
    let context = super::suite::Context {
        build: build.as_ref(),
        runtimes: &runtimes,
        wrappers: &wrappers,
        root,
    };
    for s in raw.suites {
        for (name, span) in super::suite::check_suite(&mut c, s, &context, &mut suites) {
            if let Some(first) = seen.get(&name) {
                let at = Diagnostic::new(path, text, Some(first.clone()), "", None).location();
                let hint = format!("first defined at {at}; suite names must be unique");
                c.error(
                    span.clone(),
                    format!("duplicate suite `{name}`"),
                    Some(hint),
                );
            }
            seen.insert(name, span);
        }
    }

    if !c.problems.is_empty() {
        // In file order, as a reader fixes them top to bottom.
        c.problems.sort_by_key(|d| (d.line, d.col));
        return Err(c.problems);
    }
    Ok(Config {
        path: path.to_path_buf(),
        root: root.to_path_buf(),
        build,
        defaults,
        profiles,
        fixtures,
        runtimes,
        wrappers,
        suites,
    })
}

fn default_program(kind: RuntimeKind) -> &'static str {
    match kind {
        RuntimeKind::Node => "node",
        RuntimeKind::Python => "python3",
        RuntimeKind::Rust | RuntimeKind::Command => "",
    }
}

/// Every `inherit` names a profile, and no chain comes back to where it
/// started.
fn check_inheritance(
    c: &mut Checker<'_>,
    profiles: &BTreeMap<String, SettingsPatch>,
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

/// The findings file a wrapper argument names: the text from `${log_dir}` on
/// (`--xml-file=${log_dir}/x.xml` gives `${log_dir}/x.xml`).
fn findings_path(arg: &str) -> Option<String> {
    arg.find("${log_dir}").map(|i| arg[i..].to_string())
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
