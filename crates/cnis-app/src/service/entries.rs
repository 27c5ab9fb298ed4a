//! Register entries: creating them (by hand, from a parent's
//! notification, from a school's deletion notice, or as drafts from a
//! tracking run's leavers), reading a child, changing an entry with a
//! reason, confirming a draft, taking a child off the register, and the
//! daily sweep (children who pass compulsory school age leave; entries past
//! their retention date are deleted).
//!
//! Eligibility (new s.436B EA 1996) is checked and shown condition by
//! condition: A, the child lives in the council's area (from the home
//! postcode, not the school's council); B, compulsory school age; C, not a
//! registered pupil at a relevant school, or registered but educated
//! elsewhere for part of the time by the school's arrangement.

use chrono::{Datelike, NaiveDate};
use cnis_core::register::{EntryContent, EntrySource, EntryStatus, LeaveReason, RestrictedContent};
use cnis_core::school_age::SchoolAgeRules;
use cnis_core::{ChildId, LaCode, NhsNumber, Postcode, Upn};
use cnis_store::audit::{self, Event};
use cnis_store::register::{self as reg, Change, Entry, EntryUpdate, HistoryRow, now_ms};
use serde::Serialize;

use super::{Actor, FieldError, Permission, Result, Service, ServiceError, require, scope};

/// One eligibility condition and whether it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Condition {
    /// `A`, `B` or `C`.
    pub code: &'static str,
    /// The condition in words.
    pub label: &'static str,
    /// Met, not met, or not known from what is recorded.
    pub met: Option<bool>,
    /// Why.
    pub reason: String,
}

/// An entry as a user with access sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryView {
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// The council's name.
    pub council_name: String,
    /// The eligibility conditions today.
    pub eligibility: Vec<Condition>,
    /// Fields still missing before it can be confirmed.
    pub missing: Vec<String>,
    /// The statutory consistent identifier, where known.
    pub consistent_identifier: Option<String>,
}

/// A child's page: their identifiers, entries, history and who viewed them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChildView {
    /// cnis's child id.
    pub child_id: String,
    /// The entries the user may see (their council's; another's only under
    /// emergency access).
    pub entries: Vec<EntryView>,
    /// Each entry's history, oldest first.
    pub history: Vec<EntryHistory>,
    /// Optional content, for roles allowed it.
    pub restricted: Option<Vec<EntryRestricted>>,
    /// Who has viewed or changed this child, newest first: the latest
    /// [`VIEWERS_SHOWN`] (the subject access export has every one).
    pub viewers: Vec<Viewer>,
    /// Whether this view was under emergency access.
    pub emergency: bool,
    /// The child asked for, when it is merged into `child_id` (the page is
    /// then the whole group's, under the child kept).
    pub asked_for: Option<String>,
    /// Every merge this child's group was part of, undone ones included.
    pub merges: Vec<cnis_store::identity::Merge>,
    /// Schools' requests for the council's consent to withdraw the child
    /// to home education, with the council's decisions (the user's own
    /// council's, for roles that work cases).
    pub consent: Vec<cnis_store::cases::ConsentRequest>,
    /// The social-care episodes the user's council holds for the child's
    /// group, oldest recorded first: child-protection information, so for
    /// roles allowed optional content only.
    pub care: Option<Vec<cnis_core::casework::CareEpisode>>,
    /// The user's council's missing-education and home-education cases
    /// for the child's group, newest first (roles that work cases).
    pub cases: Vec<cnis_store::cases::Case>,
}

/// One entry's history.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryHistory {
    /// The entry.
    pub entry_id: i64,
    /// Its changes, oldest first.
    pub rows: Vec<HistoryRow>,
}

/// One entry's optional content.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryRestricted {
    /// The entry.
    pub entry_id: i64,
    /// Its optional content.
    pub content: RestrictedContent,
}

/// Entries in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCount {
    /// Council (national counts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub council: Option<String>,
    /// Status.
    pub status: EntryStatus,
    /// Entries.
    pub count: i64,
}

/// One audited access to a child.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Viewer {
    /// When (ms).
    pub at: i64,
    /// Who.
    pub name: Option<String>,
    /// Their council.
    pub council: Option<String>,
    /// What they did.
    pub action: String,
}

/// A page of a list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Items in all.
    pub total: i64,
    /// Page number, from 1.
    pub page: i64,
    /// Items a page.
    pub per_page: i64,
}

/// A council's counts.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dashboard {
    /// Council.
    pub council: String,
    /// Its name.
    pub council_name: String,
    /// Entries by status.
    pub by_status: Vec<StatusCount>,
    /// Drafts waiting for a caseworker.
    pub drafts_waiting: i64,
    /// Registered children with no education recorded (no parent
    /// providing it and no other provider).
    pub no_known_education: i64,
    /// Emergency access to this council's children by other councils.
    pub emergency_access: Vec<reg::EmergencyGrant>,
    /// Casework waiting: cases, the user's tasks, notices from the last
    /// [`RECENT_NOTICE_DAYS`] days, handovers to acknowledge.
    pub work: cnis_store::cases::WorkCounts,
}

/// How far back the dashboard counts schools' notices as new (days).
pub const RECENT_NOTICE_DAYS: u64 = 14;

fn err(field: &str, message: &str) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

fn clean(s: &mut Option<String>) {
    if let Some(v) = s {
        let t = v.trim();
        if t.is_empty() {
            *s = None;
        } else if t.len() != v.len() {
            *s = Some(t.to_string());
        }
    }
}

