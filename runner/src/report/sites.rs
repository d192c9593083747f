//! The "where" of `memtest explain` in the terminal: per suite, its leak
//! sites largest first, each with its layer, bytes, blocks and named frame,
//! and its stack with the allocator's, runtime's and memtest's frames folded.
//! A pure renderer over [`Site`] records (named by
//! [`crate::model::site::name_sites`]). The exporters (JUnit, markdown,
//! HTML) show the same records one line each, by [`site_line`].

use crate::model::site::{is_caller_line, is_plumbing};
use crate::model::{Diagnosis, Frame, Layer, Site, SiteSource};
use crate::units::Bytes;
use std::fmt::Write as _;

/// Frames shown after the named one before the rest is counted.
const CALLERS_SHOWN: usize = 4;

/// One suite's explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteSites {
    pub suite: String,
    /// Its verdict in the attribution run, as the progress line shows it.
    pub verdict: String,
    /// What produced native sites, or why there are none (e.g. "valgrind
    /// memcheck", "memtest-alloc tracker").
    pub method: String,
    /// Above the noise floor, named, largest first.
    pub sites: Vec<Site>,
    /// Sites left out: below the noise floor, or past the number shown.
    pub hidden: usize,
    /// Leak or allocator? The cause of its RSS growth, when diagnosed.
    pub cause: Option<Diagnosis>,
}

/// The whole explanation, one block per suite.
pub fn render(suites: &[SuiteSites]) -> String {
    let mut out = String::new();
    for s in suites {
        let _ = writeln!(out, "\nWhere: {} ({}; {})", s.suite, s.verdict, s.method);
        if s.sites.is_empty() {
            let _ = writeln!(out, "  no leak site above the noise floor");
        }
        for (i, site) in s.sites.iter().enumerate() {
            render_site(&mut out, i + 1, site);
        }
        if s.hidden > 0 {
            let _ = writeln!(
                out,
                "  ({} smaller site{} not shown)",
                s.hidden,
                if s.hidden == 1 { "" } else { "s" }
            );
        }
        // Under the sites: the block's first line stays the top site.
        if let Some(d) = &s.cause {
            render_cause(&mut out, d);
        }
    }
    out
}

/// The cause line, and the other figures gathered on the next.
fn render_cause(out: &mut String, d: &Diagnosis) {
    let _ = writeln!(out, "  cause: {d}");
    if !d.other.is_empty() {
        let other: Vec<String> = d.other.iter().map(|e| e.to_string()).collect();
        let _ = writeln!(out, "    also: {}", other.join("; "));
    }
}

/// One site on one line, for the file reports: "native 51.2 KB in 2560
/// blocks definitely lost at intern_put (intern.c:188)".
pub fn site_line(site: &Site) -> String {
    format!(
        "{} {} in {} {} {} at {}",
        site.layer.as_str(),
        Bytes(site.bytes),
        site.blocks,
        unit_of(site.layer),
        source_name(site.source),
        site_name(site)
    )
}

/// The named frame, or why there is none.
pub fn site_name(site: &Site) -> &str {
    site.name.as_deref().unwrap_or("(no frame of the library)")
}

/// What a site's blocks are called in its layer.
pub fn unit_of(layer: Layer) -> &'static str {
    match layer {
        Layer::Js => "objects",
        Layer::Python | Layer::Native => "blocks",
    }
}

/// How the site's source counts it ("definitely lost", "grown", ...).
pub fn source_name(source: SiteSource) -> &'static str {
    match source {
        SiteSource::MemtestAlloc => "still live",
        SiteSource::Valgrind => "definitely lost",
        SiteSource::Sanitizer => "direct leak",
        SiteSource::ZigAllocator => "leaked",
        SiteSource::Tracemalloc | SiteSource::HeapSnapshot => "grown",
        SiteSource::Other => "reported",
    }
}

fn render_site(out: &mut String, n: usize, site: &Site) {
    let what = unit_of(site.layer);
    let name = site_name(site);
    let _ = writeln!(
        out,
        "  {n}. {:<6} {:>9} in {} {what} {}  at {name}",
        site.layer.as_str(),
        Bytes(site.bytes).to_string(),
        site.blocks,
        source_name(site.source),
    );
    match site.layer {
        Layer::Js => render_retainers(out, &site.frames),
        Layer::Native | Layer::Python => render_stack(out, site),
    }
}

/// A JS site's frames are its constructor and its retainer path.
fn render_retainers(out: &mut String, frames: &[Frame]) {
    if frames.len() < 2 {
        return;
    }
    let path: Vec<&str> = frames[1..]
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    let _ = writeln!(out, "       retained by {}", path.join(" <- "));
}

