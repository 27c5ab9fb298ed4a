//! Reading the truth file back, for the demo and for tests.
//!
//! Columns are found by their header, so a reader of an older truth file
//! (without the later columns) gets their defaults.

use std::path::Path;

use crate::Error;

/// One row of `truth.csv` (`docs/synth.md` says what each column holds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TruthRow {
    /// The child's id in the population.
    pub truth_id: u64,
    /// What happened (`stayed`, `moved_school`, `home_education`, ...).
    pub fate: String,
    /// Of compulsory school age on both census days and on the first roll.
    pub in_cohort: bool,
    /// `no`, `mistake` or `recorded`.
    pub new_upn: String,
    /// A current source row carrying the first-census UPN (as it is) says
    /// where the child went.
    pub upn_evidence: bool,
    /// Some current source row, with or without the UPN, says where the child went.
    pub evidence: bool,
    /// LA number.
    pub la: String,
    /// UPN on the first census (or known from earlier, for children on neither).
    pub upn1: String,
    /// UPN on the second census.
    pub upn2: String,
    /// For the leaver cohort: `on_roll` (on the second census under any
    /// UPN), or the destination the files make knowable (`unknown` when no
    /// current source row says where the child went); empty otherwise.
    pub knowable: String,
    /// The other twin's truth id.
    pub twin: Option<u64>,
    /// Censuses (`A`, `B`, `AB`) on which the child is dual registered.
    pub dual: String,
    /// Censuses on which both of the child's schools return `M`.
    pub both_main: String,
    /// Censuses on which the child's row is returned twice.
    pub duplicate_row: String,
    /// Censuses on which the child's main row has a mistyped UPN.
    pub upn_mistyped: String,
    /// The truth id of the unrelated child whose UPN this child's
    /// second-census row carries as FormerUPN.
    pub wrong_former_upn: Option<u64>,
    /// The truth id of the child whose second-census row carries this
    /// child's UPN as FormerUPN.
    pub former_upn_victim: Option<u64>,
    /// Earlier-spell rows about the child (they say nothing of now).
    pub stale_rows: u32,
    /// On the second roll with a current home-education or CME entry.
    pub register_on_roll: bool,
    /// In a school-arranged AP placement while on roll.
    pub school_ap: bool,
    /// Permanently excluded between the censuses.
    pub excluded: bool,
    /// Adopted between the censuses (new UPN, former recorded).
    pub adopted: bool,
    /// Surname changed between the censuses.
    pub surname_changed: bool,
    /// Social-care status on the first census day (`CIN`, `S47`, `CPP`, `CLA`).
    pub social_care_a: String,
    /// The most serious social-care status open at some time between the census days.
    pub social_care: String,
}

impl TruthRow {
    /// Whether the child left the roll while of compulsory school age.
    pub fn is_leaver(&self) -> bool {
        self.in_cohort && self.knowable != "on_roll" && !self.knowable.is_empty()
    }
}

/// Reads `truth.csv`.
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>, Error> {
    let io = |e: csv::Error| Error::Write { path: path.to_path_buf(), source: std::io::Error::other(e) };
    let mut rdr = csv::Reader::from_path(path).map_err(io)?;
    let headers = rdr.headers().map_err(io)?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let cols: Vec<Option<usize>> = crate::write::TRUTH_COLUMNS.iter().map(|c| col(c)).collect();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let r = rec.map_err(io)?;
        let get = |i: usize| cols.get(i).copied().flatten().and_then(|c| r.get(c)).unwrap_or("").to_string();
        let yes = |i: usize| get(i) == "Y";
        let id = |i: usize| get(i).parse().ok();
        out.push(TruthRow {
            truth_id: get(0).parse().unwrap_or(u64::MAX),
            fate: get(1),
            in_cohort: yes(2),
            new_upn: get(3),
            upn_evidence: yes(4),
            evidence: yes(5),
            la: get(6),
            upn1: get(7),
            upn2: get(8),
            knowable: get(9),
            twin: id(10),
            dual: get(11),
            both_main: get(12),
            duplicate_row: get(13),
            upn_mistyped: get(14),
            wrong_former_upn: id(15),
            former_upn_victim: id(16),
            stale_rows: get(17).parse().unwrap_or(0),
            register_on_roll: yes(18),
            school_ap: yes(19),
            excluded: yes(20),
            adopted: yes(21),
            surname_changed: yes(22),
            social_care_a: get(23),
            social_care: get(24),
        });
    }
    Ok(out)
}
