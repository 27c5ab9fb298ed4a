//! Casework: schools' deletion notices and the missing-education and
//! home-education cases they open, with enquiries, key workers, deadlines
//! in school or calendar days, and closing.
//!
//! A school user submits a notice for their own school only. The notice
//! goes to the council that maintains the school's LAESTAB (its first three
//! digits); where the child lives is not known to the service (no postcode
//! to council table), so a notice never goes to another council on its own.
//! The notice is matched to a child: by UPN exactly, else by name and date
//! of birth against the council's register through the linkage engine's
//! comparisons (at or above the lookup floor), else a new child id. A notice
//! whose ground or destination leaves the child's education unknown opens a
//! missing-education case, one on the home-education ground a
//! home-education case ([`cnis_core::casework::case_for_notice`]), joining
//! the child's open case of that kind if there is one; such a notice also
//! puts the child on the register as a draft if they are not on it. The
//! case's first deadline is a setting, counted by the school's term dates,
//! else the council's, else (and then marked approximate) weekdays that
//! are not bank holidays.

use chrono::NaiveDate;
use cnis_core::calendar::{Period, SchoolCalendar};
use cnis_core::casework::{
    CareEpisode, CaseContent, CaseKind, CaseOutcome, CaseSource, CaseStatus, DeletionNotice, DestinationKind, Enquiry,
    HeStage, HeStep, at_risk_at_home, case_for_notice, relevant_child,
};
use cnis_core::records::{DeletionGround, GroundText};
use cnis_core::register::{EntryContent, EntrySource, EntryStatus, Parent, Role};
use cnis_core::{ChildId, LaCode, Postcode, Upn};
use cnis_store::cases::{self as cs, CaseUpdate, NewCase, NewNotice};
pub use cnis_store::cases::{
    Case, CaseFilter, CaseHistoryRow, ConsentRequest, Handover, OutboxMessage, StoredNotice, Task,
};
use cnis_store::register::{self as reg, Change, now_ms};
use serde::{Deserialize, Serialize};

use super::entries::{Page, reason_text, today};
use super::search::{SearchRequest, best_match};
use super::{Actor, FieldError, Permission, Result, Service, ServiceError, require, scope};

/// How a notice found its child.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum ChildMatch {
    /// The UPN was already known.
    Upn,
    /// By name and date of birth, with this probability.
    Details {
        /// Match probability.
        probability: f64,
    },
    /// An earlier case of the council's for a child not on its register:
    /// the same date of birth, and names that sound alike.
    Case,
    /// Not found: a new child id.
    New,
}

/// What submitting a notice did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticeReceipt {
    /// The notice as stored.
    pub notice: StoredNotice,
    /// How its child was found.
    pub matched: ChildMatch,
    /// The case it opened or joined, if any (not shown to a school).
    pub case_id: Option<i64>,
    /// Whether it opened a new case.
    pub case_opened: bool,
    /// The case's kind.
    pub case_kind: Option<CaseKind>,
    /// The draft register entry it made, if the child was not on the
    /// register.
    pub draft_entry_id: Option<i64>,
}

impl NoticeReceipt {
    /// What the school that sent the notice is told: its notice and
    /// whether a case is open, not the child id or how the child was found.
    pub fn for_school(&self) -> NoticeSummary {
        let n = &self.notice;
        NoticeSummary {
            id: n.id,
            school: n.school.clone(),
            submitted_at: n.submitted_at,
            deletion_date: n.deletion_date,
            ground: n.ground.clone(),
            meaning: n.meaning.clone(),
            given_name: n.content.given_name.clone(),
            family_name: n.content.family_name.clone(),
            child_id: None,
            case_kind: self.case_kind,
            case_status: self.case_id.map(|_| CaseStatus::Open),
        }
    }
}

/// A case with its history, for its page.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseView {
    /// The case.
    pub case: Case,
    /// Whether it is past its deadline today.
    pub overdue: bool,
    /// Every change, oldest first.
    pub history: Vec<CaseHistoryRow>,
    /// The notices about the child that the council received.
    pub notices: Vec<StoredNotice>,
    /// The case's tasks, in the order set.
    pub tasks: Vec<cs::Task>,
}

/// A task to set on a case.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// What is to be done.
    pub title: String,
    /// By when (`YYYY-MM-DD`), if by a date.
    #[serde(default)]
    pub due_on: Option<String>,
    /// Who is to do it: a caseworker or team manager of the council
    /// (account id); the key worker, or nobody, when left out.
    #[serde(default)]
    pub assigned_to: Option<i64>,
}

/// Marking a task done.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteTask {
    /// What was done.
    pub note: String,
}

/// An enquiry to record.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEnquiry {
    /// The case's version the caseworker saw.
    pub version: i64,
    /// The enquiry.
    pub enquiry: Enquiry,
}

/// A step of a home-education case, from the version seen.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewHeStep {
    /// The case's version the caseworker saw.
    pub version: i64,
    /// The step.
    pub step: HeStep,
}

/// How a case is closed.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CloseCase {
    /// The case's version the caseworker saw.
    pub version: i64,
    /// The outcome.
    pub outcome: CaseOutcome,
    /// The day the child was found, if they were (`YYYY-MM-DD`).
    #[serde(default)]
    pub located_on: Option<String>,
    /// Why, in the caseworker's words.
    pub note: String,
}

/// A case's key worker to set.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignCase {
    /// The case's version the caseworker saw.
    pub version: i64,
    /// The key worker's account id (a caseworker or team manager of the
    /// council), or none.
    pub key_worker: Option<i64>,
}

/// A calendar as loaded, in brief.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarSummary {
    /// The school (LAESTAB), or none for the council's own.
    pub school: Option<String>,
    /// Terms.
    pub terms: usize,
    /// Closure days.
    pub closures: usize,
    /// First day.
    pub first_day: Option<NaiveDate>,
    /// Last day.
    pub last_day: Option<NaiveDate>,
}

fn field(f: &str, m: &str) -> FieldError {
    FieldError { field: f.into(), message: m.into() }
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// The line a record starts on, from its byte offset. The csv reader's own
/// line count is one short after a `\r\n` ending, as spreadsheets on
/// Windows write; counting `\n` before the record's first byte is right
/// for both endings. Offsets only move forward, so the file is read once.
struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl LineCounter<'_> {
    fn at(&mut self, byte: u64) -> u64 {
        let mut b = usize::try_from(byte).unwrap_or(usize::MAX).min(self.text.len());
        while b < self.text.len() && matches!(self.text[b], b'\r' | b'\n') {
            b += 1;
        }
        if b > self.at {
            self.line += self.text[self.at..b].iter().filter(|&&c| c == b'\n').count() as u64;
            self.at = b;
        }
        self.line
    }
}

/// A date as a spreadsheet saved in England writes it (`27/11/2026`) as
/// `YYYY-MM-DD`; anything else as it was, for the check to name.
fn iso_date(s: String) -> String {
    match NaiveDate::parse_from_str(s.trim(), "%d/%m/%Y") {
        Ok(d) => d.to_string(),
        Err(_) => s,
    }
}

fn laestab(s: &str) -> bool {
    s.len() == 7 && s.bytes().all(|b| b.is_ascii_digit())
}

