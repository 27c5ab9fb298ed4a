//! Rendering a population as the files a council would hold, in the
//! project's layout or as a council's own export would have them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use cnis_core::Upn;
use cnis_core::records::{Regulations, SourceKind, columns};
use cnis_core::schema::{self, CensusField, Schema, SourceField};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::noise::{Faults, barrelled, hyphenated_variant, mistype, swap_day_month, typo};
use crate::people::{Child, Enrol, GroundForm, Home, NewUpn, row_faults};
use crate::{ETHNICITIES, Error, Layout, Population, SEN_NEEDS, SourceRow, rng_for};

/// What was written, for the demo and for tests.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Seed.
    pub seed: u64,
    /// Pupils on the first roll.
    pub pupils: u64,
    /// Day of the first census (ISO).
    pub census_a_date: String,
    /// Day of the second census.
    pub census_b_date: String,
    /// First census file.
    pub census_a: String,
    /// Second census file.
    pub census_b: String,
    /// Schools list.
    pub schools: String,
    /// Postcode deprivation lookup.
    pub postcode_deprivation: String,
    /// Which council each postcode is in (the ONS postcode lookup's layout).
    #[serde(default)]
    pub postcode_areas: String,
    /// Destination sources: (kind name, file). A kind may have more than one
    /// file (deletion notices sent as bare letters come in their own).
    pub sources: Vec<(String, String)>,
    /// Truth file.
    pub truth: String,
    /// Every census and source record in the linkage layout, with its truth id.
    pub linkage: Option<String>,
    /// Rows written to each file.
    pub rows: Vec<(String, u64)>,
    /// Source files whose deletion grounds are bare letters of one set of
    /// regulations, which a load must state: (file, `2006` or `2024`).
    #[serde(default)]
    pub regulations: Vec<(String, u16)>,
    /// `standard` or `council`.
    #[serde(default)]
    pub layout: String,
    /// For the council layout: how to read the files.
    #[serde(default)]
    pub council: Option<CouncilLayout>,
    /// The rates the population was generated with, by name.
    #[serde(default)]
    pub rates: Vec<(String, f64)>,
}

/// How the council layout differs from the project's.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CouncilLayout {
    /// Date format of every date column.
    pub date_format: String,
    /// Line ends.
    pub line_end: String,
    /// Whether each file starts with a UTF-8 byte-order mark.
    pub byte_order_mark: bool,
    /// For each format (`census`, `source`, `schools`,
    /// `postcode_deprivation`): our field name to their column, for every
    /// field whose column differs from the project's header.
    pub maps: BTreeMap<String, BTreeMap<String, String>>,
    /// The same, as a `--map` value for each format.
    pub map_args: BTreeMap<String, String>,
    /// Columns of theirs that hold none of our fields, per format.
    pub extra_columns: BTreeMap<String, Vec<String>>,
}

/// How one file is laid out: its columns (a field of the schema, or a
/// column of the council's own) and how dates are written.
#[derive(Debug, Clone)]
struct FileLayout {
    /// Per column: the field's index in the schema (`None` for an extra
    /// column) and the header.
    columns: Vec<(Option<usize>, &'static str)>,
    /// Schema indices of the date fields.
    dates: Vec<usize>,
    council: bool,
}

/// The council layout of each format: (our field, their column), in their order.
const CENSUS_COUNCIL: &[(&str, &str)] = &[
    ("surname", "LegalSurname"),
    ("forename", "LegalForename"),
    ("middle_names", "OtherNames"),
    ("former_surname", "PreviousSurname"),
    ("dob", "DateOfBirth"),
    ("sex", "Gender"),
    ("upn", "PupilUPN"),
    ("former_upn", "PreviousUPN"),
    ("laestab", "Establishment"),
    ("enrol_status", "EnrolmentStatus"),
    ("entry_date", "DateOfEntry"),
    ("nc_year_actual", "YearGroup"),
    ("", "MISRecordID"),
    ("address_line1", "Address1"),
    ("town", "TownCity"),
    ("postcode", "Postcode"),
    ("ethnicity", "EthnicCode"),
    ("fsm_eligible", "FSM"),
    ("sen_provision", "SENStatus"),
    ("sen_need", "PrimaryNeed"),
    ("sessions_possible", "PossibleSessions"),
    ("sessions_authorised", "AuthorisedAbsence"),
    ("sessions_unauthorised", "UnauthorisedAbsence"),
];
const SOURCE_COUNCIL: &[(&str, &str)] = &[
    ("la", "LANumber"),
    ("local_id", "PersonID"),
    ("upn", "PupilUPN"),
    ("forename", "FirstName"),
    ("middle_names", "OtherNames"),
    ("surname", "LastName"),
    ("dob", "DateOfBirth"),
    ("sex", "Gender"),
    ("postcode", "Postcode"),
    ("laestab", "SchoolDfE"),
    ("urn", "SchoolURN"),
    ("date", "EventDate"),
    ("end_date", "DateEnded"),
    ("deletion_ground", "ReasonCode"),
    ("destination", "DestinationSchool"),
    ("status", "CaseStatus"),
    ("provider", "ProviderRef"),
    ("hours", "HoursPerWeek"),
];
const SCHOOLS_COUNCIL: &[(&str, &str)] = &[
    ("laestab", "DfENumber"),
    ("urn", "URN"),
    ("name", "SchoolName"),
    ("phase", "PhaseCode"),
    ("sector", "FundingType"),
];
const POSTCODE_COUNCIL: &[(&str, &str)] = &[("postcode", "PCDS"), ("lsoa", "LSOA21CD"), ("imd_decile", "IMD19Decile")];

/// A file format: its key in the manifest, schema, council table and date fields.
struct Format {
    key: &'static str,
    schema: Schema,
    council: &'static [(&'static str, &'static str)],
    dates: &'static [&'static str],
}

