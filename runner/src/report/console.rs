//! Live progress on stderr, then the summary. On a terminal an indicatif
//! status line (the stage, or the running suites with done/total and the
//! elapsed time) is redrawn in place, with one permanent line per finished
//! suite or stage printed above it. Off a terminal (CI logs, pipes) there is
//! exactly one line per finished stage and per finished suite and no control
//! codes, so logs stay greppable.

use super::builder::ReportBuilder;
use super::export::Exporter;
use super::model::{Report, SuiteReport};
use super::table::{self, SummaryExporter};
use super::text::{self, Paint};
use super::{ReportError, ReportOptions, Reporter};
use crate::model::corpus::CorpusCounts;
use crate::model::{Criterion, Event, Stage};
use crate::units::format_duration;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};
use std::io::Write;
use std::time::Duration;

/// Width of the right-aligned label column (fits "CANARY MISSED").
const LABEL_WIDTH: usize = 13;
/// How often the status line's elapsed time is refreshed.
const TICK: Duration = Duration::from_millis(250);

/// Progress lines while the run goes, the summary table when it ends.
pub struct ConsoleReporter {
    /// Permanent lines off a terminal, and the summary.
    out: Box<dyn Write + Send>,
    /// The status line, on a terminal; permanent lines go above it.
    status: Option<ProgressBar>,
    paint: Paint,
    verbose: bool,
    builder: ReportBuilder,
    total: usize,
    done: usize,
    running: Vec<String>,
    /// A stage is under way (and no suite yet).
    staging: bool,
    /// The status line's template now (set only when it changes).
    template: &'static str,
    finished: bool,
    /// Print the summary table at the end (not for a brief run).
    summary: bool,
}

impl ConsoleReporter {
    /// Writes to stderr; a status line when stderr is a terminal.
    pub fn stderr(opts: &ReportOptions) -> ConsoleReporter {
        let term = opts.tty.then(ProgressDrawTarget::stderr);
        ConsoleReporter::new(Box::new(std::io::stderr()), opts, term)
    }

    /// Writes to `out`; with `term`, the status line is drawn there (a test's
    /// terminal) and `opts.tty` is not consulted.
    pub fn to_writer(
        out: Box<dyn Write + Send>,
        opts: &ReportOptions,
        term: Option<Box<dyn TermLike>>,
    ) -> ConsoleReporter {
        ConsoleReporter::new(out, opts, term.map(ProgressDrawTarget::term_like))
    }

    fn new(
        out: Box<dyn Write + Send>,
        opts: &ReportOptions,
        target: Option<ProgressDrawTarget>,
    ) -> ConsoleReporter {
        let status = target.map(|target| {
            let bar = ProgressBar::with_draw_target(None, target);
            bar.set_style(style(IDLE));
            bar.enable_steady_tick(TICK);
            bar
        });
        ConsoleReporter {
            out,
            status,
            paint: Paint {
                enabled: opts.color,
            },
            verbose: opts.verbose,
            builder: ReportBuilder::new(),
            total: 0,
            done: 0,
            running: Vec::new(),
            staging: false,
            template: IDLE,
            finished: false,
            summary: !opts.brief,
        }
    }

    /// Pins the report's start time (tests).
    pub fn with_builder(mut self, builder: ReportBuilder) -> ConsoleReporter {
        self.builder = builder;
        self
    }
}

/// The status line's templates: nothing, a stage (its message is the
/// stage's label and detail, so one change draws one frame), the running
/// suites.
const IDLE: &str = "";
const STAGE: &str = "{wide_msg} {took}";
const SUITES: &str = "      Running [{pos}/{len} done, {took}] {wide_msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("the status templates are valid")
        .with_key(
            "took",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&format_duration(state.elapsed()));
            },
        )
}

impl Drop for ConsoleReporter {
    /// A run that ends without `finish` (a stage failed, so there is no
    /// StageFinished and no summary) must not leave its status line on screen
    /// for the error message to be printed after.
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            if let Some(bar) = &self.status {
                bar.finish_and_clear();
            }
            let _ = self.out.flush();
        }
    }
}

impl Reporter for ConsoleReporter {
    fn on_event(&mut self, event: &Event) {
        self.builder.on_event(event);
        // A console that cannot be written to has no one to tell.
        let _ = self.handle(event);
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.finished = true;
        if let Some(bar) = &self.status {
            bar.finish_and_clear();
        }
        if !self.summary {
            return self.out.flush();
        }
        let summary = SummaryExporter { paint: self.paint }
            .export(&self.builder.report())
            .map_err(ReportError::into_io)?;
        self.out.write_all(b"\n")?;
        self.out.write_all(&summary)?;
        self.out.flush()
    }
}

