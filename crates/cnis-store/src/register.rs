//! The register service's tables, on SQLite or PostgreSQL ([`crate::db`]):
//! councils, accounts, sessions and API tokens, register entries with
//! their history, emergency access, agreed identities, and the audit
//! ([`crate::audit`]).
//!
//! No entry is changed in place without history: every insert and update
//! writes a history row in the same transaction, holding who, when, why,
//! and the whole entry before and after. Optional content (special
//! educational needs, child protection) lives in its own table with its
//! own history rows (`part = 'restricted'`), so that a query for an entry
//! never carries it by accident. Updates are optimistic: they name the
//! version they were made from, and one made from an older version is
//! refused ([`Error::Conflict`]) rather than silently overwriting a
//! colleague's change.

use chrono::NaiveDate;
use cnis_core::register::{EntryContent, EntrySource, EntryStatus, LeaveReason, RestrictedContent, Role};
use cnis_core::{ChildId, LaCode};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::db::{Db, Row, Tx, Value};

type Result<T> = std::result::Result<T, Error>;

/// The register schema's migrations, in order; `{id}` is filled in per
/// backend ([`crate::db::Backend::ddl`]).
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE councils (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL
);
CREATE TABLE users (
    id            {id},
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    council       TEXT REFERENCES councils(code),
    school        TEXT,
    password_hash TEXT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id),
    csrf          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_tokens (
    token_hash    TEXT PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id),
    label         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE TABLE register_entries (
    id            {id},
    council       TEXT NOT NULL REFERENCES councils(code),
    child_id      TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    source        TEXT NOT NULL,
    given_key     TEXT,
    family_key    TEXT,
    dob           TEXT,
    postcode      TEXT,
    upn           TEXT,
    nhs_number    TEXT,
    content       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    BIGINT NOT NULL,
    left_on       TEXT,
    left_reason   TEXT,
    retain_until  TEXT
);
CREATE UNIQUE INDEX entries_one_live ON register_entries(council, child_id) WHERE status <> 'left';
CREATE INDEX entries_status ON register_entries(council, status, id);
CREATE INDEX entries_family ON register_entries(council, family_key);
CREATE INDEX entries_given ON register_entries(council, given_key);
CREATE INDEX entries_dob ON register_entries(council, dob);
CREATE INDEX entries_postcode ON register_entries(council, postcode);
CREATE INDEX entries_upn ON register_entries(upn);
CREATE INDEX entries_nhs ON register_entries(nhs_number);
CREATE INDEX entries_child ON register_entries(child_id);
CREATE INDEX entries_dob_all ON register_entries(dob);
CREATE INDEX entries_retain ON register_entries(retain_until);
CREATE TABLE register_restricted (
    entry_id      BIGINT PRIMARY KEY REFERENCES register_entries(id),
    content       TEXT NOT NULL
);
CREATE TABLE register_history (
    id            {id},
    entry_id      BIGINT NOT NULL,
    council       TEXT NOT NULL,
    child_id      TEXT NOT NULL,
    version       BIGINT NOT NULL,
    part          TEXT NOT NULL,
    action        TEXT NOT NULL,
    changed_at    BIGINT NOT NULL,
    changed_by    BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    before_value  TEXT,
    after_value   TEXT
);
CREATE INDEX history_entry ON register_history(entry_id, id);
CREATE TABLE emergency_access (
    id            {id},
    user_id       BIGINT NOT NULL REFERENCES users(id),
    child_id      TEXT NOT NULL,
    owner_council TEXT NOT NULL,
    reason        TEXT NOT NULL,
    granted_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX emergency_user ON emergency_access(user_id, child_id);
CREATE INDEX emergency_owner ON emergency_access(owner_council, granted_at);
CREATE TABLE identity_agreements (
    system_user   BIGINT NOT NULL REFERENCES users(id),
    reference     TEXT NOT NULL,
    child_id      TEXT NOT NULL,
    agreed_at     BIGINT NOT NULL,
    PRIMARY KEY (system_user, reference)
);
CREATE TABLE audit_head (
    id            BIGINT PRIMARY KEY,
    seq           BIGINT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE TABLE audit_chain (
    seq           BIGINT PRIMARY KEY,
    at            BIGINT NOT NULL,
    actor         BIGINT,
    actor_role    TEXT NOT NULL,
    council       TEXT,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    children      BIGINT NOT NULL,
    content_hash  TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit_chain(actor, seq);
CREATE TABLE audit_content (
    seq           BIGINT PRIMARY KEY,
    content       TEXT NOT NULL
);
CREATE TABLE audit_subjects (
    child_id      TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    PRIMARY KEY (child_id, seq)
);
",
    r"
CREATE TABLE audit_redactions (
    seq           BIGINT PRIMARY KEY,
    redacted_at   BIGINT NOT NULL
);
",
    crate::cases::TABLES,
    crate::cases::CONSENT_TABLES,
    crate::cases::HANDOVER_TABLES,
    crate::identity::TABLES,
    crate::ap::TABLES,
    crate::cases::TASK_TABLES,
    crate::postcodes::TABLES,
    r"
CREATE TABLE user_councils (
    user_id       BIGINT NOT NULL REFERENCES users(id),
    council       TEXT NOT NULL REFERENCES councils(code),
    added_by      BIGINT,
    added_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, council)
);
ALTER TABLE sessions ADD COLUMN council TEXT;
ALTER TABLE emergency_access ADD COLUMN council TEXT;
",
];

/// Brings the register's tables up to date (both backends). Safe to call
/// from several processes at once: each migration is one transaction that
/// first takes the version table's row.
pub fn migrate(db: &Db) -> Result<()> {
    db.write(|tx| {
        tx.batch("CREATE TABLE IF NOT EXISTS register_schema (id BIGINT PRIMARY KEY, version BIGINT NOT NULL)")?;
        tx.execute("INSERT INTO register_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING", &[])?;
        Ok(())
    })?;
    let backend = db.backend().clone();
    loop {
        let done = db.write(|tx| {
            // Taking the row (an update) orders concurrent migrators.
            tx.execute("UPDATE register_schema SET version = version WHERE id = 1", &[])?;
            let version = tx.query_one("SELECT version FROM register_schema WHERE id = 1", &[])?.int(0)?;
            let version =
                usize::try_from(version).map_err(|_| Error::Corrupt { table: "register_schema", what: "version" })?;
            if version > MIGRATIONS.len() {
                return Err(Error::TooNew { found: version, known: MIGRATIONS.len() });
            }
            let Some(sql) = MIGRATIONS.get(version) else { return Ok(true) };
            tx.batch(&backend.ddl(sql))?;
            tx.execute("UPDATE register_schema SET version = $1 WHERE id = 1", &[Value::Int(version as i64 + 1)])?;
            tracing::info!(version = version + 1, "migrated the register's tables");
            Ok(false)
        })?;
        if done {
            break;
        }
    }
    db.write(|tx| {
        tx.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
            &[Value::Text(crate::audit::GENESIS.to_string())],
        )?;
        let rows: Vec<(String, String)> = LaCode::live().map(|la| (la.to_string(), la.info().name.clone())).collect();
        for (code, name) in rows {
            tx.execute(
                "INSERT INTO councils (code, name) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING",
                &[Value::Text(code), Value::Text(name)],
            )?;
        }
        Ok(())
    })
}

