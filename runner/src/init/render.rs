//! The text `memtest init` writes: memtest.toml, assembled section by section
//! from what detect.rs found, and the starter suites, filled in from the
//! templates in templates/. Pure functions of a [`Project`], so the output
//! is deterministic and can be snapshot-tested.

use super::detect::{join, Binding, BuildKind, Project};
use super::SUITES_DIR;
use std::fmt::Write;

const NODE_TEMPLATE: &str = include_str!("templates/node_memory.js");
const PYTHON_TEMPLATE: &str = include_str!("templates/python_memory.py");

/// Stand-in library name when none was found; marked with a TODO.
const FALLBACK_LIB: &str = "mylib";

/// What `memtest init` writes.
#[derive(Debug)]
pub struct Rendered {
    pub config: String,
    pub suites: Vec<SuiteFile>,
}

/// A starter suite: its path relative to memtest.toml, and its text.
#[derive(Debug)]
pub struct SuiteFile {
    pub path: String,
    pub text: String,
}

/// The facts every section needs.
struct Ctx<'a> {
    project: &'a Project,
    lib: &'a str,
    /// The variable carrying the library's path (only with a [build]).
    lib_env: Option<String>,
}

pub fn render(project: &Project) -> Rendered {
    let lib = project
        .build
        .as_ref()
        .and_then(BuildKind::lib)
        .unwrap_or(FALLBACK_LIB);
    let ctx = Ctx {
        project,
        lib,
        lib_env: project.build.as_ref().map(|_| lib_env(lib)),
    };
    let mut out = String::new();
    header(&mut out, &ctx);
    match &project.build {
        Some(build) => build_section(&mut out, &ctx, build),
        None => out.push_str(NO_BUILD),
    }
    defaults(&mut out, &ctx);

    let mut suites = Vec::new();
    let mut suite_sections = String::new();
    // No binding found: a Python ctypes suite calls the C ABI directly, the
    // one starter that fits any native library.
    let python_default = Binding {
        dir: String::new(),
        manifest: "",
        name: None,
        koffi: false,
        lockfile: false,
        src_layout: false,
    };
    let python = match (&project.node, &project.python) {
        (_, Some(p)) => Some(p),
        (None, None) => Some(&python_default),
        (Some(_), None) => None,
    };
    if let Some(node) = &project.node {
        node_runtime(&mut out, node);
        suites.push(node_suite(&mut suite_sections, &ctx, node));
    }
    if let Some(python) = python {
        python_runtime(&mut out, python);
        suites.push(python_suite(&mut suite_sections, &ctx, python));
    }
    out.push_str(PROFILES);
    out.push_str(LIMITS_HOWTO);
    out.push_str(&suite_sections);
    examples(&mut out, project);
    Rendered {
        config: out,
        suites,
    }
}

/// `INTERN_LIB` for `intern`: the variable suites read the library path from.
fn lib_env(lib: &str) -> String {
    let name: String = lib
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}_LIB")
}

fn header(out: &mut String, ctx: &Ctx<'_>) {
    let _ = writeln!(
        out,
        "# memtest.toml: memory suites of {}, written by `memtest init` as a start.",
        ctx.lib
    );
    out.push_str(
        "# `memtest check` validates this file, `memtest list` shows what it defines,\n\
         # `memtest run` builds the library and runs every suite and its canaries.\n\
         #\n\
         # Sizes: \"50MB\" (powers of 1000), \"50MiB\" (powers of 1024). Durations:\n\
         # \"500ms\", \"60s\", \"5m\". Rates: \"1MB/s\". Paths are relative to this file.\n\
         # In command, args, env and artifact: ${root} is this folder, ${variant} the\n\
         # variant being built (`default` for the plain build) and ${lib_file} the\n\
         # platform file name of `lib` (libNAME.so, libNAME.dylib, NAME.dll).\n\n",
    );
}

const NO_BUILD: &str = "\
# No build found (Cargo.toml with a cdylib, build.zig, CMakeLists.txt,
# Makefile): the suites test the library as installed, and get no library
# path. To build it first, add a [build] with one of
#   package = \"<cargo package>\" and lib = \"<name>\"      (cargo)
#   command = [\"<argv>\"] and artifact = \"<built file>\"  (any build system)
#   path = \"<prebuilt library>\"
# and a variant with a leak compiled in for the canaries ([build.variants.leaky]).

";

