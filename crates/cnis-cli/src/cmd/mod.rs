//! One module per command.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

mod id;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Id(c) => id::run(c, &cli.global),
    }
}
