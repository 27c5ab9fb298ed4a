//! Records turned into columns of small integers: every string is normalised
//! and interned once, so comparing two records is mostly integer equality,
//! and the fuzzy string measures run once per distinct pair of values.

use std::sync::Arc;

use chrono::Datelike;
use cnis_core::Postcode;
use cnis_core::records::{LinkRecord, Sex};

/// Interned strings; id 0 means "no value". All the text lives in one
/// buffer and the table holds only ids (each value's hash is kept beside,
/// so growing the table never hashes a value again), so interning a new
/// value costs no allocation of its own (a million distinct UPNs would
/// otherwise be two million small allocations).
#[derive(Debug, Clone)]
pub struct Interner {
    table: hashbrown::HashTable<u32>,
    /// Each value's hash, by id, so growing the table hashes nothing again.
    hashes: Vec<u64>,
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
        Interner { table: hashbrown::HashTable::new(), hashes: vec![0], text: String::new(), ends: vec![0] }
    }

    /// Room for `bytes` more text.
    fn reserve_text(&mut self, bytes: usize) {
        self.text.reserve(bytes);
    }

    fn id(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        self.id_hashed(s, hash_str(s))
    }

    fn id_hashed(&mut self, s: &str, hash: u64) -> u32 {
        let (text, ends, hashes) = (&self.text, &self.ends, &self.hashes);
        let value = |id: u32| &text[ends[id as usize - 1] as usize..ends[id as usize] as usize];
        if let Some(&id) = self.table.find(hash, |&id| hashes[id as usize] == hash && value(id) == s) {
            return id;
        }
        let id = self.ends.len() as u32;
        self.text.push_str(s);
        self.ends.push(self.text.len() as u32);
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.table.insert_unique(hash, id, |&id| hashes[id as usize]);
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

/// One text per record, all in one buffer (record `i` is
/// `text[ends[i]..ends[i + 1]]`; empty = missing). For values that are
/// nearly all distinct and never blocked on, such as addresses, this costs
/// less than interning: no hash table, and merging chunks is a copy.
#[derive(Debug, Clone)]
pub struct Texts {
    text: String,
    ends: Vec<u32>,
}

impl Default for Texts {
    fn default() -> Self {
        Texts { text: String::new(), ends: vec![0] }
    }
}

impl Texts {
    /// Record `i`'s text ("" when missing).
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        match (self.ends.get(i), self.ends.get(i + 1)) {
            (Some(&s), Some(&e)) => &self.text[s as usize..e as usize],
            _ => "",
        }
    }

    /// Whether record `i` has no text.
    #[inline]
    pub fn is_missing(&self, i: usize) -> bool {
        self.get(i).is_empty()
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len() as u32);
    }

    fn extend(&mut self, other: &Texts) {
        let base = self.text.len() as u32;
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().skip(1).map(|&e| e + base));
    }

    fn gather(&self, idx: &[usize]) -> Texts {
        let mut out = Texts { text: String::with_capacity(self.text.len()), ends: Vec::with_capacity(idx.len() + 1) };
        out.ends.push(0);
        for &i in idx {
            out.push(self.get(i));
        }
        out
    }
}

/// A valid UPN as a number, so UPNs need no interning: the check letter,
/// eleven digits and a last digit or letter (a temporary UPN) in 47 bits;
/// never 0, which means "no UPN". [`upn_text`] turns it back.
pub fn upn_code(u: &cnis_core::Upn) -> u64 {
    let b = u.as_str().as_bytes();
    let digit = |c: u8| u64::from(c.wrapping_sub(b'0')) % 10;
    let first = u64::from(b[0].wrapping_sub(b'A')) % 26 + 1;
    let middle = b[1..12].iter().fold(0u64, |acc, &c| acc * 10 + digit(c));
    let last = if b[12].is_ascii_digit() { digit(b[12]) } else { 10 + u64::from(b[12].wrapping_sub(b'A')) % 26 };
    (first * 100_000_000_000 + middle) * 36 + last
}

