//! Wrapper findings: what valgrind, heaptrack or a sanitizer reported about
//! a suite. The parsers are pure functions over the tools' output text
//! (valgrind's XML in [`valgrind`], the sanitizer's in [`sanitizer`]);
//! [`read`] and [`clear`] are the executor's file side (and run
//! `heaptrack_print`).
//!
//! What fails a suite: valgrind's definitely-lost leak records and invalid
//! reads, writes and frees. heaptrack's "total memory leaked" counts every
//! byte still allocated at exit, reachable or not, and interpreters (Python,
//! Node) never free their heaps at exit, so it is recorded and shown but does
//! not fail the suite on its own. A sanitizer fails a suite on any leak or
//! error it reports, and when it left no log (its runtime never loaded).

mod frames;
pub mod sanitizer;
pub mod valgrind;

use crate::model::{FindingsKind, Site, WrapperFindings};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Longest time `heaptrack_print` may take over one recording.
const HEAPTRACK_PRINT_TIMEOUT: Duration = Duration::from_secs(120);

/// Summarises valgrind memcheck `--xml=yes` output (see [`valgrind`]).
pub fn parse_valgrind_xml(xml: &str) -> WrapperFindings {
    valgrind::summarise(&valgrind::parse(xml))
}

/// Parses heaptrack's byte figures: "10.00K", "1.20M", "512B" (powers of
/// 1000, as heaptrack_print prints them).
fn heaptrack_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        'B' => (&s[..s.len() - 1], 1.0),
        _ => (s, 1.0),
    };
    let n: f64 = num.trim().parse().ok()?;
    Some((n * mult).round() as u64)
}

/// Summarises `heaptrack_print` output; `None` when it has no leak line
/// (heaptrack_print failed or the format changed).
pub fn parse_heaptrack_print(text: &str) -> Option<WrapperFindings> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(str::trim))
    };
    let leaked = heaptrack_bytes(value("total memory leaked:")?)?;
    let peak_heap = value("peak heap memory consumption:").unwrap_or("?");
    Some(WrapperFindings {
        tool: "heaptrack".to_string(),
        definitely_lost_records: 0,
        leaked_bytes: leaked,
        invalid_accesses: 0,
        other_errors: 0,
        failing: false,
        summary: format!("{leaked} bytes still allocated at exit, peak heap {peak_heap}"),
        output: None,
    })
}

