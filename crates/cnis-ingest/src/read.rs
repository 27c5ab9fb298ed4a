//! The streaming reader shared by every file kind, and the kinds themselves.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::{Months, NaiveDate};
use cnis_core::records::{
    CensusPupil, DeletionGround, EnrolStatus, LinkRecord, PostcodeDeprivation, Regulations, School, Sector,
    SenProvision, Sex, SourceKind, SourceRecord, columns,
};
use cnis_core::schema::{self, CensusField as C, Schema, SourceField as S};
use cnis_core::{ImdDecile, Upn};

use crate::parse::{self, Parsed};
use crate::{ColumnMap, Diagnostic, Error, Outcome, Quarantine};

/// What a load did: `rows_in == accepted + rejected`, always; `faults`
/// counts the faulty fields of rows that loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Data rows read (the header and blank lines are not counted).
    pub rows_in: u64,
    /// Rows handed to the sink.
    pub accepted: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Field faults on rows that were accepted.
    pub faults: u64,
}

/// What reading a file found: the counts, where each field came from, and
/// the file's fingerprint (its size and BLAKE3 hash, taken as it was read,
/// so a file loaded twice can be recognised).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// Rows in, accepted, rejected, faults.
    pub stats: LoadStats,
    /// Which of our fields came from which column.
    pub layout: Layout,
    /// Bytes read.
    pub bytes: u64,
    /// BLAKE3 hash of the file's bytes, in hex.
    pub content_hash: String,
}

/// Which of our fields came from which column of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Each of our fields with the column it was read from (`None`: absent).
    pub fields: Vec<(&'static str, Option<String>)>,
    /// Columns of the file that no field reads.
    pub unused: Vec<String>,
}

impl Layout {
    /// Our fields that no column provides.
    pub fn absent(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().filter(|(_, c)| c.is_none()).map(|(f, _)| *f)
    }

    /// One line per field for the load report: `upn <- PupilUPN`, `sen_need (absent)`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (f, c) in &self.fields {
            match c {
                Some(c) if c.eq_ignore_ascii_case(f) => out.push_str(&format!("  {f} <- {c}\n")),
                Some(c) => out.push_str(&format!("  {f} <- {c}\n")),
                None => out.push_str(&format!("  {f} (absent: no column)\n")),
            }
        }
        if !self.unused.is_empty() {
            out.push_str(&format!("  columns not read: {}\n", self.unused.join(", ")));
        }
        out
    }
}

/// Settings of one load beyond the column map.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// Our field names to the file's columns.
    pub map: Option<&'a ColumnMap>,
    /// The census day (census files): dates of birth are checked against it.
    pub census_date: Option<NaiveDate>,
    /// The regulations the file's bare deletion-ground letters are read
    /// under; without it, each row's deletion date decides.
    pub regulations: Option<Regulations>,
}

impl ReadOptions<'_> {
    fn map(&self) -> &ColumnMap {
        static EMPTY: std::sync::LazyLock<ColumnMap> = std::sync::LazyLock::new(ColumnMap::default);
        self.map.unwrap_or(&EMPTY)
    }
}

/// The kinds of file cnis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A pupil-level school census.
    Census,
    /// A destination source.
    Source(SourceKind),
    /// A schools list.
    Schools,
    /// A postcode deprivation lookup.
    PostcodeDeprivation,
    /// Records offered to linkage.
    Link,
}

const LINK_SCHEMA: Schema = Schema { name: "linkage", columns: &[] };

impl FileKind {
    fn schema(self) -> Schema {
        match self {
            FileKind::Census => schema::CENSUS,
            FileKind::Source(_) => schema::SOURCE,
            FileKind::Schools => schema::SCHOOLS,
            FileKind::PostcodeDeprivation => schema::POSTCODE_DEPRIVATION,
            FileKind::Link => LINK_SCHEMA,
        }
    }

    /// Our field names, in the order of the default columns.
    pub fn fields(self) -> Vec<&'static str> {
        match self {
            FileKind::Link => columns::LINK.to_vec(),
            k => k.schema().fields(),
        }
    }

    /// Default column names.
    pub fn columns(self) -> Vec<&'static str> {
        match self {
            FileKind::Link => columns::LINK.to_vec(),
            k => k.schema().headers(),
        }
    }

    /// Fields whose column must be present: without them no row of the file
    /// could be read as this kind. (Each row is then checked on its own.)
    pub fn required(self) -> &'static [&'static str] {
        match self {
            FileKind::Census => &["upn", "surname", "forename", "dob", "laestab"],
            FileKind::Source(SourceKind::Deletion) => &["deletion_ground", "date"],
            FileKind::Source(SourceKind::SocialCare) => &["status"],
            FileKind::Source(SourceKind::AlternativeProvision) => &["date"],
            FileKind::Source(_) => &[],
            FileKind::Schools => &["urn", "laestab", "phase", "sector"],
            FileKind::PostcodeDeprivation => &["postcode", "imd_decile"],
            FileKind::Link => &["record_id"],
        }
    }
}

/// A field that failed, and why.
#[derive(Debug)]
pub(crate) struct FieldError {
    field: Option<&'static str>,
    reason: String,
}

impl FieldError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        FieldError { field: Some(field), reason: reason.into() }
    }
}

/// Faulty fields of the row being read; the row itself loads.
pub(crate) type Faults = Vec<FieldError>;

