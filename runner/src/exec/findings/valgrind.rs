//! valgrind memcheck's `--xml=yes` output: [`parse`] reads it with quick-xml
//! into plain records (every error with its kind, its description, its leaked
//! bytes and its stacks, each frame keeping its object file, function and
//! source line); [`summarise`] turns those into the findings every report
//! shows. The reader is a streaming one on purpose: a suite killed on timeout
//! leaves a document cut off mid-way, and every error complete before the cut
//! still counts.

use super::frames::is_allocator_frame;
use crate::model::{site, Layer, Site, SiteSource, WrapperFindings};
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

/// One stack frame as valgrind names it; any part may be missing (a frame
/// without debug information has no file, one in a stripped object no
/// function).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// The object file the code is in (an executable or a shared library).
    pub obj: Option<String>,
    pub func: Option<String>,
    pub dir: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// One `<error>` record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// `Leak_DefinitelyLost`, `InvalidWrite`, ...
    pub kind: String,
    /// `<what>`, or a leak's `<xwhat><text>`.
    pub what: Option<String>,
    /// A leak's `<xwhat><leakedbytes>`.
    pub leaked_bytes: Option<u64>,
    /// A leak's `<xwhat><leakedblocks>`.
    pub leaked_blocks: Option<u64>,
    /// Every `<stack>` in order: the first is where the error happened (or
    /// the leaked block was allocated), later ones follow an `<auxwhat>`.
    pub stacks: Vec<Vec<Frame>>,
}

/// A whole document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// Every error complete before the end (or the cut).
    pub records: Vec<Record>,
    /// The document ended with `</valgrindoutput>`: valgrind was not killed
    /// before it could write its leak check.
    pub complete: bool,
}

/// Reads a valgrind XML document, or as much of one as there is.
pub fn parse(xml: &str) -> Log {
    let mut reader = Reader::from_str(xml);
    // Ends are matched by position only: a fragment (a test's, or a cut
    // document) must not stop the reading.
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    let mut log = Log::default();
    // Names of the open elements, from the current `<error>` down.
    let mut path: Vec<String> = Vec::new();
    let mut current: Option<Record> = None;
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                text.clear();
                if name == "error" {
                    current = Some(Record::default());
                    path.clear();
                }
                if let Some(record) = current.as_mut() {
                    path.push(name);
                    opened(record, &path);
                }
            }
            Ok(Event::Text(t)) => text.push_str(&t.decode().unwrap_or_default()),
            Ok(Event::GeneralRef(r)) => push_reference(&mut text, &r),
            Ok(Event::End(e)) => {
                if e.local_name().as_ref() == b"valgrindoutput" {
                    log.complete = true;
                }
                if let Some(record) = current.as_mut() {
                    closed(record, &path, text.trim());
                    path.pop();
                    if path.is_empty() {
                        log.records.extend(current.take());
                    }
                }
                text.clear();
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    log
}

/// `&lt;` and friends, and `&#60;`: Rust and C++ names are full of them.
fn push_reference(text: &mut String, r: &BytesRef<'_>) {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        text.push(c);
        return;
    }
    let name = r.decode().unwrap_or_default();
    match quick_xml::escape::resolve_xml_entity(&name) {
        Some(resolved) => text.push_str(resolved),
        None => {
            text.push('&');
            text.push_str(&name);
            text.push(';');
        }
    }
}

/// A container opened inside the record: a new stack or frame.
fn opened(record: &mut Record, path: &[String]) {
    match names(path).as_slice() {
        ["error", "stack"] => record.stacks.push(Vec::new()),
        ["error", "stack", "frame"] => {
            if let Some(stack) = record.stacks.last_mut() {
                stack.push(Frame::default());
            }
        }
        _ => {}
    }
}

/// A leaf closed inside the record, with its text.
fn closed(record: &mut Record, path: &[String], text: &str) {
    let value = || Some(text.to_string());
    match names(path).as_slice() {
        ["error", "kind"] => record.kind = text.to_string(),
        ["error", "what"] => record.what = value(),
        ["error", "xwhat", "text"] => record.what = record.what.take().or_else(value),
        ["error", "xwhat", "leakedbytes"] => record.leaked_bytes = text.parse().ok(),
        ["error", "xwhat", "leakedblocks"] => record.leaked_blocks = text.parse().ok(),
        ["error", "stack", "frame", field] => {
            let Some(frame) = record.stacks.last_mut().and_then(|s| s.last_mut()) else {
                return;
            };
            match *field {
                "obj" => frame.obj = value(),
                "fn" => frame.func = value(),
                "dir" => frame.dir = value(),
                "file" => frame.file = value(),
                "line" => frame.line = text.parse().ok(),
                _ => {}
            }
        }
        _ => {}
    }
}

