//! The Linux sampler: reads a process tree's memory from /proc with files it
//! keeps open, cheaply enough to run every 10 ms.
//!
//! Finding the tree: we follow `/proc/<pid>/task/<tid>/children` down from the
//! suite's main process, for every thread (a child belongs to the thread that
//! forked it). A scan of /proc for the suite's process group would cost a read
//! per process on the machine and would miss a grandchild that calls `setsid`;
//! children links catch it. What links miss is a descendant whose parent
//! exited (it is re-parented to init): it stops being counted, but it was seen
//! while its parent lived and is remembered, so the executor still kills it
//! after the suite ends (see [`ProcSampler::seen`]).
//!
//! Cost: an open+read+close of a /proc file costs ~10 µs, most of it in the
//! open (path walk, dentry and inode for the pid). So each process's files
//! are opened once, when the process is first found, and re-read with
//! `pread` at offset 0 (a seq_file re-generates its text on a read at 0).
//! Every sample reads `statm` (RSS and VMS: a few counters, cheaper to
//! generate than `stat`) and each thread's `children`; `stat` (thread count)
//! is re-read every [`RELIST_EVERY`]th sample. Fds of processes that left the
//! tree are closed at the end of the sample that missed them. `status`, the
//! one file with VmHWM, is the dearest to generate, so it is read at most
//! every [`HWM_PERIOD`] (VmHWM is a high-water mark: a late read loses
//! nothing but what the last period added, which `ru_maxrss` of the reaped
//! child gives exactly).
//!
//! Pid reuse: an fd opened on a /proc/<pid> file stays bound to that process;
//! once it has died, reads fail with ESRCH even if the pid now belongs to
//! another process. So a kept fd never reads a stranger. The root is never
//! re-opened once its fd failed. A child is opened by path only right after
//! its live parent listed it, and kept only if its `stat` names that parent.
//! Any other file opened by path afterwards (a new thread's `children`) is
//! trusted only once a read of the kept `stat` fd succeeds after the open:
//! the process was alive, so the path could not name another one.

use super::TreeReading;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// Read VmHWM at most this often (every sample at intervals this long).
pub const HWM_PERIOD: Duration = Duration::from_millis(100);

/// Every this many samples a process's `stat` is re-read for its thread
/// count, and a multi-threaded process's threads are re-listed: a thread can
/// exit and another start with the count unchanged, and a dead thread's
/// `children` reads empty rather than failing, so only a listing finds the
/// new one. This bounds how long a child forked by a new thread can go
/// uncounted (160 ms at 10 ms); children of known threads are read every
/// sample.
pub const RELIST_EVERY: u32 = 16;

/// A `Vm*:` figure of /proc/<pid>/status in bytes, e.g. `VmHWM`.
pub fn parse_status_kib(text: &[u8], key: &str) -> Option<u64> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(key.as_bytes())?.strip_prefix(b":")?;
        let rest = std::str::from_utf8(rest).ok()?;
        let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib * 1024)
    })
}

/// Pids listed in a /proc/<pid>/task/<tid>/children file.
pub fn parse_children(text: &[u8]) -> impl Iterator<Item = u32> + '_ {
    text.split(|b| b.is_ascii_whitespace())
        .filter_map(|p| std::str::from_utf8(p).ok()?.parse().ok())
}

/// The fields of /proc/<pid>/stat a sample needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields {
    pub ppid: u32,
    pub threads: u64,
    /// Clock ticks since boot.
    pub start_time: u64,
    pub vsize_bytes: u64,
    pub rss_pages: u64,
}

