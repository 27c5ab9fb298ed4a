//! Casework tables, on either backend: schools' deletion notices,
//! missing-education and home-education cases with their history, and
//! councils' and schools' term dates.
//!
//! A notice is kept as the school sent it and never changed. A case, like
//! a register entry, is never changed in place without history: every
//! change (an enquiry recorded, a key worker named, the case closed) is a
//! new version, with the whole case before and after, who, when and why,
//! written in the same transaction. Updates name the version they were
//! made from ([`Error::Conflict`] otherwise).

use chrono::NaiveDate;
use cnis_core::LaCode;
use cnis_core::calendar::SchoolCalendar;
use cnis_core::casework::{CaseContent, CaseKind, CaseOutcome, CaseSource, CaseStatus, DeletionNotice};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::db::{Row, Tx, Value};
use crate::register::Change;

type Result<T> = std::result::Result<T, Error>;

/// The casework tables (the register's fourth migration).
pub(crate) const TABLES: &str = r"
CREATE TABLE deletion_notices (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    school        TEXT NOT NULL,
    submitted_by  BIGINT NOT NULL REFERENCES users(id),
    submitted_at  BIGINT NOT NULL,
    deletion_date TEXT NOT NULL,
    ground        TEXT NOT NULL,
    meaning       TEXT NOT NULL,
    child_id      TEXT NOT NULL,
    upn           TEXT,
    match_weight  DOUBLE PRECISION,
    case_id       BIGINT,
    content       TEXT NOT NULL
);
CREATE INDEX deletion_notices_school ON deletion_notices(school, deletion_date);
CREATE INDEX deletion_notices_council ON deletion_notices(council, deletion_date);
CREATE INDEX deletion_notices_child ON deletion_notices(child_id);
CREATE INDEX deletion_notices_upn ON deletion_notices(upn);
CREATE TABLE cases (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    child_id      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL,
    source        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    key_worker    BIGINT REFERENCES users(id),
    opened_on     TEXT NOT NULL,
    due_on        TEXT,
    closed_on     TEXT,
    outcome       TEXT,
    content       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    BIGINT NOT NULL
);
CREATE INDEX cases_council ON cases(council, status, due_on);
CREATE INDEX cases_child ON cases(child_id);
CREATE TABLE case_history (
    id            {id},
    case_id       BIGINT NOT NULL,
    council       TEXT NOT NULL,
    child_id      TEXT NOT NULL,
    version       BIGINT NOT NULL,
    action        TEXT NOT NULL,
    changed_at    BIGINT NOT NULL,
    changed_by    BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    before_value  TEXT,
    after_value   TEXT
);
CREATE INDEX case_history_case ON case_history(case_id, id);
CREATE TABLE school_calendars (
    council       TEXT NOT NULL REFERENCES councils(code),
    school        TEXT NOT NULL,
    content       TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    BIGINT NOT NULL,
    PRIMARY KEY (council, school)
);
";

/// Social care, consent to home education and the outbox (the register's
/// fifth migration). Decisions are rows of their own, never an update of
/// the request.
pub(crate) const CONSENT_TABLES: &str = r"
CREATE TABLE care_episodes (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    child_id      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    start_on      TEXT NOT NULL,
    end_on        TEXT,
    risk_at_home  BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    recorded_by   BIGINT NOT NULL
);
CREATE INDEX care_episodes_child ON care_episodes(council, child_id);
CREATE TABLE consent_requests (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    school        TEXT NOT NULL,
    child_id      TEXT NOT NULL,
    asked_by      BIGINT NOT NULL,
    asked_at      BIGINT NOT NULL,
    proposed_on   TEXT NOT NULL,
    special_school BIGINT NOT NULL,
    grounds       TEXT NOT NULL,
    content       TEXT NOT NULL
);
CREATE INDEX consent_requests_child ON consent_requests(council, child_id);
CREATE INDEX consent_requests_school ON consent_requests(school, id);
CREATE TABLE consent_decisions (
    id            {id},
    request_id    BIGINT NOT NULL,
    consent       BIGINT NOT NULL,
    reasons       TEXT NOT NULL,
    decided_by    BIGINT NOT NULL,
    decided_at    BIGINT NOT NULL
);
CREATE INDEX consent_decisions_request ON consent_decisions(request_id, id);
CREATE TABLE outbox (
    id            {id},
    council       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    audience      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    child_id      TEXT,
    body          TEXT NOT NULL,
    sent_at       BIGINT
);
CREATE INDEX outbox_unsent ON outbox(council, sent_at, id);
";