/// One row, with access to fields by our field index.
pub(crate) struct Row<'a> {
    rec: &'a csv::ByteRecord,
    idx: &'a [Option<usize>],
    fields: &'a [&'static str],
}

impl Row<'_> {
    /// The trimmed text of field `i`, `None` if its column is absent or empty.
    fn get(&self, i: usize) -> Result<Option<&str>, FieldError> {
        let Some(col) = self.idx[i] else { return Ok(None) };
        let bytes = self.rec.get(col).unwrap_or_default();
        let s = std::str::from_utf8(bytes).map_err(|e| FieldError {
            field: Some(self.fields[i]),
            reason: format!("is not valid UTF-8 (bad byte at position {})", e.valid_up_to() + 1),
        })?;
        let s = s.trim();
        Ok((!s.is_empty()).then_some(s))
    }

    /// A field that must be present and valid, or the row is rejected.
    fn req<T>(&self, i: usize, p: fn(&str) -> Parsed<T>) -> Result<T, FieldError> {
        match self.get(i)? {
            None => Err(FieldError { field: Some(self.fields[i]), reason: "is missing".into() }),
            Some(s) => p(s).map_err(|reason| FieldError { field: Some(self.fields[i]), reason }),
        }
    }

    /// An optional field: a bad value is a fault and is left out.
    fn opt<T>(&self, i: usize, p: fn(&str) -> Parsed<T>, faults: &mut Faults) -> Option<T> {
        self.opt_keep(i, p, faults).0
    }

    /// An optional field whose text is worth keeping when it fails its
    /// check (an identifier or a postcode): `(value, text as written)`.
    fn opt_keep<T>(&self, i: usize, p: fn(&str) -> Parsed<T>, faults: &mut Faults) -> (Option<T>, Option<String>) {
        match self.get(i) {
            Ok(None) => (None, None),
            Ok(Some(s)) => match p(s) {
                Ok(v) => (Some(v), None),
                Err(reason) => {
                    faults.push(FieldError { field: Some(self.fields[i]), reason });
                    (None, Some(parse::compact(s)))
                }
            },
            Err(e) => {
                faults.push(e);
                (None, None)
            }
        }
    }

    /// Free text: bytes that are not UTF-8 are replaced (and reported),
    /// since a name with one bad byte still names the child.
    fn text(&self, i: usize, faults: &mut Faults) -> Option<String> {
        let col = self.idx[i]?;
        let bytes = self.rec.get(col).unwrap_or_default();
        let s = match std::str::from_utf8(bytes) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(e) => {
                faults.push(FieldError {
                    field: Some(self.fields[i]),
                    reason: format!(
                        "is not valid UTF-8 (bad byte at position {}); kept with it replaced",
                        e.valid_up_to() + 1
                    ),
                });
                String::from_utf8_lossy(bytes)
            }
        };
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_string())
    }
}

fn raw_text(rec: &csv::ByteRecord) -> String {
    let mut out = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let _ = w.write_byte_record(rec);
    }
    let mut s = String::with_capacity(out.len());
    for chunk in out.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02X}"));
        }
    }
    s.trim_end_matches(['\n', '\r']).to_string()
}

/// Counts bytes read, for the progress bar, and notes where the line ends
/// are, for line numbers: the CSV reader's own line count skips blank lines
/// and knows nothing of lone carriage returns. A line ends at `\n`, `\r\n`
/// or a `\r` on its own (old Mac files).
struct Counting<R> {
    inner: R,
    state: std::rc::Rc<std::cell::RefCell<Lines>>,
}

#[derive(Default)]
struct Lines {
    /// Bytes read so far.
    read: u64,
    /// Hash of the bytes read so far.
    hash: blake3::Hasher,
    /// Line terminators read but not yet passed by a record: (first byte, last byte).
    pending: std::collections::VecDeque<(u64, u64)>,
    /// Offset of a `\r` whose next byte has not been seen yet.
    cr: Option<u64>,
    /// Line ends passed so far.
    passed: u64,
}

