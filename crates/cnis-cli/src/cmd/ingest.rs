//! `cnis ingest`, `cnis loads`, `cnis unload`: load files into the database
//! through the application layer, and report what each load did.

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use cnis_app::load::{self, LoadReport, LoadRequest};
use cnis_core::records::{LoadId, Regulations, SourceKind};
use cnis_ingest::ColumnMap;
use cnis_store::Store;

use crate::cli::{Global, IngestCommand, LoadArgs, LoadsArgs, UnloadArgs};
use crate::progress::Bar;

/// Prints what a load did: counts, the column each field came from, and
/// where the quarantine file is.
pub fn report(r: &LoadReport, g: &Global) {
    if g.quiet {
        return;
    }
    let s = r.read.stats;
    eprintln!(
        "{}: load {}: {} rows in, {} accepted, {} rejected; {} faulty fields kept out of rows that loaded",
        r.file.display(),
        r.load.id.0,
        s.rows_in,
        s.accepted,
        s.rejected,
        s.faults
    );
    for old in &r.replaced {
        eprintln!("  replaces load {} ({}, {} rows)", old.id.0, old.file, old.accepted);
    }
    eprint!("{}", r.read.layout.describe());
    if let Some(q) = &r.quarantine {
        eprintln!("  problems, each with line, field, outcome and reason: {}", q.display());
    }
}

pub fn run(cmd: IngestCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = open_store(&g.db)?;
    let bar = Bar::new(g);
    let r = match cmd {
        IngestCommand::Census { file, census_date, load } => {
            load::load_census(&mut store, &request(&file, &load, None)?, census_date, &bar)?
        }
        IngestCommand::Source { kind, file, regulations, load } => {
            let kind = SourceKind::from_name(&kind).context("unknown source kind")?;
            let regs = regulations.as_deref().and_then(Regulations::parse);
            load::load_source(&mut store, &request(&file, &load, regs)?, kind, &bar)?
        }
        IngestCommand::Schools { file, load } => load::load_schools(&mut store, &request(&file, &load, None)?)?,
        IngestCommand::Postcodes { file, load } => load::load_postcodes(&mut store, &request(&file, &load, None)?)?,
    };
    bar.finish();
    report(&r, g);
    let s = r.read.stats;
    Ok(if s.rejected > 0 || s.faults > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

pub fn open_store(path: &Path) -> anyhow::Result<Store> {
    Store::open(path).with_context(|| format!("opening database {}", path.display()))
}

/// A load request from the command line's arguments.
pub fn request(file: &Path, load: &LoadArgs, regulations: Option<Regulations>) -> anyhow::Result<LoadRequest> {
    let maps = load.maps.iter().map(|m| ColumnMap::parse(m)).collect::<Result<Vec<_>, _>>()?;
    Ok(LoadRequest {
        file: file.to_path_buf(),
        map: ColumnMap::merge(&maps)?,
        replace: load.replace,
        force: load.force,
        quarantine_dir: load.quarantine_dir.clone(),
        regulations,
    })
}

pub fn loads(args: LoadsArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(&g.db)?;
    let all = load::loads(&store, args.all)?;
    println!(
        "{:>5}  {:<21} {:<22} {:<10} {:>10} {:>10} {:>9} {:>8}  file",
        "load", "loaded at", "kind", "census", "rows in", "accepted", "rejected", "faults"
    );
    for l in all {
        let state = match (&l.replaced_by, &l.unloaded_at) {
            (Some(by), _) => format!("  (replaced by load {})", by.0),
            (None, Some(at)) => format!("  (unloaded {at})"),
            _ => String::new(),
        };
        println!(
            "{:>5}  {:<21} {:<22} {:<10} {:>10} {:>10} {:>9} {:>8}  {}{state}",
            l.id.0,
            l.loaded_at,
            l.kind,
            l.census_date.map(|d| d.to_string()).unwrap_or_default(),
            l.rows_in,
            l.accepted,
            l.rejected,
            l.faults,
            l.file
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn unload(args: UnloadArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = open_store(&g.db)?;
    let l = load::unload(&mut store, LoadId(args.id))?;
    if !g.quiet {
        eprintln!(
            "unloaded load {} ({}, {}): its {} rows are gone from the database",
            l.id.0, l.kind, l.file, l.accepted
        );
    }
    Ok(ExitCode::SUCCESS)
}
