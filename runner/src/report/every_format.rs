//! Tests across the layers, run on every export format: that the criterion
//! table drives config, verdict and every report (a criterion added to the
//! table and measured shows up everywhere without another edit, or this
//! fails), that a failed suite's log tail leaves its progress lines out
//! in every format, and that its leak sites show in every file format.

use super::export::Exporter;
use super::github::AnnotationsExporter;
use super::html::HtmlExporter;
use super::json::JsonExporter;
use super::junit::JunitExporter;
use super::markdown::MarkdownExporter;
use super::model::{Report, SuiteReport, SITES_KEPT};
use super::plot::SvgExporter;
use super::table::SummaryExporter;
use super::text::Paint;
use crate::model::{
    Criterion, Exit, Failure, Frame, Job, KnownFloor, Layer, LimitSpec, Limits, Measured, PlotLine,
    Progress, Sample, Site, SiteSource, Stream,
};
use crate::units::{Unit, Value};
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

/// Every format, by name: (format, text).
fn every_format(report: &Report) -> Vec<(&'static str, String)> {
    let plot_links = BTreeMap::new();
    let exporters: Vec<(&str, Box<dyn Exporter>)> = vec![
        ("json", Box::new(JsonExporter)),
        ("junit", Box::new(JunitExporter)),
        ("markdown", Box::new(MarkdownExporter { plot_links })),
        ("html", Box::new(HtmlExporter { baseline: None })),
        (
            "summary",
            Box::new(SummaryExporter {
                paint: Paint { enabled: false },
            }),
        ),
        ("annotations", Box::new(AnnotationsExporter)),
        (
            "svg",
            Box::new(SvgExporter {
                suite: report.suites[0].name.clone(),
            }),
        ),
    ];
    exporters
        .into_iter()
        .map(|(name, e)| (name, String::from_utf8(e.export(report).unwrap()).unwrap()))
        .collect()
}

fn report_of(job: &Job, measured: Measured) -> Report {
    // A floor of 4 KB/call: shown beside the verdict, and over a
    // `max_floor` of 1 KB.
    let floor = KnownFloor {
        bytes_per_call: 4_000,
        caught_by: vec![Criterion::NativeLeaks],
    };
    let outcome = crate::verdict::judge(job, measured, Some(&floor), None, 0.1);
    let suites = vec![SuiteReport::from_outcome(&outcome)];
    Report::new(UNIX_EPOCH, Duration::from_secs(6), false, suites)
}

/// How a limit of this unit is written in memtest.toml, for the test.
fn written(unit: Unit) -> &'static str {
    match unit {
        Unit::Size | Unit::Growth => "\"3MB\"",
        Unit::Rate => "\"1MB/s\"",
        Unit::PerOp | Unit::PerCall => "\"1KB\"",
        Unit::Count => "2",
        Unit::Text => "\"DONE\"",
    }
}

/// A run that breaks every limit `written` gives: RSS and VMS climb 30 MB
/// over 5 s in 1,000 operations, live bytes 20 MB over its checkpoints, 5
/// native allocations are left, and the marker is never printed.
fn leaking_run() -> Measured {
    let samples = (0..500u64)
        .map(|i| Sample {
            t_ms: i * 10,
            rss_bytes: 50_000_000 + i * 60_000,
            vms_bytes: 1_000_000_000 + i * 60_000,
            processes: 1,
        })
        .collect();
    Measured {
        pid: 1,
        exit: Exit::Code { code: 0 },
        duration: Duration::from_secs(5),
        samples,
        progress: (0..=100)
            .map(|i| Progress {
                t_ms: i * 50,
                operations: i * 10,
            })
            .collect(),
        peak_rss_exact: None,
        reported: [("native_leaks".to_string(), 5.0)].into(),
        marker_seen: false,
        log_tail: vec![],
        findings: None,
        sites: Vec::new(),
        checkpoints: (0..=10u64)
            .map(|i| crate::model::Checkpoint {
                t_ms: i * 500,
                x: (i * 100) as f64,
                malloc_in_use_bytes: Some(1_000_000 + i * 2_000_000),
                ..crate::model::Checkpoint::default()
            })
            .collect(),
    }
}

