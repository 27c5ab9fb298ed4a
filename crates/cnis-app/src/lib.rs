//! The application layer: one function per use case, called by the `cnis`
//! command line today and by the server tomorrow, so no rule is written
//! twice. A use case takes typed inputs (a [`load::LoadRequest`], a
//! [`track::TrackRequest`]) and a [`Progress`] to report to, does its work
//! through the crates below (ingest, store, linkage, tracking), and returns
//! a typed report. Printing, progress bars and exit codes are the caller's.
//!
//! - [`load`]: put a file into the database safely: a refused replacement
//!   changes nothing; every load says which column fed which field.
//! - [`reconcile`]: the whole of tracking's matching: UPN, former UPN with
//!   names that agree, mistyped UPNs, linkage, the school a deletion names.
//! - [`track`]: read two censuses and the sources, reconcile, decide the
//!   destinations, write the leaver list, summary and review list, and only
//!   then record the run.
//! - [`settings`]: the readings a council may change, as a TOML file.

pub mod load;
pub mod reconcile;
pub mod service;
pub mod settings;
pub mod track;

mod output;
mod pipeline;

use std::path::PathBuf;

/// Why a use case could not be done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read as its kind.
    #[error(transparent)]
    Ingest(#[from] cnis_ingest::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] cnis_store::Error),
    /// Linkage could not run.
    #[error("linkage: {0}")]
    Link(#[from] cnis_link::Error),
    /// A load was refused by the safe-loading rules; nothing changed.
    #[error("{file}: {reason}; nothing was changed")]
    Refused {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A settings file is wrong.
    #[error("settings {path}: {message}")]
    Settings {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The request does not make sense.
    #[error("{0}")]
    Invalid(String),
}

/// A `Result` with this crate's error.
pub type Result<T> = std::result::Result<T, Error>;

/// Where a long use case reports how far it has got. The command line
/// shows a bar; a server may log; tests ignore it.
pub trait Progress: Sync {
    /// A step begins; `total` is its size in bytes, if known.
    fn step(&self, what: &str, total: Option<u64>);
    /// How far the current step has got.
    fn at(&self, done: u64);
}

/// Reports nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _: &str, _: Option<u64>) {}
    fn at(&self, _: u64) {}
}
