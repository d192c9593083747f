//! Site naming: the library under test, the frame that names a site, and
//! the order sites are shown in (the library's own first, then largest).

use super::classify::{is_plumbing, is_runtime_object};
use super::{short, Frame, Layer, Site, SiteSource};

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
}
