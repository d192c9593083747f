//! The legend column and what each criterion puts in it: the colours, the
//! marks, the dashed limit lines of the criteria the criterion table draws
//! as lines (`PlotLine`), and the rows of those it only names.

use super::super::model::SuiteReport;
use crate::model::{Panel, PlotLine, SPECS};
use plotters::coord::Shift;
use plotters::prelude::*;

pub(super) type DrawResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub(super) const MB: f64 = 1e6;
pub(super) const RSS_COLOUR: RGBColor = RGBColor(31, 119, 180);
pub(super) const VMS_COLOUR: RGBColor = RGBColor(255, 127, 14);
pub(super) const BASELINE_COLOUR: RGBColor = RGBColor(150, 150, 150);
pub(super) const LIMIT_COLOUR: RGBColor = RGBColor(214, 39, 40);
/// Darker than the growth limit, so the two dashed lines tell apart.
pub(super) const PEAK_LIMIT_COLOUR: RGBColor = RGBColor(120, 20, 60);
pub(super) const SLOPE_COLOUR: RGBColor = RGBColor(44, 160, 44);
pub(super) const WARMUP_COLOUR: RGBColor = RGBColor(160, 160, 160);
pub(super) const WINDOW_COLOUR: RGBColor = RGBColor(31, 119, 180);
/// What a tripped criterion is drawn in.
pub(super) const TRIPPED_COLOUR: RGBColor = RGBColor(200, 0, 0);

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub(super) enum Mark {
    Line(RGBColor, u32),
    Dashed(RGBColor, u32),
    Area(RGBAColor),
    /// No swatch: a figure with no line of its own (per operation, counts);
    /// `true` for the row under it, indented.
    Note(RGBColor, bool),
}

/// A dashed limit line one criterion draws on a panel (see `PlotLine`).
pub(super) struct LimitLine {
    pub panel: Panel,
    /// Height in MB.
    pub level: f64,
    pub from_s: f64,
    pub colour: RGBColor,
    pub crossed: bool,
    pub label: String,
}

/// Where growth is measured from: the RSS and VMS after the warm-up (MB)
/// and when that is (s).
pub(super) struct Levels {
    pub rss_mb: f64,
    pub vms_mb: f64,
    pub from_s: f64,
}

/// The limit lines of the criteria the table draws as lines.
pub(super) fn limit_lines(suite: &SuiteReport, g: &Levels) -> Vec<LimitLine> {
    SPECS
        .iter()
        .filter_map(|spec| {
            let c = spec.criterion;
            let (panel, above, colour) = match spec.plot? {
                PlotLine::GrowthLimit(panel) => (panel, true, LIMIT_COLOUR),
                PlotLine::LevelLimit(panel) => (panel, false, PEAK_LIMIT_COLOUR),
                _ => return None,
            };
            let limit = suite.bound(c)?;
            let base = match (above, panel) {
                (false, _) => 0.0,
                (true, Panel::Rss) => g.rss_mb,
                (true, Panel::Vms) => g.vms_mb,
            };
            let crossed = suite.tripped(c);
            Some(LimitLine {
                panel,
                level: base + limit.magnitude() / MB,
                from_s: if above { g.from_s } else { 0.0 },
                colour: if crossed { TRIPPED_COLOUR } else { colour },
                crossed,
                label: format!("{} limit ({limit})", spec.label),
            })
        })
        .collect()
}

/// The criteria judged over the slope window that tripped, by label.
pub(super) fn window_tripped(suite: &SuiteReport) -> Vec<&'static str> {
    SPECS
        .iter()
        .filter(|s| matches!(s.plot, Some(PlotLine::FittedSlope | PlotLine::WindowNote)))
        .filter(|s| suite.tripped(s.criterion))
        .map(|s| s.label)
        .collect()
}

/// Legend entries of the criteria with no line: the figure, and under it
/// its limit (two rows: the legend column is narrow).
pub(super) fn notes(suite: &SuiteReport) -> Vec<(Mark, String)> {
    let mut rows = Vec::new();
    for spec in SPECS
        .iter()
        .filter(|s| matches!(s.plot, Some(PlotLine::WindowNote | PlotLine::Note)))
    {
        let c = spec.criterion;
        let (figure, limit) = (suite.figure(c), suite.bound(c));
        if figure.is_none() && limit.is_none() {
            continue;
        }
        let tripped = suite.tripped(c);
        let colour = if tripped { TRIPPED_COLOUR } else { BLACK };
        let figure = figure.map_or_else(|| "not measured".to_string(), |f| f.to_string());
        rows.push((
            Mark::Note(colour, false),
            format!("{}: {figure}", spec.label),
        ));
        let limit = limit.map_or_else(|| "no limit".to_string(), |l| format!("limit {l}"));
        let verdict = if tripped { ": tripped" } else { "" };
        rows.push((Mark::Note(colour, true), format!("{limit}{verdict}")));
    }
    rows
}

/// The legend column: one swatch and label per entry, top to bottom.
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Mark, String)],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 14).into_font().color(&BLACK);
    for (i, (mark, label)) in entries.iter().enumerate() {
        let y = 24 + 24 * i as i32;
        let (x0, x1) = (6, 30);
        match *mark {
            Mark::Line(colour, width) => {
                area.draw(&PathElement::new(
                    vec![(x0, y), (x1, y)],
                    colour.stroke_width(width),
                ))?;
            }
            Mark::Dashed(colour, width) => {
                for x in (x0..x1).step_by(8) {
                    area.draw(&PathElement::new(
                        vec![(x, y), ((x + 5).min(x1), y)],
                        colour.stroke_width(width),
                    ))?;
                }
            }
            Mark::Note(..) => {}
            Mark::Area(colour) => {
                area.draw(&Rectangle::new([(x0, y - 6), (x1, y + 6)], colour.filled()))?;
                area.draw(&Rectangle::new(
                    [(x0, y - 6), (x1, y + 6)],
                    BLACK.mix(0.25).stroke_width(1),
                ))?;
            }
        }
        let (font, x) = match mark {
            Mark::Note(colour, indent) => {
                (font.clone().color(colour), x1 + 8 + 16 * *indent as i32)
            }
            _ => (font.clone(), x1 + 8),
        };
        area.draw(&Text::new(label.clone(), (x, y - 7), font))?;
    }
    Ok(())
}
