//! The unregistered alternative provision register, on either backend:
//! providers (versioned, with history), evidence against each standard,
//! quality-assurance visits, placements of children (versioned, with
//! history) and their weekly attendance.
//!
//! Evidence, visits and attendance are only ever added: the latest
//! evidence for a standard stands, and a week's attendance recorded again
//! is a new row that replaces the earlier one for that week when read.

use chrono::NaiveDate;
use cnis_core::ap::{Commissioner, ProviderContent};
use serde::Serialize;

use crate::Error;
use crate::db::{Row, Tx};
use crate::register::Change;

type Result<T> = std::result::Result<T, Error>;

/// The tables (the register's eighth migration).
pub(crate) const TABLES: &str = r"
CREATE TABLE ap_providers (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    version       BIGINT NOT NULL,
    content       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    BIGINT NOT NULL
);
CREATE INDEX ap_providers_council ON ap_providers(council, id);
CREATE TABLE ap_history (
    id            {id},
    kind          TEXT NOT NULL,
    row_id        BIGINT NOT NULL,
    council       TEXT NOT NULL,
    version       BIGINT NOT NULL,
    action        TEXT NOT NULL,
    changed_at    BIGINT NOT NULL,
    changed_by    BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    before_value  TEXT,
    after_value   TEXT
);
CREATE INDEX ap_history_row ON ap_history(kind, row_id, id);
CREATE TABLE ap_evidence (
    id            {id},
    provider_id   BIGINT NOT NULL REFERENCES ap_providers(id),
    standard      TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    checked_on    TEXT NOT NULL,
    expires_on    TEXT,
    recorded_by   BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL
);
CREATE INDEX ap_evidence_provider ON ap_evidence(provider_id, id);
CREATE TABLE ap_visits (
    id            {id},
    provider_id   BIGINT NOT NULL REFERENCES ap_providers(id),
    visited_on    TEXT NOT NULL,
    findings      TEXT NOT NULL,
    actions       TEXT NOT NULL,
    recorded_by   BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL
);
CREATE INDEX ap_visits_provider ON ap_visits(provider_id, id);
CREATE TABLE ap_placements (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    provider_id   BIGINT NOT NULL REFERENCES ap_providers(id),
    child_id      TEXT NOT NULL,
    commissioner  TEXT NOT NULL,
    school        TEXT,
    start_on      TEXT NOT NULL,
    planned_end_on TEXT,
    hours_per_week DOUBLE PRECISION NOT NULL,
    ended_on      TEXT,
    end_reason    TEXT,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    BIGINT NOT NULL
);
CREATE INDEX ap_placements_provider ON ap_placements(provider_id, id);
CREATE INDEX ap_placements_child ON ap_placements(child_id);
CREATE INDEX ap_placements_council ON ap_placements(council, id);
CREATE TABLE ap_attendance (
    id            {id},
    placement_id  BIGINT NOT NULL REFERENCES ap_placements(id),
    week_of       TEXT NOT NULL,
    attended      BIGINT NOT NULL,
    offered       BIGINT NOT NULL,
    recorded_by   BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL
);
CREATE INDEX ap_attendance_placement ON ap_attendance(placement_id, week_of, id);
CREATE TABLE ap_alerts_sent (
    council       TEXT NOT NULL,
    alert_key     TEXT NOT NULL,
    sent_at       BIGINT NOT NULL,
    PRIMARY KEY (council, alert_key)
);
";

fn json<T: Serialize>(v: &T, table: &'static str) -> Result<String> {
    serde_json::to_string(v).map_err(|_| Error::Corrupt { table, what: "content to store" })
}

fn date(s: &str, table: &'static str) -> Result<NaiveDate> {
    crate::parse_date(s, table)
}

fn opt_date(s: Option<String>, table: &'static str) -> Result<Option<NaiveDate>> {
    s.map(|s| date(&s, table)).transpose()
}

#[allow(clippy::too_many_arguments)]
fn history(
    tx: &mut Tx<'_>,
    kind: &str,
    row_id: i64,
    council: &str,
    version: i64,
    action: &str,
    change: Change<'_>,
    before: Option<String>,
    after: Option<String>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO ap_history (kind, row_id, council, version, action, changed_at, changed_by, reason,
             before_value, after_value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            kind.into(),
            row_id.into(),
            council.into(),
            version.into(),
            action.into(),
            change.at.into(),
            change.by.into(),
            change.reason.into(),
            before.into(),
            after.into(),
        ],
    )?;
    Ok(())
}

