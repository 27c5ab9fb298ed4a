//! The audit: an append-only, hash-chained log of every read, search,
//! change and lookup of a child.
//!
//! Each event is two rows. `audit_chain` holds who, when, what kind of
//! action, the outcome, how many children it touched, and hashes: the hash
//! of the event's content, the previous row's hash, and its own hash over
//! all of these. `audit_content` holds the content itself (the children's
//! ids, what was searched for), and `audit_subjects` indexes it by child.
//! An auditor reads the chain and learns who did what without reading
//! about children; retention can delete content without breaking the
//! chain, since the chain keeps only its hash.
//!
//! Appends go through the single row of `audit_head`, updated first in
//! the appending transaction: that row's lock orders concurrent appenders
//! on PostgreSQL (SQLite has one writer anyway), so sequence numbers have
//! no gaps and each row's `prev_hash` is the row before it. The head is
//! also written outside the database by the application layer (a
//! checkpoint file), so that cutting the newest rows, head and all, is
//! caught by [`verify`].

use serde::Serialize;

use crate::Error;
use crate::db::Tx;

type Result<T> = std::result::Result<T, Error>;

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When (ms).
    pub at: i64,
    /// Who (account id; none for a failed sign-in by an unknown name).
    pub actor: Option<i64>,
    /// Their role, or `anonymous`.
    pub actor_role: String,
    /// Their council.
    pub council: Option<String>,
    /// What kind of action (`child.read`, `search`, `entry.update`, ...).
    pub action: String,
    /// `ok`, `refused`, `not_found`, ...
    pub outcome: String,
    /// The children the event was about, by child id.
    pub subjects: Vec<String>,
    /// The rest of its content (what was searched for, the reason given):
    /// personal data, kept apart from the chain.
    pub detail: serde_json::Value,
}

/// A row of the chain, as an auditor sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainRow {
    /// Sequence number, from 1.
    pub seq: i64,
    /// When (ms).
    pub at: i64,
    /// Who.
    pub actor: Option<i64>,
    /// Their role.
    pub actor_role: String,
    /// Their council.
    pub council: Option<String>,
    /// Action.
    pub action: String,
    /// Outcome.
    pub outcome: String,
    /// Children touched.
    pub children: i64,
    /// Hash of the content.
    pub content_hash: String,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

impl ChainRow {
    /// The hash this row should have.
    pub fn expected_hash(&self) -> String {
        let mut h = blake3::Hasher::new();
        // Fields are separated by a byte none of them can hold (action,
        // outcome and role are the program's own words; the rest numbers
        // and hex), so no two rows hash the same text.
        let text = format!(
            "{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}",
            self.prev_hash,
            self.seq,
            self.at,
            self.actor.map(|a| a.to_string()).unwrap_or_default(),
            self.actor_role,
            self.council.as_deref().unwrap_or(""),
            self.action,
            self.outcome,
            self.children,
            self.content_hash
        );
        h.update(text.as_bytes());
        h.finalize().to_hex().to_string()
    }
}

fn content_text(e: &Event) -> Result<String> {
    serde_json::to_string(&serde_json::json!({ "subjects": e.subjects, "detail": e.detail }))
        .map_err(|_| Error::Corrupt { table: "audit_content", what: "content to store" })
}

fn content_hash(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

/// The chain's head: its last sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Head {
    /// Last sequence number (0 when empty).
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

/// Appends events in order; returns the new head.
pub fn append(tx: &mut Tx<'_>, events: &[Event]) -> Result<Head> {
    if events.is_empty() {
        return head(tx);
    }
    let n = events.len() as i64;
    let row = tx.query_one("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash", &[n.into()])?;
    let last = row.int(0)?;
    let mut prev = row.text(1)?;
    for (i, e) in events.iter().enumerate() {
        let seq = last - n + 1 + i as i64;
        let content = content_text(e)?;
        let chain = ChainRow {
            seq,
            at: e.at,
            actor: e.actor,
            actor_role: e.actor_role.clone(),
            council: e.council.clone(),
            action: e.action.clone(),
            outcome: e.outcome.clone(),
            children: e.subjects.len() as i64,
            content_hash: content_hash(&content),
            prev_hash: prev,
            hash: String::new(),
        };
        let hash = chain.expected_hash();
        tx.execute(
            "INSERT INTO audit_chain (seq, at, actor, actor_role, council, action, outcome, children, content_hash,
                 prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                seq.into(),
                chain.at.into(),
                chain.actor.into(),
                chain.actor_role.as_str().into(),
                chain.council.clone().into(),
                chain.action.as_str().into(),
                chain.outcome.as_str().into(),
                chain.children.into(),
                chain.content_hash.as_str().into(),
                chain.prev_hash.as_str().into(),
                hash.as_str().into(),
            ],
        )?;
        tx.execute("INSERT INTO audit_content (seq, content) VALUES ($1, $2)", &[seq.into(), content.into()])?;
        let mut seen = std::collections::HashSet::new();
        for s in &e.subjects {
            if seen.insert(s) {
                tx.execute("INSERT INTO audit_subjects (child_id, seq) VALUES ($1, $2)", &[s.into(), seq.into()])?;
            }
        }
        prev = hash;
    }
    tx.execute("UPDATE audit_head SET hash = $1 WHERE id = 1", &[prev.as_str().into()])?;
    Ok(Head { seq: last, hash: prev })
}

