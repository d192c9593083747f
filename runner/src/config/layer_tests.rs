//! The layers of a suite's settings: overrides and their filters, canary
//! defaults and derived catches, the built-in profiles, runtimes and
//! wrappers, `[suites.NAME]` tables and inferred runtimes, and the problems
//! each can have (named with the override they are in).

use super::*;
use crate::model::{Criterion, Limits};
use crate::units::{Bytes, BytesPerSec};
use std::time::Duration;

/// Suites on two runtimes, three tiers; no profiles, no wrappers.
const BASE: &str = r#"
[build]
command = ["make", "BUILD=build/${variant}"]
artifact = "build/${variant}/libx.so"
[build.variants.leaky]
args = ["LEAK=1"]

[defaults]
canary_scale = 0.1
canaries = [{ variant = "leaky" }]

[[overrides]]
filter = { runtime = "python" }
limits = { rss_growth = "16MB", slope = "2MB/s", peak_rss = "100MB" }

[[overrides]]
filter = { tag = "long" }
timeout = "40m"
limits = { rss_growth = "500MB" }

[suites.py-fast]
script = "s/a.py"
tags = ["python", "fast"]

[suites.py-long]
script = "s/a.py"
tags = ["python", "long"]
limits = { slope_per_op = "16KB" }

[suites.js-fast]
script = "s/a.js"
tags = ["node", "fast"]
limits = { peak_rss = "150MB" }
canaries = []

[suites.py-retain]
script = "s/a.py"
tags = ["python", "fast"]
canaries = [{ mode = "retain", catches = ["exit_code"] }]
"#;

fn check(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("s")).unwrap();
    for f in ["s/a.py", "s/a.js", "s/a.rb"] {
        std::fs::write(dir.path().join(f), "").unwrap();
    }
    parse(text, Path::new("memtest.toml"), dir.path())
}

fn problems(text: &str) -> String {
    match check(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn resolved(c: &Config, name: &str, inv: &Invocation) -> Resolved {
    let suite = c.suite(name).unwrap_or_else(|| panic!("no suite {name}"));
    c.resolve(suite, inv).unwrap()
}

fn plain(c: &Config, name: &str) -> Resolved {
    resolved(c, name, &Invocation::default())
}

fn profile(name: &str) -> Invocation {
    Invocation {
        profile: Some(name.into()),
        ..Invocation::default()
    }
}

fn over(number: usize, filter: &str) -> Source {
    Source::Override {
        number,
        filter: filter.into(),
    }
}

#[test]
fn overrides_apply_by_filter_in_order_under_the_suites_own_keys() {
    let c = check(BASE).unwrap();
    let names: Vec<&str> = c.suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "py-fast",
            "py-fast-canary-leaky",
            "py-long",
            "py-long-canary-leaky",
            "js-fast",
            "py-retain",
            "py-retain-canary-retain"
        ],
        "file order, each suite followed by its canaries"
    );
    let fast = plain(&c, "py-fast");
    let python = over(1, "runtime = \"python\"");
    assert_eq!(fast.limits.rss_growth, Some(Bytes(16_000_000)));
    assert_eq!(fast.limit_sources["rss_growth"], python);
    assert_eq!(fast.timeout.value, Duration::from_secs(120));
    assert_eq!(fast.timeout.source, Source::Builtin);
    // A later override wins where both speak; the earlier keeps the rest.
    let long = plain(&c, "py-long");
    let long_filter = over(2, "tag = \"long\"");
    assert_eq!(long.limits.rss_growth, Some(Bytes(500_000_000)));
    assert_eq!(long.limit_sources["rss_growth"], long_filter);
    assert_eq!(long.limits.slope, Some(BytesPerSec(2e6)));
    assert_eq!(long.limit_sources["slope"], python);
    assert_eq!(
        (long.timeout.value, &long.timeout.source),
        (Duration::from_secs(2400), &long_filter)
    );
    assert_eq!(long.limit_sources["slope_per_op"], Source::Suite);
    // An override matching nothing of the node suite leaves it alone.
    let js = plain(&c, "js-fast");
    assert_eq!(
        (js.limits.rss_growth, js.limits.peak_rss),
        (None, Some(Bytes(150_000_000)))
    );
    assert!(c.suite("js-fast-canary-leaky").is_none(), "canaries = []");
}

