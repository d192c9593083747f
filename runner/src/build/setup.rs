//! Setup: each runtime's one-time preparation (e.g. `npm ci` for the Node
//! binding), run only when a selected suite needs that runtime and its
//! `setup_unless` path does not exist yet. Output goes to a log file, not the
//! terminal; a failure shows the log's tail.

use crate::config::{Config, Runtime, Suite};
use crate::exec::interrupt::{self, Interrupt};
use crate::plan::interpolate;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Lines of the setup log shown when it fails.
const TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot write the setup log {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run setup of runtime `{runtime}` (`{command}`)")]
    Spawn {
        runtime: String,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("setup of runtime `{runtime}` stopped: interrupted (`{command}`)")]
    Interrupted { runtime: String, command: String },
    #[error("setup of runtime `{runtime}` failed ({status}): `{command}`\nlast lines of {}:\n{tail}", log.display())]
    Failed {
        runtime: String,
        command: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
}

/// The runtimes of `suites` whose setup must run now, in name order.
pub fn pending<'c>(config: &'c Config, suites: &[&Suite]) -> Vec<&'c Runtime> {
    let mut out: Vec<&Runtime> = Vec::new();
    for suite in suites {
        let runtime = config.runtime_of(suite);
        let done = runtime.setup_unless.as_ref().is_some_and(|p| p.exists());
        if runtime.setup.is_some() && !done && !out.iter().any(|r| r.name == runtime.name) {
            out.push(runtime);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Runs `runtime`'s setup command in the config root, output to
/// `.memtest/logs/setup-<runtime>.log`; returns the log's path. Like cargo,
/// it runs in its own process group and is stopped on `interrupt`.
pub fn run(
    config: &Config,
    runtime: &Runtime,
    interrupt: &Interrupt,
    grace: Duration,
) -> Result<PathBuf, SetupError> {
    let Some(setup) = &runtime.setup else {
        return Ok(PathBuf::new());
    };
    let root = config.root.display().to_string();
    let fixtures = config.fixtures.dir.display().to_string();
    let vars = [("root", root.as_str()), ("fixtures", fixtures.as_str())];
    let argv: Vec<String> = setup.iter().map(|a| interpolate(a, &vars)).collect();
    let command = argv.join(" ");
    let log = config.log_dir().join(format!("setup-{}.log", runtime.name));
    let log_err = |source| SetupError::Log {
        path: log.clone(),
        source,
    };
    std::fs::create_dir_all(config.log_dir()).map_err(log_err)?;
    let out = File::create(&log).map_err(log_err)?;
    let err = out.try_clone().map_err(log_err)?;
    let spawn_err = |source| SetupError::Spawn {
        runtime: runtime.name.clone(),
        command: command.clone(),
        source,
    };
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(&config.root)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(spawn_err)?;
    let status =
        interrupt::wait_or_stop(&mut child, interrupt, libc::SIGINT, grace).map_err(spawn_err)?;
    let Some(status) = status else {
        return Err(SetupError::Interrupted {
            runtime: runtime.name.clone(),
            command,
        });
    };
    if !status.success() {
        return Err(SetupError::Failed {
            runtime: runtime.name.clone(),
            command,
            status: status.to_string(),
            tail: tail(&log, TAIL_LINES),
            log,
        });
    }
    Ok(log)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn config(dir: &Path, setup: &str) -> Config {
        std::fs::write(dir.join("a.py"), "").unwrap();
        let text = format!(
            "[build]\npackage = \"p\"\nlib = \"p\"\nlib_env = \"L\"\n\
             [runtimes.python]\nkind = \"python\"\nprogram = \"python3\"\n\
             setup = {setup}\nsetup_unless = \"ready\"\n\
             [[suite]]\nname = \"a\"\nruntime = \"python\"\nscript = \"a.py\"\n\
             [[suite]]\nname = \"b\"\nruntime = \"python\"\nscript = \"a.py\"\n"
        );
        config::parse(&text, &dir.join("memtest.toml"), dir).unwrap()
    }

    #[test]
    fn setup_runs_once_logs_and_is_skipped_when_its_marker_exists() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(
            dir.path(),
            r#"["sh", "-c", "echo hello from ${root}; touch ready"]"#,
        );
        let suites: Vec<&Suite> = c.suites.iter().collect();
        let todo = pending(&c, &suites);
        assert_eq!(todo.len(), 1, "one runtime, however many suites");
        let (_trigger, never) = Interrupt::manual();
        let log = run(&c, todo[0], &never, Duration::ZERO).unwrap();
        assert_eq!(log, dir.path().join(".memtest/logs/setup-python.log"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text.trim(), format!("hello from {}", dir.path().display()));
        assert!(pending(&c, &suites).is_empty(), "setup_unless now exists");
    }

    #[test]
    fn an_interrupt_stops_a_running_setup() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), r#"["sh", "-c", "sleep 30"]"#);
        let suites: Vec<&Suite> = c.suites.iter().collect();
        let (trigger, interrupt) = Interrupt::manual();
        let fire = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            trigger.fire();
        });
        let started = std::time::Instant::now();
        let err = run(
            &c,
            pending(&c, &suites)[0],
            &interrupt,
            Duration::from_secs(2),
        );
        fire.join().unwrap();
        assert!(
            matches!(err, Err(SetupError::Interrupted { .. })),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_failing_setup_shows_its_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(
            dir.path(),
            r#"["sh", "-c", "echo npm ERR! no network >&2; exit 3"]"#,
        );
        let suites: Vec<&Suite> = c.suites.iter().collect();
        let (_trigger, never) = Interrupt::manual();
        let err = run(&c, pending(&c, &suites)[0], &never, Duration::ZERO).unwrap_err();
        let SetupError::Failed { tail, status, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(tail, "npm ERR! no network");
        assert!(status.contains('3'), "{status}");
    }
}
