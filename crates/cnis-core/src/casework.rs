//! Casework around the register: a school's notice that it deleted a
//! pupil, and the missing-education and home-education cases that follow.
//!
//! A deletion notice is the return a school makes to its council when it
//! deletes a pupil of compulsory school age from its admission register
//! (reg. 13 of the 2024 Pupil Registration Regulations): the pupil's name
//! and address, the parents', the ground for deletion and any destination
//! (`../shared/domain/registration-and-deletion.md`). Which notices open
//! which case is [`case_for_notice`]: one that leaves the child's education
//! unknown opens a missing-education case, one on the home-education
//! ground a home-education case.

use serde::{Deserialize, Serialize};

use crate::deletion::GroundMeaning;

words! {
    /// What kind of case.
    CaseKind {
        /// A child who may be missing education (not on a school roll and
        /// not known to be educated otherwise): the council's enquiries.
        MissingEducation => "missing_education", "Missing education";
        /// A child being educated at home: enquiries into whether the
        /// education is suitable.
        HomeEducation => "home_education", "Home education";
    }
}

words! {
    /// Where a case is.
    CaseStatus {
        /// Being worked.
        Open => "open", "Open";
        /// Closed with an outcome.
        Closed => "closed", "Closed";
    }
}

words! {
    /// How the case came to the council.
    CaseSource {
        /// A school's deletion notice.
        DeletionNotice => "deletion_notice", "School's deletion notice";
        /// A school's report of a pupil absent 10 school days without
        /// explanation, so that joint enquiries happen before deletion.
        AbsenceReport => "absence_report", "School's report of absence";
        /// A leaver found by tracking one census against the next.
        LeaverList => "leaver_list", "Leaver found by tracking";
        /// Another agency or council.
        OtherAgency => "other_agency", "Another agency or council";
        /// A member of the public.
        Public => "public", "Member of the public";
        /// A parent.
        Parent => "parent", "Parent";
    }
}

words! {
    /// Who was asked, in an enquiry about a child's whereabouts or
    /// education.
    EnquiryKind {
        /// The school the child left.
        School => "school", "School";
        /// Health (GP, school nursing, health visiting).
        Health => "health", "Health";
        /// Police.
        Police => "police", "Police";
        /// Housing.
        Housing => "housing", "Housing";
        /// Children's social care.
        SocialCare => "social_care", "Children's social care";
        /// Another council.
        OtherCouncil => "other_council", "Another council";
        /// A visit to the home.
        HomeVisit => "home_visit", "Home visit";
        /// The parents.
        Parents => "parents", "Parents";
        /// The Lost Pupils Database on School to School.
        LostPupilsDatabase => "lost_pupils_database", "Lost Pupils Database";
        /// Anyone else.
        Other => "other", "Other";
    }
}

words! {
    /// How a case ended.
    CaseOutcome {
        /// On a school roll again.
        BackInSchool => "back_in_school", "Back in school";
        /// Educated at home (a missing-education case that found the
        /// child home educated; a home-education case opens).
        HomeEducation => "home_education", "Home education";
        /// Home education found suitable.
        SuitableEducation => "suitable_education", "Education at home found suitable";
        /// Moved to another council, which knows of the child.
        MovedToKnownCouncil => "moved_to_known_council", "Moved to a council that knows of the child";
        /// Left England, confirmed.
        AbroadConfirmed => "abroad_confirmed", "Left England, confirmed";
        /// In alternative provision arranged by the council.
        AlternativeProvision => "alternative_provision", "In alternative provision";
        /// Past compulsory school age.
        PastSchoolAge => "past_school_age", "Past compulsory school age";
        /// Not found after every enquiry; the case is closed and the child
        /// stays recorded as missing education.
        NotLocated => "not_located", "Not located after every enquiry";
        /// A school attendance order was served.
        AttendanceOrder => "attendance_order", "School attendance order served";
        /// Died.
        Died => "died", "Died";
        /// Opened in error.
        OpenedInError => "opened_in_error", "Opened in error";
    }
}