/// Milliseconds since 1970, the register's clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn date_value(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| Value::Text(d.to_string()))
}

fn parse_opt_date(s: Option<String>, table: &'static str) -> Result<Option<NaiveDate>> {
    s.map(|d| crate::parse_date(&d, table)).transpose()
}

// ---- accounts ----------------------------------------------------------

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Sign-in e-mail address.
    pub email: String,
    /// Name shown.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The council the account belongs to (none for national roles).
    pub council: Option<LaCode>,
    /// The school, for a school user (LAESTAB).
    pub school: Option<String>,
    /// The argon2id hash (PHC string); none for a system account.
    pub password_hash: Option<String>,
    /// Failed sign-ins since the last success.
    pub failed_logins: i64,
    /// Locked until this time (ms), after too many failures.
    pub locked_until: Option<i64>,
    /// Switched off.
    pub disabled: bool,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// E-mail.
    pub email: &'a str,
    /// Name.
    pub name: &'a str,
    /// Role.
    pub role: Role,
    /// Council.
    pub council: Option<LaCode>,
    /// School (LAESTAB).
    pub school: Option<&'a str>,
    /// Password hash.
    pub password_hash: Option<String>,
}

const USER_COLUMNS: &str =
    "id, email, name, role, council, school, password_hash, failed_logins, locked_until, disabled";

fn user_row(r: &Row) -> Result<User> {
    let bad = |what| Error::Corrupt { table: "users", what };
    Ok(User {
        id: r.int(0)?,
        email: r.text(1)?,
        name: r.text(2)?,
        role: Role::parse(&r.text(3)?).ok_or(bad("role"))?,
        council: r.opt_text(4)?.map(|c| LaCode::parse(&c).map_err(|_| bad("council"))).transpose()?,
        school: r.opt_text(5)?,
        password_hash: r.opt_text(6)?,
        failed_logins: r.int(7)?,
        locked_until: r.opt_int(8)?,
        disabled: r.int(9)? != 0,
    })
}

