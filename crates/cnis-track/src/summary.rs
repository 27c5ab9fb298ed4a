//! The summary table: leavers by destination, each with its risk profile,
//! nationally and per LA, beside the whole cohort for comparison.

use std::collections::BTreeMap;
use std::fmt::Write;

use cnis_core::LaCode;
use cnis_core::records::{AbsenceBand, CohortPupil, Destination, SenProvision};

use crate::Tracked;

/// Counts for one group of children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryRow {
    /// Children in the group.
    pub children: u64,
    /// With a recorded absence band.
    pub absence_known: u64,
    /// Persistently (10%+) or severely (50%+) absent.
    pub persistent_or_severe: u64,
    /// Severely absent.
    pub severe: u64,
    /// With a postcode found in the deprivation lookup.
    pub deprivation_known: u64,
    /// Living in the more deprived half of neighbourhoods.
    pub more_deprived_half: u64,
    /// SEN support.
    pub sen_support: u64,
    /// EHC plan.
    pub ehcp: u64,
    /// FSM eligible.
    pub fsm: u64,
    /// On the social-care list.
    pub social_care: u64,
}

impl SummaryRow {
    fn add(&mut self, p: &CohortPupil, social_care: bool) {
        self.children += 1;
        if let Some(band) = p.absence {
            self.absence_known += 1;
            self.persistent_or_severe += u64::from(band >= AbsenceBand::Persistent);
            self.severe += u64::from(band == AbsenceBand::Severe);
        }
        if let Some(d) = p.imd_decile {
            self.deprivation_known += 1;
            self.more_deprived_half += u64::from(d.more_deprived_half());
        }
        self.sen_support += u64::from(p.sen == SenProvision::SenSupport);
        self.ehcp += u64::from(p.sen == SenProvision::Ehcp);
        self.fsm += u64::from(p.fsm);
        self.social_care += u64::from(social_care);
    }

    /// `part` as a percentage of `whole`, `None` for an empty group.
    pub fn pct(part: u64, whole: u64) -> Option<f64> {
        (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
    }
}

/// A group in the table: one destination, all leavers, or the whole cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// Leavers to one destination.
    Destination(Destination),
    /// Every leaver.
    AllLeavers,
    /// Everyone of compulsory school age on the first roll.
    Cohort,
}

impl Group {
    /// Name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Group::Destination(d) => d.name(),
            Group::AllLeavers => "all_leavers",
            Group::Cohort => "all_pupils",
        }
    }
    /// Label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Group::Destination(d) => d.label(),
            Group::AllLeavers => "All leavers",
            Group::Cohort => "All pupils of compulsory school age",
        }
    }
}

/// The table: national rows (LA `None`) and per-LA rows.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// (LA, group) → counts.
    pub rows: BTreeMap<(Option<LaCode>, Group), SummaryRow>,
}

impl Summary {
    /// Builds the table from a tracking run.
    pub fn of(t: &Tracked) -> Summary {
        let mut rows: BTreeMap<(Option<LaCode>, Group), SummaryRow> = BTreeMap::new();
        let la_of = |p: &CohortPupil| p.laestab.and_then(|l| LaCode::from_number(l.la_number()).ok());
        for p in &t.cohort {
            let sc = t.social_care.contains_key(&p.key);
            for la in [None, la_of(p)] {
                rows.entry((la, Group::Cohort)).or_default().add(p, sc);
            }
        }
        for l in &t.leavers {
            let sc = l.social_care.is_some();
            for la in [None, la_of(&l.pupil)] {
                rows.entry((la, Group::AllLeavers)).or_default().add(&l.pupil, sc);
                rows.entry((la, Group::Destination(l.destination))).or_default().add(&l.pupil, sc);
            }
        }
        // Every destination appears nationally, even with no leavers.
        for d in Destination::ALL {
            rows.entry((None, Group::Destination(d))).or_default();
        }
        Summary { rows }
    }

    /// The national row for a group.
    pub fn national(&self, g: Group) -> SummaryRow {
        self.rows.get(&(None, g)).cloned().unwrap_or_default()
    }

    /// The national table as text, with an optional column of expected
    /// counts (e.g. the generator's truth) beside the found ones.
    pub fn national_table(&self, expected: Option<&dyn Fn(Group) -> Option<u64>>) -> String {
        let mut out = String::new();
        let exp_head = if expected.is_some() { format!("{:>9}", "truth") } else { String::new() };
        let _ = writeln!(
            out,
            "{:<48} {:>9}{exp_head} {:>8} {:>7} {:>8} {:>7} {:>6} {:>6} {:>7}",
            "destination", "children", "PA/SA %", "SA %", "depr. %", "SEN K %", "EHCP %", "FSM %", "social %"
        );
        let mut groups: Vec<Group> = Destination::ALL.into_iter().map(Group::Destination).collect();
        groups.push(Group::AllLeavers);
        groups.push(Group::Cohort);
        let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
        for g in groups {
            let r = self.national(g);
            let exp = match expected {
                Some(e) => format!("{:>9}", e(g).map_or_else(|| "-".to_string(), |n| n.to_string())),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "{:<48} {:>9}{exp} {:>8} {:>7} {:>8} {:>7} {:>6} {:>6} {:>7}",
                g.label(),
                r.children,
                f(SummaryRow::pct(r.persistent_or_severe, r.absence_known)),
                f(SummaryRow::pct(r.severe, r.absence_known)),
                f(SummaryRow::pct(r.more_deprived_half, r.deprivation_known)),
                f(SummaryRow::pct(r.sen_support, r.children)),
                f(SummaryRow::pct(r.ehcp, r.children)),
                f(SummaryRow::pct(r.fsm, r.children)),
                f(SummaryRow::pct(r.social_care, r.children)),
            );
        }
        out
    }
}