/// Checks and normalises an entry's content: names present, the date of
/// birth a real date in the past, identifiers and postcode valid (stored
/// in their normal form), schools seven-digit LAESTABs, hours within a
/// week. Messages name the field and never repeat the value.
pub fn validate(mut c: EntryContent, today: NaiveDate) -> std::result::Result<EntryContent, Vec<FieldError>> {
    let mut errors = Vec::new();
    c.given_name = c.given_name.trim().to_string();
    c.family_name = c.family_name.trim().to_string();
    for (field, v) in [("given_name", &c.given_name), ("family_name", &c.family_name)] {
        if v.is_empty() {
            errors.push(err(field, "Enter the child's name"));
        } else if v.chars().count() > 100 || v.chars().any(char::is_control) {
            errors.push(err(field, "Enter a name of up to 100 letters, without control characters"));
        }
    }
    for s in [
        &mut c.middle_names,
        &mut c.sex,
        &mut c.address,
        &mut c.postcode,
        &mut c.upn,
        &mut c.nhs_number,
        &mut c.current_school,
        &mut c.previous_school,
        &mut c.reason_not_in_school,
        &mut c.known_on,
        &mut c.eligible_from,
        &mut c.notes,
    ] {
        clean(s);
    }
    match NaiveDate::parse_from_str(c.dob.trim(), "%Y-%m-%d") {
        Ok(d) if d > today => errors.push(err("dob", "Date of birth must be in the past")),
        Ok(d) if today.year() - d.year() > 25 => {
            errors.push(err("dob", "Date of birth must be within the last 25 years"))
        }
        Ok(d) => c.dob = d.to_string(),
        Err(_) => errors.push(err("dob", "Enter the date of birth as a real date, year-month-day")),
    }
    if let Some(s) = &c.sex
        && !matches!(s.as_str(), "M" | "F" | "m" | "f")
    {
        errors.push(err("sex", "Sex must be M or F, or left out"));
    }
    c.sex = c.sex.map(|s| s.to_ascii_uppercase());
    if let Some(p) = &c.postcode {
        match Postcode::parse(p) {
            Ok(p) => c.postcode = Some(p.to_string()),
            Err(_) => errors.push(err("postcode", "Enter a real postcode, like AA1 1AA")),
        }
    }
    if let Some(u) = &c.upn {
        match Upn::parse(u) {
            Ok(u) => c.upn = Some(u.to_string()),
            Err(_) => errors.push(err("upn", "The UPN is not valid: 13 characters with a check letter that agrees")),
        }
    }
    if let Some(n) = &c.nhs_number {
        match NhsNumber::parse(n) {
            Ok(n) => c.nhs_number = Some(n.digits().to_string()),
            Err(_) => errors.push(err("nhs_number", "The NHS number is not valid: 10 digits whose check digit agrees")),
        }
    }
    for (field, v) in [("current_school", &mut c.current_school), ("previous_school", &mut c.previous_school)] {
        if let Some(s) = v {
            match cnis_core::records::Laestab::parse(s) {
                Ok(l) => *v = Some(l.to_string()),
                Err(_) => errors.push(err(field, "Enter the school's seven-digit LAESTAB")),
            }
        }
    }
    for (field, v) in [("known_on", &mut c.known_on), ("eligible_from", &mut c.eligible_from)] {
        if let Some(s) = v {
            match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if d > today => errors.push(err(field, "The date must not be in the future")),
                Ok(d) => *v = Some(d.to_string()),
                Err(_) => errors.push(err(field, "Enter a real date, year-month-day")),
            }
        }
    }
    let hours_ok = |h: Option<f64>| h.is_none_or(|h| h.is_finite() && (0.0..=168.0).contains(&h));
    if !hours_ok(c.parent_hours_per_week) {
        errors.push(err("parent_hours_per_week", "Hours a week must be between 0 and 168"));
    }
    if !hours_ok(c.other_hours_per_week) {
        errors.push(err("other_hours_per_week", "Hours a week must be between 0 and 168"));
    }
    for (i, p) in c.parents.iter_mut().enumerate() {
        p.name = p.name.trim().to_string();
        clean(&mut p.address);
        if p.name.is_empty() || p.name.chars().count() > 200 {
            errors.push(err(&format!("parents[{i}].name"), "Enter the parent's name (up to 200 characters)"));
        }
        if !hours_ok(p.hours_per_week) {
            errors.push(err(&format!("parents[{i}].hours_per_week"), "Hours a week must be between 0 and 168"));
        }
    }
    if c.parents.len() > 10 {
        errors.push(err("parents", "Give at most 10 parents"));
    }
    for (i, p) in c.providers.iter_mut().enumerate() {
        p.name = p.name.trim().to_string();
        if p.name.is_empty() {
            errors.push(err(&format!("providers[{i}].name"), "Enter the provider's name"));
        }
        if !hours_ok(p.hours_per_week) || !hours_ok(p.hours_without_parent) {
            errors.push(err(&format!("providers[{i}].hours_per_week"), "Hours a week must be between 0 and 168"));
        }
        if let (Some(all), Some(without)) = (p.hours_per_week, p.hours_without_parent)
            && without > all
        {
            errors.push(err(
                &format!("providers[{i}].hours_without_parent"),
                "Hours without a parent cannot be more than the provider's hours",
            ));
        }
    }
    if c.providers.len() > 20 {
        errors.push(err("providers", "Give at most 20 providers"));
    }
    let long = |s: &Option<String>| s.as_ref().is_some_and(|s| s.chars().count() > 2000);
    for (name, text) in
        [("address", &c.address), ("reason_not_in_school", &c.reason_not_in_school), ("notes", &c.notes)]
    {
        if long(text) {
            errors.push(err(name, "Keep it to 2,000 characters"));
        }
    }
    if errors.is_empty() { Ok(c) } else { Err(errors) }
}