fn formats() -> [Format; 4] {
    let f = |key, schema, council, dates| Format { key, schema, council, dates };
    [
        f("census", schema::CENSUS, CENSUS_COUNCIL, &["dob", "entry_date"]),
        f("source", schema::SOURCE, SOURCE_COUNCIL, &["dob", "date", "end_date"]),
        f("schools", schema::SCHOOLS, SCHOOLS_COUNCIL, &[]),
        f("postcode_deprivation", schema::POSTCODE_DEPRIVATION, POSTCODE_COUNCIL, &[]),
    ]
}

impl FileLayout {
    fn of(format: &str, layout: Layout) -> FileLayout {
        let Some(Format { schema, council, dates, .. }) = formats().into_iter().find(|f| f.key == format) else {
            return FileLayout { columns: Vec::new(), dates: Vec::new(), council: false };
        };
        let dates = dates.iter().filter_map(|d| schema.position(d)).collect();
        match layout {
            Layout::Standard => FileLayout {
                columns: schema.columns.iter().enumerate().map(|(i, c)| (Some(i), c.header)).collect(),
                dates,
                council: false,
            },
            Layout::Council => FileLayout {
                columns: council.iter().map(|(field, header)| (schema.position(field), *header)).collect(),
                dates,
                council: true,
            },
        }
    }

    fn headers(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.1).collect()
    }
}

/// The council layout as the manifest describes it.
fn council_layout() -> CouncilLayout {
    let mut maps = BTreeMap::new();
    let mut map_args = BTreeMap::new();
    let mut extra_columns = BTreeMap::new();
    for Format { key, schema, council, .. } in formats() {
        let mut m = BTreeMap::new();
        let mut extra = Vec::new();
        for (field, header) in council {
            match schema.position(field) {
                Some(i) if schema.columns[i].header != *header => {
                    m.insert(field.to_string(), header.to_string());
                }
                Some(_) => {}
                None => extra.push(header.to_string()),
            }
        }
        map_args.insert(key.to_string(), m.iter().map(|(f, c)| format!("{f}={c}")).collect::<Vec<_>>().join(","));
        maps.insert(key.to_string(), m);
        extra_columns.insert(key.to_string(), extra);
    }
    CouncilLayout {
        date_format: "DD/MM/YYYY".into(),
        line_end: "CRLF".into(),
        byte_order_mark: true,
        maps,
        map_args,
        extra_columns,
    }
}

struct Out {
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
    rows: u64,
    layout: FileLayout,
}

