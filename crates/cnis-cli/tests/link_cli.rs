//! `cnis link` through the real binary: the pair limits in every command
//! that scores, rejected rows in the evaluation, duplicate keys, model
//! checks, sources that list each child once, link-only, the plan's
//! warnings, twins and new-UPN movers, and snapshots (`insta`) of the plan
//! and the explanation for a small fixed input.
//!
//! Update the snapshots after a deliberate change with
//! `INSTA_UPDATE=always cargo test -p cnis-cli --test link_cli` (or
//! `cargo insta review`), then read the diff before committing.

#[path = "../../cnis-link/tests/support/households.rs"]
mod households;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{cnis, read_csv, stderr, stdout};

#[track_caller]
fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
}

/// The fixed input of the snapshots: 124 children of 60 households (13
/// pairs of twins) on two censuses and three lists, written once by
/// `cargo run -p cnis-link --example households -- FILE 60 3`.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/link/households.csv")
}

/// Trains on the fixture in `d`, quietly.
fn train(d: &Path) -> PathBuf {
    ok(&cnis(d, &["-q", "link", "train", fixture().to_str().expect("path"), "--model", "m.json"]));
    d.join("m.json")
}

#[test]
fn the_plan_says_which_rules_and_why() {
    let dir = tempfile::tempdir().expect("tmp");
    let plan = cnis(dir.path(), &["link", "plan", fixture().to_str().expect("path")]);
    ok(&plan);
    insta::assert_snapshot!("plan", stdout(&plan));
}

