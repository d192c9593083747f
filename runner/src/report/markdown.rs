//! The markdown summary (`--summary FILE`, and `$GITHUB_STEP_SUMMARY` in CI):
//! the closing line, the table with links to the memory plots (a column per
//! criterion with a figure, the figures a failure concerns in bold), the
//! failed criteria of every suite that did not succeed, and where each suite
//! with leak sites leaked.

use super::export::Exporter;
use super::model::Report;
use super::sites::site_line;
use super::table;
use super::text;
use super::ReportError;
use crate::model::corpus::CorpusCounts;
use crate::model::Criterion;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tabled::builder::Builder;
use tabled::settings::Style;

/// Markdown for `report`; `plots` maps a suite's name to its plot's link.
pub fn render(report: &Report, plots: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "## memtest: {}\n\n{}\n\n",
        report.result().name(),
        text::closing_line(report)
    );
    if !report.suites.is_empty() {
        let mut builder = Builder::default();
        let mut header: Vec<String> = table::row_header().iter().map(|h| h.to_string()).collect();
        if !plots.is_empty() {
            header.push("plot".to_string());
        }
        builder.push_record(header);
        for suite in &report.suites {
            let mut cells: Vec<String> = table::row(suite).into_iter().map(|c| cell(&c)).collect();
            cells[0] = format!("`{}`", cells[0]);
            if !suite.is_success() {
                cells[2] = format!("**{}**", cells[2]);
            }
            // The figures a failure concerns, in bold: the criterion columns
            // follow the leading three in the table's order.
            let first = cells.len() - Criterion::columns().count();
            for (i, (criterion, _)) in Criterion::columns().enumerate() {
                if suite.flagged(criterion) {
                    cells[first + i] = format!("**{}**", cells[first + i]);
                }
            }
            if !plots.is_empty() {
                cells.push(
                    plots
                        .get(&suite.name)
                        .map(|link| format!("[svg]({link})"))
                        .unwrap_or_default(),
                );
            }
            builder.push_record(cells);
        }
        out.push_str(&builder.build().with(Style::markdown()).to_string());
        out.push('\n');
        if let Some(legend) = table::legend(report) {
            out.push_str(&format!("\n{legend}\n"));
        }
    }
    let wrapped: Vec<_> = report
        .suites
        .iter()
        .filter(|s| s.wrapper.is_some())
        .collect();
    if !wrapped.is_empty() {
        out.push_str(&format!(
            "\n### Wrapper findings\n\n{}.\n\n",
            text::WRAPPED_LIMITS_NOTE
        ));
    }
    for suite in wrapped {
        let findings = text::findings(suite).unwrap_or_default();
        out.push_str(&format!("- `{}`: {}\n", suite.name, cell(&findings)));
    }
    let corpora: Vec<_> = report
        .suites
        .iter()
        .filter_map(|s| Some((s, CorpusCounts::from_reported(&s.reported)?)))
        .collect();
    if !corpora.is_empty() {
        out.push_str("\n### Corpus files\n\n");
    }
    for (suite, counts) in corpora {
        out.push_str(&format!("- `{}`: {counts}\n", suite.name));
    }
    let failing: Vec<_> = report
        .suites
        .iter()
        .filter(|s| table::is_listed(s.verdict))
        .collect();
    if !failing.is_empty() {
        out.push_str("\n### Not passing\n");
    }
    for suite in failing {
        out.push_str(&format!(
            "\n**{}** `{}` ({})\n\n",
            suite.label(),
            suite.name,
            suite.runtime.as_str()
        ));
        for reason in text::reasons(suite) {
            out.push_str(&format!("- {}\n", cell(&reason)));
        }
        out.push_str(&format!("- log: `{}`\n", suite.log.display()));
        if suite.crashed() && !suite.log_tail.is_empty() {
            out.push_str("\n<details><summary>last lines of output</summary>\n\n```text\n");
            for line in &suite.log_tail {
                out.push_str(&line.replace("```", "'''"));
                out.push('\n');
            }
            out.push_str("```\n\n</details>\n");
        }
    }
    where_section(report, &mut out);
    out
}

