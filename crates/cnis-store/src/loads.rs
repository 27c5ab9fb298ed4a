//! Loads: every file put into the database, as one transaction that the
//! caller can still refuse once it has seen what the file holds.
//!
//! Each load writes its rows first, beside whatever it would replace. Only
//! then is the caller's `decide` asked, with the counts of the new file and
//! the loads it would replace (and any earlier load of the very same file);
//! if it says no, the transaction rolls back and nothing has changed. If it
//! says yes, what is replaced is deleted and its load marked replaced, in
//! the same transaction. The rules (refuse an empty file, a much smaller
//! one, the same file twice) are the caller's; this module only makes them
//! safe to apply.

use rustc_hash::FxHashSet as HashSet;

use chrono::NaiveDate;
use cnis_core::records::{
    CensusId, CensusPupil, LoadId, PostcodeDeprivation, School, Sector, SourceKind, SourceRecord,
};
use cnis_core::{ChildId, Postcode, Upn};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::{CensusInfo, Error, Insert, PupilDetails, Result, Store, date_text, laestab_int};

/// What reading a file found: its fingerprint and counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// The file as named on the command line.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Hash of its bytes (hex).
    pub content_hash: String,
    /// Rows read.
    pub rows_in: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Field faults on accepted rows.
    pub faults: u64,
}

/// One load, as `cnis loads` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadInfo {
    /// Its id.
    pub id: LoadId,
    /// `census`, a source kind, `schools` or `postcodes`.
    pub kind: String,
    /// The file.
    pub file: String,
    /// When (UTC).
    pub loaded_at: String,
    /// Rows read.
    pub rows_in: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Field faults on accepted rows.
    pub faults: u64,
    /// The census day (census loads).
    pub census_date: Option<NaiveDate>,
    /// Hash of the file's bytes.
    pub content_hash: Option<String>,
    /// The load that replaced this one.
    pub replaced_by: Option<LoadId>,
    /// When it was unloaded.
    pub unloaded_at: Option<String>,
}

impl LoadInfo {
    /// Whether its rows are in the database now.
    pub fn is_current(&self) -> bool {
        self.replaced_by.is_none() && self.unloaded_at.is_none()
    }
}

/// What the caller decides on, before anything is replaced.
#[derive(Debug, Clone)]
pub struct Replacing<'a> {
    /// The new file.
    pub facts: &'a FileFacts,
    /// Current loads this one would replace.
    pub replaces: Vec<LoadInfo>,
    /// A current load of a file with the same bytes, if any.
    pub same_file: Option<LoadInfo>,
}

/// How a load ended.
#[derive(Debug)]
pub enum LoadOutcome<E> {
    /// Stored.
    Loaded {
        /// The load.
        load: Box<LoadInfo>,
        /// The census, for a census load.
        census: Option<CensusInfo>,
        /// Child ids minted (census loads).
        minted: u64,
        /// Loads it replaced.
        replaced: Vec<LoadInfo>,
    },
    /// The caller's rule said no; nothing changed.
    Refused(String),
    /// Reading the file failed; nothing changed.
    Failed(E),
}

const LOAD_COLUMNS: &str = "id, kind, file, loaded_at, rows_in, accepted, rejected, faults, census_date, content_hash, \
                            replaced_by, unloaded_at";

fn load_from_row(r: &rusqlite::Row) -> rusqlite::Result<LoadInfo> {
    Ok(LoadInfo {
        id: LoadId(r.get(0)?),
        kind: r.get(1)?,
        file: r.get(2)?,
        loaded_at: r.get(3)?,
        rows_in: r.get::<_, i64>(4)? as u64,
        accepted: r.get::<_, i64>(5)? as u64,
        rejected: r.get::<_, i64>(6)? as u64,
        faults: r.get::<_, i64>(7)? as u64,
        census_date: r.get::<_, Option<String>>(8)?.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        content_hash: r.get(9)?,
        replaced_by: r.get::<_, Option<i64>>(10)?.map(LoadId),
        unloaded_at: r.get(11)?,
    })
}

