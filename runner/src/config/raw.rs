//! The shape of memtest.toml exactly as written: what serde reads before any
//! validation. Every field a later check may complain about keeps its source
//! span (`Spanned`), so the complaint can point at the offending text; unknown
//! keys are refused by serde itself (`deny_unknown_fields`), with a span.

use crate::model::{Expect, FindingsKind, RuntimeKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub build: Option<Spanned<RawBuild>>,
    #[serde(default)]
    pub defaults: RawSettings,
    #[serde(default)]
    pub fixtures: Option<RawFixtures>,
    #[serde(default)]
    pub runtimes: BTreeMap<Text, RawRuntime>,
    #[serde(default)]
    pub profiles: BTreeMap<Text, RawSettings>,
    #[serde(default)]
    pub wrappers: BTreeMap<Text, RawWrapper>,
    /// `[[overrides]]`: settings for the suites a filter selects, in order.
    #[serde(default)]
    pub overrides: Vec<Spanned<RawOverride>>,
    /// `[[suite]]` tables, each with its `name` ...
    #[serde(default, rename = "suite")]
    pub suite_list: Vec<Spanned<RawSuite>>,
    /// ... and `[suites.NAME]` tables, named by their key.
    #[serde(default, rename = "suites")]
    pub suite_tables: BTreeMap<Text, Spanned<RawSuite>>,
}

/// `[build]`: exactly one of `package` (cargo), `command` (any build
/// system) or `path` (prebuilt) says how the library comes to be.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    // cargo
    #[serde(default)]
    pub package: Option<Text>,
    #[serde(default)]
    pub profile: Option<Text>,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub rust_suites: Option<Text>,
    // command
    #[serde(default)]
    pub command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub artifact: Option<Text>,
    #[serde(default)]
    pub env: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub cwd: Option<Text>,
    // prebuilt
    #[serde(default)]
    pub path: Option<Text>,
    // every form
    #[serde(default)]
    pub lib: Option<Text>,
    #[serde(default)]
    pub abi_symbol: Option<Text>,
    #[serde(default)]
    pub abi_version: Option<Spanned<u32>>,
    #[serde(default)]
    pub lib_env: Option<Text>,
    #[serde(default)]
    pub variants: BTreeMap<Text, Spanned<RawVariant>>,
}

/// A variant: the same library built with extra cargo features, or with
/// extra env and arguments for a command build, or another prebuilt path.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub path: Option<Text>,
    /// Cargo only: extra RUSTFLAGS (e.g. `-Zsanitizer=address`).
    #[serde(default)]
    pub rustflags: Vec<String>,
    /// Cargo only: the rustup toolchain to build with (e.g. `nightly`).
    #[serde(default)]
    pub toolchain: Option<Text>,
    /// Cargo only: `--target TRIPLE`, so RUSTFLAGS reach only the target's
    /// code and not build scripts or proc macros.
    #[serde(default)]
    pub target: Option<Text>,
}

/// `[defaults]` and every `[profiles.NAME]`: a profile overrides any default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Profiles only: the profile whose values come first.
    pub inherit: Option<Text>,
    pub timeout: Option<Text>,
    pub grace: Option<Text>,
    pub sample_interval: Option<Text>,
    pub scale: Option<Spanned<f64>>,
    pub canary_scale: Option<Spanned<f64>>,
    pub timeout_factor: Option<Spanned<f64>>,
    pub threads: Option<Spanned<u32>>,
    /// A soak by duration ("30m", "24h"): the suites repeat their work until
    /// it has passed.
    pub duration: Option<Text>,
    /// `[defaults]` only: the canaries of every suite that declares none.
    pub canaries: Option<Spanned<Vec<Spanned<RawCanary>>>>,
    // The limits again, spelled out: serde's `flatten` would lose both the
    // spans and `deny_unknown_fields`. Each is checked against its entry in
    // the criterion table (`model::SPECS`) by `validate`.
    pub rss_growth: Option<Written>,
    pub vms_growth: Option<Written>,
    pub peak_rss: Option<Written>,
    pub slope: Option<Written>,
    pub slope_per_op: Option<Written>,
    pub slope_window: Option<Written>,
    pub warmup: Option<Written>,
    pub native_leaks: Option<Written>,
    pub marker: Option<Written>,
    pub max_floor: Option<Written>,
    pub live_growth: Option<Written>,
}

impl RawSettings {
    /// The limit fields, as a suite's `limits` table would hold them.
    pub fn take_limits(&mut self) -> RawLimits {
        let fields = [
            ("rss_growth", self.rss_growth.take()),
            ("vms_growth", self.vms_growth.take()),
            ("peak_rss", self.peak_rss.take()),
            ("slope", self.slope.take()),
            ("slope_per_op", self.slope_per_op.take()),
            ("slope_window", self.slope_window.take()),
            ("warmup", self.warmup.take()),
            ("native_leaks", self.native_leaks.take()),
            ("marker", self.marker.take()),
            ("max_floor", self.max_floor.take()),
            ("live_growth", self.live_growth.take()),
        ];
        let entries = fields
            .into_iter()
            .filter_map(|(key, value)| {
                let value = value?;
                Some((Spanned::new(value.span(), key.to_string()), value))
            })
            .collect();
        RawLimits { entries }
    }
}

