//! Config: memtest.toml read, checked and turned into plain typed data. Every
//! mistake (unknown key, bad size, a suite naming a runtime that does not
//! exist, a script that is not there) is found here, before anything is built
//! or spawned, and reported with file:line:col and what to do about it. The
//! one resolver of a suite's effective settings (`resolve.rs`) lives here
//! too: every stage asks it rather than reading a layer of the file itself.

mod build;
mod builtin;
mod canary;
mod checker;
pub mod diag;
mod filter;
mod overrides;
mod raw;
pub mod resolve;
mod settings;
mod suite;
mod tools;
mod validate;

pub use diag::{near_matches, suggestion, Diagnostic};
pub use filter::SuiteFilter;
pub use resolve::{Invocation, ResolveError, Resolved, ResolvedSuite, Source, Sourced};
pub use settings::{limit_entries, LimitsPatch, Settings, SettingsPatch};

use crate::model::{Criterion, Expect, FindingsKind, RuntimeKind};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
    /// `[defaults]` as written (the built-in [`Settings`] lie under it).
    pub defaults: SettingsPatch,
    /// `[[overrides]]`, in file order.
    pub overrides: Vec<Override>,
    /// The built-in profiles (`ci`, `soak`) and the project's.
    pub profiles: BTreeMap<String, Profile>,
    /// `None` without a `[fixtures]` table: suites get no fixture folder.
    pub fixtures: Option<Fixtures>,
    /// The project's runtimes, and the built-in ones its suites use.
    pub runtimes: BTreeMap<String, Runtime>,
    /// The built-in wrappers (`memcheck`, `heaptrack`) and the project's.
    pub wrappers: BTreeMap<String, Wrapper>,
    /// In file order, each suite followed by its canaries.
    pub suites: Vec<Suite>,
}

/// One `[[overrides]]` entry: settings for the suites its filter selects.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// 1-based, in file order: how `show` and diagnostics name it.
    pub number: usize,
    pub filter: SuiteFilter,
    pub settings: SettingsPatch,
}

/// A profile: what the built-in one of its name sets (if there is one) with
/// the project's `[profiles.NAME]` over it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// The profile applied before this one.
    pub inherit: Option<String>,
    pub builtin: SettingsPatch,
    pub own: SettingsPatch,
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
    pub env: Vec<(String, String)>,
    pub expect: Expect,
    pub catches: Catches,
    pub exclusive: bool,
    pub description: Option<String>,
    /// For a canary declared on a suite: that suite's name.
    pub canary_of: Option<String>,
    /// The settings the suite's own table sets (timeout, limits, threads,
    /// variant, wrapper), and for a canary then its declaration's, each
    /// with where it was written. Read through [`Config::resolve`], which
    /// lays the other layers around them.
    pub own: Vec<(Source, SettingsPatch)>,
}

/// What a suite expected to fail must fail on to count as caught.
#[derive(Debug, Clone, PartialEq)]
pub enum Catches {
    /// Any failure (a suite that passes, or an `expect = "fail"` suite
    /// declared without `catches`).
    Any,
    /// The criteria listed, and where.
    Listed(Source, Vec<Criterion>),
    /// A canary without `catches`: every memory criterion its suite is
    /// judged on (see [`resolve::derived_catches`]).
    Derived,
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
    #[error(transparent)]
    Resolve(#[from] ResolveError),
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

/// Replaces `${name}` for each known name; anything else is left as written.
pub fn interpolate(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
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
    /// `suite`'s effective settings for this invocation, and where each came
    /// from (see [`resolve`]).
    pub fn resolve(&self, suite: &Suite, inv: &Invocation) -> Result<Resolved, ResolveError> {
        resolve::resolve(self, Some(suite), inv)
    }

    /// Each of `suites` with its effective settings for this invocation.
    pub fn resolve_all<'c>(
        &self,
        suites: &[&'c Suite],
        inv: &Invocation,
    ) -> Result<Vec<ResolvedSuite<'c>>, ResolveError> {
        resolve::resolve_all(self, suites, inv)
    }

    /// The run-wide settings (scale, grace of setup and build steps): the
    /// built-ins, `[defaults]`, the profile and the command line.
    pub fn run_settings(&self, inv: &Invocation) -> Result<Resolved, ResolveError> {
        resolve::resolve(self, None, inv)
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
pub(crate) mod corpus_tests;
#[cfg(test)]
mod layer_tests;
#[cfg(test)]
mod tests;
