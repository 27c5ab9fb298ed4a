//! Tracking through the application layer on a real database, one case of
//! councils' data each: dual registration in either order, a stranger's
//! former UPN, a mistyped UPN, a stale register entry, a death notice with
//! no UPN, a move to the school a deletion names.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use cnis_app::load::{LoadRequest, load_census, load_source};
use cnis_app::reconcile::LinkOptions;
use cnis_app::track::{TrackReport, TrackRequest, track};
use cnis_app::{Error, Quiet};
use cnis_core::records::{AbsenceBand, Destination, Laestab, SourceKind};
use cnis_core::schema::{self, CensusField as C, SourceField as S};
use cnis_core::{LaCode, Upn};
use cnis_store::Store;
use cnis_track::Settings;

fn upn(serial: u16) -> String {
    Upn::from_parts(LaCode::from_number(801).expect("LA"), 2000, 12, serial).expect("upn").to_string()
}

/// A census row: UPN, former UPN, names, date of birth, school, status, sessions absent.
struct Row<'a> {
    upn: String,
    former: &'a str,
    forename: &'a str,
    surname: &'a str,
    dob: &'a str,
    school: &'a str,
    status: &'a str,
    absent: u16,
    postcode: &'a str,
}

impl Default for Row<'_> {
    fn default() -> Self {
        Row {
            upn: String::new(),
            former: "",
            forename: "Sam",
            surname: "Example",
            dob: "2012-03-04",
            school: "8012000",
            status: "C",
            absent: 2,
            postcode: "",
        }
    }
}

fn census(path: &Path, rows: &[Row]) {
    let mut text = schema::CENSUS.headers().join(",");
    text.push('\n');
    for r in rows {
        let mut f = vec![String::new(); schema::CENSUS.columns.len()];
        let mut set = |c: C, v: &str| f[c.index()] = v.to_string();
        set(C::Upn, &r.upn);
        set(C::FormerUpn, r.former);
        set(C::Forename, r.forename);
        set(C::Surname, r.surname);
        set(C::Dob, r.dob);
        set(C::Sex, "F");
        set(C::Laestab, r.school);
        set(C::EnrolStatus, r.status);
        set(C::EntryDate, "2019-09-02");
        set(C::Postcode, r.postcode);
        set(C::SessionsPossible, "140");
        set(C::SessionsAuthorised, &r.absent.to_string());
        set(C::SessionsUnauthorised, "0");
        text.push_str(&f.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).expect("write");
}

fn sources(path: &Path, rows: &[&[(S, &str)]]) {
    let mut text = schema::SOURCE.headers().join(",");
    text.push('\n');
    for r in rows {
        let mut f = vec![String::new(); schema::SOURCE.columns.len()];
        for (c, v) in *r {
            f[c.index()] = (*v).to_string();
        }
        text.push_str(&f.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).expect("write");
}

const A: &str = "2022-01-20";
const B: &str = "2023-01-19";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// Loads the censuses (and sources) and tracks, by UPN only.
/// Source rows by kind, each row as (field, value) pairs.
type Lists<'a> = [(SourceKind, &'a [&'a [(S, &'a str)]])];

fn run(dir: &Path, a: &[Row], b: &[Row], lists: &Lists) -> TrackReport {
    let mut store = Store::open(&dir.join("cnis.db")).expect("db");
    census(&dir.join("a.csv"), a);
    census(&dir.join("b.csv"), b);
    let req = |f: &str| LoadRequest { quarantine_dir: dir.join("q"), ..LoadRequest::new(dir.join(f)) };
    load_census(&mut store, &req("a.csv"), d(A), &Quiet).expect("census a");
    load_census(&mut store, &req("b.csv"), d(B), &Quiet).expect("census b");
    for (kind, rows) in lists {
        let f = format!("{}.csv", kind.name());
        sources(&dir.join(&f), rows);
        load_source(&mut store, &req(&f), *kind, &Quiet).expect("source");
    }
    let r = TrackRequest { from: d(A), to: d(B), link: None, out: dir.join("out"), settings: Settings::default() };
    track(&mut store, &r, &Quiet).expect("tracks")
}

fn leavers(r: &TrackReport) -> HashMap<String, &cnis_track::Leaver> {
    r.tracked.leavers.iter().map(|l| (l.pupil.upn.map(|u| u.to_string()).unwrap_or_default(), l)).collect()
}

