//! The unregistered alternative provision register: a council's
//! providers, their evidence against the national standards it checks
//! (`ap_standards`), quality-assurance visits, and the placements of
//! children with their weekly attendance; alerts when a standard lapses, a
//! placement has no attendance recorded for `ap_attendance_gap_days`, or
//! runs past its planned end, on the pages and, once each, in the outbox.
//!
//! Reads that show placements are audited against the children placed.

use chrono::{Datelike, NaiveDate, Weekday};
use cnis_core::ChildId;
use cnis_core::ap::{self as core_ap, Alert, Commissioner, PlacementDates, ProviderContent, StandardEvidence};
use cnis_store::ap::{self as store, NewPlacement};
pub use cnis_store::ap::{ApHistoryRow, ApProvider, Attendance, Evidence, Placement, Visit};
use cnis_store::register::{Change, now_ms};
use serde::{Deserialize, Serialize};

use super::entries::{reason_text, today};
use super::{Actor, FieldError, Permission, Result, Service, ServiceError, require, scope};

/// A provider to add.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    /// What the register holds.
    pub content: ProviderContent,
    /// Why it is added (how the council learnt of it).
    pub reason: String,
}

/// A provider's new content, from the version seen.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateProvider {
    /// The version the change was made from.
    pub version: i64,
    /// The content.
    pub content: ProviderContent,
    /// Why.
    pub reason: String,
}

/// Evidence for a standard.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEvidence {
    /// The standard's code (one of the council's `ap_standards`).
    pub standard: String,
    /// What was seen.
    pub evidence: String,
    /// When it was checked (`YYYY-MM-DD`, not in the future).
    pub checked_on: String,
    /// Until when it holds (`YYYY-MM-DD`, after `checked_on`), if it
    /// expires.
    #[serde(default)]
    pub expires_on: Option<String>,
}

/// A quality-assurance visit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewVisit {
    /// When (`YYYY-MM-DD`, not in the future).
    pub visited_on: String,
    /// What was found.
    pub findings: String,
    /// What the provider is to do.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// A placement to record.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlaceChild {
    /// The child.
    pub child_id: String,
    /// Who commissioned it.
    pub commissioner: Commissioner,
    /// The commissioning school's LAESTAB, when a school did.
    #[serde(default)]
    pub school: Option<String>,
    /// Starts on (`YYYY-MM-DD`).
    pub start_on: String,
    /// Planned to end on (`YYYY-MM-DD`); a placement is an intervention,
    /// not a destination.
    #[serde(default)]
    pub planned_end_on: Option<String>,
    /// Hours a week (more than 0, at most 40).
    pub hours_per_week: f64,
    /// Why.
    pub reason: String,
}

/// A week's attendance.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAttendance {
    /// The week's Monday (`YYYY-MM-DD`).
    pub week_of: String,
    /// Sessions attended.
    pub attended: i64,
    /// Sessions offered (at most 10: mornings and afternoons).
    pub offered: i64,
}

/// Ending a placement.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndPlacement {
    /// The version seen.
    pub version: i64,
    /// Ended on (`YYYY-MM-DD`, not before it started).
    pub ended_on: String,
    /// Why (back in school, moved, placement broke down).
    pub reason: String,
}

/// A provider in the council's list, with what needs a person.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderSummary {
    /// The provider.
    pub provider: ApProvider,
    /// Placements under way or not yet started.
    pub open_placements: usize,
    /// Its alerts today.
    pub alerts: Vec<Alert>,
}

/// One standard's state at a provider.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StandardState {
    /// Code.
    pub standard: String,
    /// In words.
    pub label: String,
    /// The evidence that stands (the latest), if any.
    pub latest: Option<Evidence>,
    /// Met today: evidence recorded and not expired.
    pub met: bool,
}

/// A placement with its attendance.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlacementView {
    /// The placement.
    pub placement: Placement,
    /// Its attendance, a row a week.
    pub attendance: Vec<Attendance>,
}