impl Out {
    fn create(dir: &Path, name: &str, layout: FileLayout) -> Result<Out, Error> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| Error::Write { path: path.clone(), source })?;
        let mut buf = BufWriter::with_capacity(1 << 20, file);
        let terminator = if layout.council { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
        if layout.council {
            buf.write_all("\u{feff}".as_bytes()).map_err(|source| Error::Write { path: path.clone(), source })?;
        }
        let mut w = csv::WriterBuilder::new().terminator(terminator).from_writer(buf);
        w.write_record(layout.headers()).map_err(|e| csv_err(&path, e))?;
        Ok(Out { path, w, rows: 0, layout })
    }

    /// A file in our own layout only (truth, linkage).
    fn plain(dir: &Path, name: &str, header: &[&'static str]) -> Result<Out, Error> {
        let layout = FileLayout {
            columns: header.iter().enumerate().map(|(i, h)| (Some(i), *h)).collect(),
            dates: Vec::new(),
            council: false,
        };
        Out::create(dir, name, layout)
    }

    /// Writes a row given in schema order, laid out as the file is.
    fn row(&mut self, fields: &[Cow<str>]) -> Result<(), Error> {
        self.rows += 1;
        let n = self.rows;
        let layout = &self.layout;
        let record = layout.columns.iter().map(|(i, _)| -> Cow<[u8]> {
            match i {
                Some(i) => {
                    let v = fields.get(*i).map_or("", |v| v.as_ref());
                    if layout.council && layout.dates.contains(i) {
                        Cow::Owned(uk_date(v).into_bytes())
                    } else {
                        Cow::Borrowed(v.as_bytes())
                    }
                }
                None => Cow::Owned(format!("R{n:08}").into_bytes()),
            }
        });
        self.w.write_record(record).map_err(|e| csv_err(&self.path, e))
    }

    fn finish(mut self) -> Result<(String, u64), Error> {
        self.w.flush().map_err(|source| Error::Write { path: self.path.clone(), source })?;
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((name, self.rows))
    }
}

/// A row in schema order.
type Row<'a> = Vec<Cow<'a, str>>;

fn owned<'a>(s: String) -> Cow<'a, str> {
    Cow::Owned(s)
}

fn num<'a>(n: impl std::fmt::Display) -> Cow<'a, str> {
    Cow::Owned(n.to_string())
}

/// `2022-01-20`, without chrono's format machinery (millions of dates are written).
fn iso(d: NaiveDate) -> String {
    let (y, m, dd) = (d.year(), d.month(), d.day());
    let mut s = String::with_capacity(10);
    let digits = |s: &mut String, n: u32, w: u32| {
        for k in (0..w).rev() {
            s.push(char::from(b'0' + ((n / 10u32.pow(k)) % 10) as u8));
        }
    };
    digits(&mut s, y.max(0) as u32, 4);
    s.push('-');
    digits(&mut s, m, 2);
    s.push('-');
    digits(&mut s, dd, 2);
    s
}

/// `2022-01-20` as `20/01/2022`.
fn uk_date(iso: &str) -> String {
    match (iso.get(0..4), iso.get(5..7), iso.get(8..10)) {
        (Some(y), Some(m), Some(d)) if iso.len() == 10 => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

fn csv_err(path: &Path, e: csv::Error) -> Error {
    Error::Write { path: path.to_path_buf(), source: std::io::Error::other(e) }
}

const NOISE_STREAM: u64 = 0x6e6f_6973_6500_0000;
const ORDER_STREAM: u64 = 0x6f72_6465_7200_0000;

/// A person as one file shows them, faults applied.
struct Shown {
    upn: String,
    forename: String,
    middle: String,
    surname: String,
    dob: String,
    postcode: String,
}

/// Which record of a child is shown, for the noise stream and the faults.
struct View {
    /// The file: 0 and 1 the censuses, 2 on the sources.
    file: u64,
    /// Multiplies the fault rates (the first census is cleaner).
    scale: f64,
    census: bool,
    /// The UPN to show, if the record carries one.
    upn: Option<Upn>,
    mistyped: bool,
}

/// `scale` below 1 marks the first census, the reference record: its dates
/// of birth are never disturbed, since they decide who is of compulsory
/// school age.
fn shown(pop: &Population, c: &Child, home: &Home, surname: u16, v: &View) -> Shown {
    let names = crate::names::Names::load_cached();
    let mut rng: ChaCha8Rng = rng_for(pop.config.seed ^ NOISE_STREAM, c.truth_id * 16 + v.file);
    let f = Faults::draw(&pop.config.rates, v.scale, v.census, &mut rng);
    let table = if c.sex == cnis_core::records::Sex::Male { &names.male } else { &names.female };
    let formal = table.get(c.forename);
    let mut forename = formal.to_string();
    let mut middle = c.middle.map(|m| table.get(m).to_string()).unwrap_or_default();
    if f.middle_as_forename && !middle.is_empty() {
        forename = std::mem::take(&mut middle);
    } else if f.nickname {
        let n = crate::names::nicknames(formal);
        if !n.is_empty() {
            forename = n[rng.random_range(0..n.len())].to_string();
        }
    }
    if !v.census && rng.random_bool(0.5) {
        // Lists often leave middle names out.
        middle.clear();
    }
    let base = names.surnames.get(surname);
    let mut surname = match c.surname2 {
        Some(s2) if surname == c.surname => barrelled(base, names.surnames.get(s2), f.barrel_variant, &mut rng),
        _ if f.barrel_variant => hyphenated_variant(base, &mut rng),
        _ => base.to_string(),
    };
    if f.forename_typo {
        forename = typo(&forename, &mut rng);
    }
    if f.surname_typo {
        surname = typo(&surname, &mut rng);
    }
    if f.swap_names {
        std::mem::swap(&mut forename, &mut surname);
    }
    let dob = if f.swap_dob && v.scale >= 1.0 { swap_day_month(c.dob) } else { c.dob };
    let postcode = if f.drop_postcode { String::new() } else { postcode_of(pop, home).to_string() };
    let upn = match v.upn {
        Some(u) if v.mistyped => mistype(u, &mut rng).0,
        Some(u) => u.to_string(),
        None => String::new(),
    };
    Shown { upn, forename, middle, surname, dob: iso(dob), postcode }
}

fn postcode_of<'a>(pop: &'a Population, h: &Home) -> &'a str {
    &pop.england.las[usize::from(h.la)].neighbourhoods[h.neighbourhood as usize].postcodes[usize::from(h.postcode)]
}

