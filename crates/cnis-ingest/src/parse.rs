//! Parsers for single fields. Each returns the reason a value is bad, in
//! words a data officer can act on, without repeating the value.

use chrono::{Datelike, NaiveDate};
use cnis_core::records::{
    CmeStatus, DestinationCode, EnrolStatus, GroundText, Laestab, SenProvision, Sex, SocialCareStatus,
};
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

/// A URN: a whole number of up to 7 digits.
pub fn urn(s: &str) -> Parsed<u32> {
    let t = s.trim();
    if t.is_empty() || t.len() > 7 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not a URN (up to 7 digits)".into());
    }
    t.parse().map_err(|_| "is not a URN (up to 7 digits)".into())
}

/// ISO dates (`2022-01-20`), UK dates (`20/01/2022`, `20-01-2022`,
/// `20.01.2022`) and compact ones (`20220120`).
pub fn date(s: &str) -> Parsed<NaiveDate> {
    const FORMS: &str = "is not a date (expected YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD)";
    let s = s.trim();
    // Spreadsheets add a time to dates: `2022-01-20 00:00:00`, `20/01/2022 00:00`.
    let s = s.split_once([' ', 'T']).map_or(s, |(d, time)| if time.contains(':') { d } else { s });
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    let (y, m, d) = match parts.as_slice() {
        [one] if one.len() == 8 && one.bytes().all(|b| b.is_ascii_digit()) => (&one[..4], &one[4..6], &one[6..]),
        [a, b, c] if a.len() == 4 => (*a, *b, *c),
        [a, b, c] if c.len() == 4 => (*c, *b, *a),
        [_, _, c] if c.len() == 2 => return Err("has a two-digit year; write the year in full".into()),
        _ => return Err(FORMS.into()),
    };
    let num = |t: &str, max_len: usize| -> Option<u32> {
        (!t.is_empty() && t.len() <= max_len && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok()).flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else {
        return Err(FORMS.into());
    };
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

pub fn ground(s: &str) -> Parsed<GroundText> {
    GroundText::parse(s).ok_or_else(|| {
        "is not a deletion ground: 9(1)(a)-(o) (2024 Regulations), 8(1)(a)-(o) (2006) or a letter".into()
    })
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

/// Hours a week: a number from 0 to 168 (a week has 168 hours).
pub fn hours(s: &str) -> Parsed<f32> {
    match s.trim().parse::<f32>() {
        Ok(h) if (0.0..=168.0).contains(&h) => Ok(h),
        _ => Err("is not a number of hours a week (0-168)".into()),
    }
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

pub fn enrol_status(s: &str) -> Parsed<EnrolStatus> {
    EnrolStatus::parse(s).ok_or_else(|| "is not an enrolment status (C, M, S, G, F, O, P)".into())
}

pub fn cme_status(s: &str) -> Parsed<CmeStatus> {
    CmeStatus::parse(s).ok_or_else(|| "is not a CME status (known or suspected)".into())
}

pub fn social_care(s: &str) -> Parsed<SocialCareStatus> {
    SocialCareStatus::parse(s).ok_or_else(|| {
        "is not a social-care status (CIN child in need, S47 enquiry, CPP protection plan, CLA looked after)".into()
    })
}

pub fn nhs(s: &str) -> Parsed<cnis_core::NhsNumber> {
    id(cnis_core::NhsNumber::parse(s))
}

/// A postcode for linkage: any text, upper case, spaces removed.
pub fn loose_postcode(s: &str) -> Parsed<String> {
    Ok(compact(s))
}

/// Upper case, whitespace removed: how a faulty identifier is kept.
pub fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
}

pub fn text(s: &str) -> Parsed<String> {
    Ok(s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap_or_default();
        assert_eq!(date("2022-01-20"), Ok(d(2022, 1, 20)));
        for s in ["20/01/2022", "20-01-2022", "20.01.2022", "20220120", "2022-01-20 00:00:00", "20/01/2022 00:00"] {
            assert_eq!(date(s), Ok(d(2022, 1, 20)), "{s}");
        }
        assert_eq!(date("2015-02-30"), Err("is an impossible date (no such day)".into()));
        assert!(date("2015-13-01").is_err());
        assert!(date("yesterday").is_err());
        assert!(date("1890-01-01").is_err());
        assert_eq!(date("20/01/22"), Err("has a two-digit year; write the year in full".into()));
    }

    #[test]
    fn statuses_take_a_vocabulary_not_any_text() {
        assert!(social_care("banana").is_err());
        assert_eq!(social_care("Child Protection Plan"), Ok(SocialCareStatus::ProtectionPlan));
        assert_eq!(social_care("s47"), Ok(SocialCareStatus::ProtectionEnquiry));
        assert!(cme_status("maybe").is_err());
        assert!(hours("200").is_err() && hours("-1").is_err() && hours("12.5").is_ok());
        assert!(urn("12345678").is_err() && urn("100001").is_ok());
    }
}