/// A provider's page.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderView {
    /// The provider.
    pub provider: ApProvider,
    /// The checklist.
    pub standards: Vec<StandardState>,
    /// Every piece of evidence, oldest first.
    pub evidence: Vec<Evidence>,
    /// Visits, oldest first.
    pub visits: Vec<Visit>,
    /// Placements.
    pub placements: Vec<PlacementView>,
    /// Alerts today.
    pub alerts: Vec<Alert>,
    /// The provider's and its placements' history.
    pub history: Vec<ApHistoryRow>,
}

/// An alert with the provider it is about.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderAlert {
    /// The provider.
    pub provider_id: i64,
    /// Its name.
    pub provider_name: String,
    /// The alert.
    pub alert: Alert,
}

fn field(field: &str, message: &str) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

fn parse_day(s: &str, name: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(field(name, "Enter a real date as YYYY-MM-DD"));
            None
        }
    }
}

fn text(s: &str, name: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let t = s.trim();
    if t.is_empty() {
        errors.push(field(name, "Enter this"));
    } else if t.chars().count() > max || t.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(field(name, &format!("Enter up to {max} characters")));
    }
    t.to_string()
}

fn check_provider(mut c: ProviderContent) -> std::result::Result<ProviderContent, Vec<FieldError>> {
    let mut errors = Vec::new();
    c.name = text(&c.name, "content.name", 200, &mut errors);
    c.ukprn = c.ukprn.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    if let Some(u) = &c.ukprn
        && !core_ap::valid_ukprn(u)
    {
        errors.push(field("content.ukprn", "Enter a UKPRN as 8 digits starting with 1, or leave it out"));
    }
    c.addresses = c.addresses.into_iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
    c.web_address = c.web_address.map(|w| w.trim().to_string()).filter(|w| !w.is_empty());
    if c.addresses.is_empty() && c.web_address.is_none() {
        errors.push(field("content.addresses", "Enter where the provider teaches: an address or a web address"));
    }
    for (i, a) in c.addresses.iter().enumerate() {
        if a.chars().count() > 300 || a.chars().any(char::is_control) {
            errors.push(field(&format!("content.addresses[{i}]"), "Enter an address of up to 300 characters"));
        }
    }
    for (i, k) in c.contacts.iter().enumerate() {
        if k.name.trim().is_empty() {
            errors.push(field(&format!("content.contacts[{i}].name"), "Enter the contact's name"));
        }
    }
    if errors.is_empty() { Ok(c) } else { Err(errors) }
}

fn placement_dates(p: &Placement) -> PlacementDates {
    PlacementDates {
        id: p.id,
        start_on: p.start_on,
        planned_end_on: p.planned_end_on,
        ended_on: p.ended_on,
        last_attendance: p.last_attendance,
    }
}

fn standing(evidence: &[Evidence]) -> Vec<StandardEvidence> {
    evidence.iter().map(|e| StandardEvidence { standard: e.standard.clone(), expires_on: e.expires_on }).collect()
}

/// A key naming one alert, so that the outbox gets it once.
fn alert_key(provider: i64, a: &Alert) -> String {
    match a {
        Alert::StandardMissing { standard } => format!("{provider}:missing:{standard}"),
        Alert::StandardLapsed { standard, expired_on } => format!("{provider}:lapsed:{standard}:{expired_on}"),
        Alert::NoAttendance { placement, .. } => format!("{provider}:no_attendance:{placement}"),
        Alert::PastPlannedEnd { placement, planned_end_on } => {
            format!("{provider}:past_end:{placement}:{planned_end_on}")
        }
    }
}

impl Service {
    fn own_provider(&self, actor: &Actor, tx: &mut cnis_store::db::Tx<'_>, id: i64) -> cnis_store::Result<ApProvider> {
        let council = actor.council.map(|c| c.to_string());
        store::provider(tx, id)?
            .filter(|p| Some(&p.council) == council.as_ref())
            .ok_or(cnis_store::Error::NotFound("provider on your council's register"))
    }