/// The eligibility conditions for a child on a council's register today.
/// `area_of` says which council a postcode is in, where the service has a
/// lookup.
pub fn eligibility(c: &EntryContent, today: NaiveDate, area_of: Option<LaCode>, council: LaCode) -> Vec<Condition> {
    let a = match (&c.postcode, area_of) {
        (None, _) => Condition {
            code: "A",
            label: "Lives in the council's area",
            met: None,
            reason: "No home postcode is recorded".into(),
        },
        (Some(_), Some(la)) if la == council => Condition {
            code: "A",
            label: "Lives in the council's area",
            met: Some(true),
            reason: "The home postcode is in the council's area".into(),
        },
        (Some(_), Some(other)) => Condition {
            code: "A",
            label: "Lives in the council's area",
            met: Some(false),
            reason: format!(
                "The postcode lookup puts the home postcode in {}'s area: check the address before confirming",
                other.info().name
            ),
        },
        (Some(_), None) => Condition {
            code: "A",
            label: "Lives in the council's area",
            met: None,
            reason: "The postcode is not in the service's postcode lookup: check the address".into(),
        },
    };
    let rules = SchoolAgeRules::default();
    let b = match NaiveDate::parse_from_str(&c.dob, "%Y-%m-%d") {
        Ok(dob) if rules.is_csa(dob, today) => Condition {
            code: "B",
            label: "Of compulsory school age",
            met: Some(true),
            reason: match rules.csa_end(dob) {
                Some(end) => format!("Compulsory school age until {}", end.format("%-d %B %Y")),
                None => "Of compulsory school age".into(),
            },
        },
        Ok(dob) => Condition {
            code: "B",
            label: "Of compulsory school age",
            met: Some(false),
            reason: if rules.csa_start(dob).is_some_and(|s| today < s) {
                "Not yet of compulsory school age".into()
            } else {
                "Past compulsory school age".into()
            },
        },
        Err(_) => {
            Condition { code: "B", label: "Of compulsory school age", met: None, reason: "No date of birth".into() }
        }
    };
    let c_cond = match (&c.current_school, c.school_arranged_absence) {
        (None, _) => Condition {
            code: "C",
            label: "Not a registered pupil at a school, or educated elsewhere by the school's arrangement",
            met: Some(true),
            reason: "No current school is recorded".into(),
        },
        (Some(_), true) => Condition {
            code: "C",
            label: "Not a registered pupil at a school, or educated elsewhere by the school's arrangement",
            met: Some(true),
            reason: "Registered at a school that arranged education elsewhere for part of the time".into(),
        },
        (Some(_), false) => Condition {
            code: "C",
            label: "Not a registered pupil at a school, or educated elsewhere by the school's arrangement",
            met: Some(false),
            reason: "Registered at a school with no arrangement recorded".into(),
        },
    };
    vec![a, b, c_cond]
}

pub(crate) fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A new entry.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Content.
    pub content: EntryContent,
    /// How the council learnt of the child.
    pub source: EntrySource,
    /// A known child id (from tracking), else found from the identifiers
    /// or new.
    pub child_id: Option<ChildId>,
    /// Optional content.
    pub restricted: Option<RestrictedContent>,
}