words! {
    /// Where a deleted pupil went, as the school knows it.
    DestinationKind {
        /// Registered at another school (named).
        OtherSchool => "other_school", "Another school";
        /// Educated at home.
        HomeEducation => "home_education", "Home education";
        /// Moved to another council's area (named), no school known.
        OtherCouncil => "other_council", "Moved to another council's area";
        /// Left England.
        Abroad => "abroad", "Left England";
        /// Not known.
        Unknown => "unknown", "Not known";
    }
}

/// A parent as a deletion notice gives them (reg. 13: name, address and
/// an emergency telephone number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct NoticeParent {
    /// Full name.
    pub name: String,
    /// Address, if not the child's.
    pub address: Option<String>,
    /// Emergency telephone number.
    pub telephone: Option<String>,
}

/// Where the school says the pupil went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NoticeDestination {
    /// What kind.
    pub kind: DestinationKind,
    /// The new school's LAESTAB (seven digits), for `other_school`.
    #[serde(default)]
    pub school: Option<String>,
    /// The new council's three-digit code, for `other_council`.
    #[serde(default)]
    pub council: Option<String>,
    /// The new address, where the parent gave it.
    #[serde(default)]
    pub address: Option<String>,
    /// The day the pupil starts there, where known (`YYYY-MM-DD`).
    #[serde(default)]
    pub start_date: Option<String>,
}

/// A school's notice that it deleted a pupil from its admission register.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct DeletionNotice {
    /// The school's LAESTAB (seven digits). A school user's own school
    /// when left empty.
    pub school: String,
    /// The day the name was deleted (`YYYY-MM-DD`).
    pub deletion_date: String,
    /// The ground, as `9(1)(i)`, `8(1)(h)` or a letter alone (read under
    /// the regulations in force on the deletion date).
    pub ground: String,
    /// The pupil's given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (`YYYY-MM-DD`).
    pub dob: String,
    /// Sex as the census records it (`M`, `F`), if given.
    pub sex: Option<String>,
    /// UPN, if the school gives it.
    pub upn: Option<String>,
    /// Home address.
    pub address: Option<String>,
    /// Home postcode.
    pub postcode: Option<String>,
    /// Parents the pupil normally lives with.
    pub parents: Vec<NoticeParent>,
    /// Where the pupil went, if known.
    pub destination: Option<NoticeDestination>,
    /// Anything else the school wants the council to know.
    pub notes: Option<String>,
    /// Special educational needs as the census records them: `N` none,
    /// `K` SEN support, `E` an EHC plan.
    pub sen: Option<String>,
    /// The pupil's overall absence in the last full term, as a percentage
    /// of possible sessions.
    pub absence_percent: Option<f64>,
}

/// Which case a deletion notice opens: a missing-education case when the
/// ground or the destination leaves the child's education unknown (20
/// days' absence, not back after a leave of absence, moved away with no
/// school named, destination not known), a home-education case on the
/// home-education ground (or destination), and none otherwise (another
/// school named, died, past school age, and the rest).
pub fn case_for_notice(ground: GroundMeaning, destination: Option<DestinationKind>) -> Option<CaseKind> {
    use GroundMeaning as G;
    match ground {
        G::Died | G::CeasingCompulsorySchoolAge | G::NurseryCompleted => None,
        G::ContinuousAbsence | G::LeaveOfAbsence => Some(CaseKind::MissingEducation),
        G::HomeEducation => Some(CaseKind::HomeEducation),
        _ => match destination {
            Some(DestinationKind::HomeEducation) => Some(CaseKind::HomeEducation),
            Some(DestinationKind::Unknown) => Some(CaseKind::MissingEducation),
            None if ground == G::MovedAway => Some(CaseKind::MissingEducation),
            _ => None,
        },
    }
}

/// One enquiry made in a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Enquiry {
    /// Who was asked.
    pub kind: EnquiryKind,
    /// When (`YYYY-MM-DD`).
    pub made_on: String,
    /// What was learnt.
    pub outcome: String,
    /// Whether it found where the child is.
    #[serde(default)]
    pub located: bool,
    /// Recorded by (account id; filled in by the service).
    #[serde(default)]
    pub recorded_by: i64,
}

