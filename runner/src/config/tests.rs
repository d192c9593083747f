//! Config tests: the real memtest.toml loads; table-driven bad files each give
//! the diagnostic snapshotted in `snapshots/` (path:line:col, the line, a
//! caret, a hint).

use super::*;
use crate::model::{Criterion, FindingsKind, Limits};
use crate::units::{Bytes, BytesPerSec};
use std::fmt::Write;
use std::time::Duration;

const BASE: &str = r#"
[build]
package = "pyjamaz"
lib = "pyjamaz"
abi_symbol = "pyjamaz_abi_version"
abi_version = 1
lib_env = "PYJAMAZ_LIB_PATH"
rust_suites = "memsuite"

[build.variants.leaky]
features = ["canary-leak"]

[defaults]
timeout = "60s"
marker = "TEST PASSED"

[runtimes.rust]
kind = "rust"

[runtimes.node]
kind = "node"
program = "node"
flags = ["--expose-gc"]
setup = ["npm", "ci"]
setup_unless = "node_modules/koffi"
env = { NODE_PATH = "${root}/node_modules" }

[profiles.ci]
scale = 0.1
rss_growth = "100MB"

[wrappers.memcheck]
argv = ["valgrind", "--xml=yes", "--xml-file=${log_dir}/${suite}.xml"]
findings = "valgrind-xml"
timeout_factor = 30

[[suite]]
name = "rust-leak"
runtime = "rust"
test = "memory_leak"
tags = ["rust", "fast"]
limits = { rss_growth = "16MB", slope = "2MB/s", native_leaks = false }

[[suite]]
name = "node-gc"
runtime = "node"
script = "suites/node/gc.js"
variant = "leaky"
expect = "fail"

[runtimes.native]
kind = "command"

[[suite]]
name = "c-test"
runtime = "native"
command = ["build/${variant}/test"]
cwd = "native"
limits = { peak_rss = "20MB" }
canaries = [{ variant = "leaky", catches = ["native_leaks"] }]
"#;

fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("suites/node")).unwrap();
    std::fs::write(dir.path().join("suites/node/gc.js"), "").unwrap();
    dir
}

fn check(text: &str) -> Result<Config, ConfigError> {
    let dir = root();
    parse(text, Path::new("memtest.toml"), dir.path())
}

/// `name`'s effective settings under `profile`.
fn resolved(c: &Config, name: &str, profile: Option<&str>) -> Resolved {
    let inv = Invocation {
        profile: profile.map(str::to_string),
        ..Invocation::default()
    };
    c.resolve(c.suite(name).unwrap(), &inv).unwrap()
}

fn limits(c: &Config, name: &str) -> Limits {
    resolved(c, name, None).limits
}

/// The run-wide settings under `profile`.
fn run(c: &Config, profile: Option<&str>) -> Resolved {
    let inv = Invocation {
        profile: profile.map(str::to_string),
        ..Invocation::default()
    };
    c.run_settings(&inv).unwrap()
}

#[test]
fn the_base_file_resolves_every_table() {
    let c = check(BASE).unwrap();
    assert_eq!(c.defaults.timeout, Some(Duration::from_secs(60)));
    assert_eq!(run(&c, None).limits.marker.as_deref(), Some("TEST PASSED"));
    assert_eq!(
        c.build.as_ref().unwrap().abi,
        Some(Abi {
            symbol: "pyjamaz_abi_version".into(),
            version: 1
        })
    );
    assert_eq!(
        c.build
            .as_ref()
            .unwrap()
            .variants
            .keys()
            .collect::<Vec<_>>(),
        ["default", "leaky"]
    );
    assert_eq!(c.runtimes["node"].program.as_deref(), Some("node"));
    assert!(c.runtimes["node"]
        .setup_unless
        .as_ref()
        .unwrap()
        .ends_with("node_modules/koffi"));
    let w = &c.wrappers["memcheck"];
    assert_eq!(
        (w.findings, w.output.as_str(), w.timeout_factor),
        (FindingsKind::ValgrindXml, "${log_dir}/${suite}.xml", 30.0)
    );

    let rust = c.suite("rust-leak").unwrap();
    assert_eq!(rust.target, Target::Test("memory_leak".into()));
    let rust = resolved(&c, "rust-leak", None);
    assert_eq!(rust.limits.rss_growth, Some(Bytes(16_000_000)));
    assert_eq!(rust.limits.slope, Some(BytesPerSec(2e6)));
    assert_eq!(
        rust.limits.native_leaks, None,
        "false switches the check off"
    );
    assert_eq!(rust.variant.value, DEFAULT_VARIANT);
    let node = c.suite("node-gc").unwrap();
    assert_eq!(node.target, Target::Script("suites/node/gc.js".into()));
    let variant = resolved(&c, "node-gc", None).variant.value;
    assert_eq!((variant.as_str(), node.expect), ("leaky", Expect::Fail));
}

