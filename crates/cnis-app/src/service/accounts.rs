//! Accounts, sign-in, sessions and API tokens.
//!
//! Passwords are hashed with argon2id (the crate's defaults: 19 MiB, two
//! passes), and a sign-in costs one hash whether or not the account
//! exists, so timing does not tell which e-mail addresses have accounts.
//! Too many failures lock the account for a while; the lock's length is
//! told to the person signing in. Session and API tokens are 32 random
//! bytes; the database holds only a keyed BLAKE3 hash of each (a random
//! token needs no slow hash: it cannot be guessed from a dictionary), keyed
//! with a secret that lives outside the database, so a stolen database
//! alone signs no one in.

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use cnis_core::LaCode;
use cnis_core::register::Role;
use cnis_store::audit::Event;
use cnis_store::register::{self as reg, NewUser, Session, now_ms};
use rand::RngCore;

use super::{Actor, Permission, Result, Service, ServiceError, require};

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Reads the token key, creating it (owner-only) on first start.
pub(crate) fn load_or_create_secret(path: &Path) -> Result<[u8; 32]> {
    let file_err = |source| ServiceError::File { what: "token key", path: path.to_path_buf(), source };
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let key = from_hex(text.trim()).ok_or_else(|| {
                file_err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not 64 hexadecimal characters"))
            })?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rng().fill_bytes(&mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write;
            let mut f = options.open(path).map_err(file_err)?;
            f.write_all(to_hex(&key).as_bytes()).map_err(file_err)?;
            Ok(key)
        }
        Err(e) => Err(file_err(e)),
    }
}

pub(crate) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    to_hex(&b)
}

/// A password made up for a new account, shown once to whoever adds it:
/// 20 characters from an alphabet without look-alikes (about 115 bits).
pub fn made_up_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// E-mail address (the sign-in name).
    pub email: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Council (required for council roles and schools).
    pub council: Option<LaCode>,
    /// School (LAESTAB), for a school user.
    pub school: Option<String>,
    /// Password (people); none for a system that signs in with a token.
    pub password: Option<String>,
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who.
    pub actor: Actor,
    /// The session token for the cookie (shown once, stored hashed).
    pub token: String,
    /// The token every form and change must carry.
    pub csrf: String,
    /// When the session ends (ms).
    pub expires_at: i64,
}

fn hash_password(pw: &str) -> Result<String> {
    Argon2::default()
        .hash_password(pw.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| ServiceError::invalid("password", "could not be hashed"))
}

fn verify_password(pw: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// A hash of a password no one has, so a sign-in for an unknown e-mail
/// costs the same as one for a known e-mail.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_token()).unwrap_or_default())
}

fn check_account(a: &NewAccount) -> Result<()> {
    let mut errors = Vec::new();
    let mut bad =
        |field: &str, message: &str| errors.push(super::FieldError { field: field.into(), message: message.into() });
    let email = a.email.trim();
    if email.len() < 3 || email.len() > 254 || !email.contains('@') || email.contains(char::is_whitespace) {
        bad("email", "Enter an e-mail address in the right format, like name@example.gov.uk");
    }
    if a.name.trim().is_empty() || a.name.len() > 200 {
        bad("name", "Enter the person's or system's name (up to 200 characters)");
    }
    let council_role = matches!(a.role, Role::Caseworker | Role::TeamManager | Role::CouncilAdmin | Role::School);
    if council_role && a.council.is_none() {
        bad("council", "This role belongs to a council: give the council's three-digit code");
    }
    if !council_role && a.council.is_some() && a.role != Role::Partner {
        bad("council", "This role works across councils: give no council");
    }
    if a.role == Role::School {
        match a.school.as_deref().map(cnis_core::records::Laestab::parse) {
            Some(Ok(l)) if Some(l.la_number()) == a.council.map(|c| c.number()) => {}
            Some(Ok(_)) => bad("school", "The school's LAESTAB must start with the council's code"),
            _ => bad("school", "Give the school's seven-digit LAESTAB"),
        }
    } else if a.school.is_some() {
        bad("school", "Only a school user has a school");
    }
    match (&a.password, a.role) {
        (None, Role::Partner) => {}
        (None, _) => bad("password", "Give a password (people sign in with one; only partner systems use tokens)"),
        (Some(p), _) if p.chars().count() < MIN_PASSWORD => bad("password", "Use a password of at least 12 characters"),
        (Some(p), _) if p.len() > 1024 => bad("password", "Use a password of at most 1,024 characters"),
        _ => {}
    }
    if errors.is_empty() { Ok(()) } else { Err(ServiceError::Invalid(errors)) }
}

