//! Tracking: compares one census with the next and reconciles each leaver.
//!
//! A *leaver* is a child of compulsory school age on both census days who is
//! on the first roll and not on the second: neither their UPN nor a former
//! UPN recorded on the second census matches. Each leaver's destination comes
//! from the destination sources that carry their UPN (this first cut matches
//! on UPN only; probabilistic linkage comes later), in this order of
//! precedence: died; missing education; home education; independent school;
//! abroad; Wales, Scotland or Northern Ireland; another state school; unknown.
//! Missing education ranks above home education because a home-educated
//! child whose education is found unsuitable becomes CME.
//!
//! This crate does no I/O: it takes records and returns leavers and tables.

mod summary;

use std::collections::{HashMap, HashSet};

use chrono::{Days, Months, NaiveDate};
use cnis_core::LaCode;
use cnis_core::Upn;
use cnis_core::records::{
    CohortPupil, DeletionGround, Destination, DestinationCode, Laestab, Sector, SourceKind, SourceRecord,
};
use cnis_core::school_age::SchoolAgeRules;

pub use summary::{Group, Summary, SummaryRow};

/// Everything a tracking run looks at.
pub struct TrackInput<'a> {
    /// First census day.
    pub census_a: NaiveDate,
    /// Second census day.
    pub census_b: NaiveDate,
    /// Pupils on the first census (any filter by date of birth must keep
    /// everyone inside [`dob_window`]).
    pub first_roll: Vec<CohortPupil>,
    /// UPNs and former UPNs on the second census.
    pub second_roll: &'a HashSet<Upn>,
    /// Destination-source records that carry a UPN.
    pub sources: &'a [SourceRecord],
    /// Sector of each known school.
    pub sectors: &'a HashMap<Laestab, Sector>,
    /// School-age rules.
    pub rules: SchoolAgeRules,
}

/// One child who left the roll.
#[derive(Debug, Clone)]
pub struct Leaver {
    /// The child as on the first census.
    pub pupil: CohortPupil,
    /// Where they went.
    pub destination: Destination,
    /// Which records say so, e.g. `deletions 9(1)(f); home-education`.
    pub evidence: String,
    /// Social-care status on the social-care list, if any (`CIN`, `CPP`, `CLA`).
    pub social_care: Option<String>,
}

impl Leaver {
    /// The LA of the school the child left.
    pub fn la(&self) -> Option<LaCode> {
        LaCode::from_number(self.pupil.laestab.la_number()).ok()
    }
}

/// What a run found.
pub struct Tracked {
    /// Pupils on the first roll of compulsory school age on both days.
    pub cohort: Vec<CohortPupil>,
    /// The leavers among them.
    pub leavers: Vec<Leaver>,
    /// Social-care status by UPN (for the cohort comparison row).
    pub social_care: HashMap<Upn, String>,
}

/// The widest range of birth dates that can be of compulsory school age on
/// both days; callers may pre-filter by it.
pub fn dob_window(census_a: NaiveDate, census_b: NaiveDate) -> (NaiveDate, NaiveDate) {
    let from = census_b.checked_sub_months(Months::new(17 * 12 + 1)).unwrap_or(NaiveDate::MIN);
    let to = census_a.checked_sub_months(Months::new(4 * 12)).and_then(|d| d.checked_add_days(Days::new(1)));
    (from, to.unwrap_or(NaiveDate::MAX))
}

/// One source's claim about where a child went, with its precedence rank.
#[derive(Debug, Clone)]
struct Claim {
    rank: u8,
    destination: Destination,
    evidence: String,
}

fn rank(d: Destination) -> u8 {
    match d {
        Destination::Died => 0,
        Destination::Cme => 1,
        Destination::HomeEducation => 2,
        Destination::IndependentSchool => 3,
        Destination::Abroad => 4,
        Destination::OutsideEngland => 5,
        Destination::AnotherSchool => 6,
        Destination::Unknown => 7,
    }
}

/// What one source record says about where its child went, if anything.
fn claim_of(r: &SourceRecord, sectors: &HashMap<Laestab, Sector>) -> Option<Claim> {
    let (destination, evidence) = match r.kind {
        SourceKind::SocialCare => return None,
        SourceKind::HomeEducation => (Destination::HomeEducation, "home-education register".to_string()),
        SourceKind::Cme => {
            (Destination::Cme, format!("CME list ({})", r.status.as_deref().unwrap_or("status not given")))
        }
        SourceKind::IndependentRoll => (Destination::IndependentSchool, "independent-school roll".to_string()),
        SourceKind::Deletion => {
            let ground = r.deletion_ground.map(|g| g.to_string()).unwrap_or_else(|| "no ground".into());
            let to = r.destination.map(|d| format!(" to {d}")).unwrap_or_default();
            let evidence = format!("deletion {ground}{to}");
            let by_destination = match r.destination {
                Some(DestinationCode::Abroad) => Some(Destination::Abroad),
                Some(DestinationCode::School(l)) if l.is_welsh() => Some(Destination::OutsideEngland),
                Some(DestinationCode::School(l)) => Some(match sectors.get(&l) {
                    Some(Sector::Independent) => Destination::IndependentSchool,
                    _ => Destination::AnotherSchool,
                }),
                Some(DestinationCode::Unknown) | None => None,
            };
            let d = match r.deletion_ground {
                Some(DeletionGround::DIED) => Destination::Died,
                Some(DeletionGround::HOME_EDUCATION) => Destination::HomeEducation,
                _ => by_destination?,
            };
            (d, evidence)
        }
    };
    Some(Claim { rank: rank(destination), destination, evidence })
}

fn social_care_rank(s: &str) -> u8 {
    match s {
        "CLA" => 0,
        "CPP" => 1,
        "CIN" => 2,
        _ => 3,
    }
}

/// Finds the leavers and their destinations.
pub fn track(input: TrackInput<'_>) -> Tracked {
    let mut claims: HashMap<Upn, Vec<Claim>> = HashMap::new();
    let mut social_care: HashMap<Upn, String> = HashMap::new();
    for r in input.sources {
        let Some(upn) = r.upn else { continue };
        if r.kind == SourceKind::SocialCare {
            let status = r.status.clone().unwrap_or_else(|| "known".into());
            let better = social_care.get(&upn).is_none_or(|old| social_care_rank(&status) < social_care_rank(old));
            if better {
                social_care.insert(upn, status);
            }
        } else if let Some(c) = claim_of(r, input.sectors) {
            claims.entry(upn).or_default().push(c);
        }
    }
    let rules = input.rules;
    let (a, b) = (input.census_a, input.census_b);
    let cohort: Vec<CohortPupil> =
        input.first_roll.into_iter().filter(|p| rules.is_csa(p.dob, a) && rules.is_csa(p.dob, b)).collect();
    let mut leavers = Vec::new();
    for p in &cohort {
        if input.second_roll.contains(&p.upn) {
            continue;
        }
        let (destination, evidence) = match claims.get_mut(&p.upn) {
            Some(cs) if !cs.is_empty() => {
                cs.sort_by_key(|c| c.rank);
                let evidence = cs.iter().map(|c| c.evidence.as_str()).collect::<Vec<_>>().join("; ");
                (cs[0].destination, evidence)
            }
            _ => (Destination::Unknown, String::new()),
        };
        leavers.push(Leaver { pupil: p.clone(), destination, evidence, social_care: social_care.get(&p.upn).cloned() });
    }
    tracing::info!(cohort = cohort.len(), leavers = leavers.len(), "tracked");
    Tracked { cohort, leavers, social_care }
}
