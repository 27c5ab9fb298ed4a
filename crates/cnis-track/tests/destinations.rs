//! Tracking rules, one case each: who is in the cohort, who is a leaver,
//! and which destination wins when sources disagree.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use cnis_core::records::{
    AbsenceBand, CohortPupil, DeletionGround, Destination, DestinationCode, Laestab, Sector, SenProvision, Sex,
    SourceKind, SourceRecord,
};
use cnis_core::school_age::SchoolAgeRules;
use cnis_core::{LaCode, Upn};
use cnis_track::{Group, Summary, TrackInput, track};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn upn(serial: u16) -> Upn {
    Upn::from_parts(LaCode::from_number(801).expect("LA"), 2000, 15, serial).expect("upn")
}

fn pupil(serial: u16, dob: &str) -> CohortPupil {
    CohortPupil {
        upn: upn(serial),
        child_id: None,
        dob: d(dob),
        sex: Sex::Male,
        laestab: Laestab::new(801, 2000),
        nc_year: Some(5),
        sen: SenProvision::None,
        fsm: false,
        absence: Some(AbsenceBand::Regular),
        imd_decile: None,
    }
}

fn source(kind: SourceKind, serial: u16) -> SourceRecord {
    SourceRecord {
        kind,
        la: None,
        laestab: None,
        local_id: None,
        upn: Some(upn(serial)),
        surname: None,
        forename: None,
        dob: None,
        sex: None,
        postcode: None,
        date: None,
        deletion_ground: None,
        destination: None,
        status: None,
    }
}

fn deletion(serial: u16, ground: DeletionGround, to: Option<DestinationCode>) -> SourceRecord {
    SourceRecord { deletion_ground: Some(ground), destination: to, ..source(SourceKind::Deletion, serial) }
}

/// Tracks pupils 1..=n (all of compulsory school age, none on the next roll
/// unless listed) against `sources`; returns destination by serial.
fn check(n: u16, on_next_roll: &[u16], sources: &[SourceRecord]) -> HashMap<u16, Destination> {
    let first_roll = (1..=n).map(|s| pupil(s, "2012-03-04")).collect();
    let second: HashSet<Upn> = on_next_roll.iter().map(|&s| upn(s)).collect();
    let sectors =
        HashMap::from([(Laestab::new(801, 6001), Sector::Independent), (Laestab::new(801, 4001), Sector::StateFunded)]);
    let t = track(TrackInput {
        census_a: d("2022-01-20"),
        census_b: d("2023-01-19"),
        first_roll,
        second_roll: &second,
        sources,
        sectors: &sectors,
        rules: SchoolAgeRules::default(),
    });
    t.leavers.iter().map(|l| ((1..=n).find(|&s| upn(s) == l.pupil.upn).unwrap_or(0), l.destination)).collect()
}

#[test]
fn each_source_gives_its_destination() {
    use Destination::*;
    let school = |l: u16, e: u16| Some(DestinationCode::School(Laestab::new(l, e)));
    let sources = vec![
        source(SourceKind::HomeEducation, 1),
        source(SourceKind::Cme, 2),
        source(SourceKind::IndependentRoll, 3),
        deletion(4, DeletionGround::MOVED_AWAY, Some(DestinationCode::Abroad)),
        deletion(5, DeletionGround::MOVED_AWAY, school(670, 2001)),
        deletion(6, DeletionGround::OTHER_SCHOOL, school(801, 6001)),
        deletion(7, DeletionGround::OTHER_SCHOOL, school(801, 4001)),
        deletion(8, DeletionGround::DIED, None),
        deletion(9, DeletionGround::CONTINUOUS_ABSENCE, Some(DestinationCode::Unknown)),
        deletion(10, DeletionGround::HOME_EDUCATION, None),
        source(SourceKind::SocialCare, 11),
    ];
    let got = check(12, &[], &sources);
    let want = [
        (1, HomeEducation),
        (2, Cme),
        (3, IndependentSchool),
        (4, Abroad),
        (5, OutsideEngland),
        (6, IndependentSchool),
        (7, AnotherSchool),
        (8, Died),
        (9, Unknown),
        (10, HomeEducation),
        (11, Unknown),
        (12, Unknown),
    ];
    for (serial, dest) in want {
        assert_eq!(got.get(&serial), Some(&dest), "pupil {serial}");
    }
}