/// The head as the table holds it.
pub fn head(tx: &mut Tx<'_>) -> Result<Head> {
    let r = tx.query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
    Ok(Head { seq: r.int(0)?, hash: r.text(1)? })
}

const CHAIN_COLUMNS: &str =
    "seq, at, actor, actor_role, council, action, outcome, children, content_hash, prev_hash, hash";

fn chain_row(r: &crate::db::Row) -> Result<ChainRow> {
    Ok(ChainRow {
        seq: r.int(0)?,
        at: r.int(1)?,
        actor: r.opt_int(2)?,
        actor_role: r.text(3)?,
        council: r.opt_text(4)?,
        action: r.text(5)?,
        outcome: r.text(6)?,
        children: r.int(7)?,
        content_hash: r.text(8)?,
        prev_hash: r.text(9)?,
        hash: r.text(10)?,
    })
}

/// Rows of the chain from `after` (exclusive), at most `limit`.
pub fn chain(tx: &mut Tx<'_>, after: i64, limit: i64) -> Result<Vec<ChainRow>> {
    tx.query(
        &format!("SELECT {CHAIN_COLUMNS} FROM audit_chain WHERE seq > $1 ORDER BY seq LIMIT $2"),
        &[after.into(), limit.into()],
    )?
    .iter()
    .map(chain_row)
    .collect()
}

/// The newest rows of the chain, newest first, optionally one council's.
pub fn recent(tx: &mut Tx<'_>, council: Option<&str>, limit: i64) -> Result<Vec<ChainRow>> {
    tx.query(
        &format!(
            "SELECT {CHAIN_COLUMNS} FROM audit_chain WHERE (CAST($1 AS TEXT) IS NULL OR council = $1) ORDER BY seq DESC LIMIT $2"
        ),
        &[council.into(), limit.into()],
    )?
    .iter()
    .map(chain_row)
    .collect()
}

/// Every event about a child, oldest first (the chain's part only).
pub fn about_child(tx: &mut Tx<'_>, child_id: &str) -> Result<Vec<ChainRow>> {
    tx.query(
        &format!(
            "SELECT {} FROM audit_subjects s JOIN audit_chain c ON c.seq = s.seq WHERE s.child_id = $1 ORDER BY c.seq",
            CHAIN_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ")
        ),
        &[child_id.into()],
    )?
    .iter()
    .map(chain_row)
    .collect()
}

/// One access to a child, for the child's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// When (ms).
    pub at: i64,
    /// Who, by name (none for the service itself).
    pub name: Option<String>,
    /// Their role.
    pub actor_role: String,
    /// Their council.
    pub council: Option<String>,
    /// What they did.
    pub action: String,
}

/// The newest `limit` events about a child, newest first, with the
/// actor's name: one query. The limit is written into the statement, not
/// bound: SQLite plans a bound `LIMIT` from its value, so it prepares such
/// a statement again at every call (a third of a child read's time).
pub fn accesses(tx: &mut Tx<'_>, child_id: &str, limit: i64) -> Result<Vec<Access>> {
    tx.query(
        &format!(
            "SELECT c.at, u.name, c.actor_role, c.council, c.action
             FROM audit_subjects s JOIN audit_chain c ON c.seq = s.seq LEFT JOIN users u ON u.id = c.actor
             WHERE s.child_id = $1 ORDER BY s.seq DESC LIMIT {}",
            limit.clamp(0, 10_000)
        ),
        &[child_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(Access {
            at: r.int(0)?,
            name: r.opt_text(1)?,
            actor_role: r.text(2)?,
            council: r.opt_text(3)?,
            action: r.text(4)?,
        })
    })
    .collect()
}

