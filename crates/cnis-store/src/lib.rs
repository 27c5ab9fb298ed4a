//! Storage: the embedded SQLite database.
//!
//! This is the only crate that knows SQL. It holds loaded censuses and
//! destination sources, the schools and postcode lookups, the children (one
//! cnis child id per child, linked to every UPN seen for them) and tracking
//! runs with their leavers. Callers see domain types only.

mod schema;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use cnis_core::records::{
    AbsenceBand, CensusPupil, CohortPupil, DeletionGround, DestinationCode, Laestab, PostcodeDeprivation, School,
    Sector, SenProvision, Sex, SourceKind, SourceRecord,
};
use cnis_core::{ChildId, ImdDecile, LaCode, Postcode, Upn};
use rusqlite::{Connection, OptionalExtension, params};

/// Errors from the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite said no.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
}

type Result<T> = std::result::Result<T, Error>;

/// What a bulk load hands its caller: stores one record, or says why not.
pub type Insert<'a, T> = dyn FnMut(&T) -> std::result::Result<(), String> + 'a;

/// A loaded census.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CensusInfo {
    /// Database id.
    pub id: i64,
    /// Census day.
    pub date: NaiveDate,
    /// Pupils on it.
    pub pupils: u64,
}

/// The database.
pub struct Store {
    conn: Connection,
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn parse_date(s: &str, table: &'static str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| Error::Corrupt { table, what: "date" })
}

fn parse_upn(s: &str, table: &'static str) -> Result<Upn> {
    Upn::parse(s).map_err(|_| Error::Corrupt { table, what: "UPN" })
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path)?;
        Store::init(conn)
    }

    /// A fresh in-memory database (tests).
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
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

    fn new_load(&self, kind: &str, file: &str) -> Result<i64> {
        self.conn.execute("INSERT INTO loads (kind, file) VALUES (?1, ?2)", params![kind, file])?;
        Ok(self.conn.last_insert_rowid())
    }

    fn finish_load(&self, id: i64, rows_in: u64, accepted: u64, quarantined: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE loads SET rows_in = ?2, accepted = ?3, quarantined = ?4 WHERE id = ?1",
            params![id, rows_in as i64, accepted as i64, quarantined as i64],
        )?;
        Ok(())
    }

    /// Loads a census in one transaction. `fill` is handed a function that
    /// stores one pupil; it returns the load's (rows in, accepted,
    /// quarantined). A census already loaded for the same day is replaced.
    /// New UPNs get a child id; a UPN whose former UPN is known joins that
    /// child.
    pub fn load_census<E>(
        &mut self,
        date: NaiveDate,
        file: &str,
        fill: impl FnOnce(&mut Insert<'_, CensusPupil>) -> std::result::Result<(u64, u64, u64), E>,
    ) -> Result<std::result::Result<(CensusInfo, u64), E>> {
        // Foreign keys are checked by construction during a bulk load; the
        // pragma cannot change inside a transaction, so it is set around it.
        self.conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE;")?;
        let outcome = self.load_census_inner(date, file, fill);
        let end = if matches!(outcome, Ok(Ok(_))) { "COMMIT" } else { "ROLLBACK" };
        self.conn.execute_batch(end)?;
        self.conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        outcome
    }

    fn load_census_inner<E>(
        &mut self,
        date: NaiveDate,
        file: &str,
        fill: impl FnOnce(&mut Insert<'_, CensusPupil>) -> std::result::Result<(u64, u64, u64), E>,
    ) -> Result<std::result::Result<(CensusInfo, u64), E>> {
        let day = date_text(date);
        if let Some(old) = self
            .conn
            .query_row("SELECT id FROM censuses WHERE census_date = ?1", [&day], |r| r.get::<_, i64>(0))
            .optional()?
        {
            tracing::warn!(census = %day, "replacing the census already loaded for this day");
            let (first, last) = self.rows_of(old)?;
            self.conn.execute("DELETE FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2", [first, last])?;
            self.conn.execute("UPDATE child_upns SET first_census = NULL WHERE first_census = ?1", [old])?;
            self.conn.execute("DELETE FROM leavers WHERE run_id IN (SELECT id FROM tracking_runs WHERE census_a = ?1 OR census_b = ?1)", [old])?;
            self.conn.execute("DELETE FROM tracking_runs WHERE census_a = ?1 OR census_b = ?1", [old])?;
            self.conn.execute("DELETE FROM censuses WHERE id = ?1", [old])?;
        }
        let load = self.new_load("census", file)?;
        self.conn.execute("INSERT INTO censuses (census_date, load_id) VALUES (?1, ?2)", params![day, load])?;
        let census = self.conn.last_insert_rowid();
        let first_row: i64 =
            self.conn.query_row("SELECT coalesce(max(rowid), 0) + 1 FROM census_pupils", [], |r| r.get(0))?;
        let mut with_former_upn = 0u64;
        let counts = {
            let mut stmt = self.conn.prepare_cached(
                "INSERT INTO census_pupils VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23)",
            )?;
            let mut db_error: Option<rusqlite::Error> = None;
            let mut insert = |p: &CensusPupil| -> std::result::Result<(), String> {
                with_former_upn += u64::from(p.former_upn.is_some());
                let r = stmt.execute(params![
                    census,
                    p.upn.as_str(),
                    p.former_upn.as_ref().map(Upn::as_str),
                    p.surname,
                    p.forename,
                    p.middle_names,
                    p.former_surname,
                    date_text(p.dob),
                    p.sex.code(),
                    p.ethnicity,
                    i64::from(p.laestab.la_number()) * 10_000 + i64::from(p.laestab.estab()),
                    p.enrol_status.map(String::from),
                    p.entry_date.map(date_text),
                    p.nc_year_actual,
                    p.address_line1,
                    p.town,
                    p.postcode.as_ref().map(Postcode::as_str),
                    p.fsm_eligible,
                    p.sen_provision.code(),
                    p.sen_need,
                    p.sessions_possible,
                    p.sessions_authorised,
                    p.sessions_unauthorised,
                ]);
                r.map(|_| ()).map_err(|e| {
                    let msg = format!("database: {e}");
                    db_error = Some(e);
                    msg
                })
            };
            let counts = fill(&mut insert);
            if let Some(e) = db_error {
                return Err(e.into());
            }
            counts
        };
        let (rows_in, accepted, quarantined) = match counts {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        self.finish_load(load, rows_in, accepted, quarantined)?;
        let last_row: i64 =
            self.conn.query_row("SELECT coalesce(max(rowid), 0) FROM census_pupils", [], |r| r.get(0))?;
        self.conn.execute(
            "UPDATE censuses SET first_row = ?2, last_row = ?3 WHERE id = ?1",
            params![census, first_row, last_row],
        )?;
        let t = std::time::Instant::now();
        let minted = self.assign_child_ids(census, with_former_upn)?;
        tracing::debug!(secs = t.elapsed().as_secs_f64(), "assigned child ids");
        Ok(Ok((CensusInfo { id: census, date, pupils: accepted }, minted)))
    }

    /// Gives every UPN on a census a child id: a UPN already known keeps its
    /// child; a new UPN whose former UPN is known joins that child; any other
    /// gets a new id. Returns how many ids were minted.
    /// The rowid range holding a census's pupils.
    fn rows_of(&self, census: i64) -> Result<(i64, i64)> {
        Ok(self.conn.query_row("SELECT first_row, last_row FROM censuses WHERE id = ?1", [census], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?)
    }

    fn assign_child_ids(&mut self, census: i64, with_former_upn: u64) -> Result<u64> {
        let (first, last) = self.rows_of(census)?;
        if with_former_upn > 0 {
            self.conn.execute(
                "INSERT OR IGNORE INTO child_upns (upn, child_id, first_census)
                 SELECT p.upn, c.child_id, ?1 FROM census_pupils p JOIN child_upns c ON c.upn = p.former_upn
                 WHERE p.rowid BETWEEN ?2 AND ?3 AND p.former_upn IS NOT NULL",
                [census, first, last],
            )?;
        }
        let mut new: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT p.upn FROM census_pupils p LEFT JOIN child_upns c ON c.upn = p.upn
                 WHERE p.rowid BETWEEN ?1 AND ?2 AND c.upn IS NULL",
            )?;
            stmt.query_map([first, last], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
        };
        new.sort_unstable();
        // Draw the ids first and insert them in key order: sorted inserts
        // keep the B-trees appending instead of splitting pages at random.
        let mut rng = rand::rng();
        let mut ids: Vec<u64> = Vec::with_capacity(new.len());
        let mut seen = HashSet::with_capacity(new.len());
        while ids.len() < new.len() {
            let id = ChildId::random(&mut rng).payload();
            if seen.insert(id) {
                ids.push(id);
            }
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        {
            let mut add_child = self.conn.prepare_cached("INSERT OR IGNORE INTO children (child_id) VALUES (?1)")?;
            for (i, id) in sorted.iter().enumerate() {
                if add_child.execute([*id as i64])? == 0 {
                    // Already in use by a child from an earlier load: draw
                    // again (the space holds 2.5e16 ids, so this is rare).
                    let replacement = loop {
                        let id = ChildId::random(&mut rng).payload();
                        if !seen.contains(&id) && add_child.execute([id as i64])? == 1 {
                            break id;
                        }
                    };
                    let pos = ids.iter().position(|x| x == &sorted[i]).unwrap_or(0);
                    ids[pos] = replacement;
                }
            }
        }
        let mut add_upn =
            self.conn.prepare_cached("INSERT INTO child_upns (upn, child_id, first_census) VALUES (?1, ?2, ?3)")?;
        for (upn, id) in new.iter().zip(&ids) {
            add_upn.execute(params![upn, *id as i64, census])?;
        }
        Ok(new.len() as u64)
    }

    /// Every loaded census, oldest first.
    pub fn censuses(&self) -> Result<Vec<CensusInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.census_date, l.accepted FROM censuses c JOIN loads l ON l.id = c.load_id ORDER BY c.census_date",
        )?;
        let rows: Vec<(i64, String, i64)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(id, d, n)| Ok(CensusInfo { id, date: parse_date(&d, "censuses")?, pupils: n as u64 }))
            .collect()
    }

    /// The census loaded for `date`.
    pub fn census(&self, date: NaiveDate) -> Result<CensusInfo> {
        self.censuses()?.into_iter().find(|c| c.date == date).ok_or(Error::NoCensus(date))
    }

    /// Loads destination-source records in one transaction, like
    /// [`Store::load_census`].
    pub fn load_sources<E>(
        &mut self,
        kind: SourceKind,
        file: &str,
        fill: impl FnOnce(&mut Insert<'_, SourceRecord>) -> std::result::Result<(u64, u64, u64), E>,
    ) -> Result<std::result::Result<u64, E>> {
        let tx = self.conn.transaction()?;
        tx.execute("INSERT INTO loads (kind, file) VALUES (?1, ?2)", params![kind.name(), file])?;
        let load = tx.last_insert_rowid();
        let counts = {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO source_records VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
            )?;
            let mut insert = |r: &SourceRecord| -> std::result::Result<(), String> {
                stmt.execute(params![
                    load,
                    r.kind.name(),
                    r.la.map(|l| l.number()),
                    r.laestab.map(laestab_int),
                    r.local_id,
                    r.upn.as_ref().map(Upn::as_str),
                    r.surname,
                    r.forename,
                    r.dob.map(date_text),
                    r.sex.map(Sex::code),
                    r.postcode.as_ref().map(Postcode::as_str),
                    r.date.map(date_text),
                    r.deletion_ground.map(|g| g.to_string()),
                    r.destination.map(|d| d.to_string()),
                    r.status,
                ])
                .map(|_| ())
                .map_err(|e| format!("database: {e}"))
            };
            fill(&mut insert)
        };
        match counts {
            Ok((rows_in, accepted, quarantined)) => {
                tx.execute(
                    "UPDATE loads SET rows_in = ?2, accepted = ?3, quarantined = ?4 WHERE id = ?1",
                    params![load, rows_in as i64, accepted as i64, quarantined as i64],
                )?;
                tx.commit()?;
                Ok(Ok(accepted))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Replaces the schools list.
    pub fn replace_schools(&mut self, schools: &[School]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM schools", [])?;
        {
            let mut stmt = tx.prepare("INSERT OR REPLACE INTO schools VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for s in schools {
                let sector = if s.sector == Sector::Independent { "independent" } else { "state-funded" };
                stmt.execute(params![s.urn, laestab_int(s.laestab), s.name, s.phase, sector])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces the postcode deprivation lookup.
    pub fn replace_postcode_deprivation(&mut self, rows: &[PostcodeDeprivation]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM postcode_deprivation", [])?;
        {
            let mut stmt = tx.prepare("INSERT OR REPLACE INTO postcode_deprivation VALUES (?1, ?2, ?3)")?;
            for r in rows {
                stmt.execute(params![r.postcode.as_str(), r.lsoa, r.imd_decile.get()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Pupils on a census born between `dob_from` and `dob_to`, with their
    /// child id and postcode decile.
    pub fn cohort(&self, census: i64, dob_from: NaiveDate, dob_to: NaiveDate) -> Result<Vec<CohortPupil>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.upn, c.child_id, p.dob, p.sex, p.laestab, p.nc_year, p.sen, p.fsm,
                    p.sessions_possible, p.sessions_authorised, p.sessions_unauthorised, d.imd_decile
             FROM census_pupils p
             LEFT JOIN child_upns c ON c.upn = p.upn
             LEFT JOIN postcode_deprivation d ON d.postcode = p.postcode
             WHERE p.rowid BETWEEN ?1 AND ?2 AND p.dob BETWEEN ?3 AND ?4",
        )?;
        let (first, last) = self.rows_of(census)?;
        let mut rows = stmt.query(params![first, last, date_text(dob_from), date_text(dob_to)])?;
        let mut out = Vec::new();
        const T: &str = "census_pupils";
        while let Some(r) = rows.next()? {
            let upn: String = r.get(0)?;
            let child: Option<i64> = r.get(1)?;
            let dob: String = r.get(2)?;
            let sex: String = r.get(3)?;
            let sen: String = r.get(6)?;
            let possible: Option<u16> = r.get(8)?;
            let absent = r.get::<_, Option<u32>>(9)?.unwrap_or(0) + r.get::<_, Option<u32>>(10)?.unwrap_or(0);
            let decile: Option<u8> = r.get(11)?;
            out.push(CohortPupil {
                upn: parse_upn(&upn, T)?,
                child_id: child.map(|c| ChildId::from_payload(c as u64)),
                dob: parse_date(&dob, T)?,
                sex: Sex::parse(&sex).ok_or(Error::Corrupt { table: T, what: "sex" })?,
                laestab: laestab_from(r.get(4)?),
                nc_year: r.get(5)?,
                sen: SenProvision::parse(&sen).ok_or(Error::Corrupt { table: T, what: "SEN provision" })?,
                fsm: r.get(7)?,
                absence: possible.and_then(|p| AbsenceBand::of(p, absent)),
                imd_decile: decile.and_then(ImdDecile::new),
            });
        }
        Ok(out)
    }

    /// A census's pupils as linkage records: source `census-<date>`, the UPN
    /// as record id (unique within a census). Only pupils for which `keep`
    /// (given the UPN and former UPN) says yes are built.
    pub fn census_link_records(
        &self,
        census: i64,
        keep: &dyn Fn(&Upn, Option<&Upn>) -> bool,
    ) -> Result<Vec<cnis_core::records::LinkRecord>> {
        let (first, last) = self.rows_of(census)?;
        let date: String =
            self.conn.query_row("SELECT census_date FROM censuses WHERE id = ?1", [census], |r| r.get(0))?;
        let source = format!("census-{date}");
        let mut stmt = self.conn.prepare(
            "SELECT upn, former_upn, forename, middle_names, surname, former_surname, dob, sex, postcode, address_line1
             FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2",
        )?;
        let mut rows = stmt.query([first, last])?;
        let mut out = Vec::new();
        const T: &str = "census_pupils";
        while let Some(r) = rows.next()? {
            let upn: String = r.get(0)?;
            let parsed = parse_upn(&upn, T)?;
            let former = r.get::<_, Option<String>>(1)?.map(|f| parse_upn(&f, T)).transpose()?;
            if !keep(&parsed, former.as_ref()) {
                continue;
            }
            out.push(cnis_core::records::LinkRecord {
                source: source.clone(),
                upn: Some(parsed),
                former_upn: former,
                forename: r.get(2)?,
                middle_names: r.get(3)?,
                surname: r.get(4)?,
                former_surname: r.get(5)?,
                dob: Some(parse_date(&r.get::<_, String>(6)?, T)?),
                sex: Sex::parse(&r.get::<_, String>(7)?),
                postcode: r.get::<_, Option<String>>(8)?.map(|p| p.replace(' ', "")),
                address: r.get(9)?,
                record_id: upn,
                ..Default::default()
            });
        }
        Ok(out)
    }

    /// Every destination-source record, as a linkage record (source = the
    /// kind, record id = its row) beside the record itself.
    pub fn source_link_records(&self) -> Result<Vec<(cnis_core::records::LinkRecord, SourceRecord)>> {
        let mut stmt = self.conn.prepare(
            "SELECT rowid, kind, la, laestab, local_id, upn, surname, forename, dob, sex, postcode, date,
                    deletion_ground, destination, status FROM source_records",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        const T: &str = "source_records";
        while let Some(r) = rows.next()? {
            let kind: String = r.get(1)?;
            let kind = SourceKind::from_name(&kind).ok_or(Error::Corrupt { table: T, what: "kind" })?;
            let upn = r.get::<_, Option<String>>(5)?.map(|u| parse_upn(&u, T)).transpose()?;
            let dob = r.get::<_, Option<String>>(8)?.map(|d| parse_date(&d, T)).transpose()?;
            let sex = r.get::<_, Option<String>>(9)?.and_then(|s| Sex::parse(&s));
            let postcode: Option<String> = r.get(10)?;
            let rec = SourceRecord {
                kind,
                la: r.get::<_, Option<u16>>(2)?.and_then(|n| LaCode::from_number(n).ok()),
                laestab: r.get::<_, Option<i64>>(3)?.map(laestab_from),
                local_id: r.get(4)?,
                upn,
                surname: r.get(6)?,
                forename: r.get(7)?,
                dob,
                sex,
                postcode: postcode.as_deref().and_then(|p| Postcode::parse(p).ok()),
                date: r.get::<_, Option<String>>(11)?.map(|d| parse_date(&d, T)).transpose()?,
                deletion_ground: r.get::<_, Option<String>>(12)?.and_then(|g| DeletionGround::parse(&g)),
                destination: r.get::<_, Option<String>>(13)?.and_then(|d| DestinationCode::parse(&d).ok()),
                status: r.get(14)?,
            };
            let link = cnis_core::records::LinkRecord {
                source: kind.name().to_string(),
                record_id: r.get::<_, i64>(0)?.to_string(),
                upn,
                forename: rec.forename.clone(),
                surname: rec.surname.clone(),
                dob,
                sex,
                postcode: postcode.map(|p| p.replace(' ', "")),
                ..Default::default()
            };
            out.push((link, rec));
        }
        Ok(out)
    }

    /// Every UPN on a census, and every former UPN it records.
    pub fn roll_upns(&self, census: i64) -> Result<HashSet<Upn>> {
        let mut stmt = self.conn.prepare("SELECT upn, former_upn FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2")?;
        let (first, last) = self.rows_of(census)?;
        let mut rows = stmt.query([first, last])?;
        let mut set = HashSet::new();
        while let Some(r) = rows.next()? {
            let upn: String = r.get(0)?;
            set.insert(parse_upn(&upn, "census_pupils")?);
            if let Some(f) = r.get::<_, Option<String>>(1)? {
                set.insert(parse_upn(&f, "census_pupils")?);
            }
        }
        Ok(set)
    }

    /// Destination-source records that carry a UPN.
    pub fn sources_with_upn(&self) -> Result<Vec<SourceRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, la, laestab, local_id, upn, date, deletion_ground, destination, status
             FROM source_records WHERE upn IS NOT NULL",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        const T: &str = "source_records";
        while let Some(r) = rows.next()? {
            let kind: String = r.get(0)?;
            let upn: String = r.get(4)?;
            out.push(SourceRecord {
                kind: SourceKind::from_name(&kind).ok_or(Error::Corrupt { table: T, what: "kind" })?,
                la: r.get::<_, Option<u16>>(1)?.and_then(|n| LaCode::from_number(n).ok()),
                laestab: r.get::<_, Option<i64>>(2)?.map(laestab_from),
                local_id: r.get(3)?,
                upn: Some(parse_upn(&upn, T)?),
                surname: None,
                forename: None,
                dob: None,
                sex: None,
                postcode: None,
                date: r.get::<_, Option<String>>(5)?.map(|d| parse_date(&d, T)).transpose()?,
                deletion_ground: r.get::<_, Option<String>>(6)?.and_then(|g| DeletionGround::parse(&g)),
                destination: r.get::<_, Option<String>>(7)?.and_then(|d| DestinationCode::parse(&d).ok()),
                status: r.get(8)?,
            });
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

    /// Names and date of birth for the given UPNs on a census (leaver lists).
    pub fn names_on_census(&self, census: i64, upns: &[Upn]) -> Result<HashMap<Upn, (String, String)>> {
        // One sequential pass over the census beats building an index for a
        // few thousand look-ups.
        let wanted: HashSet<&str> = upns.iter().map(Upn::as_str).collect();
        let (first, last) = self.rows_of(census)?;
        let mut stmt =
            self.conn.prepare("SELECT upn, surname, forename FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2")?;
        let mut rows = stmt.query([first, last])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let upn = r.get_ref(0)?.as_str().map_err(|_| Error::Corrupt { table: "census_pupils", what: "UPN" })?;
            if wanted.contains(upn) {
                out.insert(parse_upn(upn, "census_pupils")?, (r.get(1)?, r.get(2)?));
            }
        }
        Ok(out)
    }

    /// Pupils on a census at any of `schools`: (school, surname, forename, date of birth).
    pub fn pupils_at_schools(
        &self,
        census: i64,
        schools: &HashSet<Laestab>,
    ) -> Result<Vec<(Laestab, String, String, NaiveDate)>> {
        let (first, last) = self.rows_of(census)?;
        let mut stmt = self
            .conn
            .prepare("SELECT laestab, surname, forename, dob FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2")?;
        let mut rows = stmt.query([first, last])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let school = laestab_from(r.get(0)?);
            if schools.contains(&school) {
                let dob: String = r.get(3)?;
                out.push((school, r.get(1)?, r.get(2)?, parse_date(&dob, "census_pupils")?));
            }
        }
        Ok(out)
    }

    /// Records a tracking run and its leavers; returns the run id.
    pub fn save_tracking_run(&mut self, census_a: i64, census_b: i64, leavers: &[StoredLeaver]) -> Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO tracking_runs (census_a, census_b, leavers) VALUES (?1, ?2, ?3)",
            params![census_a, census_b, leavers.len() as i64],
        )?;
        let run = tx.last_insert_rowid();
        {
            let mut stmt = tx.prepare("INSERT INTO leavers VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)")?;
            for l in leavers {
                stmt.execute(params![
                    run,
                    l.child_id.map(|c| c.payload() as i64),
                    l.upn.as_str(),
                    l.la,
                    laestab_int(l.laestab),
                    l.nc_year,
                    l.destination,
                    l.evidence,
                    l.absence,
                    l.sen,
                    l.fsm,
                    l.more_deprived_half,
                    l.social_care,
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

/// A reviewer's decision: each record as (source, record id, fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// One record.
    pub left: (String, String, u64),
    /// The other.
    pub right: (String, String, u64),
    /// "The same child" (true) or "not the same child".
    pub same: bool,
}

/// What a linkage run did to one child id, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// `new`, `merged` or `split`.
    pub kind: &'static str,
    /// The id the event is about (new, kept, or split from).
    pub child: ChildId,
    /// The other id (absorbed, or split off).
    pub other: Option<ChildId>,
    /// Records involved, where known.
    pub records: Option<u64>,
}

impl Store {
    /// The child id each (source, record id) was given by earlier linkage runs.
    pub fn linked_ids(&self) -> Result<HashMap<(String, String), ChildId>> {
        let mut stmt = self.conn.prepare("SELECT source, record_id, child_id FROM link_records")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (s, id, c) = row?;
            out.insert((s, id), ChildId::from_payload(c as u64));
        }
        Ok(out)
    }

    /// Every child id in use, by censuses or linkage, so new ones can avoid them.
    pub fn child_ids_in_use(&self) -> Result<HashSet<ChildId>> {
        let mut stmt = self.conn.prepare("SELECT child_id FROM children")?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        let mut out = HashSet::new();
        for row in rows {
            out.insert(ChildId::from_payload(row? as u64));
        }
        Ok(out)
    }

    /// Records a linkage run: each record's child id (replacing earlier
    /// ones), the new children, and the events. Returns the run id.
    pub fn save_link_run(&mut self, assigned: &[(&str, &str, ChildId)], events: &[LinkEvent]) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let children: HashSet<ChildId> = assigned.iter().map(|a| a.2).collect();
        tx.execute(
            "INSERT INTO link_runs (records, children) VALUES (?1, ?2)",
            params![assigned.len() as i64, children.len() as i64],
        )?;
        let run = tx.last_insert_rowid();
        {
            let mut child = tx.prepare("INSERT OR IGNORE INTO children (child_id) VALUES (?1)")?;
            let mut sorted: Vec<ChildId> = children.into_iter().collect();
            sorted.sort_unstable();
            for c in sorted {
                child.execute([c.payload() as i64])?;
            }
            let mut rec = tx.prepare("INSERT OR REPLACE INTO link_records VALUES (?1, ?2, ?3, ?4)")?;
            for (source, id, c) in assigned {
                rec.execute(params![source, id, c.payload() as i64, run])?;
            }
            let mut ev = tx.prepare("INSERT INTO link_events VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for e in events {
                ev.execute(params![
                    run,
                    e.kind,
                    e.child.payload() as i64,
                    e.other.map(|o| o.payload() as i64),
                    e.records.map(|r| r as i64)
                ])?;
            }
        }
        tx.commit()?;
        Ok(run)
    }

    /// Records a reviewer's decision on a pair (replacing an earlier one).
    pub fn save_decision(&mut self, d: &Decision) -> Result<()> {
        let (l, r) =
            if (&d.left.0, &d.left.1) <= (&d.right.0, &d.right.1) { (&d.left, &d.right) } else { (&d.right, &d.left) };
        self.conn.execute(
            "INSERT OR REPLACE INTO link_decisions (source_l, record_id_l, source_r, record_id_r, decision, fingerprint_l, fingerprint_r)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![l.0, l.1, r.0, r.1, if d.same { "same" } else { "different" }, l.2 as i64, r.2 as i64],
        )?;
        Ok(())
    }

    /// Every reviewer's decision.
    pub fn decisions(&self) -> Result<Vec<Decision>> {
        let mut stmt = self.conn.prepare(
            "SELECT source_l, record_id_l, fingerprint_l, source_r, record_id_r, fingerprint_r, decision FROM link_decisions",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Decision {
                left: (r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64),
                right: (r.get(3)?, r.get(4)?, r.get::<_, i64>(5)? as u64),
                same: r.get::<_, String>(6)? == "same",
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Events of a linkage run, in order.
    pub fn link_events(&self, run: i64) -> Result<Vec<LinkEvent>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, child_id, other_child_id, records FROM link_events WHERE run_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt.query_map([run], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?, r.get::<_, Option<i64>>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, c, o, n) = row?;
            let kind = match kind.as_str() {
                "new" => "new",
                "merged" => "merged",
                "split" => "split",
                _ => return Err(Error::Corrupt { table: "link_events", what: "kind" }),
            };
            out.push(LinkEvent {
                kind,
                child: ChildId::from_payload(c as u64),
                other: o.map(|o| ChildId::from_payload(o as u64)),
                records: n.map(|n| n as u64),
            });
        }
        Ok(out)
    }
}

/// A leaver as stored with its tracking run.
#[derive(Debug, Clone)]
pub struct StoredLeaver {
    /// Child id.
    pub child_id: Option<ChildId>,
    /// UPN on the first census.
    pub upn: Upn,
    /// LA of the school.
    pub la: u16,
    /// School.
    pub laestab: Laestab,
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
    pub social_care: Option<String>,
}

fn laestab_int(l: Laestab) -> i64 {
    i64::from(l.la_number()) * 10_000 + i64::from(l.estab())
}

fn laestab_from(n: i64) -> Laestab {
    Laestab::new((n / 10_000) as u16, (n % 10_000) as u16)
}
