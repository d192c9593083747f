//! `memtest merge` and `memtest baseline save`, both over JSON reports.
//! Merge joins the reports of partitioned CI jobs into one (suites
//! concatenated and sorted, a suite in two inputs is an error, totals
//! recomputed); the merged [`Report`] can then go through the same writers
//! as a live run. A baseline is the per-suite figures of one report, in the
//! verdict module's [`Baseline`] format.

use super::export::Exporter;
use super::json::JsonExporter;
use super::model::{Report, Tool, SCHEMA_VERSION};
use super::ReportError;
use crate::atomic::write_atomic;
use crate::model::Exit;
use crate::verdict::baseline::{Baseline, BaselineEntry};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a merge produced.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSummary {
    /// The merged report, already written to the output; hand it to
    /// [`super::write_files`] for a summary or JUnit of the whole run.
    pub report: Report,
    pub inputs: usize,
}

/// Reads a JSON report, refusing other schema versions.
pub fn read_report(path: &Path) -> Result<Report, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    // Check the version before the shape, so a future report says so rather
    // than failing on some field.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let parse_err = |source| ReportError::Parse {
        path: path.to_owned(),
        source,
    };
    let version: Version = serde_json::from_str(&text).map_err(parse_err)?;
    if version.schema_version != SCHEMA_VERSION {
        return Err(ReportError::SchemaVersion {
            path: path.to_owned(),
            found: version.schema_version,
            expected: SCHEMA_VERSION,
        });
    }
    serde_json::from_str(&text).map_err(parse_err)
}

/// Joins `inputs` into one report written to `output`. The merged run starts
/// at the earliest start and ends at the latest end (partitions run side by
/// side, so durations do not add up).
pub fn merge(inputs: &[PathBuf], output: &Path) -> Result<MergeSummary, ReportError> {
    if inputs.is_empty() {
        return Err(ReportError::NoInputs);
    }
    let mut owner: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut suites = Vec::new();
    let (mut start_ms, mut end_ms) = (u64::MAX, 0u64);
    let mut interrupted = false;
    for path in inputs {
        let report = read_report(path)?;
        start_ms = start_ms.min(report.started_at_unix_ms);
        end_ms = end_ms.max(report.started_at_unix_ms + report.duration_ms);
        interrupted |= report.interrupted;
        for suite in report.suites {
            if let Some(first) = owner.insert(suite.name.clone(), path.clone()) {
                return Err(ReportError::DuplicateSuite {
                    suite: suite.name,
                    first,
                    second: path.clone(),
                });
            }
            suites.push(suite);
        }
    }
    let report = Report::from_parts(
        Tool::current(),
        start_ms,
        Duration::from_millis(end_ms - start_ms),
        interrupted,
        suites,
    );
    let json = JsonExporter.export(&report)?;
    write_atomic(output, &json).map_err(|source| ReportError::Write {
        path: output.to_owned(),
        source,
    })?;
    Ok(MergeSummary {
        report,
        inputs: inputs.len(),
    })
}

/// The baseline of a report: figures of every suite that ran to its end
/// (interrupted suites and spawn failures have no meaningful figures).
pub fn baseline_of(report: &Report) -> Baseline {
    // A wrapped run's memory and duration are the tool's (valgrind runs 20-50x
    // slower in several times the memory): no baseline for a plain run.
    let suites = report
        .suites
        .iter()
        .filter(|s| !matches!(s.exit, Exit::Interrupted | Exit::SpawnFailed { .. }))
        .filter(|s| s.wrapper.is_none())
        .map(|s| {
            (
                s.name.clone(),
                BaselineEntry::from_figures(&s.figures(), s.duration()),
            )
        })
        .collect();
    Baseline { suites }
}

