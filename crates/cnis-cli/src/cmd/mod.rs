//! One module per command.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

mod demo;
mod id;
mod ingest;
mod link;
mod register;
mod synth;
mod track;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Id(c) => id::run(c, &cli.global),
        Command::Synth(a) => synth::run(a, &cli.global),
        Command::Ingest(c) => ingest::run(c, &cli.global),
        Command::Track(a) => track::run(a, &cli.global),
        Command::Demo(a) => demo::run(a, &cli.global),
        Command::Link(c) => link::run(c, &cli.global),
        Command::Loads(a) => ingest::loads(a, &cli.global),
        Command::Unload(a) => ingest::unload(a, &cli.global),
        Command::Settings(a) => track::settings(a),
        Command::Score(a) => synth::score(a),
        Command::Serve(a) => register::serve(a, &cli.global),
        Command::User(c) => register::user(c, &cli.global),
        Command::Audit(c) => register::audit(c, &cli.global),
        Command::Register(c) => register::register(c, &cli.global),
    }
}
