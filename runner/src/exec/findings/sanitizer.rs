//! AddressSanitizer and LeakSanitizer reports, as the runtime writes them
//! with `log_path=PATH` (one `PATH.<pid>` file per process). The parser is a
//! pure function over one file's text; [`summarise`] joins the files of a
//! suite into the findings every report shows, in memcheck's terms: direct
//! leaks are the definitely-lost records, ASan errors the invalid accesses.

use super::frames::is_allocator_frame;
use crate::model::{site, Layer, Site, SiteSource, WrapperFindings};

/// What one process's log said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SanitizerLog {
    /// The log has any content: the runtime was loaded (memtest.toml asks
    /// for `atexit=1`, which logs allocator stats at exit even when nothing
    /// is found).
    pub loaded: bool,
    pub direct_records: u64,
    pub direct_bytes: u64,
    pub indirect_records: u64,
    pub indirect_bytes: u64,
    /// `ERROR: AddressSanitizer: <kind>` reports (use after free, overflow,
    /// double free, SEGV...), each as "kind at frame".
    pub errors: Vec<String>,
    /// The largest direct leak: its bytes and "N byte(s) in M object(s) at
    /// frame".
    pub largest: Option<(u64, String)>,
}

/// `N byte(s) in M object(s)` -> (N, M).
fn leak_size(text: &str) -> Option<(u64, u64)> {
    let (bytes, rest) = text.split_once(" byte(s) in ")?;
    let (objects, _) = rest.split_once(" object(s)")?;
    Some((bytes.trim().parse().ok()?, objects.trim().parse().ok()?))
}

/// One stack frame line: `#3 0x7f.. in FUNC LOCATION` or `#3 0x7f..
/// (MODULE+0xOFF)`. Returns (function, location); the function may be
/// absent (a stripped binary). Function names may hold spaces (`<T as
/// Trait>::f`, `operator new(unsigned long)`): the location is the last
/// token.
fn frame(line: &str) -> Option<(Option<&str>, &str)> {
    // LLVM's runtime (rustc's, linked into rust executables) appends the
    // module's build id to frames it could not symbolize.
    let line = line.split(" (BuildId: ").next().unwrap_or(line);
    let rest = line.trim_start().strip_prefix('#')?;
    let (_, rest) = rest.split_once(' ')?; // frame number
    let rest = rest.trim_start();
    let (_, rest) = rest.split_once(' ').unwrap_or((rest, "")); // address
    let rest = rest.trim();
    match rest.strip_prefix("in ") {
        Some(named) => match named.rsplit_once(' ') {
            Some((func, location)) => Some((Some(func.trim()), location)),
            None => Some((Some(named), "")),
        },
        None => Some((None, rest)),
    }
}

