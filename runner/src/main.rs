//! memtest: a memory-testing orchestrator for a native library and its
//! language bindings. See README.md. This file stays thin: parse the command
//! line, hand over to the stages in the `runner` library, map the result to an
//! exit code.

use clap::Parser;
use runner::app::{self, ExitStatus};
use runner::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are successes; everything else is a usage error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::UsageOrConfig.into()
            } else {
                ExitStatus::Passed.into()
            };
        }
    };
    app::run(cli).into()
}
