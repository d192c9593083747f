//! What every project gets without writing it: the `ci` and `soak` profiles,
//! the `memcheck` and `heaptrack` wrappers, and the `rust`, `node` and
//! `python` runtimes. A project's `[profiles.ci]` merges over the built-in
//! one key by key; its `[runtimes.node]` (of the same kind) too, with `env`
//! merged by variable; its `[wrappers.memcheck]` replaces the built-in
//! wholly (a tool's argv does not merge).

use super::settings::SettingsPatch;
use super::{Runtime, Wrapper};
use crate::model::{FindingsKind, RuntimeKind};
use std::time::Duration;

/// `ci`: a tenth of the iterations, sampled every 20 ms (a loaded CI box
/// pays for each sample); `soak`: every suite repeats its work for 24 hours
/// (`duration`), each pass at ten times the iterations, and a pass may take
/// twenty times the suite's timeout (the run's timeout is the duration plus
/// one such pass). docs/protocol.md promises these scales.
pub(super) fn profiles() -> Vec<(&'static str, SettingsPatch)> {
    vec![
        (
            "ci",
            SettingsPatch {
                scale: Some(0.1),
                sample_interval: Some(Duration::from_millis(20)),
                ..SettingsPatch::default()
            },
        ),
        (
            "soak",
            SettingsPatch {
                scale: Some(10.0),
                timeout_factor: Some(20.0),
                duration: Some(Duration::from_secs(24 * 3600)),
                ..SettingsPatch::default()
            },
        ),
    ]
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// valgrind's memcheck, failing the suite (exit 97) on definite leaks and
/// writing its findings as XML, with the symbols of unloaded code kept (an
/// FFI such as koffi may close the library before valgrind reports, which
/// left its frames as bare addresses); heaptrack recording every allocation. A
/// wrapped suite starts its interpreter's real executable (not a pyenv or
/// nvm shim, which the tool would check instead).
pub(super) fn wrappers() -> Vec<Wrapper> {
    vec![
        Wrapper {
            name: "memcheck".into(),
            argv: strings(&[
                "valgrind",
                "--tool=memcheck",
                "--error-exitcode=97",
                "--leak-check=full",
                "--keep-debuginfo=yes",
                "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite",
                "--xml=yes",
                "--xml-file=${log_dir}/${suite}.memcheck.xml",
            ]),
            env: Vec::new(),
            preload: None,
            variant: None,
            findings: FindingsKind::ValgrindXml,
            output: "${log_dir}/${suite}.memcheck.xml".into(),
            timeout_factor: 30.0,
        },
        // heaptrack appends .zst (or .gz) to this name; heaptrack 1.4
        // (Debian 12) has no --record-only and records without analysing.
        Wrapper {
            name: "heaptrack".into(),
            argv: strings(&["heaptrack", "-o", "${log_dir}/${suite}.heaptrack"]),
            env: Vec::new(),
            preload: None,
            variant: None,
            findings: FindingsKind::Heaptrack,
            output: "${log_dir}/${suite}.heaptrack".into(),
            timeout_factor: 5.0,
        },
    ]
}

/// Rust suites are test executables (no program); node with `--expose-gc`
/// (the helpers' gc() needs it); python unbuffered, so lines reach memtest
/// as they are printed.
pub(super) fn runtimes() -> Vec<Runtime> {
    let runtime = |name: &str, kind, program: Option<&str>, flags: &[&str]| Runtime {
        name: name.into(),
        kind,
        program: program.map(str::to_string),
        flags: strings(flags),
        env: Vec::new(),
        setup: None,
        setup_unless: None,
    };
    let mut python = runtime("python", RuntimeKind::Python, Some("python3"), &["-u"]);
    python.env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    vec![
        runtime("rust", RuntimeKind::Rust, None, &[]),
        runtime("node", RuntimeKind::Node, Some("node"), &["--expose-gc"]),
        python,
    ]
}

/// The runtime a suite without `runtime` runs on, by its target: a `test`
/// is a rust test target, a `.js` script node's, a `.py` script python's.
pub(super) fn runtime_for(test: bool, script: Option<&str>) -> Option<&'static str> {
    if test {
        return Some("rust");
    }
    let ext = std::path::Path::new(script?).extension()?.to_str()?;
    match ext {
        "js" | "mjs" | "cjs" => Some("node"),
        "py" => Some("python"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_names_its_runtime_when_its_kind_is_plain() {
        assert_eq!(runtime_for(true, None), Some("rust"));
        assert_eq!(runtime_for(false, Some("suites/a.js")), Some("node"));
        assert_eq!(runtime_for(false, Some("suites/a.mjs")), Some("node"));
        assert_eq!(runtime_for(false, Some("t/test_memory.py")), Some("python"));
        assert_eq!(runtime_for(false, Some("t/test.rb")), None);
        assert_eq!(runtime_for(false, None), None);
        let names: Vec<String> = runtimes().into_iter().map(|r| r.name).collect();
        for name in ["rust", "node", "python"] {
            assert!(names.iter().any(|n| n == name), "{name} is built in");
        }
    }

    #[test]
    fn the_built_in_memcheck_writes_the_xml_it_reads() {
        // `memtest explain` relies on it for libraries with no tracker.
        let w = wrappers()
            .into_iter()
            .find(|w| w.name == "memcheck")
            .unwrap();
        assert!(w
            .argv
            .iter()
            .any(|a| a == &format!("--xml-file={}", w.output)));
        assert_eq!(w.findings, crate::model::FindingsKind::ValgrindXml);
    }
}
