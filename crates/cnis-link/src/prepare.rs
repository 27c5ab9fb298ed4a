//! Records turned into columns of small integers: every string is normalised
//! and interned once, so comparing two records is mostly integer equality,
//! and the fuzzy string measures run once per distinct pair of values.

use std::sync::Arc;

use chrono::Datelike;
use cnis_core::Postcode;
use cnis_core::records::{LinkRecord, Sex};

/// Interned strings; id 0 means "no value". All the text lives in one
/// buffer and the table holds only ids, so interning a new value costs no
/// allocation of its own (a million distinct addresses would otherwise be
/// two million small allocations).
#[derive(Debug, Clone)]
pub struct Interner {
    table: hashbrown::HashTable<u32>,
    text: String,
    /// End of each value in `text`; value `i` is `text[ends[i-1]..ends[i]]`.
    ends: Vec<u32>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner::new()
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

impl Interner {
    fn new() -> Self {
        Interner { table: hashbrown::HashTable::new(), text: String::new(), ends: vec![0] }
    }

    fn id(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let hash = hash_str(s);
        let (text, ends) = (&self.text, &self.ends);
        let value = |id: u32| &text[ends[id as usize - 1] as usize..ends[id as usize] as usize];
        if let Some(&id) = self.table.find(hash, |&id| value(id) == s) {
            return id;
        }
        let id = self.ends.len() as u32;
        self.text.push_str(s);
        self.ends.push(self.text.len() as u32);
        let (text, ends) = (&self.text, &self.ends);
        self.table
            .insert_unique(hash, id, |&id| hash_str(&text[ends[id as usize - 1] as usize..ends[id as usize] as usize]));
        id
    }

    /// The string for an id.
    pub fn get(&self, id: u32) -> &str {
        match id as usize {
            0 => "",
            i if i < self.ends.len() => &self.text[self.ends[i - 1] as usize..self.ends[i] as usize],
            _ => "",
        }
    }

    /// Every value, in id order (id 0, the empty value, first).
    fn values(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|i| self.get(i))
    }