/// The 13 characters of a UPN from [`upn_code`].
pub fn upn_text(code: u64) -> [u8; 13] {
    let mut out = [b'0'; 13];
    let last = (code % 36) as u8;
    out[12] = if last < 10 { b'0' + last } else { b'A' + last - 10 };
    let mut rest = code / 36;
    for c in out[1..12].iter_mut().rev() {
        *c = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out[0] = b'A' + (rest.saturating_sub(1) % 26) as u8;
    out
}

/// Upper case letters only, runs of anything else as one space.
pub fn normalise_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalise_into(&mut out, s);
    out
}

/// [`normalise_name`] into a buffer, so a loop allocates nothing.
fn normalise_into(out: &mut String, s: &str) {
    normalise_kept(out, s, char::is_alphabetic);
}

/// Keeps the characters `keep` accepts, in upper case, with each run of
/// anything else (but apostrophes, which join: O'Brien) as one space.
#[inline]
fn normalise_kept(out: &mut String, s: &str, keep: impl Fn(char) -> bool) {
    out.clear();
    let mut gap = false;
    if s.is_ascii() {
        for &b in s.as_bytes() {
            if keep(char::from(b)) {
                if gap && !out.is_empty() {
                    out.push(' ');
                }
                gap = false;
                out.push(char::from(b.to_ascii_uppercase()));
            } else if b != b'\'' {
                gap = true;
            }
        }
        return;
    }
    for c in s.chars() {
        if keep(c) {
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

/// Upper case letters and digits, runs of anything else as one space: an
/// address keeps its house number, which names do not need.
pub fn normalise_address(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalise_address_into(&mut out, s);
    out
}

fn normalise_address_into(out: &mut String, s: &str) {
    normalise_kept(out, s, char::is_alphanumeric);
}

/// Upper case letters and digits only: an identifier as written, with its
/// spaces and punctuation dropped.
fn normalise_id_into(out: &mut String, s: &str) {
    out.clear();
    out.extend(s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase));
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
    pub upn: Vec<u64>,
    /// Former UPN ids.
    pub former_upn: Vec<u64>,
    /// A UPN as written where it failed its check (`ids` interner): compared
    /// character by character, never matched exactly.
    pub upn_text: Vec<u32>,
    /// NHS number ids.
    pub nhs: Vec<u32>,
    /// Case id ids (`ids` interner).
    pub case_id: Vec<u32>,
    /// Name ids (`names` interner).
    pub forename: Vec<u32>,
    /// Middle names ids (`names` interner).
    pub middle: Vec<u32>,
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
    /// Addresses (normalised, house numbers kept).
    pub address: Texts,
    /// Truth labels ("" when none), only read by evaluation.
    pub truth: Texts,
    /// Identifier values.
    pub ids: Arc<Interner>,
    /// Name values.
    pub names: Arc<Interner>,
    /// Postcodes, postcode parts and addresses.
    pub places: Arc<Interner>,
    /// Term-frequency adjustment of an exact forename agreement, per name
    /// id: log2(u / tf), where tf is the value's share of forenames and u the
    /// chance that two random forenames agree. Common names weigh less.
    pub forename_tf: Arc<Vec<f32>>,
    /// The same for surnames.
    pub surname_tf: Arc<Vec<f32>>,
    /// Per name id: the formal names it is or is a short form of
    /// ([`cnis_core::names::root_mask`]); Becky and Rebecca share a bit.
    pub name_roots: Arc<Vec<u128>>,
    /// The same for postcodes, per `places` id.
    pub postcode_tf: Arc<Vec<f32>>,
    /// What to add to the adjustments of forename, surname and postcode
    /// (in that order) for a pair found by a blocking rule that makes the
    /// field agree: log2(u' / u), where u' = sum tf^3 / sum tf^2 is the chance
    /// that two values agree among pairs that share one (common values make
    /// most of those pairs). The rule's own match share already counts the
    /// average agreement; the adjustment then says how this value differs.
    pub tf_within_block: [f32; 3],
    /// Per source: whether it lists each child at most once (a census). Two
    /// of its records are never compared and never put into one child
    /// unless they carry the same UPN.
    pub unique: Vec<bool>,
    /// The first (source, record id) found on two records, if any.
    pub duplicate: Option<(String, String)>,
}

impl Prepared {
    /// Whether two name ids are variants of one name (Becky, Rebecca).
    #[inline]
    pub fn variants(&self, a: u32, b: u32) -> bool {
        let roots = |id: u32| self.name_roots.get(id as usize).copied().unwrap_or(0);
        roots(a) & roots(b) != 0
    }

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
            std::str::from_utf8(&upn_text(self.upn[i])).unwrap_or_default(),
            std::str::from_utf8(&upn_text(self.former_upn[i])).unwrap_or_default(),
            self.ids.get(self.upn_text[i]),
            self.ids.get(self.nhs[i]),
            self.ids.get(self.case_id[i]),
            self.names.get(self.forename[i]),
            self.names.get(self.middle[i]),
            self.names.get(self.surname[i]),
            self.names.get(self.former_surname[i]),
            self.places.get(self.postcode[i]),
            self.address.get(i),
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

    /// Whether any record has a truth label.
    pub fn has_truth(&self) -> bool {
        (0..self.n).any(|i| !self.truth.is_missing(i))
    }

    /// Each record's truth label as a number (the same label, the same
    /// number; 0 for none), for evaluation.
    pub fn truth_ids(&self) -> Vec<u32> {
        let mut ids: rustc_hash::FxHashMap<&str, u32> = rustc_hash::FxHashMap::default();
        (0..self.n)
            .map(|i| match self.truth.get(i) {
                "" => 0,
                t => {
                    let next = ids.len() as u32 + 1;
                    *ids.entry(t).or_insert(next)
                }
            })
            .collect()
    }

    /// The name of record `i`'s source.
    pub fn source_name(&self, i: usize) -> &str {
        &self.sources[usize::from(self.source[i])]
    }

    /// States that `source` lists each child at most once (a census, or
    /// each of two files in a link-only job): its records are never compared
    /// with each other, and clustering never puts two of them into one child
    /// unless they carry the same UPN. Returns whether the source is present
    /// (a source with no records needs no marking).
    pub fn mark_unique(&mut self, source: &str) -> bool {
        match self.sources.iter().position(|s| s == source) {
            Some(i) => {
                self.unique[i] = true;
                true
            }
            None => false,
        }
    }

    /// [`Prepared::mark_unique`] for every source: a link-only job, where
    /// each file lists a person once and only pairs across files are scored.
    pub fn mark_all_unique(&mut self) {
        self.unique.iter_mut().for_each(|u| *u = true);
    }

    /// Whether records `a` and `b` come from one source that lists each
    /// child once, so that they are two children and never compared.
    #[inline]
    pub fn same_unique_source(&self, a: usize, b: usize) -> bool {
        self.source[a] == self.source[b] && self.unique[usize::from(self.source[a])]
    }

    /// Fails if two records share a (source, record id).
    pub fn check_keys(&self) -> Result<(), crate::Error> {
        match &self.duplicate {
            None => Ok(()),
            Some((source, record_id)) => {
                Err(crate::Error::DuplicateRecord { source_name: source.clone(), record_id: record_id.clone() })
            }
        }
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
            upn_text: pick(&self.upn_text, idx),
            nhs: pick(&self.nhs, idx),
            case_id: pick(&self.case_id, idx),
            forename: pick(&self.forename, idx),
            middle: pick(&self.middle, idx),
            surname: pick(&self.surname, idx),
            former_surname: pick(&self.former_surname, idx),
            dob: pick(&self.dob, idx),
            dob_ymd: pick(&self.dob_ymd, idx),
            sex: pick(&self.sex, idx),
            postcode: pick(&self.postcode, idx),
            sector: pick(&self.sector, idx),
            district: pick(&self.district, idx),
            area: pick(&self.area, idx),
            address: self.address.gather(idx),
            truth: self.truth.gather(idx),
            ids: Arc::clone(&self.ids),
            names: Arc::clone(&self.names),
            places: Arc::clone(&self.places),
            forename_tf: Arc::clone(&self.forename_tf),
            name_roots: Arc::clone(&self.name_roots),
            surname_tf: Arc::clone(&self.surname_tf),
            postcode_tf: Arc::clone(&self.postcode_tf),
            tf_within_block: self.tf_within_block,
            unique: self.unique.clone(),
            duplicate: self.duplicate.clone(),
        }
    }
}

/// Term-frequency adjustments for one column: per value id, log2(u / tf),
/// where tf is the value's share of the column's non-missing values and
/// u = sum of tf^2, the chance that two random values agree. Splink's
/// adjustment, as an amount added to the exact level's weight. Also the
/// shift for pairs within a block where the field agrees (see
/// [`Prepared::tf_within_block`]).
fn tf_adjustments(size: usize, column: &[u32]) -> (Vec<f32>, f32) {
    let mut counts = vec![0u64; size];
    let mut total = 0u64;
    for &v in column.iter().filter(|&&v| v != 0) {
        counts[v as usize] += 1;
        total += 1;
    }
    if total == 0 {
        return (vec![0.0; size], 0.0);
    }
    let t = total as f64;
    let u: f64 = counts.iter().map(|&c| (c as f64 / t).powi(2)).sum();
    let cubes: f64 = counts.iter().map(|&c| (c as f64 / t).powi(3)).sum();
    let shift = ((cubes / u) / u).log2() as f32;
    (counts.into_iter().map(|c| if c == 0 { 0.0 } else { (u / (c as f64 / t)).log2() as f32 }).collect(), shift)
}

/// Records prepared on one thread, with interned values of its own; several
/// are merged by [`Prepared::from_partials`]. Reading a large file on every
/// core fills one per chunk, so no record is held as strings for long.
#[derive(Default)]
pub struct Partial {
    names: Interner,
    ids: Interner,
    places: Interner,
    sources: Vec<String>,
    source: Vec<u16>,
    record_id: Vec<String>,
    upn: Vec<u64>,
    former_upn: Vec<u64>,
    upn_text: Vec<u32>,
    nhs: Vec<u32>,
    case_id: Vec<u32>,
    forename: Vec<u32>,
    middle: Vec<u32>,
    surname: Vec<u32>,
    former_surname: Vec<u32>,
    dob: Vec<i32>,
    dob_ymd: Vec<(i32, u8, u8)>,
    sex: Vec<u8>,
    postcode: Vec<u32>,
    sector: Vec<u32>,
    district: Vec<u32>,
    area: Vec<u32>,
    address: Texts,
    truth: Texts,
    buf: String,
    /// Postcodes as written (compacted), and each one's parts in `places`.
    raw_postcodes: Interner,
    postcode_parts: Vec<[u32; 4]>,
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
            raw_postcodes: Interner::new(),
            postcode_parts: vec![[0; 4]],
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

    fn id(&mut self, s: &Option<String>) -> u32 {
        match s {
            None => 0,
            Some(s) => {
                normalise_id_into(&mut self.buf, s);
                self.ids.id(&self.buf)
            }
        }
    }

    /// A compact postcode's full form, sector, district and area ids.
    fn postcode_parts_of(&mut self, compact: &str) -> [u32; 4] {
        if compact.is_empty() {
            [0; 4]
        } else if let Some((out, inw)) = Postcode::split_compact(compact) {
            let letters = out.bytes().take_while(u8::is_ascii_alphabetic).count();
            [
                self.place("", &[out, " ", inw]),
                self.place("S:", &[out, " ", &inw[..1]]),
                self.place("D:", &[out]),
                self.place("A:", &[&out[..letters]]),
            ]
        } else {
            [self.place("", &[compact]), 0, 0, 0]
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
        self.upn.push(r.upn.as_ref().map_or(0, upn_code));
        self.former_upn.push(r.former_upn.as_ref().map_or(0, upn_code));
        // A UPN that failed its check: compared by its characters only.
        let text = self.id(&r.upn_text);
        self.upn_text.push(text);
        let nhs = r.nhs_number.map_or(0, |x| self.ids.id(&x.digits()));
        self.nhs.push(nhs);
        let case = self.id(&r.case_id);
        self.case_id.push(case);
        let (f, s, fs) = (self.name(&r.forename), self.name(&r.surname), self.name(&r.former_surname));
        self.forename.push(f);
        self.surname.push(s);
        self.former_surname.push(fs);
        let m = self.name(&r.middle_names);
        self.middle.push(m);
        self.dob.push(r.dob.map_or(i32::MIN, |d| d.num_days_from_ce()));
        self.dob_ymd.push(r.dob.map_or((0, 0, 0), |d| (d.year(), d.month() as u8, d.day() as u8)));
        self.sex.push(match r.sex {
            Some(Sex::Male) => 1,
            Some(Sex::Female) => 2,
            _ => 0,
        });
        // Postcodes repeat (a household, a child's several records): each
        // distinct one is split into sector, district and area once.
        let (full, sector, district, area) = match r.postcode.as_deref() {
            None => (0, 0, 0, 0),
            Some(raw) => {
                self.buf.clear();
                self.buf.extend(raw.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()));
                let compact = std::mem::take(&mut self.buf);
                let k = self.raw_postcodes.id(&compact) as usize;
                if k >= self.postcode_parts.len() {
                    let parts = self.postcode_parts_of(&compact);
                    self.postcode_parts.resize(k + 1, [0; 4]);
                    self.postcode_parts[k] = parts;
                }
                self.buf = compact;
                let [a, b, c, d] = self.postcode_parts[k];
                (a, b, c, d)
            }
        };
        self.postcode.push(full);
        self.sector.push(sector);
        self.district.push(district);
        self.area.push(area);
        match r.address.as_deref() {
            None => self.address.push(""),
            Some(a) => {
                normalise_address_into(&mut self.buf, a);
                self.address.push(&self.buf);
            }
        }
        self.truth.push(r.truth.as_deref().unwrap_or(""));
        self.record_id.push(r.record_id);
    }
}

/// The first (source, record id) that two records share, in input order.
/// Sorting hashes of the keys and comparing neighbours costs less than a
/// hash set of a million strings.
fn first_duplicate(p: &Prepared) -> Option<(String, String)> {
    use rayon::slice::ParallelSliceMut;
    use std::hash::{Hash, Hasher};
    let mut keyed: Vec<(u64, u32)> = (0..p.n)
        .map(|i| {
            let mut h = rustc_hash::FxHasher::default();
            (p.source[i], p.record_id[i].as_str()).hash(&mut h);
            (h.finish(), i as u32)
        })
        .collect();
    keyed.par_sort_unstable();
    let key = |i: u32| (p.source[i as usize], p.record_id[i as usize].as_str());
    keyed
        .windows(2)
        .filter(|w| w[0].0 == w[1].0 && key(w[0].1) == key(w[1].1))
        .map(|w| w[1].1)
        .min()
        .map(|i| (p.sources[usize::from(p.source[i as usize])].clone(), p.record_id[i as usize].clone()))
}

/// Maps a partial's local ids to global ones, interning as it goes (with
/// the hashes the partial already computed).
fn remap(global: &mut Interner, local: &Interner) -> Vec<u32> {
    local.values().zip(&local.hashes).map(|(v, &h)| if v.is_empty() { 0 } else { global.id_hashed(v, h) }).collect()
}

impl Prepared {
    /// Merges partials (in order) into one prepared set, then orders it.
    pub fn from_partials(parts: Vec<Partial>) -> Prepared {
        let n: usize = parts.iter().map(|p| p.source.len()).sum();
        let mut names = Interner::new();
        let mut ids = Interner::new();
        let mut places = Interner::new();
        for (global, bytes) in [
            (&mut names, parts.iter().map(|x| x.names.text.len()).max()),
            (&mut ids, parts.iter().map(|x| x.ids.text.len()).max()),
            (&mut places, parts.iter().map(|x| x.places.text.len()).max()),
        ] {
            global.reserve_text(bytes.unwrap_or(0));
        }
        let mut sources: Vec<String> = Vec::new();
        let mut p = Prepared {
            n,
            source: Vec::with_capacity(n),
            sources: Vec::new(),
            record_id: Vec::with_capacity(n),
            upn: Vec::with_capacity(n),
            former_upn: Vec::with_capacity(n),
            upn_text: Vec::with_capacity(n),
            nhs: Vec::with_capacity(n),
            case_id: Vec::with_capacity(n),
            forename: Vec::with_capacity(n),
            middle: Vec::with_capacity(n),
            surname: Vec::with_capacity(n),
            former_surname: Vec::with_capacity(n),
            dob: Vec::with_capacity(n),
            dob_ymd: Vec::with_capacity(n),
            sex: Vec::with_capacity(n),
            postcode: Vec::with_capacity(n),
            sector: Vec::with_capacity(n),
            district: Vec::with_capacity(n),
            area: Vec::with_capacity(n),
            address: Texts::default(),
            truth: Texts::default(),
            ids: Arc::new(Interner::new()),
            names: Arc::new(Interner::new()),
            places: Arc::new(Interner::new()),
            forename_tf: Arc::new(Vec::new()),
            name_roots: Arc::new(Vec::new()),
            surname_tf: Arc::new(Vec::new()),
            postcode_tf: Arc::new(Vec::new()),
            tf_within_block: [0.0; 3],
            unique: Vec::new(),
            duplicate: None,
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
            // The four value sets are independent: merge them side by side.
            let ((nm, im), pm) = rayon::join(
                || rayon::join(|| remap(&mut names, &part.names), || remap(&mut ids, &part.ids)),
                || remap(&mut places, &part.places),
            );
            let via = |map: &[u32], col: &[u32]| col.iter().map(|&v| map[v as usize]).collect::<Vec<u32>>();
            p.source.extend(part.source.iter().map(|&s| source_map[usize::from(s)]));
            p.upn.extend(&part.upn);
            p.former_upn.extend(&part.former_upn);
            p.upn_text.extend(via(&im, &part.upn_text));
            p.nhs.extend(via(&im, &part.nhs));
            p.case_id.extend(via(&im, &part.case_id));
            p.forename.extend(via(&nm, &part.forename));
            p.middle.extend(via(&nm, &part.middle));
            p.surname.extend(via(&nm, &part.surname));
            p.former_surname.extend(via(&nm, &part.former_surname));
            p.postcode.extend(via(&pm, &part.postcode));
            p.sector.extend(via(&pm, &part.sector));
            p.district.extend(via(&pm, &part.district));
            p.area.extend(via(&pm, &part.area));
            p.address.extend(&part.address);
            p.truth.extend(&part.truth);
            p.dob.extend(part.dob);
            p.dob_ymd.extend(part.dob_ymd);
            p.sex.extend(part.sex);
            p.record_id.extend(part.record_id);
        }
        p.unique = vec![false; sources.len()];
        p.sources = sources;
        p.duplicate = first_duplicate(&p);
        let (forename_tf, forename_shift) = tf_adjustments(names.len(), &p.forename);
        let (surname_tf, surname_shift) = tf_adjustments(names.len(), &p.surname);
        let (postcode_tf, postcode_shift) = tf_adjustments(places.len(), &p.postcode);
        p.forename_tf = Arc::new(forename_tf);
        p.name_roots = Arc::new((0..names.len() as u32).map(|id| cnis_core::names::root_mask(names.get(id))).collect());
        p.surname_tf = Arc::new(surname_tf);
        p.postcode_tf = Arc::new(postcode_tf);
        p.tf_within_block = [forename_shift, surname_shift, postcode_shift];
        p.ids = Arc::new(ids);
        p.names = Arc::new(names);
        p.places = Arc::new(places);
        p.order()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A UPN's number turns back into the UPN, and two UPNs share a
        /// number only if they are the same.
        #[test]
        fn upn_codes_round_trip(la in 201u16..940, estab in 0u16..10_000, year in 0u8..100, serial in 0u16..1000) {
            if let Ok(la) = cnis_core::LaCode::from_number(la)
                && let Ok(u) = cnis_core::Upn::from_parts(la, estab, year, serial)
            {
                let code = upn_code(&u);
                prop_assert!(code != 0);
                let text = upn_text(code);
                prop_assert_eq!(&text[..], u.as_str().as_bytes());
            }
        }
    }

    #[test]
    fn temporary_upns_round_trip() {
        let u = cnis_core::Upn::parse("G80120000101A").expect("a temporary UPN");
        assert_eq!(&upn_text(upn_code(&u)), b"G80120000101A");
        let v = cnis_core::Upn::parse("H801200001001").expect("a UPN");
        assert_ne!(upn_code(&u), upn_code(&v));
        assert_eq!(&upn_text(upn_code(&v)), b"H801200001001");
    }
}
