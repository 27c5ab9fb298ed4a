//! Tracking: who left the roll between two censuses, and where they went.
//!
//! A *leaver* is a child of compulsory school age on both census days who is
//! on the first roll and was not found on the second. Finding them on the
//! second roll (by UPN, by a former UPN whose names agree, by linkage) and
//! finding which source rows are theirs is matching, done by the caller
//! (`cnis-app`); this crate takes the result and decides. Each source row
//! matched to a leaver is a piece of [`Evidence`]; what it says about a
//! destination follows the [`Settings`] (a deletion ground is read under the
//! regulations of its date, then mapped to a destination). A row dated
//! before the child joined the school they left is about an earlier spell
//! and says nothing now. The destination is the most serious of what the
//! current evidence says, in this order: died; missing education; custody;
//! home education; independent school; alternative provision; abroad;
//! Wales, Scotland or Northern Ireland; another state school; unknown.
//! Missing education ranks above home education because a home-educated
//! child whose education is found unsuitable becomes CME. Two pieces of
//! current evidence that point different ways are a *conflict*, listed with
//! the leaver so a caseworker sees both.
//!
//! This crate does no I/O: it takes records and returns leavers and tables.

mod settings;
mod summary;

use rustc_hash::FxHashMap as HashMap;
use std::fmt::Write as _;

use chrono::{Days, Months, NaiveDate};
use cnis_core::LaCode;
use cnis_core::records::{
    CohortPupil, Destination, DestinationCode, GroundMeaning, Laestab, PupilKey, Sector, SocialCareStatus, SourceKey,
    SourceKind, SourceRecord,
};
use cnis_core::school_age::SchoolAgeRules;

pub use settings::{GroundReading, RawSettings, Settings};
pub use summary::{Group, Summary, SummaryRow};

/// How a source row was tied to a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchedBy {
    /// The row carries the child's UPN (or their former UPN).
    Upn,
    /// The row's UPN fails its check but is one character (or one swap)
    /// from the child's, with the same date of birth and a name in common.
    NearUpn,
    /// Probabilistic linkage on names, date of birth, postcode and the rest.
    Linkage,
}

impl MatchedBy {
    /// The word used in files.
    pub fn name(self) -> &'static str {
        match self {
            MatchedBy::Upn => "upn",
            MatchedBy::NearUpn => "near_upn",
            MatchedBy::Linkage => "linkage",
        }
    }
}

/// One source row tied to a child, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The row.
    pub key: SourceKey,
    /// The row's contents.
    pub record: SourceRecord,
    /// How it was tied to the child.
    pub matched_by: MatchedBy,
    /// The match probability, where linkage tied it.
    pub probability: Option<f64>,
}

/// What one piece of evidence says, read under the settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The destination it points to, if any.
    pub destination: Option<Destination>,
    /// Whether it is about an earlier spell (dated before the child joined
    /// the school they left) and so says nothing now.
    pub stale: bool,
    /// In the council's words, e.g. `deletion 8(1)(d) (home education) 2022-03-04`.
    pub text: String,
}

/// Everything a tracking run looks at, matched by the caller.
pub struct TrackInput<'a> {
    /// First census day.
    pub census_a: NaiveDate,
    /// Second census day.
    pub census_b: NaiveDate,
    /// Pupils on the first census, one per child (a dual registration
    /// collapsed to its main registration).
    pub first_roll: Vec<CohortPupil>,
    /// Whether a first-census pupil was found on the second census (by any
    /// means). A test, not a set: the caller keeps its own map of millions.
    pub on_second_roll: &'a (dyn Fn(&PupilKey) -> bool + Sync),
    /// Source rows tied to first-census pupils.
    pub evidence: HashMap<PupilKey, Vec<Evidence>>,
    /// Conflicts found while matching (e.g. a former UPN whose names
    /// differ), by pupil.
    pub matching_conflicts: HashMap<PupilKey, Vec<String>>,
    /// Sector of each known school.
    pub sectors: &'a HashMap<Laestab, Sector>,
    /// The readings a council may change.
    pub settings: &'a Settings,
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
    /// Every piece of evidence, the deciding one first, each with its reading.
    pub evidence: Vec<(Evidence, Reading)>,
    /// Conflicting evidence, in words, if any.
    pub conflict: Option<String>,
    /// The highest social-care status current between the censuses.
    pub social_care: Option<SocialCareStatus>,
    /// A deletion notice says the child was permanently excluded.
    pub permanently_excluded: bool,
}

impl Leaver {
    /// The LA of the school the child left.
    pub fn la(&self) -> Option<LaCode> {
        self.pupil.laestab.and_then(|l| LaCode::from_number(l.la_number()).ok())
    }

    /// The piece of evidence that decided the destination.
    pub fn deciding(&self) -> Option<&Evidence> {
        self.evidence.first().filter(|(_, r)| r.destination == Some(self.destination) && !r.stale).map(|(e, _)| e)
    }

