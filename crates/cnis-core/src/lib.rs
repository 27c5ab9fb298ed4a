//! Domain types for cnis.
//!
//! Every identifier a child can carry is parsed here, once, at the edge:
//! [`Upn`], [`NhsNumber`], [`Uln`], [`LaCode`], [`Postcode`] and the project's
//! own [`ChildId`]. A value of one of these types is valid by construction, so
//! the crates above never re-check. The school-age rules (compulsory school age,
//! national-curriculum year) and the deprivation decile helpers live here too,
//! because tracking, registers and statistics all depend on the same answers.
//!
//! This crate does no I/O beyond reading the LA table compiled into it.

#[macro_use]
mod macros;

pub mod ap;
pub mod calendar;
pub mod casework;
mod child_id;
mod deletion;
mod deprivation;
pub mod disclosure;
mod error;
mod ident;
mod la;
pub mod names;
mod nhs;
mod postcode;
pub mod records;
pub mod register;
pub mod schema;
pub mod school_age;
mod uln;
mod upn;

pub use child_id::ChildId;
pub use deprivation::{ImdDecile, decile_from_rank};
pub use error::IdError;
pub use ident::{IdKind, IdVerdict, check_identifier};
pub use la::{LaCode, LaInfo, LaStatus};
pub use nhs::NhsNumber;
pub use postcode::Postcode;
pub use school_age::{is_compulsory_school_age, nc_year};
pub use uln::Uln;
pub use upn::Upn;
