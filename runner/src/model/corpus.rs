//! Corpus mode's per-file outcome counts as a suite reports them (`MEMTEST
//! corpus_files=... corpus_ok=...`; docs/protocol.md, "Corpus mode"): the
//! one place the runner spells their figure names, and the words every text
//! report shows them in. JSON and HTML carry them with the suite's other
//! reported figures.

use std::collections::BTreeMap;
use std::fmt;

/// The figure names, as the helpers print them.
pub const FILES: &str = "corpus_files";
pub const OK: &str = "corpus_ok";
pub const DECODE_ERRORS: &str = "corpus_decode_errors";
pub const LEAKS: &str = "corpus_leaks";
pub const CRASHES: &str = "corpus_crashes";
pub const FILES_PER_S: &str = "corpus_files_per_s";

/// What a corpus suite's files did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorpusCounts {
    pub files: u64,
    pub ok: u64,
    pub decode_errors: u64,
    pub leaks: u64,
    pub crashes: u64,
    pub files_per_s: Option<f64>,
}

impl CorpusCounts {
    /// The counts among a suite's reported figures; `None` for a suite that
    /// reported no `corpus_files` (not a corpus suite).
    pub fn from_reported(reported: &BTreeMap<String, f64>) -> Option<CorpusCounts> {
        let count = |name: &str| reported.get(name).map_or(0, |v| v.max(0.0) as u64);
        reported.get(FILES)?;
        Some(CorpusCounts {
            files: count(FILES),
            ok: count(OK),
            decode_errors: count(DECODE_ERRORS),
            leaks: count(LEAKS),
            crashes: count(CRASHES),
            files_per_s: reported.get(FILES_PER_S).copied(),
        })
    }
}

impl fmt::Display for CorpusCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corpus {} files: {} ok, {} decode errors, {} leaks, {} crashes",
            self.files, self.ok, self.decode_errors, self.leaks, self.crashes
        )?;
        if let Some(rate) = self.files_per_s {
            write!(f, " ({rate:.1} files/s)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_the_reported_figures_of_a_corpus_suite_only() {
        let mut reported = BTreeMap::from([("operations".to_string(), 5.0)]);
        assert_eq!(CorpusCounts::from_reported(&reported), None);
        for (name, value) in [
            (FILES, 200.0),
            (OK, 170.0),
            (DECODE_ERRORS, 22.0),
            (LEAKS, 6.0),
            (CRASHES, 2.0),
        ] {
            reported.insert(name.to_string(), value);
        }
        let counts = CorpusCounts::from_reported(&reported).unwrap();
        assert_eq!(
            counts.to_string(),
            "corpus 200 files: 170 ok, 22 decode errors, 6 leaks, 2 crashes"
        );
        reported.insert(FILES_PER_S.to_string(), 91.25);
        let counts = CorpusCounts::from_reported(&reported).unwrap();
        assert!(
            counts.to_string().ends_with("2 crashes (91.2 files/s)"),
            "{counts}"
        );
    }
}
