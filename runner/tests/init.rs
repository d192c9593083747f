//! `memtest init` end to end: the real binary run in project trees made in a
//! tempdir (cargo cdylib + Node binding, Makefile + Python package, build.zig,
//! CMake, an empty folder, and the c-library example when it is around), and
//! every memtest.toml it writes must pass the real `memtest check`.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::memtest;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// Runs `init` then `check` in `root`; returns init's answer and the config.
fn init_and_check(root: &Path) -> (String, String) {
    let init = memtest(&["init"], root);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init.stderr));
    let check = memtest(&["check"], root);
    let config = std::fs::read_to_string(root.join("memtest.toml")).unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "check failed:\n{}\n--- memtest.toml\n{config}",
        text(&check.stderr)
    );
    assert!(text(&check.stdout).contains("memtest.toml: ok"));
    (text(&init.stdout), config)
}

fn suites_in(root: &Path) -> String {
    text(&memtest(&["list"], root).stdout)
}

#[test]
fn cargo_workspace_with_a_cdylib_and_node_and_python_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "Cargo.toml",
        "[workspace]\nmembers = [\"core\", \"tools/*\"]\n",
    );
    write(
        root,
        "core/Cargo.toml",
        "[package]\nname = \"img-core\"\nversion = \"0.1.0\"\n\n[lib]\ncrate-type = [\"rlib\", \"cdylib\"]\n",
    );
    write(root, "tools/cli/Cargo.toml", "[package]\nname = \"cli\"\n");
    write(
        root,
        "bindings/nodejs/package.json",
        r#"{ "name": "img", "dependencies": { "koffi": "^2.9" } }"#,
    );
    write(root, "bindings/nodejs/package-lock.json", "{}");
    write(
        root,
        "bindings/python/pyproject.toml",
        "[project]\nname = \"img-py\"\n",
    );

    let (answer, config) = init_and_check(root);
    assert!(
        answer.contains("cargo package `img-core`") && answer.contains("wrote memtest.toml"),
        "{answer}"
    );
    insta::assert_snapshot!("cargo_node_python", config);
    // Each runtime's starter suite, and a canary for each.
    let list = suites_in(root);
    for name in [
        "node-memory",
        "node-memory-canary-leaky",
        "python-memory",
        "python-memory-canary-leaky",
    ] {
        assert!(list.contains(name), "{name} missing:\n{list}");
    }
    let node = std::fs::read_to_string(root.join("memtest/suites/node_memory.js")).unwrap();
    assert!(node.contains("require('memtest-suite')"));
    assert!(node.contains("m.libPath('IMG_CORE_LIB')") && node.contains("koffi.load"));
    assert!(node.contains("require('../../bindings/nodejs')"));
    let python = std::fs::read_to_string(root.join("memtest/suites/python_memory.py")).unwrap();
    assert!(python.contains("import memtest_suite as m"));
    assert!(python.contains("ctypes.CDLL(m.lib_path(\"IMG_CORE_LIB\"))"));
    assert!(python.contains("import img_py"));
}

#[test]
fn makefile_and_a_python_package_in_src_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "Makefile",
        "BUILD ?= build\nall: $(BUILD)/libctiny.so\n$(BUILD)/libctiny.so: ctiny.c\n\tcc -shared -o $@ $<\n",
    );
    write(root, "pyproject.toml", "[project]\nname = \"ctiny\"\n");
    std::fs::create_dir_all(root.join("src/ctiny")).unwrap();

    let (answer, config) = init_and_check(root);
    assert!(answer.contains("Makefile (library `ctiny`)"), "{answer}");
    assert!(config.contains("command = [\"make\", \"BUILD=build/${variant}\"]"));
    assert!(config.contains("artifact = \"build/${variant}/${lib_file}\""));
    assert!(config.contains("lib_env = \"CTINY_LIB\""));
    assert!(config.contains("env = { CFLAGS = \"-O2 -g -DMEMTEST_LEAK_CANARY\" }"));
    // It mentions $(BUILD), so no TODO about it.
    assert!(!config.contains("does not mention $(BUILD)"));
    assert!(config.contains("it must put its outputs in\n# $(BUILD)"));
    assert!(config.contains("PYTHONPATH = \"${root}/src\""));
    // No Node binding: no node runtime, and the C suite only as a comment.
    assert!(!config.contains("[runtimes.node]"));
    assert!(config.contains("# [runtimes.native]"));
    assert!(!root.join("memtest/suites/node_memory.js").exists());
}

#[test]
fn build_zig_uses_a_prefix_per_variant_and_the_library_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "build.zig",
        "pub fn build(b: *std.Build) void {\n    const lib = b.addLibrary(.{\n        .linkage = .dynamic,\n        .name = \"zfreq\",\n    });\n    b.installArtifact(lib);\n}\n",
    );
    let (answer, config) = init_and_check(root);
    assert!(answer.contains("build.zig (library `zfreq`)"), "{answer}");
    assert!(
        config.contains("command = [\"zig\", \"build\", \"-p\", \".memtest/zig-out/${variant}\"]")
    );
    assert!(config.contains("artifact = \".memtest/zig-out/${variant}/lib/${lib_file}\""));
    assert!(config.contains("python3\", \"-m\", \"ziglang\""));
    assert!(config.contains("args = [\"-Dleak=true\"]"));
    // No binding: the Python ctypes starter, on the leaky variant.
    assert!(suites_in(root).contains("python-memory-canary-leaky"));
}

