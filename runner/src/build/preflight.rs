//! Preflight: before anything is built, every program the selected suites
//! need (node, python3, valgrind, cargo) must be on PATH and new enough, so a
//! missing toolchain is one clear error naming the suites that need it rather
//! than a spawn failure halfway through the run.

use crate::config::{BuildForm, Config, ResolvedSuite};
use crate::model::RuntimeKind;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A program the run needs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub program: String,
    /// "runtime node", "wrapper memcheck", "the build".
    pub purpose: String,
    pub suites: Vec<String>,
    /// Oldest acceptable major version (`program --version` is read).
    pub min_major: Option<u32>,
    /// What to install when it is missing.
    pub install: &'static str,
}

/// Node releases before 18 lack what the binding's FFI layer (koffi) needs.
pub const NODE_MIN_MAJOR: u32 = 18;

/// The programs `suites` need, one entry per program, suites listed in order.
pub fn needs(config: &Config, suites: &[ResolvedSuite<'_>], building: bool) -> Vec<Need> {
    let mut by_program: BTreeMap<String, Need> = BTreeMap::new();
    let mut add = |program: &str, purpose: String, suite: Option<&str>, min_major, install| {
        let need = by_program
            .entry(program.to_string())
            .or_insert_with(|| Need {
                program: program.to_string(),
                purpose,
                suites: Vec::new(),
                min_major,
                install,
            });
        if let Some(s) = suite {
            need.suites.push(s.to_string());
        }
    };
    if building {
        match config.build.as_ref().map(|b| &b.form) {
            Some(BuildForm::Cargo { .. }) => add(
                "cargo",
                "the build".into(),
                None,
                None,
                "install Rust with rustup",
            ),
            Some(BuildForm::Command { argv, .. }) if is_bare_name(&argv[0]) => add(
                &argv[0],
                "the build".into(),
                None,
                None,
                "install it, or change [build] command",
            ),
            _ => {}
        }
    }
    for resolved in suites {
        let suite = resolved.suite;
        let runtime = config.runtime_of(suite);
        if let Some(program) = &runtime.program {
            let (min, install) = match runtime.kind {
                RuntimeKind::Node => (Some(NODE_MIN_MAJOR), "install Node.js 18 or later"),
                RuntimeKind::Python => (None, "install Python 3"),
                RuntimeKind::Rust => (None, "install Rust with rustup"),
                RuntimeKind::Command => (None, "install it, or change the runtime's program"),
            };
            add(
                program,
                format!("runtime {}", runtime.name),
                Some(&suite.name),
                min,
                install,
            );
        }
        if let crate::config::Target::Argv(argv) = &suite.target {
            if is_bare_name(&argv[0]) {
                let purpose = format!("runtime {}", runtime.name);
                add(
                    &argv[0],
                    purpose,
                    Some(&suite.name),
                    None,
                    "install it, or change the suite's command",
                );
            }
        }
        if let Some(w) = resolved.settings.wrapper_in(config) {
            if let Some(tool) = w.argv.first() {
                let purpose = format!("wrapper {}", w.name);
                add(
                    tool,
                    purpose,
                    Some(&suite.name),
                    None,
                    "install the tool or run without --wrapper",
                );
            }
        }
    }
    by_program.into_values().collect()
}

/// A program looked up on PATH (not a path, not a template to fill in).
fn is_bare_name(program: &str) -> bool {
    !program.contains('/') && !program.contains("${")
}

/// One need that is not met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing(Need),
    TooOld { need: Need, found: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Problems(problems))]
pub struct PreflightError {
    pub problems: Vec<Problem>,
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let (need, what) = match problem {
                Problem::Missing(need) => (need, "is not on PATH".to_string()),
                Problem::TooOld { need, found } => (
                    need,
                    format!(
                        "is {found}, older than the {} required",
                        need.min_major.unwrap_or(0)
                    ),
                ),
            };
            write!(f, "`{}` ({}) {what}", need.program, need.purpose)?;
            if !need.suites.is_empty() {
                write!(f, "; needed by {}", need.suites.join(", "))?;
            }
            write!(f, ": {}", need.install)?;
        }
        Ok(())
    }
}

/// Checks every need against `path_env` (a PATH value); programs with a
/// slash are taken relative to `root`.
pub fn check(needs: &[Need], path_env: &OsStr, root: &Path) -> Result<(), PreflightError> {
    let mut problems = Vec::new();
    for need in needs {
        let Some(found) = find_program(&need.program, path_env, root) else {
            problems.push(Problem::Missing(need.clone()));
            continue;
        };
        let Some(min) = need.min_major else { continue };
        let version = Command::new(&found)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        match major_version(&version) {
            Some(major) if major >= min => {}
            _ => problems.push(Problem::TooOld {
                need: need.clone(),
                found: if version.is_empty() {
                    "of unknown version".into()
                } else {
                    version
                },
            }),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PreflightError { problems })
    }
}

