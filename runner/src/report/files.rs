//! Result files and CI output: the JSON report, JUnit XML, plots, the HTML
//! page, the markdown summary (and the GitHub step summary), and `::error`
//! annotations, each made by its format's [`Exporter`]; this module only
//! says where each goes. [`write_files`] works on a [`Report`], so `memtest
//! merge` reuses it; the
//! [`FilesReporter`] collects a run's events and calls it from `finish`, which
//! the app calls after an interrupt too, so an interrupted run still leaves
//! valid files.

use super::builder::ReportBuilder;
use super::export::Exporter;
use super::github::AnnotationsExporter;
use super::html::{self, HtmlExporter};
use super::json::JsonExporter;
use super::junit::JunitExporter;
use super::markdown::{self, MarkdownExporter};
use super::model::Report;
use super::{plot, ReportError, ReportOptions, Reporter};
use crate::atomic::{append, write_atomic};
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
    pub html: Option<PathBuf>,
    /// Suite name -> its SVG.
    pub plots: BTreeMap<String, PathBuf>,
    pub annotations: usize,
}

/// Where an exporter's bytes go.
enum Output {
    /// Replaced atomically.
    File(PathBuf),
    /// Appended to (the GitHub step summary is shared by every step).
    Append(PathBuf),
    /// Workflow commands, on stdout in the binary.
    Annotations,
}

/// Writes every output `opts` asks for, each through its format's
/// [`Exporter`]; annotations go to `annotations` (stdout in the binary:
/// GitHub reads workflow commands there). Every output is attempted; the
/// first error is returned.
pub fn write_files(
    report: &Report,
    opts: &ReportOptions,
    annotations: &mut dyn Write,
) -> Result<Written, ReportError> {
    let mut written = Written::default();
    let mut outputs: Vec<(Output, Box<dyn Exporter>)> = Vec::new();
    let mut first_error: Option<ReportError> = None;
    // The JSON first: it is what merge and baselines are made from.
    if let Some(path) = &opts.json {
        outputs.push((Output::File(path.clone()), Box::new(JsonExporter)));
        written.json = Some(path.clone());
    }
    if let Some(path) = &opts.junit {
        outputs.push((Output::File(path.clone()), Box::new(JunitExporter)));
        written.junit = Some(path.clone());
    }
    if let Some(dir) = &opts.plot_dir {
        for suite in plot::plottable(report) {
            let path = dir.join(plot::file_name(&suite.name));
            written.plots.insert(suite.name.clone(), path);
        }
    }
    for (suite, path) in &written.plots {
        let svg = plot::SvgExporter {
            suite: suite.clone(),
        };
        outputs.push((Output::File(path.clone()), Box::new(svg)));
    }
    if let Some(path) = &opts.html {
        match html::Comparison::load(opts) {
            Ok(baseline) => outputs.push((
                Output::File(path.clone()),
                Box::new(HtmlExporter { baseline }),
            )),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        written.html = Some(path.clone());
    }
    // `--summary $GITHUB_STEP_SUMMARY` names the shared step summary: append
    // to it once rather than replacing what earlier steps wrote.
    let summary_is_step = opts.summary.is_some() && opts.summary == opts.step_summary;
    if let Some(path) = &opts.summary {
        let plot_links = markdown::plot_links(path, &written.plots);
        let sink = if summary_is_step {
            Output::Append(path.clone())
        } else {
            Output::File(path.clone())
        };
        outputs.push((sink, Box::new(MarkdownExporter { plot_links })));
        written.summary = Some(path.clone());
    }
    if let Some(path) = opts.step_summary.as_ref().filter(|_| !summary_is_step) {
        // Plots are files on the runner, not links a browser can follow.
        let plot_links = BTreeMap::new();
        outputs.push((
            Output::Append(path.clone()),
            Box::new(MarkdownExporter { plot_links }),
        ));
    }
    if opts.github {
        outputs.push((Output::Annotations, Box::new(AnnotationsExporter)));
    }
    for (sink, exporter) in outputs {
        let result = exporter
            .export(report)
            .and_then(|bytes| emit(&sink, &bytes, annotations, &mut written));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

fn emit(
    sink: &Output,
    bytes: &[u8],
    annotations: &mut dyn Write,
    written: &mut Written,
) -> Result<(), ReportError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| ReportError::Write { path, source }
    };
    match sink {
        Output::File(path) => write_atomic(path, bytes).map_err(failed(path)),
        Output::Append(path) => append(path, bytes).map_err(failed(path)),
        Output::Annotations => {
            written.annotations = bytes.iter().filter(|b| **b == b'\n').count();
            annotations
                .write_all(bytes)
                .and_then(|()| annotations.flush())
                .map_err(failed(Path::new("<stdout>")))
        }
    }
}

/// Collects the run and writes the files when it finishes.
pub struct FilesReporter {
    opts: ReportOptions,
    builder: ReportBuilder,
    annotations: Box<dyn Write + Send>,
}

impl FilesReporter {
    pub fn new(opts: ReportOptions) -> FilesReporter {
        FilesReporter::with_output(opts, ReportBuilder::new(), Box::new(std::io::stdout()))
    }

    /// With a given builder (pinned start time) and annotation sink (tests).
    pub fn with_output(
        opts: ReportOptions,
        builder: ReportBuilder,
        annotations: Box<dyn Write + Send>,
    ) -> FilesReporter {
        FilesReporter {
            opts,
            builder,
            annotations,
        }
    }
}

impl Reporter for FilesReporter {
    fn on_event(&mut self, event: &Event) {
        self.builder.on_event(event);
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let report = self.builder.report();
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
        insta::assert_snapshot!(super::super::render_json(&report));
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
        let builder =
            ReportBuilder::new().with_start(UNIX_EPOCH + Duration::from_millis(START_UNIX_MS));
        let mut reporter =
            FilesReporter::with_output(opts.clone(), builder, Box::new(sink.clone()));
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