impl Service {
    fn missing(&self, c: &EntryContent) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.config.required_to_confirm {
            let absent = match f.as_str() {
                "address" => c.address.is_none(),
                "postcode" => c.postcode.is_none(),
                "parents" => c.parents.is_empty(),
                "sex" => c.sex.is_none(),
                "parent_hours_per_week" => c.parent_hours_per_week.is_none(),
                "reason_not_in_school" => c.reason_not_in_school.is_none(),
                "known_on" => c.known_on.is_none(),
                _ => false,
            };
            if absent {
                out.push(f.clone());
            }
        }
        if c.other_hours_per_week.is_some_and(|h| h > self.config.prescribed_hours && h > 0.0) && c.providers.is_empty()
        {
            out.push("providers".into());
        }
        out
    }

    fn view(&self, e: Entry, council_name: String) -> EntryView {
        let council = LaCode::parse(&e.council).ok();
        let area = e.content.postcode.as_deref().and_then(|p| self.council_of_postcode(p));
        let eligibility = council.map(|c| eligibility(&e.content, today(), area, c)).unwrap_or_default();
        let missing = self.missing(&e.content);
        let consistent_identifier = match self.config.statutory_identifier {
            super::StatutoryIdentifier::NhsNumber => e.content.nhs_number.clone(),
            super::StatutoryIdentifier::Upn => e.content.upn.clone(),
            super::StatutoryIdentifier::ChildId => Some(e.child_id.clone()),
        };
        EntryView { entry: e, council_name, eligibility, missing, consistent_identifier }
    }

    fn council_name(&self, code: &str) -> String {
        LaCode::parse(code).map(|c| c.info().name.clone()).unwrap_or_else(|_| code.to_string())
    }

    /// Commits a change together with its audit event.
    pub(crate) fn write_audited<T>(
        &self,
        f: impl FnOnce(&mut cnis_store::db::Tx<'_>) -> cnis_store::Result<(T, Event)>,
    ) -> Result<T> {
        let (value, head) = self
            .db
            .write(|tx| {
                let (v, event) = f(tx)?;
                let head = audit::append(tx, &[event])?;
                Ok((v, head))
            })
            .map_err(ServiceError::from_store)?;
        self.audit.advance(&head);
        Ok(value)
    }

    /// Adds a child to the actor's council's register: a draft from a
    /// source for a caseworker to confirm, or registered at once when
    /// entered by hand and eligible.
    pub fn create_entry(&self, actor: &Actor, new: NewEntry, reason: &str) -> Result<EntryView> {
        require(actor, Permission::EditRegister)?;
        let council = scope(actor)?;
        if new.restricted.is_some() {
            require(actor, Permission::ReadRestricted)?;
        }
        let content = validate(new.content, today()).map_err(ServiceError::Invalid)?;
        let reason = reason_text(reason)?;
        let at = now_ms();
        let entry = self.write_audited(|tx| {
            let child = match new.child_id {
                Some(c) => c,
                None => existing_child(tx, &content)?.unwrap_or_else(|| ChildId::random(&mut rand::rng())),
            };
            let change = Change { by: actor.user_id, reason: &reason, at };
            let e = reg::insert_entry(tx, council, child, EntryStatus::Draft, new.source, &content, change)?;
            if let Some(r) = &new.restricted {
                reg::set_restricted(tx, &e, r, change)?;
            }
            let event =
                self.event(actor, "entry.create", "ok", vec![e.child_id.clone()], serde_json::json!({ "entry": e.id }));
            Ok((e, event))
        })?;
        Ok(self.view(entry, self.council_name(&council.to_string())))
    }

    /// Whether the actor may see this entry: their council's, or under a
    /// live emergency grant.
    fn may_see(&self, actor: &Actor, e: &Entry, tx: &mut cnis_store::db::Tx<'_>) -> cnis_store::Result<(bool, bool)> {
        if actor.council.is_some_and(|c| c.to_string() == e.council) {
            return Ok((true, false));
        }
        // A council a child is being handed over to sees the child until it
        // acknowledges the handover.
        if let Some(c) = actor.council
            && cnis_store::cases::pending_handovers(tx, &e.child_id)?
                .iter()
                .any(|h| h.to_council == c.to_string() && h.from_council == e.council)
        {
            return Ok((true, false));
        }
        let Some(acting) = actor.council else { return Ok((false, false)) };
        let emergency = reg::has_emergency(tx, actor.user_id, &acting.to_string(), &e.child_id, now_ms())?;
        Ok((emergency, emergency))
    }

    /// A child's page. Audited as a read; refused (and audited as refused)
    /// when the child has no entry the actor may see.
    pub fn child(&self, actor: &Actor, child_id: &str) -> Result<ChildView> {
        self.child_audited(actor, child_id)?.wait()
    }

    /// [`Service::child`], for an async caller: the page comes out of the
    /// result once its audit event is committed
    /// ([`super::audit::Audited::committed`]).
    pub fn child_audited(&self, actor: &Actor, child_id: &str) -> Result<super::audit::Audited<ChildView>> {
        let child = parse_child(child_id)?;
        if require(actor, Permission::ReadChild).is_err() {
            self.audit.record(self.event(actor, "child.read", "refused", vec![], serde_json::json!({})))?;
            return Err(ServiceError::Forbidden("your role does not allow this"));
        }
        let with_restricted = super::allows(actor.role, Permission::ReadRestricted);
        let found = self.db.read(|tx| {
            // One query answers for a child never merged; a merged one is
            // read as its whole group, under the child kept.
            // Merges are the actor's council's own: another council (one
            // handed the child, one with emergency access) reads the child
            // as it stands on its own register.
            let own = actor.council.map(|c| c.to_string());
            let mut merges = match &own {
                Some(c) => cnis_store::identity::merges_of(tx, c, &child)?,
                None => Vec::new(),
            };
            let mut group = vec![child.clone()];
            if let Some(c) = own.as_deref().filter(|_| !merges.is_empty()) {
                group = cnis_store::identity::members(tx, c, &child)?;
                merges = self.merges_for(tx, c, &group)?;
            }
            let mut entries = Vec::new();
            let mut emergency = false;
            let mut all = Vec::new();
            for c in &group {
                all.extend(reg::entries_for_child(tx, c)?);
            }
            for e in all {
                let (ok, by_grant) = self.may_see(actor, &e, tx)?;
                if ok {
                    emergency |= by_grant;
                    entries.push(e);
                }
            }
            let mut history = Vec::new();
            let mut restricted = Vec::new();
            for e in &entries {
                history.push(EntryHistory { entry_id: e.id, rows: reg::entry_history(tx, e.id, with_restricted)? });
                if with_restricted {
                    restricted.push(EntryRestricted { entry_id: e.id, content: reg::restricted(tx, e.id)? });
                }
            }
            let mut viewers = Vec::new();
            let mut consent = Vec::new();
            let mut care = Vec::new();
            let mut cases = Vec::new();
            for c in &group {
                viewers.extend(self::viewers(tx, c, actor.council)?);
                if let Some(own) = actor.council
                    && super::allows(actor.role, Permission::WorkCases)
                    && !entries.is_empty()
                {
                    consent.extend(cnis_store::cases::consent_for_child(tx, own, c)?);
                    let own_code = own.to_string();
                    cases.extend(
                        cnis_store::cases::cases_for_child(tx, c)?.into_iter().filter(|k| k.council == own_code),
                    );
                    if with_restricted {
                        care.extend(cnis_store::cases::care(tx, own, c)?);
                    }
                }
            }
            if group.len() > 1 {
                viewers.sort_by_key(|v| std::cmp::Reverse(v.at));
                viewers.dedup_by(|a, b| a.at == b.at && a.name == b.name && a.action == b.action);
                viewers.truncate(VIEWERS_SHOWN);
            }
            cases.sort_by_key(|k| std::cmp::Reverse(k.id));
            Ok((entries, history, restricted, viewers, emergency, group, merges, consent, care, cases))
        })?;
        let (entries, history, restricted, viewers, emergency, group, merges, consent, care, cases) = found;
        if entries.is_empty() {
            self.audit.record(self.event(actor, "child.read", "refused", vec![child], serde_json::json!({})))?;
            return Err(ServiceError::Forbidden(
                "This child is not on your council's register. If a child may be at risk, request emergency access with a reason.",
            ));
        }
        let action = if emergency { "child.read.emergency" } else { "child.read" };
        // A read of a merged child is a read of every child in the group.
        let event = self.event(actor, action, "ok", group.clone(), serde_json::json!({}));
        let root = group.first().cloned().unwrap_or_else(|| child.clone());
        let asked_for = (root != child).then(|| child.clone());
        let entries = entries.into_iter().map(|e| {
            let name = self.council_name(&e.council);
            self.view(e, name)
        });
        let view = ChildView {
            child_id: root,
            asked_for,
            merges,
            consent,
            entries: entries.collect(),
            history,
            restricted: with_restricted.then_some(restricted),
            care: with_restricted.then_some(care),
            cases,
            viewers,
            emergency,
        };
        self.audit.submit(event, view)
    }

    /// Loads an entry the actor may change (their own council's).
    fn own_entry(&self, actor: &Actor, tx: &mut cnis_store::db::Tx<'_>, id: i64) -> cnis_store::Result<Option<Entry>> {
        let council = actor.council.map(|c| c.to_string());
        Ok(reg::entry(tx, id)?.filter(|e| Some(&e.council) == council.as_ref()))
    }

    /// Replaces an entry's content, with a reason, from the version the
    /// user saw.
    pub fn update_entry(
        &self,
        actor: &Actor,
        id: i64,
        version: i64,
        content: EntryContent,
        reason: &str,
    ) -> Result<EntryView> {
        require(actor, Permission::EditRegister)?;
        scope(actor)?;
        let content = validate(content, today()).map_err(ServiceError::Invalid)?;
        let reason = reason_text(reason)?;
        let at = now_ms();
        let e = self.write_audited(|tx| {
            let e = self
                .own_entry(actor, tx, id)?
                .ok_or(cnis_store::Error::NotFound("register entry on your council's register"))?;
            if e.status == EntryStatus::Left {
                return Err(cnis_store::Error::Duplicate(
                    "a record that this child left the register; create a new entry",
                ));
            }
            if e.status == EntryStatus::Merged {
                return Err(cnis_store::Error::Refused(
                    "This entry was merged into another child: change that child's entry, or undo the merge first.",
                ));
            }
            let update = EntryUpdate {
                status: e.status,
                content,
                left_on: e.left_on,
                left_reason: e.left_reason,
                retain_until: e.retain_until,
            };
            let after = reg::update_entry(
                tx,
                id,
                version,
                &update,
                "edited",
                Change { by: actor.user_id, reason: &reason, at },
            )?;
            let event = self.event(
                actor,
                "entry.update",
                "ok",
                vec![after.child_id.clone()],
                serde_json::json!({ "entry": id }),
            );
            Ok((after, event))
        })?;
        let name = self.council_name(&e.council);
        Ok(self.view(e, name))
    }

    /// Changes the fields `edit` changes and keeps the rest (a form that
    /// shows some fields): the entry is read once, inside this change, so
    /// the change is audited once, as a change.
    pub fn edit_entry(
        &self,
        actor: &Actor,
        id: i64,
        version: i64,
        edit: impl FnOnce(EntryContent) -> EntryContent,
        reason: &str,
    ) -> Result<EntryView> {
        require(actor, Permission::EditRegister)?;
        scope(actor)?;
        let current = self
            .db
            .read(|tx| self.own_entry(actor, tx, id))?
            .ok_or(ServiceError::NotFound("No entry with that id on your council's register"))?;
        // The version check in `update_entry` refuses the change if the
        // entry changed after this read.
        self.update_entry(actor, id, version, edit(current.content), reason)
    }

    /// Replaces an entry's optional content (team managers).
    pub fn update_restricted(&self, actor: &Actor, id: i64, content: RestrictedContent, reason: &str) -> Result<()> {
        require(actor, Permission::ReadRestricted)?;
        let reason = reason_text(reason)?;
        let at = now_ms();
        self.write_audited(|tx| {
            let e = self
                .own_entry(actor, tx, id)?
                .ok_or(cnis_store::Error::NotFound("register entry on your council's register"))?;
            reg::set_restricted(tx, &e, &content, Change { by: actor.user_id, reason: &reason, at })?;
            let event = self.event(
                actor,
                "entry.restricted.update",
                "ok",
                vec![e.child_id.clone()],
                serde_json::json!({ "entry": id }),
            );
            Ok(((), event))
        })
    }

    /// Confirms a draft: the child is on the register. Refused while a
    /// condition is not met or a required field is missing.
    pub fn confirm_entry(&self, actor: &Actor, id: i64, version: i64, reason: &str) -> Result<EntryView> {
        require(actor, Permission::EditRegister)?;
        let council = scope(actor)?;
        let reason = reason_text(reason)?;
        let at = now_ms();
        let e = self.write_audited(|tx| {
            let e = self
                .own_entry(actor, tx, id)?
                .ok_or(cnis_store::Error::NotFound("register entry on your council's register"))?;
            if e.status != EntryStatus::Draft {
                return Err(cnis_store::Error::Duplicate("a confirmed entry: only a draft is confirmed"));
            }
            let area = e.content.postcode.as_deref().and_then(|p| self.council_of_postcode(p));
            // Condition A from the postcode lookup is advice: the lookup
            // puts a postcode on a boundary in one council by its centre,
            // so a caseworker who knows where the child lives confirms.
            let failed: Vec<&str> = eligibility(&e.content, today(), area, council)
                .iter()
                .filter(|c| c.met == Some(false) && c.code != "A")
                .map(|c| c.code)
                .collect();
            if !failed.is_empty() {
                return Err(cnis_store::Error::Duplicate(match failed[0] {
                    "A" => "an eligibility condition not met: the child does not live in the area",
                    "B" => "an eligibility condition not met: the child is not of compulsory school age",
                    _ => "an eligibility condition not met: the child is registered at a school",
                }));
            }
            if !self.missing(&e.content).is_empty() {
                return Err(cnis_store::Error::Duplicate("a required field missing; complete the entry first"));
            }
            let update = EntryUpdate {
                status: EntryStatus::Registered,
                content: e.content.clone(),
                left_on: None,
                left_reason: None,
                retain_until: None,
            };
            let after = reg::update_entry(
                tx,
                id,
                version,
                &update,
                "confirmed",
                Change { by: actor.user_id, reason: &reason, at },
            )?;
            let event = self.event(
                actor,
                "entry.confirm",
                "ok",
                vec![after.child_id.clone()],
                serde_json::json!({ "entry": id }),
            );
            Ok((after, event))
        })?;
        let name = self.council_name(&e.council);
        Ok(self.view(e, name))
    }

    /// Takes a child off the register with a reason; the entry is kept
    /// until its retention date.
    pub fn leave_entry(
        &self,
        actor: &Actor,
        id: i64,
        version: i64,
        why: LeaveReason,
        on: NaiveDate,
        reason: &str,
    ) -> Result<EntryView> {
        require(actor, Permission::EditRegister)?;
        scope(actor)?;
        if on > today() {
            return Err(ServiceError::invalid("left_on", "The date must not be in the future"));
        }
        let reason = reason_text(reason)?;
        let at = now_ms();
        let years = self.config.retention_years;
        let e = self.write_audited(|tx| {
            let e = self
                .own_entry(actor, tx, id)?
                .ok_or(cnis_store::Error::NotFound("register entry on your council's register"))?;
            let after = leave(tx, &e, version, why, on, years, Change { by: actor.user_id, reason: &reason, at })?;
            let event = self.event(
                actor,
                "entry.leave",
                "ok",
                vec![after.child_id.clone()],
                serde_json::json!({ "entry": id, "why": why.code() }),
            );
            Ok((after, event))
        })?;
        let name = self.council_name(&e.council);
        Ok(self.view(e, name))
    }

    /// The council's entries, by status, a page at a time. Audited: a list
    /// shows children's names.
    pub fn list_entries(
        &self,
        actor: &Actor,
        status: Option<EntryStatus>,
        page: i64,
        per_page: i64,
    ) -> Result<Page<EntryView>> {
        require(actor, Permission::ReadChild)?;
        let council = scope(actor)?;
        let per_page = per_page.clamp(1, 200);
        let page = page.max(1);
        let (entries, total) =
            self.db.read(|tx| reg::list_entries(tx, council, status, (page - 1).saturating_mul(per_page), per_page))?;
        let shown: Vec<String> = entries.iter().map(|e| e.child_id.clone()).collect();
        self.audit.record(self.event(
            actor,
            "entries.list",
            "ok",
            shown,
            serde_json::json!({ "status": status.map(|s| s.code()), "page": page }),
        ))?;
        let name = self.council_name(&council.to_string());
        Ok(Page { items: entries.into_iter().map(|e| self.view(e, name.clone())).collect(), total, page, per_page })
    }

    /// The council's counts.
    pub fn dashboard(&self, actor: &Actor) -> Result<Dashboard> {
        require(actor, Permission::CouncilCounts)?;
        let council = scope(actor)?;
        let code = council.to_string();
        let (by_status, no_known_education, emergency_access, work) = self.db.read(|tx| {
            let by_status = reg::status_counts(tx, council)?;
            let rows = tx.query(
                "SELECT content FROM register_entries WHERE council = $1 AND status = 'registered'",
                &[code.as_str().into()],
            )?;
            let mut none = 0;
            for r in rows {
                let c: EntryContent = serde_json::from_str(&r.text(0)?)
                    .map_err(|_| cnis_store::Error::Corrupt { table: "register_entries", what: "content" })?;
                if !c.parents.iter().any(|p| p.provides_education) && c.providers.is_empty() {
                    none += 1;
                }
            }
            let since = now_ms() - i64::try_from(RECENT_NOTICE_DAYS * 86_400_000).unwrap_or(i64::MAX);
            let work = cnis_store::cases::work_counts(tx, council, actor.user_id, today(), since)?;
            Ok((by_status, none, reg::emergency_grants(tx, &code, 20)?, work))
        })?;
        let by_status: Vec<StatusCount> =
            by_status.into_iter().map(|(status, count)| StatusCount { council: None, status, count }).collect();
        let drafts_waiting = by_status.iter().find(|c| c.status == EntryStatus::Draft).map_or(0, |c| c.count);
        Ok(Dashboard {
            council_name: self.council_name(&code),
            council: code,
            by_status,
            drafts_waiting,
            no_known_education,
            emergency_access,
            work,
        })
    }

    /// Counts by council and status across England, no names (national
    /// analysts).
    pub fn national_counts(&self, actor: &Actor) -> Result<Vec<StatusCount>> {
        require(actor, Permission::NationalCounts)?;
        let rows = self
            .db
            .read(reg::national_counts)?
            .into_iter()
            .map(|(council, status, count)| StatusCount { council: Some(council), status, count })
            .collect();
        self.audit.record(self.event(actor, "counts.national", "ok", vec![], serde_json::json!({})))?;
        Ok(rows)
    }

    /// Takes time-limited access to another council's child, with a reason
    /// the owning council sees.
    pub fn emergency_access(&self, actor: &Actor, child_id: &str, reason: &str) -> Result<()> {
        require(actor, Permission::EmergencyAccess)?;
        let council = scope(actor)?;
        let child = parse_child(child_id)?;
        let reason = reason_text(reason)?;
        if reason.chars().count() < 20 {
            return Err(ServiceError::invalid("reason", "Say why the child may be at risk, in at least 20 characters"));
        }
        let expires = now_ms() + self.config.emergency_hours * 3_600_000;
        self.write_audited(|tx| {
            let owners: Vec<String> = reg::entries_for_child(tx, &child)?
                .into_iter()
                .filter(|e| e.status.is_live() && e.council != council.to_string())
                .map(|e| e.council)
                .collect();
            let Some(owner) = owners.first() else {
                return Err(cnis_store::Error::NotFound("child on another council's register"));
            };
            reg::grant_emergency(tx, actor.user_id, &council.to_string(), &child, owner, &reason, expires)?;
            let event = self.event(
                actor,
                "emergency_access.grant",
                "ok",
                vec![child.clone()],
                serde_json::json!({ "owner": owner, "reason": reason }),
            );
            Ok(((), event))
        })
    }

    /// The daily sweep, run by the service itself: a child past compulsory
    /// school age leaves the register; entries past their retention date
    /// are deleted (history and optional content with them; the audit
    /// chain keeps its hashes). Returns (left, deleted).
    pub fn sweep(&self, today: NaiveDate) -> Result<(usize, usize)> {
        let rules = SchoolAgeRules::default();
        let years = self.config.retention_years;
        // Anyone born more than 15 years ago may be past it; check each.
        let born_by = cnis_core::school_age::add_years(today, -15).unwrap_or(today);
        let at = now_ms();
        let (left, deleted, head) = self.db.write(|tx| {
            let mut events = Vec::new();
            let mut left = 0;
            for e in reg::live_entries_born_by(tx, born_by)? {
                let Ok(dob) = NaiveDate::parse_from_str(&e.content.dob, "%Y-%m-%d") else { continue };
                let Some(end) = rules.csa_end(dob) else { continue };
                if end < today {
                    let change = Change { by: 0, reason: "passed compulsory school age", at };
                    leave(tx, &e, e.version, LeaveReason::PassedCompulsorySchoolAge, end, years, change)?;
                    left += 1;
                    events.push(system_event("entry.leave", vec![e.child_id.clone()], &e.council));
                }
            }
            let expired = reg::expired_entries(tx, today)?;
            for e in &expired {
                reg::delete_entry(tx, e.id)?;
                events.push(system_event("entry.retention_delete", vec![e.child_id.clone()], &e.council));
            }
            // The audit's content past its own retention goes too; the
            // chain stays whole.
            let cutoff = cnis_core::school_age::add_years(today, -(self.config.audit_content_years as i32))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(0, |t| t.and_utc().timestamp_millis());
            let redacted = audit::redact_before(tx, cutoff, at)?;
            if redacted > 0 {
                events.push(Event {
                    detail: serde_json::json!({ "redacted": redacted }),
                    council: None,
                    ..system_event("audit.retention", Vec::new(), "")
                });
            }
            let head = audit::append(tx, &events)?;
            Ok((left, expired.len(), head))
        })?;
        self.audit.advance(&head);
        Ok((left, deleted))
    }
}