impl Lines {
    /// The line (1-based) on which the record starting at `byte` starts.
    fn line_at(&mut self, mut byte: u64) -> u64 {
        while let Some(&(first, last)) = self.pending.front() {
            if first > byte {
                break;
            }
            // A line end before the record, or one the record is reported
            // as starting on: the reader reports a record after blank lines
            // as starting at the first blank one, and may report one after
            // `\r\n` as starting at the `\n`. Step over them.
            byte = byte.max(last + 1);
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }

    fn end_of_input(&mut self) {
        if let Some(at) = self.cr.take() {
            self.pending.push_back((at, at));
        }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut st = self.state.borrow_mut();
        if n == 0 {
            st.end_of_input();
            return Ok(0);
        }
        let start = st.read;
        st.hash.update(&buf[..n]);
        // Only line-end bytes matter: jump from one to the next.
        let mut from = 0;
        if let Some(cr) = st.cr.take() {
            // A `\r` at the end of the last buffer: is it `\r\n`?
            if buf[0] == b'\n' {
                st.pending.push_back((cr, start));
                from = 1;
            } else {
                st.pending.push_back((cr, cr));
            }
        }
        for i in memchr::memchr2_iter(b'\n', b'\r', &buf[from..n]).map(|i| i + from) {
            let at = start + i as u64;
            if buf[i] == b'\n' {
                // A `\n` right after a `\r` was taken with it.
                if i > 0 && buf[i - 1] == b'\r' {
                    continue;
                }
                st.pending.push_back((at, at));
            } else if i + 1 < n {
                if buf[i + 1] == b'\n' {
                    st.pending.push_back((at, at + 1));
                } else {
                    st.pending.push_back((at, at));
                }
            } else {
                st.cr = Some(at);
            }
        }
        st.read += n as u64;
        Ok(n)
    }
}

/// Where each of our fields is in a file with this header.
fn layout(
    path: &Path,
    kind: FileKind,
    map: &ColumnMap,
    header: &csv::ByteRecord,
) -> Result<(Vec<Option<usize>>, Layout), Error> {
    let fields = kind.fields();
    let defaults = kind.columns();
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    for (j, n) in lower.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
        if let Some(i) = lower[..j].iter().position(|m| m == n) {
            return Err(Error::DuplicateColumn {
                path: path.to_path_buf(),
                column: names[j].clone(),
                first: i + 1,
                second: j + 1,
            });
        }
    }
    let mut idx = Vec::with_capacity(fields.len());
    for (f, default) in fields.iter().zip(&defaults) {
        let found = match map.mapped(f) {
            Some(col) => {
                let at = lower.iter().position(|n| *n == col.to_ascii_lowercase());
                if at.is_none() {
                    return Err(Error::MappedColumnMissing {
                        path: path.to_path_buf(),
                        field: f.to_string(),
                        column: col.to_string(),
                        columns: names.join(", "),
                    });
                }
                at
            }
            None => lower.iter().position(|n| *n == default.to_ascii_lowercase()),
        };
        idx.push(found);
    }
    for f in kind.required() {
        let i = fields.iter().position(|x| x == f).unwrap_or(0);
        if idx[i].is_none() {
            let column = map.mapped(f).unwrap_or(defaults[i]).to_string();
            return Err(Error::MissingColumn { path: path.to_path_buf(), field: f.to_string(), column });
        }
    }
    let report = Layout {
        fields: fields.iter().zip(&idx).map(|(f, i)| (*f, i.map(|i| names[i].clone()))).collect(),
        unused: names
            .iter()
            .enumerate()
            .filter(|(j, n)| !n.is_empty() && !idx.contains(&Some(*j)))
            .map(|(_, n)| n.clone())
            .collect(),
    };
    Ok((idx, report))
}

/// A record that spans more lines than this is a quote left open.
const MAX_LINES_IN_A_RECORD: usize = 8;

/// Line breaks inside a record's fields (only a quoted field can hold one).
fn breaks_inside(rec: &csv::ByteRecord) -> usize {
    let b = rec.as_slice();
    if !b.iter().any(|&c| c == b'\n' || c == b'\r') {
        return 0;
    }
    b.iter().enumerate().filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n'))).count()
}

/// What the sink says of a parsed row.
pub(crate) enum Verdict {
    Accept,
    Reject(FieldError),
}

/// Reads `path` as `kind`, parsing each row with `parse_row` and handing
/// good records to `sink` with their line number.
#[allow(clippy::too_many_arguments)]
fn read_file<T>(
    path: &Path,
    kind: FileKind,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    progress: &mut dyn FnMut(u64),
    parse_row: impl Fn(&Row, &mut Faults) -> Result<T, FieldError>,
    mut sink: impl FnMut(T, u64) -> Result<Verdict, String>,
) -> Result<FileReport, Error> {
    let fields = kind.fields();
    map.check(&fields)?;
    let io = |source| Error::Io { path: path.to_path_buf(), cause: source };
    let file = File::open(path).map_err(io)?;
    let counter = std::rc::Rc::new(std::cell::RefCell::new(Lines::default()));
    let reader = Counting { inner: BufReader::with_capacity(1 << 20, file), state: counter.clone() };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(reader);
    let file_name = path.display().to_string();

    let mut header = csv::ByteRecord::new();
    let has_header = rdr.read_byte_record(&mut header).map_err(|e| csv_error(path, &e))?;
    if !has_header {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    if breaks_inside(&header) > 0 {
        return Err(Error::UnclosedQuote {
            path: path.to_path_buf(),
            line: 1,
            through: 1 + breaks_inside(&header) as u64,
        });
    }
    let (idx, report) = layout(path, kind, map, &header)?;
    let ncols = header.len();

    let mut stats = LoadStats::default();
    let mut rec = csv::ByteRecord::new();
    let mut faults: Faults = Vec::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = counter.borrow_mut().line_at(rec.position().map_or(0, |p| p.byte()));
        // A blank line is not a row.
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let inside = breaks_inside(&rec);
        if inside > 0 && (rec.len() != ncols || inside > MAX_LINES_IN_A_RECORD) {
            return Err(Error::UnclosedQuote { path: path.to_path_buf(), line, through: line + inside as u64 });
        }
        stats.rows_in += 1;
        faults.clear();
        let result = if rec.len() != ncols {
            Err(FieldError { field: None, reason: format!("has {} columns, the header has {ncols}", rec.len()) })
        } else {
            parse_row(&Row { rec: &rec, idx: &idx, fields: &fields }, &mut faults)
        };
        let verdict = match result {
            Ok(value) => {
                sink(value, line).map_err(|message| Error::Sink { path: path.to_path_buf(), line, message })?
            }
            Err(e) => Verdict::Reject(e),
        };
        match verdict {
            Verdict::Accept => {
                stats.accepted += 1;
                if !faults.is_empty() {
                    let raw = raw_text(&rec);
                    for e in faults.drain(..) {
                        stats.faults += 1;
                        quarantine.push(Diagnostic {
                            file: file_name.clone(),
                            line,
                            field: e.field.map(str::to_string),
                            outcome: Outcome::Kept,
                            reason: e.reason,
                            raw: raw.clone(),
                        })?;
                    }
                }
            }
            Verdict::Reject(e) => {
                stats.rejected += 1;
                quarantine.push(Diagnostic {
                    file: file_name.clone(),
                    line,
                    field: e.field.map(str::to_string),
                    outcome: Outcome::Rejected,
                    reason: e.reason,
                    raw: raw_text(&rec),
                })?;
            }
        }
        if stats.rows_in.is_multiple_of(16_384) {
            progress(counter.borrow().read);
        }
    }
    // Read to the end so the hash covers the whole file.
    let mut rest = rdr.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink())
        .map_err(|source| Error::Io { path: path.to_path_buf(), cause: source })?;
    let (bytes, content_hash) = {
        let c = counter.borrow();
        (c.read, c.hash.finalize().to_hex().to_string())
    };
    progress(bytes);
    quarantine.finish()?;
    debug_assert_eq!(stats.rows_in, stats.accepted + stats.rejected);
    tracing::info!(file = %file_name, rows_in = stats.rows_in, accepted = stats.accepted, rejected = stats.rejected, faults = stats.faults, "loaded");
    Ok(FileReport { stats, layout: report, bytes, content_hash })
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Io(io) => {
            Error::Io { path: path.to_path_buf(), cause: std::io::Error::new(io.kind(), io.to_string()) }
        }
        _ => Error::Csv { path: path.to_path_buf(), line, message: e.to_string() },
    }
}

