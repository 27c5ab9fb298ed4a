//! Synthetic England: a seeded, deterministic generator of the files a
//! council would hold about its children, and of the truth behind them.
//!
//! [`generate`] builds a population: LAs of uneven size, neighbourhoods with
//! deprivation deciles, schools, and pupils with names, dates of birth, SEN,
//! FSM, absence and social-care status, some of them twins. It then moves
//! everyone on a year to a second spring census: most stay, some change
//! school or LA (a few getting a new UPN by mistake), some finish school,
//! and a calibrated number of children of compulsory school age leave the
//! roll for home education, an independent school, abroad,
//! Wales/Scotland/NI, alternative provision, custody, death, missing
//! education or an unknown destination. Then it adds what councils' files
//! really hold: dual registrations in any row order, rows returned twice,
//! mistyped and blank UPNs, register entries and deletion notices from an
//! earlier spell, wrong former UPNs, school-arranged AP, social-care
//! episodes with their dates, deletion grounds under the regulations in
//! force and in the forms schools write them. [`write`] renders the two
//! censuses, the destination sources and a truth file, with the
//! data-quality noise real returns carry, in our layout or a council's.
//!
//! The leaver rates are set so that at national scale (8.5 million pupils)
//! the counts land near the Children's Commissioner's 2022-23 figures, and
//! leavers of each destination are drawn to match the report's profile of
//! that group. Every rate is in [`Rates`] (`docs/synth.md` gives each one's
//! default and assumption). The truth says, for each child of the leaver
//! cohort, the true fate and the destination the files make knowable. Same
//! seed and size, same files, byte for byte, whatever the thread count.

mod cases;
mod geo;
mod names;
mod noise;

pub use noise::typo;
mod people;
pub mod score;
pub mod truth;
mod write;

use chrono::NaiveDate;
use cnis_core::records::{Destination, SourceKind};
use cnis_core::school_age::spring_census_date;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use geo::{England, GenLa, GenSchool, Phase};
pub use names::{NICKNAMES, are_variants, nicknames};
pub use people::{
    Child, Dual, Enrol, Fate, GroundForm, Home, Knowable, NewUpn, SocialCare, SourceRow, flags, provider_id, row_faults,
};
pub use write::{CouncilLayout, LINKAGE_FILE, Manifest, TRUTH_COLUMNS, write};

/// Errors from the generator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be generated.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Writing an output file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// A rate for each destination source, by [`SourceKind`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerSource {
    /// Home-education register.
    pub home_education: f64,
    /// CME list.
    pub cme: f64,
    /// Deletion notices.
    pub deletions: f64,
    /// Independent-school roll.
    pub independent_roll: f64,
    /// Social care's list.
    pub social_care: f64,
    /// Alternative-provision placements.
    pub alternative_provision: f64,
}

impl PerSource {
    /// The rate for one source.
    pub fn get(&self, kind: SourceKind) -> f64 {
        match kind {
            SourceKind::HomeEducation => self.home_education,
            SourceKind::Cme => self.cme,
            SourceKind::Deletion => self.deletions,
            SourceKind::IndependentRoll => self.independent_roll,
            SourceKind::SocialCare => self.social_care,
            SourceKind::AlternativeProvision => self.alternative_provision,
        }
    }
}