impl Service {
    /// The keyed hash a token is stored under.
    pub(crate) fn token_hash(&self, token: &str) -> String {
        blake3::keyed_hash(&self.secret, token.as_bytes()).to_hex().to_string()
    }

    /// Adds an account. `by` is the council administrator doing it, or
    /// `None` for the operator at the console (`cnis user add`).
    pub fn add_account(&self, by: Option<&Actor>, a: &NewAccount) -> Result<i64> {
        if let Some(admin) = by {
            require(admin, Permission::ManageAccounts)?;
            if a.council != admin.council || matches!(a.role, Role::NationalAnalyst | Role::Auditor) {
                return Err(ServiceError::Forbidden(
                    "a council administrator adds accounts for their own council only",
                ));
            }
        }
        check_account(a)?;
        let password_hash = a.password.as_deref().map(hash_password).transpose()?;
        let email = a.email.trim().to_ascii_lowercase();
        let event = Event {
            at: now_ms(),
            actor: by.map(|b| b.user_id),
            actor_role: by.map_or("console".into(), |b| b.role.code().into()),
            council: by.and_then(|b| b.council).map(|c| c.to_string()),
            action: "account.create".into(),
            outcome: "ok".into(),
            subjects: vec![],
            detail: serde_json::json!({ "role": a.role.code(), "council": a.council.map(|c| c.to_string()) }),
        };
        let id = self
            .db
            .write(|tx| {
                let id = reg::insert_user(
                    tx,
                    &NewUser {
                        email: &email,
                        name: a.name.trim(),
                        role: a.role,
                        council: a.council,
                        school: a.school.as_deref(),
                        password_hash,
                    },
                )?;
                let head = cnis_store::audit::append(tx, &[event])?;
                Ok((id, head))
            })
            .map_err(ServiceError::from_store)
            .map(|(id, head)| {
                self.audit.advance(&head);
                id
            })?;
        Ok(id)
    }

    /// Signs in with e-mail and password: a session, or why not. Every
    /// attempt is audited.
    pub fn sign_in(&self, email: &str, password: &str) -> Result<SignedIn> {
        let email = email.trim().to_ascii_lowercase();
        let user = self.db.read(|tx| reg::user_by_email(tx, &email))?;
        let now = now_ms();
        let Some(user) = user.filter(|u| !u.disabled && u.password_hash.is_some()) else {
            let _ = verify_password(password, decoy_hash());
            self.audit.record(Event {
                at: now,
                actor: None,
                actor_role: "anonymous".into(),
                council: None,
                action: "sign_in".into(),
                outcome: "refused".into(),
                subjects: vec![],
                detail: serde_json::json!({}),
            })?;
            return Err(ServiceError::BadCredentials);
        };
        let base = Event {
            at: now,
            actor: Some(user.id),
            actor_role: user.role.code().into(),
            council: user.council.map(|c| c.to_string()),
            action: "sign_in".into(),
            outcome: "ok".into(),
            subjects: vec![],
            detail: serde_json::json!({}),
        };
        if let Some(until) = user.locked_until.filter(|&u| u > now) {
            self.audit.record(Event { outcome: "locked".into(), ..base })?;
            return Err(ServiceError::Locked { minutes: (until - now + 59_999) / 60_000 });
        }
        let ok = verify_password(password, user.password_hash.as_deref().unwrap_or(""));
        let lock_until = now + self.config.lock_minutes * 60_000;
        let token = new_token();
        let csrf = new_token();
        let expires_at = now + self.config.session_hours * 3_600_000;
        let token_hash = self.token_hash(&token);
        let head = self.db.write(|tx| {
            reg::record_sign_in(tx, user.id, ok, self.config.lock_after, lock_until)?;
            if ok {
                let session = Session { user_id: user.id, csrf: csrf.clone(), expires_at, council: None };
                reg::insert_session(tx, &token_hash, &session)?;
            }
            let outcome = if ok { "ok" } else { "refused" };
            cnis_store::audit::append(tx, &[Event { outcome: outcome.into(), ..base }])
        })?;
        self.audit.advance(&head);
        if !ok {
            return Err(ServiceError::BadCredentials);
        }
        let others = self.db.read(|tx| reg::other_councils(tx, user.id))?;
        Ok(SignedIn { actor: actor_of(user, None, others), token, csrf, expires_at })
    }

