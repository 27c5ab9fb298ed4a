//! `cnis ingest`: load files into the database, quarantining bad rows.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use cnis_core::records::SourceKind;
use cnis_ingest::{ColumnMap, LoadStats, Quarantine};
use cnis_store::Store;

use crate::cli::{Global, IngestCommand, LoadArgs};
use crate::cmd::pipeline::pipelined;
use crate::progress::bytes_bar;

/// What one file's load did, for the summary line.
pub struct Loaded {
    pub file: PathBuf,
    pub stats: LoadStats,
    pub quarantine: Option<PathBuf>,
}

impl Loaded {
    pub fn report(&self, g: &Global) {
        if g.quiet {
            return;
        }
        let LoadStats { rows_in, accepted, quarantined } = self.stats;
        eprintln!("{}: {rows_in} rows in, {accepted} accepted, {quarantined} quarantined", self.file.display());
        if let (true, Some(q)) = (quarantined > 0, &self.quarantine) {
            eprintln!("  bad rows, with line, field and reason: {}", q.display());
        }
    }
}

pub fn run(cmd: IngestCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = open_store(&g.db)?;
    let loaded = match cmd {
        IngestCommand::Census { file, census_date, load } => census(&mut store, &file, census_date, &load, g)?,
        IngestCommand::Source { kind, file, load } => {
            let kind = SourceKind::from_name(&kind).context("unknown source kind")?;
            source(&mut store, kind, &file, &load, g)?
        }
        IngestCommand::Schools { file, load } => schools(&mut store, &file, &load)?,
        IngestCommand::Postcodes { file, load } => postcodes(&mut store, &file, &load)?,
    };
    loaded.report(g);
    Ok(if loaded.stats.quarantined > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

pub fn open_store(path: &Path) -> anyhow::Result<Store> {
    Store::open(path).with_context(|| format!("opening database {}", path.display()))
}

fn map_of(load: &LoadArgs) -> anyhow::Result<ColumnMap> {
    let maps = load.maps.iter().map(|m| ColumnMap::parse(m)).collect::<Result<Vec<_>, _>>()?;
    Ok(ColumnMap::merge(&maps))
}

fn quarantine_for(file: &Path, load: &LoadArgs) -> anyhow::Result<(Quarantine, PathBuf)> {
    let path = load.quarantine.clone().unwrap_or_else(|| {
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
        PathBuf::from(format!("{stem}.quarantine.csv"))
    });
    Ok((Quarantine::to_file(&path)?, path))
}

fn file_len(file: &Path) -> u64 {
    std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
}

pub fn census(store: &mut Store, file: &Path, date: NaiveDate, load: &LoadArgs, g: &Global) -> anyhow::Result<Loaded> {
    let map = map_of(load)?;
    let (mut q, qpath) = quarantine_for(file, load)?;
    let bar = bytes_bar(g, file_len(file), format!("census {date}"));
    let name = file.display().to_string();
    let mut stats = LoadStats::default();
    let outcome = store.load_census(date, &name, |insert| {
        pipelined(&mut |p| insert(&p), |sink| {
            cnis_ingest::read_census(file, &map, &mut q, &mut |b| bar.set_position(b), sink)
        })
        .map(|s| {
            stats = s;
            (s.rows_in, s.accepted, s.quarantined)
        })
    })?;
    bar.finish_and_clear();
    let (info, minted) = outcome?;
    tracing::info!(census = %date, pupils = info.pupils, new_children = minted, "census loaded");
    Ok(Loaded { file: file.to_path_buf(), stats, quarantine: Some(qpath) })
}

pub fn source(store: &mut Store, kind: SourceKind, file: &Path, load: &LoadArgs, g: &Global) -> anyhow::Result<Loaded> {
    let map = map_of(load)?;
    let (mut q, qpath) = quarantine_for(file, load)?;
    let bar = bytes_bar(g, file_len(file), kind.name());
    let name = file.display().to_string();
    let mut stats = LoadStats::default();
    let outcome = store.load_sources(kind, &name, |insert| {
        pipelined(&mut |r| insert(&r), |sink| {
            cnis_ingest::read_sources(file, kind, &map, &mut q, &mut |b| bar.set_position(b), sink)
        })
        .map(|s| {
            stats = s;
            (s.rows_in, s.accepted, s.quarantined)
        })
    })?;
    bar.finish_and_clear();
    outcome?;
    Ok(Loaded { file: file.to_path_buf(), stats, quarantine: Some(qpath) })
}

pub fn schools(store: &mut Store, file: &Path, load: &LoadArgs) -> anyhow::Result<Loaded> {
    let map = map_of(load)?;
    let (mut q, qpath) = quarantine_for(file, load)?;
    let mut rows = Vec::new();
    let stats = cnis_ingest::read_schools(file, &map, &mut q, |s| {
        rows.push(s);
        Ok(())
    })?;
    store.replace_schools(&rows)?;
    Ok(Loaded { file: file.to_path_buf(), stats, quarantine: Some(qpath) })
}

pub fn postcodes(store: &mut Store, file: &Path, load: &LoadArgs) -> anyhow::Result<Loaded> {
    let map = map_of(load)?;
    let (mut q, qpath) = quarantine_for(file, load)?;
    let mut rows = Vec::new();
    let stats = cnis_ingest::read_postcode_deprivation(file, &map, &mut q, |s| {
        rows.push(s);
        Ok(())
    })?;
    store.replace_postcode_deprivation(&rows)?;
    Ok(Loaded { file: file.to_path_buf(), stats, quarantine: Some(qpath) })
}
