//! Telling which identifier a value is meant to be, for `cnis id check`.

use std::fmt;

use crate::{ChildId, IdError, NhsNumber, Uln, Upn};

/// The kinds of identifier cnis knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// Unique Pupil Number (or former UPN: same format).
    Upn,
    /// NHS number.
    Nhs,
    /// Unique Learner Number.
    Uln,
    /// cnis child id.
    ChildId,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Upn => "UPN",
            IdKind::Nhs => "NHS number",
            IdKind::Uln => "ULN",
            IdKind::ChildId => "child id",
        })
    }
}

/// The verdict on one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdVerdict {
    /// The kind it was checked as (`None` when it looks like no kind).
    pub kind: Option<IdKind>,
    /// `Ok` with notes (e.g. "temporary UPN"), or why it is invalid.
    pub result: Result<Vec<&'static str>, IdError>,
}

impl IdKind {
    /// Guesses the kind from the shape alone: 13 characters starting with a
    /// letter is a UPN, 10 digits an NHS number, 12 characters once hyphens
    /// are removed a child id. A ten-digit value is read as an NHS number
    /// unless the caller says it is a ULN.
    pub fn guess(raw: &str) -> Option<IdKind> {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        let first_is_letter = compact.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        // A letter then digits (perhaps a final letter) is UPN-shaped, even
        // with a character too many or too few: most likely a mistyped UPN.
        let body: Vec<char> = compact.chars().skip(1).collect();
        let upn_shaped = first_is_letter
            && body
                .split_last()
                .is_some_and(|(last, mid)| mid.iter().all(|c| c.is_ascii_digit()) && last.is_ascii_alphanumeric());
        let digits = compact.chars().all(|c| c.is_ascii_digit());
        match compact.chars().count() {
            13 if first_is_letter => Some(IdKind::Upn),
            11..=15 if upn_shaped => Some(IdKind::Upn),
            10 if digits => Some(IdKind::Nhs),
            12 => Some(IdKind::ChildId),
            8..=12 if digits => Some(IdKind::Nhs),
            _ => None,
        }
    }
}

/// Checks `raw` as `kind`, or as the kind its shape suggests.
pub fn check_identifier(raw: &str, kind: Option<IdKind>) -> IdVerdict {
    let kind = kind.or_else(|| IdKind::guess(raw));
    let result = match kind {
        None => Err(IdError::Unrecognised),
        Some(IdKind::Upn) => Upn::parse(raw).map(|u| {
            let mut notes = Vec::new();
            if u.is_temporary() {
                notes.push("temporary UPN");
            }
            if !u.issuer_recognised() {
                notes.push("characters 2-4 are not a recognised LA number (DfE rule 1530)");
            }
            notes
        }),
        Some(IdKind::Nhs) => NhsNumber::parse(raw)
            .map(|n| if n.is_test_range() { vec!["in the 999 range reserved for test data"] } else { vec![] }),
        Some(IdKind::Uln) => Uln::parse(raw).map(|_| vec![]),
        Some(IdKind::ChildId) => ChildId::parse(raw).map(|_| vec![]),
    };
    IdVerdict { kind, result }
}
