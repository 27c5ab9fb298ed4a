//! Finding a child: a caseworker's search of their council's register,
//! and identity lookup for partner systems across every council.
//!
//! Candidates are the entries sharing any one key with the query (the
//! Soundex of a name, the date of birth, the postcode, an identifier), so
//! a misspelt name still finds the child through its sound or through the
//! date of birth. Each candidate is then compared with the query by the
//! linkage engine's own comparisons (`cnis_link::compare`: the same levels
//! linkage uses, with short forms, swapped names and swapped day and month)
//! and ranked by match weight: the sum, over the fields compared, of
//! log2(m/u) for the level found. The m and u here are fixed
//! ([`SEARCH_WEIGHTS`]), not trained: a search ranks what a person will
//! look at, it does not decide a match. Each result says which fields
//! agreed and how.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use chrono::NaiveDate;
use cnis_core::records::{LinkRecord, Sex};
use cnis_core::{ChildId, LaCode, NhsNumber, Postcode, Upn};
use cnis_link::compare::{Cache, FIELDS, Field, compare};
use cnis_link::prepare::Prepared;
use cnis_store::register::{self as reg, Entry, SearchKeys};
use serde::{Deserialize, Serialize};

use super::{Actor, FieldError, Permission, Result, Service, ServiceError, require, scope};

/// m and u of each level of each field (index = level; level 0, missing,
/// carries nothing), set by hand from the rates the linkage benchmarks
/// train on (FEBRL and the synthetic sets): rough, and only for ranking.
pub const SEARCH_WEIGHTS: &[(Field, &[(f64, f64)])] = &[
    (Field::Upn, &[(0.0, 0.0), (0.95, 1e-6), (0.03, 1e-5), (0.02, 0.999)]),
    (Field::Nhs, &[(0.0, 0.0), (0.97, 1e-6), (0.03, 0.999)]),
    (Field::CaseId, &[(0.0, 0.0), (0.9, 1e-6), (0.05, 1e-5), (0.03, 1e-4), (0.02, 0.9999)]),
    (
        Field::Forename,
        &[(0.0, 0.0), (0.85, 0.01), (0.01, 1e-4), (0.05, 0.002), (0.05, 0.005), (0.03, 0.03), (0.01, 0.953)],
    ),
    (Field::MiddleNames, &[(0.0, 0.0), (0.8, 0.01), (0.1, 0.01), (0.05, 0.01), (0.05, 0.97)]),
    (Field::Surname, &[(0.0, 0.0), (0.85, 0.005), (0.05, 5e-4), (0.05, 0.003), (0.03, 0.03), (0.02, 0.962)]),
    (Field::Dob, &[(0.0, 0.0), (0.93, 3e-4), (0.02, 1e-5), (0.03, 0.005), (0.01, 0.05), (0.01, 0.945)]),
    (Field::Sex, &[(0.0, 0.0), (0.98, 0.5), (0.02, 0.5)]),
    (
        Field::Place,
        &[(0.0, 0.0), (0.6, 1e-4), (0.1, 5e-4), (0.05, 0.001), (0.05, 0.005), (0.05, 0.02), (0.05, 0.1), (0.1, 0.8734)],
    ),
];

/// The chance, before comparing, that a candidate sharing a key is the
/// child sought (log2 of the odds), for turning a weight into a
/// probability in identity lookup.
const PRIOR_WEIGHT: f64 = -13.3;

fn level_weight(f: Field, level: u8) -> f64 {
    if level == 0 {
        return 0.0;
    }
    SEARCH_WEIGHTS
        .iter()
        .find(|(g, _)| *g == f)
        .and_then(|(_, ls)| ls.get(usize::from(level)))
        .map_or(0.0, |(m, u)| (m / u).log2())
}

/// What a person searches for. Any field may be left out; at least one
/// must be given.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SearchRequest {
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub dob: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// UPN.
    pub upn: Option<String>,
    /// NHS number.
    pub nhs_number: Option<String>,
    /// cnis child id.
    pub child_id: Option<String>,
    /// Sex, `M` or `F`.
    pub sex: Option<String>,
}

