//! The run's orchestration: config -> selection -> preflight -> setup -> build
//! -> fixtures -> plan -> exec -> reports, and the mapping of how it ended to
//! an [`ExitStatus`]. Errors are typed in their stages; here, at the edge, they
//! become messages on stderr and exit codes.

use crate::build::fixtures;
use crate::cli::{Cli, Command};
use std::path::{Path, PathBuf};

/// How a memtest invocation ended; the process exit code is its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Every selected suite passed (canaries caught their leak).
    Passed = 0,
    /// At least one suite failed.
    SuiteFailed = 1,
    /// Bad command line or memtest.toml: nothing was built or run.
    UsageOrConfig = 2,
    /// The library, a test binary, a toolchain or a setup step was not ready.
    BuildOrPreflight = 3,
    /// The user pressed Ctrl-C.
    Interrupted = 130,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status as u8)
    }
}

/// Runs one parsed command line to its exit status.
pub fn run(cli: Cli) -> ExitStatus {
    match cli.command {
        Command::Fixtures => {
            // Temporary until config/ lands: the fixture folder is read from
            // memtest.toml's [fixtures] table directly.
            let Some(config) = find_config(cli.config) else {
                eprintln!("error: no memtest.toml in this directory or any parent");
                return ExitStatus::UsageOrConfig;
            };
            let root = config.parent().unwrap_or(Path::new(".")).to_path_buf();
            let dir = std::fs::read_to_string(&config)
                .ok()
                .and_then(|text| text.parse::<toml::Table>().ok())
                .and_then(|t| t.get("fixtures")?.get("dir")?.as_str().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(".memtest/fixtures"));
            match fixtures::ensure(&root.join(dir)) {
                Ok(set) => {
                    println!("{}", set.dir.display());
                    ExitStatus::Passed
                }
                Err(e) => {
                    eprintln!(
                        "error: {}",
                        anyhow::Error::from(e)
                            .chain()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(": ")
                    );
                    ExitStatus::BuildOrPreflight
                }
            }
        }
        _ => {
            eprintln!("error: this subcommand is not wired yet");
            ExitStatus::UsageOrConfig
        }
    }
}

fn find_config(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path);
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|dir| dir.join("memtest.toml"))
        .find(|p| p.is_file())
}
