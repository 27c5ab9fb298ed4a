//! Matching, for tracking: which first-census pupils are on the second
//! census, and which source rows are whose.
//!
//! In order, each step seeing only what the steps before left unmatched:
//!
//! 1. **UPN.** A pupil whose UPN is on the second census is still on roll.
//!    A dual registration (a main and a subsidiary row) is one child, at
//!    the school of the main registration.
//! 2. **Former UPN.** A second-census pupil whose former UPN is a first-
//!    census pupil's UPN is that child only if their date of birth is the
//!    same and a name agrees; otherwise the two are listed as a conflict
//!    and not joined (an unrelated child carrying a leaver's UPN must not
//!    hide the leaver).
//! 3. **Mistyped UPN.** A UPN that fails its check is one character (or
//!    one swap) from the right one more often than not; with the same date
//!    of birth and a name in common, it is the same child.
//! 4. **Linkage** (when asked): names, date of birth, sex, postcode and the
//!    rest, Fellegi-Sunter, on the pupils and rows still unmatched.
//!    Pairs between the review and link thresholds go to a review list.
//! 5. **The school a deletion names.** A leaver whose deletion notice names
//!    a state school, on that school's next roll with the same date of birth
//!    and a name in common, moved school under a new UPN.
//!
//! Source rows are matched by UPN (or the child's former UPN), then by a
//! mistyped UPN, then by linkage. What the matches mean is decided by
//! `cnis-track`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use chrono::NaiveDate;
use cnis_core::Upn;
use cnis_core::records::{
    CohortPupil, DestinationCode, EnrolStatus, Laestab, LinkRecord, PupilKey, RecordKey, Sector, Sex, SourceKey,
    SourceKind, SourceRecord,
};
use cnis_core::school_age::SchoolAgeRules;
use cnis_link::prepare::normalise_name;
use cnis_link::{Model, Prepared, TrainConfig};
use cnis_store::{CensusInfo, PupilDetails, Store};
use cnis_track::{Evidence, MatchedBy, dob_window};

use crate::{Progress, Result};

/// How a first-census pupil was found on the second census.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FoundBy {
    /// Same UPN.
    Upn,
    /// A former UPN, with date of birth and a name agreeing.
    FormerUpn,
    /// A mistyped UPN, with date of birth and a name agreeing.
    NearUpn,
    /// Linkage.
    Linkage,
    /// On the roll of the school their deletion notice names.
    NamedSchool,
}

impl FoundBy {
    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FoundBy::Upn => "upn",
            FoundBy::FormerUpn => "former_upn",
            FoundBy::NearUpn => "near_upn",
            FoundBy::Linkage => "linkage",
            FoundBy::NamedSchool => "named_school",
        }
    }
}

/// A pair linkage scored between the review and link thresholds, or a
/// join clustering refused: for a caseworker to look at.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewPair {
    /// The first-census pupil.
    pub pupil: PupilKey,
    /// The other record.
    pub other: RecordKey,
    /// Match probability.
    pub probability: f64,
    /// Why it is here.
    pub why: &'static str,
    /// The two records as `cnis link explain` names them (source:record id).
    pub explain: (String, String),
}

/// What linkage used, kept so its pairs can be explained afterwards.
pub struct LinkageUsed {
    /// Every record linked, in the linkage layout.
    pub records: Vec<LinkRecord>,
    /// The model.
    pub model: Model,
}

/// The outcome of matching.
pub struct Reconciled {
    /// First-census pupils in the date-of-birth window, one per child.
    pub first_roll: Vec<CohortPupil>,
    /// Those found on the second census, and how.
    pub on_second: HashMap<PupilKey, FoundBy>,
    /// Source rows tied to each pupil.
    pub evidence: HashMap<PupilKey, Vec<Evidence>>,
    /// Matching conflicts by pupil.
    pub conflicts: HashMap<PupilKey, Vec<String>>,
    /// Pairs for clerical review.
    pub review: Vec<ReviewPair>,
    /// Schools' sectors.
    pub sectors: HashMap<Laestab, Sector>,
    /// What linkage used, if it ran.
    pub linkage: Option<LinkageUsed>,
}

/// Linkage settings for tracking.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Training settings.
    pub train: TrainConfig,
    /// First-census pupils sampled (whole children) to train on.
    pub training_pupils: usize,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions { train: TrainConfig::default(), training_pupils: 100_000 }
    }
}

/// One row a child: a dual registration's rows become the main one (with
/// its school and attendance); rows without a valid UPN stand alone.
pub fn collapse_dual_registration(rows: Vec<CohortPupil>) -> Vec<CohortPupil> {
    collapse_with_index(rows).0
}

/// [`collapse_dual_registration`], with each UPN's place in the result.
fn collapse_with_index(rows: Vec<CohortPupil>) -> (Vec<CohortPupil>, HashMap<Upn, usize>) {
    let (out, at, _) = collapse_noting_schools(rows);
    (out, at)
}

/// The other schools of each collapsed child, by place in the collapsed rows.
type OtherSchools = HashMap<usize, Vec<Laestab>>;

