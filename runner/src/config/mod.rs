//! Config: memtest.toml read, checked and turned into plain typed data. Every
//! mistake (unknown key, bad size, a suite naming a runtime that does not
//! exist, a script that is not there) is found here, before anything is built
//! or spawned, and reported with file:line:col and what to do about it.

mod build;
pub mod diag;
mod raw;
mod suite;
mod validate;

pub use diag::{near_matches, suggestion, Diagnostic};

use crate::model::{Criterion, Expect, FindingsKind, Limits, RuntimeKind};
use crate::units::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The name of the config file looked up from the current directory.
pub const FILE_NAME: &str = "memtest.toml";

/// The variant name of the library built without extra features.
pub const DEFAULT_VARIANT: &str = "default";

/// A validated memtest.toml.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file itself (absolute).
    pub path: PathBuf,
    /// Its folder: relative paths are relative to this, suites run in it.
    pub root: PathBuf,
    /// `None`: no `[build]`; suites test what is installed.
    pub build: Option<Build>,
    /// Built-in fallbacks with `[defaults]` applied.
    pub defaults: Settings,
    pub profiles: BTreeMap<String, SettingsPatch>,
    /// `None` without a `[fixtures]` table: suites get no fixture folder.
    pub fixtures: Option<Fixtures>,
    pub runtimes: BTreeMap<String, Runtime>,
    pub wrappers: BTreeMap<String, Wrapper>,
    /// In file order.
    pub suites: Vec<Suite>,
}

/// How the library under test comes to be, and how suites find it.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub form: BuildForm,
    /// Library name: `${lib_file}` is `lib<lib>.so` / `lib<lib>.dylib` /
    /// `<lib>.dll`. Required for cargo builds.
    pub lib: Option<String>,
    pub abi: Option<Abi>,
    /// Environment variable carrying the library's path to every suite.
    pub lib_env: Option<String>,
    /// Variant name -> what it changes. Always holds [`DEFAULT_VARIANT`].
    pub variants: BTreeMap<String, Variant>,
}

/// The three ways a library comes to be.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildForm {
    Cargo {
        /// Cargo package producing the cdylib.
        package: String,
        /// Cargo profile of the build (`release` by default).
        profile: String,
        /// Features of every variant.
        features: Vec<String>,
        /// Cargo package whose test targets are the rust suites.
        rust_suites: Option<String>,
    },
    /// Any build system: an argv run in `cwd`, leaving the library at
    /// `artifact`. Both are templates (`${root}`, `${variant}`, `${lib_file}`).
    Command {
        argv: Vec<String>,
        artifact: String,
        env: Vec<(String, String)>,
        /// Absolute.
        cwd: PathBuf,
    },
    /// A library that is already there (a template, like `artifact`).
    Prebuilt { path: String },
}

/// What a variant changes, by build form: cargo features, or env and
/// arguments added to a command build, or another prebuilt path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Variant {
    pub features: Vec<String>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub path: Option<String>,
    /// Cargo: extra RUSTFLAGS, the rustup toolchain and `--target`.
    pub rustflags: Vec<String>,
    pub toolchain: Option<String>,
    pub target: Option<String>,
}

/// Joins variant names: a suite's variant under a wrapper's (`leaky` under
/// `asan` is `leaky+asan`; the default under `asan` is just `asan`).
pub fn compose_variant(base: &str, extra: Option<&str>) -> String {
    match extra {
        None => base.to_string(),
        Some(extra) if base == DEFAULT_VARIANT => extra.to_string(),
        Some(extra) => format!("{base}+{extra}"),
    }
}

