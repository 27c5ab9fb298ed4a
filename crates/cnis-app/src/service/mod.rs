//! The register service's use cases: one function per thing a person or
//! a system does, each taking the acting user ([`Actor`]) and typed input.
//! The CLI and the HTTP server both call these, so every rule (who may do
//! what, which council's children a user sees, what is audited, what an
//! entry must hold) is written here once.
//!
//! Access is decided in two steps, both here and never in a handler: the
//! role's permissions ([`allows`], one table), then the council scope: a
//! council user sees only entries on their own council's register, or a
//! child they hold live emergency access to. Every read of a child, every
//! search, every change and every lookup is audited ([`audit`]); a read's
//! answer is returned only after its audit row is committed.

pub mod accounts;
pub mod ap;
pub mod audit;
pub mod cases;
pub mod entries;
pub mod identity;
pub mod postcodes;
pub mod search;

use std::path::PathBuf;
use std::sync::Arc;

use cnis_core::LaCode;
use cnis_core::register::Role;
use cnis_store::db::Db;
use serde::Serialize;

pub use accounts::{NewAccount, SignedIn};
pub use cnis_store::audit::ChainRow;
pub use cnis_store::db::Backend;
pub use cnis_store::register::{Entry, HistoryRow, User, now_ms};
pub use entries::{ChildView, Condition, Dashboard, EntryView, Page};
pub use search::{LookupCandidate, LookupRequest, SearchHit, SearchRequest};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Account id.
    pub user_id: i64,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Council, for council roles.
    pub council: Option<LaCode>,
    /// School (LAESTAB), for a school user.
    pub school: Option<String>,
    /// Every council the account may act for, its own first: more than one
    /// only for a shared service, whose people switch between them (the
    /// session then acts for `council`).
    pub councils: Vec<LaCode>,
}

/// What a role may do. One table; see [`allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read a child's register entry and history.
    ReadChild,
    /// Create and change register entries.
    EditRegister,
    /// Read and change optional content (SEN, child protection).
    ReadRestricted,
    /// Search the council's register.
    Search,
    /// Make drafts from a tracking run's leavers.
    Import,
    /// Take time-limited access to another council's child, with a reason.
    EmergencyAccess,
    /// See the council's counts (the dashboard).
    CouncilCounts,
    /// Manage the council's accounts.
    ManageAccounts,
    /// Submit the school's own deletion notices, and see what became of them.
    SubmitNotices,
    /// Work the council's missing-education and home-education cases, and
    /// see the notices its schools sent.
    WorkCases,
    /// Load the council's and its schools' term dates; read its outbox.
    ManageCalendar,
    /// Decide whether a relevant child may be withdrawn to home education.
    DecideConsent,
    /// Keep the council's register of unregistered alternative provision:
    /// providers, standards, visits, placements and attendance.
    ManageAp,
    /// Merge two children found to be one, undo a merge, record "not the
    /// same child", and work the reviewer's queue.
    ReviewIdentity,
    /// Look up a child's identifier (partner systems).
    IdentityLookup,
    /// Counts across every council, no names.
    NationalCounts,
    /// Read the audit chain (who did what), not the children.
    ReadAudit,
    /// Read schools' deletions from roll by ground (the deregistration
    /// scrutiny view): the council's own, or any council's for an inspector.
    ReadScrutiny,
}

/// Whether a role has a permission: the whole access table.
pub fn allows(role: Role, p: Permission) -> bool {
    use Permission::*;
    match p {
        ReadChild | EditRegister | Search | Import | EmergencyAccess | CouncilCounts | WorkCases | ReviewIdentity
        | ManageAp => {
            matches!(role, Role::Caseworker | Role::TeamManager)
        }
        ManageCalendar => matches!(role, Role::TeamManager | Role::CouncilAdmin),
        ReadRestricted | DecideConsent => role == Role::TeamManager,
        ManageAccounts => role == Role::CouncilAdmin,
        SubmitNotices => role == Role::School,
        IdentityLookup => role == Role::Partner,
        NationalCounts => role == Role::NationalAnalyst,
        ReadAudit => role == Role::Auditor,
        ReadScrutiny => matches!(role, Role::Caseworker | Role::TeamManager | Role::Inspector),
    }
}