    /// The evidence in words, deciding first, separated by `; `.
    pub fn evidence_text(&self) -> String {
        let mut out = String::new();
        for (i, (e, r)) in self.evidence.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(&r.text);
            match (e.matched_by, e.probability) {
                (MatchedBy::Linkage, Some(p)) => {
                    let _ = write!(out, " [linked, p={p:.3}]");
                }
                (MatchedBy::NearUpn, _) => out.push_str(" [UPN mistyped]"),
                _ => {}
            }
        }
        out
    }
}

/// What a run found.
pub struct Tracked {
    /// Pupils on the first roll of compulsory school age on both days.
    pub cohort: Vec<CohortPupil>,
    /// The leavers among them.
    pub leavers: Vec<Leaver>,
    /// Social-care status by pupil (for the cohort comparison row).
    pub social_care: HashMap<PupilKey, SocialCareStatus>,
}

/// The widest range of birth dates that can be of compulsory school age on
/// both days; callers may pre-filter by it.
pub fn dob_window(census_a: NaiveDate, census_b: NaiveDate) -> (NaiveDate, NaiveDate) {
    let from = census_b.checked_sub_months(Months::new(17 * 12 + 1)).unwrap_or(NaiveDate::MIN);
    let to = census_a.checked_sub_months(Months::new(4 * 12)).and_then(|d| d.checked_add_days(Days::new(1)));
    (from, to.unwrap_or(NaiveDate::MAX))
}

/// Precedence: lower is more serious.
pub fn rank(d: Destination) -> u8 {
    match d {
        Destination::Died => 0,
        Destination::Cme => 1,
        Destination::Custody => 2,
        Destination::HomeEducation => 3,
        Destination::IndependentSchool => 4,
        Destination::AlternativeProvision => 5,
        Destination::Abroad => 6,
        Destination::OutsideEngland => 7,
        Destination::AnotherSchool => 8,
        Destination::Unknown => 9,
    }
}

/// What a destination code on a deletion notice says.
fn by_code(code: DestinationCode, sectors: &HashMap<Laestab, Sector>, settings: &Settings) -> Option<Destination> {
    match code {
        DestinationCode::Abroad => Some(Destination::Abroad),
        DestinationCode::School(l) if l.is_welsh() => Some(Destination::OutsideEngland),
        DestinationCode::School(l) => Some(match sectors.get(&l) {
            Some(Sector::Independent) => Destination::IndependentSchool,
            // A state school the child is not on the roll of (the caller
            // has already looked): what that means is a setting.
            _ => settings.named_school_not_on_roll,
        }),
        DestinationCode::Unknown => None,
    }
}

/// Reads one source row about a pupil who left.
pub fn read_evidence(
    r: &SourceRecord,
    pupil: &CohortPupil,
    census_a: NaiveDate,
    sectors: &HashMap<Laestab, Sector>,
    settings: &Settings,
) -> Reading {
    let date = r.date.map(|d| format!(" {d}")).unwrap_or_default();
    let (destination, text) = match r.kind {
        SourceKind::SocialCare => {
            (None, format!("social care ({})", r.social_care.map_or("status not given", SocialCareStatus::code)))
        }
        SourceKind::HomeEducation => (Some(Destination::HomeEducation), format!("home-education register{date}")),
        SourceKind::Cme => (
            Some(Destination::Cme),
            format!("CME list ({}){date}", r.cme_status.map_or("status not given", |s| s.name())),
        ),
        SourceKind::IndependentRoll => (Some(Destination::IndependentSchool), format!("independent-school roll{date}")),
        SourceKind::AlternativeProvision => {
            let until = r.end_date.map(|d| format!(" to {d}")).unwrap_or_else(|| " (ongoing)".into());
            let from = r.date.map(|d| format!(" from {d}")).unwrap_or_default();
            (Some(Destination::AlternativeProvision), format!("alternative-provision placement{from}{until}"))
        }
        SourceKind::Deletion => {
            let to = r.destination.map(|d| format!(" to {d}")).unwrap_or_default();
            let (destination, ground) = match r.deletion_ground {
                Some(g) => {
                    let d = match settings.reading(g.meaning()) {
                        GroundReading::Destination(d) => Some(d),
                        GroundReading::ByDestinationCode => r.destination.and_then(|c| by_code(c, sectors, settings)),
                        GroundReading::Nothing => None,
                    };
                    (d, format!("{g} ({})", g.meaning().describe()))
                }
                None => (r.destination.and_then(|c| by_code(c, sectors, settings)), "no ground".to_string()),
            };
            (destination, format!("deletion {ground}{to}{date}"))
        }
    };
    let stale = settings.ignore_rows_before_entry
        && match r.kind {
            // A placement that ended before the first census was over while
            // the child was still on roll.
            SourceKind::AlternativeProvision => r.end_date.is_some_and(|end| end < census_a),
            SourceKind::SocialCare => false,
            _ => matches!((r.date, pupil.entry_date), (Some(d), Some(entry)) if d < entry),
        };
    let text = if stale { format!("{text} (before the child joined the school: an earlier spell)") } else { text };
    Reading { destination, stale, text }
}

