//! The wrapper path end to end: tiny C programs run under valgrind memcheck
//! through the executor, with the same flags as `[wrappers.memcheck]` in
//! memtest.toml; the XML valgrind writes is read back and judged. Skipped,
//! with the reason printed, only when valgrind is not installed.

use runner::build::preflight::find_program;
use runner::model::{Exit, Failure, FindingsKind, Job, Outcome, Verdict, WrapperRun};
use std::path::{Path, PathBuf};

mod common;

const LEAKING_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void leak(void) {
    char *p = malloc(4096);
    memset(p, 1, 4096);
    p = NULL;
}

int main(void) {
    leak();
    puts("TEST PASSED");
    return 0;
}
"#;

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_program(program, &path, Path::new("/")).is_some()
}

/// Compiles `source` with debug info, so valgrind can name file and line.
fn compile(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let status = std::process::Command::new("cc")
        .args(["-g", "-O0", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("cc (needed by the Rust toolchain's linker) runs");
    assert!(status.success(), "cc failed on {name}.c");
    exe
}

/// A job running `exe` under memcheck, flags as in memtest.toml.
fn memcheck_job(dir: &Path, name: &str, exe: &Path) -> Job {
    let xml = dir.join(format!("{name}.memcheck.xml"));
    let mut argv: Vec<String> = [
        "valgrind",
        "--tool=memcheck",
        "--error-exitcode=97",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
        "--xml=yes",
    ]
    .map(String::from)
    .to_vec();
    argv.push(format!("--xml-file={}", xml.display()));
    argv.push(exe.display().to_string());
    let wrapper = WrapperRun {
        name: "memcheck".into(),
        findings: FindingsKind::ValgrindXml,
        output_path: xml,
    };
    common::wrapped_job(dir, name, argv, vec![], wrapper)
}

async fn run(jobs: Vec<Job>) -> Vec<Outcome> {
    common::run_quietly(jobs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcheck_fails_a_definite_leak_and_passes_a_clean_run() {
    if !on_path("valgrind") {
        eprintln!("skipped: valgrind is not installed (apt-get install valgrind)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leaking = compile(dir.path(), "leaking", LEAKING_C);
    let clean = compile(dir.path(), "clean", common::CLEAN_C);
    let clean_job = memcheck_job(dir.path(), "clean", &clean);
    // Findings left by an earlier run must not be credited to this one.
    let stale = clean_job.wrapper.as_ref().unwrap().output_path.clone();
    std::fs::write(
        &stale,
        "<error><kind>Leak_DefinitelyLost</kind></error></valgrindoutput>",
    )
    .unwrap();
    let outcomes = run(vec![
        memcheck_job(dir.path(), "leaking", &leaking),
        clean_job,
    ])
    .await;

    let leak = &outcomes[0];
    let Verdict::Failed { failures } = &leak.verdict else {
        panic!("{:?}\n{:?}", leak.verdict, leak.measured.log_tail);
    };
    // valgrind turns the leak into its error exit code, and the findings
    // say what leaked and where; the program itself printed its marker.
    assert_eq!(leak.measured.exit, Exit::Code { code: 97 });
    assert!(leak.measured.marker_seen);
    let summary = failures
        .iter()
        .find_map(|f| match f {
            Failure::Wrapper { tool, summary } if tool == "valgrind" => Some(summary.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no valgrind failure in {failures:?}"));
    assert!(
        summary.starts_with("1 definitely lost (4096 bytes), 0 invalid accesses"),
        "{summary}"
    );
    assert!(summary.contains("at leak (leaking.c:7)"), "{summary}");
    let findings = leak.measured.findings.as_ref().unwrap();
    assert_eq!(
        findings.output.as_deref(),
        Some(dir.path().join("leaking.memcheck.xml").as_path())
    );

    let ok = &outcomes[1];
    assert_eq!(ok.verdict, Verdict::Passed, "{:?}", ok.measured.findings);
    let findings = ok.measured.findings.as_ref().unwrap();
    assert!(!findings.failing, "{}", findings.summary);
    assert_eq!(
        findings.summary,
        "0 definitely lost (0 bytes), 0 invalid accesses, 0 other errors"
    );
}
