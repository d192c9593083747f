pub mod abi;
pub mod cargo;
pub mod command;
pub mod fixtures;
pub mod helpers;
pub mod interpreter;
pub mod preflight;
pub mod setup;

use crate::config::interpolate;
use crate::config::{Build, BuildForm, Config, ResolvedSuite, Target, DEFAULT_VARIANT};
use crate::model::Artifacts;
use crate::model::{staged, Event, Stage};
use crate::process::Interrupt;
use cargo::{CargoBuild, CargoError};
use command::{CommandError, LoggedCommand};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the `{variant}` variant of {package}")]
    Cargo {
        variant: String,
        package: String,
        #[source]
        source: CargoError,
    },
    #[error("cannot build the `{variant}` variant of the library")]
    Command {
        variant: String,
        #[source]
        source: CommandError,
    },
    #[error("`{command}` produced no {lib_file} shared library; is `cdylib` among the crate-types of {package}?")]
    NoCdylib {
        command: String,
        lib_file: String,
        package: String,
    },
    #[error("`{command}` finished, but left no library at {} (the `artifact` of [build], variant `{variant}`)", path.display())]
    NoArtifact {
        command: String,
        variant: String,
        path: PathBuf,
    },
    #[error("no library at {} (the `path` of [build], variant `{variant}`)", path.display())]
    NoPrebuilt { variant: String, path: PathBuf },
    #[error("`{command}` produced no test executable `{test}`; is it a [[test]] of {package}?")]
    NoTest {
        command: String,
        test: String,
        package: String,
    },
    #[error("rust suites need a cargo [build] with rust_suites in memtest.toml")]
    NoRustSuitesPackage,
    #[error("cannot copy {} to {}", from.display(), to.display())]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the `{variant}` library failed its ABI check")]
    Abi {
        variant: String,
        #[source]
        source: abi::AbiError,
    },
    #[error("--no-build, but {} does not exist: run once without --no-build", path.display())]
    NotBuilt { path: PathBuf },
}

/// What the selected suites need built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub variants: BTreeSet<String>,
    /// (variant, rust test target).
    pub tests: BTreeSet<(String, String)>,
}