fn loads_where(tx: &rusqlite::Connection, clause: &str, p: impl rusqlite::Params) -> Result<Vec<LoadInfo>> {
    let mut stmt = tx.prepare(&format!("SELECT {LOAD_COLUMNS} FROM loads WHERE {clause} ORDER BY id"))?;
    let rows = stmt.query_map(p, load_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

const CURRENT: &str = "replaced_by IS NULL AND unloaded_at IS NULL";

fn new_load(tx: &Transaction, kind: &str, file: &str, census: Option<NaiveDate>) -> Result<i64> {
    tx.execute(
        "INSERT INTO loads (kind, file, census_date) VALUES (?1, ?2, ?3)",
        params![kind, file, census.map(date_text)],
    )?;
    Ok(tx.last_insert_rowid())
}

fn finish_load(tx: &Transaction, id: i64, f: &FileFacts) -> Result<()> {
    tx.execute(
        "UPDATE loads SET rows_in = ?2, accepted = ?3, quarantined = ?4, rejected = ?4, faults = ?5, bytes = ?6,
                content_hash = ?7 WHERE id = ?1",
        params![
            id,
            f.rows_in as i64,
            f.accepted as i64,
            f.rejected as i64,
            f.faults as i64,
            f.bytes as i64,
            f.content_hash
        ],
    )?;
    Ok(())
}

fn same_file(tx: &Transaction, id: i64, f: &FileFacts) -> Result<Option<LoadInfo>> {
    Ok(loads_where(tx, &format!("{CURRENT} AND content_hash = ?1 AND id <> ?2"), params![f.content_hash, id])?
        .into_iter()
        .next())
}

fn mark_replaced(tx: &Transaction, old: &[LoadInfo], by: i64) -> Result<()> {
    for l in old {
        tx.execute("UPDATE loads SET replaced_by = ?2 WHERE id = ?1", params![l.id.0, by])?;
    }
    Ok(())
}

fn this_load(tx: &Transaction, id: i64) -> Result<LoadInfo> {
    loads_where(tx, "id = ?1", [id])?.into_iter().next().ok_or(Error::NoLoad(id))
}

/// Deletes a census's pupils and what was derived from them.
fn delete_census(tx: &Transaction, census: i64) -> Result<()> {
    let (first, last): (i64, i64) =
        tx.query_row("SELECT first_row, last_row FROM censuses WHERE id = ?1", [census], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    tx.execute("DELETE FROM census_pupils WHERE rowid BETWEEN ?1 AND ?2", [first, last])?;
    tx.execute("UPDATE child_upns SET first_census = NULL, first_row = NULL WHERE first_census = ?1", [census])?;
    tx.execute(
        "DELETE FROM leavers WHERE run_id IN (SELECT id FROM tracking_runs WHERE census_a = ?1 OR census_b = ?1)",
        [census],
    )?;
    tx.execute("DELETE FROM tracking_runs WHERE census_a = ?1 OR census_b = ?1", [census])?;
    tx.execute("DELETE FROM censuses WHERE id = ?1", [census])?;
    Ok(())
}

impl Store {
    /// Every load, oldest first; `all` includes replaced and unloaded ones.
    pub fn loads(&self, all: bool) -> Result<Vec<LoadInfo>> {
        if all { loads_where(&self.conn, "1", []) } else { loads_where(&self.conn, CURRENT, []) }
    }

    /// Removes a current load and its rows (a census also loses the
    /// tracking runs made from it). The load's record stays, marked unloaded.
    pub fn unload(&mut self, id: LoadId) -> Result<LoadInfo> {
        let tx = self.conn.transaction()?;
        let load = loads_where(&tx, &format!("id = ?1 AND {CURRENT}"), [id.0])?
            .into_iter()
            .next()
            .ok_or(Error::NoLoad(id.0))?;
        match load.kind.as_str() {
            "census" => {
                let census: Option<i64> =
                    tx.query_row("SELECT id FROM censuses WHERE load_id = ?1", [id.0], |r| r.get(0)).optional()?;
                if let Some(c) = census {
                    delete_census(&tx, c)?;
                }
            }
            "schools" => {
                tx.execute("DELETE FROM schools", [])?;
            }
            "postcodes" => {
                tx.execute("DELETE FROM postcode_deprivation", [])?;
            }
            _ => {
                tx.execute("DELETE FROM source_records WHERE load_id = ?1", [id.0])?;
            }
        }
        tx.execute("UPDATE loads SET unloaded_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1", [id.0])?;
        let after = this_load(&tx, id.0)?;
        tx.commit()?;
        Ok(after)
    }

    /// Loads a census in one transaction. `fill` is handed a function that
    /// stores one pupil and returns what the file held; `decide` then sees
    /// the census it would replace (one per day) and says whether to go on.
    /// New UPNs get a child id; a UPN whose former UPN is known joins that
    /// child when `same` says the two rows describe one child.
    pub fn load_census<E>(
        &mut self,
        date: NaiveDate,
        file: &str,
        fill: impl FnOnce(&mut Insert<'_, CensusPupil>) -> std::result::Result<FileFacts, E>,
        decide: impl FnOnce(&Replacing) -> std::result::Result<(), String>,
        same: &SameChild<'_>,
    ) -> Result<LoadOutcome<E>> {
        // Foreign keys are checked by construction during a bulk load; the
        // pragma cannot change inside a transaction, so it is set around it.
        self.conn.execute_batch("PRAGMA foreign_keys = OFF;")?;
        let outcome = self.load_census_inner(date, file, fill, decide, same);
        self.conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        outcome
    }

    fn load_census_inner<E>(
        &mut self,
        date: NaiveDate,
        file: &str,
        fill: impl FnOnce(&mut Insert<'_, CensusPupil>) -> std::result::Result<FileFacts, E>,
        decide: impl FnOnce(&Replacing) -> std::result::Result<(), String>,
        same: &SameChild<'_>,
    ) -> Result<LoadOutcome<E>> {
        let tx = self.conn.transaction()?;
        let day = date_text(date);
        let load = new_load(&tx, "census", file, Some(date))?;
        // The new census sits under a placeholder day until it is accepted.
        tx.execute(
            "INSERT INTO censuses (census_date, load_id) VALUES (?1, ?2)",
            params![format!("replacing {day} by load {load}"), load],
        )?;
        let census = tx.last_insert_rowid();
        let first_row: i64 = tx.query_row("SELECT coalesce(max(rowid), 0) + 1 FROM census_pupils", [], |r| r.get(0))?;
        let counts = {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO census_pupils (census_id, upn, former_upn, surname, forename, middle_names, former_surname,
                    dob, sex, ethnicity, laestab, enrol_status, entry_date, nc_year, address_line1, town, postcode, fsm,
                    sen, sen_need, sessions_possible, sessions_authorised, sessions_unauthorised, upn_text, postcode_text)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25)",
            )?;
            let mut db_error: Option<rusqlite::Error> = None;
            let mut insert = |p: &CensusPupil| -> std::result::Result<(), String> {
                let r = stmt.execute(params![
                    census,
                    p.upn.as_ref().map(Upn::as_str),
                    p.former_upn.as_ref().map(Upn::as_str),
                    p.surname,
                    p.forename,
                    p.middle_names,
                    p.former_surname,
                    p.dob.map(date_text),
                    p.sex.code(),
                    p.ethnicity,
                    p.laestab.map(laestab_int),
                    p.enrol_status.map(|s| s.code()),
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
                    p.upn_text,
                    p.postcode_text,
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
        let facts = match counts {
            Ok(c) => c,
            Err(e) => return Ok(LoadOutcome::Failed(e)),
        };
        finish_load(&tx, load, &facts)?;
        let last_row: i64 = tx.query_row("SELECT coalesce(max(rowid), 0) FROM census_pupils", [], |r| r.get(0))?;
        tx.execute(
            "UPDATE censuses SET first_row = ?2, last_row = ?3 WHERE id = ?1",
            params![census, first_row, last_row.max(first_row - 1)],
        )?;
        let old: Option<(i64, i64)> = tx
            .query_row("SELECT id, load_id FROM censuses WHERE census_date = ?1", [&day], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let replaces = match old {
            Some((_, old_load)) => loads_where(&tx, "id = ?1", [old_load])?,
            None => vec![],
        };
        let earlier = same_file(&tx, load, &facts)?;
        if let Err(reason) = decide(&Replacing { facts: &facts, replaces: replaces.clone(), same_file: earlier }) {
            return Ok(LoadOutcome::Refused(reason));
        }
        if let Some((old_census, _)) = old {
            tracing::warn!(census = %day, "replacing the census already loaded for this day");
            delete_census(&tx, old_census)?;
            mark_replaced(&tx, &replaces, load)?;
        }
        tx.execute("UPDATE censuses SET census_date = ?2 WHERE id = ?1", params![census, day])?;
        let t = std::time::Instant::now();
        let minted = assign_child_ids(&tx, census, first_row, last_row, same)?;
        tracing::debug!(secs = t.elapsed().as_secs_f64(), "assigned child ids");
        let info = this_load(&tx, load)?;
        let t = std::time::Instant::now();
        tx.commit()?;
        tracing::debug!(secs = t.elapsed().as_secs_f64(), "committed");
        Ok(LoadOutcome::Loaded {
            load: Box::new(info),
            census: Some(CensusInfo { id: CensusId(census), date, pupils: facts.accepted }),
            minted,
            replaced: replaces,
        })
    }

    /// Loads destination-source records in one transaction. With `replace`,
    /// the current loads of the same kind are what `decide` may let it
    /// replace; without, the new rows are added to them.
    pub fn load_sources<E>(
        &mut self,
        kind: SourceKind,
        file: &str,
        replace: bool,
        fill: impl FnOnce(&mut Insert<'_, SourceRecord>) -> std::result::Result<FileFacts, E>,
        decide: impl FnOnce(&Replacing) -> std::result::Result<(), String>,
    ) -> Result<LoadOutcome<E>> {
        let tx = self.conn.transaction()?;
        let load = new_load(&tx, kind.name(), file, None)?;
        let counts = {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO source_records (load_id, kind, la, laestab, local_id, upn, surname, forename, dob, sex,
                    postcode, date, deletion_ground, destination, status, urn, upn_text, middle_names, postcode_text,
                    end_date, provider, hours)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)",
            )?;
            let mut insert = |r: &SourceRecord| -> std::result::Result<(), String> {
                let status = r.cme_status.map(|s| s.name()).or(r.social_care.map(|s| s.code()));
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
                    r.sex.map(|s| s.code()),
                    r.postcode.as_ref().map(Postcode::as_str),
                    r.date.map(date_text),
                    r.deletion_ground.map(|g| g.to_string()),
                    r.destination.map(|d| d.to_string()),
                    status,
                    r.urn,
                    r.upn_text,
                    r.middle_names,
                    r.postcode_text,
                    r.end_date.map(date_text),
                    r.provider,
                    r.hours.map(f64::from),
                ])
                .map(|_| ())
                .map_err(|e| format!("database: {e}"))
            };
            fill(&mut insert)
        };
        let facts = match counts {
            Ok(c) => c,
            Err(e) => return Ok(LoadOutcome::Failed(e)),
        };
        finish_load(&tx, load, &facts)?;
        let replaces = if replace {
            loads_where(&tx, &format!("{CURRENT} AND kind = ?1 AND id <> ?2"), params![kind.name(), load])?
        } else {
            vec![]
        };
        let same = same_file(&tx, load, &facts)?;
        if let Err(reason) = decide(&Replacing { facts: &facts, replaces: replaces.clone(), same_file: same }) {
            return Ok(LoadOutcome::Refused(reason));
        }
        for old in &replaces {
            tx.execute("DELETE FROM source_records WHERE load_id = ?1", [old.id.0])?;
        }
        mark_replaced(&tx, &replaces, load)?;
        let info = this_load(&tx, load)?;
        tx.commit()?;
        Ok(LoadOutcome::Loaded { load: Box::new(info), census: None, minted: 0, replaced: replaces })
    }

    /// Replaces the schools list, if `decide` agrees.
    pub fn replace_schools(
        &mut self,
        facts: &FileFacts,
        schools: &[School],
        decide: impl FnOnce(&Replacing) -> std::result::Result<(), String>,
    ) -> Result<LoadOutcome<std::convert::Infallible>> {
        self.replace_lookup("schools", facts, decide, |tx| {
            tx.execute("DELETE FROM schools", [])?;
            let mut stmt = tx.prepare("INSERT OR REPLACE INTO schools VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for s in schools {
                let sector = if s.sector == Sector::Independent { "independent" } else { "state-funded" };
                stmt.execute(params![s.urn, laestab_int(s.laestab), s.name, s.phase, sector])?;
            }
            Ok(())
        })
    }

    /// Replaces the postcode deprivation lookup, if `decide` agrees.
    pub fn replace_postcode_deprivation(
        &mut self,
        facts: &FileFacts,
        rows: &[PostcodeDeprivation],
        decide: impl FnOnce(&Replacing) -> std::result::Result<(), String>,
    ) -> Result<LoadOutcome<std::convert::Infallible>> {
        self.replace_lookup("postcodes", facts, decide, |tx| {
            tx.execute("DELETE FROM postcode_deprivation", [])?;
            let mut stmt = tx.prepare("INSERT OR REPLACE INTO postcode_deprivation VALUES (?1, ?2, ?3)")?;
            for r in rows {
                stmt.execute(params![r.postcode.as_str(), r.lsoa, r.imd_decile.get()])?;
            }
            Ok(())
        })
    }

    fn replace_lookup(
        &mut self,
        kind: &str,
        facts: &FileFacts,
        decide: impl FnOnce(&Replacing) -> std::result::Result<(), String>,
        write: impl FnOnce(&Transaction) -> Result<()>,
    ) -> Result<LoadOutcome<std::convert::Infallible>> {
        let tx = self.conn.transaction()?;
        let load = new_load(&tx, kind, &facts.name, None)?;
        finish_load(&tx, load, facts)?;
        let replaces = loads_where(&tx, &format!("{CURRENT} AND kind = ?1 AND id <> ?2"), params![kind, load])?;
        let same = same_file(&tx, load, facts)?;
        if let Err(reason) = decide(&Replacing { facts, replaces: replaces.clone(), same_file: same }) {
            return Ok(LoadOutcome::Refused(reason));
        }
        write(&tx)?;
        mark_replaced(&tx, &replaces, load)?;
        let info = this_load(&tx, load)?;
        tx.commit()?;
        Ok(LoadOutcome::Loaded { load: Box::new(info), census: None, minted: 0, replaced: replaces })
    }
}

/// Whether two census rows describe the same child (the caller's rule).
pub type SameChild<'a> = dyn Fn(&PupilDetails, &PupilDetails) -> bool + 'a;

/// Gives every UPN on a census a child id: a UPN already known keeps its
/// child; a new UPN whose former UPN is known joins that child if `same`
/// says the row the former UPN was first seen on and the new row describe
/// one child (an unrelated pupil carrying someone else's UPN as former UPN
/// must not take their child id); any other gets a new id. Returns how
/// many ids were minted.
fn assign_child_ids(tx: &Transaction, census: i64, first: i64, last: i64, same: &SameChild<'_>) -> Result<u64> {
    let t = std::time::Instant::now();
    // UPNs whose first row went with a replaced or unloaded census take
    // their row on this one.
    let orphaned: i64 = tx.query_row("SELECT count(*) FROM child_upns WHERE first_row IS NULL", [], |r| r.get(0))?;
    if orphaned > 0 {
        tx.execute(
            "UPDATE child_upns SET first_census = ?1, first_row = p.rowid FROM census_pupils p
             WHERE p.rowid BETWEEN ?2 AND ?3 AND p.upn = child_upns.upn AND child_upns.first_row IS NULL",
            [census, first, last],
        )?;
    }
    // Former UPNs: few rows, each checked by the caller's rule.
    let claims: Vec<(i64, String, i64, Option<i64>)> = {
        let mut stmt = tx.prepare(
            "SELECT p.rowid, p.upn, c.child_id, c.first_row FROM census_pupils p
             JOIN child_upns c ON c.upn = p.former_upn
             LEFT JOIN child_upns own ON own.upn = p.upn
             WHERE p.rowid BETWEEN ?1 AND ?2 AND p.upn IS NOT NULL AND p.former_upn IS NOT NULL AND own.upn IS NULL",
        )?;
        stmt.query_map([first, last], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    if !claims.is_empty() {
        let mut join = tx.prepare_cached(
            "INSERT OR IGNORE INTO child_upns (upn, child_id, first_census, first_row) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (row, upn, child, old_row) in claims {
            let (Some(new), Some(old)) =
                (details_at(tx, row)?, old_row.map(|r| details_at(tx, r)).transpose()?.flatten())
            else {
                continue;
            };
            if same(&old, &new) {
                join.execute(params![upn, child, census, row])?;
            }
        }
    }
    let mut new: Vec<(String, i64)> = {
        let mut stmt = tx.prepare(
            "SELECT p.upn, p.rowid FROM census_pupils p LEFT JOIN child_upns c ON c.upn = p.upn
             WHERE p.rowid BETWEEN ?1 AND ?2 AND p.upn IS NOT NULL AND c.upn IS NULL",
        )?;
        stmt.query_map([first, last], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    tracing::debug!(secs = t.elapsed().as_secs_f64(), new = new.len(), "new UPNs found");
    sort_by_upn(&mut new);
    // A UPN on two rows (a dual registration) gets one id.
    new.dedup_by(|a, b| a.0 == b.0);
    // Draw the ids first and insert them in key order: sorted inserts
    // keep the B-trees appending instead of splitting pages at random.
    let mut rng = rand::rng();
    let mut ids: Vec<u64> = Vec::with_capacity(new.len());
    let mut seen = HashSet::with_capacity_and_hasher(new.len(), Default::default());
    while ids.len() < new.len() {
        let id = ChildId::random(&mut rng).payload();
        if seen.insert(id) {
            ids.push(id);
        }
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    // One timestamp for the load, not a clock read per child.
    let now: String = tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |r| r.get(0))?;
    // Sorted inserts keep the B-tree appending; an id already in use by an
    // earlier load's child (rare: the space holds 2.5e16 ids) is ignored by
    // the insert and, if that happened, drawn again below.
    // One statement over an array of the ids: no binding per row.
    let array: rusqlite::vtab::array::Array =
        std::rc::Rc::new(sorted.iter().map(|&id| rusqlite::types::Value::Integer(id as i64)).collect());
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO children (child_id, created_at) SELECT value, ?2 FROM rarray(?1)",
        params![array, now],
    )?;
    if inserted < sorted.len() {
        // Ours are the ids created now whose row was not there before: find
        // the clashes by asking for each id's creation time.
        let mut created = tx.prepare_cached("SELECT created_at FROM children WHERE child_id = ?1")?;
        let mut add = tx.prepare_cached("INSERT OR IGNORE INTO children (child_id, created_at) VALUES (?1, ?2)")?;
        let mut ours_left = inserted;
        for id in ids.iter_mut() {
            let at: String = created.query_row([*id as i64], |r| r.get(0))?;
            if at == now && ours_left > 0 {
                ours_left -= 1;
                continue;
            }
            *id = loop {
                let fresh = ChildId::random(&mut rng).payload();
                if seen.insert(fresh) && add.execute(params![fresh as i64, now])? == 1 {
                    break fresh;
                }
            };
        }
    }
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "children added");
    batched_insert(tx, "INTO child_upns (upn, child_id, first_census, first_row)", 4, new.len(), |i, out| {
        out.push(rusqlite::types::Value::Text(new[i].0.clone()));
        out.push(rusqlite::types::Value::Integer(ids[i] as i64));
        out.push(rusqlite::types::Value::Integer(census));
        out.push(rusqlite::types::Value::Integer(new[i].1));
    })?;
    Ok(new.len() as u64)
}

/// Sorts (UPN, row) pairs as `sort_unstable` would, by a packed integer
/// key instead of string comparisons (a million UPNs sort in a tenth of
/// the time). UPNs are 13 ASCII characters, so the big-endian packing of
/// their bytes orders as the text does.
fn sort_by_upn(v: &mut Vec<(String, i64)>) {
    if v.iter().any(|(u, _)| u.len() > 16) {
        v.sort_unstable();
        return;
    }
    let pack = |s: &str| s.bytes().fold(0u128, |k, b| (k << 8) | u128::from(b)) << (8 * (16 - s.len()));
    let mut keys: Vec<(u128, usize, i64, u32)> =
        v.iter().enumerate().map(|(i, (u, row))| (pack(u), u.len(), *row, i as u32)).collect();
    keys.sort_unstable();
    let mut taken: Vec<(String, i64)> = std::mem::take(v);
    *v = keys.iter().map(|&(_, _, row, i)| (std::mem::take(&mut taken[i as usize].0), row)).collect();
}

/// `INSERT {into} VALUES ...` for `n` rows of `width` values, many rows a
/// statement: a bulk load of a million rows spends less on each statement.
/// Returns the rows inserted.
fn batched_insert(
    tx: &Transaction,
    into: &str,
    width: usize,
    n: usize,
    mut row: impl FnMut(usize, &mut Vec<rusqlite::types::Value>),
) -> Result<usize> {
    const ROWS: usize = 256;
    let sql = |rows: usize| {
        let one = format!("({})", vec!["?"; width].join(","));
        format!("INSERT {into} VALUES {}", vec![one; rows].join(","))
    };
    let mut values = Vec::with_capacity(ROWS * width);
    let full = tx.prepare_cached(&sql(ROWS));
    let mut full = full?;
    let (mut i, mut done) = (0, 0);
    while i + ROWS <= n {
        values.clear();
        for k in i..i + ROWS {
            row(k, &mut values);
        }
        done += full.execute(rusqlite::params_from_iter(values.iter()))?;
        i += ROWS;
    }
    if i < n {
        values.clear();
        for k in i..n {
            row(k, &mut values);
        }
        done += tx.prepare(&sql(n - i))?.execute(rusqlite::params_from_iter(values.iter()))?;
    }
    Ok(done)
}

/// The details of one census row, if it is still there.
fn details_at(tx: &Transaction, row: i64) -> Result<Option<PupilDetails>> {
    crate::details_of(tx, row)
}

#[cfg(test)]
mod tests {
    use super::sort_by_upn;

    #[test]
    fn upns_sort_as_text_does() {
        let mut v: Vec<(String, i64)> = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let letter = (b'A' + (x % 26) as u8) as char;
            // Few distinct values, so ties on the UPN are sorted by row.
            let text = format!("{letter}80120{:07}", x % 500);
            let text = if i % 97 == 0 { text[..5].to_string() } else { text };
            v.push((text, (x % 1000) as i64));
        }
        let mut want = v.clone();
        want.sort_unstable();
        sort_by_upn(&mut v);
        assert_eq!(v, want);
    }
}
