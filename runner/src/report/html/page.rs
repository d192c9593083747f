//! The page itself: a header with the run's verdict and totals, a sortable
//! table of suites (each figure beside its limit, and beside its baseline
//! when there is one), then one section per suite with its plot, the
//! criteria that decided it, its figures, the `MEMTEST` figures it reported,
//! its wrapper findings and the tail of its log. Failing suites come open,
//! passing ones folded, so the page opens on what needs attention.
//!
//! Figures go through `crate::units`; every bit of report text is escaped.

use super::super::model::{Report, SuiteReport, VerdictKind};
use super::super::table::SAMPLED_MARK;
use super::super::text;
use super::super::{plot, ReportError};
use super::Comparison;
use crate::model::{Criterion, Metric};
use crate::units::{format_duration, ByteDelta, Value};
use crate::verdict::baseline::BaselineEntry;
use std::fmt::Write;
use std::time::Duration;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");

/// Escapes text for HTML element content and quoted attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A stable element id for a suite (names may hold anything).
fn anchor(suite: &str) -> String {
    let stem = plot::file_name(suite);
    format!("suite-{}", stem.trim_end_matches(".svg"))
}

/// CSS class of a verdict: its colour on the page.
fn verdict_class(kind: VerdictKind) -> &'static str {
    match kind {
        VerdictKind::Passed => "passed",
        VerdictKind::Failed => "failed",
        VerdictKind::CanaryCaught => "caught",
        VerdictKind::CanaryMissed => "missed",
        VerdictKind::Interrupted => "interrupted",
    }
}

/// Sort key of a verdict: what needs attention first.
fn verdict_rank(kind: VerdictKind) -> u8 {
    match kind {
        VerdictKind::Failed => 0,
        VerdictKind::CanaryMissed => 1,
        VerdictKind::Interrupted => 2,
        VerdictKind::CanaryCaught => 3,
        VerdictKind::Passed => 4,
    }
}

/// One figure of one suite: the shown text, its limit, its baseline, the
/// number it sorts by, and whether its criterion tripped.
struct Figure {
    value: String,
    limit: Option<String>,
    baseline: Option<String>,
    sort: f64,
    tripped: bool,
}

/// The figures of the table, in its column order after the verdict: one
/// per criterion with a column in the criterion table.
fn figures(suite: &SuiteReport, base: Option<&BaselineEntry>) -> Vec<(&'static str, Figure)> {
    Criterion::columns()
        .map(|(criterion, column)| {
            let value = suite.figure(criterion);
            let baseline = Metric::of(criterion).and_then(|m| Some(m.value(base?.get(m)?)));
            let figure = Figure {
                sort: value.as_ref().map_or(f64::MIN, Value::magnitude),
                value: value.map_or_else(|| "-".to_string(), |v| v.to_string()),
                limit: suite.bound(criterion).map(|v| v.to_string()),
                baseline: baseline.map(|v| v.to_string()),
                tripped: suite.flagged(criterion),
            };
            (column.header, figure)
        })
        .collect()
}

/// A `MEMTEST name=value` figure; names ending in a unit get it shown.
fn reported_value(name: &str, value: f64) -> String {
    let whole = value.fract() == 0.0 && value.abs() < 1e15;
    if name.ends_with("_bytes") && whole {
        let text = ByteDelta(value as i64).to_string();
        format!("{} ({value})", text.trim_start_matches('+'))
    } else if name.ends_with("_ms") && whole && value >= 0.0 {
        format_duration(Duration::from_millis(value as u64))
    } else {
        value.to_string()
    }
}

/// A figure as table-cell content: value, then limit and baseline, smaller.
fn figure_cell(f: &Figure) -> String {
    let mut out = format!("<span class=\"val\">{}</span>", esc(&f.value));
    if let Some(limit) = &f.limit {
        let _ = write!(out, "<span class=\"lim\">limit {}</span>", esc(limit));
    }
    if let Some(base) = &f.baseline {
        let _ = write!(out, "<span class=\"was\">baseline {}</span>", esc(base));
    }
    out
}

