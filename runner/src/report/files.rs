//! Result files and CI output: the JSON report, JUnit XML, plots, the
//! markdown summary (and the GitHub step summary), and `::error` annotations.
//! [`write_files`] works on a [`Report`], so `memtest merge` reuses it; the
//! [`FilesReporter`] collects a run's events and calls it from `finish`, which
//! the app calls after an interrupt too, so an interrupted run still leaves
//! valid files.

use super::atomic::{append, write_atomic};
use super::model::{Collector, Report};
use super::{github, junit, markdown, plot, ReportError, ReportOptions, Reporter};
use crate::model::Event;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What [`write_files`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    /// Suite name -> its SVG.
    pub plots: BTreeMap<String, PathBuf>,
    pub annotations: usize,
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, contents).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The report as pretty JSON (docs/report-schema.md), with arrays of plain
/// values (the sample series, tags) on one line: a run has thousands of
/// samples, one per line would bury the rest.
pub fn render_json(report: &Report) -> String {
    let pretty = serde_json::to_string_pretty(report).expect("a report always serialises");
    let mut text = collapse_flat_arrays(&pretty);
    text.push('\n');
    text
}

/// Rewrites every array without nested arrays or objects onto one line.
/// String-aware: brackets inside strings (log lines) are left alone.
fn collapse_flat_arrays(json: &str) -> String {
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    // Bytes before `copied` are in `out`; copying slices keeps UTF-8 intact.
    let mut copied = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b'[' {
            if let Some(end) = flat_array_end(bytes, i) {
                // Items are separated by ",\n": JSON strings hold no raw newline.
                let items: Vec<&str> = json[i + 1..end]
                    .split(",\n")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                out.push_str(&json[copied..i]);
                out.push('[');
                out.push_str(&items.join(", "));
                out.push(']');
                copied = end + 1;
                i = end;
            }
        }
        i += 1;
    }
    out.push_str(&json[copied..]);
    out
}

/// The index of the `]` closing the array at `start` when it holds no `[`,
/// `{` outside strings; `None` otherwise.
fn flat_array_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut in_string = false;
    let mut i = start + 1;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'[' | b'{' => return None,
                b']' => return Some(i),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Writes every output `opts` asks for; annotations go to `annotations`