/// Handovers between councils (the register's sixth migration). An
/// acknowledgement and an escalation are rows of their own.
pub(crate) const HANDOVER_TABLES: &str = r"
CREATE TABLE handovers (
    id            {id},
    child_id      TEXT NOT NULL,
    from_council  TEXT NOT NULL REFERENCES councils(code),
    to_council    TEXT NOT NULL REFERENCES councils(code),
    case_id       BIGINT,
    offered_by    BIGINT NOT NULL,
    offered_at    BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    due_on        TEXT
);
CREATE INDEX handovers_child ON handovers(child_id);
CREATE INDEX handovers_to ON handovers(to_council, id);
CREATE INDEX handovers_from ON handovers(from_council, id);
CREATE TABLE handover_events (
    id            {id},
    handover_id   BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    by_user       BIGINT NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX handover_events_handover ON handover_events(handover_id, id);
";

/// Tasks on cases (the register's ninth migration). Completing or
/// escalating a task is a row of its own.
pub(crate) const TASK_TABLES: &str = r"
CREATE TABLE case_tasks (
    id            {id},
    case_id       BIGINT NOT NULL REFERENCES cases(id),
    council       TEXT NOT NULL REFERENCES councils(code),
    title         TEXT NOT NULL,
    due_on        TEXT,
    assigned_to   BIGINT REFERENCES users(id),
    created_by    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX case_tasks_case ON case_tasks(case_id, id);
CREATE INDEX case_tasks_assigned ON case_tasks(council, assigned_to, id);
CREATE TABLE case_task_events (
    id            {id},
    task_id       BIGINT NOT NULL REFERENCES case_tasks(id),
    kind          TEXT NOT NULL,
    by_user       BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    note          TEXT NOT NULL
);
CREATE INDEX case_task_events_task ON case_task_events(task_id, id);
";

/// A task on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    /// Id.
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// The council.
    pub council: String,
    /// What is to be done.
    pub title: String,
    /// By when.
    pub due_on: Option<NaiveDate>,
    /// Who is to do it (account id).
    pub assigned_to: Option<i64>,
    /// Set by (account id).
    pub created_by: i64,
    /// When (ms).
    pub created_at: i64,
    /// When it was done (ms).
    pub done_at: Option<i64>,
    /// By (account id).
    pub done_by: Option<i64>,
    /// What was done.
    pub done_note: Option<String>,
    /// Whether it was escalated as overdue.
    pub escalated: bool,
}

const TASK_COLUMNS: &str = "t.id, t.case_id, t.council, t.title, t.due_on, t.assigned_to, t.created_by, t.created_at, \
     d.at, d.by_user, d.note, \
     (SELECT COUNT(*) FROM case_task_events x WHERE x.task_id = t.id AND x.kind = 'escalated')";

const TASK_FROM: &str = "case_tasks t LEFT JOIN case_task_events d ON d.id = \
     (SELECT MAX(y.id) FROM case_task_events y WHERE y.task_id = t.id AND y.kind = 'done')";

fn task_row(r: &Row) -> Result<Task> {
    Ok(Task {
        id: r.int(0)?,
        case_id: r.int(1)?,
        council: r.text(2)?,
        title: r.text(3)?,
        due_on: r.opt_text(4)?.map(|d| date(&d, "case_tasks")).transpose()?,
        assigned_to: r.opt_int(5)?,
        created_by: r.int(6)?,
        created_at: r.int(7)?,
        done_at: r.opt_int(8)?,
        done_by: r.opt_int(9)?,
        done_note: r.opt_text(10)?,
        escalated: r.int(11)? > 0,
    })
}

/// A task to add.
#[derive(Debug, Clone, Copy)]
pub struct NewTask<'a> {
    /// The case.
    pub case_id: i64,
    /// The council.
    pub council: &'a str,
    /// What is to be done.
    pub title: &'a str,
    /// By when.
    pub due_on: Option<NaiveDate>,
    /// Who.
    pub assigned_to: Option<i64>,
}

/// Adds a task.
pub fn insert_task(tx: &mut Tx<'_>, t: NewTask<'_>, by: i64, at: i64) -> Result<Task> {
    let row = tx.query_one(
        "INSERT INTO case_tasks (case_id, council, title, due_on, assigned_to, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            t.case_id.into(),
            t.council.into(),
            t.title.into(),
            t.due_on.map(|d| d.to_string()).into(),
            t.assigned_to.into(),
            by.into(),
            at.into(),
        ],
    )?;
    task(tx, row.int(0)?)?.ok_or(Error::NotFound("task"))
}

/// The task with this id.
pub fn task(tx: &mut Tx<'_>, id: i64) -> Result<Option<Task>> {
    tx.query_opt(&format!("SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.id = $1"), &[id.into()])?
        .map(|r| task_row(&r))
        .transpose()
}

/// A case's tasks, in the order set.
pub fn tasks_for_case(tx: &mut Tx<'_>, case_id: i64) -> Result<Vec<Task>> {
    tx.query(&format!("SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.case_id = $1 ORDER BY t.id"), &[case_id.into()])?
        .iter()
        .map(task_row)
        .collect()
}

/// Open tasks of a council assigned to one account, soonest first.
pub fn open_tasks_of(tx: &mut Tx<'_>, council: &str, user: i64) -> Result<Vec<Task>> {
    tx.query(
        &format!(
            "SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.council = $1 AND t.assigned_to = $2 AND d.id IS NULL
             ORDER BY CASE WHEN t.due_on IS NULL THEN 1 ELSE 0 END, t.due_on, t.id LIMIT 200"
        ),
        &[council.into(), user.into()],
    )?
    .iter()
    .map(task_row)
    .collect()
}

/// Open tasks past their date on `today`, not yet escalated.
pub fn overdue_tasks(tx: &mut Tx<'_>, today: NaiveDate) -> Result<Vec<Task>> {
    tx.query(
        &format!(
            "SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE d.id IS NULL AND t.due_on < $1
               AND NOT EXISTS (SELECT 1 FROM case_task_events e WHERE e.task_id = t.id AND e.kind = 'escalated')
             ORDER BY t.id"
        ),
        &[today.to_string().into()],
    )?
    .iter()
    .map(task_row)
    .collect()
}

/// A council's work waiting, for its dashboard: open cases and those past
/// their deadline on `today`, `user`'s open tasks and those overdue,
/// notices schools sent since `since_ms`, and handovers offered to it not
/// yet acknowledged.
pub fn work_counts(tx: &mut Tx<'_>, council: LaCode, user: i64, today: NaiveDate, since_ms: i64) -> Result<WorkCounts> {
    let code = council.to_string();
    let today = today.to_string();
    let r = tx.query_one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_on < $2 THEN 1 ELSE 0 END), 0)          FROM cases WHERE council = $1 AND status = 'open'",
        &[code.as_str().into(), today.as_str().into()],
    )?;
    let (open_cases, overdue_cases) = (r.int(0)?, r.int(1)?);
    let r = tx.query_one(
        &format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN t.due_on < $3 THEN 1 ELSE 0 END), 0) FROM {TASK_FROM}              WHERE t.council = $1 AND t.assigned_to = $2 AND d.id IS NULL"
        ),
        &[code.as_str().into(), user.into(), today.as_str().into()],
    )?;
    let (my_open_tasks, my_overdue_tasks) = (r.int(0)?, r.int(1)?);
    let recent_notices = tx
        .query_one(
            "SELECT COUNT(*) FROM deletion_notices WHERE council = $1 AND submitted_at >= $2",
            &[code.as_str().into(), since_ms.into()],
        )?
        .int(0)?;
    let handovers_waiting = tx
        .query_one(
            "SELECT COUNT(*) FROM handovers h WHERE h.to_council = $1 AND NOT EXISTS              (SELECT 1 FROM handover_events x WHERE x.handover_id = h.id AND x.kind = 'acknowledged')",
            &[code.as_str().into()],
        )?
        .int(0)?;
    Ok(WorkCounts { open_cases, overdue_cases, my_open_tasks, my_overdue_tasks, recent_notices, handovers_waiting })
}

