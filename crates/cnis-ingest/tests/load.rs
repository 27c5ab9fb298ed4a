//! Data-driven loading tests: every file in `tests/data/err` loads and
//! reports exactly the problems its `.expected` file lists (line, field,
//! whether the row was kept or rejected, reason); every file in
//! `tests/data/ok` loads with nothing to report. The kind of file comes from
//! its name: `census-*`, `source-<kind>-*`.

use std::path::{Path, PathBuf};

use cnis_core::records::SourceKind;
use cnis_core::schema;
use cnis_ingest::{ColumnMap, Error, LoadStats, Outcome, Quarantine, ReadOptions, read_census, read_sources};

fn data(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("test data folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}

fn census_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2022, 1, 20).expect("date")
}

/// Loads a fixture as the kind its name says; returns stats, problems and rows accepted.
fn load(path: &Path) -> (LoadStats, Quarantine, usize) {
    let map = std::fs::read_to_string(path.with_extension("map"))
        .map(|m| ColumnMap::parse(m.trim()).expect("map file"))
        .unwrap_or_default();
    let opts = ReadOptions { map: Some(&map), census_date: Some(census_date()), regulations: None };
    let mut q = Quarantine::in_memory();
    let mut good = 0;
    let name = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let stats = if name.starts_with("census-") {
        read_census(path, &opts, &mut q, &mut |_| {}, |_| {
            good += 1;
            Ok(())
        })
    } else {
        let kind = SourceKind::ALL
            .into_iter()
            .find(|k| name.starts_with(&format!("source-{}-", k.name())))
            .expect("fixture named source-<kind>-...");
        read_sources(path, kind, &opts, &mut q, &mut |_| {}, |_| {
            good += 1;
            Ok(())
        })
    }
    .expect("file loads")
    .stats;
    (stats, q, good)
}

#[test]
fn every_problem_is_reported_with_line_field_outcome_and_reason() {
    let files = data("err");
    assert!(files.len() >= 4);
    for path in files {
        let (stats, q, good) = load(&path);
        let expected = std::fs::read_to_string(path.with_extension("expected")).expect("expected file");
        let got: Vec<String> = q
            .rows()
            .iter()
            .map(|d| format!("{},{},{},{}", d.line, d.field.as_deref().unwrap_or(""), d.outcome.name(), d.reason))
            .collect();
        let want: Vec<&str> = expected.lines().skip(1).collect();
        assert_eq!(got, want, "{}", path.display());
        assert_eq!(stats.rows_in, stats.accepted + stats.rejected);
        assert_eq!(stats.accepted as usize, good);
        let rejected = q.rows().iter().filter(|d| d.outcome == Outcome::Rejected).count();
        assert_eq!(stats.rejected as usize, rejected);
        assert_eq!(stats.faults as usize, q.rows().len() - rejected);
        for d in q.rows() {
            assert!(d.file.ends_with(path.file_name().and_then(|f| f.to_str()).unwrap_or("")));
            assert!(!d.raw.is_empty());
        }
    }
}

#[test]
fn non_utf8_bytes_survive_in_the_quarantine() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/err/census-bad-rows.csv");
    let (_, q, _) = load(&path);
    let row = q.rows().iter().find(|d| d.reason.contains("UTF-8")).expect("a UTF-8 row");
    assert!(row.raw.contains("M\\xFCller"), "{}", row.raw);
}

#[test]
fn good_files_load_whole() {
    for path in data("ok") {
        let (stats, q, good) = load(&path);
        assert_eq!(q.rows().len(), 0, "{}: {:?}", path.display(), q.rows());
        assert_eq!(stats.accepted as usize, good);
        assert!(good > 0);
    }
}

fn read_census_text(text: &[u8], map: &ColumnMap) -> Result<(LoadStats, cnis_ingest::Layout, Quarantine), Error> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("census.csv");
    std::fs::write(&path, text).expect("write");
    let mut q = Quarantine::in_memory();
    let opts = ReadOptions { map: Some(map), census_date: Some(census_date()), regulations: None };
    read_census(&path, &opts, &mut q, &mut |_| {}, |_| Ok(())).map(|r| (r.stats, r.layout, q))
}

fn census_row(i: usize) -> String {
    let upn = cnis_core::Upn::from_parts(cnis_core::LaCode::from_number(801).expect("LA"), 2000, 14, i as u16 + 1)
        .expect("upn");
    format!(
        "{upn},,Example,Alex,,,2014-03-02,F,WBRI,8012000,C,2019-09-02,5,1 High Street,Bristol,QA1A 1AB,0,N,,140,4,2"
    )
}

