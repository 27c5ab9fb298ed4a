//! The comparisons: for a pair of records, one level per field. Level 0
//! always means "a value is missing on one side": it carries no weight.
//!
//! Each piece of evidence is counted once. Postcode and address are one
//! comparison, `place`, because an address and its postcode say much the
//! same thing: two records at one address are almost always at one
//! postcode, so weighing them apart would count one home twice. Middle
//! names are a comparison of their own, and a forename that is the other
//! record's middle name is a level of the forename comparison (children are
//! often known by a middle name).

use serde::{Deserialize, Serialize};

use crate::prepare::{Prepared, upn_text};
use crate::strings::{jaro_winkler, within_one_edit, within_two_edits};

/// The fields compared, in a fixed order (a pattern is one level per field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// UPN or former UPN; a UPN that failed its check is compared by its
    /// characters.
    Upn,
    /// NHS number.
    Nhs,
    /// A case id shared across sources.
    CaseId,
    /// Forename.
    Forename,
    /// Middle names.
    MiddleNames,
    /// Surname.
    Surname,
    /// Date of birth.
    Dob,
    /// Sex.
    Sex,
    /// Postcode and address together.
    Place,
}

/// Number of fields.
pub const NF: usize = 9;

/// Every field, in pattern order.
pub const FIELDS: [Field; NF] = [
    Field::Upn,
    Field::Nhs,
    Field::CaseId,
    Field::Forename,
    Field::MiddleNames,
    Field::Surname,
    Field::Dob,
    Field::Sex,
    Field::Place,
];

/// Bits per field in a packed pattern.
pub const BITS: u32 = 3;

/// The place level from which the two postcodes are the same (levels 1 and
/// 2), where term frequencies of the postcode apply.
pub const PLACE_SAME_POSTCODE: [u8; 2] = [1, 2];

impl Field {
    /// Level labels; index = level. Level 0 is "missing".
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Field::Upn => &[
                "missing",
                "same UPN (or former UPN)",
                "one character apart (a UPN that failed its check)",
                "different UPNs (both pass their checks)",
            ],
            Field::Nhs => &["missing", "same NHS number", "different NHS numbers"],
            Field::CaseId => &["missing", "exact", "one edit apart", "two edits apart", "different"],
            Field::Forename => &[
                "missing",
                "exact",
                "forename and surname swapped",
                "one is the other's middle name or short form, or they share a name",
                "Jaro-Winkler >= 0.92",
                "Jaro-Winkler >= 0.80 or at most 2 edits",
                "different",
            ],
            Field::MiddleNames => &["missing", "exact", "a middle name in common", "Jaro-Winkler >= 0.92", "different"],
            Field::Surname => &[
                "missing",
                "exact",
                "a former surname, part of a double-barrelled name, or swapped",
                "Jaro-Winkler >= 0.92",
                "Jaro-Winkler >= 0.80 or at most 2 edits",
                "different",
            ],
            Field::Dob => &[
                "missing",
                "exact",
                "day and month swapped",
                "one of day, month, year differs",
                "within a year",
                "different",
            ],
            Field::Sex => &["missing", "same", "different"],
            Field::Place => &[
                "missing",
                "same postcode and address, or an address missing",
                "same postcode, address differs",
                "same address, postcode one character apart, same sector or missing",
                "postcode one character apart or same sector",
                "same postcode district",
                "same postcode area",
                "different",
            ],
        }
    }

    /// Whether exact agreement is weighted by how common the value is
    /// (levels 1 of names; levels 1 and 2, the same postcode, of place).
    pub fn term_frequency(self) -> bool {
        matches!(self, Field::Forename | Field::Surname | Field::Place)
    }

    /// The field's name in files.
    pub fn name(self) -> &'static str {
        match self {
            Field::Upn => "upn",
            Field::Nhs => "nhs_number",
            Field::CaseId => "case_id",
            Field::Forename => "forename",
            Field::MiddleNames => "middle_names",
            Field::Surname => "surname",
            Field::Dob => "dob",
            Field::Sex => "sex",
            Field::Place => "place",
        }
    }

    /// Position in a pattern.
    pub fn index(self) -> usize {
        FIELDS.iter().position(|&f| f == self).unwrap_or(0)
    }
}