fn text_ok(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// A checked notice: its school's council, date and ground.
struct CheckedNotice {
    notice: DeletionNotice,
    council: LaCode,
    deletion_date: NaiveDate,
    ground: DeletionGround,
}

fn check_notice(mut n: DeletionNotice, actor: &Actor, today: NaiveDate) -> Result<CheckedNotice> {
    let mut errors = Vec::new();
    n.school = n.school.trim().to_string();
    if n.school.is_empty()
        && let Some(own) = &actor.school
    {
        n.school = own.clone();
    }
    if !laestab(&n.school) {
        errors.push(field("school", "Enter the school's seven-digit LAESTAB number"));
    } else if actor.school.as_deref() != Some(n.school.as_str()) {
        return Err(ServiceError::Forbidden("a school submits notices for its own school only"));
    }
    let council = LaCode::parse(n.school.get(..3).unwrap_or("")).ok();
    if laestab(&n.school) && council.is_none() {
        errors.push(field("school", "The LAESTAB's first three digits are not a council's code"));
    }
    let deletion_date = date(&n.deletion_date);
    match deletion_date {
        None => errors.push(field("deletion_date", "Enter the date of deletion as YYYY-MM-DD")),
        Some(d) if d > today => errors.push(field("deletion_date", "The date of deletion cannot be in the future")),
        Some(d) if (today - d).num_days() > 366 => {
            errors.push(field("deletion_date", "The date of deletion must be within the last year"))
        }
        Some(_) => {}
    }
    let ground = GroundText::parse(&n.ground).and_then(|t| DeletionGround::resolve(t, None, deletion_date));
    if ground.is_none() {
        errors.push(field("ground", "Enter the ground for deletion, as 9(1)(i) or the letter (a to o)"));
    }
    for (f, v) in [("given_name", &mut n.given_name), ("family_name", &mut n.family_name)] {
        *v = v.trim().to_string();
        if v.is_empty() || !text_ok(v, 100) {
            errors.push(field(f, "Enter the name, up to 100 characters"));
        }
    }
    match date(&n.dob) {
        None => errors.push(field("dob", "Enter the date of birth as YYYY-MM-DD")),
        Some(dob) => {
            let age = deletion_date.map(|d| (d - dob).num_days() / 365);
            if age.is_some_and(|a| !(2..=20).contains(&a)) {
                errors.push(field("dob", "The date of birth does not fit a pupil on the date of deletion"));
            }
            n.dob = dob.to_string();
        }
    }
    if let Some(u) = n.upn.as_mut() {
        *u = u.trim().to_ascii_uppercase();
        if u.is_empty() {
            n.upn = None;
        } else if Upn::parse(u).is_err() {
            errors.push(field("upn", "This is not a valid UPN: check the letter at the start"));
        }
    }
    if let Some(p) = n.postcode.as_ref() {
        if p.trim().is_empty() {
            n.postcode = None;
        } else {
            match Postcode::parse(p) {
                Ok(pc) => n.postcode = Some(pc.to_string()),
                Err(_) => errors.push(field("postcode", "Enter a postcode in England, like SW1A 1AA")),
            }
        }
    }
    if n.address.as_deref().is_some_and(|a| !text_ok(a, 300)) {
        errors.push(field("address", "Up to 300 characters"));
    }
    if n.sex.as_deref().is_some_and(|s| !matches!(s.trim(), "" | "M" | "F")) {
        errors.push(field("sex", "M or F, as the census records it"));
    }
    if n.parents.len() > 4 {
        errors.push(field("parents", "Up to 4 parents"));
    }
    for (i, p) in n.parents.iter().enumerate() {
        if p.name.trim().is_empty() || !text_ok(&p.name, 100) {
            errors.push(field(&format!("parents[{i}].name"), "Enter the parent's name, up to 100 characters"));
        }
        if p.address.as_deref().is_some_and(|a| !text_ok(a, 300)) {
            errors.push(field(&format!("parents[{i}].address"), "Up to 300 characters"));
        }
        if p.telephone
            .as_deref()
            .is_some_and(|t| t.chars().count() > 30 || !t.chars().all(|c| c.is_ascii_digit() || " +()-".contains(c)))
        {
            errors.push(field(&format!("parents[{i}].telephone"), "Enter a telephone number using digits"));
        }
    }
    if let Some(d) = &n.destination {
        match d.kind {
            DestinationKind::OtherSchool if !d.school.as_deref().is_some_and(laestab) => {
                errors.push(field("destination.school", "Enter the new school's seven-digit LAESTAB number"))
            }
            DestinationKind::OtherCouncil if d.council.as_deref().is_none_or(|c| LaCode::parse(c).is_err()) => {
                errors.push(field("destination.council", "Enter the new council's three-digit code"))
            }
            _ => {}
        }
        if d.start_date.as_deref().is_some_and(|s| !s.is_empty() && date(s).is_none()) {
            errors.push(field("destination.start_date", "Enter the start date as YYYY-MM-DD"));
        }
        if d.address.as_deref().is_some_and(|a| !text_ok(a, 300)) {
            errors.push(field("destination.address", "Up to 300 characters"));
        }
    }
    if n.notes.as_deref().is_some_and(|t| t.chars().count() > 2000) {
        errors.push(field("notes", "Up to 2,000 characters"));
    }
    if let Some(sen) = n.sen.as_mut() {
        *sen = sen.trim().to_ascii_uppercase();
        if sen.is_empty() {
            n.sen = None;
        } else if !matches!(sen.as_str(), "N" | "K" | "E") {
            errors.push(field("sen", "N (none), K (SEN support) or E (an EHC plan), as the census records it"));
        }
    }
    if n.absence_percent.is_some_and(|a| !(0.0..=100.0).contains(&a) || a.is_nan()) {
        errors.push(field("absence_percent", "Give the absence as a percentage from 0 to 100"));
    }
    match (errors.is_empty(), council, deletion_date, ground) {
        (true, Some(council), Some(deletion_date), Some(ground)) => {
            Ok(CheckedNotice { notice: n, council, deletion_date, ground })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// A school user's school (LAESTAB) and the council it is in.
fn school_of(actor: &Actor) -> Result<(String, LaCode)> {
    let school = actor.school.clone().ok_or(ServiceError::Forbidden("this account has no school"))?;
    let council = LaCode::parse(school.get(..3).unwrap_or(""))
        .map_err(|_| ServiceError::Forbidden("this account's school is not in a council"))?;
    Ok((school, council))
}

/// The child's open case of this kind on the council's register, or that
/// of a child merged with them: a notice or referral about one of a merged
/// group joins the group's case (the notice itself stays the child's its
/// details name).
fn open_case_of_group(
    tx: &mut cnis_store::db::Tx<'_>,
    council: LaCode,
    child_id: &str,
    kind: CaseKind,
) -> cnis_store::Result<Option<cs::Case>> {
    for c in cnis_store::identity::members(tx, &council.to_string(), child_id)? {
        if let Some(case) = cs::open_case(tx, council, &c, kind)? {
            return Ok(Some(case));
        }
    }
    Ok(None)
}

/// The child a notice or a question is about: by UPN exactly, else by
/// name and date of birth on the council's register, else a new child id.
fn find_child(
    tx: &mut cnis_store::db::Tx<'_>,
    council: LaCode,
    upn: Option<&str>,
    search: &SearchRequest,
    floor: f64,
) -> cnis_store::Result<(String, ChildMatch)> {
    if let Some(u) = upn
        && let Some(c) = cs::child_by_upn(tx, u)?
    {
        return Ok((c, ChildMatch::Upn));
    }
    if let Some((c, probability)) = best_match(tx, council, search, floor)? {
        return Ok((c, ChildMatch::Details { probability }));
    }
    // A child not on the register may have a case from an earlier notice
    // or report: the same date of birth and names that sound alike.
    let key = |s: &Option<String>| s.as_deref().and_then(cnis_core::names::soundex);
    if let Some(dob) = search.dob.as_deref()
        && let (Some(g), Some(f)) = (key(&search.given_name), key(&search.family_name))
    {
        for c in cs::cases_born_on(tx, council, dob)? {
            let (cg, cf) =
                (cnis_core::names::soundex(&c.content.given_name), cnis_core::names::soundex(&c.content.family_name));
            if cg.as_deref() == Some(g.as_str()) && cf.as_deref() == Some(f.as_str()) {
                return Ok((c.child_id, ChildMatch::Case));
            }
        }
    }
    Ok((ChildId::random(&mut rand::rng()).to_string(), ChildMatch::New))
}

/// What the key worker must see at once about a child leaving a roll.
fn flags_for(
    tx: &mut cnis_store::db::Tx<'_>,
    council: LaCode,
    child_id: &str,
    school: &str,
    kind: CaseKind,
    on: NaiveDate,
) -> cnis_store::Result<Vec<String>> {
    let care = cs::care(tx, council, child_id)?;
    let mut flags = Vec::new();
    if kind == CaseKind::HomeEducation {
        let asked = cs::consent_for_child(tx, council, child_id)?;
        let special = asked.iter().any(|r| r.school == school && r.special_school);
        let grounds = relevant_child(special, &care, on);
        let consented = asked.iter().any(|r| r.consent == Some(true));
        if !grounds.is_empty() && !consented {
            let why: Vec<&str> = grounds.iter().map(|g| g.label()).collect();
            flags.push(format!(
                "Withdrawn to home education without the council's consent, which the law requires: {}",
                why.join("; ")
            ));
        }
    }
    if at_risk_at_home(&care, on) {
        flags.push("The child's social worker records them as at risk of harm at home".into());
    }
    Ok(flags)
}

/// The register entry a notice's child gets as a draft.
fn draft_content(n: &DeletionNotice, kind: CaseKind, ground: DeletionGround) -> EntryContent {
    EntryContent {
        given_name: n.given_name.clone(),
        family_name: n.family_name.clone(),
        dob: n.dob.clone(),
        sex: n.sex.clone().filter(|s| !s.trim().is_empty()),
        address: n.address.clone(),
        postcode: n.postcode.clone(),
        upn: n.upn.clone(),
        parents: n
            .parents
            .iter()
            .map(|p| Parent { name: p.name.clone(), address: p.address.clone(), ..Parent::default() })
            .collect(),
        previous_school: Some(n.school.clone()),
        reason_not_in_school: Some(format!("{} (deletion ground {ground})", kind.label())),
        known_on: Some(today().to_string()),
        ..EntryContent::default()
    }
}

impl Service {
    /// The deadline `period` after `from` for a school (its own term dates,
    /// else the council's, else weekdays less bank holidays).
    fn deadline(
        &self,
        tx: &mut cnis_store::db::Tx<'_>,
        council: LaCode,
        school: Option<&str>,
        period: Period,
        from: NaiveDate,
    ) -> cnis_store::Result<(Option<NaiveDate>, bool)> {
        let calendar = cs::calendar(tx, council, school)?.unwrap_or_default();
        Ok(match period.deadline(from, &calendar) {
            Some(d) => (Some(d.due), d.approximate),
            // The term dates end first: count without them, and say so.
            None => match period.deadline(from, &SchoolCalendar::default()) {
                Some(d) => (Some(d.due), true),
                None => (None, true),
            },
        })
    }

    /// A school's notice that it deleted a pupil from its admission
    /// register. Audited; see the module's notes for what it opens.
    pub fn submit_notice(&self, actor: &Actor, notice: DeletionNotice) -> Result<NoticeReceipt> {
        require(actor, Permission::SubmitNotices)?;
        let today = today();
        let CheckedNotice { notice, council, deletion_date, ground } = check_notice(notice, actor, today)?;
        let meaning = ground.meaning();
        let kind = case_for_notice(meaning, notice.destination.as_ref().map(|d| d.kind));
        let at = now_ms();
        let ground_text = ground.to_string();
        let search = SearchRequest {
            given_name: Some(notice.given_name.clone()),
            family_name: Some(notice.family_name.clone()),
            dob: Some(notice.dob.clone()),
            postcode: notice.postcode.clone(),
            sex: notice.sex.clone().filter(|s| !s.trim().is_empty()),
            ..SearchRequest::default()
        };
        let floor = self.config.lookup_floor;
        let receipt = self.write_audited(|tx| {
            let (child_id, matched) = find_child(tx, council, notice.upn.as_deref(), &search, floor)?;
            let change = Change { by: actor.user_id, reason: "deletion notice from the school", at };
            let mut case_id = None;
            let mut case_opened = false;
            let mut draft_entry_id = None;
            if let Some(kind) = kind {
                match open_case_of_group(tx, council, &child_id, kind)? {
                    Some(c) => case_id = Some(c.id),
                    None => {
                        let period = match kind {
                            CaseKind::MissingEducation => self.config.missing_education_deadline,
                            CaseKind::HomeEducation => self.config.home_education_deadline,
                        };
                        let (due_on, approximate) = self.deadline(tx, council, Some(&notice.school), period, today)?;
                        let flags = flags_for(tx, council, &child_id, &notice.school, kind, deletion_date)?;
                        if !flags.is_empty() {
                            cs::queue(
                                tx,
                                council,
                                "council",
                                "case.flagged",
                                Some(&child_id),
                                &serde_json::json!({ "flags": flags }),
                                at,
                            )?;
                        }
                        let content = CaseContent {
                            flags,
                            given_name: notice.given_name.clone(),
                            family_name: notice.family_name.clone(),
                            dob: notice.dob.clone(),
                            summary: format!(
                                "Deleted from school {} on {deletion_date} on ground {ground_text}: {}",
                                notice.school,
                                meaning.describe()
                            ),
                            deadline_rule: Some(period),
                            deadline_approximate: approximate,
                            ..CaseContent::default()
                        };
                        let new = NewCase {
                            council,
                            child_id: &child_id,
                            kind,
                            source: CaseSource::DeletionNotice,
                            key_worker: None,
                            opened_on: today,
                            due_on,
                            content: &content,
                        };
                        case_id = Some(cs::insert_case(tx, &new, change)?.id);
                        case_opened = true;
                    }
                }
                let on_register = reg::entries_for_child(tx, &child_id)?
                    .iter()
                    .any(|e| e.council == council.to_string() && e.status != EntryStatus::Left);
                if !on_register {
                    let child = ChildId::parse(&child_id)
                        .map_err(|_| cnis_store::Error::Corrupt { table: "deletion_notices", what: "child id" })?;
                    let content = draft_content(&notice, kind, ground);
                    let e = reg::insert_entry(
                        tx,
                        council,
                        child,
                        EntryStatus::Draft,
                        EntrySource::DeletionNotice,
                        &content,
                        change,
                    )?;
                    draft_entry_id = Some(e.id);
                }
            }
            let stored = cs::insert_notice(
                tx,
                &NewNotice {
                    council,
                    school: &notice.school,
                    deletion_date,
                    ground: &ground_text,
                    meaning: meaning.name(),
                    child_id: &child_id,
                    match_weight: match matched {
                        ChildMatch::Details { probability } => Some(probability),
                        _ => None,
                    },
                    case_id,
                    content: &notice,
                },
                actor.user_id,
                at,
            )?;
            if let Some(id) = case_id {
                // The case names its notice (the first one, if it joined).
                if let Some(c) = cs::case(tx, id)?
                    && c.content.notice_id.is_none()
                {
                    let mut u = CaseUpdate::from_case(&c);
                    u.content.notice_id = Some(stored.id);
                    cs::update_case(tx, id, c.version, &u, "notice", change)?;
                }
            }
            let event = self.event(
                actor,
                "notice.submit",
                "ok",
                vec![child_id.clone()],
                serde_json::json!({ "notice": stored.id, "case": case_id, "opened": case_opened }),
            );
            let receipt =
                NoticeReceipt { notice: stored, matched, case_id, case_opened, case_kind: kind, draft_entry_id };
            Ok((receipt, event))
        })?;
        Ok(receipt)
    }

    /// Notices: a school's own (what it sent and what became of it), or a
    /// council's. Audited.
    pub fn notices(&self, actor: &Actor, page: i64, per_page: i64) -> Result<Page<NoticeSummary>> {
        let (council, school) = match actor.role {
            cnis_core::register::Role::School => {
                require(actor, Permission::SubmitNotices)?;
                (None, Some(actor.school.clone().ok_or(ServiceError::Forbidden("this account has no school"))?))
            }
            _ => {
                require(actor, Permission::WorkCases)?;
                (Some(scope(actor)?), None)
            }
        };
        let (page, per_page) = (page.max(1), per_page.clamp(1, 200));
        let (rows, total) = self.db.read(|tx| {
            let total = cs::count_notices(tx, council, school.as_deref())?;
            let notices = cs::notices(tx, council, school.as_deref(), per_page, (page - 1).saturating_mul(per_page))?;
            let mut out = Vec::with_capacity(notices.len());
            for n in notices {
                let case = match n.case_id {
                    Some(id) => cs::case(tx, id)?,
                    None => None,
                };
                out.push(NoticeSummary {
                    id: n.id,
                    school: n.school,
                    submitted_at: n.submitted_at,
                    deletion_date: n.deletion_date,
                    ground: n.ground,
                    meaning: n.meaning,
                    given_name: n.content.given_name,
                    family_name: n.content.family_name,
                    child_id: council.is_some().then_some(n.child_id),
                    case_kind: case.as_ref().map(|c| c.kind),
                    case_status: case.as_ref().map(|c| c.status),
                });
            }
            Ok((out, total))
        })?;
        let subjects =
            if council.is_some() { rows.iter().filter_map(|r| r.child_id.clone()).collect() } else { vec![] };
        self.audit.record(self.event(actor, "notice.list", "ok", subjects, serde_json::json!({ "page": page })))?;
        Ok(Page { items: rows, total, page, per_page })
    }

    /// A case the actor's council holds, or one being handed over to it
    /// (which it may read, not change).
    fn visible_case(&self, actor: &Actor, tx: &mut cnis_store::db::Tx<'_>, id: i64) -> cnis_store::Result<Case> {
        let council = actor.council.map(|c| c.to_string());
        let Some(c) = cs::case(tx, id)? else { return Err(cnis_store::Error::NotFound("case")) };
        if Some(&c.council) == council.as_ref() {
            return Ok(c);
        }
        let offered = cs::pending_handovers(tx, &c.child_id)?
            .iter()
            .any(|h| h.case_id == Some(id) && Some(&h.to_council) == council.as_ref());
        if offered { Ok(c) } else { Err(cnis_store::Error::NotFound("case")) }
    }

    fn own_case(&self, actor: &Actor, tx: &mut cnis_store::db::Tx<'_>, id: i64) -> cnis_store::Result<Case> {
        let council = actor.council.map(|c| c.to_string());
        cs::case(tx, id)?.filter(|c| Some(&c.council) == council.as_ref()).ok_or(cnis_store::Error::NotFound("case"))
    }

    /// The council's cases, soonest deadline first. Audited.
    pub fn cases(&self, actor: &Actor, filter: &CaseFilter, page: i64, per_page: i64) -> Result<Page<Case>> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?;
        let (page, per_page) = (page.max(1), per_page.clamp(1, 200));
        let (items, total) =
            self.db.read(|tx| cs::list_cases(tx, council, filter, per_page, (page - 1).saturating_mul(per_page)))?;
        let subjects = items.iter().map(|c| c.child_id.clone()).collect();
        self.audit.record(self.event(actor, "case.list", "ok", subjects, serde_json::json!({ "page": page })))?;
        Ok(Page { items, total, page, per_page })
    }

    /// A case of the actor's council, with its history. Audited.
    pub fn case(&self, actor: &Actor, id: i64) -> Result<CaseView> {
        require(actor, Permission::WorkCases)?;
        scope(actor)?;
        let found = self.db.read(|tx| {
            let case = self.visible_case(actor, tx, id)?;
            let history = cs::case_history(tx, id)?;
            let notices =
                cs::notices_for_child(tx, &case.child_id)?.into_iter().filter(|n| n.council == case.council).collect();
            let tasks = cs::tasks_for_case(tx, id)?;
            Ok((case, history, notices, tasks))
        });
        let (case, history, notices, tasks) = match found {
            Ok(v) => v,
            Err(e) => {
                self.audit.record(self.event(
                    actor,
                    "case.read",
                    "refused",
                    vec![],
                    serde_json::json!({ "case": id }),
                ))?;
                return Err(ServiceError::from_store(e));
            }
        };
        self.audit.record(self.event(
            actor,
            "case.read",
            "ok",
            vec![case.child_id.clone()],
            serde_json::json!({ "case": id }),
        ))?;
        let overdue = case.status == CaseStatus::Open && case.due_on.is_some_and(|d| d < today());
        Ok(CaseView { case, overdue, history, notices, tasks })
    }

    fn change_case(
        &self,
        actor: &Actor,
        id: i64,
        version: i64,
        action: &str,
        reason: &str,
        f: impl FnOnce(&Case, &mut CaseUpdate) -> Result<()>,
    ) -> Result<Case> {
        require(actor, Permission::WorkCases)?;
        scope(actor)?;
        let at = now_ms();
        let mut refused = None;
        let case = self.write_audited(|tx| {
            let c = self.own_case(actor, tx, id)?;
            let mut u = CaseUpdate::from_case(&c);
            if let Err(e) = f(&c, &mut u) {
                refused = Some(e);
                return Err(cnis_store::Error::Duplicate("change refused"));
            }
            let change = Change { by: actor.user_id, reason, at };
            let after = cs::update_case(tx, id, version, &u, action, change)?;
            let event = self.event(
                actor,
                &format!("case.{action}"),
                "ok",
                vec![after.child_id.clone()],
                serde_json::json!({ "case": id, "version": after.version }),
            );
            Ok((after, event))
        });
        match (case, refused) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    }

    /// Records an enquiry made in an open case.
    pub fn record_enquiry(&self, actor: &Actor, id: i64, new: NewEnquiry) -> Result<Case> {
        let mut e = new.enquiry;
        let mut errors = Vec::new();
        match date(&e.made_on) {
            Some(d) if d <= today() => e.made_on = d.to_string(),
            _ => {
                errors.push(field("enquiry.made_on", "Enter the date of the enquiry as YYYY-MM-DD, not in the future"))
            }
        }
        e.outcome = e.outcome.trim().to_string();
        if e.outcome.is_empty() || e.outcome.chars().count() > 2000 {
            errors.push(field("enquiry.outcome", "Say what the enquiry found, up to 2,000 characters"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        e.recorded_by = actor.user_id;
        let made_on = e.made_on.clone();
        self.change_case(actor, id, new.version, "enquiry", "enquiry recorded", move |c, u| {
            if c.status != CaseStatus::Open {
                return Err(ServiceError::Conflict("the case is closed".into()));
            }
            if e.located && u.content.located_on.is_none() {
                u.content.located_on = Some(made_on);
            }
            u.content.enquiries.push(e);
            Ok(())
        })
    }

    /// Takes a referral of a child who may be missing education from
    /// another agency, a member of the public or a parent: the child is
    /// found as a notice's would be (UPN, then name and date of birth on the
    /// register, then an earlier case), their open missing-education case
    /// takes it or a new one opens with the first deadline, and a child not
    /// on the register is put on it as a draft. Audited.
    pub fn refer_child(&self, actor: &Actor, r: Referral) -> Result<ReferralReceipt> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?;
        let today = today();
        let mut errors = Vec::new();
        let source = match r.source {
            Some(s @ (CaseSource::OtherAgency | CaseSource::Public | CaseSource::Parent)) => Some(s),
            _ => {
                errors.push(field("source", "Say who referred: another agency, a member of the public or a parent"));
                None
            }
        };
        if r.referrer.trim().is_empty() || !text_ok(&r.referrer, 200) {
            errors.push(field("referrer", "Say who referred the child, up to 200 characters"));
        }
        for (f, v) in [("given_name", &r.given_name), ("family_name", &r.family_name)] {
            if v.trim().is_empty() || !text_ok(v, 100) {
                errors.push(field(f, "Enter the name, up to 100 characters"));
            }
        }
        match date(&r.dob) {
            Some(d) if d < today => {}
            _ => errors.push(field("dob", "Enter the date of birth as YYYY-MM-DD")),
        }
        let upn = r.upn.as_deref().map(|u| u.trim().to_ascii_uppercase()).filter(|u| !u.is_empty());
        if upn.as_deref().is_some_and(|u| Upn::parse(u).is_err()) {
            errors.push(field("upn", "This is not a valid UPN: check the letter at the start"));
        }
        let postcode = r.postcode.as_deref().map(str::trim).filter(|p| !p.is_empty());
        if postcode.is_some_and(|p| Postcode::parse(p).is_err()) {
            errors.push(field("postcode", "Enter a real postcode, or leave it out"));
        }
        if r.summary.trim().is_empty() || r.summary.chars().count() > 2000 {
            errors.push(field("summary", "Say what the referrer told you, up to 2,000 characters"));
        }
        let Some(source) = source.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        let search = SearchRequest {
            given_name: Some(r.given_name.trim().to_string()),
            family_name: Some(r.family_name.trim().to_string()),
            dob: Some(r.dob.trim().to_string()),
            postcode: postcode.map(str::to_string),
            ..SearchRequest::default()
        };
        let floor = self.config.lookup_floor;
        let period = self.config.missing_education_deadline;
        let at = now_ms();
        let summary = format!("Referred by {} ({}): {}", r.referrer.trim(), source.label(), r.summary.trim());
        self.write_audited(|tx| {
            let (child_id, matched) = find_child(tx, council, upn.as_deref(), &search, floor)?;
            let change = Change { by: actor.user_id, reason: "referral", at };
            let (case_id, case_opened) = match open_case_of_group(tx, council, &child_id, CaseKind::MissingEducation)? {
                Some(c) => {
                    let mut u = CaseUpdate::from_case(&c);
                    u.content.summary.push_str(&format!(" {summary}"));
                    cs::update_case(tx, c.id, c.version, &u, "referral", change)?;
                    (c.id, false)
                }
                None => {
                    let (due_on, approximate) = self.deadline(tx, council, None, period, today)?;
                    let flags = flags_for(tx, council, &child_id, "", CaseKind::MissingEducation, today)?;
                    let content = CaseContent {
                        given_name: r.given_name.trim().to_string(),
                        family_name: r.family_name.trim().to_string(),
                        dob: r.dob.trim().to_string(),
                        summary: summary.clone(),
                        deadline_rule: Some(period),
                        deadline_approximate: approximate,
                        flags,
                        ..CaseContent::default()
                    };
                    let new = NewCase {
                        council,
                        child_id: &child_id,
                        kind: CaseKind::MissingEducation,
                        source,
                        key_worker: None,
                        opened_on: today,
                        due_on,
                        content: &content,
                    };
                    (cs::insert_case(tx, &new, change)?.id, true)
                }
            };
            let on_register = reg::entries_for_child(tx, &child_id)?
                .iter()
                .any(|e| e.council == council.to_string() && e.status != EntryStatus::Left);
            let mut draft_entry_id = None;
            if !on_register {
                let child = ChildId::parse(&child_id)
                    .map_err(|_| cnis_store::Error::Corrupt { table: "cases", what: "child id" })?;
                let content = EntryContent {
                    given_name: r.given_name.trim().to_string(),
                    family_name: r.family_name.trim().to_string(),
                    dob: r.dob.trim().to_string(),
                    upn: upn.clone(),
                    address: r.address.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string),
                    postcode: postcode.map(str::to_string),
                    reason_not_in_school: Some("Referred as possibly missing education".into()),
                    known_on: Some(today.to_string()),
                    ..EntryContent::default()
                };
                let e = reg::insert_entry(
                    tx,
                    council,
                    child,
                    EntryStatus::Draft,
                    EntrySource::OtherAgency,
                    &content,
                    change,
                )?;
                draft_entry_id = Some(e.id);
            }
            let event = self.event(
                actor,
                "referral",
                "ok",
                vec![child_id.clone()],
                serde_json::json!({ "case": case_id, "opened": case_opened, "source": source }),
            );
            Ok((ReferralReceipt { child_id, matched, case_id, case_opened, draft_entry_id }, event))
        })
    }

    /// Sets a task on an open case of the council: what, by when, and for
    /// whom (a caseworker or team manager of the council; the key worker
    /// when left out). Audited.
    pub fn add_task(&self, actor: &Actor, case_id: i64, t: NewTask) -> Result<cs::Task> {
        require(actor, Permission::WorkCases)?;
        let scope_code = scope(actor)?;
        let council = scope_code.to_string();
        let mut errors = Vec::new();
        let title = t.title.trim().to_string();
        if title.is_empty() || !text_ok(&title, 200) {
            errors.push(field("title", "Say what is to be done, up to 200 characters"));
        }
        let due_on = t.due_on.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(date);
        if matches!(due_on, Some(None)) {
            errors.push(field("due_on", "Enter the date as YYYY-MM-DD, or leave it out"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let due_on = due_on.flatten();
        let at = now_ms();
        let mut refused = None;
        let task = self.write_audited(|tx| {
            let c = self.own_case(actor, tx, case_id)?;
            if c.status != CaseStatus::Open {
                refused = Some(ServiceError::Conflict("the case is closed".into()));
                return Err(cnis_store::Error::Duplicate("task"));
            }
            let assigned_to = t.assigned_to.or(c.key_worker);
            if let Some(u) = t.assigned_to {
                let ok = match reg::user_by_id(tx, u)? {
                    Some(x) => {
                        reg::user_acts_for(tx, &x, scope_code)?
                            && matches!(x.role, Role::Caseworker | Role::TeamManager)
                            && !x.disabled
                    }
                    None => false,
                };
                if !ok {
                    refused = Some(ServiceError::invalid(
                        "assigned_to",
                        "Choose a caseworker or team manager of your council",
                    ));
                    return Err(cnis_store::Error::Duplicate("task"));
                }
            }
            let new = cs::NewTask { case_id, council: &council, title: &title, due_on, assigned_to };
            let task = cs::insert_task(tx, new, actor.user_id, at)?;
            if let Some(u) = assigned_to.filter(|u| *u != actor.user_id) {
                let body = serde_json::json!({ "task": task.id, "case": case_id, "title": title, "due_on": due_on });
                cs::queue(tx, scope_code, &format!("user:{u}"), "task.set", Some(&c.child_id), &body, at)?;
            }
            let event = self.event(
                actor,
                "task.add",
                "ok",
                vec![c.child_id.clone()],
                serde_json::json!({ "case": case_id, "task": task.id }),
            );
            Ok((task, event))
        });
        match (task, refused) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    }

    /// Marks a task of the council done, with what was done. Audited.
    pub fn complete_task(&self, actor: &Actor, task_id: i64, done: CompleteTask) -> Result<cs::Task> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?.to_string();
        let note = done.note.trim().to_string();
        if note.is_empty() || !text_ok(&note, 2000) {
            return Err(ServiceError::invalid("note", "Say what was done, up to 2,000 characters"));
        }
        let at = now_ms();
        self.write_audited(|tx| {
            let t = cs::task(tx, task_id)?
                .filter(|t| t.council == council)
                .ok_or(cnis_store::Error::NotFound("task on your council's cases"))?;
            if t.done_at.is_some() {
                return Err(cnis_store::Error::Refused("This task is already done."));
            }
            let c = self.own_case(actor, tx, t.case_id)?;
            cs::task_event(tx, task_id, "done", actor.user_id, at, &note)?;
            let after = cs::task(tx, task_id)?.ok_or(cnis_store::Error::NotFound("task"))?;
            let event = self.event(
                actor,
                "task.done",
                "ok",
                vec![c.child_id.clone()],
                serde_json::json!({ "case": t.case_id, "task": task_id }),
            );
            Ok((after, event))
        })
    }

    /// The open tasks assigned to the actor, soonest first. Not a read of
    /// any child's record beyond the case numbers; audited.
    pub fn my_tasks(&self, actor: &Actor) -> Result<Vec<cs::Task>> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?.to_string();
        let out = self.db.read(|tx| cs::open_tasks_of(tx, &council, actor.user_id))?;
        self.audit.record(self.event(actor, "task.list", "ok", vec![], serde_json::json!({ "tasks": out.len() })))?;
        Ok(out)
    }

    /// Records a step of an open home-education case (the notification,
    /// enquiries, the home-visit request, the assessment, and the school
    /// attendance order's notices, order and revocation), in the law's
    /// order and periods ([`cnis_core::casework::check_he_step`]). A notice
    /// to satisfy sets the case's deadline to its date; a notice of
    /// intended school to the end of the parent's time to choose. The
    /// child's register entry in the council records the step in its
    /// history, so the two stay in step.
    pub fn record_he_step(&self, actor: &Actor, id: i64, new: NewHeStep) -> Result<Case> {
        require(actor, Permission::WorkCases)?;
        scope(actor)?;
        let mut step = new.step;
        step.note = step.note.trim().to_string();
        step.document = step.document.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        step.school = step.school.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        let mut errors = Vec::new();
        if step.on > today() {
            errors.push(field("step.on", "The date cannot be in the future"));
        }
        if step.note.chars().count() > 2000 || step.document.as_ref().is_some_and(|d| d.chars().count() > 200) {
            errors.push(field("step.note", "Keep the note to 2,000 characters and the document reference to 200"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        step.recorded_by = actor.user_id;
        let notice_days = self.config.notice_to_satisfy_days;
        let at = now_ms();
        let mut refused = None;
        let case = self.write_audited(|tx| {
            let c = self.own_case(actor, tx, id)?;
            let why = if c.kind != CaseKind::HomeEducation {
                Some(ServiceError::Conflict("only a home-education case has these steps".into()))
            } else if c.status != CaseStatus::Open {
                Some(ServiceError::Conflict("the case is closed".into()))
            } else if let Err((f, m)) = cnis_core::casework::check_he_step(&c.content.he_steps, &step, notice_days, 15)
            {
                Some(ServiceError::invalid(&format!("step.{f}"), m))
            } else {
                None
            };
            if let Some(e) = why {
                refused = Some(e);
                return Err(cnis_store::Error::Duplicate("change refused"));
            }
            let mut u = CaseUpdate::from_case(&c);
            match step.stage {
                HeStage::NoticeToSatisfy => u.due_on = step.satisfy_by,
                HeStage::NoticeOfIntendedSchool => u.due_on = Some(step.on + chrono::Days::new(15)),
                _ => {}
            }
            let label = step.stage.label();
            u.content.he_steps.push(step.clone());
            let reason = format!("home education: {}", label.to_lowercase());
            let change = Change { by: actor.user_id, reason: &reason, at };
            let after = cs::update_case(tx, id, new.version, &u, "he_step", change)?;
            if let Some(e) = reg::entries_for_child(tx, &c.child_id)?
                .into_iter()
                .find(|e| e.council == c.council && e.status.is_live())
            {
                let update = cnis_store::register::EntryUpdate {
                    status: e.status,
                    content: e.content.clone(),
                    left_on: e.left_on,
                    left_reason: e.left_reason,
                    retain_until: e.retain_until,
                };
                let action = format!("home education: {}", label.to_lowercase());
                reg::update_entry(tx, e.id, e.version, &update, &action, change)?;
            }
            let event = self.event(
                actor,
                "case.he_step",
                "ok",
                vec![after.child_id.clone()],
                serde_json::json!({ "case": id, "stage": step.stage, "version": after.version }),
            );
            Ok((after, event))
        });
        match (case, refused) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    }

    /// Names (or clears) a case's key worker: a caseworker or team manager
    /// of the council.
    pub fn assign_case(&self, actor: &Actor, id: i64, a: AssignCase) -> Result<Case> {
        require(actor, Permission::WorkCases)?;
        scope(actor)?;
        // Another council's case is not found before the key worker is looked at.
        self.db.read(|tx| self.own_case(actor, tx, id)).map_err(ServiceError::from_store)?;
        if let Some(k) = a.key_worker {
            let council = scope(actor)?;
            let ok = self.db.read(|tx| {
                let Some(u) = reg::user_by_id(tx, k)? else { return Ok(false) };
                Ok(reg::user_acts_for(tx, &u, council)?
                    && !u.disabled
                    && matches!(u.role, cnis_core::register::Role::Caseworker | cnis_core::register::Role::TeamManager))
            })?;
            if !ok {
                return Err(ServiceError::invalid("key_worker", "Choose a caseworker or team manager of your council"));
            }
        }
        self.change_case(actor, id, a.version, "key_worker", "key worker named", move |c, u| {
            if c.status != CaseStatus::Open {
                return Err(ServiceError::Conflict("the case is closed".into()));
            }
            u.key_worker = a.key_worker;
            Ok(())
        })
    }

    /// Closes a case with its outcome.
    pub fn close_case(&self, actor: &Actor, id: i64, close: CloseCase) -> Result<Case> {
        let note = reason_text(&close.note)?;
        let located = match close.located_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match date(s) {
                Some(d) if d <= today() => Some(d.to_string()),
                _ => return Err(ServiceError::invalid("located_on", "Enter a date as YYYY-MM-DD, not in the future")),
            },
        };
        let reason = note.clone();
        let handing_over = self.db.read(|tx| {
            let Some(c) = cs::case(tx, id)? else { return Ok(false) };
            Ok(cs::pending_handovers(tx, &c.child_id)?.iter().any(|h| h.case_id == Some(id)))
        })?;
        self.change_case(actor, id, close.version, "closed", &reason, move |c, u| {
            if c.status != CaseStatus::Open {
                return Err(ServiceError::Conflict("the case is already closed".into()));
            }
            if handing_over {
                return Err(ServiceError::Conflict(
                    "the case is being handed over: it cannot be closed until the receiving council acknowledges it"
                        .into(),
                ));
            }
            u.status = CaseStatus::Closed;
            u.closed_on = Some(today());
            u.outcome = Some(close.outcome);
            u.content.closing_note = Some(note);
            if located.is_some() {
                u.content.located_on = located;
            }
            Ok(())
        })
    }

    /// Loads term dates from a calendar file's text: the council's own, or
    /// one of its schools' where it differs. Team managers and council
    /// administrators.
    pub fn set_calendar(&self, actor: &Actor, school: Option<&str>, csv: &str) -> Result<CalendarSummary> {
        require(actor, Permission::ManageCalendar)?;
        let council = scope(actor)?;
        let school = school.map(str::trim).filter(|s| !s.is_empty());
        if let Some(s) = school
            && (!laestab(s) || !s.starts_with(&council.to_string()))
        {
            return Err(ServiceError::invalid("school", "Enter the LAESTAB of one of your council's schools"));
        }
        let cal = SchoolCalendar::parse_csv(csv).map_err(|e| {
            ServiceError::Invalid(vec![field(
                &format!("calendar line {}", e.line),
                &format!("{}: {}", e.field, e.reason),
            )])
        })?;
        if cal.is_empty() {
            return Err(ServiceError::invalid("calendar", "The file has no terms"));
        }
        let at = now_ms();
        self.write_audited(|tx| {
            cs::set_calendar(tx, council, school.unwrap_or(""), &cal, actor.user_id, at)?;
            let event = self.event(actor, "calendar.set", "ok", vec![], serde_json::json!({ "school": school }));
            Ok(((), event))
        })?;
        Ok(summary(school, &cal))
    }

    /// The term dates that count for the council (or one of its schools).
    pub fn calendar(&self, actor: &Actor, school: Option<&str>) -> Result<Option<(CalendarSummary, SchoolCalendar)>> {
        if !super::allows(actor.role, Permission::ManageCalendar) {
            require(actor, Permission::WorkCases)?;
        }
        let council = scope(actor)?;
        let school = school.map(str::trim).filter(|s| !s.is_empty());
        let cal = self.db.read(|tx| cs::calendar(tx, council, school))?;
        Ok(cal.map(|c| (summary(school, &c), c)))
    }
}

fn summary(school: Option<&str>, cal: &SchoolCalendar) -> CalendarSummary {
    CalendarSummary {
        school: school.map(str::to_string),
        terms: cal.terms.len(),
        closures: cal.closures.len(),
        first_day: cal.terms.first().map(|t| t.start),
        last_day: cal.last_day(),
    }
}

/// A notice in a list: for a school, what it sent and what became of it
/// (never the child id); for the council, with the child id.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticeSummary {
    /// Id.
    pub id: i64,
    /// The school.
    pub school: String,
    /// When it was sent (ms).
    pub submitted_at: i64,
    /// The date of deletion.
    pub deletion_date: NaiveDate,
    /// The ground as read (`9(1)(i)`).
    pub ground: String,
    /// What it means.
    pub meaning: String,
    /// The pupil's given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// The child (council users only).
    pub child_id: Option<String>,
    /// The case it opened or joined.
    pub case_kind: Option<CaseKind>,
    /// Where that case is.
    pub case_status: Option<CaseStatus>,
}

/// A school's question: is this pupil a relevant child, whose withdrawal
/// to home education needs the council's consent (new s.434A EA 1996)?
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ConsentAsk {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (`YYYY-MM-DD`).
    pub dob: String,
    /// UPN, if known.
    pub upn: Option<String>,
    /// The day the parents ask to withdraw the pupil (`YYYY-MM-DD`).
    pub proposed_on: String,
    /// Whether the school is a special school.
    pub special_school: bool,
}

/// What a school is told: whether consent is needed and, once the
/// council decides, its decision and reasons. Never why the child is a
/// relevant child, which may be child-protection information.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentAnswer {
    /// The request.
    pub id: i64,
    /// The pupil's name, as the school gave it.
    pub pupil: String,
    /// The day asked about.
    pub proposed_on: NaiveDate,
    /// `not_needed` (the school may act on the parents' notice),
    /// `waiting` (for the council), `given` or `refused`.
    pub status: &'static str,
    /// The council's reasons, once it decides.
    pub reasons: Option<String>,
}

fn answer(r: &ConsentRequest) -> ConsentAnswer {
    let status = match (r.grounds.is_empty(), r.consent) {
        (true, _) => "not_needed",
        (false, None) => "waiting",
        (false, Some(true)) => "given",
        (false, Some(false)) => "refused",
    };
    let name = |k: &str| r.pupil.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    ConsentAnswer {
        id: r.id,
        pupil: format!("{} {}", name("given_name"), name("family_name")).trim().to_string(),
        proposed_on: r.proposed_on,
        status,
        reasons: r.reasons.clone(),
    }
}

/// The council's decision on a request.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentDecision {
    /// Consent given (true) or refused (false).
    pub consent: bool,
    /// The reasons, which the school and the parents are sent.
    pub reasons: String,
}

impl Service {
    /// A school asks whether a pupil is a relevant child. Matched to the
    /// child as a notice is; decided from the school's word on whether it
    /// is a special school and from the social care the council records.
    /// A relevant child's request waits for a team manager's decision and
    /// the council is told through its outbox. Audited.
    pub fn ask_consent(&self, actor: &Actor, ask: ConsentAsk) -> Result<ConsentAnswer> {
        require(actor, Permission::SubmitNotices)?;
        let (school, council) = school_of(actor)?;
        let mut errors = Vec::new();
        let proposed_on = date(&ask.proposed_on);
        if proposed_on.is_none() {
            errors.push(field("proposed_on", "Enter the date as YYYY-MM-DD"));
        }
        for (f, v) in [("given_name", &ask.given_name), ("family_name", &ask.family_name)] {
            if v.trim().is_empty() || !text_ok(v, 100) {
                errors.push(field(f, "Enter the name, up to 100 characters"));
            }
        }
        if date(&ask.dob).is_none() {
            errors.push(field("dob", "Enter the date of birth as YYYY-MM-DD"));
        }
        let upn = ask.upn.as_deref().map(|u| u.trim().to_ascii_uppercase()).filter(|u| !u.is_empty());
        if upn.as_deref().is_some_and(|u| Upn::parse(u).is_err()) {
            errors.push(field("upn", "This is not a valid UPN: check the letter at the start"));
        }
        let Some(proposed_on) = proposed_on.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        let search = SearchRequest {
            given_name: Some(ask.given_name.trim().to_string()),
            family_name: Some(ask.family_name.trim().to_string()),
            dob: Some(ask.dob.trim().to_string()),
            ..SearchRequest::default()
        };
        let pupil = serde_json::json!({
            "given_name": ask.given_name.trim(), "family_name": ask.family_name.trim(), "dob": ask.dob.trim(), "upn": upn,
        });
        let floor = self.config.lookup_floor;
        let at = now_ms();
        let request = self.write_audited(|tx| {
            let (child_id, _) = find_child(tx, council, upn.as_deref(), &search, floor)?;
            let care = cs::care(tx, council, &child_id)?;
            let grounds = relevant_child(ask.special_school, &care, proposed_on);
            let new = cs::NewConsentRequest {
                council,
                school: &school,
                child_id: &child_id,
                proposed_on,
                special_school: ask.special_school,
                grounds: &grounds,
                pupil: &pupil,
            };
            let r = cs::insert_consent_request(tx, &new, actor.user_id, at)?;
            if !grounds.is_empty() {
                cs::queue(
                    tx,
                    council,
                    "council",
                    "consent.asked",
                    Some(&child_id),
                    &serde_json::json!({ "request": r.id, "school": school }),
                    at,
                )?;
            }
            let event = self.event(
                actor,
                "consent.ask",
                "ok",
                vec![child_id.clone()],
                serde_json::json!({ "request": r.id, "relevant": !grounds.is_empty() }),
            );
            Ok((r, event))
        })?;
        Ok(answer(&request))
    }

    /// A school's questions and their answers.
    pub fn consent_answers(&self, actor: &Actor) -> Result<Vec<ConsentAnswer>> {
        require(actor, Permission::SubmitNotices)?;
        let school = actor.school.clone().ok_or(ServiceError::Forbidden("this account has no school"))?;
        let rows = self.db.read(|tx| cs::consent_requests(tx, None, Some(&school), 200))?;
        self.audit.record(self.event(actor, "consent.list", "ok", vec![], serde_json::json!({})))?;
        Ok(rows.iter().map(answer).collect())
    }

    /// The council's consent requests, with why each child is relevant.
    /// Audited.
    pub fn consent_requests(&self, actor: &Actor) -> Result<Vec<ConsentRequest>> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?;
        let rows = self.db.read(|tx| cs::consent_requests(tx, Some(council), None, 200))?;
        let subjects = rows.iter().map(|r| r.child_id.clone()).collect();
        self.audit.record(self.event(actor, "consent.list", "ok", subjects, serde_json::json!({})))?;
        Ok(rows)
    }

    /// A team manager decides a relevant child's request, with reasons;
    /// the school and the parents are sent the decision (the outbox).
    pub fn decide_consent(&self, actor: &Actor, id: i64, decision: ConsentDecision) -> Result<ConsentRequest> {
        require(actor, Permission::DecideConsent)?;
        let council = scope(actor)?;
        let reasons = reason_text(&decision.reasons)
            .map_err(|_| ServiceError::invalid("reasons", "Give the reasons for the decision, up to 500 characters"))?;
        let at = now_ms();
        let mut refusal = None;
        let result = self.write_audited(|tx| {
            let Some(r) = cs::consent_request(tx, id)?.filter(|r| r.council == council.to_string()) else {
                return Err(cnis_store::Error::NotFound("consent request in your council"));
            };
            if r.grounds.is_empty() {
                refusal =
                    Some(ServiceError::Conflict("this child is not a relevant child: no consent is needed".into()));
                return Err(cnis_store::Error::Duplicate("decision"));
            }
            if r.consent.is_some() {
                refusal = Some(ServiceError::Conflict("the council has already decided this request".into()));
                return Err(cnis_store::Error::Duplicate("decision"));
            }
            cs::decide_consent(tx, id, decision.consent, &reasons, actor.user_id, at)?;
            let body = serde_json::json!({
                "request": id, "consent": decision.consent, "reasons": reasons, "proposed_on": r.proposed_on,
            });
            for audience in [format!("school:{}", r.school), "parents".to_string()] {
                cs::queue(tx, council, &audience, "consent.decided", Some(&r.child_id), &body, at)?;
            }
            let after = cs::consent_request(tx, id)?.ok_or(cnis_store::Error::NotFound("consent request"))?;
            let event = self.event(
                actor,
                "consent.decide",
                "ok",
                vec![r.child_id.clone()],
                serde_json::json!({ "request": id, "consent": decision.consent }),
            );
            Ok((after, event))
        });
        match (result, refusal) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    }

    /// Records social-care episodes the council holds for a child on its
    /// register (from its case system), for the consent rule and the risk
    /// flag. Audited.
    pub fn record_care(&self, actor: &Actor, child_id: &str, episodes: Vec<CareEpisode>) -> Result<()> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?;
        let child = super::entries::parse_child(child_id)?;
        if episodes.is_empty() || episodes.len() > 100 {
            return Err(ServiceError::invalid("episodes", "Send from 1 to 100 episodes"));
        }
        if let Some(i) = episodes.iter().position(|e| e.end.is_some_and(|end| end < e.start)) {
            return Err(ServiceError::invalid(&format!("episodes[{i}].end"), "The end is before the start"));
        }
        let at = now_ms();
        self.write_audited(|tx| {
            let on_register = reg::entries_for_child(tx, &child)?.iter().any(|e| e.council == council.to_string());
            let has_case = cs::cases_for_child(tx, &child)?.iter().any(|c| c.council == council.to_string());
            if !on_register && !has_case {
                return Err(cnis_store::Error::NotFound("child on your council's register"));
            }
            cs::add_care(tx, council, &child, &episodes, actor.user_id, at)?;
            let event = self.event(
                actor,
                "care.record",
                "ok",
                vec![child.clone()],
                serde_json::json!({ "episodes": episodes.len() }),
            );
            Ok(((), event))
        })
    }

    /// The council's outbox: messages for its mail or messaging system to
    /// send (team managers and council administrators).
    pub fn outbox(&self, actor: &Actor, unsent_only: bool) -> Result<Vec<OutboxMessage>> {
        require(actor, Permission::ManageCalendar)?;
        let council = scope(actor)?;
        let rows = self.db.read(|tx| cs::outbox(tx, council, unsent_only, 500))?;
        let subjects = rows.iter().filter_map(|m| m.child_id.clone()).collect();
        self.audit.record(self.event(actor, "outbox.read", "ok", subjects, serde_json::json!({})))?;
        Ok(rows)
    }
}

/// A school's report of a pupil absent without explanation for 10 school
/// days or more, so that the joint enquiries the 20-day deletion ground
/// needs happen before any deletion.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct AbsenceReport {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (`YYYY-MM-DD`).
    pub dob: String,
    /// UPN, if known.
    pub upn: Option<String>,
    /// Home address.
    pub address: Option<String>,
    /// Home postcode.
    pub postcode: Option<String>,
    /// The first school day of the absence (`YYYY-MM-DD`).
    pub first_day_absent: String,
    /// What the school has done and knows.
    pub notes: Option<String>,
}

/// A referral of a child who may be missing education, from another
/// agency, a member of the public or a parent, as a caseworker takes it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Referral {
    /// Who referred: `other_agency`, `public` or `parent`.
    pub source: Option<CaseSource>,
    /// The agency or person, in the caseworker's words (kept on the case).
    pub referrer: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (`YYYY-MM-DD`).
    pub dob: String,
    /// UPN, if known.
    #[serde(default)]
    pub upn: Option<String>,
    /// Home address, if known.
    #[serde(default)]
    pub address: Option<String>,
    /// Home postcode, if known.
    #[serde(default)]
    pub postcode: Option<String>,
    /// What the referrer said.
    pub summary: String,
}