/// Per-pupil rates of what happens between the censuses, and of the faults
/// the files carry. Every rate is a probability (0 to 1); `docs/synth.md`
/// gives each one's default and the assumption behind it. [`Rates::set`]
/// changes one by name (`twins`, `upn_blank.cme`, `leavers.home_education`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// Leavers per pupil on the first roll, by destination.
    pub leavers: Vec<(Destination, f64)>,
    /// In-year move to another school in the same LA.
    pub move_in_la: f64,
    /// In-year move to another LA.
    pub move_between_las: f64,
    /// Share of in-LA movers given a new UPN by mistake.
    pub new_upn_by_mistake: f64,
    /// New UPN with the former one recorded (a child at risk, a reissue).
    pub new_upn_recorded: f64,
    /// Adoption: new UPN with the former one recorded, and a new surname.
    pub adoption: f64,
    /// Surname change.
    pub surname_change: f64,
    /// In-year arrivals on the second roll, per pupil.
    pub arrivals: f64,
    /// Long-standing home-educated children on the register, per pupil.
    pub background_home_education: f64,
    /// Children missing education never on a roll here, per pupil.
    pub background_cme: f64,
    /// Independent-school pupils on the roll extract, per pupil.
    pub background_independent: f64,
    /// Typing error in a name, per name per list row (the first census a
    /// fraction of it).
    pub name_typo: f64,
    /// Forename and surname swapped.
    pub name_swap: f64,
    /// Day and month of birth swapped.
    pub dob_swap: f64,
    /// Postcode missing.
    pub missing_postcode: f64,
    /// Forename written as a nickname (William as Will), per list row; the
    /// censuses a fifth of it.
    pub nickname: f64,
    /// The middle name written as the forename, per list row; the censuses
    /// a fifth of it.
    pub middle_as_forename: f64,
    /// Share of children with a double-barrelled surname.
    pub double_barrelled: f64,
    /// Of list rows for a double-barrelled surname, written another way
    /// (space, one part, joined); the censuses a tenth of it.
    pub double_barrelled_variant: f64,
    /// Share of children who are one of a pair of twins.
    pub twins: f64,
    /// When a twin leaves the roll, the chance the other leaves with them.
    pub twins_leave_together: f64,
    /// Pupils in Years 5-11 dual registered (a main row at their school, a
    /// subsidiary row at a PRU), per census.
    pub dual_registration: f64,
    /// Of dual registrations, the subsidiary (S) row comes first in the file.
    pub subsidiary_first: f64,
    /// Of dual registrations, both schools return M (the error councils see).
    pub both_main: f64,
    /// Census rows returned twice (two C rows with one UPN).
    pub duplicate_row: f64,
    /// First-census rows whose UPN is mistyped (fails its check).
    pub census_a_upn_mistyped: f64,
    /// Second-census rows whose UPN is mistyped.
    pub census_b_upn_mistyped: f64,
    /// Second-census pupils carrying an unrelated child's UPN as FormerUPN.
    pub wrong_former_upn: f64,
    /// Of those, the share where the unrelated child is a leaver.
    pub wrong_former_upn_leaver: f64,
    /// Source rows with the UPN left blank, by source.
    pub upn_blank: PerSource,
    /// Source rows with the UPN mistyped (wrong check letter, a digit
    /// dropped, two digits transposed), by source.
    pub upn_mistyped: PerSource,
    /// Children in the cohort with an earlier-spell row: a register entry
    /// or deletion notice dated before they joined their school.
    pub stale_rows: f64,
    /// Leavers with an earlier-spell row (on top of `stale_rows`).
    pub stale_rows_leaver: f64,
    /// Children on the second roll with a current home-education or CME
    /// entry (they were withdrawn or missing, and came back).
    pub register_on_roll: f64,
    /// Pupils in Years 5-11 in a school-arranged AP placement while on roll.
    pub school_arranged_ap: f64,
    /// Of school-arranged placements, those that ended before the second census.
    pub ap_ended: f64,
    /// Pupils in Years 5-10 at mainstream schools permanently excluded
    /// between the censuses and on a PRU's roll by the second.
    pub excluded_to_pru: f64,
    /// Independent-roll rows giving the school's URN only.
    pub independent_urn_only: f64,
    /// Deletion notices giving the bare letter (`d`, `(d)`), read by date.
    pub ground_letter_only: f64,
    /// LAs sending their deletion notices as a separate file of bare
    /// letters, all under one set of regulations (the load states which).
    pub letters_file: f64,
    /// Of the current notices in such a file, those with no date.
    pub letters_file_undated: f64,
}

/// The report's national figures: 8.5 million pupils, and leavers of
/// compulsory school age by destination. Home education, unknown and CME are
/// the report's; the split of the rest is our assumption (see docs/synth.md).
pub const NATIONAL_PUPILS: f64 = 8_500_000.0;

