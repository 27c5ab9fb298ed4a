//! Rendering a population as the files a council would hold.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use cnis_core::records::{SourceKind, columns};
use cnis_core::schema::{self, SourceField};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::noise::{Faults, swap_day_month, typo};
use crate::people::{Child, Enrol, Fate, Home, NewUpn};
use crate::{ETHNICITIES, Error, Population, SEN_NEEDS, rng_for};

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
    /// Destination sources: (kind name, file).
    pub sources: Vec<(String, String)>,
    /// Truth file.
    pub truth: String,
    /// Every census and source record in the linkage layout, with its truth id.
    pub linkage: Option<String>,
    /// Rows written to each file.
    pub rows: Vec<(String, u64)>,
}

struct Out {
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
    rows: u64,
}

impl Out {
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Out, Error> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| Error::Write { path: path.clone(), source })?;
        let mut w = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
        w.write_record(header).map_err(|e| csv_err(&path, e))?;
        Ok(Out { path, w, rows: 0 })
    }
    fn row<I, T>(&mut self, fields: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.rows += 1;
        self.w.write_record(fields).map_err(|e| csv_err(&self.path, e))
    }
    fn finish(mut self) -> Result<(String, u64), Error> {
        self.w.flush().map_err(|source| Error::Write { path: self.path.clone(), source })?;
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((name, self.rows))
    }
}

fn csv_err(path: &Path, e: csv::Error) -> Error {
    Error::Write { path: path.to_path_buf(), source: std::io::Error::other(e) }
}

const NOISE_STREAM: u64 = 0x6e6f_6973_6500_0000;

/// A person as one file shows them, faults applied.
struct Shown {
    forename: String,
    surname: String,
    dob: String,
    postcode: String,
}

/// `scale` multiplies the fault rates; the first census (scale below 1) is
/// the reference record: its dates of birth are never disturbed, since they
/// decide who is of compulsory school age.
fn shown(pop: &Population, c: &Child, home: &Home, surname: u16, file: u64, scale: f64) -> Shown {
    let names = crate::names::Names::load_cached();
    let mut rng: ChaCha8Rng = rng_for(pop.config.seed ^ NOISE_STREAM, c.truth_id * 16 + file);
    let f = Faults::draw(&pop.config.rates, scale, &mut rng);
    let table = if c.sex == cnis_core::records::Sex::Male { &names.male } else { &names.female };
    let mut forename = table.get(c.forename).to_string();
    let mut surname = names.surnames.get(surname).to_string();
    if f.forename_typo {
        forename = typo(&forename, &mut rng);
    }
    if f.surname_typo {
        surname = typo(&surname, &mut rng);
    }
    if f.swap_names {
        std::mem::swap(&mut forename, &mut surname);
    }
    let dob = if f.swap_dob && scale >= 1.0 { swap_day_month(c.dob) } else { c.dob };
    let postcode = if f.drop_postcode { String::new() } else { postcode_of(pop, home).to_string() };
    Shown { forename, surname, dob: dob.format("%Y-%m-%d").to_string(), postcode }
}

fn postcode_of<'a>(pop: &'a Population, h: &Home) -> &'a str {
    &pop.england.las[usize::from(h.la)].neighbourhoods[h.neighbourhood as usize].postcodes[usize::from(h.postcode)]
}

fn census_row(pop: &Population, c: &Child, e: &Enrol, file: u64, scale: f64, second: bool) -> Vec<String> {
    let names = crate::names::Names::load_cached();
    let s = shown(pop, c, &e.home, e.surname, file, scale);
    let school = &pop.england.schools[e.school as usize];
    let table = if c.sex == cnis_core::records::Sex::Male { &names.male } else { &names.female };
    let former_surname = if second && e.surname != c.surname && c.truth_id.is_multiple_of(2) {
        names.surnames.get(c.surname).to_string()
    } else {
        String::new()
    };
    let la_name = &pop.england.las[usize::from(e.home.la)].code.info().name;
    vec![
        e.upn.to_string(),
        e.former_upn.map(|u| u.to_string()).unwrap_or_default(),
        s.surname,
        s.forename,
        c.middle.map(|m| table.get(m).to_string()).unwrap_or_default(),
        former_surname,
        s.dob,
        c.sex.code().to_string(),
        ETHNICITIES[usize::from(c.ethnicity)].0.to_string(),
        school.laestab.to_string(),
        "C".to_string(),
        e.entry_date.format("%Y-%m-%d").to_string(),
        e.nc_year.to_string(),
        format!("{} {}", e.home.house, names.streets.get(e.home.street)),
        la_name.clone(),
        s.postcode,
        if e.fsm { "1" } else { "0" }.to_string(),
        e.sen.code().to_string(),
        SEN_NEEDS[usize::from(e.sen_need)].to_string(),
        e.sessions[0].to_string(),
        e.sessions[1].to_string(),
        e.sessions[2].to_string(),
    ]
}