/// What a referral did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferralReceipt {
    /// The child it was matched to, or the new child.
    pub child_id: String,
    /// How.
    pub matched: ChildMatch,
    /// The case (new, or the child's open missing-education case).
    pub case_id: i64,
    /// Whether a new case was opened.
    pub case_opened: bool,
    /// The draft register entry made, if the child was not on the register.
    pub draft_entry_id: Option<i64>,
}

/// What a school is told after reporting an absence.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AbsenceReceipt {
    /// Whether a new case was opened (else the child's open case took it).
    pub case_opened: bool,
    /// The 20th school day of the absence: joint enquiries with the council
    /// are due by then, before any deletion on the 20-day ground.
    pub enquiries_due: Option<NaiveDate>,
    /// Counted without term dates.
    pub approximate: bool,
}

impl Service {
    /// A school reports a pupil absent without explanation for 10 school
    /// days or more: a missing-education case opens (or the child's open
    /// one takes the report), due on the 20th school day of the absence by
    /// the school's calendar. The child is still on a roll, so no register
    /// entry is made. Audited.
    pub fn report_absence(&self, actor: &Actor, r: AbsenceReport) -> Result<AbsenceReceipt> {
        require(actor, Permission::SubmitNotices)?;
        let (school, council) = school_of(actor)?;
        let today = today();
        let mut errors = Vec::new();
        let first = date(&r.first_day_absent);
        match first {
            None => errors.push(field("first_day_absent", "Enter the first day of absence as YYYY-MM-DD")),
            Some(f) if f > today => {
                errors.push(field("first_day_absent", "The first day of absence cannot be in the future"))
            }
            Some(f) if (today - f).num_days() > 120 => {
                errors.push(field("first_day_absent", "The first day of absence must be within the last 120 days"))
            }
            Some(_) => {}
        }
        for (f, v) in [("given_name", &r.given_name), ("family_name", &r.family_name)] {
            if v.trim().is_empty() || !text_ok(v, 100) {
                errors.push(field(f, "Enter the name, up to 100 characters"));
            }
        }
        if date(&r.dob).is_none() {
            errors.push(field("dob", "Enter the date of birth as YYYY-MM-DD"));
        }
        let upn = r.upn.as_deref().map(|u| u.trim().to_ascii_uppercase()).filter(|u| !u.is_empty());
        if upn.as_deref().is_some_and(|u| Upn::parse(u).is_err()) {
            errors.push(field("upn", "This is not a valid UPN: check the letter at the start"));
        }
        if r.notes.as_deref().is_some_and(|t| t.chars().count() > 2000) {
            errors.push(field("notes", "Up to 2,000 characters"));
        }
        let Some(first) = first.filter(|_| errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        let search = SearchRequest {
            given_name: Some(r.given_name.trim().to_string()),
            family_name: Some(r.family_name.trim().to_string()),
            dob: Some(r.dob.trim().to_string()),
            postcode: r.postcode.clone().filter(|p| !p.trim().is_empty()),
            ..SearchRequest::default()
        };
        let floor = self.config.lookup_floor;
        let at = now_ms();
        self.write_audited(|tx| {
            let (child_id, _) = find_child(tx, council, upn.as_deref(), &search, floor)?;
            // The 20th school day of the absence, the first day counting.
            let day_before = first.pred_opt().unwrap_or(first);
            let (due_on, approximate) =
                self.deadline(tx, council, Some(&school), Period::SchoolDays(20), day_before)?;
            let change = Change { by: actor.user_id, reason: "school's report of 10 school days' absence", at };
            let receipt = match open_case_of_group(tx, council, &child_id, CaseKind::MissingEducation)? {
                Some(c) => {
                    let mut u = CaseUpdate::from_case(&c);
                    u.content.summary.push_str(&format!(" Absence reported by school {school} from {first}."));
                    cs::update_case(tx, c.id, c.version, &u, "absence_report", change)?;
                    AbsenceReceipt {
                        case_opened: false,
                        enquiries_due: c.due_on,
                        approximate: c.content.deadline_approximate,
                    }
                }
                None => {
                    let flags = flags_for(tx, council, &child_id, &school, CaseKind::MissingEducation, today)?;
                    let content = CaseContent {
                        given_name: r.given_name.trim().to_string(),
                        family_name: r.family_name.trim().to_string(),
                        dob: r.dob.trim().to_string(),
                        summary: format!(
                            "School {school} reports absence without explanation since {first}{}",
                            r.notes.as_deref().map(|n| format!(": {}", n.trim())).unwrap_or_default()
                        ),
                        deadline_rule: Some(Period::SchoolDays(20)),
                        deadline_approximate: approximate,
                        flags,
                        ..CaseContent::default()
                    };
                    let new = NewCase {
                        council,
                        child_id: &child_id,
                        kind: CaseKind::MissingEducation,
                        source: CaseSource::AbsenceReport,
                        key_worker: None,
                        opened_on: today,
                        due_on,
                        content: &content,
                    };
                    cs::insert_case(tx, &new, change)?;
                    cs::queue(
                        tx,
                        council,
                        "council",
                        "case.opened",
                        Some(&child_id),
                        &serde_json::json!({ "source": "absence_report" }),
                        at,
                    )?;
                    AbsenceReceipt { case_opened: true, enquiries_due: due_on, approximate }
                }
            };
            let event = self.event(
                actor,
                "absence.report",
                "ok",
                vec![child_id],
                serde_json::json!({ "opened": receipt.case_opened }),
            );
            Ok((receipt, event))
        })
    }

    /// Escalates every open case past its deadline on `today` to its
    /// council's team managers, once: the case records the day (a new
    /// version, with history) and the outbox a message; likewise each
    /// unacknowledged handover past its time, and each alternative
    /// provision alert not sent before. Run by the daily sweep; returns
    /// how many.
    pub fn escalate_overdue(&self, today: NaiveDate) -> Result<usize> {
        let at = now_ms();
        let (n, head) = self.db.write(|tx| {
            let mut events = Vec::new();
            for c in cs::overdue_cases(tx, today)? {
                if c.content.escalated_on.is_some() {
                    continue;
                }
                let Ok(council) = LaCode::parse(&c.council) else { continue };
                let mut u = CaseUpdate::from_case(&c);
                u.content.escalated_on = Some(today.to_string());
                let change = Change { by: 0, reason: "past its deadline: escalated to the team managers", at };
                cs::update_case(tx, c.id, c.version, &u, "escalated", change)?;
                let body = serde_json::json!({ "case": c.id, "due_on": c.due_on, "kind": c.kind });
                cs::queue(tx, council, "team_managers", "case.overdue", Some(&c.child_id), &body, at)?;
                events.push(cnis_store::audit::Event {
                    at,
                    actor: None,
                    actor_role: "system".into(),
                    council: Some(c.council.clone()),
                    action: "case.escalated".into(),
                    outcome: "ok".into(),
                    subjects: vec![c.child_id.clone()],
                    detail: serde_json::json!({ "case": c.id }),
                });
            }
            for h in cs::overdue_handovers(tx, today)? {
                cs::handover_event(tx, h.id, "escalated", 0, at)?;
                let body = serde_json::json!({ "handover": h.id, "from": h.from_council, "to": h.to_council, "due_on": h.due_on });
                for council in [&h.from_council, &h.to_council] {
                    let Ok(c) = LaCode::parse(council) else { continue };
                    cs::queue(tx, c, "team_managers", "handover.unacknowledged", Some(&h.child_id), &body, at)?;
                }
                events.push(cnis_store::audit::Event {
                    at,
                    actor: None,
                    actor_role: "system".into(),
                    council: Some(h.from_council.clone()),
                    action: "handover.escalated".into(),
                    outcome: "ok".into(),
                    subjects: vec![h.child_id.clone()],
                    detail: serde_json::json!({ "handover": h.id }),
                });
            }
            for t in cs::overdue_tasks(tx, today)? {
                cs::task_event(tx, t.id, "escalated", 0, at, "past its date")?;
                let Ok(code) = LaCode::parse(&t.council) else { continue };
                let child = cs::case(tx, t.case_id)?.map(|c| c.child_id);
                let body = serde_json::json!({ "task": t.id, "case": t.case_id, "title": t.title, "due_on": t.due_on });
                let audiences = match t.assigned_to {
                    Some(u) => vec![format!("user:{u}"), "team_managers".to_string()],
                    None => vec!["team_managers".to_string()],
                };
                for a in audiences {
                    cs::queue(tx, code, &a, "task.overdue", child.as_deref(), &body, at)?;
                }
                events.push(cnis_store::audit::Event {
                    at,
                    actor: None,
                    actor_role: "system".into(),
                    council: Some(t.council.clone()),
                    action: "task.escalated".into(),
                    outcome: "ok".into(),
                    subjects: child.into_iter().collect(),
                    detail: serde_json::json!({ "task": t.id }),
                });
            }
            self.queue_ap_alerts(tx, today, at, &mut events)?;
            let head = cnis_store::audit::append(tx, &events)?;
            Ok((events.len(), head))
        })?;
        self.audit.advance(&head);
        Ok(n)
    }
}

/// The columns of a notices file, in the order written by
/// [`NOTICE_CSV_HEADER`]; any order is read.
pub const NOTICE_CSV_COLUMNS: &[&str] = &[
    "deletion_date",
    "ground",
    "given_name",
    "family_name",
    "dob",
    "sex",
    "upn",
    "address",
    "postcode",
    "parent_name",
    "parent_telephone",
    "destination",
    "destination_school",
    "destination_council",
    "notes",
    "sen",
    "absence_percent",
];

/// A row of a notices file that was not taken: where and why (never the
/// value).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantinedRow {
    /// Line in the file (1 is the header).
    pub line: u64,
    /// The column, or `row` for the row as a whole.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// What a notices file did: rows in = accepted + quarantined.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticeUpload {
    /// Data rows read.
    pub rows: usize,
    /// Notices taken, each as its school is told of it.
    pub accepted: Vec<NoticeSummary>,
    /// Rows not taken (rows = accepted + rejected).
    pub rejected: usize,
    /// Why, a line for each fault (a row may have several).
    pub quarantined: Vec<QuarantinedRow>,
}