/// Rust's legacy mangling leaves a `::h<16 hex>` hash on demangled names.
fn strip_hash(func: &str) -> &str {
    match func.rsplit_once("::h") {
        Some((name, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            name
        }
        _ => func,
    }
}

/// Frames that are the sanitizer, the allocator or a standard library,
/// never the code to blame.
fn is_plumbing(func: &str, location: &str) -> bool {
    const STD: &[&str] = &[
        "alloc::", "core::", "std::", "<alloc::", "<core::", "<std::",
    ];
    // gcc's symbolizer names Rust frames without their path: a
    // `GlobalAlloc` impl (the counting allocator) is just `alloc`.
    const METHODS: &[&str] = &[
        "alloc",
        "alloc_zeroed",
        "dealloc",
        "allocate",
        "allocate_zeroed",
    ];
    func.starts_with("__interceptor_")
        || METHODS.contains(&func)
        || func.starts_with("___interceptor_")
        || func.starts_with("__asan")
        || func.starts_with("__lsan")
        || func.starts_with("__sanitizer")
        || is_allocator_frame(func)
        || STD.iter().any(|p| func.starts_with(p))
        || location.contains("libsanitizer")
        || location.contains("compiler-rt")
        || location.starts_with("/rustc/")
}

/// The module of an unnamed frame, `(/usr/bin/python3.11+0x52b041)` ->
/// `python3.11+0x52b041`.
fn module(location: &str) -> &str {
    let inner = location.trim_start_matches('(').trim_end_matches(')');
    inner.rsplit('/').next().unwrap_or(inner)
}

/// The first frame of `stack` worth naming: "fn (file:line)" when the
/// symbolizer knew the source, "fn (module+0xoff)" when it knew only the
/// module, else the module of the first unnamed frame outside the runtime.
fn user_frame<'a>(stack: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut unnamed: Option<String> = None;
    for line in stack {
        let Some((func, location)) = frame(line) else {
            continue;
        };
        match func {
            Some(func) if !is_plumbing(func, location) => {
                let func = strip_hash(func);
                let location = location.trim_start_matches('(').trim_end_matches(')');
                let short = location.rsplit('/').next().unwrap_or(location);
                return Some(if short.is_empty() {
                    func.to_string()
                } else {
                    format!("{func} ({short})")
                });
            }
            None if unnamed.is_none() && !is_plumbing("", location) => {
                unnamed = Some(module(location).to_string());
            }
            _ => {}
        }
    }
    unnamed
}

/// A stack line as a site frame: `fn file:line[:col]`, `fn (module+0xoff)`
/// or `(module+0xoff)`.
fn site_frame(line: &str) -> Option<site::Frame> {
    let (func, location) = frame(line)?;
    let mut f = site::Frame {
        function: func.map(|f| strip_hash(f).to_string()),
        ..site::Frame::default()
    };
    if let Some(inner) = location.strip_prefix('(').and_then(|l| l.strip_suffix(')')) {
        let object = inner.split('+').next().unwrap_or(inner);
        f.object = Some(object.to_string());
    } else if !location.is_empty() {
        // file:line:col, or file:line; a path may hold no colon at all.
        let mut parts = location.rsplitn(3, ':');
        let last = parts.next().unwrap_or(location);
        let (file, line) = match (last.parse::<u32>(), parts.next(), parts.next()) {
            (Ok(_col), Some(line), Some(file)) if line.parse::<u32>().is_ok() => {
                (file.to_string(), line.parse().ok())
            }
            (Ok(line), Some(file), rest) => {
                let file = match rest {
                    Some(more) => format!("{more}:{file}"),
                    None => file.to_string(),
                };
                (file, Some(line))
            }
            _ => (location.to_string(), None),
        };
        f.file = Some(file);
        f.line = line;
    }
    Some(f)
}

/// Every direct leak of one process's log as a leak site with its whole
/// allocation stack (unnamed: [`crate::model::site::name_sites`] names them).
pub fn sites(text: &str) -> Vec<Site> {
    let lines: Vec<&str> = text.lines().collect();
    let mut sites = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix("Direct leak of ") else {
            continue;
        };
        let Some((bytes, blocks)) = leak_size(rest) else {
            continue;
        };
        let frames = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim_start().starts_with('#'))
            .filter_map(|l| site_frame(l))
            .collect();
        sites.push(Site {
            layer: Layer::Native,
            source: SiteSource::Sanitizer,
            bytes,
            blocks,
            frames,
            name: None,
        });
    }
    sites
}

