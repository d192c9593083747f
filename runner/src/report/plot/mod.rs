//! Memory plots (`--plot DIR`, and inline in the HTML report): one SVG per
//! suite. RSS over time in MB on top, with the warm-up and slope windows
//! shaded, the limits as dashed lines (RSS growth relative to the post-warm-up
//! baseline, peak RSS), the fitted slope over the slope window and, when a
//! baseline report is given, the baseline run's RSS underneath. VMS (often a
//! GB or more for Node, which reserves far more than it touches) gets a panel
//! and axis of its own below, so it never crosses the RSS limit lines. The
//! legend sits in a column right of the data, never over it. The criteria
//! that failed (or that a canary caught) are named in the caption and drawn
//! bold in red: the crossed limit, the slope window.
//!
//! Plotters' SVG backend writes `<text>` elements itself, so titles and
//! labels need no font files (the `ttf` feature stays off).

mod legend;

use super::export::Exporter;
use super::model::{Report, Series, SuiteReport, VerdictKind};
use super::ReportError;
use crate::model::{Panel, PlotLine, SPECS};
use legend::{
    draw_legend, limit_lines, notes, window_tripped, DrawResult, Levels, LimitLine, Mark,
    BASELINE_COLOUR, MB, RSS_COLOUR, SLOPE_COLOUR, TRIPPED_COLOUR, VMS_COLOUR, WARMUP_COLOUR,
    WINDOW_COLOUR,
};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

const SIZE: (u32, u32) = (1040, 560);
/// Width of the legend column on the right.
const LEGEND_WIDTH: u32 = 270;
/// Share of the plot height the RSS panel gets; VMS has the rest.
const RSS_SHARE: f64 = 0.70;
/// A limit more than this many times the highest RSS would flatten the series
/// to a line at the bottom; it is listed in the legend as off scale instead.
const OFF_SCALE: f64 = 3.0;

/// Where the plot windows and lines fall for one suite, in seconds and MB.
#[derive(Debug, Clone, PartialEq)]
struct Geometry {
    end_s: f64,
    warmup_end_s: f64,
    window_start_s: f64,
    /// RSS at the first sample after warm-up: what growth is measured from.
    baseline_mb: f64,
    /// VMS at the same sample: what VMS growth is measured from.
    vms_baseline_mb: f64,
    /// (start, end) points of the fitted slope line.
    slope_line: Option<[(f64, f64); 2]>,
}

fn geometry(suite: &SuiteReport) -> Geometry {
    let s = &suite.samples;
    let n = s.len();
    let end_s = (s.t_ms[n - 1] as f64 / 1e3).max(1e-3);
    // Where the verdict started measuring; a report from before the field
    // existed had only the warm-up share.
    let warmup_end_s = match suite.figures.measured_from_ms {
        Some(ms) => ms as f64 / 1e3,
        None => end_s * suite.limits.limits.warmup.clamp(0.0, 1.0),
    };
    let window_start_s =
        warmup_end_s.max(end_s * (1.0 - suite.limits.limits.slope_window.clamp(0.0, 1.0)));
    let first_after = |from_s: f64| (0..n).find(|&i| s.t_ms[i] as f64 / 1e3 >= from_s);
    let after_warmup = first_after(warmup_end_s);
    let baseline_mb = after_warmup
        .map(|i| s.rss_bytes[i] as f64 / MB)
        .unwrap_or(0.0);
    let vms_baseline_mb = after_warmup
        .map(|i| s.vms_bytes[i] as f64 / MB)
        .unwrap_or(0.0);
    // The verdict's slope, drawn through the window's mean point (where a
    // least-squares line passes).
    let slope_line = suite.figures.slope_bytes_per_sec.and_then(|slope| {
        let idx: Vec<usize> = (first_after(window_start_s)?..n).collect();
        let count = idx.len() as f64;
        let mean_t = idx.iter().map(|&i| s.t_ms[i] as f64 / 1e3).sum::<f64>() / count;
        let mean_y = idx.iter().map(|&i| s.rss_bytes[i] as f64 / MB).sum::<f64>() / count;
        let at = |t: f64| mean_y + slope / MB * (t - mean_t);
        Some([(window_start_s, at(window_start_s)), (end_s, at(end_s))])
    });
    Geometry {
        end_s,
        warmup_end_s,
        window_start_s,
        baseline_mb,
        vms_baseline_mb,
        slope_line,
    }
}

