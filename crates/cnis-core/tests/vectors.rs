//! The identifier and school-age test vectors from the domain notes, as data.

use chrono::NaiveDate;
use cnis_core::school_age::{SchoolAgeRules, leaving_date};
use cnis_core::{IdError, IdKind, check_identifier, decile_from_rank};

/// One row of `tests/data/identifier-test-vectors.csv`: the verdict must match.
fn check(kind: IdKind, value: &str, valid: bool, expected: &str, note: &str) {
    let verdict = check_identifier(value, Some(kind));
    // Vectors whose check letter is right but whose LA number is not known
    // (rule 1530) pass the checksum and carry a warning.
    let la_rule = note.contains("rule 1530");
    match (&verdict.result, valid) {
        (Ok(notes), true) => assert!(!la_rule || notes.iter().any(|n| n.contains("1530")), "{value}: rule 1530 note"),
        (Err(e), true) => panic!("{value} should be valid, got: {e}"),
        (Ok(_), false) => panic!("{value} should be invalid"),
        (Err(IdError::Check { expected: e, .. }), false) => {
            assert_eq!(e.to_string(), expected, "{value}: expected check character")
        }
        (Err(_), false) => {}
    }
}

#[test]
fn identifier_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/identifier-test-vectors.csv");
    let mut rdr = csv::Reader::from_path(path).expect("vectors file");
    let mut n = 0;
    for rec in rdr.records() {
        let rec = rec.expect("row");
        let kind = match &rec[0] {
            "UPN" => IdKind::Upn,
            "NHS" => IdKind::Nhs,
            "ULN" => IdKind::Uln,
            other => panic!("unknown kind {other}"),
        };
        check(kind, &rec[1], &rec[2] == "true", &rec[3], &rec[4]);
        n += 1;
    }
    assert_eq!(n, 42);
}

#[test]
fn la_code_rule_1530() {
    // 674 is a Welsh LA: its UPNs are valid in England.
    assert_eq!(check_identifier("R674123101121", None).result, Ok(vec![]));
    let warned = check_identifier("A950000178301", None).result.expect("check letter is right");
    assert!(warned[0].contains("rule 1530"));
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

#[test]
fn school_age_vectors() {
    // dob, CSA starts, CSA ends, NC year in 2024/25 (school-age.md §3).
    let rows = [
        ("2019-02-10", "2024-03-31", "2035-06-29", 1),
        ("2019-03-31", "2024-03-31", "2035-06-29", 1),
        ("2019-04-01", "2024-08-31", "2035-06-29", 1),
        ("2019-08-31", "2024-08-31", "2035-06-29", 1),
        ("2019-09-01", "2024-12-31", "2036-06-27", 0),
        ("2019-12-31", "2024-12-31", "2036-06-27", 0),
        ("2007-09-23", "2012-12-31", "2024-06-28", 12),
        ("2008-07-15", "2013-08-31", "2024-06-28", 12),
        ("2008-08-31", "2013-08-31", "2024-06-28", 12),
    ];
    let r = SchoolAgeRules::default();
    for (dob, start, end, year) in rows {
        assert_eq!(r.csa_start(d(dob)), Some(d(start)), "start for {dob}");
        assert_eq!(r.csa_end(d(dob)), Some(d(end)), "end for {dob}");
        assert_eq!(r.nc_year(d(dob), 2024), year, "year for {dob}");
        assert!(r.is_csa(d(dob), d(start)) && r.is_csa(d(dob), d(end)));
        assert!(!r.is_csa(d(dob), d(start).pred_opt().expect("day")));
        assert!(!r.is_csa(d(dob), d(end).succ_opt().expect("day")));
    }
    for (y, f) in
        [(2024, "2024-06-28"), (2025, "2025-06-27"), (2026, "2026-06-26"), (2027, "2027-06-25"), (2028, "2028-06-30")]
    {
        assert_eq!(leaving_date(y), Some(d(f)));
    }
}

#[test]
fn leap_day_births() {
    // Fifth birthday taken as 1 March 2021: CSA starts on 31 March 2021.
    assert_eq!(SchoolAgeRules::default().csa_start(d("2016-02-29")), Some(d("2021-03-31")));
}

#[test]
fn configurable_school_year_start() {
    // 16th birthday on 3 September 2024: under the 1 September rule the child
    // leaves in June 2025; if the school year is taken to start on 5 September
    // the birthday falls in the 2023/24 school year and they leave in June 2024.
    let dob = d("2008-09-03");
    assert_eq!(SchoolAgeRules::default().csa_end(dob), Some(d("2025-06-27")));
    let late = SchoolAgeRules { school_year_start: (9, 5) };
    assert_eq!(late.csa_end(dob), Some(d("2024-06-28")));
}

#[test]
fn deprivation_vectors() {
    for (rank, n, decile) in [
        (1, 32_844, 1),
        (3_284, 32_844, 1),
        (3_285, 32_844, 2),
        (16_422, 32_844, 5),
        (16_423, 32_844, 6),
        (32_844, 32_844, 10),
        (3_375, 33_755, 1),
        (3_376, 33_755, 2),
        (16_877, 33_755, 5),
        (16_878, 33_755, 6),
        (33_755, 33_755, 10),
    ] {
        assert_eq!(decile_from_rank(rank, n).map(|d| d.get()), Some(decile), "rank {rank} of {n}");
    }
    assert!(decile_from_rank(16_422, 32_844).expect("d").more_deprived_half());
    assert!(!decile_from_rank(16_423, 32_844).expect("d").more_deprived_half());
}

#[test]
fn spring_census_days() {
    use cnis_core::school_age::spring_census_date;
    assert_eq!(spring_census_date(2024), Some(d("2025-01-16")));
    assert_eq!(spring_census_date(2021), Some(d("2022-01-20")));
}