/// [`collapse_with_index`], also giving the other schools of each child
/// whose rows were collapsed (by place in the result).
fn collapse_noting_schools(rows: Vec<CohortPupil>) -> (Vec<CohortPupil>, HashMap<Upn, usize>, OtherSchools) {
    let mut at: HashMap<Upn, usize> = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
    let mut out: Vec<CohortPupil> = Vec::with_capacity(rows.len());
    let mut also_at: HashMap<usize, Vec<Laestab>> = HashMap::default();
    for p in rows {
        let Some(u) = p.upn else {
            out.push(p);
            continue;
        };
        match at.entry(u) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(p);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                let i = *e.get();
                let other = if !EnrolStatus::is_main(out[i].enrol_status) && EnrolStatus::is_main(p.enrol_status) {
                    std::mem::replace(&mut out[i], p).laestab
                } else {
                    p.laestab
                };
                also_at.entry(i).or_default().extend(other);
            }
        }
    }
    (out, at, also_at)
}

/// Letters only, upper case.
fn norm(s: &Option<String>) -> String {
    s.as_deref().map(normalise_name).unwrap_or_default()
}

/// Whether two normalised names could be one name: the same, a name and
/// its short form (Charlotte, Charlie), or a typing slip apart (Jaro-Winkler
/// at least 0.92).
fn variant_or_slip(x: &str, y: &str) -> bool {
    x == y || cnis_core::names::variants_agree(x, y) || cnis_link::strings::jaro_winkler(x, y) >= 0.92
}

/// [`variant_or_slip`], or one the start of the other (Sam, Samuel); never
/// for a missing name.
fn close(x: &str, y: &str) -> bool {
    !x.is_empty()
        && !y.is_empty()
        && (variant_or_slip(x, y) || (x.len().min(y.len()) >= 3 && (x.starts_with(y) || y.starts_with(x))))
}

/// Whether two records name the same child: forenames that are the same,
/// a name and its short form (Charlotte, Charlie), a typing slip apart (Jaro-Winkler at least 0.92), or one the start of the
/// other (Sam, Samuel); or one's forename is the other's middle name, or
/// forename and surname are swapped. The surname alone is not enough: twins
/// share it, and with it their date of birth and school; and a surname
/// changes on adoption.
pub fn a_name_agrees(a: &PupilDetails, b: &PupilDetails) -> bool {
    let (af, as_, bf, bs) = (norm(&a.forename), norm(&a.surname), norm(&b.forename), norm(&b.surname));
    let some = |x: &str, y: &str| !x.is_empty() && x == y;
    let middle = |m: &Option<String>, f: &str| {
        !f.is_empty() && m.as_deref().is_some_and(|m| normalise_name(m).split(' ').any(|w| w == f))
    };
    close(&af, &bf)
        // Forename and surname swapped, one of them perhaps mistyped.
        || (some(&af, &bs) && close(&as_, &bf))
        || (close(&af, &bs) && some(&as_, &bf))
        || middle(&a.middle_names, &bf)
        || middle(&b.middle_names, &af)
}

/// Whether two dates of birth agree, allowing day and month swapped (a
/// slip as common as any in a child's record).
fn dob_agrees(a: Option<NaiveDate>, b: Option<NaiveDate>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b || swapped(a) == Some(b),
        _ => false,
    }
}

/// For two records already tied by an identifier (a recorded former UPN, a
/// UPN one slip from the other): whether the child is the same, allowing
/// the slips records carry. The date of birth agrees (or has day and month
/// swapped), and a name does: the forename as [`a_name_agrees`] reads it,
/// or a forename at most two edits apart with the same surname (or one's
/// surname the other's former surname) or the same home, or the same middle
/// names, or a forename that is the other's surname.
pub fn identified_child_agrees(a: &PupilDetails, b: &PupilDetails) -> bool {
    if !dob_agrees(a.dob, b.dob) {
        return false;
    }
    let (af, as_, bf, bs) = (norm(&a.forename), norm(&a.surname), norm(&b.forename), norm(&b.surname));
    let (am, bm) = (norm(&a.middle_names), norm(&b.middle_names));
    let (aformer, bformer) = (norm(&a.former_surname), norm(&b.former_surname));
    let some = |x: &str, y: &str| !x.is_empty() && x == y;
    // The same surname, or one's surname is the other's former surname (an adoption).
    let surname = some(&as_, &bs) || some(&as_, &bformer) || some(&bs, &aformer);
    // The same home: postcode, or first address line.
    let home = a.postcode.as_deref().zip(b.postcode.as_deref()).is_some_and(|(x, y)| {
        let c = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        !x.trim().is_empty() && c(x) == c(y)
    }) || some(&norm(&a.address), &norm(&b.address));
    let forename_slip = !af.is_empty() && !bf.is_empty() && cnis_link::strings::within_two_edits(&af, &bf);
    a_name_agrees(a, b) || ((surname || home) && forename_slip) || some(&am, &bm) || some(&af, &bs) || some(&as_, &bf)
}