/// Adds an account; [`Error::Duplicate`] if the e-mail is taken.
pub fn insert_user(tx: &mut Tx<'_>, u: &NewUser<'_>) -> Result<i64> {
    if tx.query_opt("SELECT id FROM users WHERE email = $1", &[u.email.into()])?.is_some() {
        return Err(Error::Duplicate("an account with that e-mail address"));
    }
    let row = tx.query_one(
        "INSERT INTO users (email, name, role, council, school, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            u.email.into(),
            u.name.into(),
            u.role.code().into(),
            u.council.map(|c| c.to_string()).into(),
            u.school.into(),
            u.password_hash.clone().into(),
            now_ms().into(),
        ],
    )?;
    row.int(0)
}

/// The account with this e-mail.
pub fn user_by_email(tx: &mut Tx<'_>, email: &str) -> Result<Option<User>> {
    tx.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"), &[email.into()])?
        .map(|r| user_row(&r))
        .transpose()
}

/// The account with this id.
pub fn user_by_id(tx: &mut Tx<'_>, id: i64) -> Result<Option<User>> {
    tx.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[id.into()])?
        .map(|r| user_row(&r))
        .transpose()
}

/// Every account of a council, its own and those of other councils it
/// has let act for it (or, with `None`, every account).
pub fn users(tx: &mut Tx<'_>, council: Option<LaCode>) -> Result<Vec<User>> {
    let rows = match council {
        Some(c) => tx.query(
            &format!(
                "SELECT {USER_COLUMNS} FROM users WHERE council = $1 \
                 OR id IN (SELECT user_id FROM user_councils WHERE council = $1) ORDER BY id"
            ),
            &[c.to_string().into()],
        )?,
        None => tx.query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"), &[])?,
    };
    rows.iter().map(user_row).collect()
}

/// Records a sign-in's outcome: failures counted and, from `lock_after`,
/// the account locked until `lock_until`; a success clears the count.
pub fn record_sign_in(tx: &mut Tx<'_>, id: i64, ok: bool, lock_after: i64, lock_until: i64) -> Result<()> {
    if ok {
        tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1", &[id.into()])?;
    } else {
        tx.execute(
            "UPDATE users SET failed_logins = failed_logins + 1,
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
             WHERE id = $1",
            &[id.into(), lock_after.into(), lock_until.into()],
        )?;
    }
    Ok(())
}

/// Sets or clears an account's password hash and switch.
pub fn update_user(tx: &mut Tx<'_>, id: i64, password_hash: Option<&str>, disabled: Option<bool>) -> Result<()> {
    if let Some(h) = password_hash {
        tx.execute("UPDATE users SET password_hash = $2 WHERE id = $1", &[id.into(), h.into()])?;
    }
    if let Some(d) = disabled {
        tx.execute("UPDATE users SET disabled = $2 WHERE id = $1", &[id.into(), d.into()])?;
        if d {
            tx.execute("DELETE FROM sessions WHERE user_id = $1", &[id.into()])?;
        }
    }
    Ok(())
}

/// Clears an account's lock and failed sign-ins.
pub fn unlock_user(tx: &mut Tx<'_>, id: i64) -> Result<()> {
    tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1", &[id.into()])?;
    Ok(())
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whose.
    pub user_id: i64,
    /// The form token that must accompany every change.
    pub csrf: String,
    /// When it ends (ms).
    pub expires_at: i64,
    /// The council the session acts for, when its account may act for more
    /// than one (a shared service); its own council when `None`.
    pub council: Option<String>,
}

/// Stores a session by the hash of its token.
pub fn insert_session(tx: &mut Tx<'_>, token_hash: &str, s: &Session) -> Result<()> {
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at, council) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            token_hash.into(),
            s.user_id.into(),
            s.csrf.as_str().into(),
            now_ms().into(),
            s.expires_at.into(),
            s.council.as_deref().map_or(Value::Null, |c| c.into()),
        ],
    )?;
    Ok(())
}

/// The live session with this token hash.
pub fn session(tx: &mut Tx<'_>, token_hash: &str, now: i64) -> Result<Option<Session>> {
    let r = tx.query_opt(
        "SELECT user_id, csrf, expires_at, council FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        &[token_hash.into(), now.into()],
    )?;
    r.map(|r| Ok(Session { user_id: r.int(0)?, csrf: r.text(1)?, expires_at: r.int(2)?, council: r.opt_text(3)? }))
        .transpose()
}

/// Sets the council a session acts for.
pub fn set_session_council(tx: &mut Tx<'_>, token_hash: &str, council: &str) -> Result<()> {
    tx.execute("UPDATE sessions SET council = $2 WHERE token_hash = $1", &[token_hash.into(), council.into()])?;
    Ok(())
}

