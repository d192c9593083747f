//! Setup: each runtime's one-time preparation (e.g. `npm ci` for the Node
//! binding), run only when a selected suite needs that runtime and its
//! `setup_unless` path does not exist yet. Output goes to a log file, not the
//! terminal; a failure shows the log's tail.

use super::command::{self, CommandError, LoggedCommand};
use crate::config::interpolate;
use crate::config::{Config, Runtime, Suite};
use crate::process::Interrupt;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("setup of runtime `{runtime}`")]
pub struct SetupError {
    pub runtime: String,
    #[source]
    pub source: CommandError,
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

/// `runtime`'s setup as it will run: interpolated, in the config root,
/// output to `.memtest/logs/setup-<runtime>.log`.
pub fn command(config: &Config, runtime: &Runtime) -> Option<LoggedCommand> {
    let setup = runtime.setup.as_ref()?;
    let (root, fixtures) = config.root_and_fixtures_text();
    let vars = [("root", root.as_str()), ("fixtures", fixtures.as_str())];
    Some(LoggedCommand {
        argv: setup.iter().map(|a| interpolate(a, &vars)).collect(),
        env: Vec::new(),
        cwd: config.root.clone(),
        log: config.log_dir().join(format!("setup-{}.log", runtime.name)),
    })
}

/// Runs `runtime`'s setup (see [`command`]); returns the log's path. Like
/// cargo, it runs in its own process group and is stopped on `interrupt`.
pub fn run(
    config: &Config,
    runtime: &Runtime,
    interrupt: &Interrupt,
    grace: Duration,
) -> Result<PathBuf, SetupError> {
    let Some(cmd) = command(config, runtime) else {
        return Ok(PathBuf::new());
    };
    command::run(&cmd, interrupt, grace).map_err(|source| SetupError {
        runtime: runtime.name.clone(),
        source,
    })?;
    Ok(cmd.log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use std::path::Path;

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
            matches!(
                err,
                Err(SetupError {
                    source: CommandError::Interrupted { .. },
                    ..
                })
            ),
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
        let CommandError::Failed { tail, status, .. } = &err.source else {
            panic!("{err}")
        };
        assert_eq!(tail, "npm ERR! no network");
        assert!(status.contains('3'), "{status}");
    }
}