/// Reads a pupil-level census.
///
/// Dual registration is one child: a main (`M`) row and subsidiary (`S`)
/// rows with the same UPN load in any order, and tracking takes the school
/// and attendance from the main one. Only a second main registration (two
/// `C`/`M` rows with one UPN) is a duplicate (DfE rule 1520), rejected
/// naming the line of the first. A row whose UPN fails its check loads, the
/// UPN kept as written: the child is on roll.
pub fn read_census(
    path: &Path,
    opts: &ReadOptions,
    quarantine: &mut Quarantine,
    progress: &mut dyn FnMut(u64),
    mut sink: impl FnMut(CensusPupil) -> Result<(), String>,
) -> Result<FileReport, Error> {
    // UPN -> (line of its main registration, if seen yet; whether a
    // subsidiary row has been seen).
    let mut seen: rustc_hash::FxHashMap<Upn, (u64, bool)> = rustc_hash::FxHashMap::default();
    let census_date = opts.census_date;
    read_file(
        path,
        FileKind::Census,
        opts.map(),
        quarantine,
        progress,
        |r, f| parse_census(r, f, census_date),
        |p: CensusPupil, line| {
            if let Some(upn) = p.upn {
                let main = EnrolStatus::is_main(p.enrol_status);
                match seen.get_mut(&upn) {
                    None => {
                        seen.insert(upn, if main { (line, false) } else { (0, true) });
                    }
                    Some((first, _)) if main && *first != 0 => {
                        let both_m = p.enrol_status == Some(EnrolStatus::Main);
                        let reason = if both_m {
                            format!(
                                "is a second main registration (M) for the UPN on line {first}: one school must return S (rule 1520)"
                            )
                        } else {
                            format!("is a duplicate of the UPN on line {first} (rule 1520)")
                        };
                        return Ok(Verdict::Reject(FieldError::new("upn", reason)));
                    }
                    Some((first, sub)) => {
                        if main {
                            *first = line;
                        } else {
                            *sub = true;
                        }
                    }
                }
            }
            sink(p).map(|()| Verdict::Accept)
        },
    )
}