/// The variants and rust test targets `suites` use, each suite's variant as
/// resolved (composed with its wrapper's: a sanitizer's `leaky+asan`).
/// Without a `[build]` nothing is built: suites test what is installed.
pub fn request(config: &Config, suites: &[ResolvedSuite<'_>]) -> Request {
    let mut req = Request::default();
    if config.build.is_none() {
        return req;
    }
    for s in suites {
        let variant = s.settings.variant.value.clone();
        req.variants.insert(variant.clone());
        if let Target::Test(test) = &s.suite.target {
            req.tests.insert((variant, test.clone()));
        }
    }
    req
}

/// Where a rust suite's executable is kept between runs.
pub fn test_path(config: &Config, variant: &str, test: &str) -> PathBuf {
    config.state_dir().join("bin").join(variant).join(test)
}

/// The interpolation variables of a build step.
fn vars(config: &Config, build: &Build, variant: &str) -> Vec<(&'static str, String)> {
    vec![
        ("root", config.root.display().to_string()),
        ("variant", variant.to_string()),
        (
            "lib_file",
            build
                .lib
                .as_deref()
                .map(Build::lib_file)
                .unwrap_or_default(),
        ),
    ]
}

fn fill(template: &str, vars: &[(&'static str, String)]) -> String {
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    interpolate(template, &refs)
}

/// Where the library of `variant` lives for the suites: the kept copy of a
/// built one, or the prebuilt file itself.
pub fn lib_path(config: &Config, build: &Build, variant: &str) -> PathBuf {
    let vars = vars(config, build, variant);
    match &build.form {
        BuildForm::Cargo { .. } => {
            let file = Build::lib_file(build.lib.as_deref().unwrap_or_default());
            config.lib_path(variant, &file)
        }
        BuildForm::Command { artifact, cwd, .. } => {
            let built = cwd.join(fill(artifact, &vars));
            let file = built.file_name().and_then(|n| n.to_str()).unwrap_or("lib");
            config.lib_path(variant, file)
        }
        BuildForm::Prebuilt { path } => {
            let own = build.variant(variant).and_then(|v| v.path);
            config.root.join(fill(own.as_ref().unwrap_or(path), &vars))
        }
    }
}

/// Builds every requested variant and test, keeps each library apart under
/// `.memtest/`, checks each library's ABI. A command build finds memtest's
/// suite helpers (`helpers`) through MEMTEST_HELPERS. `emit` receives a stage event
/// before and after each build step, so long builds show what they are
/// doing. On `interrupt`, the running build is stopped (SIGKILL after
/// `grace`).
pub fn build(
    config: &Config,
    req: &Request,
    cargo_program: &Path,
    helpers: &Path,
    (interrupt, grace): (&Interrupt, Duration),
    emit: &mut dyn FnMut(Event),
) -> Result<Artifacts, BuildError> {
    let mut artifacts = Artifacts::default();
    let Some(b) = &config.build else {
        return Ok(artifacts);
    };
    // The plain build goes last, so what a build leaves in its usual place
    // (cargo's target/<profile>, a Makefile's output) is the real library:
    // the bindings' own discovery (and their tests) look there, and must
    // never pick up a leaky canary build by accident.
    let mut order: Vec<&String> = req.variants.iter().collect();
    order.sort_by_key(|v| (v.as_str() == DEFAULT_VARIANT, v.as_str()));
    for variant in order {
        let lib = lib_path(config, b, variant);
        match &b.form {
            BuildForm::Cargo { .. } => {
                let built =
                    build_cargo_lib(config, b, variant, cargo_program, (interrupt, grace), emit)?;
                keep(&built, &lib)?;
            }
            BuildForm::Command { .. } => {
                let stop = (interrupt, grace);
                let built = build_command_lib(config, b, variant, helpers, stop, emit)?;
                keep(&built, &lib)?;
            }
            BuildForm::Prebuilt { .. } => {
                if !lib.is_file() {
                    return Err(BuildError::NoPrebuilt {
                        variant: variant.clone(),
                        path: lib,
                    });
                }
            }
        }
        // A library built with a sanitizer needs the sanitizer's runtime,
        // which memtest itself does not load: dlopen would fail on its
        // `__asan_*` symbols. Unchecked here; its suites, which load it
        // under the runtime, are what proves it works.
        let instrumented = b
            .variant(variant)
            .is_some_and(|v| v.rustflags.iter().any(|f| f.starts_with("-Zsanitizer")));
        if let (Some(abi), false) = (&b.abi, instrumented) {
            abi::check(&lib, &abi.symbol, abi.version).map_err(|source| BuildError::Abi {
                variant: variant.clone(),
                source,
            })?;
        }
        artifacts.libs.insert(variant.clone(), lib);
    }
    build_rust_suites(
        config,
        b,
        req,
        cargo_program,
        (interrupt, grace),
        emit,
        &mut artifacts,
    )?;
    Ok(artifacts)
}

/// `cargo build` of the library package with the variant's features; the
/// cdylib it produced.
fn build_cargo_lib(
    config: &Config,
    b: &Build,
    variant: &str,
    cargo_program: &Path,
    (interrupt, grace): (&Interrupt, Duration),
    emit: &mut dyn FnMut(Event),
) -> Result<PathBuf, BuildError> {
    let BuildForm::Cargo {
        package,
        profile,
        features,
        ..
    } = &b.form
    else {
        unreachable!("called for cargo builds only");
    };
    let extra = b.variant(variant).unwrap_or_default();
    let mut features = features.clone();
    features.extend(extra.features.iter().cloned());
    let job = CargoBuild {
        subcommand: "build",
        package: package.clone(),
        profile: profile.clone(),
        features,
        tests: Vec::new(),
        rustflags: extra.rustflags,
        toolchain: extra.toolchain,
        target: extra.target,
        env: extra.env,
    };
    let detail = format!("{} ({variant})", job.display());
    let produced = staged(emit, Stage::Build, &detail, || {
        cargo::run(cargo_program, &config.root, &job, interrupt, grace).map_err(|source| {
            BuildError::Cargo {
                variant: variant.to_string(),
                package: package.clone(),
                source,
            }
        })
    })?;
    let lib_file = Build::lib_file(b.lib.as_deref().unwrap_or_default());
    produced
        .cdylibs
        .iter()
        .map(|(_, path)| path)
        .find(|p| p.file_name().and_then(|n| n.to_str()) == Some(lib_file.as_str()))
        .cloned()
        .ok_or_else(|| BuildError::NoCdylib {
            command: job.display(),
            lib_file,
            package: package.clone(),
        })
}

/// The build command with the variant's env and args; the artifact it left.
fn build_command_lib(
    config: &Config,
    b: &Build,
    variant: &str,
    helpers: &Path,
    (interrupt, grace): (&Interrupt, Duration),
    emit: &mut dyn FnMut(Event),
) -> Result<PathBuf, BuildError> {
    let BuildForm::Command {
        argv,
        artifact,
        env,
        cwd,
    } = &b.form
    else {
        unreachable!("called for command builds only");
    };
    let vars = vars(config, b, variant);
    let extra = b.variant(variant).unwrap_or_default();
    let cmd = LoggedCommand {
        argv: argv
            .iter()
            .chain(&extra.args)
            .map(|a| fill(a, &vars))
            .collect(),
        env: [("MEMTEST_HELPERS".to_string(), helpers.display().to_string())]
            .into_iter()
            .chain(
                env.iter()
                    .chain(&extra.env)
                    .map(|(k, v)| (k.clone(), fill(v, &vars))),
            )
            .collect(),
        cwd: cwd.clone(),
        log: config.log_dir().join(format!("build-{variant}.log")),
    };
    let detail = format!("{} ({variant})", cmd.display());
    staged(emit, Stage::Build, &detail, || {
        command::run(&cmd, interrupt, grace).map_err(|source| BuildError::Command {
            variant: variant.to_string(),
            source,
        })
    })?;
    let built = cwd.join(fill(artifact, &vars));
    if !built.is_file() {
        return Err(BuildError::NoArtifact {
            command: cmd.display(),
            variant: variant.to_string(),
            path: built,
        });
    }
    Ok(built)
}

/// The rust suites' test executables, per variant, kept under `.memtest/bin`.
fn build_rust_suites(
    config: &Config,
    b: &Build,
    req: &Request,
    cargo_program: &Path,
    (interrupt, grace): (&Interrupt, Duration),
    emit: &mut dyn FnMut(Event),
    artifacts: &mut Artifacts,
) -> Result<(), BuildError> {
    let variants: BTreeSet<&String> = req.tests.iter().map(|(v, _)| v).collect();
    if variants.is_empty() {
        return Ok(());
    }
    let BuildForm::Cargo {
        package: lib_package,
        profile,
        features,
        rust_suites,
    } = &b.form
    else {
        return Err(BuildError::NoRustSuitesPackage);
    };
    let package = rust_suites.clone().ok_or(BuildError::NoRustSuitesPackage)?;
    for variant in variants {
        // The variant's features belong to the library package; name them
        // through it so the suites package need not re-export them.
        let extra = b.variant(variant).unwrap_or_default();
        let features = features
            .iter()
            .chain(&extra.features)
            .map(|f| format!("{lib_package}/{f}"))
            .collect();
        let job = CargoBuild {
            subcommand: "test",
            package: package.clone(),
            profile: profile.clone(),
            features,
            tests: req
                .tests
                .iter()
                .filter(|(v, _)| v == variant)
                .map(|(_, t)| t.clone())
                .collect(),
            rustflags: extra.rustflags.clone(),
            toolchain: extra.toolchain.clone(),
            target: extra.target.clone(),
            env: extra.env.clone(),
        };
        let detail = format!("{} ({variant})", job.display());
        let produced = staged(emit, Stage::Build, &detail, || {
            cargo::run(cargo_program, &config.root, &job, interrupt, grace).map_err(|source| {
                BuildError::Cargo {
                    variant: variant.clone(),
                    package: package.clone(),
                    source,
                }
            })
        })?;
        for (_, test) in req.tests.iter().filter(|(v, _)| v == variant) {
            let built = produced
                .tests
                .iter()
                .find(|(name, _)| name == test)
                .ok_or_else(|| BuildError::NoTest {
                    command: job.display(),
                    test: test.clone(),
                    package: package.clone(),
                })?;
            let kept = test_path(config, variant, test);
            keep(&built.1, &kept)?;
            artifacts
                .tests
                .insert((variant.clone(), test.clone()), kept);
        }
    }
    Ok(())
}

/// Copies a built file to where memtest keeps it (see `atomic::copy_replacing`:
/// a suite still running the old library keeps its inode).
fn keep(built: &Path, kept: &Path) -> Result<(), BuildError> {
    crate::atomic::copy_replacing(built, kept).map_err(|source| BuildError::Copy {
        from: built.to_path_buf(),
        to: kept.to_path_buf(),
        source,
    })
}

/// `--no-build`: the artifacts of the last build, which must all exist.
pub fn reuse(config: &Config, req: &Request) -> Result<Artifacts, BuildError> {
    let existing = |path: PathBuf| {
        if path.is_file() {
            Ok(path)
        } else {
            Err(BuildError::NotBuilt { path })
        }
    };
    let mut artifacts = Artifacts::default();
    let Some(b) = &config.build else {
        return Ok(artifacts);
    };
    for variant in &req.variants {
        let lib = existing(lib_path(config, b, variant))?;
        artifacts.libs.insert(variant.clone(), lib);
    }
    for (variant, test) in &req.tests {
        let exe = existing(test_path(config, variant, test))?;
        artifacts.tests.insert((variant.clone(), test.clone()), exe);
    }
    Ok(artifacts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Suite};

    fn config(dir: &Path) -> Config {
        std::fs::write(dir.join("a.js"), "").unwrap();
        let text = r#"
[build]
package = "core"
lib = "core"
lib_env = "L"
rust_suites = "suites"
[build.variants.leaky]
features = ["leak"]
[runtimes.rust]
kind = "rust"
[runtimes.node]
kind = "node"
program = "node"
[[suite]]
name = "r1"
runtime = "rust"
test = "t1"
[[suite]]
name = "r2"
runtime = "rust"
test = "t1"
variant = "leaky"
[[suite]]
name = "n1"
runtime = "node"
script = "a.js"
"#;
        config::parse(text, &dir.join("memtest.toml"), dir).unwrap()
    }

    fn resolved<'c>(c: &Config, suites: &[&'c Suite]) -> Vec<ResolvedSuite<'c>> {
        c.resolve_all(suites, &crate::config::Invocation::default())
            .unwrap()
    }

    #[test]
    fn requests_cover_variants_and_tests_of_the_selection() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let all = resolved(&c, &c.suites.iter().collect::<Vec<_>>());
        let req = request(&c, &all);
        assert_eq!(
            req.variants.iter().collect::<Vec<_>>(),
            ["default", "leaky"]
        );
        let tests: Vec<(&str, &str)> = req
            .tests
            .iter()
            .map(|(v, t)| (v.as_str(), t.as_str()))
            .collect();
        assert_eq!(tests, [("default", "t1"), ("leaky", "t1")]);
        let node_only = request(&c, &resolved(&c, &[c.suite("n1").unwrap()]));
        assert_eq!(node_only.variants.iter().collect::<Vec<_>>(), ["default"]);
        assert!(node_only.tests.is_empty());
    }

    #[test]
    fn no_build_reuses_copies_and_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let all = resolved(&c, &c.suites.iter().collect::<Vec<_>>());
        let req = request(&c, &all);
        let err = reuse(&c, &req).unwrap_err();
        assert!(
            err.to_string().contains(".memtest/lib/default/libcore."),
            "{err}"
        );
        let src = dir.path().join("built");
        std::fs::write(&src, "x").unwrap();
        for v in ["default", "leaky"] {
            crate::atomic::copy_replacing(&src, &lib_path(&c, c.build.as_ref().unwrap(), v))
                .unwrap();
            crate::atomic::copy_replacing(&src, &test_path(&c, v, "t1")).unwrap();
        }
        let artifacts = reuse(&c, &req).unwrap();
        assert_eq!(
            artifacts.libs["leaky"],
            dir.path().join(".memtest/lib/leaky/libcore.so")
        );
        assert_eq!(
            artifacts.tests[&("leaky".into(), "t1".into())],
            dir.path().join(".memtest/bin/leaky/t1")
        );
    }
}
