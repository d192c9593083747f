//! From resolved suites and built artifacts to [`Job`]s: argv (no shell),
//! environment, cwd, timeout, limits and log paths, with each suite's
//! effective settings as the config's resolver gave them. Pure: the tests
//! below check the exact argv and env of each runtime without building or
//! spawning.

use crate::config::{interpolate, Config, ResolveError, ResolvedSuite, Target};
use crate::model::{Artifacts, Job, RuntimeKind, WrapperRun};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The folder of inputs a corpus suite streams (`corpus`, `--corpus`).
pub const CORPUS_ENV: &str = "MEMTEST_CORPUS";

/// Run-wide choices that shape every job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanOptions<'a> {
    /// Runtime name -> the interpreter's real executable, which wrapped
    /// suites start instead of the runtime's `program` (see
    /// `build::interpreter`: a shim on PATH would be wrapped instead).
    pub interpreters: BTreeMap<String, String>,
    /// The folder holding the helper modules memtest ships (MEMTEST_HELPERS);
    /// its `python/` and `node/` go first on PYTHONPATH and NODE_PATH.
    pub helpers: Option<&'a Path>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("no library was built for variant `{variant}` (needed by suite `{suite}`)")]
    MissingLib { suite: String, variant: String },
    #[error("no test executable `{test}` (variant `{variant}`) for suite `{suite}`; is it a [[test]] of the rust_suites package?")]
    MissingTest {
        suite: String,
        test: String,
        variant: String,
    },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
}

