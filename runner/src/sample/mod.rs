//! Sample: reads the memory of a suite's whole process tree, cheaply enough
//! to run every 10 ms, with one of two samplers behind one type.
//!
//! - [`SamplerKind::Proc`] (Linux, the default there): /proc files kept open
//!   and re-read with `pread`, plus the root's VmHWM ([`procfs`]).
//! - [`SamplerKind::Portable`] (everywhere, the default elsewhere): the
//!   `sysinfo` crate, walking parent pids ([`portable`]).
//!
//! Both sum RSS and VMS over the tree (pages shared between processes count
//! once per process, as psutil sums do) and remember every process seen, with
//! a start time that tells it from a later process reusing its pid, so the
//! executor can kill what left the process group. The exact peak of the
//! suite's main process is `ru_maxrss` of the reaped child, in the unit of
//! the platform ([`ru_maxrss_bytes`]); VmHWM, where there is one, gives it
//! while the process runs.
//!
//! `cargo run --release -p runner --example sampler_bench` measures both.

use std::collections::HashSet;

pub mod portable;
#[cfg(target_os = "linux")]
pub mod procfs;
pub mod smaps;

/// One reading of a process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeReading {
    pub rss_bytes: u64,
    pub vms_bytes: u64,
    pub processes: u32,
    /// VmHWM of the root process, the highest read so far (it is re-read
    /// every few samples, not every one). `None` where the sampler has none.
    pub root_hwm_bytes: Option<u64>,
}

/// Which sampler reads the tree (`--sampler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SamplerKind {
    /// /proc files kept open: cheap, with VmHWM. Linux only.
    #[cfg(target_os = "linux")]
    Proc,
    /// sysinfo, on every platform; costs a read per process on the machine.
    Portable,
}

/// A sampler name that is not one of [`SamplerKind::NAMES`] here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamplerKindError {
    #[error("unknown sampler {0:?}: expected one of {names}", names = SamplerKind::NAMES.join(", "))]
    Unknown(String),
    #[error("the proc sampler needs linux's /proc: use portable here")]
    ProcUnavailable,
}

impl SamplerKind {
    /// The names `--sampler` accepts on this platform.
    #[cfg(target_os = "linux")]
    pub const NAMES: &'static [&'static str] = &["proc", "portable"];
    #[cfg(not(target_os = "linux"))]
    pub const NAMES: &'static [&'static str] = &["portable"];

    /// /proc where there is one, sysinfo elsewhere.
    pub fn default_for_platform() -> SamplerKind {
        #[cfg(target_os = "linux")]
        {
            SamplerKind::Proc
        }
        #[cfg(not(target_os = "linux"))]
        {
            SamplerKind::Portable
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            #[cfg(target_os = "linux")]
            SamplerKind::Proc => "proc",
            SamplerKind::Portable => "portable",
        }
    }
}

impl std::fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SamplerKind {
    type Err = SamplerKindError;

    fn from_str(name: &str) -> Result<SamplerKind, SamplerKindError> {
        match name {
            #[cfg(target_os = "linux")]
            "proc" => Ok(SamplerKind::Proc),
            #[cfg(not(target_os = "linux"))]
            "proc" => Err(SamplerKindError::ProcUnavailable),
            "portable" => Ok(SamplerKind::Portable),
            other => Err(SamplerKindError::Unknown(other.to_string())),
        }
    }
}

/// Samples one process tree with the sampler of its kind.
#[derive(Debug)]
pub struct TreeSampler {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(target_os = "linux")]
    Proc(procfs::ProcSampler),
    // Boxed: sysinfo's System is large, and the /proc sampler is the common one.
    Portable(Box<portable::PortableSampler>),
}

impl TreeSampler {
    /// The platform's default sampler on the tree rooted at `root`, which
    /// must be the caller's live (unreaped) child.
    pub fn new(root: u32) -> TreeSampler {
        TreeSampler::with_kind(SamplerKind::default_for_platform(), root)
    }