fn system_event(action: &str, subjects: Vec<String>, council: &str) -> Event {
    Event {
        at: now_ms(),
        actor: None,
        actor_role: "system".into(),
        council: Some(council.to_string()),
        action: action.into(),
        outcome: "ok".into(),
        subjects,
        detail: serde_json::json!({}),
    }
}

pub(crate) fn leave(
    tx: &mut cnis_store::db::Tx<'_>,
    e: &Entry,
    version: i64,
    why: LeaveReason,
    on: NaiveDate,
    years: u32,
    change: Change<'_>,
) -> cnis_store::Result<Entry> {
    if e.status == EntryStatus::Left {
        return Err(cnis_store::Error::Duplicate("a record that this child left the register"));
    }
    if e.status == EntryStatus::Merged {
        return Err(cnis_store::Error::Refused(
            "This entry was merged into another child: the child it was merged into leaves the register instead.",
        ));
    }
    let retain = cnis_core::school_age::add_years(on, years as i32);
    let update = EntryUpdate {
        status: EntryStatus::Left,
        content: e.content.clone(),
        left_on: Some(on),
        left_reason: Some(why),
        retain_until: retain,
    };
    let after = reg::update_entry(tx, e.id, version, &update, "left the register", change)?;
    // Entries merged into this child leave with it, and are kept as long.
    for m in cnis_store::identity::group(tx, &e.council, &e.child_id)? {
        if let Some(id) = m.absorbed_entry
            && let Some(x) = reg::entry(tx, id)?
            && x.status == EntryStatus::Merged
        {
            let u = EntryUpdate {
                status: EntryStatus::Merged,
                content: x.content.clone(),
                left_on: Some(on),
                left_reason: Some(why),
                retain_until: retain,
            };
            reg::update_entry(tx, x.id, x.version, &u, "left the register with the child it was merged into", change)?;
        }
    }
    Ok(after)
}