/// The whole page for `report`, compared against `baseline` when given.
pub fn render(report: &Report, baseline: Option<&Comparison>) -> Result<String, ReportError> {
    let mut out = String::with_capacity(64 * 1024);
    let t = &report.totals;
    let (result, class) = (report.result().label(), report.result().name());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>memtest: {result}, {} suites</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        t.suites
    );
    let _ = write!(
        out,
        "<header class=\"run {class}\">\n<div class=\"result\">{result}</div>\n\
         <div class=\"closing\">{}</div>\n<p class=\"meta\">started {} &middot; {} {}",
        // The closing line starts with the result, already shown big above.
        esc(text::closing_line(report)
            .split_once(": ")
            .map_or("", |(_, counts)| counts)),
        esc(&report.started_at),
        esc(&report.tool.name),
        esc(&report.tool.version),
    );
    if let Some(b) = baseline {
        let _ = write!(
            out,
            " &middot; baseline <code>{}</code>",
            esc(&b.source.display().to_string())
        );
    }
    out.push_str("</p>\n<ul class=\"totals\">\n");
    for (n, label, class) in [
        (t.passed, "passed", "passed"),
        (t.failed, "failed", "failed"),
        (t.canary_caught, "canaries caught", "caught"),
        (t.canary_missed, "canaries missed", "missed"),
        (t.interrupted, "interrupted", "interrupted"),
    ] {
        let zero = if n == 0 { " zero" } else { "" };
        let _ = writeln!(out, "<li class=\"{class}{zero}\"><b>{n}</b> {label}</li>");
    }
    out.push_str("</ul>\n</header>\n<main>\n");
    suites_table(&mut out, report, baseline);
    out.push_str(
        "<div class=\"tools\"><button type=\"button\" data-expand=\"open\">expand all</button>\
         <button type=\"button\" data-expand=\"close\">collapse all</button></div>\n",
    );
    for suite in &report.suites {
        suite_section(&mut out, suite, baseline)?;
    }
    let _ = write!(
        out,
        "</main>\n<footer>memtest {} &middot; figures in decimal units (1 MB = 10<sup>6</sup> bytes); \
         {SAMPLED_MARK} marks a sampled peak, a lower bound</footer>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        esc(&report.tool.version)
    );
    Ok(out)
}