// ---- providers -------------------------------------------------------------

/// A provider as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApProvider {
    /// Id.
    pub id: i64,
    /// The council whose register it is on.
    pub council: String,
    /// Version, from 1.
    pub version: i64,
    /// What the register holds.
    pub content: ProviderContent,
    /// Added (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

const PROVIDER_COLUMNS: &str = "id, council, version, content, created_at, updated_at";

fn provider_row(r: &Row) -> Result<ApProvider> {
    Ok(ApProvider {
        id: r.int(0)?,
        council: r.text(1)?,
        version: r.int(2)?,
        content: serde_json::from_str(&r.text(3)?)
            .map_err(|_| Error::Corrupt { table: "ap_providers", what: "content" })?,
        created_at: r.int(4)?,
        updated_at: r.int(5)?,
    })
}

/// Adds a provider at version 1, with its history row.
pub fn insert_provider(
    tx: &mut Tx<'_>,
    council: &str,
    content: &ProviderContent,
    change: Change<'_>,
) -> Result<ApProvider> {
    let body = json(content, "ap_providers")?;
    let row = tx.query_one(
        &format!(
            "INSERT INTO ap_providers (council, version, content, created_at, created_by, updated_at, updated_by)
             VALUES ($1, 1, $2, $3, $4, $3, $4) RETURNING {PROVIDER_COLUMNS}"
        ),
        &[council.into(), body.as_str().into(), change.at.into(), change.by.into()],
    )?;
    let p = provider_row(&row)?;
    history(tx, "provider", p.id, council, 1, "added", change, None, Some(body))?;
    Ok(p)
}

/// The provider with this id.
pub fn provider(tx: &mut Tx<'_>, id: i64) -> Result<Option<ApProvider>> {
    tx.query_opt(&format!("SELECT {PROVIDER_COLUMNS} FROM ap_providers WHERE id = $1"), &[id.into()])?
        .map(|r| provider_row(&r))
        .transpose()
}

/// A council's providers, by id.
pub fn providers(tx: &mut Tx<'_>, council: &str) -> Result<Vec<ApProvider>> {
    tx.query(&format!("SELECT {PROVIDER_COLUMNS} FROM ap_providers WHERE council = $1 ORDER BY id"), &[council.into()])?
        .iter()
        .map(provider_row)
        .collect()
}

/// Replaces a provider's content from `expected_version`, with history.
pub fn update_provider(
    tx: &mut Tx<'_>,
    id: i64,
    expected_version: i64,
    content: &ProviderContent,
    change: Change<'_>,
) -> Result<ApProvider> {
    let before = provider(tx, id)?.ok_or(Error::NotFound("provider"))?;
    let body = json(content, "ap_providers")?;
    let n = tx.execute(
        "UPDATE ap_providers SET version = version + 1, content = $2, updated_at = $3, updated_by = $4
         WHERE id = $1 AND version = $5",
        &[id.into(), body.as_str().into(), change.at.into(), change.by.into(), expected_version.into()],
    )?;
    if n != 1 {
        return Err(Error::Conflict { expected: expected_version, found: before.version });
    }
    let after = provider(tx, id)?.ok_or(Error::NotFound("provider"))?;
    let was = json(&before.content, "ap_providers")?;
    history(tx, "provider", id, &after.council, after.version, "changed", change, Some(was), Some(body))?;
    Ok(after)
}

// ---- evidence and visits ---------------------------------------------------

/// Evidence recorded against a standard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// Id.
    pub id: i64,
    /// The standard's code.
    pub standard: String,
    /// What was seen (a certificate, a policy, a record).
    pub evidence: String,
    /// When it was checked.
    pub checked_on: NaiveDate,
    /// Until when it holds.
    pub expires_on: Option<NaiveDate>,
    /// By (account id).
    pub recorded_by: i64,
    /// When (ms).
    pub recorded_at: i64,
}

