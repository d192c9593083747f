//! The runner's stages import downward only: each top-level module of
//! runner/src may name (`crate::x`) only the modules below it in [`ORDER`],
//! and no two files of one folder import each other in a circle (through
//! `crate::…` or `super::…` paths). Read from the sources, outside test code
//! (everything from a file's first `#[cfg(test)]` on), so a new import that
//! reaches up a stage fails here with the file and the edge named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first: a module may import only modules that come before it.
const ORDER: &[&str] = &[
    "units", "model", "atomic", "floor", "process", "sample", "config", "build", "plan", "exec",
    "verdict", "history", "bisect", "report", "init", "cli", "app", "lib", "main",
];

fn sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
                out.push((path.strip_prefix(&root).unwrap().to_path_buf(), code));
            }
        }
    }
    out.sort();
    out
}

/// `a/b/mod.rs` -> ["a", "b"]; `a/c.rs` -> ["a", "c"].
fn module_path(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Every `prefix::a::b` path in `code`, as its segments (lowercase ones).
fn paths_after<'a>(code: &'a str, prefix: &'a str) -> impl Iterator<Item = Vec<String>> + 'a {
    code.match_indices(prefix).filter_map(move |(i, _)| {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            return None;
        }
        let rest = &code[i + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let segs: Vec<String> = rest[..end]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        (!segs.is_empty()).then_some(segs)
    })
}

#[test]
fn stages_import_only_downward() {
    let rank = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut wrong = Vec::new();
    for (file, code) in sources() {
        let me = module_path(&file)[0].clone();
        let my_rank = rank(&me).unwrap_or_else(|| panic!("{me} is not in ORDER: place it"));
        for path in paths_after(&code, "crate::") {
            let Some(their_rank) = rank(&path[0]) else {
                continue;
            };
            if path[0] != me && their_rank > my_rank {
                wrong.push(format!(
                    "{} imports crate::{}",
                    file.display(),
                    path.join("::")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports reaching up a stage:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_files_of_one_folder_import_each_other_in_a_circle() {
    let files = sources();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(f, _)| module_path(f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (file, code) in &files {
        let me = module_path(file);
        let is_dir_mod = file.file_name().is_some_and(|n| n == "mod.rs");
        // What `super::` names from this file.
        let parent: Vec<String> = if is_dir_mod {
            me[..me.len().saturating_sub(1)].to_vec()
        } else {
            me[..me.len() - 1].to_vec()
        };
        let refs = paths_after(code, "crate::")
            .chain(paths_after(code, "super::").map(|p| [parent.clone(), p].concat()));
        for path in refs {
            // The longest prefix that is a file module.
            let target = (1..=path.len())
                .rev()
                .map(|k| path[..k].to_vec())
                .find(|p| modules.contains(p));
            if let Some(t) = target {
                let siblings = t.len() == me.len() && t[..t.len() - 1] == me[..me.len() - 1];
                if t != me && siblings {
                    edges.entry(me.clone()).or_default().insert(t);
                }
            }
        }
    }
    // A circle exists if some module reaches itself.
    let mut circles = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Vec<String>> = edges[start].iter().collect();
        while let Some(m) = todo.pop() {
            if m == start {
                circles.push(start.join("/"));
                break;
            }
            if seen.insert(m.clone()) {
                todo.extend(edges.get(m).into_iter().flatten());
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files in a circle of imports: {circles:?}"
    );
}

#[test]
fn the_checks_see_a_planted_upward_import_and_a_circle() {
    // The parsers the two tests rely on, on planted text.
    let up = "use crate::report::console;\nfn f() { crate::app::run(); }";
    let found: Vec<Vec<String>> = paths_after(up, "crate::").collect();
    assert_eq!(found[0], ["report", "console"]);
    assert_eq!(found[1], ["app", "run"]);
    assert_eq!(
        paths_after("use super::{a, b}; x::super::c", "super::").count(),
        0,
        "a brace group and a non-leading super are not single paths"
    );
    assert_eq!(
        module_path(Path::new("exec/findings/mod.rs")),
        ["exec", "findings"]
    );
    assert_eq!(module_path(Path::new("exec/suite.rs")), ["exec", "suite"]);
}