#[test]
fn precedence_when_sources_disagree() {
    let sources = vec![
        // On the EHE register and the CME list: CME wins (unsuitable EHE becomes CME).
        source(SourceKind::HomeEducation, 1),
        source(SourceKind::Cme, 1),
        // Died outranks everything.
        source(SourceKind::IndependentRoll, 2),
        deletion(2, DeletionGround::DIED, None),
        // A list outranks a deletion notice to a state school.
        deletion(3, DeletionGround::OTHER_SCHOOL, Some(DestinationCode::School(Laestab::new(801, 4001)))),
        source(SourceKind::HomeEducation, 3),
    ];
    let got = check(3, &[], &sources);
    assert_eq!(got[&1], Destination::Cme);
    assert_eq!(got[&2], Destination::Died);
    assert_eq!(got[&3], Destination::HomeEducation);
}

#[test]
fn only_children_off_the_next_roll_are_leavers() {
    let got = check(4, &[2, 4], &[source(SourceKind::HomeEducation, 2)]);
    assert_eq!(got.keys().copied().collect::<HashSet<_>>(), HashSet::from([1, 3]));
}

#[test]
fn the_cohort_is_of_compulsory_school_age_on_both_days() {
    // Born 2006-05-01: 16 in May 2022, leaves school in June 2022 -> not in
    // the cohort. Born 2017-10-01: compulsory school age from 31 Dec 2022,
    // after the first census -> not in the cohort. Born 2012: in.
    let first_roll = vec![pupil(1, "2006-05-01"), pupil(2, "2017-10-01"), pupil(3, "2012-01-01")];
    let t = track(TrackInput {
        census_a: d("2022-01-20"),
        census_b: d("2023-01-19"),
        first_roll,
        second_roll: &HashSet::new(),
        sources: &[],
        sectors: &HashMap::new(),
        rules: SchoolAgeRules::default(),
    });
    assert_eq!(t.cohort.len(), 1);
    assert_eq!(t.leavers.len(), 1);
    assert_eq!(t.leavers[0].pupil.upn, upn(3));
    let s = Summary::of(&t);
    assert_eq!(s.national(Group::Cohort).children, 1);
    assert_eq!(s.national(Group::Destination(Destination::Unknown)).children, 1);
    assert_eq!(s.national(Group::Destination(Destination::Died)).children, 0);
}

#[test]
fn the_summary_counts_risk_factors_over_known_values() {
    let mut a = pupil(1, "2012-01-01");
    a.absence = Some(AbsenceBand::Severe);
    a.sen = SenProvision::SenSupport;
    a.imd_decile = cnis_core::ImdDecile::new(2);
    let mut b = pupil(2, "2012-01-01");
    b.absence = None;
    b.imd_decile = cnis_core::ImdDecile::new(9);
    let sources = vec![
        source(SourceKind::HomeEducation, 1),
        source(SourceKind::HomeEducation, 2),
        source(SourceKind::SocialCare, 2),
    ];
    let t = track(TrackInput {
        census_a: d("2022-01-20"),
        census_b: d("2023-01-19"),
        first_roll: vec![a, b],
        second_roll: &HashSet::new(),
        sources: &sources,
        sectors: &HashMap::new(),
        rules: SchoolAgeRules::default(),
    });
    let r = Summary::of(&t).national(Group::Destination(Destination::HomeEducation));
    assert_eq!((r.children, r.absence_known, r.severe, r.persistent_or_severe), (2, 1, 1, 1));
    assert_eq!((r.deprivation_known, r.more_deprived_half, r.sen_support, r.social_care), (2, 1, 1, 1));
}
