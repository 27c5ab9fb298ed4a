//! Synthetic England: a seeded, deterministic generator of the files a
//! council would hold about its children, and of the truth behind them.
//!
//! [`generate`] builds a population: LAs of uneven size, neighbourhoods with
//! deprivation deciles, schools, and pupils with names, dates of birth, SEN,
//! FSM, absence and social-care status. It then moves everyone on a year to a
//! second spring census: most stay, some change school or LA (a few getting a
//! new UPN by mistake), some finish school, and a calibrated number of
//! children of compulsory school age leave the roll for home education, an
//! independent school, abroad, Wales/Scotland/NI, death, missing education or
//! an unknown destination. [`write`] renders the two censuses, the
//! destination sources and a truth file, with the data-quality noise real
//! returns carry.
//!
//! The leaver rates are set so that at national scale (8.5 million pupils)
//! the counts land near the Children's Commissioner's 2022-23 figures, and
//! leavers of each destination are drawn to match the report's profile of
//! that group. Same seed and size, same files, byte for byte.

mod geo;
mod names;
mod noise;
mod people;
pub mod score;
pub mod truth;
mod write;

use chrono::NaiveDate;
use cnis_core::records::Destination;
use cnis_core::school_age::spring_census_date;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use geo::{England, GenLa, GenSchool, Phase};
pub use people::{Child, Enrol, Fate, NewUpn, SocialCare, SourceRow};
pub use write::{Manifest, write};

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

/// Per-pupil rates of what happens between the censuses.
#[derive(Debug, Clone)]
pub struct Rates {
    /// Leavers per pupil on the first roll, by destination.
    pub leavers: Vec<(Destination, f64)>,
    /// In-year move to another school in the same LA.
    pub move_in_la: f64,
    /// In-year move to another LA.
    pub move_between_las: f64,
    /// Share of in-LA movers given a new UPN by mistake.
    pub new_upn_by_mistake: f64,
    /// New UPN with the former one recorded (e.g. adoption).
    pub new_upn_recorded: f64,
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
    /// Typing error in a name.
    pub name_typo: f64,
    /// Forename and surname swapped.
    pub name_swap: f64,
    /// Day and month of birth swapped.
    pub dob_swap: f64,
    /// Postcode missing.
    pub missing_postcode: f64,
}

/// The report's national figures: 8.5 million pupils, and leavers of
/// compulsory school age by destination. Home education, unknown and CME are
/// the report's; the split of the rest is our assumption (see docs/synth.md).
pub const NATIONAL_PUPILS: f64 = 8_500_000.0;

impl Default for Rates {
    fn default() -> Self {
        let per = |n: f64| n / NATIONAL_PUPILS;
        Rates {
            leavers: vec![
                (Destination::HomeEducation, per(13_120.0)),
                (Destination::Unknown, per(10_181.0)),
                (Destination::Cme, per(2_868.0)),
                (Destination::IndependentSchool, per(22_000.0)),
                (Destination::Abroad, per(25_000.0)),
                (Destination::OutsideEngland, per(8_000.0)),
                (Destination::Died, per(700.0)),
            ],
            move_in_la: 0.04,
            move_between_las: 0.012,
            new_upn_by_mistake: 0.01,
            new_upn_recorded: 0.0005,
            surname_change: 0.003,
            arrivals: 0.009,
            background_home_education: 0.0085,
            background_cme: 0.002,
            background_independent: 0.02,
            name_typo: 0.005,
            name_swap: 0.001,
            dob_swap: 0.002,
            missing_postcode: 0.01,
        }
    }
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
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig { pupils: 250_000, seed: 2024, first_year: 2021, rates: Rates::default(), linkage_file: false }
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
        children.extend(out.children);
    }
    for (i, c) in children.iter_mut().enumerate() {
        c.truth_id = i as u64;
    }
    tracing::info!(children = children.len(), rows = rows.len(), "population generated");
    Ok(Population { config, england, children, rows, census_a, census_b })
}