/// Parses one process's log.
pub fn parse(text: &str) -> SanitizerLog {
    let mut log = SanitizerLog {
        loaded: !text.trim().is_empty(),
        ..SanitizerLog::default()
    };
    let lines: Vec<&str> = text.lines().collect();
    let stack_from = |i: usize| {
        lines[i..]
            .iter()
            .copied()
            .skip_while(|l| !l.trim_start().starts_with('#'))
            .take_while(|l| l.trim_start().starts_with('#'))
    };
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Direct leak of ") {
            let Some((bytes, objects)) = leak_size(rest) else {
                continue;
            };
            log.direct_records += 1;
            log.direct_bytes += bytes;
            if log.largest.as_ref().is_none_or(|(most, _)| bytes > *most) {
                let at = user_frame(stack_from(i + 1))
                    .map(|f| format!(" at {f}"))
                    .unwrap_or_default();
                log.largest = Some((bytes, format!("{bytes} byte(s) in {objects} object(s){at}")));
            }
        } else if let Some(rest) = line.strip_prefix("Indirect leak of ") {
            if let Some((bytes, _)) = leak_size(rest) {
                log.indirect_records += 1;
                log.indirect_bytes += bytes;
            }
        } else if let Some((_, kind)) = line.split_once("ERROR: AddressSanitizer: ") {
            // "heap-use-after-free on address 0x... at pc ..." -> the kind.
            let kind = kind.split(" on ").next().unwrap_or(kind).trim();
            let at = user_frame(stack_from(i + 1))
                .map(|f| format!(" at {f}"))
                .unwrap_or_default();
            log.errors.push(format!("{kind}{at}"));
        }
    }
    log
}