/// One source row as written, in [`schema::SOURCE`] order; `no` is the
/// source's place in [`SourceKind::ALL`].
fn source_row(pop: &Population, r: &crate::SourceRow, no: usize) -> Option<Vec<String>> {
    let kind = r.kind;
    let c = &pop.children[r.child as usize];
    let (home, upn, surname) = match (&c.a, &c.home) {
        (Some(a), _) => (a.home, Some(a.upn), a.surname),
        (None, Some(h)) => (*h, c.known_upn, c.surname),
        (None, None) => return None,
    };
    let s = shown(pop, c, &home, surname, 2 + no as u64, 1.0);
    let mut row = vec![String::new(); schema::SOURCE.columns.len()];
    let mut set = |f: SourceField, v: String| row[f.index()] = v;
    set(SourceField::La, r.la.to_string());
    set(SourceField::Laestab, r.laestab.map(|l| l.to_string()).unwrap_or_default());
    if kind == SourceKind::SocialCare {
        set(SourceField::LocalId, local_id(c.truth_id));
    }
    set(SourceField::Upn, upn.filter(|_| r.with_upn).map(|u| u.to_string()).unwrap_or_default());
    set(SourceField::Surname, s.surname);
    set(SourceField::Forename, s.forename);
    set(SourceField::Dob, s.dob);
    set(SourceField::Sex, c.sex.code().to_string());
    set(SourceField::Postcode, s.postcode);
    set(SourceField::Date, r.date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default());
    set(SourceField::DeletionGround, r.ground.map(|g| g.to_string()).unwrap_or_default());
    set(SourceField::Destination, r.destination.map(|d| d.to_string()).unwrap_or_default());
    set(SourceField::Status, r.status.unwrap_or_default().to_string());
    Some(row)
}

/// Name of the linkage file.
pub const LINKAGE_FILE: &str = "linkage.csv";