impl Service {
    /// A school's notices from a CSV file (a header naming columns of
    /// [`NOTICE_CSV_COLUMNS`], in any order; `deletion_date`, `ground`,
    /// `given_name`, `family_name` and `dob` required). Each row is a
    /// notice of its own, sent as [`Service::submit_notice`] sends one; a
    /// row that is refused is quarantined with its line, field and reason,
    /// and the rest go on.
    pub fn submit_notices_csv(&self, actor: &Actor, text: &str) -> Result<NoticeUpload> {
        require(actor, Permission::SubmitNotices)?;
        let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers =
            rdr.headers().map_err(|_| ServiceError::invalid("file", "The first line must name the columns"))?.clone();
        let mut index = std::collections::HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
            if !NOTICE_CSV_COLUMNS.contains(&h.as_str()) {
                return Err(ServiceError::invalid("file", "The header names a column a notice does not have"));
            }
            if index.insert(h, i).is_some() {
                return Err(ServiceError::invalid("file", "The header names a column twice"));
            }
        }
        for required in ["deletion_date", "ground", "given_name", "family_name", "dob"] {
            if !index.contains_key(required) {
                return Err(ServiceError::Invalid(vec![field(required, "The file has no column for this")]));
            }
        }
        let mut out = NoticeUpload { rows: 0, accepted: Vec::new(), rejected: 0, quarantined: Vec::new() };
        let mut line = 1u64;
        let mut lines = LineCounter { text: text.as_bytes(), at: 0, line: 1 };
        for rec in rdr.records() {
            out.rows += 1;
            let rec = match rec {
                Ok(r) => r,
                Err(_) => {
                    line += 1;
                    out.rejected += 1;
                    out.quarantined.push(QuarantinedRow {
                        line,
                        field: "row".into(),
                        reason: "The row could not be read as CSV".into(),
                    });
                    continue;
                }
            };
            line = rec.position().map_or(line + 1, |p| lines.at(p.byte()));
            if rec.len() != headers.len() {
                out.rejected += 1;
                out.quarantined.push(QuarantinedRow {
                    line,
                    field: "row".into(),
                    reason: format!("{} fields where the header has {}", rec.len(), headers.len()),
                });
                continue;
            }
            let get = |k: &str| index.get(k).and_then(|&i| rec.get(i)).unwrap_or("").to_string();
            let opt = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
            let destination = match get("destination").as_str() {
                "" => None,
                d => match DestinationKind::parse(d) {
                    Some(kind) => Some(cnis_core::casework::NoticeDestination {
                        kind,
                        school: opt("destination_school"),
                        council: opt("destination_council"),
                        address: None,
                        start_date: None,
                    }),
                    None => {
                        out.rejected += 1;
                        out.quarantined.push(QuarantinedRow {
                            line,
                            field: "destination".into(),
                            reason: "Not one of other_school, home_education, other_council, abroad, unknown".into(),
                        });
                        continue;
                    }
                },
            };
            let notice = DeletionNotice {
                school: String::new(),
                deletion_date: iso_date(get("deletion_date")),
                ground: get("ground"),
                given_name: get("given_name"),
                family_name: get("family_name"),
                dob: iso_date(get("dob")),
                sex: opt("sex"),
                upn: opt("upn"),
                address: opt("address"),
                postcode: opt("postcode"),
                parents: opt("parent_name")
                    .map(|name| cnis_core::casework::NoticeParent {
                        name,
                        address: None,
                        telephone: opt("parent_telephone"),
                    })
                    .into_iter()
                    .collect(),
                destination,
                notes: opt("notes"),
                sen: opt("sen"),
                absence_percent: None,
            };
            let mut notice = notice;
            if let Some(a) = opt("absence_percent") {
                match a.trim_end_matches('%').trim().parse::<f64>() {
                    Ok(v) => notice.absence_percent = Some(v),
                    Err(_) => {
                        out.rejected += 1;
                        out.quarantined.push(QuarantinedRow {
                            line,
                            field: "absence_percent".into(),
                            reason: "Give the absence as a number from 0 to 100".into(),
                        });
                        continue;
                    }
                }
            }
            match self.submit_notice(actor, notice) {
                Ok(r) => out.accepted.push(r.for_school()),
                Err(ServiceError::Invalid(errors)) => {
                    out.rejected += 1;
                    for e in errors {
                        let column = match e.field.as_str() {
                            f if f.starts_with("parents") && f.ends_with("telephone") => "parent_telephone".to_string(),
                            f if f.starts_with("parents") => "parent_name".to_string(),
                            f => f.replace('.', "_"),
                        };
                        out.quarantined.push(QuarantinedRow { line, field: column, reason: e.message });
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// How many of a school's notices were on one ground.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroundCount {
    /// The ground as read (`9(1)(i)`).
    pub ground: String,
    /// What it means.
    pub meaning: String,
    /// Notices.
    pub count: usize,
}

/// One school's deletions over a period, and who was deleted.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SchoolScrutiny {
    /// The school's LAESTAB (`all` for the council's total).
    pub school: String,
    /// Notices.
    pub notices: usize,
    /// By ground, most first.
    pub by_ground: Vec<GroundCount>,
    /// With SEN support (the school's word, `K`).
    pub sen_support: usize,
    /// With an EHC plan (`E`).
    pub ehc_plan: usize,
    /// Subject to a child protection plan current on the deletion date, by
    /// the council's social-care records.
    pub child_protection_plan: usize,
    /// Persistently absent in the last full term (10% or more).
    pub persistently_absent: usize,
    /// Severely absent (50% or more).
    pub severely_absent: usize,
    /// Whose SEN or absence the school did not give.
    pub not_stated: usize,
}

/// The deregistration scrutiny view: each school's deletions over a
/// period, for the council and for an inspector.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scrutiny {
    /// The council's three-digit code.
    pub council: String,
    /// From (deletion date, inclusive).
    pub from: NaiveDate,
    /// To (inclusive).
    pub to: NaiveDate,
    /// The council's schools that sent notices, most notices first.
    pub schools: Vec<SchoolScrutiny>,
    /// The council's total.
    pub all: SchoolScrutiny,
}

fn scrutinise(school: &str, rows: &[(&StoredNotice, bool)]) -> SchoolScrutiny {
    let mut by: std::collections::BTreeMap<(String, String), usize> = std::collections::BTreeMap::new();
    let mut out = SchoolScrutiny {
        school: school.to_string(),
        notices: rows.len(),
        by_ground: Vec::new(),
        sen_support: 0,
        ehc_plan: 0,
        child_protection_plan: 0,
        persistently_absent: 0,
        severely_absent: 0,
        not_stated: 0,
    };
    for (n, cp) in rows {
        *by.entry((n.ground.clone(), n.meaning.clone())).or_default() += 1;
        match n.content.sen.as_deref() {
            Some("K") => out.sen_support += 1,
            Some("E") => out.ehc_plan += 1,
            _ => {}
        }
        if *cp {
            out.child_protection_plan += 1;
        }
        match n.content.absence_percent {
            Some(a) if a >= 50.0 => {
                out.severely_absent += 1;
                out.persistently_absent += 1;
            }
            Some(a) if a >= 10.0 => out.persistently_absent += 1,
            _ => {}
        }
        if n.content.sen.is_none() || n.content.absence_percent.is_none() {
            out.not_stated += 1;
        }
    }
    let mut by_ground: Vec<GroundCount> =
        by.into_iter().map(|((ground, meaning), count)| GroundCount { ground, meaning, count }).collect();
    by_ground.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.ground.cmp(&b.ground)));
    out.by_ground = by_ground;
    out
}

