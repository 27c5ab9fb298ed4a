//! The children not in school register (new ss.436B–436G of the Education
//! Act 1996): who may act on it, what an entry holds, and the words for
//! its states.
//!
//! The content follows s.436C as the domain note gives it. The enacted
//! wording and the regulations are not final (the government's amendments
//! of January 2026 replaced "time with each parent" by an estimate of the
//! total, and ask for other providers only above a prescribed time), so an
//! entry holds both forms and which fields an entry must have before it can
//! be confirmed is a setting of the application layer, not of this type.
//! Optional content (s.436C(2): special educational needs, protected
//! characteristics, child-protection information) is a separate type,
//! [`RestrictedContent`], stored apart and shown only to roles allowed it.

use serde::{Deserialize, Serialize};

words! {
    /// What a user may do is decided by their role (and their council or
    /// school); the table of what each role may do is in the application
    /// layer.
    Role {
        /// Keeps the register for their council.
        Caseworker => "caseworker", "Caseworker";
        /// A caseworker who also sees optional content and escalations.
        TeamManager => "team_manager", "Team manager";
        /// Manages their council's accounts; sees no children.
        CouncilAdmin => "council_admin", "Council administrator";
        /// A school: submits its own deletion notices and sees their status.
        School => "school", "School user";
        /// A partner agency's system: identity lookup only.
        Partner => "partner", "Partner agency";
        /// Aggregates across councils, never names.
        NationalAnalyst => "national_analyst", "National analyst";
        /// Reads the audit, not the children.
        Auditor => "auditor", "Auditor";
        /// Scrutinises how any council's schools take children off roll:
        /// the deletion counts by school, never a child.
        Inspector => "inspector", "Inspector";
    }
}

words! {
    /// Where an entry is in its life.
    EntryStatus {
        /// Created from a source (a tracking run, a deletion notice) and
        /// waiting for a caseworker to confirm the child is eligible.
        Draft => "draft", "Draft";
        /// On the register.
        Registered => "registered", "Registered";
        /// Off the register, kept until its retention date.
        Left => "left", "Left the register";
        /// Found to be the same child as another entry and merged into it;
        /// given back its earlier status if the merge is undone.
        Merged => "merged", "Merged into another child";
    }
}

impl EntryStatus {
    /// Draft or registered: an entry a caseworker works on. A left entry
    /// is kept only for its retention period; a merged one is read through
    /// the child it was merged into.
    pub fn is_live(self) -> bool {
        matches!(self, EntryStatus::Draft | EntryStatus::Registered)
    }
}

words! {
    /// How the council learnt of the child.
    EntrySource {
        /// Entered by a caseworker.
        Hand => "hand", "Entered by a caseworker";
        /// A parent told the council (s.436D).
        ParentNotification => "parent_notification", "Parent's notification";
        /// A school's notice of deletion from its admission register.
        DeletionNotice => "deletion_notice", "School's deletion notice";
        /// A leaver found by comparing one census with the next.
        TrackingRun => "tracking_run", "Leaver found by tracking";
        /// Another agency or council.
        OtherAgency => "other_agency", "Another agency or council";
    }
}

words! {
    /// Why a child left the register.
    LeaveReason {
        /// Passed compulsory school age (the last Friday in June of the
        /// school year in which they turn 16).
        PassedCompulsorySchoolAge => "passed_compulsory_school_age", "Passed compulsory school age";
        /// Moved out of the council's area.
        MovedAway => "moved_away", "Moved out of the area";
        /// Registered at a relevant school.
        ReturnedToSchool => "returned_to_school", "Registered at a school";
        /// The draft was checked and the child is not eligible.
        NotEligible => "not_eligible", "Not eligible";
        /// Died.
        Died => "died", "Died";
        /// Entered twice; kept on the other entry.
        Duplicate => "duplicate", "Duplicate entry";
    }
}