impl Build {
    /// The variant called `name`: a declared one, or a `+`-joined
    /// composition of declared ones (see [`compose_variant`]) whose features,
    /// env, args and rustflags add up and whose later parts set the
    /// toolchain, target and path. `None` if any part is undeclared.
    pub fn variant(&self, name: &str) -> Option<Variant> {
        let mut out = Variant::default();
        for part in name.split('+') {
            let v = self.variants.get(part)?;
            out.features.extend(v.features.iter().cloned());
            out.env.extend(v.env.iter().cloned());
            out.args.extend(v.args.iter().cloned());
            out.rustflags.extend(v.rustflags.iter().cloned());
            out.path = v.path.clone().or(out.path);
            out.toolchain = v.toolchain.clone().or(out.toolchain);
            out.target = v.target.clone().or(out.target);
        }
        Some(out)
    }

    /// The platform's file name of a library called `lib`.
    pub fn lib_file(lib: &str) -> String {
        let (prefix, ext) = (
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_EXTENSION,
        );
        format!("{prefix}{lib}.{ext}")
    }

    /// The cargo package of the rust suites, for cargo builds that name one.
    pub fn rust_suites(&self) -> Option<&str> {
        match &self.form {
            BuildForm::Cargo { rust_suites, .. } => rust_suites.as_deref(),
            _ => None,
        }
    }
}

/// The symbol dlopen'd after the build and the value it must return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abi {
    pub symbol: String,
    pub version: u32,
}

/// Run-wide settings: `[defaults]`, possibly overridden by a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub timeout: Duration,
    pub grace: Duration,
    pub sample_interval: Duration,
    /// MEMTEST_SCALE: multiplies every suite's iteration counts.
    pub scale: f64,
    /// The largest scale a canary runs at (`None`: the run's scale). A
    /// canary only has to be caught, and a leak caught at a small scale is
    /// caught at any larger one (it grows with the work), so running it at
    /// full scale buys no proof and costs the longest suites' time again.
    pub canary_scale: Option<f64>,
    /// Multiplies every suite's timeout (a soak profile runs longer).
    pub timeout_factor: f64,
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_secs(120),
            grace: Duration::from_secs(3),
            sample_interval: Duration::from_millis(10),
            scale: 1.0,
            canary_scale: None,
            timeout_factor: 1.0,
            limits: Limits::default(),
        }
    }
}

/// What a profile (or `[defaults]`) sets; `None` keeps the value below it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsPatch {
    /// The profile applied before this one.
    pub inherit: Option<String>,
    pub timeout: Option<Duration>,
    pub grace: Option<Duration>,
    pub sample_interval: Option<Duration>,
    pub scale: Option<f64>,
    pub canary_scale: Option<f64>,
    pub timeout_factor: Option<f64>,
    pub limits: LimitsPatch,
}

impl SettingsPatch {
    pub fn apply(&self, settings: &mut Settings) {
        let Settings {
            timeout,
            grace,
            sample_interval,
            scale,
            canary_scale,
            timeout_factor,
            limits,
        } = settings;
        set(timeout, self.timeout);
        set(grace, self.grace);
        set(sample_interval, self.sample_interval);
        set(scale, self.scale);
        set_some(canary_scale, self.canary_scale);
        set(timeout_factor, self.timeout_factor);
        self.limits.apply(limits);
    }
}

/// Limits a suite (or profile) sets; a criterion absent from `values` keeps
/// the limit below it, and `Some(None)` there switches the check off
/// (`native_leaks = false`). Keyed by criterion: what each limit means, and
/// how it is set on [`Limits`], is the criterion table's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitsPatch {
    pub values: BTreeMap<Criterion, Option<Value>>,
    pub slope_window: Option<f64>,
    pub warmup: Option<f64>,
}

impl LimitsPatch {
    /// This patch with `top`'s settings over it (a canary's over its suite's).
    pub fn overlay(&self, top: &LimitsPatch) -> LimitsPatch {
        let mut values = self.values.clone();
        values.extend(top.values.iter().map(|(c, v)| (*c, v.clone())));
        LimitsPatch {
            values,
            slope_window: top.slope_window.or(self.slope_window),
            warmup: top.warmup.or(self.warmup),
        }
    }

