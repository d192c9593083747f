//! Detection floors: the smallest per-call leak each suite's own criteria
//! catch, found by running the suite against its leaky build with the leak
//! graded by `MEMTEST_LEAK_BYTES` (docs/protocol.md). [`search`] is the pure
//! search over sizes; this module says when a probe's runs count as caught
//! and holds the results ([`SuiteFloor`]) and the floors file `floor --save`
//! writes and `list --floors` reads. Running the probes is the app's job.

mod headroom;
pub mod search;

pub use headroom::start_from_headroom;
pub use search::{Found, Search, SearchOptions};

use crate::model::{Criterion, KnownFloor, Outcome, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The floors file's format; bumped when a reader could misread it.
pub const FLOORS_SCHEMA_VERSION: u32 = 1;

/// Whether a failure on `criterion` means the suite saw the leak. A run
/// that crashed, timed out, could not start or was too short to judge has
/// not shown it can see anything; the exhaustive match makes every new
/// criterion take a side.
pub fn detects(criterion: Criterion) -> bool {
    match criterion {
        Criterion::ExitCode
        | Criterion::MarkerMissing
        | Criterion::RssGrowth
        | Criterion::VmsGrowth
        | Criterion::PeakRss
        | Criterion::Slope
        | Criterion::SlopePerOp
        | Criterion::NativeLeaks
        | Criterion::LiveGrowth
        | Criterion::Wrapper => true,
        Criterion::Signal
        | Criterion::TimedOut
        | Criterion::SpawnFailed
        | Criterion::TooFewSamples
        | Criterion::Regression
        | Criterion::Floor
        | Criterion::CanaryWrongReason => false,
    }
}

/// The criteria on which one run caught the leak: with `only`, that one
/// criterion if it failed; else every failed criterion that [`detects`] a
/// leak. Empty when the run passed or failed only on something else.
pub fn caught_by(outcome: &Outcome, only: Option<Criterion>) -> Vec<Criterion> {
    let Verdict::Failed { failures } = &outcome.verdict else {
        return Vec::new();
    };
    let mut criteria: Vec<Criterion> = failures
        .iter()
        .map(|f| f.criterion())
        .filter(|c| only.map_or(detects(*c), |o| o == *c))
        .collect();
    criteria.sort();
    criteria.dedup();
    criteria
}

/// What the runs of one probe showed: caught only when every run caught
/// the leak, by the criteria that caught it in every run (or, when the
/// runs caught it on different ones, in any).
pub fn judge_probe(runs: &[Vec<Criterion>]) -> (bool, Vec<Criterion>) {
    let caught = !runs.is_empty() && runs.iter().all(|r| !r.is_empty());
    let mut every: Vec<Criterion> = runs.first().cloned().unwrap_or_default();
    every.retain(|c| runs.iter().all(|r| r.contains(c)));
    if every.is_empty() {
        every = runs.iter().flatten().copied().collect();
        every.sort();
        every.dedup();
    }
    (caught, every)
}

/// One size probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub bytes_per_call: u64,
    pub runs: u32,
    pub caught_runs: u32,
    pub caught: bool,
    pub caught_by: Vec<Criterion>,
}

/// How one suite's search ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FloorResult {
    /// Caught at `bytes_per_call` by `caught_by`; missed at
    /// `missed_bytes_per_call` (none: the smallest size was caught).
    Floor {
        bytes_per_call: u64,
        missed_bytes_per_call: Option<u64>,
        caught_by: Vec<Criterion>,
        /// The operations of the measured loop (the suite's last
        /// `MEMTEST progress=` line) in the runs at the floor.
        operations: Option<u64>,
        /// The floor over the measured loop: bytes per call times the
        /// leaking calls among `operations`.
        bytes_per_run: Option<u64>,
    },
    /// Not caught at the largest size searched.
    Blind { missed_bytes_per_call: u64 },
    /// The suite failed with nothing leaking (`MEMTEST_LEAK_BYTES=0` on its
    /// leaky build): no floor can be measured.
    CleanFailed { reasons: Vec<Criterion> },
    /// Ctrl-C or SIGTERM stopped the search.
    Interrupted,
}

/// One suite's search: what was run and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteFloor {
    pub suite: String,
    /// The build the probes ran against.
    pub variant: String,
    /// `MEMTEST_LEAK_HEAP`: `rust` or `c`.
    pub heap: String,
    /// `MEMTEST_LEAK_EVERY`: one call in this many leaks.
    pub every: u64,
    pub profile: Option<String>,
    pub scale: f64,
    /// `--criterion`: only this criterion counted as a catch.
    pub criterion: Option<Criterion>,
    #[serde(flatten)]
    pub result: FloorResult,
    pub probes: Vec<Probe>,
    /// Wall time from the start of the search to its end, in seconds: the
    /// searches of one invocation share their rounds, so a quick suite's
    /// search ends with the round's slowest run.
    pub seconds: f64,
    /// The durations of the suite's own runs (the clean run and every
    /// probe's), added up, in seconds.
    #[serde(default)]
    pub run_seconds: f64,
}

impl SuiteFloor {
    /// The floor a run's reports show and `max_floor` judges: only a search
    /// that found one (a blind or failed search measured no floor).
    pub fn known(&self) -> Option<KnownFloor> {
        match &self.result {
            FloorResult::Floor {
                bytes_per_call,
                caught_by,
                ..
            } => Some(KnownFloor {
                bytes_per_call: *bytes_per_call,
                caught_by: caught_by.clone(),
            }),
            _ => None,
        }
    }