/// The findings of a suite from its processes' logs (`None`: no log at
/// all). Fails on any direct leak, indirect leak or error, and when no log
/// was written: the runtime never loaded (LD_PRELOAD refused, a binary built
/// without the sanitizer), so nothing was checked.
pub fn summarise(logs: &[SanitizerLog]) -> WrapperFindings {
    let mut f = WrapperFindings {
        tool: "sanitizer".to_string(),
        definitely_lost_records: 0,
        leaked_bytes: 0,
        invalid_accesses: 0,
        other_errors: 0,
        failing: false,
        summary: String::new(),
        output: None,
    };
    if !logs.iter().any(|l| l.loaded) {
        f.failing = true;
        f.summary = "no sanitizer log: the runtime was not loaded, nothing was checked".into();
        return f;
    }
    let mut indirect = (0, 0);
    let mut errors = Vec::new();
    let mut largest: Option<&(u64, String)> = None;
    for log in logs {
        f.definitely_lost_records += log.direct_records;
        f.leaked_bytes += log.direct_bytes;
        indirect.0 += log.indirect_records;
        indirect.1 += log.indirect_bytes;
        f.invalid_accesses += log.errors.len() as u64;
        errors.extend(log.errors.iter());
        if let Some(l) = &log.largest {
            if largest.is_none_or(|(most, _)| l.0 > *most) {
                largest = Some(l);
            }
        }
    }
    f.failing = f.definitely_lost_records > 0 || indirect.0 > 0 || !errors.is_empty();
    f.summary = format!(
        "{} direct leaks ({} bytes), {} indirect ({} bytes), {} errors",
        f.definitely_lost_records, f.leaked_bytes, indirect.0, indirect.1, f.invalid_accesses
    );
    if logs.len() > 1 {
        f.summary.push_str(&format!(" in {} processes", logs.len()));
    }
    if let Some(first) = errors.first() {
        f.summary = format!("{}; first: {first}", f.summary);
    } else if let Some((_, largest)) = largest {
        f.summary = format!("{}; largest: {largest}", f.summary);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded here: `python3.11 -c "...ctypes.CDLL(lib).leak_it(1000)"`
    // under LD_PRELOAD=libasan.so.8 (gcc 12) against a cdylib built with
    // nightly's -Zsanitizer=address; and a C use-after-free built with gcc's
    // -fsanitize=address.
    const PYTHON_CTYPES: &str = include_str!("../../../tests/fixtures/lsan_python_ctypes.log");
    const USE_AFTER_FREE: &str = include_str!("../../../tests/fixtures/asan_use_after_free.log");
    // python-canary-leaky-core's report, recorded here (ci scale): CPython's
    // own exit-time leaks suppressed by sanitizers/python.supp, the
    // library's two per-call leaks kept.
    const PYTHON_CANARY: &str = include_str!("../../../tests/fixtures/lsan_python_canary.log");

    #[test]
    fn the_canary_leak_is_named_at_the_librarys_own_frame() {
        let log = parse(PYTHON_CANARY);
        assert_eq!(log.direct_records, 2);
        assert_eq!(log.direct_bytes, 1_934_962);
        assert_eq!(log.indirect_records, 0);
        let f = summarise(&[log]);
        assert!(f.failing);
        // The largest record's stack ends inside RawVec (the unwinder
        // stopped there): no frame to name. The second names the leak.
        assert!(
            f.summary
                .ends_with("largest: 1921762 byte(s) in 1650 object(s)"),
            "{}",
            f.summary
        );
        let second: Vec<&str> = PYTHON_CANARY
            .lines()
            .skip_while(|l| !l.starts_with("Direct leak of 13200"))
            .collect();
        assert_eq!(
            user_frame(second.iter().copied()).as_deref(),
            Some("leak_input (canary.rs:14)")
        );
    }

    #[test]
    fn direct_leaks_become_sites_named_past_the_allocator() {
        use crate::model::site::{name_sites, Library};
        let mut sites = sites(PYTHON_CANARY);
        assert_eq!(sites.len(), 2);
        name_sites(&mut sites, &Library::default());
        assert_eq!((sites[0].bytes, sites[0].blocks), (1_921_762, 1_650));
        // Its stack ends inside RawVec: nothing of the library to name.
        assert_eq!(sites[0].name, None);
        assert_eq!(sites[0].frames.len(), 9, "the whole stack is kept");
        assert_eq!(sites[1].name.as_deref(), Some("leak_input (canary.rs:14)"));
        let named = &sites[1].frames[10];
        assert_eq!(named.file.as_deref(), Some("core/engine/src/canary.rs"));
        assert_eq!(named.line, Some(14));
        let unnamed = &sites[1].frames[17];
        assert_eq!(unnamed.function.as_deref(), Some("__rust_try"));
        assert_eq!(
            unnamed.object.as_deref(),
            Some("/work/wt/asan/target/x86_64-unknown-linux-gnu/release/libpyjamaz.so")
        );
        // The library's object names a frame the symbolizer left unnamed
        // by function: the ctypes log's leak_it is inside libasantest.so.
        let mut ctypes = super::sites(PYTHON_CTYPES);
        let lib = Library {
            objects: vec!["/elsewhere/libasantest.so".into()],
            prefixes: vec![],
        };
        name_sites(&mut ctypes, &lib);
        let leak_it = ctypes.iter().find(|s| s.bytes == 1000).unwrap();
        assert_eq!(leak_it.name.as_deref(), Some("leak_it (libasantest.so)"));
        // The library's own site comes first, before CPython's (bigger)
        // lost blocks, whose stripped frames are named by their module.
        assert_eq!(ctypes[0].name.as_deref(), Some("leak_it (libasantest.so)"));
        assert!(ctypes[1..]
            .iter()
            .any(|s| s.name.as_deref() == Some("python3.11")));
    }

    #[test]
    fn frame_locations_split_into_file_line_and_object() {
        let f = site_frame("    #3 0x1 in f /a/b.c:12:5").unwrap();
        assert_eq!((f.file.as_deref(), f.line), (Some("/a/b.c"), Some(12)));
        let f = site_frame("    #3 0x1 in f /a/b.c:12").unwrap();
        assert_eq!((f.file.as_deref(), f.line), (Some("/a/b.c"), Some(12)));
        let f = site_frame("    #3 0x1 in f (/x/liba.so+0x10)").unwrap();
        assert_eq!(f.object.as_deref(), Some("/x/liba.so"));
        assert_eq!(f.file, None);
        let f = site_frame("    #1 0x52b041  (/usr/bin/python3.11+0x52b041)").unwrap();
        assert_eq!(
            (f.function, f.object.as_deref()),
            (None, Some("/usr/bin/python3.11"))
        );
    }

    #[test]
    fn leak_records_are_counted_and_the_largest_named() {
        let log = parse(PYTHON_CTYPES);
        assert!(log.loaded);
        assert_eq!(log.direct_records, 6);
        assert_eq!(log.direct_bytes, 38_723);
        assert_eq!(log.indirect_records, 3);
        assert_eq!(log.indirect_bytes, 52_217);
        assert!(log.errors.is_empty());
        // CPython's stacks end at its own stripped frame: the module names it.
        assert_eq!(
            log.largest.as_ref().map(|(b, s)| (*b, s.as_str())),
            Some((
                32_992,
                "32992 byte(s) in 13 object(s) at python3.11+0x50046f"
            ))
        );
        let f = summarise(&[log]);
        assert!(f.failing);
        assert_eq!(f.definitely_lost_records, 6);
        assert_eq!(f.leaked_bytes, 38_723);
        assert_eq!(
            f.summary,
            "6 direct leaks (38723 bytes), 3 indirect (52217 bytes), 0 errors; \
             largest: 32992 byte(s) in 13 object(s) at python3.11+0x50046f"
        );
    }

    #[test]
    fn an_error_names_its_kind_and_the_first_frame_past_the_runtime() {
        let log = parse(USE_AFTER_FREE);
        assert_eq!(log.errors, ["heap-use-after-free at use (uaf.c:3)"]);
        assert_eq!(log.direct_records, 0);
        let f = summarise(&[log]);
        assert!(f.failing);
        assert_eq!(f.invalid_accesses, 1);
        assert!(
            f.summary
                .ends_with("1 errors; first: heap-use-after-free at use (uaf.c:3)"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn frames_skip_interceptors_allocator_shims_and_std() {
        let stack = [
            "    #0 0x7f in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69",
            "    #1 0x7f in __rust_alloc (/x/libpyjamaz.so+0x1)",
            "    #2 0x7f in alloc::raw_vec::RawVec<T,A>::allocate_in::h0123456789abcdef (/x/libpyjamaz.so+0x2)",
            "    #3 0x7f in <alloc::vec::Vec<T> as core::clone::Clone>::clone /rustc/abc/library/alloc/src/vec/mod.rs:3",
            "    #4 0x7f in pyjamaz_engine::canary::leak_input::h0123456789abcdef /work/core/engine/src/canary.rs:13",
        ];
        assert_eq!(
            user_frame(stack).as_deref(),
            Some("pyjamaz_engine::canary::leak_input (canary.rs:13)")
        );
        assert_eq!(user_frame(stack[..3].iter().copied()), None);
        assert_eq!(
            frame("    #1 0x52b041  (/usr/bin/python3.11+0x52b041)"),
            Some((None, "(/usr/bin/python3.11+0x52b041)"))
        );
        // Recorded here from a rust executable (rustc's runtime) calling a
        // dlopen'd cdylib.
        let llvm = "    #1 0x7f074e1c2a17 in leak_it (/tmp/asantest/target/x86_64-unknown-linux-gnu/\
                    release/libasantest.so+0x11a17) (BuildId: b91c3b03db584d5d8c58347a5d32282533a477f7)";
        assert_eq!(
            user_frame([llvm]).as_deref(),
            Some("leak_it (libasantest.so+0x11a17)")
        );
    }

    #[test]
    fn a_clean_log_passes_and_no_log_fails() {
        let started = "==12==AddressSanitizer: failed to intercept '__isoc99_printf'\n";
        let f = summarise(&[parse(started)]);
        assert!(!f.failing, "{}", f.summary);
        assert_eq!(
            f.summary,
            "0 direct leaks (0 bytes), 0 indirect (0 bytes), 0 errors"
        );
        let f = summarise(&[parse(started), parse(PYTHON_CTYPES)]);
        assert!(
            f.summary.contains(" in 2 processes; largest: "),
            "{}",
            f.summary
        );
        let none = summarise(&[]);
        assert!(none.failing);
        assert!(none.summary.contains("not loaded"), "{}", none.summary);
    }
}
