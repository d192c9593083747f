//! `memtest trend`: a history's figures over commits (see
//! [`crate::history`]), as a table on the terminal, a JSON document
//! (`--json`), one SVG per suite (`--svg DIR`, alias of `--plot`) and one
//! self-contained HTML page (`--html`). Every point shows its median run and
//! the band from its lowest to highest run; with `--baseline` each figure is
//! also checked for drift against that pinned baseline, and the
//! commit-to-commit comparison is shown beside it. Figures are formatted
//! through `Metric::value` (crate::units).

mod html;
mod svg;

pub use html::render_html;
pub use svg::render_svg;

use super::text::Paint;
use super::ReportError;
use crate::atomic::write_atomic;
use crate::history::drift::{Drift, SuiteDrift};
use crate::history::trend::{Point, SuiteTrend};
use crate::model::Metric;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Modify, Style};

/// Version of the trend's JSON form.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a trend writer shows.
#[derive(Debug, Clone, Copy)]
pub struct TrendPage<'a> {
    /// The history file.
    pub source: &'a Path,
    pub trends: &'a [SuiteTrend],
    /// With `--baseline`: the drift of each suite, and the file.
    pub drift: Option<(&'a [SuiteDrift], &'a Path)>,
    /// A fraction (0.1 = 10%).
    pub tolerance: f64,
    /// History lines that could not be read.
    pub skipped: usize,
}

impl TrendPage<'_> {
    pub fn drift_of(&self, suite: &str) -> Option<&SuiteDrift> {
        self.drift?.0.iter().find(|d| d.suite == suite)
    }

    /// Some figure of some suite drifted past its pinned value.
    pub fn failed(&self) -> bool {
        self.drift
            .is_some_and(|(d, _)| d.iter().any(SuiteDrift::failed))
    }

    fn runs(&self) -> usize {
        self.trends
            .iter()
            .flat_map(|t| &t.points)
            .map(|p| p.runs.len())
            .sum()
    }

    /// "3 suites, 12 commits, 40 runs".
    fn counts(&self) -> String {
        let mut commits: Vec<String> = self
            .trends
            .iter()
            .flat_map(|t| &t.points)
            .map(|p| p.commit.as_ref().map_or_else(|| p.label(), |c| c.short()))
            .collect();
        commits.sort();
        commits.dedup();
        let skipped = match self.skipped {
            0 => String::new(),
            n => format!(
                " ({n} unreadable line{} left out)",
                if n == 1 { "" } else { "s" }
            ),
        };
        format!(
            "{} suite{}, {} commit{}, {} runs{skipped}",
            self.trends.len(),
            plural(self.trends.len()),
            commits.len(),
            plural(commits.len()),
            self.runs()
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A point's figure: the median, and the band when its runs differ as
/// shown.
pub fn cell(point: &Point, metric: Metric) -> String {
    let Some(s) = point.spread(metric) else {
        return "-".into();
    };
    let (median, min, max) = (
        metric.value(s.median).to_string(),
        metric.value(s.min).to_string(),
        metric.value(s.max).to_string(),
    );
    if min == max {
        median
    } else {
        format!("{median} ({min} .. {max})")
    }
}

/// "3 runs" or "3 runs, 1 failed".
pub fn runs_cell(point: &Point) -> String {
    let failed = point.runs.len() - point.successes();
    match failed {
        0 => format!("{}", point.runs.len()),
        f => format!("{} ({f} failed)", point.runs.len()),
    }
}

fn percent(fraction: f64) -> String {
    format!("{:+.1}%", fraction * 100.0)
}

/// One figure's drift as a sentence.
pub fn drift_sentence(d: &Drift, trend: &SuiteTrend, tolerance: f64) -> String {
    let m = d.metric;
    let change = d
        .change()
        .map_or(String::new(), |c| format!(" ({})", percent(c)));
    let head = format!(
        "{} {} against {} pinned{change}, limit {}",
        m.label(),
        m.value(d.latest),
        m.value(d.pinned),
        m.value(d.limit)
    );
    let label = |i: usize| trend.points[i].label();
    let verdict = match d.over_since {
        Some(i) => format!("DRIFTED, over since {}", label(i)),
        None => "within".into(),
    };
    let steps = match (&d.largest_step, d.steps_over.as_slice()) {
        (None, _) => String::new(),
        (Some((_, rise)), []) => format!(
            "; no commit-to-commit comparison failed (largest step {}, tolerance {})",
            percent(*rise),
            percent(tolerance)
        ),
        (Some(_), over) => {
            let at: Vec<String> = over.iter().map(|i| label(*i)).collect();
            format!(
                "; the comparison with the commit before failed at {}",
                at.join(", ")
            )
        }
    };
    format!("{head}: {verdict}{steps}")
}

/// The terminal's view: per suite, a table of its commits (newest last)
/// and the drift of each figure.
pub fn render_text(page: &TrendPage, paint: Paint) -> String {
    let mut out = format!("history {}: {}\n", page.source.display(), page.counts());
    if let Some((_, baseline)) = page.drift {
        out.push_str(&format!(
            "drift against the pinned baseline {} (tolerance {})\n",
            baseline.display(),
            percent(page.tolerance)
        ));
    }
    for t in page.trends {
        out.push_str(&format!("\n{}\n", paint.bold(&t.suite)));
        let metrics = t.metrics();
        let mut b = Builder::default();
        let mut header = vec!["commit".to_string(), "subject".into(), "runs".into()];
        header.extend(metrics.iter().map(|m| m.label().to_string()));
        b.push_record(header);
        for p in &t.points {
            let mut row = vec![p.label(), truncate(p.subject(), 32), runs_cell(p)];
            row.extend(metrics.iter().map(|m| cell(p, *m)));
            b.push_record(row);
        }
        let mut table = b.build();
        table
            .with(Style::rounded())
            .with(Modify::new(Columns::new(2..)).with(Alignment::right()));
        out.push_str(&table.to_string());
        out.push('\n');
        match page.drift_of(&t.suite) {
            Some(d) if !d.pinned => out.push_str("  not in the pinned baseline: no drift check\n"),
            Some(d) => {
                for c in &d.checks {
                    let line = drift_sentence(c, t, page.tolerance);
                    let line = if c.failed() { paint.red(&line) } else { line };
                    out.push_str(&format!("  {line}\n"));
                }
            }
            None => {}
        }
    }
    if page.drift.is_some() {
        out.push_str(&if page.failed() {
            format!(
                "\n{}\n",
                paint.red("DRIFTED: a figure passed its pinned baseline's tolerance")
            )
        } else {
            format!(
                "\n{}\n",
                paint.green("WITHIN: every figure within its pinned baseline's tolerance")
            )
        });
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}

#[derive(Serialize)]
struct JsonTrend<'a> {
    schema_version: u32,
    history: &'a Path,
    baseline: Option<&'a Path>,
    tolerance: f64,
    drifted: bool,
    suites: Vec<JsonSuite<'a>>,
}

#[derive(Serialize)]
struct JsonSuite<'a> {
    suite: &'a str,
    points: Vec<JsonPoint<'a>>,
    drift: Option<JsonDrift>,
}

#[derive(Serialize)]
struct JsonPoint<'a> {
    commit: Option<&'a crate::history::Commit>,
    label: String,
    runs: usize,
    successes: usize,
    figures: BTreeMap<Metric, JsonSpread>,
}