#[test]
fn a_dual_registration_in_either_order_is_one_child_at_the_main_school() {
    let dir = tempfile::tempdir().expect("tmp");
    // Pupil 1: subsidiary row (a PRU) first, main row second; still on roll next year.
    // Pupil 2: main row first, subsidiary second; gone next year.
    // Pupil 3: subsidiary row first (severe absence at the PRU), main second; gone next year.
    let a = vec![
        Row { upn: upn(1), status: "S", school: "8011100", ..Row::default() },
        Row { upn: upn(1), status: "M", ..Row::default() },
        Row { upn: upn(2), status: "M", absent: 20, ..Row::default() },
        Row { upn: upn(2), status: "S", school: "8011100", absent: 100, ..Row::default() },
        Row { upn: upn(3), status: "S", school: "8011100", absent: 100, ..Row::default() },
        Row { upn: upn(3), status: "M", absent: 1, ..Row::default() },
    ];
    let b = vec![Row { upn: upn(1), status: "M", ..Row::default() }];
    let r = run(dir.path(), &a, &b, &[]);
    let l = leavers(&r);
    assert_eq!(l.len(), 2, "pupils 2 and 3, once each");
    for (serial, band) in [(2, AbsenceBand::Persistent), (3, AbsenceBand::Regular)] {
        let x = l[&upn(serial)];
        assert_eq!(x.pupil.laestab, Some(Laestab::new(801, 2000)), "pupil {serial} placed at the main school");
        assert_eq!(x.pupil.absence, Some(band), "pupil {serial}'s attendance from the main registration");
    }
    assert_eq!(r.tracked.cohort.len(), 3);
}

#[test]
fn a_strangers_former_upn_does_not_hide_a_leaver() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = vec![
        Row { upn: upn(10), forename: "Amelia", surname: "Cole", ..Row::default() },
        Row { upn: upn(11), forename: "Oliver", surname: "Khan", dob: "2011-06-07", ..Row::default() },
    ];
    let (u10, u11) = (upn(10), upn(11));
    let b = vec![
        // A different child carrying pupil 10's UPN as former UPN.
        Row { upn: upn(20), former: &u10, forename: "Noah", surname: "Price", dob: "2010-01-01", ..Row::default() },
        // Pupil 11 under a new UPN, the former one recorded, adopted: new surname.
        Row { upn: upn(21), former: &u11, forename: "Oliver", surname: "Hart", dob: "2011-06-07", ..Row::default() },
    ];
    // Pupil 10 is on the CME list.
    let cme: &[&[(S, &str)]] =
        &[&[(S::Upn, &upn(10)), (S::Surname, "Cole"), (S::Status, "known"), (S::Date, "2022-04-01")]];
    let r = run(dir.path(), &a, &b, &[(SourceKind::Cme, cme)]);
    let l = leavers(&r);
    assert_eq!(l.len(), 1);
    let x = l[&upn(10)];
    assert_eq!(x.destination, Destination::Cme, "the CME child stays on the list");
    assert!(x.conflict.as_deref().is_some_and(|c| c.contains("former UPN")), "{:?}", x.conflict);
}

#[test]
fn a_mistyped_upn_on_the_next_census_is_still_on_roll() {
    let dir = tempfile::tempdir().expect("tmp");
    let right = upn(30);
    let wrong = format!("{}{}", if right.starts_with('A') { 'B' } else { 'A' }, &right[1..]);
    let a =
        vec![Row { upn: right.clone(), forename: "Isla", ..Row::default() }, Row { upn: upn(31), ..Row::default() }];
    let b = vec![Row { upn: wrong, forename: "Isla", ..Row::default() }];
    let r = run(dir.path(), &a, &b, &[]);
    let l = leavers(&r);
    assert!(!l.contains_key(&right), "the child with a mistyped UPN was listed as a leaver");
    assert!(l.contains_key(&upn(31)));
}

#[test]
fn a_register_entry_older_than_the_roll_entry_gives_no_destination() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = vec![Row { upn: upn(40), ..Row::default() }, Row { upn: upn(41), ..Row::default() }];
    let ehe: &[&[(S, &str)]] = &[
        // Home educated in 2017; the child joined the school in September 2019.
        &[(S::Upn, &upn(40)), (S::Surname, "Example"), (S::Date, "2017-05-01")],
        &[(S::Upn, &upn(41)), (S::Surname, "Example"), (S::Date, "2022-05-01")],
    ];
    let r = run(dir.path(), &a, &[Row { upn: upn(99), ..Row::default() }], &[(SourceKind::HomeEducation, ehe)]);
    let l = leavers(&r);
    assert_eq!(l[&upn(40)].destination, Destination::Unknown);
    assert_eq!(l[&upn(41)].destination, Destination::HomeEducation);
}

