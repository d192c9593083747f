//! Figures across runs and commits: `run --history FILE` appends one JSON
//! line per suite (its baseline figures, the commit, when, on which machine,
//! at which profile and scale), `memtest trend` reads them back
//! ([`trend`]: one point per commit with the spread of its repeated runs) and
//! checks them against a pinned baseline ([`drift`]). The file is bounded:
//! past [`MAX_RECORDS`] lines the oldest are dropped.
//!
//! JSON lines rather than one document: appending never rewrites what is
//! there (two runs sharing a file append whole lines), a half-written last
//! line after a kill costs that line only, and CI can keep the file between
//! runs as a cache or artifact.

pub mod drift;
pub mod trend;

use crate::verdict::baseline::BaselineEntry;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of a history line; readers skip lines of another version.
pub const SCHEMA_VERSION: u32 = 1;

/// Lines a history file keeps; appending past this drops the oldest.
pub const MAX_RECORDS: usize = 20_000;

/// The commit a run measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// The full object name.
    pub id: String,
    /// Its subject line.
    pub subject: String,
    /// Committer time, seconds since the epoch.
    pub time_unix: i64,
    /// Commits reachable from it (`git rev-list --count`): an ancestor always
    /// has fewer, so trends order commits by it (committer times can tie or
    /// go backwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    /// The work tree had changes to tracked files: the figures are of this
    /// commit plus those changes.
    #[serde(default)]
    pub dirty: bool,
}

impl Commit {
    /// The first 10 hex digits, and `+` when the tree was dirty.
    pub fn short(&self) -> String {
        let id: String = self.id.chars().take(10).collect();
        if self.dirty {
            format!("{id}+")
        } else {
            id
        }
    }
}

/// Where a run ran: figures of two machines are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub host: String,
    pub cores: u32,
}

/// One suite's figures from one run: one line of a history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: u32,
    pub suite: String,
    /// `None` outside a git work tree.
    pub commit: Option<Commit>,
    /// When the run started: RFC 3339, UTC.
    pub time: String,
    pub time_unix_ms: u64,
    pub machine: Machine,
    /// The `--profile` the run used, if any.
    pub profile: Option<String>,
    /// MEMTEST_SCALE the suite ran at.
    pub scale: f64,
    /// The suite's verdict let the run succeed.
    pub success: bool,
    /// What `memtest baseline save` would keep of the run.
    pub figures: BaselineEntry,
}

/// Why a history file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot read history {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write history {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("history {path} holds no line memtest can read (a history file is written by `run --history`)")]
    Empty { path: PathBuf },
}

/// A history file read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Lines that were not records of this version (a line cut short by a
    /// killed run, or another version's): left out, counted.
    pub skipped: usize,
}

/// Reads every record of `path`; a file with none is an error.
pub fn load(path: &Path) -> Result<Loaded, HistoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| HistoryError::Read {
        path: path.to_owned(),
        source,
    })?;
    let loaded = parse(&text);
    if loaded.records.is_empty() {
        return Err(HistoryError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(loaded)
}

fn parse(text: &str) -> Loaded {
    let mut loaded = Loaded {
        records: Vec::new(),
        skipped: 0,
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Record>(line) {
            Ok(r) if r.schema_version == SCHEMA_VERSION => loaded.records.push(r),
            _ => loaded.skipped += 1,
        }
    }
    loaded
}

/// Appends `records` to `path` (created with its folder if missing), keeping
/// at most `max` lines: past that, the file is rewritten atomically with
/// the newest. Each record is one line, written in one call.
pub fn append(path: &Path, records: &[Record], max: usize) -> Result<(), HistoryError> {
    if records.is_empty() {
        return Ok(());
    }
    let write_err = |source| HistoryError::Write {
        path: path.to_owned(),
        source,
    };
    let mut lines = String::new();
    for r in records {
        lines.push_str(&serde_json::to_string(r).expect("a record always serialises"));
        lines.push('\n');
    }
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(HistoryError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let old: Vec<&str> = existing.lines().filter(|l| !l.trim().is_empty()).collect();
    if old.len() + records.len() <= max {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        // A last line cut short by a killed writer must not swallow the
        // first new one.
        if !existing.is_empty() && !existing.ends_with('\n') {
            lines.insert(0, '\n');
        }
        return crate::atomic::append(path, lines.as_bytes()).map_err(write_err);
    }
    let keep = max.saturating_sub(records.len());
    let mut text: String = old[old.len().saturating_sub(keep)..]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    let new: Vec<&str> = lines.lines().collect();
    for l in &new[new.len().saturating_sub(max)..] {
        text.push_str(l);
        text.push('\n');
    }
    crate::atomic::write_atomic(path, text.as_bytes()).map_err(write_err)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record of `suite` at commit `id` (committed at `time_unix`) with
    /// `peak` bytes of peak RSS.
    pub(crate) fn record(suite: &str, id: &str, time_unix: i64, peak: u64) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            suite: suite.into(),
            commit: Some(Commit {
                id: id.into(),
                subject: format!("commit {id}"),
                time_unix,
                depth: Some(time_unix as u64),
                dirty: false,
            }),
            time: "2026-12-01T00:00:00.000Z".into(),
            time_unix_ms: time_unix as u64 * 1000 + 500,
            machine: Machine {
                host: "box".into(),
                cores: 2,
            },
            profile: Some("ci".into()),
            scale: 1.0,
            success: true,
            figures: BaselineEntry {
                peak_rss_bytes: peak,
                rss_growth_bytes: 0,
                slope_bytes_per_sec: None,
                duration_ms: 1000,
            },
        }
    }

    #[test]
    fn appended_lines_read_back_and_the_file_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/history.jsonl");
        for i in 0..5 {
            let r = record("a", &format!("c{i}"), i, 1000 + i as u64);
            append(&path, &[r.clone(), record("b", &format!("c{i}"), i, 7)], 6).unwrap();
        }
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.skipped, 0);
        // 10 lines written, 6 kept: the newest, in order.
        let kept: Vec<_> = loaded
            .records
            .iter()
            .map(|r| (r.suite.as_str(), r.commit.as_ref().unwrap().id.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("a", "c2"),
                ("b", "c2"),
                ("a", "c3"),
                ("b", "c3"),
                ("a", "c4"),
                ("b", "c4")
            ]
        );
    }

    #[test]
    fn a_line_cut_short_is_skipped_and_does_not_eat_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let line = serde_json::to_string(&record("a", "c0", 0, 1)).unwrap();
        std::fs::write(&path, &line[..line.len() / 2]).unwrap();
        append(&path, &[record("a", "c1", 1, 2)], 100).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.skipped, 1);
        assert_eq!(loaded.records.len(), 1);
        assert_eq!(loaded.records[0].figures.peak_rss_bytes, 2);
    }

    #[test]
    fn a_missing_or_empty_history_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.jsonl");
        assert!(matches!(load(&path), Err(HistoryError::Read { .. })));
        std::fs::write(&path, "\n{\"other\": 1}\n").unwrap();
        assert!(matches!(load(&path), Err(HistoryError::Empty { .. })));
    }
}