/// The limit as memtest.toml sets it: from `[defaults]` and from a suite's
/// `limits`, each read through config and the resolver.
fn limit_from_toml(spec: &LimitSpec) -> Value {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.py"), "").unwrap();
    let runtime = "[runtimes.py]\nkind = \"python\"\nprogram = \"python3\"\n";
    let suite = "[[suite]]\nname = \"s\"\nruntime = \"py\"\nscript = \"s.py\"\n";
    let (key, value) = (spec.key, written(spec.unit));
    let mut seen = Vec::new();
    for text in [
        format!("{runtime}[defaults]\n{key} = {value}\n{suite}"),
        format!("{runtime}{suite}limits = {{ {key} = {value} }}\n"),
    ] {
        let path = dir.path().join("memtest.toml");
        let config = crate::config::parse(&text, &path, dir.path())
            .unwrap_or_else(|e| panic!("`{key}` does not parse: {e}\n{text}"));
        let suite = config.suite("s").unwrap();
        let resolved = config
            .resolve(suite, &crate::config::Invocation::default())
            .unwrap();
        seen.push((spec.get)(&resolved.limits).expect("the limit is set"));
    }
    assert_eq!(
        seen[0], seen[1],
        "`{key}`: [defaults] and a suite's limits agree"
    );
    seen.remove(0)
}

#[test]
fn the_criterion_table_drives_config_verdict_and_every_format() {
    for (criterion, spec) in Criterion::limited() {
        let limit = limit_from_toml(spec);
        let mut job = Job::example();
        job.limits = Limits::none();
        (spec.set)(&mut job.limits, Some(limit.clone()));
        let report = report_of(&job, leaking_run());
        let suite = &report.suites[0];
        let failures: Vec<&Failure> = suite.failures.iter().map(|f| &f.failure).collect();
        assert_eq!(failures.len(), 1, "{criterion}: {failures:?}");
        assert_eq!(failures[0].criterion(), criterion, "{failures:?}");
        assert!(suite.tripped(criterion));
        let sentence = failures[0].to_string();
        let spec_of = criterion.spec();
        for (format, text) in every_format(&report) {
            let shows = |needle: &str| {
                let escaped = needle.replace('%', "%25");
                text.contains(needle) || (format == "annotations" && text.contains(&escaped))
            };
            if format != "svg" {
                assert!(shows(&sentence), "{criterion}: {format} lacks {sentence:?}");
            }
            if let (Some(column), true) = (&spec_of.column, format != "annotations") {
                let figure = suite.figure(criterion).unwrap().to_string();
                let cell = match format {
                    "markdown" => format!("**{figure}**"),
                    "html" => format!("class=\"tripped\"><span class=\"val\">{figure}</span>"),
                    _ => figure.clone(),
                };
                let header = match format {
                    "json" => spec.json.to_string(),
                    "svg" => spec_of.label.to_string(),
                    _ => column.header.to_string(),
                };
                assert!(shows(&header), "{criterion}: {format} has no {header:?}");
                if !matches!(format, "json" | "svg") {
                    assert!(shows(&cell), "{criterion}: {format} lacks {cell:?}\n{text}");
                }
            }
            if format == "svg" {
                let label = spec_of.label;
                let needle = match spec_of.plot {
                    Some(PlotLine::GrowthLimit(_) | PlotLine::LevelLimit(_)) => {
                        format!("{label} limit ({limit}): crossed")
                    }
                    Some(PlotLine::FittedSlope) => format!("slope window: {label} tripped"),
                    Some(PlotLine::WindowNote | PlotLine::Note) => {
                        let figure = suite.figure(criterion).unwrap();
                        assert!(shows(&format!("{label}: {figure}")), "{criterion}: plot");
                        format!("limit {limit}: tripped")
                    }
                    None => continue,
                };
                assert!(shows(&needle), "{criterion}: the plot lacks {needle:?}");
            }
        }
        let json: serde_json::Value = serde_json::from_str(&every_format(&report)[0].1).unwrap();
        let suite_json = &json["suites"][0];
        assert_eq!(
            suite_json["limits"][spec.json],
            serde_json::to_value(&limit).unwrap()
        );
        assert_eq!(suite_json["failures"][0]["criterion"], criterion.name());
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report, "{criterion}: the JSON reads back");
    }
}

