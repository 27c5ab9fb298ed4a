//! Records turned into columns of small integers: every string is normalised
//! and interned once, so comparing two records is mostly integer equality,
//! and the fuzzy string measures run once per distinct pair of values.

use std::sync::Arc;

use chrono::Datelike;
use cnis_core::Postcode;
use cnis_core::records::{LinkRecord, Sex};
use rustc_hash::FxHashMap;

/// Interned strings; id 0 means "no value".
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: FxHashMap<String, u32>,
    strings: Vec<String>,
}

impl Interner {
    fn new() -> Self {
        Interner { ids: FxHashMap::default(), strings: vec![String::new()] }
    }
    fn id(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }
    /// The string for an id.
    pub fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", String::as_str)
    }
    /// Number of distinct values (plus the empty one).
    pub fn len(&self) -> usize {
        self.strings.len()
    }
    /// Whether only the empty value is held.
    pub fn is_empty(&self) -> bool {
        self.strings.len() <= 1
    }
}

/// Upper case letters only, runs of anything else as one space.
pub fn normalise_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalise_into(&mut out, s);
    out
}

/// [`normalise_name`] into a buffer, so a loop allocates nothing.
fn normalise_into(out: &mut String, s: &str) {
    out.clear();
    let mut gap = false;
    if s.is_ascii() {
        for &b in s.as_bytes() {
            if b.is_ascii_alphabetic() {
                if gap && !out.is_empty() {
                    out.push(' ');
                }
                gap = false;
                out.push(b.to_ascii_uppercase() as char);
            } else if b != b'\'' {
                gap = true;
            }
        }
        return;
    }
    for c in s.chars() {
        if c.is_alphabetic() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_uppercase());
        } else if c != '\'' {
            gap = true;
        }
    }
}

/// The records in columns.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Number of records.
    pub n: usize,
    /// Source id per record (index into `sources`).
    pub source: Vec<u16>,
    /// Source names.
    pub sources: Vec<String>,
    /// Record ids as given.
    pub record_id: Vec<String>,
    /// UPN ids (`ids` interner).
    pub upn: Vec<u32>,
    /// Former UPN ids.
    pub former_upn: Vec<u32>,
    /// NHS number ids.
    pub nhs: Vec<u32>,
    /// Name ids (`names` interner).
    pub forename: Vec<u32>,
    /// Surname ids.
    pub surname: Vec<u32>,
    /// Former surname ids.
    pub former_surname: Vec<u32>,
    /// Date of birth as days from CE; `i32::MIN` when missing.
    pub dob: Vec<i32>,
    /// The same date as (year, month, day), so comparisons need no calendar.
    pub dob_ymd: Vec<(i32, u8, u8)>,
    /// 0 unknown, 1 male, 2 female.
    pub sex: Vec<u8>,
    /// Full postcode ids (`places` interner).
    pub postcode: Vec<u32>,
    /// Postcode sector ids (UK postcodes only).
    pub sector: Vec<u32>,
    /// Postcode district ids.
    pub district: Vec<u32>,
    /// Postcode area ids.
    pub area: Vec<u32>,
    /// Address ids (`places` interner).
    pub address: Vec<u32>,
    /// Truth labels (`truths` interner), 0 when none.
    pub truth: Vec<u32>,
    /// Identifier values.
    pub ids: Arc<Interner>,
    /// Name values.
    pub names: Arc<Interner>,
    /// Postcodes, postcode parts and addresses.
    pub places: Arc<Interner>,
    /// Truth labels.
    pub truths: Arc<Interner>,
    /// Share of non-missing values per name id (term frequencies).
    pub name_tf: Arc<Vec<f64>>,
    /// Share of non-missing postcodes per postcode id.
    pub postcode_tf: Arc<Vec<f64>>,
}

/// Day/month/year of a stored date of birth.
pub fn ymd(days: i32) -> Option<(i32, u32, u32)> {
    chrono::NaiveDate::from_num_days_from_ce_opt(days).map(|d| (d.year(), d.month(), d.day()))
}

