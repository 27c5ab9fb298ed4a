//! Tracking rules, one case each: who is in the cohort, who is a leaver,
//! which destination the evidence gives, and what happens when it disagrees.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chrono::NaiveDate;
use cnis_core::records::{
    AbsenceBand, CensusId, CohortPupil, DeletionGround, Destination, DestinationCode, Laestab, PupilKey, Regulations,
    Sector, SenProvision, Sex, SocialCareStatus, SourceKey, SourceKind, SourceRecord,
};
use cnis_core::school_age::SchoolAgeRules;
use cnis_core::{LaCode, Upn};
use cnis_track::{Evidence, GroundReading, Group, MatchedBy, Settings, Summary, TrackInput, Tracked, track};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn key(serial: u16) -> PupilKey {
    PupilKey { census: CensusId(1), row: i64::from(serial) }
}

fn upn(serial: u16) -> Upn {
    Upn::from_parts(LaCode::from_number(801).expect("LA"), 2000, 15, serial).expect("upn")
}

fn pupil(serial: u16, dob: &str) -> CohortPupil {
    CohortPupil {
        key: key(serial),
        upn: Some(upn(serial)),
        upn_text: None,
        former_upn: None,
        child_id: None,
        dob: d(dob),
        sex: Sex::Male,
        laestab: Some(Laestab::new(801, 2000)),
        enrol_status: None,
        entry_date: Some(d("2018-09-03")),
        nc_year: Some(5),
        sen: SenProvision::None,
        fsm: false,
        absence: Some(AbsenceBand::Regular),
        imd_decile: None,
    }
}

fn source(kind: SourceKind) -> SourceRecord {
    SourceRecord { kind, date: Some(d("2022-05-01")), ..SourceRecord::default() }
}

fn ground(regs: Regulations, letter: char) -> Option<DeletionGround> {
    DeletionGround::new(regs, letter)
}

/// 2006 Regulations letters: the deletions below are dated in 2022.
fn deletion(letter: char, to: Option<DestinationCode>) -> SourceRecord {
    SourceRecord {
        deletion_ground: ground(Regulations::Pupil2006, letter),
        destination: to,
        ..source(SourceKind::Deletion)
    }
}

/// Tracks pupils 1..=n (all of compulsory school age, none on the next roll
/// unless listed) with `evidence[i]` tied to pupil `i`.
fn run(n: u16, on_next_roll: &[u16], evidence: Vec<(u16, SourceRecord)>, settings: &Settings) -> Tracked {
    let first_roll = (1..=n).map(|s| pupil(s, "2012-03-04")).collect();
    let second: rustc_hash::FxHashSet<PupilKey> = on_next_roll.iter().map(|&s| key(s)).collect();
    let sectors = [(Laestab::new(801, 6001), Sector::Independent), (Laestab::new(801, 4001), Sector::StateFunded)]
        .into_iter()
        .collect::<HashMap<_, _>>();
    let mut map: HashMap<PupilKey, Vec<Evidence>> = HashMap::default();
    for (i, (serial, record)) in evidence.into_iter().enumerate() {
        map.entry(key(serial)).or_default().push(Evidence {
            key: SourceKey(i as i64),
            record,
            matched_by: MatchedBy::Upn,
            probability: None,
        });
    }
    track(TrackInput {
        census_a: d("2022-01-20"),
        census_b: d("2023-01-19"),
        first_roll,
        on_second_roll: &|k| second.contains(k),
        evidence: map,
        matching_conflicts: HashMap::default(),
        sectors: &sectors,
        settings,
        rules: SchoolAgeRules::default(),
    })
}

fn destinations(t: &Tracked) -> HashMap<i64, Destination> {
    t.leavers.iter().map(|l| (l.pupil.key.row, l.destination)).collect()
}