/// Retention: deletes the content (child ids, search terms) of every
/// event recorded before `before` (ms), keeping the chain, and records
/// each deletion in `audit_redactions` so that [`verify`] tells content
/// deleted by retention from content cut by hand. Returns how many.
pub fn redact_before(tx: &mut Tx<'_>, before: i64, now: i64) -> Result<i64> {
    let n = tx.execute(
        "INSERT INTO audit_redactions (seq, redacted_at)
         SELECT c.seq, $2 FROM audit_chain c JOIN audit_content t ON t.seq = c.seq WHERE c.at < $1",
        &[before.into(), now.into()],
    )?;
    tx.execute("DELETE FROM audit_subjects WHERE seq IN (SELECT seq FROM audit_redactions)", &[])?;
    tx.execute("DELETE FROM audit_content WHERE seq IN (SELECT seq FROM audit_redactions)", &[])?;
    Ok(n as i64)
}

/// Events recorded, in all.
pub fn count(tx: &mut Tx<'_>) -> Result<i64> {
    tx.query_one("SELECT COUNT(*) FROM audit_chain", &[])?.int(0)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Rows checked.
    pub rows: i64,
    /// The head as the table holds it.
    pub head: Head,
    /// The first broken link: its sequence number and what is wrong.
    pub first_broken: Option<(i64, String)>,
}

/// Checks the whole chain: sequence numbers from 1 without a gap, each
/// row's previous hash the row before's, each row's hash its own, each
/// content's hash the one the chain holds, the head the last row, and the
/// checkpoint (a head written elsewhere) a row of the chain.
pub fn verify(tx: &mut Tx<'_>, checkpoint: Option<&Head>) -> Result<Verification> {
    let head = head(tx)?;
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut rows = 0;
    let mut broken: Option<(i64, String)> = None;
    let mut checkpoint_seen = checkpoint.is_none_or(|c| c.seq == 0);
    'pages: loop {
        let page = tx.query(
            &format!(
                "SELECT {}, t.content, r.seq FROM audit_chain c LEFT JOIN audit_content t ON t.seq = c.seq
                 LEFT JOIN audit_redactions r ON r.seq = c.seq
                 WHERE c.seq >= $1 ORDER BY c.seq LIMIT 10000",
                CHAIN_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ")
            ),
            &[expected_seq.into()],
        )?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            let row = chain_row(r)?;
            rows += 1;
            let fault = if row.seq != expected_seq {
                Some((expected_seq, format!("row {expected_seq} is missing (the next row is {})", row.seq)))
            } else if row.prev_hash != prev {
                Some((row.seq, "its previous hash is not the hash of the row before it".to_string()))
            } else if row.expected_hash() != row.hash {
                Some((row.seq, "its hash does not match its fields: the row was changed".to_string()))
            } else {
                match r.opt_text(11)? {
                    Some(c) if content_hash(&c) != row.content_hash => {
                        Some((row.seq, "its content does not match the hash the chain holds".to_string()))
                    }
                    Some(_) => None,
                    None if r.opt_int(12)?.is_some() => None,
                    None => Some((row.seq, "its content is missing and retention did not delete it".to_string())),
                }
            };
            if let Some(f) = fault {
                broken = Some(f);
                break 'pages;
            }
            if let Some(c) = checkpoint
                && c.seq == row.seq
            {
                if c.hash != row.hash {
                    broken = Some((row.seq, "the checkpoint written outside the database has another hash".into()));
                    break 'pages;
                }
                checkpoint_seen = true;
            }
            prev = row.hash;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    if broken.is_none() {
        if head.seq != last || (last > 0 && head.hash != prev) {
            broken = Some((last + 1, format!("the head says {} rows but the chain has {last}", head.seq)));
        } else if !checkpoint_seen {
            let c = checkpoint.map_or(0, |c| c.seq);
            broken = Some((
                last + 1,
                format!(
                    "the checkpoint written outside the database is at row {c}, past the chain's last row {last}: rows were cut"
                ),
            ));
        }
    }
    Ok(Verification { rows, head, first_broken: broken })
}