/// (stdout in the binary: GitHub reads workflow commands there). Every output
/// is attempted; the first error is returned.
pub fn write_files(
    report: &Report,
    opts: &ReportOptions,
    annotations: &mut dyn Write,
) -> Result<Written, ReportError> {
    let mut written = Written::default();
    let mut first_error: Option<ReportError> = None;
    let mut keep = |result: Result<(), ReportError>| {
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    };
    // The JSON first: it is what merge and baselines are made from.
    if let Some(path) = &opts.json {
        keep(write_file(path, render_json(report).as_bytes()));
        written.json = Some(path.clone());
    }
    if let Some(path) = &opts.junit {
        keep(junit::render(report).and_then(|xml| write_file(path, xml.as_bytes())));
        written.junit = Some(path.clone());
    }
    if let Some(dir) = &opts.plot_dir {
        match plot::write_plots(report, dir) {
            Ok(plots) => written.plots = plots,
            Err(e) => keep(Err(e)),
        }
    }
    // `--summary $GITHUB_STEP_SUMMARY` names the shared step summary: append
    // to it once rather than replacing what earlier steps wrote.
    let summary_is_step = opts.summary.is_some() && opts.summary == opts.step_summary;
    if let Some(path) = &opts.summary {
        let links = markdown::plot_links(path, &written.plots);
        let text = markdown::render(report, &links);
        keep(if summary_is_step {
            append(path, text.as_bytes()).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })
        } else {
            write_file(path, text.as_bytes())
        });
        written.summary = Some(path.clone());
    }
    if let Some(path) = opts.step_summary.as_ref().filter(|_| !summary_is_step) {
        // Plots are files on the runner, not links a browser can follow.
        let text = markdown::render(report, &BTreeMap::new());
        keep(
            append(path, text.as_bytes()).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            }),
        );
    }
    if opts.github {
        let text = github::annotations(report);
        written.annotations = text.lines().count();
        keep(
            annotations
                .write_all(text.as_bytes())
                .and_then(|()| annotations.flush())
                .map_err(|source| ReportError::Write {
                    path: PathBuf::from("<stdout>"),
                    source,
                }),
        );
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

/// Collects the run and writes the files when it finishes.
pub struct FilesReporter {
    opts: ReportOptions,
    collector: Collector,
    annotations: Box<dyn Write + Send>,
}

impl FilesReporter {
    pub fn new(opts: ReportOptions) -> FilesReporter {
        FilesReporter::with_output(opts, Collector::new(), Box::new(std::io::stdout()))
    }

    /// With a given collector (pinned start time) and annotation sink (tests).
    pub fn with_output(
        opts: ReportOptions,
        collector: Collector,
        annotations: Box<dyn Write + Send>,
    ) -> FilesReporter {
        FilesReporter {
            opts,
            collector,
            annotations,
        }
    }
}

impl Reporter for FilesReporter {
    fn on_event(&mut self, event: &Event) {
        self.collector.on_event(event);
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let report = self.collector.report();
        write_files(&report, &self.opts, &mut self.annotations)
            .map(|_| ())
            .map_err(ReportError::into_io)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn json_snapshot() {
        let mut report = report_of(&mixed_outcomes()[1..3]);
        // Keep the snapshot readable: three samples are enough to show the shape.
        for suite in &mut report.suites {
            suite.samples.t_ms.truncate(3);
            suite.samples.rss_bytes.truncate(3);
            suite.samples.vms_bytes.truncate(3);
        }
        insta::assert_snapshot!(render_json(&report));
    }

    #[test]
    fn flat_arrays_collapse_and_strings_are_untouched() {
        let report = report_of(&mixed_outcomes());
        let text = render_json(&report);
        assert!(text.contains("\"t_ms\": [0, 100, 200, 300,"), "{text}");
        assert!(text.contains("\"tags\": [\"node\", \"fast\"]"));
        assert_eq!(serde_json::from_str::<Report>(&text).unwrap(), report);
        let tricky =
            "{\n  \"a\": [\n    \"≥x],\\\"[y\",\n    \"z\"\n  ],\n  \"b\": [\n    {}\n  ]\n}";
        let collapsed = collapse_flat_arrays(tricky);
        assert_eq!(
            collapsed,
            "{\n  \"a\": [\"≥x],\\\"[y\", \"z\"],\n  \"b\": [\n    {}\n  ]\n}"
        );
    }

    #[test]
    fn an_interrupted_run_still_writes_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let step_summary = dir.path().join("step.md");
        std::fs::write(&step_summary, "earlier step\n").unwrap();
        let opts = ReportOptions {
            json: Some(dir.path().join("out/report.json")),
            junit: Some(dir.path().join("out/junit.xml")),
            plot_dir: Some(dir.path().join("out/plots")),
            summary: Some(dir.path().join("out/summary.md")),
            step_summary: Some(step_summary.clone()),
            github: true,
            ..ReportOptions::default()
        };
        let sink = Sink::default();
        let collector =
            Collector::new().with_start(UNIX_EPOCH + Duration::from_millis(START_UNIX_MS));
        let mut reporter =
            FilesReporter::with_output(opts.clone(), collector, Box::new(sink.clone()));
        for outcome in mixed_outcomes().into_iter().take(3) {
            reporter.on_event(&Event::SuiteFinished {
                outcome: Box::new(outcome),
            });
        }
        reporter.on_event(&Event::Interrupted);
        reporter.finish().unwrap();

        let json = std::fs::read_to_string(opts.json.unwrap()).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert!(back.interrupted && !back.success);
        assert_eq!(back.totals.suites, 3);
        assert!(std::fs::read_to_string(opts.junit.unwrap())
            .unwrap()
            .contains("<testsuites"));
        assert_eq!(
            std::fs::read_dir(opts.plot_dir.unwrap()).unwrap().count(),
            3
        );
        let summary = std::fs::read_to_string(opts.summary.unwrap()).unwrap();
        assert!(
            summary.contains("](plots/node-optimize-loop.svg)"),
            "{summary}"
        );
        let step = std::fs::read_to_string(step_summary).unwrap();
        assert!(
            step.starts_with("earlier step\n## memtest: interrupted"),
            "{step}"
        );
        assert_eq!(sink.text().lines().count(), 1);
    }

    #[test]
    fn summary_naming_the_step_summary_is_appended_once() {
        let dir = tempfile::tempdir().unwrap();
        let step = dir.path().join("step.md");
        std::fs::write(&step, "earlier step\n").unwrap();
        let opts = ReportOptions {
            summary: Some(step.clone()),
            step_summary: Some(step.clone()),
            ..ReportOptions::default()
        };
        write_files(&report_of(&mixed_outcomes()), &opts, &mut Vec::new()).unwrap();
        let text = std::fs::read_to_string(&step).unwrap();
        assert!(
            text.starts_with("earlier step\n## memtest: failed"),
            "{text}"
        );
        assert_eq!(text.matches("## memtest").count(), 1);
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let opts = ReportOptions {
            json: Some(blocker.join("report.json")),
            ..ReportOptions::default()
        };
        let err = write_files(&report_of(&[]), &opts, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("report.json"), "{err}");
    }
}
