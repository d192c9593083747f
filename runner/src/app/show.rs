//! `memtest show`: every effective setting of each selected suite, and where
//! it came from (built-in, `[defaults]`, an override, the suite, a canary's
//! declaration, a profile, the command line), as the resolver gives them:
//! the answer to "why does this suite get that timeout?". As text, or as
//! JSON for scripts and tests.

use crate::config::{limit_entries, ResolvedSuite, Source};
use crate::model::Expect;
use crate::units::format_duration;
use serde_json::{json, Map, Value};

/// One setting: its key, its value as memtest.toml would say it, its source.
struct Row {
    key: &'static str,
    value: String,
    source: String,
}

fn row(key: &'static str, value: impl ToString, source: &Source) -> Row {
    Row {
        key,
        value: value.to_string(),
        source: source.to_string(),
    }
}

fn or_none<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

fn rows(s: &ResolvedSuite<'_>) -> Vec<Row> {
    let r = &s.settings;
    let mut run_timeout_source = match &r.wrapper.value {
        Some(w) => format!(
            "timeout x timeout_factor x wrapper {w}'s {}",
            r.wrapper_timeout_factor
        ),
        None => "timeout x timeout_factor".to_string(),
    };
    if r.duration.value.is_some() {
        run_timeout_source.push_str(" + duration");
    }
    let mut out = vec![
        row(
            "timeout",
            format_duration(r.timeout.value),
            &r.timeout.source,
        ),
        row(
            "timeout_factor",
            r.timeout_factor.value,
            &r.timeout_factor.source,
        ),
        row(
            "duration",
            r.duration
                .value
                .map_or_else(|| "-".to_string(), format_duration),
            &r.duration.source,
        ),
        Row {
            key: "run_timeout",
            value: format_duration(r.run_timeout),
            source: run_timeout_source,
        },
        row("grace", format_duration(r.grace.value), &r.grace.source),
        row(
            "sample_interval",
            format_duration(r.sample_interval.value),
            &r.sample_interval.source,
        ),
        row("scale", r.scale.value, &r.scale.source),
        row(
            "canary_scale",
            or_none(&r.canary_scale.value),
            &r.canary_scale.source,
        ),
        row("threads", r.threads.value, &r.threads.source),
        row("variant", &r.variant.value, &r.variant.source),
        row("wrapper", or_none(&r.wrapper.value), &r.wrapper.source),
    ];
    // Only where set: most suites take no corpus.
    if let Some(corpus) = &r.corpus.value {
        out.push(row("corpus", corpus, &r.corpus.source));
    }
    let set = limit_entries(&r.limits);
    let judged = limit_entries(&r.judged_limits);
    for ((key, value), (_, judged_value)) in set.into_iter().zip(judged) {
        let source = match (&r.wrapper.value, judged_value == value) {
            (Some(w), false) => Source::Wrapper(w.clone()),
            _ => r.limit_sources.get(key).cloned().unwrap_or(Source::Builtin),
        };
        out.push(row(key, judged_value, &source));
    }
    if s.suite.expect == Expect::Fail {
        let names: Vec<&str> = r.catches.value.iter().map(|c| c.name()).collect();
        let value = if names.is_empty() {
            "any failure".to_string()
        } else {
            names.join(", ")
        };
        out.push(row("catches", value, &r.catches.source));
    }
    out
}

fn heading(s: &ResolvedSuite<'_>) -> String {
    let suite = s.suite;
    let mut head = format!("{} (runtime {}", suite.name, suite.runtime);
    if !suite.tags.is_empty() {
        head.push_str(&format!("; tags {}", suite.tags.join(", ")));
    }
    if let Some(of) = &suite.canary_of {
        head.push_str(&format!("; canary of {of}"));
    }
    head.push(')');
    head
}

