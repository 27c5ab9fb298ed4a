//! The tracking use case: two censuses in, leavers and their destinations out.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::PathBuf;

use chrono::NaiveDate;
use cnis_core::records::{PupilKey, SourceKey};
use cnis_core::school_age::SchoolAgeRules;
use cnis_store::{Store, StoredLeaver};
use cnis_track::{Settings, Summary, TrackInput, Tracked};

use crate::output::{self, absence_name};
use crate::reconcile::{FoundBy, LinkOptions, reconcile};
use crate::{Error, Progress, Result};

/// What to track.
#[derive(Debug, Clone)]
pub struct TrackRequest {
    /// Day of the first census.
    pub from: NaiveDate,
    /// Day of the second.
    pub to: NaiveDate,
    /// Link by names, date of birth and postcode too (with these options).
    pub link: Option<LinkOptions>,
    /// Folder for the files.
    pub out: PathBuf,
    /// The readings a council may change.
    pub settings: Settings,
}

/// What a run found and wrote.
pub struct TrackReport {
    /// The run's leavers and cohort.
    pub tracked: Tracked,
    /// The summary table.
    pub summary: Summary,
    /// How first-census pupils were found on the second census.
    pub found_on_second: BTreeMap<FoundBy, u64>,
    /// Leavers whose evidence conflicts.
    pub conflicts: usize,
    /// Pairs in the review list.
    pub review: usize,
    /// The leaver list.
    pub leavers_file: PathBuf,
    /// The summary.
    pub summary_file: PathBuf,
    /// The review list, with linkage.
    pub review_file: Option<PathBuf>,
    /// The run's id in the database.
    pub run: i64,
}

