//! The portable sampler: the same readings as the /proc one, through the
//! `sysinfo` crate, for platforms without /proc (macOS first). It also runs
//! on Linux (`--sampler portable`), where it is checked against the /proc
//! sampler on the same processes.
//!
//! Finding the tree: sysinfo tells who is a child of whom only by refreshing
//! every process on the machine (memory only, no threads, nothing else) and
//! walking parent pids down from the root. On Linux that reads `status` and
//! `stat` of each of the machine's processes, ~3.5 ms of CPU for 137 of them
//! here (docs/benchmarks/sampler.md). So the full rescan runs every
//! [`RESCAN_EVERY`]th sample; the samples between refresh only the processes
//! of the tree last found, and a child born since is counted from the next
//! rescan on (at most 100 ms late at 10 ms). A setsid grandchild keeps its
//! parent, so it is found; an orphan re-parented to init is not, but was
//! seen while its parent lived.
//!
//! Figures: `memory()` and `virtual_memory()` of each process in bytes (RSS
//! and VMS: statm on Linux, the task info on macOS). There is no VmHWM: the
//! exact peak is the reaped child's `ru_maxrss` ([`super::ru_maxrss_bytes`]).
//!
//! Pid reuse: the tree is walked along parent links every sample, and each
//! process must still name the parent it was found under, so a pid reused
//! outside the tree drops out by itself; the root is checked against the
//! start time it had when the sampler was made.

use super::TreeReading;
use std::collections::{HashMap, HashSet};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Refresh every process on the machine, to find new children, every this
/// many samples (100 ms at the 10 ms default).
pub const RESCAN_EVERY: u32 = 10;

/// Samples one process tree through sysinfo.
pub struct PortableSampler {
    root: Pid,
    /// The root's [`super::start_time`]: sysinfo's own is in whole seconds,
    /// too coarse to tell a pid reused at once.
    root_start: Option<u64>,
    /// `None` where sysinfo does not support the platform: readings are empty.
    system: Option<System>,
    /// Every process ever seen in the tree: (pid, [`super::start_time`]).
    seen: HashSet<(u32, u64)>,
    /// sysinfo's start time of each pid already put in `seen`, to notice a
    /// pid that now belongs to a new process of the tree.
    known: HashMap<u32, u64>,
    /// Parent links as of the last full rescan.
    children: HashMap<Pid, Vec<Pid>>,
    /// The tree found by the last sample: what the next one refreshes.
    tree: Vec<Pid>,
    samples: u32,
    /// (pid, the parent it was found under).
    stack: Vec<(Pid, Option<Pid>)>,
}

impl std::fmt::Debug for PortableSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortableSampler")
            .field("root", &self.root)
            .field("seen", &self.seen.len())
            .finish_non_exhaustive()
    }
}

/// Memory only: no cpu, disk, command line, environment, user or threads
/// (on Linux threads would also be listed as processes of their own).
fn refresh_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().without_tasks().with_memory()
}

impl PortableSampler {
    pub fn new(root: u32) -> PortableSampler {
        let pid = Pid::from_u32(root);
        let root_start = super::start_time(root);
        let mut sampler = PortableSampler {
            root: pid,
            root_start,
            system: System::new().ok(),
            seen: HashSet::new(),
            known: HashMap::new(),
            children: HashMap::new(),
            tree: Vec::new(),
            samples: 0,
            stack: Vec::new(),
        };
        if let Some(start) = root_start {
            sampler.seen.insert((root, start));
        }
        sampler
    }

    /// Every process seen in the tree so far, with its start time as
    /// [`super::start_time`] gives it.
    pub fn seen(&self) -> &HashSet<(u32, u64)> {
        &self.seen
    }

    fn remember(&mut self, pid: u32, start_secs: u64) {
        if self.known.insert(pid, start_secs) != Some(start_secs) {
            if let Some(start) = super::start_time(pid) {
                self.seen.insert((pid, start));
            }
        }
    }

    /// Reads the whole tree once.
    pub fn sample(&mut self) -> TreeReading {
        let mut reading = TreeReading::default();
        let Some(sys) = self.system.as_mut() else {
            return reading;
        };
        let rescan = self.samples.is_multiple_of(RESCAN_EVERY) || self.tree.is_empty();
        self.samples = self.samples.wrapping_add(1);
        if rescan {
            sys.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh_kind());
        } else {
            sys.refresh_processes_specifics(
                ProcessesToUpdate::Some(&self.tree),
                true,
                refresh_kind(),
            );
        }
        // Still the root after the refresh, so the refresh read the root: a
        // pid is not reused while its process lives.
        if self.root_start.is_none() || super::start_time(self.root.as_u32()) != self.root_start {
            self.tree.clear();
            return reading;
        }
        if rescan {
            for list in self.children.values_mut() {
                list.clear();
            }
            for (pid, process) in sys.processes() {
                if let Some(parent) = process.parent() {
                    self.children.entry(parent).or_default().push(*pid);
                }
            }
            // Parents that left the machine: their lists would only grow the map.
            if self.children.len() > 4 * sys.processes().len() {
                self.children.retain(|_, list| !list.is_empty());
            }
        }
        let mut found = Vec::new();
        self.tree.clear();
        self.stack.clear();
        self.stack.push((self.root, None));
        while let Some((pid, parent)) = self.stack.pop() {
            let Some(process) = sys.process(pid) else {
                continue;
            };
            if parent.is_some() && process.parent() != parent {
                continue; // its pid now belongs to another process
            }
            reading.rss_bytes += process.memory();
            reading.vms_bytes += process.virtual_memory();
            reading.processes += 1;
            self.tree.push(pid);
            found.push((pid.as_u32(), process.start_time()));
            if let Some(kids) = self.children.get(&pid) {
                self.stack.extend(kids.iter().map(|k| (*k, Some(pid))));
            }
        }
        for (pid, start_secs) in found {
            self.remember(pid, start_secs);
        }
        reading
    }
}