/// The first address line: a house, or a flat in one (with a comma, which
/// a CSV file must quote).
fn address(h: &Home) -> String {
    let names = crate::names::Names::load_cached();
    let street = names.streets.get(h.street);
    if (u32::from(h.house) * 7 + u32::from(h.street)).is_multiple_of(13) {
        format!("Flat {}, {} {street}", h.house % 9 + 1, h.house)
    } else {
        format!("{} {street}", h.house)
    }
}

/// The main (C or M) row of a child on a census, in schema order.
fn census_row<'a>(pop: &'a Population, c: &Child, e: &Enrol, second: bool) -> Row<'a> {
    let names = crate::names::Names::load_cached();
    let view = View {
        file: u64::from(second),
        scale: if second { 1.0 } else { 0.4 },
        census: true,
        upn: Some(e.upn),
        mistyped: e.faults & row_faults::UPN_MISTYPED != 0,
    };
    let s = shown(pop, c, &e.home, e.surname, &view);
    let school = &pop.england.schools[e.school as usize];
    let former_surname = if second && e.surname != c.surname && c.truth_id.is_multiple_of(2) {
        names.surnames.get(c.surname)
    } else {
        ""
    };
    let la_name = pop.england.las[usize::from(e.home.la)].code.info().name.as_str();
    let mut row: Row = vec![Cow::Borrowed(""); schema::CENSUS.columns.len()];
    let mut set = |f: CensusField, v: Cow<'a, str>| row[f.index()] = v;
    set(CensusField::Upn, owned(s.upn));
    set(CensusField::FormerUpn, e.former_upn.map_or(Cow::Borrowed(""), |u| owned(u.to_string())));
    set(CensusField::Surname, owned(s.surname));
    set(CensusField::Forename, owned(s.forename));
    set(CensusField::MiddleNames, owned(s.middle));
    set(CensusField::FormerSurname, Cow::Borrowed(former_surname));
    set(CensusField::Dob, owned(s.dob));
    set(CensusField::Sex, Cow::Borrowed(c.sex.code()));
    set(CensusField::Ethnicity, Cow::Borrowed(ETHNICITIES[usize::from(c.ethnicity)].0));
    set(CensusField::Laestab, num(school.laestab));
    set(CensusField::EnrolStatus, Cow::Borrowed(if e.dual.is_some() { "M" } else { "C" }));
    set(CensusField::EntryDate, owned(iso(e.entry_date)));
    set(CensusField::NcYearActual, num(e.nc_year));
    set(CensusField::AddressLine1, owned(address(&e.home)));
    set(CensusField::Town, Cow::Borrowed(la_name));
    set(CensusField::Postcode, owned(s.postcode));
    set(CensusField::FsmEligible, Cow::Borrowed(if e.fsm { "1" } else { "0" }));
    set(CensusField::SenProvision, Cow::Borrowed(e.sen.code()));
    set(CensusField::SenNeed, Cow::Borrowed(SEN_NEEDS[usize::from(e.sen_need)]));
    set(CensusField::SessionsPossible, num(e.sessions[0]));
    set(CensusField::SessionsAuthorised, num(e.sessions[1]));
    set(CensusField::SessionsUnauthorised, num(e.sessions[2]));
    row
}

