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
        if self.is_empty() {
            return 0;
        }
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c < x).min(self.names.len() - 1) as u16
    }

    /// How many names the table holds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
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

/// Forenames and the shorter forms families and lists use for them. Only
/// names on the forename lists need an entry; a nickname need not be on them.
pub const NICKNAMES: &[(&str, &[&str])] = &[
    ("Alexander", &["Alex", "Xander"]),
    ("Benjamin", &["Ben", "Benji"]),
    ("Charles", &["Charlie", "Charlee"]),
    ("Christopher", &["Chris", "Kit"]),
    ("Daniel", &["Dan", "Danny"]),
    ("Edward", &["Ed", "Eddie", "Ted"]),
    ("Elijah", &["Eli"]),
    ("Frederick", &["Fred", "Freddie", "Freddy"]),
    ("Harrison", &["Harry"]),
    ("Henry", &["Harry", "Hal"]),
    ("Jacob", &["Jake"]),
    ("James", &["Jim", "Jamie", "Jimmy"]),
    ("Joseph", &["Joe", "Joey"]),
    ("Joshua", &["Josh"]),
    ("Matthew", &["Matt", "Matty"]),
    ("Michael", &["Mike", "Mikey"]),
    ("Nathan", &["Nate"]),
    ("Samuel", &["Sam", "Sammy"]),
    ("Sebastian", &["Seb", "Bas"]),
    ("Theodore", &["Theo", "Teddy"]),
    ("Thomas", &["Tom", "Tommy"]),
    ("William", &["Will", "Bill", "Billy", "Liam"]),
    ("Abigail", &["Abbie", "Abi"]),
    ("Alexandra", &["Alex", "Lexi", "Sasha"]),
    ("Amelia", &["Millie", "Mia", "Amy"]),
    ("Beatrice", &["Bea", "Trixie"]),
    ("Bethany", &["Beth"]),
    ("Charlotte", &["Lottie", "Charlie"]),
    ("Eleanor", &["Ellie", "Nell"]),
    ("Elizabeth", &["Beth", "Liz", "Lizzie", "Eliza"]),
    ("Evelyn", &["Evie"]),
    ("Florence", &["Flo", "Florrie"]),
    ("Georgia", &["Georgie"]),
    ("Grace", &["Gracie"]),
    ("Harriet", &["Hattie"]),
    ("Imogen", &["Immy"]),
    ("Isabella", &["Bella", "Izzy"]),
    ("Isabelle", &["Izzy", "Belle"]),
    ("Jessica", &["Jess"]),
    ("Katherine", &["Kate", "Katie", "Kat"]),
    ("Margaret", &["Maggie", "Meg"]),
    ("Matilda", &["Tilly"]),
    ("Olivia", &["Liv", "Livvy"]),
    ("Rebecca", &["Becky", "Becca"]),
    ("Sophia", &["Sophie"]),
    ("Victoria", &["Tori", "Vicky"]),
];

/// The nicknames of a forename (empty if it has none in the table).
pub fn nicknames(forename: &str) -> &'static [&'static str] {
    NICKNAMES.iter().find(|(f, _)| *f == forename).map_or(&[], |(_, n)| n)
}

/// Whether two forenames could be the same child's: equal, one a nickname
/// of the other, sharing a nickname, or starting with the same three
/// letters. Twins are never given names that are variants of each other.
pub fn are_variants(a: &str, b: &str) -> bool {
    if a == b || a.chars().take(3).eq(b.chars().take(3)) {
        return true;
    }
    let (na, nb) = (nicknames(a), nicknames(b));
    na.contains(&b) || nb.contains(&a) || na.iter().any(|n| nb.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_and_variants() {
        assert!(nicknames("William").contains(&"Bill"));
        assert!(are_variants("William", "Will"));
        assert!(are_variants("Bill", "William"));
        assert!(are_variants("Isabella", "Isabelle"));
        assert!(are_variants("Henry", "Harrison"), "both are Harry");
        assert!(!are_variants("Olivia", "Amelia"));
        // Every name with nicknames is on a forename list.
        let names = Names::load();
        let on_lists: Vec<&str> = (0..200u16).flat_map(|i| [names.male.get(i), names.female.get(i)]).collect();
        for (formal, _) in NICKNAMES {
            assert!(on_lists.contains(formal), "{formal} is not on a forename list");
        }
    }
}