/// `program` on `path_env`, like a shell's lookup: the first executable file.
pub fn find_program(program: &str, path_env: &OsStr, root: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        let path = root.join(program);
        return is_executable(&path).then_some(path);
    }
    std::env::split_paths(path_env)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The major version in "v20.11.1", "Python 3.11.4", "valgrind-3.22.0".
pub fn major_version(text: &str) -> Option<u32> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Invocation, Suite};
    use std::os::unix::fs::PermissionsExt;

    fn config(dir: &Path) -> Config {
        std::fs::write(dir.join("a.js"), "").unwrap();
        std::fs::write(dir.join("b.py"), "").unwrap();
        let text = r#"
[build]
package = "p"
lib = "p"
lib_env = "L"
[runtimes.node]
kind = "node"
program = "node"
[runtimes.python]
kind = "python"
program = "python3"
[wrappers.memcheck]
argv = ["valgrind", "--log-file=${log_dir}/${suite}.txt"]
findings = "valgrind-xml"
[[suite]]
name = "n1"
runtime = "node"
script = "a.js"
[[suite]]
name = "n2"
runtime = "node"
script = "a.js"
wrapper = "memcheck"
[[suite]]
name = "p1"
runtime = "python"
script = "b.py"
"#;
        config::parse(text, &dir.join("memtest.toml"), dir).unwrap()
    }

    /// A fake program printing `version` for `--version`.
    fn fake(dir: &Path, name: &str, version: &str) {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho '{version}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn needs_group_suites_by_program() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let needs = needs(&c, &resolved(&c, None), true);
        let summary: Vec<(&str, Vec<&str>)> = needs
            .iter()
            .map(|n| {
                (
                    n.program.as_str(),
                    n.suites.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("cargo", vec![]),
                ("node", vec!["n1", "n2"]),
                ("python3", vec!["p1"]),
                ("valgrind", vec!["n2"])
            ]
        );
        let only_python = needs_for(&c, "p1", Some("memcheck"));
        assert_eq!(
            only_python,
            ["python3", "valgrind"],
            "--wrapper applies to every suite"
        );
    }

    fn resolved<'c>(c: &'c Config, wrapper: Option<&str>) -> Vec<ResolvedSuite<'c>> {
        let inv = Invocation {
            wrapper: wrapper.map(str::to_string),
            ..Invocation::default()
        };
        let suites: Vec<&Suite> = c.suites.iter().collect();
        c.resolve_all(&suites, &inv).unwrap()
    }

    fn needs_for(c: &Config, suite: &str, wrapper: Option<&str>) -> Vec<String> {
        let one: Vec<ResolvedSuite> = resolved(c, wrapper)
            .into_iter()
            .filter(|s| s.suite.name == suite)
            .collect();
        needs(c, &one, false)
            .into_iter()
            .map(|n| n.program)
            .collect()
    }

    #[test]
    fn missing_and_old_programs_are_reported_with_their_suites() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        fake(&bin, "node", "v16.20.0");
        let suites = resolved(&c, None);
        let err = check(&needs(&c, &suites, false), bin.as_os_str(), dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`node` (runtime node) is v16.20.0, older than the 18 required; needed by n1, n2: install Node.js 18 or later\n\
             `python3` (runtime python) is not on PATH; needed by p1: install Python 3\n\
             `valgrind` (wrapper memcheck) is not on PATH; needed by n2: install the tool or run without --wrapper"
        );
        fake(&bin, "node", "v20.11.1");
        fake(&bin, "python3", "Python 3.11.4");
        fake(&bin, "valgrind", "valgrind-3.22.0");
        check(&needs(&c, &suites, false), bin.as_os_str(), dir.path()).unwrap();
    }

    #[test]
    fn versions_and_lookup() {
        assert_eq!(major_version("v20.11.1"), Some(20));
        assert_eq!(major_version("Python 3.11.4"), Some(3));
        assert_eq!(major_version("no digits"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plain"), "").unwrap();
        assert_eq!(
            find_program("plain", dir.path().as_os_str(), dir.path()),
            None,
            "not executable"
        );
        fake(dir.path(), "tool", "1");
        assert_eq!(
            find_program("tool", dir.path().as_os_str(), Path::new("/")),
            Some(dir.path().join("tool"))
        );
        assert_eq!(
            find_program("./tool", OsStr::new(""), dir.path()),
            Some(dir.path().join("./tool"))
        );
    }
}