/// Writes one census. A dual-registered pupil's two rows are apart in the
/// file, the subsidiary one first as often as `subsidiary_first` says; a
/// row returned twice has its copy further on.
fn write_census<'a>(pop: &'a Population, dir: &Path, name: &str, second: bool) -> Result<(String, u64), Error> {
    let mut out = Out::create(dir, name, FileLayout::of("census", pop.config.layout))?;
    let mut pending: BTreeMap<(u64, u64), Row<'a>> = BTreeMap::new();
    let mut k = 0u64;
    let mut seq = 0u64;
    for c in &pop.children {
        let Some(e) = (if second { &c.b } else { &c.a }) else { continue };
        k += 1;
        while let Some(entry) = pending.first_entry()
            && entry.key().0 <= k
        {
            out.row(&entry.remove())?;
        }
        let main = census_row(pop, c, e, second);
        let mut rng = rng_for(pop.config.seed ^ ORDER_STREAM, c.truth_id * 2 + u64::from(second));
        let mut later = |row: Row<'a>, rng: &mut ChaCha8Rng| {
            seq += 1;
            pending.insert((k + rng.random_range(1..300), seq), row);
        };
        if let Some(d) = &e.dual {
            let mut other = main.clone();
            let school = &pop.england.schools[d.school as usize];
            other[CensusField::Laestab.index()] = num(school.laestab);
            other[CensusField::EnrolStatus.index()] = Cow::Borrowed(if d.both_main { "M" } else { "S" });
            other[CensusField::EntryDate.index()] = owned(iso(d.entry_date));
            other[CensusField::SessionsPossible.index()] = num(d.sessions[0]);
            other[CensusField::SessionsAuthorised.index()] = num(d.sessions[1]);
            other[CensusField::SessionsUnauthorised.index()] = num(d.sessions[2]);
            // The PRU keys the pupil in from the CTF: the UPN as it is.
            other[CensusField::Upn.index()] = owned(e.upn.to_string());
            if d.subsidiary_first {
                out.row(&other)?;
                later(main, &mut rng);
            } else {
                out.row(&main)?;
                later(other, &mut rng);
            }
        } else {
            out.row(&main)?;
            if e.faults & row_faults::DUPLICATE != 0 {
                let mut copy = main;
                if e.faults & row_faults::DUPLICATE_DIFFERS != 0 {
                    let extra = rng.random_range(1..6u16);
                    copy[CensusField::SessionsAuthorised.index()] = num(e.sessions[1] + extra);
                }
                later(copy, &mut rng);
            }
        }
    }
    for (_, row) in pending {
        out.row(&row)?;
    }
    out.finish()
}

/// One source row as written, in [`schema::SOURCE`] order; `no` is the
/// source's place in [`SourceKind::ALL`].
fn source_row<'a>(pop: &'a Population, r: &SourceRow, no: usize) -> Option<Row<'a>> {
    let kind = r.kind;
    let c = &pop.children[r.child as usize];
    let (home, upn, surname) = match (&c.a, &c.home) {
        (Some(a), _) => (a.home, Some(a.upn), a.surname),
        (None, Some(h)) => (*h, c.known_upn, c.surname),
        (None, None) => return None,
    };
    let view = View {
        file: 2 + no as u64,
        scale: 1.0,
        census: false,
        upn: upn.filter(|_| r.with_upn),
        mistyped: r.upn_mistyped,
    };
    let s = shown(pop, c, &home, surname, &view);
    let date = |d: Option<NaiveDate>| d.map_or(Cow::Borrowed(""), |d| owned(iso(d)));
    let opt = |v: Option<String>| v.map_or(Cow::Borrowed(""), owned);
    let mut row: Row = vec![Cow::Borrowed(""); schema::SOURCE.columns.len()];
    let mut set = |f: SourceField, v: Cow<'a, str>| row[f.index()] = v;
    set(SourceField::La, num(r.la));
    set(SourceField::Laestab, opt(r.laestab.map(|l| l.to_string())));
    set(SourceField::Urn, opt(r.urn.map(|u| u.to_string())));
    if kind == SourceKind::SocialCare {
        set(SourceField::LocalId, owned(local_id(c.truth_id)));
    }
    set(SourceField::Upn, owned(s.upn));
    set(SourceField::Surname, owned(s.surname));
    set(SourceField::Forename, owned(s.forename));
    set(SourceField::MiddleNames, owned(s.middle));
    set(SourceField::Dob, owned(s.dob));
    set(SourceField::Sex, Cow::Borrowed(c.sex.code()));
    set(SourceField::Postcode, owned(s.postcode));
    set(SourceField::Date, date(r.date));
    set(SourceField::EndDate, date(r.end_date));
    let ground = r.ground.map(|g| match r.ground_form {
        GroundForm::Full => g.to_string(),
        GroundForm::Letter => g.letter().to_string(),
        GroundForm::Bracketed => format!("({})", g.letter()),
    });
    set(SourceField::DeletionGround, opt(ground));
    set(SourceField::Destination, opt(r.destination.map(|d| d.to_string())));
    set(SourceField::Status, Cow::Borrowed(r.status.unwrap_or_default()));
    set(SourceField::Provider, opt(r.provider.map(|p| crate::provider_id(r.la, p))));
    set(SourceField::Hours, if r.hours > 0 { num(r.hours) } else { Cow::Borrowed("") });
    Some(row)
}