/// Every string one substitution or one swap of neighbours away from a
/// UPN as written, that is a valid UPN.
fn near_upns(text: &str) -> Vec<Upn> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUVWXYZ";
    let b: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    let mut out = Vec::new();
    let mut try_one = |v: &[u8]| {
        if let Ok(s) = std::str::from_utf8(v)
            && let Ok(u) = Upn::parse(s)
        {
            out.push(u);
        }
    };
    if b.len() == 13 {
        let mut v = b.clone();
        for i in 0..13 {
            let orig = v[i];
            for &c in ALPHABET {
                if c != orig {
                    v[i] = c;
                    try_one(&v);
                }
            }
            v[i] = orig;
        }
        for i in 0..12 {
            v.swap(i, i + 1);
            try_one(&v);
            v.swap(i, i + 1);
        }
    } else if b.len() == 12 {
        // A character dropped: put each one back.
        for i in 0..=12 {
            for &c in ALPHABET {
                let mut v = b.clone();
                v.insert(i, c);
                try_one(&v);
            }
        }
    } else if b.len() == 14 {
        // A character doubled or added: take each one out.
        for i in 0..14 {
            let mut v = b.clone();
            v.remove(i);
            try_one(&v);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Matches a census with the next and with the sources; see the module
/// documentation for the steps.
pub fn reconcile(
    store: &Store,
    a: &CensusInfo,
    b: &CensusInfo,
    link: Option<&LinkOptions>,
    progress: &dyn Progress,
) -> Result<Reconciled> {
    progress.step("reading the censuses", None);
    let (dob_from, dob_to) = dob_window(a.date, b.date);
    let t = std::time::Instant::now();
    let (raw, roll) = at_once(store, |s| s.cohort(a.id, dob_from, dob_to), |s| s.roll(b.id))?;
    let (raw, roll) = (raw?, roll?);
    tracing::debug!(rows = raw.len(), upns = roll.upns.len(), secs = t.elapsed().as_secs_f64(), "censuses read");
    // The UPN map is built while dual registrations are collapsed, sized
    // once: growing a map of millions rehashes it again and again.
    let (first_roll, by_upn, also_at) = collapse_noting_schools(raw);
    let by_former: HashMap<Upn, usize> =
        first_roll.iter().enumerate().filter_map(|(i, p)| p.former_upn.map(|u| (u, i))).collect();
    let mut on_second: HashMap<PupilKey, FoundBy> =
        HashMap::with_capacity_and_hasher(first_roll.len(), Default::default());
    for p in &first_roll {
        if p.upn.is_some_and(|u| roll.upns.contains_key(&u)) {
            on_second.insert(p.key, FoundBy::Upn);
        }
    }
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "matched by UPN");
    let mut conflicts: HashMap<PupilKey, Vec<String>> = HashMap::default();
    // Second-census rows accounted for other than by their own UPN.
    let mut matched_b: HashSet<PupilKey> = HashSet::default();
    // Step 2: former UPNs.
    let claims: Vec<(PupilKey, usize)> = roll
        .with_former_upn
        .iter()
        .filter_map(|&(kb, former, _)| by_upn.get(&former).map(|&i| (kb, i)))
        .filter(|&(_, i)| !on_second.contains_key(&first_roll[i].key))
        .collect();
    tracing::debug!(secs = t.elapsed().as_secs_f64(), claims = claims.len(), "former UPN claims found");
    if !claims.is_empty() {
        let keys: Vec<PupilKey> = claims.iter().flat_map(|&(kb, i)| [kb, first_roll[i].key]).collect();
        let details = store.pupil_details(&keys)?;
        tracing::debug!(secs = t.elapsed().as_secs_f64(), "former UPN details read");
        for (kb, i) in claims {
            let ka = first_roll[i].key;
            let (Some(da), Some(db)) = (details.get(&ka), details.get(&kb)) else { continue };
            if identified_child_agrees(da, db) {
                on_second.insert(ka, FoundBy::FormerUpn);
                matched_b.insert(kb);
            } else {
                conflicts.entry(ka).or_default().push(
                    "a pupil on the next census gives this child's UPN as their former UPN, but their date of birth \
                     or names differ; not joined"
                        .to_string(),
                );
            }
        }
    }
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "former UPNs");
    // Step 3: mistyped UPNs on the second census, against pupils still unmatched.
    if !roll.faulty_upn.is_empty() {
        let details_b = store.pupil_details(&roll.faulty_upn)?;
        let mut wanted: Vec<(PupilKey, usize)> = Vec::new();
        for (kb, db) in &details_b {
            let Some(text) = &db.upn_text else { continue };
            for u in near_upns(text) {
                if let Some(&i) = by_upn.get(&u)
                    && !on_second.contains_key(&first_roll[i].key)
                    && dob_agrees(Some(first_roll[i].dob), db.dob)
                {
                    wanted.push((*kb, i));
                }
            }
        }
        let details_a = store.pupil_details(&wanted.iter().map(|&(_, i)| first_roll[i].key).collect::<Vec<_>>())?;
        for (kb, i) in wanted {
            if let (Some(da), Some(db)) = (details_a.get(&first_roll[i].key), details_b.get(&kb))
                && identified_child_agrees(da, db)
            {
                on_second.insert(first_roll[i].key, FoundBy::NearUpn);
                matched_b.insert(kb);
            }
        }
    }
    tracing::debug!(
        secs = t.elapsed().as_secs_f64(),
        faulty = roll.faulty_upn.len(),
        "mistyped UPNs on the second census"
    );
    // ...and mistyped UPNs on the first census, against the second's UPNs.
    let faulty_a: Vec<usize> = (0..first_roll.len()).filter(|&i| first_roll[i].upn.is_none()).collect();
    if !faulty_a.is_empty() {
        let mut candidates: HashMap<Upn, Vec<usize>> = HashMap::default();
        for &i in &faulty_a {
            for u in first_roll[i].upn_text.as_deref().map(near_upns).unwrap_or_default() {
                if roll.upns.contains_key(&u) {
                    candidates.entry(u).or_default().push(i);
                }
            }
        }
        let keys_b: Vec<PupilKey> =
            candidates.keys().filter_map(|u| roll.upns.get(u)).map(|&row| PupilKey { census: b.id, row }).collect();
        let on_b = store.pupil_details(&keys_b)?;
        let details_a = store.pupil_details(&faulty_a.iter().map(|&i| first_roll[i].key).collect::<Vec<_>>())?;
        for (kb, db) in on_b {
            let Some(u) = db.upn else { continue };
            for &i in candidates.get(&u).map(Vec::as_slice).unwrap_or_default() {
                if let Some(da) = details_a.get(&first_roll[i].key)
                    && identified_child_agrees(da, &db)
                {
                    on_second.insert(first_roll[i].key, FoundBy::NearUpn);
                    matched_b.insert(kb);
                }
            }
        }
    }
    tracing::info!(on_second = on_second.len(), "matched to the second census by UPN");

    // Source rows by UPN, by the child's former UPN, or by a mistyped UPN.
    progress.step("matching source rows", None);
    let by_urn = store.schools_by_urn()?;
    let sectors: HashMap<Laestab, Sector> = store.school_sectors()?.into_iter().collect();
    let mut sources = store.source_records()?;
    for (_, r) in sources.iter_mut() {
        if r.laestab.is_none()
            && let Some(l) = r.urn.and_then(|u| by_urn.get(&u))
        {
            r.laestab = Some(*l);
        }
    }
    let mut evidence: HashMap<PupilKey, Vec<Evidence>> = HashMap::default();
    let mut unmatched: Vec<usize> = Vec::new();
    let mut near: Vec<(usize, usize)> = Vec::new();
    for (s, (key, r)) in sources.iter().enumerate() {
        let hit = r.upn.and_then(|u| by_upn.get(&u).or_else(|| by_former.get(&u)).copied());
        if let Some(i) = hit {
            evidence.entry(first_roll[i].key).or_default().push(Evidence {
                key: *key,
                record: r.clone(),
                matched_by: MatchedBy::Upn,
                probability: None,
            });
            continue;
        }
        let found: Vec<usize> = r
            .upn_text
            .as_deref()
            .map(near_upns)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| by_upn.get(&u).copied())
            .filter(|&i| dob_agrees(r.dob, Some(first_roll[i].dob)))
            .collect();
        if found.is_empty() {
            unmatched.push(s);
        } else {
            near.extend(found.into_iter().map(|i| (s, i)));
        }
    }
    if !near.is_empty() {
        let details = store.pupil_details(&near.iter().map(|&(_, i)| first_roll[i].key).collect::<Vec<_>>())?;
        let mut matched = HashSet::default();
        for &(s, i) in &near {
            let r = &sources[s].1;
            let as_details = PupilDetails {
                forename: r.forename.clone(),
                surname: r.surname.clone(),
                middle_names: r.middle_names.clone(),
                dob: r.dob,
                ..PupilDetails::default()
            };
            if details.get(&first_roll[i].key).is_some_and(|d| identified_child_agrees(d, &as_details))
                && matched.insert(s)
            {
                evidence.entry(first_roll[i].key).or_default().push(Evidence {
                    key: sources[s].0,
                    record: r.clone(),
                    matched_by: MatchedBy::NearUpn,
                    probability: None,
                });
            }
        }
        // A near UPN that no name confirms is left for linkage.
        unmatched.extend(near.iter().map(|&(s, _)| s).filter(|s| !matched.contains(s)));
        unmatched.sort_unstable();
        unmatched.dedup();
    }

    let mut review = Vec::new();
    let mut linkage = None;
    if let Some(options) = link {
        progress.step("linking what UPNs left unmatched", None);
        let rules = SchoolAgeRules::default();
        // Each leftover pupil with every school they were on the roll of.
        let leftover_a: HashMap<PupilKey, Vec<Laestab>> = first_roll
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                !on_second.contains_key(&p.key) && rules.is_csa(p.dob, a.date) && rules.is_csa(p.dob, b.date)
            })
            .map(|(i, p)| {
                let schools = p.laestab.into_iter().chain(also_at.get(&i).into_iter().flatten().copied()).collect();
                (p.key, schools)
            })
            .collect();
        let linked = link_leftovers(
            store,
            a,
            b,
            (dob_from, dob_to),
            &leftover_a,
            &by_upn,
            &matched_b,
            &sources,
            &unmatched,
            options,
        )?;
        for (ka, _) in linked.on_second {
            on_second.entry(ka).or_insert(FoundBy::Linkage);
        }
        for (ka, s, p) in linked.sources {
            evidence.entry(ka).or_default().push(Evidence {
                key: sources[s].0,
                record: sources[s].1.clone(),
                matched_by: MatchedBy::Linkage,
                probability: Some(p),
            });
        }
        review = linked.review;
        linkage = Some(linked.used);
    }

    // Step 5: the school a deletion notice names.
    progress.step("looking at the schools deletion notices name", None);
    let taken =
        |k: &PupilKey, d: &PupilDetails| matched_b.contains(k) || d.upn.is_some_and(|u| by_upn.contains_key(&u));
    let named = named_school_moves(store, b, &roll, &first_roll, &on_second, &evidence, &sectors, &taken)?;
    for k in named {
        on_second.entry(k).or_insert(FoundBy::NamedSchool);
    }
    Ok(Reconciled { first_roll, on_second, evidence, conflicts, review, sectors, linkage })
}