#[test]
fn a_missing_column_names_the_field_and_the_fix() {
    let err = read_census_text(b"UPN,Surname,Forename,Sex,LAESTAB\n", &ColumnMap::default()).expect_err("no DOB");
    let msg = err.to_string();
    assert!(msg.contains("census.csv") && msg.contains("line 1") && msg.contains("--map dob="), "{msg}");
}

#[test]
fn a_map_naming_an_unknown_field_or_a_missing_column_is_refused() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ok/census-own-columns.csv");
    let map = ColumnMap::parse("shoe_size=Shoes").expect("parses");
    let opts = ReadOptions { map: Some(&map), ..ReadOptions::default() };
    let err = read_census(&path, &opts, &mut Quarantine::in_memory(), &mut |_| {}, |_| Ok(())).expect_err("refused");
    assert!(err.to_string().contains("shoe_size"));
    // An optional field mapped to a column the file lacks: today's code
    // silently read the field as absent.
    let mut text = schema::CENSUS.headers().join(",");
    text.push('\n');
    text.push_str(&census_row(0));
    let map = ColumnMap::parse("sen_provision=SEN").expect("parses");
    let err = read_census_text(text.as_bytes(), &map).expect_err("refused");
    assert!(matches!(err, Error::MappedColumnMissing { .. }), "{err}");
    assert!(err.to_string().contains("--map sen_provision=SEN"), "{err}");
}

#[test]
fn a_column_named_twice_is_refused() {
    let text = "UPN,Surname,Forename,DOB,LAESTAB,surname\n";
    let err = read_census_text(text.as_bytes(), &ColumnMap::default()).expect_err("refused");
    assert!(err.to_string().contains("appears twice (columns 2 and 6)"), "{err}");
}

#[test]
fn every_load_says_where_each_field_came_from_and_which_are_absent() {
    let text = "PupilUPN,Surname,Forename,DateOfBirth,LAESTAB,Shoes\nB801200001900,Example,Alex,2014-03-02,8012000,9\n";
    let map = ColumnMap::parse("upn=PupilUPN,dob=DateOfBirth").expect("map");
    let (stats, layout, _) = read_census_text(text.as_bytes(), &map).expect("loads");
    assert_eq!(stats.accepted, 1);
    let absent: Vec<&str> = layout.absent().collect();
    assert!(absent.contains(&"sen_provision") && absent.contains(&"sessions_possible"), "{absent:?}");
    assert!(layout.fields.contains(&("dob", Some("DateOfBirth".to_string()))));
    assert_eq!(layout.unused, vec!["Shoes".to_string()]);
    assert!(layout.describe().contains("sen_provision (absent: no column)"));
}

#[test]
fn an_unclosed_quote_is_an_error_naming_the_line_it_opened_on() {
    let mut text = schema::CENSUS.headers().join(",");
    text.push('\n');
    for i in 0..40 {
        let row = census_row(i);
        // Line 5 (the fourth row) opens a quote in its address and never closes it.
        let row = if i == 3 { row.replace("1 High Street", "\"1 High Street") } else { row };
        text.push_str(&row);
        text.push('\n');
    }
    let err = read_census_text(text.as_bytes(), &ColumnMap::default()).expect_err("refused");
    assert!(matches!(err, Error::UnclosedQuote { line: 5, .. }), "{err}");
    assert!(err.to_string().contains("line 5"), "{err}");
    // A quoted address over two lines is fine.
    let mut ok = schema::CENSUS.headers().join(",");
    ok.push('\n');
    ok.push_str(&census_row(0).replace("1 High Street", "\"1 High Street\nFlat 2\""));
    ok.push('\n');
    ok.push_str(&census_row(1).replace("B80", "Z80"));
    ok.push('\n');
    let (stats, _, q) = read_census_text(ok.as_bytes(), &ColumnMap::default()).expect("loads");
    assert_eq!(stats.rows_in, 2);
    // The second row starts on line 4: the first spans lines 2 and 3.
    assert!(q.rows().iter().all(|d| d.line == 4), "{:?}", q.rows());
}

