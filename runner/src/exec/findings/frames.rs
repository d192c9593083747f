//! What every tool's stacks share: which frames are allocation plumbing
//! rather than the code that allocated. A leaf of `findings`, so the
//! valgrind and sanitizer parsers both use it without importing each other
//! or their parent; the list itself is the sites rule's
//! ([`crate::model::site::is_allocator_function`]), so a summary and a site
//! skip the same frames.

/// Allocation plumbing between the code that allocated and malloc: libc's
/// and C++'s entry points and Rust's global allocator shims (a counting
/// allocator wraps the system one, so its frames sit here too).
pub(super) fn is_allocator_frame(func: &str) -> bool {
    crate::model::site::is_allocator_function(func)
}
