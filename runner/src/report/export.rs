//! One trait for every format a run's [`Report`] is written in, after
//! hyperfine's `Exporter`: each format (JSON, JUnit XML, markdown, HTML, an
//! SVG plot, the terminal summary, GitHub annotations) turns the one report
//! model into bytes, and the files module only decides where the bytes go.
//! No exporter sees events or the verdict's types beyond what the report
//! holds, so `memtest merge` feeds them exactly as a live run does.

use super::model::Report;
use super::ReportError;

/// A format of the whole report.
pub trait Exporter {
    /// The report in this format.
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError>;
}
