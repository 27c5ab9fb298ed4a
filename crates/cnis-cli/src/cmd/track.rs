//! `cnis track` and `cnis settings`: the tracking use case from the command line.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use cnis_app::reconcile::LinkOptions;
use cnis_app::track::{TrackReport, TrackRequest};
use cnis_track::Settings;

use crate::cli::{Global, SettingsArgs, TrackArgs};
use crate::cmd::ingest::open_store;
use crate::progress::Bar;

pub fn run(args: TrackArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = open_store(&g.db)?;
    let settings = match &args.settings {
        Some(path) => cnis_app::settings::read(path)?,
        None => Settings::default(),
    };
    let req = TrackRequest {
        from: args.from,
        to: args.to,
        link: args.link.then(LinkOptions::default),
        out: args.out.clone(),
        settings,
    };
    let bar = Bar::new(g);
    let report = cnis_app::track::track(&mut store, &req, &bar)?;
    bar.finish();
    if !g.quiet {
        println!("{}", report.summary.national_table(None));
        describe(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// What a run did, for the terminal.
pub fn describe(r: &TrackReport) {
    let found: Vec<String> = r.found_on_second.iter().map(|(how, n)| format!("{n} by {}", how.name())).collect();
    eprintln!("found on the next census: {}", found.join(", "));
    eprintln!("{} leavers, {} with conflicting evidence", r.tracked.leavers.len(), r.conflicts);
    eprintln!("leaver list: {}", r.leavers_file.display());
    eprintln!("summary by LA: {}", r.summary_file.display());
    if let Some(f) = &r.review_file {
        eprintln!("{} possible matches for review, each with the command that explains it: {}", r.review, f.display());
    }
}

pub fn settings(args: SettingsArgs) -> anyhow::Result<ExitCode> {
    let s = match &args.check {
        Some(path) => cnis_app::settings::read(path)?,
        None => Settings::default(),
    };
    print!("{}", cnis_app::settings::to_toml(&s));
    Ok(ExitCode::SUCCESS)
}