#[test]
fn a_canary_from_defaults_is_named_after_its_suite_and_catches_its_limits() {
    let c = check(BASE).unwrap();
    let canary = c.suite("py-long-canary-leaky").unwrap();
    assert_eq!(canary.canary_of.as_deref(), Some("py-long"));
    assert!(canary.tags.contains(&"canary".to_string()));
    let r = plain(&c, "py-long-canary-leaky");
    assert_eq!(r.variant.value, "leaky");
    assert_eq!(r.variant.source, Source::Canary(Box::new(Source::Defaults)));
    assert_eq!(r.limits, plain(&c, "py-long").limits, "its suite's limits");
    assert_eq!(
        r.catches.value,
        [
            Criterion::RssGrowth,
            Criterion::PeakRss,
            Criterion::Slope,
            Criterion::SlopePerOp,
            Criterion::NativeLeaks
        ]
    );
    assert_eq!(r.catches.source, Source::Derived);
    // Overrides select canaries too, by the canary's own tags.
    assert_eq!(r.timeout.value, Duration::from_secs(2400));
    // A suite's own canaries win over the defaults', and list their catches.
    let retain = plain(&c, "py-retain-canary-retain");
    assert_eq!(retain.catches.value, [Criterion::ExitCode]);
    assert_eq!(
        retain.catches.source,
        Source::Canary(Box::new(Source::Suite))
    );
    assert_eq!(retain.variant.value, DEFAULT_VARIANT);
    // The canary is held at canary_scale; its suite is not.
    let ci = profile("ci");
    assert_eq!(resolved(&c, "py-long-canary-leaky", &ci).scale.value, 0.1);
    let at_two = Invocation {
        scale: Some(2.0),
        ..Invocation::default()
    };
    let canary = resolved(&c, "py-long-canary-leaky", &at_two);
    assert_eq!(
        (canary.scale.value, canary.scale.source),
        (0.1, Source::CanaryScale(Box::new(Source::Defaults)))
    );
    assert_eq!(resolved(&c, "py-long", &at_two).scale.value, 2.0);
}

#[test]
fn an_overrides_canaries_win_over_the_defaults() {
    let text = BASE.replace(
        "filter = { tag = \"long\" }\n",
        "filter = { tag = \"long\" }\ncanaries = [{ variant = \"leaky\", name = \"long-canary\", catches = [\"slope_per_op\"] }]\n",
    );
    let c = check(&text).unwrap();
    assert!(c.suite("py-long-canary-leaky").is_none());
    let r = plain(&c, "long-canary");
    assert_eq!(r.catches.value, [Criterion::SlopePerOp]);
    assert_eq!(
        r.catches.source,
        Source::Canary(Box::new(over(2, "tag = \"long\"")))
    );
    assert!(
        c.suite("py-fast-canary-leaky").is_some(),
        "others keep the default"
    );
}

#[test]
fn the_builtin_profiles_exist_and_a_projects_own_merges_over_them() {
    let c = check(BASE).unwrap();
    let ci = resolved(&c, "py-fast", &profile("ci"));
    assert_eq!(ci.scale.value, 0.1);
    assert_eq!(ci.sample_interval.value, Duration::from_millis(20));
    assert_eq!(
        ci.scale.source,
        Source::Profile {
            name: "ci".into(),
            builtin: true
        }
    );
    let soak = resolved(&c, "py-fast", &profile("soak"));
    // A soak repeats each suite's work for 24 h; a pass may take 20 times
    // the suite's timeout, and the last starts before the 24 h are up.
    assert_eq!(
        (soak.scale.value, soak.duration.value, soak.run_timeout),
        (
            10.0,
            Some(Duration::from_secs(24 * 3600)),
            Duration::from_secs(120 * 20 + 24 * 3600)
        )
    );
    // floor, explain and fuzz run each suite's work once, soak profile or not.
    let once = resolved(
        &c,
        "py-fast",
        &Invocation {
            once: Some("floor"),
            ..profile("soak")
        },
    );
    assert_eq!(
        (once.duration.value, &once.duration.source, once.run_timeout),
        (
            None,
            &Source::CommandOnce("floor"),
            Duration::from_secs(120 * 20)
        )
    );
    // The project's [profiles.ci] keeps what it does not set.
    let own = check(&format!("{BASE}\n[profiles.ci]\nscale = 1.0\n")).unwrap();
    let ci = resolved(&own, "py-fast", &profile("ci"));
    assert_eq!(ci.scale.value, 1.0);
    assert_eq!(
        ci.scale.source,
        Source::Profile {
            name: "ci".into(),
            builtin: false
        }
    );
    assert_eq!(ci.sample_interval.value, Duration::from_millis(20));
}

