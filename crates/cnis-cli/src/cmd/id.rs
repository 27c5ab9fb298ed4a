//! `cnis id check` and `cnis id new`.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use cnis_core::{ChildId, check_identifier};

use crate::cli::{Global, IdCommand};

pub fn run(cmd: IdCommand, _g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        IdCommand::Check(args) => {
            let mut any_invalid = false;
            for value in &args.values {
                let v = check_identifier(value, args.kind.map(Into::into));
                let kind = v.kind.map_or_else(|| "unknown".to_string(), |k| k.to_string());
                match v.result {
                    Ok(notes) if notes.is_empty() => println!("{value}\t{kind}\tvalid"),
                    Ok(notes) => println!("{value}\t{kind}\tvalid ({})", notes.join("; ")),
                    Err(e) => {
                        any_invalid = true;
                        println!("{value}\t{kind}\tinvalid: {e}");
                    }
                }
            }
            Ok(if any_invalid { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        IdCommand::New { count } => {
            let mut rng = rand_rng();
            for _ in 0..count {
                println!("{}", ChildId::random(&mut rng));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn rand_rng() -> impl rand::Rng {
    rand::rng()
}