#[test]
fn canaries_inherit_everything_they_do_not_set() {
    let c = check(BASE).unwrap();
    let suite = c.suite("c-test").unwrap();
    let canary = c.suite("c-test-canary-leaky").unwrap();
    assert_eq!(canary.canary_of.as_deref(), Some("c-test"));
    let r = resolved(&c, "c-test-canary-leaky", None);
    assert_eq!(
        (canary.expect, r.variant.value.as_str()),
        (Expect::Fail, "leaky")
    );
    assert_eq!(r.catches.value, [Criterion::NativeLeaks]);
    assert_eq!(
        (&canary.target, &canary.cwd, &r.limits),
        (&suite.target, &suite.cwd, &limits(&c, "c-test"))
    );
    assert!(canary.tags.contains(&"canary".to_string()));
    // A limit changed on the suite is the canary's too: it cannot diverge.
    let changed = check(&BASE.replace("peak_rss = \"20MB\"", "peak_rss = \"30MB\"")).unwrap();
    assert_eq!(
        limits(&changed, "c-test-canary-leaky").peak_rss,
        Some(Bytes(30_000_000))
    );
    // A mode becomes MEMTEST_CANARY; a canary's own limits go over the suite's.
    let moded = BASE.replace(
        "{ variant = \"leaky\", catches = [\"native_leaks\"] }",
        "{ name = \"c-keep\", mode = \"retain\", catches = [\"exit_code\"], limits = { peak_rss = \"1GB\" } }",
    );
    let c = check(&moded).unwrap();
    let canary = c.suite("c-keep").unwrap();
    assert!(canary
        .env
        .contains(&("MEMTEST_CANARY".into(), "retain".into())));
    let r = resolved(&c, "c-keep", None);
    assert_eq!(
        (r.variant.value.as_str(), r.limits.peak_rss),
        ("default", Some(Bytes(1_000_000_000)))
    );
}

#[test]
fn slope_per_op_is_a_size_per_operation_and_catchable() {
    let text = BASE.replace(
        "slope = \"2MB/s\"",
        "slope = \"2MB/s\", slope_per_op = \"4KB\"",
    );
    let c = check(&text).unwrap();
    let rust = resolved(&c, "rust-leak", None);
    assert_eq!(rust.limits.slope_per_op, Some(Bytes(4_000)));
    assert_eq!(
        rust.limits.slope,
        Some(BytesPerSec(2e6)),
        "the per-second one stays"
    );
    let bad = BASE.replace("slope = \"2MB/s\"", "slope_per_op = \"4KB/s\"");
    let err = check(&bad).unwrap_err().to_string();
    assert!(err.contains("slope_per_op"), "{err}");
    assert_eq!(
        "slope_per_op".parse::<Criterion>(),
        Ok(Criterion::SlopePerOp)
    );
}