/// The logs a sanitizer left for `path`: `log_path=PATH` writes
/// `PATH.<pid>`, one per process, in pid order.
fn sanitizer_logs(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let pid = file.strip_prefix(&prefix)?.parse().ok()?;
            Some((pid, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// The files a wrapper may leave for `path`: heaptrack appends its
/// compression suffix to the name it was given, a sanitizer the pid.
fn findings_candidates(kind: FindingsKind, path: &Path) -> Vec<PathBuf> {
    let suffixes: &[&str] = match kind {
        FindingsKind::ValgrindXml => &[""],
        FindingsKind::Heaptrack => &["", ".zst", ".gz"],
        FindingsKind::Sanitizer => return sanitizer_logs(path),
    };
    suffixes
        .iter()
        .map(|ext| {
            let mut p = path.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        })
        .collect()
}

/// Removes what a previous run's wrapper left, so that a wrapper that dies
/// before writing anything is not credited with the old findings.
pub fn clear(kind: FindingsKind, path: &Path) -> std::io::Result<()> {
    for p in findings_candidates(kind, path) {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Findings that say why there are none: failing for valgrind (the suite
/// then went unchecked), informational for heaptrack (which never fails a
/// suite on its own).
fn no_findings(kind: FindingsKind, summary: String) -> WrapperFindings {
    let (tool, failing) = match kind {
        FindingsKind::ValgrindXml => ("valgrind", true),
        FindingsKind::Heaptrack => ("heaptrack", false),
        FindingsKind::Sanitizer => ("sanitizer", true),
    };
    WrapperFindings {
        tool: tool.to_string(),
        definitely_lost_records: 0,
        leaked_bytes: 0,
        invalid_accesses: 0,
        other_errors: 0,
        failing,
        summary,
        output: None,
    }
}

/// What a wrapper left: its findings, and the leak sites its records name
/// (valgrind's definitely-lost records, LeakSanitizer's direct leaks; none
/// from heaptrack), unnamed.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub findings: WrapperFindings,
    pub sites: Vec<Site>,
}

impl From<WrapperFindings> for Found {
    fn from(findings: WrapperFindings) -> Self {
        Found {
            findings,
            sites: Vec::new(),
        }
    }
}

/// Reads what the wrapper left at `path` (heaptrack's recording through
/// `heaptrack_print`, printing only its totals).
pub async fn read(kind: FindingsKind, path: &Path) -> Found {
    if kind == FindingsKind::Sanitizer {
        return read_sanitizer(path).await;
    }
    let Some(file) = findings_candidates(kind, path)
        .into_iter()
        .find(|p| p.is_file())
    else {
        return no_findings(kind, format!("no findings at {}", path.display())).into();
    };
    let mut sites = Vec::new();
    let mut found = match kind {
        FindingsKind::ValgrindXml => match tokio::fs::read(&file).await {
            Ok(bytes) => {
                let log = valgrind::parse(&String::from_utf8_lossy(&bytes));
                sites = valgrind::sites(&log);
                valgrind::summarise(&log)
            }
            Err(e) => no_findings(kind, format!("cannot read {}: {e}", file.display())),
        },
        FindingsKind::Sanitizer => unreachable!("read by read_sanitizer"),
        FindingsKind::Heaptrack => {
            let printed = tokio::time::timeout(
                HEAPTRACK_PRINT_TIMEOUT,
                Command::new("heaptrack_print")
                    .args([
                        "--print-peaks=0",
                        "--print-allocators=0",
                        "--print-temporary=0",
                        "--print-leaks=0",
                    ])
                    .arg(&file)
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .output(),
            )
            .await;
            let parsed = match &printed {
                Ok(Ok(out)) => parse_heaptrack_print(&String::from_utf8_lossy(&out.stdout)),
                _ => None,
            };
            parsed.unwrap_or_else(|| {
                let why = match printed {
                    Err(_) => "timed out".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(out)) => format!("printed no totals ({})", out.status),
                };
                no_findings(kind, format!("heaptrack_print {}: {why}", file.display()))
            })
        }
    };
    found.output = Some(file);
    Found {
        findings: found,
        sites,
    }
}

/// Every process's sanitizer log for `path`, joined; the output named is
/// the log with the largest leak or the first error, else the first log.
async fn read_sanitizer(path: &Path) -> Found {
    let files = sanitizer_logs(path);
    let mut logs = Vec::with_capacity(files.len());
    let mut sites = Vec::new();
    for file in &files {
        match tokio::fs::read(file).await {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                logs.push(sanitizer::parse(&text));
                sites.extend(sanitizer::sites(&text));
            }
            Err(e) => {
                let why = format!("cannot read {}: {e}", file.display());
                return no_findings(FindingsKind::Sanitizer, why).into();
            }
        }
    }
    let mut found = sanitizer::summarise(&logs);
    if files.is_empty() {
        found.summary = format!("{} (no {}.<pid>)", found.summary, path.display());
    }
    let worst = logs
        .iter()
        .enumerate()
        .max_by_key(|(_, l)| (l.errors.len(), l.largest.as_ref().map_or(0, |(b, _)| *b)))
        .map(|(i, _)| i);
    found.output = worst.and_then(|i| files.get(i)).cloned();
    Found {
        findings: found,
        sites,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALGRIND_LEAK: &str = include_str!("../../tests/fixtures/valgrind_leak.xml");
    const VALGRIND_RUST_CANARY: &str =
        include_str!("../../tests/fixtures/valgrind_rust_canary.xml");
    const HEAPTRACK_PRINT: &str = include_str!("../../tests/fixtures/heaptrack_print.txt");

    #[test]
    fn valgrind_leak_and_invalid_write_fail() {
        let f = parse_valgrind_xml(VALGRIND_LEAK);
        assert_eq!(f.definitely_lost_records, 1);
        assert_eq!(f.leaked_bytes, 10_000);
        assert_eq!(f.invalid_accesses, 1);
        assert_eq!(f.other_errors, 0);
        assert!(f.failing);
        assert!(
            f.summary
                .ends_with("first: Invalid write of size 1 at main (leak.c:3)"),
            "{}",
            f.summary
        );
        assert!(!f.summary.contains("incomplete"), "{}", f.summary);
    }

    #[test]
    fn valgrind_rust_leak_names_the_largest_record_at_the_code_that_made_it() {
        // Recorded from rust-canary-leak under memcheck, two of its records
        // kept: the smallest (first) and the largest (last).
        let f = parse_valgrind_xml(VALGRIND_RUST_CANARY);
        assert_eq!(f.definitely_lost_records, 2);
        assert_eq!(f.leaked_bytes, 8_766_508);
        assert!(f.failing);
        assert!(
            f.summary.ends_with(
                "largest: 8,766,500 bytes in 1,000 blocks are definitely lost in loss record \
                 22 of 22 at pyjamaz::canary::leak_input (canary.rs:13)"
            ),
            "{}",
            f.summary
        );
    }

    #[test]
    fn frames_skip_allocator_plumbing_and_decode_entities() {
        let first_stack = |stack: &str| {
            let log = valgrind::parse(&format!(
                "<error><kind>Leak_DefinitelyLost</kind>{stack}</error>"
            ));
            valgrind::user_frame(&log.records[0].stacks[0])
        };
        let block = "<stack><frame><obj>/usr/libexec/valgrind/vgpreload.so</obj><fn>malloc</fn></frame>\
            <frame><fn>__rustc::__rust_alloc</fn></frame>\
            <frame><fn>with_capacity_in&lt;u8&gt;</fn><dir>/rustc/abc/library/alloc/src</dir></frame>\
            <frame><fn>leak&lt;T&gt;</fn><file>a.rs</file><line>3</line></frame></stack>";
        assert_eq!(first_stack(block).as_deref(), Some("leak<T> (a.rs:3)"));
        assert_eq!(
            first_stack("<stack><frame><fn>malloc</fn></frame></stack>"),
            None
        );
    }

    #[test]
    fn valgrind_clean_run_passes_and_other_errors_only_count() {
        let clean = "<valgrindoutput><status><state>FINISHED</state></status></valgrindoutput>";
        let f = parse_valgrind_xml(clean);
        assert!(!f.failing);
        assert_eq!(
            f.summary,
            "0 definitely lost (0 bytes), 0 invalid accesses, 0 other errors"
        );
        let uninit = "<error><kind>UninitCondition</kind><what>Conditional jump</what></error>\
                      <error><kind>Leak_PossiblyLost</kind></error></valgrindoutput>";
        let f = parse_valgrind_xml(uninit);
        assert_eq!(f.other_errors, 2);
        assert!(!f.failing);
    }

    #[test]
    fn valgrind_truncated_output_is_flagged() {
        let cut = &VALGRIND_LEAK[..VALGRIND_LEAK.find("<errorcounts>").unwrap()];
        let f = parse_valgrind_xml(cut);
        assert!(f.summary.contains("output incomplete"), "{}", f.summary);
        assert!(f.failing);
    }

    #[test]
    fn heaptrack_leaked_bytes_are_read_but_do_not_fail() {
        let f = parse_heaptrack_print(HEAPTRACK_PRINT).unwrap();
        assert_eq!(f.leaked_bytes, 10_000);
        assert!(!f.failing);
        assert_eq!(
            f.summary,
            "10000 bytes still allocated at exit, peak heap 82.71K"
        );
        assert_eq!(
            parse_heaptrack_print("heaptrack_print: cannot open file"),
            None
        );
    }

    #[test]
    fn heaptrack_units() {
        assert_eq!(heaptrack_bytes("1.20M"), Some(1_200_000));
        assert_eq!(heaptrack_bytes("512B"), Some(512));
        assert_eq!(heaptrack_bytes("0B"), Some(0));
        assert_eq!(heaptrack_bytes("2.5G"), Some(2_500_000_000));
        assert_eq!(heaptrack_bytes("lots"), None);
    }
}