#[test]
fn the_profile_and_the_command_line_come_after_the_suite() {
    let text = format!("{BASE}\n[profiles.loose]\ntimeout = \"5m\"\nrss_growth = \"1GB\"\n");
    let c = check(&text).unwrap();
    let r = resolved(&c, "py-long", &profile("loose"));
    assert_eq!(r.limits.rss_growth, Some(Bytes(1_000_000_000)));
    assert_eq!(r.timeout.value, Duration::from_secs(300));
    let inv = Invocation {
        wrapper: Some("memcheck".into()),
        ..profile("loose")
    };
    let r = resolved(&c, "py-long", &inv);
    assert_eq!(r.wrapper.value.as_deref(), Some("memcheck"));
    assert_eq!(r.wrapper.source, Source::CommandLine);
    assert_eq!(r.judged_limits.rss_growth, None, "a wrapper's own RSS");
    assert_eq!(r.limits.rss_growth, Some(Bytes(1_000_000_000)));
    assert_eq!(r.run_timeout, Duration::from_secs(300 * 30));
}

#[test]
fn runtimes_are_inferred_and_the_builtin_ones_merge_under_the_projects() {
    let c = check(BASE).unwrap();
    assert_eq!(c.suite("py-fast").unwrap().runtime, "python");
    assert_eq!(c.suite("js-fast").unwrap().runtime, "node");
    let python = &c.runtimes["python"];
    assert_eq!(
        (python.program.as_deref(), python.flags.as_slice()),
        (Some("python3"), &["-u".to_string()][..])
    );
    assert!(
        !c.runtimes.contains_key("rust"),
        "built-ins join only when used"
    );
    let text = format!(
        "{BASE}\n[runtimes.node]\nsetup = [\"npm\", \"ci\"]\nenv = {{ NODE_PATH = \"x\" }}\n\
         [runtimes.python]\nenv = {{ PYTHONUNBUFFERED = \"0\", PYTHONPATH = \"p\" }}\n"
    );
    let c = check(&text).unwrap();
    let node = &c.runtimes["node"];
    assert_eq!(node.kind, RuntimeKind::Node);
    assert_eq!(node.flags, ["--expose-gc"]);
    assert_eq!(
        node.setup.as_deref(),
        Some(&["npm".to_string(), "ci".to_string()][..])
    );
    let env = &c.runtimes["python"].env;
    assert!(
        env.contains(&("PYTHONUNBUFFERED".into(), "0".into())),
        "{env:?}"
    );
    assert_eq!(env.len(), 2, "{env:?}");
    // A runtime of another kind under a built-in's name is the project's own.
    let other = format!("{BASE}\n[runtimes.node]\nkind = \"command\"\n");
    let c = check(&other).unwrap();
    assert_eq!(c.runtimes["node"].program, None);
}

#[test]
fn suite_tables_and_lists_mix_in_file_order() {
    let text = BASE.replace(
        "[suites.js-fast]",
        "[[suite]]\nname = \"listed\"\nscript = \"s/a.py\"\n\n[suites.js-fast]",
    );
    let c = check(&text).unwrap();
    let plain: Vec<&str> = c
        .suites
        .iter()
        .filter(|s| s.canary_of.is_none())
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        plain,
        ["py-fast", "py-long", "listed", "js-fast", "py-retain"]
    );
}