impl Prepared {
    /// Normalises the records on every core, then interns each group of
    /// columns on its own core, then orders the records (see [`Prepared::order`]).
    pub fn from_records(records: Vec<LinkRecord>) -> Prepared {
        use rayon::prelude::*;
        let rs: Vec<Normalised> = records.into_par_iter().map(Normalised::from).collect();
        let n = rs.len();
        let (mut names, mut ids, mut places, mut truths) =
            (Interner::new(), Interner::new(), Interner::new(), Interner::new());
        let ((people, idents), (postcodes, (truth, others))) = rayon::join(
            || {
                rayon::join(
                    || {
                        let name = |s: &Option<String>, i: &mut Interner| s.as_deref().map_or(0, |s| i.id(s));
                        intern_column(&rs, &mut names, |r, i, _| {
                            (name(&r.forename, i), name(&r.surname, i), name(&r.former_surname, i))
                        })
                    },
                    || {
                        intern_column(&rs, &mut ids, |r, i, _| {
                            (
                                r.upn.map_or(0, |u| i.id(u.as_str())),
                                r.former_upn.map_or(0, |u| i.id(u.as_str())),
                                r.nhs_number.map_or(0, |x| i.id(&x.digits())),
                            )
                        })
                    },
                )
            },
            || {
                rayon::join(
                    || {
                        intern_column(&rs, &mut places, |r, i, buf| {
                            let (full, sector, district, area) = match (&r.postcode, r.postcode_is_uk) {
                                (None, _) => (0, 0, 0, 0),
                                (Some(pc), false) => (i.id(pc), 0, 0, 0),
                                (Some(pc), true) => {
                                    // "OUT IN": sector "OUT I", district "OUT", area the leading letters.
                                    let district = pc.split(' ').next().unwrap_or("");
                                    let letters = pc.bytes().take_while(u8::is_ascii_alphabetic).count();
                                    (
                                        i.id(pc),
                                        prefixed(i, buf, "S:", &pc[..pc.len().saturating_sub(2)]),
                                        prefixed(i, buf, "D:", district),
                                        prefixed(i, buf, "A:", &pc[..letters]),
                                    )
                                }
                            };
                            let address = r.address.as_deref().map_or(0, |a| prefixed(i, buf, "@", a));
                            (full, sector, district, area, address)
                        })
                    },
                    || {
                        let truth = intern_column(&rs, &mut truths, |r, i, _| r.truth.as_deref().map_or(0, |t| i.id(t)));
                        let mut sources: Vec<String> = Vec::new();
                        let mut source_ids: FxHashMap<&str, u16> = FxHashMap::default();
                        let mut others = Vec::with_capacity(n);
                        for r in &rs {
                            let next = source_ids.len() as u16;
                            let sid = *source_ids.entry(r.source.as_str()).or_insert_with(|| {
                                sources.push(r.source.clone());
                                next
                            });
                            let sex = match r.sex {
                                Some(Sex::Male) => 1u8,
                                Some(Sex::Female) => 2,
                                _ => 0,
                            };
                            let dob = r.dob.map_or(i32::MIN, |d| d.num_days_from_ce());
                            let ymd = r.dob.map_or((0, 0, 0), |d| (d.year(), d.month() as u8, d.day() as u8));
                            others.push((sid, sex, dob, ymd));
                        }
                        (truth, (sources, others))
                    },
                )
            },
        );
        let (sources, others) = others;
        let mut p = Prepared {
            n,
            source: others.iter().map(|o| o.0).collect(),
            sources,
            record_id: rs.into_iter().map(|r| r.record_id).collect(),
            upn: idents.iter().map(|x| x.0).collect(),
            former_upn: idents.iter().map(|x| x.1).collect(),
            nhs: idents.iter().map(|x| x.2).collect(),
            forename: people.iter().map(|x| x.0).collect(),
            surname: people.iter().map(|x| x.1).collect(),
            former_surname: people.iter().map(|x| x.2).collect(),
            dob: others.iter().map(|o| o.2).collect(),
            dob_ymd: others.iter().map(|o| o.3).collect(),
            sex: others.iter().map(|o| o.1).collect(),
            postcode: postcodes.iter().map(|x| x.0).collect(),
            sector: postcodes.iter().map(|x| x.1).collect(),
            district: postcodes.iter().map(|x| x.2).collect(),
            area: postcodes.iter().map(|x| x.3).collect(),
            address: postcodes.iter().map(|x| x.4).collect(),
            truth,
            ids: Arc::new(Interner::new()),
            names: Arc::new(Interner::new()),
            places: Arc::new(Interner::new()),
            truths: Arc::new(Interner::new()),
            name_tf: Arc::new(Vec::new()),
            postcode_tf: Arc::new(Vec::new()),
        };
        p.name_tf = Arc::new(frequencies(names.len(), [&p.forename, &p.surname]));
        p.postcode_tf = Arc::new(frequencies(places.len(), [&p.postcode]));
        p.ids = Arc::new(ids);
        p.names = Arc::new(names);
        p.places = Arc::new(places);
        p.truths = Arc::new(truths);
        p.order()
    }

    /// Normalises and interns the records.
    pub fn new(records: &[LinkRecord]) -> Prepared {
        Prepared::from_records(records.to_vec())
    }

    /// The records put in order of date of birth and surname: most blocking
    /// rules group by date of birth, so their blocks become runs of
    /// neighbouring records and scoring reads memory in order. Record order
    /// carries no meaning (records are named by source and id).
    fn order(mut self) -> Prepared {
        let mut order: Vec<usize> = (0..self.n).collect();
        order.sort_unstable_by_key(|&i| (self.dob[i], self.surname[i], i));
        let mut old = std::mem::take(&mut self.record_id);
        let ids = order.iter().map(|&i| std::mem::take(&mut old[i])).collect();
        self.gather(&order, ids)
    }

