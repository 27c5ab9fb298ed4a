//! Reading the truth file back, for the demo and for tests.

use std::path::Path;

use crate::Error;

/// One row of `truth.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthRow {
    /// The child's id in the population.
    pub truth_id: u64,
    /// What happened (`stayed`, `moved_school`, `home_education`, ...).
    pub fate: String,
    /// Of compulsory school age on both census days and on the first roll.
    pub in_cohort: bool,
    /// `no`, `mistake` or `recorded`.
    pub new_upn: String,
    /// A source carrying the first-census UPN says where the child went.
    pub upn_evidence: bool,
    /// Some source row, with or without the UPN, says where the child went.
    pub evidence: bool,
    /// LA number.
    pub la: String,
    /// UPN on the first census (or known from earlier, for children on neither).
    pub upn1: String,
    /// UPN on the second census.
    pub upn2: String,
}

/// Reads `truth.csv`.
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>, Error> {
    let io = |e: csv::Error| Error::Write { path: path.to_path_buf(), source: std::io::Error::other(e) };
    let mut rdr = csv::Reader::from_path(path).map_err(io)?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let r = rec.map_err(io)?;
        let get = |i: usize| r.get(i).unwrap_or("").to_string();
        out.push(TruthRow {
            truth_id: get(0).parse().unwrap_or(u64::MAX),
            fate: get(1),
            in_cohort: get(2) == "Y",
            new_upn: get(3),
            upn_evidence: get(4) == "Y",
            evidence: get(5) == "Y",
            la: get(6),
            upn1: get(7),
            upn2: get(8),
        });
    }
    Ok(out)
}