    /// The user and form token of a live session.
    pub fn session(&self, token: &str) -> Result<(Actor, String)> {
        let hash = self.token_hash(token);
        let now = now_ms();
        if let Some((actor, csrf)) = self.credentials.get(CredentialKind::Session, &hash, now) {
            return Ok((actor, csrf.unwrap_or_default()));
        }
        let found = self.db.read(|tx| {
            let Some(s) = reg::session(tx, &hash, now)? else { return Ok(None) };
            let Some(u) = reg::user_by_id(tx, s.user_id)?.filter(|u| !u.disabled) else { return Ok(None) };
            let others = reg::other_councils(tx, u.id)?;
            Ok(Some((u, s, others)))
        })?;
        let (u, s, others) = found.ok_or(ServiceError::Unauthenticated)?;
        let actor = actor_of(u, s.council.as_deref(), others);
        self.credentials.put(CredentialKind::Session, hash, &actor, Some(&s.csrf), Some(s.expires_at));
        Ok((actor, s.csrf))
    }

    /// The session's user and form token if this service checked the
    /// session against the database within the last
    /// `credential_cache_seconds`: no database work, so a caller on an
    /// async thread may ask before handing [`Service::session`] to a
    /// blocking one.
    pub fn cached_session(&self, token: &str) -> Option<(Actor, String)> {
        let hash = self.token_hash(token);
        self.credentials.get(CredentialKind::Session, &hash, now_ms()).map(|(a, c)| (a, c.unwrap_or_default()))
    }

    /// The API token's user, if checked recently (as [`Service::cached_session`]).
    pub fn cached_token_actor(&self, token: &str) -> Option<Actor> {
        let hash = self.token_hash(token);
        self.credentials.get(CredentialKind::Token, &hash, now_ms()).map(|(a, _)| a)
    }

    /// Ends a session.
    pub fn sign_out(&self, token: &str) -> Result<()> {
        let hash = self.token_hash(token);
        self.db.write(|tx| reg::delete_session(tx, &hash))?;
        self.credentials.remove(CredentialKind::Session, &hash);
        Ok(())
    }

    /// The user an API token belongs to.
    pub fn token_actor(&self, token: &str) -> Result<Actor> {
        let hash = self.token_hash(token);
        if let Some((actor, _)) = self.credentials.get(CredentialKind::Token, &hash, now_ms()) {
            return Ok(actor);
        }
        let u = self.db.read(|tx| {
            let Some(id) = reg::token_user(tx, &hash)? else { return Ok(None) };
            reg::user_by_id(tx, id)
        })?;
        let u = u.filter(|u| !u.disabled).ok_or(ServiceError::Unauthenticated)?;
        // A system's token acts for the account's own council.
        let actor = actor_of(u, None, Vec::new());
        self.credentials.put(CredentialKind::Token, hash, &actor, None, None);
        Ok(actor)
    }

