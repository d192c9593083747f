//! The suite helpers memtest ships (a Python module, a Node module, a C
//! header: see docs/protocol.md), embedded in the binary and written under
//! the project's `.memtest/helpers/` before suites run, so a project uses
//! them with no install step: the planner puts their folders on PYTHONPATH
//! and NODE_PATH and names the folder in MEMTEST_HELPERS.

use std::path::{Path, PathBuf};

/// (path under the helpers folder, contents).
const FILES: &[(&str, &str)] = &[];

/// Writes every helper under `state_dir/helpers` (only files whose contents
/// changed, so a suite still reading one is not disturbed) and returns the
/// folder.
pub fn write(state_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = state_dir.join("helpers");
    for (name, contents) in FILES {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == *contents) {
            continue;
        }
        let tmp = path.with_extension("tmp");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&tmp, contents)?;
        std::fs::rename(&tmp, &path)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
