//! The suite helpers memtest ships (a Python module, a Node module, a C
//! header: see docs/protocol.md), embedded in the binary and written under
//! the project's `.memtest/helpers/` before suites run, so a project uses
//! them with no install step: the planner puts their folders on PYTHONPATH
//! and NODE_PATH and names the folder in MEMTEST_HELPERS.

use std::path::{Path, PathBuf};

/// (path under the helpers folder, contents).
const FILES: &[(&str, &str)] = &[
    (
        "python/memtest_suite.py",
        include_str!("../../helpers/python/memtest_suite.py"),
    ),
    (
        "python/memtest_corpus.py",
        include_str!("../../helpers/python/memtest_corpus.py"),
    ),
    (
        "node/memtest-suite.js",
        include_str!("../../helpers/node/memtest-suite.js"),
    ),
    (
        "python/memtest_fuzz.py",
        include_str!("../../helpers/python/memtest_fuzz.py"),
    ),
    (
        "node/memtest-fuzz.js",
        include_str!("../../helpers/node/memtest-fuzz.js"),
    ),
    (
        "node/memtest-corpus.js",
        include_str!("../../helpers/node/memtest-corpus.js"),
    ),
    ("c/memtest.h", include_str!("../../helpers/c/memtest.h")),
    (
        "c/memtest_corpus.h",
        include_str!("../../helpers/c/memtest_corpus.h"),
    ),
];

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
        crate::atomic::write_atomic(&path, contents.as_bytes())?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_are_written_once_and_kept_current() {
        let dir = tempfile::tempdir().unwrap();
        let helpers = write(dir.path()).unwrap();
        let py = helpers.join("python/memtest_suite.py");
        assert!(std::fs::read_to_string(&py)
            .unwrap()
            .contains("def check_no_leak"));
        assert!(helpers.join("node/memtest-suite.js").is_file());
        assert!(helpers.join("c/memtest.h").is_file());
        std::fs::write(&py, "stale").unwrap();
        write(dir.path()).unwrap();
        assert_ne!(std::fs::read_to_string(&py).unwrap(), "stale");
    }
}