/// Tracks from one census to the next, writes the leaver list, the summary
/// and (with linkage) the review list and what `cnis link explain` needs,
/// and records the run once every file is written.
pub fn track(store: &mut Store, req: &TrackRequest, progress: &dyn Progress) -> Result<TrackReport> {
    if req.from >= req.to {
        return Err(Error::Invalid(format!("--from ({}) must be before --to ({})", req.from, req.to)));
    }
    let a = store.census(req.from)?;
    let b = store.census(req.to)?;
    let m = reconcile(store, &a, &b, req.link.as_ref(), progress)?;
    let mut found_on_second: BTreeMap<FoundBy, u64> = BTreeMap::new();
    for how in m.on_second.values() {
        *found_on_second.entry(*how).or_default() += 1;
    }
    let on_second = &m.on_second;
    progress.step("deciding destinations", None);
    let kinds: HashMap<SourceKey, &'static str> =
        m.evidence.values().flatten().map(|e| (e.key, e.record.kind.name())).collect();
    let mut tracked = cnis_track::track(TrackInput {
        census_a: req.from,
        census_b: req.to,
        first_roll: m.first_roll,
        on_second_roll: &|k| on_second.contains_key(k),
        evidence: m.evidence,
        matching_conflicts: m.conflicts,
        sectors: &m.sectors,
        settings: &req.settings,
        rules: SchoolAgeRules::default(),
    });
    let upns: Vec<cnis_core::Upn> = tracked.leavers.iter().filter_map(|l| l.pupil.upn).collect();
    let ids = store.child_ids(&upns)?;
    for l in tracked.leavers.iter_mut() {
        l.pupil.child_id = l.pupil.upn.and_then(|u| ids.get(&u).copied());
    }
    let summary = Summary::of(&tracked);
    progress.step("writing the leaver list", None);
    let keys: Vec<PupilKey> = tracked.leavers.iter().map(|l| l.pupil.key).collect();
    let details = store.pupil_details(&keys)?;
    // Every file is written in full under a temporary name first, then all
    // are renamed into place together, and only then is the run recorded:
    // a failure (a full disk) leaves neither a truncated file nor a run that
    // claims to be complete.
    let mut staged = vec![
        output::write_leavers(&req.out.join("leavers.csv"), &tracked, &details)?,
        output::write_summary(&req.out.join("summary.csv"), &summary, req.from)?,
    ];
    let mut review = 0;
    let review_file = match &m.linkage {
        Some(used) => {
            let dir = req.out.join("linkage");
            let records = dir.join("records.csv");
            let model = dir.join("model.json");
            staged.push(write_link_records(&records, &used.records)?);
            let json = serde_json::to_string_pretty(&used.model)
                .map_err(|e| Error::Invalid(format!("writing the linkage model: {e}")))?;
            staged.push(cnis_ingest::stage_private(&model, json.as_bytes())?);
            let explain = format!("cnis link explain {} --model {}", records.display(), model.display());
            let listed: HashSet<PupilKey> = keys.iter().copied().collect();
            review = m.review.iter().filter(|r| listed.contains(&r.pupil)).count();
            let path = req.out.join("review.csv");
            staged.push(output::write_review(&path, &m.review, &tracked, &details, &kinds, &explain)?);
            Some(path)
        }
        None => None,
    };
    let mut published = Vec::new();
    for w in staged {
        published.push(w.publish()?);
    }
    let (leavers_file, summary_file) = (published[0].clone(), published[1].clone());
    let stored: Vec<StoredLeaver> = tracked
        .leavers
        .iter()
        .map(|l| {
            let deciding = l.deciding();
            StoredLeaver {
                child_id: l.pupil.child_id,
                upn: l.pupil.upn,
                la: l.pupil.laestab.map(|x| x.la_number()),
                laestab: l.pupil.laestab,
                nc_year: l.pupil.nc_year,
                destination: l.destination.name(),
                evidence: l.evidence_text(),
                absence: l.pupil.absence.map(absence_name),
                sen: l.pupil.sen.code(),
                fsm: l.pupil.fsm,
                more_deprived_half: l.pupil.imd_decile.map(|d| d.more_deprived_half()),
                social_care: l.social_care.map(|s| s.code()),
                matched_by: deciding.map(|e| e.matched_by.name()),
                match_probability: deciding.and_then(|e| e.probability),
                conflict: l.conflict.clone(),
            }
        })
        .collect();
    let conflicts = tracked.leavers.iter().filter(|l| l.conflict.is_some()).count();
    progress.step("recording the run", None);
    let run = store.save_tracking_run(a.id, b.id, req.link.is_some(), &stored)?;
    Ok(TrackReport {
        tracked,
        summary,
        found_on_second,
        conflicts,
        review,
        leavers_file,
        summary_file,
        review_file,
        run,
    })
}

fn write_link_records(
    path: &std::path::Path,
    records: &[cnis_core::records::LinkRecord],
) -> Result<cnis_ingest::Written> {
    let mut w = cnis_ingest::CsvOut::create(path, cnis_core::records::columns::LINK)?;
    for r in records {
        let mut row: Vec<String> = Vec::with_capacity(cnis_core::records::columns::LINK.len());
        for c in cnis_core::records::columns::LINK {
            row.push(match *c {
                "source" => r.source.clone(),
                "record_id" => r.record_id.clone(),
                "upn" => r.upn.map(|u| u.to_string()).or_else(|| r.upn_text.clone()).unwrap_or_default(),
                "former_upn" => r.former_upn.map(|u| u.to_string()).unwrap_or_default(),
                "nhs_number" => r.nhs_number.map(|n| n.to_string()).unwrap_or_default(),
                "forename" => r.forename.clone().unwrap_or_default(),
                "middle_names" => r.middle_names.clone().unwrap_or_default(),
                "surname" => r.surname.clone().unwrap_or_default(),
                "former_surname" => r.former_surname.clone().unwrap_or_default(),
                "dob" => r.dob.map(|d| d.to_string()).unwrap_or_default(),
                "sex" => r.sex.map(|s| s.code().to_string()).unwrap_or_default(),
                "postcode" => r.postcode.clone().unwrap_or_default(),
                "address" => r.address.clone().unwrap_or_default(),
                _ => r.truth.clone().unwrap_or_default(),
            });
        }
        w.row(row)?;
    }
    Ok(w.complete()?)
}