/// What [`work_counts`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkCounts {
    /// Open cases.
    pub open_cases: i64,
    /// Open cases past their deadline.
    pub overdue_cases: i64,
    /// The user's open tasks.
    pub my_open_tasks: i64,
    /// The user's open tasks past their date.
    pub my_overdue_tasks: i64,
    /// Schools' deletion notices sent recently.
    pub recent_notices: i64,
    /// Handovers offered to the council, not yet acknowledged.
    pub handovers_waiting: i64,
}

/// Records that a task was done, or escalated.
pub fn task_event(tx: &mut Tx<'_>, task_id: i64, kind: &str, by: i64, at: i64, note: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO case_task_events (task_id, kind, by_user, at, note) VALUES ($1, $2, $3, $4, $5)",
        &[task_id.into(), kind.into(), by.into(), at.into(), note.into()],
    )?;
    Ok(())
}

fn json<T: Serialize>(v: &T, table: &'static str) -> Result<String> {
    serde_json::to_string(v).map_err(|_| Error::Corrupt { table, what: "content to store" })
}

fn date(s: &str, table: &'static str) -> Result<NaiveDate> {
    crate::parse_date(s, table)
}

// ---- notices ---------------------------------------------------------------

/// A deletion notice as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredNotice {
    /// Id.
    pub id: i64,
    /// The council the school returns to.
    pub council: String,
    /// The school's LAESTAB.
    pub school: String,
    /// Submitted by (account id).
    pub submitted_by: i64,
    /// When (ms).
    pub submitted_at: i64,
    /// The deletion date.
    pub deletion_date: NaiveDate,
    /// The ground as read (`9(1)(i)`).
    pub ground: String,
    /// What the ground means (`continuous_absence`, ...).
    pub meaning: String,
    /// The child it was matched to.
    pub child_id: String,
    /// The match weight of that child, when an existing child was found by
    /// name and date of birth (`None`: matched exactly, or a new child).
    pub match_weight: Option<f64>,
    /// The case it opened or joined.
    pub case_id: Option<i64>,
    /// What the school sent.
    pub content: DeletionNotice,
}

const NOTICE_COLUMNS: &str = "id, council, school, submitted_by, submitted_at, deletion_date, ground, meaning, child_id, match_weight, case_id, content";

fn notice_row(r: &Row) -> Result<StoredNotice> {
    let bad = |what| Error::Corrupt { table: "deletion_notices", what };
    Ok(StoredNotice {
        id: r.int(0)?,
        council: r.text(1)?,
        school: r.text(2)?,
        submitted_by: r.int(3)?,
        submitted_at: r.int(4)?,
        deletion_date: date(&r.text(5)?, "deletion_notices")?,
        ground: r.text(6)?,
        meaning: r.text(7)?,
        child_id: r.text(8)?,
        match_weight: match r.0.get(9) {
            Some(Value::Real(v)) => Some(*v),
            Some(Value::Int(v)) => Some(*v as f64),
            _ => None,
        },
        case_id: r.opt_int(10)?,
        content: serde_json::from_str(&r.text(11)?).map_err(|_| bad("content"))?,
    })
}

/// A notice to store.
#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    /// The council.
    pub council: LaCode,
    /// The school.
    pub school: &'a str,
    /// The deletion date.
    pub deletion_date: NaiveDate,
    /// The ground as read.
    pub ground: &'a str,
    /// Its meaning's name.
    pub meaning: &'a str,
    /// The child matched.
    pub child_id: &'a str,
    /// The match weight, if matched by name and date of birth.
    pub match_weight: Option<f64>,
    /// The case, if one was opened or joined.
    pub case_id: Option<i64>,
    /// What the school sent.
    pub content: &'a DeletionNotice,
}

/// Stores a notice.
pub fn insert_notice(tx: &mut Tx<'_>, n: &NewNotice<'_>, by: i64, at: i64) -> Result<StoredNotice> {
    let row = tx.query_one(
        &format!(
            "INSERT INTO deletion_notices (council, school, submitted_by, submitted_at, deletion_date, ground, meaning,
                 child_id, match_weight, case_id, content, upn)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {NOTICE_COLUMNS}"
        ),
        &[
            n.council.to_string().into(),
            n.school.into(),
            by.into(),
            at.into(),
            n.deletion_date.to_string().into(),
            n.ground.into(),
            n.meaning.into(),
            n.child_id.into(),
            n.match_weight.into(),
            n.case_id.into(),
            json(n.content, "deletion_notices")?.into(),
            n.content.upn.clone().filter(|u| !u.is_empty()).into(),
        ],
    )?;
    notice_row(&row)
}