    /// The floor as a short phrase: "<= 1 B/call (native_leaks)".
    pub fn summary(&self) -> String {
        use crate::units::Bytes;
        let names = |cs: &[Criterion]| cs.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
        match &self.result {
            FloorResult::Floor {
                bytes_per_call,
                missed_bytes_per_call,
                caught_by,
                ..
            } => {
                let at_most = if missed_bytes_per_call.is_none() {
                    "<= "
                } else {
                    ""
                };
                format!(
                    "{at_most}{}/call ({})",
                    Bytes(*bytes_per_call),
                    names(caught_by)
                )
            }
            FloorResult::Blind {
                missed_bytes_per_call,
            } => format!("blind: > {}/call", Bytes(*missed_bytes_per_call)),
            FloorResult::CleanFailed { reasons } => {
                format!("clean run failed ({})", names(reasons))
            }
            FloorResult::Interrupted => "interrupted".to_string(),
        }
    }
}

/// The floors file: the last search of each suite.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FloorsFile {
    pub schema_version: u32,
    pub suites: BTreeMap<String, SuiteFloor>,
}

/// Why a floors file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FloorsFileError {
    #[error("cannot read the floors file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a memtest floors file", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} has floors schema version {found}; this memtest reads version {FLOORS_SCHEMA_VERSION}", path.display())]
    SchemaVersion { path: PathBuf, found: u32 },
    #[error("cannot write the floors file {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FloorsFile {
    pub fn load(path: &Path) -> Result<FloorsFile, FloorsFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FloorsFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: FloorsFile =
            serde_json::from_str(&text).map_err(|source| FloorsFileError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        if file.schema_version != FLOORS_SCHEMA_VERSION {
            return Err(FloorsFileError::SchemaVersion {
                path: path.to_path_buf(),
                found: file.schema_version,
            });
        }
        Ok(file)
    }

    /// A file of `floors` alone, interrupted searches included.
    pub fn of(floors: &[SuiteFloor]) -> FloorsFile {
        FloorsFile {
            schema_version: FLOORS_SCHEMA_VERSION,
            suites: floors
                .iter()
                .map(|f| (f.suite.clone(), f.clone()))
                .collect(),
        }
    }

    /// Writes the file whole or not at all.
    pub fn write(&self, path: &Path) -> Result<(), FloorsFileError> {
        let text = serde_json::to_string_pretty(self).expect("floors serialise");
        crate::atomic::write_atomic(path, text.as_bytes()).map_err(|source| {
            FloorsFileError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// `path`'s floors with `floors` put in (a suite searched again
    /// replaces its old entry). Interrupted searches are left out: they
    /// measured nothing.
    pub fn save_merged(path: &Path, floors: &[SuiteFloor]) -> Result<(), FloorsFileError> {
        let mut file = match FloorsFile::load(path) {
            Ok(file) => file,
            Err(FloorsFileError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                FloorsFile::of(&[])
            }
            Err(e) => return Err(e),
        };
        for floor in floors {
            if floor.result != FloorResult::Interrupted {
                file.suites.insert(floor.suite.clone(), floor.clone());
            }
        }
        file.write(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_is_caught_only_when_every_run_caught_it() {
        use Criterion::*;
        assert_eq!(judge_probe(&[]), (false, vec![]));
        assert_eq!(
            judge_probe(&[vec![NativeLeaks, RssGrowth], vec![NativeLeaks]]),
            (true, vec![NativeLeaks])
        );
        assert_eq!(
            judge_probe(&[vec![RssGrowth], vec![Slope]]),
            (true, vec![RssGrowth, Slope]),
            "caught every time, on different criteria"
        );
        assert_eq!(
            judge_probe(&[vec![NativeLeaks], vec![]]),
            (false, vec![NativeLeaks]),
            "missed once"
        );
    }

    #[test]
    fn crashes_and_short_runs_do_not_count_as_seeing_a_leak() {
        let seeing: Vec<Criterion> = Criterion::ALL.into_iter().filter(|c| detects(*c)).collect();
        assert!(seeing.contains(&Criterion::NativeLeaks));
        assert!(seeing.contains(&Criterion::RssGrowth));
        for blind in [
            Criterion::TimedOut,
            Criterion::Signal,
            Criterion::TooFewSamples,
        ] {
            assert!(!seeing.contains(&blind), "{blind}");
        }
    }

    #[test]
    fn the_floors_file_merges_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("floors.json");
        let floor = |suite: &str, bytes: u64| SuiteFloor {
            suite: suite.into(),
            variant: "leaky".into(),
            heap: "rust".into(),
            every: 1,
            profile: Some("ci".into()),
            scale: 0.1,
            criterion: None,
            result: FloorResult::Floor {
                bytes_per_call: bytes,
                missed_bytes_per_call: Some(bytes / 2),
                caught_by: vec![Criterion::RssGrowth],
                operations: Some(1000),
                bytes_per_run: Some(bytes * 1000),
            },
            probes: vec![],
            seconds: 1.5,
            run_seconds: 3.0,
        };
        FloorsFile::save_merged(&path, &[floor("a", 64), floor("b", 4096)]).unwrap();
        let stopped = SuiteFloor {
            result: FloorResult::Interrupted,
            ..floor("b", 1)
        };
        FloorsFile::save_merged(&path, &[floor("a", 128), stopped]).unwrap();
        let file = FloorsFile::load(&path).unwrap();
        assert_eq!(
            file.suites["a"],
            floor("a", 128),
            "searched again: replaced"
        );
        assert_eq!(file.suites["b"], floor("b", 4096), "interrupted: kept");
        assert_eq!(file.suites["a"].summary(), "128 B/call (rss_growth)");
        std::fs::write(&path, r#"{"schema_version": 9, "suites": {}}"#).unwrap();
        assert!(matches!(
            FloorsFile::load(&path),
            Err(FloorsFileError::SchemaVersion { found: 9, .. })
        ));
    }
}