#[test]
fn plan_and_explain_with_a_model() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    train(d);
    let f = fixture();
    let f = f.to_str().expect("path");
    let plan = cnis(d, &["link", "plan", f, "--model", "m.json"]);
    ok(&plan);
    insta::assert_snapshot!("plan_with_model", stdout(&plan));

    // A child on the second census under a new UPN: linked, and the table
    // shows the different UPN weighing against.
    let mover = cnis(
        d,
        &["link", "explain", f, "--model", "m.json", "--left", "census-2022:a36", "--right", "census-2023:b36"],
    );
    ok(&mover);
    insta::assert_snapshot!("explain_new_upn", stdout(&mover));
    // Twins, one on each census: not linked.
    let twins = cnis(
        d,
        &[
            "link",
            "explain",
            f,
            "--model",
            "m.json",
            "--left",
            "census-2022:a106",
            "--right",
            "census-2023:b107",
            "--svg",
            "w.svg",
        ],
    );
    ok(&twins);
    insta::assert_snapshot!("explain_twins", stdout(&twins));
    let svg = std::fs::read_to_string(d.join("w.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("prior: pairs with") && svg.contains("forename: different"));
    let probability = |o: &Output| -> f64 {
        let text = stdout(o);
        let last = text.lines().last().expect("a total").to_string();
        last.rsplit(' ').next().expect("p").parse().expect("a probability")
    };
    assert!(probability(&mover) >= 0.9, "{}", stdout(&mover));
    assert!(probability(&twins) < 0.5, "{}", stdout(&twins));
}

/// `predict` and `evaluate` refuse a rule past `--max-pairs` and stop once
/// more pairs than `--max-kept-pairs` are kept, before writing anything.
#[test]
fn every_command_that_scores_stops_at_the_pair_limits() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    train(d);
    let f = fixture();
    let f = f.to_str().expect("path");
    for command in ["predict", "evaluate"] {
        let mut args = vec!["link", command, f, "--model", "m.json", "--max-pairs", "10"];
        if command == "predict" {
            args.extend(["--out", "out"]);
        }
        let o = cnis(d, &args);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", stderr(&o));
        assert!(stderr(&o).contains("more than the limit of 10"), "{command}: {}", stderr(&o));
        args.truncate(args.len() - if command == "predict" { 4 } else { 2 });
        args.extend(["--max-kept-pairs", "20"]);
        if command == "predict" {
            args.extend(["--out", "out"]);
        }
        let o = cnis(d, &args);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", stderr(&o));
        assert!(stderr(&o).contains("more than 20 pairs scored at or above match probability"), "{}", stderr(&o));
    }
    assert!(!d.join("out/pairs.csv").exists(), "nothing is written after the limit stops a run");
    let o = cnis(d, &["-q", "link", "predict", "--train", f, "--model", "m2.json", "--max-kept-pairs", "20"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Within the limits, pairs.csv holds only pairs at or above the review
    // threshold.
    ok(&cnis(d, &["-q", "link", "predict", f, "--model", "m.json", "--out", "out"]));
    let pairs = read_csv(&d.join("out/pairs.csv"));
    assert!(!pairs.is_empty());
    assert!(pairs.iter().all(|r| r["match_probability"].parse::<f64>().expect("p") >= 0.5));
}

/// Every input row counts in the evaluation: a row the reader rejects keeps
/// its truth label, and its true pairs are missed.
#[test]
fn evaluate_counts_rows_the_reader_rejected() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    train(d);
    let text = std::fs::read_to_string(fixture()).expect("fixture");
    // Five census rows lose their record id: the reader rejects them.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for line in lines.iter_mut().skip(1).step_by(40).take(5) {
        let mut cells: Vec<&str> = line.split(',').collect();
        cells[1] = "";
        *line = cells.join(",");
    }
    std::fs::write(d.join("bad.csv"), lines.join("\n") + "\n").expect("write");
    // True pairs counted here, from the truth column of every row.
    let mut per_child: HashMap<&str, u64> = HashMap::new();
    for line in text.lines().skip(1) {
        *per_child.entry(line.split(',').nth(13).expect("truth")).or_default() += 1;
    }
    let true_pairs: u64 = per_child.values().map(|n| n * (n - 1) / 2).sum();

    let json = |file: &str| -> serde_json::Value {
        let o = cnis(d, &["link", "evaluate", file, "--model", "m.json", "--json", "--quarantine-dir", "q"]);
        ok(&o);
        serde_json::from_str(stdout(&o).trim()).expect("json")
    };
    let all = json(fixture().to_str().expect("path"));
    let bad = json("bad.csv");
    assert_eq!(all["evaluation"]["records"], 276);
    assert_eq!(bad["evaluation"]["records"], 276, "rejected rows still count");
    assert_eq!(bad["evaluation"]["rejected"], 5);
    assert_eq!(bad["rows_rejected"], 5);
    for e in [&all, &bad] {
        assert_eq!(e["evaluation"]["pairs"]["true_pairs"], true_pairs);
        assert_eq!(e["evaluation"]["clusters"]["true_pairs"], true_pairs);
    }
    let recall = |v: &serde_json::Value, level: &str| v["evaluation"][level]["recall"].as_f64().expect("recall");
    assert!(recall(&bad, "pairs") < recall(&all, "pairs") && recall(&bad, "clusters") < recall(&all, "clusters"));
    let o = cnis(d, &["link", "evaluate", "bad.csv", "--model", "m.json", "--quarantine-dir", "q"]);
    let text = stdout(&o);
    assert!(text.contains("pair level (scored pairs at or above the threshold"), "{text}");
    assert!(text.contains("cluster level (pairs of records put in one child"), "{text}");
    assert!(text.contains("276 (5 of them rejected by the reader and linked to nothing)"), "{text}");
}

/// Two rows with one (source, record_id) are refused, naming the file, the
/// lines and the key, and never the child's details.
#[test]
fn two_records_with_one_key_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let text = std::fs::read_to_string(fixture()).expect("fixture");
    let mut lines: Vec<&str> = text.lines().collect();
    let copy = lines[3].to_string();
    lines.push(&copy);
    std::fs::write(d.join("dup.csv"), lines.join("\n") + "\n").expect("write");
    let cells: Vec<&str> = copy.split(',').collect();
    let (source, id, forename) = (cells[0], cells[1], cells[5]);
    let want = format!("dup.csv: line 278: record id {id:?} of source {source:?} is already on line 4 of dup.csv");
    for args in [&["link", "plan", "dup.csv"][..], &["link", "train", "dup.csv"][..]] {
        let o = cnis(d, args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(&want), "{err}");
        assert!(!err.contains(forename), "the error shows a name: {err}");
    }
}