/// What a case holds beside the columns it is found by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CaseContent {
    /// The child's given name, as the case knows it.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (`YYYY-MM-DD`).
    pub dob: String,
    /// Why it was opened, in the source's or the caseworker's words.
    pub summary: String,
    /// The period the deadline was worked out from, and whether it was
    /// counted without term dates.
    pub deadline_rule: Option<crate::calendar::Period>,
    /// Counted without the council's term dates.
    pub deadline_approximate: bool,
    /// The deletion notice it came from.
    pub notice_id: Option<i64>,
    /// Enquiries made, in the order recorded.
    pub enquiries: Vec<Enquiry>,
    /// The day the child was found, if they were.
    pub located_on: Option<String>,
    /// The caseworker's note on closing.
    pub closing_note: Option<String>,
    /// What the key worker must see at once (home education without the
    /// consent the law requires; a child at risk of harm at home).
    pub flags: Vec<String>,
    /// The day the case was escalated to the team managers as overdue.
    pub escalated_on: Option<String>,
    /// A home-education case's steps, in order (see [`check_he_step`]).
    pub he_steps: Vec<HeStep>,
}

words! {
    /// A step of a home-education case, from the notification to a school
    /// attendance order (s.437 to s.440 EA 1996).
    HeStage {
        /// The council learnt the child is educated at home.
        Notified => "notified", "Notification received";
        /// The council's first enquiries of the parents.
        InitialEnquiries => "initial_enquiries", "Initial enquiries made";
        /// The council asked to visit the home.
        HomeVisitRequested => "home_visit_requested", "Home visit requested";
        /// The council decided whether the education is suitable.
        Assessed => "assessed", "Suitability assessed";
        /// A notice requiring the parent to satisfy the council, within at
        /// least 15 days, that the child is receiving suitable education
        /// (s.437(1)).
        NoticeToSatisfy => "notice_to_satisfy", "Notice to satisfy served (s.437(1))";
        /// Notice of the school the council intends to name in an order
        /// (s.438).
        NoticeOfIntendedSchool => "notice_of_intended_school", "Notice of intended school served (s.438)";
        /// A school attendance order served (s.437(3)).
        OrderServed => "order_served", "School attendance order served";
        /// The order revoked (s.442).
        OrderRevoked => "order_revoked", "School attendance order revoked";
    }
}

/// One step of a home-education case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HeStep {
    /// Which step.
    pub stage: HeStage,
    /// The day it happened or was served (`YYYY-MM-DD`).
    pub on: chrono::NaiveDate,
    /// What happened, in the caseworker's words.
    #[serde(default)]
    pub note: String,
    /// The letter or document it rests on (a reference in the council's
    /// document store), if any.
    #[serde(default)]
    pub document: Option<String>,
    /// For a notice to satisfy: the day the parent must satisfy the council
    /// by (at least the notice period after it is served).
    #[serde(default)]
    pub satisfy_by: Option<chrono::NaiveDate>,
    /// For an assessment: whether the education is suitable.
    #[serde(default)]
    pub suitable: Option<bool>,
    /// For a notice of intended school or an order: the school (LAESTAB).
    #[serde(default)]
    pub school: Option<String>,
    /// Recorded by (account id; filled in by the service).
    #[serde(default)]
    pub recorded_by: i64,
}