pub(crate) fn reason_text(reason: &str) -> Result<String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(ServiceError::invalid("reason", "Say why you are making this change"));
    }
    if r.chars().count() > 500 || r.chars().any(char::is_control) {
        return Err(ServiceError::invalid("reason", "Give a reason of up to 500 characters"));
    }
    Ok(r.to_string())
}

pub(crate) fn parse_child(s: &str) -> Result<String> {
    ChildId::parse(s).map(|c| c.to_string()).map_err(|_| {
        ServiceError::invalid("child_id", "Enter a child id in the form cnis shows, with its check character")
    })
}

/// The child id already used for a child with this UPN or NHS number, on
/// any council's register: one child, one id, wherever they are.
fn existing_child(tx: &mut cnis_store::db::Tx<'_>, c: &EntryContent) -> cnis_store::Result<Option<ChildId>> {
    for (col, v) in [("upn", &c.upn), ("nhs_number", &c.nhs_number)] {
        if let Some(v) = v
            && let Some(r) = tx.query_opt(
                &format!("SELECT child_id FROM register_entries WHERE {col} = $1 LIMIT 1"),
                &[v.as_str().into()],
            )?
        {
            return Ok(ChildId::parse(&r.text(0)?).ok());
        }
    }
    Ok(None)
}

/// How many of the latest accesses a child's record shows.
pub const VIEWERS_SHOWN: usize = 50;

