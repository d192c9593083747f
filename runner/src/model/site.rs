//! Leak sites: where memory that a suite left live (or that grew between
//! its first and last checkpoint) was allocated, in the layer that holds it.
//! Every producer (the counting allocator's tracker, valgrind, LeakSanitizer,
//! the Python helper's tracemalloc, the Node helper's heap snapshots) gives
//! [`Site`] records with their whole stacks; [`naming_frame`] is the one rule
//! that names a site: skip the allocator, libc, runtime and memtest frames,
//! take the first frame inside the library under test, keep the rest.

use serde::{Deserialize, Serialize};

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

/// What identifies the library under test in a stack: the object files it
/// is built into and the prefixes of its functions (a crate, a C symbol
/// prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Library {
    /// Paths of the built library (any variant); a frame's object matches
    /// one by the whole path or by its file name.
    pub objects: Vec<String>,
    /// `mylib` matches `mylib::...`, `mylib_engine::...` and
    /// `mylib_open`.
    pub prefixes: Vec<String>,
}

impl Library {
    /// Whether anything identifies the library (else every frame is outside).
    fn is_known(&self) -> bool {
        !self.objects.is_empty() || !self.prefixes.is_empty()
    }

    fn contains(&self, frame: &Frame) -> bool {
        let by_object = frame.object.as_deref().is_some_and(|o| {
            self.objects
                .iter()
                .any(|lib| lib == o || short(lib) == short(o))
        });
        let by_name = frame.function.as_deref().is_some_and(|f| {
            let f = f.trim_start_matches('<');
            self.prefixes.iter().any(|p| {
                f.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '_']))
            })
        });
        by_object || by_name
    }
}

/// Functions between the code that allocated and the heap: libc's and C++'s
/// entry points, the copying functions that allocate for their caller
/// (`strdup`), Rust's global allocator shims and a counting allocator's
/// methods (gcc's symbolizer names a `GlobalAlloc` impl's method bare).
pub fn is_allocator_function(func: &str) -> bool {
    const ENTRY: &[&str] = &[
        "malloc",
        "calloc",
        "realloc",
        "free",
        "memalign",
        "posix_memalign",
        "aligned_alloc",
        "reallocarray",
        "valloc",
        "pvalloc",
        "strdup",
        "strndup",
        "__strdup",
        "__strndup",
        "wcsdup",
        "asprintf",
        "vasprintf",
        "__asprintf",
        "__vasprintf_internal",
        "alloc",
        "alloc_zeroed",
        "dealloc",
        "allocate",
        "allocate_zeroed",
    ];
    ENTRY.contains(&func)
        || is_allocator_wrapper(func)
        || func.starts_with("operator new")
        || func.starts_with("operator delete")
        || ["__rust_", "__rg_", "__rdl_", "GlobalAlloc"]
            .iter()
            .any(|p| func.contains(p))
}

/// A library's own allocator layer, by the names such code is given: a
/// function named after the libc entry it wraps (`counted_malloc`,
/// `xrealloc`, `g_strdup`), or an allocation method of an allocator type
/// (Zig's `CountingAllocator.alloc`, `mem.Allocator.dupe`). Its caller is
/// the code that wanted the memory.
fn is_allocator_wrapper(func: &str) -> bool {
    // Zig names generic instances `name__anon_123` (0.17: `name__func_98`).
    let func = func.split("__anon_").next().unwrap_or(func);
    let func = func.split("__func_").next().unwrap_or(func);
    let mut segments = func.rsplit(['.', ':']).filter(|s| !s.is_empty());
    let last = segments.next().unwrap_or("").to_ascii_lowercase();
    let wraps_libc = ["malloc", "calloc", "realloc", "strdup", "strndup"]
        .iter()
        .any(|e| last.ends_with(e));
    let owner_is_allocator = segments
        .next()
        .is_some_and(|owner| owner.contains("Alloc") || owner.contains("alloc"));
    const METHODS: &[&str] = &[
        "alloc",
        "rawalloc",
        "alignedalloc",
        "allocsentinel",
        "realloc",
        "resize",
        "remap",
        "dupe",
        "dupez",
        "create",
    ];
    // Zig's `Allocator` spells its entry points allocWithSizeAndAlignment,
    // allocBytesAligned, allocAdvancedWithRetAddr...
    let allocates = last.starts_with("alloc") || METHODS.contains(&last.as_str());
    wraps_libc || (owner_is_allocator && allocates)
}