#[test]
fn build_forms_and_no_build_at_all() {
    let runtimes = "[runtimes.py]\nkind = \"python\"\nprogram = \"python3\"\n";
    let none = check(runtimes).unwrap();
    assert!(none.build.is_none() && none.fixtures.is_none());
    let command = format!(
        "[build]\ncommand = [\"make\", \"BUILD=b/${{variant}}\"]\nartifact = \"b/${{variant}}/${{lib_file}}\"\n\
         lib = \"tiny\"\nlib_env = \"TINY\"\nenv = {{ CFLAGS = \"-O2\" }}\n\
         [build.variants.leaky]\nenv = {{ CFLAGS = \"-DLEAK\" }}\nargs = [\"LEAK=1\"]\n{runtimes}"
    );
    let b = check(&command).unwrap().build.unwrap();
    let BuildForm::Command {
        argv,
        artifact,
        env,
        ..
    } = &b.form
    else {
        panic!("{:?}", b.form)
    };
    assert_eq!(
        (argv[0].as_str(), artifact.as_str()),
        ("make", "b/${variant}/${lib_file}")
    );
    assert_eq!(env, &[("CFLAGS".to_string(), "-O2".to_string())]);
    assert_eq!(b.variants["leaky"].args, ["LEAK=1"]);
    assert_eq!(
        Build::lib_file("tiny"),
        format!(
            "{}tiny.{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_EXTENSION
        )
    );
    let prebuilt = format!("[build]\npath = \"/usr/lib/libz.so\"\n{runtimes}");
    let b = check(&prebuilt).unwrap().build.unwrap();
    assert_eq!(
        b.form,
        BuildForm::Prebuilt {
            path: "/usr/lib/libz.so".into()
        }
    );
    // A cargo-only key on a command build is named.
    let wrong = command.replace("lib = ", "features = [\"x\"]\nlib = ");
    assert!(check(&wrong)
        .unwrap_err()
        .to_string()
        .contains("a command build takes no `features`"));
}

#[test]
fn profiles_inherit_in_order() {
    let text = BASE.replace(
        "[profiles.ci]",
        "[profiles.nightly]\ninherit = \"ci\"\ntimeout = \"5m\"\n\n[profiles.ci]",
    );
    let c = check(&text).unwrap();
    let nightly = run(&c, Some("nightly"));
    assert_eq!(nightly.scale.value, 0.1, "from ci");
    assert_eq!(
        nightly.timeout.value,
        Duration::from_secs(300),
        "its own over ci's"
    );
    assert_eq!(nightly.limits.rss_growth, Some(Bytes(100_000_000)));
}

#[test]
fn profiles_override_defaults_and_unknown_ones_are_named() {
    let c = check(BASE).unwrap();
    let plain = run(&c, None);
    let ci = run(&c, Some("ci"));
    assert_eq!((plain.scale.value, ci.scale.value), (1.0, 0.1));
    assert_eq!(
        plain.canary_scale.value, None,
        "canaries at the run's scale unless set"
    );
    let capped =
        check(&BASE.replacen("scale = 0.1", "scale = 0.1\ncanary_scale = 0.05", 1)).unwrap();
    assert_eq!(run(&capped, Some("ci")).canary_scale.value, Some(0.05));
    assert_eq!(
        run(&capped, None).canary_scale.value,
        None,
        "a profile's own"
    );
    assert_eq!(ci.limits.rss_growth, Some(Bytes(100_000_000)));
    assert_eq!(
        ci.timeout, plain.timeout,
        "what the profile does not set is kept"
    );
    let inv = Invocation {
        profile: Some("cj".into()),
        ..Invocation::default()
    };
    let err = c.run_settings(&inv).unwrap_err().to_string();
    assert_eq!(err, "no profile `cj` in memtest.toml: did you mean `ci`?");
}