/// Parses /proc/<pid>/stat. The command name (field 2) may contain spaces,
/// parentheses and bytes that are not UTF-8, so fields are counted from the
/// last `)` and only the numeric fields are decoded.
pub fn parse_stat(text: &[u8]) -> Option<StatFields> {
    let close = text.iter().rposition(|&b| b == b')')?;
    // Field 3 (state) comes first here, so field k is the (k - 3)th.
    let mut fields = text[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let mut num =
        |skip: usize| -> Option<u64> { std::str::from_utf8(fields.nth(skip)?).ok()?.parse().ok() };
    let ppid = num(4 - 3)?;
    let threads = num(20 - 4 - 1)?;
    let start_time = num(22 - 20 - 1)?;
    let vsize_bytes = num(0)?;
    let rss_pages = num(0)?;
    Some(StatFields {
        ppid: u32::try_from(ppid).ok()?,
        threads,
        start_time,
        vsize_bytes,
        rss_pages,
    })
}

/// `(size, resident)` in pages from the text of /proc/<pid>/statm.
pub fn parse_statm(text: &[u8]) -> Option<(u64, u64)> {
    let mut fields = text.split(|b| b.is_ascii_whitespace());
    let mut num = || -> Option<u64> { std::str::from_utf8(fields.next()?).ok()?.parse().ok() };
    Some((num()?, num()?))
}

/// The start time of a process (clock ticks since boot), to tell it from a
/// later process that reuses its pid. `None` when it is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    Some(parse_stat(&text)?.start_time)
}

/// Every live process on the machine whose environment holds `entry`
/// (`NAME=value`), with its start time, and every live descendant of one
/// (children links, for a child that cleared its environment while its
/// parent lived). A zombie's environment reads empty, so it is never
/// listed: it holds no memory, and its parent reaps it.
///
/// This reads one `environ` per process on the machine (~5 µs each, a few
/// ms for hundreds): the executor calls it only when a suite ends.
pub fn marked_processes(entry: &str) -> Vec<(u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut todo: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid| environ_has(*pid, entry.as_bytes()))
        .collect();
    let mut found = Vec::new();
    let mut visited = HashSet::new();
    while let Some(pid) = todo.pop() {
        if !visited.insert(pid) {
            continue;
        }
        let Some(stat) = std::fs::read(format!("/proc/{pid}/stat"))
            .ok()
            .filter(|s| !is_zombie_stat(s))
            .and_then(|s| parse_stat(&s))
        else {
            continue;
        };
        found.push((pid, stat.start_time));
        todo.extend(children_of(pid));
    }
    found
}

/// True when /proc/<pid>/environ has `entry` as one of its NUL-separated
/// variables.
fn environ_has(pid: u32, entry: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == entry))
}

/// The children of every thread of `pid`, as the kernel lists them now.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read(t.ok()?.path().join("children")).ok())
        .flat_map(|text| parse_children(&text).collect::<Vec<_>>())
        .collect()
}

/// The state letter of a /proc/<pid>/stat text is `Z`.
fn is_zombie_stat(text: &[u8]) -> bool {
    text.iter()
        .rposition(|&b| b == b')')
        .and_then(|close| text[close + 1..].iter().find(|b| !b.is_ascii_whitespace()))
        == Some(&b'Z')
}

/// True while `pid` is a zombie (exited, not yet reaped).
pub fn is_zombie(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|s| is_zombie_stat(&s))
}

/// Reads a whole /proc file from offset 0 into `buf`, returning its length.
/// One `pread` normally does: a seq_file read fills the buffer with as many
/// records as fit, so a short read is the end and only a full buffer needs
/// another read (the buffer then grows).
fn pread_all(file: &File, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.len() < 4096 {
        buf.resize(4096, 0);
    }
    let mut filled = 0;
    loop {
        let n = file.read_at(&mut buf[filled..], filled as u64)?;
        filled += n;
        if n == 0 || filled < buf.len() {
            return Ok(filled);
        }
        buf.resize(buf.len() * 2, 0);
    }
}

/// What is kept of one live process of the tree.
#[derive(Debug)]
struct Proc {
    stat: File,
    statm: File,
    /// Each thread's `children` file.
    tasks: Vec<(u32, File)>,
    /// Thread count as of the last `stat` read, at sample `stat_at`.
    threads: u64,
    stat_at: u32,
    /// The last sample that reached this process.
    visited: u32,
}

/// Memory of one process in one sample.
#[derive(Debug, Clone, Copy)]
struct Memory {
    vms_bytes: u64,
    rss_bytes: u64,
}

/// Samples one process tree through kept /proc fds. Keeps its buffers between
/// samples, so a sample of a stable tree allocates nothing and opens nothing.
#[derive(Debug)]
pub struct ProcSampler {
    root: u32,
    page_bytes: u64,
    procs: HashMap<u32, Proc>,
    /// Every process ever seen in the tree: (pid, start time).
    seen: HashSet<(u32, u64)>,
    /// The root's `status`, for VmHWM; `None` once the root is gone.
    status: Option<File>,
    hwm_bytes: Option<u64>,
    hwm_read_at: Option<Instant>,
    samples: u32,
    buf: Vec<u8>,
    /// (pid, the parent it was listed under; 0 for the root).
    stack: Vec<(u32, u32)>,
}