    /// The index of the record with this source and id.
    pub fn index_of(&self, source: &str, record_id: &str) -> Option<usize> {
        (0..self.n).find(|&i| self.sources[self.source[i] as usize] == source && self.record_id[i] == record_id)
    }

    /// The records at `idx`, sharing this set's interned values and term
    /// frequencies (a small subset fits in cache: random-pair sampling uses it).
    pub fn subset(&self, idx: &[usize]) -> Prepared {
        self.gather(idx, idx.iter().map(|&i| self.record_id[i].clone()).collect())
    }

    /// The records at `idx`, with `record_id` already in that order.
    fn gather(&self, idx: &[usize], record_id: Vec<String>) -> Prepared {
        fn pick<T: Clone>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter().map(|&i| v[i].clone()).collect()
        }
        Prepared {
            n: idx.len(),
            source: pick(&self.source, idx),
            sources: self.sources.clone(),
            record_id,
            upn: pick(&self.upn, idx),
            former_upn: pick(&self.former_upn, idx),
            nhs: pick(&self.nhs, idx),
            forename: pick(&self.forename, idx),
            surname: pick(&self.surname, idx),
            former_surname: pick(&self.former_surname, idx),
            dob: pick(&self.dob, idx),
            dob_ymd: pick(&self.dob_ymd, idx),
            sex: pick(&self.sex, idx),
            postcode: pick(&self.postcode, idx),
            sector: pick(&self.sector, idx),
            district: pick(&self.district, idx),
            area: pick(&self.area, idx),
            address: pick(&self.address, idx),
            truth: pick(&self.truth, idx),
            ids: Arc::clone(&self.ids),
            names: Arc::clone(&self.names),
            places: Arc::clone(&self.places),
            truths: Arc::clone(&self.truths),
            name_tf: Arc::clone(&self.name_tf),
            postcode_tf: Arc::clone(&self.postcode_tf),
        }
    }
}

fn frequencies<const K: usize>(size: usize, columns: [&Vec<u32>; K]) -> Vec<f64> {
    let mut counts = vec![0u64; size];
    let mut total = 0u64;
    for col in columns {
        for &v in col.iter().filter(|&&v| v != 0) {
            counts[v as usize] += 1;
            total += 1;
        }
    }
    counts.into_iter().map(|c| if total == 0 { 0.0 } else { c as f64 / total as f64 }).collect()
}

/// Interns one group of columns over all records.
fn intern_column<T>(
    records: &[Normalised],
    interner: &mut Interner,
    mut f: impl FnMut(&Normalised, &mut Interner, &mut String) -> T,
) -> Vec<T> {
    let mut buf = String::new();
    records.iter().map(|r| f(r, interner, &mut buf)).collect()
}

fn prefixed(interner: &mut Interner, buf: &mut String, prefix: &str, s: &str) -> u32 {
    buf.clear();
    buf.push_str(prefix);
    buf.push_str(s);
    interner.id(buf)
}

/// A record with its text normalised, ready to intern: names in upper-case
/// letters, the postcode in its standard form. Made from a [`LinkRecord`] on
/// whichever thread reads the file, so the builder only interns.
#[derive(Debug, Clone, Default)]
pub struct Normalised {
    source: String,
    record_id: String,
    upn: Option<cnis_core::Upn>,
    former_upn: Option<cnis_core::Upn>,
    nhs_number: Option<cnis_core::NhsNumber>,
    forename: Option<String>,
    surname: Option<String>,
    former_surname: Option<String>,
    dob: Option<chrono::NaiveDate>,
    sex: Option<Sex>,
    postcode: Option<String>,
    postcode_is_uk: bool,
    address: Option<String>,
    truth: Option<String>,
}

impl From<LinkRecord> for Normalised {
    fn from(r: LinkRecord) -> Self {
        let name = |s: Option<String>| s.map(|s| normalise_name(&s)).filter(|s| !s.is_empty());
        let (postcode, postcode_is_uk) = match r.postcode.filter(|p| !p.is_empty()) {
            None => (None, false),
            Some(raw) => match Postcode::parse(&raw) {
                Ok(pc) => (Some(pc.as_str().to_string()), true),
                Err(_) => (Some(raw), false),
            },
        };
        Normalised {
            source: r.source,
            record_id: r.record_id,
            upn: r.upn,
            former_upn: r.former_upn,
            nhs_number: r.nhs_number,
            forename: name(r.forename),
            surname: name(r.surname),
            former_surname: name(r.former_surname),
            dob: r.dob,
            sex: r.sex,
            postcode,
            postcode_is_uk,
            address: name(r.address),
            truth: r.truth,
        }
    }
}
