//! Runs a preparation command (a runtime's setup, a command build) the way
//! memtest runs every child: in a process group of its own, stdin closed,
//! output to a log file, stopped on interrupt (SIGINT to the group, SIGKILL
//! after the grace period). A failure carries the log's last lines, so the
//! error says what went wrong without opening the file.

use crate::process::interrupt::{self, Interrupt};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Lines of the log shown when the command fails.
const TAIL_LINES: usize = 20;

/// A command to run, already interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedCommand {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub log: PathBuf,
}

impl LoggedCommand {
    /// The argv as one line, for progress and errors.
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot write the log {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run `{command}` in {}", cwd.display())]
    Spawn {
        command: String,
        cwd: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` stopped: interrupted")]
    Interrupted { command: String },
    #[error("`{command}` failed ({status})\nlast lines of {}:\n{tail}", log.display())]
    Failed {
        command: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
}

/// Runs `cmd` to its end; `Ok` only when it exited 0.
pub fn run(
    cmd: &LoggedCommand,
    interrupt: &Interrupt,
    grace: Duration,
) -> Result<(), CommandError> {
    let command = cmd.display();
    let log_err = |source| CommandError::Log {
        path: cmd.log.clone(),
        source,
    };
    if let Some(dir) = cmd.log.parent() {
        std::fs::create_dir_all(dir).map_err(log_err)?;
    }
    let out = File::create(&cmd.log).map_err(log_err)?;
    let err = out.try_clone().map_err(log_err)?;
    let spawn_err = |source| CommandError::Spawn {
        command: command.clone(),
        cwd: cmd.cwd.clone(),
        source,
    };
    let (program, args) = cmd.argv.split_first().ok_or_else(|| {
        spawn_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        ))
    })?;
    let mut child = Command::new(program)
        .args(args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&cmd.cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(spawn_err)?;
    let status =
        interrupt::wait_or_stop(&mut child, interrupt, libc::SIGINT, grace).map_err(spawn_err)?;
    let Some(status) = status else {
        return Err(CommandError::Interrupted { command });
    };
    if !status.success() {
        return Err(CommandError::Failed {
            command,
            status: status.to_string(),
            tail: tail(&cmd.log, TAIL_LINES),
            log: cmd.log.clone(),
        });
    }
    Ok(())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
