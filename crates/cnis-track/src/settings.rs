//! The readings of the evidence that a council may change.
//!
//! What a deletion ground implies about where a child went is partly law
//! and partly practice: a 20-day absence deletion means "whereabouts
//! unknown", which one council treats as unknown and another as missing
//! education; several of the 2006 letters are not confirmed in the sources
//! the project could read. Each such reading is a setting, with the
//! project's default, written to and read from a TOML file
//! (`cnis track --settings`, `cnis settings`). Settings come in two stages:
//! [`RawSettings`] is what the file says; [`Settings`] is checked and ready.

use std::collections::BTreeMap;

use cnis_core::records::{Destination, GroundMeaning};
use serde::{Deserialize, Serialize};

/// What a deletion ground says of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroundReading {
    /// This destination, whatever the notice's destination code says.
    Destination(Destination),
    /// Whatever the notice's destination code says (a school, abroad,
    /// unknown); nothing if it has none.
    ByDestinationCode,
    /// Nothing about where the child went (the notice is still shown).
    Nothing,
}

/// Checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// What each ground meaning implies.
    pub grounds: BTreeMap<GroundMeaning, GroundReading>,
    /// Where a child goes whose deletion notice names a state school they
    /// are not on the next roll of (the school may have given a new UPN,
    /// or the child never arrived).
    pub named_school_not_on_roll: Destination,
    /// A register entry, deletion notice or roll entry dated before the
    /// child joined the school they left is about an earlier spell, and
    /// gives no destination.
    pub ignore_rows_before_entry: bool,
}

/// The settings file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Ground meaning (e.g. `continuous_absence`) to a destination name
    /// (`home_education`, `cme`, `unknown`, ...), `by_destination_code` or
    /// `nothing`.
    pub grounds: BTreeMap<String, String>,
    /// A destination name.
    pub named_school_not_on_roll: String,
    /// See [`Settings::ignore_rows_before_entry`].
    pub ignore_rows_before_entry: bool,
}

impl Default for Settings {
    fn default() -> Self {
        use GroundMeaning as G;
        use GroundReading::*;
        let grounds = GroundMeaning::ALL
            .into_iter()
            .map(|m| {
                let reading = match m {
                    G::OtherSchool | G::MovedAway => ByDestinationCode,
                    G::AttendanceOrderAmended | G::DualRegistrationEnded => {
                        Destination(crate::Destination::AnotherSchool)
                    }
                    // Revoked because suitable education otherwise than at
                    // school is arranged: in practice, by the parents.
                    G::AttendanceOrderRevoked | G::HomeEducation => Destination(crate::Destination::HomeEducation),
                    G::Detained => Destination(crate::Destination::Custody),
                    G::Died => Destination(crate::Destination::Died),
                    // Whereabouts unknown, or nothing about where the child went.
                    G::LeaveOfAbsence
                    | G::ContinuousAbsence
                    | G::NurseryCompleted
                    | G::MedicallyUnfit
                    | G::CeasingCompulsorySchoolAge
                    | G::BoardingFeesUnpaid
                    | G::CeasedIndependentPupil
                    | G::PermanentlyExcluded => Nothing,
                };
                (m, reading)
            })
            .collect();
        Settings {
            grounds,
            named_school_not_on_roll: crate::Destination::AnotherSchool,
            ignore_rows_before_entry: true,
        }
    }
}

impl Settings {
    /// What a ground meaning implies.
    pub fn reading(&self, m: GroundMeaning) -> GroundReading {
        self.grounds.get(&m).copied().unwrap_or(GroundReading::Nothing)
    }

    /// The settings as a file would write them.
    pub fn to_raw(&self) -> RawSettings {
        RawSettings {
            grounds: self
                .grounds
                .iter()
                .map(|(m, r)| {
                    let v = match r {
                        GroundReading::Destination(d) => d.name().to_string(),
                        GroundReading::ByDestinationCode => "by_destination_code".to_string(),
                        GroundReading::Nothing => "nothing".to_string(),
                    };
                    (m.name().to_string(), v)
                })
                .collect(),
            named_school_not_on_roll: self.named_school_not_on_roll.name().to_string(),
            ignore_rows_before_entry: self.ignore_rows_before_entry,
        }
    }
}

impl TryFrom<RawSettings> for Settings {
    type Error = String;

    /// Checks every name; a meaning the file leaves out keeps its default.
    fn try_from(raw: RawSettings) -> Result<Self, String> {
        let mut s = Settings::default();
        let destinations = || Destination::ALL.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ");
        for (meaning, reading) in &raw.grounds {
            let m = GroundMeaning::from_name(meaning).ok_or_else(|| {
                let all: Vec<&str> = GroundMeaning::ALL.iter().map(|m| m.name()).collect();
                format!("grounds: no ground meaning `{meaning}`; the meanings are {}", all.join(", "))
            })?;
            let r = match reading.as_str() {
                "by_destination_code" => GroundReading::ByDestinationCode,
                "nothing" => GroundReading::Nothing,
                d => GroundReading::Destination(Destination::from_name(d).ok_or_else(|| {
                    format!(
                        "grounds.{meaning}: `{d}` is not a destination; use one of {}, by_destination_code or nothing",
                        destinations()
                    )
                })?),
            };
            s.grounds.insert(m, r);
        }
        s.named_school_not_on_roll = Destination::from_name(&raw.named_school_not_on_roll).ok_or_else(|| {
            format!(
                "named_school_not_on_roll: `{}` is not a destination; use one of {}",
                raw.named_school_not_on_roll,
                destinations()
            )
        })?;
        s.ignore_rows_before_entry = raw.ignore_rows_before_entry;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_bad_names_are_refused() {
        let s = Settings::default();
        assert_eq!(Settings::try_from(s.to_raw()), Ok(s.clone()));
        let mut raw = s.to_raw();
        raw.grounds.insert("continuous_absence".into(), "cme".into());
        let changed = Settings::try_from(raw).expect("valid");
        assert_eq!(changed.reading(GroundMeaning::ContinuousAbsence), GroundReading::Destination(Destination::Cme));
        let mut raw = s.to_raw();
        raw.grounds.insert("continuous_absence".into(), "the moon".into());
        assert!(Settings::try_from(raw).is_err());
        let mut raw = s.to_raw();
        raw.grounds.insert("holiday".into(), "unknown".into());
        assert!(Settings::try_from(raw).expect_err("refused").contains("no ground meaning `holiday`"));
    }
}
