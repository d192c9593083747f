//! Driving cargo: the exact command lines for the library and the rust suites,
//! and reading what they produced from cargo's JSON messages rather than
//! guessing paths under target/ (profiles, target triples and hashes vary).

use crate::process::interrupt::{self, Interrupt};
use serde::Deserialize;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// One cargo invocation, as data: what to build and with which features.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoBuild {
    /// `build` for the library, `test` (with `--no-run`) for the suites.
    pub subcommand: &'static str,
    pub package: String,
    pub profile: String,
    pub features: Vec<String>,
    /// With `test`: the test targets to build, each as `--test NAME`. Named
    /// explicitly because the suites are `test = false` (a plain `cargo test`
    /// must not run them without their fixtures), and so only what the
    /// selection needs is built.
    pub tests: Vec<String>,
    /// A variant's RUSTFLAGS (e.g. `-Zsanitizer=address`), set in cargo's
    /// environment.
    pub rustflags: Vec<String>,
    /// A rustup toolchain (`nightly`): cargo is then started through
    /// `rustup run`, since the cargo running memtest (its `CARGO`) is the
    /// default toolchain's own binary, which takes no `+nightly`.
    pub toolchain: Option<String>,
    /// `--target`: with it, RUSTFLAGS reach only the target's code, not
    /// build scripts and proc macros (which a sanitizer's flags would
    /// break), and the artifacts land apart under target/<triple>/.
    pub target: Option<String>,
    /// A variant's extra environment for cargo (e.g. `RUSTC_BOOTSTRAP=1`,
    /// which lets a stable toolchain take `-Z` flags).
    pub env: Vec<(String, String)>,
}

impl CargoBuild {
    /// The arguments after `cargo`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![self.subcommand.to_string()];
        if self.subcommand == "test" {
            args.push("--no-run".into());
        }
        args.extend(["--profile".into(), self.profile.clone()]);
        args.extend(["-p".into(), self.package.clone()]);
        if !self.features.is_empty() {
            args.extend(["--features".into(), self.features.join(",")]);
        }
        for test in &self.tests {
            args.extend(["--test".into(), test.clone()]);
        }
        if let Some(target) = &self.target {
            args.extend(["--target".into(), target.clone()]);
        }
        // Diagnostics rendered by cargo onto stderr (what a user would see);
        // stdout keeps only the artifact messages this module parses.
        args.push("--message-format=json-render-diagnostics".into());
        args
    }

    /// How the command reads to a person (stage details, error messages).
    pub fn display(&self) -> String {
        let args = self.args();
        let mut line = format!("cargo {}", args[..args.len() - 1].join(" "));
        if let Some(toolchain) = &self.toolchain {
            line = line.replacen("cargo", &format!("cargo +{toolchain}"), 1);
        }
        if !self.rustflags.is_empty() {
            line = format!("RUSTFLAGS=\"{}\" {line}", self.rustflags.join(" "));
        }
        for (key, value) in self.env.iter().rev() {
            line = format!("{key}={value} {line}");
        }
        line
    }

    /// The command to start: `cargo`, or `rustup run TOOLCHAIN cargo`.
    fn command(&self, cargo: &Path) -> Command {
        let mut cmd = match &self.toolchain {
            None => Command::new(cargo),
            Some(toolchain) => {
                let mut cmd = Command::new("rustup");
                cmd.args(["run", toolchain, "cargo"]);
                cmd
            }
        };
        cmd.args(self.args());
        if !self.rustflags.is_empty() {
            cmd.env("RUSTFLAGS", self.rustflags.join(" "));
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// The fields of cargo's `compiler-artifact` message this module needs.
#[derive(Debug, Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<MessageTarget>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    profile: Option<MessageProfile>,
}

#[derive(Debug, Deserialize)]
struct MessageTarget {
    name: String,
    kind: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct MessageProfile {
    test: bool,
}

/// What one cargo run produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produced {
    /// Every shared library (`.so`/`.dylib`) named `lib<lib>` ... by target name.
    pub cdylibs: Vec<(String, PathBuf)>,
    /// Test target name -> its executable.
    pub tests: Vec<(String, PathBuf)>,
}

/// Reads cargo's JSON message lines; lines that are not JSON artifact
/// messages (cargo may print other things) are skipped.
pub fn parse_messages(lines: impl IntoIterator<Item = impl AsRef<str>>) -> Produced {
    let mut produced = Produced::default();
    for line in lines {
        let Ok(msg) = serde_json::from_str::<Message>(line.as_ref()) else {
            continue;
        };
        if msg.reason != "compiler-artifact" {
            continue;
        }
        let Some(target) = msg.target else { continue };
        for file in &msg.filenames {
            let ext = file.extension().and_then(|e| e.to_str());
            if matches!(ext, Some("so" | "dylib")) {
                produced.cdylibs.push((target.name.clone(), file.clone()));
            }
        }
        let is_test =
            msg.profile.is_some_and(|p| p.test) && target.kind.iter().any(|k| k == "test");
        if let (true, Some(exe)) = (is_test, msg.executable) {
            produced.tests.push((target.name, exe));
        }
    }
    produced
}

/// Why cargo did not produce what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CargoError {
    #[error("cannot run `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed:\n{diagnostics}")]
    Failed {
        command: String,
        diagnostics: String,
    },
    #[error("`{command}` stopped: interrupted")]
    Interrupted { command: String },
}