#[test]
fn each_source_gives_its_destination() {
    use Destination::*;
    let school = |l: u16, e: u16| Some(DestinationCode::School(Laestab::new(l, e)));
    let evidence = vec![
        (1, source(SourceKind::HomeEducation)),
        (2, source(SourceKind::Cme)),
        (3, source(SourceKind::IndependentRoll)),
        // 2006 (e): moved away; the destination code says where.
        (4, deletion('e', Some(DestinationCode::Abroad))),
        (5, deletion('e', school(670, 2001))),
        // 2006 (b): another school, independent or state.
        (6, deletion('b', school(801, 6001))),
        (7, deletion('b', school(801, 4001))),
        // 2006 (h): 20 days' absence, whereabouts unknown.
        (9, deletion('h', Some(DestinationCode::Unknown))),
        // 2006 (d): home education.
        (10, deletion('d', None)),
        (11, source(SourceKind::SocialCare)),
        (13, SourceRecord { end_date: None, ..source(SourceKind::AlternativeProvision) }),
        // 2024 (k): died (under 2006 (k) it would be ceasing compulsory school age).
        (
            14,
            SourceRecord {
                deletion_ground: DeletionGround::new(Regulations::Pupil2024, 'k'),
                ..source(SourceKind::Deletion)
            },
        ),
        (
            15,
            SourceRecord {
                deletion_ground: DeletionGround::new(Regulations::Pupil2006, 'k'),
                ..source(SourceKind::Deletion)
            },
        ),
    ];
    let got = destinations(&run(15, &[], evidence, &Settings::default()));
    let want = [
        (1, HomeEducation),
        (2, Cme),
        (3, IndependentSchool),
        (4, Abroad),
        (5, OutsideEngland),
        (6, IndependentSchool),
        (7, AnotherSchool),
        (9, Unknown),
        (10, HomeEducation),
        (11, Unknown),
        (12, Unknown),
        (13, AlternativeProvision),
        (14, Died),
        (15, Unknown),
    ];
    for (serial, dest) in want {
        assert_eq!(got.get(&serial), Some(&dest), "pupil {serial}");
    }
}

#[test]
fn precedence_when_sources_disagree_and_the_conflict_is_listed() {
    let evidence = vec![
        // On the EHE register and the CME list: CME wins (unsuitable EHE becomes CME).
        (1, source(SourceKind::HomeEducation)),
        (1, source(SourceKind::Cme)),
        // Died outranks everything.
        (2, source(SourceKind::IndependentRoll)),
        (
            2,
            SourceRecord {
                deletion_ground: DeletionGround::new(Regulations::Pupil2024, 'k'),
                ..source(SourceKind::Deletion)
            },
        ),
        // Two rows that agree are no conflict.
        (3, source(SourceKind::HomeEducation)),
        (3, deletion('d', None)),
    ];
    let t = run(3, &[], evidence, &Settings::default());
    let by: HashMap<i64, &cnis_track::Leaver> = t.leavers.iter().map(|l| (l.pupil.key.row, l)).collect();
    assert_eq!(by[&1].destination, Destination::Cme);
    assert_eq!(by[&2].destination, Destination::Died);
    assert_eq!(by[&3].destination, Destination::HomeEducation);
    let c1 = by[&1].conflict.as_deref().expect("a conflict");
    assert!(c1.contains("CME list") && c1.contains("home-education register"), "{c1}");
    assert!(by[&3].conflict.is_none());
    assert!(by[&1].evidence_text().starts_with("CME list"), "deciding evidence first");
}

#[test]
fn a_row_older_than_the_childs_entry_to_school_gives_no_destination() {
    // Home educated in 2016, back at school from September 2018: the old
    // register entry says nothing about 2022.
    let old = SourceRecord { date: Some(d("2016-04-01")), ..source(SourceKind::HomeEducation) };
    let t = run(1, &[], vec![(1, old.clone())], &Settings::default());
    assert_eq!(t.leavers[0].destination, Destination::Unknown);
    assert!(t.leavers[0].evidence_text().contains("earlier spell"));
    // A council that keeps such rows can say so.
    let keep = Settings { ignore_rows_before_entry: false, ..Settings::default() };
    assert_eq!(run(1, &[], vec![(1, old)], &keep).leavers[0].destination, Destination::HomeEducation);
    // A placement that ended before the first census is over.
    let ended = SourceRecord { end_date: Some(d("2021-12-01")), ..source(SourceKind::AlternativeProvision) };
    assert_eq!(run(1, &[], vec![(1, ended)], &Settings::default()).leavers[0].destination, Destination::Unknown);
}