impl Default for Rates {
    /// Rates at least as high as a council's own files show.
    fn default() -> Self {
        let per = |n: f64| n / NATIONAL_PUPILS;
        Rates {
            leavers: vec![
                (Destination::HomeEducation, per(13_120.0)),
                (Destination::Unknown, per(10_181.0)),
                (Destination::Cme, per(2_868.0)),
                (Destination::IndependentSchool, per(20_200.0)),
                (Destination::Abroad, per(23_150.0)),
                (Destination::OutsideEngland, per(8_000.0)),
                (Destination::AlternativeProvision, per(3_500.0)),
                (Destination::Died, per(700.0)),
                (Destination::Custody, per(150.0)),
            ],
            move_in_la: 0.04,
            move_between_las: 0.012,
            new_upn_by_mistake: 0.01,
            new_upn_recorded: 0.0005,
            adoption: 0.0001,
            surname_change: 0.003,
            arrivals: 0.009,
            background_home_education: 0.0085,
            background_cme: 0.002,
            background_independent: 0.02,
            name_typo: 0.005,
            name_swap: 0.001,
            dob_swap: 0.002,
            missing_postcode: 0.01,
            nickname: 0.05,
            middle_as_forename: 0.01,
            double_barrelled: 0.04,
            double_barrelled_variant: 0.3,
            twins: 0.03,
            twins_leave_together: 0.7,
            dual_registration: 0.002,
            subsidiary_first: 0.5,
            both_main: 0.1,
            duplicate_row: 0.0002,
            census_a_upn_mistyped: 0.0002,
            census_b_upn_mistyped: 0.001,
            wrong_former_upn: 0.0002,
            wrong_former_upn_leaver: 0.5,
            upn_blank: PerSource {
                home_education: 0.10,
                cme: 0.15,
                deletions: 0.02,
                independent_roll: 0.20,
                social_care: 0.05,
                alternative_provision: 0.10,
            },
            upn_mistyped: PerSource {
                home_education: 0.02,
                cme: 0.02,
                deletions: 0.005,
                independent_roll: 0.02,
                social_care: 0.01,
                alternative_provision: 0.02,
            },
            stale_rows: 0.003,
            stale_rows_leaver: 0.05,
            register_on_roll: 0.001,
            school_arranged_ap: 0.004,
            ap_ended: 0.4,
            excluded_to_pru: 0.0015,
            independent_urn_only: 0.2,
            ground_letter_only: 0.3,
            letters_file: 0.1,
            letters_file_undated: 0.1,
        }
    }
}

impl Rates {
    /// Every fault and awkward case turned well up, for tests: the same
    /// leavers, far noisier files.
    pub fn hard() -> Rates {
        Rates {
            new_upn_by_mistake: 0.05,
            new_upn_recorded: 0.002,
            adoption: 0.002,
            surname_change: 0.01,
            name_typo: 0.02,
            name_swap: 0.005,
            dob_swap: 0.01,
            missing_postcode: 0.05,
            nickname: 0.15,
            middle_as_forename: 0.04,
            double_barrelled: 0.08,
            double_barrelled_variant: 0.6,
            twins: 0.12,
            twins_leave_together: 0.4,
            dual_registration: 0.02,
            both_main: 0.3,
            duplicate_row: 0.002,
            census_a_upn_mistyped: 0.002,
            census_b_upn_mistyped: 0.01,
            wrong_former_upn: 0.003,
            wrong_former_upn_leaver: 0.6,
            upn_blank: PerSource {
                home_education: 0.30,
                cme: 0.40,
                deletions: 0.10,
                independent_roll: 0.40,
                social_care: 0.15,
                alternative_provision: 0.30,
            },
            upn_mistyped: PerSource {
                home_education: 0.08,
                cme: 0.08,
                deletions: 0.05,
                independent_roll: 0.08,
                social_care: 0.05,
                alternative_provision: 0.08,
            },
            stale_rows: 0.02,
            stale_rows_leaver: 0.2,
            register_on_roll: 0.005,
            school_arranged_ap: 0.02,
            ap_ended: 0.5,
            excluded_to_pru: 0.003,
            independent_urn_only: 0.4,
            ground_letter_only: 0.6,
            letters_file: 0.3,
            letters_file_undated: 0.3,
            ..Rates::default()
        }
    }