    pub fn apply(&self, limits: &mut Limits) {
        for (criterion, value) in &self.values {
            if let Some(spec) = &criterion.spec().limit {
                (spec.set)(limits, value.clone());
            }
        }
        set(&mut limits.slope_window, self.slope_window);
        set(&mut limits.warmup, self.warmup);
    }

    /// The limit this patch sets for `criterion`, as the table's accessor
    /// would read it back (`Some(None)`: switched off).
    pub fn get(&self, criterion: Criterion) -> Option<Option<&Value>> {
        self.values.get(&criterion).map(Option::as_ref)
    }

    /// The memtest.toml keys this patch sets, in the table's order (what a
    /// layer contributed, for saying where a limit came from).
    pub fn keys(&self) -> Vec<&'static str> {
        Criterion::limited()
            .filter(|(c, _)| self.values.contains_key(c))
            .map(|(_, spec)| spec.key)
            .chain(self.slope_window.map(|_| "slope_window"))
            .chain(self.warmup.map(|_| "warmup"))
            .collect()
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn set_some<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixtures {
    /// Absolute.
    pub dir: PathBuf,
    /// Environment variable carrying `dir` to every suite (and to the
    /// generator).
    pub env: String,
    /// The project's generator, run when the cache is stale: an argv
    /// template (`${root}`, `${fixtures}`). `None`: `dir` is used as it is.
    pub command: Option<Vec<String>>,
    /// Where the generator runs (absolute; the root by default).
    pub cwd: PathBuf,
    /// Files and folders (absolute) whose contents, with the command, key
    /// the cache: a change to any of them regenerates.
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub name: String,
    pub kind: RuntimeKind,
    /// The interpreter (node, python3), or any program for a `command`
    /// runtime; `None` for rust, whose suites are test executables, and for a
    /// command runtime whose suites each give their own `command`.
    pub program: Option<String>,
    pub flags: Vec<String>,
    /// Uninterpolated: `${root}`, `${lib}`, `${fixtures}` are filled in per job.
    pub env: Vec<(String, String)>,
    /// Run once before the first suite of this runtime, unless `setup_unless`
    /// exists.
    pub setup: Option<Vec<String>>,
    /// Absolute.
    pub setup_unless: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wrapper {
    pub name: String,
    /// Uninterpolated: `${log_dir}`, `${suite}` are filled in per job.
    /// Empty for a sanitizer, which is a build variant and an environment.
    pub argv: Vec<String>,
    /// Uninterpolated like `argv` (also `${root}`); set on every wrapped suite.
    pub env: Vec<(String, String)>,
    /// Put on LD_PRELOAD of wrapped suites that start a program (an
    /// interpreter loads the sanitizer's runtime first this way); rust
    /// suites link it themselves.
    pub preload: Option<String>,
    /// The build variant wrapped suites run against, composed with their
    /// own (see [`compose_variant`]).
    pub variant: Option<String>,
    pub findings: FindingsKind,
    /// Where the argv tells the tool to write its findings (a template, like
    /// `argv`).
    pub output: String,
    pub timeout_factor: f64,
}

/// What a suite executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A script given to the runtime's program, relative to the config root.
    Script(PathBuf),
    /// A test target of the `rust_suites` package.
    Test(String),
    /// A whole argv (a template) on a command runtime without a program.
    Argv(Vec<String>),
    /// Just the runtime's program, flags and the suite's args.
    Program,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    pub name: String,
    /// The `[runtimes.NAME]` it runs on, and that runtime's kind.
    pub runtime: String,
    pub kind: RuntimeKind,
    pub target: Target,
    pub args: Vec<String>,
    /// Where it runs, relative to the config root (a template); `None`: the root.
    pub cwd: Option<String>,
    pub tags: Vec<String>,
    pub timeout: Option<Duration>,
    pub env: Vec<(String, String)>,
    pub limits: LimitsPatch,
    pub expect: Expect,
    /// For a canary: the criteria (e.g. `native_leaks`) it must fail on to
    /// count as caught; empty = any failure counts.
    pub catches: Vec<Criterion>,
    pub exclusive: bool,
    /// Threads the suite keeps busy (its share of `--jobs`).
    pub threads: u32,
    pub variant: Option<String>,
    pub wrapper: Option<String>,
    pub description: Option<String>,
    /// For a canary declared on a suite: that suite's name.
    pub canary_of: Option<String>,
}

impl Suite {
    /// The library variant this suite loads.
    pub fn variant(&self) -> &str {
        self.variant.as_deref().unwrap_or(DEFAULT_VARIANT)
    }
}

/// Why the config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no {FILE_NAME} in {} or any parent directory; create one or pass --config FILE", start.display())]
    NotFound { start: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Problems(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
    #[error("no profile `{name}` in {}{}", path.display(), hint_suffix(hint))]
    UnknownProfile {
        name: String,
        path: PathBuf,
        hint: Option<String>,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

struct Problems<'a>(&'a [Diagnostic]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n\n{} problems in {FILE_NAME}", self.0.len())?;
        }
        Ok(())
    }
}

/// `explicit` if given, else memtest.toml in `start` or its nearest ancestor.
pub fn locate(explicit: Option<&Path>, start: &Path) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        return Ok(start.join(path));
    }
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|p| p.is_file())
        .ok_or_else(|| ConfigError::NotFound {
            start: start.to_path_buf(),
        })
}

