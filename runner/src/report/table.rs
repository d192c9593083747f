//! The end-of-run summary on the terminal: one table row per suite (a column
//! per criterion with a figure, from the criterion table), then the failed
//! criteria of every suite that did not succeed (measured beside
//! limit, log path, and for crashes the log tail), then the closing line.

use super::export::Exporter;
use super::model::{Report, SuiteReport, VerdictKind};
use super::sites;
use super::text::{self, Paint};
use super::ReportError;
use crate::model::Criterion;
use crate::units::{Value, AT_LEAST_MARK};
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Modify, Style};

/// Marks a peak that was sampled (a lower bound) rather than exact.
pub const SAMPLED_MARK: &str = AT_LEAST_MARK;

/// The columns every suite table has before the criteria's.
const LEADING: [&str; 3] = ["suite", "runtime", "verdict"];

/// The column names of [`row`]: suite, runtime, verdict, then one column
/// per criterion with a figure, in the criterion table's order.
pub fn row_header() -> Vec<&'static str> {
    LEADING
        .into_iter()
        .chain(Criterion::columns().map(|(_, column)| column.header))
        .collect()
}

/// A figure's cell: its value, or "-" when the run gave none.
pub fn cell(figure: Option<Value>) -> String {
    figure.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The cells of one suite's row, formatted through `crate::units`.
pub fn row(suite: &SuiteReport) -> Vec<String> {
    [
        suite.name.clone(),
        suite.runtime.as_str().to_string(),
        suite.label_with_floor(),
    ]
    .into_iter()
    .chain(Criterion::columns().map(|(c, _)| cell(suite.figure(c))))
    .collect()
}

/// The legend line for [`SAMPLED_MARK`], when any row needs it.
pub fn legend(report: &Report) -> Option<String> {
    report
        .suites
        .iter()
        .any(|s| !s.figures.peak_rss_exact)
        .then(|| {
            format!("{SAMPLED_MARK} sampled peak: a lower bound, spikes between samples are missed")
        })
}

/// The table alone.
pub fn render_table(report: &Report, paint: Paint) -> String {
    let mut builder = Builder::default();
    builder.push_record(row_header());
    for suite in &report.suites {
        builder.push_record(row(suite));
    }
    let mut table = builder.build();
    table
        .with(Style::rounded())
        .with(Modify::new(Columns::new(LEADING.len()..)).with(Alignment::right()));
    let rendered = table.to_string();
    if !paint.enabled {
        return rendered;
    }
    // Colour after layout: tabled measures widths without ANSI support, and
    // escape codes take no columns on screen.
    rendered
        .lines()
        .map(|line| colour_verdict_cell(line, report, paint))
        .collect::<Vec<_>>()
        .join("\n")
}

fn colour_verdict_cell(line: &str, report: &Report, paint: Paint) -> String {
    let cells: Vec<&str> = line.split('│').collect();
    // A data row: "", suite, runtime, verdict, ...
    let Some(suite) = cells
        .get(1)
        .and_then(|name| report.suites.iter().find(|s| s.name == name.trim()))
    else {
        return line.to_string();
    };
    let mut cells: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    let label = suite.label();
    cells[3] = cells[3].replacen(label, &paint.verdict(suite.verdict, label), 1);
    cells.join("│")
}

/// What the wrappers found, for every suite that ran under one, failing or
/// not: a clean valgrind run is a result worth seeing too. Empty when no
/// suite ran under a wrapper.
pub fn render_findings(report: &Report, paint: Paint) -> String {
    let wrapped: Vec<&SuiteReport> = report
        .suites
        .iter()
        .filter(|s| s.wrapper.is_some())
        .collect();
    if wrapped.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "{}\n  ({})\n",
        paint.bold("Wrapper findings"),
        text::WRAPPED_LIMITS_NOTE
    );
    for suite in wrapped {
        let failing = suite.wrapper.as_ref().is_some_and(|w| w.failing);
        let name = if failing {
            paint.red(&suite.name)
        } else {
            paint.green(&suite.name)
        };
        out.push_str(&format!(
            "  {name}: {}\n",
            text::findings(suite).unwrap_or_default()
        ));
        if let Some(path) = suite.wrapper.as_ref().and_then(|w| w.output.as_ref()) {
            out.push_str(&format!("    details: {}\n", path.display()));
        }
    }
    out.push('\n');
    out
}

/// Every non-successful suite: its reasons, log path, where it leaked (its
/// sites, when the run attributed) and, for crashes, the last lines it
/// printed; a caught canary is listed too when it has sites, since where
/// its leak is is the point of explaining it. Empty when every suite
/// succeeded and none has sites.
pub fn render_failures(report: &Report, paint: Paint) -> String {
    let mut out = String::new();
    let listed =
        |s: &&SuiteReport| is_listed(s.verdict) || !s.sites.is_empty() || s.cause.is_some();
    for suite in report.suites.iter().filter(listed) {
        out.push_str(&format!(
            "{} {} ({})\n",
            paint.verdict(suite.verdict, suite.label()),
            paint.bold(&suite.name),
            suite.runtime.as_str()
        ));
        for reason in text::reasons(suite) {
            out.push_str(&format!("  - {reason}\n"));
        }
        out.push_str(&format!("  log: {}\n", suite.log.display()));
        if !suite.sites.is_empty() {
            out.push_str("  where:\n");
            for site in &suite.sites {
                out.push_str(&format!("    {}\n", sites::site_line(site)));
            }
        }
        if let Some(cause) = &suite.cause {
            out.push_str(&format!("  cause: {cause}\n"));
        }
        if suite.crashed() && !suite.log_tail.is_empty() {
            out.push_str("  last lines of output:\n");
            for line in &suite.log_tail {
                out.push_str(&format!("    {} {line}\n", paint.dim("|")));
            }
        }
        out.push('\n');
    }
    out
}