/// The shortest period an inspector may ask the scrutiny view for (days).
pub const INSPECTION_DAYS: i64 = 90;

impl Service {
    /// Each of a council's schools' deletions from `from` to `to`: by
    /// ground, and how many were of children with SEN support or an EHC
    /// plan, a child protection plan, or persistent or severe absence.
    /// A council's own caseworkers see their council (`council` left out or
    /// their own); an inspector names any council. Counts only, never a
    /// child. Audited.
    pub fn deregistration_scrutiny(
        &self,
        actor: &Actor,
        council: Option<LaCode>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Scrutiny> {
        require(actor, Permission::ReadScrutiny)?;
        let council = match (actor.council, council) {
            (Some(own), None) => own,
            (Some(own), Some(asked)) if asked == own => own,
            (Some(_), Some(_)) => return Err(ServiceError::Forbidden("you may see your own council's schools only")),
            (None, Some(asked)) => asked,
            (None, None) => return Err(ServiceError::invalid("council", "Choose a council")),
        };
        if to < from || (to - from).num_days() > 3 * 366 {
            return Err(ServiceError::invalid("to", "The period must end after it starts and be at most three years"));
        }
        // Someone outside the council sees counts of a period long enough
        // that a school's counts are not one child's deletion.
        if actor.council.is_none() && (to - from).num_days() < INSPECTION_DAYS {
            return Err(ServiceError::invalid("from", "Choose a period of at least 90 days"));
        }
        let rows = self.db.read(|tx| {
            let notices = cs::notices_between(tx, council, from, to)?;
            let care_of = cs::care_of_notices(tx, council, from, to)?;
            let mut out = Vec::with_capacity(notices.len());
            for n in notices {
                let care = care_of.get(&n.child_id).map(Vec::as_slice).unwrap_or_default();
                let cp = care.iter().any(|e| {
                    e.kind == cnis_core::casework::CareKind::ChildProtectionPlan && e.current_on(n.deletion_date)
                });
                out.push((n, cp));
            }
            Ok(out)
        })?;
        self.audit.record(self.event(
            actor,
            "scrutiny.read",
            "ok",
            vec![],
            serde_json::json!({ "council": council.to_string(), "from": from, "to": to, "notices": rows.len() }),
        ))?;
        let refs: Vec<(&StoredNotice, bool)> = rows.iter().map(|(n, cp)| (n, *cp)).collect();
        let mut schools: Vec<SchoolScrutiny> =
            refs.chunk_by(|a, b| a.0.school == b.0.school).map(|group| scrutinise(&group[0].0.school, group)).collect();
        schools.sort_by(|a, b| b.notices.cmp(&a.notices).then_with(|| a.school.cmp(&b.school)));
        Ok(Scrutiny { council: council.to_string(), from, to, all: scrutinise("all", &refs), schools })
    }
}

/// A child's entry and open case to offer to another council.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfferHandover {
    /// The child.
    pub child_id: String,
    /// The three-digit code of the council the child's address moved to.
    pub to_council: String,
    /// Why, for the receiving council.
    pub reason: String,
}