/// Every live process on the machine whose environment holds `entry`
/// (`NAME=value`), and every descendant of one, with [`super::start_time`]:
/// the kill-time sweep of a suite where there is no /proc (macOS). One
/// refresh of every process with its environment: called only when a suite
/// ends.
pub fn marked_processes(entry: &str) -> Vec<(u32, u64)> {
    let Ok(mut sys) = System::new() else {
        return Vec::new();
    };
    let kind = ProcessRefreshKind::nothing()
        .without_tasks()
        .with_environ(sysinfo::UpdateKind::Always);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
    for (pid, p) in sys.processes() {
        if let Some(parent) = p.parent() {
            children.entry(parent).or_default().push(*pid);
        }
    }
    let mut todo: Vec<Pid> = sys
        .processes()
        .iter()
        .filter(|(_, p)| p.environ().iter().any(|v| v == entry))
        .map(|(pid, _)| *pid)
        .collect();
    let mut visited = HashSet::new();
    let mut found = Vec::new();
    while let Some(pid) = todo.pop() {
        if !visited.insert(pid) {
            continue;
        }
        let zombie = sys
            .process(pid)
            .is_some_and(|p| p.status() == sysinfo::ProcessStatus::Zombie);
        if let (false, Some(start)) = (zombie, super::start_time(pid.as_u32())) {
            found.push((pid.as_u32(), start));
        }
        todo.extend(children.get(&pid).into_iter().flatten().copied());
    }
    found
}

/// The start time of a process in µs since the epoch, from the kernel's
/// process table: cheap, and precise enough to tell a reused pid.
#[cfg(target_os = "macos")]
pub fn start_time(pid: u32) -> Option<u64> {
    let pid = libc::c_int::try_from(pid).ok()?;
    // SAFETY: proc_bsdinfo is plain data that zeroes validly, and
    // proc_pidinfo writes at most `size` bytes into it.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    let written = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            (&mut info as *mut libc::proc_bsdinfo).cast(),
            size,
        )
    };
    (written == size).then(|| info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec)
}

/// The start time of a process in seconds since the epoch, from sysinfo,
/// where neither /proc nor proc_pidinfo is there to give a finer one.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn start_time(pid: u32) -> Option<u64> {
    let pid = Pid::from_u32(pid);
    let mut sys = System::new().ok()?;
    let kind = ProcessRefreshKind::nothing().without_tasks();
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, kind);
    sys.process(pid).map(|p| p.start_time())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::testkit::{python, MB};

    #[test]
    fn finds_a_growing_tree_by_parent_links() {
        // A child in its own session under the root, both holding memory.
        let mut child = python(
            r#"
import subprocess, sys
hold = "import sys; b = bytes([1]) * 30_000_000; print(1, flush=True); sys.stdin.readline()"
p = subprocess.Popen([sys.executable, "-c", hold], start_new_session=True,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
p.stdout.readline()
print(p.pid, flush=True)
sys.stdin.readline()
b = bytes([1]) * 50_000_000
print("grown", flush=True)
sys.stdin.readline()
"#,
        );
        let grandchild: u32 = child.read_line().parse().unwrap();
        let mut sampler = PortableSampler::new(child.pid());
        let before = sampler.sample();
        assert_eq!(before.processes, 2, "{before:?}");
        assert!(before.rss_bytes > 30 * MB, "{before:?}");
        assert!(before.vms_bytes > before.rss_bytes);
        assert_eq!(before.root_hwm_bytes, None);
        let start = super::super::start_time(grandchild).unwrap();
        assert!(sampler.seen().contains(&(grandchild, start)));
        child.say("grow");
        child.expect_line("grown");
        let after = sampler.sample();
        let grown = after.rss_bytes - before.rss_bytes;
        assert!((48 * MB..60 * MB).contains(&grown), "grew {grown} bytes");
        child.finish();
        assert_eq!(sampler.sample().processes, 0);
    }

    #[test]
    fn a_dead_root_gives_empty_readings() {
        let mut child = python("import sys\nsys.stdin.readline()\n");
        let mut sampler = PortableSampler::new(child.pid());
        assert_eq!(sampler.sample().processes, 1);
        child.finish();
        let stranger = crate::sample::testkit::spawn_with_pid(child.pid());
        assert_eq!(sampler.sample(), TreeReading::default());
        if let Some(mut s) = stranger {
            s.kill().unwrap();
            s.wait().unwrap();
        }
    }
}
