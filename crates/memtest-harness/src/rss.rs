//! The process's resident set size, as the suites report it to memtest
//! (`MEMTEST peak_rss_bytes=`) and check it themselves (RSS plateaus).
//!
//! Linux: `VmHWM` and `VmRSS` of `/proc/self/status`, the kernel's exact
//! figures. Elsewhere on 64-bit Unix the peak comes from `getrusage`, whose
//! `ru_maxrss` is in bytes on Apple platforms and in KiB everywhere else
//! (Linux and the BSDs); the current RSS is Linux-only.

/// The high-water mark of this process's RSS, in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // No /proc (a restricted container): the kernel's rusage figure is
        // the same high-water mark, in KiB.
        proc_status_kib("VmHWM:")
            .map(|kib| kib * 1024)
            .or_else(rusage::max_rss_bytes)
    }
    #[cfg(all(not(target_os = "linux"), unix, target_pointer_width = "64"))]
    {
        rusage::max_rss_bytes()
    }
    #[cfg(not(any(target_os = "linux", all(unix, target_pointer_width = "64"))))]
    {
        None
    }
}

/// The current RSS of this process, in bytes (`VmRSS`; Linux only).
pub fn current_rss_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        proc_status_kib("VmRSS:").map(|kib| kib * 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(target_os = "linux")]
fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_kib(&status, key)
}

/// The figure of a `Key:   123 kB` line of `/proc/self/status`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_vm_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// `getrusage(RUSAGE_SELF)` without a libc crate: std links the C library
/// already, and the prefix of `struct rusage` read here (two `timeval`s,
/// then `ru_maxrss` as a `long`) has the same layout on every 64-bit Unix.
#[cfg(all(unix, target_pointer_width = "64"))]
mod rusage {
    use std::ffi::{c_int, c_long};

    const RUSAGE_SELF: c_int = 0;

    /// 16 bytes on 64-bit Unix: `time_t` seconds, and microseconds as a
    /// `long` (Linux, BSD) or an `int` padded to 8 bytes (Apple).
    #[repr(C)]
    struct Timeval {
        _sec: i64,
        _usec: i64,
    }

    #[repr(C)]
    struct Rusage {
        _utime: Timeval,
        _stime: Timeval,
        maxrss: c_long,
        /// The other 13 `long` fields; never read.
        _rest: [c_long; 13],
    }

    extern "C" {
        fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
    }

    /// What `ru_maxrss` counts in.
    const UNIT_BYTES: u64 = if cfg!(target_vendor = "apple") {
        1
    } else {
        1024
    };

    pub(super) fn max_rss_bytes() -> Option<u64> {
        let mut usage = std::mem::MaybeUninit::<Rusage>::zeroed();
        // SAFETY: `usage` is writable memory of the size and layout of
        // `struct rusage` on this platform (see the type), and RUSAGE_SELF
        // is valid everywhere.
        let code = unsafe { getrusage(RUSAGE_SELF, usage.as_mut_ptr()) };
        if code != 0 {
            return None;
        }
        // SAFETY: zero-initialised, then filled by a successful getrusage.
        let usage = unsafe { usage.assume_init() };
        u64::try_from(usage.maxrss)
            .ok()
            .filter(|&v| v > 0)
            .map(|v| v * UNIT_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_lines_parse_in_kib() {
        let status = "Name:\tx\nVmHWM:\t   12345 kB\nVmRSS:\t  100 kB\n";
        assert_eq!(parse_vm_kib(status, "VmHWM:"), Some(12345));
        assert_eq!(parse_vm_kib(status, "VmRSS:"), Some(100));
        assert_eq!(parse_vm_kib(status, "VmSwap:"), None);
        assert_eq!(parse_vm_kib("VmHWM:\t12 MB\n", "VmHWM:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_covers_current_rss() {
        // Current first: the other tests allocate on their own threads, so
        // RSS read after the peak may already be above it; the peak read
        // later covers every earlier RSS.
        let current = current_rss_bytes().unwrap();
        assert!(peak_rss_bytes().unwrap() >= current);
    }

    #[cfg(all(unix, target_pointer_width = "64"))]
    #[test]
    fn rusage_peak_is_in_bytes() {
        let current = current_rss_bytes();
        let peak = rusage::max_rss_bytes().expect("getrusage works");
        // A test binary is megabytes, not kilobytes or terabytes: a wrong
        // unit or a misread field would be off by 1024 or more.
        assert!((1 << 20..1 << 40).contains(&peak), "{peak}");
        if let Some(current) = current {
            assert!(peak >= current, "rusage peak {peak} < current {current}");
        }
    }
}
