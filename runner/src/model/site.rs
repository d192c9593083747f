//! Leak sites: where memory that a suite left live (or that grew between
//! its first and last checkpoint) was allocated, in the layer that holds it.
//! Every producer (the counting allocator's tracker, valgrind, LeakSanitizer,
//! the Python helper's tracemalloc, the Node helper's heap snapshots) gives
//! [`Site`] records with their whole stacks; [`naming_frame`] is the one rule
//! that names a site: skip the allocator, libc, runtime and memtest frames,
//! take the first frame inside the library under test, keep the rest.

use serde::{Deserialize, Serialize};

mod classify;
mod naming;

pub use classify::{is_allocator_function, is_caller_line, is_plumbing};
pub use naming::{name_sites, naming_frame, Library};

/// The layer a site's memory belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The native heap (the library's own allocator, or malloc).
    Native,
    /// Python objects, as tracemalloc traces them.
    Python,
    /// JavaScript objects on V8's heap.
    Js,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Native => "native",
            Layer::Python => "python",
            Layer::Js => "js",
        }
    }
}

/// Which tool found a site; reports say it beside the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SiteSource {
    /// `memtest_alloc`'s site tracker inside the library or the suite.
    MemtestAlloc,
    /// valgrind memcheck's definitely-lost records.
    Valgrind,
    /// LeakSanitizer's direct leaks.
    Sanitizer,
    /// The Python helper's tracemalloc snapshots (growth between two).
    Tracemalloc,
    /// The Node helper's V8 heap snapshots (growth between two).
    HeapSnapshot,
    /// Zig's leak check (`std.testing.allocator`, `DebugAllocator`): blocks
    /// still allocated at its deinit, with their stacks (and sizes, from
    /// Zig 0.17).
    ZigAllocator,
    /// A producer this memtest does not know (a newer helper).
    #[serde(other)]
    Other,
}

/// One stack frame; any part may be unknown (a stripped object has no
/// function, code without debug information no file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The object file the code is in (an executable or a shared library).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl Frame {
    /// "function (file:line)", as far as it is known: the file by its last
    /// component, the object's when there is no file.
    pub fn label(&self) -> String {
        let place = match (&self.file, self.line) {
            (Some(file), Some(line)) => Some(format!("{}:{line}", short(file))),
            (Some(file), None) => Some(short(file).to_string()),
            (None, _) => self.object.as_deref().map(|o| short(o).to_string()),
        };
        match (&self.function, place) {
            (Some(f), Some(p)) => format!("{f} ({p})"),
            (Some(f), None) => f.clone(),
            (None, Some(p)) => p,
            (None, None) => "??".to_string(),
        }
    }
}

fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Memory allocated at one stack and still live at the report point (or
/// grown between two checkpoints, for the interpreters' layers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub layer: Layer,
    pub source: SiteSource,
    pub bytes: u64,
    /// Blocks (objects, for the interpreters) live or grown.
    pub blocks: u64,
    /// Innermost first: the allocating call, then its callers. For a JS
    /// site the first frame is the constructor and the rest its shortest
    /// retainer path towards a GC root.
    pub frames: Vec<Frame>,
    /// The label of the frame [`naming_frame`] picked; set by [`name_sites`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Growth below this, between two checkpoints of an interpreter's heap
/// (tracemalloc, V8 snapshots), is the interpreter's own churn: caches,
/// interned strings, compiled code, a stream made on first use. Clean
/// suites of this repository grew at most ~25 KB at any one site.
pub const GROWTH_NOISE_FLOOR_BYTES: u64 = 64 * 1024;

impl SiteSource {
    /// The tool's name as reports show it ("where: ... (valgrind memcheck)").
    pub fn label(self) -> &'static str {
        match self {
            SiteSource::MemtestAlloc => "memtest-alloc tracker",
            SiteSource::Valgrind => "valgrind memcheck",
            SiteSource::Sanitizer => "LeakSanitizer",
            SiteSource::Tracemalloc => "tracemalloc",
            SiteSource::HeapSnapshot => "V8 heap snapshots",
            SiteSource::ZigAllocator => "Zig's leak check",
            SiteSource::Other => "another tool",
        }
    }

    /// Sources that report blocks still live at the end (exact: a clean
    /// suite has none), as opposed to growth between two snapshots.
    pub fn is_exact(self) -> bool {
        matches!(
            self,
            SiteSource::MemtestAlloc
                | SiteSource::Valgrind
                | SiteSource::Sanitizer
                | SiteSource::ZigAllocator
        )
    }
}

impl Site {
    /// Whether the site is worth reporting: any live block from an exact
    /// source, growth of at least [`GROWTH_NOISE_FLOOR_BYTES`] otherwise.
    pub fn above_noise_floor(&self) -> bool {
        if self.source.is_exact() {
            self.bytes > 0 || self.blocks > 0
        } else {
            self.bytes >= GROWTH_NOISE_FLOOR_BYTES
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn the_noise_floor_applies_to_growth_only() {
        let site = |source, bytes| Site {
            layer: Layer::Native,
            source,
            bytes,
            blocks: 1,
            frames: vec![],
            name: None,
        };
        assert!(site(SiteSource::MemtestAlloc, 8).above_noise_floor());
        assert!(site(SiteSource::Valgrind, 1).above_noise_floor());
        assert!(!site(SiteSource::Tracemalloc, GROWTH_NOISE_FLOOR_BYTES - 1).above_noise_floor());
        assert!(site(SiteSource::HeapSnapshot, GROWTH_NOISE_FLOOR_BYTES).above_noise_floor());
    }

    #[test]
    fn sources_unknown_to_this_memtest_still_read() {
        let s: SiteSource = serde_json::from_str("\"something-new\"").unwrap();
        assert_eq!(s, SiteSource::Other);
        let l: Layer = serde_json::from_str("\"js\"").unwrap();
        assert_eq!(l, Layer::Js);
    }
}