/// Notices of one council, or of one school, newest first.
pub fn notices(
    tx: &mut Tx<'_>,
    council: Option<LaCode>,
    school: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<StoredNotice>> {
    tx.query(
        &format!(
            "SELECT {NOTICE_COLUMNS} FROM deletion_notices
             WHERE (CAST($1 AS TEXT) IS NULL OR council = $1) AND (CAST($2 AS TEXT) IS NULL OR school = $2)
             ORDER BY id DESC LIMIT $3 OFFSET $4"
        ),
        &[council.map(|c| c.to_string()).into(), school.into(), limit.into(), offset.into()],
    )?
    .iter()
    .map(notice_row)
    .collect()
}

/// A council's notices with a deletion date from `from` to `to`, by
/// school and date.
pub fn notices_between(tx: &mut Tx<'_>, council: LaCode, from: NaiveDate, to: NaiveDate) -> Result<Vec<StoredNotice>> {
    tx.query(
        &format!(
            "SELECT {NOTICE_COLUMNS} FROM deletion_notices
             WHERE council = $1 AND deletion_date >= $2 AND deletion_date <= $3 ORDER BY school, deletion_date, id"
        ),
        &[council.to_string().into(), from.to_string().into(), to.to_string().into()],
    )?
    .iter()
    .map(notice_row)
    .collect()
}

/// How many notices [`notices`] would list without its page.
pub fn count_notices(tx: &mut Tx<'_>, council: Option<LaCode>, school: Option<&str>) -> Result<i64> {
    tx.query_one(
        "SELECT COUNT(*) FROM deletion_notices
         WHERE (CAST($1 AS TEXT) IS NULL OR council = $1) AND (CAST($2 AS TEXT) IS NULL OR school = $2)",
        &[council.map(|c| c.to_string()).into(), school.into()],
    )?
    .int(0)
}

/// Notices about one child, newest first.
pub fn notices_for_child(tx: &mut Tx<'_>, child_id: &str) -> Result<Vec<StoredNotice>> {
    tx.query(
        &format!("SELECT {NOTICE_COLUMNS} FROM deletion_notices WHERE child_id = $1 ORDER BY id DESC"),
        &[child_id.into()],
    )?
    .iter()
    .map(notice_row)
    .collect()
}

/// The child id an entry or a notice already gave a child with this UPN
/// (one child, one id).
pub fn child_by_upn(tx: &mut Tx<'_>, upn: &str) -> Result<Option<String>> {
    for sql in [
        "SELECT child_id FROM register_entries WHERE upn = $1 LIMIT 1",
        "SELECT child_id FROM deletion_notices WHERE upn = $1 LIMIT 1",
    ] {
        if let Some(r) = tx.query_opt(sql, &[upn.into()])? {
            return Ok(Some(r.text(0)?));
        }
    }
    Ok(None)
}

// ---- cases -----------------------------------------------------------------

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Case {
    /// Id.
    pub id: i64,
    /// The council working it.
    pub council: String,
    /// The child.
    pub child_id: String,
    /// What kind.
    pub kind: CaseKind,
    /// Open or closed.
    pub status: CaseStatus,
    /// How it came.
    pub source: CaseSource,
    /// Version, from 1.
    pub version: i64,
    /// The key worker (account id).
    pub key_worker: Option<i64>,
    /// Opened.
    pub opened_on: NaiveDate,
    /// The next deadline.
    pub due_on: Option<NaiveDate>,
    /// Closed.
    pub closed_on: Option<NaiveDate>,
    /// How it ended.
    pub outcome: Option<CaseOutcome>,
    /// What it holds.
    pub content: CaseContent,
    /// Created (ms).
    pub created_at: i64,
    /// By.
    pub created_by: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// By.
    pub updated_by: i64,
}

const CASE_COLUMNS: &str = "id, council, child_id, kind, status, source, version, key_worker, opened_on, due_on, \
     closed_on, outcome, content, created_at, created_by, updated_at, updated_by";

fn case_row(r: &Row) -> Result<Case> {
    let bad = |what| Error::Corrupt { table: "cases", what };
    let opt_date = |v: Option<String>| v.map(|d| date(&d, "cases")).transpose();
    Ok(Case {
        id: r.int(0)?,
        council: r.text(1)?,
        child_id: r.text(2)?,
        kind: CaseKind::parse(&r.text(3)?).ok_or(bad("kind"))?,
        status: CaseStatus::parse(&r.text(4)?).ok_or(bad("status"))?,
        source: CaseSource::parse(&r.text(5)?).ok_or(bad("source"))?,
        version: r.int(6)?,
        key_worker: r.opt_int(7)?,
        opened_on: date(&r.text(8)?, "cases")?,
        due_on: opt_date(r.opt_text(9)?)?,
        closed_on: opt_date(r.opt_text(10)?)?,
        outcome: r.opt_text(11)?.map(|s| CaseOutcome::parse(&s).ok_or(bad("outcome"))).transpose()?,
        content: serde_json::from_str(&r.text(12)?).map_err(|_| bad("content"))?,
        created_at: r.int(13)?,
        created_by: r.int(14)?,
        updated_at: r.int(15)?,
        updated_by: r.int(16)?,
    })
}

fn history(tx: &mut Tx<'_>, case: &Case, action: &str, change: Change<'_>, before: Option<String>) -> Result<()> {
    tx.execute(
        "INSERT INTO case_history (case_id, council, child_id, version, action, changed_at, changed_by, reason,
             before_value, after_value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            case.id.into(),
            case.council.as_str().into(),
            case.child_id.as_str().into(),
            case.version.into(),
            action.into(),
            change.at.into(),
            change.by.into(),
            change.reason.into(),
            before.into(),
            Some(json(case, "cases")?).into(),
        ],
    )?;
    Ok(())
}

/// A case to open.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    /// The council.
    pub council: LaCode,
    /// The child.
    pub child_id: &'a str,
    /// Kind.
    pub kind: CaseKind,
    /// Source.
    pub source: CaseSource,
    /// Key worker.
    pub key_worker: Option<i64>,
    /// Opened on.
    pub opened_on: NaiveDate,
    /// First deadline.
    pub due_on: Option<NaiveDate>,
    /// Content.
    pub content: &'a CaseContent,
}

/// Opens a case at version 1, with its history row.
pub fn insert_case(tx: &mut Tx<'_>, c: &NewCase<'_>, change: Change<'_>) -> Result<Case> {
    let row = tx.query_one(
        &format!(
            "INSERT INTO cases (council, child_id, kind, status, source, version, key_worker, opened_on, due_on,
                 content, created_at, created_by, updated_at, updated_by)
             VALUES ($1, $2, $3, 'open', $4, 1, $5, $6, $7, $8, $9, $10, $9, $10) RETURNING {CASE_COLUMNS}"
        ),
        &[
            c.council.to_string().into(),
            c.child_id.into(),
            c.kind.code().into(),
            c.source.code().into(),
            c.key_worker.into(),
            c.opened_on.to_string().into(),
            c.due_on.map(|d| d.to_string()).into(),
            json(c.content, "cases")?.into(),
            change.at.into(),
            change.by.into(),
        ],
    )?;
    let case = case_row(&row)?;
    history(tx, &case, "opened", change, None)?;
    Ok(case)
}

