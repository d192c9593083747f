//! What every tool's stacks share: which frames are allocation plumbing
//! rather than the code that allocated. A leaf of `findings`, so the
//! valgrind and sanitizer parsers both use it without importing each other
//! or their parent.

/// Allocation plumbing between the code that allocated and malloc: libc's
/// and C++'s entry points and Rust's global allocator shims (a counting
/// allocator wraps the system one, so its frames sit here too).
pub(super) fn is_allocator_frame(func: &str) -> bool {
    const ENTRY: &[&str] = &[
        "malloc",
        "calloc",
        "realloc",
        "free",
        "memalign",
        "posix_memalign",
        "aligned_alloc",
        "reallocarray",
    ];
    ENTRY.contains(&func)
        || func.starts_with("operator new")
        || func.starts_with("operator delete")
        || ["__rust_", "__rg_", "__rdl_", "GlobalAlloc"]
            .iter()
            .any(|p| func.contains(p))
}
