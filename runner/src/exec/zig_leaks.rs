//! Leak sites from Zig's own leak check: `std.testing.allocator` and
//! `std.heap.DebugAllocator` log every block still allocated at `deinit`
//! (Zig 0.17: `leaked [addr: 7f…, len: 3 (0x3) align: 1] allocated at:`;
//! before: `memory address 0x… leaked:`, with no size) followed by the
//! stack that allocated it, one `FILE:LINE:COL: 0xADDR in FUNCTION
//! (MODULE)` line per frame (each followed by its source line and a
//! caret). Those are exact (the block is live when the allocator is torn
//! down), so a Zig suite names its leak with no wrapper: the same site
//! records valgrind's output becomes. Blocks with the same stack are one
//! site.

use crate::model::{Frame, Layer, Site, SiteSource};

/// Lines without a frame after which a leak's stack is over (a frame is
/// followed by its source line and a caret line).
const GAP_LINES: usize = 3;

/// Collects Zig leak reports from a suite's output, line by line.
#[derive(Debug, Default)]
pub struct ZigLeaks {
    /// The stack being read, its block's size, and how many lines since
    /// its last frame.
    current: Option<(Vec<Frame>, u64, usize)>,
    /// Distinct stacks with their blocks and bytes, in first-seen order.
    stacks: Vec<(Vec<Frame>, u64, u64)>,
}

impl ZigLeaks {
    pub fn line(&mut self, line: &str) {
        // ANSI colours, when the build runner passes a terminal's output on.
        let clean = strip_ansi(line);
        let line = clean.trim();
        if let Some(bytes) = header(line) {
            self.close();
            self.current = Some((Vec::new(), bytes, 0));
            return;
        }
        let Some((frames, _, gap)) = self.current.as_mut() else {
            return;
        };
        if let Some(frame) = parse_frame(line) {
            frames.push(frame);
            *gap = 0;
        } else {
            *gap += 1;
            if *gap >= GAP_LINES {
                self.close();
            }
        }
    }

    fn close(&mut self) {
        let Some((frames, bytes, _)) = self.current.take() else {
            return;
        };
        if frames.is_empty() {
            return;
        }
        match self.stacks.iter_mut().find(|(f, _, _)| *f == frames) {
            Some((_, blocks, total)) => {
                *blocks += 1;
                *total += bytes;
            }
            None => self.stacks.push((frames, 1, bytes)),
        }
    }

    /// The sites read, largest first.
    pub fn finish(mut self) -> Vec<Site> {
        self.close();
        let mut sites: Vec<Site> = self
            .stacks
            .into_iter()
            .map(|(frames, blocks, bytes)| Site {
                layer: Layer::Native,
                source: SiteSource::ZigAllocator,
                bytes,
                blocks,
                frames,
                name: None,
            })
            .collect();
        sites.sort_by_key(|s| std::cmp::Reverse((s.bytes, s.blocks)));
        sites
    }
}

