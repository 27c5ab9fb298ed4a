//! Records turned into columns of small integers: every string is normalised
//! and interned once, so comparing two records is mostly integer equality,
//! and the fuzzy string measures run once per distinct pair of values.

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
    let mut gap = false;
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
    out
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
    pub ids: Interner,
    /// Name values.
    pub names: Interner,
    /// Postcodes, postcode parts and addresses.
    pub places: Interner,
    /// Truth labels.
    pub truths: Interner,
    /// Share of non-missing values per name id (term frequencies).
    pub name_tf: Vec<f64>,
    /// Share of non-missing postcodes per postcode id.
    pub postcode_tf: Vec<f64>,
}

/// Day/month/year of a stored date of birth.
pub fn ymd(days: i32) -> Option<(i32, u32, u32)> {
    chrono::NaiveDate::from_num_days_from_ce_opt(days).map(|d| (d.year(), d.month(), d.day()))
}

impl Prepared {
    /// Normalises and interns the records.
    pub fn new(records: &[LinkRecord]) -> Prepared {
        let n = records.len();
        let mut p = Prepared {
            n,
            source: Vec::with_capacity(n),
            sources: Vec::new(),
            record_id: Vec::with_capacity(n),
            upn: Vec::with_capacity(n),
            former_upn: Vec::with_capacity(n),
            nhs: Vec::with_capacity(n),
            forename: Vec::with_capacity(n),
            surname: Vec::with_capacity(n),
            former_surname: Vec::with_capacity(n),
            dob: Vec::with_capacity(n),
            dob_ymd: Vec::with_capacity(n),
            sex: Vec::with_capacity(n),
            postcode: Vec::with_capacity(n),
            sector: Vec::with_capacity(n),
            district: Vec::with_capacity(n),
            area: Vec::with_capacity(n),
            address: Vec::with_capacity(n),
            truth: Vec::with_capacity(n),
            ids: Interner::new(),
            names: Interner::new(),
            places: Interner::new(),
            truths: Interner::new(),
            name_tf: Vec::new(),
            postcode_tf: Vec::new(),
        };
        let mut source_ids: FxHashMap<String, u16> = FxHashMap::default();
        for r in records {
            let next = source_ids.len() as u16;
            let sid = *source_ids.entry(r.source.clone()).or_insert_with(|| {
                p.sources.push(r.source.clone());
                next
            });
            p.source.push(sid);
            p.record_id.push(r.record_id.clone());
            p.upn.push(r.upn.map_or(0, |u| p.ids.id(u.as_str())));
            p.former_upn.push(r.former_upn.map_or(0, |u| p.ids.id(u.as_str())));
            p.nhs.push(r.nhs_number.map_or(0, |x| p.ids.id(&format!("NHS{}", x.digits()))));
            let name =
                |p: &mut Prepared, s: &Option<String>| s.as_deref().map_or(0, |s| p.names.id(&normalise_name(s)));
            let f = name(&mut p, &r.forename);
            p.forename.push(f);
            let s = name(&mut p, &r.surname);
            p.surname.push(s);
            let fs = name(&mut p, &r.former_surname);
            p.former_surname.push(fs);
            p.dob.push(r.dob.map_or(i32::MIN, |d| d.num_days_from_ce()));
            p.dob_ymd.push(r.dob.map_or((0, 0, 0), |d| (d.year(), d.month() as u8, d.day() as u8)));
            p.sex.push(match r.sex {
                Some(Sex::Male) => 1,
                Some(Sex::Female) => 2,
                _ => 0,
            });
            let (full, sector, district, area) = match r.postcode.as_deref().filter(|s| !s.is_empty()) {
                None => (0, 0, 0, 0),
                Some(raw) => match Postcode::parse(raw) {
                    Ok(pc) => (
                        p.places.id(pc.as_str()),
                        p.places.id(&format!("S:{}", pc.sector())),
                        p.places.id(&format!("D:{}", pc.district())),
                        p.places.id(&format!("A:{}", pc.area())),
                    ),
                    Err(_) => (p.places.id(raw), 0, 0, 0),
                },
            };
            p.postcode.push(full);
            p.sector.push(sector);
            p.district.push(district);
            p.area.push(area);
            let addr = r.address.as_deref().map_or(0, |a| p.places.id(&format!("@{}", normalise_name(a))));
            p.address.push(addr);
            let t = r.truth.as_deref().map_or(0, |t| p.truths.id(t));
            p.truth.push(t);
        }
        p.name_tf = frequencies(p.names.len(), [&p.forename, &p.surname]);
        p.postcode_tf = frequencies(p.places.len(), [&p.postcode]);
        p
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