/// The councils an account may act for besides its own, in code order.
pub fn other_councils(tx: &mut Tx<'_>, user_id: i64) -> Result<Vec<LaCode>> {
    tx.query("SELECT council FROM user_councils WHERE user_id = $1 ORDER BY council", &[user_id.into()])?
        .iter()
        .map(|r| LaCode::parse(&r.text(0)?).map_err(|_| Error::Corrupt { table: "user_councils", what: "council" }))
        .collect()
}

/// Whether an account may act for a council: its own, or one it was let
/// act for.
pub fn user_acts_for(tx: &mut Tx<'_>, user: &User, council: LaCode) -> Result<bool> {
    if user.council == Some(council) {
        return Ok(true);
    }
    Ok(tx
        .query_opt(
            "SELECT 1 FROM user_councils WHERE user_id = $1 AND council = $2",
            &[user.id.into(), council.to_string().into()],
        )?
        .is_some())
}

/// Takes away an account's access to another council: the grant goes, and
/// its sessions acting for that council go back to its own.
pub fn remove_user_council(tx: &mut Tx<'_>, user_id: i64, council: LaCode) -> Result<()> {
    let n = tx.execute(
        "DELETE FROM user_councils WHERE user_id = $1 AND council = $2",
        &[user_id.into(), council.to_string().into()],
    )?;
    if n == 0 {
        return Err(Error::NotFound("that council on the account"));
    }
    tx.execute(
        "UPDATE sessions SET council = NULL WHERE user_id = $1 AND council = $2",
        &[user_id.into(), council.to_string().into()],
    )?;
    Ok(())
}

/// Lets an account act for another council too.
pub fn add_user_council(tx: &mut Tx<'_>, user_id: i64, council: LaCode, by: Option<i64>, at: i64) -> Result<()> {
    let n = tx.execute(
        "INSERT INTO user_councils (user_id, council, added_by, added_at) VALUES ($1, $2, $3, $4)          ON CONFLICT (user_id, council) DO NOTHING",
        &[user_id.into(), council.to_string().into(), by.map_or(Value::Null, Value::Int), at.into()],
    )?;
    if n == 0 {
        return Err(Error::Duplicate("that council on the account"));
    }
    Ok(())
}

/// Ends a session.
pub fn delete_session(tx: &mut Tx<'_>, token_hash: &str) -> Result<()> {
    tx.execute("DELETE FROM sessions WHERE token_hash = $1", &[token_hash.into()])?;
    Ok(())
}

/// Stores an API token by its keyed hash.
pub fn insert_token(tx: &mut Tx<'_>, token_hash: &str, user_id: i64, label: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO api_tokens (token_hash, user_id, label, created_at) VALUES ($1, $2, $3, $4)",
        &[token_hash.into(), user_id.into(), label.into(), now_ms().into()],
    )?;
    Ok(())
}

/// The account an unrevoked API token belongs to.
pub fn token_user(tx: &mut Tx<'_>, token_hash: &str) -> Result<Option<i64>> {
    tx.query_opt("SELECT user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", &[token_hash.into()])?
        .map(|r| r.int(0))
        .transpose()
}

// ---- entries -------------------------------------------------------------

/// A register entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    /// Id.
    pub id: i64,
    /// The council whose register it is on.
    pub council: String,
    /// cnis's child id.
    pub child_id: String,
    /// Status.
    pub status: EntryStatus,
    /// Version, from 1, one more at each change.
    pub version: i64,
    /// How the council learnt of the child.
    pub source: EntrySource,
    /// Content.
    pub content: EntryContent,
    /// Created (ms).
    pub created_at: i64,
    /// By.
    pub created_by: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// By.
    pub updated_by: i64,
    /// The day the child left the register.
    pub left_on: Option<NaiveDate>,
    /// Why.
    pub left_reason: Option<LeaveReason>,
    /// Kept until this day, then deleted.
    pub retain_until: Option<NaiveDate>,
}

const ENTRY_COLUMNS: &str = "id, council, child_id, status, version, source, content, created_at, created_by, \
     updated_at, updated_by, left_on, left_reason, retain_until";

fn entry_row(r: &Row) -> Result<Entry> {
    let bad = |what| Error::Corrupt { table: "register_entries", what };
    Ok(Entry {
        id: r.int(0)?,
        council: r.text(1)?,
        child_id: r.text(2)?,
        status: EntryStatus::parse(&r.text(3)?).ok_or(bad("status"))?,
        version: r.int(4)?,
        source: EntrySource::parse(&r.text(5)?).ok_or(bad("source"))?,
        content: serde_json::from_str(&r.text(6)?).map_err(|_| bad("content"))?,
        created_at: r.int(7)?,
        created_by: r.int(8)?,
        updated_at: r.int(9)?,
        updated_by: r.int(10)?,
        left_on: parse_opt_date(r.opt_text(11)?, "register_entries")?,
        left_reason: r.opt_text(12)?.map(|s| LeaveReason::parse(&s).ok_or(bad("leave reason"))).transpose()?,
        retain_until: parse_opt_date(r.opt_text(13)?, "register_entries")?,
    })
}