/// A model file is checked when read; the error names the file and the fault.
#[test]
fn a_bad_model_file_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let model = train(d);
    let f = fixture();
    let f = f.to_str().expect("path");
    let good: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&model).expect("m")).expect("json");
    type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 4] = [
        ("thresholds must lie strictly between 0 and 1", &|v| v["link_threshold"] = 1.2.into()),
        ("format version 7", &|v| v["version"] = 7.into()),
        ("surname level 1: m = -0.1 is not in (0, 1]", &|v| v["comparisons"][5]["levels"][1]["m"] = (-0.1).into()),
        ("unknown variant `shoe_size`", &|v| v["rules"][1]["rule"] = "shoe_size".into()),
    ];
    for (want, edit) in cases {
        let mut v = good.clone();
        edit(&mut v);
        std::fs::write(d.join("bad.json"), v.to_string()).expect("write");
        for command in ["predict", "evaluate", "plan", "explain"] {
            let mut args = vec!["link", command, f, "--model", "bad.json"];
            if command == "explain" {
                args.extend(["--left", "census-2022:a1", "--right", "census-2023:b1"]);
            }
            let o = cnis(d, &args);
            assert_eq!(o.status.code(), Some(2), "{command}");
            let err = stderr(&o);
            assert!(err.contains("bad.json") && err.contains(want), "{command}: {err}");
        }
    }
}

/// Two files that each list a person once: with --link-only, only pairs
/// across them are scored and no child has two records of one file.
#[test]
fn link_only_scores_across_files_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let text = std::fs::read_to_string(fixture()).expect("fixture");
    let header = text.lines().next().expect("header");
    for (census, name) in [("census-2022", "first"), ("census-2023", "second")] {
        let rows: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with(census))
            .map(|l| {
                l.replacen(census, name, 1)
                    .split(',')
                    .enumerate()
                    .map(|(i, c)| if i == 2 { "" } else { c })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        std::fs::write(d.join(format!("{name}.csv")), format!("{header}\n{}\n", rows.join("\n"))).expect("write");
    }
    ok(&cnis(d, &["-q", "link", "predict", "--train", "first.csv", "second.csv", "--link-only", "--model", "m.json"]));
    let pairs = read_csv(&d.join("linkage/pairs.csv"));
    assert!(pairs.len() > 50);
    assert!(pairs.iter().all(|r| r["source_l"] != r["source_r"]), "a pair within one file");
    let clusters = read_csv(&d.join("linkage/clusters.csv"));
    let mut seen = std::collections::HashSet::new();
    for r in &clusters {
        assert!(seen.insert((r["cluster"].clone(), r["source"].clone())), "a child with two records of one file");
    }
    let o = cnis(d, &["link", "plan", "first.csv", "--link-only"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--link-only needs records from two sources or more"), "{}", stderr(&o));
}

/// Sources named census... list each child once by default; others can be
/// named so; a name that matches no source is an error.
#[test]
fn sources_that_list_each_child_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let f = fixture();
    let f = f.to_str().expect("path");
    let plan = stdout(&cnis(d, &["link", "plan", f, "--unique-source", "cme"]));
    for s in ["census-2022", "census-2023", "cme"] {
        assert!(plan.contains(&format!("source {s}: ")), "{plan}");
        let line = plan.lines().find(|l| l.contains(&format!("source {s}: "))).expect("line");
        assert!(line.contains("lists each child once"), "{line}");
    }
    let line = plan.lines().find(|l| l.contains("source home-education: ")).expect("line");
    assert!(!line.contains("lists each child once"), "{line}");
    let o = cnis(d, &["link", "plan", f, "--unique-source", "census-1999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--unique-source census-1999: no record has this source"));
}

/// On postcodes that are not UK postcodes, a district rule makes no pairs:
/// the plan says so, and the rules it chooses itself use whole postcodes.
#[test]
fn the_plan_warns_about_a_rule_that_makes_no_pairs() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let rows = [
        "source,record_id,case_id,forename,surname,dob,postcode,address,truth",
        "a,1,5304218,michaela,neumann,1915-11-11,4223,8 stanley street,1",
        "b,1,5304218,michaela,neuman,1915-11-11,4223,8 stanley street,1",
        "a,2,4066625,courtney,painter,1916-12-14,4560,12 pinkerton circuit,2",
        "b,2,4066652,courtney,painter,1916-12-14,4560,12 pinkerton circuit,2",
        "a,3,4365168,charles,green,1948-09-30,4566,38 salkauskas crescent,3",
        "b,3,4365168,charles,green,1948-09-03,4566,38 salkauskas cres,3",
    ];
    std::fs::write(d.join("au.csv"), rows.join("\n") + "\n").expect("write");
    let plan = cnis(d, &["link", "plan", "au.csv", "--rules", "dob_surname,names_district"]);
    ok(&plan);
    let text = stdout(&plan);
    assert!(
        text.contains("warning: rule 2 (names_district) makes no pairs: it needs a UK postcode district, and 0 of 6 postcodes are UK postcodes"),
        "{text}"
    );
    let chosen = stdout(&cnis(d, &["link", "plan", "au.csv"]));
    assert!(chosen.contains("0 of 6 postcodes are UK postcodes: blocks on the whole postcode"), "{chosen}");
    assert!(!chosen.contains("warning"), "{chosen}");
    assert!(!chosen.contains("names_district  "), "{chosen}");
}

