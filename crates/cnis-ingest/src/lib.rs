//! Reading council and DfE files into domain records, and writing the files
//! cnis hands back.
//!
//! Every reader streams: it hands each good record to a sink as it goes and
//! never holds the file in memory. A bad field never loses a row: an
//! optional value that fails its check (a UPN with a wrong check letter, a
//! malformed postcode, an impossible date) is kept as written where it can
//! still help, left out where it cannot, and reported as a *field fault*;
//! the row loads. Only a row that cannot identify a child at all is
//! *rejected*. Both go to the [`Quarantine`] with file, line, field and
//! reason and the raw row, so nothing is lost, and the [`LoadStats`] always
//! satisfy `rows_in == accepted + rejected`.
//!
//! A file that cannot be read as a table is an [`Error`], never a silent
//! partial load: a header naming a column twice, a `--map` naming a column
//! the file lacks, or a quote left open across many lines (which would
//! otherwise swallow every row after it into one field).
//!
//! Column names default to the DfE/CBDS names of [`cnis_core::schema`]; a
//! [`ColumnMap`] lets a council's own export load without editing
//! (`upn=PupilUPN,dob=DateOfBirth`). Every load reports which of our fields
//! came from which column and which are absent ([`Layout`]).
//!
//! [`CsvOut`] writes every CSV cnis produces: cells a spreadsheet would run
//! as a formula are neutralised, the file is readable by its owner only, and
//! it appears under its name only once complete.

mod map;
mod out;
mod parse;
mod quarantine;
mod read;

pub use map::ColumnMap;
pub use out::{CsvOut, Written, neutralise, private_file, stage_private, write_private};
pub use quarantine::{Diagnostic, Outcome, QUARANTINE_COLUMNS, Quarantine};
pub use read::{
    FileKind, FileReport, Layout, LoadStats, ReadOptions, read_census, read_link_records, read_link_records_chunked,
    read_postcode_deprivation, read_schools, read_sources,
};

use std::path::PathBuf;

/// Why a file could not be read at all. Bad rows are not errors: they are
/// quarantined.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (shown in the message, so not chained again).
        cause: std::io::Error,
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
    /// A `--map` entry names a column the file does not have.
    #[error("{path}: line 1: --map {field}={column}: the file has no column {column:?}; its columns are {columns}")]
    MappedColumnMissing {
        /// The file.
        path: PathBuf,
        /// Our field name.
        field: String,
        /// The column the map names.
        column: String,
        /// The columns the file has.
        columns: String,
    },
    /// Two header cells name the same column.
    #[error("{path}: line 1: column {column:?} appears twice (columns {first} and {second}); rename one")]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: String,
        /// Its first position (1-based).
        first: usize,
        /// Its second position.
        second: usize,
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
    /// A quoted field runs on over many lines: its closing quote is missing.
    #[error(
        "{path}: line {line}: a quoted field opened here is not closed before line {through}; \
         every row after it would be read as part of that field (check the quote marks on line {line})"
    )]
    UnclosedQuote {
        /// The file.
        path: PathBuf,
        /// Line where the record (and the open quote) starts.
        line: u64,
        /// Line the runaway field reaches.
        through: u64,
    },
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
    /// Writing an output file (or the quarantine) failed.
    #[error("writing {path}: {cause}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause (shown in the message, so not chained again).
        cause: std::io::Error,
    },
}