/// The columns kept beside the content for finding an entry.
fn keys(c: &EntryContent) -> [Value; 6] {
    let k = |s: &str| cnis_core::names::soundex(s).map_or(Value::Null, Value::Text);
    let opt = |s: &Option<String>| s.as_ref().filter(|s| !s.is_empty()).map_or(Value::Null, |s| Value::Text(s.clone()));
    [
        k(&c.given_name),
        k(&c.family_name),
        if c.dob.is_empty() { Value::Null } else { Value::Text(c.dob.clone()) },
        opt(&c.postcode),
        opt(&c.upn),
        opt(&c.nhs_number),
    ]
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|_| Error::Corrupt { table: "register_entries", what: "content to store" })
}

/// A change's who and why.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// Who (account id).
    pub by: i64,
    /// Why, in the user's words or the rule's.
    pub reason: &'a str,
    /// When (ms).
    pub at: i64,
}

#[allow(clippy::too_many_arguments)]
fn history(
    tx: &mut Tx<'_>,
    entry: &Entry,
    part: &str,
    action: &str,
    change: Change<'_>,
    before: Option<String>,
    after: Option<String>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO register_history (entry_id, council, child_id, version, part, action, changed_at, changed_by,
             reason, before_value, after_value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            entry.id.into(),
            entry.council.as_str().into(),
            entry.child_id.as_str().into(),
            entry.version.into(),
            part.into(),
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

/// Adds an entry at version 1 (with its history row). [`Error::Duplicate`]
/// when the child already has a live entry on this council's register.
pub fn insert_entry(
    tx: &mut Tx<'_>,
    council: LaCode,
    child_id: ChildId,
    status: EntryStatus,
    source: EntrySource,
    content: &EntryContent,
    change: Change<'_>,
) -> Result<Entry> {
    let council_code = council.to_string();
    let child = child_id.to_string();
    if tx
        .query_opt(
            "SELECT id FROM register_entries WHERE council = $1 AND child_id = $2 AND status <> 'left'",
            &[council_code.as_str().into(), child.as_str().into()],
        )?
        .is_some()
    {
        return Err(Error::Duplicate("a live register entry for this child in this council"));
    }
    let [gk, fk, dob, pc, upn, nhs] = keys(content);
    let body = json(content)?;
    let row = tx.query_one(
        &format!(
            "INSERT INTO register_entries (council, child_id, status, version, source, given_key, family_key, dob,
                 postcode, upn, nhs_number, content, created_at, created_by, updated_at, updated_by)
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12, $13)
             RETURNING {ENTRY_COLUMNS}"
        ),
        &[
            council_code.into(),
            child.into(),
            status.code().into(),
            source.code().into(),
            gk,
            fk,
            dob,
            pc,
            upn,
            nhs,
            body.into(),
            change.at.into(),
            change.by.into(),
        ],
    )?;
    let entry = entry_row(&row)?;
    history(tx, &entry, "entry", "created", change, None, Some(json(&entry)?))?;
    Ok(entry)
}

/// The entry with this id, if it is on one of `councils`' registers
/// (`None` for the councils: any council, for callers that have already
/// decided access).
pub fn entry(tx: &mut Tx<'_>, id: i64) -> Result<Option<Entry>> {
    tx.query_opt(&format!("SELECT {ENTRY_COLUMNS} FROM register_entries WHERE id = $1"), &[id.into()])?
        .map(|r| entry_row(&r))
        .transpose()
}

/// Every entry (live or left) for a child, newest first.
pub fn entries_for_child(tx: &mut Tx<'_>, child_id: &str) -> Result<Vec<Entry>> {
    tx.query(
        &format!("SELECT {ENTRY_COLUMNS} FROM register_entries WHERE child_id = $1 ORDER BY id DESC"),
        &[child_id.into()],
    )?
    .iter()
    .map(entry_row)
    .collect()
}

/// An entry's new state.
#[derive(Debug, Clone)]
pub struct EntryUpdate {
    /// Status.
    pub status: EntryStatus,
    /// Content.
    pub content: EntryContent,
    /// Left on.
    pub left_on: Option<NaiveDate>,
    /// Why.
    pub left_reason: Option<LeaveReason>,
    /// Retain until.
    pub retain_until: Option<NaiveDate>,
}