fn parse_census(r: &Row, f: &mut Faults, census_date: Option<NaiveDate>) -> Result<CensusPupil, FieldError> {
    let (upn, upn_text) = r.opt_keep(C::Upn.index(), parse::upn, f);
    let surname = r.text(C::Surname.index(), f);
    let forename = r.text(C::Forename.index(), f);
    let mut dob = r.opt(C::Dob.index(), parse::date, f);
    if let (Some(d), Some(census)) = (dob, census_date)
        && let Some(reason) = implausible_age(d, census)
    {
        f.push(FieldError::new("dob", reason));
        dob = None;
    }
    if upn.is_none() && (surname.is_none() || forename.is_none() || dob.is_none()) {
        let why = if upn_text.is_some() { "fails its check" } else { "is missing" };
        return Err(FieldError::new(
            "upn",
            format!("{why}, and without surname, forename and date of birth the row cannot identify a child"),
        ));
    }
    let mut p = CensusPupil {
        upn,
        upn_text,
        former_upn: r.opt(C::FormerUpn.index(), parse::upn, f),
        surname,
        forename,
        middle_names: r.text(C::MiddleNames.index(), f),
        former_surname: r.text(C::FormerSurname.index(), f),
        dob,
        sex: r.opt(C::Sex.index(), parse::sex, f).unwrap_or(Sex::Unknown),
        ethnicity: r.text(C::Ethnicity.index(), f),
        laestab: r.opt(C::Laestab.index(), parse::laestab, f),
        enrol_status: r.opt(C::EnrolStatus.index(), parse::enrol_status, f),
        entry_date: r.opt(C::EntryDate.index(), parse::date, f),
        nc_year_actual: r.opt(C::NcYearActual.index(), parse::nc_year, f),
        address_line1: r.text(C::AddressLine1.index(), f),
        town: r.text(C::Town.index(), f),
        postcode: None,
        postcode_text: None,
        fsm_eligible: r.opt(C::FsmEligible.index(), parse::flag, f).unwrap_or(false),
        sen_provision: r.opt(C::SenProvision.index(), parse::sen, f).unwrap_or(SenProvision::None),
        sen_need: r.text(C::SenNeed.index(), f),
        sessions_possible: r.opt(C::SessionsPossible.index(), parse::sessions, f),
        sessions_authorised: r.opt(C::SessionsAuthorised.index(), parse::sessions, f),
        sessions_unauthorised: r.opt(C::SessionsUnauthorised.index(), parse::sessions, f),
    };
    (p.postcode, p.postcode_text) = r.opt_keep(C::Postcode.index(), parse::postcode, f);
    if p.surname.is_none() {
        f.push(FieldError::new("surname", "is missing"));
    }
    if p.forename.is_none() {
        f.push(FieldError::new("forename", "is missing"));
    }
    if p.laestab.is_none() && r.get(C::Laestab.index()).ok().flatten().is_none() {
        f.push(FieldError::new("laestab", "is missing"));
    }
    if p.upn.is_some() && p.former_upn == p.upn {
        f.push(FieldError::new("former_upn", "is the same as the UPN"));
        p.former_upn = None;
    }
    if let (Some(entry), Some(census)) = (p.entry_date, census_date)
        && entry > census
    {
        f.push(FieldError::new("entry_date", "is after the census day"));
        p.entry_date = None;
    }
    if let Some(possible) = p.sessions_possible {
        let absent = u32::from(p.sessions_authorised.unwrap_or(0)) + u32::from(p.sessions_unauthorised.unwrap_or(0));
        if absent > u32::from(possible) {
            f.push(FieldError::new(
                "sessions_possible",
                "is less than the sessions of absence recorded; sessions left out",
            ));
            (p.sessions_possible, p.sessions_authorised, p.sessions_unauthorised) = (None, None, None);
        }
    }
    Ok(p)
}

/// A child on a school census is between 2 and 20 years old (nursery to
/// the oldest sixth-former); a date of birth outside that is a typing error.
fn implausible_age(dob: NaiveDate, census: NaiveDate) -> Option<&'static str> {
    let at_most = census.checked_sub_months(Months::new(2 * 12))?;
    let at_least = census.checked_sub_months(Months::new(21 * 12))?;
    if dob > at_most {
        Some("makes the child younger than 2 on the census day")
    } else if dob <= at_least {
        Some("makes the child 21 or older on the census day")
    } else {
        None
    }
}

/// Reads a destination source of the given kind.
///
/// Every field is optional: a row loads if it can identify a child (a UPN
/// that passes its check, the council's own id, or two of forename, surname
/// and date of birth); each bad or missing field it needs is reported as a
/// fault. A deletion ground is read under the regulations the text names,
/// else those `opts` state for the file, else those in force on the row's
/// date.
pub fn read_sources(
    path: &Path,
    kind: SourceKind,
    opts: &ReadOptions,
    quarantine: &mut Quarantine,
    progress: &mut dyn FnMut(u64),
    mut sink: impl FnMut(SourceRecord) -> Result<(), String>,
) -> Result<FileReport, Error> {
    let stated = opts.regulations;
    let parse_row = |r: &Row, f: &mut Faults| parse_source(r, f, kind, stated);
    read_file(path, FileKind::Source(kind), opts.map(), quarantine, progress, parse_row, |rec, _| {
        sink(rec).map(|()| Verdict::Accept)
    })
}

