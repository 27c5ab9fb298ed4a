//! Unique Pupil Number: 13 characters, a check letter, then the LA number,
//! establishment, year and serial of the school that allocated it.

use std::fmt;
use std::str::FromStr;

use crate::IdError;
use crate::la::LaCode;

/// The 23 letters used for UPN check letters and temporary-UPN suffixes
/// (I, O and S are never used). Index = numeric value.
const LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";
const KIND: &str = "UPN";

/// A Unique Pupil Number whose format, check letter and LA number are valid.
///
/// Stored as its 13 ASCII bytes so that it is `Copy` and cheap to hash: the
/// tracking of a national census holds millions of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Upn([u8; 13]);

fn letter_value(c: u8) -> Option<u32> {
    LETTERS.iter().position(|&l| l == c).map(|p| p as u32)
}

/// The check letter for the 12 characters after it, or `None` when a
/// character is not allowed in the body.
fn check_letter(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in body.iter().enumerate() {
        let v = if c.is_ascii_digit() { u32::from(c - b'0') } else { letter_value(c)? };
        sum += (i as u32 + 2) * v;
    }
    Some(LETTERS[(sum % 23) as usize])
}

impl Upn {
    /// Parses a UPN, accepting surrounding whitespace and lower case.
    ///
    /// This checks the format and the check letter (DfE rules 1510, 1540,
    /// 1550). Whether characters 2-4 name a known LA (rule 1530) is a separate
    /// question, [`Upn::issuer_recognised`], because numbers from LAs missing
    /// from the lookup still identify a child.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        let mut b = [0u8; 13];
        if s.len() == 13 && s.is_ascii() {
            // The common case, byte by byte.
            for (o, c) in b.iter_mut().zip(s.bytes()) {
                *o = c.to_ascii_uppercase();
            }
        } else {
            let n = s.chars().count();
            if n != 13 {
                return Err(IdError::Length { kind: KIND, expected: 13, found: n });
            }
            for (i, c) in s.chars().enumerate() {
                if !c.is_ascii() {
                    return Err(IdError::Character {
                        kind: KIND,
                        position: i + 1,
                        rule: "must be a letter or a digit",
                    });
                }
                b[i] = c.to_ascii_uppercase() as u8;
            }
        }
        if letter_value(b[0]).is_none() {
            return Err(IdError::Character {
                kind: KIND,
                position: 1,
                rule: "must be a check letter (A-Z without I, O, S)",
            });
        }
        for (i, &c) in b.iter().enumerate().take(12).skip(1) {
            if !c.is_ascii_digit() {
                return Err(IdError::Character { kind: KIND, position: i + 1, rule: "must be a digit (rule 1540)" });
            }
        }
        if !b[12].is_ascii_digit() && letter_value(b[12]).is_none() {
            return Err(IdError::Character {
                kind: KIND,
                position: 13,
                rule: "must be a digit or a letter other than I, O, S (rule 1550)",
            });
        }
        let expected = check_letter(&b[1..]).ok_or(IdError::Character {
            kind: KIND,
            position: 13,
            rule: "must be a digit or a letter other than I, O, S (rule 1550)",
        })?;
        if expected != b[0] {
            return Err(IdError::Check { kind: KIND, expected: expected as char });
        }
        Ok(Upn(b))
    }

    /// Builds a permanent UPN from its parts, computing the check letter.
    ///
    /// `la` must be a recognised LA number; `estab` is 0..=9999, `year` the
    /// last two digits of the allocation year and `serial` 0..=999.
    pub fn from_parts(la: LaCode, estab: u16, year: u8, serial: u16) -> Result<Self, IdError> {
        let body = format!("{:03}{:04}{:02}{:03}", la.number(), estab % 10000, year % 100, serial % 1000);
        let letter = check_letter(body.as_bytes()).ok_or(IdError::Unrecognised)?;
        let mut s = String::with_capacity(13);
        s.push(letter as char);
        s.push_str(&body);
        Upn::parse(&s)
    }

    /// The 13 characters, upper case.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Whether characters 2-4 are a recognised LA number (DfE rule 1530):
    /// an English LA, live or terminated, BFPO, or a Welsh LA.
    pub fn issuer_recognised(&self) -> bool {
        LaCode::is_upn_issuer(self.issuing_la_number())
    }

    /// A temporary UPN has a letter, not a digit, in position 13.
    pub fn is_temporary(&self) -> bool {
        !self.0[12].is_ascii_digit()
    }

    /// The DfE number of the LA where the allocating school is (characters
    /// 2-4). This is where the number was issued, never where the child is.
    pub fn issuing_la_number(&self) -> u16 {
        self.0[1..4].iter().fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'))
    }
}

impl fmt::Display for Upn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Upn {
    // Debug output ends up in logs; a UPN is personal data, so it is masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Upn(…{})", &self.as_str()[10..])
    }
}

impl FromStr for Upn {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Upn::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_from_the_standard() {
        assert_eq!(check_letter(b"801200001001"), Some(b'H'));
        assert_eq!(check_letter(b"207000016049"), Some(b'P'));
        assert_eq!(check_letter(b"80120000101A"), Some(b'G'));
    }

    #[test]
    fn temporary_and_parts() {
        let u = Upn::parse("g80120000101a").expect("valid temporary UPN");
        assert!(u.is_temporary());
        assert_eq!(u.as_str(), "G80120000101A");
        assert_eq!(u.issuing_la_number(), 801);
        let la = LaCode::from_number(801).expect("Bristol");
        let built = Upn::from_parts(la, 2000, 1, 1).expect("built");
        assert_eq!(built.as_str(), "H801200001001");
    }

    proptest::proptest! {
        #[test]
        fn every_built_upn_validates_and_every_single_change_is_caught(
            estab in 0u16..10000, year in 0u8..100, serial in 0u16..1000,
            pos in 0usize..13, with in proptest::sample::select(b"0123456789ABCDEFGHJKLMNPQRTUVWXYZ".to_vec()),
        ) {
            let la = LaCode::from_number(801).expect("Bristol");
            let upn = Upn::from_parts(la, estab, year, serial).expect("built UPN is valid");
            proptest::prop_assert_eq!(Upn::parse(upn.as_str()), Ok(upn));
            let mut typo = upn.0;
            proptest::prop_assume!(typo[pos] != with);
            // The scheme cannot see a digit in position 13 replaced by the
            // letter of the same value (2 and C both count 2): not guaranteed.
            let value = |c: u8| if c.is_ascii_digit() { Some(u32::from(c - b'0')) } else { letter_value(c) };
            proptest::prop_assume!(!(pos == 12 && value(typo[pos]) == value(with)));
            typo[pos] = with;
            let typo = String::from_utf8(typo.to_vec()).expect("ascii");
            proptest::prop_assert!(Upn::parse(&typo).is_err());
        }
    }

    #[test]
    fn debug_masks_the_number() {
        let u = Upn::parse("H801200001001").expect("valid");
        assert_eq!(format!("{u:?}"), "Upn(…001)");
    }
}