/// "Where": each suite's leak sites, one line each (a failed suite's, or a
/// caught canary's: only attribution runs and stack-naming wrappers have any).
fn where_section(report: &Report, out: &mut String) {
    let with_sites: Vec<_> = report
        .suites
        .iter()
        .filter(|s| !s.sites.is_empty() || s.cause.is_some())
        .collect();
    if !with_sites.is_empty() {
        out.push_str("\n### Where\n");
    }
    for suite in with_sites {
        out.push_str(&format!("\n**{}** `{}`\n\n", suite.label(), suite.name));
        for site in &suite.sites {
            out.push_str(&format!("- {}\n", cell(&site_line(site)).replace('`', "'")));
        }
        if let Some(cause) = &suite.cause {
            out.push_str(&format!("- cause: {}\n", cell(&cause.to_string())));
        }
    }
}

/// The markdown summary (`--summary FILE`, the GitHub step summary).
pub struct MarkdownExporter {
    /// Suite name -> the link to its plot; empty for no plot column.
    pub plot_links: BTreeMap<String, String>,
}

impl Exporter for MarkdownExporter {
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        Ok(render(report, &self.plot_links).into_bytes())
    }
}

/// A table cell's text with markdown's table separator escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Links from the summary file to each suite's plot: relative when the plots
/// sit under the summary's folder, as the file would be browsed from there.
pub fn plot_links(summary: &Path, plots: &BTreeMap<String, PathBuf>) -> BTreeMap<String, String> {
    let base = summary.parent().unwrap_or(Path::new(""));
    plots
        .iter()
        .map(|(suite, path)| {
            let link = path
                .strip_prefix(base)
                .ok()
                .filter(|_| !base.as_os_str().is_empty())
                .unwrap_or(path);
            (suite.clone(), link.display().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;

    #[test]
    fn markdown_summary_snapshot() {
        let report = report_of(&mixed_outcomes());
        let plots: BTreeMap<String, PathBuf> = report
            .suites
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    PathBuf::from(format!("out/plots/{}.svg", s.name)),
                )
            })
            .collect();
        let links = plot_links(Path::new("out/summary.md"), &plots);
        assert_eq!(links["rust-memory-leak"], "plots/rust-memory-leak.svg");
        insta::assert_snapshot!(render(&report, &links));
    }

    #[test]
    fn without_plots_there_is_no_plot_column() {
        let report = report_of(&mixed_outcomes()[..1]);
        let md = render(&report, &BTreeMap::new());
        assert!(md.starts_with("## memtest: passed\n"));
        assert!(!md.contains("plot") && !md.contains("Not passing"), "{md}");
    }

    #[test]
    fn corpus_suites_show_their_file_counts_in_markdown_and_on_the_console() {
        use crate::model::corpus;
        let mut outcomes = mixed_outcomes()[..2].to_vec();
        let figures = [
            (corpus::FILES, 200.0),
            (corpus::OK, 170.0),
            (corpus::DECODE_ERRORS, 28.0),
            (corpus::LEAKS, 2.0),
        ];
        for (name, value) in figures {
            outcomes[1]
                .measured
                .reported
                .insert(name.to_string(), value);
        }
        let report = report_of(&outcomes);
        let md = render(&report, &BTreeMap::new());
        let suite = report
            .suites
            .iter()
            .find(|s| s.reported.contains_key(corpus::FILES))
            .unwrap();
        let line = format!(
            "### Corpus files\n\n- `{}`: corpus 200 files: 170 ok, 28 decode errors, 2 leaks, 0 crashes\n",
            suite.name
        );
        assert!(md.contains(&line), "{md}");
        assert_eq!(
            md.matches("corpus 200 files").count(),
            1,
            "only the corpus suite: {md}"
        );
        let console =
            super::super::console::suite_line(suite, super::super::text::Paint { enabled: false });
        assert!(
            console.contains(", corpus 200 files: 170 ok, 28 decode errors, 2 leaks, 0 crashes"),
            "{console}"
        );
    }
}
