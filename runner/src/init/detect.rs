//! What kind of project `memtest init` runs in, read from the files it
//! already has. Best effort throughout: a file that cannot be read or parsed
//! is a file not found, and a library name that cannot be worked out is left
//! `None` for the renderer to mark with a TODO. Nothing here writes.

use std::path::{Path, PathBuf};

/// How the library is built, as far as the project's files tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildKind {
    /// A cargo package whose `[lib] crate-type` has "cdylib".
    Cargo {
        package: String,
        lib: String,
        /// Folder of its Cargo.toml, relative to the project ("" = root).
        dir: String,
        /// An existing feature whose name says "leak", for the leaky variant.
        leak_feature: Option<String>,
    },
    Zig {
        lib: Option<String>,
    },
    CMake {
        lib: Option<String>,
    },
    Make {
        lib: Option<String>,
        /// The Makefile mentions a BUILD variable (so BUILD=dir may work).
        honours_build: bool,
    },
}

impl BuildKind {
    pub fn lib(&self) -> Option<&str> {
        match self {
            BuildKind::Cargo { lib, .. } => Some(lib),
            BuildKind::Zig { lib } | BuildKind::CMake { lib } | BuildKind::Make { lib, .. } => {
                lib.as_deref()
            }
        }
    }

    fn file(&self) -> &'static str {
        match self {
            BuildKind::Cargo { .. } => "Cargo.toml",
            BuildKind::Zig { .. } => "build.zig",
            BuildKind::CMake { .. } => "CMakeLists.txt",
            BuildKind::Make { .. } => "Makefile",
        }
    }
}

/// A language binding found in the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Folder of its manifest, relative to the project ("" = root).
    pub dir: String,
    /// The manifest: package.json, pyproject.toml or setup.py.
    pub manifest: &'static str,
    /// Its package name, when the manifest says.
    pub name: Option<String>,
    /// package.json depends on koffi (a C FFI the starter can use).
    pub koffi: bool,
    /// A package-lock.json sits next to package.json (`npm ci` works).
    pub lockfile: bool,
    /// A Python package in a src/ layout (importable from `<dir>/src`).
    pub src_layout: bool,
}

/// Everything `memtest init` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// The build memtest.toml uses (the first found of cargo cdylib,
    /// build.zig, CMakeLists.txt, Makefile).
    pub build: Option<BuildKind>,
    /// Other build files found at the root, not used.
    pub other_builds: Vec<&'static str>,
    pub node: Option<Binding>,
    pub python: Option<Binding>,
}

impl Project {
    /// One line per finding, for the command's answer.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.build {
            Some(BuildKind::Cargo {
                package, lib, dir, ..
            }) => lines.push(format!(
                "build: cargo package `{package}` ({}) with a cdylib `{lib}`",
                join(dir, "Cargo.toml")
            )),
            Some(b) => lines.push(format!(
                "build: {} (library `{}`)",
                b.file(),
                b.lib().unwrap_or("? (not found: a TODO in memtest.toml)")
            )),
            None => lines.push("build: none found (suites test what is installed)".into()),
        }
        if !self.other_builds.is_empty() {
            lines.push(format!(
                "also found, not used: {}",
                self.other_builds.join(", ")
            ));
        }
        for (runtime, binding) in [("node", &self.node), ("python", &self.python)] {
            if let Some(b) = binding {
                lines.push(format!(
                    "{runtime} binding: {}{}",
                    join(&b.dir, b.manifest),
                    b.name
                        .as_ref()
                        .map(|n| format!(" (package `{n}`)"))
                        .unwrap_or_default()
                ));
            }
        }
        if self.node.is_none() && self.python.is_none() {
            lines.push("bindings: none found (a Python ctypes suite calls the C ABI)".into());
        }
        lines
    }
}

/// `dir/file`, or `file` for the root.
pub fn join(dir: &str, file: &str) -> String {
    if dir.is_empty() {
        file.to_string()
    } else {
        format!("{dir}/{file}")
    }
}