    /// The hard rates with a third of children twins: the set for testing
    /// that linkage keeps twins apart.
    pub fn twin_heavy() -> Rates {
        Rates { twins: 0.33, ..Rates::hard() }
    }

    /// The names [`Rates::preset`] takes.
    pub const PRESETS: [&'static str; 3] = ["default", "hard", "twin-heavy"];

    /// A named preset: `default`, `hard` or `twin-heavy`.
    pub fn preset(name: &str) -> Option<Rates> {
        match name {
            "default" => Some(Rates::default()),
            "hard" => Some(Rates::hard()),
            "twin-heavy" | "twin_heavy" => Some(Rates::twin_heavy()),
            _ => None,
        }
    }

    fn named(&mut self) -> Vec<(String, &mut f64)> {
        let mut out: Vec<(String, &mut f64)> = Vec::new();
        for (d, r) in self.leavers.iter_mut() {
            out.push((format!("leavers.{}", d.name()), r));
        }
        let scalars: Vec<(&str, &mut f64)> = vec![
            ("move_in_la", &mut self.move_in_la),
            ("move_between_las", &mut self.move_between_las),
            ("new_upn_by_mistake", &mut self.new_upn_by_mistake),
            ("new_upn_recorded", &mut self.new_upn_recorded),
            ("adoption", &mut self.adoption),
            ("surname_change", &mut self.surname_change),
            ("arrivals", &mut self.arrivals),
            ("background_home_education", &mut self.background_home_education),
            ("background_cme", &mut self.background_cme),
            ("background_independent", &mut self.background_independent),
            ("name_typo", &mut self.name_typo),
            ("name_swap", &mut self.name_swap),
            ("dob_swap", &mut self.dob_swap),
            ("missing_postcode", &mut self.missing_postcode),
            ("nickname", &mut self.nickname),
            ("middle_as_forename", &mut self.middle_as_forename),
            ("double_barrelled", &mut self.double_barrelled),
            ("double_barrelled_variant", &mut self.double_barrelled_variant),
            ("twins", &mut self.twins),
            ("twins_leave_together", &mut self.twins_leave_together),
            ("dual_registration", &mut self.dual_registration),
            ("subsidiary_first", &mut self.subsidiary_first),
            ("both_main", &mut self.both_main),
            ("duplicate_row", &mut self.duplicate_row),
            ("census_a_upn_mistyped", &mut self.census_a_upn_mistyped),
            ("census_b_upn_mistyped", &mut self.census_b_upn_mistyped),
            ("wrong_former_upn", &mut self.wrong_former_upn),
            ("wrong_former_upn_leaver", &mut self.wrong_former_upn_leaver),
            ("stale_rows", &mut self.stale_rows),
            ("stale_rows_leaver", &mut self.stale_rows_leaver),
            ("register_on_roll", &mut self.register_on_roll),
            ("school_arranged_ap", &mut self.school_arranged_ap),
            ("ap_ended", &mut self.ap_ended),
            ("excluded_to_pru", &mut self.excluded_to_pru),
            ("independent_urn_only", &mut self.independent_urn_only),
            ("ground_letter_only", &mut self.ground_letter_only),
            ("letters_file", &mut self.letters_file),
            ("letters_file_undated", &mut self.letters_file_undated),
        ];
        out.extend(scalars.into_iter().map(|(n, r)| (n.to_string(), r)));
        let (blank, mistyped) = (&mut self.upn_blank, &mut self.upn_mistyped);
        let mut blank_refs = per_source_refs(blank);
        let mut mistyped_refs = per_source_refs(mistyped);
        for (k, r) in blank_refs.drain(..) {
            out.push((format!("upn_blank.{}", k.name()), r));
        }
        for (k, r) in mistyped_refs.drain(..) {
            out.push((format!("upn_mistyped.{}", k.name()), r));
        }
        out
    }

    /// Every rate by name, in a fixed order, with its value.
    pub fn list(&self) -> Vec<(String, f64)> {
        let mut copy = self.clone();
        copy.named().into_iter().map(|(n, r)| (n, *r)).collect()
    }

    /// Sets one rate by name (as [`Rates::list`] gives them, e.g. `twins`,
    /// `upn_blank.cme`, `leavers.home_education`).
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&value) {
            return Err(Error::Config(format!("rate {name} must be between 0 and 1, not {value}")));
        }
        if let Some(d) = name.strip_prefix("leavers.").and_then(Destination::from_name)
            && !self.leavers.iter().any(|(x, _)| *x == d)
        {
            self.leavers.push((d, value));
            return Ok(());
        }
        let mut named = self.named();
        match named.iter_mut().find(|(n, _)| n == name) {
            Some((_, r)) => {
                **r = value;
                Ok(())
            }
            None => Err(Error::Config(format!("no rate called {name}; `Rates::list` names them all"))),
        }
    }

    /// Parses `NAME=VALUE` and sets it.
    pub fn set_text(&mut self, text: &str) -> Result<(), Error> {
        let (name, value) =
            text.split_once('=').ok_or_else(|| Error::Config(format!("{text:?} is not of the form NAME=VALUE")))?;
        let value: f64 =
            value.trim().parse().map_err(|_| Error::Config(format!("{:?} is not a number", value.trim())))?;
        self.set(name.trim(), value)
    }

    fn validate(&self) -> Result<(), Error> {
        for (name, value) in self.list() {
            if !(0.0..=1.0).contains(&value) || value.is_nan() {
                return Err(Error::Config(format!("rate {name} must be between 0 and 1, not {value}")));
            }
        }
        let leaving: f64 = self.leavers.iter().map(|l| l.1).sum();
        if leaving > 0.5 {
            return Err(Error::Config(format!("leavers add up to {leaving} of pupils; at most half can leave")));
        }
        Ok(())
    }
}

