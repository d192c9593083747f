//! JUnit XML for CI test panes: one `<testsuite>` per runtime, one
//! `<testcase>` per suite. Failed criteria become the failure's text, each
//! figure of the criterion table (beside its limit) a property named by its
//! column, and the suite's leak sites (one line each) and log tail its
//! system-out, so a CI pane shows why and where without the logs.

use super::export::Exporter;
use super::model::{Report, SuiteReport, VerdictKind};
use super::sites::site_line;
use super::text;
use super::ReportError;
use crate::model::Criterion;
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;

/// The report as JUnit XML.
pub fn render(report: &Report) -> Result<String, ReportError> {
    let mut junit = quick_junit::Report::new("memtest");
    junit.set_time(report.duration());
    let mut by_runtime: BTreeMap<&str, Vec<&SuiteReport>> = BTreeMap::new();
    for suite in &report.suites {
        by_runtime
            .entry(suite.runtime.as_str())
            .or_default()
            .push(suite);
    }
    for (runtime, suites) in by_runtime {
        let mut test_suite = TestSuite::new(runtime);
        test_suite.set_time(suites.iter().map(|s| s.duration()).sum());
        test_suite.add_test_cases(suites.into_iter().map(test_case));
        junit.add_test_suite(test_suite);
    }
    junit
        .to_string()
        .map_err(|source| ReportError::Junit { source })
}

/// JUnit XML (`--junit FILE`).
pub struct JunitExporter;

impl Exporter for JunitExporter {
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        render(report).map(String::into_bytes)
    }
}

fn test_case(suite: &SuiteReport) -> TestCase {
    let status = match suite.verdict {
        VerdictKind::Passed | VerdictKind::CanaryCaught => TestCaseStatus::success(),
        kind => {
            // A suite that could not finish is an error; one that finished and
            // broke a criterion is a failure.
            let crashed = suite.crashed()
                || matches!(kind, VerdictKind::Interrupted | VerdictKind::Incomplete);
            let mut status = TestCaseStatus::non_success(if crashed {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            });
            let reasons = text::reasons(suite);
            let mut description = reasons.join("\n");
            if let Some(sites) = where_lines(suite) {
                description = format!("{description}\n{sites}");
            }
            status
                .set_message(format!("{}: {}", suite.label(), reasons.join("; ")))
                .set_type(suite.label())
                .set_description(description);
            status
        }
    };
    let mut case = TestCase::new(suite.name.as_str(), status);
    case.set_classname(format!("memtest.{}", suite.runtime.as_str()))
        .set_time(suite.duration())
        .add_property(Property::new("verdict", suite.label()))
        .add_property(Property::new("log", suite.log.display().to_string()));
    if let Some(findings) = text::findings(suite) {
        case.add_property(Property::new("wrapper", findings));
    }
    // Each figure beside its limit, named by its column, so a CI pane shows
    // the numbers of passing suites too.
    for (criterion, column) in Criterion::columns() {
        let Some(figure) = suite.figure(criterion) else {
            continue;
        };
        let value = match suite.bound(criterion) {
            Some(limit) => format!("{figure} (limit {limit})"),
            None => figure.to_string(),
        };
        case.add_property(Property::new(column.header, value));
    }
    let out: Vec<String> = where_lines(suite)
        .into_iter()
        .chain((!suite.log_tail.is_empty()).then(|| suite.log_tail.join("\n")))
        .collect();
    if !out.is_empty() {
        case.set_system_out(out.join("\n\n"));
    }
    case
}

/// "where:" and one line per leak site, when the suite has any.
fn where_lines(suite: &SuiteReport) -> Option<String> {
    if suite.sites.is_empty() && suite.cause.is_none() {
        return None;
    }
    let mut lines: Vec<String> = suite
        .sites
        .iter()
        .map(|s| format!("  {}", site_line(s)))
        .collect();
    if let Some(cause) = &suite.cause {
        lines.push(format!("  cause: {cause}"));
    }
    Some(format!("where:\n{}", lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;

    #[test]
    fn junit_snapshot() {
        let xml = render(&report_of(&mixed_outcomes())).unwrap();
        insta::assert_snapshot!(xml);
    }

    #[test]
    fn one_testsuite_per_runtime_and_failures_counted() {
        let xml = render(&report_of(&mixed_outcomes())).unwrap();
        assert_eq!(xml.matches("<testsuite ").count(), 3);
        assert_eq!(xml.matches("<testcase ").count(), 5);
        // node's RSS failure and the missed canary; python's segfault is an error.
        assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
        assert_eq!(xml.matches("<error ").count(), 1, "{xml}");
    }
}
