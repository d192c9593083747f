//! The sanitizer wrapper (`[wrappers.asan]`): how a run under it is planned
//! (a build variant composed with each suite's own, the runtime preloaded
//! for interpreters only, the sanitizer's options per suite and runtime),
//! and the whole path end to end: C programs built with `cc
//! -fsanitize=address` run through the executor, their LeakSanitizer logs
//! read back and judged. The end-to-end test is skipped, with the reason
//! printed, only when `cc` cannot build with AddressSanitizer.

use runner::build::request;
use runner::config::{self, Config, Invocation, ResolvedSuite, Suite};
use runner::model::Artifacts;
use runner::model::{Exit, Failure, FindingsKind, Job, Outcome, Verdict, WrapperRun};
use runner::plan::jobs::{plan, PlanOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

const TOML: &str = r#"
[build]
package = "pyjamaz"
lib = "pyjamaz"
lib_env = "PYJAMAZ_LIB_PATH"
rust_suites = "memsuite"
[build.variants.leaky]
features = ["canary-leak"]
[build.variants.asan]
toolchain = "nightly"
target = "x86_64-unknown-linux-gnu"
rustflags = ["-Zsanitizer=address"]
[defaults]
rss_growth = "4MB"
[runtimes.rust]
kind = "rust"
[runtimes.python]
kind = "python"
program = "python3"
[wrappers.asan]
variant = "asan"
preload = "libasan.so.8"
findings = "sanitizer"
output = "${log_dir}/${suite}.asan"
timeout_factor = 5.0
env = { ASAN_OPTIONS = "log_path=${log_dir}/${suite}.asan", LSAN_OPTIONS = "suppressions=${root}/sanitizers/${runtime}.supp" }
[[suite]]
name = "rs"
runtime = "rust"
test = "memory_leak"
canaries = [{ name = "rs-canary", variant = "leaky", catches = ["native_leaks"] }]
[[suite]]
name = "py"
runtime = "python"
script = "a.py"
canaries = [{ name = "py-canary", variant = "leaky", catches = ["native_leaks"] }]
"#;

/// Every suite, resolved under `wrapper`.
fn resolved<'c>(c: &'c Config, wrapper: Option<&str>) -> Vec<ResolvedSuite<'c>> {
    let inv = Invocation {
        wrapper: wrapper.map(str::to_string),
        ..Invocation::default()
    };
    let suites: Vec<&Suite> = c.suites.iter().collect();
    c.resolve_all(&suites, &inv).unwrap()
}

fn parse(dir: &Path) -> Config {
    std::fs::write(dir.join("a.py"), "").unwrap();
    config::parse(TOML, &dir.join("memtest.toml"), dir).unwrap()
}

#[test]
fn a_wrapper_variant_composes_with_each_suites_own() {
    let dir = tempfile::tempdir().unwrap();
    let c = parse(dir.path());
    let plain = request(&c, &resolved(&c, None));
    assert_eq!(
        plain.variants.iter().collect::<Vec<_>>(),
        ["default", "leaky"]
    );
    let asan = request(&c, &resolved(&c, Some("asan")));
    assert_eq!(
        asan.variants.iter().collect::<Vec<_>>(),
        ["asan", "leaky+asan"]
    );
    assert!(asan
        .tests
        .contains(&("leaky+asan".to_string(), "memory_leak".to_string())));
    // The composed variant adds up its parts.
    let b = c.build.as_ref().unwrap();
    let leaky_asan = b.variant("leaky+asan").unwrap();
    assert_eq!(leaky_asan.features, ["canary-leak"]);
    assert_eq!(leaky_asan.rustflags, ["-Zsanitizer=address"]);
    assert_eq!(leaky_asan.toolchain.as_deref(), Some("nightly"));
    assert_eq!(
        leaky_asan.target.as_deref(),
        Some("x86_64-unknown-linux-gnu")
    );
    assert!(b.variant("leaky+msan").is_none());
}

#[test]
fn under_asan_interpreters_preload_the_runtime_and_rust_suites_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let c = parse(dir.path());
    let mut artifacts = Artifacts::default();
    for v in ["asan", "leaky+asan"] {
        artifacts
            .libs
            .insert(v.into(), format!("/lib/{v}/libpyjamaz.so").into());
        artifacts.tests.insert(
            (v.into(), "memory_leak".into()),
            format!("/bin/{v}/memory_leak").into(),
        );
    }
    let opts = PlanOptions {
        interpreters: BTreeMap::from([("python".to_string(), "/real/python3".to_string())]),
        helpers: None,
    };
    let jobs = plan(&c, &resolved(&c, Some("asan")), &artifacts, &opts).unwrap();
    let by_name = |n: &str| jobs.iter().find(|j| j.suite == n).unwrap();
    let env = |j: &Job, key: &str| {
        j.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let logs = c.log_dir().display().to_string();
    let root = dir.path().display().to_string();

    let rs = by_name("rs");
    assert_eq!(
        rs.argv,
        ["/bin/asan/memory_leak"],
        "no tool before the suite"
    );
    assert_eq!(env(rs, "LD_PRELOAD"), None, "rust suites link the runtime");
    assert_eq!(
        env(rs, "ASAN_OPTIONS").unwrap(),
        format!("log_path={logs}/rs.asan")
    );
    assert_eq!(
        env(rs, "LSAN_OPTIONS").unwrap(),
        format!("suppressions={root}/sanitizers/rust.supp")
    );
    assert_eq!(rs.limits.rss_growth, None, "RSS limits off under a wrapper");
    let w = rs.wrapper.as_ref().unwrap();
    assert_eq!(w.findings, FindingsKind::Sanitizer);
    assert_eq!(w.output_path, PathBuf::from(format!("{logs}/rs.asan")));
    assert_eq!(by_name("rs-canary").argv, ["/bin/leaky+asan/memory_leak"]);

    let py = by_name("py-canary");
    assert_eq!(
        py.argv[0], "/real/python3",
        "the real interpreter, not a shim"
    );
    assert_eq!(env(py, "LD_PRELOAD").as_deref(), Some("libasan.so.8"));
    assert_eq!(
        env(py, "MEMTEST_WRAPPER").as_deref(),
        Some("asan"),
        "the helpers leave RSS trends unjudged under a wrapper"
    );
    assert_eq!(
        env(py, "PYJAMAZ_LIB_PATH").as_deref(),
        Some("/lib/leaky+asan/libpyjamaz.so")
    );
    assert_eq!(
        env(py, "LSAN_OPTIONS").unwrap(),
        format!("suppressions={root}/sanitizers/python.supp")
    );
}