/// One field's part in a match.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agreement {
    /// The field.
    pub field: &'static str,
    /// How it compared (the linkage level's words).
    pub level: &'static str,
    /// Its weight.
    pub weight: f64,
}

/// A search result: the entry, its weight and why it matched.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// cnis's child id.
    pub child_id: String,
    /// The entry.
    pub entry_id: i64,
    /// Name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub dob: String,
    /// Postcode.
    pub postcode: Option<String>,
    /// Status.
    pub status: cnis_core::register::EntryStatus,
    /// Match weight (higher is better).
    pub weight: f64,
    /// Fields that agreed, and how.
    pub agreed: Vec<Agreement>,
}

/// A partner's lookup: the child's details as the partner holds them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct LookupRequest {
    /// The partner's own reference for the child, so that an agreed match
    /// is found again exactly.
    pub reference: Option<String>,
    /// Given name (required).
    pub given_name: Option<String>,
    /// Family name (required).
    pub family_name: Option<String>,
    /// Date of birth, `YYYY-MM-DD` (required).
    pub dob: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// NHS number.
    pub nhs_number: Option<String>,
    /// Sex.
    pub sex: Option<String>,
}

/// A candidate child for a lookup: identifiers and evidence only.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupCandidate {
    /// cnis's child id.
    pub child_id: String,
    /// The statutory consistent identifier, where known.
    pub consistent_identifier: Option<String>,
    /// Match probability.
    pub probability: f64,
    /// Which fields agreed.
    pub agreed: Vec<&'static str>,
    /// Whether this is a match the partner agreed before.
    pub agreed_before: bool,
}

struct Query {
    keys: SearchKeys,
    record: LinkRecord,
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn build_query(r: &SearchRequest) -> std::result::Result<Query, Vec<FieldError>> {
    let errors = std::cell::RefCell::new(Vec::new());
    let bad = |f: &str, m: &str| errors.borrow_mut().push(FieldError { field: f.into(), message: m.into() });
    let dob = opt(&r.dob).and_then(|d| match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            bad("dob", "Enter the date of birth as a real date, year-month-day");
            None
        }
    });
    let postcode = opt(&r.postcode).and_then(|p| match Postcode::parse(p) {
        Ok(p) => Some(p.to_string()),
        Err(_) => {
            bad("postcode", "Enter a real postcode, like AA1 1AA");
            None
        }
    });
    let upn = opt(&r.upn).and_then(|u| match Upn::parse(u) {
        Ok(u) => Some(u),
        Err(_) => {
            bad("upn", "The UPN is not valid");
            None
        }
    });
    let nhs = opt(&r.nhs_number).and_then(|n| match NhsNumber::parse(n) {
        Ok(n) => Some(n),
        Err(_) => {
            bad("nhs_number", "The NHS number is not valid");
            None
        }
    });
    let child = opt(&r.child_id).and_then(|c| match ChildId::parse(c) {
        Ok(c) => Some(c.to_string()),
        Err(_) => {
            bad("child_id", "The child id is not valid");
            None
        }
    });
    let sex = opt(&r.sex).and_then(Sex::parse);
    for (f, v) in [("given_name", &r.given_name), ("family_name", &r.family_name)] {
        if v.as_ref().is_some_and(|s| s.chars().count() > 100) {
            bad(f, "Enter a name of up to 100 letters");
        }
    }
    let given = opt(&r.given_name).map(str::to_string);
    let family = opt(&r.family_name).map(str::to_string);
    if errors.borrow().is_empty()
        && given.is_none()
        && family.is_none()
        && dob.is_none()
        && postcode.is_none()
        && upn.is_none()
        && nhs.is_none()
        && child.is_none()
    {
        bad("search", "Enter at least one thing to search for");
    }
    let errors = errors.into_inner();
    if !errors.is_empty() {
        return Err(errors);
    }
    let keys = SearchKeys {
        given_key: given.as_deref().and_then(cnis_core::names::soundex),
        family_key: family.as_deref().and_then(cnis_core::names::soundex),
        dob,
        postcode: postcode.clone(),
        upn: upn.map(|u| u.to_string()),
        nhs_number: nhs.as_ref().map(|n| n.digits().to_string()),
        child_id: child,
    };
    let record = LinkRecord {
        source: "query".into(),
        record_id: "query".into(),
        upn,
        nhs_number: nhs,
        forename: given,
        surname: family,
        dob,
        sex,
        postcode: postcode.map(|p| p.replace(' ', "")),
        ..LinkRecord::default()
    };
    Ok(Query { keys, record })
}

