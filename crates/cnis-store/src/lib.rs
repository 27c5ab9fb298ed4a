//! Storage: the embedded SQLite database.
//!
//! This is the only crate that knows SQL. It holds loaded censuses and
//! destination sources, the schools and postcode lookups, a record of every
//! load, the children (one cnis child id per child, linked to every UPN seen
//! for them), tracking runs with their leavers, and linkage's memory.
//! Callers see domain types only.
//!
//! A load is one transaction, and nothing it replaces is deleted until the
//! caller has seen what the new file holds and agreed ([`Replacing`]): an
//! empty or all-bad file, or one much smaller than what it replaces, can be
//! refused without anything changing. The database file is readable by its
//! owner only: it holds children's personal data.

pub mod ap;
pub mod audit;
pub mod cases;
pub mod db;
pub mod identity;
mod link;
mod loads;
pub mod postcodes;
pub mod register;
mod schema;

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use cnis_core::records::{
    AbsenceBand, CensusId, CmeStatus, CohortPupil, DeletionGround, DestinationCode, EnrolStatus, Laestab, LinkRecord,
    PupilKey, Sector, SenProvision, Sex, SocialCareStatus, SourceKey, SourceKind, SourceRecord,
};
use cnis_core::{ChildId, ImdDecile, LaCode, Postcode, Upn};
use rusqlite::{Connection, OptionalExtension, params};

pub use link::{Decision, LinkEvent};
pub use loads::{FileFacts, LoadInfo, LoadOutcome, Replacing, SameChild};

/// Errors from the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite said no.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no.
    #[error("database: {0}")]
    Postgres(#[from] postgres::Error),
    /// A lock was poisoned by a thread that panicked.
    #[error("a database connection pool's lock was poisoned")]
    Poisoned,
    /// The thing to add exists already.
    #[error("there is already {0}")]
    Duplicate(&'static str),
    /// The change is not allowed in the row's present state (the words
    /// say why, for the person who asked).
    #[error("{0}")]
    Refused(&'static str),
    /// The thing named does not exist.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// A change was made from an older version than the one stored.
    #[error(
        "the entry changed since it was read (version {expected} was read, {found} is stored); reload it and make the change again"
    )]
    Conflict {
        /// Version the change was made from.
        expected: i64,
        /// Version stored.
        found: i64,
    },
    /// A stored value did not parse: the database was changed outside cnis.
    #[error("database holds a bad {what} in {table}; was it edited by hand?")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Which value.
        what: &'static str,
    },
    /// The database is newer than this program.
    #[error("the database is at schema version {found}, newer than this cnis ({known}); upgrade cnis")]
    TooNew {
        /// Version found.
        found: usize,
        /// Latest this build knows.
        known: usize,
    },
    /// No census loaded for that date.
    #[error("no census for {0} is loaded")]
    NoCensus(NaiveDate),
    /// No load with that id.
    #[error("no load {0}; `cnis loads` lists them")]
    NoLoad(i64),
    /// The operating system would not start a thread.
    #[error("starting the database's checkpoint thread: {0}")]
    Thread(std::io::Error),
    /// Setting the database file's permissions failed.
    #[error("making {path} readable by its owner only: {source}")]
    Permissions {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result of a storage call.
pub type Result<T> = std::result::Result<T, Error>;

/// Says whether to build a census row, given its key, UPN and former UPN.
pub type KeepRow<'a> = dyn Fn(PupilKey, Option<&Upn>, Option<&Upn>) -> bool + 'a;

/// What a bulk load hands its caller: stores one record, or says why not.
pub type Insert<'a, T> = dyn FnMut(&T) -> std::result::Result<(), String> + 'a;

/// A loaded census.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CensusInfo {
    /// Database id.
    pub id: CensusId,
    /// Census day.
    pub date: NaiveDate,
    /// Rows on it.
    pub pupils: u64,
}

/// The database.
pub struct Store {
    conn: Connection,
}

