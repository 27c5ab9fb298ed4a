//! The register of unregistered ("non-school") alternative provision: the
//! providers a council or its schools place children with, the national
//! standards each is checked against, quality-assurance visits, and the
//! placements of children with their attendance
//! (`../shared/domain/cnis-register.md` section 7).
//!
//! The standards were published in August 2025 as voluntary, to be made
//! mandatory later; which ones a council checks is a setting, with the four
//! the casework issue names as the default. What raises an alert is
//! [`alerts`]: a standard with no evidence or evidence past its expiry, a
//! placement with no attendance recorded for too long, and a placement
//! running past its planned end ("an intervention, not a destination").

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

words! {
    /// What kind of provider.
    ProviderKind {
        /// A company or charity offering education or training.
        Organisation => "organisation", "Organisation";
        /// A sole trader (a tutor, a coach).
        SoleTrader => "sole_trader", "Sole trader";
        /// Online tuition.
        Online => "online", "Online provider";
        /// A further education college taking children under 16 without
        /// registration as a school.
        College => "college", "College";
        /// Anything else.
        Other => "other", "Other";
    }
}

words! {
    /// Who commissioned a placement.
    Commissioner {
        /// A school, for a pupil on its roll.
        School => "school", "A school";
        /// The council, for a child it arranges education for (s.19).
        Council => "council", "The council";
    }
}

/// The standards checked when a council sets none: the four the casework
/// issue names.
pub const DEFAULT_STANDARDS: &[&str] =
    &["safeguarding_lead", "enhanced_dbs_checks", "single_central_record", "health_and_safety"];

/// A standard's words for a person (its code where the code is a council's
/// own).
pub fn standard_label(code: &str) -> &str {
    match code {
        "safeguarding_lead" => "A named, trained designated safeguarding lead",
        "enhanced_dbs_checks" => "Enhanced DBS checks with barred list for staff",
        "single_central_record" => "A single central record of checks on staff",
        "health_and_safety" => "Health and safety: premises, risk assessments, first aid",
        "insurance" => "Public and employer's liability insurance",
        "attendance_recording" => "Attendance recorded and shared with the commissioner daily",
        "curriculum" => "A planned curriculum with English and maths",
        other => other,
    }
}

/// A contact at a provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// Role (manager, safeguarding lead).
    pub role: Option<String>,
    /// Telephone.
    pub telephone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

/// What the register holds about a provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderContent {
    /// Name.
    pub name: String,
    /// Kind.
    #[serde(default = "other_kind")]
    pub kind: ProviderKind,
    /// UK Provider Reference Number, where it has one (8 digits, starting 1).
    #[serde(default)]
    pub ukprn: Option<String>,
    /// Where it teaches (one address a line).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Its web address, for an online provider.
    #[serde(default)]
    pub web_address: Option<String>,
    /// People to contact.
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

fn other_kind() -> ProviderKind {
    ProviderKind::Other
}

// `words!` declares the enum and its derives, so `Default` is written here.
#[allow(clippy::derivable_impls)]
impl Default for ProviderKind {
    fn default() -> ProviderKind {
        ProviderKind::Other
    }
}

/// A UKPRN: eight digits starting with 1.
pub fn valid_ukprn(s: &str) -> bool {
    s.len() == 8 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit())
}

/// The evidence a standard stands on, as last recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardEvidence {
    /// The standard's code.
    pub standard: String,
    /// Until when it holds.
    pub expires_on: Option<NaiveDate>,
}

/// A placement as [`alerts`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementDates {
    /// Placement id.
    pub id: i64,
    /// Started on.
    pub start_on: NaiveDate,
    /// Planned to end on.
    pub planned_end_on: Option<NaiveDate>,
    /// Ended on, if it has.
    pub ended_on: Option<NaiveDate>,
    /// The last week attendance was recorded for (its Monday), if any.
    pub last_attendance: Option<NaiveDate>,
}

/// Something about a provider or placement that needs a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// A standard has no evidence recorded.
    StandardMissing {
        /// The standard.
        standard: String,
    },
    /// A standard's evidence expired.
    StandardLapsed {
        /// The standard.
        standard: String,
        /// When it expired.
        expired_on: NaiveDate,
    },
    /// A placement under way has no attendance recorded for `days` days.
    NoAttendance {
        /// The placement.
        placement: i64,
        /// Days since the placement started or attendance was last
        /// recorded.
        days: i64,
    },
    /// A placement under way is past its planned end.
    PastPlannedEnd {
        /// The placement.
        placement: i64,
        /// Its planned end.
        planned_end_on: NaiveDate,
    },
}