/// The caption: suite, runtime, verdict, and which criteria decided it.
pub fn caption(suite: &SuiteReport) -> String {
    let head = format!(
        "{} ({}): {}",
        suite.name,
        suite.runtime.as_str(),
        suite.label()
    );
    let names: Vec<&str> = suite
        .failures
        .iter()
        .map(|f| f.failure.criterion().label())
        .collect();
    match suite.verdict {
        VerdictKind::CanaryCaught if !names.is_empty() => {
            format!("{head}, caught by {}", names.join(", "))
        }
        VerdictKind::Failed if !names.is_empty() => format!("{head} on {}", names.join(", ")),
        VerdictKind::CanaryMissed => format!("{head}, no criterion tripped"),
        _ => head,
    }
}

/// The SVG of one suite, or `None` when it has too few samples to draw.
/// `baseline` is the same suite's series in the baseline run, drawn under
/// the new RSS curve.
pub fn render_svg(
    suite: &SuiteReport,
    baseline: Option<&Series>,
) -> Result<Option<String>, ReportError> {
    if suite.samples.len() < 2 {
        return Ok(None);
    }
    let mut svg = String::new();
    draw(suite, baseline.filter(|b| b.len() >= 2), &mut svg).map_err(|source| {
        ReportError::Plot {
            suite: suite.name.clone(),
            source,
        }
    })?;
    Ok(Some(svg))
}

type Points = Vec<(f64, f64)>;

fn points(series: &Series, values: &[u64]) -> Points {
    (0..series.len())
        .map(|i| (series.t_ms[i] as f64 / 1e3, values[i] as f64 / MB))
        .collect()
}

fn draw(suite: &SuiteReport, baseline: Option<&Series>, svg: &mut String) -> DrawResult<()> {
    let g = geometry(suite);
    let s = &suite.samples;
    let rss = points(s, &s.rss_bytes);
    let vms = points(s, &s.vms_bytes);
    let base_rss = baseline.map(|b| points(b, &b.rss_bytes));
    let end_s = base_rss
        .as_ref()
        .and_then(|b| b.last())
        .map_or(g.end_s, |p| p.0.max(g.end_s));
    let data_max = rss
        .iter()
        .chain(base_rss.iter().flatten())
        .map(|p| p.1)
        .fold(0.0, f64::max)
        .max(1e-3);
    let lines = limit_lines(
        suite,
        &Levels {
            rss_mb: g.baseline_mb,
            vms_mb: g.vms_baseline_mb,
            from_s: g.warmup_end_s,
        },
    );
    let on_scale = |mb: f64, max: f64| mb <= max * OFF_SCALE;
    let y_max = lines
        .iter()
        .filter(|l| l.panel == Panel::Rss && on_scale(l.level, data_max))
        .map(|l| l.level)
        .chain(g.slope_line.iter().flat_map(|l| [l[0].1, l[1].1]))
        .fold(data_max, f64::max)
        * 1.08;
    let vms_top = vms.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3);
    let vms_max = lines
        .iter()
        .filter(|l| l.panel == Panel::Vms && on_scale(l.level, vms_top))
        .map(|l| l.level)
        .fold(vms_top, f64::max)
        * 1.08;
    let vms_min = vms
        .iter()
        .map(|p| p.1)
        .fold(f64::MAX, f64::min)
        .min(g.vms_baseline_mb);
    // VMS moves little against its size: start its axis near its minimum so
    // its changes show, rather than at zero.
    let vms_floor = (vms_min - (vms_max - vms_min).max(vms_max * 0.02)).max(0.0);

    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&caption(suite), ("sans-serif", 20))?;
    let (plots, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let rss_height = ((SIZE.1 as f64 - 30.0) * RSS_SHARE) as u32;
    let (top, bottom) = plots.split_vertically(rss_height);
    let mut legend: Vec<(Mark, String)> = Vec::new();

    let mut chart = ChartBuilder::on(&top)
        .margin(8)
        .margin_bottom(2)
        .x_label_area_size(22)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..end_s, 0.0..y_max)?;
    chart
        .configure_mesh()
        .y_desc("RSS (MB)")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(WHITE)
        .draw()?;
    if g.warmup_end_s > 0.0 {
        let fill = WARMUP_COLOUR.mix(0.18);
        chart.draw_series([Rectangle::new(
            [(0.0, 0.0), (g.warmup_end_s, y_max)],
            fill.filled(),
        )])?;
        legend.push((Mark::Area(fill), "warm-up (ignored)".into()));
    }
    if g.window_start_s < g.end_s {
        let tripped = window_tripped(suite);
        let (fill, label) = if tripped.is_empty() {
            (WINDOW_COLOUR.mix(0.10), "slope window".to_string())
        } else {
            let label = format!("slope window: {} tripped", tripped.join(", "));
            (TRIPPED_COLOUR.mix(0.12), label)
        };
        chart.draw_series([Rectangle::new(
            [(g.window_start_s, 0.0), (g.end_s, y_max)],
            fill.filled(),
        )])?;
        legend.push((Mark::Area(fill), label));
    }
    if let Some(base) = base_rss {
        chart.draw_series(LineSeries::new(base, BASELINE_COLOUR.stroke_width(2)))?;
        legend.push((
            Mark::Line(BASELINE_COLOUR, 2),
            "RSS of the baseline run".into(),
        ));
    }
    chart.draw_series(LineSeries::new(rss, RSS_COLOUR.stroke_width(2)))?;
    legend.push((Mark::Line(RSS_COLOUR, 2), "RSS".into()));
    for line in lines.iter().filter(|l| l.panel == Panel::Rss) {
        legend.push(draw_limit(&mut chart, line, g.end_s, data_max)?);
    }
    if let Some(points) = g.slope_line {
        let fitted = SPECS.iter().find(|s| s.plot == Some(PlotLine::FittedSlope));
        if let Some((spec, figure)) = fitted.and_then(|s| Some((s, suite.figure(s.criterion)?))) {
            let colour = if suite.tripped(spec.criterion) {
                TRIPPED_COLOUR
            } else {
                SLOPE_COLOUR
            };
            chart.draw_series(DashedLineSeries::new(points, 4, 3, colour.stroke_width(2)))?;
            let label = format!("fitted {} ({figure})", spec.label);
            legend.push((Mark::Dashed(colour, 2), label));
        }
    }

    let mut vms_chart = ChartBuilder::on(&bottom)
        .margin(8)
        .margin_top(4)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..end_s, vms_floor..vms_max)?;
    vms_chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("VMS (MB)")
        .y_labels(4)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(WHITE)
        .draw()?;
    vms_chart.draw_series(LineSeries::new(vms, VMS_COLOUR.stroke_width(2)))?;
    legend.push((Mark::Line(VMS_COLOUR, 2), "VMS (lower panel)".into()));
    for line in lines.iter().filter(|l| l.panel == Panel::Vms) {
        legend.push(draw_limit(&mut vms_chart, line, g.end_s, vms_top)?);
    }
    legend.extend(notes(suite));
    draw_legend(&legend_area, &legend)?;
    root.present()?;
    Ok(())
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws one limit line (or, off scale, only names it); its legend entry.
fn draw_limit(
    chart: &mut Chart,
    line: &LimitLine,
    end_s: f64,
    data_max: f64,
) -> DrawResult<(Mark, String)> {
    let width = if line.crossed { 4 } else { 2 };
    let mut label = line.label.clone();
    if line.crossed {
        label.push_str(": crossed");
    }
    if line.level > data_max * OFF_SCALE {
        label.push_str(", off scale");
    } else {
        chart.draw_series(DashedLineSeries::new(
            [(line.from_s, line.level), (end_s, line.level)],
            8,
            5,
            line.colour.stroke_width(width),
        ))?;
    }
    Ok((Mark::Dashed(line.colour, width), label))
}