#[test]
fn a_move_to_the_school_a_deletion_names_is_not_a_leaver() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = vec![
        Row { upn: upn(50), forename: "Leo", ..Row::default() },
        Row { upn: upn(51), forename: "Mia", ..Row::default() },
        Row { upn: upn(52), forename: "Olivia", surname: "Peauson", ..Row::default() },
        Row { upn: upn(53), forename: "Ava", surname: "Brown", postcode: "XB1 2CD", ..Row::default() },
        Row { upn: upn(54), forename: "Ella", surname: "Stone", postcode: "XB1 2CE", ..Row::default() },
        Row { upn: upn(55), forename: "Ruby", surname: "Hale", postcode: "XB1 3AA", ..Row::default() },
        Row { upn: upn(56), forename: "Rose", surname: "Hale", postcode: "XB1 3AA", ..Row::default() },
    ];
    // Pupil 50 at school 4001 under a new UPN (no former UPN recorded); pupil 51 is not there.
    // Pupil 52 is there with forename and surname swapped, the surname now spelt right;
    // pupil 53 under new names, at the same home postcode; pupil 54 is not
    // there: the pupil born the same day lives elsewhere and shares no name;
    // pupil 55 is not there, but her twin sister 56 is, under her own UPN.
    let b = vec![
        Row { upn: upn(60), forename: "Leo", school: "8014001", ..Row::default() },
        Row { upn: upn(62), forename: "Pearson", surname: "Olivia", school: "8014001", ..Row::default() },
        Row {
            upn: upn(63),
            forename: "Evie",
            surname: "Green",
            postcode: "XB1 2CD",
            school: "8014001",
            ..Row::default()
        },
        Row {
            upn: upn(64),
            forename: "Isla",
            surname: "Moss",
            postcode: "XB9 9ZZ",
            school: "8014001",
            ..Row::default()
        },
    ];
    let notice = |u: &str| {
        [
            (S::Upn, u.to_string()),
            (S::Date, "2022-04-01".into()),
            (S::DeletionGround, "b".into()),
            (S::Destination, "8014001".into()),
        ]
    };
    let rows: Vec<_> = [50, 51, 52, 53, 54, 55].into_iter().map(|i| notice(&upn(i))).collect();
    let rows: Vec<Vec<(S, &str)>> = rows.iter().map(|r| r.iter().map(|(c, v)| (*c, v.as_str())).collect()).collect();
    let del: Vec<&[(S, &str)]> = rows.iter().map(Vec::as_slice).collect();
    let r = run(dir.path(), &a, &b, &[(SourceKind::Deletion, &del)]);
    let l = leavers(&r);
    assert!(!l.contains_key(&upn(50)), "found at the named school");
    assert!(!l.contains_key(&upn(52)), "found at the named school, names swapped");
    assert!(!l.contains_key(&upn(53)), "found at the named school, same home");
    assert_eq!(l[&upn(54)].destination, Destination::AnotherSchool);
    assert_eq!(l[&upn(55)].destination, Destination::AnotherSchool, "her twin is not her");
    assert_eq!(l[&upn(51)].destination, Destination::AnotherSchool);
    assert!(l[&upn(51)].evidence_text().contains("8(1)(b)"), "{}", l[&upn(51)].evidence_text());
}