/// A frame that is never the code to blame: the allocator and libc, a
/// runtime (Rust's standard library, a sanitizer, valgrind, CPython's and
/// Node's internals) or memtest itself (its allocator, harness and helpers).
/// Frames with no function are plumbing too, unless nothing else is known.
pub fn is_plumbing(layer: Layer, frame: &Frame) -> bool {
    match layer {
        Layer::Native => is_native_plumbing(frame),
        Layer::Python => {
            let file = frame.file.as_deref().unwrap_or("");
            file.is_empty()
                || file.ends_with("memtest_suite.py")
                || file.starts_with("<frozen ")
                || file.ends_with("/tracemalloc.py")
                || is_python_stdlib(file)
        }
        Layer::Js => {
            let f = frame.function.as_deref().unwrap_or("");
            f.is_empty() || f.starts_with("(GC roots)") || f == "(system)"
        }
    }
}

/// A file of CPython's own library (not site-packages).
fn is_python_stdlib(file: &str) -> bool {
    let Some(at) = file.find("/lib/python3") else {
        return false;
    };
    !file[at..].contains("-packages/")
}

/// valgrind's preloaded objects, libc, the dynamic loader, the sanitizer's
/// and C++'s runtimes, and the kernel's pseudo-objects (`[stack]`).
fn is_runtime_object(object: &str) -> bool {
    const RUNTIME_OBJECTS: &[&str] = &[
        "valgrind",
        "/libc.so",
        "/libc-",
        "/libasan.so",
        "/ld-linux",
        "/libstdc++",
    ];
    object.starts_with('[') || RUNTIME_OBJECTS.iter().any(|o| object.contains(o))
}

fn is_native_plumbing(frame: &Frame) -> bool {
    const STD: &[&str] = &[
        "alloc::",
        "core::",
        "std::",
        "<alloc::",
        "<core::",
        "<std::",
        "backtrace::",
    ];
    const MEMTEST: &[&str] = &[
        "memtest_alloc::",
        "<memtest_alloc::",
        "memtest_harness::",
        "<memtest_harness::",
        "memtest_",
    ];
    const SANITIZER: &[&str] = &[
        "__interceptor_",
        "___interceptor_",
        "__asan",
        "__lsan",
        "__sanitizer",
    ];
    // Inlined frames carry short names (`alloc`, `trace`, `{closure#0}`):
    // their files say whose they are.
    const MEMTEST_SOURCES: &[&str] = &[
        "memtest-alloc/src/",
        "memtest-harness/src/",
        "/backtrace-0.",
        "/helpers/c/memtest.h",
    ];
    let object = frame.object.as_deref().unwrap_or("");
    let file = frame.file.as_deref().unwrap_or("");
    if is_runtime_object(object)
        || file.starts_with("/rustc/")
        || file.contains("libsanitizer")
        || file.contains("compiler-rt")
        || is_zig_std(file)
        || MEMTEST_SOURCES.iter().any(|m| file.contains(m))
    {
        return true;
    }
    let Some(func) = frame.function.as_deref() else {
        return true;
    };
    func == "UnknownInlinedFun"
        || func == "??"
        || is_allocator_function(func)
        || func.starts_with("__rustc::")
        || STD.iter().any(|p| func.starts_with(p))
        || MEMTEST.iter().any(|p| func.starts_with(p))
        || SANITIZER.iter().any(|p| func.starts_with(p))
}

