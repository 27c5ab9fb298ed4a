//! Identity in the register service, on either backend: two children
//! found to be one are merged, and a merge can be undone exactly.
//!
//! A merge rewrites nothing. Every row (entries, their history, cases,
//! notices, consent requests, care episodes, the audit) keeps the child id
//! it was written for; the merge is a row of its own naming the child kept
//! and the child absorbed, and the absorbed child's entry is marked
//! `merged` as a new version with history. A read of either child gathers
//! the group. Undoing is a row of its own too: the group falls apart into
//! the children it was made of, each with what was always theirs, and
//! whatever was recorded while they were one stays with the child it was
//! recorded for. Reviewers' decisions ("the same child", "not the same
//! child") are rows of their own, never changed.

use serde::Serialize;

use crate::Error;
use crate::db::{Row, Tx};

type Result<T> = std::result::Result<T, Error>;

/// The identity tables (the register's seventh migration).
pub(crate) const TABLES: &str = r"
CREATE TABLE child_merges (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    kept          TEXT NOT NULL,
    absorbed      TEXT NOT NULL,
    absorbed_entry BIGINT,
    entry_status  TEXT,
    merged_at     BIGINT NOT NULL,
    merged_by     BIGINT NOT NULL,
    reason        TEXT NOT NULL
);
CREATE INDEX child_merges_kept ON child_merges(kept);
CREATE INDEX child_merges_absorbed ON child_merges(absorbed);
CREATE TABLE child_unmerges (
    merge_id      BIGINT PRIMARY KEY,
    undone_at     BIGINT NOT NULL,
    undone_by     BIGINT NOT NULL,
    reason        TEXT NOT NULL
);
CREATE TABLE identity_decisions (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    child_a       TEXT NOT NULL,
    child_b       TEXT NOT NULL,
    same          BIGINT NOT NULL,
    decided_by    BIGINT NOT NULL,
    decided_at    BIGINT NOT NULL,
    reason        TEXT NOT NULL
);
CREATE INDEX identity_decisions_pair ON identity_decisions(child_a, child_b, id);
CREATE INDEX identity_decisions_council ON identity_decisions(council, id);
";

/// One merge, and its undoing if it was undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Merge {
    /// Id.
    pub id: i64,
    /// The council that merged.
    pub council: String,
    /// The child kept.
    pub kept: String,
    /// The child absorbed into it.
    pub absorbed: String,
    /// The absorbed child's entry on the council's register, marked merged.
    pub absorbed_entry: Option<i64>,
    /// That entry's status before the merge, given back when it is undone.
    pub entry_status: Option<String>,
    /// When (ms).
    pub merged_at: i64,
    /// By (account id).
    pub merged_by: i64,
    /// Why.
    pub reason: String,
    /// When it was undone (ms), if it was.
    pub undone_at: Option<i64>,
    /// By.
    pub undone_by: Option<i64>,
    /// Why.
    pub undo_reason: Option<String>,
}

const MERGE_COLUMNS: &str = "m.id, m.council, m.kept, m.absorbed, m.absorbed_entry, m.entry_status, m.merged_at, \
     m.merged_by, m.reason, u.undone_at, u.undone_by, u.reason";

fn merge_row(r: &Row) -> Result<Merge> {
    Ok(Merge {
        id: r.int(0)?,
        council: r.text(1)?,
        kept: r.text(2)?,
        absorbed: r.text(3)?,
        absorbed_entry: r.opt_int(4)?,
        entry_status: r.opt_text(5)?,
        merged_at: r.int(6)?,
        merged_by: r.int(7)?,
        reason: r.text(8)?,
        undone_at: r.opt_int(9)?,
        undone_by: r.opt_int(10)?,
        undo_reason: r.opt_text(11)?,
    })
}

/// A merge to record.
#[derive(Debug, Clone, Copy)]
pub struct NewMerge<'a> {
    /// The council.
    pub council: &'a str,
    /// The child kept.
    pub kept: &'a str,
    /// The child absorbed.
    pub absorbed: &'a str,
    /// The absorbed child's entry, marked merged.
    pub absorbed_entry: Option<i64>,
    /// Its status before.
    pub entry_status: Option<&'a str>,
}

