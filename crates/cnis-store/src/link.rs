//! Linkage's memory: each linked record's child id, the runs that assigned
//! them, the merge/split/new events and reviewers' decisions.

use std::collections::{HashMap, HashSet};

use cnis_core::ChildId;
use rusqlite::params;

use crate::{Error, Result, Store};

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