fn parse_source(
    r: &Row,
    f: &mut Faults,
    kind: SourceKind,
    stated: Option<Regulations>,
) -> Result<SourceRecord, FieldError> {
    let mut rec = SourceRecord {
        kind,
        la: r.opt(S::La.index(), parse::la, f),
        laestab: r.opt(S::Laestab.index(), parse::laestab, f),
        urn: r.opt(S::Urn.index(), parse::urn, f),
        local_id: r.text(S::LocalId.index(), f),
        surname: r.text(S::Surname.index(), f),
        forename: r.text(S::Forename.index(), f),
        middle_names: r.text(S::MiddleNames.index(), f),
        dob: r.opt(S::Dob.index(), parse::date, f),
        sex: r.opt(S::Sex.index(), parse::sex, f),
        date: r.opt(S::Date.index(), parse::date, f),
        end_date: r.opt(S::EndDate.index(), parse::date, f),
        destination: r.opt(S::Destination.index(), parse::destination, f),
        provider: r.text(S::Provider.index(), f),
        hours: r.opt(S::Hours.index(), parse::hours, f),
        ..SourceRecord::default()
    };
    (rec.upn, rec.upn_text) = r.opt_keep(S::Upn.index(), parse::upn, f);
    (rec.postcode, rec.postcode_text) = r.opt_keep(S::Postcode.index(), parse::postcode, f);
    let names_and_dob =
        [rec.forename.is_some(), rec.surname.is_some(), rec.dob.is_some()].into_iter().filter(|&x| x).count();
    if rec.upn.is_none() && rec.local_id.is_none() && names_and_dob < 2 {
        return Err(FieldError::new(
            if rec.upn_text.is_some() { "upn" } else { "surname" },
            "the row cannot identify a child: it needs a UPN that passes its check, the council's own id, or two of forename, surname and date of birth",
        ));
    }
    if let (Some(dob), Some(date)) = (rec.dob, rec.date)
        && dob > date
    {
        f.push(FieldError::new("dob", "is after the row's date; left out"));
        rec.dob = None;
    }
    if let (Some(start), Some(end)) = (rec.date, rec.end_date)
        && end < start
    {
        f.push(FieldError::new("end_date", "is before the start date; left out"));
        rec.end_date = None;
    }
    let status = r.get(S::Status.index()).unwrap_or(None);
    match kind {
        SourceKind::Deletion => {
            rec.deletion_ground = r.opt(S::DeletionGround.index(), parse::ground, f).and_then(|text| {
                let ground = DeletionGround::resolve(text, stated, rec.date);
                if ground.is_none() {
                    f.push(FieldError::new(
                        "deletion_ground",
                        "is a bare letter with no date, so which regulations apply is unknown (state them with --regulations)",
                    ));
                }
                if let (Some(g), Some(named), Some(date)) = (ground, text.regulations, rec.date)
                    && Regulations::in_force_on(date) != named
                {
                    f.push(FieldError::new(
                        "deletion_ground",
                        format!(
                            "names the {} Regulations, which were not in force on the deletion date; read as written",
                            g.regulations().year()
                        ),
                    ));
                }
                ground
            });
            if rec.deletion_ground.is_none() && r.get(S::DeletionGround.index()).ok().flatten().is_none() {
                f.push(FieldError::new("deletion_ground", "is missing"));
            }
            if rec.date.is_none() && r.get(S::Date.index()).ok().flatten().is_none() {
                f.push(FieldError::new("date", "is missing: the deletion date decides which regulations apply"));
            }
        }
        SourceKind::Cme => {
            rec.cme_status =
                status.and_then(|s| parse::cme_status(s).map_err(|e| f.push(FieldError::new("status", e))).ok());
        }
        SourceKind::SocialCare => {
            rec.social_care =
                status.and_then(|s| parse::social_care(s).map_err(|e| f.push(FieldError::new("status", e))).ok());
            if status.is_none() {
                f.push(FieldError::new("status", "is missing: the child is known to social care, status unknown"));
            }
        }
        SourceKind::IndependentRoll => {
            if rec.laestab.is_none() && rec.urn.is_none() {
                f.push(FieldError::new("laestab", "is missing and so is the URN: the school is unknown"));
            }
        }
        SourceKind::AlternativeProvision => {
            if rec.date.is_none() {
                f.push(FieldError::new("date", "is missing: the placement start is unknown"));
            }
        }
        SourceKind::HomeEducation => {}
    }
    Ok(rec)
}

/// Reads a schools list.
pub fn read_schools(
    path: &Path,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    mut sink: impl FnMut(School) -> Result<(), String>,
) -> Result<FileReport, Error> {
    use cnis_core::schema::SchoolField as F;
    let parse_row = |r: &Row, f: &mut Faults| -> Result<School, FieldError> {
        let sector = r.req(F::Sector.index(), |s| match s.to_ascii_lowercase().as_str() {
            "independent" | "independent school" => Ok(Sector::Independent),
            "state-funded" | "state funded" | "state" | "maintained" | "academy" => Ok(Sector::StateFunded),
            _ => Err("is not a sector (state-funded or independent)".to_string()),
        })?;
        Ok(School {
            urn: r.req(F::Urn.index(), parse::urn)?,
            laestab: r.req(F::Laestab.index(), parse::laestab)?,
            name: r.text(F::Name.index(), f).unwrap_or_default(),
            phase: r.req(F::Phase.index(), parse::text)?,
            sector,
        })
    };
    read_file(path, FileKind::Schools, map, quarantine, &mut |_| {}, parse_row, |s, _| {
        sink(s).map(|()| Verdict::Accept)
    })
}

/// Reads a postcode deprivation lookup.
pub fn read_postcode_deprivation(
    path: &Path,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    mut sink: impl FnMut(PostcodeDeprivation) -> Result<(), String>,
) -> Result<FileReport, Error> {
    use cnis_core::schema::PostcodeField as F;
    let parse_row = |r: &Row, f: &mut Faults| -> Result<PostcodeDeprivation, FieldError> {
        Ok(PostcodeDeprivation {
            postcode: r.req(F::Postcode.index(), parse::postcode)?,
            lsoa: r.text(F::Lsoa.index(), f).unwrap_or_default(),
            imd_decile: r.req(F::ImdDecile.index(), |s| {
                s.trim().parse::<u8>().ok().and_then(ImdDecile::new).ok_or_else(|| "is not a decile (1-10)".to_string())
            })?,
        })
    };
    read_file(path, FileKind::PostcodeDeprivation, map, quarantine, &mut |_| {}, parse_row, |p, _| {
        sink(p).map(|()| Verdict::Accept)
    })
}