    /// Number of distinct values (plus the empty one).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether only the empty value is held.
    pub fn is_empty(&self) -> bool {
        self.ends.len() <= 1
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

impl Prepared {
    /// Normalises and interns the records (one thread; files are read on
    /// every core by filling one [`Partial`] per chunk).
    pub fn from_records(records: Vec<LinkRecord>) -> Prepared {
        let mut part = Partial::new();
        for r in records {
            part.push(r);
        }
        Prepared::from_partials(vec![part])
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

    /// A hash of everything linkage compares about record `i`: a reviewer's
    /// decision holds only while both records' fingerprints are unchanged.
    pub fn fingerprint(&self, i: usize) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        for v in [
            self.ids.get(self.upn[i]),
            self.ids.get(self.former_upn[i]),
            self.ids.get(self.nhs[i]),
            self.names.get(self.forename[i]),
            self.names.get(self.surname[i]),
            self.names.get(self.former_surname[i]),
            self.places.get(self.postcode[i]),
            self.places.get(self.address[i]),
        ] {
            v.hash(&mut h);
        }
        (self.dob[i], self.sex[i]).hash(&mut h);
        h.finish()
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

/// Records prepared on one thread, with interned values of its own; several
/// are merged by [`Prepared::from_partials`]. Reading a large file on every
/// core fills one per chunk, so no record is held as strings for long.
#[derive(Default)]
pub struct Partial {
    names: Interner,
    ids: Interner,
    places: Interner,
    truths: Interner,
    sources: Vec<String>,
    source: Vec<u16>,
    record_id: Vec<String>,
    upn: Vec<u32>,
    former_upn: Vec<u32>,
    nhs: Vec<u32>,
    forename: Vec<u32>,
    surname: Vec<u32>,
    former_surname: Vec<u32>,
    dob: Vec<i32>,
    dob_ymd: Vec<(i32, u8, u8)>,
    sex: Vec<u8>,
    postcode: Vec<u32>,
    sector: Vec<u32>,
    district: Vec<u32>,
    area: Vec<u32>,
    address: Vec<u32>,
    truth: Vec<u32>,
    buf: String,
}

impl Partial {
    /// The (source, record id) of every record added so far.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.source.iter().zip(&self.record_id).map(|(&s, id)| (self.sources[usize::from(s)].as_str(), id.as_str()))
    }

    /// An empty partial.
    pub fn new() -> Partial {
        Partial {
            names: Interner::new(),
            ids: Interner::new(),
            places: Interner::new(),
            truths: Interner::new(),
            ..Partial::default()
        }
    }

    fn name(&mut self, s: &Option<String>) -> u32 {
        match s {
            None => 0,
            Some(s) => {
                normalise_into(&mut self.buf, s);
                self.names.id(&self.buf)
            }
        }
    }

    fn place(&mut self, prefix: &str, parts: &[&str]) -> u32 {
        self.buf.clear();
        self.buf.push_str(prefix);
        for p in parts {
            self.buf.push_str(p);
        }
        self.places.id(&self.buf)
    }

    /// Adds a record.
    pub fn push(&mut self, r: LinkRecord) {
        let sid = match self.sources.iter().position(|s| *s == r.source) {
            Some(i) => i as u16,
            None => {
                self.sources.push(r.source);
                (self.sources.len() - 1) as u16
            }
        };
        self.source.push(sid);
        let upn = r.upn.map_or(0, |u| self.ids.id(u.as_str()));
        self.upn.push(upn);
        let former = r.former_upn.map_or(0, |u| self.ids.id(u.as_str()));
        self.former_upn.push(former);
        let nhs = r.nhs_number.map_or(0, |x| self.ids.id(&x.digits()));
        self.nhs.push(nhs);
        let (f, s, fs) = (self.name(&r.forename), self.name(&r.surname), self.name(&r.former_surname));
        self.forename.push(f);
        self.surname.push(s);
        self.former_surname.push(fs);
        self.dob.push(r.dob.map_or(i32::MIN, |d| d.num_days_from_ce()));
        self.dob_ymd.push(r.dob.map_or((0, 0, 0), |d| (d.year(), d.month() as u8, d.day() as u8)));
        self.sex.push(match r.sex {
            Some(Sex::Male) => 1,
            Some(Sex::Female) => 2,
            _ => 0,
        });
        let compact: String = match r.postcode.as_deref() {
            Some(p) if p.bytes().any(|b| b.is_ascii_lowercase() || b == b' ') => {
                p.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect()
            }
            Some(p) => p.to_string(),
            None => String::new(),
        };
        let (full, sector, district, area) = if compact.is_empty() {
            (0, 0, 0, 0)
        } else if let Some((out, inw)) = Postcode::split_compact(&compact) {
            let letters = out.bytes().take_while(u8::is_ascii_alphabetic).count();
            (
                self.place("", &[out, " ", inw]),
                self.place("S:", &[out, " ", &inw[..1]]),
                self.place("D:", &[out]),
                self.place("A:", &[&out[..letters]]),
            )
        } else {
            (self.place("", &[&compact]), 0, 0, 0)
        };
        self.postcode.push(full);
        self.sector.push(sector);
        self.district.push(district);
        self.area.push(area);
        let address = match r.address.as_deref() {
            None => 0,
            Some(a) => {
                let mut norm = std::mem::take(&mut self.buf);
                normalise_into(&mut norm, a);
                let id = if norm.is_empty() { 0 } else { self.place("@", &[&norm]) };
                self.buf = norm;
                id
            }
        };
        self.address.push(address);
        let truth = r.truth.as_deref().map_or(0, |t| self.truths.id(t));
        self.truth.push(truth);
        self.record_id.push(r.record_id);
    }
}

/// Maps a partial's local ids to global ones, interning as it goes.
fn remap(global: &mut Interner, local: &Interner) -> Vec<u32> {
    local.values().map(|v| global.id(v)).collect()
}

impl Prepared {
    /// Merges partials (in order) into one prepared set, then orders it.
    pub fn from_partials(parts: Vec<Partial>) -> Prepared {
        let n: usize = parts.iter().map(|p| p.source.len()).sum();
        let mut names = Interner::new();
        let mut ids = Interner::new();
        let mut places = Interner::new();
        let mut truths = Interner::new();
        let mut sources: Vec<String> = Vec::new();
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
            ids: Arc::new(Interner::new()),
            names: Arc::new(Interner::new()),
            places: Arc::new(Interner::new()),
            truths: Arc::new(Interner::new()),
            name_tf: Arc::new(Vec::new()),
            postcode_tf: Arc::new(Vec::new()),
        };
        for part in parts {
            let source_map: Vec<u16> = part
                .sources
                .iter()
                .map(|s| match sources.iter().position(|x| x == s) {
                    Some(i) => i as u16,
                    None => {
                        sources.push(s.clone());
                        (sources.len() - 1) as u16
                    }
                })
                .collect();
            let (nm, im, pm, tm) = (
                remap(&mut names, &part.names),
                remap(&mut ids, &part.ids),
                remap(&mut places, &part.places),
                remap(&mut truths, &part.truths),
            );
            let via = |map: &[u32], col: &[u32]| col.iter().map(|&v| map[v as usize]).collect::<Vec<u32>>();
            p.source.extend(part.source.iter().map(|&s| source_map[usize::from(s)]));
            p.upn.extend(via(&im, &part.upn));
            p.former_upn.extend(via(&im, &part.former_upn));
            p.nhs.extend(via(&im, &part.nhs));
            p.forename.extend(via(&nm, &part.forename));
            p.surname.extend(via(&nm, &part.surname));
            p.former_surname.extend(via(&nm, &part.former_surname));
            p.postcode.extend(via(&pm, &part.postcode));
            p.sector.extend(via(&pm, &part.sector));
            p.district.extend(via(&pm, &part.district));
            p.area.extend(via(&pm, &part.area));
            p.address.extend(via(&pm, &part.address));
            p.truth.extend(via(&tm, &part.truth));
            p.dob.extend(part.dob);
            p.dob_ymd.extend(part.dob_ymd);
            p.sex.extend(part.sex);
            p.record_id.extend(part.record_id);
        }
        p.sources = sources;
        p.name_tf = Arc::new(frequencies(names.len(), [&p.forename, &p.surname]));
        p.postcode_tf = Arc::new(frequencies(places.len(), [&p.postcode]));
        p.ids = Arc::new(ids);
        p.names = Arc::new(names);
        p.places = Arc::new(places);
        p.truths = Arc::new(truths);
        p.order()
    }
}
