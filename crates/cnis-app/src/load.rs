//! Loading files safely.
//!
//! The rules, applied to every load once the file has been read and before
//! anything it would replace is touched:
//!
//! - a file with no row that could be loaded (empty, header only, every
//!   row rejected) changes nothing;
//! - the very same file (same bytes) already loaded is refused, unless it
//!   is the load being replaced;
//! - a census for a day already loaded, or a list of a kind already loaded,
//!   is replaced only when the request says `replace`; sources without it
//!   are added to what is there (a council may hold several files of one
//!   kind, e.g. deletion notices from each school);
//! - a replacement with fewer than half the rows of what it replaces is
//!   refused unless the request says `force`: a truncated export should not
//!   silently turn every child into a leaver.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use cnis_core::records::{LoadId, Regulations, SourceKind};
use cnis_ingest::{ColumnMap, FileReport, Quarantine, ReadOptions};
use cnis_store::{FileFacts, LoadInfo, LoadOutcome, Replacing, Store};

use crate::pipeline::pipelined;
use crate::{Error, Progress, Result};

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// The file.
    pub file: PathBuf,
    /// Our field names to the file's columns.
    pub map: ColumnMap,
    /// Replace what is loaded for the same day (census) or of the same kind.
    pub replace: bool,
    /// Replace even with a file under half the size of what it replaces.
    pub force: bool,
    /// Folder for the quarantine file (written only if there are problems).
    pub quarantine_dir: PathBuf,
    /// The regulations a deletions file's bare ground letters are read under.
    pub regulations: Option<Regulations>,
}

impl LoadRequest {
    /// A request with defaults: add, don't force, quarantine in `quarantine/`.
    pub fn new(file: impl Into<PathBuf>) -> LoadRequest {
        LoadRequest {
            file: file.into(),
            map: ColumnMap::default(),
            replace: false,
            force: false,
            quarantine_dir: PathBuf::from("quarantine"),
            regulations: None,
        }
    }

    fn quarantine(&self) -> Quarantine {
        let stem = self.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
        Quarantine::to_file(&self.quarantine_dir.join(format!("{stem}.quarantine.csv")))
    }
}

/// What a load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The file.
    pub file: PathBuf,
    /// Counts, the column each field came from, the file's hash.
    pub read: FileReport,
    /// The quarantine file, if anything was reported.
    pub quarantine: Option<PathBuf>,
    /// The load as recorded.
    pub load: LoadInfo,
    /// Loads it replaced.
    pub replaced: Vec<LoadInfo>,
    /// Child ids minted (census loads).
    pub minted: u64,
}

fn facts(name: &str, r: &FileReport) -> FileFacts {
    FileFacts {
        name: name.to_string(),
        bytes: r.bytes,
        content_hash: r.content_hash.clone(),
        rows_in: r.stats.rows_in,
        accepted: r.stats.accepted,
        rejected: r.stats.rejected,
        faults: r.stats.faults,
    }
}

/// The safe-loading rules (see the module documentation).
pub fn decide(replace: bool, force: bool, what: &str, r: &Replacing) -> std::result::Result<(), String> {
    let f = r.facts;
    if f.accepted == 0 {
        return Err(if f.rows_in == 0 {
            "the file has no rows".to_string()
        } else {
            format!("none of its {} rows could be loaded (see the quarantine file)", f.rows_in)
        });
    }
    if let Some(same) = &r.same_file
        && !r.replaces.iter().any(|x| x.id == same.id)
    {
        return Err(format!(
            "the same file (same bytes) is already loaded as load {} ({}, {})",
            same.id.0, same.kind, same.loaded_at
        ));
    }
    if r.replaces.is_empty() {
        return Ok(());
    }
    let old: u64 = r.replaces.iter().map(|l| l.accepted).sum();
    let ids: Vec<String> = r.replaces.iter().map(|l| l.id.0.to_string()).collect();
    if !replace {
        return Err(format!(
            "{what} is already loaded (load {}, {old} rows); to replace it, load again with --replace",
            ids.join(", ")
        ));
    }
    if f.accepted * 2 < old && !force {
        return Err(format!(
            "it has {} rows that could be loaded, under half of the {old} it would replace (load {}); \
             if that is right, load again with --force",
            f.accepted,
            ids.join(", ")
        ));
    }
    Ok(())
}