fn names(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

/// The frame that says where the problem is, as "fn (file:line)" when known:
/// the first frame of the stack outside valgrind's preload objects,
/// allocator plumbing, frames without a function name, and Rust's standard
/// library (its sources live under /rustc/), so a leaked `Vec` points at the
/// code that made it rather than at `RawVec`.
pub fn user_frame(stack: &[Frame]) -> Option<String> {
    stack.iter().find_map(|f| {
        if f.obj.as_deref().is_some_and(|o| o.contains("valgrind")) {
            return None;
        }
        if f.dir.as_deref().is_some_and(|d| d.starts_with("/rustc/")) {
            return None;
        }
        let func = f.func.as_deref()?;
        if func == "UnknownInlinedFun" || is_allocator_frame(func) {
            return None;
        }
        Some(match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{func} ({file}:{line})"),
            _ => func.to_string(),
        })
    })
}

/// Every definitely-lost record as a leak site, with its whole allocation
/// stack (unnamed: [`crate::model::site::name_sites`] names them).
pub fn sites(log: &Log) -> Vec<Site> {
    log.records
        .iter()
        .filter(|r| r.kind == "Leak_DefinitelyLost")
        .map(|r| Site {
            layer: Layer::Native,
            source: SiteSource::Valgrind,
            bytes: r.leaked_bytes.unwrap_or(0),
            blocks: r.leaked_blocks.unwrap_or(0),
            frames: r
                .stacks
                .first()
                .map(|s| s.iter().map(site_frame).collect())
                .unwrap_or_default(),
            name: None,
        })
        .collect()
}

/// valgrind's frame as a site frame: the file with its folder, so that the
/// standard library's sources (under /rustc/) are known as such.
fn site_frame(f: &Frame) -> site::Frame {
    let file = match (&f.dir, &f.file) {
        (Some(dir), Some(file)) if !file.starts_with('/') => Some(format!("{dir}/{file}")),
        (_, file) => file.clone(),
    };
    site::Frame {
        function: f.func.clone().filter(|n| n != "UnknownInlinedFun"),
        file,
        line: f.line,
        object: f.obj.clone(),
    }
}

/// A finding worth naming in the summary: what, and where.
fn describe(record: &Record) -> String {
    let what = record.what.clone().unwrap_or_else(|| record.kind.clone());
    match record.stacks.first().and_then(|s| user_frame(s)) {
        Some(at) => format!("{what} at {at}"),
        None => what,
    }
}

