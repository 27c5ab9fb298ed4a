//! The postcode lookup for eligibility condition A (the child lives in the
//! council's area, judged from the home postcode, not from the school's
//! council).
//!
//! The lookup is loaded from the file councils already have: the ONS
//! National Statistics Postcode Lookup (NSPL) or Postcode Directory
//! (ONSPD), whose columns `pcds`, `laua` and `cty` give the postcode, its
//! district or unitary authority and, in a two-tier area, its county (the
//! education authority); or a plain `postcode,la` file with the DfE
//! three-digit number. Rows for postcodes outside England's councils are
//! counted, not refused; a row that cannot be read goes to the quarantine
//! with its line, column and reason. The service holds the lookup in
//! memory as two sorted arrays (about 10 bytes a postcode: some 27 MB for
//! England's 2.6 million), read when it opens and again after each load;
//! a server started before a load by another process reads it at its next
//! start.

use std::io::Read;
use std::sync::{Arc, RwLock};

use cnis_core::{LaCode, Postcode};
use cnis_store::postcodes::{self as pc, PostcodeLoad};
use cnis_store::register::now_ms;
use serde::Serialize;

use super::{Result, Service, ServiceError};
use cnis_store::audit::Event;

/// Postcodes and their councils, sorted for a binary search.
#[derive(Debug, Default)]
pub struct PostcodeAreas {
    keys: Vec<u64>,
    councils: Vec<u16>,
}

/// A compact postcode (`SW1A1AA`) as a number: each character in base 37,
/// so two postcodes have the same key only when they are the same.
fn key(compact: &str) -> Option<u64> {
    if compact.len() > 8 {
        return None;
    }
    compact.bytes().try_fold(0u64, |k, b| {
        let d = match b {
            b'0'..=b'9' => u64::from(b - b'0') + 1,
            b'A'..=b'Z' => u64::from(b - b'A') + 11,
            _ => return None,
        };
        Some(k * 37 + d)
    })
}

impl PostcodeAreas {
    fn from_rows(rows: &[(String, String)]) -> PostcodeAreas {
        let mut pairs: Vec<(u64, u16)> =
            rows.iter().filter_map(|(p, c)| Some((key(p)?, LaCode::parse(c).ok()?.number()))).collect();
        pairs.sort_by_key(|p| p.0);
        pairs.dedup_by_key(|p| p.0);
        PostcodeAreas { keys: pairs.iter().map(|p| p.0).collect(), councils: pairs.iter().map(|p| p.1).collect() }
    }

    /// The council whose area the postcode is in, if the lookup has it.
    pub fn council_of(&self, postcode: &str) -> Option<LaCode> {
        let p = Postcode::parse(postcode).ok()?;
        let compact: String = p.as_str().chars().filter(|c| *c != ' ').collect();
        let i = self.keys.binary_search(&key(&compact)?).ok()?;
        LaCode::from_number(self.councils[i]).ok()
    }

    /// Postcodes held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the lookup is empty (never loaded).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The lookup as the service shares it between requests.
pub(crate) type SharedAreas = RwLock<Arc<PostcodeAreas>>;

/// A row of a postcode file that was not loaded: where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostcodeFault {
    /// Line in the file (1 is the header).
    pub line: u64,
    /// The column.
    pub field: &'static str,
    /// What is wrong (never the value).
    pub reason: &'static str,
}

/// Which columns hold what, from the header.
struct Columns {
    postcode: usize,
    la: Option<usize>,
    laua: Option<usize>,
    cty: Option<usize>,
}

fn columns(headers: &csv::StringRecord) -> Option<Columns> {
    let find = |names: &[&str]| {
        headers.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
            names.contains(&h.as_str())
        })
    };
    let postcode = find(&["pcds", "pcd", "pcd2", "postcode"])?;
    let c = Columns {
        postcode,
        la: find(&["la", "la_code", "lea"]),
        laua: find(&["laua", "oslaua"]),
        cty: find(&["cty", "oscty"]),
    };
    (c.la.is_some() || c.laua.is_some() || c.cty.is_some()).then_some(c)
}

