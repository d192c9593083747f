//! Sample: reads the memory of a suite's whole process tree from /proc, cheaply
//! enough to run every 10 ms.
//!
//! Finding the tree: we follow `/proc/<pid>/task/<tid>/children` links down
//! from the suite's main process, for every thread (a child belongs to the
//! thread that forked it). A scan of /proc for the suite's process group would
//! cost a read per process on the machine and would miss a grandchild that
//! calls `setsid`; children links catch it. What links miss is a descendant
//! whose parent exited (it is re-parented to init): it stops being counted,
//! but it was seen while its parent lived and is remembered, so the executor
//! still kills it after the suite ends (see [`TreeSampler::seen`]).
//!
//! Figures: RSS and VMS come from `/proc/<pid>/stat` (vsize in bytes, rss in
//! pages), summed over the tree (pages shared between processes count once per process, as psutil
//! sums do). The exact peak is the main process's VmHWM from
//! `/proc/<pid>/status`, read on every sample: it is a high-water mark, so the
//! last read before exit is exact up to that read, and only a new peak made in
//! the final interval before exit can be missed.
//!
//! Cost: each /proc read is an open+read+close (~10 µs in a small VM), so a
//! sample reads as little as it can: one `stat` per process gives its memory,
//! its start time and its thread count, and a single-threaded process's
//! children file is read directly without listing its tasks.
//! `cargo run --release -p runner --example sampler_bench` measures it.

use std::collections::HashMap;
use std::io::Read;

/// One reading of a process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeReading {
    pub rss_bytes: u64,
    pub vms_bytes: u64,
    pub processes: u32,
    /// VmHWM of the root process, when it could be read.
    pub root_hwm_bytes: Option<u64>,
}

/// `(size, resident)` in pages from the text of /proc/<pid>/statm.
pub fn parse_statm(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace();
    let size = fields.next()?.parse().ok()?;
    let resident = fields.next()?.parse().ok()?;
    Some((size, resident))
}

/// A `Vm*:` figure of /proc/<pid>/status in bytes, e.g. `VmHWM`.
pub fn parse_status_kib(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib * 1024)
    })
}

/// Pids listed in a /proc/<pid>/task/<tid>/children file.
pub fn parse_children(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.split_ascii_whitespace().filter_map(|p| p.parse().ok())
}

/// The fields of /proc/<pid>/stat a sample needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields {
    pub threads: u64,
    /// Clock ticks since boot.
    pub start_time: u64,
    pub vsize_bytes: u64,
    pub rss_pages: u64,
}

/// Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<StatFields> {
    let after = &text[text.rfind(')')? + 1..];
    // Field 3 (state) comes first here, so field k is the (k - 3)th.
    let mut fields = after.split_ascii_whitespace();
    let threads = fields.nth(20 - 3)?.parse().ok()?;
    let start_time = fields.nth(1)?.parse().ok()?; // skips field 21
    let vsize_bytes = fields.next()?.parse().ok()?;
    let rss_pages = fields.next()?.parse().ok()?;
    Some(StatFields {
        threads,
        start_time,
        vsize_bytes,
        rss_pages,
    })
}

/// Start time (field 22, clock ticks since boot) from /proc/<pid>/stat. The
/// command name (field 2) may contain spaces and parentheses, so fields are
/// counted from the last `)`.
pub fn parse_stat_start_time(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first; field 22 is the 20th.
    after.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// The start time of a process, to tell it from a later process that reuses
/// its pid. `None` when it is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_start_time(&text)
}

/// Samples one process tree. Keeps its buffers between samples so a sample
/// allocates nothing once the tree is stable.
#[derive(Debug)]
pub struct TreeSampler {
    root: u32,
    page_bytes: u64,
    /// Every pid ever seen in the tree, with its start time.
    seen: HashMap<u32, u64>,
    buf: String,
    path: String,
    stack: Vec<u32>,
    tids: Vec<u32>,
}