/// Prints the summary table, failure listing and closing line of a report
/// that did not come from a live run (e.g. `memtest merge`) to stderr.
pub fn print_summary(report: &Report, opts: &ReportOptions) -> std::io::Result<()> {
    let paint = Paint {
        enabled: opts.color,
    };
    let text = SummaryExporter { paint }
        .export(report)
        .map_err(ReportError::into_io)?;
    std::io::stderr().write_all(&text)
}

fn stage_done(stage: Stage) -> &'static str {
    match stage {
        Stage::Preflight => "Checked",
        Stage::Setup => "Set up",
        Stage::Build => "Built",
        // The detail says whether the set was "cached" or "generated".
        Stage::Fixtures => "Prepared",
    }
}

fn stage_doing(stage: Stage) -> &'static str {
    match stage {
        Stage::Preflight => "Checking",
        Stage::Setup => "Setting up",
        Stage::Build => "Building",
        // Whether the set must be regenerated is only known at the end.
        Stage::Fixtures => "Preparing",
    }
}

/// `label` right-aligned in the label column, painted without its padding.
fn aligned(label: &str, painted: String) -> String {
    let pad = LABEL_WIDTH.saturating_sub(label.chars().count());
    format!("{}{painted}", " ".repeat(pad))
}

/// The one line a finished suite gets: verdict, duration, figures and, when
/// it did not succeed, why.
pub(crate) fn suite_line(suite: &SuiteReport, paint: Paint) -> String {
    let label = suite.label();
    let figures: Vec<String> = Criterion::columns()
        .filter(|(_, column)| column.in_line)
        .filter_map(|(c, column)| Some(format!("{} {}", column.header, suite.figure(c)?)))
        .collect();
    let mut line = format!(
        "{} [{:>7}] {} ({}): {}",
        aligned(label, paint.verdict(suite.verdict, label)),
        format_duration(suite.duration()),
        suite.name,
        suite.runtime.as_str(),
        figures.join(", "),
    );
    if let Some(floor) = &suite.floor {
        line.push_str(&format!(" — {floor}"));
    }
    if let Some(soak) = text::soak(suite) {
        line.push_str(&format!("; {soak}"));
    }
    if let Some(corpus) = CorpusCounts::from_reported(&suite.reported) {
        line.push_str(&format!(", {corpus}"));
    }
    let listed = table::is_listed(suite.verdict);
    let among_reasons = listed && suite.tripped(Criterion::Wrapper);
    if let Some(findings) = text::findings(suite).filter(|_| !among_reasons) {
        line.push_str(&format!(", {findings}"));
    }
    if listed {
        line.push_str(" - ");
        line.push_str(&text::reasons(suite).join("; "));
    }
    line
}

