//! Frequency-skewed name and street tables.
//!
//! The lists are common given names and surnames in England and generic
//! street names; they describe nobody. Draws follow a Zipf-like law, so the
//! first names on each list are much commoner than the last, as in real
//! registers (which is what term-frequency adjustment in linkage is for).

use rand::Rng;

const FEMALE: &str = include_str!("../data/forenames-female.txt");
const MALE: &str = include_str!("../data/forenames-male.txt");
const SURNAMES: &str = include_str!("../data/surnames.txt");
const STREETS: &str = include_str!("../data/streets.txt");

/// A list of names with cumulative Zipf weights for sampling.
pub struct NameTable {
    names: Vec<&'static str>,
    cumulative: Vec<f64>,
}

impl NameTable {
    fn new(text: &'static str, exponent: f64) -> Self {
        let names: Vec<&'static str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let mut total = 0.0;
        let cumulative = (0..names.len())
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(exponent);
                total
            })
            .collect();
        NameTable { names, cumulative }
    }

    /// Draws an index.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u16 {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c < x).min(self.names.len() - 1) as u16
    }

    /// The name at an index.
    pub fn get(&self, i: u16) -> &'static str {
        self.names.get(usize::from(i)).copied().unwrap_or("")
    }
}

/// All the tables the generator draws from.
pub struct Names {
    /// Girls' forenames.
    pub female: NameTable,
    /// Boys' forenames.
    pub male: NameTable,
    /// Surnames.
    pub surnames: NameTable,
    /// Street names.
    pub streets: NameTable,
}

impl Names {
    /// The tables, parsed once per process.
    pub fn load_cached() -> &'static Names {
        static NAMES: std::sync::LazyLock<Names> = std::sync::LazyLock::new(Names::load);
        &NAMES
    }

    /// Loads the compiled-in tables.
    pub fn load() -> Self {
        Names {
            female: NameTable::new(FEMALE, 0.9),
            male: NameTable::new(MALE, 0.9),
            surnames: NameTable::new(SURNAMES, 0.8),
            streets: NameTable::new(STREETS, 0.5),
        }
    }
}
