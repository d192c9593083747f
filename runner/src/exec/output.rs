//! A suite's output: every line goes to its log file; a bounded tail of the
//! lines that are not `MEMTEST progress=N` is kept for crash reports (in
//! every report format); `MEMTEST name=value` lines become reported figures, and
//! each `progress=N` among them a timestamped [`Progress`] point; the pass
//! marker is detected. `MEMTEST site={json}` lines (attribution mode) are
//! leak sites: parsed into [`Site`] records and kept out of the tail.
//! `MEMTEST checkpoint=X name=value...` lines (attribution mode) are a
//! suite's live and allocator figures at one checkpoint: a timed
//! [`Checkpoint`] each, kept out of the figures and the tail. The stacks
//! of Zig's leak check (see [`super::zig_leaks`]) become [`Site`] records
//! too, and stay in the tail.
//!
//! Both streams go to one log file in arrival order; stderr lines carry a
//! `[stderr] ` prefix so the two can be told apart. The marker and `MEMTEST`
//! lines are accepted on either stream (a test harness may print to stderr).

use super::bounded::{Bounded, PROGRESS_OLD, PROGRESS_RECENT};
use super::zig_leaks::ZigLeaks;
use crate::model::{Checkpoint, Progress, Site, Smaps, Stream};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::time::Instant;

/// Lines of output kept in memory per suite (progress lines not counted:
/// they are left out of the tail, see [`OutputLog::line`]).
pub const TAIL_LINES: usize = 50;

/// The figure a suite counts its operations with (`MEMTEST progress=N`).
pub const PROGRESS: &str = "progress";

/// Leak sites kept per suite; a producer prints its largest first, so what
/// is cut is the small end.
pub const MAX_SITES: usize = 500;

/// Checkpoint records kept per suite.
pub const MAX_CHECKPOINTS: usize = 10_000;

/// The site of a `MEMTEST site={json}` line (see docs/protocol.md), `None`
/// for any other line; `Some(Err)` for a site line that does not parse.
pub fn parse_site_line(line: &str) -> Option<Result<Site, serde_json::Error>> {
    let json = line.trim().strip_prefix("MEMTEST site=")?;
    Some(serde_json::from_str(json))
}

/// The `name=value` pairs of a `MEMTEST ...` line. Values must be finite
/// numbers; other pairs are ignored (the line is still logged).
pub fn parse_memtest_line(line: &str) -> Vec<(String, f64)> {
    let Some(rest) = line.trim().strip_prefix("MEMTEST ") else {
        return Vec::new();
    };
    rest.split_ascii_whitespace()
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            let value: f64 = value.parse().ok().filter(|v: &f64| v.is_finite())?;
            valid_name.then(|| (name.to_string(), value))
        })
        .collect()
}

/// The figure that makes a `MEMTEST` line a checkpoint record.
pub const CHECKPOINT: &str = "checkpoint";

/// A checkpoint record from a line's figures (`None` without
/// `checkpoint=X`), timed `t_ms`. Names it does not know are ignored.
pub fn checkpoint_of(figures: &[(String, f64)], t_ms: u64) -> Option<Checkpoint> {
    let x = figures.iter().find(|(n, _)| n == CHECKPOINT)?.1;
    let mut cp = Checkpoint {
        t_ms,
        x,
        ..Checkpoint::default()
    };
    for (name, value) in figures {
        let bytes = Some(value.max(0.0) as u64);
        match name.as_str() {
            "rss_bytes" => cp.rss_bytes = bytes,
            "native_live_bytes" => cp.native_live_bytes = bytes,
            "malloc_in_use_bytes" => cp.malloc_in_use_bytes = bytes,
            "malloc_free_bytes" => cp.malloc_free_bytes = bytes,
            "malloc_trimmed_bytes" => cp.malloc_trimmed_bytes = bytes,
            "tracemalloc_bytes" => cp.tracemalloc_bytes = bytes,
            "js_heap_used_bytes" => cp.js_heap_used_bytes = bytes,
            _ => {}
        }
    }
    Some(cp)
}

/// What the output of a run amounted to.
#[derive(Debug, Default)]
pub struct OutputSummary {
    pub tail: Vec<String>,
    pub reported: BTreeMap<String, f64>,
    pub progress: Vec<Progress>,
    pub marker_seen: bool,
    /// Leak sites the suite printed, in order.
    pub sites: Vec<Site>,
    /// Checkpoint records, in order.
    pub checkpoints: Vec<Checkpoint>,
    /// The first error writing the log, if any (the run goes on without it).
    pub log_error: Option<std::io::Error>,
}

/// Consumes lines as they arrive.
pub struct OutputLog<W: Write> {
    log: W,
    marker: Option<String>,
    tail: VecDeque<String>,
    reported: BTreeMap<String, f64>,
    /// When the suite was spawned: progress points are timed from it, as
    /// samples are. Bounded: a soak prints them for hours.
    started: Instant,
    progress: Bounded<Progress>,
    marker_seen: bool,
    sites: Vec<Site>,
    checkpoints: Vec<Checkpoint>,
    zig: ZigLeaks,
    log_error: Option<std::io::Error>,
}