/// What one row says: a postcode in an English council's area, one
/// outside England, or a fault.
enum RowArea {
    In(String, LaCode),
    Outside,
    Fault(&'static str, &'static str),
}

fn row_area(rec: &csv::StringRecord, c: &Columns) -> RowArea {
    let raw = rec.get(c.postcode).unwrap_or("").trim();
    let Ok(postcode) = Postcode::parse(raw) else {
        return RowArea::Fault("postcode", "Not a postcode in a UK format");
    };
    let compact: String = postcode.as_str().chars().filter(|c| *c != ' ').collect();
    if let Some(i) = c.la {
        return match LaCode::parse(rec.get(i).unwrap_or("").trim()) {
            Ok(la) => RowArea::In(compact, la),
            Err(_) => RowArea::Fault("la", "Not a council's three-digit number"),
        };
    }
    // In a two-tier area the county is the education authority; elsewhere
    // the county column holds a dummy code and the unitary authority,
    // metropolitan district or London borough is.
    let ons = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim).filter(|v| !v.is_empty());
    let county = ons(c.cty).filter(|v| v.starts_with("E10"));
    let code = county.or(ons(c.laua));
    match code {
        None => RowArea::Fault("laua", "No local authority code"),
        Some(code) if !code.starts_with('E') => RowArea::Outside,
        // Dummy codes for postcodes with no authority (the Channel Islands
        // and the Isle of Man are L and M; England's unassigned are E99).
        Some(code) if code.starts_with("E99") => RowArea::Outside,
        Some(code) => match LaCode::parse(code) {
            Ok(la) => RowArea::In(compact, la),
            Err(_) => {
                RowArea::Fault(if county.is_some() { "cty" } else { "laua" }, "Not a council's ONS code cnis knows")
            }
        },
    }
}

/// Records where each `\n` of a stream falls, for [`Lines`].
struct NewlineTap<R> {
    inner: R,
    at: u64,
    newlines: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>,
}

impl<R: Read> Read for NewlineTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seen = self.newlines.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                seen.push_back(self.at + i as u64);
            }
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// The line a record starts on, from its byte offset: one more than the
/// `\n`s before it, and past any blank lines the csv reader skipped (whose
/// start it gives as the record's). The csv reader's own line count is
/// wrong after skipped blank lines and after `\r\n` endings. Offsets only
/// move forward, so each `\n` is looked at once and then dropped.
struct Lines {
    newlines: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>,
    passed: u64,
}

impl Lines {
    fn at(&mut self, byte: u64) -> u64 {
        let mut seen = self.newlines.borrow_mut();
        let mut start = byte;
        while let Some(&n) = seen.front() {
            if n < start {
                self.passed += 1;
                seen.pop_front();
            } else if n == start {
                // A blank line the reader skipped.
                self.passed += 1;
                seen.pop_front();
                start += 1;
            } else {
                break;
            }
        }
        self.passed + 1
    }
}