/// Whether `step` may follow `steps` in a home-education case: the law's
/// order and periods. `notice_days` is the period of a notice to satisfy
/// (at least 15 days, s.437(1)); `choose_days` the time a parent has to
/// choose another school after a notice of intended school (15 days,
/// s.438(4)) before an order may be served. Returns the field and the
/// reason when it may not.
pub fn check_he_step(
    steps: &[HeStep],
    step: &HeStep,
    notice_days: u64,
    choose_days: u64,
) -> Result<(), (&'static str, &'static str)> {
    use HeStage::*;
    if steps.last().is_some_and(|l| step.on < l.on) {
        return Err(("on", "A step cannot be dated before the step recorded before it"));
    }
    let order_in_force = {
        let served = steps.iter().rposition(|s| s.stage == OrderServed);
        let revoked = steps.iter().rposition(|s| s.stage == OrderRevoked);
        match (served, revoked) {
            (Some(s), Some(r)) => s > r,
            (Some(_), None) => true,
            _ => false,
        }
    };
    let last_notice = steps.iter().rposition(|s| s.stage == NoticeToSatisfy);
    let needs_school =
        |s: &HeStep| s.school.as_deref().is_some_and(|x| x.len() == 7 && x.bytes().all(|b| b.is_ascii_digit()));
    match step.stage {
        Notified if !steps.is_empty() => Err(("stage", "The notification is the first step of a case")),
        Assessed if step.suitable.is_none() => Err(("suitable", "Say whether the education is suitable")),
        NoticeToSatisfy => {
            if order_in_force {
                return Err(("stage", "An order is in force: revoke it first"));
            }
            // "Not less than 15 days beginning with the day on which the
            // notice is served" (s.437(2)): the day served is the first.
            let earliest = step.on + chrono::Days::new(notice_days.saturating_sub(1));
            // The law sets no longest period; a date more than a year off
            // is taken for a typing slip, since it would hold the case open.
            let latest = step.on + chrono::Days::new(366);
            match step.satisfy_by {
                Some(d) if d > latest => {
                    Err(("satisfy_by", "The date to satisfy the council by must be within a year"))
                }
                Some(d) if d >= earliest => Ok(()),
                _ => Err(("satisfy_by", "Give the parent at least the notice period (15 days) to satisfy the council")),
            }
        }
        NoticeOfIntendedSchool => {
            let Some(n) = last_notice else {
                return Err(("stage", "Serve a notice to satisfy first"));
            };
            if steps[n].satisfy_by.is_none_or(|d| step.on <= d) {
                return Err(("on", "The period of the notice to satisfy has not ended"));
            }
            if steps[n + 1..].iter().any(|s| s.stage == Assessed && s.suitable == Some(true)) {
                return Err(("stage", "The education was found suitable after the notice to satisfy"));
            }
            if !needs_school(step) {
                return Err(("school", "Name the intended school by its LAESTAB (7 digits)"));
            }
            Ok(())
        }
        OrderServed => {
            if order_in_force {
                return Err(("stage", "An order is already in force"));
            }
            let Some(intended) = steps.iter().rposition(|s| s.stage == NoticeOfIntendedSchool) else {
                return Err(("stage", "Serve a notice of intended school first"));
            };
            // The notice must belong to this round: not one that led to an
            // order since revoked.
            let last_order = steps.iter().rposition(|s| matches!(s.stage, OrderServed | OrderRevoked));
            if last_order.is_some_and(|o| o > intended) {
                return Err(("stage", "Serve a new notice to satisfy and notice of intended school first"));
            }
            if last_notice.is_some_and(|n| n > intended) {
                return Err(("stage", "A notice to satisfy was served after the notice of intended school"));
            }
            let since_notice = last_notice.unwrap_or(intended);
            if steps[since_notice..].iter().any(|s| s.stage == Assessed && s.suitable == Some(true)) {
                return Err(("stage", "The education was found suitable after the notice to satisfy"));
            }
            if step.on < steps[intended].on + chrono::Days::new(choose_days) {
                return Err(("on", "The parent has 15 days from the notice of intended school to choose a school"));
            }
            if !needs_school(step) {
                return Err(("school", "Name the school the order requires the child to attend (LAESTAB)"));
            }
            Ok(())
        }
        OrderRevoked if !order_in_force => Err(("stage", "No order is in force")),
        _ => Ok(()),
    }
}

words! {
    /// A kind of social-care involvement the council records.
    CareKind {
        /// A s.47 Children Act 1989 enquiry.
        Section47 => "section_47", "Section 47 enquiry";
        /// A child protection plan.
        ChildProtectionPlan => "child_protection_plan", "Child protection plan";
        /// A child in need (s.17) only.
        ChildInNeed => "child_in_need", "Child in need";
        /// Looked after by the council.
        LookedAfter => "looked_after", "Looked after";
    }
}

