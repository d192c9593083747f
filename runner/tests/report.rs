//! End-to-end tests of the reporters on real runs: python fixtures executed by
//! the real executor, their events fed to the console and file reporters, the
//! files read back, merged across two partitions, and turned into a baseline.

use runner::exec::ExecOptions;
use runner::model::{Event, Job};
use runner::report::{
    merge, read_report, save_baseline, write_files, ConsoleReporter, FilesReporter, ReportError,
    ReportOptions, Reporter, VerdictKind,
};
use runner::units::Bytes;
use runner::verdict::baseline::Baseline;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod common;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The executor tests' python job, with a peak limit so the table shows one.
fn python_job(dir: &Path, suite: &str, script: &str, args: &[&str]) -> Job {
    let mut job = common::python_job(dir, suite, script, args);
    job.tags = vec!["python".into()];
    job.limits.peak_rss = Some(Bytes(200_000_000));
    job
}

/// Runs `jobs` through the executor with a console (non-tty) and a files
/// reporter writing into `out`; returns the console's text.
fn run(jobs: Vec<Job>, out: &Path, name: &str) -> String {
    let opts = ReportOptions {
        json: Some(out.join(format!("{name}.json"))),
        junit: Some(out.join(format!("{name}.xml"))),
        plot_dir: Some(out.join(format!("{name}-plots"))),
        html: Some(out.join(format!("{name}.html"))),
        summary: Some(out.join(format!("{name}.md"))),
        github: true,
        ..ReportOptions::default()
    };
    let console_out = Sink::default();
    let annotations = Sink::default();
    let mut reporters: Vec<Box<dyn Reporter>> = vec![
        Box::new(ConsoleReporter::to_writer(
            Box::new(console_out.clone()),
            &opts,
            None,
        )),
        Box::new(FilesReporter::with_output(
            opts.clone(),
            Default::default(),
            Box::new(annotations.clone()),
        )),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let exec = ExecOptions {
        budget: runner::exec::Budget {
            slots: 2,
            memory_bytes: None,
        },
        forward_output: false,
        sampler: runner::sample::SamplerKind::default_for_platform(),
    };
    runtime.block_on(common::run_jobs(jobs, exec, tx, std::future::pending()));
    while let Ok(event) = rx.try_recv() {
        for reporter in &mut reporters {
            reporter.on_event(&event);
        }
    }
    for reporter in &mut reporters {
        reporter.finish().unwrap();
    }
    console_out.text() + &annotations.text()
}

#[test]
fn real_runs_report_merge_and_make_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let console_a = run(
        vec![python_job(out, "bounded", "bounded.py", &[])],
        out,
        "a",
    );
    let console_b = run(
        vec![
            python_job(out, "leak", "leaking.py", &[]),
            python_job(out, "segv", "crashing.py", &["segv"]),
        ],
        out,
        "b",
    );

    // Console: one line per suite, then the table and closing line.
    assert!(console_a.contains("PASS ["), "{console_a}");
    assert!(console_a.contains("PASSED: 1 suite in"), "{console_a}");
    assert!(console_b.contains("FAIL [") && console_b.contains("FAILED: 2 suites"));
    assert!(
        console_b.contains("about to crash"),
        "crash tail: {console_b}"
    );
    assert_eq!(console_b.matches("::error title=memtest ").count(), 2);
    assert!(!console_a.contains('\x1b'));

    // Files of each run read back; the leak is caught by its figures.
    let a = read_report(&out.join("a.json")).unwrap();
    let b = read_report(&out.join("b.json")).unwrap();
    assert!(a.success && !b.success);
    let leak = b.suites.iter().find(|s| s.name == "leak").unwrap();
    assert_eq!(leak.verdict, VerdictKind::Failed);
    assert!(leak.samples.len() > 20, "{} samples", leak.samples.len());
    assert!(leak.figures.rss_growth_bytes > 16_000_000);
    let svg = std::fs::read_to_string(out.join("b-plots/leak.svg")).unwrap();
    assert!(svg.contains("<polyline") && svg.contains("RSS growth limit"));
    let xml = std::fs::read_to_string(out.join("b.xml")).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 2);
    let html = std::fs::read_to_string(out.join("b.html")).unwrap();
    for suite in ["leak", "segv"] {
        assert!(
            html.contains(&format!(
                "<section class=\"suite failed\" id=\"suite-{suite}\""
            )),
            "{suite} has no open failing section"
        );
    }
    assert!(html.contains("<h3>failed criteria</h3>") && html.contains("about to crash"));
    let md = std::fs::read_to_string(out.join("b.md")).unwrap();
    assert!(md.contains("[svg](b-plots/leak.svg)"), "{md}");

    // Merge the two partitions; merging one twice is refused.
    let merged = merge(
        &[out.join("a.json"), out.join("b.json")],
        &out.join("all.json"),
    )
    .unwrap();
    let names: Vec<_> = merged
        .report
        .suites
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["bounded", "leak", "segv"]);
    assert_eq!(merged.report.totals.failed, 2);
    assert_eq!(read_report(&out.join("all.json")).unwrap(), merged.report);
    let dup = merge(
        &[out.join("a.json"), out.join("a.json")],
        &out.join("x.json"),
    );
    assert!(matches!(dup, Err(ReportError::DuplicateSuite { .. })));

    // `merge --html` renders the whole matrix; with partition a's report as
    // the baseline, its figures and its curve show beside the new ones.
    let page = out.join("all.html");
    let opts = ReportOptions {
        html: Some(page.clone()),
        baseline_report: Some(out.join("a.json")),
        ..ReportOptions::default()
    };
    let written = write_files(&merged.report, &opts, &mut Vec::new()).unwrap();
    assert_eq!(written.html.as_deref(), Some(page.as_path()));
    let html = std::fs::read_to_string(&page).unwrap();
    let drawable = merged
        .report
        .suites
        .iter()
        .filter(|s| s.samples.len() >= 2)
        .count();
    assert!(drawable >= 2);
    assert_eq!(
        html.matches("<figure class=\"plot\"><svg").count(),
        drawable
    );
    let bounded = &html[html.find("id=\"suite-bounded\"").unwrap()..];
    let bounded = &bounded[..bounded.find("</section>").unwrap()];
    assert!(
        bounded.contains("RSS of the baseline run"),
        "no baseline curve"
    );
    assert!(bounded.contains("<th>baseline</th>"));
    let missing = ReportOptions {
        baseline_report: Some(out.join("missing.json")),
        ..opts
    };
    let err = write_files(&merged.report, &missing, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");

    // A baseline of the merged run has every suite that ran to its end.
    let baseline_path: PathBuf = out.join("memtest-baseline.json");
    save_baseline(&out.join("all.json"), &baseline_path).unwrap();
    let baseline = Baseline::load(&baseline_path).unwrap();
    assert_eq!(baseline.suites.len(), 3);
    assert_eq!(
        baseline.get("leak").unwrap().rss_growth_bytes,
        leak.figures.rss_growth_bytes
    );
}