/// A twin-heavy population through the real binary, with the defaults a
/// user gets: twins never in one child, new-UPN movers linked.
#[test]
fn twins_apart_new_upn_movers_linked() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let pop = households::Population::new(21, households::Rates { households: 800, ..households::Rates::default() });
    pop.write_csv(&d.join("children.csv")).expect("write");
    ok(&cnis(d, &["-q", "link", "predict", "--train", "children.csv", "--quarantine-dir", "q"]));
    let clusters = read_csv(&d.join("linkage/clusters.csv"));
    let cluster: HashMap<(String, String), String> =
        clusters.iter().map(|r| ((r["source"].clone(), r["record_id"].clone()), r["cluster"].clone())).collect();
    let child_of = |c: &households::Child, source: &str, prefix: &str| {
        cluster.get(&(source.to_string(), format!("{prefix}{}", c.id))).cloned()
    };
    let mut twins = 0;
    for c in pop.children.iter().filter(|c| c.twin_of.is_some_and(|t| t > c.id)) {
        let other = &pop.children[c.twin_of.unwrap_or(0)];
        for (s, p) in [("census-2022", "a"), ("census-2023", "b")] {
            for (t, q) in [("census-2022", "a"), ("census-2023", "b")] {
                if let (Some(x), Some(y)) = (child_of(c, s, p), child_of(other, t, q)) {
                    twins += 1;
                    assert_ne!(x, y, "twins {} and {} in one child", c.id, other.id);
                }
            }
        }
    }
    assert!(twins > 300, "{twins}");
    let movers: Vec<bool> = pop
        .children
        .iter()
        .filter(|c| c.second_upn.is_some())
        .filter_map(|c| Some(child_of(c, "census-2022", "a")? == child_of(c, "census-2023", "b")?))
        .collect();
    let found = movers.iter().filter(|&&x| x).count();
    assert!(movers.len() > 20 && found as f64 >= 0.9 * movers.len() as f64, "{found} of {}", movers.len());
}

/// Record ids and source names come from councils' files: one that a
/// spreadsheet would run gets a leading `'` in every output, and the
/// outputs are readable by their owner only.
#[test]
fn link_outputs_are_formula_safe_and_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let text = std::fs::read_to_string(fixture()).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let rows: Vec<String> = lines
        .map(|l| {
            let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
            cells[1] = format!("=HYPERLINK(\"x\"){}", cells[1]);
            cells.join(",")
        })
        .collect();
    std::fs::write(d.join("in.csv"), format!("{header}\n{}\n", rows.join("\n"))).expect("write");
    ok(&cnis(d, &["-q", "link", "predict", "--train", "in.csv", "--model", "m.json", "--out", "linkage"]));
    for f in ["pairs.csv", "clusters.csv", "review.csv"] {
        let path = d.join("linkage").join(f);
        let mode = std::fs::metadata(&path).expect(f).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} is readable by others");
        let mut reader = csv::Reader::from_path(&path).expect(f);
        let cells: Vec<String> = reader
            .records()
            .map(|r| r.expect("row"))
            .flat_map(|r| r.iter().map(str::to_string).collect::<Vec<_>>())
            .collect();
        assert!(cells.iter().all(|c| !c.starts_with('=')), "{f}: a formula cell");
        if f != "review.csv" {
            assert!(cells.iter().any(|c| c.starts_with("'=HYPERLINK")), "{f} kept no id");
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(d.join("linkage"))
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}