/// Adds evidence for a standard.
#[allow(clippy::too_many_arguments)]
pub fn insert_evidence(
    tx: &mut Tx<'_>,
    provider_id: i64,
    standard: &str,
    evidence: &str,
    checked_on: NaiveDate,
    expires_on: Option<NaiveDate>,
    by: i64,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO ap_evidence (provider_id, standard, evidence, checked_on, expires_on, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            provider_id.into(),
            standard.into(),
            evidence.into(),
            checked_on.to_string().into(),
            expires_on.map(|d| d.to_string()).into(),
            by.into(),
            at.into(),
        ],
    )?;
    Ok(())
}

/// A provider's evidence, oldest first.
pub fn evidence(tx: &mut Tx<'_>, provider_id: i64) -> Result<Vec<Evidence>> {
    tx.query(
        "SELECT id, standard, evidence, checked_on, expires_on, recorded_by, recorded_at
         FROM ap_evidence WHERE provider_id = $1 ORDER BY id",
        &[provider_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(Evidence {
            id: r.int(0)?,
            standard: r.text(1)?,
            evidence: r.text(2)?,
            checked_on: date(&r.text(3)?, "ap_evidence")?,
            expires_on: opt_date(r.opt_text(4)?, "ap_evidence")?,
            recorded_by: r.int(5)?,
            recorded_at: r.int(6)?,
        })
    })
    .collect()
}

/// A quality-assurance visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Visit {
    /// Id.
    pub id: i64,
    /// When.
    pub visited_on: NaiveDate,
    /// What was found.
    pub findings: String,
    /// What the provider is to do, each with its date.
    pub actions: Vec<String>,
    /// By (account id).
    pub recorded_by: i64,
    /// When recorded (ms).
    pub recorded_at: i64,
}

/// Adds a visit.
pub fn insert_visit(
    tx: &mut Tx<'_>,
    provider_id: i64,
    visited_on: NaiveDate,
    findings: &str,
    actions: &[String],
    by: i64,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO ap_visits (provider_id, visited_on, findings, actions, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            provider_id.into(),
            visited_on.to_string().into(),
            findings.into(),
            json(&actions, "ap_visits")?.into(),
            by.into(),
            at.into(),
        ],
    )?;
    Ok(())
}

/// A provider's visits, oldest first.
pub fn visits(tx: &mut Tx<'_>, provider_id: i64) -> Result<Vec<Visit>> {
    tx.query(
        "SELECT id, visited_on, findings, actions, recorded_by, recorded_at FROM ap_visits
         WHERE provider_id = $1 ORDER BY id",
        &[provider_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(Visit {
            id: r.int(0)?,
            visited_on: date(&r.text(1)?, "ap_visits")?,
            findings: r.text(2)?,
            actions: serde_json::from_str(&r.text(3)?)
                .map_err(|_| Error::Corrupt { table: "ap_visits", what: "actions" })?,
            recorded_by: r.int(4)?,
            recorded_at: r.int(5)?,
        })
    })
    .collect()
}

// ---- placements ------------------------------------------------------------

/// A child's placement with a provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Placement {
    /// Id.
    pub id: i64,
    /// The council.
    pub council: String,
    /// The provider.
    pub provider_id: i64,
    /// The child.
    pub child_id: String,
    /// Who commissioned it.
    pub commissioner: Commissioner,
    /// The commissioning school (LAESTAB), if a school did.
    pub school: Option<String>,
    /// Started on.
    pub start_on: NaiveDate,
    /// Planned to end on.
    pub planned_end_on: Option<NaiveDate>,
    /// Hours a week.
    pub hours_per_week: f64,
    /// Ended on.
    pub ended_on: Option<NaiveDate>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// Version, from 1.
    pub version: i64,
    /// The last week with attendance recorded (its Monday).
    pub last_attendance: Option<NaiveDate>,
}

const PLACEMENT_COLUMNS: &str = "p.id, p.council, p.provider_id, p.child_id, p.commissioner, p.school, p.start_on, \
     p.planned_end_on, p.hours_per_week, p.ended_on, p.end_reason, p.version, \
     (SELECT MAX(a.week_of) FROM ap_attendance a WHERE a.placement_id = p.id)";

