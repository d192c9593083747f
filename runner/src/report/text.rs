//! Text shared by the human-facing writers: the reasons a suite did not
//! succeed (each failed criterion by the verdict's own `Display`, measured
//! figure beside its limit), the run's closing line, and colours.
//! Figures are formatted only through `crate::units`.

use super::model::{Report, SuiteReport, VerdictKind};
use crate::units::format_duration;

/// Why a suite that made no criterion fail is still not a success.
pub fn verdict_note(suite: &SuiteReport) -> Option<&'static str> {
    match suite.verdict {
        VerdictKind::CanaryMissed => {
            Some("canary passed: the suite did not catch the leak it was built to catch")
        }
        VerdictKind::Interrupted => Some("interrupted before it finished"),
        VerdictKind::Incomplete => Some(match suite.verdict() {
            crate::model::Verdict::Incomplete {
                stopped: crate::model::Stopped::TimedOut,
                ..
            } => "soak incomplete: timed out before its duration was up; judged on the samples it left",
            _ => "soak incomplete: interrupted before its duration was up; judged on the samples it left",
        }),
        _ => None,
    }
}

/// Every reason a suite is not a success, one sentence each.
pub fn reasons(suite: &SuiteReport) -> Vec<String> {
    verdict_note(suite)
        .map(str::to_string)
        .into_iter()
        .chain(suite.failures.iter().map(|f| f.text.clone()))
        .collect()
}

/// A soak by duration's figures, as one phrase: "soak of 6 passes: slope
/// +4 B/s over the run, +42 B/s over its last 25%".
pub fn soak(suite: &SuiteReport) -> Option<String> {
    let soak = suite.figures.soak.as_ref()?;
    let fit =
        |f: Option<crate::units::BytesPerSec>| f.map_or_else(|| "-".to_string(), |r| r.to_string());
    // A suite whose helpers know no duration runs its work once: say so,
    // since such a soak soaked nothing.
    let passes = suite.reported.get("soak_passes").map_or_else(
        || " (the suite did not repeat its work: no soak_passes)".to_string(),
        |n| format!(" of {n} {}", plural(*n as usize, "pass", "passes")),
    );
    Some(format!(
        "soak{passes}: slope {} over the run, {} over its last {:.0}%",
        fit(soak.whole),
        fit(soak.recent),
        soak.recent_window * 100.0
    ))
}

/// What a wrapper (valgrind, heaptrack) found, as one sentence.
pub fn findings(suite: &SuiteReport) -> Option<String> {
    let w = suite.wrapper.as_ref()?;
    Some(format!("{}: {}", w.tool, w.summary))
}

/// Why a wrapped run shows no verdict on its memory figures.
pub const WRAPPED_LIMITS_NOTE: &str =
    "RSS and VMS limits are not judged under a wrapper: the tool's own memory dominates them";

/// The closing line: counts and the overall result.
pub fn closing_line(report: &Report) -> String {
    let t = &report.totals;
    let mut parts = vec![
        format!("{} passed", t.passed),
        format!("{} failed", t.failed),
    ];
    if t.canary_caught + t.canary_missed > 0 {
        parts.push(format!(
            "{} {} caught",
            t.canary_caught,
            plural(t.canary_caught, "canary", "canaries")
        ));
        parts.push(format!(
            "{} {} missed",
            t.canary_missed,
            plural(t.canary_missed, "canary", "canaries")
        ));
    }
    if t.interrupted > 0 {
        parts.push(format!("{} interrupted", t.interrupted));
    }
    if t.incomplete > 0 {
        parts.push(format!("{} incomplete", t.incomplete));
    }
    format!(
        "{}: {} suite{} in {}: {}",
        report.result().label(),
        t.suites,
        plural(t.suites, "", "s"),
        format_duration(report.duration()),
        parts.join(", ")
    )
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    pub enabled: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn green(self, text: &str) -> String {
        self.wrap("1;32", text)
    }

    pub fn red(self, text: &str) -> String {
        self.wrap("1;31", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.wrap("1;33", text)
    }

    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    /// A verdict label in its colour: success green, interrupt yellow, else red.
    pub fn verdict(self, kind: VerdictKind, label: &str) -> String {
        match kind {
            VerdictKind::Passed | VerdictKind::CanaryCaught => self.green(label),
            VerdictKind::Interrupted | VerdictKind::Incomplete => self.yellow(label),
            VerdictKind::Failed | VerdictKind::CanaryMissed => self.red(label),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_off_adds_no_control_codes() {
        let off = Paint { enabled: false };
        assert_eq!(off.red("FAIL"), "FAIL");
        let on = Paint { enabled: true };
        assert!(on.red("FAIL").contains("\x1b[1;31m"));
    }
}