/// One field's problem, for a form or a problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field, as the API names it (`given_name`, `parents[0].name`).
    pub field: String,
    /// What is wrong, in words for the person who typed it. Never echoes
    /// the value.
    pub message: String,
}

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is wrong; nothing changed.
    #[error("{} field(s) need correcting", .0.len())]
    Invalid(Vec<FieldError>),
    /// A request that needs a signed-in user had none, or the sign-in failed.
    #[error("sign in first")]
    Unauthenticated,
    /// The e-mail or password is wrong (the same words for both).
    #[error("the e-mail address or password is not right")]
    BadCredentials,
    /// The account is locked after too many failed sign-ins.
    #[error("this account is locked after too many failed sign-ins; try again in {minutes} minutes")]
    Locked {
        /// Minutes until it unlocks.
        minutes: i64,
    },
    /// The role may not do this, or the child is not in the user's scope.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Nothing with that id (in the user's scope).
    #[error("{0}")]
    NotFound(&'static str),
    /// The change was made from an old version, or would duplicate.
    #[error("{0}")]
    Conflict(String),
    /// Too many requests.
    #[error("too many requests; wait {retry_after} seconds")]
    RateLimited {
        /// Seconds until the next is allowed.
        retry_after: u64,
    },
    /// The audit could not be written, so nothing is shown or changed.
    #[error("the audit log cannot be written just now, so the request was not carried out")]
    AuditUnavailable,
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] cnis_store::Error),
    /// A file the service needs could not be read or written.
    #[error("{what} {path}: {source}")]
    File {
        /// Which file.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ServiceError {
    fn from_store(e: cnis_store::Error) -> ServiceError {
        match e {
            cnis_store::Error::Conflict { .. } => ServiceError::Conflict(e.to_string()),
            cnis_store::Error::Duplicate(what) => ServiceError::Conflict(format!("there is already {what}")),
            cnis_store::Error::NotFound(what) => ServiceError::NotFound(what),
            cnis_store::Error::Refused(what) => ServiceError::Conflict(what.to_string()),
            other => ServiceError::Store(other),
        }
    }

    fn invalid(field: &str, message: &str) -> ServiceError {
        ServiceError::Invalid(vec![FieldError { field: field.into(), message: message.into() }])
    }
}

/// Result of a use case.
pub type Result<T> = std::result::Result<T, ServiceError>;

/// Which identifier is the statutory consistent identifier (s.16LC
/// Children Act 2004; the regulations will say; the NHS number is the one
/// the government intends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatutoryIdentifier {
    /// The NHS number.
    NhsNumber,
    /// The UPN.
    Upn,
    /// cnis's own child id.
    ChildId,
}