/// Reads records for linkage. `default_source` names the source when the
/// file has no `source` column (or the cell is empty).
pub fn read_link_records(
    path: &Path,
    default_source: &str,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    progress: &mut dyn FnMut(u64),
    mut sink: impl FnMut(LinkRecord) -> Result<(), String>,
) -> Result<FileReport, Error> {
    let parse_row = |r: &Row, f: &mut Faults| parse_link(r, f, default_source);
    read_file(path, FileKind::Link, map, quarantine, progress, parse_row, |rec, _| sink(rec).map(|()| Verdict::Accept))
}

/// Reads a whole linkage file on every core: the file is cut into chunks,
/// each chunk's records go to a sink of its own from `make_sink` (so a sink
/// can build per-thread state), and the sinks come back in file order.
pub fn read_link_records_chunked<S: Send>(
    path: &Path,
    default_source: &str,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    make_sink: impl Fn() -> S + Sync,
    push: impl Fn(&mut S, LinkRecord) + Sync,
) -> Result<(Vec<S>, FileReport), Error> {
    read_file_parallel(path, FileKind::Link, map, quarantine, |r, f| parse_link(r, f, default_source), make_sink, push)
}

fn parse_link(r: &Row, f: &mut Faults, default_source: &str) -> Result<LinkRecord, FieldError> {
    let (upn, upn_text) = r.opt_keep(2, parse::upn, f);
    Ok(LinkRecord {
        source: r.text(0, f).unwrap_or_else(|| default_source.to_string()),
        record_id: r.req(1, parse::text)?,
        upn,
        upn_text,
        former_upn: r.opt(3, parse::upn, f),
        nhs_number: r.opt(4, parse::nhs, f),
        forename: r.text(5, f),
        middle_names: r.text(6, f),
        surname: r.text(7, f),
        former_surname: r.text(8, f),
        dob: r.opt(9, parse::date, f),
        sex: r.opt(10, parse::sex, f),
        postcode: r.opt(11, parse::loose_postcode, f),
        address: r.text(12, f),
        truth: r.text(13, f),
        case_id: r.text(14, f),
    })
}

/// Splits one line of a CSV file into its fields as the csv crate reads
/// them, for a line whose quoting is plain: a quoted field opens at the start
/// of a field and closes at its end, with `""` for a quote inside it. Returns
/// false for any other line (a quote inside an unquoted field, text after a
/// closing quote, a quote still open at the line's end: a field that goes
/// on to the next line), which only the streaming reader reads right.
fn split_line(line: &[u8], rec: &mut csv::ByteRecord) -> bool {
    rec.clear();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if memchr::memchr(b'"', line).is_none() {
        for field in line.split(|&b| b == b',') {
            rec.push_field(field);
        }
        return true;
    }
    let mut field = Vec::new();
    let mut i = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            field.clear();
            i += 1;
            loop {
                let Some(q) = memchr::memchr(b'"', &line[i..]) else { return false };
                field.extend_from_slice(&line[i..i + q]);
                i += q + 1;
                if line.get(i) == Some(&b'"') {
                    field.push(b'"');
                    i += 1;
                } else {
                    break;
                }
            }
            rec.push_field(&field);
            match line.get(i) {
                None => return true,
                Some(b',') => i += 1,
                Some(_) => return false,
            }
        } else {
            let end = memchr::memchr(b',', &line[i..]).map_or(line.len(), |p| i + p);
            let f = &line[i..end];
            if memchr::memchr(b'"', f).is_some() {
                return false;
            }
            rec.push_field(f);
            if end == line.len() {
                return true;
            }
            i = end + 1;
        }
    }
}

