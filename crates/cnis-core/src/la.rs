//! English local authorities: the DfE 3-digit number and the ONS 9-character
//! code, with name and region, from DfE's own lookup (compiled in).

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use crate::IdError;

const TABLE: &str = include_str!("../data/la-codes.csv");

/// Whether an LA's ONS code is in use today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaStatus {
    /// Still in use.
    Live,
    /// Replaced by a reorganisation; UPNs it issued stay valid.
    Terminated,
}

/// What the lookup knows about one LA number.
#[derive(Debug, Clone)]
pub struct LaInfo {
    /// DfE 3-digit LA number.
    pub number: u16,
    /// ONS 9-character code in force (the live one where there is one).
    pub ons_code: String,
    /// Name as DfE statistics spell it.
    pub name: String,
    /// ONS region code (`E12000001` ..).
    pub region_code: String,
    /// Region name.
    pub region_name: String,
    /// Live or terminated.
    pub status: LaStatus,
}

struct Table {
    by_number: HashMap<u16, LaInfo>,
    by_ons: HashMap<String, u16>,
    live: Vec<u16>,
}

static LAS: LazyLock<Table> = LazyLock::new(|| {
    let mut by_number: HashMap<u16, LaInfo> = HashMap::new();
    let mut by_ons = HashMap::new();
    let mut rdr = csv::Reader::from_reader(TABLE.as_bytes());
    for rec in rdr.records().flatten() {
        let Ok(number) = rec.get(0).unwrap_or("").parse::<u16>() else { continue };
        let status = if rec.get(7) == Some("live") { LaStatus::Live } else { LaStatus::Terminated };
        let info = LaInfo {
            number,
            ons_code: rec.get(1).unwrap_or("").to_string(),
            name: rec.get(2).unwrap_or("").to_string(),
            region_code: rec.get(5).unwrap_or("").to_string(),
            region_name: rec.get(6).unwrap_or("").to_string(),
            status,
        };
        by_ons.insert(info.ons_code.clone(), number);
        // A number can have a terminated and a live ONS code; keep the live one.
        let keep_old = by_number.get(&number).is_some_and(|old| old.status == LaStatus::Live);
        if !keep_old {
            by_number.insert(number, info);
        }
    }
    let mut live: Vec<u16> =
        by_number.values().filter(|i| i.status == LaStatus::Live && i.number != BFPO).map(|i| i.number).collect();
    live.sort_unstable();
    Table { by_number, by_ons, live }
});

/// British Forces Post Office overseas establishments: a UPN issuer, not an LA.
const BFPO: u16 = 702;

/// An English local authority (or a former one), by its DfE number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LaCode(u16);

impl LaCode {
    /// Parses a DfE 3-digit number (`801`) or an ONS code (`E06000023`).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(IdError::Empty { kind: "LA code" });
        }
        if let Ok(n) = s.parse::<u16>() {
            return LaCode::from_number(n);
        }
        LAS.by_ons.get(&s.to_ascii_uppercase()).map(|&n| LaCode(n)).ok_or(IdError::UnknownLa)
    }

    /// The LA with this DfE number, live or terminated.
    pub fn from_number(n: u16) -> Result<Self, IdError> {
        if LAS.by_number.contains_key(&n) { Ok(LaCode(n)) } else { Err(IdError::UnknownLa) }
    }

    /// Whether a UPN's characters 2-4 may hold this number: every English
    /// code, live or terminated, BFPO, and the Welsh LAs (660-681), whose
    /// UPNs are valid in England.
    pub fn is_upn_issuer(n: u16) -> bool {
        LAS.by_number.contains_key(&n) || (660..=681).contains(&n)
    }

    /// The 153 LAs with education functions today, by number.
    pub fn live() -> impl Iterator<Item = LaCode> {
        LAS.live.iter().map(|&n| LaCode(n))
    }

    /// The DfE 3-digit number.
    pub fn number(self) -> u16 {
        self.0
    }

    /// Name, ONS code and region.
    pub fn info(self) -> &'static LaInfo {
        // Construction guarantees the number is in the table.
        &LAS.by_number[&self.0]
    }
}

impl fmt::Display for LaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

impl fmt::Debug for LaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LaCode({:03})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_from_the_lookup() {
        assert_eq!(LaCode::live().count(), 153);
        let sheffield = LaCode::parse("373").expect("known");
        assert_eq!(sheffield.info().ons_code, "E08000039");
        assert_eq!(sheffield.info().status, LaStatus::Live);
        assert_eq!(LaCode::parse("E08000019").expect("old ONS code").number(), 373);
        assert_eq!(LaCode::parse("909").expect("Cumbria").info().status, LaStatus::Terminated);
        assert_eq!(LaCode::parse("950"), Err(IdError::UnknownLa));
        let london = LaCode::live().filter(|l| l.info().region_name == "London").count();
        assert_eq!(london, 33);
    }
}
