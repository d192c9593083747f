//! The HTML report (`--html FILE`): one self-contained page per run (or per
//! merged CI matrix) that a person opens from disk or as a CI artifact. No
//! network: the style sheet and the small sorting script are compiled in
//! (`include_str!`), the plots are inline SVG, fonts are the system's.
//!
//! With a baseline the page shows the baseline's figures beside the new ones.
//! Two sources: `--baseline FILE` (the saved figures: numbers only) or
//! `--baseline-report FILE` (the baseline run's JSON report: its figures and
//! its RSS curves, drawn under the new ones). The report wins when both are
//! given, since it holds everything the figures file does.

mod page;

use super::export::Exporter;
use super::merge::{baseline_of, read_report};
use super::model::{Report, Series};
use super::{ReportError, ReportOptions};
use crate::verdict::baseline::Baseline;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use page::render;

/// The HTML page (`--html FILE`), compared against `baseline` when given.
pub struct HtmlExporter {
    pub baseline: Option<Comparison>,
}

impl Exporter for HtmlExporter {
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        render(report, self.baseline.as_ref()).map(String::into_bytes)
    }
}

/// The baseline the page compares against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// The file it came from, shown on the page.
    pub source: PathBuf,
    pub figures: Baseline,
    /// Suite name -> the baseline run's series (empty from a figures file).
    pub series: BTreeMap<String, Series>,
}

impl Comparison {
    /// From a baseline run's JSON report: figures and series.
    pub fn from_report(source: PathBuf, report: Report) -> Comparison {
        let figures = baseline_of(&report);
        let series = report
            .suites
            .into_iter()
            .filter(|s| figures.get(&s.name).is_some())
            .map(|s| (s.name, s.samples))
            .collect();
        Comparison {
            source,
            figures,
            series,
        }
    }

    /// What `opts` names, if anything (see the module docs).
    pub fn load(opts: &ReportOptions) -> Result<Option<Comparison>, ReportError> {
        if let Some(path) = &opts.baseline_report {
            let report = read_report(path)?;
            return Ok(Some(Comparison::from_report(path.clone(), report)));
        }
        if let Some(path) = &opts.baseline {
            return Ok(Some(Comparison {
                source: path.clone(),
                figures: Baseline::load(path)?,
                series: BTreeMap::new(),
            }));
        }
        Ok(None)
    }
}
