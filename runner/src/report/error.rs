//! The one place errors reach stderr: config errors (rendered by their own
//! Display, with line:col), build failures (carrying cargo's rendered output)
//! and anything else the binary gives up on. Each error prints as
//! `error: <message>` followed by its causes, so that "nothing but the
//! reporters prints" holds for the whole binary.

use super::text::Paint;
use std::error::Error;
use std::io::Write;

/// Renders an error and its `source()` chain: the message, then one
/// `caused by:` line per cause. A cause whose text the message already
/// contains is skipped, so wrapped errors are not printed twice.
pub fn render_error(err: &(dyn Error + 'static), color: bool) -> String {
    let paint = Paint { enabled: color };
    let message = err.to_string();
    let mut out = format!("{} {}", paint.red("error:"), indent_continuation(&message));
    let mut shown = message;
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !shown.contains(&text) {
            out.push_str(&format!(
                "\n  {} {}",
                paint.bold("caused by:"),
                indent_continuation(&text)
            ));
            shown.push_str(&text);
        }
        cause = c.source();
    }
    out.push('\n');
    out
}

/// Multi-line messages (cargo's compiler output, config snippets) stay
/// readable under the `error:` prefix.
fn indent_continuation(text: &str) -> String {
    text.trim_end().replace('\n', "\n    ")
}

/// Writes pre-run errors to a sink: stderr in the binary, a buffer in tests.
pub struct ErrorReporter {
    out: Box<dyn Write + Send>,
    color: bool,
}

impl ErrorReporter {
    pub fn stderr(color: bool) -> ErrorReporter {
        ErrorReporter::to_writer(Box::new(std::io::stderr()), color)
    }

    pub fn to_writer(out: Box<dyn Write + Send>, color: bool) -> ErrorReporter {
        ErrorReporter { out, color }
    }

    pub fn error(&mut self, err: &(dyn Error + 'static)) {
        let _ = self.out.write_all(render_error(err, self.color).as_bytes());
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::Sink;
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot build the core library")]
    struct Build {
        #[source]
        source: Cargo,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cargo failed:\nerror[E0425]: cannot find value `x`\n --> core/src/lib.rs:3:5")]
    struct Cargo;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read memtest.toml: no such file")]
    struct Repeats {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn renders_the_chain_with_multiline_causes_indented() {
        let text = render_error(&Build { source: Cargo }, false);
        assert_eq!(
            text,
            "error: cannot build the core library\n  caused by: cargo failed:\n    \
             error[E0425]: cannot find value `x`\n     --> core/src/lib.rs:3:5\n"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = Repeats {
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(
            render_error(&err, false),
            "error: cannot read memtest.toml: no such file\n"
        );
    }

    #[test]
    fn error_reporter_writes_to_its_sink() {
        let sink = Sink::default();
        let mut reporter = ErrorReporter::to_writer(Box::new(sink.clone()), false);
        reporter.error(&Build { source: Cargo });
        assert_eq!(sink.text(), render_error(&Build { source: Cargo }, false));
    }
}