#[test]
fn a_council_can_read_a_ground_its_own_way() {
    let absence = deletion('h', None);
    assert_eq!(
        run(1, &[], vec![(1, absence.clone())], &Settings::default()).leavers[0].destination,
        Destination::Unknown
    );
    let mut s = Settings::default();
    s.grounds
        .insert(cnis_core::records::GroundMeaning::ContinuousAbsence, GroundReading::Destination(Destination::Cme));
    assert_eq!(run(1, &[], vec![(1, absence)], &s).leavers[0].destination, Destination::Cme);
    // A named state school the child is not on the roll of.
    let to_state = deletion('b', Some(DestinationCode::School(Laestab::new(801, 4001))));
    let s = Settings { named_school_not_on_roll: Destination::Unknown, ..Settings::default() };
    assert_eq!(run(1, &[], vec![(1, to_state)], &s).leavers[0].destination, Destination::Unknown);
}

#[test]
fn permanent_exclusion_and_social_care_are_shown() {
    let excluded = deletion('m', None);
    let care = SourceRecord { social_care: Some(SocialCareStatus::ProtectionPlan), ..source(SourceKind::SocialCare) };
    let ended_care = SourceRecord {
        social_care: Some(SocialCareStatus::LookedAfter),
        date: Some(d("2019-01-01")),
        end_date: Some(d("2020-01-01")),
        ..source(SourceKind::SocialCare)
    };
    let t = run(2, &[], vec![(1, excluded), (1, care), (2, ended_care)], &Settings::default());
    let by: HashMap<i64, &cnis_track::Leaver> = t.leavers.iter().map(|l| (l.pupil.key.row, l)).collect();
    assert!(by[&1].permanently_excluded);
    assert_eq!(by[&1].destination, Destination::Unknown);
    assert_eq!(by[&1].social_care, Some(SocialCareStatus::ProtectionPlan));
    // An episode that ended before the first census is not current.
    assert_eq!(by[&2].social_care, None);
}

#[test]
fn only_children_off_the_next_roll_are_leavers() {
    let t = run(4, &[2, 4], vec![(2, source(SourceKind::HomeEducation))], &Settings::default());
    assert_eq!(destinations(&t).keys().copied().collect::<HashSet<_>>(), [1, 3].into_iter().collect::<HashSet<_>>());
}

#[test]
fn the_cohort_is_of_compulsory_school_age_on_both_days() {
    // Worked by hand: born 2006-05-01, 16 in May 2022, leaves on the last
    // Friday of June 2022 -> not of compulsory school age on 2023-01-19.
    // Born 2017-10-01: 5 on 2022-10-01, compulsory from 2022-12-31 -> not on
    // 2022-01-20. Born 2012-01-01: 10 on both days -> in. Born 2006-09-01:
    // turns 16 in 2022-23, so of compulsory school age until 30 June 2023 ->
    // in. Born 2006-08-31: turned 16 in 2021-22, left 24 June 2022 -> out.
    let first_roll = vec![
        pupil(1, "2006-05-01"),
        pupil(2, "2017-10-01"),
        pupil(3, "2012-01-01"),
        pupil(4, "2006-09-01"),
        pupil(5, "2006-08-31"),
    ];
    let settings = Settings::default();
    let t = track(TrackInput {
        census_a: d("2022-01-20"),
        census_b: d("2023-01-19"),
        first_roll,
        on_second_roll: &|_| false,
        evidence: HashMap::default(),
        matching_conflicts: HashMap::default(),
        sectors: &HashMap::default(),
        settings: &settings,
        rules: SchoolAgeRules::default(),
    });
    let mut rows: Vec<i64> = t.cohort.iter().map(|p| p.key.row).collect();
    rows.sort_unstable();
    assert_eq!(rows, vec![3, 4]);
    let s = Summary::of(&t);
    assert_eq!(s.national(Group::Cohort).children, 2);
    assert_eq!(s.national(Group::Destination(Destination::Unknown)).children, 2);
    assert_eq!(s.national(Group::Destination(Destination::Died)).children, 0);
}