/// Leavers (so far) whose current deletion notice names a state school they
/// are on the next roll of, with the same date of birth and a name in common
/// or the same sex and home postcode. Rows `taken` by another child of the
/// first census (by UPN) are not candidates: a twin at the named school is
/// not the leaver.
#[allow(clippy::too_many_arguments)]
fn named_school_moves(
    store: &Store,
    b: &CensusInfo,
    roll: &cnis_store::Roll,
    first_roll: &[CohortPupil],
    on_second: &HashMap<PupilKey, FoundBy>,
    evidence: &HashMap<PupilKey, Vec<Evidence>>,
    sectors: &HashMap<Laestab, Sector>,
    taken: &dyn Fn(&PupilKey, &PupilDetails) -> bool,
) -> Result<Vec<PupilKey>> {
    let mut named: HashMap<PupilKey, Vec<Laestab>> = HashMap::default();
    let entry: HashMap<PupilKey, Option<NaiveDate>> = first_roll.iter().map(|p| (p.key, p.entry_date)).collect();
    for (k, ev) in evidence {
        if on_second.contains_key(k) {
            continue;
        }
        for e in ev {
            let r = &e.record;
            let current = match (r.date, entry.get(k).copied().flatten()) {
                (Some(d), Some(joined)) => d >= joined,
                _ => true,
            };
            if let (SourceKind::Deletion, Some(DestinationCode::School(l)), true) = (r.kind, r.destination, current)
                && sectors.get(&l) != Some(&Sector::Independent)
                && !l.is_welsh()
            {
                named.entry(*k).or_default().push(l);
            }
        }
    }
    if named.is_empty() {
        return Ok(vec![]);
    }
    let keys: Vec<PupilKey> = named.keys().copied().collect();
    let details = store.pupil_details(&keys)?;
    // Only the rows at a named school with a leaver's date of birth (or
    // its day and month swapped) are read.
    let wanted: HashSet<(Laestab, NaiveDate)> = named
        .iter()
        .filter_map(|(k, ls)| details.get(k).and_then(|d| d.dob).map(|dob| (ls, dob)))
        .flat_map(|(ls, dob)| ls.iter().flat_map(move |&l| [(l, dob)].into_iter().chain(swapped(dob).map(|s| (l, s)))))
        .collect();
    let rows: Vec<PupilKey> = wanted
        .iter()
        .filter_map(|(l, dob)| roll.by_school.get(l).map(|v| (v, *dob)))
        .flat_map(|(v, dob)| v.iter().filter(move |(_, d)| *d == Some(dob)).map(|&(row, _)| row))
        .map(|row| PupilKey { census: b.id, row })
        .collect();
    let mut at_school: HashMap<Laestab, Vec<(PupilKey, PupilDetails)>> = HashMap::default();
    for (k, d) in store.pupil_details(&rows)? {
        if let (Some(school), false) = (d.laestab, taken(&k, &d)) {
            at_school.entry(school).or_default().push((k, d));
        }
    }
    // A name in common, or the same sex and home postcode, is strong: the
    // school the notice names has a new pupil born the same day, and no
    // other child of the first census is that pupil. Any other name in
    // common (a surname kept while a middle name becomes the forename) is
    // weak: it counts only where it is the leaver's one candidate, no other
    // leaver's, and no leaver's strong one.
    let mut found = Vec::new();
    let mut claimed: HashSet<PupilKey> = HashSet::default();
    let mut weak: Vec<(PupilKey, Vec<PupilKey>)> = Vec::new();
    let mut named: Vec<(PupilKey, Vec<Laestab>)> = named.into_iter().collect();
    named.sort_unstable_by_key(|(k, _)| *k);
    for (k, ls) in named {
        let Some(d) = details.get(&k) else { continue };
        let sex_agrees = |x: &PupilDetails| d.sex == Sex::Unknown || x.sex == Sex::Unknown || x.sex == d.sex;
        let same_home = |x: &PupilDetails| {
            d.sex != Sex::Unknown
                && x.sex == d.sex
                && d.postcode.as_deref().is_some_and(|p| !p.is_empty() && x.postcode.as_deref() == Some(p))
        };
        let candidates: Vec<&(PupilKey, PupilDetails)> =
            ls.iter().filter_map(|l| at_school.get(l)).flatten().filter(|(_, x)| dob_agrees(d.dob, x.dob)).collect();
        let strong: Vec<PupilKey> =
            candidates.iter().filter(|(_, x)| a_name_agrees(d, x) || same_home(x)).map(|(kb, _)| *kb).collect();
        if strong.is_empty() {
            let w = candidates.iter().filter(|(_, x)| shares_a_name(d, x) && sex_agrees(x)).map(|(kb, _)| *kb);
            weak.push((k, w.collect()));
        } else {
            claimed.extend(strong);
            found.push(k);
        }
    }
    let mut wanted_by: HashMap<PupilKey, usize> = HashMap::default();
    for (_, w) in &weak {
        for kb in w {
            *wanted_by.entry(*kb).or_default() += 1;
        }
    }
    for (k, w) in weak {
        if let [kb] = w.as_slice()
            && !claimed.contains(kb)
            && wanted_by.get(kb) == Some(&1)
        {
            found.push(k);
        }
    }
    Ok(found)
}