fn viewers(tx: &mut cnis_store::db::Tx<'_>, child: &str, council: Option<LaCode>) -> cnis_store::Result<Vec<Viewer>> {
    let own = council.map(|c| c.to_string());
    let mut out = Vec::new();
    // Twice as many as shown are read, as some are other councils' own
    // reads, which are not shown.
    for r in audit::accesses(tx, child, 2 * VIEWERS_SHOWN as i64)? {
        // Another council's accesses are shown only when they are
        // emergency access to this council's child.
        if r.council != own && !r.action.contains("emergency") {
            continue;
        }
        out.push(Viewer { at: r.at, name: r.name.or(Some(r.actor_role)), council: r.council, action: r.action });
        if out.len() == VIEWERS_SHOWN {
            break;
        }
    }
    Ok(out)
}

/// What importing a tracking run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    /// Leavers of the council's schools in the run.
    pub leavers: usize,
    /// Whose destination makes them possibly not in school (home
    /// education, missing education, alternative provision, unknown).
    pub not_in_school: usize,
    /// Drafts created.
    pub drafts: usize,
    /// Already on the council's register.
    pub already_on_register: usize,
    /// Past compulsory school age today: no longer eligible.
    pub past_school_age: usize,
    /// Without names or date of birth on the census (a UPN that failed its
    /// check, so the row could not be found again): listed by tracking,
    /// not made into drafts.
    pub without_details: usize,
}