/// The alerts for one provider on `today`: each standard in `standards`
/// with no evidence or evidence expired before `today` (only when the
/// provider has a placement under way, or `always`), each placement under
/// way with no attendance recorded for more than `attendance_gap_days`, and
/// each past its planned end. Evidence is the latest recorded for each
/// standard.
pub fn alerts(
    standards: &[String],
    evidence: &[StandardEvidence],
    placements: &[PlacementDates],
    today: NaiveDate,
    attendance_gap_days: i64,
    always: bool,
) -> Vec<Alert> {
    let under_way: Vec<&PlacementDates> =
        placements.iter().filter(|p| p.start_on <= today && p.ended_on.is_none_or(|e| e > today)).collect();
    let mut out = Vec::new();
    if always || !under_way.is_empty() {
        for s in standards {
            match evidence.iter().rev().find(|e| &e.standard == s) {
                None => out.push(Alert::StandardMissing { standard: s.clone() }),
                Some(StandardEvidence { expires_on: Some(d), .. }) if *d < today => {
                    out.push(Alert::StandardLapsed { standard: s.clone(), expired_on: *d })
                }
                Some(_) => {}
            }
        }
    }
    for p in under_way {
        // A week's attendance covers that week: the gap runs from the end
        // of the last week recorded (or the start).
        let since = p.last_attendance.map_or(p.start_on, |w| w + chrono::Days::new(7)).max(p.start_on);
        let days = (today - since).num_days();
        if days > attendance_gap_days {
            out.push(Alert::NoAttendance { placement: p.id, days });
        }
        if let Some(end) = p.planned_end_on
            && end < today
        {
            out.push(Alert::PastPlannedEnd { placement: p.id, planned_end_on: end });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn standards() -> Vec<String> {
        DEFAULT_STANDARDS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_standard_alerts_when_missing_or_lapsed_and_the_latest_evidence_stands() {
        let today = d("2026-11-30");
        let p = [PlacementDates {
            id: 1,
            start_on: d("2026-11-02"),
            planned_end_on: None,
            ended_on: None,
            last_attendance: Some(d("2026-11-23")),
        }];
        let ev = vec![
            StandardEvidence { standard: "safeguarding_lead".into(), expires_on: Some(d("2026-01-01")) },
            StandardEvidence { standard: "safeguarding_lead".into(), expires_on: Some(d("2027-09-01")) },
            StandardEvidence { standard: "enhanced_dbs_checks".into(), expires_on: Some(d("2026-11-29")) },
            StandardEvidence { standard: "single_central_record".into(), expires_on: Some(d("2026-11-30")) },
            StandardEvidence { standard: "health_and_safety".into(), expires_on: None },
        ];
        let got = alerts(&standards(), &ev, &p, today, 14, false);
        assert_eq!(
            got,
            vec![Alert::StandardLapsed { standard: "enhanced_dbs_checks".into(), expired_on: d("2026-11-29") }]
        );
        let got = alerts(&standards(), &ev[..1], &p, today, 14, false);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(matches!(&got[0], Alert::StandardLapsed { standard, .. } if standard == "safeguarding_lead"));
        // With no placement under way, standards alert only when asked.
        assert!(alerts(&standards(), &[], &[], today, 14, false).is_empty());
        assert_eq!(alerts(&standards(), &[], &[], today, 14, true).len(), 4);
    }

    #[test]
    fn a_placement_alerts_with_no_attendance_for_too_long_and_past_its_planned_end() {
        let today = d("2026-11-30");
        let placement = |start: &str, end: Option<&str>, ended: Option<&str>, last: Option<&str>| PlacementDates {
            id: 7,
            start_on: d(start),
            planned_end_on: end.map(d),
            ended_on: ended.map(d),
            last_attendance: last.map(d),
        };
        let ev: Vec<StandardEvidence> =
            standards().into_iter().map(|s| StandardEvidence { standard: s, expires_on: None }).collect();
        // Started 15 days ago, nothing recorded: 15 > 14.
        let got = alerts(&standards(), &ev, &[placement("2026-11-15", None, None, None)], today, 14, false);
        assert_eq!(got, vec![Alert::NoAttendance { placement: 7, days: 15 }]);
        // 14 days exactly is not yet an alert.
        assert!(alerts(&standards(), &ev, &[placement("2026-11-16", None, None, None)], today, 14, false).is_empty());
        // The week of 2 November covers to Sunday the 8th; the gap runs
        // from Monday the 9th: 21 days.
        let got =
            alerts(&standards(), &ev, &[placement("2026-09-07", None, None, Some("2026-11-02"))], today, 14, false);
        assert_eq!(got, vec![Alert::NoAttendance { placement: 7, days: 21 }]);
        // The week of 9 November covers to the 15th: 14 days from the 16th,
        // not yet an alert.
        let recent = placement("2026-09-07", None, None, Some("2026-11-09"));
        assert!(alerts(&standards(), &ev, &[recent], today, 14, false).is_empty());
        // Past its planned end and still under way.
        let got = alerts(
            &standards(),
            &ev,
            &[placement("2026-09-07", Some("2026-11-27"), None, Some("2026-11-23"))],
            today,
            14,
            false,
        );
        assert_eq!(got, vec![Alert::PastPlannedEnd { placement: 7, planned_end_on: d("2026-11-27") }]);
        // Ended, or not yet started: nothing.
        let ended = placement("2026-09-07", Some("2026-10-01"), Some("2026-10-01"), None);
        let future = placement("2026-12-07", None, None, None);
        assert!(alerts(&standards(), &ev, &[ended, future], today, 14, false).is_empty());
    }

    #[test]
    fn ukprns_are_eight_digits_from_one() {
        assert!(valid_ukprn("10012345"));
        assert!(!valid_ukprn("20012345"));
        assert!(!valid_ukprn("1001234"));
        assert!(!valid_ukprn("1001234X"));
    }
}