/// One period of social-care involvement, from the council's own records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CareEpisode {
    /// What kind.
    pub kind: CareKind,
    /// First day (`YYYY-MM-DD`).
    pub start: chrono::NaiveDate,
    /// The day it ended, if it has (`YYYY-MM-DD`).
    #[serde(default)]
    pub end: Option<chrono::NaiveDate>,
    /// Whether the child's social worker records them as at risk of harm
    /// at home.
    #[serde(default)]
    pub risk_of_harm_at_home: bool,
}

impl CareEpisode {
    /// Whether the episode is current on `on`: begun by then and not yet
    /// ended (one that ended on `on` is over).
    pub fn current_on(&self, on: chrono::NaiveDate) -> bool {
        self.start <= on && self.end.is_none_or(|e| e > on)
    }
}

words! {
    /// Why a child is a "relevant child" whose withdrawal to home education
    /// needs the council's consent (new s.434A EA 1996).
    ConsentGround {
        /// Attends a special school.
        SpecialSchool => "special_school", "Attends a special school";
        /// Subject to s.47 enquiries current on the date.
        Section47 => "section_47", "Subject to section 47 enquiries";
        /// Subject to a child protection plan current on the date.
        ChildProtectionPlan => "child_protection_plan", "Subject to a child protection plan";
    }
}

/// Whether a child is a relevant child on `on` under new s.434A EA 1996
/// (to be commenced; `../shared/domain/cnis-register.md` section 4), and
/// why: at a special school; or subject to s.47 enquiries or a child
/// protection plan current on that date, by the council's social-care
/// records. A child in need only, looked after only, or whose enquiry or
/// plan has ended, is not. An empty answer means consent is not needed.
pub fn relevant_child(at_special_school: bool, care: &[CareEpisode], on: chrono::NaiveDate) -> Vec<ConsentGround> {
    let mut why = Vec::new();
    if at_special_school {
        why.push(ConsentGround::SpecialSchool);
    }
    for (kind, ground) in [
        (CareKind::Section47, ConsentGround::Section47),
        (CareKind::ChildProtectionPlan, ConsentGround::ChildProtectionPlan),
    ] {
        if care.iter().any(|e| e.kind == kind && e.current_on(on)) {
            why.push(ground);
        }
    }
    why
}

/// Whether the child's social worker records them as at risk of harm at
/// home in an episode current on `on`: flagged to the key worker whatever
/// the route out of school.
pub fn at_risk_at_home(care: &[CareEpisode], on: chrono::NaiveDate) -> bool {
    care.iter().any(|e| e.risk_of_harm_at_home && e.current_on(on))
}

#[cfg(test)]
mod tests {

    fn he(stage: HeStage, on: &str) -> HeStep {
        HeStep {
            stage,
            on: chrono::NaiveDate::parse_from_str(on, "%Y-%m-%d").expect("date"),
            note: String::new(),
            document: None,
            satisfy_by: None,
            suitable: None,
            school: None,
            recorded_by: 0,
        }
    }