/// Runs `cargo <build.args()>` in `root` and returns what it produced. On
/// failure the error carries cargo's rendered diagnostics (its stderr without
/// the progress lines). Cargo runs in a process group of its own, so the
/// terminal's Ctrl-C reaches only memtest, which on `interrupt` sends SIGINT
/// to cargo and its rustc processes (SIGKILL after `grace`).
pub fn run(
    cargo: &Path,
    root: &Path,
    build: &CargoBuild,
    interrupt: &Interrupt,
    grace: Duration,
) -> Result<Produced, CargoError> {
    let command = build.display();
    let mut child = build
        .command(cargo)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| CargoError::Spawn {
            command: command.clone(),
            source,
        })?;
    // Both pipes are drained on threads of their own: a pipe left unread
    // would block cargo once its buffer fills, and this thread must stay
    // free to notice an interrupt.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let stdout_reader =
        std::thread::spawn(move || parse_messages(stdout.lines().map_while(Result::ok)));
    let status =
        interrupt::wait_or_stop(&mut child, interrupt, libc::SIGINT, grace).map_err(|source| {
            CargoError::Spawn {
                command: command.clone(),
                source,
            }
        })?;
    let produced = stdout_reader.join().unwrap_or_default();
    let stderr = stderr_reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(CargoError::Interrupted { command });
    };
    if !status.success() {
        return Err(CargoError::Failed {
            command,
            diagnostics: diagnostics_of(&stderr),
        });
    }
    Ok(produced)
}

/// cargo's stderr minus its progress lines ("Compiling ...", "Blocking ..."):
/// what is left is what the user needs to fix the build.
pub fn diagnostics_of(stderr: &str) -> String {
    const PROGRESS: &[&str] = &[
        "Compiling",
        "Checking",
        "Blocking",
        "Downloading",
        "Downloaded",
        "Updating",
        "Locking",
        "Adding",
        "Fresh",
        "Finished",
        "Running",
        "Building",
        "Executable",
    ];
    let kept: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            let word = line.split_whitespace().next().unwrap_or("");
            !(line.starts_with(' ') && PROGRESS.contains(&word))
        })
        .collect();
    let text = kept.join("\n").trim().to_string();
    if text.is_empty() {
        "(cargo printed no diagnostics)".to_string()
    } else {
        text
    }
}