/// Records a merge.
pub fn insert_merge(tx: &mut Tx<'_>, m: NewMerge<'_>, by: i64, at: i64, reason: &str) -> Result<Merge> {
    let row = tx.query_one(
        "INSERT INTO child_merges (council, kept, absorbed, absorbed_entry, entry_status, merged_at, merged_by, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            m.council.into(),
            m.kept.into(),
            m.absorbed.into(),
            m.absorbed_entry.into(),
            m.entry_status.into(),
            at.into(),
            by.into(),
            reason.into(),
        ],
    )?;
    merge(tx, row.int(0)?)?.ok_or(Error::NotFound("merge"))
}

/// Records that a merge was undone. [`Error::Duplicate`] if it already was.
pub fn insert_unmerge(tx: &mut Tx<'_>, merge_id: i64, by: i64, at: i64, reason: &str) -> Result<()> {
    if tx.query_opt("SELECT merge_id FROM child_unmerges WHERE merge_id = $1", &[merge_id.into()])?.is_some() {
        return Err(Error::Duplicate("an undo of this merge"));
    }
    tx.execute(
        "INSERT INTO child_unmerges (merge_id, undone_at, undone_by, reason) VALUES ($1, $2, $3, $4)",
        &[merge_id.into(), at.into(), by.into(), reason.into()],
    )?;
    Ok(())
}

/// One merge by id.
pub fn merge(tx: &mut Tx<'_>, id: i64) -> Result<Option<Merge>> {
    tx.query_opt(
        &format!(
            "SELECT {MERGE_COLUMNS} FROM child_merges m LEFT JOIN child_unmerges u ON u.merge_id = m.id WHERE m.id = $1"
        ),
        &[id.into()],
    )?
    .map(|r| merge_row(&r))
    .transpose()
}

/// Every merge a council made that a child was part of (kept or
/// absorbed), oldest first, undone ones included. Merges are a council's
/// own: another council's register is not grouped by them.
pub fn merges_of(tx: &mut Tx<'_>, council: &str, child_id: &str) -> Result<Vec<Merge>> {
    tx.query(
        &format!(
            "SELECT {MERGE_COLUMNS} FROM child_merges m LEFT JOIN child_unmerges u ON u.merge_id = m.id
             WHERE (m.kept = $1 OR m.absorbed = $1) AND m.council = $2 ORDER BY m.id"
        ),
        &[child_id.into(), council.into()],
    )?
    .iter()
    .map(merge_row)
    .collect()
}

/// The council's live merge that absorbed this child, if any.
pub fn absorbed_by(tx: &mut Tx<'_>, council: &str, child_id: &str) -> Result<Option<Merge>> {
    tx.query_opt(
        &format!(
            "SELECT {MERGE_COLUMNS} FROM child_merges m LEFT JOIN child_unmerges u ON u.merge_id = m.id
             WHERE m.absorbed = $1 AND m.council = $2 AND u.merge_id IS NULL"
        ),
        &[child_id.into(), council.into()],
    )?
    .map(|r| merge_row(&r))
    .transpose()
}

/// The child a group is read under: follows live merges from `child_id`
/// to the child kept at the top.
pub fn root(tx: &mut Tx<'_>, council: &str, child_id: &str) -> Result<String> {
    let mut at = child_id.to_string();
    // A merge is refused when it would make a cycle, so this ends; the
    // bound guards against a database edited by hand.
    for _ in 0..64 {
        match absorbed_by(tx, council, &at)? {
            Some(m) => at = m.kept,
            None => return Ok(at),
        }
    }
    Err(Error::Corrupt { table: "child_merges", what: "a cycle of merges" })
}

/// The live merges under a group's top child, top first (breadth first):
/// the children read together with it.
pub fn group(tx: &mut Tx<'_>, council: &str, root: &str) -> Result<Vec<Merge>> {
    let mut out = Vec::new();
    let mut next = vec![root.to_string()];
    while let Some(child) = next.pop() {
        let rows = tx.query(
            &format!(
                "SELECT {MERGE_COLUMNS} FROM child_merges m LEFT JOIN child_unmerges u ON u.merge_id = m.id
                 WHERE m.kept = $1 AND m.council = $2 AND u.merge_id IS NULL ORDER BY m.id"
            ),
            &[child.as_str().into(), council.into()],
        )?;
        for r in &rows {
            let m = merge_row(r)?;
            next.push(m.absorbed.clone());
            out.push(m);
            if out.len() > 1024 {
                return Err(Error::Corrupt { table: "child_merges", what: "a cycle of merges" });
            }
        }
    }
    Ok(out)
}

