//! Build: everything that must exist before a suite can run — the core's
//! cdylib per variant (with its ABI checked), the rust suites' test binaries,
//! the runtimes' toolchains (preflight) and one-time setup, and the fixtures.
//!
//! Built files are copied under `.memtest/` at once: cargo uplifts every
//! variant to the same `target/release/libpyjamaz.so`, so the next variant's
//! build would silently replace the previous one's library.

pub mod abi;
pub mod cargo;
pub mod fixtures;
pub mod interpreter;
pub mod preflight;
pub mod setup;

use crate::config::{Config, Suite, Target, DEFAULT_VARIANT};
use crate::exec::{Event, Interrupt, Stage};
use crate::plan::Artifacts;
use cargo::{CargoBuild, CargoError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build the `{variant}` variant of {package}")]
    Cargo {
        variant: String,
        package: String,
        #[source]
        source: CargoError,
    },
    #[error("`{command}` produced no lib{lib} shared library; is `cdylib` among the crate-types of {package}?")]
    NoCdylib {
        command: String,
        lib: String,
        package: String,
    },
    #[error("`{command}` produced no test executable `{test}`; is it a [[test]] of {package}?")]
    NoTest {
        command: String,
        test: String,
        package: String,
    },
    #[error("rust suites need [build] rust_suites in memtest.toml")]
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

/// The variants and rust test targets `suites` use.
pub fn request(suites: &[&Suite]) -> Request {
    let mut req = Request::default();
    for suite in suites {
        req.variants.insert(suite.variant().to_string());
        if let Target::Test(test) = &suite.target {
            req.tests
                .insert((suite.variant().to_string(), test.clone()));
        }
    }
    req
}

/// Where a rust suite's executable is kept between runs.
pub fn test_path(config: &Config, variant: &str, test: &str) -> PathBuf {
    config.state_dir().join("bin").join(variant).join(test)
}

/// Builds every requested variant and test, copies the results under
/// `.memtest/`, checks each library's ABI. `emit` receives a stage event
/// before and after each cargo run, so long builds show what they are doing.
/// On `interrupt`, the running cargo is stopped (SIGKILL after `grace`).
pub fn build(
    config: &Config,
    req: &Request,
    cargo_program: &Path,
    (interrupt, grace): (&Interrupt, Duration),
    emit: &mut dyn FnMut(Event),
) -> Result<Artifacts, BuildError> {
    let b = &config.build;
    let mut artifacts = Artifacts::default();
    // The plain build goes last, so what is left uplifted in target/<profile>
    // is the real library: the bindings' own discovery (and their tests) look
    // there, and must never pick up a leaky canary build by accident.
    let mut order: Vec<&String> = req.variants.iter().collect();
    order.sort_by_key(|v| (v.as_str() == DEFAULT_VARIANT, v.as_str()));
    for variant in order {
        let mut features = b.features.clone();
        features.extend(b.variants.get(variant).into_iter().flatten().cloned());
        let job = CargoBuild {
            subcommand: "build",
            package: b.package.clone(),
            profile: b.profile.clone(),
            features,
            tests: Vec::new(),
        };
        let produced = staged(emit, &job, variant, || {
            cargo::run(cargo_program, &config.root, &job, interrupt, grace).map_err(|source| {
                BuildError::Cargo {
                    variant: variant.clone(),
                    package: b.package.clone(),
                    source,
                }
            })
        })?;
        let stem = format!("lib{}.", b.lib);
        let built = produced
            .cdylibs
            .iter()
            .map(|(_, path)| path)
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&stem))
            })
            .ok_or_else(|| BuildError::NoCdylib {
                command: job.display(),
                lib: b.lib.clone(),
                package: b.package.clone(),
            })?;
        let lib = config.lib_path(variant);
        copy_replacing(built, &lib)?;
        if let Some(abi) = &b.abi {
            abi::check(&lib, &abi.symbol, abi.version).map_err(|source| BuildError::Abi {
                variant: variant.clone(),
                source,
            })?;
        }
        artifacts.libs.insert(variant.clone(), lib);
    }

    let variants: BTreeSet<&String> = req.tests.iter().map(|(v, _)| v).collect();
    for variant in variants {
        let package = b
            .rust_suites
            .clone()
            .ok_or(BuildError::NoRustSuitesPackage)?;
        // The variant's features belong to the library package; name them
        // through it so the suites package need not re-export them.
        let mut features: Vec<String> = b
            .features
            .iter()
            .map(|f| format!("{}/{f}", b.package))
            .collect();
        let extra = b.variants.get(variant).into_iter().flatten();
        features.extend(extra.map(|f| format!("{}/{f}", b.package)));
        let job = CargoBuild {
            subcommand: "test",
            package: package.clone(),
            profile: b.profile.clone(),
            features,
            tests: req
                .tests
                .iter()
                .filter(|(v, _)| v == variant)
                .map(|(_, t)| t.clone())
                .collect(),
        };
        let produced = staged(emit, &job, variant, || {
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
            copy_replacing(&built.1, &kept)?;
            artifacts
                .tests
                .insert((variant.clone(), test.clone()), kept);
        }
    }
    Ok(artifacts)
}

