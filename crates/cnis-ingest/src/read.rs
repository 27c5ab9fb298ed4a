//! The streaming reader shared by every file kind, and the kinds themselves.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use cnis_core::records::{
    CensusPupil, LinkRecord, PostcodeDeprivation, School, Sector, SourceKind, SourceRecord, columns,
};
use cnis_core::{ImdDecile, Upn};

use crate::parse::{self, Parsed};
use crate::{ColumnMap, Diagnostic, Error, Quarantine};

/// What a load did: `rows_in == accepted + quarantined`, always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Data rows read (the header is not counted).
    pub rows_in: u64,
    /// Rows handed to the sink.
    pub accepted: u64,
    /// Rows sent to the quarantine.
    pub quarantined: u64,
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

impl FileKind {
    /// Our field names, in the order of the default columns.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            FileKind::Census => CENSUS_FIELDS,
            FileKind::Source(_) => SOURCE_FIELDS,
            FileKind::Schools => &["urn", "laestab", "name", "phase", "sector"],
            FileKind::PostcodeDeprivation => &["postcode", "lsoa", "imd_decile"],
            FileKind::Link => columns::LINK,
        }
    }
    /// Default column names.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            FileKind::Census => columns::CENSUS,
            FileKind::Source(_) => columns::SOURCE,
            FileKind::Schools => columns::SCHOOLS,
            FileKind::PostcodeDeprivation => columns::POSTCODE_DEPRIVATION,
            FileKind::Link => columns::LINK,
        }
    }
    /// Fields whose column must be present.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            FileKind::Census => &["upn", "surname", "forename", "dob", "sex", "laestab"],
            FileKind::Source(SourceKind::Deletion) => &["upn", "laestab", "date", "deletion_ground"],
            FileKind::Source(SourceKind::IndependentRoll) => &["laestab", "surname", "dob"],
            FileKind::Source(SourceKind::SocialCare) => &["dob", "status"],
            FileKind::Source(_) => &["surname", "dob"],
            FileKind::Schools => &["urn", "laestab", "phase", "sector"],
            FileKind::PostcodeDeprivation => &["postcode", "imd_decile"],
            FileKind::Link => &["record_id"],
        }
    }
}

const CENSUS_FIELDS: &[&str] = &[
    "upn",
    "former_upn",
    "surname",
    "forename",
    "middle_names",
    "former_surname",
    "dob",
    "sex",
    "ethnicity",
    "laestab",
    "enrol_status",
    "entry_date",
    "nc_year_actual",
    "address_line1",
    "town",
    "postcode",
    "fsm_eligible",
    "sen_provision",
    "sen_need",
    "sessions_possible",
    "sessions_authorised",
    "sessions_unauthorised",
];

const SOURCE_FIELDS: &[&str] = &[
    "la",
    "laestab",
    "local_id",
    "upn",
    "surname",
    "forename",
    "dob",
    "sex",
    "postcode",
    "date",
    "deletion_ground",
    "destination",
    "status",
];

/// A field that failed, and why.
pub(crate) struct FieldError {
    field: Option<&'static str>,
    reason: String,
}

