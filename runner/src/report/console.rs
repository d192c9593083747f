//! Live progress on stderr, then the summary. On a terminal a status line
//! (stage or running suites, done/total, elapsed) is redrawn in place by a
//! small ticker thread, with one permanent line per finished suite or stage
//! printed above it. Off a terminal (CI logs, pipes) there is exactly one line
//! per finished stage and per finished suite and no control codes, so logs
//! stay greppable.

use super::export::Exporter;
use super::model::{Report, ReportBuilder, SuiteReport};
use super::table::{self, SummaryExporter};
use super::text::{self, Paint};
use super::{ReportError, ReportOptions, Reporter};
use crate::model::{Criterion, Event, Stage};
use crate::units::format_duration;
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Width of the right-aligned label column (fits "CANARY MISSED").
const LABEL_WIDTH: usize = 13;
/// How often the status line's elapsed time is refreshed.
const TICK: Duration = Duration::from_millis(250);
/// Erase the current terminal line and return to its start.
const CLEAR_LINE: &str = "\r\x1b[2K";

/// Progress lines while the run goes, the summary table when it ends.
pub struct ConsoleReporter {
    console: Arc<Mutex<Console>>,
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

struct Console {
    out: Box<dyn Write + Send>,
    paint: Paint,
    tty: bool,
    verbose: bool,
    /// Columns of the terminal; `None` asks the terminal on each redraw.
    width: Option<usize>,
    builder: ReportBuilder,
    started: Instant,
    total: usize,
    done: usize,
    running: Vec<String>,
    stage: Option<(Stage, String, Instant)>,
    status_shown: bool,
    finished: bool,
}

impl ConsoleReporter {
    /// Writes to stderr; redraws a status line when stderr is a terminal.
    pub fn stderr(opts: &ReportOptions) -> ConsoleReporter {
        let reporter = ConsoleReporter::to_writer(Box::new(std::io::stderr()), opts, None);
        if opts.tty {
            reporter.with_ticker()
        } else {
            reporter
        }
    }

    /// Writes to `out` (tests); `width` fixes the terminal width in tty mode.
    pub fn to_writer(
        out: Box<dyn Write + Send>,
        opts: &ReportOptions,
        width: Option<usize>,
    ) -> ConsoleReporter {
        let console = Console {
            out,
            paint: Paint {
                enabled: opts.color,
            },
            tty: opts.tty,
            verbose: opts.verbose,
            width,
            builder: ReportBuilder::new(),
            started: Instant::now(),
            total: 0,
            done: 0,
            running: Vec::new(),
            stage: None,
            status_shown: false,
            finished: false,
        };
        ConsoleReporter {
            console: Arc::new(Mutex::new(console)),
            ticker: None,
        }
    }

    /// Pins the report's start time (tests).
    pub fn with_builder(self, builder: ReportBuilder) -> ConsoleReporter {
        self.console.lock().expect("console lock").builder = builder;
        self
    }

    /// Refreshes the elapsed time between events: events alone can be minutes
    /// apart while a long suite runs.
    fn with_ticker(mut self) -> ConsoleReporter {
        let (stop, stopped) = mpsc::channel::<()>();
        let console = Arc::clone(&self.console);
        let handle = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                let Ok(mut console) = console.lock() else {
                    return;
                };
                if console.finished {
                    return;
                }
                console.redraw();
            }
        });
        self.ticker = Some((stop, handle));
        self
    }

    fn stop_ticker(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
    }
}

impl Drop for ConsoleReporter {
    /// A run that ends without `finish` (a stage failed, so there is no
    /// StageFinished and no summary) must not leave its status line on screen
    /// for the error message to be printed after: the ticker is stopped first
    /// so that nothing redraws it, then the line is cleared.
    fn drop(&mut self) {
        self.stop_ticker();
        if let Ok(mut console) = self.console.lock() {
            if !console.finished {
                console.finished = true;
                let _ = console.clear_status();
                let _ = console.out.flush();
            }
        }
    }
}