fn placement_row(r: &Row) -> Result<Placement> {
    let t = "ap_placements";
    Ok(Placement {
        id: r.int(0)?,
        council: r.text(1)?,
        provider_id: r.int(2)?,
        child_id: r.text(3)?,
        commissioner: Commissioner::parse(&r.text(4)?).ok_or(Error::Corrupt { table: t, what: "commissioner" })?,
        school: r.opt_text(5)?,
        start_on: date(&r.text(6)?, t)?,
        planned_end_on: opt_date(r.opt_text(7)?, t)?,
        hours_per_week: r.float(8)?,
        ended_on: opt_date(r.opt_text(9)?, t)?,
        end_reason: r.opt_text(10)?,
        version: r.int(11)?,
        last_attendance: opt_date(r.opt_text(12)?, t)?,
    })
}

/// A placement to add.
#[derive(Debug, Clone, Copy)]
pub struct NewPlacement<'a> {
    /// The council.
    pub council: &'a str,
    /// The provider.
    pub provider_id: i64,
    /// The child.
    pub child_id: &'a str,
    /// Who commissioned it.
    pub commissioner: Commissioner,
    /// The commissioning school.
    pub school: Option<&'a str>,
    /// Starts on.
    pub start_on: NaiveDate,
    /// Planned end.
    pub planned_end_on: Option<NaiveDate>,
    /// Hours a week.
    pub hours_per_week: f64,
}

/// Adds a placement at version 1, with its history row.
pub fn insert_placement(tx: &mut Tx<'_>, p: NewPlacement<'_>, change: Change<'_>) -> Result<Placement> {
    let row = tx.query_one(
        "INSERT INTO ap_placements (council, provider_id, child_id, commissioner, school, start_on, planned_end_on,
             hours_per_week, version, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $9, $10) RETURNING id",
        &[
            p.council.into(),
            p.provider_id.into(),
            p.child_id.into(),
            p.commissioner.code().into(),
            p.school.into(),
            p.start_on.to_string().into(),
            p.planned_end_on.map(|d| d.to_string()).into(),
            p.hours_per_week.into(),
            change.at.into(),
            change.by.into(),
        ],
    )?;
    let placed = placement(tx, row.int(0)?)?.ok_or(Error::NotFound("placement"))?;
    let body = json(&placed, "ap_placements")?;
    history(tx, "placement", placed.id, p.council, 1, "placed", change, None, Some(body))?;
    Ok(placed)
}

/// The placement with this id.
pub fn placement(tx: &mut Tx<'_>, id: i64) -> Result<Option<Placement>> {
    tx.query_opt(&format!("SELECT {PLACEMENT_COLUMNS} FROM ap_placements p WHERE p.id = $1"), &[id.into()])?
        .map(|r| placement_row(&r))
        .transpose()
}

/// A provider's placements, by id.
pub fn placements_with(tx: &mut Tx<'_>, provider_id: i64) -> Result<Vec<Placement>> {
    tx.query(
        &format!("SELECT {PLACEMENT_COLUMNS} FROM ap_placements p WHERE p.provider_id = $1 ORDER BY p.id"),
        &[provider_id.into()],
    )?
    .iter()
    .map(placement_row)
    .collect()
}

/// A council's placements not ended, by id.
pub fn open_placements(tx: &mut Tx<'_>, council: &str) -> Result<Vec<Placement>> {
    tx.query(
        &format!(
            "SELECT {PLACEMENT_COLUMNS} FROM ap_placements p WHERE p.council = $1 AND p.ended_on IS NULL ORDER BY p.id"
        ),
        &[council.into()],
    )?
    .iter()
    .map(placement_row)
    .collect()
}

/// Ends a placement from `expected_version`, with history.
pub fn end_placement(
    tx: &mut Tx<'_>,
    id: i64,
    expected_version: i64,
    ended_on: NaiveDate,
    end_reason: &str,
    change: Change<'_>,
) -> Result<Placement> {
    let before = placement(tx, id)?.ok_or(Error::NotFound("placement"))?;
    let n = tx.execute(
        "UPDATE ap_placements SET ended_on = $2, end_reason = $3, version = version + 1, updated_at = $4,
             updated_by = $5
         WHERE id = $1 AND version = $6 AND ended_on IS NULL",
        &[
            id.into(),
            ended_on.to_string().into(),
            end_reason.into(),
            change.at.into(),
            change.by.into(),
            expected_version.into(),
        ],
    )?;
    if n != 1 {
        return Err(Error::Conflict { expected: expected_version, found: before.version });
    }
    let after = placement(tx, id)?.ok_or(Error::NotFound("placement"))?;
    let (was, now) = (json(&before, "ap_placements")?, json(&after, "ap_placements")?);
    history(tx, "placement", id, &after.council, after.version, "ended", change, Some(was), Some(now))?;
    Ok(after)
}