/// A file of Zig's standard library (`…/lib/std/…` or `…/lib/zig/std/…`
/// of its installation): its allocators, containers and test runner.
fn is_zig_std(file: &str) -> bool {
    file.ends_with(".zig") && (file.contains("/lib/std/") || file.contains("/lib/zig/std/"))
}

/// The interpreter line that called into the library, which a native
/// tracker may add as a site's outermost frame (memtest-alloc's
/// `set_site_caller`): a file and line with no function and no object,
/// which no native frame is.
pub fn is_caller_line(layer: Layer, frame: &Frame) -> bool {
    layer == Layer::Native
        && frame.function.is_none()
        && frame.object.is_none()
        && frame.file.is_some()
}

/// The index of the frame that names a site: the first frame, innermost
/// first, that is not plumbing and is inside `library`; failing that the
/// first that is not plumbing (a suite's own code, a dependency); failing
/// that the first frame that says anything (an unnamed frame's object).
pub fn naming_frame(layer: Layer, frames: &[Frame], library: &Library) -> Option<usize> {
    let own = |f: &Frame| !is_plumbing(layer, f);
    frames
        .iter()
        .position(|f| own(f) && library.contains(f))
        .or_else(|| frames.iter().position(own))
        .or_else(|| {
            frames.iter().position(|f| {
                f.function.is_none() && f.object.as_deref().is_some_and(|o| !is_runtime_object(o))
            })
        })
}

/// The name of the site whose naming frame is `frames[i]`: its label, and
/// for a closure (inlined frames carry short names: `{closure#0}`) the
/// function around it, the next frame outward in the same file that has a
/// name of its own: `stage_scratch::{closure#0} (canary.rs:211)`.
fn site_name(frames: &[Frame], i: usize) -> String {
    let frame = &frames[i];
    let label = frame.label();
    let Some(closure) = frame
        .function
        .as_deref()
        .filter(|f| f.starts_with("{closure"))
    else {
        return label;
    };
    let outer = frames[i + 1..].iter().find_map(|f| {
        let function = f.function.as_deref()?;
        (f.file.is_some() && f.file == frame.file && !function.starts_with('{')).then_some(function)
    });
    match outer {
        Some(outer) => label.replacen(closure, &format!("{outer}::{closure}"), 1),
        None => label,
    }
}