/// A social-care episode counts if it was open at some time between the censuses.
fn social_care_current(r: &SourceRecord, a: NaiveDate, b: NaiveDate) -> bool {
    r.date.is_none_or(|start| start <= b) && r.end_date.is_none_or(|end| end >= a)
}

/// Finds the leavers and their destinations.
pub fn track(input: TrackInput<'_>) -> Tracked {
    let rules = input.rules;
    let (a, b) = (input.census_a, input.census_b);
    // A few thousand distinct dates of birth among millions of pupils:
    // each is worked out once.
    let mut csa: rustc_hash::FxHashMap<NaiveDate, bool> = rustc_hash::FxHashMap::default();
    let cohort: Vec<CohortPupil> = input
        .first_roll
        .into_iter()
        .filter(|p| *csa.entry(p.dob).or_insert_with(|| rules.is_csa(p.dob, a) && rules.is_csa(p.dob, b)))
        .collect();
    let mut social_care: HashMap<PupilKey, SocialCareStatus> = HashMap::default();
    for (key, ev) in &input.evidence {
        let best = ev
            .iter()
            .filter(|e| e.record.kind == SourceKind::SocialCare && social_care_current(&e.record, a, b))
            .map(|e| e.record.social_care.unwrap_or(SocialCareStatus::ChildInNeed))
            .max();
        if let Some(s) = best {
            social_care.insert(*key, s);
        }
    }
    let mut leavers = Vec::new();
    let empty = Vec::new();
    for p in &cohort {
        if (input.on_second_roll)(&p.key) {
            continue;
        }
        let ev = input.evidence.get(&p.key).unwrap_or(&empty);
        let mut read: Vec<(Evidence, Reading)> = ev
            .iter()
            .filter(|e| e.record.kind != SourceKind::SocialCare)
            .map(|e| (e.clone(), read_evidence(&e.record, p, a, input.sectors, input.settings)))
            .collect();
        // Deciding first: current evidence with a destination, most serious
        // first; then the rest in a fixed order.
        read.sort_by_key(|(e, r)| (r.stale, r.destination.map_or(u8::MAX, rank), e.matched_by, e.key));
        let mut current: Vec<&(Evidence, Reading)> =
            read.iter().filter(|(_, r)| !r.stale && r.destination.is_some()).collect();
        let mut conflicts: Vec<String> = input.matching_conflicts.get(&p.key).cloned().unwrap_or_default();
        // Missing education is a state the child can leave: a CME entry
        // followed by a later record of where the child is (a school roll,
        // a placement, home education, custody, a move abroad) was resolved.
        if let Some((cme, r)) = current.first().copied()
            && r.destination == Some(Destination::Cme)
            && let Some(at) = later_whereabouts(&current, cme.record.date)
        {
            let later = current.remove(at);
            conflicts.push(format!("{} is older than {}, which gives the destination", r.text, later.1.text));
            current.insert(0, later);
        }
        let destination = current.first().and_then(|(_, r)| r.destination).unwrap_or(Destination::Unknown);
        if let Some((_, first)) = current.first()
            && let Some((_, other)) = current.iter().find(|(_, r)| r.destination != first.destination)
        {
            conflicts.push(format!(
                "{} says {}, but {} says {}",
                first.text,
                name_of(first.destination),
                other.text,
                name_of(other.destination)
            ));
        }
        let permanently_excluded = read.iter().any(|(e, r)| {
            !r.stale && e.record.deletion_ground.is_some_and(|g| g.meaning() == GroundMeaning::PermanentlyExcluded)
        });
        leavers.push(Leaver {
            pupil: p.clone(),
            destination,
            evidence: read,
            conflict: (!conflicts.is_empty()).then(|| conflicts.join("; ")),
            social_care: social_care.get(&p.key).copied(),
            permanently_excluded,
        });
    }
    tracing::info!(cohort = cohort.len(), leavers = leavers.len(), "tracked");
    Tracked { cohort, leavers, social_care }
}

/// The most serious current evidence dated after `cme_date` that says
/// where the child is (not another CME entry, an unnamed state school or
/// nothing), as an index into `current` (sorted most serious first).
fn later_whereabouts(current: &[&(Evidence, Reading)], cme_date: Option<NaiveDate>) -> Option<usize> {
    let cme_date = cme_date?;
    current.iter().position(|(e, r)| {
        !matches!(r.destination, None | Some(Destination::Cme | Destination::AnotherSchool | Destination::Unknown))
            && e.record.date.is_some_and(|d| d > cme_date)
    })
}

fn name_of(d: Option<Destination>) -> &'static str {
    d.map_or("nothing", |d| d.label())
}