fn entry_record(e: &Entry) -> LinkRecord {
    let c = &e.content;
    LinkRecord {
        source: "register".into(),
        record_id: e.id.to_string(),
        upn: c.upn.as_deref().and_then(|u| Upn::parse(u).ok()),
        nhs_number: c.nhs_number.as_deref().and_then(|n| NhsNumber::parse(n).ok()),
        forename: Some(c.given_name.clone()),
        middle_names: c.middle_names.clone(),
        surname: Some(c.family_name.clone()),
        dob: NaiveDate::parse_from_str(&c.dob, "%Y-%m-%d").ok(),
        sex: c.sex.as_deref().and_then(Sex::parse),
        postcode: c.postcode.as_ref().map(|p| p.replace(' ', "")),
        address: c.address.clone(),
        ..LinkRecord::default()
    }
}

/// Compares the query with each candidate: weight and the fields that
/// agreed, in the candidates' order. Linkage puts records in its own order,
/// so each is found again by its record id (the query's is empty, which no
/// entry's id is).
fn rank(query: &LinkRecord, candidates: &[Entry]) -> Vec<(f64, Vec<Agreement>)> {
    rank_with(query, candidates, false)
}

/// Two entries compared field by field: the match weight, the probability
/// and every field compared with its weight, for or against (the waterfall a
/// reviewer reads).
pub(crate) fn explain_pair(a: &Entry, b: &Entry) -> (f64, f64, Vec<Agreement>) {
    let (weight, parts) = rank_with(&entry_record(a), std::slice::from_ref(b), true).pop().unwrap_or_default();
    (weight, probability(weight), parts)
}

/// A match weight as a probability, with the prior of a candidate that
/// shares a key.
pub(crate) fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-(weight + PRIOR_WEIGHT)).exp2())
}

/// [`rank`]; with `all`, fields that disagreed are listed too.
fn rank_with(query: &LinkRecord, candidates: &[Entry], all: bool) -> Vec<(f64, Vec<Agreement>)> {
    let mut records = Vec::with_capacity(candidates.len() + 1);
    records.push(LinkRecord { source: "register".into(), record_id: String::new(), ..query.clone() });
    records.extend(candidates.iter().map(entry_record));
    let p = Prepared::new(&records);
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    for (i, id) in p.record_id.iter().enumerate() {
        at.insert(id.as_str(), i);
    }
    let q = at.get("").copied().unwrap_or(0);
    let mut cache = Cache::default();
    candidates
        .iter()
        .map(|e| {
            let Some(&i) = at.get(e.id.to_string().as_str()) else { return (f64::MIN, Vec::new()) };
            let pat = compare(&p, q, i, &mut cache);
            let mut weight = 0.0;
            let mut agreed = Vec::new();
            for (f, &level) in FIELDS.iter().zip(pat.iter()) {
                let w = level_weight(*f, level);
                weight += w;
                if level > 0 && (w > 0.0 || all) {
                    agreed.push(Agreement { field: f.name(), level: f.levels()[usize::from(level)], weight: w });
                }
            }
            (weight, agreed)
        })
        .collect()
}