/// A date with its day and month swapped, where that is another date.
fn swapped(d: NaiveDate) -> Option<NaiveDate> {
    use chrono::Datelike;
    (d.day() != d.month()).then(|| NaiveDate::from_ymd_opt(d.year(), d.day(), d.month())).flatten()
}

/// Whether any name of one record (forename, middle names, surname,
/// former surname) is close to any name of the other: a surname kept while
/// a middle name becomes the forename, names swapped, a nickname.
fn shares_a_name(a: &PupilDetails, b: &PupilDetails) -> bool {
    let words = |d: &PupilDetails| -> Vec<String> {
        [&d.forename, &d.middle_names, &d.surname, &d.former_surname]
            .into_iter()
            .flatten()
            .flat_map(|n| normalise_name(n).split(' ').map(str::to_string).collect::<Vec<_>>())
            .filter(|w| w.len() >= 2)
            .collect()
    };
    let (wa, wb) = (words(a), words(b));
    wa.iter().any(|x| wb.iter().any(|y| variant_or_slip(x, y)))
}

/// Why a linked deletion notice is in the review list instead of the evidence.
pub const NOTICE_FROM_ANOTHER_SCHOOL: &str =
    "linked deletion notice from a school the child was not on the roll of at the first census";

/// What linkage found among the leftovers.
struct Linked {
    /// First-census pupils linked to a second-census record, with the probability.
    on_second: Vec<(PupilKey, f64)>,
    /// Source rows (index into the sources) linked to a pupil, with the probability.
    sources: Vec<(PupilKey, usize, f64)>,
    review: Vec<ReviewPair>,
    used: LinkageUsed,
}

