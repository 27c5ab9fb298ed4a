//! Child ids survive reloads and follow a recorded former UPN.

use chrono::NaiveDate;
use cnis_core::records::{CensusPupil, Laestab, SenProvision, Sex};
use cnis_core::{LaCode, Upn};
use cnis_store::Store;

fn pupil(serial: u16, former: Option<Upn>) -> CensusPupil {
    let la = LaCode::from_number(801).expect("Bristol");
    CensusPupil {
        upn: Upn::from_parts(la, 2000, 21, serial).expect("upn"),
        former_upn: former,
        surname: "Example".into(),
        forename: "Sam".into(),
        middle_names: None,
        former_surname: None,
        dob: NaiveDate::from_ymd_opt(2014, 5, 6).expect("date"),
        sex: Sex::Female,
        ethnicity: None,
        laestab: Laestab::new(801, 2000),
        enrol_status: Some('C'),
        entry_date: None,
        nc_year_actual: Some(3),
        address_line1: None,
        town: None,
        postcode: None,
        fsm_eligible: false,
        sen_provision: SenProvision::None,
        sen_need: None,
        sessions_possible: Some(140),
        sessions_authorised: Some(2),
        sessions_unauthorised: Some(0),
    }
}

fn load(store: &mut Store, date: NaiveDate, pupils: &[CensusPupil]) -> u64 {
    let (_, minted) = store
        .load_census(date, "test.csv", |insert| -> Result<(u64, u64, u64), String> {
            for p in pupils {
                insert(p)?;
            }
            Ok((pupils.len() as u64, pupils.len() as u64, 0))
        })
        .expect("database")
        .expect("load");
    minted
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
    let before: Vec<_> = first.iter().map(|p| store.child_for_upn(&p.upn).expect("query").expect("id")).collect();
    assert_eq!(before.iter().collect::<std::collections::HashSet<_>>().len(), 50, "ids are distinct");
    drop(store);

    // Reopen and reload the same census: nothing new is minted, ids stay.
    let mut store = Store::open(&path).expect("reopen");
    assert_eq!(load(&mut store, spring22, &first), 0);
    let again: Vec<_> = first.iter().map(|p| store.child_for_upn(&p.upn).expect("query").expect("id")).collect();
    assert_eq!(before, again);

    // Next year: pupil 1 has a new UPN with the old one recorded; pupil 2 a
    // new UPN with none recorded; pupil 51 is new.
    let mut next: Vec<CensusPupil> = first[2..].to_vec();
    next.push(pupil(901, Some(first[0].upn)));
    next.push(pupil(902, None));
    next.push(pupil(51, None));
    assert_eq!(load(&mut store, spring23, &next), 2, "only the two children we cannot link get new ids");
    let followed = store.child_for_upn(&pupil(901, None).upn).expect("query").expect("id");
    assert_eq!(followed, before[0], "a recorded former UPN keeps the child's id");
    assert_ne!(store.child_for_upn(&pupil(902, None).upn).expect("query").expect("id"), before[1]);
    assert_eq!(store.child_count().expect("count"), 52);
    assert_eq!(store.censuses().expect("censuses").len(), 2);
    assert_eq!(store.schema_version().expect("version"), 2);
}

#[test]
fn a_failed_load_leaves_nothing_behind() {
    let mut store = Store::open_in_memory().expect("open");
    let date = NaiveDate::from_ymd_opt(2022, 1, 20).expect("date");
    let outcome = store
        .load_census(date, "broken.csv", |insert| -> Result<(u64, u64, u64), String> {
            insert(&pupil(1, None))?;
            Err("the file could not be read to the end".into())
        })
        .expect("database");
    assert!(outcome.is_err());
    assert!(store.censuses().expect("censuses").is_empty());
    assert_eq!(store.child_count().expect("count"), 0);
}
