//! The trend writers on a planted creep: four commits of one suite, the
//! middle ones run twice, peak RSS rising 3% a commit from a pinned 50 MB.

use super::*;
use crate::history::drift::check_all;
use crate::history::trend::{trends, Filter};
use crate::history::{Commit, Machine, Record, SCHEMA_VERSION};
use crate::verdict::baseline::{Baseline, BaselineEntry};

fn record(suite: &str, i: i64, peak: u64, success: bool) -> Record {
    Record {
        schema_version: SCHEMA_VERSION,
        suite: suite.into(),
        commit: Some(Commit {
            id: format!("c{i}{}", "0".repeat(38)),
            subject: format!("step <{i}> & more"),
            time_unix: 1000 + i,
            depth: None,
            dirty: false,
        }),
        time: "2026-12-01T00:00:00.000Z".into(),
        time_unix_ms: 5_000_000 + i as u64,
        machine: Machine {
            host: "box".into(),
            cores: 2,
        },
        profile: None,
        scale: 1.0,
        success,
        figures: BaselineEntry {
            peak_rss_bytes: peak,
            rss_growth_bytes: 1_000_000,
            slope_bytes_per_sec: None,
            duration_ms: 800,
        },
    }
}

fn creep() -> Vec<crate::history::trend::SuiteTrend> {
    let mut records = Vec::new();
    let mut peak = 50e6;
    for i in 0..8 {
        records.push(record("c-memory", i, peak as u64, true));
        if i == 1 || i == 2 {
            records.push(record("c-memory", i, (peak * 1.01) as u64, i != 2));
        }
        peak *= 1.03;
    }
    trends(&records, &Filter::default())
}

fn pinned() -> Baseline {
    let mut b = Baseline::default();
    b.suites.insert(
        "c-memory".into(),
        record("c-memory", 0, 50_000_000, true).figures,
    );
    b
}

#[test]
fn the_table_shows_bands_and_the_drift_that_steps_do_not() {
    let t = creep();
    let drift = check_all(&t, &pinned(), 0.1);
    let page = TrendPage {
        source: Path::new("h.jsonl"),
        trends: &t,
        drift: Some((&drift, Path::new("base.json"))),
        tolerance: 0.1,
        skipped: 1,
    };
    let text = render_text(&page, Paint { enabled: false });
    assert!(
        text.starts_with(
            "history h.jsonl: 1 suite, 8 commits, 10 runs (1 unreadable line left out)\n"
        ),
        "{text}"
    );
    // The commit run twice shows its median and band; one run failed.
    assert!(text.contains("51.8 MB (51.5 MB .. 52.0 MB)"), "{text}");
    assert!(text.contains("2 (1 failed)"), "{text}");
    assert!(text.contains(
        "peak RSS 61.5 MB against 50.0 MB pinned (+23.0%), limit 55.0 MB: DRIFTED, over since c400000000"
    ), "{text}");
    assert!(
        text.contains(
            "no commit-to-commit comparison failed (largest step +3.5%, tolerance +10.0%)"
        ),
        "{text}"
    );
    assert!(
        text.contains("RSS growth +1.0 MB against +1.0 MB pinned (+0.0%), limit +5.0 MB: within"),
        "{text}"
    );
    assert!(text
        .trim_end()
        .ends_with("DRIFTED: a figure passed its pinned baseline's tolerance"));
    assert!(page.failed());
}

#[test]
fn the_json_names_every_points_spread_and_the_drift() {
    let t = creep();
    let drift = check_all(&t, &pinned(), 0.1);
    let page = TrendPage {
        source: Path::new("h.jsonl"),
        trends: &t,
        drift: Some((&drift, Path::new("base.json"))),
        tolerance: 0.1,
        skipped: 0,
    };
    let v: serde_json::Value = serde_json::from_str(&render_json(&page)).unwrap();
    assert_eq!(v["drifted"], true);
    let suite = &v["suites"][0];
    assert_eq!(suite["points"].as_array().unwrap().len(), 8);
    let second = &suite["points"][1];
    assert_eq!(second["runs"], 2);
    assert_eq!(second["figures"]["peak_rss_bytes"]["n"], 2);
    assert!(second["figures"].get("slope_bytes_per_sec").is_none());
    let check = &suite["drift"]["checks"][0];
    assert_eq!(check["metric"], "peak_rss_bytes");
    assert_eq!(check["steps_over"].as_array().unwrap().len(), 0);
    assert!(check["over_since"]
        .as_str()
        .unwrap()
        .starts_with("c400000000"));
}

#[test]
fn the_plot_draws_a_band_a_median_and_the_pinned_lines() {
    let t = creep();
    let drift = check_all(&t, &pinned(), 0.1);
    let svg = render_svg(&t[0], Some(&drift[0])).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    // One band and one median line per figure measured (peak, growth, duration).
    assert_eq!(svg.matches("<polygon").count(), 3, "bands");
    assert!(svg.matches("<polyline").count() >= 3, "median lines");
    assert!(svg.contains("drifted past its pinned baseline"));
    assert!(svg.contains("limit 55.0 MB"));
    // Without a baseline: no pinned lines, and a single commit still draws.
    let one = trends(&[record("a", 0, 1_000_000, true)], &Filter::default());
    let svg = render_svg(&one[0], None).unwrap();
    assert!(!svg.contains("pinned"));
    assert_eq!(svg.matches("<polygon").count(), 0);
}

#[test]
fn the_page_escapes_text_and_holds_a_section_per_suite() {
    let mut records = vec![record("a<b>", 0, 1_000_000, true)];
    records.push(record("c-memory", 0, 2_000_000, true));
    let t = trends(&records, &Filter::default());
    let page = TrendPage {
        source: Path::new("h.jsonl"),
        trends: &t,
        drift: None,
        tolerance: 0.1,
        skipped: 0,
    };
    let html = render_html(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        html.matches("<section class=\"suite trend plain\"").count(),
        2
    );
    assert!(html.contains("data-suite=\"a&lt;b&gt;\""));
    assert!(html.contains("step &lt;0&gt; &amp; more"));
    assert!(!html.contains("<b>"));
    assert!(html.contains("<div class=\"result\">TREND</div>"));
    assert!(
        !html.contains("http://") || !html.contains("src=\"http"),
        "nothing loaded from the network"
    );
}