/// Reads the project in `root`.
pub fn detect(root: &Path) -> Project {
    let mut builds: Vec<BuildKind> = Vec::new();
    let mut found: Vec<&'static str> = Vec::new();
    if let Some(cargo) = cargo(root) {
        builds.push(cargo);
    }
    if let Some(text) = read(&root.join("build.zig")) {
        found.push("build.zig");
        builds.push(BuildKind::Zig {
            lib: zig_lib(&text),
        });
    }
    if let Some(text) = read(&root.join("CMakeLists.txt")) {
        found.push("CMakeLists.txt");
        builds.push(BuildKind::CMake {
            lib: cmake_lib(&text),
        });
    }
    let makefile = ["GNUmakefile", "Makefile", "makefile"]
        .iter()
        .find_map(|name| read(&root.join(name)));
    if let Some(text) = makefile {
        found.push("Makefile");
        builds.push(BuildKind::Make {
            lib: make_lib(&text),
            honours_build: text.contains("$(BUILD)") || text.contains("${BUILD}"),
        });
    }
    let build = builds.into_iter().next();
    let used = build.as_ref().map(BuildKind::file);
    let other_builds = found.into_iter().filter(|f| Some(*f) != used).collect();

    let node = find_manifest(root, &["package.json"]).map(|(dir, manifest)| {
        let json: Option<serde_json::Value> =
            read(&root.join(&dir).join(manifest)).and_then(|text| serde_json::from_str(&text).ok());
        let has_dep = |key: &str| json.as_ref().is_some_and(|j| j[key]["koffi"].is_string());
        Binding {
            name: json
                .as_ref()
                .and_then(|j| j["name"].as_str())
                .map(str::to_string),
            koffi: has_dep("dependencies") || has_dep("devDependencies"),
            lockfile: root.join(&dir).join("package-lock.json").is_file(),
            src_layout: false,
            dir,
            manifest,
        }
    });
    let python = find_manifest(root, &["pyproject.toml", "setup.py"]).map(|(dir, manifest)| {
        let name = (manifest == "pyproject.toml")
            .then(|| read_toml(&root.join(&dir).join(manifest)))
            .flatten()
            .and_then(|t| {
                let project = t.get("project").and_then(|p| p.get("name"));
                let poetry = t
                    .get("tool")
                    .and_then(|t| t.get("poetry"))
                    .and_then(|p| p.get("name"));
                project.or(poetry)?.as_str().map(str::to_string)
            });
        Binding {
            src_layout: root.join(&dir).join("src").is_dir(),
            dir,
            manifest,
            name,
            koffi: false,
            lockfile: false,
        }
    });
    Project {
        build,
        other_builds,
        node,
        python,
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn read_toml(path: &Path) -> Option<toml::Table> {
    read(path)?.parse().ok()
}

/// The first cdylib package: the root's own, else a workspace member's
/// (one level of `dir/*` globs expanded).
fn cargo(root: &Path) -> Option<BuildKind> {
    let manifest = read_toml(&root.join("Cargo.toml"))?;
    if let Some(found) = cdylib(&manifest, "") {
        return Some(found);
    }
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())?;
    let mut dirs: Vec<String> = Vec::new();
    for member in members.iter().filter_map(|m| m.as_str()) {
        match member.strip_suffix("/*") {
            Some(parent) => dirs.extend(subdirs(&root.join(parent)).into_iter().map(|d| {
                format!(
                    "{parent}/{}",
                    d.file_name().unwrap_or_default().to_string_lossy()
                )
            })),
            None => dirs.push(member.trim_end_matches('/').to_string()),
        }
    }
    dirs.iter().find_map(|dir| {
        let member = read_toml(&root.join(dir).join("Cargo.toml"))?;
        cdylib(&member, dir)
    })
}

fn cdylib(manifest: &toml::Table, dir: &str) -> Option<BuildKind> {
    let lib = manifest.get("lib")?;
    let types = lib.get("crate-type")?.as_array()?;
    if !types.iter().any(|t| t.as_str() == Some("cdylib")) {
        return None;
    }
    let package = manifest.get("package")?.get("name")?.as_str()?.to_string();
    // Cargo names the file after [lib] name, else the package with '-' -> '_'.
    let lib = lib
        .get("name")
        .and_then(|n| n.as_str())
        .map_or_else(|| package.replace('-', "_"), str::to_string);
    let leak_feature = manifest
        .get("features")
        .and_then(|f| f.as_table())
        .and_then(|f| f.keys().find(|k| k.contains("leak")).cloned());
    Some(BuildKind::Cargo {
        package,
        lib,
        dir: dir.to_string(),
        leak_feature,
    })
}

/// `b.addLibrary(.{ ... .name = "x" ... })` or `addSharedLibrary`.
fn zig_lib(text: &str) -> Option<String> {
    ["addLibrary(", "addSharedLibrary("]
        .iter()
        .find_map(|call| {
            let at = text.find(call)?;
            let args = &text[at..];
            let args = &args[..args.find(");").unwrap_or(args.len())];
            let name = args.find(".name")?;
            quoted(&args[name..])
        })
}

/// The first string literal in `text`.
fn quoted(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_string()).filter(|s| !s.is_empty())
}

/// `add_library(name SHARED ...)` (or MODULE), case-insensitive.
fn cmake_lib(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("add_library(") {
        let start = from + at + "add_library(".len();
        from = start;
        let args = &text[start..];
        let args = &args[..args.find(')').unwrap_or(args.len())];
        let mut words = args.split_whitespace();
        let Some(name) = words.next() else { continue };
        if words.any(|w| matches!(w.to_ascii_uppercase().as_str(), "SHARED" | "MODULE")) {
            // The common variable is resolvable; any other is CMake's to know.
            if name == "${PROJECT_NAME}" {
                return cmake_project(text);
            }
            return Some(name.to_string()).filter(|n| plain_name(n));
        }
    }
    None
}

/// `project(name ...)`.
fn cmake_project(text: &str) -> Option<String> {
    let at = text.to_ascii_lowercase().find("project(")? + "project(".len();
    let name = text[at..]
        .split(|c: char| c.is_whitespace() || c == ')')
        .next()?;
    Some(name.to_string()).filter(|n| plain_name(n))
}

