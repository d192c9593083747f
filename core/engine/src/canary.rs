//! **DELIBERATE MEMORY LEAKS — test-only.** Compiled only with one of the
//! cargo features `canary-leak` and `canary-thread-leak`, which must never be
//! enabled in a shipped build.
//!
//! memtest's canary suites run against a core built with one of them to
//! prove the memory suites can fail. Both leak through the global allocator,
//! so the native allocation accounting (`pyjamaz_alloc_stats`) and RSS see
//! them.
//!
//! - `canary-leak`: every optimize call leaks a heap copy of its input.
//! - `canary-thread-leak`: every *thread* that calls optimize leaks one
//!   buffer when it ends (see [`stage_in_thread_scratch`]). Nothing else
//!   leaks, so it is invisible to a suite that calls from one thread.
//!
//! # Graded leaks
//!
//! The `canary-leak` build leaks a size chosen at run time when the environment asks
//! for one (memtest's `floor` search does, to find the smallest leak a suite
//! can see; docs/protocol.md):
//!
//! - `MEMTEST_LEAK_BYTES=N`: each leaking call loses one block of `N` bytes
//!   instead of the input's copy (`0`: nothing leaks);
//! - `MEMTEST_LEAK_EVERY=K`: only one call in `K` leaks (default 1);
//! - `MEMTEST_LEAK_HEAP=rust|c`: the block comes from the global allocator
//!   (the default: the cdylib's counting allocator sees it) or from libc's
//!   `malloc`, which no Rust allocator sees (only RSS does).
//!
//! Unset, the leak is the input's copy, as the canaries always had. The
//! variables are read once, at the first optimize call.

/// Leaks a copy of `input` on purpose, or the graded leak the environment
/// asks for (see the module docs).
#[cfg(feature = "canary-leak")]
pub(crate) fn leak_input(input: &[u8]) {
    static GRADE: std::sync::OnceLock<Option<Grade>> = std::sync::OnceLock::new();
    let grade = GRADE.get_or_init(|| match Grade::from_env() {
        Ok(grade) => grade,
        // A test-only build told to leak an unreadable amount: a floor
        // search that went on with some other leak would report a wrong
        // floor, so stop loudly.
        Err(message) => panic!("{message}"),
    });
    if let Some(grade) = grade {
        grade.on_call();
        return;
    }
    // Leak at least one allocation even for empty input, so a canary counting
    // allocations fails on error paths too.
    let copy = input.to_vec().into_boxed_slice();
    let marker = Box::new(input.len());
    // black_box: an allocation nobody reads is removed by LLVM in release
    // builds once this is inlined, leak or not (seen: the canary leaked
    // nothing at all). Handing the pointers to black_box makes them escape.
    std::hint::black_box(Box::leak(copy));
    std::hint::black_box(Box::leak(marker));
}

/// Which heap a graded leak comes from.
#[cfg(feature = "canary-leak")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heap {
    /// The global allocator: counted by the cdylib's counting allocator and
    /// by a Rust suite's leak-checking one.
    Rust,
    /// libc's `malloc`, behind every Rust allocator's back: only RSS sees it.
    C,
}

/// A leak of a chosen size: `bytes` per leaking call, one call in `every`.
#[cfg(feature = "canary-leak")]
#[derive(Debug)]
pub struct Grade {
    pub bytes: usize,
    pub every: u64,
    pub heap: Heap,
    calls: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "canary-leak")]
extern "C" {
    // libc's own allocator, not the Rust global one; declared here so the
    // engine needs no libc crate for one symbol every platform's C library has.
    fn malloc(size: usize) -> *mut u8;
}

#[cfg(feature = "canary-leak")]
impl Grade {
    /// The grade `MEMTEST_LEAK_BYTES`, `MEMTEST_LEAK_EVERY` and
    /// `MEMTEST_LEAK_HEAP` ask for; `None` when the first is unset.
    pub fn from_env() -> Result<Option<Grade>, String> {
        let var = |name: &str| std::env::var(name).ok();
        Grade::parse(
            var("MEMTEST_LEAK_BYTES").as_deref(),
            var("MEMTEST_LEAK_EVERY").as_deref(),
            var("MEMTEST_LEAK_HEAP").as_deref(),
        )
    }