/// Name of the linkage file.
pub const LINKAGE_FILE: &str = "linkage.csv";

/// One source file: its name, kind, and which rows it holds.
struct SourceFile {
    name: String,
    kind: SourceKind,
    /// The regulations a load must state, for a file of bare letters.
    regulations: Option<Regulations>,
}

impl SourceFile {
    fn holds(&self, r: &SourceRow) -> bool {
        r.kind == self.kind
            && match self.regulations {
                None => !r.letters_file,
                Some(regs) => r.letters_file && r.ground.is_some_and(|g| g.regulations() == regs),
            }
    }

    fn stem(&self) -> &str {
        self.name.strip_suffix(".csv").unwrap_or(&self.name)
    }
}

/// Every source file to write: one per kind, and a file of bare letters
/// for each set of regulations that has any.
fn source_files(pop: &Population) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = SourceKind::ALL
        .into_iter()
        .map(|kind| SourceFile { name: format!("{}.csv", kind.name()), kind, regulations: None })
        .collect();
    for regs in [Regulations::Pupil2006, Regulations::Pupil2024] {
        let any = pop.rows.iter().any(|r| r.letters_file && r.ground.is_some_and(|g| g.regulations() == regs));
        if any {
            files.push(SourceFile {
                name: format!("{}-{}-letters.csv", SourceKind::Deletion.name(), regs.year()),
                kind: SourceKind::Deletion,
                regulations: Some(regs),
            });
        }
    }
    files
}

fn kind_no(kind: SourceKind) -> usize {
    SourceKind::ALL.iter().position(|&k| k == kind).unwrap_or(0)
}

/// Writes every census and source record again in the linkage layout, the
/// same values (faults included) as in their own files, with the truth id.
/// A census gives each child's main row only.
fn write_linkage(pop: &Population, dir: &Path, year_a: &str, year_b: &str) -> Result<(String, u64), Error> {
    let mut out = Out::plain(dir, LINKAGE_FILE, columns::LINK)?;
    for (second, year) in [(false, year_a), (true, year_b)] {
        let source = format!("census-{year}");
        let mut line = 1u64;
        for c in &pop.children {
            let Some(e) = (if second { &c.b } else { &c.a }) else { continue };
            line += 1;
            let r = census_row(pop, c, e, second);
            let at = |f: CensusField| r[f.index()].clone();
            out.row(&[
                Cow::Borrowed(source.as_str()),
                num(line),
                at(CensusField::Upn),
                at(CensusField::FormerUpn),
                Cow::Borrowed(""),
                at(CensusField::Forename),
                at(CensusField::MiddleNames),
                at(CensusField::Surname),
                at(CensusField::FormerSurname),
                at(CensusField::Dob),
                at(CensusField::Sex),
                at(CensusField::Postcode),
                at(CensusField::AddressLine1),
                num(c.truth_id),
                Cow::Borrowed(""),
            ])?;
        }
    }
    for file in source_files(pop) {
        let mut line = 1u64;
        let source = if file.regulations.is_some() { file.stem().to_string() } else { file.kind.name().to_string() };
        for r in pop.rows.iter().filter(|r| file.holds(r)) {
            let Some(row) = source_row(pop, r, kind_no(file.kind)) else { continue };
            line += 1;
            let at = |f: SourceField| row[f.index()].clone();
            let none = || Cow::Borrowed("");
            out.row(&[
                Cow::Borrowed(source.as_str()),
                num(line),
                at(SourceField::Upn),
                none(),
                none(),
                at(SourceField::Forename),
                at(SourceField::MiddleNames),
                at(SourceField::Surname),
                none(),
                at(SourceField::Dob),
                at(SourceField::Sex),
                at(SourceField::Postcode),
                none(),
                num(pop.children[r.child as usize].truth_id),
                none(),
            ])?;
        }
    }
    out.finish()
}

/// A scrambled, stable local reference: looks like a case number, and does
/// not reveal the truth id.
fn local_id(truth_id: u64) -> String {
    format!("{:010}", truth_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 10_000_000_000)
}

/// A file written: its name and rows.
type Written = (String, u64);