/// Replaces an entry's state, if it is still at `expected_version`
/// ([`Error::Conflict`] otherwise), writing the before and after to its
/// history.
pub fn update_entry(
    tx: &mut Tx<'_>,
    id: i64,
    expected_version: i64,
    update: &EntryUpdate,
    action: &str,
    change: Change<'_>,
) -> Result<Entry> {
    let before = entry(tx, id)?.ok_or(Error::NotFound("register entry"))?;
    if before.version != expected_version {
        return Err(Error::Conflict { expected: expected_version, found: before.version });
    }
    let [gk, fk, dob, pc, upn, nhs] = keys(&update.content);
    let n = tx.execute(
        "UPDATE register_entries SET status = $2, version = version + 1, given_key = $3, family_key = $4,
             dob = $5, postcode = $6, upn = $7, nhs_number = $8, content = $9, updated_at = $10, updated_by = $11,
             left_on = $12, left_reason = $13, retain_until = $14
         WHERE id = $1 AND version = $15",
        &[
            id.into(),
            update.status.code().into(),
            gk,
            fk,
            dob,
            pc,
            upn,
            nhs,
            json(&update.content)?.into(),
            change.at.into(),
            change.by.into(),
            date_value(update.left_on),
            update.left_reason.map(|r| r.code()).into(),
            date_value(update.retain_until),
            expected_version.into(),
        ],
    )?;
    if n != 1 {
        return Err(Error::Conflict { expected: expected_version, found: expected_version + 1 });
    }
    let after = entry(tx, id)?.ok_or(Error::NotFound("register entry"))?;
    history(tx, &after, "entry", action, change, Some(json(&before)?), Some(json(&after)?))?;
    Ok(after)
}

/// An entry's optional content.
pub fn restricted(tx: &mut Tx<'_>, entry_id: i64) -> Result<RestrictedContent> {
    match tx.query_opt("SELECT content FROM register_restricted WHERE entry_id = $1", &[entry_id.into()])? {
        Some(r) => serde_json::from_str(&r.text(0)?)
            .map_err(|_| Error::Corrupt { table: "register_restricted", what: "content" }),
        None => Ok(RestrictedContent::default()),
    }
}

/// Replaces an entry's optional content, with history.
pub fn set_restricted(tx: &mut Tx<'_>, entry: &Entry, content: &RestrictedContent, change: Change<'_>) -> Result<()> {
    let before = restricted(tx, entry.id)?;
    if before == *content {
        return Ok(());
    }
    let body = json(content)?;
    tx.execute(
        "INSERT INTO register_restricted (entry_id, content) VALUES ($1, $2)
         ON CONFLICT (entry_id) DO UPDATE SET content = excluded.content",
        &[entry.id.into(), body.as_str().into()],
    )?;
    history(tx, entry, "restricted", "restricted content changed", change, Some(json(&before)?), Some(body))
}

/// One row of an entry's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryRow {
    /// The entry's version after the change.
    pub version: i64,
    /// `entry` or `restricted`.
    pub part: String,
    /// What happened.
    pub action: String,
    /// When (ms).
    pub changed_at: i64,
    /// Who (account id).
    pub changed_by: i64,
    /// Who, by name.
    pub changed_by_name: Option<String>,
    /// Why.
    pub reason: String,
    /// The whole part before (JSON).
    pub before: Option<String>,
    /// And after.
    pub after: Option<String>,
}

/// An entry's history, oldest first; optional content's rows only when
/// `with_restricted`.
pub fn entry_history(tx: &mut Tx<'_>, entry_id: i64, with_restricted: bool) -> Result<Vec<HistoryRow>> {
    let rows = tx.query(
        "SELECT h.version, h.part, h.action, h.changed_at, h.changed_by, u.name, h.reason, h.before_value,
                h.after_value
         FROM register_history h LEFT JOIN users u ON u.id = h.changed_by
         WHERE h.entry_id = $1 AND (h.part = 'entry' OR $2 = 1) ORDER BY h.id",
        &[entry_id.into(), i64::from(with_restricted).into()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(HistoryRow {
                version: r.int(0)?,
                part: r.text(1)?,
                action: r.text(2)?,
                changed_at: r.int(3)?,
                changed_by: r.int(4)?,
                changed_by_name: r.opt_text(5)?,
                reason: r.text(6)?,
                before: r.opt_text(7)?,
                after: r.opt_text(8)?,
            })
        })
        .collect()
}