#[test]
fn a_wrapper_variant_must_be_declared() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.py"), "").unwrap();
    let text = TOML.replace("variant = \"asan\"\npreload", "variant = \"tsan\"\npreload");
    let err = config::parse(&text, &dir.path().join("memtest.toml"), dir.path()).unwrap_err();
    let config::ConfigError::Invalid { diagnostics } = err else {
        panic!("{err}");
    };
    let all = diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("unknown variant `tsan`"), "{all}");
}

const LEAKING_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static char *leak(void) {
    char *p = malloc(4096);
    memset(p, 1, 4096);
    return p;
}

int main(void) {
    char *p = leak();
    p[0] = 2;
    p = NULL;
    puts("TEST PASSED");
    /* LeakSanitizer ends the process from its exit handler, before stdio
       flushes a piped stdout. */
    fflush(stdout);
    return 0;
}
"#;

/// Compiles `source` with AddressSanitizer and frame pointers (so the fast
/// unwinder finds the allocating function); `None` if cc cannot.
fn compile(dir: &Path, name: &str, source: &str, asan: bool) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let mut cc = std::process::Command::new("cc");
    cc.args(["-g", "-O0", "-fno-omit-frame-pointer"]);
    if asan {
        cc.arg("-fsanitize=address");
    }
    let status = cc.arg("-o").arg(&exe).arg(&src).status().ok()?;
    status.success().then_some(exe)
}

/// A job as `[wrappers.asan]` plans it for a rust suite: no argv prefix,
/// the sanitizer's options in the environment.
fn asan_job(dir: &Path, name: &str, exe: &Path) -> Job {
    let log = dir.join(format!("{name}.asan"));
    let env = vec![(
        "ASAN_OPTIONS".into(),
        format!("atexit=1:detect_leaks=1:log_path={}", log.display()),
    )];
    let wrapper = WrapperRun {
        name: "asan".into(),
        findings: FindingsKind::Sanitizer,
        output_path: log,
    };
    common::wrapped_job(dir, name, vec![exe.display().to_string()], env, wrapper)
}

async fn run(jobs: Vec<Job>) -> Vec<Outcome> {
    common::run_quietly(jobs).await
}

fn wrapper_failure(outcome: &Outcome) -> String {
    let Verdict::Failed { failures } = &outcome.verdict else {
        panic!("{:?}\n{:?}", outcome.verdict, outcome.measured.log_tail);
    };
    failures
        .iter()
        .find_map(|f| match f {
            Failure::Wrapper { tool, summary } if tool == "sanitizer" => Some(summary.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no sanitizer failure in {failures:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_sanitizer_fails_a_leak_passes_a_clean_run_and_an_unloaded_runtime_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (Some(leaking), Some(clean)) = (
        compile(dir.path(), "leaking", LEAKING_C, true),
        compile(dir.path(), "clean", common::CLEAN_C, true),
    ) else {
        eprintln!("skipped: cc cannot build with -fsanitize=address (apt-get install gcc)");
        return;
    };
    let plain = compile(dir.path(), "plain", common::CLEAN_C, false).unwrap();
    let clean_job = asan_job(dir.path(), "clean", &clean);
    // A log left by an earlier run must not be credited to this one.
    let stale = dir.path().join("clean.asan.1");
    std::fs::write(
        &stale,
        "Direct leak of 9 byte(s) in 1 object(s) allocated from:\n",
    )
    .unwrap();
    let outcomes = run(vec![
        asan_job(dir.path(), "leaking", &leaking),
        clean_job,
        asan_job(dir.path(), "plain", &plain),
    ])
    .await;

    let leak = &outcomes[0];
    // ASan's exit code (1; LeakSanitizer run inside ASan uses it, not the
    // standalone 23), and findings that say what and where.
    assert_eq!(leak.measured.exit, Exit::Code { code: 1 });
    assert!(leak.measured.marker_seen);
    let summary = wrapper_failure(leak);
    assert!(
        summary.starts_with("1 direct leaks (4096 bytes), 0 indirect (0 bytes), 0 errors"),
        "{summary}"
    );
    assert!(summary.contains("at leak (leaking.c:7"), "{summary}");

    let ok = &outcomes[1];
    assert_eq!(ok.verdict, Verdict::Passed, "{:?}", ok.measured.findings);
    assert!(!stale.exists(), "the stale log was not cleared");
    let findings = ok.measured.findings.as_ref().unwrap();
    assert_eq!(
        findings.summary,
        "0 direct leaks (0 bytes), 0 indirect (0 bytes), 0 errors"
    );

    // Built without the sanitizer: nothing was checked, which must fail.
    let summary = wrapper_failure(&outcomes[2]);
    assert!(summary.contains("runtime was not loaded"), "{summary}");
}
