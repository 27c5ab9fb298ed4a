//! The files tracking writes: the leaver list, the summary, the review list.
//! Every one through [`CsvOut`]: private, whole or absent, no formula cells.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use cnis_core::records::{AbsenceBand, PupilKey, RecordKey};
use cnis_core::school_age::SchoolAgeRules;
use cnis_ingest::{CsvOut, Written};
use cnis_store::PupilDetails;
use cnis_track::{Summary, SummaryRow, Tracked};

use crate::Result;
use crate::reconcile::ReviewPair;

pub(crate) fn absence_name(b: AbsenceBand) -> &'static str {
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

/// Columns of the leaver list.
pub const LEAVER_COLUMNS: &[&str] = &[
    "child_id",
    "upn",
    "upn_as_written",
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
    "matched_by",
    "match_probability",
    "matched_records",
    "conflict",
    "absence",
    "sen",
    "fsm",
    "more_deprived_half",
    "social_care",
    "permanently_excluded",
];

pub(crate) fn record_name(k: RecordKey, kind: Option<&str>) -> String {
    match k {
        RecordKey::Pupil(p) => format!("census row {}", p.row),
        RecordKey::Source(s) => format!("{} row {}", kind.unwrap_or("source"), s.0),
    }
}

pub(crate) fn write_leavers(path: &Path, t: &Tracked, details: &HashMap<PupilKey, PupilDetails>) -> Result<Written> {
    let mut w = CsvOut::create(path, LEAVER_COLUMNS)?;
    let empty = PupilDetails::default();
    for l in &t.leavers {
        let p = &l.pupil;
        let d = details.get(&p.key).unwrap_or(&empty);
        let la = l.la();
        let deciding = l.deciding();
        let records: Vec<String> =
            l.evidence.iter().map(|(e, _)| record_name(RecordKey::Source(e.key), Some(e.record.kind.name()))).collect();
        w.row([
            p.child_id.map(|c| c.to_string()).unwrap_or_default(),
            p.upn.map(|u| u.to_string()).unwrap_or_default(),
            p.upn_text.clone().unwrap_or_default(),
            d.surname.clone().unwrap_or_default(),
            d.forename.clone().unwrap_or_default(),
            p.dob.to_string(),
            p.sex.code().to_string(),
            la.map(|l| l.to_string()).unwrap_or_default(),
            la.map(|l| l.info().name.clone()).unwrap_or_default(),
            p.laestab.map(|l| l.to_string()).unwrap_or_default(),
            p.nc_year.map(|y| y.to_string()).unwrap_or_default(),
            l.destination.name().to_string(),
            l.evidence_text(),
            deciding.map(|e| e.matched_by.name()).unwrap_or_default().to_string(),
            deciding.and_then(|e| e.probability).map(|p| format!("{p:.4}")).unwrap_or_default(),
            records.join("; "),
            l.conflict.clone().unwrap_or_default(),
            p.absence.map(absence_name).unwrap_or_default().to_string(),
            p.sen.code().to_string(),
            yes_no(Some(p.fsm)).to_string(),
            yes_no(p.imd_decile.map(|d| d.more_deprived_half())).to_string(),
            l.social_care.map(|s| s.code()).unwrap_or_default().to_string(),
            yes_no(Some(l.permanently_excluded)).to_string(),
        ])?;
    }
    Ok(w.complete()?)
}

/// The summary as tidy CSV in the shape of DfE open data (time, geography,
/// filter, indicators). Counts are unrounded and unsuppressed: management
/// information for the council, not for publication.
pub(crate) fn write_summary(path: &Path, s: &Summary, from: NaiveDate) -> Result<Written> {
    let mut w = CsvOut::create(
        path,
        &[
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
        ],
    )?;
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
        w.row([
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
    Ok(w.complete()?)
}

/// Columns of the review list.
pub const REVIEW_COLUMNS: &[&str] =
    &["child_id", "upn", "surname", "forename", "dob", "other_record", "match_probability", "why", "explain"];

pub(crate) fn write_review(
    path: &Path,
    review: &[ReviewPair],
    t: &Tracked,
    details: &HashMap<PupilKey, PupilDetails>,
    kinds: &rustc_hash::FxHashMap<cnis_core::records::SourceKey, &'static str>,
    explain_with: &str,
) -> Result<Written> {
    let pupils: HashMap<PupilKey, &cnis_core::records::CohortPupil> =
        t.leavers.iter().map(|l| (l.pupil.key, &l.pupil)).collect();
    let mut w = CsvOut::create(path, REVIEW_COLUMNS)?;
    let empty = PupilDetails::default();
    for r in review {
        // Only pairs about a child who is on the leaver list.
        let Some(p) = pupils.get(&r.pupil) else { continue };
        let d = details.get(&r.pupil).unwrap_or(&empty);
        let kind = match r.other {
            RecordKey::Source(s) => kinds.get(&s).copied(),
            RecordKey::Pupil(_) => None,
        };
        w.row([
            p.child_id.map(|c| c.to_string()).unwrap_or_default(),
            p.upn.map(|u| u.to_string()).unwrap_or_default(),
            d.surname.clone().unwrap_or_default(),
            d.forename.clone().unwrap_or_default(),
            p.dob.to_string(),
            record_name(r.other, kind),
            format!("{:.4}", r.probability),
            r.why.to_string(),
            format!("{explain_with} --left {} --right {}", r.explain.0, r.explain.1),
        ])?;
    }
    Ok(w.complete()?)
}