/// `memtest baseline save --from report.json -o memtest-baseline.json`.
pub fn save_baseline(report_json: &Path, output: &Path) -> Result<(), ReportError> {
    let report = read_report(report_json)?;
    baseline_of(&report).save(output)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;
    use crate::model::Outcome;

    fn write_report(dir: &Path, name: &str, outcomes: &[Outcome], start_offset_ms: u64) -> PathBuf {
        let mut report = report_of(outcomes);
        report.started_at_unix_ms += start_offset_ms;
        let path = dir.join(name);
        std::fs::write(&path, JsonExporter.export(&report).unwrap()).unwrap();
        path
    }

    #[test]
    fn two_partitions_merge_into_one_sorted_report() {
        let dir = tempfile::tempdir().unwrap();
        let all = mixed_outcomes();
        let a = write_report(dir.path(), "a.json", &all[..2], 0);
        let b = write_report(dir.path(), "b.json", &all[2..], 1_000);
        let out = dir.path().join("merged/report.json");
        let merged = merge(&[a, b], &out).unwrap();
        assert_eq!(merged.inputs, 2);
        let report = read_report(&out).unwrap();
        assert_eq!(report, merged.report);
        let names: Vec<_> = report.suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "node-optimize-loop",
                "python-canary-free",
                "python-crash",
                "rust-canary-leak",
                "rust-memory-leak"
            ]
        );
        assert_eq!(report.totals, report_of(&all).totals);
        assert!(!report.success);
        // b started 1 s after a and each lasted 12.345 s.
        assert_eq!(report.started_at_unix_ms, START_UNIX_MS);
        assert_eq!(report.duration_ms, 13_345);
    }

    #[test]
    fn a_suite_in_two_inputs_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let all = mixed_outcomes();
        let a = write_report(dir.path(), "a.json", &all[..2], 0);
        let b = write_report(dir.path(), "b.json", &all[1..3], 0);
        let err = merge(&[a, b], &dir.path().join("out.json")).unwrap_err();
        assert!(
            matches!(&err, ReportError::DuplicateSuite { suite, .. } if suite == "rust-canary-leak")
        );
        assert!(err.to_string().contains("`rust-canary-leak`"), "{err}");
        assert!(!dir.path().join("out.json").exists());
    }

    #[test]
    fn other_schema_versions_and_garbage_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let future = dir.path().join("future.json");
        std::fs::write(&future, r#"{"schema_version": 2, "whatever": true}"#).unwrap();
        assert!(matches!(
            read_report(&future),
            Err(ReportError::SchemaVersion { found: 2, .. })
        ));
        let garbage = dir.path().join("garbage.json");
        std::fs::write(&garbage, "{").unwrap();
        assert!(matches!(
            read_report(&garbage),
            Err(ReportError::Parse { .. })
        ));
        assert!(matches!(merge(&[], &garbage), Err(ReportError::NoInputs)));
    }

    #[test]
    fn baseline_saves_the_figures_of_finished_suites() {
        let dir = tempfile::tempdir().unwrap();
        let mut outcomes = mixed_outcomes();
        outcomes.push(outcome(
            "node-stopped",
            crate::model::RuntimeKind::Node,
            crate::model::Verdict::Interrupted,
        ));
        let mut wrapped = outcome(
            "node-under-memcheck",
            crate::model::RuntimeKind::Node,
            crate::model::Verdict::Passed,
        );
        wrapped.measured.findings = Some(crate::exec::findings::parse_valgrind_xml(
            "</valgrindoutput>",
        ));
        wrapped.job.wrapper = Some(crate::model::WrapperRun {
            name: "memcheck".into(),
            findings: crate::model::FindingsKind::ValgrindXml,
            output_path: "x.xml".into(),
        });
        outcomes.push(wrapped);
        let from = write_report(dir.path(), "report.json", &outcomes, 0);
        let out = dir.path().join("memtest-baseline.json");
        save_baseline(&from, &out).unwrap();
        let baseline = Baseline::load(&out).unwrap();
        assert_eq!(
            baseline.suites.len(),
            5,
            "the interrupted and the wrapped suite have no baseline"
        );
        let expected = Baseline::from_outcomes(&outcomes);
        assert_eq!(baseline, expected);
        let rust = baseline.get("rust-memory-leak").unwrap();
        assert_eq!(rust.peak_rss_bytes, 52_000_000);
        assert_eq!(rust.duration_ms, 2_950);
    }
}