    #[test]
    fn a_school_attendance_order_follows_the_law_s_steps_and_periods() {
        use HeStage::*;
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let mut steps = vec![he(Notified, "2026-09-07"), he(InitialEnquiries, "2026-09-10")];
        // Notified only first; a step not before the last.
        assert_eq!(check_he_step(&steps, &he(Notified, "2026-09-11"), 15, 15).map_err(|e| e.0), Err("stage"));
        assert_eq!(check_he_step(&steps, &he(HomeVisitRequested, "2026-09-09"), 15, 15).map_err(|e| e.0), Err("on"));
        // An assessment says suitable or not.
        assert_eq!(check_he_step(&steps, &he(Assessed, "2026-10-01"), 15, 15).map_err(|e| e.0), Err("suitable"));
        steps.push(HeStep { suitable: Some(false), ..he(Assessed, "2026-10-01") });
        // No intended school or order before a notice to satisfy.
        let mut intended = HeStep { school: Some("2024001".into()), ..he(NoticeOfIntendedSchool, "2026-10-02") };
        assert_eq!(check_he_step(&steps, &intended, 15, 15).map_err(|e| e.0), Err("stage"));
        // The notice gives at least 15 days beginning with the day served:
        // served 5 October, by the 19th at the earliest (not the 18th).
        let mut notice = HeStep { satisfy_by: Some(day("2026-10-18")), ..he(NoticeToSatisfy, "2026-10-05") };
        assert_eq!(check_he_step(&steps, &notice, 15, 15).map_err(|e| e.0), Err("satisfy_by"));
        notice.satisfy_by = Some(day("2027-10-07"));
        assert_eq!(check_he_step(&steps, &notice, 15, 15).map_err(|e| e.0), Err("satisfy_by"), "over a year");
        notice.satisfy_by = Some(day("2027-10-06"));
        assert_eq!(check_he_step(&steps, &notice, 15, 15), Ok(()), "a year and a day is the longest");
        notice.satisfy_by = Some(day("2026-10-19"));
        assert_eq!(check_he_step(&steps, &notice, 15, 15), Ok(()));
        steps.push(notice);
        // The intended school only once the period has ended.
        intended.on = day("2026-10-19");
        assert_eq!(check_he_step(&steps, &intended, 15, 15).map_err(|e| e.0), Err("on"));
        intended.on = day("2026-10-21");
        assert_eq!(check_he_step(&steps, &intended, 15, 15), Ok(()));
        // Not if the education was found suitable after the notice.
        let mut found = steps.clone();
        found.push(HeStep { suitable: Some(true), ..he(Assessed, "2026-10-20") });
        assert_eq!(check_he_step(&found, &intended, 15, 15).map_err(|e| e.0), Err("stage"));
        steps.push(intended);
        // The order: 15 days after the intended school, naming a school.
        let mut order = HeStep { school: Some("2024001".into()), ..he(OrderServed, "2026-11-04") };
        assert_eq!(check_he_step(&steps, &order, 15, 15).map_err(|e| e.0), Err("on"));
        order.on = day("2026-11-05");
        assert_eq!(check_he_step(&steps, &order, 15, 15), Ok(()));
        order.school = None;
        assert_eq!(check_he_step(&steps, &order, 15, 15).map_err(|e| e.0), Err("school"));
        order.school = Some("2024001".into());
        steps.push(order.clone());
        // One order at a time; revoked only when in force.
        let later = HeStep { on: day("2026-11-30"), ..order };
        assert_eq!(check_he_step(&steps, &later, 15, 15).map_err(|e| e.0), Err("stage"));
        assert_eq!(check_he_step(&steps, &he(OrderRevoked, "2026-11-30"), 15, 15), Ok(()));
        // An order found suitable against after its intended school is refused.
        let mut suitable = steps[..steps.len() - 1].to_vec();
        suitable.push(HeStep { suitable: Some(true), ..he(Assessed, "2026-11-01") });
        let order2 = HeStep { school: Some("2024001".into()), ..he(OrderServed, "2026-11-05") };
        assert_eq!(check_he_step(&suitable, &order2, 15, 15).map_err(|e| e.0), Err("stage"));
        steps.push(he(OrderRevoked, "2026-11-30"));
        assert_eq!(check_he_step(&steps, &he(OrderRevoked, "2026-12-01"), 15, 15).map_err(|e| e.0), Err("stage"));
        // After a revocation, a new order needs a new round of notices.
        let again = HeStep { school: Some("2024001".into()), ..he(OrderServed, "2026-12-20") };
        assert_eq!(check_he_step(&steps, &again, 15, 15).map_err(|e| e.0), Err("stage"));
    }

    use super::*;

    #[test]
    fn notices_open_the_case_the_ground_and_destination_call_for() {
        use DestinationKind as D;
        use GroundMeaning as G;
        let cases = [
            (G::ContinuousAbsence, None, Some(CaseKind::MissingEducation)),
            (G::ContinuousAbsence, Some(D::OtherSchool), Some(CaseKind::MissingEducation)),
            (G::LeaveOfAbsence, None, Some(CaseKind::MissingEducation)),
            (G::MovedAway, None, Some(CaseKind::MissingEducation)),
            (G::MovedAway, Some(D::Unknown), Some(CaseKind::MissingEducation)),
            (G::MovedAway, Some(D::OtherSchool), None),
            (G::MovedAway, Some(D::OtherCouncil), None),
            (G::MovedAway, Some(D::Abroad), None),
            (G::HomeEducation, None, Some(CaseKind::HomeEducation)),
            (G::HomeEducation, Some(D::HomeEducation), Some(CaseKind::HomeEducation)),
            (G::OtherSchool, Some(D::OtherSchool), None),
            (G::OtherSchool, None, None),
            (G::PermanentlyExcluded, Some(D::Unknown), Some(CaseKind::MissingEducation)),
            (G::PermanentlyExcluded, Some(D::HomeEducation), Some(CaseKind::HomeEducation)),
            (G::Died, Some(D::Unknown), None),
            (G::CeasingCompulsorySchoolAge, Some(D::Unknown), None),
        ];
        for (ground, dest, want) in cases {
            assert_eq!(case_for_notice(ground, dest), want, "{ground:?} with {dest:?}");
        }
    }

