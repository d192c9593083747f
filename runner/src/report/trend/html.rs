//! The trend page (`trend --html FILE`): one self-contained page, opened
//! from disk or as a CI artifact, loading nothing from the network. A header
//! with the drift verdict (when a pinned baseline was given) and the
//! history's counts, then one section per suite: its drift sentences, its
//! plot inline (the band of every commit's runs, the median, the pinned
//! value and limit) and the table of its commits. It shares the run
//! report's style sheet; maud escapes every bit of text.

use super::super::ReportError;
use super::{cell, drift_sentence, percent, render_svg, runs_cell, TrendPage};
use crate::history::trend::SuiteTrend;
use maud::{html, Markup, PreEscaped, DOCTYPE};

const STYLE: &str = include_str!("../html/style.css");

/// What the trend page adds to the run report's style.
const TREND_STYLE: &str = "
table.points { width: 100%; background: var(--card); border: 1px solid var(--line); margin-top: 8px; }
table.points th { background: #eef1f5; text-align: left; padding: 6px 10px; }
table.points td { padding: 4px 10px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
table.points td.num { text-align: right; white-space: nowrap; }
ul.drift { margin: 8px 0; padding-left: 20px; }
ul.drift li.drifted { color: var(--fail); font-weight: 650; }
ul.drift li.within { color: var(--pass); }
section.suite.trend > h2 { display: block; padding: 10px 14px 0; }
section.suite.trend > .body { padding-top: 6px; }
";

/// The whole page.
pub fn render_html(page: &TrendPage) -> Result<String, ReportError> {
    let mut sections = Vec::new();
    for t in page.trends {
        let svg = render_svg(t, page.drift_of(&t.suite))?;
        sections.push(section(page, t, &svg));
    }
    let (class, result) = match page.drift {
        None => ("plain", "TREND"),
        Some(_) if page.failed() => ("failed", "DRIFTED"),
        Some(_) => ("passed", "WITHIN BASELINE"),
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "memtest trend: " (page.source.display()) }
                style { (PreEscaped(STYLE)) (PreEscaped(TREND_STYLE)) }
            }
            body {
                header.run.(class) {
                    div.result { (result) }
                    div.closing { (page.counts()) }
                    p.meta {
                        "history " code { (page.source.display()) }
                        @if let Some((_, baseline)) = page.drift {
                            "; drift against the pinned baseline " code { (baseline.display()) }
                            " at a tolerance of " (percent(page.tolerance))
                        }
                    }
                }
                main {
                    @for s in &sections { (s) }
                }
                footer {
                    "Each point is one commit: the line joins the median run of each, the band spans its lowest to highest run. "
                    "Written by memtest " (env!("CARGO_PKG_VERSION")) "."
                }
            }
        }
    };
    Ok(markup.into_string())
}

fn section(page: &TrendPage, t: &SuiteTrend, svg: &str) -> Markup {
    let drift = page.drift_of(&t.suite);
    let class = match drift {
        Some(d) if d.failed() => "failed",
        Some(d) if d.pinned => "passed",
        _ => "plain",
    };
    let runs: usize = t.points.iter().map(|p| p.runs.len()).sum();
    let metrics = t.metrics();
    html! {
        section.suite.trend.(class) data-suite=(t.suite) data-points=(t.points.len()) data-runs=(runs) {
            h2 { (t.suite) " " span.sub { (t.points.len()) " commits, " (runs) " runs" } }
            div.body {
                @if let Some(d) = drift {
                    @if d.pinned {
                        ul.drift {
                            @for c in &d.checks {
                                li.(if c.failed() { "drifted" } else { "within" }) data-metric=(metric_key(c.metric)) {
                                    (drift_sentence(c, t, page.tolerance))
                                }
                            }
                        }
                    } @else {
                        p.sub { "not in the pinned baseline: no drift check" }
                    }
                }
                figure.plot { (PreEscaped(svg)) }
                table.points {
                    thead { tr {
                        th { "commit" } th { "subject" } th { "runs" }
                        @for m in &metrics { th { (m.label()) } }
                    } }
                    tbody {
                        @for p in &t.points {
                            tr data-commit=(p.commit.as_ref().map_or("", |c| c.id.as_str())) {
                                td { code { (p.label()) } }
                                td { (p.subject()) }
                                td.num { (runs_cell(p)) }
                                @for m in &metrics { td.num { (cell(p, *m)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A figure's name in baseline files, for the page's data attributes.
fn metric_key(metric: crate::model::Metric) -> String {
    serde_json::to_value(metric)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