/// Entries of one council, by status (all if `None`), `limit` from
/// `offset`, oldest first, with the total.
pub fn list_entries(
    tx: &mut Tx<'_>,
    council: LaCode,
    status: Option<EntryStatus>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Entry>, i64)> {
    let code = council.to_string();
    let status = status.map(|s| s.code().to_string());
    let total = tx
        .query_one(
            "SELECT COUNT(*) FROM register_entries WHERE council = $1 AND (CAST($2 AS TEXT) IS NULL OR status = $2)",
            &[code.as_str().into(), status.clone().into()],
        )?
        .int(0)?;
    let rows = tx.query(
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM register_entries WHERE council = $1 AND (CAST($2 AS TEXT) IS NULL OR status = $2)
             ORDER BY id LIMIT $3 OFFSET $4"
        ),
        &[code.into(), status.into(), limit.into(), offset.into()],
    )?;
    Ok((rows.iter().map(entry_row).collect::<Result<_>>()?, total))
}

/// Entries of one council by status.
pub fn status_counts(tx: &mut Tx<'_>, council: LaCode) -> Result<Vec<(EntryStatus, i64)>> {
    let rows = tx.query(
        "SELECT status, COUNT(*) FROM register_entries WHERE council = $1 GROUP BY status ORDER BY status",
        &[council.to_string().into()],
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                EntryStatus::parse(&r.text(0)?).ok_or(Error::Corrupt { table: "register_entries", what: "status" })?,
                r.int(1)?,
            ))
        })
        .collect()
}

/// Live entries across every council by council and status: counts only,
/// for national analysis.
pub fn national_counts(tx: &mut Tx<'_>) -> Result<Vec<(String, EntryStatus, i64)>> {
    let rows = tx.query(
        "SELECT council, status, COUNT(*) FROM register_entries GROUP BY council, status ORDER BY council, status",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.text(0)?,
                EntryStatus::parse(&r.text(1)?).ok_or(Error::Corrupt { table: "register_entries", what: "status" })?,
                r.int(2)?,
            ))
        })
        .collect()
}

/// What a search looks for; the candidates are entries agreeing on any
/// one of the keys given (the ranking is the caller's).
#[derive(Debug, Clone, Default)]
pub struct SearchKeys {
    /// Soundex of the given name.
    pub given_key: Option<String>,
    /// Soundex of the family name.
    pub family_key: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Postcode, normal form.
    pub postcode: Option<String>,
    /// UPN.
    pub upn: Option<String>,
    /// NHS number.
    pub nhs_number: Option<String>,
    /// Child id.
    pub child_id: Option<String>,
}

/// Entries that agree with `keys` on at least one key, in `council`, at
/// most `limit`. Each key is its own `council = .. AND key = ..` term, so
/// every term is answered from an index (an `OR` over bare keys would scan
/// the table).
///
/// With no council (identity lookup across England) the names count only
/// together (the Soundex of both), and the postcode not at all: a name's
/// sound alone would match thousands of children nationally.
pub fn search_candidates(
    tx: &mut Tx<'_>,
    council: Option<LaCode>,
    keys: &SearchKeys,
    limit: i64,
) -> Result<Vec<Entry>> {
    let mut clauses = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let scope = |params: &mut Vec<Value>| -> String {
        match council {
            Some(c) => {
                params.push(Value::Text(c.to_string()));
                format!("council = ${} AND ", params.len())
            }
            None => String::new(),
        }
    };
    let mut add = |cols: &[&str], vals: Vec<String>, params: &mut Vec<Value>| {
        let mut term = scope(params);
        let parts: Vec<String> = cols
            .iter()
            .zip(vals)
            .map(|(col, v)| {
                params.push(Value::Text(v));
                format!("{col} = ${}", params.len())
            })
            .collect();
        term.push_str(&parts.join(" AND "));
        clauses.push(format!("({term})"));
    };
    match (council, &keys.given_key, &keys.family_key) {
        (None, Some(g), Some(f)) => add(&["family_key", "given_key"], vec![f.clone(), g.clone()], &mut params),
        (None, _, _) => {}
        (Some(_), g, f) => {
            if let Some(g) = g {
                add(&["given_key"], vec![g.clone()], &mut params);
            }
            if let Some(f) = f {
                add(&["family_key"], vec![f.clone()], &mut params);
            }
        }
    }
    if let Some(d) = keys.dob {
        add(&["dob"], vec![d.to_string()], &mut params);
    }
    if council.is_some()
        && let Some(p) = &keys.postcode
    {
        add(&["postcode"], vec![p.clone()], &mut params);
    }
    for (col, v) in [("upn", &keys.upn), ("nhs_number", &keys.nhs_number), ("child_id", &keys.child_id)] {
        if let Some(v) = v {
            add(&[col], vec![v.clone()], &mut params);
        }
    }
    if clauses.is_empty() {
        return Ok(Vec::new());
    }
    // The limit is written in, not bound (see `audit::accesses`).
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM register_entries WHERE {} ORDER BY id LIMIT {}",
        clauses.join(" OR "),
        limit.clamp(0, 100_000)
    );
    tx.query(&sql, &params)?.iter().map(entry_row).collect()
}