/// The service's settings. Defaults are the documented starting points
/// (`docs/register.md`); every one is a setting because the regulations
/// are not yet made.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The database.
    pub backend: Backend,
    /// Key for hashing session and API tokens (32 bytes, created on first
    /// start, readable by its owner only).
    pub secret_file: PathBuf,
    /// Where the audit chain's head is written outside the database.
    pub checkpoint_file: PathBuf,
    /// Years an entry is kept after the child leaves the register.
    pub retention_years: u32,
    /// The statutory consistent identifier.
    pub statutory_identifier: StatutoryIdentifier,
    /// Identity lookups return only candidates at or above this match
    /// probability.
    pub lookup_floor: f64,
    /// Identity lookups allowed per partner system per minute.
    pub lookups_per_minute: u32,
    /// The reviewer's queue shows pairs on a council's register at or
    /// above this match probability.
    pub review_floor: f64,
    /// The national standards for unregistered alternative provision the
    /// council checks providers against (codes; voluntary since 2025).
    pub ap_standards: Vec<String>,
    /// Days a placement under way may go without attendance recorded
    /// before it is an alert.
    pub ap_attendance_gap_days: i64,
    /// Hours a session lasts.
    pub session_hours: i64,
    /// Failed sign-ins that lock an account.
    pub lock_after: i64,
    /// Minutes it stays locked.
    pub lock_minutes: i64,
    /// Fields an entry must have before it is confirmed (names as in the
    /// API: `address`, `postcode`, `parents`, ...; the child's names and
    /// date of birth are always required).
    pub required_to_confirm: Vec<String>,
    /// Hours a week of education by others from which their details are
    /// required (the "prescribed amount of time", not yet prescribed).
    pub prescribed_hours: f64,
    /// Hours an emergency access grant lasts.
    pub emergency_hours: i64,
    /// Years the audit's content (which children, what was searched for)
    /// is kept; the chain itself is kept for ever.
    pub audit_content_years: u32,
    /// Seconds a checked session or API token is trusted before the
    /// database is asked again (0: every request asks). Signing out and
    /// account changes made through this server take effect at once;
    /// those made by another process sharing the database (a second
    /// server, `cnis user`) within this many seconds.
    pub credential_cache_seconds: u64,
    /// The first deadline of a missing-education case opened by a notice.
    pub missing_education_deadline: cnis_core::calendar::Period,
    /// The first deadline of a home-education case opened by a notice.
    pub home_education_deadline: cnis_core::calendar::Period,
    /// Days a notice to satisfy under s.437(1) gives the parent (at least
    /// 15).
    pub notice_to_satisfy_days: u64,
    /// How long a handover may wait for the receiving council before it
    /// is escalated to both councils' team managers.
    pub handover_escalation: cnis_core::calendar::Period,
}

impl ServiceConfig {
    /// The defaults for a database: secret and checkpoint beside an SQLite
    /// file, or in the working directory for PostgreSQL.
    pub fn new(backend: Backend) -> ServiceConfig {
        let (secret_file, checkpoint_file) = match &backend {
            Backend::Sqlite(p) => {
                let with = |ext: &str| {
                    let mut s = p.clone().into_os_string();
                    s.push(ext);
                    PathBuf::from(s)
                };
                (with(".secret"), with(".audit-head"))
            }
            Backend::Postgres { .. } => (PathBuf::from("cnis.secret"), PathBuf::from("cnis.audit-head")),
        };
        ServiceConfig {
            backend,
            secret_file,
            checkpoint_file,
            retention_years: 6,
            statutory_identifier: StatutoryIdentifier::NhsNumber,
            lookup_floor: 0.9,
            lookups_per_minute: 30,
            review_floor: 0.5,
            ap_standards: cnis_core::ap::DEFAULT_STANDARDS.iter().map(|s| s.to_string()).collect(),
            ap_attendance_gap_days: 14,
            session_hours: 8,
            lock_after: 5,
            lock_minutes: 15,
            required_to_confirm: vec!["address".into(), "postcode".into(), "parents".into()],
            prescribed_hours: 0.0,
            emergency_hours: 24,
            audit_content_years: 7,
            credential_cache_seconds: 5,
            missing_education_deadline: cnis_core::calendar::Period::SchoolDays(5),
            home_education_deadline: cnis_core::calendar::Period::CalendarDays(15),
            handover_escalation: cnis_core::calendar::Period::SchoolDays(10),
            notice_to_satisfy_days: 15,
        }
    }
}