#[test]
fn a_failed_suites_log_tail_leaves_progress_lines_out_of_every_format() {
    // A wrapped canary: valgrind slows its loop, so nearly all it prints is
    // progress; the lines that say why it died must reach the reports.
    let mut log = crate::exec::OutputLog::new(std::io::sink(), None, std::time::Instant::now());
    log.line(Stream::Stderr, "==4242== Invalid read of size 8");
    for i in 0..100 {
        log.line(Stream::Stdout, &format!("MEMTEST progress={i}"));
    }
    log.line(Stream::Stderr, "Segmentation fault (core dumped)");
    let mut measured = leaking_run();
    measured.exit = Exit::Signal {
        signal: 11,
        name: "SIGSEGV".into(),
    };
    measured.log_tail = log.finish().tail;
    let report = report_of(&Job::example(), measured);
    assert!(report.suites[0].crashed());
    for (format, text) in every_format(&report) {
        assert!(
            !text.contains("MEMTEST progress="),
            "{format} shows progress lines"
        );
        if !matches!(format, "annotations" | "svg") {
            assert!(
                text.contains("Segmentation fault"),
                "{format} lacks the tail"
            );
            assert!(
                text.contains("Invalid read of size 8"),
                "{format} lacks the tail"
            );
        }
    }
}

/// A site as `name_sites` leaves it: `bytes` of growth or live blocks, named.
fn planted_site(source: SiteSource, bytes: u64, name: &str) -> Site {
    let named = Frame {
        function: Some(name.to_string()),
        file: Some("/w/src/leak.c".into()),
        line: Some(42),
        object: Some("/w/libleak.so".into()),
    };
    Site {
        layer: Layer::Native,
        source,
        bytes,
        blocks: 7,
        frames: vec![
            Frame {
                function: Some("malloc".into()),
                ..Frame::default()
            },
            named.clone(),
            Frame {
                function: Some("main".into()),
                ..Frame::default()
            },
        ],
        name: Some(named.label()),
    }
}

#[test]
fn a_suites_leak_sites_show_in_every_file_format_by_their_named_frame() {
    let mut outcomes = super::testdata::mixed_outcomes();
    let failed = outcomes
        .iter_mut()
        .find(|o| !o.verdict.is_success())
        .expect("a failed suite");
    let mut sites = vec![
        planted_site(SiteSource::Valgrind, 51_200, "planted_leak"),
        // Growth below the noise floor is the interpreter's churn.
        planted_site(SiteSource::Tracemalloc, 1_000, "interpreter_churn"),
    ];
    // Past the cap: only the largest are kept.
    sites.extend(
        (0..SITES_KEPT)
            .map(|i| planted_site(SiteSource::MemtestAlloc, 10 + i as u64, "small_site")),
    );
    failed.measured.sites = sites;
    let report = super::testdata::report_of(&outcomes);
    let suite = report.suites.iter().find(|s| !s.sites.is_empty()).unwrap();
    assert_eq!(suite.sites.len(), SITES_KEPT);
    assert_eq!(
        suite.sites[0].name.as_deref(),
        Some("planted_leak (leak.c:42)")
    );
    for (format, text) in every_format(&report) {
        if matches!(format, "summary" | "annotations" | "svg") {
            continue;
        }
        assert!(
            text.contains("planted_leak (leak.c:42)"),
            "{format}: {text}"
        );
        assert!(!text.contains("interpreter_churn"), "{format}: {text}");
    }
    let json = every_format(&report).remove(0).1;
    for field in [
        "\"layer\": \"native\"",
        "\"bytes\": 51200",
        "\"blocks\": 7",
        "\"frames\"",
    ] {
        assert!(json.contains(field), "{field}: {json}");
    }
}

#[test]
fn a_report_without_sites_still_reads() {
    let report = super::testdata::report_of(&super::testdata::mixed_outcomes());
    let mut value = serde_json::to_value(&report).unwrap();
    for suite in value["suites"].as_array_mut().unwrap() {
        suite.as_object_mut().unwrap().remove("sites");
    }
    let back: Report = serde_json::from_value(value).unwrap();
    assert_eq!(back, report);
}

#[test]
fn a_known_floor_stands_beside_the_verdict_in_every_format() {
    let report = report_of(&Job::example(), leaking_run());
    let phrase = "would catch ≥ 4.0 KB/call (native_leaks)";
    for (format, text) in every_format(&report) {
        match format {
            "json" => {
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                let floor = &json["suites"][0]["floor"];
                assert_eq!(floor["bytes_per_call"], 4_000, "{json}");
                assert_eq!(floor["caught_by"][0], "native_leaks", "{json}");
                let back: Report = serde_json::from_value(json).unwrap();
                assert_eq!(back, report, "the floor reads back");
            }
            "markdown" | "html" | "summary" => {
                assert!(text.contains(phrase), "{format} lacks {phrase:?}\n{text}")
            }
            _ => {}
        }
    }
    let line = super::console::suite_line(&report.suites[0], Paint { enabled: false });
    assert!(line.contains(phrase), "{line}");
    // A report without the field (older, or a run without --floors) reads,
    // and shows no floor.
    let mut json: serde_json::Value = serde_json::from_str(&every_format(&report)[0].1).unwrap();
    json["suites"][0].as_object_mut().unwrap().remove("floor");
    let old: Report = serde_json::from_value(json).unwrap();
    assert_eq!(old.suites[0].floor, None);
    assert_eq!(old.suites[0].label_with_floor(), old.suites[0].label());
}