    /// Issues an API token for an account (shown once). `by` is the council
    /// administrator, or `None` for the console.
    pub fn issue_token(&self, by: Option<&Actor>, email: &str, label: &str) -> Result<String> {
        let email = email.trim().to_ascii_lowercase();
        let user =
            self.db.read(|tx| reg::user_by_email(tx, &email))?.ok_or(ServiceError::NotFound("no such account"))?;
        if let Some(admin) = by {
            require(admin, Permission::ManageAccounts)?;
            if user.council != admin.council {
                return Err(ServiceError::Forbidden(
                    "a council administrator manages their own council's accounts only",
                ));
            }
        }
        let token = new_token();
        let hash = self.token_hash(&token);
        let head = self.db.write(|tx| {
            reg::insert_token(tx, &hash, user.id, label)?;
            cnis_store::audit::append(
                tx,
                &[Event {
                    at: now_ms(),
                    actor: by.map(|b| b.user_id),
                    actor_role: by.map_or("console".into(), |b| b.role.code().into()),
                    council: user.council.map(|c| c.to_string()),
                    action: "token.issue".into(),
                    outcome: "ok".into(),
                    subjects: vec![],
                    detail: serde_json::json!({ "account": user.id }),
                }],
            )
        })?;
        self.audit.advance(&head);
        Ok(token)
    }

    /// The accounts of the administrator's council.
    pub fn accounts(&self, actor: &Actor) -> Result<Vec<reg::User>> {
        require(actor, Permission::ManageAccounts)?;
        let council = super::scope(actor)?;
        let mut users = self.db.read(|tx| reg::users(tx, Some(council)))?;
        for u in &mut users {
            u.password_hash = None;
        }
        Ok(users)
    }

    /// Switches an account of the administrator's council off or on (off
    /// ends its sessions), or unlocks it after failed sign-ins.
    pub fn change_account(&self, admin: &Actor, id: i64, disabled: Option<bool>, unlock: bool) -> Result<reg::User> {
        require(admin, Permission::ManageAccounts)?;
        let council = super::scope(admin)?;
        if id == admin.user_id && disabled == Some(true) {
            return Err(ServiceError::Conflict("you cannot switch off your own account".into()));
        }
        // Another council's account that acts for this one: switching it
        // off here takes its access to this council away, not the account.
        let shared = self.db.read(|tx| match reg::user_by_id(tx, id)? {
            Some(u) if u.council != Some(council) => reg::user_acts_for(tx, &u, council),
            _ => Ok(false),
        })?;
        if shared && disabled == Some(true) {
            self.remove_council(Some(admin), id, council)?;
            let mut after = self.db.read(|tx| reg::user_by_id(tx, id))?.ok_or(ServiceError::NotFound("account"))?;
            after.password_hash = None;
            return Ok(after);
        }
        let event = Event {
            at: now_ms(),
            actor: Some(admin.user_id),
            actor_role: admin.role.code().into(),
            council: Some(council.to_string()),
            action: "account.change".into(),
            outcome: "ok".into(),
            subjects: vec![],
            detail: serde_json::json!({ "account": id, "disabled": disabled, "unlock": unlock }),
        };
        let (user, head) = self
            .db
            .write(|tx| {
                let Some(u) = reg::user_by_id(tx, id)? else {
                    return Err(cnis_store::Error::NotFound("account in your council"));
                };
                if u.council != Some(council) {
                    return Err(cnis_store::Error::NotFound("account in your council"));
                }
                reg::update_user(tx, u.id, None, disabled)?;
                if unlock {
                    reg::unlock_user(tx, u.id)?;
                }
                let head = cnis_store::audit::append(tx, &[event])?;
                let mut after = reg::user_by_id(tx, id)?.ok_or(cnis_store::Error::NotFound("account"))?;
                after.password_hash = None;
                Ok((after, head))
            })
            .map_err(ServiceError::from_store)?;
        // The account's sessions and tokens are checked again from the
        // database at their next use.
        self.credentials.clear();
        self.audit.advance(&head);
        Ok(user)
    }

    /// The name of an account that acts for the actor's council (a key
    /// worker's, shown on a case); `None` for another council's or none.
    pub fn account_name(&self, actor: &Actor, id: i64) -> Result<Option<String>> {
        let council = super::scope(actor)?;
        Ok(self.db.read(|tx| {
            let Some(u) = reg::user_by_id(tx, id)? else { return Ok(None) };
            Ok(reg::user_acts_for(tx, &u, council)?.then_some(u.name))
        })?)
    }

