//! `memtest hook install|uninstall`: a git pre-commit hook that runs a tier of
//! memory suites (the `fast` tag by default) before every commit. The hook is
//! a short shell script carrying a marker line; memtest only ever replaces or
//! removes a hook with that marker, so a hook the user (or another tool)
//! wrote is never lost: install refuses it unless `--force`, which keeps it
//! beside ours and uninstall puts it back.
//!
//! git itself answers where the hook goes (`git rev-parse --git-path`, which
//! follows worktrees and `core.hooksPath`) and where the work tree starts: the
//! hook runs there, so the memtest.toml it names is relative to it.

use crate::config::{self, ConfigError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The line that marks a hook as memtest's own.
const MARKER: &str = "# memtest-hook: pre-commit";

/// The profile the hook runs at unless `--profile` names another.
pub const DEFAULT_PROFILE: &str = "ci";

/// Where `--force` keeps a hook memtest did not write, beside the hook.
const BACKUP_SUFFIX: &str = "before-memtest";

/// What the hook runs: `memtest --config CONFIG --profile PROFILE run --tag TAG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    /// The memtest binary that installed the hook (used while it exists;
    /// `memtest` on PATH otherwise).
    pub memtest: PathBuf,
    /// memtest.toml, relative to the work tree's top when inside it.
    pub config: PathBuf,
    pub profile: String,
    pub tag: String,
}

/// Why a hook was not installed or removed. All are exit 2: nothing ran.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("cannot run git (is it installed and on PATH?)")]
    Git(#[source] std::io::Error),
    #[error("{} is not inside a git work tree (git says: {git_says}): a pre-commit hook belongs to a git repository", dir.display())]
    NotARepository { dir: PathBuf, git_says: String },
    #[error("{} exists and memtest did not write it: pass --force to replace it (it is kept as {})", path.display(), backup.display())]
    Foreign { path: PathBuf, backup: PathBuf },
    #[error("{} was not written by memtest: left alone", path.display())]
    ForeignUninstall { path: PathBuf },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Resolve(#[from] config::ResolveError),
    #[error("the hook cannot name {what}: {err}")]
    Unquotable { what: String, err: String },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What install or uninstall did: printed as the command's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Installed {
        path: PathBuf,
        command: String,
        replaced: Option<PathBuf>,
    },
    Removed {
        path: PathBuf,
        restored: bool,
    },
    NothingToRemove {
        path: PathBuf,
    },
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Done::Installed {
                path,
                command,
                replaced,
            } => {
                if let Some(backup) = replaced {
                    writeln!(
                        f,
                        "kept the previous hook as {} (`memtest hook uninstall` puts it back)",
                        backup.display()
                    )?;
                }
                writeln!(f, "wrote {}: before each commit it runs", path.display())?;
                writeln!(f, "  {command}")?;
                writeln!(
                    f,
                    "`git commit --no-verify` skips it; `memtest hook uninstall` removes it"
                )
            }
            Done::Removed { path, restored } => {
                write!(f, "removed {}", path.display())?;
                if *restored {
                    write!(f, " and put back the hook it had replaced")?;
                }
                writeln!(f)
            }
            Done::NothingToRemove { path } => {
                writeln!(f, "no hook at {}: nothing to remove", path.display())
            }
        }
    }
}