fn per_source_refs(p: &mut PerSource) -> Vec<(SourceKind, &mut f64)> {
    let PerSource { home_education, cme, deletions, independent_roll, social_care, alternative_provision } = p;
    vec![
        (SourceKind::HomeEducation, home_education),
        (SourceKind::Cme, cme),
        (SourceKind::Deletion, deletions),
        (SourceKind::IndependentRoll, independent_roll),
        (SourceKind::SocialCare, social_care),
        (SourceKind::AlternativeProvision, alternative_provision),
    ]
}

/// How the files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// The project's own layout: DfE column names, ISO dates, LF line ends.
    #[default]
    Standard,
    /// As a council's own export would be: other column names and order,
    /// DD/MM/YYYY dates, CRLF line ends, a UTF-8 byte-order mark. The
    /// manifest maps our fields to their columns.
    Council,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Pupils on the first census roll.
    pub pupils: u64,
    /// Seed: same seed and size, same files.
    pub seed: u64,
    /// Academic year (its starting calendar year) of the first census: 2021
    /// means the spring census of January 2022.
    pub first_year: i32,
    /// Rates.
    pub rates: Rates,
    /// Also write `linkage.csv`: every record in the linkage layout with its truth id.
    pub linkage_file: bool,
    /// The layout of the census, source, schools and postcode files.
    pub layout: Layout,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            pupils: 250_000,
            seed: 2024,
            first_year: 2021,
            rates: Rates::default(),
            linkage_file: false,
            layout: Layout::Standard,
        }
    }
}

/// The profile of leavers to one destination: independent marginal shares
/// of absence band, SEN, deprivation and phase.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Regular, persistent (10-50%), severe (50%+) absence.
    pub absence: [f64; 3],
    /// No SEN, SEN support, EHCP.
    pub sen: [f64; 3],
    /// Share living in the more deprived half of neighbourhoods.
    pub deprived: f64,
    /// Share in Year 7 or above.
    pub secondary: f64,
    /// How often a leaver is picked from children known to social care
    /// (on top of those drawn at random).
    pub social_care: f64,
}