/// A file name for a suite: anything but `[A-Za-z0-9._-]` becomes `_`.
pub fn file_name(suite: &str) -> String {
    let stem: String = suite
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.svg")
}

/// The suites with enough samples to plot.
pub fn plottable(report: &Report) -> impl Iterator<Item = &SuiteReport> {
    report.suites.iter().filter(|s| s.samples.len() >= 2)
}

/// One suite's memory plot (`--plot DIR` writes one per plottable suite).
pub struct SvgExporter {
    pub suite: String,
}

impl Exporter for SvgExporter {
    fn export(&self, report: &Report) -> Result<Vec<u8>, ReportError> {
        let unplotted = |why: &str| ReportError::Plot {
            suite: self.suite.clone(),
            source: why.into(),
        };
        let suite = report
            .suites
            .iter()
            .find(|s| s.name == self.suite)
            .ok_or_else(|| unplotted("no such suite in the report"))?;
        let svg = render_svg(suite, None)?.ok_or_else(|| unplotted("too few samples"))?;
        Ok(svg.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;
    use legend::PEAK_LIMIT_COLOUR;

    /// Checks that tags balance (a small well-formedness check: no XML
    /// parser is a dependency of the runner).
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.trim()),
                    "mismatched </{name}>"
                );
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap().to_string());
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    #[test]
    fn svg_is_well_formed_with_series_windows_and_limits() {
        let report = report_of(&mixed_outcomes());
        let suite = report
            .suites
            .iter()
            .find(|s| s.name == "node-optimize-loop")
            .unwrap();
        let svg = render_svg(suite, None).unwrap().unwrap();
        assert_well_formed(&svg);
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(
            svg.contains(
                "node-optimize-loop (node): FAIL on RSS growth, slope, slope per op, native leaks, \
                 baseline regression"
            ),
            "the caption names the tripped criteria"
        );
        assert!(svg.matches("<polyline").count() >= 2);
        for label in [
            "VMS (lower panel)",
            "RSS growth limit (+16.0 MB): crossed",
            "peak RSS limit (200.0 MB)",
            "fitted slope (13.8 MB/s)",
            "warm-up (ignored)",
            "slope window: slope, slope per op tripped",
            "slope per op: +40.0 KB/op",
            "limit +8.0 KB/op: tripped",
            "native leaks: 3",
            "limit 0: tripped",
            "time (s)",
            "RSS (MB)",
            "VMS (MB)",
        ] {
            assert!(svg.contains(label), "missing {label}");
        }
        assert!(!svg.contains("peak RSS limit (200.0 MB): crossed"));
        assert!(svg.contains(&hex(TRIPPED_COLOUR)), "no tripped limit line");
        assert!(svg.contains(&hex(PEAK_LIMIT_COLOUR)), "no peak limit line");
        assert!(svg.contains(&hex(RSS_COLOUR)) && svg.contains(&hex(VMS_COLOUR)));
        assert!(!svg.contains("baseline run"));
    }

    #[test]
    fn the_legend_sits_right_of_the_data() {
        let report = report_of(&mixed_outcomes());
        let svg = render_svg(&report.suites[0], None).unwrap().unwrap();
        let legend_x = (SIZE.0 - LEGEND_WIDTH) as f64;
        for label in ["warm-up (ignored)", "RSS growth limit"] {
            let at = svg.find(label).unwrap();
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let x: f64 = tag
                .split("x=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no x in {tag}"));
            assert!(x >= legend_x, "{label} at x={x}, inside the data area");
        }
    }

    #[test]
    fn a_canary_plot_says_which_criterion_caught_it() {
        let report = report_of(&mixed_outcomes());
        let canary = report
            .suites
            .iter()
            .find(|s| s.name == "rust-canary-leak")
            .unwrap();
        let svg = render_svg(canary, None).unwrap().unwrap();
        assert!(
            svg.contains("rust-canary-leak (rust): CANARY OK, caught by RSS growth"),
            "{}",
            caption(canary)
        );
        assert!(svg.contains("RSS growth limit (+16.0 MB): crossed"));
        let missed = report
            .suites
            .iter()
            .find(|s| s.name == "python-canary-free")
            .unwrap();
        assert!(caption(missed).ends_with("CANARY MISSED, no criterion tripped"));
    }

    #[test]
    fn a_baseline_series_is_drawn_under_the_new_one() {
        let report = report_of(&mixed_outcomes());
        let suite = &report.suites[0];
        let mut old = suite.samples.clone();
        old.rss_bytes.iter_mut().for_each(|r| *r /= 2);
        let svg = render_svg(suite, Some(&old)).unwrap().unwrap();
        assert_well_formed(&svg);
        assert!(svg.contains("RSS of the baseline run"));
        let grey = svg.find(&hex(BASELINE_COLOUR)).unwrap();
        let blue = svg.rfind(&hex(RSS_COLOUR)).unwrap();
        assert!(grey < blue, "the baseline is drawn first, under RSS");
    }

    #[test]
    fn growth_limit_sits_above_the_post_warmup_baseline() {
        let report = report_of(&mixed_outcomes());
        let suite = &report.suites[0];
        let g = geometry(suite);
        // 30 samples 100 ms apart: end 2.9 s, warm-up 20%, window last 50%.
        assert!((g.end_s - 2.9).abs() < 1e-9);
        assert!((g.warmup_end_s - 0.58).abs() < 1e-9);
        assert!((g.window_start_s - 1.45).abs() < 1e-9);
        let first_after = suite.samples.t_ms.iter().position(|&t| t >= 580).unwrap();
        assert_eq!(
            g.baseline_mb,
            suite.samples.rss_bytes[first_after] as f64 / MB
        );
        let [(x0, _), (x1, _)] = g.slope_line.unwrap();
        assert_eq!((x0, x1), (g.window_start_s, g.end_s));
    }

    #[test]
    fn suites_without_samples_get_no_plot_and_names_are_safe() {
        let mut report = report_of(&mixed_outcomes()[..1]);
        report.suites[0].samples = Default::default();
        assert_eq!(render_svg(&report.suites[0], None).unwrap(), None);
        assert_eq!(file_name("a/b c"), "a_b_c.svg");
    }
}
