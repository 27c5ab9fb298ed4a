//! Child ids survive reloads and follow a recorded former UPN.

use chrono::NaiveDate;
use cnis_core::records::{CensusPupil, EnrolStatus, Laestab, SenProvision, Sex};
use cnis_core::{LaCode, Upn};
use cnis_store::{FileFacts, LoadOutcome, Store};

fn pupil(serial: u16, former: Option<Upn>) -> CensusPupil {
    let la = LaCode::from_number(801).expect("Bristol");
    CensusPupil {
        upn: Some(Upn::from_parts(la, 2000, 21, serial).expect("upn")),
        upn_text: None,
        former_upn: former,
        surname: Some("Example".into()),
        forename: Some("Sam".into()),
        middle_names: None,
        former_surname: None,
        dob: NaiveDate::from_ymd_opt(2014, 5, 6),
        sex: Sex::Female,
        ethnicity: None,
        laestab: Some(Laestab::new(801, 2000)),
        enrol_status: Some(EnrolStatus::Single),
        entry_date: None,
        nc_year_actual: Some(3),
        address_line1: None,
        town: None,
        postcode: None,
        postcode_text: None,
        fsm_eligible: false,
        sen_provision: SenProvision::None,
        sen_need: None,
        sessions_possible: Some(140),
        sessions_authorised: Some(2),
        sessions_unauthorised: Some(0),
    }
}

fn load(store: &mut Store, date: NaiveDate, pupils: &[CensusPupil]) -> u64 {
    let outcome = store
        .load_census(
            date,
            "test.csv",
            |insert| -> Result<FileFacts, String> {
                for p in pupils {
                    insert(p)?;
                }
                let n = pupils.len() as u64;
                Ok(FileFacts { name: "test.csv".into(), rows_in: n, accepted: n, ..FileFacts::default() })
            },
            |_| Ok(()),
            &|a, b| a.dob == b.dob && a.forename == b.forename,
        )
        .expect("database");
    match outcome {
        LoadOutcome::Loaded { minted, .. } => minted,
        other => panic!("not loaded: {other:?}"),
    }
}

fn upn_of(p: &CensusPupil) -> Upn {
    p.upn.expect("a UPN")
}

#[test]
fn child_ids_are_stable_and_follow_former_upns() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cnis.db");
    let spring22 = NaiveDate::from_ymd_opt(2022, 1, 20).expect("date");
    let spring23 = NaiveDate::from_ymd_opt(2023, 1, 19).expect("date");
    let first: Vec<CensusPupil> = (1..=50).map(|s| pupil(s, None)).collect();

    let mut store = Store::open(&path).expect("open");
    assert_eq!(load(&mut store, spring22, &first), 50);
    let before: Vec<_> = first.iter().map(|p| store.child_for_upn(&upn_of(p)).expect("query").expect("id")).collect();
    assert_eq!(before.iter().collect::<std::collections::HashSet<_>>().len(), 50, "ids are distinct");
    drop(store);

    // Reopen and reload the same census: nothing new is minted, ids stay.
    let mut store = Store::open(&path).expect("reopen");
    assert_eq!(load(&mut store, spring22, &first), 0);
    let again: Vec<_> = first.iter().map(|p| store.child_for_upn(&upn_of(p)).expect("query").expect("id")).collect();
    assert_eq!(before, again);

    // Next year: pupil 1 has a new UPN with the old one recorded; pupil 2 a
    // new UPN with none recorded; pupil 51 is new.
    let mut next: Vec<CensusPupil> = first[2..].to_vec();
    next.push(pupil(901, first[0].upn));
    next.push(pupil(902, None));
    next.push(pupil(51, None));
    // Pupil 903 is an unrelated child (another date of birth and name) who
    // carries pupil 3's UPN as a former UPN by mistake.
    let mut stranger = pupil(903, first[3].upn);
    stranger.dob = NaiveDate::from_ymd_opt(2013, 1, 1);
    stranger.forename = Some("Kit".into());
    stranger.surname = Some("Other".into());
    next.push(stranger);
    assert_eq!(load(&mut store, spring23, &next), 3, "only the children we cannot link get new ids");
    let followed = store.child_for_upn(&upn_of(&pupil(901, None))).expect("query").expect("id");
    assert_eq!(followed, before[0], "a recorded former UPN keeps the child's id");
    assert_ne!(store.child_for_upn(&upn_of(&pupil(902, None))).expect("query").expect("id"), before[1]);
    let stranger_id = store.child_for_upn(&upn_of(&pupil(903, None))).expect("query").expect("id");
    assert_ne!(stranger_id, before[3], "a stranger's former UPN took another child's id");
    assert_eq!(store.child_count().expect("count"), 53);
    assert_eq!(store.censuses().expect("censuses").len(), 2);
    assert_eq!(store.schema_version().expect("version"), 3);
}

#[test]
fn a_failed_or_refused_load_leaves_nothing_behind() {
    let mut store = Store::open_in_memory().expect("open");
    let date = NaiveDate::from_ymd_opt(2022, 1, 20).expect("date");
    let outcome = store
        .load_census(
            date,
            "broken.csv",
            |insert| -> Result<FileFacts, String> {
                insert(&pupil(1, None))?;
                Err("the file could not be read to the end".into())
            },
            |_| Ok(()),
            &|_, _| true,
        )
        .expect("database");
    assert!(matches!(outcome, LoadOutcome::Failed(_)));
    assert!(store.censuses().expect("censuses").is_empty());
    assert_eq!(store.child_count().expect("count"), 0);

    // A census loaded, then a replacement the caller refuses: the first stays whole.
    let first: Vec<CensusPupil> = (1..=20).map(|s| pupil(s, None)).collect();
    load(&mut store, date, &first);
    let outcome = store
        .load_census(
            date,
            "short.csv",
            |insert| -> Result<FileFacts, String> {
                insert(&pupil(1, None))?;
                Ok(FileFacts { accepted: 1, rows_in: 1, ..FileFacts::default() })
            },
            |r| {
                assert_eq!(r.replaces.len(), 1);
                assert_eq!(r.replaces[0].accepted, 20);
                Err("too small".into())
            },
            &|_, _| true,
        )
        .expect("database");
    assert!(matches!(outcome, LoadOutcome::Refused(_)));
    let c = store.census(date).expect("census");
    assert_eq!(c.pupils, 20);
    assert_eq!(store.loads(false).expect("loads").len(), 1);
}