#[test]
fn the_summary_counts_risk_factors_over_known_values() {
    let settings = Settings::default();
    let mut a = pupil(1, "2012-01-01");
    a.absence = Some(AbsenceBand::Severe);
    a.sen = SenProvision::SenSupport;
    a.imd_decile = cnis_core::ImdDecile::new(2);
    let mut b = pupil(2, "2012-01-01");
    b.absence = None;
    b.imd_decile = cnis_core::ImdDecile::new(9);
    let ev = |k: i64, kind| Evidence {
        key: SourceKey(k),
        record: source(kind),
        matched_by: MatchedBy::Upn,
        probability: None,
    };
    let evidence: HashMap<_, _> = [
        (key(1), vec![ev(1, SourceKind::HomeEducation)]),
        (key(2), vec![ev(2, SourceKind::HomeEducation), ev(3, SourceKind::SocialCare)]),
    ]
    .into_iter()
    .collect();
    let t = track(TrackInput {
        census_a: d("2022-01-20"),
        census_b: d("2023-01-19"),
        first_roll: vec![a, b],
        on_second_roll: &|_| false,
        evidence,
        matching_conflicts: HashMap::default(),
        sectors: &HashMap::default(),
        settings: &settings,
        rules: SchoolAgeRules::default(),
    });
    let r = Summary::of(&t).national(Group::Destination(Destination::HomeEducation));
    assert_eq!((r.children, r.absence_known, r.severe, r.persistent_or_severe), (2, 1, 1, 1));
    assert_eq!((r.deprivation_known, r.more_deprived_half, r.sen_support, r.social_care), (2, 1, 1, 1));
}

#[test]
fn a_later_record_of_where_the_child_is_resolves_a_cme_entry() {
    let on = |kind: SourceKind, day: &str| SourceRecord { date: Some(d(day)), ..source(kind) };
    let evidence = vec![
        // Missing in April, on an independent school's roll in September.
        (1, on(SourceKind::Cme, "2022-04-15")),
        (1, on(SourceKind::IndependentRoll, "2022-09-17")),
        // On the roll in April, missing in September: still missing.
        (2, on(SourceKind::IndependentRoll, "2022-04-15")),
        (2, on(SourceKind::Cme, "2022-09-17")),
        // Missing, then a notice naming no school: still missing.
        (3, on(SourceKind::Cme, "2022-04-15")),
        (3, SourceRecord { date: Some(d("2022-09-17")), ..deletion('b', Some(DestinationCode::Unknown)) }),
        // Home educated, found unsuitable and missing later: missing.
        (4, on(SourceKind::HomeEducation, "2022-03-01")),
        (4, on(SourceKind::Cme, "2022-06-01")),
        // Missing, then registered for home education: home education.
        (5, on(SourceKind::Cme, "2022-03-01")),
        (5, on(SourceKind::HomeEducation, "2022-06-01")),
    ];
    let t = run(5, &[], evidence, &Settings::default());
    let by: HashMap<i64, &cnis_track::Leaver> = t.leavers.iter().map(|l| (l.pupil.key.row, l)).collect();
    assert_eq!(by[&1].destination, Destination::IndependentSchool);
    let c1 = by[&1].conflict.as_deref().expect("the older CME entry is listed");
    assert!(c1.contains("is older than"), "{c1}");
    assert_eq!(by[&2].destination, Destination::Cme);
    assert_eq!(by[&3].destination, Destination::Cme);
    assert_eq!(by[&4].destination, Destination::Cme);
    assert_eq!(by[&5].destination, Destination::HomeEducation);
}
