//! The comparisons: for a pair of records, one level per field. Level 0
//! always means "a value is missing on one side": it carries no weight.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::prepare::Prepared;

/// The fields compared, in a fixed order (a pattern is one level per field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// UPN or former UPN.
    Upn,
    /// NHS number.
    Nhs,
    /// Forename.
    Forename,
    /// Surname.
    Surname,
    /// Date of birth.
    Dob,
    /// Sex.
    Sex,
    /// Postcode.
    Postcode,
    /// Address.
    Address,
}

/// Every field, in pattern order.
pub const FIELDS: [Field; 8] =
    [Field::Upn, Field::Nhs, Field::Forename, Field::Surname, Field::Dob, Field::Sex, Field::Postcode, Field::Address];

/// Bits per field in a packed pattern.
pub const BITS: u32 = 3;

impl Field {
    /// Level labels; index = level. Level 0 is "missing".
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Field::Upn => &["missing", "same UPN (or former UPN)", "different UPNs"],
            Field::Nhs => &["missing", "same NHS number", "different NHS numbers"],
            Field::Forename => &[
                "missing",
                "exact",
                "forename and surname swapped",
                "Jaro-Winkler >= 0.92",
                "Jaro-Winkler >= 0.80 or at most 2 edits",
                "different",
            ],
            Field::Surname => &[
                "missing",
                "exact",
                "matches a former surname, or swapped with forename",
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
            Field::Postcode => &["missing", "exact", "same sector", "same district", "same area", "different"],
            Field::Address => &["missing", "exact", "Jaro-Winkler >= 0.90", "different"],
        }
    }

    /// The level whose u-probability term frequencies replace, if any.
    pub fn tf_level(self) -> Option<u8> {
        match self {
            Field::Forename | Field::Surname | Field::Postcode => Some(1),
            _ => None,
        }
    }

    /// The field's name in files.
    pub fn name(self) -> &'static str {
        match self {
            Field::Upn => "upn",
            Field::Nhs => "nhs_number",
            Field::Forename => "forename",
            Field::Surname => "surname",
            Field::Dob => "dob",
            Field::Sex => "sex",
            Field::Postcode => "postcode",
            Field::Address => "address",
        }
    }
}

/// A comparison vector: one level per field.
pub type Pattern = [u8; 8];

/// Packs a pattern into an integer key.
pub fn pack(p: &Pattern) -> u32 {
    p.iter().enumerate().fold(0u32, |acc, (i, &l)| acc | (u32::from(l) << (BITS * i as u32)))
}

/// Unpacks [`pack`].
pub fn unpack(k: u32) -> Pattern {
    let mut p = [0u8; 8];
    for (i, l) in p.iter_mut().enumerate() {
        *l = ((k >> (BITS * i as u32)) & ((1 << BITS) - 1)) as u8;
    }
    p
}

/// Fuzzy-name results, memoised per distinct pair of values. Each worker
/// thread keeps its own.
#[derive(Default)]
pub struct Cache {
    names: FxHashMap<(u32, u32), u8>,
    places: FxHashMap<(u32, u32), bool>,
    /// Random pairs rarely repeat a pair of values: caching them only costs.
    off: bool,
    /// Leave the fuzzy fields (names, address) missing: for the random pairs
    /// past the budget that estimates their u.
    pub skip_fuzzy: bool,
}

/// 3 = JW >= 0.92; 4 = JW >= 0.80 or at most 2 edits; 5 = different.
fn fuzzy_level(a: &str, b: &str) -> u8 {
    let jw = crate::strings::jaro_winkler(a, b);
    if jw >= 0.92 {
        3
    } else if jw >= 0.80 || crate::strings::within_two_edits(a, b) {
        4
    } else {
        5
    }
}

impl Cache {
    /// A cache that computes every time (for random pairs).
    pub fn disabled() -> Self {
        Cache { off: true, ..Cache::default() }
    }

    fn name(&mut self, p: &Prepared, a: u32, b: u32) -> u8 {
        if self.off {
            return fuzzy_level(p.names.get(a), p.names.get(b));
        }
        let key = if a < b { (a, b) } else { (b, a) };
        *self.names.entry(key).or_insert_with(|| fuzzy_level(p.names.get(a), p.names.get(b)))
    }
    fn address(&mut self, p: &Prepared, a: u32, b: u32) -> bool {
        if self.off {
            return crate::strings::jaro_winkler(p.places.get(a), p.places.get(b)) >= 0.90;
        }
        let key = if a < b { (a, b) } else { (b, a) };
        *self
            .places
            .entry(key)
            .or_insert_with(|| crate::strings::jaro_winkler(p.places.get(a), p.places.get(b)) >= 0.90)
    }
}

