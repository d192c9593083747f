//! Fixtures: the folder of inputs every suite reads through
//! `MEMTEST_FIXTURES` (or the `[fixtures] env` name). The project says how the
//! folder is filled: `[fixtures] command` is its own generator (a program
//! that writes test images, documents, a corpus), run like every build-stage
//! child (a process group of its own, output to a log, stopped on interrupt).
//!
//! The output is cached: after a successful run a stamp in the folder
//! ([`STAMP`]) records a hash of the command and of the contents of the
//! declared `inputs`, and the files the command left with their sizes. The
//! next run reuses the folder when the hash is the same and every file is
//! still there at its size, and runs the command again otherwise. Without a
//! command the folder is used as it is.

use super::command::{self, CommandError, LoggedCommand};
use crate::config::interpolate;
use crate::config::{Config, Fixtures};
use crate::process::Interrupt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use walkdir::WalkDir;

/// The file in the fixture folder that records what made it.
pub const STAMP: &str = ".memtest-fixtures.json";

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read the fixture input {}", path.display())]
    Input {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the fixture generator failed")]
    Generator(#[source] CommandError),
    #[error("no fixture folder at {}, and [fixtures] has no `command` to make one", dir.display())]
    NoFolder { dir: PathBuf },
    #[error("`{command}` finished, but left no folder at {} (the `dir` of [fixtures])", dir.display())]
    NotMade { command: String, dir: PathBuf },
    #[error("cannot list the fixture folder {}", dir.display())]
    List {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}", path.display())]
    Stamp {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What the stamp holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// [`key`] of the run that made the folder.
    pub key: String,
    /// Every file the generator left (paths relative to the folder, `/`
    /// separated), by name.
    pub files: Vec<StampEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StampEntry {
    pub name: String,
    pub size_bytes: u64,
}

/// How [`ensure`] found the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The generator ran now.
    Generated,
    /// The stamp matched: the generator did not run.
    Cached,
    /// No generator: the folder as the project keeps it.
    Given,
}

impl Freshness {
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Generated => "generated",
            Freshness::Cached => "cached",
            Freshness::Given => "as given",
        }
    }
}

/// The result of [`ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureSet {
    pub dir: PathBuf,
    pub freshness: Freshness,
    /// Files in the folder (the stamp aside).
    pub files: usize,
}

/// The generator as it runs: interpolated (`${root}`, `${fixtures}`), the
/// folder also in its environment under the suites' variable, output to
/// `.memtest/logs/fixtures.log`. `None` without a `command`.
pub fn command(config: &Config, fx: &Fixtures) -> Option<LoggedCommand> {
    let template = fx.command.as_ref()?;
    let (root, fixtures) = config.root_and_fixtures_text();
    let vars = [("root", root.as_str()), ("fixtures", fixtures.as_str())];
    Some(LoggedCommand {
        argv: template.iter().map(|a| interpolate(a, &vars)).collect(),
        env: vec![(fx.env.clone(), fixtures.clone())],
        cwd: fx.cwd.clone(),
        log: config.log_dir().join("fixtures.log"),
    })
}

/// Makes sure `fx.dir` holds what the generator makes: reused when the stamp
/// matches [`key`] and every stamped file is intact, else regenerated. On
/// `interrupt` the running generator is stopped (SIGKILL after `grace`).
pub fn ensure(
    config: &Config,
    fx: &Fixtures,
    interrupt: &Interrupt,
    grace: Duration,
) -> Result<FixtureSet, FixtureError> {
    let set = |freshness, files| FixtureSet {
        dir: fx.dir.clone(),
        freshness,
        files,
    };
    let Some(cmd) = command(config, fx) else {
        if !fx.dir.is_dir() {
            return Err(FixtureError::NoFolder {
                dir: fx.dir.clone(),
            });
        }
        return Ok(set(Freshness::Given, files_in(&fx.dir)?.len()));
    };
    let key = key(&cmd, &fx.inputs, &fx.dir)?;
    if let Some(stamp) = cached(&fx.dir, &key) {
        return Ok(set(Freshness::Cached, stamp.files.len()));
    }
    // Gone before the generator starts: an interrupted or failed run leaves
    // no stamp, so the next run regenerates.
    let stamp_path = fx.dir.join(STAMP);
    match fs::remove_file(&stamp_path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(FixtureError::Stamp {
                path: stamp_path,
                source: e,
            })
        }
        _ => {}
    }
    command::run(&cmd, interrupt, grace).map_err(FixtureError::Generator)?;
    if !fx.dir.is_dir() {
        return Err(FixtureError::NotMade {
            command: cmd.display(),
            dir: fx.dir.clone(),
        });
    }
    let stamp = Stamp {
        key,
        files: files_in(&fx.dir)?,
    };
    let text = serde_json::to_string_pretty(&stamp).expect("the stamp serialises");
    crate::atomic::write_atomic(&stamp_path, text.as_bytes()).map_err(|source| {
        FixtureError::Stamp {
            path: stamp_path,
            source,
        }
    })?;
    Ok(set(Freshness::Generated, stamp.files.len()))
}