/// Links the first-census pupils still unmatched with the second-census
/// rows no first-census UPN accounts for and the unmatched source rows.
#[allow(clippy::too_many_arguments)]
fn link_leftovers(
    store: &Store,
    a: &CensusInfo,
    b: &CensusInfo,
    (dob_from, dob_to): (NaiveDate, NaiveDate),
    leftover_a: &HashMap<PupilKey, Vec<Laestab>>,
    cohort_upns: &HashMap<Upn, usize>,
    matched_b: &HashSet<PupilKey>,
    sources: &[(SourceKey, SourceRecord)],
    unmatched_sources: &[usize],
    options: &LinkOptions,
) -> Result<Linked> {
    let label_a = format!("census-{}", a.date);
    let label_b = format!("census-{}", b.date);
    let mut keys: HashMap<(String, String), RecordKey> = HashMap::default();
    let mut records: Vec<LinkRecord> = Vec::new();
    let in_sample = sampler(a, options);
    let in_window = |d: Option<NaiveDate>| d.is_none_or(|d| d >= dob_from && d <= dob_to);
    // Each census is read once, for its leftovers and its share of the
    // training sample together, the two censuses at once.
    let leftover_b = |k: PupilKey, u: Option<&Upn>, f: Option<&Upn>| {
        !matched_b.contains(&k)
            && !u.is_some_and(|u| cohort_upns.contains_key(u))
            && !f.is_some_and(|f| cohort_upns.contains_key(f))
    };
    let t = std::time::Instant::now();
    let read_a = |store: &Store| {
        store.census_link_records(a.id, &label_a, &|k, u, _| leftover_a.contains_key(&k) || u.is_some_and(&in_sample))
    };
    let read_b = |store: &Store| {
        store.census_link_records(b.id, &label_b, &|k, u, f| {
            leftover_b(k, u, f) || u.is_some_and(&in_sample) || f.is_some_and(&in_sample)
        })
    };
    let (rows_a, rows_b) = at_once(store, read_a, read_b)?;
    let (rows_a, rows_b) = (rows_a?, rows_b?);
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "censuses read for linkage");
    let t = std::time::Instant::now();
    let mut training: Vec<LinkRecord> = Vec::new();
    for (k, r) in rows_a {
        if r.upn.as_ref().is_some_and(&in_sample) {
            training.push(r.clone());
        }
        if leftover_a.contains_key(&k) {
            keys.insert((label_a.clone(), r.record_id.clone()), RecordKey::Pupil(k));
            records.push(LinkRecord { upn_text: None, ..r });
        }
    }
    // Every second-census row and source row here has a UPN that is no
    // first-census pupil's (or none): that is why it is here. So a
    // "different UPN" says nothing about the pair, and would outweigh every
    // name a child moving school under a new UPN keeps; the UPN is left out
    // of the comparison, and so is a mistyped one (one slip from a
    // first-census UPN has been tried already; two mistyped UPNs differing
    // says only that both are wrong).
    for (k, r) in rows_b {
        if r.upn.as_ref().is_some_and(&in_sample) || r.former_upn.as_ref().is_some_and(&in_sample) {
            training.push(r.clone());
        }
        if leftover_b(k, r.upn.as_ref(), r.former_upn.as_ref()) && in_window(r.dob) {
            keys.insert((label_b.clone(), r.record_id.clone()), RecordKey::Pupil(k));
            records.push(LinkRecord { upn: None, upn_text: None, ..r });
        }
    }
    // A source row for a child born well outside the cohort's years (a
    // toddler known to social care, a young adult) cannot be a leaver's:
    // a year's margin either side keeps a date of birth with its year
    // mistyped.
    let (near_from, near_to) = (
        dob_from.checked_sub_months(chrono::Months::new(12)).unwrap_or(dob_from),
        dob_to.checked_add_months(chrono::Months::new(12)).unwrap_or(dob_to),
    );
    let mut skipped = 0usize;
    for &s in unmatched_sources {
        let (key, r) = &sources[s];
        if r.dob.is_some_and(|d| d < near_from || d > near_to) {
            skipped += 1;
            continue;
        }
        let mut rec = source_link_record(*key, r);
        rec.upn = None;
        rec.upn_text = None;
        keys.insert((rec.source.clone(), rec.record_id.clone()), RecordKey::Source(*key));
        records.push(rec);
    }
    tracing::debug!(records = records.len(), sources_outside_the_years = skipped, "records to link");
    let source_index: HashMap<SourceKey, usize> = unmatched_sources.iter().map(|&s| (sources[s].0, s)).collect();
    let training = training_sample(training, a, b, sources, options);
    tracing::debug!(secs = t.elapsed().as_secs_f64(), records = training.n, "training sample prepared");
    let model = cnis_link::train(&training, &options.train)?;
    drop(training);
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "model trained");
    let mut p = Prepared::from_records(records.clone());
    // A census lists each child once: two of its rows are two children.
    p.mark_unique(&label_a);
    p.mark_unique(&label_b);
    // Only a pair with a first-census pupil in it can tell where a leaver
    // went: pairs of second-census rows with source rows are not scored.
    let is_a: Vec<bool> = (0..p.n).map(|i| p.sources[p.source[i] as usize] == label_a).collect();
    let (pairs, _) = cnis_link::predict_new(&p, &model, &cnis_link::model::Scoring::at(model.review_threshold), &is_a)?;
    let clusters = cnis_link::cluster(&p, &pairs, model.link_threshold);
    tracing::debug!(secs = t.elapsed().as_secs_f64(), pairs = pairs.len(), "scored and clustered");
    let key_of = |i: usize| keys.get(&(p.sources[p.source[i] as usize].clone(), p.record_id[i].clone())).copied();
    let name = |i: usize| format!("{}:{}", p.sources[p.source[i] as usize], p.record_id[i]);
    let is_a = |i: usize| p.sources[p.source[i] as usize] == label_a;
    // The best pair probability of each record with a member of its cluster.
    let mut best: HashMap<u32, f64> = HashMap::default();
    for x in &pairs {
        if x.probability() >= model.link_threshold && clusters.cluster[x.a as usize] == clusters.cluster[x.b as usize] {
            for r in [x.a, x.b] {
                let e = best.entry(r).or_insert(0.0);
                *e = e.max(x.probability());
            }
        }
    }
    let mut a_of_cluster: HashMap<u32, usize> = HashMap::default();
    for i in 0..p.n {
        if is_a(i) {
            a_of_cluster.insert(clusters.cluster[i], i);
        }
    }
    let mut out = Linked {
        on_second: vec![],
        sources: vec![],
        review: vec![],
        used: LinkageUsed { records, model: model.clone() },
    };
    for i in 0..p.n {
        let Some(&ai) = a_of_cluster.get(&clusters.cluster[i]) else { continue };
        if i == ai {
            continue;
        }
        let (Some(RecordKey::Pupil(ka)), Some(other)) = (key_of(ai), key_of(i)) else { continue };
        let prob = best.get(&(i as u32)).copied().unwrap_or(model.link_threshold);
        match other {
            RecordKey::Pupil(_) => out.on_second.push((ka, prob)),
            RecordKey::Source(sk) => {
                let Some(&s) = source_index.get(&sk) else { continue };
                // A school deletes its own pupils: a notice from a school the
                // child was not on the roll of, tied by names and a date of
                // birth alone, is most likely another child's (a twin's, or
                // a namesake's elsewhere); a person decides.
                let r = &sources[s].1;
                let from_another_school = r.kind == SourceKind::Deletion
                    && r.laestab
                        .is_some_and(|l| leftover_a.get(&ka).is_some_and(|at| !at.is_empty() && !at.contains(&l)));
                if from_another_school {
                    out.review.push(ReviewPair {
                        pupil: ka,
                        other,
                        probability: prob,
                        why: NOTICE_FROM_ANOTHER_SCHOOL,
                        explain: (name(ai), name(i)),
                    });
                } else {
                    out.sources.push((ka, s, prob));
                }
            }
        }
    }
    // Review: pairs of a leftover pupil with another record, scored between
    // the thresholds, or refused by clustering, and not in one cluster.
    let refused = clusters
        .refused
        .iter()
        .map(|x| (x, "clustering refused: the join would put two records of one census in one child"));
    let between = pairs
        .iter()
        .filter(|x| x.probability() < model.link_threshold)
        .map(|x| (x, "scored between the review and link thresholds"));
    for (x, why) in between.chain(refused) {
        let (i, j) = (x.a as usize, x.b as usize);
        let (ai, oi) = if is_a(i) && !is_a(j) {
            (i, j)
        } else if is_a(j) && !is_a(i) {
            (j, i)
        } else {
            continue;
        };
        if clusters.cluster[ai] == clusters.cluster[oi] {
            continue;
        }
        let (Some(RecordKey::Pupil(ka)), Some(other)) = (key_of(ai), key_of(oi)) else { continue };
        out.review.push(ReviewPair {
            pupil: ka,
            other,
            probability: x.probability(),
            why,
            explain: (name(ai), name(oi)),
        });
    }
    tracing::info!(
        records = p.n,
        on_second = out.on_second.len(),
        source_links = out.sources.len(),
        review = out.review.len(),
        "linkage added matches UPNs could not make"
    );
    Ok(out)
}