/// Compares records `a` and `b`.
pub fn compare(p: &Prepared, a: usize, b: usize, cache: &mut Cache) -> Pattern {
    let mut out = [0u8; 8];
    // UPN: any of the current and former UPNs of one equals any of the other's.
    let (ua, ub) = ([p.upn[a], p.former_upn[a]], [p.upn[b], p.former_upn[b]]);
    if ua.iter().any(|&x| x != 0) && ub.iter().any(|&x| x != 0) {
        let same = ua.iter().any(|&x| x != 0 && ub.contains(&x));
        out[0] = if same { 1 } else { 2 };
    }
    out[1] = exact_or_not(p.nhs[a], p.nhs[b]);
    if cache.skip_fuzzy {
        out[4] = dob_level(p, a, b);
        out[5] = if p.sex[a] == 0 || p.sex[b] == 0 {
            0
        } else if p.sex[a] == p.sex[b] {
            1
        } else {
            2
        };
        out[6] = postcode_level(p, a, b);
        return out;
    }
    let (fa, fb, sa, sb) = (p.forename[a], p.forename[b], p.surname[a], p.surname[b]);
    let swapped = fa != 0 && sa != 0 && fa == sb && sa == fb && fa != sa;
    out[2] = if fa == 0 || fb == 0 {
        0
    } else if fa == fb {
        1
    } else if swapped {
        2
    } else {
        cache.name(p, fa, fb)
    };
    out[3] = if sa == 0 || sb == 0 {
        0
    } else if sa == sb {
        1
    } else if swapped
        || (p.former_surname[a] != 0 && p.former_surname[a] == sb)
        || (p.former_surname[b] != 0 && p.former_surname[b] == sa)
    {
        2
    } else {
        cache.name(p, sa, sb)
    };
    out[4] = dob_level(p, a, b);
    out[5] = if p.sex[a] == 0 || p.sex[b] == 0 {
        0
    } else if p.sex[a] == p.sex[b] {
        1
    } else {
        2
    };
    out[6] = postcode_level(p, a, b);
    out[7] = if p.address[a] == 0 || p.address[b] == 0 {
        0
    } else if p.address[a] == p.address[b] {
        1
    } else if cache.address(p, p.address[a], p.address[b]) {
        2
    } else {
        3
    };
    out
}

fn postcode_level(p: &Prepared, a: usize, b: usize) -> u8 {
    if p.postcode[a] == 0 || p.postcode[b] == 0 {
        0
    } else if p.postcode[a] == p.postcode[b] {
        1
    } else if p.sector[a] != 0 && p.sector[a] == p.sector[b] {
        2
    } else if p.district[a] != 0 && p.district[a] == p.district[b] {
        3
    } else if p.area[a] != 0 && p.area[a] == p.area[b] {
        4
    } else {
        5
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

    #[test]
    fn patterns_pack_and_unpack() {
        let p = [1, 0, 5, 3, 2, 1, 4, 3];
        assert_eq!(unpack(pack(&p)), p);
        for f in FIELDS {
            assert!(f.levels().len() <= 1 << BITS);
        }
    }

    #[test]
    fn dob_levels() {
        use cnis_core::records::LinkRecord;
        let d = |y, m, dd| LinkRecord { dob: chrono::NaiveDate::from_ymd_opt(y, m, dd), ..LinkRecord::default() };
        let mut rs = vec![
            d(2014, 3, 5),
            d(2014, 3, 5),
            d(2014, 5, 3),
            d(2015, 3, 5),
            d(2014, 9, 9),
            d(2010, 9, 9),
            LinkRecord::default(),
        ];
        for (i, r) in rs.iter_mut().enumerate() {
            r.record_id = i.to_string();
        }
        let p = Prepared::new(&rs);
        let at = |id: &str| p.index_of("", id).expect("record");
        let levels: Vec<u8> = (1..7).map(|j| dob_level(&p, at("0"), at(&j.to_string()))).collect();
        assert_eq!(levels, [1, 2, 3, 4, 5, 0]);
    }
}