fn suites_table(out: &mut String, report: &Report, baseline: Option<&Comparison>) {
    out.push_str("<table id=\"suites\" class=\"suites\">\n<thead><tr>");
    let header = super::super::table::row_header();
    for (i, name) in header.into_iter().enumerate() {
        let _ = write!(
            out,
            "<th aria-sort=\"none\" data-col=\"{i}\"><button type=\"button\">{name}</button></th>"
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for suite in &report.suites {
        let base = baseline.and_then(|b| b.figures.get(&suite.name));
        let class = verdict_class(suite.verdict);
        let _ = write!(
            out,
            "<tr class=\"{class}\" data-suite=\"{}\">\
             <td data-sort=\"{}\"><a href=\"#{}\">{}</a></td>\
             <td data-sort=\"{rt}\">{rt}</td>\
             <td data-sort=\"{}\"><span class=\"badge {class}\">{}</span></td>",
            esc(&suite.name),
            esc(&suite.name),
            anchor(&suite.name),
            esc(&suite.name),
            verdict_rank(suite.verdict),
            suite.label(),
            rt = suite.runtime.as_str(),
        );
        for (_, f) in figures(suite, base) {
            let bad = if f.tripped { " class=\"tripped\"" } else { "" };
            let _ = write!(
                out,
                "<td data-sort=\"{}\"{bad}>{}</td>",
                f.sort,
                figure_cell(&f)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn suite_section(
    out: &mut String,
    suite: &SuiteReport,
    baseline: Option<&Comparison>,
) -> Result<(), ReportError> {
    let class = verdict_class(suite.verdict);
    let open = if suite.verdict == VerdictKind::Passed {
        ""
    } else {
        " open"
    };
    let _ = write!(
        out,
        "<section class=\"suite {class}\" id=\"{}\" data-suite=\"{}\">\n<details{open}>\n\
         <summary><span class=\"badge {class}\">{}</span> <h2>{}</h2>\
         <span class=\"sub\">{} &middot; {} &middot; {}</span></summary>\n<div class=\"body\">\n",
        anchor(&suite.name),
        esc(&suite.name),
        suite.label(),
        esc(&suite.name),
        suite.runtime.as_str(),
        format_duration(suite.duration()),
        esc(&suite.tags.join(", ")),
    );
    let reasons = text::reasons(suite);
    if !reasons.is_empty() {
        let heading = match suite.verdict {
            VerdictKind::CanaryCaught => "caught, as a canary must be, by",
            VerdictKind::CanaryMissed => "missed",
            _ => "failed criteria",
        };
        let _ = write!(out, "<div class=\"reasons\"><h3>{heading}</h3><ul>");
        for reason in reasons {
            let _ = write!(out, "<li>{}</li>", esc(&reason));
        }
        out.push_str("</ul></div>\n");
    }
    let series = baseline.and_then(|b| b.series.get(&suite.name));
    match plot::render_svg(suite, series)? {
        Some(svg) => {
            let _ = writeln!(out, "<figure class=\"plot\">{svg}</figure>");
        }
        None => out.push_str("<p class=\"noplot\">too few samples to plot</p>\n"),
    }
    out.push_str("<div class=\"facts\">\n");
    let base = baseline.and_then(|b| b.figures.get(&suite.name));
    let _ = write!(
        out,
        "<table class=\"figures\"><caption>figures</caption><thead><tr><th>figure</th>\
         <th>measured</th><th>limit</th>{}</tr></thead><tbody>",
        if baseline.is_some() {
            "<th>baseline</th>"
        } else {
            ""
        }
    );
    for (name, f) in figures(suite, base) {
        let bad = if f.tripped { " class=\"tripped\"" } else { "" };
        let _ = write!(
            out,
            "<tr{bad}><th>{name}</th><td>{}</td><td>{}</td>",
            esc(&f.value),
            esc(f.limit.as_deref().unwrap_or("-"))
        );
        if baseline.is_some() {
            let _ = write!(
                out,
                "<td>{}</td>",
                esc(f.baseline.as_deref().unwrap_or("-"))
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
    if !suite.reported.is_empty() {
        out.push_str(
            "<table class=\"reported\"><caption>reported by the suite (MEMTEST lines)</caption><tbody>",
        );
        for (name, value) in &suite.reported {
            let _ = write!(
                out,
                "<tr><th>{}</th><td>{}</td></tr>",
                esc(name),
                esc(&reported_value(name, *value))
            );
        }
        out.push_str("</tbody></table>\n");
    }
    if let Some(w) = &suite.wrapper {
        let _ = writeln!(
            out,
            "<div class=\"wrapper{}\"><h3>{} findings</h3><p>{}</p><p class=\"path\">{}</p></div>",
            if w.failing { " tripped" } else { "" },
            esc(&w.tool),
            esc(&w.summary),
            esc(&w
                .output
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()),
        );
    }
    out.push_str("</div>\n");
    let log_open = if suite.crashed() { " open" } else { "" };
    let _ = write!(
        out,
        "<details class=\"log\"{log_open}><summary>last {} lines of the log \
         <code>{}</code></summary><pre>",
        suite.log_tail.len(),
        esc(&suite.log.display().to_string())
    );
    for line in &suite.log_tail {
        out.push_str(&esc(line));
        out.push('\n');
    }
    out.push_str("</pre></details>\n</div>\n</details>\n</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::testdata::*;
    use super::*;
    use crate::verdict::baseline::Baseline;

    #[test]
    fn escapes_markup_in_report_text() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        let mut report = report_of(&mixed_outcomes()[..1]);
        report.suites[0].log_tail = vec!["<img src=x onerror=alert(1)>".into()];
        let page = render(&report, None).unwrap();
        assert!(!page.contains("<img src=x"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn reported_figures_show_their_units() {
        assert_eq!(
            reported_value("peak_rss_bytes", 61_747_200.0),
            "61.7 MB (61747200)"
        );
        assert_eq!(reported_value("duration_ms", 64_318.0), "1m04s");
        assert_eq!(reported_value("heap_freed_fraction", 0.3864), "0.3864");
        assert_eq!(reported_value("ops", 1500.0), "1500");
    }

    #[test]
    fn the_page_is_self_contained_with_a_row_and_a_plot_per_suite() {
        let report = report_of(&mixed_outcomes());
        let page = render(&report, None).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>memtest: FAILED, 5 suites</title>"));
        for needle in ["http://", "https://", "<link", "src=\"", "@import", "url("] {
            // The SVG namespace is an identifier, not a fetch.
            let found = page
                .match_indices(needle)
                .filter(|(i, _)| !page[..*i].ends_with("xmlns=\""))
                .count();
            assert_eq!(found, 0, "the page must not load {needle}");
        }
        for suite in &report.suites {
            let id = anchor(&suite.name);
            assert!(page.contains(&format!("href=\"#{id}\"")), "no row for {id}");
            let section = &page[page.find(&format!("id=\"{id}\"")).unwrap()..];
            let section = &section[..section.find("</section>").unwrap()];
            assert!(section.contains("<figure class=\"plot\"><svg"), "{id}");
        }
        assert_eq!(page.matches("><a href=\"#suite-").count(), 5);
        let node = &page[page.find("id=\"suite-node-optimize-loop\"").unwrap()..];
        assert!(node.starts_with(
            "id=\"suite-node-optimize-loop\" data-suite=\"node-optimize-loop\">\n<details open>"
        ));
        assert!(
            node.contains("<li>RSS grew +32.0 MB, limit +16.0 MB</li>"),
            "{}",
            &node[..3000]
        );
        assert!(page.contains("<td data-sort=\"32000000\" class=\"tripped\"><span class=\"val\">+32.0 MB</span><span class=\"lim\">limit +16.0 MB</span></td>"));
        assert!(page.contains("caught, as a canary must be, by"));
        // Passing suites come folded.
        let passed = &page[page.find("id=\"suite-rust-memory-leak\"").unwrap()..];
        assert!(passed.contains("<details>\n<summary>"));
    }

    #[test]
    fn a_baseline_report_puts_old_figures_and_curves_beside_the_new() {
        let report = report_of(&mixed_outcomes());
        let mut old = report.clone();
        for suite in &mut old.suites {
            suite.figures.peak_rss_bytes = 42_000_000;
            suite.figures.peak_rss_sampled_bytes = 42_000_000;
            suite.figures.peak_rss_exact = false;
        }
        let comparison = Comparison::from_report("old.json".into(), old);
        let page = render(&report, Some(&comparison)).unwrap();
        assert!(page.contains("baseline <code>old.json</code>"));
        assert!(page.contains("<span class=\"was\">baseline 42.0 MB</span>"));
        assert!(page.contains("<th>baseline</th>"));
        assert!(page.contains("RSS of the baseline run"));

        let figures_only = Comparison {
            source: "memtest-baseline.json".into(),
            figures: Baseline::from_outcomes(&mixed_outcomes()),
            series: Default::default(),
        };
        let page = render(&report, Some(&figures_only)).unwrap();
        assert!(page.contains("<span class=\"was\">baseline"));
        assert!(!page.contains("RSS of the baseline run"));
    }
}