/// The size of the block a leak report's first line announces (0 when it
/// gives none), or `None` for any other line.
fn header(line: &str) -> Option<u64> {
    if let Some(at) = line.find("leaked [addr:") {
        let rest = &line[at..];
        if !rest.trim_end().ends_with("allocated at:") {
            return None;
        }
        let len = rest
            .split_once("len: ")
            .and_then(|(_, r)| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
        return Some(len.unwrap_or(0));
    }
    (line.contains("memory address 0x") && line.trim_end().ends_with("leaked:")).then_some(0)
}

/// `FILE:LINE:COL: 0xADDR in FUNCTION (MODULE)`; `???:?:?` when unknown.
fn parse_frame(line: &str) -> Option<Frame> {
    let (place, rest) = line.split_once(": 0x")?;
    let (_addr, rest) = rest.split_once(" in ")?;
    let (function, _module) = rest.rsplit_once(" (")?;
    let mut parts = place.rsplitn(3, ':');
    let (col, line_no, file) = (parts.next()?, parts.next()?, parts.next()?);
    let known = col.parse::<u32>().is_ok() && !file.is_empty() && file != "???";
    let function = (function != "???").then(|| function.to_string());
    Some(Frame {
        function,
        file: known.then(|| file.to_string()),
        line: if known { line_no.parse().ok() } else { None },
        object: None,
    })
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
error: 'zfreq.test.repeated words' leaked memory
error(gpa): memory address 0x7f3a1c0a0000 leaked: 
/w/src/zfreq.zig:153:47: 0x10e2f0a in addWord (zfreq)
            const copy = try self.gpa.dupe(u8, word);
                                              ^
/w/src/zfreq.zig:178:29: 0x10e33a1 in addText (zfreq)
            try self.addWord(word);
                            ^
/w/src/zfreq.zig:310:23: 0x10e4b11 in test.repeated words (zfreq)
    _ = try f.addText(\"a b a\");
                      ^

error(gpa): memory address 0x7f3a1c0a0010 leaked: 
\u{1b}[1m/w/src/zfreq.zig:153:47\u{1b}[0m: \u{1b}[2m0x10e2f0a in addWord (zfreq)\u{1b}[0m
            const copy = try self.gpa.dupe(u8, word);
                                              ^
/w/src/zfreq.zig:178:29: 0x10e33a1 in addText (zfreq)
            try self.addWord(word);
                            ^
/w/src/zfreq.zig:310:23: 0x10e4b11 in test.repeated words (zfreq)
    _ = try f.addText(\"a b a\");
                      ^

error(gpa): memory address 0x7f3a1c0a0020 leaked: 
???:?:?: 0x10e2f0a in ??? (???)
All 5 tests passed.
";

    #[test]
    fn leaked_blocks_with_one_stack_are_one_site() {
        let mut z = ZigLeaks::default();
        for line in LOG.lines() {
            z.line(line);
        }
        let sites = z.finish();
        assert_eq!(sites.len(), 2, "{sites:#?}");
        let site = &sites[0];
        assert_eq!(
            (site.source, site.bytes, site.blocks),
            (SiteSource::ZigAllocator, 0, 2)
        );
        let names: Vec<String> = site.frames.iter().map(Frame::label).collect();
        assert_eq!(
            names,
            [
                "addWord (zfreq.zig:153)",
                "addText (zfreq.zig:178)",
                "test.repeated words (zfreq.zig:310)"
            ]
        );
        // A frame nothing could resolve says so, and no more.
        assert_eq!(sites[1].frames, [Frame::default()]);
    }

    #[test]
    fn zig_0_17_reports_give_each_blocks_size() {
        let log = "\
error: 'zfreq.test.counts words across calls' leaked 2 allocations:
       [SafeAllocator] (err): leaked [addr: 7f669f2aa5f8, len: 3 (0x3) align: 1] allocated at: 
       /z/lib/std/mem/Allocator.zig:481:40: 0x106b8ee in dupe__func_98 (std.zig)
           const new_buf = try allocator.alloc(T, m.len);
                                              ^
       /w/src/zfreq.zig:153:43: 0x12517b9 in addWord (zfreq.zig)
                   const copy = try self.gpa.dupe(u8, word);
                                                 ^
       [SafeAllocator] (err): leaked [addr: 7f669f2aa568, len: 5 (0x5) align: 1] allocated at: 
       /z/lib/std/mem/Allocator.zig:481:40: 0x106b8ee in dupe__func_98 (std.zig)
           const new_buf = try allocator.alloc(T, m.len);
                                              ^
       /w/src/zfreq.zig:153:43: 0x12517b9 in addWord (zfreq.zig)
                   const copy = try self.gpa.dupe(u8, word);
                                                 ^
error: 'zfreq.test.C ABI round trip returns every block' failed:
";
        let mut z = ZigLeaks::default();
        for line in log.lines() {
            z.line(line);
        }
        let sites = z.finish();
        assert_eq!(sites.len(), 1, "{sites:#?}");
        assert_eq!((sites[0].bytes, sites[0].blocks), (8, 2));
        assert_eq!(sites[0].frames[1].label(), "addWord (zfreq.zig:153)");
    }

    #[test]
    fn output_without_a_leak_report_has_no_sites() {
        let mut z = ZigLeaks::default();
        for line in ["All 5 tests passed.", "src/a.zig:1:2: 0x1 in f (m)"] {
            z.line(line);
        }
        assert!(z.finish().is_empty());
    }
}
