//! Shared by the runner's integration tests: jobs built directly (not from
//! memtest.toml) around the python fixture children in tests/fixtures.

#![allow(dead_code)] // each test binary uses its own subset

use runner::exec::{ExecOptions, Judge};
use runner::model::{Event, Expect, Job, Limits, Outcome, RuntimeKind, WrapperRun};
use runner::units::{Bytes, BytesPerSec};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// A C program that allocates, frees and passes: what a memory tool must
/// find nothing in (the wrapper tests build it under valgrind and ASan).
pub const CLEAN_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *p = malloc(4096);
    memset(p, 1, 4096);
    free(p);
    puts("TEST PASSED");
    return 0;
}
"#;

/// The interpreters of the throw-away projects the tests write: Python
/// unbuffered, Node with `gc()`. A project's memtest.toml starts with it.
pub const INTERPRETERS: &str = r#"
[runtimes.python]
kind = "python"
program = "python3"
flags = ["-u"]

[runtimes.node]
kind = "node"
program = "node"
flags = ["--expose-gc"]
"#;

/// A run's stdout, then its stderr: what a person at the terminal saw.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The verdict stage as the executor's judge, without a baseline.
pub fn judge() -> Judge {
    std::sync::Arc::new(|job: &Job, measured| {
        runner::verdict::judge(job, measured, None, None, 0.1)
    })
}

/// Runs `jobs` through the executor, judged by [`judge`], until done or
/// until `interrupt` completes.
pub async fn run_jobs(
    jobs: Vec<Job>,
    opts: ExecOptions,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    interrupt: impl std::future::Future<Output = ()> + Send + 'static,
) -> Vec<Outcome> {
    runner::exec::run_jobs(jobs, opts, events, interrupt, judge()).await
}

/// The real python executable, asked once: a version manager's shim on PATH
/// (pyenv's is a bash script that runs pyenv) can take a second to start
/// python on a loaded machine, which would eat the timing tests' margins.
pub fn python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 runs");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

pub fn job(dir: &Path, suite: &str, argv: &[&str]) -> Job {
    Job {
        suite: suite.to_string(),
        runtime: RuntimeKind::Python,
        tags: vec![],
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: vec![("MEMTEST_FIXTURE_ENV".into(), "set".into())],
        cwd: dir.to_path_buf(),
        timeout: Duration::from_secs(30),
        grace: Duration::from_secs(1),
        sample_interval: Duration::from_millis(10),
        scale: 1.0,
        limits: Limits {
            rss_growth: Some(Bytes(16_000_000)),
            slope: Some(BytesPerSec(2e6)),
            ..Limits::default()
        },
        expect: Expect::Pass,
        catches: vec![],
        exclusive: false,
        threads: 1,
        log_path: dir.join("logs/nested").join(format!("{suite}.log")),
        wrapper: None,
        duration: None,
    }
}

pub fn python_job(dir: &Path, suite: &str, script: &str, args: &[&str]) -> Job {
    let path = fixture(script);
    let mut argv = vec![python(), "-u", path.as_str()];
    argv.extend_from_slice(args);
    job(dir, suite, &argv)
}

/// A job running `argv` under a wrapper whose findings land at
/// `wrapper.output_path`; default limits (the wrapper's findings judge it).
pub fn wrapped_job(
    dir: &Path,
    name: &str,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    wrapper: WrapperRun,
) -> Job {
    Job {
        suite: name.to_string(),
        runtime: RuntimeKind::Rust,
        tags: vec![],
        argv,
        env,
        cwd: dir.to_path_buf(),
        timeout: Duration::from_secs(120),
        grace: Duration::from_secs(1),
        sample_interval: Duration::from_millis(20),
        scale: 1.0,
        limits: Limits::default(),
        expect: Expect::Pass,
        catches: vec![],
        exclusive: false,
        threads: 1,
        log_path: dir.join(format!("{name}.log")),
        wrapper: Some(wrapper),
        duration: None,
    }
}

/// Runs `jobs` two at a time to their end, without watching events.
pub async fn run_quietly(jobs: Vec<Job>) -> Vec<Outcome> {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = ExecOptions {
        budget: runner::exec::Budget {
            slots: 2,
            memory_bytes: None,
        },
        forward_output: false,
        sampler: runner::sample::SamplerKind::default_for_platform(),
    };
    run_jobs(jobs, opts, tx, std::future::pending()).await
}

/// The real `memtest` binary run in `cwd`, colour off, its output captured.
pub fn memtest(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memtest"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("memtest runs")
}

/// A process still running after memtest exited, and how it got away from
/// the suite that started it.
#[derive(Debug)]
pub struct Leftover {
    pub pid: u32,
    pub cmdline: String,
    /// Which way it left the suite's tree, from its ids as they are now.
    pub how: String,
}

/// Every process on the machine whose environment holds `NAME=value`:
/// memtest passes its environment to every suite, and a suite's
/// descendants inherit it, setsid or not. Zombies are listed separately
/// (`zombies == true`) since their environment reads empty: the caller
/// asks for them by parent.
pub fn marked(name: &str, value: &str) -> Vec<Leftover> {
    let needle = format!("{name}={value}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            continue;
        }
        let Some(stat) = Stat::of(pid) else { continue };
        if stat.state == 'Z' {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        found.push(Leftover {
            pid,
            cmdline: String::from_utf8_lossy(&cmdline).replace('\0', " "),
            how: stat.how_it_left(),
        });
    }
    found
}

/// The ids of a process in /proc/PID/stat that tell how it left its tree.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
}

impl Stat {
    pub fn of(pid: u32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, rest) = text.rsplit_once(')')?;
        let mut f = rest.split_whitespace();
        let state = f.next()?.chars().next()?;
        let mut num = || f.next()?.parse::<u32>().ok();
        Some(Stat {
            state,
            ppid: num()?,
            pgid: num()?,
            sid: num()?,
        })
    }

    /// "re-parented to pid 1 (its parent exited), in a session of its own
    /// (setsid)", and so on.
    pub fn how_it_left(&self) -> String {
        let parent = match self.ppid {
            1 => "re-parented to init (its parent exited: a double fork or an orphan)".to_string(),
            p => format!("child of {p}"),
        };
        let group = if self.sid == self.pgid {
            format!("leads session {} (setsid)", self.sid)
        } else {
            format!("in group {} of session {}", self.pgid, self.sid)
        };
        format!("{parent}, {group}")
    }
}

/// Zombie children of `parent` right now.
pub fn zombie_children(parent: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .filter(|pid| Stat::of(*pid).is_some_and(|s| s.state == 'Z'))
        .collect()
}