#[test]
fn lf_crlf_and_cr_files_read_the_same_with_the_same_line_numbers() {
    let mut rows = vec![schema::CENSUS.headers().join(",")];
    for i in 0..30 {
        let mut r = census_row(i);
        if i % 7 == 3 {
            r = r.replace("2014-03-02", "2014-02-30");
        }
        rows.push(r);
        if i % 5 == 0 {
            rows.push(String::new());
        }
    }
    let mut results = Vec::new();
    for end in ["\n", "\r\n", "\r"] {
        let text = rows.join(end) + end;
        let (stats, _, q) = read_census_text(text.as_bytes(), &ColumnMap::default()).expect("loads");
        let lines: Vec<(u64, String)> = q.rows().iter().map(|d| (d.line, d.reason.clone())).collect();
        results.push((stats, lines));
    }
    assert_eq!(results[0].0.rows_in, 30);
    assert!(!results[0].1.is_empty());
    // Counted by hand: row i=3 follows the header, rows 0-3 and a blank after row 0: line 6.
    assert_eq!(results[0].1[0].0, 6);
    assert_eq!(results[0], results[1], "CRLF");
    assert_eq!(results[0], results[2], "CR only");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever bytes follow a valid header, nothing panics and every
        /// row is either accepted or rejected.
        #[test]
        fn rows_in_equals_accepted_plus_rejected(body in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut bytes = schema::CENSUS.headers().join(",").into_bytes();
            bytes.push(b'\n');
            bytes.extend(body);
            if let Ok((stats, _, q)) = read_census_text(&bytes, &ColumnMap::default()) {
                prop_assert_eq!(stats.rows_in, stats.accepted + stats.rejected);
                prop_assert_eq!(stats.rejected, q.rejected());
                prop_assert_eq!(stats.faults, q.faults());
            }
        }

        /// Rows built one by one, some good, some bad, some with quoted
        /// commas, with blank lines between: the reader counts exactly the
        /// rows written, whatever the line ends, and names each rejected
        /// row's line as counted here.
        #[test]
        fn rows_in_matches_an_independent_count(kinds in proptest::collection::vec(0u8..6, 0..60), end in 0usize..3) {
            let end = ["\n", "\r\n", "\r"][end];
            let mut text = schema::CENSUS.headers().join(",");
            text.push_str(end);
            let (mut rows, mut line, mut short_lines) = (0u64, 1u64, Vec::new());
            for (i, k) in kinds.iter().enumerate() {
                line += 1;
                match k {
                    0 => { text.push_str(end); continue; }
                    1 => { text.push_str("too,few,columns"); short_lines.push(line); }
                    2 => text.push_str(&census_row(i).replace("1 High Street", "\"1, High Street\"")),
                    3 => text.push_str(&census_row(i).replace("2014-03-02", "2014-02-30")),
                    _ => text.push_str(&census_row(i)),
                }
                rows += 1;
                text.push_str(end);
            }
            let (stats, _, q) = read_census_text(text.as_bytes(), &ColumnMap::default()).expect("loads");
            prop_assert_eq!(stats.rows_in, rows);
            prop_assert_eq!(stats.rows_in, stats.accepted + stats.rejected);
            let rejected: Vec<u64> = q.rows().iter().filter(|d| d.outcome == Outcome::Rejected).map(|d| d.line).collect();
            prop_assert_eq!(rejected, short_lines);
        }
    }
}