/// A comparison vector: one level per field.
pub type Pattern = [u8; NF];

/// Packs a pattern into an integer key.
pub fn pack(p: &Pattern) -> u32 {
    p.iter().enumerate().fold(0u32, |acc, (i, &l)| acc | (u32::from(l) << (BITS * i as u32)))
}

/// Unpacks [`pack`].
pub fn unpack(k: u32) -> Pattern {
    let mut p = [0u8; NF];
    for (i, l) in p.iter_mut().enumerate() {
        *l = ((k >> (BITS * i as u32)) & ((1 << BITS) - 1)) as u8;
    }
    p
}

/// A direct-mapped memo of a measure per pair of value ids: a fixed table
/// where a pair's slot is fixed by its hash and a new pair overwrites the
/// old. Repeated pairs (common names) are found; a stream of new ones costs
/// one probe each, and the table never grows.
struct Memo {
    slots: Vec<(u32, u32, u8)>,
}

impl Memo {
    const BITS: u32 = 15;

    fn new() -> Memo {
        Memo { slots: Vec::new() }
    }

    #[inline]
    fn get(&mut self, a: u32, b: u32, compute: impl FnOnce() -> u8) -> u8 {
        if self.slots.is_empty() {
            // Empty ids never reach the memo, so (0, 0) marks a free slot.
            self.slots = vec![(0, 0, 0); 1 << Self::BITS];
        }
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        let h = (u64::from(a) << 32 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = &mut self.slots[(h >> (64 - Self::BITS)) as usize];
        if slot.0 == a && slot.1 == b {
            return slot.2;
        }
        let v = compute();
        *slot = (a, b, v);
        v
    }
}

/// Results of the string measures, memoised per pair of values. Each worker
/// thread keeps its own.
pub struct Cache {
    names: Memo,
    /// Leave the names missing: for the random pairs past the budget that
    /// estimates their u.
    pub skip_fuzzy: bool,
}

impl Default for Cache {
    fn default() -> Self {
        Cache { names: Memo::new(), skip_fuzzy: false }
    }
}

/// 4 = JW >= 0.92; 5 = JW >= 0.80 or at most 2 edits; 6 = different (the
/// forename's levels; surnames use one less).
fn fuzzy_level(a: &str, b: &str) -> u8 {
    let jw = jaro_winkler(a, b);
    if jw >= 0.92 {
        4
    } else if jw >= 0.80 || within_two_edits(a, b) {
        5
    } else {
        6
    }
}

/// Two addresses name one home: the same after normalising, or the same
/// house numbers and Jaro-Winkler at least 0.9 (a typo in the street name;
/// "12 Elm Road" and "14 Elm Road" are two homes).
fn same_address(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    fn numbers(s: &str) -> impl Iterator<Item = &str> {
        s.split(' ').filter(|w| w.bytes().any(|c| c.is_ascii_digit()))
    }
    numbers(a).eq(numbers(b)) && jaro_winkler(a, b) >= 0.90
}

impl Cache {
    /// A cache for random pairs (the same as the default: the memo is
    /// fixed in size, so pairs that never repeat cost one probe each).
    pub fn disabled() -> Self {
        Cache::default()
    }