fn write_sources(pop: &Population, dir: &Path) -> Result<Vec<(SourceFile, Written)>, Error> {
    let mut written = Vec::new();
    for file in source_files(pop) {
        let mut out = Out::create(dir, &file.name, FileLayout::of("source", pop.config.layout))?;
        for r in pop.rows.iter().filter(|r| file.holds(r)) {
            if let Some(row) = source_row(pop, r, kind_no(file.kind)) {
                out.row(&row)?;
            }
        }
        let done = out.finish()?;
        written.push((file, done));
    }
    Ok(written)
}

fn write_places(pop: &Population, dir: &Path) -> Result<Vec<(String, u64)>, Error> {
    let mut schools = Out::create(dir, "schools.csv", FileLayout::of("schools", pop.config.layout))?;
    for s in &pop.england.schools {
        let sector = if s.phase == crate::Phase::Independent { "independent" } else { "state-funded" };
        schools.row(&[
            num(s.urn),
            num(s.laestab),
            Cow::Borrowed(s.name.as_str()),
            Cow::Borrowed(s.phase.code()),
            Cow::Borrowed(sector),
        ])?;
    }
    let layout = FileLayout::of("postcode_deprivation", pop.config.layout);
    let mut pd = Out::create(dir, "postcode-deprivation.csv", layout)?;
    for la in &pop.england.las {
        for n in &la.neighbourhoods {
            for p in &n.postcodes {
                pd.row(&[Cow::Borrowed(p.as_str()), Cow::Borrowed(n.lsoa.as_str()), num(n.decile.get())])?;
            }
        }
    }
    // Which council each postcode is in, laid out as the ONS postcode
    // lookup is (`pcds`, `laua`, `cty`): a county's postcodes name it in
    // `cty` and a district in `laua`; elsewhere `cty` holds the dummy code.
    let mut areas = Out::plain(dir, "postcode-areas.csv", &["pcds", "laua", "cty"])?;
    for la in &pop.england.las {
        let ons = la.code.info().ons_code.as_str();
        let (laua, cty) = if ons.starts_with("E10") { ("E07999999", ons) } else { (ons, "E99999999") };
        for n in &la.neighbourhoods {
            for p in &n.postcodes {
                areas.row(&[Cow::Borrowed(p.as_str()), Cow::Borrowed(laua), Cow::Borrowed(cty)])?;
            }
        }
    }
    Ok(vec![schools.finish()?, pd.finish()?, areas.finish()?])
}

fn write_truth(pop: &Population, dir: &Path) -> Result<(String, u64), Error> {
    use crate::people::flags as F;
    let mut truth = Out::plain(dir, "truth.csv", TRUTH_COLUMNS)?;
    let id = |i: Option<u32>| i.map_or(Cow::Borrowed(""), num);
    let censuses = |a: bool, b: bool| match (a, b) {
        (true, true) => "AB",
        (true, false) => "A",
        (false, true) => "B",
        (false, false) => "",
    };
    let on = |c: &Child, f: &dyn Fn(&Enrol) -> bool| censuses(c.a.as_ref().is_some_and(f), c.b.as_ref().is_some_and(f));
    for c in &pop.children {
        let la = c.a.as_ref().or(c.b.as_ref()).map(|e| e.home.la).or(c.home.map(|h| h.la)).unwrap_or(0);
        let flag = |f: u16| Cow::Borrowed(yn(c.has(f)));
        let upn = |u: Option<Upn>| u.map_or(Cow::Borrowed(""), |u| owned(u.to_string()));
        truth.row(&[
            num(c.truth_id),
            Cow::Borrowed(c.fate.name()),
            Cow::Borrowed(yn(c.in_cohort)),
            Cow::Borrowed(match c.new_upn {
                NewUpn::No => "no",
                NewUpn::Mistake => "mistake",
                NewUpn::Recorded => "recorded",
            }),
            Cow::Borrowed(yn(c.upn_evidence)),
            Cow::Borrowed(yn(c.evidence)),
            num(pop.england.las[usize::from(la)].code),
            upn(c.a.as_ref().map(|e| e.upn).or(c.known_upn)),
            upn(c.b.as_ref().map(|e| e.upn)),
            Cow::Borrowed(c.knowable.name()),
            id(c.twin),
            Cow::Borrowed(on(c, &|e| e.dual.is_some())),
            Cow::Borrowed(on(c, &|e| e.dual.as_ref().is_some_and(|d| d.both_main))),
            Cow::Borrowed(on(c, &|e| e.faults & row_faults::DUPLICATE != 0)),
            Cow::Borrowed(on(c, &|e| e.faults & row_faults::UPN_MISTYPED != 0)),
            id(c.former_link.filter(|_| c.has(F::WRONG_FORMER_UPN))),
            id(c.former_link.filter(|_| c.has(F::FORMER_UPN_VICTIM))),
            num(c.stale_rows),
            flag(F::REGISTER_ON_ROLL),
            flag(F::SCHOOL_AP),
            flag(F::EXCLUDED),
            flag(F::ADOPTED),
            flag(F::SURNAME_CHANGED),
            Cow::Borrowed(c.social_care.map(|s| s.code()).unwrap_or_default()),
            Cow::Borrowed(c.social_care_between.map(|s| s.code()).unwrap_or_default()),
        ])?;
    }
    truth.finish()
}