#[derive(Serialize)]
struct JsonSpread {
    min: f64,
    median: f64,
    max: f64,
    n: usize,
}

#[derive(Serialize)]
struct JsonDrift {
    pinned: bool,
    failed: bool,
    checks: Vec<JsonCheck>,
}

#[derive(Serialize)]
struct JsonCheck {
    metric: Metric,
    pinned: f64,
    limit: f64,
    latest: f64,
    over_since: Option<String>,
    steps_over: Vec<String>,
}

/// The trend as JSON: every point's spread per figure, and the drift.
pub fn render_json(page: &TrendPage) -> String {
    let suites = page
        .trends
        .iter()
        .map(|t| JsonSuite {
            suite: &t.suite,
            points: t
                .points
                .iter()
                .map(|p| JsonPoint {
                    commit: p.commit.as_ref(),
                    label: p.label(),
                    runs: p.runs.len(),
                    successes: p.successes(),
                    figures: Metric::ALL
                        .into_iter()
                        .filter_map(|m| {
                            let s = p.spread(m)?;
                            Some((
                                m,
                                JsonSpread {
                                    min: s.min,
                                    median: s.median,
                                    max: s.max,
                                    n: s.n,
                                },
                            ))
                        })
                        .collect(),
                })
                .collect(),
            drift: page.drift_of(&t.suite).map(|d| JsonDrift {
                pinned: d.pinned,
                failed: d.failed(),
                checks: d
                    .checks
                    .iter()
                    .map(|c| JsonCheck {
                        metric: c.metric,
                        pinned: c.pinned,
                        limit: c.limit,
                        latest: c.latest,
                        over_since: c.over_since.map(|i| t.points[i].label()),
                        steps_over: c.steps_over.iter().map(|i| t.points[*i].label()).collect(),
                    })
                    .collect(),
            }),
        })
        .collect();
    let doc = JsonTrend {
        schema_version: SCHEMA_VERSION,
        history: page.source,
        baseline: page.drift.map(|(_, p)| p),
        tolerance: page.tolerance,
        drifted: page.failed(),
        suites,
    };
    serde_json::to_string_pretty(&doc).expect("a trend always serialises") + "\n"
}

/// Prints the trend, and the files written, to stdout.
pub fn print(page: &TrendPage, written: &[PathBuf], paint: Paint) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(render_text(page, paint).as_bytes())?;
    for path in written {
        writeln!(out, "wrote {}", path.display())?;
    }
    out.flush()
}

/// Where `trend` writes its files.
#[derive(Debug, Clone, Default)]
pub struct TrendFiles {
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub svg_dir: Option<PathBuf>,
}

/// Writes every file asked for; the paths written.
pub fn write_files(page: &TrendPage, files: &TrendFiles) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let mut put = |path: PathBuf, text: &str| {
        write_atomic(&path, text.as_bytes()).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
        Ok::<(), ReportError>(())
    };
    if let Some(path) = &files.json {
        put(path.clone(), &render_json(page))?;
    }
    if let Some(dir) = &files.svg_dir {
        for t in page.trends {
            let svg = render_svg(t, page.drift_of(&t.suite))?;
            put(dir.join(super::plot::file_name(&t.suite)), &svg)?;
        }
    }
    if let Some(path) = &files.html {
        put(path.clone(), &render_html(page)?)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