impl Service {
    /// Offers a child's register entry and open case to the council their
    /// address moved to. Until that council acknowledges it, both see the
    /// child and neither may close the case; unacknowledged past
    /// `handover_escalation` it is escalated by the daily sweep. Audited.
    pub fn offer_handover(&self, actor: &Actor, offer: OfferHandover) -> Result<Handover> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?;
        let child = super::entries::parse_child(&offer.child_id)?;
        let to = LaCode::parse(offer.to_council.trim())
            .map_err(|_| ServiceError::invalid("to_council", "Enter the receiving council's three-digit code"))?;
        let reason = reason_text(&offer.reason)?;
        let at = now_ms();
        let mut refusal = None;
        let result = self.write_audited(|tx| {
            if tx.query_opt("SELECT 1 FROM councils WHERE code = $1", &[to.to_string().into()])?.is_none() {
                refusal = Some(ServiceError::invalid("to_council", "No council has that code"));
                return Err(cnis_store::Error::NotFound("council"));
            }
            let code = council.to_string();
            let entry =
                reg::entries_for_child(tx, &child)?.into_iter().find(|e| e.council == code && e.status.is_live());
            let case = cs::cases_for_child(tx, &child)?
                .into_iter()
                .find(|c| c.council == code && c.status == CaseStatus::Open);
            if entry.is_none() && case.is_none() {
                return Err(cnis_store::Error::NotFound("child on your council's register or with an open case"));
            }
            if to == council {
                refusal = Some(ServiceError::invalid("to_council", "Choose another council than your own"));
                return Err(cnis_store::Error::Duplicate("handover"));
            }
            if cs::pending_handovers(tx, &child)?.iter().any(|h| h.from_council == code) {
                refusal = Some(ServiceError::Conflict("this child is already being handed over".into()));
                return Err(cnis_store::Error::Duplicate("handover"));
            }
            let (due_on, _) = self.deadline(tx, council, None, self.config.handover_escalation, today())?;
            let new = cs::NewHandover {
                child_id: &child,
                from_council: council,
                to_council: to,
                case_id: case.as_ref().map(|c| c.id),
                reason: &reason,
                due_on,
            };
            let h = cs::insert_handover(tx, &new, actor.user_id, at)?;
            cs::queue(
                tx,
                to,
                "council",
                "handover.offered",
                Some(&child),
                &serde_json::json!({ "handover": h.id, "from": code }),
                at,
            )?;
            let event = self.event(
                actor,
                "handover.offer",
                "ok",
                vec![child.clone()],
                serde_json::json!({ "handover": h.id, "to": to.to_string() }),
            );
            Ok((h, event))
        });
        match (result, refusal) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    }

    /// The receiving council acknowledges a handover: the child goes on
    /// its register as a draft and the open case moves to it, with its
    /// enquiries; the sending council's entry leaves the register (moved
    /// away) and its case closes (moved to a council that knows of the
    /// child). Audited.
    pub fn acknowledge_handover(&self, actor: &Actor, id: i64) -> Result<Handover> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?;
        let at = now_ms();
        let today = today();
        let years = self.config.retention_years;
        let mut refusal = None;
        let result = self.write_audited(|tx| {
            let Some(h) = cs::handover(tx, id)?.filter(|h| h.to_council == council.to_string()) else {
                return Err(cnis_store::Error::NotFound("handover to your council"));
            };
            if h.acknowledged_at.is_some() {
                refusal = Some(ServiceError::Conflict("this handover is already acknowledged".into()));
                return Err(cnis_store::Error::Duplicate("acknowledgement"));
            }
            let from = LaCode::parse(&h.from_council)
                .map_err(|_| cnis_store::Error::Corrupt { table: "handovers", what: "council" })?;
            let reason = format!("handed over from council {} to council {}", h.from_council, h.to_council);
            let change = Change { by: actor.user_id, reason: &reason, at };
            cs::handover_event(tx, id, "acknowledged", actor.user_id, at)?;
            let entries = reg::entries_for_child(tx, &h.child_id)?;
            let sending = entries.iter().find(|e| e.council == h.from_council && e.status.is_live());
            let receiving = entries.iter().any(|e| e.council == h.to_council && e.status.is_live());
            if let Some(e) = sending {
                if !receiving {
                    let child = ChildId::parse(&h.child_id)
                        .map_err(|_| cnis_store::Error::Corrupt { table: "handovers", what: "child id" })?;
                    reg::insert_entry(
                        tx,
                        council,
                        child,
                        EntryStatus::Draft,
                        EntrySource::OtherAgency,
                        &e.content,
                        change,
                    )?;
                }
                super::entries::leave(
                    tx,
                    e,
                    e.version,
                    cnis_core::register::LeaveReason::MovedAway,
                    today,
                    years,
                    change,
                )?;
            }
            if let Some(case_id) = h.case_id
                && let Some(c) = cs::case(tx, case_id)?.filter(|c| c.status == CaseStatus::Open)
            {
                let mut content = c.content.clone();
                content.summary = format!("Handed over by council {}: {}", h.from_council, content.summary);
                content.escalated_on = None;
                let new = NewCase {
                    council,
                    child_id: &h.child_id,
                    kind: c.kind,
                    source: CaseSource::OtherAgency,
                    key_worker: None,
                    opened_on: today,
                    due_on: c.due_on,
                    content: &content,
                };
                cs::insert_case(tx, &new, change)?;
                let mut u = CaseUpdate::from_case(&c);
                u.status = CaseStatus::Closed;
                u.closed_on = Some(today);
                u.outcome = Some(CaseOutcome::MovedToKnownCouncil);
                u.content.closing_note = Some(reason.clone());
                cs::update_case(tx, c.id, c.version, &u, "handed_over", change)?;
            }
            cs::queue(
                tx,
                from,
                "council",
                "handover.acknowledged",
                Some(&h.child_id),
                &serde_json::json!({ "handover": id, "by": h.to_council }),
                at,
            )?;
            let after = cs::handover(tx, id)?.ok_or(cnis_store::Error::NotFound("handover"))?;
            let event = self.event(
                actor,
                "handover.acknowledge",
                "ok",
                vec![h.child_id.clone()],
                serde_json::json!({ "handover": id }),
            );
            Ok((after, event))
        });
        match (result, refusal) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    }

    /// Handovers to and from the actor's council. Audited.
    pub fn handovers(&self, actor: &Actor) -> Result<Vec<Handover>> {
        require(actor, Permission::WorkCases)?;
        let council = scope(actor)?;
        let rows = self.db.read(|tx| cs::handovers(tx, council))?;
        let subjects = rows.iter().map(|h| h.child_id.clone()).collect();
        self.audit.record(self.event(actor, "handover.list", "ok", subjects, serde_json::json!({})))?;
        Ok(rows)
    }
}