fn outcome<E: Into<Error>>(
    file: &Path,
    o: LoadOutcome<E>,
    read: Option<FileReport>,
    q: &Quarantine,
) -> Result<LoadReport> {
    match o {
        LoadOutcome::Loaded { load, replaced, minted, .. } => Ok(LoadReport {
            file: file.to_path_buf(),
            read: read.unwrap_or_default(),
            quarantine: q.path().map(Path::to_path_buf),
            load: *load,
            replaced,
            minted,
        }),
        LoadOutcome::Refused(reason) => Err(Error::Refused { file: file.to_path_buf(), reason }),
        LoadOutcome::Failed(e) => Err(e.into()),
    }
}

/// Loads a pupil-level census for `date`.
pub fn load_census(
    store: &mut Store,
    req: &LoadRequest,
    date: NaiveDate,
    progress: &dyn Progress,
) -> Result<LoadReport> {
    let mut q = req.quarantine();
    let name = req.file.display().to_string();
    progress.step(&format!("census {date}"), file_len(&req.file));
    let opts = ReadOptions { map: Some(&req.map), census_date: Some(date), regulations: None };
    let mut read = None;
    let o = store.load_census(
        date,
        &name,
        |insert| {
            pipelined(&mut |p| insert(&p), |sink| {
                cnis_ingest::read_census(&req.file, &opts, &mut q, &mut |b| progress.at(b), sink)
            })
            .map(|r| {
                let f = facts(&name, &r);
                read = Some(r);
                f
            })
        },
        |r| decide(req.replace, req.force, &format!("a census for {date}"), r),
        // A former UPN joins its child's id on the same rule tracking uses.
        &crate::reconcile::identified_child_agrees,
    )?;
    outcome::<cnis_ingest::Error>(&req.file, o, read, &q)
}

/// Loads a destination source.
pub fn load_source(
    store: &mut Store,
    req: &LoadRequest,
    kind: SourceKind,
    progress: &dyn Progress,
) -> Result<LoadReport> {
    let mut q = req.quarantine();
    let name = req.file.display().to_string();
    progress.step(kind.name(), file_len(&req.file));
    let opts = ReadOptions { map: Some(&req.map), census_date: None, regulations: req.regulations };
    let mut read = None;
    let o = store.load_sources(
        kind,
        &name,
        req.replace,
        |insert| {
            pipelined(&mut |r| insert(&r), |sink| {
                cnis_ingest::read_sources(&req.file, kind, &opts, &mut q, &mut |b| progress.at(b), sink)
            })
            .map(|r| {
                let f = facts(&name, &r);
                read = Some(r);
                f
            })
        },
        |r| decide(req.replace, req.force, &format!("a {} list", kind.name()), r),
    )?;
    outcome::<cnis_ingest::Error>(&req.file, o, read, &q)
}

/// Loads a schools list, replacing the one loaded (with `replace`).
pub fn load_schools(store: &mut Store, req: &LoadRequest) -> Result<LoadReport> {
    let mut q = req.quarantine();
    let mut rows = Vec::new();
    let read = cnis_ingest::read_schools(&req.file, &req.map, &mut q, |s| {
        rows.push(s);
        Ok(())
    })?;
    let f = facts(&req.file.display().to_string(), &read);
    let o = store.replace_schools(&f, &rows, |r| decide(req.replace, req.force, "a schools list", r))?;
    outcome(&req.file, o, Some(read), &q)
}

/// Loads a postcode deprivation lookup, replacing the one loaded (with `replace`).
pub fn load_postcodes(store: &mut Store, req: &LoadRequest) -> Result<LoadReport> {
    let mut q = req.quarantine();
    let mut rows = Vec::new();
    let read = cnis_ingest::read_postcode_deprivation(&req.file, &req.map, &mut q, |s| {
        rows.push(s);
        Ok(())
    })?;
    let f = facts(&req.file.display().to_string(), &read);
    let o =
        store.replace_postcode_deprivation(&f, &rows, |r| decide(req.replace, req.force, "a postcode lookup", r))?;
    outcome(&req.file, o, Some(read), &q)
}

/// The loads in the database (`all`: replaced and unloaded ones too).
pub fn loads(store: &Store, all: bool) -> Result<Vec<LoadInfo>> {
    Ok(store.loads(all)?)
}

/// Removes a load and its rows.
pub fn unload(store: &mut Store, id: LoadId) -> Result<LoadInfo> {
    Ok(store.unload(id)?)
}

fn file_len(file: &Path) -> Option<u64> {
    std::fs::metadata(file).map(|m| m.len()).ok()
}

impl From<std::convert::Infallible> for Error {
    fn from(x: std::convert::Infallible) -> Self {
        match x {}
    }
}
