//! Parsers for single fields. Each returns the reason a value is bad, in
//! words a data officer can act on, without repeating the value.

use chrono::{Datelike, NaiveDate};
use cnis_core::records::{DeletionGround, DestinationCode, Laestab, SenProvision, Sex};
use cnis_core::{IdError, LaCode, Postcode, Upn};

pub type Parsed<T> = Result<T, String>;

fn id<T>(r: Result<T, IdError>) -> Parsed<T> {
    r.map_err(|e| e.to_string())
}

pub fn upn(s: &str) -> Parsed<Upn> {
    id(Upn::parse(s))
}

pub fn postcode(s: &str) -> Parsed<Postcode> {
    id(Postcode::parse(s))
}

pub fn laestab(s: &str) -> Parsed<Laestab> {
    id(Laestab::parse(s))
}

pub fn la(s: &str) -> Parsed<LaCode> {
    id(LaCode::parse(s))
}

pub fn destination(s: &str) -> Parsed<DestinationCode> {
    id(DestinationCode::parse(s))
}

/// ISO dates (`2022-01-20`) and UK dates (`20/01/2022`).
pub fn date(s: &str) -> Parsed<NaiveDate> {
    let s = s.trim();
    let (y, m, d) = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        (&s[..4], &s[4..6], &s[6..])
    } else if let Some((y, rest)) = s.split_once('-') {
        let (m, d) = rest.split_once('-').ok_or("is not a date (expected YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD)")?;
        (y, m, d)
    } else if let Some((d, rest)) = s.split_once('/') {
        let (m, y) = rest.split_once('/').ok_or("is not a date (expected YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD)")?;
        (y, m, d)
    } else {
        return Err("is not a date (expected YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD)".into());
    };
    let num = |t: &str, max_len: usize| -> Option<u32> {
        (!t.is_empty() && t.len() <= max_len && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok()).flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else {
        return Err("is not a date (expected YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD)".into());
    };
    if y < 1000 {
        return Err("has a year that is not four digits".into());
    }
    let date = NaiveDate::from_ymd_opt(y as i32, m, d).ok_or("is an impossible date (no such day)")?;
    if !(1900..=2099).contains(&date.year()) {
        return Err("is outside the years 1900-2099".into());
    }
    Ok(date)
}

pub fn sex(s: &str) -> Parsed<Sex> {
    Sex::parse(s).ok_or_else(|| "is not a sex code (M, F or U)".to_string())
}

pub fn sen(s: &str) -> Parsed<SenProvision> {
    SenProvision::parse(s).ok_or_else(|| "is not an SEN provision code (N, K or E)".to_string())
}

pub fn ground(s: &str) -> Parsed<DeletionGround> {
    DeletionGround::parse(s).ok_or_else(|| "is not a deletion ground 9(1)(a) to 9(1)(o)".to_string())
}

pub fn flag(s: &str) -> Parsed<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "y" | "yes" | "t" => Ok(true),
        "0" | "false" | "n" | "no" | "f" => Ok(false),
        _ => Err("is not a yes/no value (1/0, true/false, Y/N)".into()),
    }
}

pub fn sessions(s: &str) -> Parsed<u16> {
    s.trim().parse::<u16>().map_err(|_| "is not a whole number of sessions (0-65535)".to_string())
}

pub fn nc_year(s: &str) -> Parsed<i8> {
    let t = s.trim();
    match t.to_ascii_uppercase().as_str() {
        "R" => Ok(0),
        "N1" => Ok(-2),
        "N2" => Ok(-1),
        _ => t.parse::<i8>().ok().filter(|y| (-2..=14).contains(y)).ok_or_else(|| "is not an NC year (R, 1-14)".into()),
    }
}

pub fn enrol_status(s: &str) -> Parsed<char> {
    let t = s.trim().to_ascii_uppercase();
    match t.as_str() {
        "C" | "M" | "S" | "G" | "F" | "O" | "P" => Ok(t.chars().next().unwrap_or('C')),
        _ => Err("is not an enrolment status (C, M, S, G, F, O, P)".into()),
    }
}

pub fn nhs(s: &str) -> Parsed<cnis_core::NhsNumber> {
    id(cnis_core::NhsNumber::parse(s))
}

/// A postcode for linkage: any text, upper case, spaces removed.
pub fn loose_postcode(s: &str) -> Parsed<String> {
    Ok(s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase())
}

pub fn text(s: &str) -> Parsed<String> {
    Ok(s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date("2022-01-20"), Ok(NaiveDate::from_ymd_opt(2022, 1, 20).unwrap_or_default()));
        assert_eq!(date("20/01/2022"), date("2022-01-20"));
        assert_eq!(date("2015-02-30"), Err("is an impossible date (no such day)".into()));
        assert!(date("2015-13-01").is_err());
        assert!(date("yesterday").is_err());
        assert!(date("15-02-2015").is_err());
        assert!(date("1890-01-01").is_err());
        assert_eq!(date("20220120"), date("2022-01-20"));
    }
}
