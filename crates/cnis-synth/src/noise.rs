//! The data-quality faults real returns carry: typing errors in names,
//! nicknames and middle names used as forenames, double-barrelled surnames
//! written one way or another, forename and surname swapped, day and month
//! of birth swapped, postcodes missing, UPNs mistyped. Each fault is drawn
//! from a stream keyed by the child and the file, so the same child can be
//! written differently in two files, reproducibly.

use chrono::{Datelike, NaiveDate};
use cnis_core::Upn;
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

/// How a UPN was mistyped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mistype {
    /// The check letter replaced by another letter.
    CheckLetter,
    /// One digit left out (12 characters).
    DigitDropped,
    /// Two neighbouring digits swapped.
    Transposed,
}

/// A UPN as somebody mistyped it: a wrong check letter, a digit dropped, or
/// two neighbouring different digits swapped. The result always fails the
/// UPN check (a swap of two different digits changes the weighted sum by
/// less than 23, so the check letter catches it; the result is verified
/// anyway, falling back to a wrong check letter).
pub fn mistype(upn: Upn, rng: &mut ChaCha8Rng) -> (String, Mistype) {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRTUVWXYZ";
    let mut b: Vec<u8> = upn.as_str().bytes().collect();
    let kind = match rng.random_range(0..3) {
        0 => Mistype::CheckLetter,
        1 => Mistype::DigitDropped,
        _ => Mistype::Transposed,
    };
    let wrong_letter = |b: &mut Vec<u8>, rng: &mut ChaCha8Rng| {
        let now = b[0];
        let mut l = LETTERS[rng.random_range(0..LETTERS.len())];
        if l == now {
            l = LETTERS[(LETTERS.iter().position(|&x| x == now).unwrap_or(0) + 1) % LETTERS.len()];
        }
        b[0] = l;
    };
    match kind {
        Mistype::CheckLetter => wrong_letter(&mut b, rng),
        Mistype::DigitDropped => {
            b.remove(rng.random_range(1..b.len()));
        }
        Mistype::Transposed => {
            // A pair of neighbouring, different digits in positions 2-13.
            let pairs: Vec<usize> = (1..b.len() - 1).filter(|&i| b[i] != b[i + 1]).collect();
            match pairs.get(rng.random_range(0..pairs.len().max(1))) {
                Some(&i) => b.swap(i, i + 1),
                None => wrong_letter(&mut b, rng),
            }
        }
    }
    let text = String::from_utf8(b).unwrap_or_default();
    if Upn::parse(&text).is_ok() || text.len() < 12 {
        let mut b: Vec<u8> = upn.as_str().bytes().collect();
        wrong_letter(&mut b, rng);
        return (String::from_utf8(b).unwrap_or_default(), Mistype::CheckLetter);
    }
    (text, kind)
}

/// How a list writes a double-barrelled surname.
pub fn barrelled(first: &str, second: &str, variant: bool, rng: &mut ChaCha8Rng) -> String {
    if !variant {
        return format!("{first}-{second}");
    }
    match rng.random_range(0..4) {
        0 => format!("{first} {second}"),
        1 => first.to_string(),
        2 => second.to_string(),
        _ => format!("{first}{}", second.to_lowercase()),
    }
}

/// A surname that is already hyphenated (`Smith-Patel`) written another way.
pub fn hyphenated_variant(surname: &str, rng: &mut ChaCha8Rng) -> String {
    match surname.split_once('-') {
        Some((a, b)) => barrelled(a, b, true, rng),
        None => surname.to_string(),
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
    /// Forename written as a nickname.
    pub nickname: bool,
    /// Middle name written as the forename.
    pub middle_as_forename: bool,
    /// Double-barrelled surname written another way.
    pub barrel_variant: bool,
}

impl Faults {
    /// Draws faults at the configured rates. `scale` multiplies the typing
    /// faults (the first census is cleaner than hand-kept lists);
    /// `census` marks a census row, which uses legal names, so nicknames,
    /// middle names and other forms of a surname are rarer there.
    pub fn draw(rates: &Rates, scale: f64, census: bool, rng: &mut ChaCha8Rng) -> Faults {
        let mut p = |r: f64| rng.random_bool(r.clamp(0.0, 1.0));
        let names = if census { 0.2 } else { 1.0 };
        let barrel = if census { 0.1 } else { 1.0 };
        Faults {
            forename_typo: p(rates.name_typo * scale),
            surname_typo: p(rates.name_typo * scale),
            swap_names: p(rates.name_swap * scale),
            swap_dob: p(rates.dob_swap * scale),
            drop_postcode: p(rates.missing_postcode * scale),
            nickname: p(rates.nickname * names * scale),
            middle_as_forename: p(rates.middle_as_forename * names * scale),
            barrel_variant: p(rates.double_barrelled_variant * barrel * scale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng_for;

    #[test]
    fn every_mistyped_upn_fails_its_check() {
        let la = cnis_core::LaCode::live().next().expect("an LA");
        let mut rng = rng_for(7, 7);
        for serial in 0..999u16 {
            let upn = Upn::from_parts(la, 2000 + serial % 50, (serial % 90) as u8, serial).expect("valid");
            for _ in 0..5 {
                let (text, _) = mistype(upn, &mut rng);
                assert!(Upn::parse(&text).is_err(), "{text} passes");
                assert_ne!(text, upn.as_str());
            }
        }
    }
}
