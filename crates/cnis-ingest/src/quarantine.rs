//! Where bad rows and faulty fields are reported: a CSV with file, line,
//! field, what happened to the row, the reason and the raw row.
//!
//! The file is written only when there is something to put in it, through
//! [`CsvOut`] (private, complete or absent, no formula cells: the raw row
//! holds a child's data).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{CsvOut, Error};

/// What happened to a row with a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The row could not identify a child, or the file's rules refuse it: not loaded.
    Rejected,
    /// The row loaded; this one field was left out (or kept as written only).
    Kept,
}

impl Outcome {
    /// The word in the quarantine file.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Rejected => "rejected",
            Outcome::Kept => "kept",
        }
    }
}

/// One problem: a rejected row, or a faulty field of a row that loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the row came from.
    pub file: String,
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// Our name for the field at fault, if one field is.
    pub field: Option<String>,
    /// Rejected, or kept with this field faulty.
    pub outcome: Outcome,
    /// Why. Never contains the row's values.
    pub reason: String,
    /// The row as read, fields re-joined as CSV; bytes that are not UTF-8
    /// are written `\xNN`, so nothing is lost.
    pub raw: String,
}

/// Collects problems, into a file or in memory.
#[derive(Debug)]
pub struct Quarantine {
    path: Option<PathBuf>,
    out: Option<CsvOut>,
    written: Option<PathBuf>,
    kept: Vec<Diagnostic>,
    keep_in_memory: bool,
    rejected: u64,
    faults: u64,
    by_reason: BTreeMap<(Outcome, String, String), u64>,
}

/// Columns of the quarantine file.
pub const QUARANTINE_COLUMNS: &[&str] = &["file", "line", "field", "outcome", "reason", "raw"];

impl Quarantine {
    /// Reports to `path`, which is created only if there is something to report.
    pub fn to_file(path: &Path) -> Self {
        Quarantine { path: Some(path.to_path_buf()), ..Quarantine::in_memory_inner(false) }
    }

    /// Keeps everything in memory (tests, small files).
    pub fn in_memory() -> Self {
        Quarantine::in_memory_inner(true)
    }

    fn in_memory_inner(keep: bool) -> Self {
        Quarantine {
            path: None,
            out: None,
            written: None,
            kept: vec![],
            keep_in_memory: keep,
            rejected: 0,
            faults: 0,
            by_reason: BTreeMap::new(),
        }
    }

    /// Adds a problem.
    pub fn push(&mut self, d: Diagnostic) -> Result<(), Error> {
        match d.outcome {
            Outcome::Rejected => self.rejected += 1,
            Outcome::Kept => self.faults += 1,
        }
        *self.by_reason.entry((d.outcome, d.field.clone().unwrap_or_default(), d.reason.clone())).or_default() += 1;
        if let Some(path) = &self.path {
            if self.out.is_none() {
                self.out = Some(CsvOut::create(path, QUARANTINE_COLUMNS)?);
            }
            if let Some(out) = self.out.as_mut() {
                let line = d.line.to_string();
                out.row([
                    d.file.as_str(),
                    &line,
                    d.field.as_deref().unwrap_or(""),
                    d.outcome.name(),
                    &d.reason,
                    &d.raw,
                ])?;
            }
        }
        if self.keep_in_memory {
            self.kept.push(d);
        }
        Ok(())
    }

    /// Rows rejected so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Field faults (on rows that loaded) so far.
    pub fn faults(&self) -> u64 {
        self.faults
    }

    /// Everything reported so far ([`Quarantine::in_memory`] only).
    pub fn rows(&self) -> &[Diagnostic] {
        &self.kept
    }

    /// Counts by (outcome, field, reason), for a summary.
    pub fn summary(&self) -> impl Iterator<Item = (Outcome, &str, &str, u64)> {
        self.by_reason.iter().map(|((o, f, r), n)| (*o, f.as_str(), r.as_str(), *n))
    }

    /// The file written (or being written), if anything was reported to one.
    pub fn path(&self) -> Option<&Path> {
        self.written.as_deref().or(self.out.as_ref().map(CsvOut::path))
    }

    /// Finishes the file, if one was started; returns its path.
    pub fn finish(&mut self) -> Result<Option<&Path>, Error> {
        if let Some(out) = self.out.take() {
            self.written = Some(out.finish()?);
        }
        Ok(self.written.as_deref())
    }
}