/// The stack, innermost first: runs of plumbing folded to a count, the
/// named frame marked, a few of its callers, the rest counted.
fn render_stack(out: &mut String, site: &Site) {
    let named = site
        .name
        .as_deref()
        .and_then(|n| site.frames.iter().position(|f| f.label() == n));
    let mut folded = 0;
    let mut shown_after = 0;
    for (i, frame) in site.frames.iter().enumerate() {
        let after_named = named.is_some_and(|n| i > n);
        let caller = site.frames.last().filter(|f| is_caller_line(site.layer, f));
        if after_named && shown_after == CALLERS_SHOWN {
            let rest = site.frames.len() - i - usize::from(caller.is_some());
            flush_folded(out, &mut folded);
            if rest > 0 {
                let _ = writeln!(out, "         ... {rest} more frames");
            }
            if let Some(caller) = caller {
                let _ = writeln!(out, "         called from {}", caller.label());
            }
            return;
        }
        if i + 1 == site.frames.len() && caller.is_some() {
            flush_folded(out, &mut folded);
            let _ = writeln!(out, "         called from {}", frame.label());
            continue;
        }
        if Some(i) != named && is_plumbing(site.layer, frame) {
            folded += 1;
            continue;
        }
        flush_folded(out, &mut folded);
        let mark = if Some(i) == named { ">" } else { " " };
        let _ = writeln!(out, "       {mark} {}", frame.label());
        if after_named {
            shown_after += 1;
        }
    }
    flush_folded(out, &mut folded);
}

fn flush_folded(out: &mut String, folded: &mut usize) {
    if *folded > 0 {
        let _ = writeln!(
            out,
            "         ({} allocator/runtime frame{})",
            folded,
            if *folded == 1 { "" } else { "s" }
        );
        *folded = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::site::{name_sites, Library};

    fn frame(function: &str, file: Option<&str>, line: u32) -> Frame {
        Frame {
            function: Some(function.into()),
            file: file.map(String::from),
            line: file.map(|_| line),
            object: Some("/w/libintern.so".into()),
        }
    }

    #[test]
    fn sites_render_with_plumbing_folded_and_the_named_frame_marked() {
        let mut native = vec![Site {
            layer: Layer::Native,
            source: SiteSource::Valgrind,
            bytes: 51_200,
            blocks: 2_560,
            frames: vec![
                Frame {
                    function: Some("malloc".into()),
                    object: Some("/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so".into()),
                    ..Frame::default()
                },
                frame("strndup", Some("strndup.c"), 43),
                frame("intern_put", Some("/w/src/intern.c"), 188),
                frame("intern_tokenize", Some("/w/src/intern.c"), 236),
                frame("one_round", Some("/w/suites/test_memory.c"), 40),
                frame("run", Some("/w/suites/test_memory.c"), 60),
                frame("main", Some("/w/suites/test_memory.c"), 80),
                frame("__libc_start_call_main", None, 0),
                frame("_start", None, 0),
            ],
            name: None,
        }];
        let lib = Library {
            objects: vec!["/w/libintern.so".into()],
            prefixes: vec!["intern".into()],
        };
        name_sites(&mut native, &lib);
        let js = Site {
            layer: Layer::Js,
            source: SiteSource::HeapSnapshot,
            bytes: 1_202_896,
            blocks: 2_000,
            frames: vec![
                Frame {
                    function: Some("PlantedLeak".into()),
                    ..Frame::default()
                },
                Frame {
                    function: Some("Array[1999]".into()),
                    ..Frame::default()
                },
                Frame {
                    function: Some("system / Context.kept".into()),
                    ..Frame::default()
                },
            ],
            name: Some("PlantedLeak".into()),
        };
        let text = render(&[
            SuiteSites {
                suite: "c-memory-canary-strdup".into(),
                verdict: "CANARY OK".into(),
                method: "valgrind memcheck".into(),
                sites: native,
                hidden: 1,
                cause: Some(Diagnosis {
                    cause: crate::model::Cause::Leak,
                    deciding: vec![
                        crate::model::Evidence::LiveGrowth {
                            source: crate::model::LiveSource::MallocInUse,
                            growth_bytes: 51_200,
                        },
                        crate::model::Evidence::RssGrowth {
                            probe: crate::model::Probe::Plain,
                            growth_bytes: 180_000,
                        },
                    ],
                    other: vec![crate::model::Evidence::Trimmed { bytes: 0 }],
                }),
            },
            SuiteSites {
                suite: "node-planted".into(),
                verdict: "FAIL".into(),
                method: "V8 heap snapshots".into(),
                sites: vec![js],
                hidden: 0,
                cause: None,
            },
            SuiteSites {
                suite: "clean".into(),
                verdict: "PASS".into(),
                method: "memtest-alloc tracker".into(),
                sites: vec![],
                hidden: 0,
                cause: None,
            },
        ]);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_interpreter_line_that_called_the_library_closes_the_stack() {
        let caller = Frame {
            file: Some("/w/suites/test_memory.py".into()),
            line: Some(47),
            ..Frame::default()
        };
        let stack = |callers: usize| {
            let mut frames = vec![
                frame("malloc", None, 0),
                frame("grow", Some("/w/src/intern.c"), 9),
            ];
            frames.extend(
                (0..callers).map(|i| frame("intern_put", Some("/w/src/intern.c"), i as u32)),
            );
            frames.push(frame("ffi_call", None, 0));
            frames.push(caller.clone());
            let mut sites = vec![Site {
                layer: Layer::Native,
                source: SiteSource::MemtestAlloc,
                bytes: 64,
                blocks: 1,
                frames,
                name: None,
            }];
            name_sites(&mut sites, &Library::default());
            let mut out = String::new();
            render_stack(&mut out, &sites[0]);
            out
        };
        // Short: every frame shown, the caller last.
        let short = stack(1);
        assert!(
            short.ends_with("         called from test_memory.py:47\n"),
            "{short}"
        );
        // Long: the middle is counted, the caller still shown.
        let long = stack(6);
        assert!(
            long.contains("more frames\n         called from test_memory.py:47\n"),
            "{long}"
        );
    }
}