    /// The actor for an account, by e-mail (the CLI acting as a user).
    pub fn actor_for(&self, email: &str) -> Result<Actor> {
        let email = email.trim().to_ascii_lowercase();
        let u = self
            .db
            .read(|tx| reg::user_by_email(tx, &email))?
            .filter(|u| !u.disabled)
            .ok_or(ServiceError::NotFound("no such account"))?;
        let others = self.db.read(|tx| reg::other_councils(tx, u.id))?;
        Ok(actor_of(u, None, others))
    }

    /// The same actor acting for another of its councils (a shared
    /// service's person, from the console or a test).
    pub fn acting_for(&self, actor: &Actor, council: LaCode) -> Result<Actor> {
        if !actor.councils.contains(&council) {
            return Err(ServiceError::Forbidden("your account does not act for that council"));
        }
        Ok(Actor { council: Some(council), ..actor.clone() })
    }

    /// Switches a session to act for another of the account's councils.
    /// Audited; the session's cached check is dropped so the next request
    /// acts for the new council.
    pub fn switch_council(&self, token: &str, council: LaCode) -> Result<Actor> {
        let (actor, _) = self.session(token)?;
        let switched = self.acting_for(&actor, council)?;
        let hash = self.token_hash(token);
        let event = self.event(
            &switched,
            "council.switch",
            "ok",
            vec![],
            serde_json::json!({ "from": actor.council.map(|c| c.to_string()), "to": council.to_string() }),
        );
        let head = self.db.write(|tx| {
            reg::set_session_council(tx, &hash, &council.to_string())?;
            cnis_store::audit::append(tx, &[event])
        })?;
        self.audit.advance(&head);
        // The session is read again now, so the cache holds the switched
        // actor (a request that read the session before the switch may
        // still cache the old one for up to `credential_cache_seconds`).
        self.credentials.remove(CredentialKind::Session, &hash);
        self.session(token)?;
        Ok(switched)
    }

    /// Lets a council's caseworker, team manager or administrator act for
    /// another council too (a service shared by councils). From the
    /// console, or by an administrator of the council being given. Audited.
    pub fn add_council(&self, by: Option<&Actor>, email: &str, council: LaCode) -> Result<()> {
        if let Some(admin) = by {
            super::require(admin, Permission::ManageAccounts)?;
            if admin.council != Some(council) {
                return Err(ServiceError::Forbidden("an administrator gives access to their own council only"));
            }
        }
        let email = email.trim().to_ascii_lowercase();
        let u = self.db.read(|tx| reg::user_by_email(tx, &email))?.ok_or(ServiceError::NotFound("no such account"))?;
        if !matches!(u.role, Role::Caseworker | Role::TeamManager | Role::CouncilAdmin) {
            return Err(ServiceError::invalid(
                "email",
                "Only a council's caseworkers, team managers and administrators act for more than one council",
            ));
        }
        if u.council == Some(council) {
            return Err(ServiceError::invalid("council", "That is the account's own council"));
        }
        let at = now_ms();
        let event = Event {
            at,
            actor: by.map(|b| b.user_id),
            actor_role: by.map_or("console".into(), |b| b.role.code().into()),
            council: Some(council.to_string()),
            action: "account.council.add".into(),
            outcome: "ok".into(),
            subjects: vec![],
            detail: serde_json::json!({ "account": u.id, "council": council.to_string() }),
        };
        let head = self
            .db
            .write(|tx| {
                reg::add_user_council(tx, u.id, council, by.map(|b| b.user_id), at)?;
                cnis_store::audit::append(tx, &[event])
            })
            .map_err(ServiceError::from_store)?;
        self.audit.advance(&head);
        // Sessions checked before now learn of the council at their next use.
        self.credentials.clear();
        Ok(())
    }
}