impl ProcSampler {
    pub fn new(root: u32) -> ProcSampler {
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let mut sampler = ProcSampler {
            root,
            page_bytes: if page > 0 { page as u64 } else { 4096 },
            procs: HashMap::new(),
            seen: HashSet::new(),
            status: None,
            hwm_bytes: None,
            hwm_read_at: None,
            samples: 0,
            buf: vec![0; 4096],
            stack: Vec::new(),
        };
        // The root is bound now, while the caller knows it is its own live
        // child; later it is never opened by path again.
        if root != 0 {
            sampler.status = File::open(format!("/proc/{root}/status")).ok();
            if sampler.open_process(root, None).is_none() {
                sampler.status = None;
            }
        }
        sampler
    }

    /// Every process seen in the tree so far, with its start time.
    pub fn seen(&self) -> &HashSet<(u32, u64)> {
        &self.seen
    }

    /// Reads the root's VmHWM now, however recently it was read, and returns
    /// the highest value read so far. It is `None` once the root has exited
    /// even if not reaped: the kernel drops the root's memory map at exit,
    /// and VmHWM with it (the reaped child's `ru_maxrss` carries it on).
    pub fn read_root_hwm(&mut self) -> Option<u64> {
        self.hwm_read_at = Some(Instant::now());
        let Some(status) = &self.status else {
            return self.hwm_bytes;
        };
        match pread_all(status, &mut self.buf) {
            Ok(len) => {
                if let Some(h) = parse_status_kib(&self.buf[..len], "VmHWM") {
                    self.hwm_bytes = Some(self.hwm_bytes.map_or(h, |m| m.max(h)));
                }
            }
            // Gone: its fd will never read again.
            Err(_) => self.status = None,
        }
        self.hwm_bytes
    }

    /// Reads the whole tree once. Processes that vanish mid-read are skipped.
    pub fn sample(&mut self) -> TreeReading {
        self.samples = self.samples.wrapping_add(1);
        let now = self.samples;
        if self.hwm_read_at.is_none_or(|t| t.elapsed() >= HWM_PERIOD) {
            self.read_root_hwm();
        }
        let mut reading = TreeReading {
            root_hwm_bytes: self.hwm_bytes,
            ..TreeReading::default()
        };
        self.stack.clear();
        self.stack.push((self.root, 0));
        while let Some((pid, parent)) = self.stack.pop() {
            let Some(memory) = self.read_process(pid, parent, now) else {
                continue;
            };
            let Some(proc) = self.procs.get_mut(&pid) else {
                continue;
            };
            if proc.visited == now {
                continue; // listed twice by a racing children read
            }
            proc.visited = now;
            reading.vms_bytes += memory.vms_bytes;
            reading.rss_bytes += memory.rss_bytes;
            reading.processes += 1;
            for (_, children) in &proc.tasks {
                if let Ok(len) = pread_all(children, &mut self.buf) {
                    self.stack
                        .extend(parse_children(&self.buf[..len]).map(|c| (c, pid)));
                }
            }
        }
        // Close what left the tree (exited, or re-parented out of it).
        if self.procs.len() as u32 != reading.processes {
            self.procs.retain(|_, p| p.visited == now);
        }
        reading
    }

    /// The memory of `pid` now, opening it if it is new to the tree.
    fn read_process(&mut self, pid: u32, parent: u32, now: u32) -> Option<Memory> {
        if let Some(proc) = self.procs.get_mut(&pid) {
            if let Some(memory) = read_known(pid, proc, now, self.page_bytes, &mut self.buf) {
                return Some(memory);
            }
            // It died; if its live parent lists the pid again, that is a new
            // process, opened below. The root is never re-opened.
            self.procs.remove(&pid);
        }
        if pid == self.root {
            self.status = None;
            return None;
        }
        self.open_process(pid, Some(parent))
    }