impl Profile {
    /// The profile for a destination. Home education follows the report
    /// (82% persistently or severely absent, 26% severely; 64% in the more
    /// deprived half; 25% SEN support; 64% aged 11-14); CME and unknown follow
    /// its age findings and its remarks that CME children are more deprived
    /// and more often known to social care; the rest are our
    /// assumptions.
    pub fn of(d: Destination) -> Profile {
        let p = |absence, sen, deprived, secondary| Profile { absence, sen, deprived, secondary, social_care: 0.0 };
        match d {
            Destination::HomeEducation => p([0.18, 0.56, 0.26], [0.70, 0.25, 0.05], 0.64, 0.64),
            // The report: CME children are much more likely to be known to social care.
            Destination::Cme => Profile { social_care: 0.25, ..p([0.35, 0.45, 0.20], [0.78, 0.17, 0.05], 0.72, 0.59) },
            Destination::Unknown => {
                Profile { social_care: 0.08, ..p([0.55, 0.35, 0.10], [0.83, 0.13, 0.04], 0.62, 0.46) }
            }
            Destination::IndependentSchool => p([0.85, 0.14, 0.01], [0.85, 0.12, 0.03], 0.30, 0.45),
            Destination::Abroad => p([0.70, 0.27, 0.03], [0.88, 0.10, 0.02], 0.55, 0.40),
            Destination::OutsideEngland => p([0.75, 0.23, 0.02], [0.84, 0.13, 0.03], 0.50, 0.45),
            Destination::Died => p([0.70, 0.25, 0.05], [0.70, 0.15, 0.15], 0.55, 0.45),
            Destination::AnotherSchool => p([0.80, 0.18, 0.02], [0.83, 0.13, 0.04], 0.50, 0.50),
            Destination::AlternativeProvision => p([0.30, 0.50, 0.20], [0.55, 0.30, 0.15], 0.68, 0.80),
            Destination::Custody => p([0.20, 0.50, 0.30], [0.60, 0.30, 0.10], 0.70, 1.00),
        }
    }

    fn sample_stratum<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let pick = |rng: &mut R, w: &[f64; 3]| {
            let x = rng.random::<f64>() * w.iter().sum::<f64>();
            if x < w[0] {
                0
            } else if x < w[0] + w[1] {
                1
            } else {
                2
            }
        };
        let band = pick(rng, &self.absence);
        let sen = pick(rng, &self.sen);
        let dep = usize::from(rng.random_bool(self.deprived));
        let phase = usize::from(rng.random_bool(self.secondary));
        ((band * 3 + sen) * 2 + dep) * 2 + phase
    }
}

/// Ethnicity codes (the 20 main census codes) with rough national shares.
pub const ETHNICITIES: &[(&str, f64)] = &[
    ("WBRI", 0.62),
    ("WIRI", 0.002),
    ("WIRT", 0.001),
    ("WOTH", 0.07),
    ("WROM", 0.004),
    ("MWBC", 0.015),
    ("MWBA", 0.01),
    ("MWAS", 0.02),
    ("MOTH", 0.025),
    ("AIND", 0.035),
    ("APKN", 0.045),
    ("ABAN", 0.02),
    ("AOTH", 0.02),
    ("BCRB", 0.01),
    ("BAFR", 0.04),
    ("BOTH", 0.008),
    ("CHNE", 0.005),
    ("OOTH", 0.02),
    ("REFU", 0.005),
    ("NOBT", 0.019),
];

/// SEN type-of-need codes; index 0 means none.
pub const SEN_NEEDS: &[&str] =
    &["", "SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH", "NSA"];

fn sample_ethnicity<R: Rng + ?Sized>(rng: &mut R) -> u8 {
    let total: f64 = ETHNICITIES.iter().map(|e| e.1).sum();
    let mut x = rng.random::<f64>() * total;
    for (i, (_, w)) in ETHNICITIES.iter().enumerate() {
        if x < *w {
            return i as u8;
        }
        x -= w;
    }
    0
}

