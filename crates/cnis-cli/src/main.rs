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
    // Output piped into `head` that stops reading is not an error: leave
    // quietly instead of panicking in `println!`.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let broken_pipe = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.contains("failed printing to stdout") && m.contains("Broken pipe"));
        if broken_pipe {
            std::process::exit(0);
        }
        default_hook(info);
    }));
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
