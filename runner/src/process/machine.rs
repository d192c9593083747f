//! What the machine offers a run, the same way on every OS: the memory that
//! can be taken without swapping (the scheduler's budget) and the width of
//! the terminal (tables). Through sysinfo and terminal_size rather than
//! /proc/meminfo and a raw ioctl, so macOS gets a budget too.

use sysinfo::{MemoryRefreshKind, System};

/// Memory the OS says can be taken without swapping (Linux: `MemAvailable`;
/// macOS: free plus reclaimable pages), in bytes; `None` where the OS tells
/// nothing (then the scheduler has no memory budget).
pub fn available_memory_bytes() -> Option<u64> {
    let mut sys = System::new().ok()?;
    sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
    Some(sys.available_memory()).filter(|b| *b > 0)
}

/// Columns of the terminal on stdout, or `$COLUMNS`; `None` when stdout is
/// not a terminal and nothing says.
pub fn terminal_columns() -> Option<usize> {
    let tty = terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0);
    columns(tty, std::env::var("COLUMNS").ok().as_deref())
}

/// The terminal's width when it has one, else a positive `$COLUMNS`.
fn columns(tty: Option<u16>, env: Option<&str>) -> Option<usize> {
    match tty {
        Some(c) if c > 0 => Some(usize::from(c)),
        _ => env?.trim().parse().ok().filter(|c| *c > 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_memory_is_known_and_below_the_total() {
        let available = available_memory_bytes().expect("sysinfo reads memory on this OS");
        let mut sys = System::new().unwrap();
        sys.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        assert!(available <= sys.total_memory(), "{available}");
        assert!(
            available > 16 << 20,
            "a machine running tests has 16 MB free"
        );
    }

    /// On Linux the figure is the kernel's own `MemAvailable`, as the budget
    /// read before sysinfo did: the same within what other processes on a
    /// shared machine can take between the two reads.
    #[cfg(target_os = "linux")]
    #[test]
    fn available_memory_is_the_kernels_mem_available() {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kib: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        let kernel = kib * 1024;
        let ours = available_memory_bytes().unwrap();
        let off = ours.abs_diff(kernel);
        assert!(off < 256 << 20, "sysinfo {ours} vs MemAvailable {kernel}");
    }

    #[test]
    fn columns_come_from_the_terminal_then_the_environment() {
        assert_eq!(columns(Some(120), Some("80")), Some(120));
        assert_eq!(columns(Some(0), Some("80")), Some(80), "a zero-width pty");
        assert_eq!(columns(None, Some(" 100 ")), Some(100));
        assert_eq!(columns(None, Some("0")), None);
        assert_eq!(columns(None, Some("wide")), None);
        assert_eq!(columns(None, None), None);
    }
}