#[test]
fn layer_problems_are_located_and_name_their_override() {
    let bad_value = BASE.replace("rss_growth = \"16MB\"", "rss_growth = \"16 parsecs\"");
    let err = problems(&bad_value);
    assert!(
        err.starts_with(
            "invalid `rss_growth` (override #1 (runtime = \"python\"))\n  --> memtest.toml:14:"
        ),
        "{err}"
    );
    let typo = BASE.replace("filter = { tag = \"long\" }", "filter = { tag = \"lnog\" }");
    let err = problems(&typo);
    assert!(err.contains("override #2 selects no suite"), "{err}");
    assert!(err.contains("did you mean `long`?"), "{err}");
    let runtime = BASE.replace("runtime = \"python\" }", "runtime = \"pyhton\" }");
    let err = problems(&runtime);
    assert!(
        err.contains("unknown runtime `pyhton` in the filter (override #1"),
        "{err}"
    );
    assert!(err.contains("did you mean `python`?"), "{err}");
    let variant = BASE.replace("timeout = \"40m\"", "variant = \"leakey\"");
    let err = problems(&variant);
    assert!(
        err.contains("unknown variant `leakey` (override #2 (tag = \"long\"))"),
        "{err}"
    );
    let glob = BASE.replace(
        "filter = { tag = \"long\" }",
        "filter = { name = \"py-[\" }",
    );
    assert!(problems(&glob).contains("invalid name pattern `py-[`"));
    let key = BASE.replace("timeout = \"40m\"", "timout = \"40m\"");
    assert!(problems(&key).contains("unknown field `timout`"));
}

#[test]
fn a_canary_with_nothing_to_catch_is_refused() {
    let text = BASE.replace(
        "[suites.js-fast]",
        "[suites.rb]\nruntime = \"ruby\"\nlimits = { native_leaks = false }\n\n[suites.js-fast]",
    ) + "[runtimes.ruby]\nkind = \"command\"\nprogram = \"ruby\"\n";
    let err = problems(&text);
    assert!(
        err.contains("canary `rb-canary-leaky` has nothing to catch: `rb` sets no memory limit"),
        "{err}"
    );
    assert!(
        err.contains("memtest.toml:10:13"),
        "at the [defaults] canary: {err}"
    );
}

#[test]
fn suites_without_a_name_or_an_inferable_runtime_are_refused() {
    let unnamed = BASE.replace(
        "[suites.js-fast]",
        "[[suite]]\nscript = \"s/a.py\"\n\n[suites.js-fast]",
    );
    assert!(problems(&unnamed).contains("a [[suite]] without `name`"));
    let twice = BASE.replace("[suites.js-fast]\n", "[suites.js-fast]\nname = \"js\"\n");
    assert!(problems(&twice).contains("`name` in a [suites.NAME] table"));
    let ruby = BASE.replace("script = \"s/a.js\"", "script = \"s/a.rb\"");
    let err = problems(&ruby);
    assert!(err.contains("suite `js-fast` has no `runtime`"), "{err}");
    let dup = BASE.replace("[suites.py-retain]", "[suites.py-fast-canary-leaky]");
    assert!(problems(&dup).contains("duplicate suite `py-fast-canary-leaky`"));
    let profile_canaries =
        format!("{BASE}\n[profiles.x]\ncanaries = [{{ variant = \"leaky\" }}]\n");
    assert!(problems(&profile_canaries).contains("`canaries` in a profile"));
}

#[test]
fn built_in_values_are_the_documented_ones() {
    let s = Settings::default();
    assert_eq!(
        (s.timeout, s.grace, s.sample_interval, s.scale, s.threads),
        (
            Duration::from_secs(120),
            Duration::from_secs(3),
            Duration::from_millis(10),
            1.0,
            1
        )
    );
    assert_eq!(s.limits, Limits::default());
    let c = check(BASE).unwrap();
    let memcheck = &c.wrappers["memcheck"];
    assert_eq!(memcheck.argv[0], "valgrind");
    assert_eq!(memcheck.output, "${log_dir}/${suite}.memcheck.xml");
    assert!(memcheck
        .argv
        .iter()
        .any(|a| a == "--xml-file=${log_dir}/${suite}.memcheck.xml"));
    assert_eq!(c.wrappers["heaptrack"].timeout_factor, 5.0);
}