/// The parallel reader gives the same records and the same quarantine, line
/// for line, as the streaming reader.
#[test]
fn chunked_reading_matches_streaming_reading() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = cnis_core::records::columns::LINK.join(",");
    text.push('\n');
    for i in 0..500 {
        let dob = if i % 37 == 0 { "2014-02-30".to_string() } else { format!("2014-0{}-1{}", 1 + i % 9, i % 10) };
        let row = format!("census,{i},,,,Name{i},,Surname{},,{dob},F,QA1A 1AB,,{},\n", i % 7, i / 2);
        text.push_str(&row);
        if i % 101 == 0 {
            text.push_str("census,short,row\n");
        }
        if i % 55 == 0 {
            text.push('\n');
        }
    }
    let mut results = Vec::new();
    for (name, body) in [("lf", text.clone()), ("crlf", text.replace('\n', "\r\n")), ("cr", text.replace('\n', "\r"))] {
        let path = dir.path().join(format!("{name}.csv"));
        std::fs::write(&path, body).expect("write");
        let (s1, streamed, q1) = read_both_ways(&path, name);
        assert!(s1.rejected >= 5 && s1.faults > 10 && s1.accepted == 500, "{s1:?}");
        // Counted by hand: record 111 follows 111 records, two short rows and
        // three blank lines after the header, so it is on line 118; its
        // impossible date is a fault, the row loads.
        let r111 = q1.rows().iter().find(|d| d.raw.starts_with("census,111,")).expect("record 111 is reported");
        assert_eq!((r111.line, r111.outcome), (118, Outcome::Kept), "{name}");
        results.push((s1, streamed));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

/// Reads `path` with the streaming reader and the parallel one, checks that
/// both give the same records, counts, bytes and quarantine (line and
/// reason), and returns what the streaming reader gave.
fn read_both_ways(path: &Path, name: &str) -> (LoadStats, Vec<cnis_core::records::LinkRecord>, Quarantine) {
    use cnis_ingest::{read_link_records, read_link_records_chunked};
    let map = ColumnMap::default();
    let mut q1 = Quarantine::in_memory();
    let mut streamed = Vec::new();
    let r1 = read_link_records(path, "x", &map, &mut q1, &mut |_| {}, |r| {
        streamed.push(r);
        Ok(())
    })
    .expect("streaming");
    let mut q2 = Quarantine::in_memory();
    let (chunks, r2) = read_link_records_chunked(path, "x", &map, &mut q2, Vec::new, Vec::push).expect("chunked");
    assert_eq!((r1.bytes, &r1.content_hash), (r2.bytes, &r2.content_hash), "{name}");
    let chunked: Vec<_> = chunks.into_iter().flatten().collect();
    assert_eq!(r1.stats, r2.stats, "{name}");
    assert_eq!(streamed, chunked, "{name}");
    let strip = |q: &Quarantine| q.rows().iter().map(|d| (d.line, d.reason.clone())).collect::<Vec<_>>();
    assert_eq!(strip(&q1), strip(&q2), "{name}");
    (r1.stats, streamed, q1)
}

/// Quoted fields (an address with a comma, a quote inside a name, an empty
/// quoted field) are read in parallel and give what the streaming reader
/// gives; a field running over two lines, or a quote inside an unquoted
/// field, sends the whole file to the streaming reader, with the same result.
#[test]
fn chunked_reading_of_quoted_fields_matches_streaming_reading() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut text = cnis_core::records::columns::LINK.join(",");
    text.push('\n');
    for i in 0..400 {
        let address = if i % 3 == 0 { format!("\"Flat {i}, 2 High Street\"") } else { format!("{i} Mill Lane") };
        let forename = match i % 5 {
            0 => "\"Jo \"\"JJ\"\" \"".to_string(),
            1 => "\"\"".to_string(),
            _ => format!("Name{i}"),
        };
        let dob = if i % 41 == 0 { "2014-13-01" } else { "2014-03-04" };
        text.push_str(&format!("census,{i},,,,{forename},,Surname,,{dob},F,QA1A 1AB,{address},{i},\n"));
    }
    let plain = dir.path().join("plain.csv");
    std::fs::write(&plain, &text).expect("write");
    let (stats, records, q) = read_both_ways(&plain, "plain");
    assert_eq!((stats.rows_in, stats.accepted), (400, 400));
    assert!(q.rows().iter().any(|d| d.line == 2 + 41), "the bad date on line 43 is reported");
    assert_eq!(records[3].address.as_deref(), Some("Flat 3, 2 High Street"));
    assert_eq!(records[0].forename.as_deref(), Some("Jo \"JJ\""));
    assert_eq!(records[1].forename, None, "an empty quoted field is blank");
    for (name, odd) in [
        ("multiline", "census,x1,,,,Ann,,Lee,,2014-03-04,F,QA1A 1AB,\"Flat 1,\n2 High Street\",x,\n"),
        ("stray", "census,x2,,,,An\"n,,Lee,,2014-03-04,F,QA1A 1AB,1 Road,x,\n"),
        ("after", "census,x3,,,,\"Ann\"e,,Lee,,2014-03-04,F,QA1A 1AB,1 Road,x,\n"),
    ] {
        let path = dir.path().join(format!("{name}.csv"));
        let at = text.len() * 2 / 3;
        let cut = at + text[at..].find('\n').expect("a line end") + 1;
        std::fs::write(&path, format!("{}{odd}{}", &text[..cut], &text[cut..])).expect("write");
        let (stats, _, _) = read_both_ways(&path, name);
        assert_eq!(stats.rows_in, 401, "{name}");
    }
}
