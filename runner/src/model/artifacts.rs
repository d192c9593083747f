//! What the build stage hands the planner: the library and test executables
//! built for each variant. Here, not in plan or build, so the build stage
//! produces it without importing the stage that consumes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the build stage produced, by variant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    /// Variant -> absolute path of its library (the kept copy under .memtest,
    /// or the prebuilt file).
    pub libs: BTreeMap<String, PathBuf>,
    /// (variant, rust test target) -> absolute path of its executable.
    pub tests: BTreeMap<(String, String), PathBuf>,
}