    pub fn with_kind(kind: SamplerKind, root: u32) -> TreeSampler {
        let inner = match kind {
            #[cfg(target_os = "linux")]
            SamplerKind::Proc => Inner::Proc(procfs::ProcSampler::new(root)),
            SamplerKind::Portable => {
                Inner::Portable(Box::new(portable::PortableSampler::new(root)))
            }
        };
        TreeSampler { inner }
    }

    pub fn kind(&self) -> SamplerKind {
        match self.inner {
            #[cfg(target_os = "linux")]
            Inner::Proc(_) => SamplerKind::Proc,
            Inner::Portable(_) => SamplerKind::Portable,
        }
    }

    /// Reads the whole tree once. Processes that vanish mid-read are skipped;
    /// once the root is gone, readings have no process.
    pub fn sample(&mut self) -> TreeReading {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Proc(s) => s.sample(),
            Inner::Portable(s) => s.sample(),
        }
    }

    /// Reads the root's VmHWM now (samples read it only every few times) and
    /// returns the highest read. Worth calling while the root still runs and
    /// is about to be stopped; after it exits, VmHWM is gone with its memory
    /// map and the reaped child's `ru_maxrss` is the exact figure.
    pub fn read_root_hwm(&mut self) -> Option<u64> {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Proc(s) => s.read_root_hwm(),
            Inner::Portable(_) => None,
        }
    }

    /// Every process seen in the tree so far, with its start time as
    /// [`start_time`] gives it.
    pub fn seen(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.seen_set().iter().copied()
    }

    fn seen_set(&self) -> &HashSet<(u32, u64)> {
        match &self.inner {
            #[cfg(target_os = "linux")]
            Inner::Proc(s) => s.seen(),
            Inner::Portable(s) => s.seen(),
        }
    }
}

/// The start time of a process, to tell it from a later process that reuses
/// its pid; `None` when it is gone. Its unit is the platform's (clock ticks
/// since boot on Linux, µs since the epoch on macOS): compare it only with
/// values from [`TreeSampler::seen`] on the same machine.
pub fn start_time(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        procfs::start_time(pid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        portable::start_time(pid)
    }
}

/// The environment variable memtest sets to a value of its own for every
/// suite it starts (`<memtest pid>.<n>`). Every descendant inherits it,
/// whether it stays in the suite's process group, calls `setsid`, or is
/// re-parented after its parent exits, so the kill-time sweep
/// ([`marked_processes`]) finds what no parent link leads to any more.
pub const SUITE_ID_ENV: &str = "MEMTEST_SUITE_ID";

/// Every live process whose environment holds `SUITE_ID_ENV=suite_id`, and
/// its live descendants, each with its [`start_time`]: the suite's
/// processes at this moment, wherever they went.
pub fn marked_processes(suite_id: &str) -> Vec<(u32, u64)> {
    let entry = format!("{SUITE_ID_ENV}={suite_id}");
    #[cfg(target_os = "linux")]
    {
        procfs::marked_processes(&entry)
    }
    #[cfg(not(target_os = "linux"))]
    {
        portable::marked_processes(&entry)
    }
}

/// The unit of `ru_maxrss` from getrusage/wait4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxRssUnit {
    /// Linux and the BSDs.
    Kib,
    /// macOS and iOS.
    Bytes,
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
pub const MAXRSS_UNIT: MaxRssUnit = MaxRssUnit::Bytes;
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
pub const MAXRSS_UNIT: MaxRssUnit = MaxRssUnit::Kib;

/// `ru_maxrss` in bytes, given its unit. A negative value (never seen, but
/// the field is signed) reads as 0.
pub fn maxrss_to_bytes(ru_maxrss: i64, unit: MaxRssUnit) -> u64 {
    let value = u64::try_from(ru_maxrss).unwrap_or(0);
    match unit {
        MaxRssUnit::Kib => value.saturating_mul(1024),
        MaxRssUnit::Bytes => value,
    }
}