/// The children of the council's group a child is in, the child kept
/// first (just the child when it was never merged).
pub fn members(tx: &mut Tx<'_>, council: &str, child_id: &str) -> Result<Vec<String>> {
    let top = root(tx, council, child_id)?;
    let mut out = vec![top.clone()];
    out.extend(group(tx, council, &top)?.into_iter().map(|m| m.absorbed));
    Ok(out)
}

/// A reviewer's decision on two children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityDecision {
    /// Id.
    pub id: i64,
    /// The council.
    pub council: String,
    /// One child (the smaller id).
    pub child_a: String,
    /// The other.
    pub child_b: String,
    /// The same child (true) or not (false).
    pub same: bool,
    /// By (account id).
    pub decided_by: i64,
    /// When (ms).
    pub decided_at: i64,
    /// Why.
    pub reason: String,
}

fn decision_row(r: &Row) -> Result<IdentityDecision> {
    Ok(IdentityDecision {
        id: r.int(0)?,
        council: r.text(1)?,
        child_a: r.text(2)?,
        child_b: r.text(3)?,
        same: r.int(4)? != 0,
        decided_by: r.int(5)?,
        decided_at: r.int(6)?,
        reason: r.text(7)?,
    })
}

const DECISION_COLUMNS: &str = "id, council, child_a, child_b, same, decided_by, decided_at, reason";

fn ordered<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b { (a, b) } else { (b, a) }
}

/// A decision to record on a pair.
#[derive(Debug, Clone, Copy)]
pub struct NewDecision<'a> {
    /// The council.
    pub council: &'a str,
    /// One child.
    pub a: &'a str,
    /// The other.
    pub b: &'a str,
    /// The same child, or not.
    pub same: bool,
}

/// Records a decision on a pair (a new row; the latest one stands).
pub fn insert_decision(tx: &mut Tx<'_>, d: NewDecision<'_>, by: i64, at: i64, reason: &str) -> Result<()> {
    let (a, b) = ordered(d.a, d.b);
    tx.execute(
        "INSERT INTO identity_decisions (council, child_a, child_b, same, decided_by, decided_at, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[d.council.into(), a.into(), b.into(), i64::from(d.same).into(), by.into(), at.into(), reason.into()],
    )?;
    Ok(())
}

/// The standing (latest) decision on a pair, if any.
pub fn decision(tx: &mut Tx<'_>, a: &str, b: &str) -> Result<Option<IdentityDecision>> {
    let (a, b) = ordered(a, b);
    tx.query_opt(
        &format!(
            "SELECT {DECISION_COLUMNS} FROM identity_decisions WHERE child_a = $1 AND child_b = $2 ORDER BY id DESC LIMIT 1"
        ),
        &[a.into(), b.into()],
    )?
    .map(|r| decision_row(&r))
    .transpose()
}

/// Every decision a council made, oldest first: what the linkage engine
/// is given so that it does not propose again what a person refused.
pub fn decisions(tx: &mut Tx<'_>, council: Option<&str>) -> Result<Vec<IdentityDecision>> {
    let rows = match council {
        Some(c) => tx.query(
            &format!("SELECT {DECISION_COLUMNS} FROM identity_decisions WHERE council = $1 ORDER BY id"),
            &[c.into()],
        )?,
        None => tx.query(&format!("SELECT {DECISION_COLUMNS} FROM identity_decisions ORDER BY id"), &[])?,
    };
    rows.iter().map(decision_row).collect()
}

/// Pairs of live entries on a council's register that share a date of
/// birth, belong to different children and have no decision yet: the
/// candidates of the reviewer's queue, at most `limit`.
pub fn same_birthday_pairs(tx: &mut Tx<'_>, council: &str, limit: i64) -> Result<Vec<(i64, i64)>> {
    let limit = limit.clamp(1, 100_000);
    tx.query(
        &format!(
            "SELECT a.id, b.id FROM register_entries a
             JOIN register_entries b ON b.council = a.council AND b.dob = a.dob AND b.id > a.id
             WHERE a.council = $1 AND a.status IN ('draft', 'registered') AND b.status IN ('draft', 'registered')
               AND a.child_id <> b.child_id
               AND NOT EXISTS (SELECT 1 FROM identity_decisions d
                   WHERE d.child_a = CASE WHEN a.child_id < b.child_id THEN a.child_id ELSE b.child_id END
                     AND d.child_b = CASE WHEN a.child_id < b.child_id THEN b.child_id ELSE a.child_id END)
             ORDER BY a.id, b.id LIMIT {limit}"
        ),
        &[council.into()],
    )?
    .iter()
    .map(|r| Ok((r.int(0)?, r.int(1)?)))
    .collect()
}