/// Writes every file into `dir` (created if missing) and returns the manifest.
pub fn write(pop: &Population, dir: &Path) -> Result<Manifest, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let year_a = pop.census_a.format("%Y").to_string();
    let year_b = pop.census_b.format("%Y").to_string();
    let name_a = format!("spring-census-{year_a}.csv");
    let name_b = format!("spring-census-{year_b}.csv");
    let mut rows = Vec::new();

    let (a, b) = rayon::join(|| write_census(pop, dir, &name_a, false), || write_census(pop, dir, &name_b, true));
    rows.push(a?);
    rows.push(b?);

    let (lists, truth) = rayon::join(
        || -> Result<_, Error> { Ok((write_places(pop, dir)?, write_sources(pop, dir)?)) },
        || -> Result<_, Error> {
            let linkage = if pop.config.linkage_file { Some(write_linkage(pop, dir, &year_a, &year_b)?) } else { None };
            Ok((write_truth(pop, dir)?, linkage))
        },
    );
    let (places, source_files) = lists?;
    let (truth, linkage) = truth?;
    rows.extend(places);
    let mut sources = Vec::new();
    let mut regulations = Vec::new();
    for (file, written) in source_files {
        sources.push((file.kind.name().to_string(), file.name.clone()));
        if let Some(regs) = file.regulations {
            regulations.push((file.name.clone(), regs.year()));
        }
        rows.push(written);
    }
    let linkage = linkage.map(|l| {
        rows.push(l);
        LINKAGE_FILE.to_string()
    });
    rows.push(truth);

    let manifest = Manifest {
        seed: pop.config.seed,
        pupils: pop.config.pupils,
        census_a_date: pop.census_a.format("%Y-%m-%d").to_string(),
        census_b_date: pop.census_b.format("%Y-%m-%d").to_string(),
        census_a: name_a,
        census_b: name_b,
        schools: "schools.csv".into(),
        postcode_deprivation: "postcode-deprivation.csv".into(),
        postcode_areas: "postcode-areas.csv".into(),
        sources,
        truth: "truth.csv".into(),
        linkage,
        rows,
        regulations,
        layout: match pop.config.layout {
            Layout::Standard => "standard",
            Layout::Council => "council",
        }
        .into(),
        council: (pop.config.layout == Layout::Council).then(council_layout),
        rates: pop.config.rates.list(),
    };
    let path = dir.join("manifest.json");
    let json =
        serde_json::to_string_pretty(&manifest).map_err(|e| Error::Write { path: path.clone(), source: e.into() })?;
    std::fs::write(&path, json).map_err(|source| Error::Write { path, source })?;
    Ok(manifest)
}

fn yn(b: bool) -> &'static str {
    if b { "Y" } else { "N" }
}

/// Columns of the truth file (`docs/synth.md` says what each holds).
pub const TRUTH_COLUMNS: &[&str] = &[
    "TruthId",
    "Fate",
    "InCohort",
    "NewUpn",
    "UpnEvidence",
    "Evidence",
    "LA",
    "UPN1",
    "UPN2",
    "Knowable",
    "Twin",
    "Dual",
    "BothMain",
    "DuplicateRow",
    "UpnMistyped",
    "WrongFormerUpn",
    "FormerUpnVictim",
    "StaleRows",
    "RegisterOnRoll",
    "SchoolAp",
    "Excluded",
    "Adopted",
    "SurnameChanged",
    "SocialCareA",
    "SocialCare",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn council_tables_cover_every_field_once() {
        for Format { key, schema, council, .. } in formats() {
            let mut fields: Vec<&str> = council.iter().map(|c| c.0).filter(|f| !f.is_empty()).collect();
            fields.sort_unstable();
            let mut ours = schema.fields();
            ours.sort_unstable();
            assert_eq!(fields, ours, "{key}");
            let mut headers: Vec<String> = council.iter().map(|c| c.1.to_ascii_lowercase()).collect();
            headers.sort_unstable();
            headers.dedup();
            assert_eq!(headers.len(), council.len(), "{key}: duplicate header");
        }
        assert_eq!(uk_date("2022-01-20"), "20/01/2022");
        assert_eq!(uk_date(""), "");
    }
}