/// Names every site by [`naming_frame`] and orders them: native sites with
/// a frame inside the library under test before those without one (a
/// runtime's or an FFI's own lost blocks, e.g. koffi's under valgrind, say
/// nothing about the library), then largest first (bytes, then blocks, then
/// name, so the order is stable).
pub fn name_sites(sites: &mut [Site], library: &Library) {
    for site in sites.iter_mut() {
        site.name =
            naming_frame(site.layer, &site.frames, library).map(|i| site_name(&site.frames, i));
    }
    // Only a whole-process tool's stacks can lie outside: the tracker and
    // Zig's allocator live inside the library.
    let outside = |s: &Site| {
        library.is_known()
            && matches!(s.source, SiteSource::Valgrind | SiteSource::Sanitizer)
            && !s.frames.iter().any(|f| library.contains(f))
    };
    sites.sort_by(|a, b| {
        (outside(a), b.bytes, b.blocks)
            .cmp(&(outside(b), a.bytes, a.blocks))
            .then_with(|| a.name.cmp(&b.name))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: Option<&str>, file: Option<&str>, object: Option<&str>) -> Frame {
        Frame {
            function: function.map(String::from),
            file: file.map(String::from),
            line: file.map(|_| 1),
            object: object.map(String::from),
        }
    }

    fn pyjamaz() -> Library {
        Library {
            objects: vec!["/w/.memtest/lib/leaky/libpyjamaz.so".into()],
            prefixes: vec!["pyjamaz".into()],
        }
    }

    #[test]
    fn allocator_libc_std_and_memtest_frames_are_skipped() {
        let lib = "/w/.memtest/lib/leaky/libpyjamaz.so";
        // The tracker's own stack as the backtrace crate resolves it inside
        // the cdylib: every frame is in the library's object, so the object
        // alone cannot name the site; the plumbing rule must.
        let stack = [
            frame(
                Some("backtrace::backtrace::trace_unsynchronized"),
                None,
                Some(lib),
            ),
            frame(Some("memtest_alloc::sites::record"), None, Some(lib)),
            frame(
                Some("<memtest_alloc::CountingAlloc as core::alloc::global::GlobalAlloc>::alloc"),
                None,
                Some(lib),
            ),
            frame(Some("__rustc::__rust_alloc"), None, Some(lib)),
            frame(
                Some("alloc::raw_vec::RawVecInner<A>::try_allocate_in"),
                None,
                Some(lib),
            ),
            frame(
                Some("pyjamaz_engine::canary::leak_input"),
                Some("core/engine/src/canary.rs"),
                Some(lib),
            ),
            frame(
                Some("pyjamaz_engine::optimize::optimize"),
                Some("core/engine/src/optimize.rs"),
                Some(lib),
            ),
            frame(Some("pyjamaz_optimize"), Some("core/src/ffi.rs"), Some(lib)),
            frame(None, None, Some("/usr/lib/x86_64-linux-gnu/libffi.so.8")),
        ];
        assert_eq!(naming_frame(Layer::Native, &stack, &pyjamaz()), Some(5));
        assert_eq!(
            stack[5].label(),
            "pyjamaz_engine::canary::leak_input (canary.rs:1)"
        );
    }

    #[test]
    fn inlined_short_names_are_told_apart_by_their_files() {
        // The tracker's stack inside the release cdylib (line tables only):
        // DWARF names inlined functions without their paths.
        let lib = "/w/.memtest/lib/leaky/libpyjamaz.so";
        let at = |f: &str, file: &str| frame(Some(f), Some(file), Some(lib));
        let stack = [
            at("trace", "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/backtrace-0.3.77/src/backtrace/libunwind.rs"),
            at("{closure#0}", "/w/crates/memtest-alloc/src/sites.rs"),
            at("allocated", "/w/crates/memtest-alloc/src/lib.rs"),
            at("alloc", "/w/crates/memtest-alloc/src/lib.rs"),
            at("__rust_alloc", "/w/core/src/lib.rs"),
            at("alloc", "/rustc/5980/library/alloc/src/alloc.rs"),
            at("to_vec<u8>", "/rustc/5980/library/alloc/src/slice.rs"),
            at("leak_input", "/w/core/engine/src/canary.rs"),
            at("optimize", "/w/core/engine/src/optimize.rs"),
            at("pyjamaz_optimize", "/w/core/src/ffi.rs"),
            frame(Some("ffi_call"), None, Some("/usr/lib/x86_64-linux-gnu/libffi.so.8")),
        ];
        assert_eq!(naming_frame(Layer::Native, &stack, &pyjamaz()), Some(7));
    }

    #[test]
    fn strdup_is_not_a_site_its_caller_is() {
        let lib = Library {
            objects: vec!["/x/build/uncounted/libintern.so".into()],
            prefixes: vec!["intern".into()],
        };
        let stack = [
            frame(
                Some("malloc"),
                None,
                Some("/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"),
            ),
            frame(
                Some("strdup"),
                Some("strdup.c"),
                Some("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ),
            frame(
                Some("intern_put"),
                Some("intern.c"),
                Some("/elsewhere/libintern.so"),
            ),
            frame(
                Some("intern_tokenize"),
                Some("intern.c"),
                Some("/elsewhere/libintern.so"),
            ),
            frame(
                Some("main"),
                Some("test_memory.c"),
                Some("/x/build/uncounted/test_memory"),
            ),
        ];
        // By the object's file name, wherever valgrind saw it loaded from.
        assert_eq!(naming_frame(Layer::Native, &stack, &lib), Some(2));
        // Without any library identity, still the first frame past libc.
        assert_eq!(
            naming_frame(Layer::Native, &stack, &Library::default()),
            Some(2)
        );
    }

    #[test]
    fn the_library_wins_over_code_nearer_the_allocation() {
        // A dependency (a C codec) allocates for the library: the library's
        // frame names the site, the codec's stays in the stack.
        let stack = [
            frame(Some("malloc"), None, None),
            frame(
                Some("WebPSafeMalloc"),
                Some("utils.c"),
                Some("/w/libpyjamaz.so"),
            ),
            frame(Some("pyjamaz_engine::encode::webp"), Some("webp.rs"), None),
        ];
        let lib = Library {
            objects: vec![],
            prefixes: vec!["pyjamaz".into()],
        };
        assert_eq!(naming_frame(Layer::Native, &stack, &lib), Some(2));
        // A prefix is a whole word: `pyjamazzle` is not `pyjamaz`.
        let other = [frame(Some("pyjamazzle::f"), None, None)];
        assert!(!lib.contains(&other[0]));
    }

    #[test]
    fn a_librarys_own_allocator_wrappers_and_zigs_std_are_skipped() {
        let lib = Library {
            objects: vec!["/w/build/leaky/libintern.so".into()],
            prefixes: vec!["intern".into()],
        };
        let so = Some("/w/build/leaky/libintern.so");
        // valgrind, inlined frames of a C library that counts its blocks.
        let c = [
            frame(
                Some("malloc"),
                None,
                Some("/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"),
            ),
            frame(Some("counted_malloc"), Some("intern.c"), so),
            frame(Some("grow_slots"), Some("intern.c"), so),
            frame(Some("intern_put"), Some("intern.c"), so),
        ];
        assert_eq!(naming_frame(Layer::Native, &c, &lib), Some(2));
        // A Zig library over the C heap: std's allocator interface and the
        // library's own counting allocator lead to the function that leaked.
        let zig = Some("/w/zig-out/leaky/lib/libzfreq.so");
        let std_file = "/py/site-packages/ziglang/lib/std/mem/Allocator.zig";
        let z = [
            frame(
                Some("malloc"),
                None,
                Some("/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"),
            ),
            frame(
                Some("heap.CAllocator.alloc"),
                Some("/py/site-packages/ziglang/lib/std/heap.zig"),
                zig,
            ),
            frame(
                Some("zfreq.CountingAllocator.alloc"),
                Some("/w/src/zfreq.zig"),
                zig,
            ),
            frame(Some("mem.Allocator.dupe__anon_3045"), Some(std_file), zig),
            frame(Some("zfreq.Freq.addWord"), Some("/w/src/zfreq.zig"), zig),
            frame(Some("zfreq_add_text"), Some("/w/src/zfreq.zig"), zig),
        ];
        let zlib = Library {
            objects: vec!["/w/zig-out/leaky/lib/libzfreq.so".into()],
            prefixes: vec!["zfreq".into()],
        };
        assert_eq!(naming_frame(Layer::Native, &z, &zlib), Some(4));
        // Std's own short names, as the Zig test runner prints them.
        assert!(is_allocator_wrapper("mem.Allocator.create__anon_12"));
        assert!(is_allocator_wrapper("mem.Allocator.dupe__func_98"));
        assert!(is_allocator_wrapper(
            "mem.Allocator.allocWithSizeAndAlignment__func_101"
        ));
        assert!(!is_allocator_wrapper("zfreq.Freq.addWord"));
        assert!(!is_allocator_wrapper("pyjamaz_engine::canary::leak_input"));
    }

    #[test]
    fn nothing_named_falls_back_to_an_unnamed_frames_object() {
        let stack = [
            frame(
                Some("__interceptor_malloc"),
                Some("../../libsanitizer/asan/x.cpp"),
                None,
            ),
            frame(None, None, Some("/usr/bin/python3.11")),
        ];
        let i = naming_frame(Layer::Native, &stack, &Library::default()).unwrap();
        assert_eq!(stack[i].label(), "python3.11");
        assert_eq!(
            naming_frame(Layer::Native, &stack[..1], &Library::default()),
            None
        );
    }

    #[test]
    fn python_sites_skip_the_helper_and_the_standard_library() {
        let stack = [
            frame(None, Some("/usr/lib/python3.11/json/decoder.py"), None),
            frame(
                None,
                Some("/w/.memtest/helpers/python/memtest_suite.py"),
                None,
            ),
            frame(None, Some("/w/suites/python/gc_verification.py"), None),
            frame(
                None,
                Some("/w/venv/lib/python3.11/site-packages/x.py"),
                None,
            ),
        ];
        assert_eq!(
            naming_frame(Layer::Python, &stack, &Library::default()),
            Some(2)
        );
        assert!(!is_plumbing(Layer::Python, &stack[3]));
    }

    #[test]
    fn sites_are_named_and_ordered_largest_first() {
        let site = |bytes, f: &str| Site {
            layer: Layer::Native,
            source: SiteSource::Valgrind,
            bytes,
            blocks: 1,
            frames: vec![
                frame(Some("malloc"), None, None),
                frame(Some(f), None, None),
            ],
            name: None,
        };
        let mut sites = vec![site(10, "small"), site(1000, "big"), site(10, "a_small")];
        name_sites(&mut sites, &Library::default());
        let names: Vec<_> = sites.iter().map(|s| s.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["big", "a_small", "small"]);
    }

    #[test]
    fn a_whole_process_tools_sites_outside_the_library_come_after_its_own() {
        // valgrind around node: koffi's own lost blocks outweigh the
        // library's leak, which is still the one to show first.
        let site = |bytes, object: &str, function: &str| Site {
            layer: Layer::Native,
            source: SiteSource::Valgrind,
            bytes,
            blocks: 1,
            frames: vec![
                frame(
                    Some("malloc"),
                    None,
                    Some("/usr/libexec/valgrind/vgpreload_memcheck.so"),
                ),
                frame(Some(function), None, Some(object)),
            ],
            name: None,
        };
        let library = Library {
            objects: vec!["/p/.memtest/lib/leaky/libintern.so".into()],
            prefixes: vec![],
        };
        let mut sites = vec![
            site(3_500_000, "/p/node_modules/koffi/koffi.node", "koffi_call"),
            site(600_000, "/p/.memtest/lib/leaky/libintern.so", "grow_slots"),
        ];
        name_sites(&mut sites, &library);
        let names: Vec<_> = sites.iter().map(|s| s.name.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            ["grow_slots (libintern.so)", "koffi_call (koffi.node)"]
        );
        // Without a library to tell by, largest first.
        name_sites(&mut sites, &Library::default());
        assert_eq!(sites[0].bytes, 3_500_000);
    }

    #[test]
    fn a_closure_is_named_with_the_function_around_it() {
        let at = |function: &str, line| Frame {
            function: Some(function.into()),
            file: Some("/w/core/engine/src/canary.rs".into()),
            line: Some(line),
            object: Some("/w/libpyjamaz.so".into()),
        };
        let frames = vec![
            frame(
                Some("alloc"),
                Some("/rustc/5980/library/alloc/src/alloc.rs"),
                None,
            ),
            at("{closure#0}", 211),
            frame(
                Some("with<u8>"),
                Some("/rustc/5980/library/std/src/thread/local.rs"),
                None,
            ),
            at("stage_in_thread_scratch", 206),
        ];
        let mut sites = vec![Site {
            layer: Layer::Native,
            source: SiteSource::MemtestAlloc,
            bytes: 1,
            blocks: 1,
            frames,
            name: None,
        }];
        name_sites(&mut sites, &Library::default());
        assert_eq!(
            sites[0].name.as_deref(),
            Some("stage_in_thread_scratch::{closure#0} (canary.rs:211)")
        );
    }

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