/// A value as written, with where: a limit's text, number or `false`, read
/// by its criterion's entry in the table.
pub type Written = Spanned<toml::Value>;

/// Pass criteria, in `[defaults]`, a profile, or a suite's `limits`: each
/// key with its value, in file order. Which keys exist and what their
/// values mean is the criterion table's to say (`validate` checks them), so
/// a new criterion needs no field here.
#[derive(Debug, Default)]
pub struct RawLimits {
    pub entries: Vec<(Text, Written)>,
}

impl<'de> Deserialize<'de> for RawLimits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawLimits, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = RawLimits;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of limits")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawLimits, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Text>()? {
                    entries.push((key, map.next_value::<Written>()?));
                }
                Ok(RawLimits { entries })
            }
        }
        d.deserialize_map(Entries)
    }
}

/// `[fixtures]`: the folder suites read their inputs from, and optionally
/// the project's command that fills it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFixtures {
    pub dir: Option<Text>,
    pub env: Option<Text>,
    #[serde(default)]
    pub command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub cwd: Option<Text>,
    /// Files and folders whose contents, with the command, key the cache.
    #[serde(default)]
    pub inputs: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    /// May be left out on a built-in runtime's name (rust, node, python).
    #[serde(default)]
    pub kind: Option<RuntimeKind>,
    #[serde(default)]
    pub program: Option<Text>,
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub setup: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub setup_unless: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWrapper {
    /// Put before the suite's argv; empty for a wrapper that is a build
    /// variant and an environment (a sanitizer).
    #[serde(default)]
    pub argv: Option<Spanned<Vec<String>>>,
    pub findings: FindingsKind,
    #[serde(default)]
    pub timeout_factor: Option<Spanned<f64>>,
    /// Extra environment for every wrapped suite.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A library put on LD_PRELOAD of suites that start a program (node,
    /// python, command runtimes), not of rust suites (linked with it).
    #[serde(default)]
    pub preload: Option<Text>,
    /// The build variant wrapped suites need, added to the suite's own.
    #[serde(default)]
    pub variant: Option<Text>,
    /// Where findings go, when `argv` does not name the file.
    #[serde(default)]
    pub output: Option<Text>,
}

/// A suite: `[[suite]]` with a `name`, or `[suites.NAME]` without.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSuite {
    #[serde(default)]
    pub name: Option<Text>,
    /// Inferred from the target when left out (see `suite.rs`).
    #[serde(default)]
    pub runtime: Option<Text>,
    #[serde(default)]
    pub script: Option<Text>,
    #[serde(default)]
    pub test: Option<Text>,
    #[serde(default)]
    pub command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub cwd: Option<Text>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub timeout: Option<Text>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default)]
    pub catches: Vec<Text>,
    #[serde(default)]
    pub exclusive: bool,
    #[serde(default)]
    pub threads: Option<Spanned<u32>>,
    #[serde(default)]
    pub variant: Option<Text>,
    #[serde(default)]
    pub wrapper: Option<Text>,
    /// A folder of inputs the suite streams (MEMTEST_CORPUS), relative to
    /// memtest.toml; `${fixtures}` and `${root}` are filled in.
    #[serde(default)]
    pub corpus: Option<Text>,
    #[serde(default)]
    pub description: Option<String>,
    /// `None`: the canaries of the last override or `[defaults]` that has
    /// some; `Some([])`: none.
    #[serde(default)]
    pub canaries: Option<Vec<Spanned<RawCanary>>>,
}

/// A canary declared on its suite: the suite again, on a leaky variant or
/// in a canary mode, inheriting everything it does not set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    #[serde(default)]
    pub name: Option<Text>,
    #[serde(default)]
    pub variant: Option<Text>,
    #[serde(default)]
    pub mode: Option<Text>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `None`: derived from the suite's limits.
    #[serde(default)]
    pub catches: Option<Vec<Text>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub limits: RawLimits,
}

/// `[[overrides]]`: the settings of every suite (canaries included) its
/// `filter` selects, over `[defaults]` and under the suite's own keys; a
/// later override wins over an earlier one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    pub filter: Spanned<RawFilter>,
    #[serde(default)]
    pub timeout: Option<Text>,
    #[serde(default)]
    pub grace: Option<Text>,
    #[serde(default)]
    pub sample_interval: Option<Text>,
    #[serde(default)]
    pub scale: Option<Spanned<f64>>,
    #[serde(default)]
    pub canary_scale: Option<Spanned<f64>>,
    #[serde(default)]
    pub timeout_factor: Option<Spanned<f64>>,
    #[serde(default)]
    pub threads: Option<Spanned<u32>>,
    #[serde(default)]
    pub variant: Option<Text>,
    #[serde(default)]
    pub wrapper: Option<Text>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub canaries: Option<Vec<Spanned<RawCanary>>>,
}

/// Which suites an override is for: every key given must match; a key's
/// list matches when any of its values does. `name` values are globs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    #[serde(default)]
    pub runtime: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub tag: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub name: Option<Spanned<OneOrMany>>,
}

/// `"x"` or `["x", "y"]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<String> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(vs) => vs.clone(),
        }
    }
}