/// The cache key: SHA-256 over the command (argv, environment, folder) and
/// every input's contents (a folder's files in name order, each with its
/// path). Anything under the fixture folder itself is left out, so an input
/// that contains it does not change with every generation.
pub fn key(
    cmd: &LoggedCommand,
    inputs: &[PathBuf],
    out_dir: &Path,
) -> Result<String, FixtureError> {
    // Length-prefixed, so ["a b"] and ["a", "b"] differ.
    fn field(h: &mut Sha256, bytes: &[u8]) {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let mut h = Sha256::new();
    field(&mut h, b"memtest fixtures key 1");
    for arg in &cmd.argv {
        field(&mut h, arg.as_bytes());
    }
    for (name, value) in &cmd.env {
        field(&mut h, name.as_bytes());
        field(&mut h, value.as_bytes());
    }
    field(&mut h, cmd.cwd.as_os_str().as_encoded_bytes());
    for input in inputs {
        field(&mut h, input.as_os_str().as_encoded_bytes());
        let walk = WalkDir::new(input)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !e.path().starts_with(out_dir));
        for entry in walk {
            let entry = entry.map_err(|e| FixtureError::Input {
                path: e.path().unwrap_or(input).to_path_buf(),
                source: e.into(),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            let input_err = |source| FixtureError::Input {
                path: path.to_path_buf(),
                source,
            };
            let relative = path.strip_prefix(input).unwrap_or(path);
            field(&mut h, relative.as_os_str().as_encoded_bytes());
            let mut file = fs::File::open(path).map_err(input_err)?;
            let len = io::copy(&mut file, &mut h).map_err(input_err)?;
            h.update(len.to_le_bytes());
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The stamp of `dir` when it carries `key` and every file it names is
/// still there at its recorded size.
fn cached(dir: &Path, key: &str) -> Option<Stamp> {
    let text = fs::read_to_string(dir.join(STAMP)).ok()?;
    let stamp: Stamp = serde_json::from_str(&text).ok()?;
    if stamp.key != key {
        return None;
    }
    let intact = stamp.files.iter().all(|entry| {
        fs::metadata(dir.join(&entry.name)).is_ok_and(|meta| meta.len() == entry.size_bytes)
    });
    intact.then_some(stamp)
}

/// Every file under `dir` but the stamp, by name, with its size.
fn files_in(dir: &Path) -> Result<Vec<StampEntry>, FixtureError> {
    let list_err = |source| FixtureError::List {
        dir: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| list_err(e.into()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        if relative == Path::new(STAMP) {
            continue;
        }
        let meta = entry.metadata().map_err(|e| list_err(e.into()))?;
        let name: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        files.push(StampEntry {
            name: name.join("/"),
            size_bytes: meta.len(),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    /// A project whose generator writes two files and counts its own runs
    /// in `runs` (outside the fixture folder), with `gen.txt` as its input.
    fn project(dir: &Path, command: &str) -> Config {
        fs::create_dir_all(dir.join("gen")).unwrap();
        fs::write(dir.join("gen/gen.txt"), "seed 1").unwrap();
        let text = format!(
            "[fixtures]\ndir = \"out/fx\"\nenv = \"FX\"\ncommand = {command}\ninputs = [\"gen\"]\n"
        );
        config::parse(&text, &dir.join("memtest.toml"), dir).unwrap()
    }

    const COUNTING: &str = r#"["sh", "-c", "echo run >> ${root}/runs; mkdir -p ${fixtures}/sub; cat gen/gen.txt > ${fixtures}/a.bin; echo $FX > ${fixtures}/sub/b.txt"]"#;

    fn runs(dir: &Path) -> usize {
        fs::read_to_string(dir.join("runs"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn ensure_now(c: &Config) -> Result<FixtureSet, FixtureError> {
        let (_trigger, never) = Interrupt::manual();
        ensure(c, c.fixtures.as_ref().unwrap(), &never, Duration::ZERO)
    }

    #[test]
    fn the_same_command_and_inputs_reuse_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let c = project(dir.path(), COUNTING);
        let first = ensure_now(&c).unwrap();
        assert_eq!((first.freshness, first.files), (Freshness::Generated, 2));
        let fx = dir.path().join("out/fx");
        assert_eq!(fs::read_to_string(fx.join("a.bin")).unwrap(), "seed 1");
        assert_eq!(
            fs::read_to_string(fx.join("sub/b.txt")).unwrap().trim(),
            fx.display().to_string(),
            "the generator gets the folder in the suites' variable"
        );
        let second = ensure_now(&c).unwrap();
        assert_eq!((second.freshness, second.files), (Freshness::Cached, 2));
        assert_eq!(runs(dir.path()), 1, "the second run did not regenerate");
        let stamp: Stamp =
            serde_json::from_str(&fs::read_to_string(fx.join(STAMP)).unwrap()).unwrap();
        let names: Vec<&str> = stamp.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.bin", "sub/b.txt"]);
    }

    #[test]
    fn a_changed_input_command_or_file_regenerates() {
        let dir = tempfile::tempdir().unwrap();
        let c = project(dir.path(), COUNTING);
        ensure_now(&c).unwrap();

        fs::write(dir.path().join("gen/gen.txt"), "seed 2").unwrap();
        assert_eq!(ensure_now(&c).unwrap().freshness, Freshness::Generated);
        assert_eq!(
            fs::read_to_string(dir.path().join("out/fx/a.bin")).unwrap(),
            "seed 2"
        );
        assert_eq!(ensure_now(&c).unwrap().freshness, Freshness::Cached);

        fs::write(dir.path().join("gen/new.txt"), "").unwrap();
        assert_eq!(
            ensure_now(&c).unwrap().freshness,
            Freshness::Generated,
            "a new file in an input folder"
        );

        fs::remove_file(dir.path().join("out/fx/sub/b.txt")).unwrap();
        assert_eq!(
            ensure_now(&c).unwrap().freshness,
            Freshness::Generated,
            "a generated file went missing"
        );

        let other = project(dir.path(), &COUNTING.replace("run >>", "again >>"));
        assert_eq!(
            ensure_now(&other).unwrap().freshness,
            Freshness::Generated,
            "another command"
        );
        assert_eq!(runs(dir.path()), 5);
    }

    #[test]
    fn the_key_follows_contents_not_the_fixture_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("in/out")).unwrap();
        fs::write(root.join("in/a"), "1").unwrap();
        let cmd = LoggedCommand {
            argv: vec!["gen".into(), "x".into()],
            env: Vec::new(),
            cwd: root.to_path_buf(),
            log: root.join("log"),
        };
        let inputs = [root.join("in")];
        let out = root.join("in/out");
        let k = |cmd: &LoggedCommand| key(cmd, &inputs, &out).unwrap();
        let before = k(&cmd);
        assert_eq!(before, k(&cmd), "the same key every time");
        fs::write(out.join("generated.png"), "x").unwrap();
        assert_eq!(
            before,
            k(&cmd),
            "the output folder inside an input is left out"
        );
        fs::write(root.join("in/a"), "2").unwrap();
        let changed = k(&cmd);
        assert_ne!(before, changed, "contents count");
        let joined = LoggedCommand {
            argv: vec!["gen x".into()],
            ..cmd.clone()
        };
        assert_ne!(changed, k(&joined), "arguments are not just concatenated");
        let missing = key(&cmd, &[root.join("nope")], &out).unwrap_err();
        assert!(matches!(missing, FixtureError::Input { .. }), "{missing}");
    }

    #[test]
    fn a_failing_generator_shows_its_stderr_and_leaves_no_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let c = project(
            dir.path(),
            r#"["sh", "-c", "mkdir -p ${fixtures}; echo cannot encode tiny.png >&2; exit 4"]"#,
        );
        let err = ensure_now(&c).unwrap_err();
        let FixtureError::Generator(CommandError::Failed { tail, status, .. }) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(tail, "cannot encode tiny.png");
        assert!(status.contains('4'), "{status}");
        assert!(!dir.path().join("out/fx").join(STAMP).exists());
    }

    #[test]
    fn an_interrupt_stops_a_running_generator() {
        let dir = tempfile::tempdir().unwrap();
        let c = project(dir.path(), r#"["sh", "-c", "sleep 30"]"#);
        let (trigger, interrupt) = Interrupt::manual();
        let fire = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            trigger.fire();
        });
        let started = std::time::Instant::now();
        let fx = c.fixtures.as_ref().unwrap();
        let err = ensure(&c, fx, &interrupt, Duration::from_secs(2));
        fire.join().unwrap();
        assert!(
            matches!(
                err,
                Err(FixtureError::Generator(CommandError::Interrupted { .. }))
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_generator_that_makes_no_folder_or_no_generator_and_no_folder_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let c = project(dir.path(), r#"["true"]"#);
        let err = ensure_now(&c).unwrap_err();
        assert!(matches!(err, FixtureError::NotMade { .. }), "{err}");

        let given = config::parse(
            "[fixtures]\ndir = \"data\"\n",
            &dir.path().join("memtest.toml"),
            dir.path(),
        )
        .unwrap();
        let err = ensure_now(&given).unwrap_err();
        assert!(matches!(err, FixtureError::NoFolder { .. }), "{err}");
        fs::create_dir_all(dir.path().join("data")).unwrap();
        fs::write(dir.path().join("data/x"), "").unwrap();
        let set = ensure_now(&given).unwrap();
        assert_eq!((set.freshness, set.files), (Freshness::Given, 1));
        assert!(!dir.path().join("data").join(STAMP).exists());
    }
}