impl Service {
    /// Takes away an account's access to a council not its own: from the
    /// console, or by that council's administrator. Its sessions acting for
    /// that council go back to its own. Audited.
    pub fn remove_council(&self, by: Option<&Actor>, user_id: i64, council: LaCode) -> Result<()> {
        if let Some(admin) = by {
            super::require(admin, Permission::ManageAccounts)?;
            if admin.council != Some(council) {
                return Err(ServiceError::Forbidden("an administrator takes away access to their own council only"));
            }
        }
        let event = Event {
            at: now_ms(),
            actor: by.map(|b| b.user_id),
            actor_role: by.map_or("console".into(), |b| b.role.code().into()),
            council: Some(council.to_string()),
            action: "account.council.remove".into(),
            outcome: "ok".into(),
            subjects: vec![],
            detail: serde_json::json!({ "account": user_id, "council": council.to_string() }),
        };
        let head = self
            .db
            .write(|tx| {
                reg::remove_user_council(tx, user_id, council)?;
                cnis_store::audit::append(tx, &[event])
            })
            .map_err(ServiceError::from_store)?;
        self.audit.advance(&head);
        // Sessions checked before now act for the account's own council at
        // their next use.
        self.credentials.clear();
        Ok(())
    }
}

/// The actor for an account acting for `acting` (when the account may act
/// for it) or its own council.
fn actor_of(u: reg::User, acting: Option<&str>, others: Vec<LaCode>) -> Actor {
    let mut councils: Vec<LaCode> = u.council.into_iter().collect();
    for c in others {
        if !councils.contains(&c) {
            councils.push(c);
        }
    }
    let council = acting.and_then(|a| LaCode::parse(a).ok()).filter(|c| councils.contains(c)).or(u.council);
    Actor { user_id: u.id, name: u.name, role: u.role, council, school: u.school, councils }
}

/// Which kind of credential a cached check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CredentialKind {
    Session,
    Token,
}

struct Checked {
    actor: Actor,
    csrf: Option<String>,
    /// When the database said yes.
    checked: std::time::Instant,
    /// When the session ends (ms), if it is one.
    expires_at: Option<i64>,
}

/// Sessions and API tokens the database recently said yes to, by their
/// keyed hash, so that a signed-in request does not open a transaction
/// only to learn who is calling. An entry is trusted for at most
/// `credential_cache_seconds` and never past its session's end; signing
/// out removes it, and any account change through this service empties
/// the cache. A refusal is never cached.
pub(crate) struct CredentialCache {
    ttl: std::time::Duration,
    /// Sessions' and API tokens' checks, apart, so that a look-up borrows
    /// the hash rather than building a key on every request.
    checked: std::sync::Mutex<[std::collections::HashMap<String, Checked>; 2]>,
}

/// Past this many entries the cache is emptied (each is a few hundred
/// bytes; a server has far fewer people signed in at once).
const CREDENTIAL_CACHE_MAX: usize = 100_000;

impl CredentialCache {
    pub(crate) fn new(seconds: u64) -> CredentialCache {
        CredentialCache {
            ttl: std::time::Duration::from_secs(seconds),
            checked: std::sync::Mutex::new([std::collections::HashMap::new(), std::collections::HashMap::new()]),
        }
    }

    fn get(&self, kind: CredentialKind, hash: &str, now_ms: i64) -> Option<(Actor, Option<String>)> {
        if self.ttl.is_zero() {
            return None;
        }
        let map = self.checked.lock().ok()?;
        let c = map[kind as usize].get(hash)?;
        let fresh = c.checked.elapsed() < self.ttl && c.expires_at.is_none_or(|e| e > now_ms);
        fresh.then(|| (c.actor.clone(), c.csrf.clone()))
    }

    fn put(&self, kind: CredentialKind, hash: String, actor: &Actor, csrf: Option<&str>, expires_at: Option<i64>) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut map) = self.checked.lock() else { return };
        let map = &mut map[kind as usize];
        if map.len() >= CREDENTIAL_CACHE_MAX {
            map.clear();
        }
        let checked = Checked {
            actor: actor.clone(),
            csrf: csrf.map(str::to_string),
            checked: std::time::Instant::now(),
            expires_at,
        };
        map.insert(hash, checked);
    }

    fn remove(&self, kind: CredentialKind, hash: &str) {
        if let Ok(mut map) = self.checked.lock() {
            map[kind as usize].remove(hash);
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut maps) = self.checked.lock() {
            maps.iter_mut().for_each(std::collections::HashMap::clear);
        }
    }
}
