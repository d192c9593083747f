//! The page itself: a header with the run's verdict and totals, a sortable
//! table of suites (each figure beside its limit, and beside its baseline
//! when there is one), then one section per suite with its plot, the
//! criteria that decided it, its figures, the `MEMTEST` figures it reported,
//! its wrapper findings, where it leaked (a table of sites, each stack
//! folded in a `<details>`) and the tail of its log. Failing suites come open,
//! passing ones folded, so the page opens on what needs attention.
//!
//! Assembled with maud's `html!` templates, which escape every bit of
//! report text they are given; only the compiled-in style sheet and script
//! and the plots (SVG that plotters escaped itself) go in as they are.
//! Figures go through `crate::units`.

use super::super::model::{Report, SuiteReport, VerdictKind};
use super::super::sites::{site_name, source_name, unit_of};
use super::super::table::{self, SAMPLED_MARK};
use super::super::text;
use super::super::{plot, ReportError};
use super::Comparison;
use crate::model::{Criterion, Metric};
use crate::units::{format_duration, ByteDelta, Bytes, Value};
use crate::verdict::baseline::BaselineEntry;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::time::Duration;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");

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
        VerdictKind::Incomplete => "incomplete",
    }
}

/// Sort key of a verdict: what needs attention first.
fn verdict_rank(kind: VerdictKind) -> u8 {
    match kind {
        VerdictKind::Failed => 0,
        VerdictKind::CanaryMissed => 1,
        VerdictKind::Interrupted => 2,
        VerdictKind::Incomplete => 3,
        VerdictKind::CanaryCaught => 4,
        VerdictKind::Passed => 5,
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
fn figure_cell(f: &Figure) -> Markup {
    html! {
        span.val { (f.value) }
        @if let Some(limit) = &f.limit { span.lim { "limit " (limit) } }
        @if let Some(base) = &f.baseline { span.was { "baseline " (base) } }
    }
}

/// The whole page for `report`, compared against `baseline` when given.
pub fn render(report: &Report, baseline: Option<&Comparison>) -> Result<String, ReportError> {
    let t = &report.totals;
    let (result, class) = (report.result().label(), report.result().name());
    // The closing line starts with the result, already shown big above.
    let closing = text::closing_line(report);
    let counts = closing.split_once(": ").map_or("", |(_, counts)| counts);
    let mut totals = vec![
        (t.passed, "passed", "passed"),
        (t.failed, "failed", "failed"),
        (t.canary_caught, "canaries caught", "caught"),
        (t.canary_missed, "canaries missed", "missed"),
        (t.interrupted, "interrupted", "interrupted"),
    ];
    // Only soaks by duration can be incomplete: the count is shown when one was.
    if t.incomplete > 0 {
        totals.push((t.incomplete, "incomplete", "incomplete"));
    }
    let sections = report
        .suites
        .iter()
        .map(|suite| suite_section(suite, baseline))
        .collect::<Result<Vec<Markup>, ReportError>>()?;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "memtest: " (result) ", " (t.suites) " suites" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header class={ "run " (class) } {
                    div.result { (result) }
                    div.closing { (counts) }
                    p.meta {
                        "started " (report.started_at) " · " (report.tool.name) " " (report.tool.version)
                        @if let Some(b) = baseline {
                            " · baseline " code { (b.source.display()) }
                        }
                    }
                    ul.totals {
                        @for (n, label, class) in totals {
                            li class={ (class) @if n == 0 { " zero" } } { b { (n) } " " (label) }
                        }
                    }
                }
                main {
                    (suites_table(report, baseline))
                    div.tools {
                        button type="button" data-expand="open" { "expand all" }
                        button type="button" data-expand="close" { "collapse all" }
                    }
                    @for section in &sections { (section) }
                }
                footer {
                    "memtest " (report.tool.version) " · figures in decimal units (1 MB = 10"
                    sup { "6" } " bytes); " (SAMPLED_MARK) " marks a sampled peak, a lower bound"
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    Ok(page.into_string())
}

fn suites_table(report: &Report, baseline: Option<&Comparison>) -> Markup {
    html! {
        table #suites .suites {
            thead { tr {
                @for (i, name) in table::row_header().into_iter().enumerate() {
                    th aria-sort="none" data-col=(i) { button type="button" { (name) } }
                }
            } }
            tbody {
                @for suite in &report.suites {
                    @let base = baseline.and_then(|b| b.figures.get(&suite.name));
                    @let class = verdict_class(suite.verdict);
                    tr class=(class) data-suite=(suite.name) {
                        td data-sort=(suite.name) { a href={ "#" (anchor(&suite.name)) } { (suite.name) } }
                        td data-sort=(suite.runtime.as_str()) { (suite.runtime.as_str()) }
                        td data-sort=(verdict_rank(suite.verdict)) {
                            span class={ "badge " (class) } { (suite.label()) }
                            @if let Some(floor) = &suite.floor {
                                " " span.floor { "— " (floor) }
                            }
                        }
                        @for (_, f) in figures(suite, base) {
                            td data-sort=(f.sort) class=[f.tripped.then_some("tripped")] {
                                (figure_cell(&f))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn suite_section(
    suite: &SuiteReport,
    baseline: Option<&Comparison>,
) -> Result<Markup, ReportError> {
    let class = verdict_class(suite.verdict);
    let reasons = text::reasons(suite);
    let heading = match suite.verdict {
        VerdictKind::CanaryCaught => "caught, as a canary must be, by",
        VerdictKind::CanaryMissed => "missed",
        VerdictKind::Incomplete => "over a limit in what it showed",
        _ => "failed criteria",
    };
    let series = baseline.and_then(|b| b.series.get(&suite.name));
    let svg = plot::render_svg(suite, series)?;
    let base = baseline.and_then(|b| b.figures.get(&suite.name));
    Ok(html! {
        section class={ "suite " (class) } id=(anchor(&suite.name)) data-suite=(suite.name) {
            details open[suite.verdict != VerdictKind::Passed] {
                summary {
                    span class={ "badge " (class) } { (suite.label()) } " " h2 { (suite.name) }
                    @if let Some(floor) = &suite.floor {
                        " " span.floor { (floor) }
                    }
                    span.sub {
                        (suite.runtime.as_str()) " · " (format_duration(suite.duration()))
                        " · " (suite.tags.join(", "))
                        @if let Some(soak) = text::soak(suite) { " · " (soak) }
                    }
                }
                div.body {
                    @if !reasons.is_empty() {
                        div.reasons { h3 { (heading) } ul { @for r in &reasons { li { (r) } } } }
                    }
                    @match &svg {
                        Some(svg) => figure.plot { (PreEscaped(svg)) },
                        None => p.noplot { "too few samples to plot" },
                    }
                    div.facts {
                        (figures_table(suite, base, baseline.is_some()))
                        @if !suite.reported.is_empty() {
                            table.reported {
                                caption { "reported by the suite (MEMTEST lines)" }
                                tbody { @for (name, value) in &suite.reported {
                                    tr { th { (name) } td { (reported_value(name, *value)) } }
                                } }
                            }
                        }
                        @if let Some(w) = &suite.wrapper {
                            div.wrapper.tripped[w.failing] {
                                h3 { (w.tool) " findings" }
                                p { (w.summary) }
                                p.path { @if let Some(path) = &w.output { (path.display()) } }
                            }
                        }
                    }
                    @if !suite.sites.is_empty() { (sites_table(suite)) }
                    @if let Some(cause) = &suite.cause {
                        p.cause { strong { "cause: " } (cause) }
                    }
                    details.log open[suite.crashed()] {
                        summary {
                            "last " (suite.log_tail.len()) " lines of the log "
                            code { (suite.log.display()) }
                        }
                        pre { @for line in &suite.log_tail { (line) "\n" } }
                    }
                }
            }
        }
    })
}

/// Where the suite leaked: a row per site, its whole stack (innermost
/// first, the named frame marked) folded under the named frame.
fn sites_table(suite: &SuiteReport) -> Markup {
    html! {
        table.sites {
            caption { "where: leak sites, largest first" }
            thead { tr { th { "layer" } th { "bytes" } th { "blocks" } th { "site" } } }
            tbody { @for site in &suite.sites {
                tr {
                    td { (site.layer.as_str()) }
                    td.num { (Bytes(site.bytes)) }
                    td.num { (site.blocks) " " (unit_of(site.layer)) " " (source_name(site.source)) }
                    td.site {
                        code.named { (site_name(site)) }
                        details.stack {
                            summary { "stack (" (site.frames.len()) " frames)" }
                            ol { @for frame in &site.frames {
                                @let label = frame.label();
                                li.named[site.name.as_deref() == Some(label.as_str())] {
                                    code { (label) }
                                }
                            } }
                        }
                    }
                }
            } }
        }
    }
}

/// A suite's figures beside their limits (and baselines, when compared).
fn figures_table(suite: &SuiteReport, base: Option<&BaselineEntry>, compared: bool) -> Markup {
    html! {
        table.figures {
            caption { "figures" }
            thead { tr {
                th { "figure" } th { "measured" } th { "limit" }
                @if compared { th { "baseline" } }
            } }
            tbody {
                @for (name, f) in figures(suite, base) {
                    tr class=[f.tripped.then_some("tripped")] {
                        th { (name) }
                        td { (f.value) }
                        td { (f.limit.as_deref().unwrap_or("-")) }
                        @if compared { td { (f.baseline.as_deref().unwrap_or("-")) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testdata::*;
    use super::*;
    use crate::verdict::baseline::Baseline;

    #[test]
    fn escapes_markup_in_report_text() {
        let mut report = report_of(&mixed_outcomes()[..1]);
        report.suites[0].log_tail = vec!["<img src=x onerror=alert(1)>".into()];
        report.suites[0].name = "a\"b<c>".into();
        let page = render(&report, None).unwrap();
        assert!(!page.contains("<img src=x"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(
            page.contains("data-suite=\"a&quot;b&lt;c&gt;\""),
            "attributes too"
        );
        assert!(!page.contains("a\"b<c>"));
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
            "id=\"suite-node-optimize-loop\" data-suite=\"node-optimize-loop\"><details open>"
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
        assert!(passed.contains("<details><summary>"));
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