#[test]
fn an_incomplete_soak_says_so_in_every_format_with_its_slopes() {
    use crate::model::{SoakSlopes, Stopped, Verdict};
    use crate::units::BytesPerSec;
    let mut outcome = super::testdata::outcome(
        "python-soak",
        crate::model::RuntimeKind::Python,
        Verdict::Incomplete {
            stopped: Stopped::Interrupted,
            failures: vec![],
        },
    );
    outcome.job.duration = Some(Duration::from_secs(60));
    outcome.measured.exit = Exit::Interrupted;
    outcome.measured.reported.insert("soak_passes".into(), 4.0);
    outcome.figures.soak = Some(SoakSlopes {
        whole: Some(BytesPerSec(1_500.0)),
        recent: Some(BytesPerSec(42_000.0)),
        recent_window: 0.25,
    });
    let report = super::testdata::report_of(&[outcome]);
    assert_eq!(report.totals.incomplete, 1);
    assert!(!report.success);
    for (format, text) in every_format(&report) {
        assert!(
            text.to_lowercase().contains("incomplete"),
            "{format} does not say incomplete:\n{text}"
        );
    }
    // The JSON reads back as the same verdict, its reason from the exit.
    let suite = &report.suites[0];
    assert_eq!(
        suite.verdict(),
        Verdict::Incomplete {
            stopped: Stopped::Interrupted,
            failures: vec![]
        }
    );
    let json = super::json::render_json(&report);
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.suites[0].verdict(), suite.verdict());
    assert_eq!(back.totals.incomplete, 1);
    // Console and HTML give both slopes and the passes.
    let soak = super::text::soak(suite).unwrap();
    assert_eq!(
        soak,
        "soak of 4 passes: slope 1.5 KB/s over the run, 42.0 KB/s over its last 25%"
    );
    let html = every_format(&report)
        .into_iter()
        .find(|(f, _)| *f == "html")
        .unwrap()
        .1;
    assert!(html.contains(&soak), "{html}");
    assert!(html.contains("badge incomplete"));
    // A suite whose helpers know no duration says that it did not repeat.
    let mut once = suite.clone();
    once.reported.clear();
    assert!(super::text::soak(&once)
        .unwrap()
        .contains("did not repeat its work"));
}

#[test]
fn a_suites_cause_shows_beside_its_sites_in_every_file_format() {
    use crate::model::{Cause, Diagnosis, Evidence, LiveSource, Probe};
    let mut outcomes = super::testdata::mixed_outcomes();
    let failed = outcomes
        .iter_mut()
        .find(|o| !o.verdict.is_success())
        .expect("a failed suite");
    failed.cause = Some(Diagnosis {
        cause: Cause::AllocatorRetention,
        deciding: vec![
            Evidence::Trimmed { bytes: 38_000_000 },
            Evidence::LiveGrowth {
                source: LiveSource::MallocInUse,
                growth_bytes: 12_000,
            },
            Evidence::RssGrowth {
                probe: Probe::Plain,
                growth_bytes: 40_000_000,
            },
        ],
        other: vec![Evidence::FreeHeld { bytes: 39_000_000 }],
    });
    let report = super::testdata::report_of(&outcomes);
    let phrase = "allocator retention: malloc_trim returned 38.0 MB, \
                  live bytes +12.0 KB (malloc in use), RSS +40.0 MB";
    for (format, text) in every_format(&report) {
        match format {
            "json" => {
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                let suite = json["suites"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s.get("cause").is_some())
                    .expect("a suite with its cause");
                let cause = &suite["cause"];
                assert_eq!(cause["cause"], "allocator_retention", "{cause}");
                assert_eq!(cause["deciding"][0]["figure"], "trimmed", "{cause}");
                assert_eq!(cause["deciding"][0]["bytes"], 38_000_000, "{cause}");
                assert_eq!(cause["other"][0]["figure"], "free_held", "{cause}");
                let back: Report = serde_json::from_value(json).unwrap();
                assert_eq!(back, report, "the cause reads back");
            }
            "junit" | "markdown" | "html" | "summary" => {
                assert!(text.contains(phrase), "{format} lacks {phrase:?}\n{text}")
            }
            _ => {}
        }
    }
}