    fn provider_alerts(
        &self,
        tx: &mut cnis_store::db::Tx<'_>,
        id: i64,
        day: NaiveDate,
    ) -> cnis_store::Result<(Vec<Evidence>, Vec<Placement>, Vec<Alert>)> {
        let evidence = store::evidence(tx, id)?;
        let placements = store::placements_with(tx, id)?;
        let dates: Vec<PlacementDates> = placements.iter().map(placement_dates).collect();
        let alerts = core_ap::alerts(
            &self.config.ap_standards,
            &standing(&evidence),
            &dates,
            day,
            self.config.ap_attendance_gap_days,
            false,
        );
        Ok((evidence, placements, alerts))
    }

    /// Adds a provider to the council's register. Audited.
    pub fn add_provider(&self, actor: &Actor, new: NewProvider) -> Result<ApProvider> {
        require(actor, Permission::ManageAp)?;
        let council = scope(actor)?.to_string();
        let content = check_provider(new.content).map_err(ServiceError::Invalid)?;
        let reason = reason_text(&new.reason)?;
        let at = now_ms();
        self.write_audited(|tx| {
            let p = store::insert_provider(tx, &council, &content, Change { by: actor.user_id, reason: &reason, at })?;
            let event = self.event(actor, "ap.provider.add", "ok", vec![], serde_json::json!({ "provider": p.id }));
            Ok((p, event))
        })
    }

    /// Changes a provider's details, from the version seen. Audited.
    pub fn update_provider(&self, actor: &Actor, id: i64, u: UpdateProvider) -> Result<ApProvider> {
        require(actor, Permission::ManageAp)?;
        scope(actor)?;
        let content = check_provider(u.content).map_err(ServiceError::Invalid)?;
        let reason = reason_text(&u.reason)?;
        let at = now_ms();
        self.write_audited(|tx| {
            self.own_provider(actor, tx, id)?;
            let change = Change { by: actor.user_id, reason: &reason, at };
            let p = store::update_provider(tx, id, u.version, &content, change)?;
            let event = self.event(actor, "ap.provider.update", "ok", vec![], serde_json::json!({ "provider": id }));
            Ok((p, event))
        })
    }

    /// The council's providers with their alerts today. Audited.
    pub fn providers(&self, actor: &Actor) -> Result<Vec<ProviderSummary>> {
        require(actor, Permission::ManageAp)?;
        let council = scope(actor)?.to_string();
        let day = today();
        let out = self.db.read(|tx| {
            let mut out = Vec::new();
            for p in store::providers(tx, &council)? {
                let (_, placements, alerts) = self.provider_alerts(tx, p.id, day)?;
                let open_placements = placements.iter().filter(|x| x.ended_on.is_none()).count();
                out.push(ProviderSummary { provider: p, open_placements, alerts });
            }
            Ok(out)
        })?;
        self.audit.record(self.event(actor, "ap.providers", "ok", vec![], serde_json::json!({})))?;
        Ok(out)
    }

    /// A provider's page: checklist, evidence, visits, placements with
    /// attendance, alerts and history. Audited against the children placed.
    pub fn provider(&self, actor: &Actor, id: i64) -> Result<ProviderView> {
        require(actor, Permission::ManageAp)?;
        scope(actor)?;
        let day = today();
        let view = self.db.read(|tx| {
            let provider = self.own_provider(actor, tx, id)?;
            let (evidence, placements, alerts) = self.provider_alerts(tx, id, day)?;
            let standards = self
                .config
                .ap_standards
                .iter()
                .map(|s| {
                    let latest = evidence.iter().rev().find(|e| &e.standard == s).cloned();
                    let met = latest.as_ref().is_some_and(|e| e.expires_on.is_none_or(|d| d >= day));
                    StandardState { standard: s.clone(), label: core_ap::standard_label(s).to_string(), latest, met }
                })
                .collect();
            let mut views = Vec::new();
            for p in placements {
                let attendance = store::attendance(tx, p.id)?;
                views.push(PlacementView { placement: p, attendance });
            }
            let visits = store::visits(tx, id)?;
            let history = store::provider_history(tx, id)?;
            Ok(ProviderView { provider, standards, evidence, visits, placements: views, alerts, history })
        });
        let view = match view {
            Ok(v) => v,
            Err(e) => {
                self.audit.record(self.event(
                    actor,
                    "ap.provider.read",
                    "refused",
                    vec![],
                    serde_json::json!({ "provider": id }),
                ))?;
                return Err(ServiceError::from_store(e));
            }
        };
        let mut children: Vec<String> = view.placements.iter().map(|p| p.placement.child_id.clone()).collect();
        children.sort();
        children.dedup();
        self.audit
            .submit(self.event(actor, "ap.provider.read", "ok", children, serde_json::json!({ "provider": id })), view)?
            .wait()
    }