/// A random stream for one part of the generation, so that parts generated
/// in parallel give the same result in any order.
pub(crate) fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The random stream of the wrong former UPNs, drawn across the whole population.
const WRONG_FORMER_UPN_STREAM: u64 = 0x666f_726d_6572_0000;

/// A generated population.
pub struct Population {
    /// The configuration it came from.
    pub config: SynthConfig,
    /// Places and schools.
    pub england: England,
    /// Every child, indexed by truth id.
    pub children: Vec<Child>,
    /// Every source row.
    pub rows: Vec<SourceRow>,
    /// Day of the first census.
    pub census_a: NaiveDate,
    /// Day of the second census.
    pub census_b: NaiveDate,
}

impl Population {
    /// A child's forename (as registered at birth, before any file's faults).
    pub fn forename(&self, c: &Child) -> &'static str {
        let names = names::Names::load_cached();
        let table = if c.sex == cnis_core::records::Sex::Male { &names.male } else { &names.female };
        table.get(c.forename)
    }

    /// A child's middle name, if they have one.
    pub fn middle_name(&self, c: &Child) -> Option<&'static str> {
        let names = names::Names::load_cached();
        let table = if c.sex == cnis_core::records::Sex::Male { &names.male } else { &names.female };
        c.middle.map(|m| table.get(m))
    }

    /// A surname by its index (as [`Child::surname`] and [`Enrol::surname`] hold them).
    pub fn surname(&self, index: u16) -> &'static str {
        names::Names::load_cached().surnames.get(index)
    }
}

/// Generates a population.
pub fn generate(config: SynthConfig) -> Result<Population, Error> {
    if config.pupils < 1_000 {
        return Err(Error::Config(format!("at least 1,000 pupils are needed, not {}", config.pupils)));
    }
    if config.pupils > 20_000_000 {
        return Err(Error::Config("more than 20 million pupils is past any real England".into()));
    }
    let (Some(census_a), Some(census_b)) =
        (spring_census_date(config.first_year), spring_census_date(config.first_year + 1))
    else {
        return Err(Error::Config(format!("no census date for {}", config.first_year)));
    };
    config.rates.validate()?;
    let england = England::build(config.pupils, config.seed);
    let names = names::Names::load();
    let sizes: Vec<f64> = england.las.iter().map(|l| l.pupils as f64).collect();
    let mut per_la: Vec<Vec<(Destination, u64)>> = vec![Vec::new(); england.las.len()];
    for &(d, rate) in &config.rates.leavers {
        let total = (rate * config.pupils as f64).round() as u64;
        for (la, k) in geo::apportion(total, &sizes).into_iter().enumerate() {
            per_la[la].push((d, k));
        }
    }
    let ctx = people::Ctx { config: &config, england: &england, names: &names, census_a, census_b };
    let outputs: Vec<people::LaOutput> = (0..england.las.len())
        .into_par_iter()
        .map(|i| people::generate_la(&ctx, i, &per_la[i], &mut rng_for(config.seed, i as u64)))
        .collect();
    let total: usize = outputs.iter().map(|o| o.children.len()).sum();
    let mut children = Vec::with_capacity(total);
    let mut rows = Vec::new();
    for out in outputs {
        let offset = children.len() as u64;
        rows.extend(out.rows.into_iter().map(|mut r| {
            r.child += offset;
            r
        }));
        children.extend(out.children.into_iter().map(|mut c| {
            c.twin = c.twin.map(|t| t + offset as u32);
            c.former_link = c.former_link.map(|t| t + offset as u32);
            c
        }));
    }
    for (i, c) in children.iter_mut().enumerate() {
        c.truth_id = i as u64;
    }
    cases::wrong_former_upns(&config.rates, &mut children, &mut rng_for(config.seed, WRONG_FORMER_UPN_STREAM));
    tracing::info!(children = children.len(), rows = rows.len(), "population generated");
    Ok(Population { config, england, children, rows, census_a, census_b })
}