/// Reads a whole file on every core. The file is cut at line ends into
/// chunks parsed side by side, each line one record, as long as every line's
/// quoting is plain ([`split_line`]): then no field spans lines, so every cut
/// falls between records (a cut inside a quoted field would leave the line
/// before it with its quote open). A file with a lone carriage return, or
/// any line that is not plain, is read by the ordinary streaming reader
/// instead. Rows come back in file order, and problems go to the quarantine
/// in file order, with the same lines and reasons either way.
fn read_file_parallel<T, S: Send>(
    path: &Path,
    kind: FileKind,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    parse_row: impl Fn(&Row, &mut Faults) -> Result<T, FieldError> + Sync,
    make_sink: impl Fn() -> S + Sync,
    push: impl Fn(&mut S, T) + Sync,
) -> Result<(Vec<S>, FileReport), Error> {
    let fields = kind.fields();
    map.check(&fields)?;
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), cause: source })?;
    let lone_cr = memchr::memchr_iter(b'\r', &bytes).any(|i| bytes.get(i + 1) != Some(&b'\n'));
    let streaming = |quarantine: &mut Quarantine| {
        let mut sink = make_sink();
        let report = read_file(path, kind, map, quarantine, &mut |_| {}, &parse_row, |v, _| {
            push(&mut sink, v);
            Ok(Verdict::Accept)
        })?;
        Ok((vec![sink], report))
    };
    if lone_cr {
        return streaming(quarantine);
    }
    if bytes.is_empty() {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    let header_end = memchr::memchr(b'\n', &bytes).unwrap_or(bytes.len());
    let mut header = csv::ByteRecord::new();
    if !split_line(&bytes[..header_end], &mut header) {
        return streaming(quarantine);
    }
    let (idx, layout) = layout(path, kind, map, &header)?;
    let ncols = header.len();
    let body = bytes.get(header_end + 1..).unwrap_or_default();
    // Cut the body into one chunk per core at line ends, noting the line
    // each chunk starts on (the header is line 1).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    let mut cuts = vec![0usize];
    for k in 1..threads {
        let at = body.len() * k / threads;
        let next = body[at..].iter().position(|&b| b == b'\n').map_or(body.len(), |p| at + p + 1);
        if next > *cuts.last().unwrap_or(&0) && next < body.len() {
            cuts.push(next);
        }
    }
    cuts.push(body.len());
    let mut first_line = vec![2u64];
    for w in cuts.windows(2).take(cuts.len().saturating_sub(2)) {
        let lines = body[w[0]..w[1]].iter().filter(|&&b| b == b'\n').count() as u64;
        first_line.push(first_line.last().copied().unwrap_or(2) + lines);
    }
    struct Chunk<S> {
        sink: S,
        stats: LoadStats,
        problems: Vec<(u64, Outcome, FieldError, String)>,
    }
    // Set by the first line whose quoting is not plain: every chunk stops,
    // and the file is read again by the streaming reader.
    let not_plain = std::sync::atomic::AtomicBool::new(false);
    let chunks: Vec<Chunk<S>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .zip(&first_line)
            .map(|(w, &start)| {
                let (idx, parse_row, make_sink, push, fields, not_plain) =
                    (&idx, &parse_row, &make_sink, &push, &fields, &not_plain);
                let chunk = &body[w[0]..w[1]];
                scope.spawn(move || {
                    let mut c = Chunk { sink: make_sink(), stats: LoadStats::default(), problems: Vec::new() };
                    let mut rec = csv::ByteRecord::new();
                    let mut faults = Vec::new();
                    for (k, line) in chunk.split(|&b| b == b'\n').enumerate() {
                        if !split_line(line, &mut rec) {
                            not_plain.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        if not_plain.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        // A blank line is not a row.
                        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
                            continue;
                        }
                        let at = start + k as u64;
                        c.stats.rows_in += 1;
                        faults.clear();
                        let result = if rec.len() != ncols {
                            Err(FieldError {
                                field: None,
                                reason: format!("has {} columns, the header has {ncols}", rec.len()),
                            })
                        } else {
                            parse_row(&Row { rec: &rec, idx, fields }, &mut faults)
                        };
                        match result {
                            Ok(v) => {
                                c.stats.accepted += 1;
                                push(&mut c.sink, v);
                                if !faults.is_empty() {
                                    let raw = raw_text(&rec);
                                    for e in faults.drain(..) {
                                        c.stats.faults += 1;
                                        c.problems.push((at, Outcome::Kept, e, raw.clone()));
                                    }
                                }
                            }
                            Err(e) => {
                                c.stats.rejected += 1;
                                c.problems.push((at, Outcome::Rejected, e, raw_text(&rec)));
                            }
                        }
                    }
                    c
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    if not_plain.into_inner() {
        drop(chunks);
        return streaming(quarantine);
    }
    let file_name = path.display().to_string();
    let mut stats = LoadStats::default();
    let mut out = Vec::with_capacity(chunks.len());
    for c in chunks {
        stats.rows_in += c.stats.rows_in;
        stats.accepted += c.stats.accepted;
        stats.rejected += c.stats.rejected;
        stats.faults += c.stats.faults;
        out.push(c.sink);
        for (line, outcome, e, raw) in c.problems {
            quarantine.push(Diagnostic {
                file: file_name.clone(),
                line,
                field: e.field.map(str::to_string),
                outcome,
                reason: e.reason,
                raw,
            })?;
        }
    }
    quarantine.finish()?;
    tracing::info!(file = %file_name, rows_in = stats.rows_in, accepted = stats.accepted, rejected = stats.rejected, faults = stats.faults, "loaded");
    let content_hash = blake3::hash(&bytes).to_hex().to_string();
    Ok((out, FileReport { stats, layout, bytes: bytes.len() as u64, content_hash }))
}

#[cfg(test)]
mod tests {
    use super::split_line;

    fn split(line: &str) -> Option<Vec<String>> {
        let mut rec = csv::ByteRecord::new();
        split_line(line.as_bytes(), &mut rec)
            .then(|| rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
    }

    /// What the csv crate makes of one line, for comparison.
    fn csv_crate(line: &str) -> Vec<String> {
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line.as_bytes());
        let mut rec = csv::StringRecord::new();
        assert!(r.read_record(&mut rec).expect("csv"));
        rec.iter().map(str::to_string).collect()
    }

    #[test]
    fn plain_lines_split_as_the_csv_crate_reads_them() {
        for line in [
            "a,b,c",
            "a,,c,",
            "\"Flat 5, 1 High Street\",x",
            "x,\"Flat 5, 1 High Street\"",
            "\"\",\"say \"\"hello\"\"\",\"\"\"\"",
            "a,\"b\"\r",
            " spaced , out ",
        ] {
            let ours = split(line).unwrap_or_else(|| panic!("{line:?} is plain"));
            assert_eq!(ours, csv_crate(line), "{line:?}");
        }
        assert_eq!(split("\"a,b\",c").expect("plain"), ["a,b", "c"]);
    }

    #[test]
    fn lines_that_are_not_plain_are_refused() {
        for line in ["a\"b,c", "\"open,c", "\"ab\"c,d", "a, \"b\"", "\"a\"\"", "x,\"Flat 1,"] {
            assert!(split(line).is_none(), "{line:?}");
        }
    }
}