/// Each suite's settings as aligned columns: key, value, source.
pub fn show_text(suites: &[ResolvedSuite<'_>]) -> String {
    let mut out = String::new();
    for (i, s) in suites.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&heading(s));
        out.push('\n');
        let rows = rows(s);
        let key_w = rows.iter().map(|r| r.key.len()).max().unwrap_or(0);
        let value_w = rows
            .iter()
            .map(|r| r.value.chars().count())
            .max()
            .unwrap_or(0);
        for r in rows {
            let line = format!("  {:key_w$}  {:value_w$}  {}", r.key, r.value, r.source);
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// `{ suite: { runtime, tags, canary_of, settings: { key: { value, source } } } }`.
pub fn show_json(suites: &[ResolvedSuite<'_>]) -> Value {
    let mut out = Map::new();
    for s in suites {
        let settings: Map<String, Value> = rows(s)
            .into_iter()
            .map(|r| {
                (
                    r.key.to_string(),
                    json!({ "value": r.value, "source": r.source }),
                )
            })
            .collect();
        out.insert(
            s.suite.name.clone(),
            json!({
                "runtime": s.suite.runtime,
                "tags": s.suite.tags,
                "canary_of": s.suite.canary_of,
                "settings": settings,
            }),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Invocation, Suite};

    const TEXT: &str = r#"
[build]
command = ["make"]
artifact = "libx.so"
[build.variants.leaky]
args = ["LEAK=1"]
[defaults]
canary_scale = 0.1
canaries = [{ variant = "leaky" }]
[[overrides]]
filter = { runtime = "python" }
limits = { rss_growth = "16MB", slope = "2MB/s" }
[[overrides]]
filter = { tag = "long" }
timeout = "40m"
[suites.py-quick]
script = "a.py"
tags = ["fast"]
[suites.py-long]
script = "a.py"
tags = ["long"]
limits = { rss_growth = "64MB", max_floor = "1KB" }
"#;

    fn shown(inv: &Invocation) -> (Value, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "").unwrap();
        let c = config::parse(TEXT, &dir.path().join("memtest.toml"), dir.path()).unwrap();
        let suites: Vec<&Suite> = c.suites.iter().collect();
        let resolved = c.resolve_all(&suites, inv).unwrap();
        (show_json(&resolved), show_text(&resolved))
    }

    fn at<'v>(v: &'v Value, suite: &str, key: &str) -> (&'v str, &'v str) {
        let s = &v[suite]["settings"][key];
        (s["value"].as_str().unwrap(), s["source"].as_str().unwrap())
    }

    #[test]
    fn every_setting_says_where_it_came_from() {
        let inv = Invocation {
            profile: Some("ci".into()),
            ..Invocation::default()
        };
        let (v, text) = shown(&inv);
        assert_eq!(at(&v, "py-quick", "timeout"), ("2m00s", "built-in"));
        assert_eq!(
            at(&v, "py-long", "timeout"),
            ("40m00s", "override #2 (tag = \"long\")")
        );
        assert_eq!(
            at(&v, "py-quick", "rss_growth"),
            ("+16.0 MB", "override #1 (runtime = \"python\")")
        );
        assert_eq!(at(&v, "py-long", "rss_growth"), ("+64.0 MB", "suite"));
        assert_eq!(
            at(&v, "py-long", "slope"),
            ("2.0 MB/s", "override #1 (runtime = \"python\")")
        );
        assert_eq!(
            at(&v, "py-quick", "scale"),
            ("0.1", "profile ci (built-in)")
        );
        assert_eq!(
            at(&v, "py-quick", "sample_interval"),
            ("20ms", "profile ci (built-in)")
        );
        assert_eq!(at(&v, "py-quick", "canary_scale"), ("0.1", "[defaults]"));
        // The canary from [defaults], named after its suite and variant,
        // catches every memory criterion its suite is judged on.
        let canary = "py-long-canary-leaky";
        assert_eq!(
            at(&v, canary, "variant"),
            ("leaky", "canary, declared in [defaults]")
        );
        assert_eq!(
            at(&v, canary, "catches"),
            ("rss_growth, slope, native_leaks", "derived from the limits")
        );
        assert_eq!(
            at(&v, canary, "timeout"),
            ("40m00s", "override #2 (tag = \"long\")")
        );
        assert!(
            v["py-quick"]["settings"].get("catches").is_none(),
            "not a canary"
        );
        // `max_floor` is a limit like any other, shown with its source; a
        // canary's derived `catches` leave it out (above).
        assert_eq!(at(&v, "py-long", "max_floor"), ("1.0 KB/call", "suite"));
        assert!(
            text.lines()
                .any(|l| l.starts_with("  max_floor") && l.contains("1.0 KB/call")),
            "{text}"
        );
        assert!(
            text.contains(
                "py-long-canary-leaky (runtime python; tags long, canary; canary of py-long)"
            ),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("  rss_growth") && l.ends_with("suite")),
            "{text}"
        );
    }

    #[test]
    fn the_command_line_and_a_wrapper_have_the_last_word() {
        let inv = Invocation {
            profile: Some("soak".into()),
            scale: Some(2.0),
            wrapper: Some("memcheck".into()),
            duration: None,
            ..Invocation::default()
        };
        let (v, _) = shown(&inv);
        assert_eq!(at(&v, "py-quick", "scale"), ("2", "command line"));
        assert_eq!(
            at(&v, "py-quick-canary-leaky", "scale"),
            ("0.1", "canary_scale, from [defaults]")
        );
        assert_eq!(at(&v, "py-quick", "wrapper"), ("memcheck", "command line"));
        assert_eq!(at(&v, "py-quick", "rss_growth"), ("-", "wrapper memcheck"));
        assert_eq!(at(&v, "py-quick", "native_leaks"), ("0", "built-in"));
        assert_eq!(
            at(&v, "py-quick", "timeout_factor"),
            ("20", "profile soak (built-in)")
        );
        // 2m x 20 (soak) x 30 (memcheck), plus the soak's 24 h: the last
        // pass may start just before the duration is up.
        assert_eq!(
            at(&v, "py-quick", "duration"),
            ("1440m00s", "profile soak (built-in)")
        );
        assert_eq!(
            at(&v, "py-quick", "run_timeout"),
            (
                "2640m00s",
                "timeout x timeout_factor x wrapper memcheck's 30 + duration"
            )
        );
        // A canary only has to be caught: it runs once.
        assert_eq!(
            at(&v, "py-quick-canary-leaky", "duration"),
            ("-", "a canary runs once, not for a duration")
        );
    }
}