/// The settings a council may change, as written in a TOML file (every
/// key optional; what is left out keeps its default).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Years an entry is kept after the child leaves the register.
    pub retention_years: Option<u32>,
    /// `nhs_number`, `upn` or `child_id`.
    pub statutory_identifier: Option<StatutoryIdentifier>,
    /// Identity lookups: the lowest match probability returned.
    pub lookup_floor: Option<f64>,
    /// Identity lookups a partner system may make a minute.
    pub lookups_per_minute: Option<u32>,
    /// The reviewer's queue: the lowest match probability shown.
    pub review_floor: Option<f64>,
    /// Alternative provision: the standards checked (codes).
    pub ap_standards: Option<Vec<String>>,
    /// Alternative provision: days without attendance before an alert.
    pub ap_attendance_gap_days: Option<i64>,
    /// Hours a session lasts.
    pub session_hours: Option<i64>,
    /// Failed sign-ins that lock an account.
    pub lock_after: Option<i64>,
    /// Minutes a locked account stays locked.
    pub lock_minutes: Option<i64>,
    /// Fields required before an entry is confirmed.
    pub required_to_confirm: Option<Vec<String>>,
    /// Hours a week from which other providers' details are required.
    pub prescribed_hours: Option<f64>,
    /// Hours an emergency access grant lasts.
    pub emergency_hours: Option<i64>,
    /// Years the audit's content is kept.
    pub audit_content_years: Option<u32>,
    /// Seconds a checked session or API token is trusted.
    pub credential_cache_seconds: Option<u64>,
    /// `"5 school days"`, `"15 days"`.
    pub missing_education_deadline: Option<String>,
    /// As above.
    pub home_education_deadline: Option<String>,
    /// As above.
    pub handover_escalation: Option<String>,
    /// Days a notice to satisfy gives the parent (at least 15).
    pub notice_to_satisfy_days: Option<u64>,
}

/// The fields `required_to_confirm` may name.
pub const CONFIRMABLE_FIELDS: &[&str] =
    &["address", "postcode", "parents", "sex", "parent_hours_per_week", "reason_not_in_school", "known_on"];

