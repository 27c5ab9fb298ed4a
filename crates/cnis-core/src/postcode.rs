//! UK postcodes, normalised to upper case with one space before the inward
//! code, with the area / district / sector parts that linkage compares.

use std::fmt;

use crate::IdError;

/// A postcode in a valid UK format (not checked against the postcode file).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Postcode(String);

impl Postcode {
    /// Parses `sw1a1aa`, `SW1A 1AA` or `SW1A  1AA` into `SW1A 1AA`.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        if s.is_empty() {
            return Err(IdError::Empty { kind: "postcode" });
        }
        let (out, inw) = Postcode::split_compact(&s).ok_or(IdError::Postcode)?;
        let mut norm = String::with_capacity(8);
        norm.push_str(out);
        norm.push(' ');
        norm.push_str(inw);
        Ok(Postcode(norm))
    }

    /// Checks a postcode written in upper case without spaces (`SW1A1AA`)
    /// and splits it into outward and inward codes, without allocating.
    pub fn split_compact(s: &str) -> Option<(&str, &str)> {
        let b = s.as_bytes();
        if !(5..=7).contains(&b.len()) || !s.is_ascii() {
            return None;
        }
        let (out, inw) = b.split_at(b.len() - 3);
        let inward_ok = inw[0].is_ascii_digit() && inw[1].is_ascii_uppercase() && inw[2].is_ascii_uppercase();
        // Outward: 1-2 letters, then a digit, then an optional digit or letter.
        let letters = out.iter().take_while(|c| c.is_ascii_uppercase()).count();
        let rest = &out[letters..];
        let outward_ok = (1..=2).contains(&letters)
            && !rest.is_empty()
            && rest.len() <= 2
            && rest[0].is_ascii_digit()
            && rest.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
        (inward_ok && outward_ok).then(|| s.split_at(out.len()))
    }

    /// The normalised form, e.g. `SW1A 1AA`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Outward code, e.g. `SW1A`.
    pub fn district(&self) -> &str {
        self.0.split(' ').next().unwrap_or("")
    }

    /// Outward code and first digit of the inward code, e.g. `SW1A 1`.
    pub fn sector(&self) -> &str {
        &self.0[..self.0.len() - 2]
    }

    /// The leading letters, e.g. `SW`.
    pub fn area(&self) -> &str {
        let n = self.0.bytes().take_while(|c| c.is_ascii_alphabetic()).count();
        &self.0[..n]
    }
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Postcode {
    // The full postcode narrows a child to a few households; logs get the district.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Postcode({} …)", self.district())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        for (raw, norm) in [
            ("sw1a1aa", "SW1A 1AA"),
            ("M1 1AE", "M1 1AE"),
            ("b33 8th", "B33 8TH"),
            ("CR2 6XH", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
        ] {
            assert_eq!(Postcode::parse(raw).expect(raw).as_str(), norm);
        }
        for bad in ["", "SW1A", "1AA SW1", "SW1A 1A1", "ABC1 1AA", "SW1A 1AAA"] {
            assert!(Postcode::parse(bad).is_err(), "{bad}");
        }
        let p = Postcode::parse("SW1A 1AA").expect("valid");
        assert_eq!((p.area(), p.district(), p.sector()), ("SW", "SW1A", "SW1A 1"));
    }
}
