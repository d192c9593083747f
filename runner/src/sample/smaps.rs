//! The resident memory of one process by kind of mapping, from
//! `/proc/PID/smaps`: the brk heap, other anonymous mappings (glibc's other
//! arenas, mmapped blocks, runtimes' heaps) and file-backed ones. Read once
//! per checkpoint in attribution mode, so it may cost a few milliseconds; a
//! clear "not available" (`None`) off Linux.

use crate::model::Smaps;

/// Sums the `Rss:` of each mapping of an smaps text into its kind. Stacks
/// (`[stack]`) and the kernel's own (`[vdso]`, `[vvar]`) are left out.
pub fn parse(text: &str) -> Smaps {
    let mut out = Smaps::default();
    let mut kind: Option<Kind> = None;
    for line in text.lines() {
        if let Some(k) = header_kind(line) {
            kind = Some(k);
            continue;
        }
        let Some(rest) = line.strip_prefix("Rss:") else {
            continue;
        };
        let kib: u64 = rest
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0);
        let bytes = kib * 1024;
        match kind {
            Some(Kind::Heap) => out.heap_bytes += bytes,
            Some(Kind::Anon) => out.anon_bytes += bytes,
            Some(Kind::File) => out.file_bytes += bytes,
            Some(Kind::Other) | None => {}
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Kind {
    Heap,
    Anon,
    File,
    Other,
}

/// The kind of a mapping's header line (`start-end perms offset dev inode
/// [path]`), `None` for a field line (`Rss:   12 kB`).
fn header_kind(line: &str) -> Option<Kind> {
    let mut fields = line.split_ascii_whitespace();
    let range = fields.next()?;
    let (start, end) = range.split_once('-')?;
    if !start.bytes().all(|b| b.is_ascii_hexdigit()) || !end.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let path = fields.nth(4).unwrap_or("");
    Some(match path {
        "[heap]" => Kind::Heap,
        "" => Kind::Anon,
        p if p.starts_with("[anon") => Kind::Anon,
        p if p.starts_with('[') => Kind::Other,
        _ => Kind::File,
    })
}

/// The process's breakdown now; `None` when it is gone or off Linux.
#[cfg(target_os = "linux")]
pub fn read(pid: u32) -> Option<Smaps> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    Some(parse(&text))
}

/// The process's breakdown: not available off Linux.
#[cfg(not(target_os = "linux"))]
pub fn read(_pid: u32) -> Option<Smaps> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
Rss:                 100 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
Size:               1024 kB
Rss:                 512 kB
7f1000000000-7f1000010000 r-xp 00000000 08:01 123456                     /usr/lib/libc.so.6
Rss:                  40 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                  12 kB
7f2000000000-7f2000001000 rw-p 00000000 00:00 0                          [anon:v8]
Rss:                   4 kB
";

    #[test]
    fn rss_is_summed_by_kind_of_mapping() {
        assert_eq!(
            parse(TEXT),
            Smaps {
                heap_bytes: 100 * 1024,
                anon_bytes: 516 * 1024,
                file_bytes: 40 * 1024,
            }
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_file_backed_memory() {
        let own = read(std::process::id()).expect("our own smaps");
        assert!(own.file_bytes > 0, "{own:?}");
    }
}
