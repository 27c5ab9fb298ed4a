//! NHS number: ten digits, the last a modulus-11 check digit.

use std::fmt;
use std::str::FromStr;

use crate::IdError;

const KIND: &str = "NHS number";

/// An NHS number whose check digit is valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber([u8; 10]);

/// The modulus-11 check digit shared by NHS numbers (weights 10..2), or
/// `None` when no number with this stem is valid.
pub(crate) fn mod11_check(stem: &[u8; 9]) -> Option<u8> {
    let sum: u32 = stem.iter().enumerate().map(|(i, &d)| (10 - i as u32) * u32::from(d)).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// Strips the spaces and hyphens people type into ten-digit numbers and
/// returns the digits, or the error for `kind`.
pub(crate) fn ten_digits(raw: &str, kind: &'static str) -> Result<[u8; 10], IdError> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    let n = s.chars().count();
    if n != 10 {
        return Err(IdError::Length { kind, expected: 10, found: n });
    }
    let mut d = [0u8; 10];
    for (i, c) in s.chars().enumerate() {
        d[i] = c.to_digit(10).ok_or(IdError::Character { kind, position: i + 1, rule: "must be a digit" })? as u8;
    }
    Ok(d)
}

impl NhsNumber {
    /// Parses an NHS number, ignoring spaces and hyphens (`943 476 5919`).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let d = ten_digits(raw, KIND)?;
        let mut stem = [0u8; 9];
        stem.copy_from_slice(&d[..9]);
        match mod11_check(&stem) {
            None => Err(IdError::ImpossibleStem { kind: KIND }),
            Some(c) if c == d[9] => Ok(NhsNumber(d)),
            Some(c) => Err(IdError::Check { kind: KIND, expected: char::from(b'0' + c) }),
        }
    }

    /// Numbers from 999 000 0000 are reserved for test data and never issued.
    pub fn is_test_range(&self) -> bool {
        self.0[..3] == [9, 9, 9]
    }

    /// The ten digits without spaces.
    pub fn digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl fmt::Display for NhsNumber {
    /// The conventional 3-3-4 display form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.digits();
        write!(f, "{} {} {}", &s[..3], &s[3..6], &s[6..])
    }
}

impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NhsNumber(…{})", &self.digits()[7..])
    }
}

impl FromStr for NhsNumber {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NhsNumber::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_spaces() {
        let n = NhsNumber::parse("943 476 5919").expect("valid");
        assert_eq!(n.to_string(), "943 476 5919");
        assert!(!n.is_test_range());
        assert!(NhsNumber::parse("9990000018").expect("valid").is_test_range());
    }
}