    /// Opens a process new to the tree and keeps it if it is still the one
    /// its parent listed (`None` for the root).
    fn open_process(&mut self, pid: u32, parent: Option<u32>) -> Option<Memory> {
        let stat = File::open(format!("/proc/{pid}/stat")).ok()?;
        // Opened before the stat read, so that read proves they are this
        // process's (see the module doc); most processes have one thread.
        let statm = File::open(format!("/proc/{pid}/statm")).ok()?;
        let main_children = File::open(format!("/proc/{pid}/task/{pid}/children")).ok();
        let len = pread_all(&stat, &mut self.buf).ok()?;
        let fields = parse_stat(&self.buf[..len])?;
        if parent.is_some_and(|p| p != fields.ppid) {
            return None;
        }
        self.seen.insert((pid, fields.start_time));
        let mut proc = Proc {
            stat,
            statm,
            tasks: main_children.into_iter().map(|f| (pid, f)).collect(),
            threads: fields.threads,
            stat_at: self.samples,
            visited: 0,
        };
        if fields.threads > 1 && !relist_tasks(pid, &mut proc, &mut self.buf) {
            return None;
        }
        self.procs.insert(pid, proc);
        Some(Memory {
            vms_bytes: fields.vsize_bytes,
            rss_bytes: fields.rss_pages * self.page_bytes,
        })
    }
}

/// Reads a kept process: `statm` every sample, `stat` and its threads every
/// [`RELIST_EVERY`] samples. `None` when it died.
fn read_known(
    pid: u32,
    proc: &mut Proc,
    now: u32,
    page_bytes: u64,
    buf: &mut Vec<u8>,
) -> Option<Memory> {
    if now.wrapping_sub(proc.stat_at) >= RELIST_EVERY {
        proc.stat_at = now;
        let len = pread_all(&proc.stat, buf).ok()?;
        let threads = parse_stat(&buf[..len])?.threads;
        if (threads > 1 || threads != proc.threads) && !relist_tasks(pid, proc, buf) {
            return None;
        }
        proc.threads = threads;
    }
    let len = pread_all(&proc.statm, buf).ok()?;
    let (size_pages, resident_pages) = parse_statm(&buf[..len])?;
    Some(Memory {
        vms_bytes: size_pages * page_bytes,
        rss_bytes: resident_pages * page_bytes,
    })
}

