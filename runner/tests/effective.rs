//! The effective settings of every suite of this repository's memtest.toml
//! (timeout, grace, sampling, scale, variant, wrapper, threads, limits,
//! catches), under each profile and two wrappers, against a committed
//! snapshot: a rewrite of memtest.toml that changes what any suite is judged
//! by fails here. `MEMTEST_BLESS=1 cargo test -p runner --test effective`
//! rewrites the snapshot (review its diff: it is the point of the test).

use runner::config::{self, Config, Invocation};
use runner::model::Limits;
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
    let inv = Invocation {
        profile: profile.map(str::to_string),
        wrapper: wrapper.map(str::to_string),
        scale: None,
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