/// A death notice with a blank UPN, on a generated population, is tied to
/// the child by linkage: the child is listed as died, not unknown, and the
/// leaver list says linkage made the match and with what probability.
#[test]
fn a_death_notice_without_a_upn_is_found_by_linkage() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let pop = cnis_synth::generate(cnis_synth::SynthConfig { pupils: 6000, seed: 13, ..Default::default() })
        .expect("population");
    let m = cnis_synth::write(&pop, &d.join("s")).expect("files");
    let truth = cnis_synth::truth::read_truth(&d.join("s").join(&m.truth)).expect("truth");
    // An unknown-destination leaver no file mentions.
    let t = truth.iter().find(|t| t.in_cohort && t.fate == "unknown" && !t.evidence).expect("an unknown leaver");
    let census_a = std::fs::read_to_string(d.join("s").join(&m.census_a)).expect("census");
    let row = census_a.lines().find(|l| l.starts_with(&t.upn1)).expect("the leaver's row");
    let f: Vec<&str> = row.split(',').collect();
    let (surname, forename, dob) = (f[C::Surname.index()], f[C::Forename.index()], f[C::Dob.index()]);
    let mut store = Store::open(&d.join("cnis.db")).expect("db");
    let req = |f: &Path| LoadRequest { quarantine_dir: d.join("q"), ..LoadRequest::new(f) };
    load_census(&mut store, &req(&d.join("s").join(&m.census_a)), d_(&m.census_a_date), &Quiet).expect("a");
    load_census(&mut store, &req(&d.join("s").join(&m.census_b)), d_(&m.census_b_date), &Quiet).expect("b");
    for (kind, file) in &m.sources {
        let kind = SourceKind::from_name(kind).expect("kind");
        match load_source(&mut store, &req(&d.join("s").join(file)), kind, &Quiet) {
            Ok(_) | Err(Error::Refused { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    sources(
        &d.join("death.csv"),
        &[&[
            (S::Surname, surname),
            (S::Forename, forename),
            (S::Dob, dob),
            (S::Date, "2022-06-01"),
            (S::DeletionGround, "9(1)(k)"),
        ]],
    );
    let mut death = req(&d.join("death.csv"));
    death.regulations = None;
    load_source(&mut store, &death, SourceKind::Deletion, &Quiet).expect("death notice loads without a UPN");
    // 9(1)(k) on a 2022 date is read as written, as the 2024 ground: died.
    let s = Settings::default();
    let r = TrackRequest {
        from: d_(&m.census_a_date),
        to: d_(&m.census_b_date),
        link: Some(LinkOptions::default()),
        out: d.join("out"),
        settings: s,
    };
    let report = track(&mut store, &r, &Quiet).expect("tracks");
    let l = leavers(&report);
    let x = l.get(&t.upn1).expect("still a leaver");
    assert_eq!(x.destination, Destination::Died, "{}", x.evidence_text());
    let e = x.deciding().expect("deciding evidence");
    assert_eq!(e.matched_by, cnis_track::MatchedBy::Linkage);
    assert!(e.probability.is_some_and(|p| p >= 0.9));
    let list = std::fs::read_to_string(report.leavers_file).expect("leaver list");
    assert!(list.lines().any(|line| line.contains(&t.upn1) && line.contains(",linkage,")), "the list says linkage");
}

fn d_(s: &str) -> NaiveDate {
    d(s)
}

/// The summary file, pinned: a handful of leavers with known destinations
/// and risk factors, in two LAs. `cargo insta review` (or
/// `INSTA_UPDATE=always cargo test`) updates the snapshot after a deliberate change.
#[test]
fn the_summary_file_is_pinned() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = vec![
        Row { upn: upn(70), absent: 80, ..Row::default() },
        Row { upn: upn(71), absent: 20, ..Row::default() },
        Row { upn: upn(72), school: "8732001", ..Row::default() },
        Row { upn: upn(73), school: "8732001", ..Row::default() },
        Row { upn: upn(74), ..Row::default() },
        Row { upn: upn(75), dob: "2005-03-04", ..Row::default() },
    ];
    let b = vec![Row { upn: upn(74), ..Row::default() }];
    let (u70, u71, u72) = (upn(70), upn(71), upn(72));
    let ehe: &[&[(S, &str)]] = &[&[(S::Upn, &u70), (S::Surname, "Example"), (S::Date, "2022-03-01")]];
    let cme: &[&[(S, &str)]] =
        &[&[(S::Upn, &u71), (S::Surname, "Example"), (S::Status, "suspected"), (S::Date, "2022-03-01")]];
    let del: &[&[(S, &str)]] =
        &[&[(S::Upn, &u72), (S::Date, "2022-03-01"), (S::DeletionGround, "e"), (S::Destination, "MMMMMMM")]];
    let r = run(
        dir.path(),
        &a,
        &b,
        &[(SourceKind::HomeEducation, ehe), (SourceKind::Cme, cme), (SourceKind::Deletion, del)],
    );
    assert_eq!(r.tracked.leavers.len(), 4, "pupil 75 is past compulsory school age, 74 stayed");
    let text = std::fs::read_to_string(&r.summary_file).expect("summary");
    insta::assert_snapshot!(text);
}