/// A week's attendance at a placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attendance {
    /// The week (its Monday).
    pub week_of: NaiveDate,
    /// Sessions attended.
    pub attended: i64,
    /// Sessions offered.
    pub offered: i64,
    /// By (account id).
    pub recorded_by: i64,
    /// When (ms).
    pub recorded_at: i64,
}

/// Adds a week's attendance.
pub fn insert_attendance(
    tx: &mut Tx<'_>,
    placement_id: i64,
    week_of: NaiveDate,
    attended: i64,
    offered: i64,
    by: i64,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO ap_attendance (placement_id, week_of, attended, offered, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[placement_id.into(), week_of.to_string().into(), attended.into(), offered.into(), by.into(), at.into()],
    )?;
    Ok(())
}

/// A placement's attendance, a row a week (the latest recorded for it),
/// oldest week first.
pub fn attendance(tx: &mut Tx<'_>, placement_id: i64) -> Result<Vec<Attendance>> {
    let rows = tx.query(
        "SELECT week_of, attended, offered, recorded_by, recorded_at FROM ap_attendance
         WHERE placement_id = $1 ORDER BY week_of, id",
        &[placement_id.into()],
    )?;
    let mut out: Vec<Attendance> = Vec::new();
    for r in &rows {
        let a = Attendance {
            week_of: date(&r.text(0)?, "ap_attendance")?,
            attended: r.int(1)?,
            offered: r.int(2)?,
            recorded_by: r.int(3)?,
            recorded_at: r.int(4)?,
        };
        match out.last_mut() {
            Some(last) if last.week_of == a.week_of => *last = a,
            _ => out.push(a),
        }
    }
    Ok(out)
}

/// One row of a provider's or placement's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApHistoryRow {
    /// `provider` or `placement`.
    pub kind: String,
    /// Its id.
    pub row_id: i64,
    /// Version after the change.
    pub version: i64,
    /// What happened.
    pub action: String,
    /// When (ms).
    pub changed_at: i64,
    /// By (account id).
    pub changed_by: i64,
    /// Why.
    pub reason: String,
}

/// The history of a provider and its placements, oldest first.
pub fn provider_history(tx: &mut Tx<'_>, provider_id: i64) -> Result<Vec<ApHistoryRow>> {
    tx.query(
        "SELECT h.kind, h.row_id, h.version, h.action, h.changed_at, h.changed_by, h.reason FROM ap_history h
         WHERE (h.kind = 'provider' AND h.row_id = $1)
            OR (h.kind = 'placement' AND h.row_id IN (SELECT id FROM ap_placements WHERE provider_id = $1))
         ORDER BY h.id",
        &[provider_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(ApHistoryRow {
            kind: r.text(0)?,
            row_id: r.int(1)?,
            version: r.int(2)?,
            action: r.text(3)?,
            changed_at: r.int(4)?,
            changed_by: r.int(5)?,
            reason: r.text(6)?,
        })
    })
    .collect()
}

/// Every council with a provider on its register.
pub fn councils_with_providers(tx: &mut Tx<'_>) -> Result<Vec<String>> {
    tx.query("SELECT DISTINCT council FROM ap_providers ORDER BY council", &[])?.iter().map(|r| r.text(0)).collect()
}

/// Records that an alert was sent to a council's outbox; false if it
/// had been already.
pub fn mark_alert_sent(tx: &mut Tx<'_>, council: &str, key: &str, at: i64) -> Result<bool> {
    let n = tx.execute(
        "INSERT INTO ap_alerts_sent (council, alert_key, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[council.into(), key.into(), at.into()],
    )?;
    Ok(n == 1)
}