/// `ru_maxrss` of this platform's rusage in bytes: the exact peak RSS of a
/// reaped child (from wait4), where VmHWM does not exist or was last read
/// before the child's final moments.
pub fn ru_maxrss_bytes(ru_maxrss: libc::c_long) -> u64 {
    // c_long is i32 on 32-bit targets: the conversion is not always a no-op.
    #[allow(clippy::useless_conversion)]
    maxrss_to_bytes(i64::from(ru_maxrss), MAXRSS_UNIT)
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    use super::testkit::{python, MB};
    use super::*;

    #[test]
    fn maxrss_units() {
        assert_eq!(maxrss_to_bytes(9640, MaxRssUnit::Kib), 9640 * 1024);
        assert_eq!(maxrss_to_bytes(9640, MaxRssUnit::Bytes), 9640);
        assert_eq!(maxrss_to_bytes(-1, MaxRssUnit::Kib), 0);
        #[cfg(target_os = "linux")]
        assert_eq!(ru_maxrss_bytes(2), 2048);
        #[cfg(target_os = "macos")]
        assert_eq!(ru_maxrss_bytes(2), 2);
    }

    #[test]
    fn sampler_kinds_parse_and_print() {
        for name in SamplerKind::NAMES {
            let kind: SamplerKind = name.parse().unwrap();
            assert_eq!(kind.to_string(), *name);
        }
        assert_eq!(
            "psutil".parse::<SamplerKind>(),
            Err(SamplerKindError::Unknown("psutil".into()))
        );
        let default = SamplerKind::default_for_platform();
        assert_eq!(TreeSampler::with_kind(default, 0).kind(), default);
        #[cfg(target_os = "linux")]
        assert_eq!(default, SamplerKind::Proc);
    }

    /// Both samplers on one child that holds ~50 MB then ~120 MB: the same
    /// tree, and peaks within 5% of each other and of the child's own VmHWM.
    #[cfg(target_os = "linux")]
    #[test]
    fn proc_and_portable_agree_on_the_same_child() {
        let mut child = python(
            r#"
import sys
a = bytes([1]) * 50_000_000
print("a", flush=True)
sys.stdin.readline()
b = bytes([1]) * 70_000_000
print("b", flush=True)
sys.stdin.readline()
"#,
        );
        child.expect_line("a");
        let mut samplers = [
            TreeSampler::with_kind(SamplerKind::Proc, child.pid()),
            TreeSampler::with_kind(SamplerKind::Portable, child.pid()),
        ];
        let take = |samplers: &mut [TreeSampler; 2], peaks: &mut [u64; 2]| {
            for (peak, s) in peaks.iter_mut().zip(samplers.iter_mut()) {
                let r = s.sample();
                assert_eq!(r.processes, 1, "{:?}: {r:?}", s.kind());
                *peak = (*peak).max(r.rss_bytes);
            }
        };
        let mut peaks = [0u64; 2];
        take(&mut samplers, &mut peaks);
        let first = peaks;
        child.say("more");
        child.expect_line("b");
        take(&mut samplers, &mut peaks);
        let hwm = samplers[0].read_root_hwm().unwrap();
        for (peak, first) in peaks.iter().zip(first) {
            assert!((50 * MB..65 * MB).contains(&first), "{first}");
            assert!(peak.abs_diff(hwm) * 20 <= hwm, "peak {peak} vs VmHWM {hwm}");
        }
        assert!(peaks[0].abs_diff(peaks[1]) * 20 <= peaks[0], "{peaks:?}");
        let seen: Vec<Vec<(u32, u64)>> = samplers.iter().map(|s| s.seen().collect()).collect();
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[0], [(child.pid(), start_time(child.pid()).unwrap())]);
    }
}
