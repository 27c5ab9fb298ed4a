//! Reading council and DfE files into domain records.
//!
//! Every reader streams: it hands each good record to a sink as it goes and
//! never holds the file in memory. A bad row never stops a load. It goes to
//! the [`Quarantine`] with its file, line, field and reason, and its raw text,
//! so nothing is lost; the [`LoadStats`] at the end always satisfy
//! `rows_in == accepted + quarantined`.
//!
//! Column names default to the DfE/CBDS names the generator writes
//! (`cnis_core::records::columns`); a [`ColumnMap`] lets a council's own
//! export load without editing (`upn=PupilUPN,dob=DateOfBirth`).

mod map;
mod parse;
mod quarantine;
mod read;

pub use map::ColumnMap;
pub use quarantine::{Diagnostic, Quarantine};
pub use read::{
    FileKind, LoadStats, read_census, read_link_records, read_link_records_chunked, read_postcode_deprivation,
    read_schools, read_sources,
};

use std::path::PathBuf;

/// Why a file could not be read at all. Bad rows are not errors: they are
/// quarantined.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The header lacks a column cnis needs.
    #[error("{path}: line 1: no column {column:?} for field `{field}` (map it with --map {field}=<your column>)")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// Our field name.
        field: String,
        /// The column looked for.
        column: String,
    },
    /// The file has no header row.
    #[error("{path}: the file is empty (no header row)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A `--map` entry names a field cnis does not have.
    #[error("--map: {0}")]
    Map(String),
    /// The CSV could not be parsed past some point.
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line where reading stopped.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// The sink refused a record (e.g. the database failed).
    #[error("{path}: line {line}: {message}")]
    Sink {
        /// The file.
        path: PathBuf,
        /// Line of the record.
        line: u64,
        /// What the sink said.
        message: String,
    },
    /// Writing the quarantine file failed.
    #[error("writing quarantine file {path}: {source}")]
    Quarantine {
        /// The quarantine file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