impl Service {
    /// Replaces the postcode lookup from a file (see the module's words on
    /// its layouts), naming it `source` in the record of loads. Each fault
    /// goes to `fault`; rows read = loaded + duplicates (a postcode given
    /// again, its first council kept) + outside England + faults. Done from the
    /// console by whoever runs the deployment; audited.
    pub fn load_postcode_areas(
        &self,
        source: &str,
        file: impl Read,
        mut fault: impl FnMut(PostcodeFault),
    ) -> Result<PostcodeLoad> {
        // Records end at `\n` only (the `\r` of a Windows ending is trimmed
        // from the last field), and lines are counted from byte offsets.
        let newlines = std::rc::Rc::new(std::cell::RefCell::new(std::collections::VecDeque::new()));
        let tap = NewlineTap { inner: file, at: 0, newlines: newlines.clone() };
        let mut lines = Lines { newlines, passed: 0 };
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .trim(csv::Trim::All)
            .from_reader(tap);
        let headers =
            rdr.headers().map_err(|_| ServiceError::invalid("file", "The first line must name the columns"))?.clone();
        let cols = columns(&headers).ok_or_else(|| {
            ServiceError::invalid(
                "file",
                "The header needs a postcode column (pcds, pcd or postcode) and a council column (la, or laua and cty)",
            )
        })?;
        let mut rows = Vec::new();
        let mut load = PostcodeLoad {
            loaded_at: now_ms(),
            source: source.to_string(),
            rows_read: 0,
            loaded: 0,
            duplicates: 0,
            outside: 0,
            quarantined: 0,
        };
        let mut record = csv::StringRecord::new();
        loop {
            let before = rdr.position().byte();
            match rdr.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = lines.at(e.position().map_or(before, |p| p.byte()));
                    load.rows_read += 1;
                    load.quarantined += 1;
                    fault(PostcodeFault { line, field: "row", reason: "The row could not be read as CSV" });
                    continue;
                }
            }
            // A blank line of a file with Windows endings (its `\r` is a
            // field the trim empties) is not a row.
            if record.iter().all(str::is_empty) {
                continue;
            }
            load.rows_read += 1;
            let line = lines.at(record.position().map_or(before, |p| p.byte()));
            match row_area(&record, &cols) {
                RowArea::In(postcode, la) => rows.push((postcode, la.to_string())),
                RowArea::Outside => load.outside += 1,
                RowArea::Fault(field, reason) => {
                    load.quarantined += 1;
                    fault(PostcodeFault { line, field, reason });
                }
            }
        }
        let in_england = rows.len() as i64;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows.dedup_by(|a, b| a.0 == b.0);
        load.loaded = rows.len() as i64;
        load.duplicates = in_england - load.loaded;
        let event = Event {
            at: load.loaded_at,
            actor: None,
            actor_role: "console".into(),
            council: None,
            action: "postcodes.load".into(),
            outcome: "ok".into(),
            subjects: vec![],
            detail: serde_json::json!({ "source": source, "rows": load.rows_read, "postcodes": load.loaded,
                "duplicates": load.duplicates, "outside": load.outside, "quarantined": load.quarantined }),
        };
        let head = self
            .db
            .write(|tx| {
                pc::replace(tx, &rows, &load)?;
                cnis_store::audit::append(tx, &[event])
            })
            .map_err(ServiceError::from_store)?;
        self.audit.advance(&head);
        let areas = PostcodeAreas::from_rows(&rows);
        *self.areas.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(areas);
        Ok(load)
    }

    /// The council whose area a postcode is in, from the lookup.
    pub fn council_of_postcode(&self, postcode: &str) -> Option<LaCode> {
        self.areas.read().unwrap_or_else(std::sync::PoisonError::into_inner).council_of(postcode)
    }

    /// The latest load of the lookup and how many postcodes it holds.
    pub fn postcode_lookup(&self) -> Result<(Option<PostcodeLoad>, usize)> {
        let latest = self.db.read(pc::latest_load).map_err(ServiceError::from_store)?;
        Ok((latest, self.areas.read().unwrap_or_else(std::sync::PoisonError::into_inner).len()))
    }
}

/// Reads the lookup from the database (when the service opens).
pub(crate) fn read_areas(db: &cnis_store::db::Db) -> Result<SharedAreas> {
    let rows = db.read(pc::all).map_err(ServiceError::from_store)?;
    Ok(RwLock::new(Arc::new(PostcodeAreas::from_rows(&rows))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_for_different_postcodes_and_the_first_council_given_is_kept() {
        let a = key("A11AA").expect("key");
        assert_ne!(a, key("A21AA").expect("key"));
        assert_eq!(key("sw1a1aa"), None, "compact upper case only");
        assert!(key("SW1A1AA").expect("k") != key("SW1A1AB").expect("k"));
        let areas = PostcodeAreas::from_rows(&[
            ("XA12BC".into(), "202".into()),
            ("QB99ZZ".into(), "330".into()),
            ("XA12BC".into(), "203".into()),
        ]);
        assert_eq!(areas.len(), 2);
        assert_eq!(areas.council_of("xa1 2bc").map(|l| l.to_string()).as_deref(), Some("202"), "the first given");
        assert_eq!(areas.council_of("QB9 9ZZ").map(|l| l.to_string()).as_deref(), Some("330"));
        assert_eq!(areas.council_of("QB9 9ZY"), None);
        assert_eq!(areas.council_of("not one"), None);
    }
}
