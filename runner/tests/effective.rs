//! The effective settings of every suite of this repository's memtest.toml
//! (timeout, grace, sampling, scale, variant, wrapper, threads, limits,
//! catches), under each profile and two wrappers, against a committed
//! snapshot: a rewrite of memtest.toml that changes what any suite is judged
//! by fails here. The snapshot was taken from memtest.toml and the resolver as
//! they were before overrides, canary defaults and built-in profiles (commit
//! d6f0b9e); the rewrite since renamed the canaries and widened one canary's
//! catches, both listed below. `MEMTEST_BLESS=1 cargo test -p runner --test
//! effective` rewrites the snapshot (review its diff: it is the point).

use runner::config::{self, Config, Invocation};
use runner::model::Limits;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

const SNAPSHOT: &str = "tests/data/effective-settings.json";

/// The canaries' names in the snapshot, and now: a canary from `[defaults]`
/// is named `<suite>-canary-<variant or mode>`. Nothing but reports of past
/// runs and the durations history (an estimate, rebuilt by the next run)
/// held the old names.
const RENAMED: &[(&str, &str)] = &[
    ("rust-canary-leak", "rust-memory-leak-canary-leaky"),
    ("rust-arena-canary-leak", "rust-arena-cleanup-canary-leaky"),
    (
        "rust-error-recovery-canary-leak",
        "rust-error-recovery-canary-leaky",
    ),
    ("rust-ffi-canary-leak", "rust-ffi-alloc-stats-canary-leaky"),
    (
        "rust-pressure-canary-leak",
        "rust-memory-pressure-canary-leaky",
    ),
    ("node-canary-retain", "node-gc-verification-canary-retain"),
    ("node-canary-leaky-core", "node-ffi-memory-canary-leaky"),
    (
        "node-error-recovery-canary-leak",
        "node-error-recovery-canary-leaky",
    ),
    ("node-buffer-canary-leak", "node-buffer-memory-canary-leaky"),
    (
        "node-pressure-canary-leak",
        "node-memory-pressure-canary-leaky",
    ),
    (
        "python-canary-retain",
        "python-gc-verification-canary-retain",
    ),
    ("python-canary-leaky-core", "python-ffi-memory-canary-leaky"),
    (
        "python-error-recovery-canary-leak",
        "python-error-recovery-canary-leaky",
    ),
    (
        "python-buffer-canary-leak",
        "python-buffer-memory-canary-leaky",
    ),
    (
        "python-pressure-canary-leak",
        "python-memory-pressure-canary-leaky",
    ),
];