/// Table, legend, failure listing and closing line: what ends a run.
pub fn render_summary(report: &Report, paint: Paint) -> String {
    let mut out = String::new();
    if !report.suites.is_empty() {
        out.push_str(&render_table(report, paint));
        out.push('\n');
        if let Some(legend) = legend(report) {
            out.push_str(&legend);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&render_findings(report, paint));
    out.push_str(&render_failures(report, paint));
    let closing = text::closing_line(report);
    let closing = match (report.success, report.interrupted) {
        (true, _) => paint.green(&closing),
        (false, true) => paint.yellow(&closing),
        (false, false) => paint.red(&closing),
    };
    out.push_str(&closing);
    out.push('\n');
    out
}

/// The summary that ends a run on the terminal (and `memtest merge`'s).
pub struct SummaryExporter {
    pub paint: Paint,
}

impl Exporter for SummaryExporter {
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        Ok(render_summary(report, self.paint).into_bytes())
    }
}

/// Whether a verdict gets the failure listing.
pub fn is_listed(kind: VerdictKind) -> bool {
    !matches!(kind, VerdictKind::Passed | VerdictKind::CanaryCaught)
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;

    #[test]
    fn summary_table_snapshot() {
        let report = report_of(&mixed_outcomes());
        insta::assert_snapshot!(render_table(&report, Paint { enabled: false }));
    }

    #[test]
    fn failure_listing_snapshot() {
        let report = report_of(&mixed_outcomes());
        insta::assert_snapshot!(render_failures(&report, Paint { enabled: false }));
    }

    #[test]
    fn full_summary_snapshot() {
        let report = report_of(&mixed_outcomes());
        insta::assert_snapshot!(render_summary(&report, Paint { enabled: false }));
    }

    #[test]
    fn colour_marks_canaries_and_keeps_the_layout() {
        let report = report_of(&mixed_outcomes());
        let plain = render_table(&report, Paint { enabled: false });
        let coloured = render_table(&report, Paint { enabled: true });
        assert!(coloured.contains("\x1b[1;32mCANARY OK\x1b[0m"));
        assert!(coloured.contains("\x1b[1;31mCANARY MISSED\x1b[0m"));
        assert!(coloured.contains("\x1b[1;31mFAIL\x1b[0m"));
        let stripped = coloured
            .replace("\x1b[1;32m", "")
            .replace("\x1b[1;31m", "")
            .replace("\x1b[1;33m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn wrapper_findings_are_shown_for_passing_and_failing_suites() {
        use crate::exec::findings::parse_valgrind_xml;
        let mut outcomes = mixed_outcomes();
        assert_eq!(
            render_findings(&report_of(&outcomes), Paint { enabled: false }),
            ""
        );
        let mut clean = parse_valgrind_xml("</valgrindoutput>");
        clean.output = Some("/repo/.memtest/logs/rust-memory-leak.memcheck.xml".into());
        outcomes[0].measured.findings = Some(clean);
        let report = report_of(&outcomes);
        let text = render_findings(&report, Paint { enabled: false });
        assert_eq!(
            text,
            format!(
                "Wrapper findings\n  ({})\n  rust-memory-leak: valgrind: 0 definitely lost \
                 (0 bytes), 0 invalid accesses, 0 other errors\n    details: \
                 /repo/.memtest/logs/rust-memory-leak.memcheck.xml\n\n",
                text::WRAPPED_LIMITS_NOTE
            )
        );
        assert!(render_summary(&report, Paint { enabled: false }).contains(&text));
        let leak = report.suites.iter().find(|s| s.name == "rust-memory-leak");
        let line = super::super::console::suite_line(leak.unwrap(), Paint { enabled: false });
        assert!(
            line.contains(", valgrind: 0 definitely lost (0 bytes)"),
            "{line}"
        );
    }

    #[test]
    fn passing_run_lists_nothing_and_says_passed() {
        let report = report_of(&mixed_outcomes()[..2]);
        assert_eq!(render_failures(&report, Paint { enabled: false }), "");
        let summary = render_summary(&report, Paint { enabled: false });
        assert!(summary.ends_with("PASSED: 2 suites in 12.3s: 1 passed, 0 failed, 1 canary caught, 0 canaries missed\n"), "{summary}");
    }

    #[test]
    fn a_suites_sites_are_listed_under_it_in_the_console() {
        use crate::model::{Frame, Layer, Site, SiteSource};
        let mut report = report_of(&mixed_outcomes());
        let named = Frame {
            function: Some("planted_leak".into()),
            file: Some("/w/leak.c".into()),
            line: Some(42),
            object: None,
        };
        let site = Site {
            layer: Layer::Native,
            source: SiteSource::Valgrind,
            bytes: 51_200,
            blocks: 7,
            frames: vec![named.clone()],
            name: Some(named.label()),
        };
        let caught = report
            .suites
            .iter_mut()
            .find(|s| s.verdict == VerdictKind::CanaryCaught)
            .expect("a caught canary");
        caught.sites = vec![site];
        let name = caught.name.clone();
        let text = render_failures(&report, Paint { enabled: false });
        let block = text
            .split("\n\n")
            .find(|b| b.contains(&name))
            .unwrap_or_else(|| panic!("{name} is listed: {text}"));
        assert!(block.contains("  where:\n"), "{block}");
        assert!(
            block
                .contains("native 51.2 KB in 7 blocks definitely lost at planted_leak (leak.c:42)"),
            "{block}"
        );
    }
}