fn build_section(out: &mut String, ctx: &Ctx<'_>, build: &BuildKind) {
    let lib_line = |out: &mut String| {
        let todo = if build.lib().is_none() {
            "   # TODO: the library's name (not found in the build files)"
        } else {
            ""
        };
        let _ = writeln!(out, "lib = \"{}\"{todo}", ctx.lib);
    };
    let env_line = |out: &mut String| {
        let _ = writeln!(
            out,
            "lib_env = \"{}\"   # every suite gets the built library's path here",
            ctx.lib_env.as_deref().unwrap_or_default()
        );
    };
    match build {
        BuildKind::Cargo {
            package,
            dir,
            leak_feature,
            ..
        } => {
            let _ = writeln!(
                out,
                "# The cdylib of cargo package `{package}` ({}).\n[build]\npackage = \"{package}\"",
                join(dir, "Cargo.toml")
            );
            lib_line(out);
            out.push_str("profile = \"release\"\n");
            env_line(out);
            let _ = writeln!(
                out,
                "# Optional: a function memtest calls after the build, which must return abi_version.\n\
                 # abi_symbol = \"{}_abi_version\"\n# abi_version = 1\n\
                 # Rust suites are the test targets of a cargo package (see the end of this file):\n\
                 # rust_suites = \"memsuite\"",
                ctx.lib
            );
            out.push_str(VARIANT_INTRO);
            match leak_feature {
                Some(feature) => {
                    let _ = writeln!(
                        out,
                        "features = [\"{feature}\"]   # found in {}: it must leak on a path every suite takes",
                        join(dir, "Cargo.toml")
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "# TODO: add the feature to {}, and a leak behind it on a path every\n\
                         # suite takes:\n\
                         #   [features]\n#   leak-canary = []\n\
                         #   #[cfg(feature = \"leak-canary\")]\n#   std::mem::forget(input.to_vec());\n\
                         features = [\"leak-canary\"]",
                        join(dir, "Cargo.toml")
                    );
                }
            }
        }
        BuildKind::Zig { .. } => {
            out.push_str(
                "# build.zig: each variant installs under its own prefix.\n\
                 # Zig from PyPI (`pip install ziglang`) runs as\n\
                 #   command = [\"python3\", \"-m\", \"ziglang\", \"build\", \"-p\", \".memtest/zig-out/${variant}\"]\n\
                 [build]\n\
                 command = [\"zig\", \"build\", \"-p\", \".memtest/zig-out/${variant}\"]   # argv, no shell\n\
                 artifact = \".memtest/zig-out/${variant}/lib/${lib_file}\"\n",
            );
            lib_line(out);
            env_line(out);
            out.push_str(
                "# Zig's caches inside the project, away from ~/.cache (and cacheable in CI):\n\
                 # env = { ZIG_GLOBAL_CACHE_DIR = \"${root}/.memtest/zig-cache\" }\n",
            );
            out.push_str(VARIANT_INTRO);
            out.push_str(
                "# TODO: build.zig must declare the option and compile a leak in with it:\n\
                 #   const leak = b.option(bool, \"leak\", \"compile in the canary's leak\") orelse false;\n\
                 args = [\"-Dleak=true\"]\n",
            );
        }
        BuildKind::CMake { .. } => {
            out.push_str(
                "# CMakeLists.txt: configure and build, one build folder per variant. An argv,\n\
                 # no shell, except here: cmake needs two steps.\n\
                 [build]\n\
                 command = [\"sh\", \"-c\", \"cmake -S . -B build/${variant} -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build/${variant}\"]\n\
                 # Where add_library(... SHARED) in the top CMakeLists.txt puts the library;\n\
                 # one in a subdirectory lands in build/${variant}/<subdirectory>/.\n\
                 artifact = \"build/${variant}/${lib_file}\"\n",
            );
            lib_line(out);
            env_line(out);
            out.push_str(VARIANT_INTRO);
            out.push_str(LEAK_CFLAGS);
        }
        BuildKind::Make { honours_build, .. } => {
            out.push_str(
                "# The Makefile, one output folder per variant: it must put its outputs in\n\
                 # $(BUILD). make rebuilds by timestamps, so a variant sharing the plain\n\
                 # build's folder would not be rebuilt with its own flags.\n",
            );
            if !honours_build {
                out.push_str(
                    "# TODO: this Makefile does not mention $(BUILD): add `BUILD ?= build` and\n\
                     # build into it, or edit command and artifact.\n",
                );
            }
            out.push_str(
                "[build]\n\
                 command = [\"make\", \"BUILD=build/${variant}\"]   # argv, no shell; run in this folder\n\
                 artifact = \"build/${variant}/${lib_file}\"\n",
            );
            lib_line(out);
            env_line(out);
            out.push_str(VARIANT_INTRO);
            out.push_str(LEAK_CFLAGS);
        }
    }
    out.push('\n');
}

