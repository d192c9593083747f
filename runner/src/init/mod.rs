//! `memtest init`: writes a starting memtest.toml for the project it runs in.
//! It looks at the files a project already has (a Cargo.toml with a cdylib,
//! build.zig, CMakeLists.txt, a Makefile; package.json, pyproject.toml), picks
//! the build form and runtimes they imply, and writes the config plus one
//! commented starter suite per runtime, each with a canary. The result is a
//! scaffold that `memtest check` accepts, with TODOs where only the user knows
//! the answer (which function to call, which limits fit).
//!
//! detect.rs reads the project, render.rs writes the text; this file decides
//! what goes where on disk and refuses to clobber anything.

mod detect;
mod render;

pub use detect::{Binding, BuildKind, Project};

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the starter suites go, relative to memtest.toml.
pub const SUITES_DIR: &str = "memtest/suites";

/// Why `memtest init` wrote nothing (or stopped part-way). All are exit 2
/// ("nothing was built or run"): the user has to pick another folder, pass
/// --force, or fix permissions.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exists: pass --force to overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error("{} is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    // The io error is part of the message, not a `#[source]`: the command's
    // edge turns this into a one-line usage error.
    #[error("cannot write {}: {err}", path.display())]
    Write { path: PathBuf, err: std::io::Error },
}

/// What `memtest init` found and did: printed as the command's answer.
#[derive(Debug)]
pub struct Summary {
    /// The memtest.toml written (absolute, as given).
    pub config: PathBuf,
    /// One line per finding, e.g. "build: Makefile (library `intern`)".
    pub detected: Vec<String>,
    /// Files written, relative to the project folder.
    pub written: Vec<String>,
    /// Starter suites left alone because they existed.
    pub kept: Vec<String>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "detected:")?;
        for line in &self.detected {
            writeln!(f, "  {line}")?;
        }
        for file in &self.written {
            writeln!(f, "wrote {file}")?;
        }
        for file in &self.kept {
            writeln!(f, "kept {file} (it exists; not overwritten)")?;
        }
        writeln!(
            f,
            "next: fill in the TODOs, then `memtest check` and `memtest run`; \
             add .memtest/ to .gitignore (memtest's builds, logs and helpers)"
        )
    }
}

/// Detects the project in `dir` and writes its memtest.toml and starter
/// suites. An existing memtest.toml is only replaced with `force`; existing
/// starter suites are never replaced (they may hold the user's work).
pub fn run(dir: &Path, force: bool) -> Result<Summary, InitError> {
    if !dir.is_dir() {
        return Err(InitError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let config = dir.join(crate::config::FILE_NAME);
    if config.exists() && !force {
        return Err(InitError::Exists { path: config });
    }
    let project = detect::detect(dir);
    let rendered = render::render(&project);

    let mut summary = Summary {
        config: config.clone(),
        detected: project.describe(),
        written: Vec::new(),
        kept: Vec::new(),
    };
    // Suites first: memtest.toml names them, and a config written without
    // its scripts would fail `memtest check`.
    for suite in &rendered.suites {
        let path = dir.join(&suite.path);
        if path.exists() {
            summary.kept.push(suite.path.clone());
            continue;
        }
        write_new(&path, &suite.text)?;
        summary.written.push(suite.path.clone());
    }
    write_config(&config, &rendered.config, force)?;
    summary
        .written
        .insert(0, crate::config::FILE_NAME.to_string());
    Ok(summary)
}

/// Creates `path` (and its folder); fails if it appeared meanwhile.
fn write_new(path: &Path, text: &str) -> Result<(), InitError> {
    let err = |err| InitError::Write {
        path: path.to_path_buf(),
        err,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)
}

fn write_config(path: &Path, text: &str, force: bool) -> Result<(), InitError> {
    if !force {
        // create_new: a memtest.toml that appeared since the check above is
        // still not overwritten.
        return write_new(path, text).map_err(|e| match e {
            InitError::Write { err, .. } if err.kind() == std::io::ErrorKind::AlreadyExists => {
                InitError::Exists {
                    path: path.to_path_buf(),
                }
            }
            other => other,
        });
    }
    std::fs::write(path, text).map_err(|err| InitError::Write {
        path: path.to_path_buf(),
        err,
    })
}