/// One row, with access to fields by our field index.
pub(crate) struct Row<'a> {
    rec: &'a csv::ByteRecord,
    idx: &'a [Option<usize>],
    fields: &'static [&'static str],
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

    fn opt<T>(&self, i: usize, p: fn(&str) -> Parsed<T>) -> Result<Option<T>, FieldError> {
        match self.get(i)? {
            None => Ok(None),
            Some(s) => p(s).map(Some).map_err(|reason| FieldError { field: Some(self.fields[i]), reason }),
        }
    }

    fn req<T>(&self, i: usize, p: fn(&str) -> Parsed<T>) -> Result<T, FieldError> {
        self.opt(i, p)?.ok_or_else(|| FieldError { field: Some(self.fields[i]), reason: "is missing".into() })
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

/// Counts bytes read, for the progress bar.
/// Counts bytes read, for the progress bar, and notes where the line ends
/// are, for line numbers: the CSV reader's own line count skips blank lines.
struct Counting<R> {
    inner: R,
    state: std::rc::Rc<std::cell::RefCell<Lines>>,
}

#[derive(Default)]
struct Lines {
    /// Bytes read so far.
    read: u64,
    /// Offsets of line ends read but not yet passed by a record, each with
    /// whether a carriage return stands before it.
    pending: std::collections::VecDeque<(u64, bool)>,
    /// Whether the last byte read was a carriage return.
    last_cr: bool,
    /// Line ends passed so far.
    passed: u64,
}

impl Lines {
    /// The line (1-based) on which the record starting at `byte` starts.
    fn line_at(&mut self, mut byte: u64) -> u64 {
        loop {
            match self.pending.front() {
                Some(&(nl, _)) if nl < byte => {}
                // The reader reports a record after blank lines as starting
                // at the first blank one: step over them.
                Some(&(nl, cr)) if nl == byte || (cr && nl == byte + 1) => byte = nl + 1,
                _ => break,
            }
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut st = self.state.borrow_mut();
        let start = st.read;
        let mut prev_cr = st.last_cr;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                st.pending.push_back((start + i as u64, prev_cr));
            }
            prev_cr = b == b'\r';
        }
        st.last_cr = prev_cr;
        st.read += n as u64;
        Ok(n)
    }
}

/// Where each of our fields is in a file with this header.
fn layout(path: &Path, kind: FileKind, map: &ColumnMap, header: &csv::ByteRecord) -> Result<Vec<Option<usize>>, Error> {
    let fields = kind.fields();
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let idx: Vec<Option<usize>> = fields
        .iter()
        .zip(kind.columns())
        .map(|(f, default)| {
            let want = map.column(f, default).to_ascii_lowercase();
            names.iter().position(|n| *n == want)
        })
        .collect();
    for f in kind.required() {
        let i = fields.iter().position(|x| x == f).unwrap_or(0);
        if idx[i].is_none() {
            let column = map.column(f, kind.columns()[i]).to_string();
            return Err(Error::MissingColumn { path: path.to_path_buf(), field: f.to_string(), column });
        }
    }
    Ok(idx)
}