/// The case with this id.
pub fn case(tx: &mut Tx<'_>, id: i64) -> Result<Option<Case>> {
    tx.query_opt(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"), &[id.into()])?
        .map(|r| case_row(&r))
        .transpose()
}

/// Every case about a child, newest first.
pub fn cases_for_child(tx: &mut Tx<'_>, child_id: &str) -> Result<Vec<Case>> {
    tx.query(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE child_id = $1 ORDER BY id DESC"), &[child_id.into()])?
        .iter()
        .map(case_row)
        .collect()
}

/// The open case of this kind for the child in this council, if any.
pub fn open_case(tx: &mut Tx<'_>, council: LaCode, child_id: &str, kind: CaseKind) -> Result<Option<Case>> {
    tx.query_opt(
        &format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE council = $1 AND child_id = $2 AND kind = $3 AND status = 'open'
             ORDER BY id LIMIT 1"
        ),
        &[council.to_string().into(), child_id.into(), kind.code().into()],
    )?
    .map(|r| case_row(&r))
    .transpose()
}

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Open or closed (both if `None`).
    pub status: Option<CaseStatus>,
    /// Kind (both if `None`).
    pub kind: Option<CaseKind>,
    /// Only those open with a deadline before this day (overdue on it).
    pub due_before: Option<NaiveDate>,
    /// Only this key worker's.
    pub key_worker: Option<i64>,
}

/// A council's cases, soonest deadline first (those with none last), with
/// the total that match.
pub fn list_cases(
    tx: &mut Tx<'_>,
    council: LaCode,
    f: &CaseFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Case>, i64)> {
    let status = f.status.or(f.due_before.map(|_| CaseStatus::Open)).map(|s| s.code());
    let filter =
        "council = $1 AND (CAST($2 AS TEXT) IS NULL OR status = $2) AND (CAST($3 AS TEXT) IS NULL OR kind = $3)
         AND (CAST($4 AS TEXT) IS NULL OR due_on < $4) AND (CAST($5 AS BIGINT) IS NULL OR key_worker = $5)";
    let params: Vec<Value> = vec![
        council.to_string().into(),
        status.into(),
        f.kind.map(|k| k.code()).into(),
        f.due_before.map(|d| d.to_string()).into(),
        f.key_worker.into(),
    ];
    let total = tx.query_one(&format!("SELECT COUNT(*) FROM cases WHERE {filter}"), &params)?.int(0)?;
    let mut page = params;
    page.push(limit.into());
    page.push(offset.into());
    let rows = tx.query(
        &format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE {filter}
             ORDER BY CASE WHEN due_on IS NULL THEN 1 ELSE 0 END, due_on, id LIMIT $6 OFFSET $7"
        ),
        &page,
    )?;
    Ok((rows.iter().map(case_row).collect::<Result<_>>()?, total))
}

/// A council's cases about a child born on `dob` (for matching a notice or
/// report about a child not on the register to the case already open).
pub fn cases_born_on(tx: &mut Tx<'_>, council: LaCode, dob: &str) -> Result<Vec<Case>> {
    let needle = format!("%\"dob\":\"{}\"%", dob.replace(['%', '_', '"', '\\'], ""));
    tx.query(
        &format!("SELECT {CASE_COLUMNS} FROM cases WHERE council = $1 AND content LIKE $2 ORDER BY id DESC LIMIT 200"),
        &[council.to_string().into(), needle.into()],
    )?
    .iter()
    .map(case_row)
    .filter(|c| c.as_ref().map_or(true, |c| c.content.dob == dob))
    .collect()
}

/// Open cases of every council past their deadline on `today`, oldest
/// deadline first.
pub fn overdue_cases(tx: &mut Tx<'_>, today: NaiveDate) -> Result<Vec<Case>> {
    tx.query(
        &format!("SELECT {CASE_COLUMNS} FROM cases WHERE status = 'open' AND due_on < $1 ORDER BY due_on, id"),
        &[today.to_string().into()],
    )?
    .iter()
    .map(case_row)
    .collect()
}

/// A case's new state.
#[derive(Debug, Clone)]
pub struct CaseUpdate {
    /// Status.
    pub status: CaseStatus,
    /// Key worker.
    pub key_worker: Option<i64>,
    /// Next deadline.
    pub due_on: Option<NaiveDate>,
    /// Closed on.
    pub closed_on: Option<NaiveDate>,
    /// Outcome.
    pub outcome: Option<CaseOutcome>,
    /// Content.
    pub content: CaseContent,
}

impl CaseUpdate {
    /// The case as it stands, to change.
    pub fn from_case(c: &Case) -> CaseUpdate {
        CaseUpdate {
            status: c.status,
            key_worker: c.key_worker,
            due_on: c.due_on,
            closed_on: c.closed_on,
            outcome: c.outcome,
            content: c.content.clone(),
        }
    }
}

/// Replaces a case's state if it is still at `expected_version`, writing
/// the before and after to its history.
pub fn update_case(
    tx: &mut Tx<'_>,
    id: i64,
    expected_version: i64,
    u: &CaseUpdate,
    action: &str,
    change: Change<'_>,
) -> Result<Case> {
    let before = case(tx, id)?.ok_or(Error::NotFound("case"))?;
    if before.version != expected_version {
        return Err(Error::Conflict { expected: expected_version, found: before.version });
    }
    let n = tx.execute(
        "UPDATE cases SET status = $2, version = version + 1, key_worker = $3, due_on = $4, closed_on = $5,
             outcome = $6, content = $7, updated_at = $8, updated_by = $9
         WHERE id = $1 AND version = $10",
        &[
            id.into(),
            u.status.code().into(),
            u.key_worker.into(),
            u.due_on.map(|d| d.to_string()).into(),
            u.closed_on.map(|d| d.to_string()).into(),
            u.outcome.map(|o| o.code()).into(),
            json(&u.content, "cases")?.into(),
            change.at.into(),
            change.by.into(),
            expected_version.into(),
        ],
    )?;
    if n != 1 {
        return Err(Error::Conflict { expected: expected_version, found: expected_version + 1 });
    }
    let after = case(tx, id)?.ok_or(Error::NotFound("case"))?;
    history(tx, &after, action, change, Some(json(&before, "cases")?))?;
    Ok(after)
}