/// Entries past their retention date on `today`.
pub fn expired_entries(tx: &mut Tx<'_>, today: NaiveDate) -> Result<Vec<Entry>> {
    tx.query(
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM register_entries WHERE retain_until IS NOT NULL AND retain_until < $1 ORDER BY id"
        ),
        &[today.to_string().into()],
    )?
    .iter()
    .map(entry_row)
    .collect()
}

/// Deletes an entry, its optional content and its history (retention).
pub fn delete_entry(tx: &mut Tx<'_>, id: i64) -> Result<()> {
    tx.execute("DELETE FROM register_restricted WHERE entry_id = $1", &[id.into()])?;
    tx.execute("DELETE FROM register_history WHERE entry_id = $1", &[id.into()])?;
    tx.execute("DELETE FROM register_entries WHERE id = $1", &[id.into()])?;
    Ok(())
}

/// Live entries (draft or registered) whose date of birth is on or before
/// `born_by`: the candidates for passing compulsory school age.
pub fn live_entries_born_by(tx: &mut Tx<'_>, born_by: NaiveDate) -> Result<Vec<Entry>> {
    tx.query(
        &format!("SELECT {ENTRY_COLUMNS} FROM register_entries WHERE status IN ('draft', 'registered') AND dob <= $1 ORDER BY id"),
        &[born_by.to_string().into()],
    )?
    .iter()
    .map(entry_row)
    .collect()
}

// ---- emergency access and identities -------------------------------------

/// Grants a user, acting for `council`, time-limited access to another
/// council's child.
pub fn grant_emergency(
    tx: &mut Tx<'_>,
    user_id: i64,
    council: &str,
    child_id: &str,
    owner: &str,
    reason: &str,
    expires_at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO emergency_access (user_id, child_id, owner_council, reason, granted_at, expires_at, council)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            user_id.into(),
            child_id.into(),
            owner.into(),
            reason.into(),
            now_ms().into(),
            expires_at.into(),
            council.into(),
        ],
    )?;
    Ok(())
}

/// Whether a user, acting for `council`, holds live emergency access to a
/// child (a grant is the council's it was asked for, not the person's
/// wherever they act; grants made before that was recorded hold for the
/// person).
pub fn has_emergency(tx: &mut Tx<'_>, user_id: i64, council: &str, child_id: &str, now: i64) -> Result<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM emergency_access WHERE user_id = $1 AND child_id = $2 AND expires_at > $3
               AND (council IS NULL OR council = $4)",
            &[user_id.into(), child_id.into(), now.into(), council.into()],
        )?
        .is_some())
}

/// Emergency access to a council's children, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmergencyGrant {
    /// Who.
    pub user_name: String,
    /// The council they asked for it for.
    pub user_council: Option<String>,
    /// Which child.
    pub child_id: String,
    /// Why.
    pub reason: String,
    /// When (ms).
    pub granted_at: i64,
    /// Until (ms).
    pub expires_at: i64,
}

/// Emergency access granted to other councils' users for `owner`'s children.
pub fn emergency_grants(tx: &mut Tx<'_>, owner: &str, limit: i64) -> Result<Vec<EmergencyGrant>> {
    let rows = tx.query(
        "SELECT u.name, COALESCE(e.council, u.council), e.child_id, e.reason, e.granted_at, e.expires_at
         FROM emergency_access e JOIN users u ON u.id = e.user_id
         WHERE e.owner_council = $1 ORDER BY e.granted_at DESC LIMIT $2",
        &[owner.into(), limit.into()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(EmergencyGrant {
                user_name: r.text(0)?,
                user_council: r.opt_text(1)?,
                child_id: r.text(2)?,
                reason: r.text(3)?,
                granted_at: r.int(4)?,
                expires_at: r.int(5)?,
            })
        })
        .collect()
}

/// Records that a partner system's reference is this child.
pub fn agree_identity(tx: &mut Tx<'_>, system_user: i64, reference: &str, child_id: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO identity_agreements (system_user, reference, child_id, agreed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (system_user, reference) DO UPDATE SET child_id = excluded.child_id, agreed_at = excluded.agreed_at",
        &[system_user.into(), reference.into(), child_id.into(), now_ms().into()],
    )?;
    Ok(())
}

/// The child a partner system's reference was agreed to be.
pub fn agreed_identity(tx: &mut Tx<'_>, system_user: i64, reference: &str) -> Result<Option<String>> {
    tx.query_opt(
        "SELECT child_id FROM identity_agreements WHERE system_user = $1 AND reference = $2",
        &[system_user.into(), reference.into()],
    )?
    .map(|r| r.text(0))
    .transpose()
}