/// The snapshot as the rewrite meant to change it: canaries renamed, and
/// python-memory-pressure's canary now also catches `vms_growth`, the limit
/// its suite sets that the old file's hand-written list left out (the leaky
/// core leaks a copy of every 0.6-2.4 MB input, which VMS sees as RSS does).
/// Its derived catches are every memory criterion its suite is judged on.
/// And the `soak` profile is a soak by duration (issue 23): every suite but
/// the canaries (which run once) repeats its work for 24 h, so its timeout is
/// a pass's, as before, plus the 24 h.
fn as_intended(mut snapshot: Value) -> Value {
    for suite in snapshot["soak"].as_object_mut().unwrap().values_mut() {
        if suite["expect"] == "pass" {
            let timeout = suite["timeout_ms"].as_u64().unwrap();
            suite["timeout_ms"] = json!(timeout + 24 * 3600 * 1000);
        }
    }
    for suites in snapshot.as_object_mut().unwrap().values_mut() {
        let suites = suites.as_object_mut().unwrap();
        for (old, new) in RENAMED {
            let settings = suites
                .remove(*old)
                .unwrap_or_else(|| panic!("{old} in the snapshot"));
            suites.insert(new.to_string(), settings);
        }
        let catches = &mut suites["python-memory-pressure-canary-leaky"]["catches"];
        let mut list: Vec<Value> = catches.as_array().unwrap().clone();
        list.push(json!("vms_growth"));
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        *catches = Value::Array(list);
    }
    snapshot
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn limits_json(l: &Limits) -> Value {
    json!({
        "rss_growth": l.rss_growth.map(|b| b.0),
        "vms_growth": l.vms_growth.map(|b| b.0),
        "peak_rss": l.peak_rss.map(|b| b.0),
        "slope": l.slope.map(|r| r.0),
        "slope_per_op": l.slope_per_op.map(|b| b.0),
        "slope_window": l.slope_window,
        "warmup": l.warmup,
        "native_leaks": l.native_leaks,
        "marker": l.marker,
    })
}

/// Suites added since the snapshot, each on purpose: the concurrency block
/// (its suites, their canaries on the thread-leaky core, and the
/// single-threaded suites shown blind to that leak), the fuzz suites with
/// their canaries on the rare-leaky core, and the corpus suites with theirs.
const ADDED: &[&str] = &[
    "node-concurrency",
    "node-concurrency-canary-thread-leaky",
    "node-corpus",
    "node-corpus-canary-leaky",
    "node-ffi-memory-on-thread-leaky",
    "node-fuzz",
    "node-fuzz-canary-rare-leaky",
    "python-concurrency",
    "python-concurrency-canary-thread-leaky",
    "python-corpus",
    "python-corpus-canary-leaky",
    "python-ffi-memory-on-thread-leaky",
    "python-fuzz",
    "python-fuzz-canary-rare-leaky",
    "rust-concurrency",
    "rust-concurrency-canary-thread-leaky",
    "rust-corpus",
    "rust-corpus-canary-leaky",
    "rust-fuzz",
    "rust-fuzz-canary-rare-leaky",
    "rust-memory-leak-on-thread-leaky",
];

/// Every suite's effective settings under `profile` and `wrapper`.
fn effective(c: &Config, profile: Option<&str>, wrapper: Option<&str>) -> Value {
    let inv = Invocation {
        profile: profile.map(str::to_string),
        wrapper: wrapper.map(str::to_string),
        scale: None,
        duration: None,
        ..Invocation::default()
    };
    let mut out = Map::new();
    for suite in &c.suites {
        let r = c.resolve(suite, &inv).unwrap();
        let mut catches: Vec<&str> = r.catches.value.iter().map(|c| c.name()).collect();
        catches.sort_unstable();
        out.insert(
            suite.name.clone(),
            json!({
                "runtime": suite.runtime,
                "tags": suite.tags,
                "expect": suite.expect,
                "timeout_ms": r.run_timeout.as_millis() as u64,
                "grace_ms": r.grace.value.as_millis() as u64,
                "sample_interval_ms": r.sample_interval.value.as_millis() as u64,
                "scale": r.scale.value,
                "variant": r.variant.value,
                "wrapper": r.wrapper.value,
                "threads": r.threads.value,
                "exclusive": suite.exclusive,
                "catches": catches,
                "limits": limits_json(&r.judged_limits),
            }),
        );
    }
    Value::Object(out)
}

fn all_effective(c: &Config) -> Value {
    let mut out = Map::new();
    for (key, profile, wrapper) in [
        ("plain", None, None),
        ("ci", Some("ci"), None),
        ("soak", Some("soak"), None),
        ("ci+memcheck", Some("ci"), Some("memcheck")),
        ("ci+asan", Some("ci"), Some("asan")),
    ] {
        out.insert(key.to_string(), effective(c, profile, wrapper));
    }
    Value::Object(out)
}

#[test]
fn every_suite_of_the_root_config_resolves_as_the_snapshot_says() {
    let c = config::load(&repo().join("memtest.toml")).unwrap();
    let got = all_effective(&c);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("MEMTEST_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let snapshot: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let want = as_intended(snapshot);
    for (key, suites) in want.as_object().unwrap() {
        for (name, settings) in suites.as_object().unwrap() {
            assert_eq!(
                got[key].get(name),
                Some(settings),
                "{key}: suite `{name}` resolves differently"
            );
        }
        let added: Vec<&String> = got[key]
            .as_object()
            .unwrap()
            .keys()
            .filter(|name| suites.get(name.as_str()).is_none())
            .collect();
        assert_eq!(added, ADDED, "{key}: suites added or removed");
    }
}