    fn name(&mut self, p: &Prepared, a: u32, b: u32) -> u8 {
        self.names.get(a, b, || fuzzy_level(p.names.get(a), p.names.get(b)))
    }
}

/// Whether any word of `a` is a word of `b` (names normalised to words
/// joined by single spaces).
fn share_a_word(a: &str, b: &str) -> bool {
    if !a.contains(' ') && !b.contains(' ') {
        return !a.is_empty() && a == b;
    }
    a.split(' ').any(|w| !w.is_empty() && b.split(' ').any(|v| v == w))
}

/// Compares records `a` and `b`. Symmetric: `compare(a, b) == compare(b, a)`.
pub fn compare(p: &Prepared, a: usize, b: usize, cache: &mut Cache) -> Pattern {
    let mut out = [0u8; NF];
    out[0] = upn_level(p, a, b);
    out[1] = exact_or_not(p.nhs[a], p.nhs[b]);
    out[2] = case_id_level(p, a, b);
    out[6] = dob_level(p, a, b);
    out[7] = if p.sex[a] == 0 || p.sex[b] == 0 {
        0
    } else if p.sex[a] == p.sex[b] {
        1
    } else {
        2
    };
    out[8] = place_level(p, a, b);
    if cache.skip_fuzzy {
        return out;
    }
    let (fa, fb, sa, sb) = (p.forename[a], p.forename[b], p.surname[a], p.surname[b]);
    let swapped = fa != 0 && sa != 0 && fa == sb && sa == fb && fa != sa;
    out[3] = if fa == 0 || fb == 0 {
        0
    } else if fa == fb {
        1
    } else if swapped {
        2
    } else if middle_or_shared(p, a, b) || p.variants(fa, fb) {
        3
    } else {
        cache.name(p, fa, fb)
    };
    out[4] = middle_level(p, a, b, cache);
    out[5] = if sa == 0 || sb == 0 {
        0
    } else if sa == sb {
        1
    } else if swapped
        || (p.former_surname[a] != 0 && p.former_surname[a] == sb)
        || (p.former_surname[b] != 0 && p.former_surname[b] == sa)
        || share_a_word(p.names.get(sa), p.names.get(sb))
    {
        2
    } else {
        cache.name(p, sa, sb) - 1
    };
    out
}

/// A forename that is the other record's middle name, two forenames with a
/// word in common ("Mary Ann" and "Mary"), or a short form: one forename of
/// three letters or more that starts the other ("Sam" and "Samuel"). Short
/// forms that do not start the name (Becky, Rebecca) are
/// [`Prepared::variants`].
fn middle_or_shared(p: &Prepared, a: usize, b: usize) -> bool {
    let (ida, idb) = (p.forename[a], p.forename[b]);
    // A single-word middle name equal to the other forename is the same id.
    if (p.middle[b] != 0 && p.middle[b] == ida) || (p.middle[a] != 0 && p.middle[a] == idb) {
        return true;
    }
    let (fa, fb) = (p.names.get(ida), p.names.get(idb));
    let (short, long) = if fa.len() <= fb.len() { (fa, fb) } else { (fb, fa) };
    let within = |f: &str, m: u32| m != 0 && share_a_word(f, p.names.get(m));
    (short.len() >= 3 && long.starts_with(short))
        || share_a_word(fa, fb)
        || within(fa, p.middle[b])
        || within(fb, p.middle[a])
}

fn middle_level(p: &Prepared, a: usize, b: usize, cache: &mut Cache) -> u8 {
    let (ma, mb) = (p.middle[a], p.middle[b]);
    if ma == 0 || mb == 0 {
        0
    } else if ma == mb {
        1
    } else if share_a_word(p.names.get(ma), p.names.get(mb)) {
        2
    } else if cache.name(p, ma, mb) == 4 {
        // Jaro-Winkler at least 0.92.
        3
    } else {
        4
    }
}

fn upn_level(p: &Prepared, a: usize, b: usize) -> u8 {
    let (ua, ub) = ([p.upn[a], p.former_upn[a]], [p.upn[b], p.former_upn[b]]);
    let (valid_a, valid_b) = (ua.iter().any(|&x| x != 0), ub.iter().any(|&x| x != 0));
    if valid_a && valid_b && ua.iter().any(|&x| x != 0 && ub.contains(&x)) {
        return 1;
    }
    let (ta, tb) = (p.upn_text[a], p.upn_text[b]);
    if (!valid_a && ta == 0) || (!valid_b && tb == 0) {
        return 0;
    }
    // A UPN that failed its check against any UPN of the other record.
    if ta != 0 || tb != 0 {
        let text = |t: u32| p.ids.get(t).as_bytes().to_vec();
        let side = |t: u32, u: [u64; 2]| -> Vec<Vec<u8>> {
            let mut v: Vec<Vec<u8>> = u.iter().filter(|&&x| x != 0).map(|&x| upn_text(x).to_vec()).collect();
            if t != 0 {
                v.push(text(t));
            }
            v
        };
        let (xs, ys) = (side(ta, ua), side(tb, ub));
        // At least one side of each compared pair is a UPN as written.
        let (xt, yt) = (ta != 0, tb != 0);
        let close = xs.iter().enumerate().any(|(i, x)| {
            ys.iter().enumerate().any(|(j, y)| {
                let (x_text, y_text) = (xt && i == xs.len() - 1, yt && j == ys.len() - 1);
                (x_text || y_text)
                    && within_one_edit(std::str::from_utf8(x).unwrap_or(""), std::str::from_utf8(y).unwrap_or(""))
            })
        });
        if close {
            return 2;
        }
        // A UPN that failed its check may be wrong anywhere; only two UPNs
        // that pass their checks can be said to differ.
        return 0;
    }
    3
}

fn case_id_level(p: &Prepared, a: usize, b: usize) -> u8 {
    let (x, y) = (p.case_id[a], p.case_id[b]);
    if x == 0 || y == 0 {
        0
    } else if x == y {
        1
    } else {
        let (s, t) = (p.ids.get(x), p.ids.get(y));
        if within_one_edit(s, t) {
            2
        } else if within_two_edits(s, t) {
            3
        } else {
            4
        }
    }
}

fn place_level(p: &Prepared, a: usize, b: usize) -> u8 {
    let (pa, pb) = (p.postcode[a], p.postcode[b]);
    if pa != 0 && pb != 0 {
        // Addresses are read only where the postcodes leave room for them.
        let same_home = || {
            let (x, y) = (p.address.get(a), p.address.get(b));
            !x.is_empty() && !y.is_empty() && same_address(x, y)
        };
        if pa == pb {
            // With an address missing, the postcode is all there is, and
            // the chance of two records agreeing on it is the two levels'
            // chances together, which level 1 (most matches, and twins)
            // holds nearly all of. Level 2 would weigh a twin's notice
            // without an address as if the address were known to differ:
            // a level EM rarely sees among children known apart.
            let (x, y) = (p.address.get(a), p.address.get(b));
            return if x.is_empty() || y.is_empty() || same_address(x, y) { 1 } else { 2 };
        }
        // UK postcodes one character apart in another area are not looked for.
        let close = (p.sector[a] != 0 && p.sector[a] == p.sector[b])
            || ((p.area[a] == p.area[b] || p.area[a] == 0 || p.area[b] == 0)
                && within_one_edit(p.places.get(pa), p.places.get(pb)));
        return if close {
            if same_home() { 3 } else { 4 }
        } else if p.district[a] != 0 && p.district[a] == p.district[b] {
            5
        } else if p.area[a] != 0 && p.area[a] == p.area[b] {
            6
        } else {
            7
        };
    }
    // A postcode missing: the addresses alone, where both have one. A
    // postcode on one side and only an address on the other say nothing
    // against each other.
    let (x, y) = (p.address.get(a), p.address.get(b));
    if x.is_empty() || y.is_empty() {
        0
    } else if same_address(x, y) {
        3
    } else {
        7
    }
}

fn exact_or_not(a: u32, b: u32) -> u8 {
    if a == 0 || b == 0 {
        0
    } else if a == b {
        1
    } else {
        2
    }
}

fn dob_level(p: &Prepared, i: usize, j: usize) -> u8 {
    let (a, b) = (p.dob[i], p.dob[j]);
    if a == i32::MIN || b == i32::MIN {
        return 0;
    }
    if a == b {
        return 1;
    }
    let ((ya, ma, da), (yb, mb, db)) = (p.dob_ymd[i], p.dob_ymd[j]);
    if ya == yb && ma == db && da == mb {
        2
    } else if u8::from(ya == yb) + u8::from(ma == mb) + u8::from(da == db) == 2 {
        3
    } else if (a - b).abs() <= 366 {
        4
    } else {
        5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnis_core::records::LinkRecord;

    #[test]
    fn patterns_pack_and_unpack() {
        let p = [1, 0, 4, 5, 3, 2, 1, 2, 7];
        assert_eq!(unpack(pack(&p)), p);
        for f in FIELDS {
            assert!(f.levels().len() <= 1 << BITS);
            assert_eq!(FIELDS[f.index()], f);
        }
        assert!(BITS as usize * NF <= 32);
    }

    fn prepared(rs: Vec<LinkRecord>) -> Prepared {
        let rs: Vec<LinkRecord> =
            rs.into_iter().enumerate().map(|(i, r)| LinkRecord { record_id: i.to_string(), ..r }).collect();
        Prepared::new(&rs)
    }

    /// Levels of `field` for record 0 against each other record.
    fn levels(rs: Vec<LinkRecord>, field: Field) -> Vec<u8> {
        let n = rs.len();
        let p = prepared(rs);
        let at = |id: usize| p.index_of("", &id.to_string()).expect("record");
        (1..n).map(|j| compare(&p, at(0), at(j), &mut Cache::default())[field.index()]).collect()
    }

    #[test]
    fn dob_levels() {
        let d = |y, m, dd| LinkRecord { dob: chrono::NaiveDate::from_ymd_opt(y, m, dd), ..LinkRecord::default() };
        let rs = vec![
            d(2014, 3, 5),
            d(2014, 3, 5),
            d(2014, 5, 3),
            d(2015, 3, 5),
            d(2014, 9, 9),
            d(2010, 9, 9),
            LinkRecord::default(),
        ];
        assert_eq!(levels(rs, Field::Dob), [1, 2, 3, 4, 5, 0]);
    }

    #[test]
    fn forename_levels_know_middle_names() {
        let r = |f: &str, m: Option<&str>, s: &str| LinkRecord {
            forename: Some(f.into()),
            middle_names: m.map(Into::into),
            surname: Some(s.into()),
            ..LinkRecord::default()
        };
        let rs = vec![
            r("Oliver", Some("Noah James"), "Smith"),
            r("oliver", None, "Smith"),
            r("Smith", None, "Oliver"),
            r("Noah", None, "Smith"),
            r("Oli", None, "Smith"),
            r("Olivier", None, "Smith"),
            r("Olevar", None, "Smith"),
            r("Harry", None, "Smith"),
        ];
        assert_eq!(levels(rs.clone(), Field::Forename), [1, 2, 3, 3, 4, 5, 6]);
        // A short form that does not start the name.
        let becky = vec![r("Rebecca", None, "Smith"), r("Becky", None, "Smith"), r("Becca", None, "Smith")];
        assert_eq!(levels(becky, Field::Forename), [3, 3]);
        let ms = vec![
            r("A", Some("Noah James"), "S"),
            r("A", Some("Noah James"), "S"),
            r("A", Some("James"), "S"),
            r("A", Some("Noha Jmaes"), "S"),
            r("A", Some("Harry"), "S"),
            r("A", None, "S"),
        ];
        assert_eq!(levels(ms, Field::MiddleNames), [1, 2, 3, 4, 0]);
    }

    #[test]
    fn surname_levels() {
        let r = |s: &str, former: Option<&str>| LinkRecord {
            surname: Some(s.into()),
            former_surname: former.map(Into::into),
            ..LinkRecord::default()
        };
        let rs = vec![
            r("Smith-Jones", None),
            r("SMITH JONES", None),
            r("Jones", None),
            r("Brown", Some("Smith-Jones")),
            r("Smithjones", None),
            r("Patel", None),
        ];
        assert_eq!(levels(rs, Field::Surname), [1, 2, 2, 3, 5]);
    }

    #[test]
    fn place_counts_a_home_once() {
        let r = |pc: Option<&str>, addr: Option<&str>| LinkRecord {
            postcode: pc.map(Into::into),
            address: addr.map(Into::into),
            ..LinkRecord::default()
        };
        let rs = vec![
            r(Some("QA1A 1NF"), Some("12 Elm Road")),
            r(Some("QA1A1NF"), Some("12 elm road")),
            r(Some("QA1A 1NF"), Some("14 Elm Road")),
            r(Some("QA1A 1NE"), Some("12 Elm Raod")),
            r(Some("QA1A 1XX"), None),
            r(Some("QA1A 2XX"), Some("3 Oak Lane")),
            r(Some("QA9B 2XX"), Some("3 Oak Lane")),
            r(Some("QB2 2XX"), Some("3 Oak Lane")),
            r(None, Some("12 Elm Road")),
            r(None, None),
            r(Some("2119"), None),
        ];
        assert_eq!(levels(rs, Field::Place), [1, 2, 3, 4, 5, 6, 7, 3, 0, 7]);
        // Only a postcode against only an address: nothing to compare.
        let apart = vec![r(Some("QA1A 1NF"), None), r(None, Some("12 Elm Road")), r(None, Some("1 Ash Row"))];
        assert_eq!(levels(apart, Field::Place), [0, 0]);
        let addresses =
            vec![r(None, Some("12 Elm Road")), r(Some("QA1A 1NF"), Some("12 elm road")), r(None, Some("1 Ash Row"))];
        assert_eq!(levels(addresses, Field::Place), [3, 7]);
        // Postcodes outside the UK: one character apart is close.
        let au = vec![r(Some("2119"), Some("7 wallaby place")), r(Some("2191"), None), r(Some("2119"), None)];
        // The same postcode with an address missing is level 1: the postcode
        // is all there is to compare.
        assert_eq!(levels(au, Field::Place), [4, 1]);
    }

    #[test]
    fn upn_as_written_is_compared_by_its_characters() {
        let upn = |s: &str| cnis_core::Upn::parse(s).ok();
        let valid = "H801200001001";
        assert!(upn(valid).is_some());
        let la = cnis_core::LaCode::parse("801").expect("la");
        let other_valid = cnis_core::Upn::from_parts(la, 2000, 21, 7).expect("upn");
        let rs = vec![
            LinkRecord { upn: upn(valid), ..LinkRecord::default() },
            LinkRecord { upn: upn(valid), ..LinkRecord::default() },
            LinkRecord { upn_text: Some("H801200010001".into()), ..LinkRecord::default() },
            LinkRecord { upn_text: Some("H80120000100".into()), ..LinkRecord::default() },
            LinkRecord { upn_text: Some("A801299991009".into()), ..LinkRecord::default() },
            LinkRecord { upn: Some(other_valid), ..LinkRecord::default() },
            LinkRecord::default(),
        ];
        let got = levels(rs, Field::Upn);
        assert_eq!(got[0], 1);
        assert_eq!(&got[1..3], [2, 2]);
        // A UPN as written far from the other says nothing: it failed its
        // check, so it may be wrong anywhere. Two valid UPNs differ.
        assert_eq!(got[3], 0);
        assert_eq!(got[4], 3);
        assert_eq!(got[5], 0);
    }

    #[test]
    fn case_ids_within_one_or_two_edits() {
        let r = |c: &str| LinkRecord { case_id: Some(c.into()), ..LinkRecord::default() };
        let rs = vec![r("1804974"), r("1804974"), r("1809474"), r("1804975"), r("1804079"), r("5551212")];
        assert_eq!(levels(rs, Field::CaseId), [1, 2, 2, 3, 4]);
    }
}