#[test]
fn cmake_builds_in_two_steps_and_an_unknown_library_name_is_a_todo() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "CMakeLists.txt",
        "cmake_minimum_required(VERSION 3.16)\nproject(x C)\nadd_library(${PROJECT_NAME} SHARED x.c)\n",
    );
    let (_, config) = init_and_check(root);
    assert!(config.contains("\"sh\", \"-c\", \"cmake -S . -B build/${variant}"));
    // add_library(${PROJECT_NAME} ...): the name from project().
    assert!(config.contains("lib = \"x\"\n"), "{config}");

    // Any other variable is a name only CMake knows: a TODO.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "CMakeLists.txt",
        "add_library(${LIB} SHARED x.c)\n",
    );
    let (answer, config) = init_and_check(dir.path());
    assert!(answer.contains("library `? (not found"), "{answer}");
    assert!(config.contains("lib = \"mylib\"   # TODO"), "{config}");
}

#[test]
fn an_empty_folder_gets_a_python_suite_with_a_retain_canary_and_no_build() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (answer, config) = init_and_check(root);
    assert!(answer.contains("build: none found"), "{answer}");
    assert!(!config.contains("\n[build]"));
    assert!(config.contains("{ mode = \"retain\", catches = [\"exit_code\", \"rss_growth\"] }"));
    let list = suites_in(root);
    assert!(list.contains("python-memory-canary-retain"), "{list}");
    let python = std::fs::read_to_string(root.join("memtest/suites/python_memory.py")).unwrap();
    assert!(python.contains("m.canary() == \"retain\"") && python.contains("m.run(main)"));
}

#[test]
fn an_existing_config_is_refused_without_force_and_suites_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "memtest.toml", "# mine\n");
    let refused = memtest(&["init"], root);
    assert_eq!(refused.status.code(), Some(2));
    let err = text(&refused.stderr);
    assert!(
        err.contains("memtest.toml already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("memtest.toml")).unwrap(),
        "# mine\n"
    );
    assert!(
        !root.join("memtest").exists(),
        "nothing written when refused"
    );

    write(root, "memtest/suites/python_memory.py", "# my own work\n");
    let forced = memtest(&["init", "--force"], root);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    assert!(text(&forced.stdout).contains("kept memtest/suites/python_memory.py"));
    assert_eq!(
        std::fs::read_to_string(root.join("memtest/suites/python_memory.py")).unwrap(),
        "# my own work\n"
    );
    assert!(std::fs::read_to_string(root.join("memtest.toml"))
        .unwrap()
        .contains("[suites."));
}

#[test]
fn dir_points_init_elsewhere_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let arg = project.to_str().unwrap();
    let out = memtest(&["init", "--dir", arg], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(project.join("memtest.toml").is_file());
    assert!(!dir.path().join("memtest.toml").exists());

    let missing = dir.path().join("nope");
    let out = memtest(&["init", "--dir", missing.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a directory"));
}

/// The C library example, wherever it is: this repository's examples/, or
/// MEMTEST_INIT_EXAMPLE.
fn c_library_example() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::env::var_os("MEMTEST_INIT_EXAMPLE")
        .map(PathBuf::from)
        .into_iter()
        .chain([repo.join("examples/c-library")])
        .find(|p| p.join("Makefile").is_file())
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // Its own config (init must write one), build outputs, npm packages.
        if ["memtest.toml", "build", "node_modules", ".memtest"].contains(&name.to_str().unwrap()) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn the_c_library_example_without_its_memtest_toml() {
    let Some(example) = c_library_example() else {
        println!("skipped: no examples/c-library here (set MEMTEST_INIT_EXAMPLE to one)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c-library");
    copy_tree(&example, &root);
    let (answer, config) = init_and_check(&root);
    assert!(answer.contains("Makefile (library `intern`)"), "{answer}");
    assert!(answer.contains("node binding: package.json"), "{answer}");
    assert!(config.contains("lib_env = \"INTERN_LIB\""));
    assert!(suites_in(&root).contains("node-memory-canary-leaky"));
}

fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_python_starter_passes_and_its_retain_canary_is_caught() {
    // The starter is a real suite: the runner's own helpers, the leak rule,
    // the marker. Its stand-in operation passes; the retain canary keeps
    // 4 KiB per operation and must be caught.
    if !on_path("python3") {
        println!("skipped: no python3 on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init_and_check(root);
    let json = root.join("report.json");
    let run = memtest(
        &["run", "--profile", "ci", "--json", json.to_str().unwrap()],
        root,
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("a JSON report")).unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let totals = &report["totals"];
    assert_eq!(
        (totals["passed"].as_u64(), totals["canary_caught"].as_u64()),
        (Some(1), Some(1)),
        "{totals}"
    );
}
