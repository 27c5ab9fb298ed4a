//! Writing CSV that is safe to hand to a caseworker.
//!
//! Three promises, kept for every CSV cnis writes:
//!
//! - **No formulas.** A text cell that begins with `=`, `+`, `-`, `@`, a tab
//!   or a carriage return is run by Excel, LibreOffice and Google Sheets as
//!   a formula (OWASP's "CSV injection"); a child's name or a free-text note
//!   from a council's file can begin that way. Such cells get a leading `'`,
//!   which spreadsheets show as text. A cell that is a number (`-3`, `+1.5`)
//!   is left alone, so numbers stay numbers.
//! - **Private.** The file is created readable and writable by its owner
//!   only (mode 0600 on Unix): it may hold children's personal data.
//! - **Whole or not at all.** Rows go to a temporary file beside the target,
//!   which is renamed over it only when every row is written and flushed to
//!   disk. A full disk or any other write error leaves no truncated file
//!   under the real name, and the error names the file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::Error;

/// A text cell as a spreadsheet will show it: prefixed with `'` if it would
/// otherwise run as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') if !is_number(cell) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit())
}

/// Creates `path` (truncating it) readable by its owner only.
pub fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // An existing file keeps its old mode through `open`: set it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// A CSV file being written; see the module documentation.
pub struct CsvOut {
    path: PathBuf,
    partial: PathBuf,
    w: Option<csv::Writer<BufWriter<File>>>,
    rows: u64,
    cell: String,
}

impl CsvOut {
    /// Starts writing `path` (its folder is created if missing) with a header row.
    pub fn create(path: &Path, header: &[&str]) -> Result<CsvOut, Error> {
        let err = |source| Error::Write { path: path.to_path_buf(), cause: source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out.csv".into());
        let partial = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let file = private_file(&partial).map_err(err)?;
        let mut out = CsvOut {
            path: path.to_path_buf(),
            partial,
            w: Some(csv::Writer::from_writer(BufWriter::with_capacity(1 << 18, file))),
            rows: 0,
            cell: String::new(),
        };
        out.write(header.iter().copied(), false)?;
        Ok(out)
    }

    /// The file's final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one row; text cells are neutralised.
    pub fn row<I, T>(&mut self, cells: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.rows += 1;
        self.write(cells, true)
    }

    fn write<I, T>(&mut self, cells: I, neutralised: bool) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let Some(w) = self.w.as_mut() else { return Ok(()) };
        for c in cells {
            let c = c.as_ref();
            let r = if neutralised && matches!(c.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')) {
                self.cell.clear();
                self.cell.push_str(&neutralise(c));
                w.write_field(&self.cell)
            } else {
                w.write_field(c)
            };
            r.map_err(|e| Error::Write { path: self.path.clone(), cause: e.into() })?;
        }
        w.write_record(None::<&[u8]>).map_err(|e| Error::Write { path: self.path.clone(), cause: e.into() })
    }

    /// Rows written so far (not counting the header).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes, syncs and renames the file into place; returns its path.
    pub fn finish(self) -> Result<PathBuf, Error> {
        self.complete()?.publish()
    }

    /// Flushes and syncs the file but leaves it under its temporary name,
    /// so several files can be written and then published together
    /// ([`Written::publish`]): either all appear, or none.
    pub fn complete(mut self) -> Result<Written, Error> {
        let err = |cause| Error::Write { path: self.path.clone(), cause };
        let Some(w) = self.w.take() else {
            return Ok(Written { path: self.path.clone(), partial: None });
        };
        let result = (|| {
            let buf = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
            let file = buf.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&self.partial);
            return Err(err(e));
        }
        Ok(Written { path: self.path.clone(), partial: Some(self.partial.clone()) })
    }
}

/// A file written in full under a temporary name, not yet published.
/// Dropped unpublished, it is removed.
#[derive(Debug)]
pub struct Written {
    path: PathBuf,
    partial: Option<PathBuf>,
}

impl Written {
    /// Renames the file into place.
    pub fn publish(mut self) -> Result<PathBuf, Error> {
        if let Some(partial) = self.partial.take() {
            std::fs::rename(&partial, &self.path).map_err(|cause| {
                let _ = std::fs::remove_file(&partial);
                Error::Write { path: self.path.clone(), cause }
            })?;
        }
        Ok(self.path.clone())
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if let Some(p) = self.partial.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for CsvOut {
    fn drop(&mut self) {
        // Not finished: an error happened. Leave no partial file behind.
        if self.w.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

impl std::fmt::Debug for CsvOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvOut").field("path", &self.path).field("rows", &self.rows).finish()
    }
}

/// Writes a whole small file at once, privately and atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    stage_private(path, bytes)?.publish().map(drop)
}

/// Writes a whole small file under a temporary name, to publish with others.
pub fn stage_private(path: &Path, bytes: &[u8]) -> Result<Written, Error> {
    let err = |cause| Error::Write { path: path.to_path_buf(), cause };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| {
        let mut f = private_file(&partial)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(Written { path: path.to_path_buf(), partial: Some(partial) }),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(err(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_numbers_are_not() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+44 1234", "'+44 1234"),
            ("-Smith", "'-Smith"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("-3", "-3"),
            ("+1.5", "+1.5"),
            ("-", "'-"),
            ("-.", "'-."),
            ("Smith", "Smith"),
            ("O'Neil", "O'Neil"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn a_file_appears_only_when_complete_and_is_private() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub").join("out.csv");
        let mut out = CsvOut::create(&path, &["name", "n"]).expect("create");
        out.row(["=1+1", "-2"]).expect("row");
        assert!(!path.exists(), "visible before it is finished");
        out.finish().expect("finish");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "name,n\n'=1+1,-2\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(path.parent().expect("dir")).expect("ls").collect();
        assert_eq!(left.len(), 1, "no partial file is left behind");
    }

    #[test]
    fn an_unfinished_file_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("out.csv");
        {
            let mut out = CsvOut::create(&path, &["a"]).expect("create");
            out.row(["x"]).expect("row");
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }
}