/// One job per suite, in the order given.
pub fn plan(
    config: &Config,
    suites: &[ResolvedSuite<'_>],
    artifacts: &Artifacts,
    opts: &PlanOptions<'_>,
) -> Result<Vec<Job>, PlanError> {
    suites
        .iter()
        .map(|s| plan_one(config, s, artifacts, opts))
        .collect()
}

fn plan_one(
    config: &Config,
    planned: &ResolvedSuite<'_>,
    artifacts: &Artifacts,
    opts: &PlanOptions<'_>,
) -> Result<Job, PlanError> {
    let (suite, resolved) = (planned.suite, &planned.settings);
    let runtime = config.runtime_of(suite);
    let wrapper_def = resolved.wrapper_in(config);
    let variant = resolved.variant.value.clone();
    let lib = match &config.build {
        None => None,
        Some(_) => Some(
            artifacts
                .libs
                .get(&variant)
                .ok_or_else(|| PlanError::MissingLib {
                    suite: suite.name.clone(),
                    variant: variant.clone(),
                })?,
        ),
    };
    let (root, fixtures) = config.root_and_fixtures_text();
    let lib_text = lib.map(|l| l.display().to_string()).unwrap_or_default();
    let vars = [
        ("root", root.as_str()),
        ("lib", lib_text.as_str()),
        ("fixtures", fixtures.as_str()),
        ("variant", variant.as_str()),
    ];
    let fill = |s: &str| interpolate(s, &vars);
    let cwd = match &suite.cwd {
        Some(dir) => config.root.join(fill(dir)),
        None => config.root.clone(),
    };
    let program = || {
        // Wrapped suites start the interpreter's real executable.
        let real = wrapper_def.and_then(|_| opts.interpreters.get(&runtime.name));
        let program = real
            .or(runtime.program.as_ref())
            .cloned()
            .unwrap_or_default();
        let mut argv = vec![program];
        argv.extend(runtime.flags.iter().map(|f| fill(f)));
        argv
    };
    let mut argv: Vec<String> = match &suite.target {
        Target::Test(test) => {
            let key = (variant.clone(), test.clone());
            let exe = artifacts
                .tests
                .get(&key)
                .ok_or_else(|| PlanError::MissingTest {
                    suite: suite.name.clone(),
                    test: test.clone(),
                    variant: variant.clone(),
                })?;
            vec![exe.display().to_string()]
        }
        Target::Script(script) => {
            let mut argv = program();
            argv.push(config.root.join(script).display().to_string());
            argv
        }
        Target::Program => program(),
        Target::Argv(command) => {
            let mut argv: Vec<String> = command.iter().map(|a| fill(a)).collect();
            // A path (not a bare name looked up on PATH) is relative to the
            // suite's folder.
            if argv[0].contains('/') {
                argv[0] = cwd.join(&argv[0]).display().to_string();
            }
            argv
        }
    };
    argv.extend(suite.args.iter().map(|a| fill(a)));

    let mut env = Vec::new();
    if let (Some(build), Some(_)) = (&config.build, lib) {
        if let Some(lib_env) = &build.lib_env {
            env.push((lib_env.clone(), lib_text.clone()));
        }
    }
    if let Some(fx) = &config.fixtures {
        env.push((fx.env.clone(), fixtures.clone()));
    }
    let scale = resolved.scale.value;
    env.push(("MEMTEST_SCALE".to_string(), scale.to_string()));
    if let Some(corpus) = &resolved.corpus.value {
        // Joining an absolute path (the command line's) keeps it as it is.
        let dir = config.root.join(fill(corpus));
        env.push((CORPUS_ENV.to_string(), dir.display().to_string()));
    }
    let expect = match suite.expect {
        crate::model::Expect::Pass => "pass",
        crate::model::Expect::Fail => "fail",
    };
    env.push(("MEMTEST_EXPECT".to_string(), expect.to_string()));
    if let Some(duration) = resolved.duration.value {
        env.push((
            "MEMTEST_DURATION_MS".to_string(),
            duration.as_millis().to_string(),
        ));
    }
    // `live_growth` is measured from the helpers' checkpoint records, which
    // they print in cause mode.
    if resolved.judged_limits.live_growth.is_some() {
        env.push(("MEMTEST_CAUSE".to_string(), "1".to_string()));
    }
    env.extend(runtime.env.iter().map(|(k, v)| (k.clone(), fill(v))));
    env.extend(suite.env.iter().map(|(k, v)| (k.clone(), fill(v))));
    if let Some(helpers) = opts.helpers {
        env.push(("MEMTEST_HELPERS".to_string(), helpers.display().to_string()));
        let search = match runtime.kind {
            RuntimeKind::Python => Some(("PYTHONPATH", helpers.join("python"))),
            RuntimeKind::Node => Some(("NODE_PATH", helpers.join("node"))),
            _ => None,
        };
        if let Some((key, dir)) = search {
            prepend_path(&mut env, key, &dir);
        }
    }

    let log_dir = config.log_dir();
    let wrapper = wrapper_def.map(|w| {
        let log_dir_text = log_dir.display().to_string();
        let wvars = [
            ("log_dir", log_dir_text.as_str()),
            ("suite", suite.name.as_str()),
            ("root", root.as_str()),
            ("runtime", runtime.name.as_str()),
        ];
        env.extend(
            w.env
                .iter()
                .map(|(k, v)| (k.clone(), interpolate(v, &wvars))),
        );
        // The suite's helpers judge RSS trends of their own; under a tool
        // RSS is mostly the tool's (shadow memory, quarantine, its records
        // of every allocation stack), so they report them without judging,
        // as memtest does with its RSS limits.
        env.push(("MEMTEST_WRAPPER".to_string(), w.name.clone()));
        // A rust suite's executable links the sanitizer's runtime itself (a
        // second, preloaded copy would clash with it); an interpreter must
        // have it loaded before anything else, which only LD_PRELOAD does.
        if let (Some(preload), false) = (&w.preload, runtime.kind == RuntimeKind::Rust) {
            env.push(("LD_PRELOAD".to_string(), interpolate(preload, &wvars)));
        }
        let mut wrapped: Vec<String> = w.argv.iter().map(|a| interpolate(a, &wvars)).collect();
        wrapped.append(&mut argv);
        argv = wrapped;
        WrapperRun {
            name: w.name.clone(),
            findings: w.findings,
            output_path: PathBuf::from(interpolate(&w.output, &wvars)),
        }
    });
    Ok(Job {
        suite: suite.name.clone(),
        runtime: runtime.kind,
        tags: suite.tags.clone(),
        argv,
        env,
        cwd,
        timeout: resolved.run_timeout,
        grace: resolved.grace.value,
        sample_interval: resolved.sample_interval.value,
        scale,
        limits: resolved.judged_limits.clone(),
        expect: suite.expect,
        catches: resolved.catches.value.clone(),
        exclusive: suite.exclusive,
        threads: resolved.threads.value,
        log_path: log_dir.join(format!("{}.log", suite.name)),
        wrapper,
        duration: resolved.duration.value,
    })
}

/// Puts `dir` first on the search path `key` (PYTHONPATH, NODE_PATH): before
/// what the runtime or suite set, else before what memtest inherited.
fn prepend_path(env: &mut Vec<(String, String)>, key: &str, dir: &Path) {
    let dir = dir.display().to_string();
    match env.iter_mut().rev().find(|(k, _)| k == key) {
        Some((_, value)) => *value = format!("{dir}:{value}"),
        None => {
            let value = match std::env::var(key) {
                Ok(inherited) if !inherited.is_empty() => format!("{dir}:{inherited}"),
                _ => dir,
            };
            env.push((key.to_string(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Invocation, Suite};
    use crate::units::Bytes;
    use std::path::Path;
    use std::time::Duration;

    const TOML: &str = r#"
[build]
package = "pyjamaz"
lib = "pyjamaz"
lib_env = "PYJAMAZ_LIB_PATH"
rust_suites = "memsuite"
[build.variants.leaky]
features = ["canary-leak"]
[defaults]
timeout = "100s"
rss_growth = "50MB"
[fixtures]
dir = "fx"
env = "MEMTEST_FIXTURES"
[runtimes.rust]
kind = "rust"
[runtimes.node]
kind = "node"
program = "node"
flags = ["--expose-gc"]
env = { NODE_PATH = "${root}/node_modules", LIB_COPY = "${lib}" }
[runtimes.python]
kind = "python"
program = "python3"
flags = ["-u"]
env = { PYTHONPATH = "${root}/bindings/python" }
[profiles.soak]
scale = 10
timeout_factor = 20
[wrappers.memcheck]
argv = ["valgrind", "--xml-file=${log_dir}/${suite}.xml"]
findings = "valgrind-xml"
timeout_factor = 30
[[suite]]
name = "rust-leak"
runtime = "rust"
test = "memory_leak"
args = ["--iterations", "10"]
limits = { rss_growth = "16MB", marker = false }
[[suite]]
name = "node-gc"
runtime = "node"
script = "suites/node/gc.js"
variant = "leaky"
timeout = "30s"
env = { EXTRA = "${fixtures}/tiny.png" }
[[suite]]
name = "py-gc"
runtime = "python"
script = "suites/python/gc.py"
args = ["${fixtures}"]
"#;

    fn setup() -> (tempfile::TempDir, Config, Artifacts) {
        let dir = tempfile::tempdir().unwrap();
        for f in ["suites/node/gc.js", "suites/python/gc.py"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let c = config::parse(TOML, &dir.path().join("memtest.toml"), dir.path()).unwrap();
        let mut artifacts = Artifacts::default();
        artifacts
            .libs
            .insert("default".into(), "/lib/default/libpyjamaz.so".into());
        artifacts
            .libs
            .insert("leaky".into(), "/lib/leaky/libpyjamaz.so".into());
        artifacts.tests.insert(
            ("default".into(), "memory_leak".into()),
            "/bin/memory_leak".into(),
        );
        (dir, c, artifacts)
    }

    fn resolved<'c>(c: &'c Config, inv: &Invocation) -> Vec<ResolvedSuite<'c>> {
        let suites: Vec<&Suite> = c.suites.iter().collect();
        c.resolve_all(&suites, inv).unwrap()
    }

    fn jobs(c: &Config, a: &Artifacts, profile: Option<&str>, wrapper: Option<&str>) -> Vec<Job> {
        let inv = Invocation {
            profile: profile.map(str::to_string),
            wrapper: wrapper.map(str::to_string),
            ..Invocation::default()
        };
        let opts = PlanOptions {
            interpreters: BTreeMap::from([("python".to_string(), "/real/python3".to_string())]),
            helpers: None,
        };
        plan(c, &resolved(c, &inv), a, &opts).unwrap()
    }

    fn env<'j>(job: &'j Job, key: &str) -> &'j str {
        let found = job.env.iter().find(|(k, _)| k == key);
        found
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} not set"))
    }

    #[test]
    fn each_runtime_gets_its_argv_and_env() {
        let (dir, c, a) = setup();
        let root = dir.path().display().to_string();
        let [rust, node, py] = <[Job; 3]>::try_from(jobs(&c, &a, None, None)).unwrap();

        assert_eq!(rust.argv, ["/bin/memory_leak", "--iterations", "10"]);
        assert_eq!(env(&rust, "PYJAMAZ_LIB_PATH"), "/lib/default/libpyjamaz.so");
        assert_eq!(env(&rust, "MEMTEST_FIXTURES"), format!("{root}/fx"));
        assert_eq!(env(&rust, "MEMTEST_SCALE"), "1");
        assert_eq!(
            rust.limits.rss_growth,
            Some(Bytes(16_000_000)),
            "suite over defaults"
        );
        assert_eq!(rust.limits.marker, None);
        assert_eq!(rust.timeout, Duration::from_secs(100));
        assert_eq!(
            rust.log_path,
            dir.path().join(".memtest/logs/rust-leak.log")
        );
        assert_eq!(rust.cwd, dir.path());

        assert_eq!(
            node.argv,
            [
                "node".to_string(),
                "--expose-gc".into(),
                format!("{root}/suites/node/gc.js")
            ]
        );
        assert_eq!(
            env(&node, "PYJAMAZ_LIB_PATH"),
            "/lib/leaky/libpyjamaz.so",
            "the suite's variant"
        );
        assert_eq!(env(&node, "NODE_PATH"), format!("{root}/node_modules"));
        assert_eq!(env(&node, "LIB_COPY"), "/lib/leaky/libpyjamaz.so");
        assert_eq!(env(&node, "EXTRA"), format!("{root}/fx/tiny.png"));
        assert_eq!(
            node.limits.rss_growth,
            Some(Bytes(50_000_000)),
            "defaults apply"
        );
        assert_eq!(node.timeout, Duration::from_secs(30));
        // Suite env comes after runtime env, so it wins when both set a key.
        let keys: Vec<&str> = node.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "PYJAMAZ_LIB_PATH",
                "MEMTEST_FIXTURES",
                "MEMTEST_SCALE",
                "MEMTEST_EXPECT",
                "LIB_COPY",
                "NODE_PATH",
                "EXTRA"
            ]
        );

        assert_eq!(
            py.argv,
            [
                "python3".to_string(),
                "-u".into(),
                format!("{root}/suites/python/gc.py"),
                format!("{root}/fx")
            ]
        );
        assert_eq!(env(&py, "PYTHONPATH"), format!("{root}/bindings/python"));
        assert!(py.wrapper.is_none());
    }

    #[test]
    fn profiles_and_wrappers_scale_timeouts_and_prefix_argv() {
        let (dir, c, a) = setup();
        let logs = dir.path().join(".memtest/logs");
        let soak = jobs(&c, &a, Some("soak"), Some("memcheck"));
        let node = &soak[1];
        assert_eq!(env(node, "MEMTEST_SCALE"), "10");
        // The soak's 24 h go to the suite, and on top of its timeout.
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(env(node, "MEMTEST_DURATION_MS"), "86400000");
        assert_eq!(node.duration, Some(day));
        assert_eq!(node.timeout, Duration::from_secs(30 * 20 * 30) + day);
        assert_eq!(node.argv[0], "valgrind");
        assert_eq!(
            node.argv[1],
            format!("--xml-file={}/node-gc.xml", logs.display())
        );
        assert_eq!(node.argv[2], "node");
        let w = node.wrapper.as_ref().unwrap();
        assert_eq!(
            (w.name.as_str(), w.output_path.clone()),
            ("memcheck", logs.join("node-gc.xml"))
        );
        // Wrapped suites start the interpreter's real executable (node has
        // none resolved here, so keeps its program) ...
        assert_eq!(
            soak[2].argv[..3],
            ["valgrind", &w_arg(&logs, "py-gc"), "/real/python3"]
        );
        // ... and are not judged on RSS or VMS, which are mostly the tool's.
        let l = &node.limits;
        assert_eq!(
            (l.rss_growth, l.vms_growth, l.peak_rss, l.slope),
            (None, None, None, None)
        );
        assert_eq!(l.native_leaks, Some(0));
        assert_eq!(l.marker.as_deref(), Some("TEST PASSED"));
        let plain = jobs(&c, &a, Some("soak"), None);
        assert_eq!(
            plain[2].argv[0], "python3",
            "only wrapped suites are resolved"
        );
        assert_eq!(plain[1].limits.rss_growth, Some(Bytes(50_000_000)));
    }

    #[test]
    fn canaries_run_at_most_at_the_canary_scale() {
        let (dir, _, a) = setup();
        let text = TOML
            .replace("[defaults]\n", "[defaults]\ncanary_scale = 0.1\n")
            .replace(
                "args = [\"${fixtures}\"]\n",
                "args = [\"${fixtures}\"]\ncanaries = [{ name = \"py-canary\", variant = \"leaky\" }]\n",
            );
        let c = config::parse(&text, &dir.path().join("memtest.toml"), dir.path()).unwrap();
        let scales = |scale: f64| -> Vec<(String, f64, String)> {
            let inv = Invocation {
                scale: Some(scale),
                ..Invocation::default()
            };
            let planned = plan(&c, &resolved(&c, &inv), &a, &PlanOptions::default()).unwrap();
            planned
                .iter()
                .map(|j| {
                    (
                        j.suite.clone(),
                        j.scale,
                        env(j, "MEMTEST_SCALE").to_string(),
                    )
                })
                .collect()
        };
        let at_one = scales(1.0);
        let canary = at_one
            .iter()
            .find(|(name, ..)| name == "py-canary")
            .unwrap();
        assert_eq!((canary.1, canary.2.as_str()), (0.1, "0.1"), "capped");
        assert!(
            at_one
                .iter()
                .filter(|(name, ..)| name != "py-canary")
                .all(|(_, s, e)| *s == 1.0 && e == "1"),
            "suites keep the run's scale: {at_one:?}"
        );
        let small = scales(0.05);
        assert!(
            small.iter().all(|(_, s, _)| *s == 0.05),
            "a run below the cap leaves canaries at its own scale: {small:?}"
        );
    }

    fn w_arg(logs: &Path, suite: &str) -> String {
        format!("--xml-file={}/{suite}.xml", logs.display())
    }

    #[test]
    fn missing_artifacts_and_wrappers_are_errors() {
        let (_dir, c, mut a) = setup();
        let suites: Vec<&Suite> = c.suites.iter().collect();
        let typo = Invocation {
            wrapper: Some("memchek".into()),
            ..Invocation::default()
        };
        let err = c.resolve_all(&suites, &typo).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no wrapper `memchek` in memtest.toml: did you mean `memcheck`?"
        );
        let opts = PlanOptions::default();
        let all = resolved(&c, &Invocation::default());
        a.libs.remove("leaky");
        assert!(matches!(
            plan(&c, &all, &a, &opts),
            Err(PlanError::MissingLib { .. })
        ));
        a.tests.clear();
        assert!(matches!(
            plan(&c, &all[..1], &a, &opts),
            Err(PlanError::MissingTest { .. })
        ));
    }

    #[test]
    fn interpolation_leaves_unknown_names_alone() {
        let vars = [("root", "/r"), ("lib", "/l.so")];
        assert_eq!(
            interpolate("${root}/x:${lib}:${other}", &vars),
            "/r/x:/l.so:${other}"
        );
        assert_eq!(Path::new(&interpolate("${root}", &vars)), Path::new("/r"));
    }
}