/// One row of a case's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseHistoryRow {
    /// The version this change made.
    pub version: i64,
    /// What was done (`opened`, `enquiry`, `key_worker`, `closed`).
    pub action: String,
    /// When (ms).
    pub changed_at: i64,
    /// By (account id).
    pub changed_by: i64,
    /// Their name.
    pub changed_by_name: Option<String>,
    /// Why.
    pub reason: String,
    /// The whole case before (JSON), none when opened.
    pub before: Option<String>,
    /// And after.
    pub after: Option<String>,
}

/// A case's history, oldest first.
pub fn case_history(tx: &mut Tx<'_>, case_id: i64) -> Result<Vec<CaseHistoryRow>> {
    tx.query(
        "SELECT h.version, h.action, h.changed_at, h.changed_by, u.name, h.reason, h.before_value, h.after_value
         FROM case_history h LEFT JOIN users u ON u.id = h.changed_by WHERE h.case_id = $1 ORDER BY h.id",
        &[case_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(CaseHistoryRow {
            version: r.int(0)?,
            action: r.text(1)?,
            changed_at: r.int(2)?,
            changed_by: r.int(3)?,
            changed_by_name: r.opt_text(4)?,
            reason: r.text(5)?,
            before: r.opt_text(6)?,
            after: r.opt_text(7)?,
        })
    })
    .collect()
}

// ---- calendars ---------------------------------------------------------------

/// Stores a council's term dates (`school` empty) or a school's own.
pub fn set_calendar(
    tx: &mut Tx<'_>,
    council: LaCode,
    school: &str,
    calendar: &SchoolCalendar,
    by: i64,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO school_calendars (council, school, content, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (council, school) DO UPDATE SET content = $3, updated_at = $4, updated_by = $5",
        &[council.to_string().into(), school.into(), json(calendar, "school_calendars")?.into(), at.into(), by.into()],
    )?;
    Ok(())
}

/// The calendar that counts for a school: its own where it has one, else
/// its council's; `None` when neither is loaded.
pub fn calendar(tx: &mut Tx<'_>, council: LaCode, school: Option<&str>) -> Result<Option<SchoolCalendar>> {
    let rows = tx.query(
        "SELECT school, content FROM school_calendars WHERE council = $1 AND (school = '' OR school = $2)
         ORDER BY school DESC",
        &[council.to_string().into(), school.unwrap_or("").into()],
    )?;
    rows.first()
        .map(|r| {
            serde_json::from_str(&r.text(1)?).map_err(|_| Error::Corrupt { table: "school_calendars", what: "content" })
        })
        .transpose()
}

// ---- social care, consent, outbox ----------------------------------------------

/// Records social-care episodes for a child.
pub fn add_care(
    tx: &mut Tx<'_>,
    council: LaCode,
    child_id: &str,
    episodes: &[cnis_core::casework::CareEpisode],
    by: i64,
    at: i64,
) -> Result<()> {
    for e in episodes {
        tx.execute(
            "INSERT INTO care_episodes (council, child_id, kind, start_on, end_on, risk_at_home, recorded_at, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                council.to_string().into(),
                child_id.into(),
                e.kind.code().into(),
                e.start.to_string().into(),
                e.end.map(|d| d.to_string()).into(),
                e.risk_of_harm_at_home.into(),
                at.into(),
                by.into(),
            ],
        )?;
    }
    Ok(())
}

/// The social-care episodes a council holds for a child.
pub fn care(tx: &mut Tx<'_>, council: LaCode, child_id: &str) -> Result<Vec<cnis_core::casework::CareEpisode>> {
    tx.query(
        "SELECT kind, start_on, end_on, risk_at_home FROM care_episodes WHERE council = $1 AND child_id = $2 ORDER BY id",
        &[council.to_string().into(), child_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(cnis_core::casework::CareEpisode {
            kind: cnis_core::casework::CareKind::parse(&r.text(0)?)
                .ok_or(Error::Corrupt { table: "care_episodes", what: "kind" })?,
            start: date(&r.text(1)?, "care_episodes")?,
            end: r.opt_text(2)?.map(|d| date(&d, "care_episodes")).transpose()?,
            risk_of_harm_at_home: r.int(3)? != 0,
        })
    })
    .collect()
}

/// The council's social-care episodes of every child with a deletion
/// notice dated from `from` to `to`, by child, in one query (the
/// deregistration scrutiny view reads them for a year of notices).
pub fn care_of_notices(
    tx: &mut Tx<'_>,
    council: LaCode,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<std::collections::HashMap<String, Vec<cnis_core::casework::CareEpisode>>> {
    let rows = tx.query(
        "SELECT e.child_id, e.kind, e.start_on, e.end_on, e.risk_at_home FROM care_episodes e
         WHERE e.council = $1 AND e.child_id IN (
             SELECT n.child_id FROM deletion_notices n
             WHERE n.council = $1 AND n.deletion_date >= $2 AND n.deletion_date <= $3)
         ORDER BY e.id",
        &[council.to_string().into(), from.to_string().into(), to.to_string().into()],
    )?;
    let mut out: std::collections::HashMap<String, Vec<cnis_core::casework::CareEpisode>> =
        std::collections::HashMap::new();
    for r in &rows {
        out.entry(r.text(0)?).or_default().push(cnis_core::casework::CareEpisode {
            kind: cnis_core::casework::CareKind::parse(&r.text(1)?)
                .ok_or(Error::Corrupt { table: "care_episodes", what: "kind" })?,
            start: date(&r.text(2)?, "care_episodes")?,
            end: r.opt_text(3)?.map(|d| date(&d, "care_episodes")).transpose()?,
            risk_of_harm_at_home: r.int(4)? != 0,
        });
    }
    Ok(out)
}

/// A school's question whether a pupil is a relevant child, with the
/// council's decision if it made one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentRequest {
    /// Id.
    pub id: i64,
    /// The council.
    pub council: String,
    /// The school asking.
    pub school: String,
    /// The child.
    pub child_id: String,
    /// When it was asked (ms).
    pub asked_at: i64,
    /// The day the pupil would be withdrawn.
    pub proposed_on: NaiveDate,
    /// The school says it is a special school.
    pub special_school: bool,
    /// Why the child is a relevant child (empty: consent not needed).
    pub grounds: Vec<cnis_core::casework::ConsentGround>,
    /// What the school sent about the pupil.
    pub pupil: serde_json::Value,
    /// The council's decision: consent given (true) or refused (false).
    pub consent: Option<bool>,
    /// Its reasons.
    pub reasons: Option<String>,
    /// When (ms).
    pub decided_at: Option<i64>,
}