/// Reads a whole file on every core. A file with no quote character at all
/// cannot have a field that spans lines or holds a comma, so it can be cut at
/// line ends into chunks parsed side by side; any other file is read by the
/// ordinary streaming reader. Rows come back in file order, and bad rows go
/// to the quarantine in file order, with the same lines and reasons either way.
fn read_file_parallel<T, S: Send>(
    path: &Path,
    kind: FileKind,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    parse_row: impl Fn(&Row) -> Result<T, FieldError> + Sync,
    make_sink: impl Fn() -> S + Sync,
    push: impl Fn(&mut S, T) + Sync,
) -> Result<(Vec<S>, LoadStats), Error> {
    let fields = kind.fields();
    map.check(fields)?;
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    if bytes.contains(&b'"') {
        let mut sink = make_sink();
        let stats = read_file(path, kind, map, quarantine, &mut |_| {}, parse_row, |v, _| {
            push(&mut sink, v);
            Ok(None)
        })?;
        return Ok((vec![sink], stats));
    }
    let split_line = |line: &[u8], rec: &mut csv::ByteRecord| {
        rec.clear();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        for field in line.split(|&b| b == b',') {
            rec.push_field(field);
        }
    };
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
    if bytes.is_empty() {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    let mut header = csv::ByteRecord::new();
    split_line(&bytes[..header_end], &mut header);
    let idx = layout(path, kind, map, &header)?;
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
    type Chunk<S> = (S, u64, Vec<(u64, FieldError, String)>, u64);
    let chunks: Vec<Chunk<S>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .zip(&first_line)
            .map(|(w, &start)| {
                let (idx, parse_row, make_sink, push) = (&idx, &parse_row, &make_sink, &push);
                let chunk = &body[w[0]..w[1]];
                scope.spawn(move || {
                    let mut sink = make_sink();
                    let mut good = 0u64;
                    let mut bad = Vec::new();
                    let mut rows = 0u64;
                    let mut rec = csv::ByteRecord::new();
                    for (k, line) in chunk.split(|&b| b == b'\n').enumerate() {
                        if line.is_empty() || line == b"\r" {
                            continue;
                        }
                        rows += 1;
                        split_line(line, &mut rec);
                        let result = if rec.len() != ncols {
                            Err(FieldError {
                                field: None,
                                reason: format!("has {} columns, the header has {ncols}", rec.len()),
                            })
                        } else {
                            parse_row(&Row { rec: &rec, idx, fields })
                        };
                        match result {
                            Ok(v) => {
                                good += 1;
                                push(&mut sink, v);
                            }
                            Err(e) => bad.push((start + k as u64, e, raw_text(&rec))),
                        }
                    }
                    (sink, good, bad, rows)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    let file_name = path.display().to_string();
    let mut stats = LoadStats::default();
    let mut out = Vec::with_capacity(chunks.len());
    for (sink, good, bad, rows) in chunks {
        stats.rows_in += rows;
        stats.accepted += good;
        stats.quarantined += bad.len() as u64;
        out.push(sink);
        for (line, e, raw) in bad {
            quarantine.push(Diagnostic {
                file: file_name.clone(),
                line,
                field: e.field.map(str::to_string),
                reason: e.reason,
                raw,
            })?;
        }
    }
    quarantine.finish()?;
    tracing::info!(file = %file_name, rows_in = stats.rows_in, accepted = stats.accepted, quarantined = stats.quarantined, "loaded");
    Ok((out, stats))
}

/// Reads `path` as `kind`, parsing each row with `parse_row` and handing good
/// records to `sink` with their line number.
fn read_file<T>(
    path: &Path,
    kind: FileKind,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    progress: &mut dyn FnMut(u64),
    parse_row: impl Fn(&Row) -> Result<T, FieldError>,
    mut sink: impl FnMut(T, u64) -> Result<Option<FieldError>, String>,
) -> Result<LoadStats, Error> {
    let fields = kind.fields();
    map.check(fields)?;
    let io = |source| Error::Io { path: path.to_path_buf(), source };
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
    let idx = layout(path, kind, map, &header)?;
    let ncols = header.len();

    let mut stats = LoadStats::default();
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = counter.borrow_mut().line_at(rec.position().map_or(0, |p| p.byte()));
        // A blank line is not a row.
        if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
            continue;
        }
        stats.rows_in += 1;
        let result = if rec.len() != ncols {
            Err(FieldError { field: None, reason: format!("has {} columns, the header has {ncols}", rec.len()) })
        } else {
            let row = Row { rec: &rec, idx: &idx, fields };
            parse_row(&row)
        };
        let refused = match result {
            Ok(value) => {
                sink(value, line).map_err(|message| Error::Sink { path: path.to_path_buf(), line, message })?
            }
            Err(e) => Some(e),
        };
        match refused {
            None => stats.accepted += 1,
            Some(e) => {
                stats.quarantined += 1;
                quarantine.push(Diagnostic {
                    file: file_name.clone(),
                    line,
                    field: e.field.map(str::to_string),
                    reason: e.reason,
                    raw: raw_text(&rec),
                })?;
            }
        }
        if stats.rows_in.is_multiple_of(16_384) {
            progress(counter.borrow().read);
        }
    }
    progress(counter.borrow().read);
    quarantine.finish()?;
    debug_assert_eq!(stats.rows_in, stats.accepted + stats.quarantined);
    tracing::info!(file = %file_name, rows_in = stats.rows_in, accepted = stats.accepted, quarantined = stats.quarantined, "loaded");
    Ok(stats)
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Io(io) => {
            Error::Io { path: path.to_path_buf(), source: std::io::Error::new(io.kind(), io.to_string()) }
        }
        _ => Error::Csv { path: path.to_path_buf(), line, message: e.to_string() },
    }
}

/// Reads a pupil-level census. Rows with the same UPN as an earlier row are
/// quarantined (DfE rule 1520), naming the line of the first.
pub fn read_census(
    path: &Path,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    progress: &mut dyn FnMut(u64),
    mut sink: impl FnMut(CensusPupil) -> Result<(), String>,
) -> Result<LoadStats, Error> {
    let mut seen: HashMap<Upn, u64> = HashMap::new();
    read_file(path, FileKind::Census, map, quarantine, progress, parse_census, |p: CensusPupil, line| {
        if let Some(first) = seen.get(&p.upn) {
            return Ok(Some(FieldError {
                field: Some("upn"),
                reason: format!("is a duplicate of the UPN on line {first} (rule 1520)"),
            }));
        }
        seen.insert(p.upn, line);
        sink(p).map(|()| None)
    })
}

fn parse_census(r: &Row) -> Result<CensusPupil, FieldError> {
    let p = CensusPupil {
        upn: r.req(0, parse::upn)?,
        former_upn: r.opt(1, parse::upn)?,
        surname: r.req(2, parse::text)?,
        forename: r.req(3, parse::text)?,
        middle_names: r.opt(4, parse::text)?,
        former_surname: r.opt(5, parse::text)?,
        dob: r.req(6, parse::date)?,
        sex: r.req(7, parse::sex)?,
        ethnicity: r.opt(8, parse::text)?,
        laestab: r.req(9, parse::laestab)?,
        enrol_status: r.opt(10, parse::enrol_status)?,
        entry_date: r.opt(11, parse::date)?,
        nc_year_actual: r.opt(12, parse::nc_year)?,
        address_line1: r.opt(13, parse::text)?,
        town: r.opt(14, parse::text)?,
        postcode: r.opt(15, parse::postcode)?,
        fsm_eligible: r.opt(16, parse::flag)?.unwrap_or(false),
        sen_provision: r.opt(17, parse::sen)?.unwrap_or(cnis_core::records::SenProvision::None),
        sen_need: r.opt(18, parse::text)?,
        sessions_possible: r.opt(19, parse::sessions)?,
        sessions_authorised: r.opt(20, parse::sessions)?,
        sessions_unauthorised: r.opt(21, parse::sessions)?,
    };
    if let (Some(possible), a, u) = (p.sessions_possible, p.sessions_authorised, p.sessions_unauthorised) {
        let absent = u32::from(a.unwrap_or(0)) + u32::from(u.unwrap_or(0));
        if absent > u32::from(possible) {
            return Err(FieldError {
                field: Some("sessions_possible"),
                reason: "is less than the sessions of absence recorded".into(),
            });
        }
    }
    Ok(p)
}

/// Reads a destination source of the given kind.
pub fn read_sources(
    path: &Path,
    kind: SourceKind,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    progress: &mut dyn FnMut(u64),
    mut sink: impl FnMut(SourceRecord) -> Result<(), String>,
) -> Result<LoadStats, Error> {
    let fk = FileKind::Source(kind);
    let required = fk.required();
    let parse_row = |r: &Row| -> Result<SourceRecord, FieldError> {
        let need = |i: usize| required.contains(&SOURCE_FIELDS[i]);
        macro_rules! field {
            ($i:expr, $p:expr) => {
                if need($i) { Some(r.req($i, $p)?) } else { r.opt($i, $p)? }
            };
        }
        let rec = SourceRecord {
            kind,
            la: field!(0, parse::la),
            laestab: field!(1, parse::laestab),
            local_id: field!(2, parse::text),
            upn: field!(3, parse::upn),
            surname: field!(4, parse::text),
            forename: field!(5, parse::text),
            dob: field!(6, parse::date),
            sex: field!(7, parse::sex),
            postcode: field!(8, parse::postcode),
            date: field!(9, parse::date),
            deletion_ground: field!(10, parse::ground),
            destination: field!(11, parse::destination),
            status: field!(12, parse::text),
        };
        if kind == SourceKind::SocialCare && rec.upn.is_none() && rec.local_id.is_none() {
            return Err(FieldError {
                field: Some("upn"),
                reason: "is missing and so is local_id: one is needed".into(),
            });
        }
        Ok(rec)
    };
    read_file(path, fk, map, quarantine, progress, parse_row, |rec, _| sink(rec).map(|()| None))
}

/// Reads a schools list.
pub fn read_schools(
    path: &Path,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    mut sink: impl FnMut(School) -> Result<(), String>,
) -> Result<LoadStats, Error> {
    let parse_row = |r: &Row| -> Result<School, FieldError> {
        let sector = r.req(4, |s| match s.to_ascii_lowercase().as_str() {
            "independent" | "independent school" => Ok(Sector::Independent),
            "state-funded" | "state funded" | "state" | "maintained" | "academy" => Ok(Sector::StateFunded),
            _ => Err("is not a sector (state-funded or independent)".to_string()),
        })?;
        Ok(School {
            urn: r.req(0, |s| s.parse::<u32>().map_err(|_| "is not a URN (a number)".to_string()))?,
            laestab: r.req(1, parse::laestab)?,
            name: r.opt(2, parse::text)?.unwrap_or_default(),
            phase: r.req(3, parse::text)?,
            sector,
        })
    };
    read_file(path, FileKind::Schools, map, quarantine, &mut |_| {}, parse_row, |s, _| sink(s).map(|()| None))
}

/// Reads a postcode deprivation lookup.
pub fn read_postcode_deprivation(
    path: &Path,
    map: &ColumnMap,
    quarantine: &mut Quarantine,
    mut sink: impl FnMut(PostcodeDeprivation) -> Result<(), String>,
) -> Result<LoadStats, Error> {
    let parse_row = |r: &Row| -> Result<PostcodeDeprivation, FieldError> {
        Ok(PostcodeDeprivation {
            postcode: r.req(0, parse::postcode)?,
            lsoa: r.opt(1, parse::text)?.unwrap_or_default(),
            imd_decile: r.req(2, |s| {
                s.parse::<u8>().ok().and_then(ImdDecile::new).ok_or_else(|| "is not a decile (1-10)".to_string())
            })?,
        })
    };
    read_file(path, FileKind::PostcodeDeprivation, map, quarantine, &mut |_| {}, parse_row, |p, _| {
        sink(p).map(|()| None)
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
) -> Result<LoadStats, Error> {
    let parse_row = |r: &Row| parse_link(r, default_source);
    read_file(path, FileKind::Link, map, quarantine, progress, parse_row, |rec, _| sink(rec).map(|()| None))
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
) -> Result<(Vec<S>, LoadStats), Error> {
    read_file_parallel(path, FileKind::Link, map, quarantine, |r| parse_link(r, default_source), make_sink, push)
}

fn parse_link(r: &Row, default_source: &str) -> Result<LinkRecord, FieldError> {
    Ok(LinkRecord {
        source: r.opt(0, parse::text)?.unwrap_or_else(|| default_source.to_string()),
        record_id: r.req(1, parse::text)?,
        upn: r.opt(2, parse::upn)?,
        former_upn: r.opt(3, parse::upn)?,
        upn_text: None,
        nhs_number: r.opt(4, parse::nhs)?,
        forename: r.opt(5, parse::text)?,
        middle_names: r.opt(6, parse::text)?,
        surname: r.opt(7, parse::text)?,
        former_surname: r.opt(8, parse::text)?,
        dob: r.opt(9, parse::date)?,
        sex: r.opt(10, parse::sex)?,
        postcode: r.opt(11, parse::loose_postcode)?,
        address: r.opt(12, parse::text)?,
        truth: r.opt(13, parse::text)?,
    })
}
