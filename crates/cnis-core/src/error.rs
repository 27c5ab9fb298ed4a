//! The one error type of this crate: why a value is not a valid identifier.

use thiserror::Error;

/// Why a value could not be parsed as an identifier or code.
///
/// Messages name the rule that failed but never echo the value itself, so
/// they are safe to log and to show outside the council that owns the data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The value was empty or only whitespace.
    #[error("{kind} is empty")]
    Empty {
        /// Which kind of identifier was expected.
        kind: &'static str,
    },
    /// The value has the wrong number of characters.
    #[error("{kind} must have {expected} characters, found {found}")]
    Length {
        /// Which kind of identifier was expected.
        kind: &'static str,
        /// How many characters the format needs.
        expected: usize,
        /// How many the value had.
        found: usize,
    },
    /// A character is not allowed at its position.
    #[error("{kind} character {position} {rule}")]
    Character {
        /// Which kind of identifier was expected.
        kind: &'static str,
        /// 1-based position of the bad character.
        position: usize,
        /// What the character should have been.
        rule: &'static str,
    },
    /// The check character or check digit does not match the rest.
    #[error("{kind} check character is wrong (expected {expected})")]
    Check {
        /// Which kind of identifier was expected.
        kind: &'static str,
        /// The check character that the body calls for.
        expected: char,
    },
    /// The body of the number can never be valid (modulus 11 gives 10).
    #[error("{kind} can never be valid: its check digit would be 10")]
    ImpossibleStem {
        /// Which kind of identifier was expected.
        kind: &'static str,
    },
    /// The LA code is not one of the known DfE or ONS codes.
    #[error("not a known local authority code")]
    UnknownLa,
    /// The postcode is not in a UK postcode format.
    #[error("postcode is not in a UK postcode format")]
    Postcode,
    /// The value matches no identifier format at all.
    #[error("not a UPN, NHS number, ULN or child id")]
    Unrecognised,
}
