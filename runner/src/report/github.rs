//! GitHub Actions workflow commands: one `::error` annotation per suite that
//! did not succeed, so failures show on the run's page without opening logs.

use super::export::Exporter;
use super::model::Report;
use super::text;
use super::ReportError;

/// Escapes a workflow command's message (GitHub's own rules).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error title=...::message` line per non-successful suite.
pub fn annotations(report: &Report) -> String {
    let mut out = String::new();
    for suite in report.suites.iter().filter(|s| !s.is_success()) {
        let title = format!("memtest {} {}", suite.name, suite.label());
        let mut message = text::reasons(suite).join("\n");
        message.push_str(&format!("\nlog: {}", suite.log.display()));
        out.push_str(&format!(
            "::error title={}::{}\n",
            escape_property(&title),
            escape_data(&message)
        ));
    }
    out
}

/// GitHub workflow commands, for the runner's stdout.
pub struct AnnotationsExporter;

impl Exporter for AnnotationsExporter {
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        Ok(annotations(report).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;

    #[test]
    fn one_escaped_annotation_per_failed_suite() {
        let text = annotations(&report_of(&mixed_outcomes()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines
            .iter()
            .all(|l| l.starts_with("::error title=memtest ")));
        assert!(
            lines[0].contains("::RSS grew +32.0 MB, limit +16.0 MB%0A"),
            "{}",
            lines[0]
        );
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(annotations(&report_of(&mixed_outcomes()[..2])), "");
    }
}