/// A parent (s.436C(1)(b)–(d)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Parent {
    /// Name.
    pub name: String,
    /// Home address, if not the child's.
    pub address: Option<String>,
    /// Whether this parent provides education to the child.
    pub provides_education: bool,
    /// Hours a week of education from this parent, where recorded (the
    /// Bill as introduced asked for each parent's time).
    pub hours_per_week: Option<f64>,
}

/// Someone other than a parent who educates the child (s.436C(1)(e)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Provider {
    /// Name of the person or organisation.
    pub name: String,
    /// Its address.
    pub address: Option<String>,
    /// What kind of provider (a tutor, an online school, an unregistered
    /// alternative provision setting, ...).
    pub kind: String,
    /// Where the education happens, if not the provider's address.
    pub place: Option<String>,
    /// Web or e-mail address, for education delivered online.
    pub online: Option<String>,
    /// Hours a week the child is educated by this provider.
    pub hours_per_week: Option<f64>,
    /// Of those, hours a week without a parent present.
    pub hours_without_parent: Option<f64>,
}

/// A register entry's content: the statutory fields and the council's own.
/// Values are stored as entered after validation by the application layer
/// (identifiers and postcodes in their normal form, dates `YYYY-MM-DD`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct EntryContent {
    /// Given name.
    pub given_name: String,
    /// Middle names.
    pub middle_names: Option<String>,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub dob: String,
    /// Sex as recorded (`M`, `F`), if known.
    pub sex: Option<String>,
    /// Home address, without the postcode.
    pub address: Option<String>,
    /// Home postcode.
    pub postcode: Option<String>,
    /// UPN, where known.
    pub upn: Option<String>,
    /// NHS number, where known.
    pub nhs_number: Option<String>,
    /// Each parent.
    pub parents: Vec<Parent>,
    /// Estimate of the total hours a week the child is educated by parents.
    pub parent_hours_per_week: Option<f64>,
    /// Others who educate the child.
    pub providers: Vec<Provider>,
    /// Estimate of the total hours a week the child is educated by others.
    pub other_hours_per_week: Option<f64>,
    /// Registered at a relevant school but educated elsewhere for part of
    /// the time by the school's arrangement (flexi-schooling, a part-time
    /// timetable): eligibility condition C(b).
    pub school_arranged_absence: bool,
    /// The school the child is registered at, for such an arrangement
    /// (LAESTAB).
    pub current_school: Option<String>,
    /// The school the child was last registered at (LAESTAB).
    pub previous_school: Option<String>,
    /// Why the child is not in school, in the council's words.
    pub reason_not_in_school: Option<String>,
    /// The date the council learnt of the child, `YYYY-MM-DD`.
    pub known_on: Option<String>,
    /// The date the child became eligible, where known.
    pub eligible_from: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// Optional content (s.436C(2)), held apart with tighter access.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RestrictedContent {
    /// Special educational needs: `none`, `sen_support`, `ehc_plan`.
    pub sen: Option<String>,
    /// Protected characteristics the parents chose to give.
    pub protected_characteristics: Option<String>,
    /// Subject to a s.47 enquiry.
    pub child_protection_enquiry: Option<bool>,
    /// Subject to a child-protection plan.
    pub child_protection_plan: Option<bool>,
    /// Looked after.
    pub looked_after: Option<bool>,
    /// A child in need (s.17).
    pub child_in_need: Option<bool>,
    /// Recorded by a social worker as at risk of harm at home.
    pub risk_of_harm_at_home: Option<bool>,
    /// Notes.
    pub notes: Option<String>,
}

impl RestrictedContent {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        *self == RestrictedContent::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(*r));
        }
        for s in EntryStatus::ALL {
            assert_eq!(EntryStatus::parse(s.code()), Some(*s));
        }
        for s in LeaveReason::ALL {
            assert_eq!(LeaveReason::parse(s.code()), Some(*s));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<EntryContent, _> = serde_json::from_str(r#"{"given_name":"A","surname":"B"}"#);
        assert!(r.is_err());
    }
}