impl<W: Write> OutputLog<W> {
    pub fn new(log: W, marker: Option<String>, started: Instant) -> OutputLog<W> {
        OutputLog {
            log,
            marker,
            tail: VecDeque::with_capacity(TAIL_LINES),
            reported: BTreeMap::new(),
            started,
            progress: Bounded::new(PROGRESS_RECENT, PROGRESS_OLD, |p: &Progress| p.operations),
            marker_seen: false,
            sites: Vec::new(),
            checkpoints: Vec::new(),
            zig: ZigLeaks::default(),
            log_error: None,
        }
    }

    /// Takes one line; true when it was a checkpoint record (memtest then
    /// reads the process's smaps for it, [`OutputLog::attach_smaps`]).
    pub fn line(&mut self, stream: Stream, line: &str) -> bool {
        let prefix = match stream {
            Stream::Stdout => "",
            Stream::Stderr => "[stderr] ",
        };
        if self.log_error.is_none() {
            if let Err(e) = writeln!(self.log, "{prefix}{line}") {
                self.log_error = Some(e);
            }
        }
        self.zig.line(line);
        if let Some(site) = parse_site_line(line) {
            // Malformed ones stay in the log only; a run is not failed by
            // its explanation.
            if let (Ok(site), true) = (site, self.sites.len() < MAX_SITES) {
                self.sites.push(site);
            }
            return false;
        }
        let figures = parse_memtest_line(line);
        let now_ms = self.started.elapsed().as_millis() as u64;
        if let Some(cp) = checkpoint_of(&figures, now_ms) {
            // Bounded like sites: a suite printing one per operation must
            // not grow memtest without end.
            if self.checkpoints.len() < MAX_CHECKPOINTS {
                self.checkpoints.push(cp);
            }
            return true;
        }
        // Progress lines come by the hundred (a wrapped suite's slowed loop
        // prints nothing else): the tail is for what explains a failure.
        if !figures.iter().any(|(name, _)| name == PROGRESS) {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(format!("{prefix}{line}"));
        }
        if self.marker.as_deref() == Some(line.trim()) {
            self.marker_seen = true;
        }
        for (name, value) in figures {
            if name == PROGRESS && value >= 0.0 {
                let t_ms = self.started.elapsed().as_millis() as u64;
                self.progress.push(Progress {
                    t_ms,
                    operations: value as u64,
                });
            }
            self.reported.insert(name, value);
        }
        false
    }

    /// memtest's smaps reading for the last checkpoint record.
    pub fn attach_smaps(&mut self, smaps: Smaps) {
        if let Some(cp) = self.checkpoints.last_mut() {
            cp.smaps = Some(smaps);
        }
    }

