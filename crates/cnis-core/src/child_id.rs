//! The project's own child identifier.
//!
//! A `ChildId` is random, so it carries nothing about the child (unlike a UPN,
//! which says where and when it was issued). It is written as three groups of
//! four characters, `7K3M-Q9XA-2B4C`, from a 31-character alphabet with no
//! I, L, O, U or V, so it can be read aloud over the phone without "is that
//! O or zero?". The last character is a check: with a prime alphabet and
//! distinct position weights, every single-character change and every swap of
//! two characters is caught.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

use crate::IdError;

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKMNPQRSTWXYZ";
const PAYLOAD_LEN: usize = 11;
/// 31^11: the number of distinct ids.
const SPACE: u64 = 25_408_476_896_404_831;
/// Inverse of the check position's weight (12) modulo 31.
const INV_LAST_WEIGHT: u32 = 13;
const KIND: &str = "child id";

/// A child's identifier in cnis, stable across runs and data sets.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(u64);

fn value_of(c: char) -> Option<u32> {
    // Lenient the way Crockford's base 32 is: O reads as zero, I and L as one.
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        c => c,
    };
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u32)
}

impl ChildId {
    /// Draws a new id. Callers minting ids for a register must still check
    /// that it is not already in use (the space holds 2.5 × 10^16 ids).
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        ChildId(rng.random_range(0..SPACE))
    }

    /// The id whose payload is `n` (taken modulo the id space).
    pub fn from_payload(n: u64) -> Self {
        ChildId(n % SPACE)
    }

    /// The payload as a number, for compact storage.
    pub fn payload(self) -> u64 {
        self.0
    }

    fn digits(self) -> [u32; PAYLOAD_LEN] {
        let mut d = [0u32; PAYLOAD_LEN];
        let mut n = self.0;
        for slot in d.iter_mut().rev() {
            *slot = (n % 31) as u32;
            n /= 31;
        }
        d
    }

    fn check_value(digits: &[u32]) -> u32 {
        let s: u32 = digits.iter().enumerate().map(|(i, &v)| (i as u32 + 1) * v).sum();
        ((31 - s % 31) % 31) * INV_LAST_WEIGHT % 31
    }

    /// Parses an id as a person might type it: any case, with or without the
    /// hyphens, O for zero and I or L for one.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let chars: Vec<char> = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if chars.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        if chars.len() != PAYLOAD_LEN + 1 {
            return Err(IdError::Length { kind: KIND, expected: PAYLOAD_LEN + 1, found: chars.len() });
        }
        let mut values = [0u32; PAYLOAD_LEN + 1];
        for (i, &c) in chars.iter().enumerate() {
            values[i] = value_of(c).ok_or(IdError::Character {
                kind: KIND,
                position: i + 1,
                rule: "must be a digit or a letter other than U and V",
            })?;
        }
        let expected = Self::check_value(&values[..PAYLOAD_LEN]);
        if expected != values[PAYLOAD_LEN] {
            return Err(IdError::Check { kind: KIND, expected: ALPHABET[expected as usize] as char });
        }
        let n = values[..PAYLOAD_LEN].iter().fold(0u64, |acc, &v| acc * 31 + u64::from(v));
        Ok(ChildId(n))
    }
}

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        let check = Self::check_value(&d);
        let mut out = String::with_capacity(14);
        for (i, v) in d.iter().chain(std::iter::once(&check)).enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(ALPHABET[*v as usize] as char);
        }
        f.write_str(&out)
    }
}

impl fmt::Debug for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChildId({self})")
    }
}

impl FromStr for ChildId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChildId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_generated_id_round_trips(n in 0u64..SPACE) {
            let id = ChildId::from_payload(n);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 14);
            prop_assert_eq!(ChildId::parse(&text), Ok(id));
            prop_assert_eq!(ChildId::parse(&text.to_lowercase().replace('-', "")), Ok(id));
        }

        #[test]
        fn every_single_character_change_is_caught(n in 0u64..SPACE, pos in 0usize..12, with in 0usize..31) {
            let text: Vec<u8> = ChildId::from_payload(n).to_string().bytes().filter(|&b| b != b'-').collect();
            prop_assume!(ALPHABET[with] != text[pos]);
            let mut typo = text.clone();
            typo[pos] = ALPHABET[with];
            let typo = String::from_utf8(typo).expect("ascii");
            prop_assert!(ChildId::parse(&typo).is_err());
        }

        #[test]
        fn every_swap_of_two_characters_is_caught(n in 0u64..SPACE, a in 0usize..12, b in 0usize..12) {
            let mut text: Vec<u8> = ChildId::from_payload(n).to_string().bytes().filter(|&c| c != b'-').collect();
            prop_assume!(text[a] != text[b]);
            text.swap(a, b);
            let swapped = String::from_utf8(text).expect("ascii");
            prop_assert!(ChildId::parse(&swapped).is_err());
        }
    }

    #[test]
    fn read_aloud_confusions_are_forgiven() {
        let id = ChildId::from_payload(1);
        let text = id.to_string();
        assert!(text.starts_with("0000-0000-"));
        assert_eq!(ChildId::parse(&text.replace('0', "O")), Ok(id));
    }
}