    /// The grade given by the three variables' values.
    pub fn parse(
        bytes: Option<&str>,
        every: Option<&str>,
        heap: Option<&str>,
    ) -> Result<Option<Grade>, String> {
        let Some(bytes) = bytes.map(str::trim).filter(|b| !b.is_empty()) else {
            return Ok(None);
        };
        let bytes: usize = bytes
            .parse()
            .map_err(|_| format!("MEMTEST_LEAK_BYTES={bytes}: not a byte count"))?;
        let every = match every.map(str::trim).filter(|e| !e.is_empty()) {
            None => 1,
            Some(e) => e
                .parse::<u64>()
                .ok()
                .filter(|k| *k >= 1)
                .ok_or_else(|| format!("MEMTEST_LEAK_EVERY={e}: not a count of 1 or more"))?,
        };
        let heap = match heap.map(str::trim).unwrap_or("") {
            "" | "rust" => Heap::Rust,
            "c" => Heap::C,
            other => return Err(format!("MEMTEST_LEAK_HEAP={other}: use `rust` or `c`")),
        };
        Ok(Some(Grade {
            bytes,
            every,
            heap,
            calls: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// Counts one call, and leaks on the first of every `every` calls (so
    /// a run of any length leaks from its first call on).
    pub fn on_call(&self) {
        let call = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.leaks_on(call) {
            self.leak();
        }
    }

    /// Whether call number `call` (from 0) leaks.
    pub fn leaks_on(&self, call: u64) -> bool {
        call.is_multiple_of(self.every)
    }

    /// Leaks one block of `bytes`, written to, so that its pages are
    /// resident and RSS sees it (a fresh block nobody touches may not be).
    pub fn leak(&self) {
        if self.bytes == 0 {
            return;
        }
        match self.heap {
            Heap::Rust => {
                let block = vec![0xA5u8; self.bytes].into_boxed_slice();
                // See leak_input: without black_box LLVM drops the block.
                std::hint::black_box(Box::leak(block));
            }
            Heap::C => {
                // SAFETY: malloc takes any size and returns null or a block
                // of at least that many bytes, all of which are written.
                unsafe {
                    let block = malloc(self.bytes);
                    if !block.is_null() {
                        std::ptr::write_bytes(block, 0xA5, self.bytes);
                    }
                    std::hint::black_box(block);
                }
            }
        }
    }
}

/// Bytes of the per-thread scratch buffer: above glibc's default mmap
/// threshold (128 KiB), so each leaked buffer is its own mapping and shows
/// in RSS whole (it is filled when made), not hidden in an arena's slack.
#[cfg(feature = "canary-thread-leak")]
pub(crate) const SCRATCH_BYTES: usize = 256 * 1024;

#[cfg(feature = "canary-thread-leak")]
thread_local! {
    /// The calling thread's scratch buffer, made on its first optimize call.
    /// A raw pointer in a `Cell` has no destructor, so a thread's exit frees
    /// nothing: the Rust twin of C's `static __thread char *scratch;
    /// if (!scratch) scratch = malloc(N);` without a `pthread_key_create`
    /// destructor, the bug this canary plants.
    static SCRATCH: std::cell::Cell<*mut u8> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Stages (a prefix of) `input` in the calling thread's scratch buffer,
/// making the buffer on the thread's first call. The buffer is reused by
/// every later call on the same thread and never freed, so:
///
/// - a program calling from one thread sees one allocation, made by its
///   first call and constant after it: a suite that takes its baseline after
///   a warm-up call (every single-threaded suite here does) counts nothing;
/// - every thread that calls and then ends leaks [`SCRATCH_BYTES`] for good:
///   worker threads, a thread per request, a thread pool that is torn down.
///
/// Only the thread calling `optimize` stages; the encoder threads that
/// `Options::concurrency` starts inside one call do not, so a single caller
/// stays one allocation whatever its options.
#[cfg(feature = "canary-thread-leak")]
pub(crate) fn stage_in_thread_scratch(input: &[u8]) {
    SCRATCH.with(|slot| {
        let mut scratch = slot.get();
        if scratch.is_null() {
            // Filled, not zeroed: calloc's fresh zero pages would not be
            // resident, and the leak would not show in RSS.
            let block = vec![0xA5u8; SCRATCH_BYTES].into_boxed_slice();
            scratch = Box::into_raw(block).cast::<u8>();
            slot.set(scratch);
        }
        let staged = input.len().min(SCRATCH_BYTES);
        // SAFETY: `scratch` points at SCRATCH_BYTES bytes owned by this
        // thread alone (a thread-local), `staged` is at most that, and
        // `input` cannot overlap a block only this function hands out.
        unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), scratch, staged) };
        // See leak_input: the block must escape, or LLVM may drop it.
        std::hint::black_box(scratch);
    });
}

/// The rare shape: a PNG whose decoded image has alpha and whose width is
/// 61k + 7 pixels. 1 in 61 widths, alpha color types only, PNG only: the
/// twelve fixtures and the suites' generated images never have it.
#[cfg(feature = "canary-rare-leak")]
pub(crate) fn is_rare_shape(format: crate::Format, width: u32, has_alpha: bool) -> bool {
    format == crate::Format::Png && has_alpha && width % 61 == 7
}

/// Leaks one row buffer (width x 4 bytes, filled) when `image` has the rare
/// shape: the bug of an alpha path that forgets a scratch row on one width
/// class, which no fixed input reaches.
#[cfg(feature = "canary-rare-leak")]
pub(crate) fn leak_on_rare_shape(format: crate::Format, image: &image::DynamicImage) {
    if is_rare_shape(format, image.width(), image.color().has_alpha()) {
        let row = vec![0x5Au8; image.width() as usize * 4 + 1];
        // See leak_input: the block must escape, or LLVM may drop it.
        std::hint::black_box(Box::leak(row.into_boxed_slice()));
    }
}

#[cfg(all(test, feature = "canary-rare-leak"))]
mod rare_tests {
    use super::is_rare_shape;
    use crate::Format;

    #[test]
    fn only_alpha_pngs_of_one_width_class_are_rare() {
        assert!(is_rare_shape(Format::Png, 7, true));
        assert!(is_rare_shape(Format::Png, 68, true));
        assert!(!is_rare_shape(Format::Png, 68, false));
        assert!(!is_rare_shape(Format::Png, 69, true));
        assert!(!is_rare_shape(Format::Jpeg, 7, true));
    }
}

#[cfg(all(test, feature = "canary-leak"))]
mod tests {
    use super::*;

    #[test]
    fn the_three_variables_parse_and_bad_values_are_refused() {
        assert!(Grade::parse(None, Some("3"), Some("c")).unwrap().is_none());
        assert!(Grade::parse(Some(" "), None, None).unwrap().is_none());
        let g = Grade::parse(Some("64"), None, None).unwrap().unwrap();
        assert_eq!((g.bytes, g.every, g.heap), (64, 1, Heap::Rust));
        let g = Grade::parse(Some("0"), Some("10"), Some("c"))
            .unwrap()
            .unwrap();
        assert_eq!((g.bytes, g.every, g.heap), (0, 10, Heap::C));
        for (bytes, every, heap) in [
            ("x", None, None),
            ("-1", None, None),
            ("1.5", None, None),
            ("8", Some("0"), None),
            ("8", Some("two"), None),
            ("8", None, Some("zig")),
        ] {
            assert!(
                Grade::parse(Some(bytes), every, heap).is_err(),
                "{bytes} {every:?} {heap:?}"
            );
        }
    }

    #[test]
    fn one_call_in_every_leaks_starting_with_the_first() {
        let g = Grade::parse(Some("8"), Some("4"), None).unwrap().unwrap();
        let leaking: Vec<u64> = (0..10).filter(|c| g.leaks_on(*c)).collect();
        assert_eq!(leaking, [0, 4, 8]);
        let every = Grade::parse(Some("8"), None, None).unwrap().unwrap();
        assert!((0..10).all(|c| every.leaks_on(c)));
    }
}