fn staged<T>(
    emit: &mut dyn FnMut(Event),
    job: &CargoBuild,
    variant: &str,
    work: impl FnOnce() -> Result<T, BuildError>,
) -> Result<T, BuildError> {
    let detail = format!("{} ({variant})", job.display());
    emit(Event::StageStarted {
        stage: Stage::Build,
        detail: detail.clone(),
    });
    let started = Instant::now();
    let result = work();
    if result.is_ok() {
        emit(Event::StageFinished {
            stage: Stage::Build,
            detail,
            duration: started.elapsed(),
        });
    }
    result
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
    for variant in &req.variants {
        let lib = existing(config.lib_path(variant))?;
        artifacts.libs.insert(variant.clone(), lib);
    }
    for (variant, test) in &req.tests {
        let exe = existing(test_path(config, variant, test))?;
        artifacts.tests.insert((variant.clone(), test.clone()), exe);
    }
    Ok(artifacts)
}

/// Copies through a temporary file and a rename, so a process that still has
/// the previous library mapped keeps its (old) inode instead of seeing its
/// code change underneath it.
fn copy_replacing(from: &Path, to: &Path) -> Result<(), BuildError> {
    let err = |source| BuildError::Copy {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    };
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("copy"),
        std::process::id()
    ));
    std::fs::copy(from, &tmp).map_err(err)?;
    std::fs::rename(&tmp, to).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

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

    #[test]
    fn requests_cover_variants_and_tests_of_the_selection() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let all: Vec<&Suite> = c.suites.iter().collect();
        let req = request(&all);
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
        let node_only = request(&[c.suite("n1").unwrap()]);
        assert_eq!(node_only.variants.iter().collect::<Vec<_>>(), ["default"]);
        assert!(node_only.tests.is_empty());
    }

    #[test]
    fn no_build_reuses_copies_and_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let all: Vec<&Suite> = c.suites.iter().collect();
        let req = request(&all);
        let err = reuse(&c, &req).unwrap_err();
        assert!(
            err.to_string().contains(".memtest/lib/default/libcore."),
            "{err}"
        );
        let src = dir.path().join("built");
        std::fs::write(&src, "x").unwrap();
        for v in ["default", "leaky"] {
            copy_replacing(&src, &c.lib_path(v)).unwrap();
            copy_replacing(&src, &test_path(&c, v, "t1")).unwrap();
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

    #[test]
    fn a_replaced_copy_is_a_new_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, to) = (dir.path().join("a"), dir.path().join("out/lib.so"));
        std::fs::write(&a, "one").unwrap();
        copy_replacing(&a, &to).unwrap();
        let first = std::fs::metadata(&to).unwrap().ino();
        std::fs::write(&a, "two").unwrap();
        copy_replacing(&a, &to).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "two");
        assert_ne!(
            std::fs::metadata(&to).unwrap().ino(),
            first,
            "renamed into place, not overwritten"
        );
    }
}
