//! The data-quality faults real returns carry: typing errors in names,
//! forename and surname swapped, day and month of birth swapped, postcodes
//! missing. Each fault is drawn from a stream keyed by the child and the file,
//! so the same child can be typed differently in two files, reproducibly.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::Rates;

/// One typing error: a letter replaced, dropped, doubled, or two swapped.
pub fn typo(name: &str, rng: &mut ChaCha8Rng) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    if chars.len() < 3 {
        return name.to_string();
    }
    let i = rng.random_range(1..chars.len() - 1);
    match rng.random_range(0..4) {
        0 => chars[i] = (b'a' + rng.random_range(0..26)) as char,
        1 => {
            chars.remove(i);
        }
        2 => chars.insert(i, chars[i]),
        _ => chars.swap(i, i + 1),
    }
    chars.into_iter().collect()
}

/// Day and month swapped, where that gives a real date that differs.
pub fn swap_day_month(d: NaiveDate) -> NaiveDate {
    if d.day() <= 12 && d.day() != d.month() {
        NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()).unwrap_or(d)
    } else {
        d
    }
}

/// The faults drawn for one record.
pub struct Faults {
    /// Typo in the forename.
    pub forename_typo: bool,
    /// Typo in the surname.
    pub surname_typo: bool,
    /// Forename and surname swapped.
    pub swap_names: bool,
    /// Day and month of birth swapped.
    pub swap_dob: bool,
    /// Postcode left out.
    pub drop_postcode: bool,
}

impl Faults {
    /// Draws faults at the configured rates, scaled by `scale` (the first
    /// census is cleaner than hand-kept lists).
    pub fn draw(rates: &Rates, scale: f64, rng: &mut ChaCha8Rng) -> Faults {
        let mut p = |r: f64| rng.random_bool((r * scale).clamp(0.0, 1.0));
        Faults {
            forename_typo: p(rates.name_typo),
            surname_typo: p(rates.name_typo),
            swap_names: p(rates.name_swap),
            swap_dob: p(rates.dob_swap),
            drop_postcode: p(rates.missing_postcode),
        }
    }
}
