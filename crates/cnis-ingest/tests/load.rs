//! Data-driven loading tests: every file in `tests/data/err` loads its good
//! rows and quarantines exactly the rows its `.expected` file lists; every
//! file in `tests/data/ok` loads with nothing quarantined.

use std::path::{Path, PathBuf};

use cnis_ingest::{ColumnMap, LoadStats, Quarantine, read_census};

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

fn load(path: &Path) -> (LoadStats, Quarantine, usize) {
    let map = std::fs::read_to_string(path.with_extension("map"))
        .map(|m| ColumnMap::parse(m.trim()).expect("map file"))
        .unwrap_or_default();
    let mut q = Quarantine::in_memory();
    let mut good = 0;
    let stats = read_census(path, &map, &mut q, &mut |_| {}, |_| {
        good += 1;
        Ok(())
    })
    .expect("file loads");
    (stats, q, good)
}

#[test]
fn bad_rows_are_quarantined_with_line_field_and_reason() {
    let files = data("err");
    assert!(!files.is_empty());
    for path in files {
        let (stats, q, good) = load(&path);
        let expected = std::fs::read_to_string(path.with_extension("expected")).expect("expected file");
        let got: Vec<String> =
            q.rows().iter().map(|d| format!("{},{},{}", d.line, d.field.as_deref().unwrap_or(""), d.reason)).collect();
        let want: Vec<&str> = expected.lines().skip(1).collect();
        assert_eq!(got, want, "{}", path.display());
        assert_eq!(stats.rows_in, stats.accepted + stats.quarantined);
        assert_eq!(stats.accepted as usize, good);
        assert_eq!(stats.quarantined as usize, want.len());
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
        assert_eq!(q.count(), 0, "{}: {:?}", path.display(), q.rows());
        assert_eq!(stats.accepted as usize, good);
        assert!(good > 0);
    }
}

#[test]
fn a_missing_column_names_the_field_and_the_fix() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("no-dob.csv");
    std::fs::write(&path, "UPN,Surname,Forename,Sex,LAESTAB\n").expect("write");
    let err = read_census(&path, &ColumnMap::default(), &mut Quarantine::in_memory(), &mut |_| {}, |_| Ok(()))
        .expect_err("no DOB column");
    let msg = err.to_string();
    assert!(msg.contains("no-dob.csv") && msg.contains("line 1") && msg.contains("--map dob="), "{msg}");
}

#[test]
fn a_map_naming_an_unknown_field_is_refused() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ok/census-own-columns.csv");
    let map = ColumnMap::parse("shoe_size=Shoes").expect("parses");
    let err = read_census(&path, &map, &mut Quarantine::in_memory(), &mut |_| {}, |_| Ok(())).expect_err("refused");
    assert!(err.to_string().contains("shoe_size"));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever bytes follow a valid header, nothing panics and every
        /// row is either accepted or quarantined.
        #[test]
        fn rows_in_equals_accepted_plus_quarantined(body in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let dir = tempfile::tempdir().expect("tmp");
            let path = dir.path().join("fuzz.csv");
            let mut bytes = cnis_core::records::columns::CENSUS.join(",").into_bytes();
            bytes.push(b'\n');
            bytes.extend(body);
            std::fs::write(&path, bytes).expect("write");
            let mut q = Quarantine::in_memory();
            if let Ok(stats) = read_census(&path, &ColumnMap::default(), &mut q, &mut |_| {}, |_| Ok(())) {
                prop_assert_eq!(stats.rows_in, stats.accepted + stats.quarantined);
                prop_assert_eq!(stats.quarantined, q.count());
            }
        }
    }
}

/// The parallel reader gives the same records and the same quarantine, line
/// for line, as the streaming reader.
#[test]
fn chunked_reading_matches_streaming_reading() {
    use cnis_ingest::{read_link_records, read_link_records_chunked};
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("link.csv");
    let mut text = cnis_core::records::columns::LINK.join(",");
    text.push('\n');
    for i in 0..500 {
        let dob = if i % 37 == 0 { "2014-02-30".to_string() } else { format!("2014-0{}-1{}", 1 + i % 9, i % 10) };
        let row = format!("census,{i},,,,Name{i},,Surname{},,{dob},F,QA1A 1AB,,{}\n", i % 7, i / 2);
        text.push_str(&row);
        if i % 101 == 0 {
            text.push_str("census,short,row\n");
        }
        if i % 55 == 0 {
            text.push('\n');
        }
    }
    std::fs::write(&path, text).expect("write");
    let map = ColumnMap::default();
    let mut q1 = Quarantine::in_memory();
    let mut streamed = Vec::new();
    let s1 = read_link_records(&path, "x", &map, &mut q1, &mut |_| {}, |r| {
        streamed.push(r);
        Ok(())
    })
    .expect("streaming");
    let mut q2 = Quarantine::in_memory();
    let (chunks, s2) = read_link_records_chunked(&path, "x", &map, &mut q2, Vec::new, Vec::push).expect("chunked");
    let chunked: Vec<_> = chunks.into_iter().flatten().collect();
    assert_eq!(s1, s2);
    assert_eq!(streamed, chunked);
    assert_eq!(q1.rows(), q2.rows());
    assert!(s1.quarantined > 10 && s1.accepted > 400);
    // Counted by hand: record 111 follows 111 records, two short rows and
    // three blank lines after the header, so it is on line 118.
    let r111 = q1.rows().iter().find(|d| d.raw.starts_with("census,111,")).expect("record 111 is quarantined");
    assert_eq!(r111.line, 118);
}
