//! The ways councils' data used to be lost or exposed, each tried on the
//! real binary: a replacement that is empty or cut short, a file loaded
//! twice, an empty lookup, an unclosed quote, a map naming a column the file
//! lacks, a name that a spreadsheet would run as a formula, a full disk.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{cnis, stderr as err};

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// A small generated population, its census of 2022 loaded.
fn loaded(dir: &Path) -> String {
    let o = cnis(dir, &["-q", "synth", "--pupils", "3000", "--seed", "4", "--out", "s"]);
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    let o = cnis(dir, &["-q", "ingest", "census", "s/spring-census-2022.csv", "--census-date", "2022-01-20"]);
    assert!(matches!(code(&o), Some(0 | 1)), "{}", err(&o));
    std::fs::read_to_string(dir.join("s/spring-census-2022.csv")).expect("census")
}

fn census_rows(dir: &Path) -> u64 {
    let store = cnis_store::Store::open(&dir.join("cnis.db")).expect("db");
    store.census(chrono::NaiveDate::from_ymd_opt(2022, 1, 20).expect("date")).expect("census").pupils
}

#[test]
fn an_empty_or_cut_short_replacement_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let text = loaded(d);
    let before = census_rows(d);
    assert!(before > 2500);
    let header = text.lines().next().expect("header");
    std::fs::write(d.join("empty.csv"), format!("{header}\n")).expect("write");
    let cut: String = text.lines().take(200).map(|l| format!("{l}\n")).collect();
    std::fs::write(d.join("cut.csv"), &cut).expect("write");

    // Without --replace, a second census for the day is refused.
    let o = cnis(d, &["ingest", "census", "cut.csv", "--census-date", "2022-01-20"]);
    assert_eq!(code(&o), Some(2));
    assert!(err(&o).contains("already loaded") && err(&o).contains("--replace"), "{}", err(&o));
    // Header only, even with --replace --force: nothing to load, nothing changes.
    let o = cnis(d, &["ingest", "census", "empty.csv", "--census-date", "2022-01-20", "--replace", "--force"]);
    assert_eq!(code(&o), Some(2));
    assert!(err(&o).contains("no rows") && err(&o).contains("nothing was changed"), "{}", err(&o));
    // Cut short: refused with --replace alone.
    let o = cnis(d, &["ingest", "census", "cut.csv", "--census-date", "2022-01-20", "--replace"]);
    assert_eq!(code(&o), Some(2));
    assert!(err(&o).contains("under half") && err(&o).contains("--force"), "{}", err(&o));
    assert_eq!(census_rows(d), before, "the census was changed by a refused load");
    // Forced, it replaces, and the history shows the old load replaced.
    let o = cnis(d, &["-q", "ingest", "census", "cut.csv", "--census-date", "2022-01-20", "--replace", "--force"]);
    assert!(matches!(code(&o), Some(0 | 1)), "{}", err(&o));
    assert_eq!(census_rows(d), 199);
    let o = cnis(d, &["loads", "--all"]);
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(listed.contains("(replaced by load 2)"), "{listed}");
}

#[test]
fn the_same_file_twice_is_refused_and_unload_removes_a_load() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    loaded(d);
    let home = ["ingest", "source", "home-education", "s/home-education.csv"];
    let o = cnis(d, &home);
    assert!(matches!(code(&o), Some(0 | 1)), "{}", err(&o));
    let o = cnis(d, &home);
    assert_eq!(code(&o), Some(2));
    assert!(err(&o).contains("same file"), "{}", err(&o));
    // `cnis loads` lists both loads; unloading the census removes its rows.
    let o = cnis(d, &["loads"]);
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(listed.contains("census") && listed.contains("home-education"), "{listed}");
    let o = cnis(d, &["unload", "1"]);
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    let store = cnis_store::Store::open(&d.join("cnis.db")).expect("db");
    assert!(store.censuses().expect("censuses").is_empty());
}

#[test]
fn an_empty_schools_or_postcode_file_does_not_wipe_the_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    loaded(d);
    for (cmd, file) in [("schools", "s/schools.csv"), ("postcodes", "s/postcode-deprivation.csv")] {
        let o = cnis(d, &["ingest", cmd, file]);
        assert_eq!(code(&o), Some(0), "{}", err(&o));
        let header = std::fs::read_to_string(d.join(file)).expect("file").lines().next().expect("header").to_string();
        std::fs::write(d.join("empty.csv"), format!("{header}\n")).expect("write");
        let o = cnis(d, &["ingest", cmd, "empty.csv", "--replace"]);
        assert_eq!(code(&o), Some(2), "{cmd}: {}", err(&o));
        assert!(err(&o).contains("nothing was changed"), "{}", err(&o));
    }
    let store = cnis_store::Store::open(&d.join("cnis.db")).expect("db");
    assert!(!store.school_sectors().expect("schools").is_empty(), "the schools list was wiped");
}