const CONSENT_COLUMNS: &str = "r.id, r.council, r.school, r.child_id, r.asked_at, r.proposed_on, r.special_school, \
     r.grounds, r.content, d.consent, d.reasons, d.decided_at";

const CONSENT_FROM: &str = "consent_requests r LEFT JOIN consent_decisions d ON d.id = \
     (SELECT MAX(x.id) FROM consent_decisions x WHERE x.request_id = r.id)";

fn consent_row(r: &Row) -> Result<ConsentRequest> {
    let bad = |what| Error::Corrupt { table: "consent_requests", what };
    Ok(ConsentRequest {
        id: r.int(0)?,
        council: r.text(1)?,
        school: r.text(2)?,
        child_id: r.text(3)?,
        asked_at: r.int(4)?,
        proposed_on: date(&r.text(5)?, "consent_requests")?,
        special_school: r.int(6)? != 0,
        grounds: serde_json::from_str(&r.text(7)?).map_err(|_| bad("grounds"))?,
        pupil: serde_json::from_str(&r.text(8)?).map_err(|_| bad("content"))?,
        consent: r.opt_int(9)?.map(|v| v != 0),
        reasons: r.opt_text(10)?,
        decided_at: r.opt_int(11)?,
    })
}

/// A consent request to store.
pub struct NewConsentRequest<'a> {
    /// The council.
    pub council: LaCode,
    /// The school.
    pub school: &'a str,
    /// The child.
    pub child_id: &'a str,
    /// The day.
    pub proposed_on: NaiveDate,
    /// A special school.
    pub special_school: bool,
    /// Why relevant.
    pub grounds: &'a [cnis_core::casework::ConsentGround],
    /// The pupil's details as sent.
    pub pupil: &'a serde_json::Value,
}

/// Stores a school's question.
pub fn insert_consent_request(tx: &mut Tx<'_>, c: &NewConsentRequest<'_>, by: i64, at: i64) -> Result<ConsentRequest> {
    let row = tx.query_one(
        "INSERT INTO consent_requests (council, school, child_id, asked_by, asked_at, proposed_on, special_school, grounds,
             content)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            c.council.to_string().into(),
            c.school.into(),
            c.child_id.into(),
            by.into(),
            at.into(),
            c.proposed_on.to_string().into(),
            c.special_school.into(),
            json(&c.grounds, "consent_requests")?.into(),
            json(c.pupil, "consent_requests")?.into(),
        ],
    )?;
    consent_request(tx, row.int(0)?)?.ok_or(Error::NotFound("consent request"))
}

/// One request, with its latest decision.
pub fn consent_request(tx: &mut Tx<'_>, id: i64) -> Result<Option<ConsentRequest>> {
    tx.query_opt(&format!("SELECT {CONSENT_COLUMNS} FROM {CONSENT_FROM} WHERE r.id = $1"), &[id.into()])?
        .map(|r| consent_row(&r))
        .transpose()
}

/// Requests of a council, or of a school, newest first.
pub fn consent_requests(
    tx: &mut Tx<'_>,
    council: Option<LaCode>,
    school: Option<&str>,
    limit: i64,
) -> Result<Vec<ConsentRequest>> {
    tx.query(
        &format!(
            "SELECT {CONSENT_COLUMNS} FROM {CONSENT_FROM}
             WHERE (CAST($1 AS TEXT) IS NULL OR r.council = $1) AND (CAST($2 AS TEXT) IS NULL OR r.school = $2)
             ORDER BY r.id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ),
        &[council.map(|c| c.to_string()).into(), school.into()],
    )?
    .iter()
    .map(consent_row)
    .collect()
}

/// The child's requests in a council, newest first.
pub fn consent_for_child(tx: &mut Tx<'_>, council: LaCode, child_id: &str) -> Result<Vec<ConsentRequest>> {
    tx.query(
        &format!(
            "SELECT {CONSENT_COLUMNS} FROM {CONSENT_FROM} WHERE r.council = $1 AND r.child_id = $2 ORDER BY r.id DESC"
        ),
        &[council.to_string().into(), child_id.into()],
    )?
    .iter()
    .map(consent_row)
    .collect()
}

/// Records the council's decision on a request (a row of its own).
pub fn decide_consent(tx: &mut Tx<'_>, request_id: i64, consent: bool, reasons: &str, by: i64, at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO consent_decisions (request_id, consent, reasons, decided_by, decided_at) VALUES ($1, $2, $3, $4, $5)",
        &[request_id.into(), consent.into(), reasons.into(), by.into(), at.into()],
    )?;
    Ok(())
}

/// A message for the council's mail or messaging system to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxMessage {
    /// Id.
    pub id: i64,
    /// The council.
    pub council: String,
    /// When it was queued (ms).
    pub created_at: i64,
    /// Who it is for: `school:LAESTAB`, `parents`, `council`, `user:ID`.
    pub audience: String,
    /// What kind (`consent.decided`, `case.opened`, ...).
    pub kind: String,
    /// The child it is about.
    pub child_id: Option<String>,
    /// What to say (JSON).
    pub body: serde_json::Value,
    /// When the council's system marked it sent (ms).
    pub sent_at: Option<i64>,
}

/// Queues a message.
pub fn queue(
    tx: &mut Tx<'_>,
    council: LaCode,
    audience: &str,
    kind: &str,
    child_id: Option<&str>,
    body: &serde_json::Value,
    at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO outbox (council, created_at, audience, kind, child_id, body) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            council.to_string().into(),
            at.into(),
            audience.into(),
            kind.into(),
            child_id.into(),
            json(body, "outbox")?.into(),
        ],
    )?;
    Ok(())
}