/// A library name memtest can put in `lib`: no variables, quotes or paths.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
}

/// The first `lib<name>.so` / `lib<name>.dylib` a Makefile names.
fn make_lib(text: &str) -> Option<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut from = 0;
    while let Some(at) = text[from..].find("lib") {
        let start = from + at;
        from = start + 3;
        if text[..start].chars().next_back().is_some_and(is_name) {
            continue; // "glib", "mylib": not a "lib" prefix
        }
        let rest = &text[start + 3..];
        let len = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
        let after = &rest[len..];
        if len > 0 && (after.starts_with(".so") || after.starts_with(".dylib")) {
            return Some(rest[..len].to_string());
        }
    }
    None
}

/// Folders never searched for bindings: tools' state, outputs, dependencies,
/// and examples (whose manifests are not the project's binding).
const SKIP: &[&str] = &[
    "node_modules",
    "target",
    "build",
    "dist",
    "memtest",
    "examples",
    "venv",
];

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            !name.starts_with('.') && !SKIP.contains(&name.as_ref())
        })
        .collect();
    dirs.sort();
    dirs
}

/// The shallowest folder (root, then one level, then two; by name within a
/// level) holding one of `files`: (folder relative to root, file).
fn find_manifest(root: &Path, files: &[&'static str]) -> Option<(String, &'static str)> {
    let mut level = vec![root.to_path_buf()];
    for _ in 0..3 {
        for dir in &level {
            if let Some(file) = files.iter().find(|f| dir.join(f).is_file()) {
                let rel = dir.strip_prefix(root).unwrap_or(dir);
                return Some((rel.to_string_lossy().replace('\\', "/"), file));
            }
        }
        level = level.iter().flat_map(|d| subdirs(d)).collect();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_come_from_each_build_file() {
        let zig = "const lib = b.addLibrary(.{\n .linkage = .dynamic,\n .name = \"zfreq\",\n .root_module = mod });";
        assert_eq!(zig_lib(zig).as_deref(), Some("zfreq"));
        let old = "const lib = b.addSharedLibrary(.{ .name = \"old\", .target = t });";
        assert_eq!(zig_lib(old).as_deref(), Some("old"));
        let cmake = "add_library(util STATIC u.c)\nADD_LIBRARY(ctiny SHARED src/a.c)\n";
        assert_eq!(cmake_lib(cmake).as_deref(), Some("ctiny"));
        assert_eq!(cmake_lib("add_library(util STATIC u.c)"), None);
        let named = "project(blur C)\nadd_library(${PROJECT_NAME} SHARED b.c)";
        assert_eq!(cmake_lib(named).as_deref(), Some("blur"));
        assert_eq!(cmake_lib("add_library(${LIB} SHARED b.c)"), None);
        let make = "LIBS = -lglib\nLIB := $(BUILD)/libintern.so\n";
        assert_eq!(make_lib(make).as_deref(), Some("intern"));
        assert_eq!(make_lib("all:\n\tcc -o mylib.so x.c"), None);
    }

    #[test]
    fn a_workspace_member_with_a_cdylib_is_the_build() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("crates/plain")).unwrap();
        std::fs::create_dir_all(root.join("crates/ffi")).unwrap();
        std::fs::write(
            root.join("crates/plain/Cargo.toml"),
            "[package]\nname = \"plain\"\n",
        )
        .unwrap();
        std::fs::write(
            root.join("crates/ffi/Cargo.toml"),
            "[package]\nname = \"my-ffi\"\n[lib]\ncrate-type = [\"cdylib\"]\n\
             [features]\ncanary-leak = []\n",
        )
        .unwrap();
        assert_eq!(
            detect(root).build,
            Some(BuildKind::Cargo {
                package: "my-ffi".into(),
                lib: "my_ffi".into(),
                dir: "crates/ffi".into(),
                leak_feature: Some("canary-leak".into()),
            })
        );
    }

    #[test]
    fn bindings_are_found_at_the_shallowest_level_and_never_in_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["node_modules/x", "bindings/nodejs", "bindings/python/src"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("node_modules/x/package.json"), "{}").unwrap();
        std::fs::write(
            root.join("bindings/nodejs/package.json"),
            r#"{"name": "mylib", "dependencies": {"koffi": "^2"}}"#,
        )
        .unwrap();
        std::fs::write(
            root.join("bindings/python/pyproject.toml"),
            "[project]\nname = \"my-lib\"\n",
        )
        .unwrap();
        let project = detect(root);
        let node = project.node.unwrap();
        assert_eq!(
            (node.dir.as_str(), node.name.as_deref(), node.koffi),
            ("bindings/nodejs", Some("mylib"), true)
        );
        let python = project.python.unwrap();
        assert_eq!(
            (python.dir.as_str(), python.name.as_deref()),
            ("bindings/python", Some("my-lib"))
        );
        assert_eq!(project.build, None);
    }
}