/// The git work tree around `dir` and its pre-commit hook's path.
#[derive(Debug)]
struct Repo {
    top: PathBuf,
    hook: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, HookError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(HookError::Git)?;
    if !out.status.success() {
        return Err(HookError::NotARepository {
            dir: dir.to_path_buf(),
            git_says: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

fn repo(dir: &Path) -> Result<Repo, HookError> {
    // A bare repository has no work tree for the suites: refused here too.
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    // Asked from the top, the answer is relative to it (or absolute).
    let hook = top.join(git(&top, &["rev-parse", "--git-path", "hooks/pre-commit"])?);
    Ok(Repo { top, hook })
}

fn is_ours(text: &str) -> bool {
    text.lines().any(|line| line.trim_end() == MARKER)
}

/// `text` as one sh word.
fn quote(text: &str) -> Result<String, HookError> {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .map_err(|e| HookError::Unquotable {
            what: text.to_string(),
            err: e.to_string(),
        })
}

fn quote_path(path: &Path) -> Result<String, HookError> {
    quote(path.to_str().ok_or_else(|| HookError::Unquotable {
        what: path.display().to_string(),
        err: "not UTF-8".into(),
    })?)
}

/// The hook script for `spec`, and the command it runs as the user reads it.
pub fn render(spec: &HookSpec) -> Result<(String, String), HookError> {
    let args = format!(
        "--config {} --profile {} run --tag {}",
        quote_path(&spec.config)?,
        quote(&spec.profile)?,
        quote(&spec.tag)?
    );
    let command = format!("memtest {args}");
    let lines = [
        "#!/bin/sh".to_string(),
        MARKER.to_string(),
        "# Written by `memtest hook install`; `memtest hook uninstall` removes it.".into(),
        "# Runs a tier of memtest's suites before each commit, from the top of the".into(),
        "# work tree; `git commit --no-verify` skips it. MEMTEST names another binary.".into(),
        format!("memtest={}", quote_path(&spec.memtest)?),
        r#"if [ -n "${MEMTEST:-}" ]; then memtest=$MEMTEST; fi"#.into(),
        r#"if ! command -v "$memtest" >/dev/null 2>&1; then memtest=memtest; fi"#.into(),
        r#"if ! command -v "$memtest" >/dev/null 2>&1; then"#.into(),
        "  echo 'memtest pre-commit hook: memtest is not installed (cargo install it, or set MEMTEST); `git commit --no-verify` skips the hook' >&2".into(),
        "  exit 1".into(),
        "fi".into(),
        format!("echo {} >&2", quote(&format!("memtest pre-commit hook: {command}"))?),
        format!(r#"exec "$memtest" {args}"#),
    ];
    Ok((lines.join("\n") + "\n", command))
}

/// Finds memtest.toml from `cwd` (or `explicit`), checks it and the profile,
/// and names it relative to the work tree's top (the hook's working folder).
fn config_for_hook(
    explicit: Option<&Path>,
    cwd: &Path,
    top: &Path,
    profile: &str,
) -> Result<PathBuf, HookError> {
    let config = config::load(&config::locate(explicit, cwd)?)?;
    config.run_settings(&config::Invocation {
        profile: Some(profile.to_string()),
        ..Default::default()
    })?;
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let abs = canonical(&config.path);
    Ok(abs
        .strip_prefix(canonical(top))
        .map(Path::to_path_buf)
        .unwrap_or(abs))
}

/// `memtest hook install`: writes the hook in the repository around `cwd`.
pub fn install(
    cwd: &Path,
    config: Option<&Path>,
    profile: &str,
    tag: &str,
    force: bool,
) -> Result<Done, HookError> {
    let repo = repo(cwd)?;
    let spec = HookSpec {
        memtest: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("memtest")),
        config: config_for_hook(config, cwd, &repo.top, profile)?,
        profile: profile.to_string(),
        tag: tag.to_string(),
    };
    let (script, command) = render(&spec)?;
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HookError::Write { path, source }
    };
    let backup = repo.hook.with_extension(BACKUP_SUFFIX);
    let mut replaced = None;
    if let Ok(old) = std::fs::read_to_string(&repo.hook) {
        if !is_ours(&old) {
            if !force {
                return Err(HookError::Foreign {
                    path: repo.hook,
                    backup,
                });
            }
            std::fs::rename(&repo.hook, &backup).map_err(write_err(&backup))?;
            replaced = Some(backup);
        }
    } else if repo.hook.exists() {
        // Not text (a binary or a folder): not ours either.
        return Err(HookError::Foreign {
            path: repo.hook,
            backup,
        });
    }
    crate::atomic::write_atomic(&repo.hook, script.as_bytes()).map_err(write_err(&repo.hook))?;
    make_executable(&repo.hook).map_err(write_err(&repo.hook))?;
    Ok(Done::Installed {
        path: repo.hook,
        command,
        replaced,
    })
}

/// `memtest hook uninstall`: removes memtest's hook (only), and puts back the
/// hook a forced install had replaced.
pub fn uninstall(cwd: &Path) -> Result<Done, HookError> {
    let repo = repo(cwd)?;
    let text = match std::fs::read_to_string(&repo.hook) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Done::NothingToRemove { path: repo.hook })
        }
        Err(_) => return Err(HookError::ForeignUninstall { path: repo.hook }),
    };
    if !is_ours(&text) {
        return Err(HookError::ForeignUninstall { path: repo.hook });
    }
    let write_err = |source| HookError::Write {
        path: repo.hook.clone(),
        source,
    };
    let backup = repo.hook.with_extension(BACKUP_SUFFIX);
    let restored = backup.is_file();
    if restored {
        std::fs::rename(&backup, &repo.hook).map_err(write_err)?;
    } else {
        std::fs::remove_file(&repo.hook).map_err(write_err)?;
    }
    Ok(Done::Removed {
        path: repo.hook,
        restored,
    })
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HookSpec {
        HookSpec {
            memtest: "/opt/my tools/memtest".into(),
            config: "examples/c lib/memtest.toml".into(),
            profile: "ci".into(),
            tag: "fast".into(),
        }
    }

    #[test]
    fn the_script_quotes_every_path_and_carries_the_marker() {
        let (script, command) = render(&spec()).unwrap();
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(is_ours(&script));
        assert!(script.contains("\nmemtest='/opt/my tools/memtest'\n"));
        assert_eq!(
            command,
            "memtest --config 'examples/c lib/memtest.toml' --profile ci run --tag fast"
        );
        assert!(script.contains("exec \"$memtest\" --config 'examples/c lib/memtest.toml'"));
    }

    #[test]
    fn the_script_is_valid_sh() {
        let (script, _) = render(&spec()).unwrap();
        let out = Command::new("sh").args(["-n", "-c", &script]).output();
        let Ok(out) = out else { return };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_hook_without_the_marker_is_foreign() {
        assert!(!is_ours("#!/bin/sh\nnpx lint-staged\n"));
        assert!(!is_ours("#!/bin/sh\necho '# memtest-hook: pre-commit'\n"));
        assert!(is_ours(
            "#!/bin/sh\n# memtest-hook: pre-commit\nexec memtest\n"
        ));
    }
}