/// A council's messages, oldest unsent first.
pub fn outbox(tx: &mut Tx<'_>, council: LaCode, unsent_only: bool, limit: i64) -> Result<Vec<OutboxMessage>> {
    tx.query(
        &format!(
            "SELECT id, council, created_at, audience, kind, child_id, body, sent_at FROM outbox
             WHERE council = $1 AND ($2 = 0 OR sent_at IS NULL) ORDER BY id LIMIT {}",
            limit.clamp(1, 1000)
        ),
        &[council.to_string().into(), i64::from(unsent_only).into()],
    )?
    .iter()
    .map(|r| {
        Ok(OutboxMessage {
            id: r.int(0)?,
            council: r.text(1)?,
            created_at: r.int(2)?,
            audience: r.text(3)?,
            kind: r.text(4)?,
            child_id: r.opt_text(5)?,
            body: serde_json::from_str(&r.text(6)?).map_err(|_| Error::Corrupt { table: "outbox", what: "body" })?,
            sent_at: r.opt_int(7)?,
        })
    })
    .collect()
}

// ---- handovers -------------------------------------------------------------------

/// A child's case and register entry offered by one council to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Handover {
    /// Id.
    pub id: i64,
    /// The child.
    pub child_id: String,
    /// The council offering.
    pub from_council: String,
    /// The council the child's address moved to.
    pub to_council: String,
    /// The open case offered with the entry, if any.
    pub case_id: Option<i64>,
    /// Offered by (account id).
    pub offered_by: i64,
    /// When (ms).
    pub offered_at: i64,
    /// Why, in the offering caseworker's words.
    pub reason: String,
    /// The day it escalates if not acknowledged.
    pub due_on: Option<NaiveDate>,
    /// When the receiving council acknowledged it (ms).
    pub acknowledged_at: Option<i64>,
    /// By.
    pub acknowledged_by: Option<i64>,
    /// When it was escalated as unacknowledged (ms).
    pub escalated_at: Option<i64>,
}

const HANDOVER_SELECT: &str = "SELECT h.id, h.child_id, h.from_council, h.to_council, h.case_id, h.offered_by, \
     h.offered_at, h.reason, h.due_on, a.at, a.by_user, e.at FROM handovers h \
     LEFT JOIN handover_events a ON a.id = (SELECT MIN(x.id) FROM handover_events x WHERE x.handover_id = h.id AND x.kind = 'acknowledged') \
     LEFT JOIN handover_events e ON e.id = (SELECT MIN(y.id) FROM handover_events y WHERE y.handover_id = h.id AND y.kind = 'escalated')";

fn handover_row(r: &Row) -> Result<Handover> {
    Ok(Handover {
        id: r.int(0)?,
        child_id: r.text(1)?,
        from_council: r.text(2)?,
        to_council: r.text(3)?,
        case_id: r.opt_int(4)?,
        offered_by: r.int(5)?,
        offered_at: r.int(6)?,
        reason: r.text(7)?,
        due_on: r.opt_text(8)?.map(|d| date(&d, "handovers")).transpose()?,
        acknowledged_at: r.opt_int(9)?,
        acknowledged_by: r.opt_int(10)?,
        escalated_at: r.opt_int(11)?,
    })
}

/// A handover to store.
pub struct NewHandover<'a> {
    /// The child.
    pub child_id: &'a str,
    /// From.
    pub from_council: LaCode,
    /// To.
    pub to_council: LaCode,
    /// The open case, if any.
    pub case_id: Option<i64>,
    /// Why.
    pub reason: &'a str,
    /// Escalates after.
    pub due_on: Option<NaiveDate>,
}

/// Stores an offer.
pub fn insert_handover(tx: &mut Tx<'_>, h: &NewHandover<'_>, by: i64, at: i64) -> Result<Handover> {
    let row = tx.query_one(
        "INSERT INTO handovers (child_id, from_council, to_council, case_id, offered_by, offered_at, reason, due_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            h.child_id.into(),
            h.from_council.to_string().into(),
            h.to_council.to_string().into(),
            h.case_id.into(),
            by.into(),
            at.into(),
            h.reason.into(),
            h.due_on.map(|d| d.to_string()).into(),
        ],
    )?;
    handover(tx, row.int(0)?)?.ok_or(Error::NotFound("handover"))
}

/// One handover.
pub fn handover(tx: &mut Tx<'_>, id: i64) -> Result<Option<Handover>> {
    tx.query_opt(&format!("{HANDOVER_SELECT} WHERE h.id = $1"), &[id.into()])?.map(|r| handover_row(&r)).transpose()
}

/// Handovers to or from a council, newest first.
pub fn handovers(tx: &mut Tx<'_>, council: LaCode) -> Result<Vec<Handover>> {
    tx.query(
        &format!("{HANDOVER_SELECT} WHERE h.from_council = $1 OR h.to_council = $1 ORDER BY h.id DESC LIMIT 500"),
        &[council.to_string().into()],
    )?
    .iter()
    .map(handover_row)
    .collect()
}

/// A child's handovers not yet acknowledged.
pub fn pending_handovers(tx: &mut Tx<'_>, child_id: &str) -> Result<Vec<Handover>> {
    Ok(tx
        .query(&format!("{HANDOVER_SELECT} WHERE h.child_id = $1 ORDER BY h.id"), &[child_id.into()])?
        .iter()
        .map(handover_row)
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|h| h.acknowledged_at.is_none())
        .collect())
}

/// Every handover not acknowledged by its due day (`today` is past it),
/// not yet escalated.
pub fn overdue_handovers(tx: &mut Tx<'_>, today: NaiveDate) -> Result<Vec<Handover>> {
    Ok(tx
        .query(&format!("{HANDOVER_SELECT} WHERE h.due_on < $1 ORDER BY h.id"), &[today.to_string().into()])?
        .iter()
        .map(handover_row)
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|h| h.acknowledged_at.is_none() && h.escalated_at.is_none())
        .collect())
}

/// Records that a handover was acknowledged or escalated.
pub fn handover_event(tx: &mut Tx<'_>, id: i64, kind: &str, by: i64, at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO handover_events (handover_id, kind, by_user, at) VALUES ($1, $2, $3, $4)",
        &[id.into(), kind.into(), by.into(), at.into()],
    )?;
    Ok(())
}
