//! `cnis track`: find the leavers between two censuses and write them out.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};

use cnis_core::Upn;
use cnis_core::records::{AbsenceBand, SourceRecord};
use cnis_core::school_age::SchoolAgeRules;
use cnis_link::{Prepared, TrainConfig};
use cnis_store::{Store, StoredLeaver};
use cnis_track::{Summary, SummaryRow, TrackInput, Tracked, dob_window, track};

use crate::cli::{Global, TrackArgs};
use crate::cmd::ingest::open_store;
use crate::progress::Spinner;

pub fn run(args: TrackArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut store = open_store(&g.db)?;
    let report = track_and_write(&mut store, args.from, args.to, args.link, &args.out, g)?;
    if !g.quiet {
        println!("{}", report.summary.national_table(None));
        eprintln!("leaver list: {}", report.leavers_file.display());
        eprintln!("summary by LA: {}", report.summary_file.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub struct Report {
    pub summary: Summary,
    pub leavers_file: PathBuf,
    pub summary_file: PathBuf,
}

pub fn track_and_write(
    store: &mut Store,
    from: NaiveDate,
    to: NaiveDate,
    link: bool,
    out: &Path,
    g: &Global,
) -> anyhow::Result<Report> {
    anyhow::ensure!(from < to, "--from ({from}) must be before --to ({to})");
    let spin = Spinner::new(g, "reading the censuses");
    let a = store.census(from)?;
    let b = store.census(to)?;
    let (dob_from, dob_to) = dob_window(from, to);
    let first_roll = store.cohort(a.id, dob_from, dob_to)?;
    let mut second_roll = store.roll_upns(b.id)?;
    let mut sources = store.sources_with_upn()?;
    let sectors = store.school_sectors()?;
    if link {
        spin.set_message("linking records");
        let found = linked(store, a.id, b.id, &second_roll)?;
        tracing::info!(
            on_second_roll = found.on_second.len(),
            source_links = found.sources.len(),
            "linkage added matches UPNs could not make"
        );
        second_roll.extend(found.on_second);
        sources.extend(found.sources);
    }
    spin.set_message("matching");
    let mut tracked = track(TrackInput {
        census_a: from,
        census_b: to,
        first_roll,
        second_roll: &second_roll,
        sources: &sources,
        sectors: &sectors,
        rules: SchoolAgeRules::default(),
    });
    drop(second_roll);
    if link {
        spin.set_message("looking at the schools deletion notices name");
        let found = on_roll_at_named_school(store, a.id, b.id, &mut tracked, &sources)?;
        if found > 0 {
            tracing::info!(found, "leavers found on roll at the school their deletion notice names");
        }
    }
    let summary = Summary::of(&tracked);
    spin.set_message("writing the leaver list");
    let stored: Vec<StoredLeaver> = tracked
        .leavers
        .iter()
        .map(|l| StoredLeaver {
            child_id: l.pupil.child_id,
            upn: l.pupil.upn,
            la: l.pupil.laestab.la_number(),
            laestab: l.pupil.laestab,
            nc_year: l.pupil.nc_year,
            destination: l.destination.name(),
            evidence: l.evidence.clone(),
            absence: l.pupil.absence.map(absence_name),
            sen: l.pupil.sen.code(),
            fsm: l.pupil.fsm,
            more_deprived_half: l.pupil.imd_decile.map(|d| d.more_deprived_half()),
            social_care: l.social_care.clone(),
        })
        .collect();
    store.save_tracking_run(a.id, b.id, &stored)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let leavers_file = out.join("leavers.csv");
    write_leavers(store, a.id, &tracked, &leavers_file)?;
    let summary_file = out.join("summary.csv");
    write_summary(&summary, from, &summary_file)?;
    spin.finish();
    Ok(Report { summary, leavers_file, summary_file })
}

/// The check an officer makes by hand: a leaver whose deletion notice names
/// a state school, and who is on that school's next census roll under the
/// same names and date of birth, moved school (under a new UPN) and did not
/// leave. Such leavers are taken off the list; returns how many.
fn on_roll_at_named_school(
    store: &Store,
    census_a: i64,
    census_b: i64,
    tracked: &mut Tracked,
    sources: &[SourceRecord],
) -> anyhow::Result<usize> {
    use cnis_core::records::{Destination, DestinationCode, SourceKind};
    use cnis_link::prepare::normalise_name;
    let mut named: HashMap<Upn, Vec<cnis_core::records::Laestab>> = HashMap::new();
    for r in sources {
        if let (SourceKind::Deletion, Some(u), Some(DestinationCode::School(l))) = (r.kind, r.upn, r.destination) {
            named.entry(u).or_default().push(l);
        }
    }
    let candidates: Vec<Upn> = tracked
        .leavers
        .iter()
        .filter(|l| l.destination == Destination::AnotherSchool && named.contains_key(&l.pupil.upn))
        .map(|l| l.pupil.upn)
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let names = store.names_on_census(census_a, &candidates)?;
    let schools: HashSet<cnis_core::records::Laestab> =
        candidates.iter().flat_map(|u| named[u].iter().copied()).collect();
    let on_roll: HashSet<(cnis_core::records::Laestab, String, String, chrono::NaiveDate)> = store
        .pupils_at_schools(census_b, &schools)?
        .into_iter()
        .map(|(l, surname, forename, dob)| (l, normalise_name(&surname), normalise_name(&forename), dob))
        .collect();
    let before = tracked.leavers.len();
    tracked.leavers.retain(|l| {
        let Some((surname, forename)) = names.get(&l.pupil.upn) else { return true };
        let key = |school| (school, normalise_name(surname), normalise_name(forename), l.pupil.dob);
        !(l.destination == Destination::AnotherSchool
            && named.get(&l.pupil.upn).is_some_and(|ls| ls.iter().any(|&s| on_roll.contains(&key(s)))))
    });
    Ok(before - tracked.leavers.len())
}

/// What linkage adds to matching on UPN.
struct Linked {
    /// First-census UPNs whose child is on the second census under another UPN.
    on_second: Vec<Upn>,
    /// Source records linked to a first-census pupil, carrying that pupil's UPN.
    sources: Vec<SourceRecord>,
}

/// Links what UPNs left unmatched, and reads off, for each first-census
/// pupil, whether their child is on the second census and which source
/// records are theirs. Only records UPNs could not place take part: pupils
/// of the first census whose UPN is not on the second, pupils of the second
/// whose UPN (and former UPN) is not on the first, and source records with
/// no UPN or one not on the first census. Everything else is already matched,
/// and leaving it out keeps a national run small.
fn linked(store: &Store, a: i64, b: i64, second_roll: &HashSet<Upn>) -> anyhow::Result<Linked> {
    let first_roll = store.roll_upns(a)?;
    let first = store.census_link_records(a, &|u, _| !second_roll.contains(u))?;
    let first_source = format!("census-{}", store_date(store, a)?);
    let mut records = first;
    let second =
        store.census_link_records(b, &|u, f| !first_roll.contains(u) && !f.is_some_and(|f| first_roll.contains(f)))?;
    let second_source = format!("census-{}", store_date(store, b)?);
    records.extend(second);
    let sources: Vec<_> = store
        .source_link_records()?
        .into_iter()
        .filter(|(_, r)| r.upn.is_none_or(|u| !first_roll.contains(&u)))
        .collect();
    let by_row: HashMap<String, usize> =
        sources.iter().enumerate().map(|(i, (l, _))| (l.record_id.clone(), i)).collect();
    records.extend(sources.iter().map(|(l, _)| l.clone()));
    let p = Prepared::from_records(records);
    let config = TrainConfig::default();
    let model = cnis_link::train(&training_sample(store, a, b, first_roll.len())?, &config)?;
    let (pairs, _) = cnis_link::predict(&p, &model, model.link_threshold)?;
    let clusters = cnis_link::cluster(&p, &pairs, model.link_threshold);
    // Per cluster: the first-census UPN (one at most: a cluster never holds two
    // UPNs of one source), whether a second-census record is in it, and its
    // source records.
    let mut upn_of: HashMap<u32, Upn> = HashMap::new();
    let mut has_second: HashSet<u32> = HashSet::new();
    let mut members: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in 0..p.n {
        let c = clusters.cluster[i];
        let source = p.sources[p.source[i] as usize].as_str();
        if source == first_source {
            if let Ok(u) = Upn::parse(&p.record_id[i]) {
                upn_of.insert(c, u);
            }
        } else if source == second_source {
            has_second.insert(c);
        } else if let Some(&row) = by_row.get(&p.record_id[i]) {
            members.entry(c).or_default().push(row);
        }
    }
    let on_second = upn_of.iter().filter(|(c, _)| has_second.contains(c)).map(|(_, &u)| u).collect();
    let mut linked_sources = Vec::new();
    for (c, rows) in &members {
        let Some(&upn) = upn_of.get(c) else { continue };
        for &row in rows {
            let rec = &sources[row].1;
            if rec.upn != Some(upn) {
                linked_sources.push(SourceRecord { upn: Some(upn), ..rec.clone() });
            }
        }
    }
    Ok(Linked { on_second, sources: linked_sources })
}

/// The model is trained on a sample of whole children, not on the records
/// left over by UPN matching: those are mostly non-matches, which would bias
/// the prior. Children are sampled by a hash of their first UPN, so a
/// child's census records and listed records are kept or dropped together;
/// about 100,000 first-census pupils are enough.
fn training_sample(store: &Store, a: i64, b: i64, first_pupils: usize) -> anyhow::Result<Prepared> {
    use std::hash::{Hash, Hasher};
    let every = (first_pupils / 100_000).max(1) as u64;
    let keep = |u: &Upn| {
        let mut h = rustc_hash::FxHasher::default();
        u.hash(&mut h);
        h.finish().is_multiple_of(every)
    };
    let mut records = store.census_link_records(a, &|u, _| keep(u))?;
    records.extend(store.census_link_records(b, &|u, f| keep(u) || f.is_some_and(keep))?);
    records.extend(
        store
            .source_link_records()?
            .into_iter()
            .filter(|(l, r)| match r.upn {
                Some(u) => keep(&u),
                None => l.record_id.parse::<u64>().is_ok_and(|row| row.is_multiple_of(every)),
            })
            .map(|(l, _)| l),
    );
    Ok(Prepared::from_records(records))
}

fn store_date(store: &Store, census: i64) -> anyhow::Result<String> {
    let c = store.censuses()?.into_iter().find(|c| c.id == census).context("census vanished from the database")?;
    Ok(c.date.to_string())
}

fn absence_name(b: AbsenceBand) -> &'static str {
    match b {
        AbsenceBand::Regular => "regular",
        AbsenceBand::Persistent => "persistent",
        AbsenceBand::Severe => "severe",
    }
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "Y",
        Some(false) => "N",
        None => "",
    }
}

fn write_leavers(store: &Store, census: i64, t: &Tracked, path: &Path) -> anyhow::Result<()> {
    let upns: Vec<_> = t.leavers.iter().map(|l| l.pupil.upn).collect();
    let names = store.names_on_census(census, &upns)?;
    let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record([
        "child_id",
        "upn",
        "surname",
        "forename",
        "dob",
        "sex",
        "la",
        "la_name",
        "laestab",
        "nc_year",
        "destination",
        "evidence",
        "absence",
        "sen",
        "fsm",
        "more_deprived_half",
        "social_care",
    ])?;
    for l in &t.leavers {
        let p = &l.pupil;
        let (surname, forename) = names.get(&p.upn).cloned().unwrap_or_default();
        let la = l.la();
        w.write_record([
            p.child_id.map(|c| c.to_string()).unwrap_or_default(),
            p.upn.to_string(),
            surname,
            forename,
            p.dob.to_string(),
            p.sex.code().to_string(),
            la.map(|l| l.to_string()).unwrap_or_default(),
            la.map(|l| l.info().name.clone()).unwrap_or_default(),
            p.laestab.to_string(),
            p.nc_year.map(|y| y.to_string()).unwrap_or_default(),
            l.destination.name().to_string(),
            l.evidence.clone(),
            p.absence.map(absence_name).unwrap_or_default().to_string(),
            p.sen.code().to_string(),
            yes_no(Some(p.fsm)).to_string(),
            yes_no(p.imd_decile.map(|d| d.more_deprived_half())).to_string(),
            l.social_care.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// The summary as tidy CSV in the shape of DfE open data (time, geography,
/// filter, indicators). Counts are unrounded and unsuppressed: management
/// information for the council, not for publication.
fn write_summary(s: &Summary, from: NaiveDate, path: &Path) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record([
        "time_period",
        "time_identifier",
        "geographic_level",
        "country_code",
        "country_name",
        "region_code",
        "region_name",
        "old_la_code",
        "new_la_code",
        "la_name",
        "destination",
        "children_count",
        "persistent_or_severe_absence_percent",
        "severe_absence_percent",
        "more_deprived_half_percent",
        "sen_support_percent",
        "ehcp_percent",
        "fsm_percent",
        "social_care_percent",
    ])?;
    let year = SchoolAgeRules::default().academic_year_of(from);
    let period = format!("{}{:02}", year, (year + 1).rem_euclid(100));
    let pct = |v: Option<f64>| v.map_or_else(|| "z".to_string(), |x| format!("{x:.1}"));
    for ((la, group), r) in &s.rows {
        let (level, region_code, region_name, old, new, name) = match la {
            None => ("National", String::new(), String::new(), String::new(), String::new(), String::new()),
            Some(la) => {
                let i = la.info();
                (
                    "Local authority",
                    i.region_code.clone(),
                    i.region_name.clone(),
                    la.to_string(),
                    i.ons_code.clone(),
                    i.name.clone(),
                )
            }
        };
        w.write_record([
            period.clone(),
            "Academic year".into(),
            level.into(),
            "E92000001".into(),
            "England".into(),
            region_code,
            region_name,
            old,
            new,
            name,
            group.name().into(),
            r.children.to_string(),
            pct(SummaryRow::pct(r.persistent_or_severe, r.absence_known)),
            pct(SummaryRow::pct(r.severe, r.absence_known)),
            pct(SummaryRow::pct(r.more_deprived_half, r.deprivation_known)),
            pct(SummaryRow::pct(r.sen_support, r.children)),
            pct(SummaryRow::pct(r.ehcp, r.children)),
            pct(SummaryRow::pct(r.fsm, r.children)),
            pct(SummaryRow::pct(r.social_care, r.children)),
        ])?;
    }
    w.flush()?;
    Ok(())
}
