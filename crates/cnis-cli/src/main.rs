//! `cnis`: find every child of compulsory school age who leaves a school roll.
//!
//! This file only parses arguments, sets up logging and maps the outcome to
//! an exit code; each command lives in `cmd/`.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd;
mod progress;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(&cli.global);
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // The chain carries file, line and field; never a child's data.
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
