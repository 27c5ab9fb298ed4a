//! `cnis demo`: the whole idea in one command. Generate synthetic England,
//! load it, track it, and set the result beside the generator's truth, with
//! every difference explained.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use cnis_core::records::{Destination, SourceKind};
use cnis_synth::truth::{TruthRow, read_truth};
use cnis_track::Group;

use crate::cli::{DemoArgs, Global, LoadArgs};
use crate::cmd::{ingest, synth, track};

pub fn run(args: DemoArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    let data = out.join("data");
    let results = out.join("results");
    let quarantine = out.join("quarantine");
    let db = out.join("cnis.db");
    // Only what the demo itself makes is removed.
    for p in [&data, &results, &quarantine] {
        if p.exists() {
            std::fs::remove_dir_all(p).with_context(|| format!("clearing {}", p.display()))?;
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let f = out.join(format!("cnis.db{suffix}"));
        if f.exists() {
            std::fs::remove_file(&f).with_context(|| format!("removing {}", f.display()))?;
        }
    }
    let mut steps: Vec<(&str, f64)> = Vec::new();

    let t = Instant::now();
    let manifest = synth::synthesise(args.pupils, args.seed, 2021, false, &data, g)?;
    steps.push(("generate", t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let mut store = ingest::open_store(&db)?;
    let load_args =
        |name: &str| LoadArgs { maps: vec![], quarantine: Some(quarantine.join(format!("{name}.quarantine.csv"))) };
    let mut loaded = vec![
        ingest::schools(&mut store, &data.join(&manifest.schools), &load_args("schools"))?,
        ingest::postcodes(&mut store, &data.join(&manifest.postcode_deprivation), &load_args("postcodes"))?,
    ];
    let date_a = parse_date(&manifest.census_a_date)?;
    let date_b = parse_date(&manifest.census_b_date)?;
    loaded.push(ingest::census(&mut store, &data.join(&manifest.census_a), date_a, &load_args("census-a"), g)?);
    loaded.push(ingest::census(&mut store, &data.join(&manifest.census_b), date_b, &load_args("census-b"), g)?);
    for (kind, file) in &manifest.sources {
        let kind = SourceKind::from_name(kind).context("manifest names an unknown source")?;
        loaded.push(ingest::source(&mut store, kind, &data.join(file), &load_args(kind.name()), g)?);
    }
    steps.push(("ingest", t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let report = track::track_and_write(&mut store, date_a, date_b, false, &results, g)?;
    steps.push(("track by UPN", t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let linked = track::track_and_write(&mut store, date_a, date_b, true, &results.join("linked"), g)?;
    steps.push(("track with linkage", t.elapsed().as_secs_f64()));

    let truth = read_truth(&data.join(&manifest.truth))?;
    let expected = Expected::from_truth(&truth);
    if !g.quiet {
        println!(
            "cnis demo: {} pupils on the spring {} census, tracked to spring {}",
            args.pupils,
            &manifest.census_a_date[..4],
            &manifest.census_b_date[..4]
        );
        println!();
        for l in &loaded {
            let s = l.stats;
            println!(
                "  loaded {:<28} {:>9} rows, {:>9} accepted, {:>5} quarantined",
                file_name(&l.file),
                s.rows_in,
                s.accepted,
                s.quarantined
            );
        }
        println!();
        println!("Leavers of compulsory school age, by destination (the truth column is what really happened):");
        let truth_of = |g: Group| expected.truth.get(&g).copied();
        println!("{}", report.summary.national_table(Some(&truth_of)));
        println!("What matching on UPN alone cannot see (probabilistic linkage is the next step):");
        println!(
            "  {:>7} children moved school and were given a new UPN by mistake; they show as leavers:",
            expected.new_upn_total()
        );
        println!(
            "          {:>7} as 'another state school' (a deletion notice names the school), {:>7} as unknown",
            expected.new_upn_with_notice, expected.new_upn_without_notice
        );
        println!(
            "  {:>7} leavers whose destination is only on a list without their UPN; they show as unknown",
            expected.untraceable
        );
        println!();
        let found: HashMap<Destination, u64> = Destination::ALL
            .into_iter()
            .map(|d| (d, report.summary.national(Group::Destination(d)).children))
            .collect();
        let mismatches: Vec<String> = Destination::ALL
            .into_iter()
            .filter(|d| found[d] != expected.found(*d))
            .map(|d| format!("{}: found {}, expected {}", d.name(), found[&d], expected.found(d)))
            .collect();
        if mismatches.is_empty() {
            println!("Reconciled: every destination count equals the truth once the cases above are allowed for.");
        } else {
            println!("NOT reconciled: {}", mismatches.join("; "));
        }
        println!();
        println!("With probabilistic linkage as well (names, date of birth, postcode), the truth column");
        println!("counts the leavers some source records, with or without a UPN:");
        let knowable = |g: Group| match g {
            Group::Destination(Destination::Unknown) => Some(expected.truth_unknown_or_unrecorded),
            Group::Destination(d) => Some(expected.knowable.get(&d).copied().unwrap_or(0)),
            _ => expected.truth.get(&g).copied(),
        };
        println!("{}", linked.summary.national_table(Some(&knowable)));
        let still = linked.summary.national(Group::Destination(Destination::AnotherSchool)).children;
        println!(
            "  Children given a new UPN by mistake: {}. Linkage, and the school each deletion notice names, find",
            expected.new_upn_total()
        );
        println!("  them on the next census; {still} are still listed as 'another state school', and those with no");
        println!("  deletion notice whom linkage cannot join (a different UPN outweighs matching names) stay unknown.");
        println!();
        let timing: Vec<String> = steps.iter().map(|(s, t)| format!("{s} {t:.1}s")).collect();
        println!("Time: {}", timing.join(", "));
        println!(
            "Outputs in {}: data/ (generated files), cnis.db, results/ (by UPN), results/linked/ (with linkage), quarantine/",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
}

fn parse_date(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| format!("bad date {s:?} in the manifest"))
}

/// The truth, and what UPN matching should find given it.
struct Expected {
    truth: HashMap<Group, u64>,
    by_destination_traceable: HashMap<Destination, u64>,
    untraceable: u64,
    /// Leavers some source records (with or without UPN), by destination.
    knowable: HashMap<Destination, u64>,
    /// True unknowns plus leavers no source records at all.
    truth_unknown_or_unrecorded: u64,
    new_upn_with_notice: u64,
    new_upn_without_notice: u64,
}

impl Expected {
    fn from_truth(rows: &[TruthRow]) -> Expected {
        let mut e = Expected {
            truth: HashMap::new(),
            by_destination_traceable: HashMap::new(),
            untraceable: 0,
            knowable: HashMap::new(),
            truth_unknown_or_unrecorded: 0,
            new_upn_with_notice: 0,
            new_upn_without_notice: 0,
        };
        for r in rows.iter().filter(|r| r.in_cohort) {
            if let Some(d) = Destination::from_name(&r.fate) {
                *e.truth.entry(Group::Destination(d)).or_default() += 1;
                *e.truth.entry(Group::AllLeavers).or_default() += 1;
                if d == Destination::Unknown || !r.evidence {
                    e.truth_unknown_or_unrecorded += 1;
                } else {
                    *e.knowable.entry(d).or_default() += 1;
                }
                if d == Destination::Unknown || r.upn_evidence {
                    *e.by_destination_traceable.entry(d).or_default() += 1;
                } else {
                    e.untraceable += 1;
                }
            } else if r.fate == "moved_school" && r.new_upn == "mistake" {
                if r.upn_evidence {
                    e.new_upn_with_notice += 1;
                } else {
                    e.new_upn_without_notice += 1;
                }
            }
            *e.truth.entry(Group::Cohort).or_default() += 1;
        }
        e
    }

    fn new_upn_total(&self) -> u64 {
        self.new_upn_with_notice + self.new_upn_without_notice
    }

    /// What UPN matching should report for a destination.
    fn found(&self, d: Destination) -> u64 {
        let traced = self.by_destination_traceable.get(&d).copied().unwrap_or(0);
        match d {
            Destination::Unknown => traced + self.untraceable + self.new_upn_without_notice,
            Destination::AnotherSchool => self.new_upn_with_notice,
            _ => traced,
        }
    }
}
