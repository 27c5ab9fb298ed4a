//! Local authorities, neighbourhoods, postcodes and schools.
//!
//! LA sizes are not published figures: each LA gets a weight from its kind
//! (counties largest, then metropolitan districts, London boroughs, unitary
//! authorities; City of London and the Isles of Scilly tiny) times a seeded
//! log-normal factor, which gives the skew of real LA sizes without copying
//! them. Postcodes use areas starting with Q, V or X, letters no real UK
//! postcode area starts with, so a synthetic postcode is never a real one;
//! LSOA codes are numbered from E01900000, past the real range.

use cnis_core::records::{Laestab, Sector};
use cnis_core::{ImdDecile, LaCode};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::rng_for;

/// One neighbourhood (an LSOA): its deprivation decile and postcodes.
#[derive(Debug, Clone)]
pub struct Neighbourhood {
    /// Synthetic LSOA code.
    pub lsoa: String,
    /// IMD decile, 1 = most deprived.
    pub decile: ImdDecile,
    /// Postcodes in it.
    pub postcodes: Vec<String>,
}

/// Phase of a generated school.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reception to Year 6.
    Primary,
    /// Year 7 to Year 13.
    Secondary,
    /// Special school, all ages.
    Special,
    /// Alternative provision (PRU / AP academy).
    Ap,
    /// Independent school (not in the census).
    Independent,
}

impl Phase {
    /// The census phase code.
    pub fn code(self) -> &'static str {
        match self {
            Phase::Primary => "PS",
            Phase::Secondary => "SS",
            Phase::Special => "SP",
            Phase::Ap => "PR",
            Phase::Independent => "IN",
        }
    }
}

/// A generated school.
#[derive(Debug, Clone)]
pub struct GenSchool {
    /// URN.
    pub urn: u32,
    /// DfE number.
    pub laestab: Laestab,
    /// Name.
    pub name: String,
    /// Phase.
    pub phase: Phase,
    /// Index of its LA in [`England::las`].
    pub la: usize,
}

impl GenSchool {
    /// State-funded or independent.
    pub fn sector(&self) -> Sector {
        if self.phase == Phase::Independent { Sector::Independent } else { Sector::StateFunded }
    }
}

/// One LA of synthetic England.
#[derive(Debug, Clone)]
pub struct GenLa {
    /// The LA.
    pub code: LaCode,
    /// Pupils on the first census roll.
    pub pupils: u64,
    /// Its neighbourhoods.
    pub neighbourhoods: Vec<Neighbourhood>,
    /// Indices into [`England::schools`], by phase.
    pub primaries: Vec<u32>,
    /// Secondary schools.
    pub secondaries: Vec<u32>,
    /// Special schools.
    pub specials: Vec<u32>,
    /// AP.
    pub aps: Vec<u32>,
    /// Independent schools.
    pub independents: Vec<u32>,
}

/// The places: LAs, neighbourhoods, schools.
#[derive(Debug, Clone)]
pub struct England {
    /// Live LAs, largest first.
    pub las: Vec<GenLa>,
    /// Every school.
    pub schools: Vec<GenSchool>,
}

const UNIT_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
const AREA_FIRST: &[u8] = b"QVX";
const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NEIGHBOURHOOD_PUPILS: u64 = 250;
const POSTCODES_PER_NEIGHBOURHOOD: usize = 12;

fn kind_weight(la: LaCode) -> f64 {
    match la.number() {
        201 => 0.01,  // City of London
        420 => 0.008, // Isles of Scilly
        857 => 0.15,  // Rutland
        _ => match &la.info().ons_code[..3] {
            "E10" => 4.0,
            "E08" => 1.7,
            "E09" => 1.3,
            _ => 1.0,
        },
    }
}

/// Splits `total` in proportion to `weights` with the largest-remainder
/// method, so the parts add up exactly.
pub fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 || weights.is_empty() {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut parts: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let short = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    for &i in order.iter().take(short as usize) {
        parts[i] += 1;
    }
    parts
}

fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // Box-Muller; one draw is enough here.
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl England {
    /// Whether a LAESTAB is one of the independent schools (estab 6xxx of an English LA).
    pub fn is_independent(&self, laestab: Laestab) -> bool {
        (6000..7000).contains(&laestab.estab()) && !laestab.is_welsh()
    }

    /// Builds LAs, neighbourhoods and schools for a roll of `pupils`.
    pub fn build(pupils: u64, seed: u64) -> England {
        let mut rng = rng_for(seed, u64::MAX);
        let codes: Vec<LaCode> = LaCode::live().collect();
        let weights: Vec<f64> = codes.iter().map(|&c| kind_weight(c) * (0.35 * normal(&mut rng)).exp()).collect();
        let sizes = apportion(pupils, &weights);
        let mut order: Vec<usize> = (0..codes.len()).collect();
        order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(codes[a].cmp(&codes[b])));
        let mut las = Vec::with_capacity(codes.len());
        let mut schools = Vec::new();
        let mut lsoa_counter = 900_000u32;
        for (slot, &i) in order.iter().enumerate() {
            let mut la_rng = rng_for(seed, 1_000_000 + u64::from(codes[i].number()));
            let neighbourhoods = neighbourhoods(slot, sizes[i], &mut la_rng, &mut lsoa_counter);
            let mut la = GenLa {
                code: codes[i],
                pupils: sizes[i],
                neighbourhoods,
                primaries: vec![],
                secondaries: vec![],
                specials: vec![],
                aps: vec![],
                independents: vec![],
            };
            add_schools(&mut la, las.len(), &mut schools, &mut la_rng);
            las.push(la);
        }
        England { las, schools }
    }
}

fn neighbourhoods(slot: usize, pupils: u64, rng: &mut ChaCha8Rng, counter: &mut u32) -> Vec<Neighbourhood> {
    let n = (pupils / NEIGHBOURHOOD_PUPILS).max(2) as usize;
    // Areas: slots 0..77 use "QA1A"-style districts (234 each), later slots
    // reuse the areas with two-digit districts "QA10" (90 each).
    let combos = AREA_FIRST.len() * ALPHA.len();
    let area = [AREA_FIRST[(slot % combos) / ALPHA.len()], ALPHA[slot % ALPHA.len()]];
    let area = String::from_utf8_lossy(&area).into_owned();
    let tilt = (0.45 * normal(rng)).clamp(-1.2, 1.2);
    (0..n)
        .map(|j| {
            let district_index = j / 10;
            let sector = j % 10;
            let outward = if slot < combos {
                let d = district_index % 234;
                format!("{area}{}{}", d / 26 + 1, ALPHA[d % 26] as char)
            } else {
                format!("{area}{}", 10 + district_index % 90)
            };
            let postcodes = (0..POSTCODES_PER_NEIGHBOURHOOD)
                .map(|u| {
                    let a = UNIT_LETTERS[(u * 7 + j) % UNIT_LETTERS.len()] as char;
                    let b = UNIT_LETTERS[u % UNIT_LETTERS.len()] as char;
                    format!("{outward} {sector}{a}{b}")
                })
                .collect();
            let u: f64 = rng.random();
            let decile = (10.0 * u.powf(tilt.exp())).ceil().clamp(1.0, 10.0) as u8;
            *counter += 1;
            Neighbourhood {
                lsoa: format!("E01{:06}", *counter),
                decile: ImdDecile::new(decile).unwrap_or_else(|| ImdDecile::new(5).unwrap_or(ImdDecile::MIDDLE)),
                postcodes,
            }
        })
        .collect()
}

/// Share of pupils by the kind of school they attend.
pub const SPECIAL_SHARE: f64 = 0.018;
/// Share of pupils in AP.
pub const AP_SHARE: f64 = 0.0015;

fn add_schools(la: &mut GenLa, la_index: usize, schools: &mut Vec<GenSchool>, rng: &mut ChaCha8Rng) {
    let p = la.pupils as f64;
    let primary_pupils = p * 0.53;
    let counts = [
        (Phase::Primary, (primary_pupils / 260.0).round().max(1.0) as usize, 2001u16, "Primary School"),
        (Phase::Secondary, ((p * 0.45) / 950.0).round().max(1.0) as usize, 4001, "Academy"),
        (Phase::Special, ((p * SPECIAL_SHARE) / 110.0).round().max(1.0) as usize, 7001, "Special School"),
        (Phase::Ap, ((p * AP_SHARE) / 40.0).round().max(1.0) as usize, 1101, "Pupil Referral Unit"),
        (Phase::Independent, (p / 3500.0).round().max(1.0) as usize, 6001, "Independent School"),
    ];
    let names = crate::names::Names::load();
    for (phase, n, first_estab, suffix) in counts {
        let cap = match phase {
            Phase::Primary => 1998,
            Phase::Ap => 899,
            _ => 999,
        };
        for k in 0..n.min(cap) {
            let idx = schools.len() as u32;
            let street = names.streets.get(names.streets.sample(rng));
            let stem = street.split(' ').next().unwrap_or("Town");
            schools.push(GenSchool {
                urn: 100_000 + idx,
                laestab: Laestab::new(la.code.number(), first_estab + k as u16),
                name: format!("{stem} {suffix}"),
                phase,
                la: la_index,
            });
            match phase {
                Phase::Primary => la.primaries.push(idx),
                Phase::Secondary => la.secondaries.push(idx),
                Phase::Special => la.specials.push(idx),
                Phase::Ap => la.aps.push(idx),
                Phase::Independent => la.independents.push(idx),
            }
        }
    }
}
