//! Memory plots (`--plot DIR`): one SVG per suite with RSS (left axis) and
//! VMS (right axis, usually far larger) over time in MB, the warm-up and
//! slope windows shaded, the limits drawn as dashed lines (RSS growth relative
//! to the post-warm-up baseline, peak RSS), and the fitted slope over the
//! slope window. Plotters' SVG backend writes `<text>` elements itself, so
//! titles and labels need no font files (the `ttf` feature stays off).

use super::model::{Report, SuiteReport};
use super::ReportError;
use crate::atomic::write_atomic;
use crate::units::{Bytes, BytesPerSec};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SIZE: (u32, u32) = (960, 540);
const MB: f64 = 1e6;
const RSS_COLOUR: RGBColor = RGBColor(31, 119, 180);
const VMS_COLOUR: RGBColor = RGBColor(255, 127, 14);
pub const LIMIT_COLOUR: RGBColor = RGBColor(214, 39, 40);
/// Darker than the growth limit, so the two dashed lines tell apart.
pub const PEAK_LIMIT_COLOUR: RGBColor = RGBColor(120, 20, 60);
const SLOPE_COLOUR: RGBColor = RGBColor(44, 160, 44);
const WARMUP_COLOUR: RGBColor = RGBColor(160, 160, 160);
const WINDOW_COLOUR: RGBColor = RGBColor(31, 119, 180);
/// A limit more than this many times the highest RSS would flatten the series
/// to a line at the bottom; it is listed in the legend as off scale instead.
const OFF_SCALE: f64 = 3.0;

type DrawResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Where the plot windows and lines fall for one suite, in seconds and MB.
#[derive(Debug, Clone, PartialEq)]
struct Geometry {
    end_s: f64,
    warmup_end_s: f64,
    window_start_s: f64,
    /// RSS at the first sample after warm-up: what growth is measured from.
    baseline_mb: f64,
    /// (start, end) points of the fitted slope line.
    slope_line: Option<[(f64, f64); 2]>,
}

fn geometry(suite: &SuiteReport) -> Geometry {
    let s = &suite.samples;
    let n = s.len();
    let end_s = (s.t_ms[n - 1] as f64 / 1e3).max(1e-3);
    let warmup_end_s = end_s * suite.limits.warmup.clamp(0.0, 1.0);
    let window_start_s = end_s * (1.0 - suite.limits.slope_window.clamp(0.0, 1.0));
    let first_after = |from_s: f64| (0..n).find(|&i| s.t_ms[i] as f64 / 1e3 >= from_s);
    let baseline_mb = first_after(warmup_end_s)
        .map(|i| s.rss_bytes[i] as f64 / MB)
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
        slope_line,
    }
}

/// The SVG of one suite, or `None` when it has too few samples to draw.
pub fn render_svg(suite: &SuiteReport) -> Result<Option<String>, ReportError> {
    if suite.samples.len() < 2 {
        return Ok(None);
    }
    let mut svg = String::new();
    draw(suite, &mut svg).map_err(|source| ReportError::Plot {
        suite: suite.name.clone(),
        source,
    })?;
    Ok(Some(svg))
}