const VARIANT_INTRO: &str = "
# A variant is the same library built differently. The canaries run the suites
# against this leaky one to prove that they can fail.
[build.variants.leaky]
";

const LEAK_CFLAGS: &str = "\
# TODO: compile a leak in under #ifdef MEMTEST_LEAK_CANARY (e.g. skip one free
# on a path every suite takes). The build must take CFLAGS from the environment:
# CMake does at its first configure; a Makefile needs `CFLAGS ?= ...`.
env = { CFLAGS = \"-O2 -g -DMEMTEST_LEAK_CANARY\" }
";

/// `[defaults]`: what differs from memtest's built-in defaults, and every
/// suite's canary: a leaky build when there is one, else the suite's own
/// retain mode (it holds memory every operation).
fn defaults(out: &mut String, ctx: &Ctx<'_>) {
    out.push_str(
        "# memtest's built-in defaults hold for everything not set here: timeout 120s,\n\
         # grace 3s (SIGTERM, then SIGKILL), sample_interval 10ms, warmup 0.2 (growth\n\
         # and slope ignore the first fifth of a run), slope_window 0.5 (the slope is\n\
         # fitted over the final half), marker \"TEST PASSED\" (printed by the helpers'\n\
         # run() when every check held). `memtest show NAME` lists a suite's settings\n\
         # and where each comes from.\n\
         [defaults]\n\
         canary_scale = 0.1        # canaries run at most at this scale: they only have to be caught\n",
    );
    if ctx.project.build.is_some() {
        out.push_str(
            "# Every suite's canary (unless it declares its own `canaries`): the suite again\n\
             # on the leaky build, named <suite>-canary-leaky. It must fail on one of the\n\
             # memory criteria its suite is judged on (its limits, and native_leaks); it is\n\
             # reported missed while the starter does not call the library yet. List\n\
             # `catches` (adding \"exit_code\") once the suite's own leak rule should count.\n\
             canaries = [{ variant = \"leaky\" }]\n\n",
        );
    } else {
        out.push_str(
            "# Every suite's canary: the suite again with MEMTEST_CANARY=retain (it keeps\n\
             # 4 KiB every operation), named <suite>-canary-retain. It must fail on one of\n\
             # `catches`: its own leak rule's exit status, or its RSS growth.\n\
             canaries = [{ mode = \"retain\", catches = [\"exit_code\", \"rss_growth\"] }]\n\n",
        );
    }
}

fn node_runtime(out: &mut String, node: &Binding) {
    let install = if node.lockfile { "ci" } else { "install" };
    out.push_str(
        "# memtest's built-in node runtime runs `node --expose-gc` (the helpers' gc()\n\
         # and quiesce() need it); this adds the binding's dependencies.\n\
         [runtimes.node]\n",
    );
    if node.dir.is_empty() {
        let _ = writeln!(
            out,
            "setup = [\"npm\", \"{install}\", \"--no-audit\", \"--no-fund\"]   # run in this folder before the suites\n\
             setup_unless = \"node_modules\"   # ... unless this exists"
        );
    } else {
        let _ = writeln!(
            out,
            "setup = [\"npm\", \"{install}\", \"--prefix\", \"${{root}}/{dir}\", \"--no-audit\", \"--no-fund\"]\n\
             setup_unless = \"{dir}/node_modules\"   # setup is skipped when this exists\n\
             # The binding's dependencies, for the suite in {SUITES_DIR} (memtest prepends its helpers):\n\
             env = {{ NODE_PATH = \"${{root}}/{dir}/node_modules\" }}",
            dir = node.dir
        );
    }
    out.push('\n');
}

fn python_runtime(out: &mut String, python: &Binding) {
    out.push_str("# memtest's built-in python runtime runs `python3 -u`");
    let path = match (python.manifest.is_empty(), python.src_layout) {
        (true, _) => None,
        (false, true) => Some(join(&python.dir, "src")),
        (false, false) => Some(python.dir.clone()),
    };
    match path {
        Some(dir) => {
            let dir = if dir.is_empty() {
                "${root}".to_string()
            } else {
                format!("${{root}}/{dir}")
            };
            let _ = writeln!(
                out,
                "; this makes the binding\n\
                 # importable without installing it (memtest prepends its helpers):\n\
                 [runtimes.python]\nenv = {{ PYTHONPATH = \"{dir}\" }}"
            );
        }
        None => out.push_str(", with its helpers first on\n# PYTHONPATH; nothing to add here.\n"),
    }
    out.push('\n');
}

const PROFILES: &str = "\
# Profiles are built in: `memtest run --profile ci` (scale 0.1: a tenth of the
# iterations; 20 ms sampling) and `--profile soak` (scale 10, timeouts x20).
# A [profiles.ci] here adds to the built-in one, e.g. scale = 1.0.

";

const LIMITS_HOWTO: &str = "\
# Limits. The ones below are loose starting points, not measurements. To set
# yours: run `memtest run --json report.json --plot plots/` a few times (and
# with --profile ci), read each suite's growth, peak and slope in the report or
# its SVG plot, then set every limit with headroom over the worst clean run
# (2-5x) but under what its canary reaches. Say where a figure came from in a
# comment above the suite. A suite that prints `MEMTEST progress=N` as it goes
# (the helpers' progress(n)) can also be held to `slope_per_op` (RSS bytes per
# operation), which keeps its meaning when parallel suites slow it down.

";

fn fill(template: &str, pairs: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (key, value) in pairs {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    debug_assert!(!text.contains("{{"), "a placeholder left unfilled");
    text
}

/// `../..` from the suites folder to `dir` (relative to the project).
fn from_suites(dir: &str) -> String {
    let up = vec![".."; SUITES_DIR.split('/').count()].join("/");
    if dir.is_empty() {
        up
    } else {
        format!("{up}/{dir}")
    }
}

fn node_suite(out: &mut String, ctx: &Ctx<'_>, node: &Binding) -> SuiteFile {
    let script = format!("{SUITES_DIR}/node_memory.js");
    let binding = from_suites(&node.dir);
    let load = match (&ctx.lib_env, node.koffi) {
        (Some(env), true) => format!(
            "  // memtest sets {env} to the library it built (the leaky one for the canary).\n  \
             const koffi = require('koffi');\n  \
             const lib = koffi.load(m.libPath('{env}'));\n  \
             // TODO: declare the functions operation() calls, e.g.\n  \
             //   return {{ process: lib.func('void *mylib_process(const uint8_t *data, size_t len)') }};\n  \
             // or test the binding itself: require('{binding}'), pointed at this library.\n  \
             return lib;"
        ),
        (Some(env), false) => format!(
            "  // memtest sets {env} to the library it built (the leaky one for the canary).\n  \
             const file = m.libPath('{env}');\n  \
             // TODO: open it through the binding, e.g. require('{binding}') pointed at\n  \
             // this file, or call its C ABI with an FFI such as koffi: koffi.load(file).\n  \
             return {{ file }};"
        ),
        (None, _) => format!(
            "  // No [build] in memtest.toml: the suite tests what is installed.\n  \
             // TODO: return require('{binding}') (or the installed package).\n  \
             return {{}};"
        ),
    };
    let name = "node-memory";
    let _ = writeln!(
        out,
        "# ---------------------------------------------------------------- node\n\
         # {script}: a starter; see the TODOs in it.\n\
         [suites.{name}]\nscript = \"{script}\"   # a .js script: the node runtime\n\
         description = \"a bounded loop of operations: RSS flat after warm-up by the leak rule\"\n\
         tags = [\"node\", \"fast\"]\n\
         # Node itself takes ~45 MB, and V8 grows its heap during short runs.\n\
         # No memtest slope: sampled between collections, V8's heap swings a\n\
         # fit over a short run by MB/s either way (a clean 0.8 s run of this\n\
         # starter fit +2.2 MB/s). The suite's own leak rule reads RSS after a\n\
         # collection at each checkpoint; add slope once runs last 10 s or more.\n\
         limits = {{ rss_growth = \"24MB\", peak_rss = \"150MB\" }}\n",
    );
    SuiteFile {
        text: fill(
            NODE_TEMPLATE,
            &[
                ("lib", ctx.lib),
                ("suite", name),
                ("script", &script),
                ("load", &load),
            ],
        ),
        path: script,
    }
}

fn python_suite(out: &mut String, ctx: &Ctx<'_>, python: &Binding) -> SuiteFile {
    let script = format!("{SUITES_DIR}/python_memory.py");
    let module = python
        .name
        .as_deref()
        .map_or_else(|| "mylib".to_string(), |n| n.replace('-', "_"));
    let load = match &ctx.lib_env {
        Some(env) => format!(
            "    # memtest sets {env} to the library it built (the leaky one for the canary).\n    \
             lib = ctypes.CDLL(m.lib_path(\"{env}\"))\n    \
             # TODO: declare the functions operation() calls, e.g.\n    \
             #   lib.mylib_process.argtypes = [ctypes.c_char_p, ctypes.c_size_t]\n    \
             #   lib.mylib_process.restype = ctypes.c_void_p\n    \
             # or test the binding itself (`import {module}`), pointed at this library.\n    \
             return lib"
        ),
        None => format!(
            "    # No [build] in memtest.toml: the suite tests what is installed.\n    \
             # TODO: import {module} and return it (or ctypes.CDLL(\"<installed library>\")).\n    \
             return None"
        ),
    };
    let description = if python.manifest.is_empty() {
        "the C ABI through ctypes: a bounded loop of operations, RSS flat after warm-up"
    } else {
        "a bounded loop of operations through the binding: RSS flat after warm-up"
    };
    let name = "python-memory";
    let _ = writeln!(
        out,
        "# -------------------------------------------------------------- python\n\
         # {script}: a starter; see the TODOs in it.\n\
         [suites.{name}]\nscript = \"{script}\"   # a .py script: the python runtime\n\
         description = \"{description}\"\ntags = [\"python\", \"fast\"]\n\
         limits = {{ rss_growth = \"16MB\", peak_rss = \"100MB\", slope = \"2MB/s\" }}\n",
    );
    SuiteFile {
        text: fill(
            PYTHON_TEMPLATE,
            &[
                ("lib", ctx.lib),
                ("suite", name),
                ("script", &script),
                ("load", &load),
            ],
        ),
        path: script,
    }
}

/// Commented suites for runtimes init does not write a starter for.
fn examples(out: &mut String, project: &Project) {
    match &project.build {
        Some(BuildKind::Cargo { .. }) => out.push_str(
            "# ---------------------------------------------------------------- rust\n\
             # Rust suites are test targets of a cargo package (rust_suites in [build]),\n\
             # each run directly; a counting global allocator can report\n\
             # `MEMTEST native_leaks=N`, judged against the native_leaks limit (0). A suite\n\
             # with `test` runs on memtest's built-in rust runtime.\n\
             # [suites.rust-memory]\n\
             # test = \"memory_leak\"   # a test target of the rust_suites package\n\
             # tags = [\"rust\", \"fast\"]\n\
             # limits = { rss_growth = \"4MB\", slope = \"1MB/s\", peak_rss = \"50MB\" }\n\
             # Several rust suites with the same limits: say them once, in an override.\n\
             # [[overrides]]\n# filter = { runtime = \"rust\" }\n\
             # limits = { rss_growth = \"4MB\", slope = \"1MB/s\", peak_rss = \"50MB\" }\n",
        ),
        Some(BuildKind::Make { .. } | BuildKind::CMake { .. }) => out.push_str(
            "# ------------------------------------------------------------------- c\n\
             # A C suite is a program linked against the library, built by the same\n\
             # build (memtest's helpers/c/memtest.h, in $MEMTEST_HELPERS/c, speaks the\n\
             # protocol in C). A command runtime without a program runs its `command`:\n\
             # [runtimes.native]\n# kind = \"command\"\n#\n\
             # [suites.c-memory]\n# runtime = \"native\"\n\
             # command = [\"build/${variant}/test_memory\"]\n# tags = [\"c\", \"fast\"]\n\
             # limits = { rss_growth = \"1MB\", slope = \"0.5MB/s\", peak_rss = \"16MB\" }\n",
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_names_are_derived() {
        assert_eq!(lib_env("zfreq"), "ZFREQ_LIB");
        assert_eq!(lib_env("my-ffi"), "MY_FFI_LIB");
        assert_eq!(from_suites(""), "../..");
        assert_eq!(from_suites("bindings/nodejs"), "../../bindings/nodejs");
        let project = Project {
            build: Some(BuildKind::Zig { lib: None }),
            node: Some(Binding {
                dir: String::new(),
                manifest: "package.json",
                name: None,
                koffi: true,
                lockfile: false,
                src_layout: false,
            }),
            ..Project::default()
        };
        let rendered = render(&project);
        for suite in &rendered.suites {
            assert!(!suite.text.contains("{{"), "{}", suite.path);
            assert!(suite.text.contains("MYLIB_LIB"), "{}", suite.text);
        }
        assert!(rendered.config.contains("lib = \"mylib\"   # TODO"));
        assert!(rendered.config.contains("npm\", \"install\""));

        let make = Project {
            build: Some(BuildKind::Make {
                lib: Some("x".into()),
                honours_build: false,
            }),
            ..Project::default()
        };
        assert!(render(&make).config.contains("does not mention $(BUILD)"));
    }
}