impl ConsoleReporter {
    fn handle(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
            Event::StageStarted { stage, detail } => {
                self.staging = true;
                self.show(STAGE);
                if let Some(bar) = &self.status {
                    bar.reset_elapsed();
                    let doing = stage_doing(*stage);
                    bar.set_message(format!("{doing:>LABEL_WIDTH$} {detail}"));
                }
            }
            Event::StageFinished {
                stage,
                detail,
                duration,
            } => {
                self.staging = false;
                // Blank until the next stage or the suites say otherwise.
                self.show(IDLE);
                let verb = stage_done(*stage);
                let line = format!(
                    "{} {detail} in {}",
                    aligned(verb, self.paint.green(verb)),
                    format_duration(*duration)
                );
                self.println(&line)?;
            }
            Event::RunStarted { suites, .. } => {
                self.total = *suites;
                if let Some(bar) = &self.status {
                    bar.set_length(*suites as u64);
                    bar.reset_elapsed();
                }
                self.show_running();
            }
            Event::SuiteStarted { job, .. } => {
                self.running.push(job.suite.clone());
                self.show_running();
            }
            Event::Output { suite, line, .. } => {
                if self.verbose {
                    let prefix = self.paint.dim(&format!("{suite} |"));
                    self.println(&format!("{prefix} {line}"))?;
                }
            }
            Event::SuiteFinished { outcome } => {
                self.running.retain(|name| name != &outcome.job.suite);
                self.done += 1;
                let line = suite_line(&SuiteReport::from_outcome(outcome), self.paint);
                self.println(&line)?;
                self.show_running();
            }
            Event::Interrupted => {
                let label = "Interrupted";
                let line = format!(
                    "{} stopping {} running suite{}",
                    aligned(label, self.paint.yellow(label)),
                    self.running.len(),
                    if self.running.len() == 1 { "" } else { "s" }
                );
                self.println(&line)?;
            }
            Event::RunFinished { .. } => {}
        }
        self.out.flush()
    }

    /// A permanent line: above the status line on a terminal.
    fn println(&mut self, line: &str) -> std::io::Result<()> {
        match &self.status {
            Some(bar) => {
                bar.println(line);
                Ok(())
            }
            None => writeln!(self.out, "{line}"),
        }
    }

    /// The status line while suites run: done/total and their names; blank
    /// between the last suite and the summary.
    fn show_running(&mut self) {
        if self.status.is_none() {
            return;
        }
        if self.running.is_empty() && (self.staging || self.done == self.total) {
            if !self.staging {
                self.show(IDLE);
            }
            return;
        }
        let (done, names) = (self.done as u64, self.running.join(", "));
        self.show(SUITES);
        if let Some(bar) = &self.status {
            bar.set_message(names);
            bar.set_position(done);
        }
    }

    /// Switches the status line to `template`, if it is not showing it.
    fn show(&mut self, template: &'static str) {
        if let Some(bar) = self.status.as_ref().filter(|_| self.template != template) {
            // Drawn by the next change (a ticking bar ignores `tick`).
            bar.set_style(style(template));
            self.template = template;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;
    use crate::model::Stream;
    use std::time::UNIX_EPOCH;

    /// Erase the current terminal line and return to its start.
    const CLEAR_LINE: &str = "\r\x1b[2K";

    /// A terminal of `width` columns that records what is drawn on it, in
    /// the same buffer as the reporter's other output.
    #[derive(Debug, Clone)]
    struct Screen {
        sink: Sink,
        width: u16,
    }

    impl Screen {
        fn put(&self, s: &str) -> std::io::Result<()> {
            self.sink.clone().write_all(s.as_bytes())
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            self.put(&format!("\x1b[{n}A"))
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.put(&format!("\x1b[{n}B"))
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            self.put(&format!("\x1b[{n}C"))
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            self.put(&format!("\x1b[{n}D"))
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.put(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.put(s)
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.put(CLEAR_LINE)
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What was drawn, without cursor moves, cut where lines were cleared.
    fn drawn(text: &str) -> Vec<String> {
        let mut plain = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("\x1b[") {
            plain.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let end = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
            match after[end..].chars().next() {
                Some('A' | 'B' | 'C' | 'D') => rest = &after[end + 1..],
                _ => {
                    plain.push_str("\x1b[");
                    rest = after;
                }
            }
        }
        plain.push_str(rest);
        plain.split(CLEAR_LINE).map(str::to_string).collect()
    }

    fn screen(sink: &Sink) -> Option<Box<dyn TermLike>> {
        Some(Box::new(Screen {
            sink: sink.clone(),
            width: 60,
        }))
    }

    fn run(opts: &ReportOptions, tty: bool) -> String {
        let sink = Sink::default();
        let builder =
            ReportBuilder::new().with_start(UNIX_EPOCH + Duration::from_millis(START_UNIX_MS));
        let term = if tty { screen(&sink) } else { None };
        let mut reporter =
            ConsoleReporter::to_writer(Box::new(sink.clone()), opts, term).with_builder(builder);
        let outcomes = mixed_outcomes();
        let mut events = vec![
            Event::StageStarted {
                stage: Stage::Build,
                detail: "pyjamaz (release)".into(),
            },
            Event::StageFinished {
                stage: Stage::Build,
                detail: "pyjamaz (release)".into(),
                duration: Duration::from_millis(62_000),
            },
            Event::RunStarted {
                suites: outcomes.len(),
                jobs: 2,
            },
        ];
        for outcome in outcomes {
            events.push(Event::SuiteStarted {
                job: Box::new(outcome.job.clone()),
                pid: 4242,
            });
            events.push(Event::Output {
                suite: outcome.job.suite.clone(),
                stream: Stream::Stdout,
                line: "TEST PASSED".into(),
            });
            events.push(Event::SuiteFinished {
                outcome: Box::new(outcome),
            });
        }
        events.push(Event::RunFinished {
            duration: Duration::from_millis(12_345),
        });
        for event in &events {
            reporter.on_event(event);
        }
        reporter.finish().unwrap();
        sink.text()
    }

    #[test]
    fn non_tty_progress_is_one_line_per_stage_and_suite() {
        let text = run(&ReportOptions::default(), false);
        assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
        let progress: Vec<&str> = text.split("\n\n").next().unwrap().lines().collect();
        assert_eq!(progress.len(), 1 + 5, "{progress:#?}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn verbose_prefixes_suite_output_with_its_name() {
        let text = run(
            &ReportOptions {
                verbose: true,
                ..ReportOptions::default()
            },
            false,
        );
        assert!(
            text.contains("\nrust-memory-leak | TEST PASSED\n"),
            "{text}"
        );
        assert_eq!(text.matches(" | TEST PASSED").count(), 5);
    }

    #[test]
    fn a_brief_run_prints_its_suites_but_no_summary() {
        let full = run(&ReportOptions::default(), false);
        let brief = run(
            &ReportOptions {
                brief: true,
                ..ReportOptions::default()
            },
            false,
        );
        // The same progress lines, then nothing: no table, no closing line.
        let progress = full.split("\n\n").next().unwrap();
        assert_eq!(brief.trim_end(), progress.trim_end());
        assert!(full.contains("╭") && !brief.contains("╭"), "{brief}");
    }

    #[test]
    fn a_failed_stage_leaves_no_status_line_behind() {
        let sink = Sink::default();
        let opts = ReportOptions::default();
        let mut reporter = ConsoleReporter::to_writer(Box::new(sink.clone()), &opts, screen(&sink));
        reporter.on_event(&Event::StageStarted {
            stage: Stage::Build,
            detail: "cargo build -p pyjamaz (default)".into(),
        });
        let shown = drawn(&sink.text());
        assert!(
            shown
                .last()
                .unwrap()
                .starts_with("     Building cargo build -p pyjamaz (default)"),
            "{shown:?}"
        );
        // The stage fails: no StageFinished, no finish(); the app drops the
        // reporters before printing the error.
        drop(reporter);
        let text = sink.text();
        assert_eq!(
            drawn(&text).last().map(String::as_str),
            Some(""),
            "{text:?}"
        );
        assert!(
            !text.contains('\n'),
            "nothing permanent was printed: {text:?}"
        );
    }

    #[test]
    fn fixtures_read_right_whether_cached_or_generated() {
        for how in ["cached", "generated"] {
            let sink = Sink::default();
            let mut reporter =
                ConsoleReporter::to_writer(Box::new(sink.clone()), &ReportOptions::default(), None);
            reporter.on_event(&Event::StageFinished {
                stage: Stage::Fixtures,
                detail: format!(".memtest/fixtures ({how}, 12 files)"),
                duration: Duration::from_millis(3),
            });
            assert_eq!(
                sink.text(),
                format!("     Prepared .memtest/fixtures ({how}, 12 files) in 3ms\n")
            );
        }
    }

    #[test]
    fn tty_redraws_a_status_line_in_place_and_clears_it() {
        let text = run(&ReportOptions::default(), true);
        let shown = drawn(&text);
        let status = |start: &str| shown.iter().any(|s| s.starts_with(start));
        assert!(status("     Building pyjamaz (release)"), "{shown:#?}");
        assert!(status("      Running [0/5 done, "), "{shown:#?}");
        assert!(status("      Running [2/5 done, "), "{shown:#?}");
        // Every status line fits the 60-column terminal: indicatif pads a
        // line above the status to the full width instead of ending it, so
        // the status is the last 60-column row drawn, and begins with its
        // label unless it wrapped.
        for segment in &shown {
            let line: Vec<char> = segment.rsplit('\n').next().unwrap().chars().collect();
            let Some(row) = line.chunks(60).last() else {
                continue;
            };
            let row: String = row.iter().collect();
            let label = row.chars().take(LABEL_WIDTH).collect::<String>();
            assert!(
                ["Building", "Running"].contains(&label.trim()),
                "{row:?} in {segment:?}"
            );
        }
        assert!(text.contains("        Built pyjamaz (release) in 1m02s"));
        // The suites' lines are permanent, above the status line.
        assert!(text.contains("    CANARY OK [   3.0s] rust-canary-leak (rust): "));
        // The status line is gone before the summary starts.
        let summary_at = text.find("╭").unwrap();
        let before = drawn(&text[..summary_at]);
        assert_eq!(before.last().map(String::as_str), Some("\n"), "{before:?}");
    }
}