fn draw(suite: &SuiteReport, svg: &mut String) -> DrawResult<()> {
    let g = geometry(suite);
    let s = &suite.samples;
    let n = s.len();
    let rss: Vec<(f64, f64)> = (0..n)
        .map(|i| (s.t_ms[i] as f64 / 1e3, s.rss_bytes[i] as f64 / MB))
        .collect();
    let vms: Vec<(f64, f64)> = (0..n)
        .map(|i| (s.t_ms[i] as f64 / 1e3, s.vms_bytes[i] as f64 / MB))
        .collect();
    let data_max = rss.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3);
    let growth_limit = suite
        .limits
        .rss_growth_bytes
        .map(|l| (g.baseline_mb + l as f64 / MB, Bytes(l)));
    let peak_limit = suite
        .limits
        .peak_rss_bytes
        .map(|l| (l as f64 / MB, Bytes(l)));
    let on_scale = |mb: f64| mb <= data_max * OFF_SCALE;
    let vms_top = vms.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3);
    // VMS shares the RSS axis when it is of the same order (Python, Rust);
    // a runtime that reserves far more than it touches (Node, often 1 GB+)
    // gets a right-hand axis, or RSS would be a flat line at the bottom.
    let vms_own_axis = !on_scale(vms_top);
    let y_max = [growth_limit, peak_limit]
        .into_iter()
        .flatten()
        .map(|(mb, _)| mb)
        .filter(|&mb| on_scale(mb))
        .chain(g.slope_line.iter().flat_map(|l| [l[0].1, l[1].1]))
        .chain((!vms_own_axis).then_some(vms_top))
        .fold(data_max, f64::max)
        * 1.08;
    let vms_max = vms_top * 1.08;

    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "{} ({}): {}",
        suite.name,
        suite.runtime.as_str(),
        suite.label()
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .right_y_label_area_size(if vms_own_axis { 64 } else { 0 })
        .build_cartesian_2d(0.0..g.end_s, 0.0..y_max)?
        .set_secondary_coord(0.0..g.end_s, 0.0..vms_max);
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(if vms_own_axis {
            "RSS (MB)"
        } else {
            "RSS, VMS (MB)"
        })
        .light_line_style(WHITE)
        .draw()?;
    if vms_own_axis {
        chart.configure_secondary_axes().y_desc("VMS (MB)").draw()?;
    }

    let square = |colour: RGBAColor| {
        move |(x, y): (i32, i32)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], colour.filled())
    };
    let line = |colour: RGBColor| {
        move |(x, y): (i32, i32)| {
            PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
        }
    };
    if g.warmup_end_s > 0.0 {
        let fill = WARMUP_COLOUR.mix(0.18);
        chart
            .draw_series([Rectangle::new(
                [(0.0, 0.0), (g.warmup_end_s, y_max)],
                fill.filled(),
            )])?
            .label("warm-up (ignored)")
            .legend(square(fill));
    }
    if g.window_start_s < g.end_s {
        let fill = WINDOW_COLOUR.mix(0.10);
        chart
            .draw_series([Rectangle::new(
                [(g.window_start_s, 0.0), (g.end_s, y_max)],
                fill.filled(),
            )])?
            .label("slope window")
            .legend(square(fill));
    }
    chart
        .draw_series(LineSeries::new(rss, RSS_COLOUR.stroke_width(2)))?
        .label("RSS")
        .legend(line(RSS_COLOUR));
    let vms_series = LineSeries::new(vms, VMS_COLOUR.stroke_width(2));
    if vms_own_axis {
        chart
            .draw_secondary_series(vms_series)?
            .label("VMS (right axis)")
            .legend(line(VMS_COLOUR));
    } else {
        chart
            .draw_series(vms_series)?
            .label("VMS")
            .legend(line(VMS_COLOUR));
    }

    let limits = [
        growth_limit.map(|(mb, l)| {
            (
                mb,
                g.warmup_end_s,
                LIMIT_COLOUR,
                format!("RSS growth limit (+{l})"),
            )
        }),
        peak_limit.map(|(mb, l)| (mb, 0.0, PEAK_LIMIT_COLOUR, format!("peak RSS limit ({l})"))),
    ];
    for (mb, from_s, colour, label) in limits.into_iter().flatten() {
        let style = colour.stroke_width(2);
        if on_scale(mb) {
            chart
                .draw_series(DashedLineSeries::new(
                    [(from_s, mb), (g.end_s, mb)],
                    8,
                    5,
                    style,
                ))?
                .label(label)
                .legend(line(colour));
        } else {
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                .label(format!("{label}, off scale"))
                .legend(line(colour));
        }
    }
    if let (Some(points), Some(slope)) = (g.slope_line, suite.figures.slope_bytes_per_sec) {
        chart
            .draw_series(DashedLineSeries::new(
                points,
                4,
                3,
                SLOPE_COLOUR.stroke_width(2),
            ))?
            .label(format!("fitted slope ({})", BytesPerSec(slope)))
            .legend(line(SLOPE_COLOUR));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
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

/// Writes one SVG per suite with samples into `dir`; returns suite -> path.
pub fn write_plots(report: &Report, dir: &Path) -> Result<BTreeMap<String, PathBuf>, ReportError> {
    let mut written = BTreeMap::new();
    for suite in &report.suites {
        let Some(svg) = render_svg(suite)? else {
            continue;
        };
        let path = dir.join(file_name(&suite.name));
        write_atomic(&path, svg.as_bytes()).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        written.insert(suite.name.clone(), path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;

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
        let svg = render_svg(suite).unwrap().unwrap();
        assert_well_formed(&svg);
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("node-optimize-loop (node): FAIL"));
        assert!(svg.matches("<polyline").count() >= 2);
        for label in [
            "VMS (right axis)",
            "RSS growth limit (+16.0 MB)",
            "peak RSS limit (200.0 MB)",
            "fitted slope (13.8 MB/s)",
            "warm-up (ignored)",
            "slope window",
            "time (s)",
            "RSS (MB)",
        ] {
            assert!(svg.contains(label), "missing {label}");
        }
        assert!(svg.contains(&hex(LIMIT_COLOUR)), "no growth limit line");
        assert!(svg.contains(&hex(PEAK_LIMIT_COLOUR)), "no peak limit line");
        assert!(svg.contains(&hex(RSS_COLOUR)) && svg.contains(&hex(VMS_COLOUR)));
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
    fn vms_of_the_same_order_shares_the_rss_axis() {
        let mut report = report_of(&mixed_outcomes()[..1]);
        let suite = &mut report.suites[0];
        suite.samples.vms_bytes = suite
            .samples
            .rss_bytes
            .iter()
            .map(|r| r + 5_000_000)
            .collect();
        let svg = render_svg(suite).unwrap().unwrap();
        assert!(svg.contains("RSS, VMS (MB)") && !svg.contains("right axis"));
    }

    #[test]
    fn suites_without_samples_get_no_plot_and_names_are_safe() {
        let mut report = report_of(&mixed_outcomes()[..1]);
        report.suites[0].samples = Default::default();
        assert_eq!(render_svg(&report.suites[0]).unwrap(), None);
        assert_eq!(file_name("a/b c"), "a_b_c.svg");
    }
}
