//! Frame classification: which frames of a stack are plumbing (the allocator,
//! libc, a runtime, memtest itself) and never the code to blame, so that
//! naming can skip them.

use super::{Frame, Layer};

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
pub(super) fn is_runtime_object(object: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigs_allocator_interface_is_a_wrapper() {
        // Std's own short names, as the Zig test runner prints them.
        assert!(is_allocator_wrapper("mem.Allocator.create__anon_12"));
        assert!(is_allocator_wrapper("mem.Allocator.dupe__func_98"));
        assert!(is_allocator_wrapper(
            "mem.Allocator.allocWithSizeAndAlignment__func_101"
        ));
        assert!(!is_allocator_wrapper("zfreq.Freq.addWord"));
        assert!(!is_allocator_wrapper("pyjamaz_engine::canary::leak_input"));
    }
}