/// Allows each partner system a number of lookups a minute (a token
/// bucket that refills continuously), so that no caller can probe the
/// register field by field.
pub(crate) struct Limiter {
    per_minute: f64,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl Limiter {
    pub(crate) fn new(per_minute: u32) -> Limiter {
        Limiter { per_minute: f64::from(per_minute.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one lookup for `who`, or says how many seconds to wait.
    pub(crate) fn take(&self, who: i64) -> std::result::Result<(), u64> {
        let Ok(mut b) = self.buckets.lock() else { return Err(60) };
        let now = Instant::now();
        let (tokens, last) = b.entry(who).or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_minute / 60.0).min(self.per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) * 60.0 / self.per_minute).ceil() as u64)
        }
    }
}

/// The child on a council's register who best matches `request`, with
/// the match probability, when it is at least `floor`: how a notice or a
/// referral finds the child it is about.
pub(crate) fn best_match(
    tx: &mut cnis_store::db::Tx<'_>,
    council: LaCode,
    request: &SearchRequest,
    floor: f64,
) -> cnis_store::Result<Option<(String, f64)>> {
    let Ok(q) = build_query(request) else { return Ok(None) };
    let candidates = reg::search_candidates(tx, Some(council), &q.keys, 500)?;
    let ranked = rank(&q.record, &candidates);
    // A candidate whose given name does not agree at any level is another
    // child, however much else agrees: twins share a date of birth, a
    // family name and an address.
    let best = candidates
        .iter()
        .zip(ranked)
        .filter(|(_, (_, agreed))| agreed.iter().any(|a| a.field == Field::Forename.name()))
        .map(|(e, (weight, _))| (e.child_id.clone(), probability(weight)))
        .filter(|(_, p)| *p >= floor)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Ok(best)
}