/// `YYYY-MM-DD`, written by hand: a census load writes millions.
fn date_text(d: NaiveDate) -> String {
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return d.format("%Y-%m-%d").to_string();
    }
    let y = y as u32;
    let digits = [y / 1000, y / 100 % 10, y / 10 % 10, y % 10, m / 10, m % 10, day / 10, day % 10];
    let b = |i: usize| char::from(b'0' + digits[i] as u8);
    [b(0), b(1), b(2), b(3), '-', b(4), b(5), '-', b(6), b(7)].into_iter().collect()
}

/// Reads a stored `YYYY-MM-DD` date. Written by cnis, so a fixed layout read
/// digit by digit: a national census reads millions of them.
fn parse_date(s: &str, table: &'static str) -> Result<NaiveDate> {
    let b = s.as_bytes();
    let bad = || Error::Corrupt { table, what: "date" };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return Err(bad()) };
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(bad)
}

fn parse_upn(s: &str, table: &'static str) -> Result<Upn> {
    Upn::parse(s).map_err(|_| Error::Corrupt { table, what: "UPN" })
}

fn opt_date(s: Option<String>, table: &'static str) -> Result<Option<NaiveDate>> {
    s.map(|d| parse_date(&d, table)).transpose()
}

fn opt_upn(s: Option<String>, table: &'static str) -> Result<Option<Upn>> {
    s.map(|u| parse_upn(&u, table)).transpose()
}