impl Reporter for ConsoleReporter {
    fn on_event(&mut self, event: &Event) {
        if let Ok(mut console) = self.console.lock() {
            console.on_event(event);
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.stop_ticker();
        let mut console = self.console.lock().expect("console lock");
        console.finished = true;
        console.clear_status()?;
        let summary = SummaryExporter {
            paint: console.paint,
        }
        .export(&console.builder.report())
        .map_err(ReportError::into_io)?;
        console.out.write_all(b"\n")?;
        console.out.write_all(&summary)?;
        console.out.flush()
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

impl Console {
    fn on_event(&mut self, event: &Event) {
        self.builder.on_event(event);
        // A console that cannot be written to has no one to tell.
        let _ = self.handle(event);
    }

    fn handle(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
            Event::StageStarted { stage, detail } => {
                self.stage = Some((*stage, detail.clone(), Instant::now()));
                self.redraw();
            }
            Event::StageFinished {
                stage,
                detail,
                duration,
            } => {
                self.stage = None;
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
                self.started = Instant::now();
                self.redraw();
            }
            Event::SuiteStarted { job, .. } => {
                self.running.push(job.suite.clone());
                self.redraw();
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

    /// A permanent line, above the status line on a terminal.
    fn println(&mut self, line: &str) -> std::io::Result<()> {
        self.clear_status()?;
        writeln!(self.out, "{line}")?;
        self.redraw();
        Ok(())
    }

    fn clear_status(&mut self) -> std::io::Result<()> {
        if self.status_shown {
            self.out.write_all(CLEAR_LINE.as_bytes())?;
            self.status_shown = false;
        }
        Ok(())
    }

    /// What the status line says now, or nothing when idle.
    fn status(&self) -> Option<String> {
        if self.running.is_empty() {
            let (stage, detail, since) = self.stage.as_ref()?;
            return Some(format!(
                "{:>LABEL_WIDTH$} {detail} {}",
                stage_doing(*stage),
                format_duration(since.elapsed())
            ));
        }
        Some(format!(
            "{:>LABEL_WIDTH$} [{}/{} done, {}] {}",
            "Running",
            self.done,
            self.total,
            format_duration(self.started.elapsed()),
            self.running.join(", ")
        ))
    }

    /// Redraws the status line in place (terminal only).
    fn redraw(&mut self) {
        if !self.tty || self.finished {
            return;
        }
        let Some(status) = self.status() else {
            let _ = self.clear_status();
            return;
        };
        let width = self.width.unwrap_or_else(terminal_width);
        // One column short: writing the last column makes some terminals wrap.
        let status: String = status.chars().take(width.saturating_sub(1)).collect();
        let _ = write!(self.out, "{CLEAR_LINE}{status}");
        let _ = self.out.flush();
        self.status_shown = true;
    }
}

/// Columns of the terminal on stderr; 80 when it cannot be asked.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ only writes a winsize into the struct we pass.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;
    use crate::model::Stream;
    use std::time::UNIX_EPOCH;

    fn run(opts: &ReportOptions) -> String {
        let sink = Sink::default();
        let builder =
            ReportBuilder::new().with_start(UNIX_EPOCH + Duration::from_millis(START_UNIX_MS));
        let mut reporter = ConsoleReporter::to_writer(Box::new(sink.clone()), opts, Some(60))
            .with_builder(builder);
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
        let text = run(&ReportOptions::default());
        assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
        let progress: Vec<&str> = text.split("\n\n").next().unwrap().lines().collect();
        assert_eq!(progress.len(), 1 + 5, "{progress:#?}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn verbose_prefixes_suite_output_with_its_name() {
        let text = run(&ReportOptions {
            verbose: true,
            ..ReportOptions::default()
        });
        assert!(
            text.contains("\nrust-memory-leak | TEST PASSED\n"),
            "{text}"
        );
        assert_eq!(text.matches(" | TEST PASSED").count(), 5);
    }

    #[test]
    fn a_failed_stage_leaves_no_status_line_behind() {
        let sink = Sink::default();
        let opts = ReportOptions {
            tty: true,
            ..ReportOptions::default()
        };
        let mut reporter = ConsoleReporter::to_writer(Box::new(sink.clone()), &opts, Some(60));
        reporter.on_event(&Event::StageStarted {
            stage: Stage::Build,
            detail: "cargo build -p pyjamaz (default)".into(),
        });
        assert!(sink
            .text()
            .ends_with("Building cargo build -p pyjamaz (default) 0ms"));
        // The stage fails: no StageFinished, no finish(); the app drops the
        // reporters before printing the error.
        drop(reporter);
        let text = sink.text();
        assert!(text.ends_with(CLEAR_LINE), "{text:?}");
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
        let text = run(&ReportOptions {
            tty: true,
            ..ReportOptions::default()
        });
        assert!(text.contains(&format!("{CLEAR_LINE}     Building pyjamaz (release)")));
        assert!(text.contains(&format!("{CLEAR_LINE}      Running [0/5 done, ")));
        // Every status line fits the 60-column terminal.
        for status in text.split(CLEAR_LINE).filter(|s| !s.contains('\n')) {
            assert!(status.chars().count() < 60, "{status:?}");
        }
        // The status line is gone before the summary starts.
        let summary_at = text.find("╭").unwrap();
        assert!(text[..summary_at].ends_with("\n\n"), "{text:?}");
    }
}
