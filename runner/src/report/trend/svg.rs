//! One SVG per suite: a panel per figure it measured (peak RSS, RSS growth,
//! slope, duration), commits along the x axis oldest first. Each panel draws
//! the band from the lowest to the highest run of every commit, the median
//! line through them, and with a pinned baseline its value (grey) and the
//! drift limit (red, bold when the newest commit is over it). Plotters'
//! SVG backend writes `<text>` itself: no font files.

use super::super::ReportError;
use crate::history::drift::{Drift, SuiteDrift};
use crate::history::trend::SuiteTrend;
use crate::model::Metric;
use plotters::prelude::*;

const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 210;
const TITLE_HEIGHT: u32 = 40;
const MEDIAN_COLOUR: RGBColor = RGBColor(31, 119, 180);
const PINNED_COLOUR: RGBColor = RGBColor(120, 120, 120);
const LIMIT_COLOUR: RGBColor = RGBColor(214, 39, 40);
const TRIPPED_COLOUR: RGBColor = RGBColor(200, 0, 0);

type DrawResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The axis unit of a figure: what its values are divided by, and its name.
fn scale(metric: Metric) -> (f64, &'static str) {
    match metric {
        Metric::PeakRss | Metric::RssGrowth => (1e6, "MB"),
        Metric::Slope => (1e6, "MB/s"),
        Metric::Duration => (1e3, "s"),
    }
}

/// The SVG of one suite's trend.
pub fn render_svg(trend: &SuiteTrend, drift: Option<&SuiteDrift>) -> Result<String, ReportError> {
    let mut svg = String::new();
    draw(trend, drift, &mut svg).map_err(|source| ReportError::Plot {
        suite: trend.suite.clone(),
        source,
    })?;
    Ok(svg)
}

fn draw(trend: &SuiteTrend, drift: Option<&SuiteDrift>, svg: &mut String) -> DrawResult<()> {
    let metrics = trend.metrics();
    let height = TITLE_HEIGHT + PANEL_HEIGHT * metrics.len().max(1) as u32;
    let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let runs: usize = trend.points.iter().map(|p| p.runs.len()).sum();
    let drifted = drift.is_some_and(SuiteDrift::failed);
    let title = format!(
        "{}: {} commits, {} runs{}",
        trend.suite,
        trend.points.len(),
        runs,
        if drifted {
            ", drifted past its pinned baseline"
        } else {
            ""
        }
    );
    let root = root.titled(&title, ("sans-serif", 20))?;
    let panels = root.split_evenly((metrics.len().max(1), 1));
    for (metric, area) in metrics.iter().zip(panels.iter()) {
        let check = drift.and_then(|d| d.checks.iter().find(|c| c.metric == *metric));
        panel(trend, *metric, check, area)?;
    }
    root.present()?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    trend: &SuiteTrend,
    metric: Metric,
    check: Option<&Drift>,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let (div, unit) = scale(metric);
    let n = trend.points.len() as i32;
    // (index, min, median, max) of every point that measured the figure.
    let spreads: Vec<(i32, f64, f64, f64)> = trend
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let s = p.spread(metric)?;
            Some((i as i32, s.min / div, s.median / div, s.max / div))
        })
        .collect();
    let lines: Vec<f64> = check.map_or(Vec::new(), |c| vec![c.pinned / div, c.limit / div]);
    let lo = spreads
        .iter()
        .map(|s| s.1)
        .chain(lines.iter().copied())
        .fold(f64::MAX, f64::min);
    let hi = spreads
        .iter()
        .map(|s| s.3)
        .chain(lines.iter().copied())
        .fold(f64::MIN, f64::max);
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.02).max(1e-3);
    // Sizes and durations start at zero, so a creep is seen against the whole.
    let y_lo = if lo >= 0.0 && metric != Metric::RssGrowth && metric != Metric::Slope {
        0.0
    } else {
        lo - pad
    };
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(-1..n, y_lo..hi + pad)?;
    let label = |x: &i32| {
        usize::try_from(*x)
            .ok()
            .and_then(|i| trend.points.get(i))
            .map(|p| p.label().chars().take(7).collect())
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .y_desc(format!("{} ({unit})", metric.label()))
        .x_labels((n as usize + 2).min(16))
        .x_label_formatter(&label)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .light_line_style(WHITE)
        .draw()?;
    if spreads.len() >= 2 {
        let mut outline: Vec<(i32, f64)> = spreads.iter().map(|s| (s.0, s.3)).collect();
        outline.extend(spreads.iter().rev().map(|s| (s.0, s.1)));
        chart.draw_series([Polygon::new(outline, MEDIAN_COLOUR.mix(0.18).filled())])?;
    }
    // Each commit's own range, so a single commit's spread shows too.
    chart.draw_series(spreads.iter().map(|s| {
        PathElement::new(
            vec![(s.0, s.1), (s.0, s.3)],
            MEDIAN_COLOUR.mix(0.5).stroke_width(2),
        )
    }))?;
    chart.draw_series(LineSeries::new(
        spreads.iter().map(|s| (s.0, s.2)),
        MEDIAN_COLOUR.stroke_width(2),
    ))?;
    // The commits the drift check holds over the limit, in red.
    let over_from = check
        .and_then(|c| c.over_since)
        .map_or(i32::MAX, |i| i as i32);
    chart.draw_series(spreads.iter().map(|s| {
        let (colour, size) = if s.0 >= over_from {
            (TRIPPED_COLOUR, 4)
        } else {
            (MEDIAN_COLOUR, 3)
        };
        Circle::new((s.0, s.2), size, colour.filled())
    }))?;
    if let Some(c) = check {
        let span = [(-1, c.pinned / div), (n, c.pinned / div)];
        chart.draw_series(DashedLineSeries::new(
            span,
            6,
            4,
            PINNED_COLOUR.stroke_width(2),
        ))?;
        let (colour, width) = if c.failed() {
            (TRIPPED_COLOUR, 3)
        } else {
            (LIMIT_COLOUR, 2)
        };
        let span = [(-1, c.limit / div), (n, c.limit / div)];
        chart.draw_series(DashedLineSeries::new(
            span,
            8,
            5,
            colour.stroke_width(width),
        ))?;
        // Named where they start, just under each line.
        for (value, name, colour) in [
            (c.pinned, "pinned", PINNED_COLOUR),
            (c.limit, "limit", colour),
        ] {
            let font = ("sans-serif", 12).into_font().color(&colour);
            let text = format!("{name} {}", metric.value(value));
            chart.draw_series([Text::new(text, (-1, value / div), font)])?;
        }
    }
    Ok(())
}