    fn d(y: i32, m: u32, day: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn ep(kind: CareKind, start: chrono::NaiveDate, end: Option<chrono::NaiveDate>) -> CareEpisode {
        CareEpisode { kind, start, end, risk_of_harm_at_home: false }
    }

    #[test]
    fn the_consent_rule_decides_as_the_law_says_case_by_case() {
        let on = d(2026, 11, 30);
        // Special school: relevant, whatever social care knows.
        assert_eq!(relevant_child(true, &[], on), [ConsentGround::SpecialSchool]);
        // A s.47 enquiry open on the day.
        assert_eq!(
            relevant_child(false, &[ep(CareKind::Section47, d(2026, 11, 20), None)], on),
            [ConsentGround::Section47]
        );
        // A s.47 enquiry that ended before the day: not relevant.
        assert!(
            relevant_child(false, &[ep(CareKind::Section47, d(2026, 10, 1), Some(d(2026, 10, 20)))], on).is_empty()
        );
        // A current child protection plan.
        let plan = ep(CareKind::ChildProtectionPlan, d(2026, 6, 1), None);
        assert_eq!(relevant_child(false, std::slice::from_ref(&plan), on), [ConsentGround::ChildProtectionPlan]);
        // A plan that has ended (on the day itself, or before): not relevant.
        assert!(relevant_child(false, &[ep(CareKind::ChildProtectionPlan, d(2025, 6, 1), Some(on))], on).is_empty());
        assert!(
            relevant_child(false, &[ep(CareKind::ChildProtectionPlan, d(2025, 6, 1), Some(d(2026, 1, 5)))], on)
                .is_empty()
        );
        // A plan that starts after the day is not current on it.
        assert!(relevant_child(false, &[ep(CareKind::ChildProtectionPlan, d(2026, 12, 1), None)], on).is_empty());
        // A child in need only, or looked after only: not relevant.
        assert!(relevant_child(false, &[ep(CareKind::ChildInNeed, d(2026, 1, 1), None)], on).is_empty());
        assert!(relevant_child(false, &[ep(CareKind::LookedAfter, d(2026, 1, 1), None)], on).is_empty());
        // Not known to social care.
        assert!(relevant_child(false, &[], on).is_empty());
        // Everything at once, in the fixed order.
        let all = [ep(CareKind::Section47, d(2026, 11, 1), None), plan];
        assert_eq!(
            relevant_child(true, &all, on),
            [ConsentGround::SpecialSchool, ConsentGround::Section47, ConsentGround::ChildProtectionPlan]
        );
    }

    #[test]
    fn risk_of_harm_at_home_counts_only_while_current() {
        let on = d(2026, 11, 30);
        let mut e = ep(CareKind::ChildInNeed, d(2026, 1, 1), None);
        assert!(!at_risk_at_home(std::slice::from_ref(&e), on));
        e.risk_of_harm_at_home = true;
        assert!(at_risk_at_home(std::slice::from_ref(&e), on));
        e.end = Some(d(2026, 6, 1));
        assert!(!at_risk_at_home(&[e], on));
    }

    #[test]
    fn words_read_back() {
        for k in CaseOutcome::ALL {
            assert_eq!(CaseOutcome::parse(k.code()), Some(*k));
        }
        for k in EnquiryKind::ALL {
            assert_eq!(EnquiryKind::parse(k.code()), Some(*k));
        }
    }
}