/// The cargo to run: the one running us under `cargo run` (its `CARGO`), else
/// the first on PATH.
pub fn cargo_program() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from `cargo build --profile release -p pyjamaz
    // --message-format=json-render-diagnostics` and `cargo test --no-run ...
    // -p memsuite` in this repository (only a few packages' lines kept).
    const LIB_MESSAGES: &str = r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#png@0.18.1","manifest_path":"/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/png-0.18.1/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"png","src_path":"/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/png-0.18.1/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"3","debuginfo":"line-tables-only","debug_assertions":false,"overflow_checks":false,"test":false},"features":[],"filenames":["/work/main/target/release/deps/libpng-bd92112db301f5dd.rlib","/work/main/target/release/deps/libpng-bd92112db301f5dd.rmeta"],"executable":null,"fresh":true}
{"reason":"compiler-artifact","package_id":"path+file:///work/main/core#pyjamaz@0.1.0","manifest_path":"/work/main/core/Cargo.toml","target":{"kind":["rlib","cdylib"],"crate_types":["rlib","cdylib"],"name":"pyjamaz","src_path":"/work/main/core/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"3","debuginfo":"line-tables-only","debug_assertions":false,"overflow_checks":false,"test":false},"features":["cdylib-alloc","default"],"filenames":["/work/main/target/release/libpyjamaz.rlib","/work/main/target/release/libpyjamaz.so"],"executable":null,"fresh":false}
{"reason":"build-finished","success":true}"#;

    const TEST_MESSAGES: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///work/main/suites/rust#memsuite@0.1.0","manifest_path":"/work/main/suites/rust/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"memsuite","src_path":"/work/main/suites/rust/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"3","debuginfo":"line-tables-only","debug_assertions":false,"overflow_checks":false,"test":false},"features":[],"filenames":["/work/main/target/release/deps/libmemsuite-889f5c7657c0b386.rlib","/work/main/target/release/deps/libmemsuite-889f5c7657c0b386.rmeta"],"executable":null,"fresh":false}
{"reason":"compiler-artifact","package_id":"path+file:///work/main/suites/rust#memsuite@0.1.0","manifest_path":"/work/main/suites/rust/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"memsuite","src_path":"/work/main/suites/rust/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"3","debuginfo":"line-tables-only","debug_assertions":false,"overflow_checks":false,"test":true},"features":[],"filenames":["/work/main/target/release/deps/memsuite-5fac8e29b88a8b7c"],"executable":"/work/main/target/release/deps/memsuite-5fac8e29b88a8b7c","fresh":false}
not json at all
{"reason":"compiler-artifact","package_id":"path+file:///work/main/suites/rust#memsuite@0.1.0","manifest_path":"/work/main/suites/rust/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"memory_leak","src_path":"/work/main/suites/rust/tests/memory_leak.rs","edition":"2021","doc":false,"doctest":false,"test":true},"profile":{"opt_level":"3","debuginfo":"line-tables-only","debug_assertions":false,"overflow_checks":false,"test":true},"features":[],"filenames":["/work/main/target/release/deps/memory_leak-0792dbfd5eb962ea"],"executable":"/work/main/target/release/deps/memory_leak-0792dbfd5eb962ea","fresh":false}
{"reason":"compiler-artifact","package_id":"path+file:///work/main/suites/rust#memsuite@0.1.0","manifest_path":"/work/main/suites/rust/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"error_recovery","src_path":"/work/main/suites/rust/tests/error_recovery.rs","edition":"2021","doc":false,"doctest":false,"test":true},"profile":{"opt_level":"3","debuginfo":"line-tables-only","debug_assertions":false,"overflow_checks":false,"test":true},"features":[],"filenames":["/work/main/target/release/deps/error_recovery-2ac45751e4b648ca"],"executable":"/work/main/target/release/deps/error_recovery-2ac45751e4b648ca","fresh":false}
{"reason":"build-finished","success":true}"#;

    #[test]
    fn the_cdylib_comes_from_its_artifact_message() {
        let produced = parse_messages(LIB_MESSAGES.lines());
        assert_eq!(
            produced.cdylibs,
            [(
                "pyjamaz".to_string(),
                PathBuf::from("/work/main/target/release/libpyjamaz.so")
            )]
        );
        assert!(produced.tests.is_empty());
    }

    #[test]
    fn test_targets_map_to_their_executables_and_the_lib_unit_test_does_not() {
        let produced = parse_messages(TEST_MESSAGES.lines());
        assert_eq!(
            produced.tests,
            [
                (
                    "memory_leak".to_string(),
                    PathBuf::from("/work/main/target/release/deps/memory_leak-0792dbfd5eb962ea")
                ),
                (
                    "error_recovery".to_string(),
                    PathBuf::from("/work/main/target/release/deps/error_recovery-2ac45751e4b648ca")
                ),
            ]
        );
    }

    #[test]
    fn command_lines_name_profile_package_and_features() {
        let lib = CargoBuild {
            subcommand: "build",
            package: "pyjamaz".into(),
            profile: "release".into(),
            features: vec!["canary-leak".into()],
            ..CargoBuild::default()
        };
        assert_eq!(
            lib.args().join(" "),
            "build --profile release -p pyjamaz --features canary-leak --message-format=json-render-diagnostics"
        );
        assert_eq!(
            lib.display(),
            "cargo build --profile release -p pyjamaz --features canary-leak"
        );
        let tests = CargoBuild {
            subcommand: "test",
            features: vec![],
            package: "memsuite".into(),
            tests: vec!["memory_leak".into(), "ffi_alloc_stats".into()],
            ..lib
        };
        assert_eq!(
            tests.args().join(" "),
            "test --no-run --profile release -p memsuite --test memory_leak --test ffi_alloc_stats --message-format=json-render-diagnostics"
        );
    }

    #[test]
    fn a_sanitizer_variant_names_toolchain_target_and_rustflags() {
        let asan = CargoBuild {
            subcommand: "build",
            package: "pyjamaz".into(),
            profile: "release".into(),
            rustflags: vec!["-Zsanitizer=address".into()],
            toolchain: Some("nightly".into()),
            target: Some("x86_64-unknown-linux-gnu".into()),
            ..CargoBuild::default()
        };
        assert_eq!(
            asan.display(),
            "RUSTFLAGS=\"-Zsanitizer=address\" cargo +nightly build --profile release -p pyjamaz \
             --target x86_64-unknown-linux-gnu"
        );
        let cmd = asan.command(Path::new("/bin/cargo"));
        assert_eq!(cmd.get_program(), "rustup");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(args[..4], ["run", "nightly", "cargo", "build"]);
        let env: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            env,
            [(
                std::ffi::OsStr::new("RUSTFLAGS"),
                Some(std::ffi::OsStr::new("-Zsanitizer=address"))
            )]
        );
    }

    #[test]
    fn diagnostics_drop_progress_lines() {
        let stderr = "   Compiling png v0.18.1\n    Blocking waiting for file lock\nerror[E0425]: cannot find value `x` in this scope\n --> core/src/lib.rs:3:5\n  |\n3 |     x\n  |     ^ not found\n\nerror: could not compile `pyjamaz`\n";
        assert_eq!(
            diagnostics_of(stderr),
            "error[E0425]: cannot find value `x` in this scope\n --> core/src/lib.rs:3:5\n  |\n3 |     x\n  |     ^ not found\n\nerror: could not compile `pyjamaz`"
        );
        assert_eq!(
            diagnostics_of("   Compiling a\n"),
            "(cargo printed no diagnostics)"
        );
    }
}
