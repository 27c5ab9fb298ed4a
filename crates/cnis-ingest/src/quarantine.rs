//! Where bad rows go: a CSV with file, line, field, reason and the raw row.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::Error;

/// One quarantined row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the row came from.
    pub file: String,
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// Our name for the field at fault, if one field is.
    pub field: Option<String>,
    /// Why the row was refused. Never contains the row's values.
    pub reason: String,
    /// The row as read, fields re-joined as CSV; bytes that are not UTF-8
    /// are written `\xNN`, so nothing is lost.
    pub raw: String,
}

/// Collects quarantined rows, into a file or in memory.
pub struct Quarantine {
    sink: Option<(PathBuf, csv::Writer<BufWriter<File>>)>,
    kept: Vec<Diagnostic>,
    keep_in_memory: bool,
    count: u64,
    by_reason: BTreeMap<(String, String), u64>,
}

/// Columns of the quarantine file.
pub const QUARANTINE_COLUMNS: &[&str] = &["file", "line", "field", "reason", "raw"];

impl Quarantine {
    /// Writes quarantined rows to `path` (created now, with a header).
    pub fn to_file(path: &Path) -> Result<Self, Error> {
        let err = |source| Error::Quarantine { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let f = File::create(path).map_err(err)?;
        let mut w = csv::Writer::from_writer(BufWriter::new(f));
        w.write_record(QUARANTINE_COLUMNS).map_err(|e| err(e.into()))?;
        Ok(Quarantine {
            sink: Some((path.to_path_buf(), w)),
            kept: vec![],
            keep_in_memory: false,
            count: 0,
            by_reason: BTreeMap::new(),
        })
    }

    /// Keeps quarantined rows in memory (tests, small files).
    pub fn in_memory() -> Self {
        Quarantine { sink: None, kept: vec![], keep_in_memory: true, count: 0, by_reason: BTreeMap::new() }
    }

    /// Adds a row.
    pub fn push(&mut self, d: Diagnostic) -> Result<(), Error> {
        self.count += 1;
        *self.by_reason.entry((d.field.clone().unwrap_or_default(), d.reason.clone())).or_default() += 1;
        if let Some((path, w)) = self.sink.as_mut() {
            let line = d.line.to_string();
            w.write_record([d.file.as_str(), &line, d.field.as_deref().unwrap_or(""), &d.reason, &d.raw])
                .map_err(|e| Error::Quarantine { path: path.clone(), source: e.into() })?;
        }
        if self.keep_in_memory {
            self.kept.push(d);
        }
        Ok(())
    }

    /// Rows quarantined so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Rows kept in memory ([`Quarantine::in_memory`] only).
    pub fn rows(&self) -> &[Diagnostic] {
        &self.kept
    }

    /// Counts by (field, reason), for a summary.
    pub fn summary(&self) -> impl Iterator<Item = (&str, &str, u64)> {
        self.by_reason.iter().map(|((f, r), n)| (f.as_str(), r.as_str(), *n))
    }

    /// The file being written, if any.
    pub fn path(&self) -> Option<&Path> {
        self.sink.as_ref().map(|(p, _)| p.as_path())
    }

    /// Flushes the file.
    pub fn finish(&mut self) -> Result<(), Error> {
        if let Some((path, w)) = self.sink.as_mut() {
            w.flush().map_err(|source| Error::Quarantine { path: path.clone(), source })?;
        }
        Ok(())
    }
}