impl ServiceConfig {
    /// Applies a settings file's text over these settings, checking each
    /// value; the message names the key that is wrong.
    pub fn apply_toml(&mut self, text: &str) -> std::result::Result<(), String> {
        let raw: RawSettings = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let range = |key: &str, ok: bool| if ok { Ok(()) } else { Err(format!("{key} is out of range")) };
        if let Some(v) = raw.retention_years {
            range("retention_years", (1..=100).contains(&v))?;
            self.retention_years = v;
        }
        if let Some(v) = raw.statutory_identifier {
            self.statutory_identifier = v;
        }
        if let Some(v) = raw.lookup_floor {
            range("lookup_floor", (0.5..=1.0).contains(&v))?;
            self.lookup_floor = v;
        }
        if let Some(v) = raw.lookups_per_minute {
            range("lookups_per_minute", (1..=10_000).contains(&v))?;
            self.lookups_per_minute = v;
        }
        if let Some(v) = raw.ap_standards {
            let ok = !v.is_empty()
                && v.iter()
                    .all(|s| !s.is_empty() && s.len() <= 60 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            range("ap_standards", ok)?;
            self.ap_standards = v;
        }
        if let Some(v) = raw.ap_attendance_gap_days {
            range("ap_attendance_gap_days", (1..=90).contains(&v))?;
            self.ap_attendance_gap_days = v;
        }
        if let Some(v) = raw.review_floor {
            range("review_floor", (0.01..=1.0).contains(&v))?;
            self.review_floor = v;
        }
        if let Some(v) = raw.session_hours {
            range("session_hours", (1..=24).contains(&v))?;
            self.session_hours = v;
        }
        if let Some(v) = raw.lock_after {
            range("lock_after", (1..=100).contains(&v))?;
            self.lock_after = v;
        }
        if let Some(v) = raw.lock_minutes {
            range("lock_minutes", (1..=1440).contains(&v))?;
            self.lock_minutes = v;
        }
        if let Some(v) = raw.required_to_confirm {
            if let Some(bad) = v.iter().find(|f| !CONFIRMABLE_FIELDS.contains(&f.as_str())) {
                return Err(format!("required_to_confirm names {bad:?}, which is not one of {CONFIRMABLE_FIELDS:?}"));
            }
            self.required_to_confirm = v;
        }
        if let Some(v) = raw.prescribed_hours {
            range("prescribed_hours", (0.0..=168.0).contains(&v))?;
            self.prescribed_hours = v;
        }
        if let Some(v) = raw.audit_content_years {
            range("audit_content_years", (1..=100).contains(&v))?;
            self.audit_content_years = v;
        }
        for (key, raw, slot) in [
            ("missing_education_deadline", &raw.missing_education_deadline, &mut self.missing_education_deadline),
            ("home_education_deadline", &raw.home_education_deadline, &mut self.home_education_deadline),
            ("handover_escalation", &raw.handover_escalation, &mut self.handover_escalation),
        ] {
            if let Some(v) = raw {
                *slot = cnis_core::calendar::Period::parse(v)
                    .ok_or_else(|| format!("{key} must read like \"10 school days\" or \"15 days\""))?;
            }
        }
        if let Some(v) = raw.notice_to_satisfy_days {
            range("notice_to_satisfy_days", (15..=90).contains(&v))?;
            self.notice_to_satisfy_days = v;
        }
        if let Some(v) = raw.credential_cache_seconds {
            range("credential_cache_seconds", v <= 60)?;
            self.credential_cache_seconds = v;
        }
        if let Some(v) = raw.emergency_hours {
            range("emergency_hours", (1..=168).contains(&v))?;
            self.emergency_hours = v;
        }
        Ok(())
    }
}

/// The register service: a database, its audit log and its settings.
pub struct Service {
    pub(crate) db: Arc<Db>,
    pub(crate) config: ServiceConfig,
    pub(crate) audit: audit::AuditLog,
    pub(crate) secret: [u8; 32],
    pub(crate) limiter: search::Limiter,
    pub(crate) credentials: accounts::CredentialCache,
    /// The postcode lookup for eligibility condition A.
    pub(crate) areas: postcodes::SharedAreas,
}

impl Service {
    /// Opens the database, brings its tables up to date and starts the
    /// audit writer.
    pub fn open(config: ServiceConfig) -> Result<Service> {
        let db = Arc::new(Db::open(config.backend.clone())?);
        cnis_store::register::migrate(&db)?;
        let secret = accounts::load_or_create_secret(&config.secret_file)?;
        let audit = audit::AuditLog::start(&config.backend, config.checkpoint_file.clone())?;
        let limiter = search::Limiter::new(config.lookups_per_minute);
        let credentials = accounts::CredentialCache::new(config.credential_cache_seconds);
        let areas = postcodes::read_areas(&db)?;
        Ok(Service { db, config, audit, secret, limiter, credentials, areas })
    }

    /// The settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Whether the database answers (readiness).
    pub fn ready(&self) -> bool {
        self.db.read(|tx| tx.query_one("SELECT 1", &[])).is_ok()
    }

    /// Which database, for the start-up message.
    pub fn describe_backend(&self) -> String {
        self.db.backend().describe()
    }

    /// The database (for tests that tamper and for bulk tools).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Councils, by code and name.
    pub fn councils(&self) -> Result<Vec<(String, String)>> {
        Ok(self.db.read(|tx| {
            tx.query("SELECT code, name FROM councils ORDER BY code", &[])?
                .iter()
                .map(|r| Ok((r.text(0)?, r.text(1)?)))
                .collect::<cnis_store::Result<Vec<_>>>()
        })?)
    }
}

/// Fails unless the actor's role has the permission.
pub(crate) fn require(actor: &Actor, p: Permission) -> Result<()> {
    if allows(actor.role, p) { Ok(()) } else { Err(ServiceError::Forbidden("your role does not allow this")) }
}

/// The council a council user acts for.
pub(crate) fn scope(actor: &Actor) -> Result<LaCode> {
    actor.council.ok_or(ServiceError::Forbidden("this account belongs to no council"))
}