/// A source row in the linkage layout: source = the kind, record id = the row.
fn source_link_record(key: SourceKey, r: &SourceRecord) -> LinkRecord {
    LinkRecord {
        source: r.kind.name().to_string(),
        record_id: key.0.to_string(),
        upn: r.upn,
        upn_text: r.upn_text.clone(),
        forename: r.forename.clone(),
        middle_names: r.middle_names.clone(),
        surname: r.surname.clone(),
        dob: r.dob,
        sex: r.sex,
        postcode: r.postcode.as_ref().map(|p| p.as_str().replace(' ', "")).or_else(|| r.postcode_text.clone()),
        ..LinkRecord::default()
    }
}

/// Runs `first` on `store` and `second` on a second connection to the same
/// database, at once (one after the other for an in-memory database, which
/// has no second connection): tracking reads two censuses of millions.
fn at_once<A: Send, B: Send>(
    store: &Store,
    first: impl FnOnce(&Store) -> A,
    second: impl FnOnce(&Store) -> B + Send,
) -> Result<(A, B)> {
    Ok(match store.reader()? {
        Some(other) => std::thread::scope(|s| {
            let b = s.spawn(move || second(&other));
            let a = first(store);
            (a, b.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        }),
        None => (first(store), second(store)),
    })
}

/// Whether a child's UPN puts them in the training sample: about
/// `options.training_pupils` whole children, chosen by a hash of the UPN so
/// that every record of a child is in or out together.
fn sampler(a: &CensusInfo, options: &LinkOptions) -> impl Fn(&Upn) -> bool + Sync + use<> {
    use std::hash::{Hash, Hasher};
    let every = (a.pupils as usize / options.training_pupils.max(1)).max(1) as u64;
    move |u: &Upn| {
        let mut h = rustc_hash::FxHasher::default();
        u.hash(&mut h);
        h.finish().is_multiple_of(every)
    }
}

/// The training sample: the sampled children's census records (`census`)
/// and source records, prepared.
fn training_sample(
    mut records: Vec<LinkRecord>,
    a: &CensusInfo,
    b: &CensusInfo,
    sources: &[(SourceKey, SourceRecord)],
    options: &LinkOptions,
) -> Prepared {
    let every = (a.pupils as usize / options.training_pupils.max(1)).max(1) as u64;
    let keep = sampler(a, options);
    let label_a = format!("census-{}", a.date);
    let label_b = format!("census-{}", b.date);
    records.extend(
        sources
            .iter()
            .filter(|(k, r)| match r.upn {
                Some(u) => keep(&u),
                None => (k.0 as u64).is_multiple_of(every),
            })
            .map(|(k, r)| source_link_record(*k, r)),
    );
    let mut p = Prepared::from_records(records);
    p.mark_unique(&label_a);
    p.mark_unique(&label_b);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_upn_finds_the_right_one() {
        let la = cnis_core::LaCode::from_number(801).expect("LA");
        let u = Upn::from_parts(la, 2000, 15, 42).expect("upn");
        let s = u.as_str().to_string();
        // Wrong check letter.
        let wrong = format!("{}{}", if s.starts_with('A') { 'B' } else { 'A' }, &s[1..]);
        assert!(near_upns(&wrong).contains(&u));
        // Two digits swapped.
        let mut b: Vec<char> = s.chars().collect();
        b.swap(5, 6);
        let swapped: String = b.iter().collect();
        if swapped != s {
            assert!(near_upns(&swapped).contains(&u));
        }
        // A digit dropped.
        let dropped = format!("{}{}", &s[..7], &s[8..]);
        assert!(near_upns(&dropped).contains(&u));
        assert!(near_upns("nonsense").is_empty());
    }

    #[test]
    fn names_agree_on_the_forename_a_swap_or_a_middle_name() {
        let p = |f: &str, s: &str, m: Option<&str>| PupilDetails {
            forename: Some(f.into()),
            surname: Some(s.into()),
            middle_names: m.map(str::to_string),
            ..PupilDetails::default()
        };
        assert!(a_name_agrees(&p("Amelia", "Smith", None), &p("amelia", "Smyth", None)));
        assert!(a_name_agrees(&p("Amelia", "Smith", None), &p("Smith", "Amelia", None)));
        assert!(a_name_agrees(&p("Amelia", "Smith", Some("Rose")), &p("Rose", "Jones", None)));
        assert!(!a_name_agrees(&p("Amelia", "Smith", None), &p("Oliver", "Jones", None)));
        assert!(a_name_agrees(&p("Hugo", "Smith", None), &p("Huugo", "Smith", None)));
        assert!(a_name_agrees(&p("Samuel", "Smith", None), &p("Sam", "Jones", None)));
        // Swapped, and one of the two mistyped.
        assert!(a_name_agrees(&p("Olivia", "Peauson", None), &p("Pearson", "Olivia", None)));
        assert!(!a_name_agrees(&p("Olivia", "Peauson", None), &p("Pearson", "Oliver", None)));
        // Twins: the same surname, different forenames.
        assert!(!a_name_agrees(&p("Amelia", "Smith", None), &p("Oliver", "Smith", None)));
        assert!(!a_name_agrees(&p("", "", None), &p("", "", None)));
    }
}