/// Writes every census and source record again in the linkage layout, the
/// same values (faults included) as in their own files, with the truth id.
fn write_linkage(pop: &Population, dir: &Path, year_a: &str, year_b: &str) -> Result<(String, u64), Error> {
    let mut out = Out::create(dir, LINKAGE_FILE, columns::LINK)?;
    for (second, year) in [(false, year_a), (true, year_b)] {
        let source = format!("census-{year}");
        let mut line = 1u64;
        for c in &pop.children {
            let Some(e) = (if second { &c.b } else { &c.a }) else { continue };
            line += 1;
            let r = census_row(pop, c, e, u64::from(second), if second { 1.0 } else { 0.4 }, second);
            // Census columns: 0 UPN, 1 FormerUPN, 2 Surname, 3 Forename,
            // 4 MiddleNames, 5 FormerSurname, 6 DOB, 7 Sex, 13 AddressLine1,
            // 15 HomePostcode.
            out.row([
                source.as_str(),
                &line.to_string(),
                &r[0],
                &r[1],
                "",
                &r[3],
                &r[4],
                &r[2],
                &r[5],
                &r[6],
                &r[7],
                &r[15],
                &r[13],
                &c.truth_id.to_string(),
            ])?;
        }
    }
    for (no, kind) in SourceKind::ALL.into_iter().enumerate() {
        let mut line = 1u64;
        for r in pop.rows.iter().filter(|r| r.kind == kind) {
            let Some(row) = source_row(pop, r, no) else { continue };
            line += 1;
            let at = |f: SourceField| row[f.index()].as_str();
            out.row([
                kind.name(),
                &line.to_string(),
                at(SourceField::Upn),
                "",
                "",
                at(SourceField::Forename),
                "",
                at(SourceField::Surname),
                "",
                at(SourceField::Dob),
                at(SourceField::Sex),
                at(SourceField::Postcode),
                "",
                &pop.children[r.child as usize].truth_id.to_string(),
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

/// Writes every file into `dir` (created if missing) and returns the manifest.
pub fn write(pop: &Population, dir: &Path) -> Result<Manifest, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let year_a = pop.census_a.format("%Y").to_string();
    let year_b = pop.census_b.format("%Y").to_string();
    let name_a = format!("spring-census-{year_a}.csv");
    let name_b = format!("spring-census-{year_b}.csv");
    let mut rows = Vec::new();

    let (a, b) = rayon::join(
        || -> Result<(String, u64), Error> {
            let mut out = Out::create(dir, &name_a, &schema::CENSUS.headers())?;
            for c in &pop.children {
                if let Some(e) = &c.a {
                    out.row(census_row(pop, c, e, 0, 0.4, false))?;
                }
            }
            out.finish()
        },
        || -> Result<(String, u64), Error> {
            let mut out = Out::create(dir, &name_b, &schema::CENSUS.headers())?;
            for c in &pop.children {
                if let Some(e) = &c.b {
                    out.row(census_row(pop, c, e, 1, 1.0, true))?;
                }
            }
            out.finish()
        },
    );
    rows.push(a?);
    rows.push(b?);

    let mut schools = Out::create(dir, "schools.csv", &schema::SCHOOLS.headers())?;
    for s in &pop.england.schools {
        let sector = if s.phase == crate::Phase::Independent { "independent" } else { "state-funded" };
        schools.row([
            s.urn.to_string(),
            s.laestab.to_string(),
            s.name.clone(),
            s.phase.code().into(),
            sector.into(),
        ])?;
    }
    rows.push(schools.finish()?);

    let mut pd = Out::create(dir, "postcode-deprivation.csv", &schema::POSTCODE_DEPRIVATION.headers())?;
    for la in &pop.england.las {
        for n in &la.neighbourhoods {
            for p in &n.postcodes {
                pd.row([p.as_str(), n.lsoa.as_str(), &n.decile.get().to_string()])?;
            }
        }
    }
    rows.push(pd.finish()?);

    let mut sources = Vec::new();
    for (no, kind) in SourceKind::ALL.into_iter().enumerate() {
        let name = format!("{}.csv", kind.name());
        let mut out = Out::create(dir, &name, &schema::SOURCE.headers())?;
        for r in pop.rows.iter().filter(|r| r.kind == kind) {
            if let Some(row) = source_row(pop, r, no) {
                out.row(row)?;
            }
        }
        sources.push((kind.name().to_string(), name.clone()));
        rows.push(out.finish()?);
    }

    let linkage = if pop.config.linkage_file {
        rows.push(write_linkage(pop, dir, &year_a, &year_b)?);
        Some(LINKAGE_FILE.to_string())
    } else {
        None
    };

    let mut truth = Out::create(dir, "truth.csv", TRUTH_COLUMNS)?;
    for c in &pop.children {
        let la = c.a.as_ref().or(c.b.as_ref()).map(|e| e.home.la).or(c.home.map(|h| h.la)).unwrap_or(0);
        truth.row([
            c.truth_id.to_string(),
            c.fate.name().to_string(),
            yn(c.in_cohort).to_string(),
            match c.new_upn {
                NewUpn::No => "no",
                NewUpn::Mistake => "mistake",
                NewUpn::Recorded => "recorded",
            }
            .to_string(),
            yn(c.upn_evidence).to_string(),
            yn(c.evidence).to_string(),
            pop.england.las[usize::from(la)].code.to_string(),
            c.a.as_ref().map(|e| e.upn.to_string()).or(c.known_upn.map(|u| u.to_string())).unwrap_or_default(),
            c.b.as_ref().map(|e| e.upn.to_string()).unwrap_or_default(),
        ])?;
    }
    rows.push(truth.finish()?);
    debug_assert!(pop.children.iter().all(|c| c.fate != Fate::Stayed || c.b.is_some()));

    let manifest = Manifest {
        seed: pop.config.seed,
        pupils: pop.config.pupils,
        census_a_date: pop.census_a.format("%Y-%m-%d").to_string(),
        census_b_date: pop.census_b.format("%Y-%m-%d").to_string(),
        census_a: name_a,
        census_b: name_b,
        schools: "schools.csv".into(),
        postcode_deprivation: "postcode-deprivation.csv".into(),
        sources,
        truth: "truth.csv".into(),
        linkage,
        rows,
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

/// Columns of the truth file.
pub const TRUTH_COLUMNS: &[&str] =
    &["TruthId", "Fate", "InCohort", "NewUpn", "UpnEvidence", "Evidence", "LA", "UPN1", "UPN2"];
