//! The real interpreter behind a runtime's program, for suites run under a
//! wrapper. valgrind and heaptrack instrument the program they start, not
//! what it execs, and version managers (pyenv, nvm, asdf) put shell-script
//! shims on PATH that exec the interpreter: wrapped as is, `python3` would
//! have valgrind check bash and let Python run unchecked. So each interpreter
//! is asked for its own executable, and wrapped suites start that.

use crate::config::{Config, ResolvedSuite};
use crate::model::RuntimeKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("cannot run `{program}` (runtime {runtime}) to ask for its executable")]
    Spawn {
        program: String,
        runtime: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}` (runtime {runtime}) did not name its executable ({status}): {output}")]
    NoAnswer {
        program: String,
        runtime: String,
        status: String,
        output: String,
    },
}

/// The arguments that make an interpreter print its own executable's path.
fn self_path_args(kind: RuntimeKind) -> Option<&'static [&'static str]> {
    match kind {
        RuntimeKind::Python => Some(&["-c", "import sys; print(sys.executable)"]),
        RuntimeKind::Node => Some(&["-p", "process.execPath"]),
        RuntimeKind::Rust | RuntimeKind::Command => None,
    }
}

/// Asks `program` (run in `root`, where a version manager reads its pins)
/// for the executable it really is. `None` for runtimes without interpreter.
pub fn ask(
    kind: RuntimeKind,
    runtime: &str,
    program: &str,
    root: &Path,
) -> Result<Option<PathBuf>, InterpreterError> {
    let Some(args) = self_path_args(kind) else {
        return Ok(None);
    };
    let out = Command::new(program)
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| InterpreterError::Spawn {
            program: program.to_string(),
            runtime: runtime.to_string(),
            source,
        })?;
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let path = PathBuf::from(&answer);
    if out.status.success() && path.is_absolute() {
        return Ok(Some(path));
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(InterpreterError::NoAnswer {
        program: program.to_string(),
        runtime: runtime.to_string(),
        status: out.status.to_string(),
        output: if stderr.is_empty() { answer } else { stderr },
    })
}

/// Runtime name -> real executable, for every runtime that a suite run under
/// a wrapper uses.
pub fn resolve(
    config: &Config,
    suites: &[ResolvedSuite<'_>],
) -> Result<BTreeMap<String, String>, InterpreterError> {
    let mut resolved = BTreeMap::new();
    for s in suites {
        if s.settings.wrapper.value.is_none() {
            continue;
        }
        let runtime = config.runtime_of(s.suite);
        let Some(program) = &runtime.program else {
            continue;
        };
        if resolved.contains_key(&runtime.name) {
            continue;
        }
        if let Some(path) = ask(runtime.kind, &runtime.name, program, &config.root)? {
            resolved.insert(runtime.name.clone(), path.display().to_string());
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A shim like pyenv's: a script that runs something else.
    fn script(dir: &Path, name: &str, body: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    #[test]
    fn a_shim_is_asked_and_answers_with_the_real_executable() {
        let dir = tempfile::tempdir().unwrap();
        let shim = script(dir.path(), "python3", "echo /opt/python/bin/python3.12");
        let found = ask(RuntimeKind::Python, "python", &shim, dir.path()).unwrap();
        assert_eq!(found, Some(PathBuf::from("/opt/python/bin/python3.12")));
        assert!(ask(RuntimeKind::Rust, "rust", "", dir.path())
            .unwrap()
            .is_none());
    }

    #[test]
    fn an_interpreter_that_cannot_answer_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let broken = script(dir.path(), "node", "echo 'no such module' >&2; exit 3");
        let err = ask(RuntimeKind::Node, "node", &broken, dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`{broken}` (runtime node) did not name its executable \
                 (exit status: 3): no such module"
            )
        );
        let missing = dir.path().join("missing").display().to_string();
        assert!(matches!(
            ask(RuntimeKind::Node, "node", &missing, dir.path()),
            Err(InterpreterError::Spawn { .. })
        ));
    }

    #[test]
    fn python_on_this_machine_names_a_real_binary() {
        // Whatever python3 is on PATH (a pyenv shim here), the answer is an
        // ELF file, not a script.
        let Ok(Some(path)) = ask(RuntimeKind::Python, "python", "python3", Path::new("/")) else {
            eprintln!("skipped: python3 is not on PATH or does not run");
            return;
        };
        let head = std::fs::read(&path).unwrap();
        assert_eq!(&head[..4], b"\x7fELF", "{}", path.display());
    }
}