/// Makes `path` readable and writable by its owner only.
fn owner_only(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|source| Error::Permissions { path: path.to_path_buf(), source })?;
    }
    let _ = path;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    /// The file is made readable by its owner only.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            // Create it empty and private before SQLite writes anything to it.
            let _ = create_private(path);
        }
        let conn = Connection::open(path)?;
        owner_only(path)?;
        Store::init(conn)
    }

    /// A second connection to the same database file, for reading on
    /// another thread while this one reads too (tracking reads both
    /// censuses at once). `None` for an in-memory database.
    pub fn reader(&self) -> Result<Option<Store>> {
        let Some(path) = self.conn.path().filter(|p| !p.is_empty()) else { return Ok(None) };
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        rusqlite::vtab::array::load_module(&conn)?;
        conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -262144;")?;
        Ok(Some(Store { conn }))
    }

    /// A fresh in-memory database (tests).
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        rusqlite::vtab::array::load_module(&conn)?;
        conn.execute_batch(
            "PRAGMA journal_mode = DELETE;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -1048576;",
        )?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: usize = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema::MIGRATIONS.len() {
            return Err(Error::TooNew { found: version, known: schema::MIGRATIONS.len() });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "migrated database");
        }
        Ok(())
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<usize> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The rowid range holding a census's pupils.
    fn rows_of(&self, census: CensusId) -> Result<(i64, i64)> {
        Ok(self.conn.query_row("SELECT first_row, last_row FROM censuses WHERE id = ?1", [census.0], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?)
    }

    /// Every loaded census, oldest first.
    pub fn censuses(&self) -> Result<Vec<CensusInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.census_date, l.accepted FROM censuses c JOIN loads l ON l.id = c.load_id
             WHERE c.census_date NOT LIKE 'replacing%' ORDER BY c.census_date",
        )?;
        let rows: Vec<(i64, String, i64)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(id, d, n)| Ok(CensusInfo { id: CensusId(id), date: parse_date(&d, "censuses")?, pupils: n as u64 }))
            .collect()
    }

    /// The census loaded for `date`.
    pub fn census(&self, date: NaiveDate) -> Result<CensusInfo> {
        self.censuses()?.into_iter().find(|c| c.date == date).ok_or(Error::NoCensus(date))
    }

    /// Pupils on a census born between `dob_from` and `dob_to` (rows without
    /// a usable date of birth are left out), with their postcode decile.
    /// Child ids are not looked up here (a join per pupil); see
    /// [`Store::child_ids`].
    pub fn cohort(&self, census: CensusId, dob_from: NaiveDate, dob_to: NaiveDate) -> Result<Vec<CohortPupil>> {
        // The deciles are looked up here rather than joined in SQL: a few
        // hundred thousand postcodes fit in memory, and millions of B-tree
        // look-ups cost more than the map.
        let deciles: rustc_hash::FxHashMap<String, u8> = {
            let mut stmt = self.conn.prepare("SELECT postcode, imd_decile FROM postcode_deprivation")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u8>(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut stmt = self.conn.prepare(
            "SELECT rowid, upn, upn_text, former_upn, dob, sex, laestab, enrol_status,
                    entry_date, nc_year, sen, fsm,
                    sessions_possible, sessions_authorised, sessions_unauthorised, postcode
             FROM census_pupils
             WHERE rowid BETWEEN ?1 AND ?2 AND dob BETWEEN ?3 AND ?4",
        )?;
        let (first, last) = self.rows_of(census)?;
        let mut rows = stmt.query(params![first, last, date_text(dob_from), date_text(dob_to)])?;
        let mut out = Vec::new();
        const T: &str = "census_pupils";
        while let Some(r) = rows.next()? {
            let possible: Option<u16> = r.get(12)?;
            let absent = r.get::<_, Option<u32>>(13)?.unwrap_or(0) + r.get::<_, Option<u32>>(14)?.unwrap_or(0);
            let decile = text(r, 15)?.and_then(|p| deciles.get(p)).copied();
            out.push(CohortPupil {
                key: PupilKey { census, row: r.get(0)? },
                upn: text(r, 1)?.map(|u| parse_upn(u, T)).transpose()?,
                upn_text: r.get(2)?,
                former_upn: text(r, 3)?.map(|u| parse_upn(u, T)).transpose()?,
                child_id: None,
                dob: parse_date(text(r, 4)?.unwrap_or(""), T)?,
                sex: Sex::parse(text(r, 5)?.unwrap_or("")).ok_or(Error::Corrupt { table: T, what: "sex" })?,
                laestab: r.get::<_, Option<i64>>(6)?.map(laestab_from),
                enrol_status: text(r, 7)?.and_then(EnrolStatus::parse),
                entry_date: text(r, 8)?.map(|d| parse_date(d, T)).transpose()?,
                nc_year: r.get(9)?,
                sen: SenProvision::parse(text(r, 10)?.unwrap_or(""))
                    .ok_or(Error::Corrupt { table: T, what: "SEN provision" })?,
                fsm: r.get(11)?,
                absence: possible.and_then(|p| AbsenceBand::of(p, absent)),
                imd_decile: decile.and_then(ImdDecile::new),
            });
        }
        Ok(out)
    }

    /// The second census as tracking reads it: every UPN on it, each row
    /// that records a former UPN, and each row whose UPN failed its check.
    pub fn roll(&self, census: CensusId) -> Result<Roll> {
        let mut stmt = self.conn.prepare(
            "SELECT rowid, upn, former_upn, upn_text IS NOT NULL, laestab, dob FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2",
        )?;
        let (first, last) = self.rows_of(census)?;
        let mut rows = stmt.query([first, last])?;
        let mut roll = Roll::default();
        roll.upns.reserve(usize::try_from(last - first + 1).unwrap_or(0));
        const T: &str = "census_pupils";
        while let Some(r) = rows.next()? {
            let key = PupilKey { census, row: r.get(0)? };
            let upn = match r.get_ref(1)?.as_str_or_null().map_err(|_| Error::Corrupt { table: T, what: "UPN" })? {
                Some(u) => Some(parse_upn(u, T)?),
                None => None,
            };
            if let Some(u) = upn {
                roll.upns.insert(u, key.row);
            }
            if let Some(l) = r.get::<_, Option<i64>>(4)? {
                let dob = match r.get_ref(5)?.as_str_or_null().ok().flatten() {
                    Some(d) => Some(parse_date(d, T)?),
                    None => None,
                };
                roll.by_school.entry(laestab_from(l)).or_default().push((key.row, dob));
            }
            if let Some(f) = r.get::<_, Option<String>>(2)? {
                roll.with_former_upn.push((key, parse_upn(&f, T)?, upn));
            }
            if r.get::<_, bool>(3)? {
                roll.faulty_upn.push(key);
            } else if upn.is_none() {
                roll.blank_upn.push(key);
            }
        }
        Ok(roll)
    }

    /// Names, date of birth, school and postcode of the given rows.
    pub fn pupil_details(&self, keys: &[PupilKey]) -> Result<HashMap<PupilKey, PupilDetails>> {
        let mut out = HashMap::with_capacity(keys.len());
        // In row order, so the reads walk the table forwards.
        let mut sorted = keys.to_vec();
        sorted.sort_unstable_by_key(|k| k.row);
        sorted.dedup();
        for key in sorted {
            if let Some(d) = details_of(&self.conn, key.row)? {
                out.insert(key, d);
            }
        }
        Ok(out)
    }

    /// A census's rows as linkage records, each with its key. Only rows for
    /// which `keep` says yes are built. The record id is the row number.
    pub fn census_link_records(
        &self,
        census: CensusId,
        source: &str,
        keep: &KeepRow<'_>,
    ) -> Result<Vec<(PupilKey, LinkRecord)>> {
        let (first, last) = self.rows_of(census)?;
        let mut stmt = self.conn.prepare(&format!("{LINK_SELECT} WHERE rowid BETWEEN ?1 AND ?2"))?;
        let mut rows = stmt.query([first, last])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let key = PupilKey { census, row: r.get(0)? };
            let upn = opt_upn(r.get(1)?, LINK_TABLE)?;
            let former = opt_upn(r.get(2)?, LINK_TABLE)?;
            if !keep(key, upn.as_ref(), former.as_ref()) {
                continue;
            }
            out.push((key, link_record(r, key, source, upn, former)?));
        }
        Ok(out)
    }

    /// Every destination-source row, with its key.
    pub fn source_records(&self) -> Result<Vec<(SourceKey, SourceRecord)>> {
        let mut stmt = self.conn.prepare(
            "SELECT rowid, kind, la, laestab, urn, local_id, upn, upn_text, surname, forename, middle_names, dob, sex,
                    postcode, postcode_text, date, end_date, deletion_ground, destination, status, provider, hours
             FROM source_records ORDER BY rowid",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        const T: &str = "source_records";
        while let Some(r) = rows.next()? {
            let kind: String = r.get(1)?;
            let kind = SourceKind::from_name(&kind).ok_or(Error::Corrupt { table: T, what: "kind" })?;
            let status: Option<String> = r.get(19)?;
            let rec = SourceRecord {
                kind,
                la: r.get::<_, Option<u16>>(2)?.and_then(|n| LaCode::from_number(n).ok()),
                laestab: r.get::<_, Option<i64>>(3)?.map(laestab_from),
                urn: r.get(4)?,
                local_id: r.get(5)?,
                upn: opt_upn(r.get(6)?, T)?,
                upn_text: r.get(7)?,
                surname: r.get(8)?,
                forename: r.get(9)?,
                middle_names: r.get(10)?,
                dob: opt_date(r.get(11)?, T)?,
                sex: r.get::<_, Option<String>>(12)?.and_then(|s| Sex::parse(&s)),
                postcode: r.get::<_, Option<String>>(13)?.and_then(|p| Postcode::parse(&p).ok()),
                postcode_text: r.get(14)?,
                date: opt_date(r.get(15)?, T)?,
                end_date: opt_date(r.get(16)?, T)?,
                deletion_ground: r.get::<_, Option<String>>(17)?.and_then(|g| DeletionGround::parse_stored(&g)),
                destination: r.get::<_, Option<String>>(18)?.and_then(|d| DestinationCode::parse(&d).ok()),
                cme_status: status.as_deref().filter(|_| kind == SourceKind::Cme).and_then(CmeStatus::parse),
                social_care: status
                    .as_deref()
                    .filter(|_| kind == SourceKind::SocialCare)
                    .and_then(SocialCareStatus::parse),
                provider: r.get(20)?,
                hours: r.get::<_, Option<f64>>(21)?.map(|h| h as f32),
            };
            out.push((SourceKey(r.get(0)?), rec));
        }
        Ok(out)
    }

    /// The sector of every school on the schools list.
    pub fn school_sectors(&self) -> Result<HashMap<Laestab, Sector>> {
        let mut stmt = self.conn.prepare("SELECT laestab, sector FROM schools")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (l, s) = row?;
            out.insert(laestab_from(l), if s == "independent" { Sector::Independent } else { Sector::StateFunded });
        }
        Ok(out)
    }

    /// The LAESTAB of every school on the schools list, by URN.
    pub fn schools_by_urn(&self) -> Result<HashMap<u32, Laestab>> {
        let mut stmt = self.conn.prepare("SELECT urn, laestab FROM schools")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (u, l) = row?;
            out.insert(u, laestab_from(l));
        }
        Ok(out)
    }

    /// Records a tracking run and its leavers; returns the run id. Call it
    /// only once the run's files are written.
    pub fn save_tracking_run(
        &mut self,
        census_a: CensusId,
        census_b: CensusId,
        linked: bool,
        leavers: &[StoredLeaver],
    ) -> Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO tracking_runs (census_a, census_b, leavers, linked) VALUES (?1, ?2, ?3, ?4)",
            params![census_a.0, census_b.0, leavers.len() as i64, linked],
        )?;
        let run = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare(
                "INSERT INTO leavers (run_id, child_id, upn, la, laestab, nc_year, destination, evidence, absence, sen,
                    fsm, more_deprived_half, social_care, matched_by, match_probability, conflict)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
            )?;
            for l in leavers {
                stmt.execute(params![
                    run,
                    l.child_id.map(|c| c.payload() as i64),
                    l.upn.as_ref().map(Upn::as_str),
                    l.la,
                    l.laestab.map(laestab_int),
                    l.nc_year,
                    l.destination,
                    l.evidence,
                    l.absence,
                    l.sen,
                    l.fsm,
                    l.more_deprived_half,
                    l.social_care,
                    l.matched_by,
                    l.match_probability,
                    l.conflict,
                ])?;
            }
        }
        tx.commit()?;
        Ok(run)
    }

    /// How many leavers a run recorded, by destination.
    pub fn run_destinations(&self, run: i64) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT destination, count(*) FROM leavers WHERE run_id = ?1 GROUP BY destination ORDER BY destination",
        )?;
        let rows = stmt.query_map([run], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Tracking runs recorded: (run id, leavers).
    pub fn tracking_runs(&self) -> Result<Vec<(i64, u64)>> {
        let mut stmt = self.conn.prepare("SELECT id, leavers FROM tracking_runs ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One tracking run's leavers from schools in LA `la`, each with their
    /// names, date of birth and home from the run's first census (none for
    /// a leaver whose UPN failed its check). One pass over that census.
    pub fn run_leavers(&self, run: i64, la: u16) -> Result<Vec<RunLeaver>> {
        let census_a: i64 = self
            .conn
            .query_row("SELECT census_a FROM tracking_runs WHERE id = ?1", [run], |r| r.get(0))
            .optional()?
            .ok_or(Error::NotFound("tracking run"))?;
        let mut stmt = self.conn.prepare(
            "SELECT child_id, upn, laestab, destination, sen, social_care FROM leavers
             WHERE run_id = ?1 AND la = ?2 ORDER BY rowid",
        )?;
        let mut rows = stmt.query(params![run, la])?;
        let mut out = Vec::new();
        let mut by_upn: HashMap<String, usize> = HashMap::new();
        while let Some(r) = rows.next()? {
            let upn: Option<String> = r.get(1)?;
            if let Some(u) = &upn {
                by_upn.insert(u.clone(), out.len());
            }
            out.push(RunLeaver {
                child_id: r.get::<_, Option<i64>>(0)?.map(|c| ChildId::from_payload(c as u64)),
                laestab: r.get::<_, Option<i64>>(2)?.map(laestab_from),
                destination: r.get(3)?,
                sen: r.get(4)?,
                social_care: r.get(5)?,
                details: None,
            });
        }
        if by_upn.is_empty() {
            return Ok(out);
        }
        let (first, last) = self.rows_of(CensusId(census_a))?;
        let mut scan = self.conn.prepare("SELECT rowid, upn FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2")?;
        let mut rows = scan.query([first, last])?;
        let mut found = Vec::new();
        while let Some(r) = rows.next()? {
            if let Some(u) = r.get_ref(1)?.as_str_or_null().ok().flatten()
                && let Some(&i) = by_upn.get(u)
            {
                found.push((i, r.get::<_, i64>(0)?));
            }
        }
        for (i, row) in found {
            out[i].details = details_of(&self.conn, row)?;
        }
        Ok(out)
    }

    /// The child id of each UPN given that has one.
    pub fn child_ids(&self, upns: &[Upn]) -> Result<HashMap<Upn, ChildId>> {
        let mut stmt = self.conn.prepare_cached("SELECT child_id FROM child_upns WHERE upn = ?1")?;
        let mut out = HashMap::with_capacity(upns.len());
        for u in upns {
            if let Some(id) = stmt.query_row([u.as_str()], |r| r.get::<_, i64>(0)).optional()? {
                out.insert(*u, ChildId::from_payload(id as u64));
            }
        }
        Ok(out)
    }

    /// The child id for a UPN, if the UPN has been seen.
    pub fn child_for_upn(&self, upn: &Upn) -> Result<Option<ChildId>> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT child_id FROM child_upns WHERE upn = ?1", [upn.as_str()], |r| r.get(0))
            .optional()?;
        Ok(id.map(|n| ChildId::from_payload(n as u64)))
    }

    /// How many children the database knows.
    pub fn child_count(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM children", [], |r| r.get::<_, i64>(0))? as u64)
    }
}

const LINK_TABLE: &str = "census_pupils";
const LINK_SELECT: &str = "SELECT rowid, upn, former_upn, forename, middle_names, surname, former_surname, dob, sex,
        coalesce(postcode, postcode_text), address_line1, upn_text
 FROM census_pupils";

/// A row of [`LINK_SELECT`] as a linkage record.
fn link_record(
    r: &rusqlite::Row<'_>,
    key: PupilKey,
    source: &str,
    upn: Option<Upn>,
    former: Option<Upn>,
) -> Result<LinkRecord> {
    Ok(LinkRecord {
        source: source.to_string(),
        record_id: key.row.to_string(),
        upn,
        former_upn: former,
        upn_text: r.get(11)?,
        forename: r.get(3)?,
        middle_names: r.get(4)?,
        surname: r.get(5)?,
        former_surname: r.get(6)?,
        dob: opt_date(r.get(7)?, LINK_TABLE)?,
        sex: r.get::<_, String>(8).ok().and_then(|s| Sex::parse(&s)),
        postcode: r.get::<_, Option<String>>(9)?.map(|p| p.replace(' ', "")),
        address: r.get(10)?,
        ..Default::default()
    })
}

/// A text column of a row, borrowed.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<Option<&'r str>> {
    r.get_ref(i)?.as_str_or_null().map_err(|_| Error::Corrupt { table: "census_pupils", what: "text" })
}