impl TreeSampler {
    pub fn new(root: u32) -> TreeSampler {
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let mut seen = HashMap::new();
        if let Some(start) = start_time(root) {
            seen.insert(root, start);
        }
        TreeSampler {
            root,
            page_bytes: if page > 0 { page as u64 } else { 4096 },
            seen,
            buf: String::with_capacity(4096),
            path: String::with_capacity(64),
            stack: Vec::new(),
            tids: Vec::new(),
        }
    }

    /// Every pid seen in the tree so far, with its start time.
    pub fn seen(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.seen.iter().map(|(p, s)| (*p, *s))
    }

    /// Reads `path` into `self.buf`; false when it is gone or unreadable.
    fn read(&mut self) -> bool {
        self.buf.clear();
        match std::fs::File::open(&self.path) {
            Ok(mut f) => f.read_to_string(&mut self.buf).is_ok(),
            Err(_) => false,
        }
    }

    fn set_path(&mut self, args: std::fmt::Arguments<'_>) {
        use std::fmt::Write;
        self.path.clear();
        let _ = self.path.write_fmt(args);
    }

    /// Reads the whole tree once. Processes that vanish mid-read are skipped.
    pub fn sample(&mut self) -> TreeReading {
        let mut reading = TreeReading::default();
        let root = self.root;
        self.set_path(format_args!("/proc/{root}/status"));
        if self.read() {
            reading.root_hwm_bytes = parse_status_kib(&self.buf, "VmHWM");
        }
        self.stack.clear();
        self.stack.push(self.root);
        while let Some(pid) = self.stack.pop() {
            self.set_path(format_args!("/proc/{pid}/stat"));
            if !self.read() {
                continue;
            }
            let Some(stat) = parse_stat(&self.buf) else {
                continue;
            };
            self.seen.entry(pid).or_insert(stat.start_time);
            reading.vms_bytes += stat.vsize_bytes;
            reading.rss_bytes += stat.rss_pages * self.page_bytes;
            reading.processes += 1;
            self.push_children(pid, stat.threads);
        }
        reading
    }

    /// Pushes the children of every thread of `pid`.
    fn push_children(&mut self, pid: u32, threads: u64) {
        self.tids.clear();
        if threads <= 1 {
            self.tids.push(pid);
        } else if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            self.tids.extend(
                dir.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()),
            );
        }
        for i in 0..self.tids.len() {
            let tid = self.tids[i];
            self.set_path(format_args!("/proc/{pid}/task/{tid}/children"));
            if self.read() {
                self.stack.extend(parse_children(&self.buf));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_read_proc_formats() {
        assert_eq!(parse_statm("2466 523 400 1 0 190 0\n"), Some((2466, 523)));
        assert_eq!(parse_statm("garbage"), None);
        let status = "Name:\tpython3\nVmPeak:\t  20000 kB\nVmHWM:\t    9640 kB\nVmRSS:\t 9000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(9640 * 1024));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        // A zombie's status has no Vm lines at all.
        assert_eq!(
            parse_status_kib("Name:\tx\nState:\tZ (zombie)\n", "VmHWM"),
            None
        );
        assert_eq!(
            parse_children("12 345 6789 ").collect::<Vec<_>>(),
            [12, 345, 6789]
        );
        let stat =
            "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 123 4";
        assert_eq!(parse_stat_start_time(stat), Some(987654));
    }

    #[test]
    fn samples_this_process_and_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let mut sampler = TreeSampler::new(std::process::id());
        let reading = sampler.sample();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(reading.processes >= 2, "{reading:?}");
        assert!(reading.rss_bytes > 0 && reading.vms_bytes >= reading.rss_bytes);
        assert!(reading.root_hwm_bytes.unwrap() > 0);
        assert!(sampler.seen().any(|(pid, _)| pid == child.id()));
        // The same figures as statm gives, which the kernel documents for RSS/VMS.
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        assert!(parse_statm(&statm).unwrap().0 > 0);
    }
}
