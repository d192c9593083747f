//! From the raw file to a [`Config`]: parses, then checks every value and
//! every cross-reference, collecting all problems (not just the first) so one
//! `memtest check` shows everything to fix.

use super::diag::{suggestion, Diagnostic};
use super::raw::{OrOff, RawConfig, RawLimits, RawSettings, RawSuite, Text};
use super::{
    Abi, Build, Config, Fixtures, LimitsPatch, Runtime, Settings, SettingsPatch, Suite, Target,
    Wrapper, DEFAULT_VARIANT,
};
use crate::plan::{Expect, RuntimeKind};
use crate::units::{parse_duration, Bytes, BytesPerSec};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Collects diagnostics against one source text.
struct Checker<'a> {
    text: &'a str,
    path: &'a Path,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        let d = Diagnostic::new(self.path, self.text, Some(span), message, hint);
        self.problems.push(d);
    }

    fn size(&mut self, value: &Option<Text>, key: &str) -> Option<Bytes> {
        let v = value.as_ref()?;
        self.unit(v, key, Bytes::parse)
    }

    fn rate(&mut self, value: &Option<Text>, key: &str) -> Option<BytesPerSec> {
        let v = value.as_ref()?;
        self.unit(v, key, BytesPerSec::parse)
    }

    fn duration(&mut self, value: &Option<Text>, key: &str) -> Option<Duration> {
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
    fn fraction(&mut self, v: &Option<Spanned<f64>>, key: &str, window: bool) -> Option<f64> {
        let v = v.as_ref()?;
        let x = *v.get_ref();
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

    fn limits(&mut self, raw: &RawLimits) -> LimitsPatch {
        LimitsPatch {
            rss_growth: self.size(&raw.rss_growth, "rss_growth"),
            vms_growth: self.size(&raw.vms_growth, "vms_growth"),
            peak_rss: self.size(&raw.peak_rss, "peak_rss"),
            slope: self.rate(&raw.slope, "slope"),
            slope_window: self.fraction(&raw.slope_window, "slope_window", true),
            warmup: self.fraction(&raw.warmup, "warmup", false),
            native_leaks: raw.native_leaks.as_ref().and_then(|v| match v.get_ref() {
                OrOff::Value(n) => Some(Some(*n)),
                OrOff::Off(false) => Some(None),
                OrOff::Off(true) => {
                    let hint = "write a count (0 = no leak allowed) or false to skip the check";
                    self.error(
                        v.span(),
                        "`native_leaks = true` has no meaning",
                        Some(hint.into()),
                    );
                    None
                }
            }),
            marker: raw.marker.as_ref().and_then(|v| match v.get_ref() {
                OrOff::Value(s) if !s.is_empty() => Some(Some(s.clone())),
                OrOff::Off(false) => Some(None),
                _ => {
                    let hint =
                        "write the line the suite prints on success, or false to skip the check";
                    self.error(v.span(), "invalid `marker`", Some(hint.into()));
                    None
                }
            }),
        }
    }

    fn settings(&mut self, mut raw: RawSettings) -> SettingsPatch {
        let limits = raw.take_limits();
        SettingsPatch {
            timeout: self.duration(&raw.timeout, "timeout"),
            grace: self.duration(&raw.grace, "grace"),
            sample_interval: self.duration(&raw.sample_interval, "sample_interval"),
            scale: self.positive(&raw.scale, "scale"),
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

    let build = check_build(&mut c, raw.build);
    let mut defaults = Settings::default();
    c.settings(raw.defaults).apply(&mut defaults);
    let profiles: BTreeMap<String, SettingsPatch> = raw
        .profiles
        .into_iter()
        .map(|(name, p)| (name.into_inner(), c.settings(p)))
        .collect();
    let fixtures = Fixtures {
        dir: root.join(raw.fixtures.dir.as_deref().unwrap_or(".memtest/fixtures")),
        env: raw
            .fixtures
            .env
            .unwrap_or_else(|| "MEMTEST_FIXTURES".to_string()),
    };

    let mut runtimes = BTreeMap::new();
    for (name, r) in raw.runtimes {
        let needs_program = r.kind != RuntimeKind::Rust;
        match (&r.program, needs_program) {
            (None, true) => c.error(
                name.span(),
                format!("runtime `{}` has no `program`", name.get_ref()),
                Some(format!(
                    "add e.g. program = \"{}\"",
                    default_program(r.kind)
                )),
            ),
            (Some(p), false) => c.error(
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
        let output = w.argv.get_ref().iter().find_map(|a| findings_path(a));
        if w.argv.get_ref().is_empty() {
            c.error(
                w.argv.span(),
                "`argv` is empty",
                Some("name the tool and its flags".into()),
            );
        } else if output.is_none() {
            let hint = "make the tool write its findings to a file under ${log_dir}, \
                        e.g. \"--xml-file=${log_dir}/${suite}.xml\"";
            c.error(
                w.argv.span(),
                "`argv` names no findings file",
                Some(hint.into()),
            );
        }
        let name = name.into_inner();
        wrappers.insert(
            name.clone(),
            Wrapper {
                name,
                argv: w.argv.into_inner(),
                findings: w.findings,
                output: output.unwrap_or_default(),
                timeout_factor: factor.unwrap_or(1.0),
            },
        );
    }

    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    let mut suites = Vec::with_capacity(raw.suites.len());
    for s in raw.suites {
        if let Some(first) = seen.get(s.name.get_ref()) {
            let at = Diagnostic::new(path, text, Some(first.clone()), "", None).location();
            let hint = format!("first defined at {at}; suite names must be unique");
            c.error(
                s.name.span(),
                format!("duplicate suite `{}`", s.name.get_ref()),
                Some(hint),
            );
        }
        seen.insert(s.name.get_ref().clone(), s.name.span());
        if let Some(suite) = check_suite(&mut c, s, &build, &runtimes, &wrappers, root) {
            suites.push(suite);
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

fn check_build(c: &mut Checker<'_>, b: super::raw::RawBuild) -> Build {
    let abi = match (b.abi_symbol, b.abi_version) {
        (Some(symbol), Some(version)) => Some(Abi {
            symbol,
            version: version.into_inner(),
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
        (Some(_), None) => {
            let hint = "add abi_version = N, the value the symbol must return";
            let span = c.text.find("abi_symbol").map_or(0..0, |i| i..i + 10);
            c.error(
                span,
                "`abi_symbol` without `abi_version`",
                Some(hint.into()),
            );
            None
        }
    };
    let mut variants = BTreeMap::from([(DEFAULT_VARIANT.to_string(), Vec::new())]);
    for (name, v) in b.variants {
        if name.get_ref() == DEFAULT_VARIANT {
            let hint = "the library built without extra features is `default`; pick another name";
            c.error(
                name.span(),
                "variant name `default` is reserved",
                Some(hint.into()),
            );
        }
        variants.insert(name.into_inner(), v.features);
    }
    Build {
        package: b.package,
        lib: b.lib,
        profile: b
            .profile
            .map_or_else(|| "release".to_string(), Spanned::into_inner),
        features: b.features,
        abi,
        lib_env: b.lib_env,
        rust_suites: b.rust_suites,
        variants,
    }
}

fn check_suite(
    c: &mut Checker<'_>,
    s: RawSuite,
    build: &Build,
    runtimes: &BTreeMap<String, Runtime>,
    wrappers: &BTreeMap<String, Wrapper>,
    root: &Path,
) -> Option<Suite> {
    let name = s.name.get_ref().clone();
    let valid_chars = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.');
    if name.is_empty() || !name.chars().all(valid_chars) || name.starts_with('.') {
        let hint = "use letters, digits, '-', '_' and '.': the name becomes a log file name";
        c.error(
            s.name.span(),
            format!("invalid suite name `{name}`"),
            Some(hint.into()),
        );
    }
    let limits = c.limits(&s.limits);
    let timeout = c.duration(&s.timeout, "timeout");
    for (field, list) in [("variant", &s.variant), ("wrapper", &s.wrapper)] {
        let Some(v) = list else { continue };
        let known: Vec<&str> = match field {
            "variant" => build.variants.keys().map(String::as_str).collect(),
            _ => wrappers.keys().map(String::as_str).collect(),
        };
        if !known.contains(&v.get_ref().as_str()) {
            let plural = format!("{field}s");
            let hint = suggestion(v.get_ref(), &plural, known.iter().copied())
                .or_else(|| Some(format!("define [{}.{}]", table_of(field), v.get_ref())));
            c.error(v.span(), format!("unknown {field} `{}`", v.get_ref()), hint);
        }
    }
    for c_name in &s.catches {
        let known = crate::verdict::CRITERIA;
        if !known.contains(&c_name.get_ref().as_str()) {
            let hint = suggestion(c_name.get_ref(), "criteria", known.iter().copied());
            c.error(
                c_name.span(),
                format!("unknown criterion `{}` in `catches`", c_name.get_ref()),
                hint,
            );
        }
    }
    if let (Some(first), Expect::Pass) = (s.catches.first(), s.expect) {
        c.error(
            first.span(),
            "`catches` is for canaries",
            Some("add `expect = \"fail\"`, or remove `catches`".into()),
        );
    }
    let Some(runtime) = runtimes.get(s.runtime.get_ref()) else {
        let hint = suggestion(
            s.runtime.get_ref(),
            "runtimes",
            runtimes.keys().map(String::as_str),
        )
        .or_else(|| Some(format!("define [runtimes.{}]", s.runtime.get_ref())));
        c.error(
            s.runtime.span(),
            format!("unknown runtime `{}`", s.runtime.get_ref()),
            hint,
        );
        return None;
    };
    let target = match (runtime.kind, s.script, s.test) {
        (RuntimeKind::Rust, script, Some(test)) => {
            if let Some(script) = script {
                let hint = "a rust suite runs its `test` target; remove `script`";
                c.error(
                    script.span(),
                    "a rust suite takes no `script`",
                    Some(hint.into()),
                );
            }
            if build.rust_suites.is_none() {
                let hint = "set [build] rust_suites = \"<package with the test targets>\"";
                c.error(
                    test.span(),
                    "rust suite without a rust_suites package",
                    Some(hint.into()),
                );
            }
            Target::Test(test.into_inner())
        }
        (RuntimeKind::Rust, _, None) => {
            let hint = "name a test target of the rust_suites package, e.g. test = \"memory_leak\"";
            c.error(
                s.name.span(),
                format!("rust suite `{name}` has no `test`"),
                Some(hint.into()),
            );
            return None;
        }
        (kind, Some(script), test) => {
            if let Some(test) = test {
                let hint = "`test` names a rust test target; remove it";
                c.error(
                    test.span(),
                    format!("a {} suite takes no `test`", kind.as_str()),
                    Some(hint.into()),
                );
            }
            let file = PathBuf::from(script.get_ref());
            if !root.join(&file).is_file() {
                let hint = format!(
                    "no file {}; paths are relative to the folder of memtest.toml",
                    root.join(&file).display()
                );
                c.error(
                    script.span(),
                    format!("script `{}` does not exist", script.get_ref()),
                    Some(hint),
                );
            }
            Target::Script(file)
        }
        (kind, None, _) => {
            let hint = format!(
                "add script = \"suites/{0}/<file>\" (relative to memtest.toml)",
                kind.as_str()
            );
            c.error(
                s.name.span(),
                format!("{} suite `{name}` has no `script`", kind.as_str()),
                Some(hint),
            );
            return None;
        }
    };
    Some(Suite {
        name,
        runtime: runtime.name.clone(),
        kind: runtime.kind,
        target,
        args: s.args,
        tags: s.tags,
        timeout,
        env: s.env.into_iter().collect(),
        limits,
        expect: s.expect,
        catches: s.catches.into_iter().map(Spanned::into_inner).collect(),
        exclusive: s.exclusive,
        variant: s.variant.map(Spanned::into_inner),
        wrapper: s.wrapper.map(Spanned::into_inner),
        description: s.description,
    })
}

fn table_of(field: &str) -> &'static str {
    if field == "variant" {
        "build.variants"
    } else {
        "wrappers"
    }
}

fn default_program(kind: RuntimeKind) -> &'static str {
    match kind {
        RuntimeKind::Node => "node",
        RuntimeKind::Python => "python3",
        RuntimeKind::Rust => "",
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
