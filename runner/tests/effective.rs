//! The effective settings of every suite of this repository's memtest.toml
//! (timeout, grace, sampling, scale, variant, wrapper, threads, limits,
//! catches), under each profile and two wrappers, against a committed
//! snapshot: a rewrite of memtest.toml that changes what any suite is judged
//! by fails here. `MEMTEST_BLESS=1 cargo test -p runner --test effective`
//! rewrites the snapshot (review its diff: it is the point of the test).

use runner::config::{self, Config};
use runner::model::Limits;
use runner::plan;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

const SNAPSHOT: &str = "tests/data/effective-settings.json";

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

/// Every suite's effective settings under `profile` and `wrapper`.
fn effective(c: &Config, profile: Option<&str>, wrapper: Option<&str>) -> Value {
    let settings = c.settings(profile).unwrap();
    let mut out = Map::new();
    for suite in &c.suites {
        let r = plan::resolve(c, suite, &settings, wrapper).unwrap();
        let mut catches: Vec<&str> = suite.catches.iter().map(|c| c.name()).collect();
        catches.sort_unstable();
        out.insert(
            suite.name.clone(),
            json!({
                "runtime": suite.runtime,
                "tags": suite.tags,
                "expect": suite.expect,
                "timeout_ms": r.timeout.as_millis() as u64,
                "grace_ms": settings.grace.as_millis() as u64,
                "sample_interval_ms": settings.sample_interval.as_millis() as u64,
                "scale": plan::scale_of(suite, &settings, settings.scale),
                "variant": plan::variant_of(c, suite, wrapper),
                "wrapper": r.wrapper.map(|w| w.name.clone()),
                "threads": suite.threads,
                "exclusive": suite.exclusive,
                "catches": catches,
                "limits": limits_json(&r.limits),
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
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (key, suites) in want.as_object().unwrap() {
        for (name, settings) in suites.as_object().unwrap() {
            assert_eq!(
                got[key].get(name),
                Some(settings),
                "{key}: suite `{name}` resolves differently"
            );
        }
        assert_eq!(
            got[key].as_object().unwrap().len(),
            suites.as_object().unwrap().len(),
            "{key}: suites added or removed"
        );
    }
}