    /// Records evidence for one of the council's standards. Audited.
    pub fn record_evidence(&self, actor: &Actor, id: i64, e: NewEvidence) -> Result<()> {
        require(actor, Permission::ManageAp)?;
        scope(actor)?;
        let mut errors = Vec::new();
        if !self.config.ap_standards.contains(&e.standard) {
            errors.push(field("standard", "Choose one of the standards the council checks"));
        }
        let evidence = text(&e.evidence, "evidence", 1000, &mut errors);
        let checked = parse_day(&e.checked_on, "checked_on", &mut errors);
        if checked.is_some_and(|d| d > today()) {
            errors.push(field("checked_on", "The date it was checked cannot be in the future"));
        }
        let expires = e
            .expires_on
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|s| parse_day(s, "expires_on", &mut errors));
        if let (Some(c), Some(x)) = (checked, expires)
            && x <= c
        {
            errors.push(field("expires_on", "The expiry date must be after the date it was checked"));
        }
        let Some(checked) = checked.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
        let at = now_ms();
        self.write_audited(|tx| {
            self.own_provider(actor, tx, id)?;
            store::insert_evidence(tx, id, &e.standard, &evidence, checked, expires, actor.user_id, at)?;
            let detail = serde_json::json!({ "provider": id, "standard": e.standard });
            Ok(((), self.event(actor, "ap.evidence", "ok", vec![], detail)))
        })
    }

    /// Records a quality-assurance visit. Audited.
    pub fn record_visit(&self, actor: &Actor, id: i64, v: NewVisit) -> Result<()> {
        require(actor, Permission::ManageAp)?;
        scope(actor)?;
        let mut errors = Vec::new();
        let on = parse_day(&v.visited_on, "visited_on", &mut errors);
        if on.is_some_and(|d| d > today()) {
            errors.push(field("visited_on", "The visit date cannot be in the future"));
        }
        let findings = text(&v.findings, "findings", 4000, &mut errors);
        let mut actions = Vec::new();
        for (i, a) in v.actions.iter().enumerate() {
            if a.trim().is_empty() {
                continue;
            }
            actions.push(text(a, &format!("actions[{i}]"), 500, &mut errors));
        }
        let Some(on) = on.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
        let at = now_ms();
        self.write_audited(|tx| {
            self.own_provider(actor, tx, id)?;
            store::insert_visit(tx, id, on, &findings, &actions, actor.user_id, at)?;
            Ok(((), self.event(actor, "ap.visit", "ok", vec![], serde_json::json!({ "provider": id }))))
        })
    }

    /// Places a child with a provider. Audited against the child.
    pub fn place_child(&self, actor: &Actor, provider_id: i64, p: PlaceChild) -> Result<Placement> {
        require(actor, Permission::ManageAp)?;
        let council = scope(actor)?.to_string();
        let mut errors = Vec::new();
        let child = ChildId::parse(p.child_id.trim()).map(|c| c.to_string());
        if child.is_err() {
            errors.push(field("child_id", "Enter a child id in the form cnis shows, with its check character"));
        }
        let start = parse_day(&p.start_on, "start_on", &mut errors);
        let end = p
            .planned_end_on
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|s| parse_day(s, "planned_end_on", &mut errors));
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            errors.push(field("planned_end_on", "The planned end must be on or after the start"));
        }
        if !(p.hours_per_week > 0.0 && p.hours_per_week <= 40.0) {
            errors.push(field("hours_per_week", "Enter the hours a week, more than 0 and at most 40"));
        }
        let school = p.school.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        match (p.commissioner, &school) {
            (Commissioner::School, None) => errors.push(field("school", "Enter the commissioning school's LAESTAB")),
            (_, Some(s)) if s.len() != 7 || !s.bytes().all(|b| b.is_ascii_digit()) => {
                errors.push(field("school", "Enter the school's LAESTAB as 7 digits"))
            }
            _ => {}
        }
        let reason = reason_text(&p.reason);
        if let Err(ServiceError::Invalid(e)) = &reason {
            errors.extend(e.iter().cloned());
        }
        let (Ok(child), Some(start), true, Ok(reason)) = (child, start, errors.is_empty(), reason) else {
            return Err(ServiceError::Invalid(errors));
        };
        let at = now_ms();
        self.write_audited(|tx| {
            self.own_provider(actor, tx, provider_id)?;
            let new = NewPlacement {
                council: &council,
                provider_id,
                child_id: &child,
                commissioner: p.commissioner,
                school: school.as_deref(),
                start_on: start,
                planned_end_on: end,
                hours_per_week: p.hours_per_week,
            };
            let placed = store::insert_placement(tx, new, Change { by: actor.user_id, reason: &reason, at })?;
            let event = self.event(
                actor,
                "ap.placement.add",
                "ok",
                vec![child.clone()],
                serde_json::json!({ "placement": placed.id, "provider": provider_id }),
            );
            Ok((placed, event))
        })
    }

    fn own_placement(&self, actor: &Actor, tx: &mut cnis_store::db::Tx<'_>, id: i64) -> cnis_store::Result<Placement> {
        let council = actor.council.map(|c| c.to_string());
        store::placement(tx, id)?
            .filter(|p| Some(&p.council) == council.as_ref())
            .ok_or(cnis_store::Error::NotFound("placement on your council's register"))
    }

    /// Records a week's attendance at a placement (again for a week
    /// replaces it, keeping the earlier row); gives back the placement.
    /// Audited against the child.
    pub fn record_attendance(&self, actor: &Actor, id: i64, a: NewAttendance) -> Result<Placement> {
        require(actor, Permission::ManageAp)?;
        scope(actor)?;
        let mut errors = Vec::new();
        let week = parse_day(&a.week_of, "week_of", &mut errors);
        if week.is_some_and(|w| w.weekday() != Weekday::Mon) {
            errors.push(field("week_of", "Enter the Monday of the week"));
        }
        if week.is_some_and(|w| w > today()) {
            errors.push(field("week_of", "The week cannot be in the future"));
        }
        if !(1..=10).contains(&a.offered) {
            errors.push(field("offered", "Enter the sessions offered, from 1 to 10"));
        }
        if a.attended < 0 || a.attended > a.offered {
            errors.push(field("attended", "Enter the sessions attended, from 0 to the sessions offered"));
        }
        let Some(week) = week.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
        let at = now_ms();
        self.write_audited(|tx| {
            let p = self.own_placement(actor, tx, id)?;
            if week + chrono::Days::new(6) < p.start_on || p.ended_on.is_some_and(|e| week > e) {
                return Err(cnis_store::Error::Refused("That week is outside the placement."));
            }
            store::insert_attendance(tx, id, week, a.attended, a.offered, actor.user_id, at)?;
            let detail = serde_json::json!({ "placement": id, "week_of": week.to_string() });
            let event = self.event(actor, "ap.attendance", "ok", vec![p.child_id.clone()], detail);
            Ok((p, event))
        })
    }

    /// Ends a placement, from the version seen. Audited against the child.
    pub fn end_placement(&self, actor: &Actor, id: i64, e: EndPlacement) -> Result<Placement> {
        require(actor, Permission::ManageAp)?;
        scope(actor)?;
        let mut errors = Vec::new();
        let on = parse_day(&e.ended_on, "ended_on", &mut errors);
        if on.is_some_and(|d| d > today()) {
            errors.push(field("ended_on", "The end date cannot be in the future"));
        }
        let reason = reason_text(&e.reason);
        if let Err(ServiceError::Invalid(x)) = &reason {
            errors.extend(x.iter().cloned());
        }
        let (Some(on), Ok(reason), true) = (on, reason, errors.is_empty()) else {
            return Err(ServiceError::Invalid(errors));
        };
        let at = now_ms();
        self.write_audited(|tx| {
            let p = self.own_placement(actor, tx, id)?;
            if p.ended_on.is_some() {
                return Err(cnis_store::Error::Refused("This placement has already ended."));
            }
            if on < p.start_on {
                return Err(cnis_store::Error::Refused("A placement cannot end before it started."));
            }
            let change = Change { by: actor.user_id, reason: &reason, at };
            let ended = store::end_placement(tx, id, e.version, on, &reason, change)?;
            let event = self.event(
                actor,
                "ap.placement.end",
                "ok",
                vec![p.child_id.clone()],
                serde_json::json!({ "placement": id }),
            );
            Ok((ended, event))
        })
    }

    /// Every alert on the council's register today. Audited.
    pub fn ap_alerts(&self, actor: &Actor) -> Result<Vec<ProviderAlert>> {
        Ok(self
            .providers(actor)?
            .into_iter()
            .flat_map(|s| {
                let (id, name) = (s.provider.id, s.provider.content.name.clone());
                s.alerts.into_iter().map(move |alert| ProviderAlert {
                    provider_id: id,
                    provider_name: name.clone(),
                    alert,
                })
            })
            .collect())
    }

    /// Puts each alert not sent before into its council's outbox, for the
    /// team managers: part of the daily sweep. Returns how many.
    pub(crate) fn queue_ap_alerts(
        &self,
        tx: &mut cnis_store::db::Tx<'_>,
        day: NaiveDate,
        at: i64,
        events: &mut Vec<cnis_store::audit::Event>,
    ) -> cnis_store::Result<usize> {
        let mut n = 0;
        for council in store::councils_with_providers(tx)? {
            let Ok(code) = cnis_core::LaCode::parse(&council) else { continue };
            for p in store::providers(tx, &council)? {
                let (_, placements, alerts) = self.provider_alerts(tx, p.id, day)?;
                for a in alerts {
                    let mut key = alert_key(p.id, &a);
                    // A later gap in the same placement is a new alert.
                    if let Alert::NoAttendance { placement, .. } = &a
                        && let Some(x) = placements.iter().find(|x| x.id == *placement)
                    {
                        key.push_str(&format!(":{}", x.last_attendance.unwrap_or(x.start_on)));
                    }
                    if !store::mark_alert_sent(tx, &council, &key, at)? {
                        continue;
                    }
                    let child = match &a {
                        Alert::NoAttendance { placement, .. } | Alert::PastPlannedEnd { placement, .. } => {
                            placements.iter().find(|x| x.id == *placement).map(|x| x.child_id.clone())
                        }
                        _ => None,
                    };
                    let body = serde_json::json!({ "provider": p.id, "provider_name": p.content.name, "alert": a });
                    cnis_store::cases::queue(tx, code, "team_managers", "ap.alert", child.as_deref(), &body, at)?;
                    events.push(cnis_store::audit::Event {
                        at,
                        actor: None,
                        actor_role: "system".into(),
                        council: Some(council.clone()),
                        action: "ap.alert".into(),
                        outcome: "ok".into(),
                        subjects: child.into_iter().collect(),
                        detail: serde_json::json!({ "provider": p.id }),
                    });
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}