/// Summarises a parsed document. The summary names the first invalid access
/// if there is one (later ones are often its echoes), else the largest leak
/// (valgrind lists leak records smallest first).
pub fn summarise(log: &Log) -> WrapperFindings {
    let mut f = WrapperFindings {
        tool: "valgrind".to_string(),
        definitely_lost_records: 0,
        leaked_bytes: 0,
        invalid_accesses: 0,
        other_errors: 0,
        failing: false,
        summary: String::new(),
        output: None,
    };
    let mut first_invalid: Option<String> = None;
    let mut largest_leak: Option<(u64, String)> = None;
    for record in &log.records {
        match record.kind.as_str() {
            "Leak_DefinitelyLost" => {
                f.definitely_lost_records += 1;
                let bytes = record.leaked_bytes.unwrap_or(0);
                f.leaked_bytes += bytes;
                match &largest_leak {
                    Some((most, _)) if *most >= bytes => {}
                    _ => largest_leak = Some((bytes, describe(record))),
                }
            }
            "InvalidRead" | "InvalidWrite" | "InvalidFree" | "MismatchedFree" => {
                f.invalid_accesses += 1;
                if first_invalid.is_none() {
                    first_invalid = Some(describe(record));
                }
            }
            _ => f.other_errors += 1,
        }
    }
    f.failing = f.definitely_lost_records > 0 || f.invalid_accesses > 0;
    let mut parts = vec![
        format!(
            "{} definitely lost ({} bytes)",
            f.definitely_lost_records, f.leaked_bytes
        ),
        format!("{} invalid accesses", f.invalid_accesses),
        format!("{} other errors", f.other_errors),
    ];
    if !log.complete {
        parts.push("output incomplete (killed before exit?)".to_string());
    }
    f.summary = parts.join(", ");
    if let Some(first) = first_invalid {
        f.summary = format!("{}; first: {first}", f.summary);
    } else if let Some((_, largest)) = largest_leak {
        f.summary = format!("{}; largest: {largest}", f.summary);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALGRIND_LEAK: &str = include_str!("../../../tests/fixtures/valgrind_leak.xml");
    const VALGRIND_RUST_CANARY: &str =
        include_str!("../../../tests/fixtures/valgrind_rust_canary.xml");

    #[test]
    fn records_keep_kinds_bytes_and_every_frame_with_its_object() {
        let log = parse(VALGRIND_LEAK);
        assert!(log.complete);
        let kinds: Vec<&str> = log.records.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["InvalidWrite", "Leak_DefinitelyLost"]);
        let write = &log.records[0];
        assert_eq!(write.what.as_deref(), Some("Invalid write of size 1"));
        assert_eq!(write.stacks.len(), 3, "the error's and two auxiliary");
        assert_eq!(
            write.stacks[0],
            [Frame {
                obj: Some("/tmp/ht/leak".into()),
                func: Some("main".into()),
                dir: Some("/tmp/ht".into()),
                file: Some("leak.c".into()),
                line: Some(3),
            }]
        );
        let leak = &log.records[1];
        assert_eq!(leak.leaked_bytes, Some(10_000));
        assert_eq!(
            leak.what.as_deref(),
            Some("10,000 bytes in 10 blocks are definitely lost in loss record 1 of 1")
        );
        let objs: Vec<Option<&str>> = leak.stacks[0].iter().map(|f| f.obj.as_deref()).collect();
        assert_eq!(
            objs,
            [
                Some("/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so"),
                Some("/tmp/ht/leak")
            ]
        );
    }

    #[test]
    fn rust_names_are_decoded_and_frames_stay_in_order() {
        let log = parse(VALGRIND_RUST_CANARY);
        let largest = log.records.last().unwrap();
        let stack = &largest.stacks[0];
        assert_eq!(stack[0].func.as_deref(), Some("malloc"));
        let funcs: Vec<&str> = stack.iter().filter_map(|f| f.func.as_deref()).collect();
        assert!(
            funcs.contains(&"to_vec<u8, alloc::alloc::Global>"),
            "{funcs:?}"
        );
        assert!(
            funcs.contains(&"call_once<fn() -> std::process::ExitCode, ()>"),
            "{funcs:?}"
        );
        assert_eq!(funcs.last(), Some(&"main"), "every frame, in order");
        // The object each frame is in finds the first frame inside the code
        // under test (here the suite's executable, which links the engine).
        let first_own = stack
            .iter()
            .find(|f| f.obj.as_deref() == Some("/work/main/.memtest/bin/leaky/memory_leak"))
            .unwrap();
        assert_eq!(first_own.func.as_deref(), Some("UnknownInlinedFun"));
        let leak = stack
            .iter()
            .find(|f| f.func.as_deref() == Some("pyjamaz::canary::leak_input"))
            .unwrap();
        assert_eq!(
            (leak.file.as_deref(), leak.line),
            (Some("canary.rs"), Some(13))
        );
    }

    #[test]
    fn leak_records_become_sites_named_at_the_code_that_leaked() {
        use crate::model::site::{name_sites, Library};
        let mut sites = sites(&parse(VALGRIND_RUST_CANARY));
        assert_eq!(sites.len(), 2);
        // The suite's executable links the engine: its object is the
        // library here, and the allocator shims inside it are skipped.
        let lib = Library {
            objects: vec!["/work/main/.memtest/bin/leaky/memory_leak".into()],
            prefixes: vec!["pyjamaz".into()],
        };
        name_sites(&mut sites, &lib);
        assert_eq!(
            (sites[0].bytes, sites[0].blocks),
            (8_766_500, 1_000),
            "largest first"
        );
        assert_eq!(
            sites[0].name.as_deref(),
            Some("pyjamaz::canary::leak_input (canary.rs:13)")
        );
        assert_eq!(
            sites[1].name.as_deref(),
            Some("pyjamaz::canary::leak_input (canary.rs:14)")
        );
        // The whole stack is kept, plumbing included.
        let top = &sites[0].frames;
        assert_eq!(top[0].function.as_deref(), Some("malloc"));
        assert_eq!(top.last().unwrap().function.as_deref(), Some("main"));
        assert!(top[1]
            .file
            .as_deref()
            .unwrap()
            .starts_with("/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std"));
        let mut c = sites_of(VALGRIND_LEAK);
        name_sites(&mut c, &Library::default());
        assert_eq!(c.len(), 1, "the invalid write is no site");
        assert_eq!((c[0].bytes, c[0].blocks), (10_000, 10));
        assert_eq!(c[0].name.as_deref(), Some("main (leak.c:3)"));
    }

    fn sites_of(xml: &str) -> Vec<Site> {
        sites(&parse(xml))
    }

    #[test]
    fn a_cut_document_keeps_the_errors_before_the_cut() {
        let cut = &VALGRIND_LEAK[..VALGRIND_LEAK.find("<kind>Leak_DefinitelyLost").unwrap()];
        let log = parse(cut);
        assert!(!log.complete);
        assert_eq!(log.records.len(), 1, "the half-written leak is left out");
        assert_eq!(log.records[0].kind, "InvalidWrite");
    }

    #[test]
    fn character_references_and_unknown_entities_read_as_written() {
        let log = parse("<error><kind>K</kind><what>a&#60;b&#x3E; &amp; &nbsp;</what></error>");
        assert_eq!(log.records[0].what.as_deref(), Some("a<b> & &nbsp;"));
    }
}