/// Names, date of birth, school and postcode of one census row.
fn details_of(conn: &Connection, row: i64) -> Result<Option<PupilDetails>> {
    let mut stmt = conn.prepare_cached(
        "SELECT upn, upn_text, forename, middle_names, surname, former_surname, dob, sex, laestab, postcode,
                postcode_text, address_line1
         FROM census_pupils WHERE rowid = ?1",
    )?;
    const T: &str = "census_pupils";
    let found = stmt
        .query_row([row], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, Option<String>>(11)?,
            ))
        })
        .optional()?;
    let Some((upn, upn_text, forename, middle, surname, former_surname, dob, sex, laestab, pc, pc_text, addr)) = found
    else {
        return Ok(None);
    };
    Ok(Some(PupilDetails {
        upn: opt_upn(upn, T)?,
        upn_text,
        forename,
        middle_names: middle,
        surname,
        former_surname,
        dob: opt_date(dob, T)?,
        sex: Sex::parse(&sex).unwrap_or(Sex::Unknown),
        laestab: laestab.map(laestab_from),
        postcode: pc.or(pc_text),
        address: addr,
    }))
}

/// Creates an empty file readable by its owner only.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

/// The second census, as tracking reads it, in one pass.
#[derive(Debug, Clone, Default)]
pub struct Roll {
    /// Every UPN on it that passes its check, with a row that carries it.
    pub upns: rustc_hash::FxHashMap<Upn, i64>,
    /// The rows of each school, with each row's date of birth.
    pub by_school: rustc_hash::FxHashMap<Laestab, Vec<(i64, Option<NaiveDate>)>>,
    /// Rows recording a former UPN: (row, former UPN, the row's own UPN).
    pub with_former_upn: Vec<(PupilKey, Upn, Option<Upn>)>,
    /// Rows whose UPN failed its check.
    pub faulty_upn: Vec<PupilKey>,
    /// Rows with no UPN at all (kept for their names and date of birth).
    pub blank_upn: Vec<PupilKey>,
}

