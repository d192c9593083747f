//! `memtest list`: one row per suite with what a run would use (the
//! resolver's timeout and limits, after profile and wrapper), fitted to the
//! terminal's width. `memtest show` gives every setting and its source.

use crate::config::{ResolvedSuite, DEFAULT_VARIANT};
use crate::floor::FloorsFile;
use crate::model::{Criterion, Expect, Rule};
use tabled::settings::{peaker::Priority, Style, Width};

/// The table `memtest list` prints; `width` is the terminal's, when known.
pub fn list_table(suites: &[ResolvedSuite<'_>], width: Option<usize>) -> String {
    #[derive(tabled::Tabled)]
    struct Row {
        name: String,
        runtime: String,
        tags: String,
        limits: String,
        timeout: String,
    }
    let mut rows = Vec::with_capacity(suites.len());
    for ResolvedSuite { suite, settings } in suites {
        let limits = &settings.judged_limits;
        // Each checked limit but the marker, which every suite has.
        let parts: Vec<String> = Criterion::limited()
            .filter(|(_, l)| l.rule != Rule::Printed)
            .filter_map(|(c, l)| Some(format!("{} <= {}", c.label(), (l.get)(limits)?)))
            .collect();
        let mut runtime = suite.runtime.clone();
        if settings.variant.value != DEFAULT_VARIANT {
            runtime.push_str(&format!(" ({})", settings.variant.value));
        }
        if let Some(w) = &settings.wrapper.value {
            runtime.push_str(&format!(" under {w}"));
        }
        let mut tags = suite.tags.join(", ");
        if suite.expect == Expect::Fail {
            let catches: Vec<&str> = settings.catches.value.iter().map(|c| c.name()).collect();
            let mut what = if catches.is_empty() {
                "expect fail".to_string()
            } else {
                format!("expect fail on {}", catches.join(", "))
            };
            if let Some(cap) = settings.canary_scale.value {
                what.push_str(&format!(" at scale <= {cap}"));
            }
            tags = if tags.is_empty() {
                what
            } else {
                format!("{tags}; {what}")
            };
        }
        rows.push(Row {
            name: suite.name.clone(),
            runtime,
            tags,
            limits: parts.join(", "),
            timeout: crate::units::format_duration(settings.run_timeout),
        });
    }
    let mut table = tabled::Table::new(rows);
    table.with(Style::sharp());
    if let Some(width) = width {
        // Wrap the widest columns first (limits, tags), keeping every row.
        table.with(
            Width::wrap(width)
                .keep_words(true)
                .priority(Priority::max(true)),
        );
    }
    table.to_string()
}

/// The detection floors of the listed suites that `floors` holds (`list
/// --floors FILE`), with the profile and scale each was measured at.
pub fn floors_table(floors: &FloorsFile, suites: &[&str]) -> String {
    #[derive(tabled::Tabled)]
    struct Row {
        suite: String,
        floor: String,
        #[tabled(rename = "measured at")]
        measured_at: String,
    }
    let rows: Vec<Row> = suites
        .iter()
        .filter_map(|s| floors.suites.get(*s))
        .map(|f| Row {
            suite: f.suite.clone(),
            floor: f.summary(),
            measured_at: format!(
                "profile {}, scale {}, {} heap{}",
                f.profile.as_deref().unwrap_or("default"),
                f.scale,
                f.heap,
                if f.every > 1 {
                    format!(", 1 call in {}", f.every)
                } else {
                    String::new()
                }
            ),
        })
        .collect();
    if rows.is_empty() {
        return "no floor of these suites in the floors file: `memtest floor NAME --save FILE` measures one".into();
    }
    let mut table = tabled::Table::new(rows);
    table.with(Style::sharp());
    format!("detection floors (the smallest leak each suite caught):\n{table}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Invocation, Suite};

    #[test]
    fn list_shows_what_a_run_uses_and_fits_a_narrow_terminal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "").unwrap();
        let text = r#"
[runtimes.py]
kind = "python"
program = "python3"
[profiles.ci]
timeout_factor = 2.0
canary_scale = 0.1
[wrappers.memcheck]
argv = ["valgrind", "--xml-file=${log_dir}/${suite}.xml"]
findings = "valgrind-xml"
timeout_factor = 30
[[suite]]
name = "py-a-suite-with-a-long-name"
runtime = "py"
script = "a.py"
timeout = "10s"
tags = ["python", "fast", "memory", "bindings"]
limits = { rss_growth = "16MB", peak_rss = "100MB", slope = "2MB/s" }
canaries = [{ mode = "retain", catches = ["exit_code"] }]
"#;
        let c = config::parse(text, &dir.path().join("memtest.toml"), dir.path()).unwrap();
        let suites: Vec<&Suite> = c.suites.iter().collect();
        let table = |wrapper: Option<&str>, width| {
            let inv = Invocation {
                profile: Some("ci".into()),
                wrapper: wrapper.map(str::to_string),
                ..Invocation::default()
            };
            list_table(&c.resolve_all(&suites, &inv).unwrap(), width)
        };
        let wide = table(None, None);
        assert!(wide.contains("20.0s"), "profile factor applied: {wide}");
        assert!(wide.contains("RSS growth <= +16.0 MB"), "{wide}");
        assert!(
            wide.contains("py-a-suite-with-a-long-name-canary-retain"),
            "{wide}"
        );
        assert!(
            wide.contains("expect fail on exit_code at scale <= 0.1"),
            "{wide}"
        );
        let wrapped = table(Some("memcheck"), None);
        assert!(
            wrapped.contains("10m00s"),
            "wrapper factor applied: {wrapped}"
        );
        assert!(
            !wrapped.contains("RSS growth"),
            "limits a wrapped run ignores: {wrapped}"
        );
        let narrow = table(None, Some(60));
        let widest = narrow.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= 60, "{widest} columns:\n{narrow}");
        for word in ["growth", "16.0", "100.0", "slope", "20.0s", "exit_code"] {
            assert!(narrow.contains(word), "{word} cut off: {narrow}");
        }
    }
}