    pub fn finish(mut self) -> OutputSummary {
        if let Err(e) = self.log.flush() {
            self.log_error.get_or_insert(e);
        }
        let room = MAX_SITES.saturating_sub(self.sites.len());
        self.sites.extend(self.zig.finish().into_iter().take(room));
        OutputSummary {
            tail: self.tail.into(),
            reported: self.reported,
            progress: self.progress.into_vec(),
            marker_seen: self.marker_seen,
            sites: self.sites,
            checkpoints: self.checkpoints,
            log_error: self.log_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memtest_lines_parse_numbers_and_ignore_the_rest() {
        assert_eq!(
            parse_memtest_line("MEMTEST native_leaks=0 peak_rss_bytes=1.5e6"),
            [
                ("native_leaks".to_string(), 0.0),
                ("peak_rss_bytes".to_string(), 1.5e6)
            ]
        );
        assert_eq!(
            parse_memtest_line("  MEMTEST a=1 b=x c= =3 d=inf e=-2 \n").len(),
            2
        );
        assert!(parse_memtest_line("memtest a=1").is_empty());
        assert!(parse_memtest_line("MEMTESTa=1").is_empty());
        assert!(parse_memtest_line("the MEMTEST a=1").is_empty());
    }

    #[test]
    fn collector_logs_everything_keeps_a_tail_and_sees_the_marker() {
        let mut c = OutputLog::new(Vec::new(), Some("TEST PASSED".into()), Instant::now());
        for i in 0..120 {
            c.line(Stream::Stdout, &format!("line {i}"));
        }
        c.line(Stream::Stderr, "MEMTEST native_leaks=2 junk");
        c.line(Stream::Stdout, "  TEST PASSED  ");
        let log = String::from_utf8(c.log.clone()).unwrap();
        let got = c.finish();
        assert_eq!(log.lines().count(), 122);
        assert!(log.contains("\n[stderr] MEMTEST native_leaks=2 junk\n"));
        assert_eq!(got.tail.len(), TAIL_LINES);
        assert_eq!(got.tail.last().unwrap(), "  TEST PASSED  ");
        assert_eq!(got.tail[0], "line 72");
        assert_eq!(got.reported.get("native_leaks"), Some(&2.0));
        assert!(got.marker_seen);
    }

    #[test]
    fn progress_lines_stay_in_the_log_but_out_of_the_tail() {
        let mut c = OutputLog::new(Vec::new(), None, Instant::now());
        c.line(Stream::Stdout, "loading fixtures");
        for i in 0..120 {
            c.line(Stream::Stdout, &format!("MEMTEST progress={i}"));
        }
        c.line(Stream::Stderr, "MEMTEST progress=121 native_live=3");
        c.line(Stream::Stderr, "Segmentation fault");
        let log = String::from_utf8(c.log.clone()).unwrap();
        let got = c.finish();
        assert_eq!(log.matches("MEMTEST progress=").count(), 121);
        assert_eq!(
            got.tail,
            ["loading fixtures", "[stderr] Segmentation fault"]
        );
        assert_eq!(got.progress.len(), 121);
        assert_eq!(got.reported.get("native_live"), Some(&3.0));
    }

    #[test]
    fn progress_lines_become_timed_points_in_order() {
        let started = Instant::now() - std::time::Duration::from_millis(500);
        let mut c = OutputLog::new(std::io::sink(), None, started);
        c.line(Stream::Stdout, "MEMTEST progress=100");
        c.line(Stream::Stderr, "MEMTEST progress=250 native_live=3");
        c.line(Stream::Stdout, "MEMTEST progress=-1"); // not an operation count
        let got = c.finish();
        let ops: Vec<u64> = got.progress.iter().map(|p| p.operations).collect();
        assert_eq!(ops, [100, 250]);
        assert!(
            got.progress.iter().all(|p| p.t_ms >= 500),
            "{:?}",
            got.progress
        );
        assert!(got.progress[0].t_ms <= got.progress[1].t_ms);
        // The last value is a reported figure like any other.
        assert_eq!(got.reported.get("progress"), Some(&-1.0));
    }

    #[test]
    fn site_lines_become_sites_and_stay_out_of_the_tail() {
        use crate::model::{Layer, SiteSource};
        let mut c = OutputLog::new(Vec::new(), None, Instant::now());
        c.line(
            Stream::Stdout,
            r#"MEMTEST site={"layer":"python","source":"tracemalloc","bytes":4096,"blocks":2,"frames":[{"file":"/s/a.py","line":7}]}"#,
        );
        c.line(Stream::Stderr, "MEMTEST site={not json");
        c.line(Stream::Stdout, "after");
        let log = String::from_utf8(c.log.clone()).unwrap();
        let got = c.finish();
        assert_eq!(got.sites.len(), 1);
        let site = &got.sites[0];
        assert_eq!(
            (site.layer, site.source),
            (Layer::Python, SiteSource::Tracemalloc)
        );
        assert_eq!((site.bytes, site.blocks), (4096, 2));
        assert_eq!(site.frames[0].file.as_deref(), Some("/s/a.py"));
        assert_eq!(site.frames[0].line, Some(7));
        assert_eq!(got.tail, ["after"]);
        assert!(got.reported.is_empty(), "{:?}", got.reported);
        assert!(
            log.contains("MEMTEST site={not json"),
            "every line is logged"
        );
    }

    #[test]
    fn checkpoint_lines_become_timed_records_not_figures() {
        let mut c = OutputLog::new(Vec::new(), None, Instant::now());
        assert!(c.line(
            Stream::Stdout,
            "MEMTEST checkpoint=40 rss_bytes=5e6 malloc_in_use_bytes=1000 malloc_free_bytes=2000 odd=1",
        ));
        c.attach_smaps(Smaps {
            heap_bytes: 7,
            anon_bytes: 8,
            file_bytes: 9,
        });
        assert!(!c.line(Stream::Stdout, "MEMTEST operations=3"));
        let got = c.finish();
        assert_eq!(got.checkpoints.len(), 1);
        let cp = got.checkpoints[0];
        assert_eq!(cp.x, 40.0);
        assert_eq!(cp.rss_bytes, Some(5_000_000));
        assert_eq!(
            (cp.malloc_in_use_bytes, cp.malloc_free_bytes),
            (Some(1000), Some(2000))
        );
        assert_eq!(cp.malloc_trimmed_bytes, None);
        assert_eq!(cp.smaps.map(|s| s.anon_bytes), Some(8));
        assert_eq!(got.reported.len(), 1, "{:?}", got.reported);
        assert_eq!(got.tail, ["MEMTEST operations=3"]);
    }

    #[test]
    fn marker_must_match_a_whole_trimmed_line() {
        let mut c = OutputLog::new(std::io::sink(), Some("TEST PASSED".into()), Instant::now());
        c.line(Stream::Stdout, "TEST PASSED? no: TEST FAILED");
        c.line(Stream::Stdout, "NOT TEST PASSED");
        assert!(!c.finish().marker_seen);
        let mut none = OutputLog::new(std::io::sink(), None, Instant::now());
        none.line(Stream::Stdout, "TEST PASSED");
        assert!(!none.finish().marker_seen);
    }
}