/// (case, text replaced, replacement): each turns BASE into a bad file.
const BAD: &[(&str, &str, &str)] = &[
    (
        "unknown key",
        "tags = [\"rust\", \"fast\"]",
        "tag = [\"rust\"]",
    ),
    (
        "unknown key in a limits table",
        "slope = \"2MB/s\"",
        "slop = \"2MB/s\"",
    ),
    ("bad size", "\"16MB\"", "\"16 parsecs\""),
    ("bad duration", "timeout = \"60s\"", "timeout = \"60\""),
    ("bad rate", "\"2MB/s\"", "\"2MB\""),
    (
        "fraction out of range",
        "marker = \"TEST PASSED\"",
        "warmup = 1.5",
    ),
    (
        "duplicate suite",
        "name = \"node-gc\"",
        "name = \"rust-leak\"",
    ),
    (
        "unknown runtime",
        "runtime = \"node\"\nscript",
        "runtime = \"nodejs\"\nscript",
    ),
    (
        "unknown variant",
        "variant = \"leaky\"",
        "variant = \"leakey\"",
    ),
    (
        "unknown wrapper",
        "variant = \"leaky\"",
        "wrapper = \"helgrind\"",
    ),
    ("missing script", "suites/node/gc.js", "suites/node/nope.js"),
    ("rust suite without test", "test = \"memory_leak\"\n", ""),
    (
        "node suite without script",
        "script = \"suites/node/gc.js\"\n",
        "",
    ),
    (
        "runtime without program",
        "kind = \"node\"\nprogram = \"node\"\n",
        "kind = \"python\"\n",
    ),
    ("unknown runtime kind", "kind = \"node\"", "kind = \"deno\""),
    ("bad expect", "expect = \"fail\"", "expect = \"crash\""),
    ("build without a form", "package = \"pyjamaz\"\n", ""),
    (
        "build with two forms",
        "package = \"pyjamaz\"\n",
        "package = \"pyjamaz\"\ncommand = [\"make\"]\n",
    ),
    (
        "command suite without command",
        "command = [\"build/${variant}/test\"]\n",
        "",
    ),
    (
        "canary that changes nothing",
        "{ variant = \"leaky\", catches",
        "{ catches",
    ),
    (
        "profile inheriting an unknown profile",
        "scale = 0.1",
        "inherit = \"nightly\"\nscale = 0.1",
    ),
    (
        "profile inheriting itself",
        "scale = 0.1",
        "inherit = \"ci\"\nscale = 0.1",
    ),
    (
        "wrapper without findings file",
        "\"--xml-file=${log_dir}/${suite}.xml\"",
        "\"--xml=no\"",
    ),
    ("unknown findings kind", "\"valgrind-xml\"", "\"massif\""),
    ("toml syntax", "scale = 0.1", "scale = "),
    (
        "canary scale not positive",
        "scale = 0.1",
        "scale = 0.1\ncanary_scale = 0",
    ),
    (
        "unknown criterion in catches",
        "expect = \"fail\"",
        "expect = \"fail\"\ncatches = [\"native_leak\"]",
    ),
    (
        "catches on a suite expected to pass",
        "test = \"memory_leak\"\n",
        "test = \"memory_leak\"\ncatches = [\"native_leaks\"]\n",
    ),
];

#[test]
fn bad_files_give_located_diagnostics() {
    let mut out = String::new();
    for (case, from, to) in BAD {
        assert!(BASE.contains(from), "case {case}: BASE lacks {from:?}");
        let text = BASE.replacen(from, to, 1);
        let err = match check(&text) {
            Ok(_) => panic!("case {case}: accepted"),
            Err(e) => e,
        };
        let ConfigError::Invalid { diagnostics } = &err else {
            panic!("case {case}: {err}")
        };
        assert!(!diagnostics.is_empty(), "{case}");
        let rendered = err.to_string();
        // The temporary root differs per run; keep snapshots stable.
        let rendered = rendered.replace(&*root_marker(&rendered), "<root>");
        writeln!(out, "### {case}\n{rendered}\n").unwrap();
    }
    insta::assert_snapshot!(out);
}

fn root_marker(text: &str) -> String {
    // The only absolute path in a diagnostic is the missing script's.
    text.find("no file /")
        .map(|i| {
            let start = i + "no file ".len();
            let end = text[start..].find("/suites/").map_or(start, |e| start + e);
            text[start..end].to_string()
        })
        .unwrap_or_else(|| "\u{0}".to_string())
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = BASE.replacen("\"16MB\"", "\"16XB\"", 1).replacen(
        "variant = \"leaky\"",
        "variant = \"nope\"",
        1,
    );
    let ConfigError::Invalid { diagnostics } = check(&text).unwrap_err() else {
        panic!()
    };
    assert_eq!(diagnostics.len(), 2);
}

#[test]
fn the_repository_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../memtest.toml");
    let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
    // 18 memory suites, their 18 canaries, 3 single-threaded suites run
    // against the thread-leaky core (no canaries: theirs run on the
    // originals), 3 fuzz suites and 3 corpus suites with their canaries.
    assert_eq!(c.suites.len(), 51);
    let canaries: Vec<&Suite> = c
        .suites
        .iter()
        .filter(|s| s.expect == Expect::Fail)
        .collect();
    assert_eq!(canaries.len(), 24, "one canary per memory suite");
    for canary in canaries {
        let of = canary.canary_of.as_deref().unwrap();
        assert_eq!(
            limits(&c, &canary.name),
            limits(&c, of),
            "{} inherits its suite's limits",
            canary.name
        );
        assert!(
            !resolved(&c, &canary.name, None).catches.value.is_empty(),
            "{} has something to catch",
            canary.name
        );
    }
    assert!(c.root.join("Cargo.toml").is_file());
}