/// Reads and validates the file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let root = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    parse(&text, &path, &root)
}

/// Validates `text` as the file `path` whose relative paths start at `root`.
/// `root` must exist: scripts are checked against it.
pub fn parse(text: &str, path: &Path, root: &Path) -> Result<Config, ConfigError> {
    validate::validate(text, path, root).map_err(|diagnostics| ConfigError::Invalid { diagnostics })
}

impl Config {
    /// The defaults with `profile` applied.
    pub fn settings(&self, profile: Option<&str>) -> Result<Settings, ConfigError> {
        let mut settings = self.defaults.clone();
        if let Some(name) = profile {
            let patch = self
                .profiles
                .get(name)
                .ok_or_else(|| ConfigError::UnknownProfile {
                    name: name.to_string(),
                    path: self.path.clone(),
                    hint: suggestion(name, "profiles", self.profiles.keys().map(String::as_str)),
                })?;
            // Validation guarantees the chain ends and names known profiles.
            let mut chain = vec![patch];
            let mut next = patch.inherit.as_deref();
            while let Some(p) = next.and_then(|name| self.profiles.get(name)) {
                if chain.len() > self.profiles.len() {
                    break;
                }
                chain.push(p);
                next = p.inherit.as_deref();
            }
            for patch in chain.iter().rev() {
                patch.apply(&mut settings);
            }
        }
        Ok(settings)
    }

    pub fn suite(&self, name: &str) -> Option<&Suite> {
        self.suites.iter().find(|s| s.name == name)
    }

    pub fn runtime_of(&self, suite: &Suite) -> &Runtime {
        // Validation guarantees every suite's runtime exists.
        &self.runtimes[&suite.runtime]
    }

    /// The folder memtest writes into (`.memtest` under the root).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".memtest")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    /// The values of `${root}` and `${fixtures}` in commands and suites: the
    /// config's folder, and the fixture folder (empty when none is declared).
    pub fn root_and_fixtures_text(&self) -> (String, String) {
        let fixtures = self.fixtures.as_ref().map(|f| f.dir.display().to_string());
        (
            self.root.display().to_string(),
            fixtures.unwrap_or_default(),
        )
    }

    /// Where the library of `variant` is kept after its build (its file
    /// name is the built one's).
    pub fn lib_path(&self, variant: &str, file_name: &str) -> PathBuf {
        self.state_dir().join("lib").join(variant).join(file_name)
    }
}

#[cfg(test)]
mod tests;