/// What a census row says of who a pupil is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PupilDetails {
    /// UPN.
    pub upn: Option<Upn>,
    /// A UPN that failed its check, as written.
    pub upn_text: Option<String>,
    /// Forename.
    pub forename: Option<String>,
    /// Middle names.
    pub middle_names: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Former surname.
    pub former_surname: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex.
    pub sex: Sex,
    /// School.
    pub laestab: Option<Laestab>,
    /// Postcode (as written where it is not a valid one).
    pub postcode: Option<String>,
    /// First address line.
    pub address: Option<String>,
}

/// A leaver of a tracking run with their details, for the register.
#[derive(Debug, Clone)]
pub struct RunLeaver {
    /// Child id.
    pub child_id: Option<ChildId>,
    /// School left.
    pub laestab: Option<Laestab>,
    /// Destination name.
    pub destination: String,
    /// SEN code.
    pub sen: String,
    /// Social-care status code.
    pub social_care: Option<String>,
    /// Names, date of birth and home, from the first census.
    pub details: Option<PupilDetails>,
}

/// A leaver as stored with its tracking run.
#[derive(Debug, Clone)]
pub struct StoredLeaver {
    /// Child id.
    pub child_id: Option<ChildId>,
    /// UPN on the first census.
    pub upn: Option<Upn>,
    /// LA of the school.
    pub la: Option<u16>,
    /// School.
    pub laestab: Option<Laestab>,
    /// NC year.
    pub nc_year: Option<i8>,
    /// Destination name.
    pub destination: &'static str,
    /// Evidence.
    pub evidence: String,
    /// Absence band name.
    pub absence: Option<&'static str>,
    /// SEN code.
    pub sen: &'static str,
    /// FSM.
    pub fsm: bool,
    /// In the more deprived half, where known.
    pub more_deprived_half: Option<bool>,
    /// Social-care status.
    pub social_care: Option<&'static str>,
    /// How the destination's evidence was matched to the child.
    pub matched_by: Option<&'static str>,
    /// The match probability, where linkage made the match.
    pub match_probability: Option<f64>,
    /// Conflicting evidence, if any.
    pub conflict: Option<String>,
}

fn laestab_int(l: Laestab) -> i64 {
    i64::from(l.la_number()) * 10_000 + i64::from(l.estab())
}

fn laestab_from(n: i64) -> Laestab {
    Laestab::new((n / 10_000) as u16, (n % 10_000) as u16)
}