#[test]
fn locate_walks_up_to_the_nearest_file() {
    let dir = root();
    std::fs::write(dir.path().join(FILE_NAME), BASE).unwrap();
    let found = locate(None, &dir.path().join("suites/node")).unwrap();
    assert_eq!(found, dir.path().join(FILE_NAME));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        locate(None, empty.path()),
        Err(ConfigError::NotFound { .. })
    ));
}

#[test]
fn fixtures_table_declares_a_generator_with_its_inputs() {
    let dir = root();
    std::fs::create_dir_all(dir.path().join("gen/src")).unwrap();
    std::fs::write(dir.path().join("gen/src/main.rs"), "").unwrap();
    let text = "[fixtures]\ncommand = [\"cargo\", \"run\", \"--\", \"${fixtures}\"]\n\
                cwd = \"gen\"\ninputs = [\"gen\", \"gen/src/main.rs\"]\n\
                dir = \"out/fx\"\nenv = \"FX\"\n";
    let c = parse(text, Path::new("memtest.toml"), dir.path()).unwrap();
    let fx = c.fixtures.unwrap();
    assert_eq!(fx.dir, dir.path().join("out/fx"));
    assert_eq!(fx.env, "FX");
    assert_eq!(
        fx.command.as_deref(),
        Some(&["cargo", "run", "--", "${fixtures}"].map(String::from)[..]),
        "kept as a template: the build stage fills in ${{fixtures}}"
    );
    assert_eq!(fx.cwd, dir.path().join("gen"));
    assert_eq!(
        fx.inputs,
        [dir.path().join("gen"), dir.path().join("gen/src/main.rs")]
    );

    let plain = check("[fixtures]\n").unwrap().fixtures.unwrap();
    assert!(plain.dir.ends_with(".memtest/fixtures"));
    assert_eq!(plain.env, "MEMTEST_FIXTURES");
    assert_eq!(plain.command, None, "a folder used as it is");
    assert!(plain.inputs.is_empty());
}

#[test]
fn bad_fixture_tables_are_located() {
    // (case, the [fixtures] table's body, message, line of the caret)
    let cases = [
        ("empty command", "command = []\n", "`command` is empty", 2),
        (
            "command as one string",
            "command = \"make fixtures\"\n",
            "invalid type: string \"make fixtures\", expected a sequence",
            2,
        ),
        (
            "inputs without a command",
            "dir = \"fx\"\ninputs = [\"suites\"]\n",
            "[fixtures] has no `command`",
            3,
        ),
        (
            "missing input",
            "command = [\"gen\"]\ninputs = [\"suites\", \"gen.py\"]\n",
            "fixture input `gen.py` does not exist",
            3,
        ),
        (
            "cwd that is not a folder",
            "command = [\"gen\"]\ncwd = \"suites/node/gc.js\"\n",
            "fixture command folder `suites/node/gc.js` does not exist",
            3,
        ),
        ("empty env", "env = \"\"\n", "invalid `env`", 2),
        (
            "misspelt key",
            "command = [\"gen\"]\ninput = [\"suites\"]\n",
            "unknown field `input`",
            3,
        ),
    ];
    for (case, body, message, line) in cases {
        let text = format!("[fixtures]\n{body}");
        let err = check(&text).expect_err(case);
        let ConfigError::Invalid { diagnostics } = &err else {
            panic!("{case}: {err}")
        };
        let d = &diagnostics[0];
        assert!(d.message.starts_with(message), "{case}: {}", d.message);
        assert_eq!(d.line, line, "{case}: {err}");
        // serde's own type errors come without a hint; every other does.
        let typed = message.starts_with("invalid type");
        assert_eq!(d.hint.is_some(), !typed, "{case}: {err}");
    }
}