/// Re-lists the threads of `pid`, keeping the open `children` files of those
/// that remain. False when the process died meanwhile (its listing may then
/// be another process's).
fn relist_tasks(pid: u32, proc: &mut Proc, buf: &mut Vec<u8>) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let mut tids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    proc.tasks
        .retain(|(tid, _)| tids.binary_search(tid).is_ok());
    for tid in tids {
        if proc.tasks.iter().all(|(t, _)| *t != tid) {
            if let Ok(f) = File::open(format!("/proc/{pid}/task/{tid}/children")) {
                proc.tasks.push((tid, f));
            }
        }
    }
    pread_all(&proc.stat, buf).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::testkit::{python, MB};

    #[test]
    fn parsers_read_proc_formats() {
        let status =
            b"Name:\tpython3\nVmPeak:\t  20000 kB\nVmHWM:\t    9640 kB\nVmRSS:\t 9000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(9640 * 1024));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        // A zombie's status has no Vm lines at all.
        assert_eq!(
            parse_status_kib(b"Name:\tx\nState:\tZ (zombie)\n", "VmHWM"),
            None
        );
        assert_eq!(parse_statm(b"2466 523 400 1 0 190 0\n"), Some((2466, 523)));
        assert_eq!(parse_statm(b"garbage"), None);
        assert_eq!(
            parse_children(b"12 345 6789 ").collect::<Vec<_>>(),
            [12, 345, 6789]
        );
        // A name with spaces, parentheses and a byte that is not UTF-8.
        let stat = b"42 (a (w\xffrd) name) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 123 4 5";
        let fields = parse_stat(stat).unwrap();
        assert_eq!(
            fields,
            StatFields {
                ppid: 7,
                threads: 3,
                start_time: 987654,
                vsize_bytes: 123,
                rss_pages: 4
            }
        );
        assert_eq!(parse_stat(b"42 (x) S 1 2"), None);
    }

    #[test]
    fn pread_all_grows_past_its_first_buffer() {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        let text: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::io::Write::write_all(&mut tmp, &text).unwrap();
        let mut buf = Vec::new();
        let len = pread_all(tmp.as_file(), &mut buf).unwrap();
        assert_eq!(&buf[..len], &text[..]);
    }

    #[test]
    fn kept_fds_follow_a_growing_process() {
        // Grows by 50 MB when told to, so the same kept fds must see it.
        let mut child = python(
            "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n\
             b = b'\\x01' * 50_000_000\nprint('grown', flush=True)\nsys.stdin.readline()\n",
        );
        child.expect_line("ready");
        let mut sampler = ProcSampler::new(child.pid());
        let before = sampler.sample();
        child.say("grow");
        child.expect_line("grown");
        let after = sampler.sample();
        assert_eq!((before.processes, after.processes), (1, 1));
        let grown = after.rss_bytes - before.rss_bytes;
        assert!((48 * MB..60 * MB).contains(&grown), "grew {grown} bytes");
        // What the kernel reports by path at the same moment.
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", child.pid())).unwrap();
        let resident: u64 = statm.split(' ').nth(1).unwrap().parse().unwrap();
        let by_path = resident * sampler.page_bytes;
        assert!(
            after.rss_bytes.abs_diff(by_path) < MB,
            "{after:?} {by_path}"
        );
        // No new fd was opened for a tree that did not change shape.
        assert_eq!(sampler.procs.len(), 1);
        assert!(sampler.read_root_hwm().unwrap() >= after.rss_bytes);
    }

    #[test]
    fn finds_a_setsid_grandchild_and_a_thread_forked_child() {
        // The child starts a grandchild in its own session, and a thread that
        // forks another: neither is in the child's process group, and the
        // second hangs off a thread's children file, not the main thread's.
        let mut child = python(
            r#"
import subprocess, sys, threading, time
hold = "import sys; b = bytes([1]) * 30_000_000; print(1, flush=True); sys.stdin.readline()"
pids = []
def spawn(stay):
    p = subprocess.Popen([sys.executable, "-c", hold], start_new_session=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdout.readline()
    pids.append(p.pid)
    # A thread that exits hands its children to another thread: stay.
    stay.wait()
stay = threading.Event()
main = threading.Event(); main.set()
spawn(main)
t = threading.Thread(target=spawn, args=(stay,), daemon=True)
t.start()
while len(pids) < 2:
    time.sleep(0.01)
print(*pids, flush=True)
sys.stdin.readline()
"#,
        );
        let line = child.read_line();
        let pids: Vec<u32> = line.split(' ').map(|p| p.parse().unwrap()).collect();
        // The second really hangs off the other thread's children file.
        let main_thread = format!("/proc/{0}/task/{0}/children", child.pid());
        let main_children = std::fs::read(main_thread).unwrap();
        let main_children: Vec<u32> = parse_children(&main_children).collect();
        assert_eq!(main_children, [pids[0]]);
        let mut sampler = ProcSampler::new(child.pid());
        let reading = sampler.sample();
        assert_eq!(reading.processes, 3, "{reading:?}");
        assert!(reading.rss_bytes > 60 * MB, "{reading:?}");
        for pid in pids {
            let start = start_time(pid).unwrap();
            assert!(sampler.seen().contains(&(pid, start)), "{pid} not seen");
        }
    }

    #[test]
    fn a_reused_root_pid_is_not_read() {
        let mut child = python("import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n");
        child.expect_line("ready");
        let pid = child.pid();
        let mut sampler = ProcSampler::new(pid);
        assert_eq!(sampler.sample().processes, 1);
        assert!(sampler.read_root_hwm().is_some());
        child.finish();
        // Another process takes the pid, if the kernel lets us choose it
        // (root in this pid namespace); either way the dead fds must not read.
        let stranger = crate::sample::testkit::spawn_with_pid(pid);
        let reading = sampler.sample();
        assert_eq!(reading.processes, 0, "read {reading:?} after the root died");
        assert!(sampler.procs.is_empty() && sampler.status.is_none());
        eprintln!("pid {pid} reused by a stranger: {}", stranger.is_some());
        if let Some(mut s) = stranger {
            assert_eq!(s.id(), pid);
            assert_eq!(sampler.sample().processes, 0);
            s.kill().unwrap();
            s.wait().unwrap();
        }
    }
}