impl Service {
    /// Searches the actor's council's register. Audited with what was
    /// searched for and which children were shown.
    pub fn search(&self, actor: &Actor, request: &SearchRequest, limit: usize) -> Result<Vec<SearchHit>> {
        require(actor, Permission::Search)?;
        let council = scope(actor)?;
        let q = build_query(request).map_err(ServiceError::Invalid)?;
        let candidates = self.db.read(|tx| reg::search_candidates(tx, Some(council), &q.keys, 2000))?;
        let ranked = rank(&q.record, &candidates);
        let mut hits: Vec<SearchHit> = candidates
            .into_iter()
            .zip(ranked)
            .filter(|(_, (w, _))| *w > 0.0)
            .map(|(e, (weight, agreed))| SearchHit {
                child_id: e.child_id,
                entry_id: e.id,
                given_name: e.content.given_name,
                family_name: e.content.family_name,
                dob: e.content.dob,
                postcode: e.content.postcode,
                status: e.status,
                weight: (weight * 100.0).round() / 100.0,
                agreed,
            })
            .collect();
        hits.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.entry_id.cmp(&b.entry_id)));
        hits.truncate(limit.clamp(1, 100));
        let shown: Vec<String> = hits.iter().map(|h| h.child_id.clone()).collect();
        let terms = serde_json::to_value(request).unwrap_or_default();
        self.audit.record(self.event(actor, "search", "ok", shown, serde_json::json!({ "terms": terms })))?;
        Ok(hits)
    }

    /// Identity lookup for a partner system: candidate children across
    /// every council at or above the probability floor, with their
    /// identifiers and the fields that agreed, and nothing else. A name
    /// and date of birth are required; lookups are rate-limited per system
    /// and audited.
    pub fn lookup(&self, actor: &Actor, request: &LookupRequest) -> Result<Vec<LookupCandidate>> {
        require(actor, Permission::IdentityLookup)?;
        if let Err(retry_after) = self.limiter.take(actor.user_id) {
            self.audit.record(self.event(actor, "identity.lookup", "rate_limited", vec![], serde_json::json!({})))?;
            return Err(ServiceError::RateLimited { retry_after });
        }
        let mut missing = Vec::new();
        for (f, v) in
            [("given_name", &request.given_name), ("family_name", &request.family_name), ("dob", &request.dob)]
        {
            if opt(v).is_none() {
                missing.push(FieldError { field: f.into(), message: "Required for an identity lookup".into() });
            }
        }
        if request.reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
            missing.push(FieldError { field: "reference".into(), message: "Up to 100 characters".into() });
        }
        if !missing.is_empty() {
            return Err(ServiceError::Invalid(missing));
        }
        let search = SearchRequest {
            given_name: request.given_name.clone(),
            family_name: request.family_name.clone(),
            dob: request.dob.clone(),
            postcode: request.postcode.clone(),
            nhs_number: request.nhs_number.clone(),
            sex: request.sex.clone(),
            ..SearchRequest::default()
        };
        let q = build_query(&search).map_err(ServiceError::Invalid)?;
        let reference = opt(&request.reference).map(str::to_string);
        let (candidates, agreed_child) = self.db.read(|tx| {
            let agreed = match &reference {
                Some(r) => reg::agreed_identity(tx, actor.user_id, r)?,
                None => None,
            };
            Ok((reg::search_candidates(tx, None, &q.keys, 5000)?, agreed))
        })?;
        let ranked = rank(&q.record, &candidates);
        let mut best: HashMap<String, LookupCandidate> = HashMap::new();
        for (e, (weight, agreed)) in candidates.iter().zip(ranked) {
            let probability = 1.0 / (1.0 + (-(weight + PRIOR_WEIGHT)).exp2());
            let before = agreed_child.as_deref() == Some(e.child_id.as_str());
            let probability = if before { 1.0 } else { probability };
            if probability < self.config.lookup_floor {
                continue;
            }
            let id = match self.config.statutory_identifier {
                super::StatutoryIdentifier::NhsNumber => e.content.nhs_number.clone(),
                super::StatutoryIdentifier::Upn => e.content.upn.clone(),
                super::StatutoryIdentifier::ChildId => Some(e.child_id.clone()),
            };
            let c = LookupCandidate {
                child_id: e.child_id.clone(),
                consistent_identifier: id,
                probability: (probability * 10_000.0).round() / 10_000.0,
                agreed: agreed.iter().map(|a| a.field).collect(),
                agreed_before: before,
            };
            match best.get(&e.child_id) {
                Some(b) if b.probability >= c.probability => {}
                _ => {
                    best.insert(e.child_id.clone(), c);
                }
            }
        }
        let mut out: Vec<LookupCandidate> = best.into_values().collect();
        out.sort_by(|a, b| b.probability.total_cmp(&a.probability).then(a.child_id.cmp(&b.child_id)));
        out.truncate(10);
        let shown: Vec<String> = out.iter().map(|c| c.child_id.clone()).collect();
        self.audit.record(self.event(
            actor,
            "identity.lookup",
            "ok",
            shown,
            serde_json::json!({ "reference": reference, "terms": serde_json::to_value(&search).unwrap_or_default() }),
        ))?;
        Ok(out)
    }

    /// Records that a partner system's reference is this child, so the
    /// next lookup with that reference finds them exactly.
    pub fn agree_identity(&self, actor: &Actor, reference: &str, child_id: &str) -> Result<()> {
        require(actor, Permission::IdentityLookup)?;
        let child = super::entries::parse_child(child_id)?;
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().count() > 100 {
            return Err(ServiceError::Invalid(vec![FieldError {
                field: "reference".into(),
                message: "Give your system's reference for the child (up to 100 characters)".into(),
            }]));
        }
        let (_, head) = self
            .db
            .write(|tx| {
                if reg::entries_for_child(tx, &child)?.is_empty() {
                    return Err(cnis_store::Error::NotFound("child"));
                }
                reg::agree_identity(tx, actor.user_id, reference, &child)?;
                let head = cnis_store::audit::append(
                    tx,
                    &[self.event(
                        actor,
                        "identity.agree",
                        "ok",
                        vec![child.clone()],
                        serde_json::json!({ "reference": reference }),
                    )],
                )?;
                Ok(((), head))
            })
            .map_err(ServiceError::from_store)?;
        self.audit.advance(&head);
        Ok(())
    }
}