#[test]
fn an_unclosed_quote_and_a_missing_mapped_column_are_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let text = loaded(d);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[40] = lines[40].replacen(",", ",\"", 3);
    std::fs::write(d.join("quote.csv"), lines.join("\n") + "\n").expect("write");
    let o = cnis(d, &["ingest", "census", "quote.csv", "--census-date", "2023-01-19"]);
    assert_eq!(code(&o), Some(2));
    assert!(err(&o).contains("quote.csv: line 41: a quoted field opened here is not closed"), "{}", err(&o));
    let o = cnis(
        d,
        &["ingest", "census", "s/spring-census-2023.csv", "--census-date", "2023-01-19", "--map", "sen_provision=SEN"],
    );
    assert_eq!(code(&o), Some(2));
    assert!(err(&o).contains("--map sen_provision=SEN: the file has no column \"SEN\""), "{}", err(&o));
    // Nothing was loaded for 2023.
    let store = cnis_store::Store::open(&d.join("cnis.db")).expect("db");
    assert_eq!(store.censuses().expect("censuses").len(), 1);
}

/// A leaver whose name begins `=`: the leaver list must not hand a
/// spreadsheet a formula; and every file holding children's data is
/// readable by its owner only.
#[test]
fn formula_cells_are_neutralised_and_outputs_are_private() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let o = cnis(d, &["-q", "synth", "--pupils", "3000", "--seed", "4", "--out", "s"]);
    assert_eq!(code(&o), Some(0), "{}", err(&o));
    // Give every first-census pupil a formula for a surname.
    let text = std::fs::read_to_string(d.join("s/spring-census-2022.csv")).expect("census");
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
        if i > 0 {
            f[2] = "=HYPERLINK(\"http://example.invalid\")".replace('"', "");
        }
        out.push_str(&f.join(","));
        out.push('\n');
    }
    std::fs::write(d.join("evil.csv"), out).expect("write");
    let ok = |o: Output| assert!(matches!(code(&o), Some(0 | 1)), "{}", err(&o));
    ok(cnis(d, &["-q", "ingest", "census", "evil.csv", "--census-date", "2022-01-20"]));
    ok(cnis(d, &["-q", "ingest", "census", "s/spring-census-2023.csv", "--census-date", "2023-01-19"]));
    ok(cnis(d, &["-q", "track", "--from", "2022-01-20", "--to", "2023-01-19", "--out", "t"]));
    let leavers = std::fs::read_to_string(d.join("t/leavers.csv")).expect("leavers");
    assert!(leavers.lines().count() > 10);
    for line in leavers.lines().skip(1) {
        assert!(!line.contains(",=") && !line.starts_with('='), "a formula cell: {line}");
        assert!(line.contains(",'=HYPERLINK"), "{line}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["t/leavers.csv", "t/summary.csv", "cnis.db"] {
            let mode = std::fs::metadata(d.join(f)).expect(f).permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f} is readable by others");
        }
    }
}

/// A disk that fills up mid-write (a file-size limit makes one): the error
/// names the file, no truncated leaver list is left under its name, and the
/// run is not recorded as done.
#[cfg(unix)]
#[test]
fn a_full_disk_leaves_no_truncated_output_and_no_recorded_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    loaded(d);
    let o = cnis(d, &["-q", "ingest", "census", "s/spring-census-2023.csv", "--census-date", "2023-01-19"]);
    assert!(matches!(code(&o), Some(0 | 1)), "{}", err(&o));
    // 8 blocks of 512 bytes: the database is already written; the leaver list is not.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 8; exec '{}' -q track --from 2022-01-20 --to 2023-01-19 --out t",
            env!("CARGO_BIN_EXE_cnis")
        ))
        .current_dir(d)
        .output()
        .expect("sh runs");
    assert_eq!(code(&o), Some(2), "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("writing t/") && e.contains(".csv: File too large"), "{e}");
    assert!(!d.join("t/leavers.csv").exists(), "a leaver list was left from a run that failed");
    let left: Vec<_> = std::fs::read_dir(d.join("t")).map(|r| r.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "partial files left: {left:?}");
    let store = cnis_store::Store::open(&d.join("cnis.db")).expect("db");
    assert!(store.tracking_runs().expect("runs").is_empty(), "a failed run was recorded");
}