/// Destinations that leave a child possibly not in school.
pub const NOT_IN_SCHOOL: &[&str] = &["home_education", "cme", "alternative_provision", "unknown"];

impl Service {
    /// [`Service::import_leavers`] from the analytical database at `path`
    /// (as `cnis track` left it).
    /// `None`: the service was started without one.
    pub fn import_leavers_from(&self, actor: &Actor, path: Option<&std::path::Path>, run: i64) -> Result<ImportReport> {
        require(actor, Permission::Import)?;
        let Some(path) = path else {
            return Err(ServiceError::Conflict(
                "This server was started without an analytical database (--analytics), so it has no tracking runs to import."
                    .into(),
            ));
        };
        if !path.exists() {
            return Err(ServiceError::NotFound("analytical database with tracking runs"));
        }
        let store = cnis_store::Store::open(path).map_err(ServiceError::from_store)?;
        self.import_leavers(actor, &store, run)
    }

    /// Makes a draft entry for each leaver of the actor's council's schools
    /// in a tracking run whose destination leaves them possibly not in
    /// school, for a caseworker to check and confirm. Children already on
    /// the council's register are left alone; running it twice adds
    /// nothing the second time. SEN and social-care status go to the
    /// optional content.
    pub fn import_leavers(&self, actor: &Actor, store: &cnis_store::Store, run: i64) -> Result<ImportReport> {
        require(actor, Permission::Import)?;
        let council = scope(actor)?;
        let leavers = store.run_leavers(run, council.number()).map_err(ServiceError::from_store)?;
        let today = today();
        let mut report = ImportReport { leavers: leavers.len(), ..ImportReport::default() };
        let reason = format!("leaver found by tracking run {run}");
        let at = now_ms();
        let mut events = Vec::new();
        let head = self.db.write(|tx| {
            for l in &leavers {
                if !NOT_IN_SCHOOL.contains(&l.destination.as_str()) {
                    continue;
                }
                report.not_in_school += 1;
                let Some(d) = &l.details else {
                    report.without_details += 1;
                    continue;
                };
                if d.dob.and_then(|dob| SchoolAgeRules::default().csa_end(dob)).is_some_and(|end| end < today) {
                    report.past_school_age += 1;
                    continue;
                }
                let content = EntryContent {
                    given_name: d.forename.clone().unwrap_or_default(),
                    middle_names: d.middle_names.clone(),
                    family_name: d.surname.clone().unwrap_or_default(),
                    dob: d.dob.map(|d| d.to_string()).unwrap_or_default(),
                    sex: Some(d.sex.code().to_string()).filter(|s| s == "M" || s == "F"),
                    address: d.address.clone(),
                    postcode: d.postcode.clone().filter(|p| Postcode::parse(p).is_ok()),
                    upn: d.upn.map(|u| u.to_string()),
                    previous_school: l.laestab.map(|s| s.to_string()),
                    reason_not_in_school: Some(
                        cnis_core::records::Destination::from_name(&l.destination)
                            .map_or(l.destination.clone(), |x| x.label().to_string()),
                    ),
                    known_on: Some(today.to_string()),
                    ..EntryContent::default()
                };
                let Ok(content) = validate(content, today) else {
                    report.without_details += 1;
                    continue;
                };
                let child = l.child_id.unwrap_or_else(|| ChildId::random(&mut rand::rng()));
                let change = Change { by: actor.user_id, reason: &reason, at };
                match reg::insert_entry(
                    tx,
                    council,
                    child,
                    EntryStatus::Draft,
                    EntrySource::TrackingRun,
                    &content,
                    change,
                ) {
                    Ok(e) => {
                        let restricted = RestrictedContent {
                            sen: match l.sen.as_str() {
                                "E" => Some("ehc_plan".into()),
                                "K" => Some("sen_support".into()),
                                _ => None,
                            },
                            child_protection_enquiry: l.social_care.as_deref().map(|s| s == "S47"),
                            child_protection_plan: l.social_care.as_deref().map(|s| s == "CPP"),
                            looked_after: l.social_care.as_deref().map(|s| s == "CLA"),
                            child_in_need: l.social_care.as_deref().map(|s| s == "CIN"),
                            ..RestrictedContent::default()
                        };
                        if !restricted.is_empty() {
                            reg::set_restricted(tx, &e, &restricted, change)?;
                        }
                        report.drafts += 1;
                        events.push(self.event(
                            actor,
                            "entry.create",
                            "ok",
                            vec![e.child_id],
                            serde_json::json!({ "entry": e.id, "run": run }),
                        ));
                    }
                    Err(cnis_store::Error::Duplicate(_)) => report.already_on_register += 1,
                    Err(e) => return Err(e),
                }
            }
            audit::append(tx, &events)
        })?;
        self.audit.advance(&head);
        Ok(report)
    }
}

impl Service {
    /// One entry of the actor's council, for editing. Audited as a read
    /// of the child.
    pub fn entry(&self, actor: &Actor, id: i64) -> Result<EntryView> {
        require(actor, Permission::ReadChild)?;
        scope(actor)?;
        let e = self.db.read(|tx| self.own_entry(actor, tx, id))?;
        let Some(e) = e else {
            self.audit.record(self.event(
                actor,
                "entry.read",
                "refused",
                vec![],
                serde_json::json!({ "entry": id }),
            ))?;
            return Err(ServiceError::NotFound("No entry with that id on your council's register"));
        };
        self.audit.record(self.event(
            actor,
            "entry.read",
            "ok",
            vec![e.child_id.clone()],
            serde_json::json!({ "entry": id }),
        ))?;
        let name = self.council_name(&e.council);
        Ok(self.view(e, name))
    }
}
