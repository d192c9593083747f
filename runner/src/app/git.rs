//! The git that history and bisection need: which commit a tree is at, the
//! commits between two revisions, and worktrees of their own for the
//! commits a bisection tests. git runs in a process group of its own, so a
//! Ctrl-C at the terminal reaches memtest only, which lets a `worktree add`
//! finish and then removes what it made; nothing touches the user's work
//! tree, index, HEAD or `git bisect` state.

use crate::history::Commit;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a git command did not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git (is it installed and on PATH?)")]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed in {}: {says}", dir.display())]
    Failed {
        args: String,
        dir: PathBuf,
        says: String,
    },
}

/// Runs `git args` in `dir`; its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            dir: dir.to_owned(),
            says: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The top of the work tree around `dir`.
pub fn toplevel(dir: &Path) -> Result<PathBuf, GitError> {
    git(dir, &["rev-parse", "--show-toplevel"]).map(PathBuf::from)
}

/// The commit `rev` names, with its subject and committer time.
pub fn commit(dir: &Path, rev: &str) -> Result<Commit, GitError> {
    let spec = format!("{rev}^{{commit}}");
    let id = git(dir, &["rev-parse", "--verify", "--quiet", &spec]).map_err(|e| match e {
        GitError::Failed { args, dir, .. } => GitError::Failed {
            args,
            dir,
            says: format!("`{rev}` names no commit here"),
        },
        other => other,
    })?;
    let info = git(dir, &["log", "-1", "--format=%ct%n%s", &id])?;
    let (time, subject) = info.split_once('\n').unwrap_or((info.as_str(), ""));
    let depth = git(dir, &["rev-list", "--count", &id])?;
    Ok(Commit {
        subject: subject.to_string(),
        time_unix: time.trim().parse().unwrap_or(0),
        depth: depth.parse().ok(),
        dirty: false,
        id,
    })
}

/// The commit the work tree around `dir` is at, dirty when tracked files
/// differ from it; `None` outside a git work tree (or without git).
pub fn head(dir: &Path) -> Option<Commit> {
    let mut c = commit(dir, "HEAD").ok()?;
    c.dirty = !git(dir, &["status", "--porcelain", "--untracked-files=no"])
        .ok()?
        .is_empty();
    Some(c)
}

/// Whether `ancestor` is an ancestor of (or the same as) `of`.
pub fn is_ancestor(dir: &Path, ancestor: &str, of: &str) -> Result<bool, GitError> {
    let status = Command::new("git")
        .args(["merge-base", "--is-ancestor", ancestor, of])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .status()
        .map_err(GitError::Spawn)?;
    Ok(status.success())
}

/// The commits after `good` up to and including `bad`, oldest first,
/// following first parents only: the line a merge joined is one step, as
/// `git bisect --first-parent` sees it.
pub fn line(dir: &Path, good: &str, bad: &str) -> Result<Vec<String>, GitError> {
    let range = format!("{good}..{bad}");
    let out = git(
        dir,
        &[
            "rev-list",
            "--first-parent",
            "--ancestry-path",
            "--reverse",
            &range,
        ],
    )?;
    Ok(out.lines().map(str::to_string).collect())
}

/// A worktree of its own at one commit, detached, removed (with whatever
/// the build left in it) when dropped: on success, error, interrupt or
/// panic alike.
#[derive(Debug)]
pub struct Worktree {
    repo: PathBuf,
    path: PathBuf,
}

impl Worktree {
    /// Checks `commit` out at `path` (which must not exist).
    pub fn add(repo: &Path, path: &Path, commit: &str) -> Result<Worktree, GitError> {
        let where_ = path.display().to_string();
        // Owned from here on: a failed add may have left a folder or an
        // administrative entry, which the drop removes.
        let tree = Worktree {
            repo: repo.to_owned(),
            path: path.to_owned(),
        };
        git(
            repo,
            &["worktree", "add", "--detach", "--quiet", &where_, commit],
        )?;
        Ok(tree)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        remove(&self.repo, &self.path);
    }
}

/// Removes a worktree memtest made, and its administrative entry, whatever
/// state it is in.
pub fn remove(repo: &Path, path: &Path) {
    let where_ = path.display().to_string();
    let removed = git(repo, &["worktree", "remove", "--force", "--force", &where_]).is_ok();
    if !removed || path.exists() {
        let _ = std::fs::remove_dir_all(path);
        let _ = git(repo, &["worktree", "prune"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with `n` commits of one file; their ids, oldest first.
    pub(crate) fn repo(dir: &Path, n: usize) -> Vec<String> {
        git(dir, &["init", "--quiet", "-b", "main"]).unwrap();
        let mut ids = Vec::new();
        for i in 0..n {
            std::fs::write(dir.join("f"), format!("{i}\n")).unwrap();
            git(dir, &["add", "f"]).unwrap();
            git(
                dir,
                &[
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "commit",
                    "--quiet",
                    "-m",
                    &format!("commit {i}"),
                ],
            )
            .unwrap();
            ids.push(git(dir, &["rev-parse", "HEAD"]).unwrap());
        }
        ids
    }

    #[test]
    fn commits_lines_and_head() {
        let dir = tempfile::tempdir().unwrap();
        let ids = repo(dir.path(), 4);
        let c = commit(dir.path(), "HEAD~1").unwrap();
        assert_eq!(
            (c.id.as_str(), c.subject.as_str()),
            (ids[2].as_str(), "commit 2")
        );
        assert!(c.time_unix > 0);
        // Committed within the same second: only the depth orders them.
        assert_eq!(c.depth, Some(3));
        assert_eq!(line(dir.path(), &ids[0], "HEAD").unwrap(), ids[1..]);
        assert!(is_ancestor(dir.path(), &ids[0], &ids[3]).unwrap());
        assert!(!is_ancestor(dir.path(), &ids[3], &ids[0]).unwrap());
        let err = commit(dir.path(), "no-such-rev").unwrap_err().to_string();
        assert!(err.contains("`no-such-rev` names no commit here"), "{err}");
        assert!(!head(dir.path()).unwrap().dirty);
        std::fs::write(dir.path().join("f"), "changed").unwrap();
        assert!(head(dir.path()).unwrap().dirty);
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(head(outside.path()), None);
    }

    #[test]
    fn a_worktree_is_gone_when_dropped_even_with_build_output_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let ids = repo(dir.path(), 2);
        let path = dir.path().join(".memtest/bisect/wt");
        {
            let tree = Worktree::add(dir.path(), &path, &ids[0]).unwrap();
            assert_eq!(
                std::fs::read_to_string(tree.path().join("f")).unwrap(),
                "0\n"
            );
            std::fs::write(tree.path().join("built.o"), "x").unwrap();
        }
        assert!(!path.exists());
        let list = git(dir.path(), &["worktree", "list", "--porcelain"]).unwrap();
        assert_eq!(list.matches("worktree ").count(), 1, "{list}");
        // The user's tree is where it was.
        assert_eq!(git(dir.path(), &["rev-parse", "HEAD"]).unwrap(), ids[1]);
    }
}
