//! Unique Learner Number: ten digits issued by the Learning Records Service
//! to learners aged 14 and over.

use std::fmt;

use crate::IdError;
use crate::nhs::ten_digits;

const KIND: &str = "ULN";

/// A ULN whose check digit is valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uln([u8; 10]);

impl Uln {
    /// Parses a ULN. The ILR placeholder `9999999999` fails its checksum and is
    /// rejected here, as it identifies nobody.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let d = ten_digits(raw, KIND)?;
        let sum: u32 = d[..9].iter().enumerate().map(|(i, &x)| (10 - i as u32) * u32::from(x)).sum();
        let r = sum % 11;
        if r == 0 {
            return Err(IdError::ImpossibleStem { kind: KIND });
        }
        let check = (10 - r) as u8;
        if check != d[9] {
            return Err(IdError::Check { kind: KIND, expected: char::from(b'0' + check) });
        }
        Ok(Uln(d))
    }
}

impl fmt::Display for Uln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uln {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uln(…{}{}{})", self.0[7], self.0[8], self.0[9])
    }
}
