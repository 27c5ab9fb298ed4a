//! The records cnis reads from council and DfE files, as valid domain values.
//!
//! Each file format's column names are here too ([`columns`]), so the
//! generator that writes them and the reader that loads them cannot drift.

use std::fmt;

use chrono::NaiveDate;

use crate::{IdError, ImdDecile, LaCode, Postcode, Upn};

/// Sex as recorded in the school census (`M`, `F`; `U` where a source allows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `M`
    Male,
    /// `F`
    Female,
    /// `U`, or CIN `0`/`9`.
    Unknown,
}

impl Sex {
    /// Parses census (`M`/`F`/`U`) and CIN (`1`/`2`/`0`/`9`) codes.
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim() {
            "M" | "m" | "1" | "Male" | "male" => Some(Sex::Male),
            "F" | "f" | "2" | "Female" | "female" => Some(Sex::Female),
            "U" | "u" | "0" | "9" | "Unknown" => Some(Sex::Unknown),
            _ => None,
        }
    }
    /// The census code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Unknown => "U",
        }
    }
}

/// SEN provision (`SENprovision`): `N`, `K` or `E`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SenProvision {
    /// `N`: no special educational need.
    None,
    /// `K`: SEN support.
    SenSupport,
    /// `E`: education, health and care plan (`S`, a statement, is read as `E`).
    Ehcp,
}

impl SenProvision {
    /// Parses `N`, `K`, `E` (and the obsolete `S`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "N" | "n" => Some(SenProvision::None),
            "K" | "k" => Some(SenProvision::SenSupport),
            "E" | "e" | "S" | "s" => Some(SenProvision::Ehcp),
            _ => None,
        }
    }
    /// The census code.
    pub fn code(self) -> &'static str {
        match self {
            SenProvision::None => "N",
            SenProvision::SenSupport => "K",
            SenProvision::Ehcp => "E",
        }
    }
}

/// A DfE establishment number: 3-digit LA number and 4-digit establishment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Laestab(u32);

impl Laestab {
    /// Parses `8012000` or `801/2000` or `801-2000`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits: String = s.chars().filter(|c| !matches!(c, '/' | '-' | ' ')).collect();
        if digits.is_empty() {
            return Err(IdError::Empty { kind: "LAESTAB" });
        }
        if digits.len() != 7 {
            return Err(IdError::Length { kind: "LAESTAB", expected: 7, found: digits.chars().count() });
        }
        digits.parse::<u32>().map(Laestab).map_err(|_| IdError::Character {
            kind: "LAESTAB",
            position: digits.chars().position(|c| !c.is_ascii_digit()).map_or(1, |p| p + 1),
            rule: "must be a digit",
        })
    }
    /// From LA number and establishment number.
    pub fn new(la: u16, estab: u16) -> Self {
        Laestab(u32::from(la % 1000) * 10_000 + u32::from(estab % 10_000))
    }
    /// The LA number (characters 1-3).
    pub fn la_number(self) -> u16 {
        (self.0 / 10_000) as u16
    }
    /// The establishment number (characters 4-7).
    pub fn estab(self) -> u16 {
        (self.0 % 10_000) as u16
    }
    /// Whether the LA number is a Welsh LA's (660-681).
    pub fn is_welsh(self) -> bool {
        (660..=681).contains(&self.la_number())
    }
}

impl fmt::Display for Laestab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:07}", self.0)
    }
}

/// Where a deletion notice or CTF says a child went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationCode {
    /// A named school.
    School(Laestab),
    /// `MMMMMMM`: moved abroad.
    Abroad,
    /// `XXXXXXX`: destination unknown (a "lost" CTF).
    Unknown,
}

impl DestinationCode {
    /// Parses a LAESTAB, `MMMMMMM`/`MMM` or `XXXXXXX`/`XXX`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "MMMMMMM" | "MMM" | "MMMMMMMM" => Ok(DestinationCode::Abroad),
            "XXXXXXX" | "XXX" | "XXXXXXXX" => Ok(DestinationCode::Unknown),
            other => Laestab::parse(other).map(DestinationCode::School),
        }
    }
}

impl fmt::Display for DestinationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DestinationCode::School(l) => l.fmt(f),
            DestinationCode::Abroad => f.write_str("MMMMMMM"),
            DestinationCode::Unknown => f.write_str("XXXXXXX"),
        }
    }
}

/// A ground for deleting a pupil of compulsory school age from the admission
/// register: School Attendance (Pupil Registration) (England) Regulations
/// 2024, reg. 9(1)(a) to (o). Stored as the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeletionGround(u8);

impl DeletionGround {
    /// Registered at another school.
    pub const OTHER_SCHOOL: DeletionGround = DeletionGround(b'a');
    /// Parent has said in writing the child will be educated at home.
    pub const HOME_EDUCATION: DeletionGround = DeletionGround(b'f');
    /// No longer lives within reasonable distance.
    pub const MOVED_AWAY: DeletionGround = DeletionGround(b'g');
    /// Continuously absent for 20 school days, whereabouts unknown.
    pub const CONTINUOUS_ABSENCE: DeletionGround = DeletionGround(b'i');
    /// Died.
    pub const DIED: DeletionGround = DeletionGround(b'k');
    /// Permanently excluded.
    pub const PERMANENTLY_EXCLUDED: DeletionGround = DeletionGround(b'o');

    /// Parses `9(1)(f)`, `9(1)f`, `(f)` or `f`.
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix("9(1)").unwrap_or(&t);
        let t = t.trim_start_matches('(').trim_end_matches(')');
        match t.as_bytes() {
            [c @ b'a'..=b'o'] => Some(DeletionGround(*c)),
            _ => None,
        }
    }
    /// The ground's letter.
    pub fn letter(self) -> char {
        self.0 as char
    }
}

impl fmt::Display for DeletionGround {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "9(1)({})", self.0 as char)
    }
}

/// One pupil row of a spring school census.
#[derive(Debug, Clone, PartialEq)]
pub struct CensusPupil {
    /// `UPN`
    pub upn: Upn,
    /// `FormerUPN`
    pub former_upn: Option<Upn>,
    /// `Surname`
    pub surname: String,
    /// `Forename`
    pub forename: String,
    /// `MiddleNames`
    pub middle_names: Option<String>,
    /// `FormerSurname`
    pub former_surname: Option<String>,
    /// `DOB`
    pub dob: NaiveDate,
    /// `Sex`
    pub sex: Sex,
    /// `Ethnicity` (code as received)
    pub ethnicity: Option<String>,
    /// `LAESTAB` of the school making the return.
    pub laestab: Laestab,
    /// `EnrolStatus` (`C`, `M`, `S`, ...)
    pub enrol_status: Option<char>,
    /// `EntryDate`
    pub entry_date: Option<NaiveDate>,
    /// `NCyearActual` (0 = Reception)
    pub nc_year_actual: Option<i8>,
    /// `AddressLine1`
    pub address_line1: Option<String>,
    /// `Town`
    pub town: Option<String>,
    /// `HomePostcode`
    pub postcode: Option<Postcode>,
    /// `FSMEligible`
    pub fsm_eligible: bool,
    /// `SENprovision`
    pub sen_provision: SenProvision,
    /// `SENneed` (primary type of need)
    pub sen_need: Option<String>,
    /// `SessionsPossible` over the previous school year
    pub sessions_possible: Option<u16>,
    /// `SessionsAuthorised`
    pub sessions_authorised: Option<u16>,
    /// `SessionsUnauthorised`
    pub sessions_unauthorised: Option<u16>,
}

/// Persistent absence threshold: 10% of possible sessions.
pub const PERSISTENT_ABSENCE: f64 = 0.10;
/// Severe absence threshold: 50% of possible sessions.
pub const SEVERE_ABSENCE: f64 = 0.50;

/// A pupil's absence band over the sessions recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AbsenceBand {
    /// Below 10%.
    Regular,
    /// 10% or more, below 50%.
    Persistent,
    /// 50% or more.
    Severe,
}

impl AbsenceBand {
    /// The band for `absent` sessions out of `possible`; `None` with no sessions.
    pub fn of(possible: u16, absent: u32) -> Option<AbsenceBand> {
        if possible == 0 {
            return None;
        }
        let rate = f64::from(absent) / f64::from(possible);
        Some(if rate >= SEVERE_ABSENCE {
            AbsenceBand::Severe
        } else if rate >= PERSISTENT_ABSENCE {
            AbsenceBand::Persistent
        } else {
            AbsenceBand::Regular
        })
    }
}

impl CensusPupil {
    /// The absence band over the previous year's sessions, if recorded.
    pub fn absence_band(&self) -> Option<AbsenceBand> {
        let possible = self.sessions_possible?;
        let absent =
            u32::from(self.sessions_authorised.unwrap_or(0)) + u32::from(self.sessions_unauthorised.unwrap_or(0));
        AbsenceBand::of(possible, absent)
    }
}

/// Which destination source a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    /// The LA's elective home education register.
    HomeEducation,
    /// The LA's list of children known or suspected to be missing education.
    Cme,
    /// School deletion notices (reg. 13 returns).
    Deletion,
    /// Pupils on the roll of independent schools.
    IndependentRoll,
    /// Children known to social care (CIN, CPP, CLA).
    SocialCare,
}

impl SourceKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SourceKind; 5] = [
        SourceKind::HomeEducation,
        SourceKind::Cme,
        SourceKind::Deletion,
        SourceKind::IndependentRoll,
        SourceKind::SocialCare,
    ];
    /// The name used on the command line and in the database.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::HomeEducation => "home-education",
            SourceKind::Cme => "cme",
            SourceKind::Deletion => "deletions",
            SourceKind::IndependentRoll => "independent-roll",
            SourceKind::SocialCare => "social-care",
        }
    }
    /// The inverse of [`SourceKind::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        SourceKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One row of a destination source. Which fields are required depends on the
/// kind (see `cnis-ingest`); the UPN is optional everywhere but in deletions.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Which source.
    pub kind: SourceKind,
    /// The LA holding the record.
    pub la: Option<LaCode>,
    /// The school (deletions, independent roll).
    pub laestab: Option<Laestab>,
    /// The LA's own reference for the child (e.g. `LAchildID`).
    pub local_id: Option<String>,
    /// UPN where the source holds one.
    pub upn: Option<Upn>,
    /// Surname.
    pub surname: Option<String>,
    /// Forename.
    pub forename: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Home postcode.
    pub postcode: Option<Postcode>,
    /// Start date (EHE, CME), deletion date, or entry date.
    pub date: Option<NaiveDate>,
    /// Deletion ground (deletions only).
    pub deletion_ground: Option<DeletionGround>,
    /// Destination (deletions only).
    pub destination: Option<DestinationCode>,
    /// CME `known`/`suspected`; social care `CIN`/`CPP`/`CLA`.
    pub status: Option<String>,
}

/// Whether a school is state-funded or independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sector {
    /// Makes the school census return.
    StateFunded,
    /// Does not.
    Independent,
}

/// One establishment from a schools list (a GIAS-style extract).
#[derive(Debug, Clone, PartialEq)]
pub struct School {
    /// Unique reference number.
    pub urn: u32,
    /// DfE number.
    pub laestab: Laestab,
    /// Establishment name.
    pub name: String,
    /// Phase code (`PS`, `SS`, `SP`, `PR`, ...).
    pub phase: String,
    /// State-funded or independent.
    pub sector: Sector,
}

/// A postcode's neighbourhood and its deprivation decile (a join of the ONS
/// postcode directory with the Indices of Deprivation).
#[derive(Debug, Clone, PartialEq)]
pub struct PostcodeDeprivation {
    /// The postcode.
    pub postcode: Postcode,
    /// Its LSOA code.
    pub lsoa: String,
    /// The LSOA's IMD decile.
    pub imd_decile: ImdDecile,
}

/// Column names of each file format cnis reads and the generator writes.
pub mod columns {
    /// Pupil-level spring census (DfE census field names).
    pub const CENSUS: &[&str] = &[
        "UPN",
        "FormerUPN",
        "Surname",
        "Forename",
        "MiddleNames",
        "FormerSurname",
        "DOB",
        "Sex",
        "Ethnicity",
        "LAESTAB",
        "EnrolStatus",
        "EntryDate",
        "NCyearActual",
        "AddressLine1",
        "Town",
        "HomePostcode",
        "FSMEligible",
        "SENprovision",
        "SENneed",
        "SessionsPossible",
        "SessionsAuthorised",
        "SessionsUnauthorised",
    ];
    /// Destination sources: one layout, the columns a kind does not use left empty.
    pub const SOURCE: &[&str] = &[
        "LA",
        "LAESTAB",
        "LAchildID",
        "UPN",
        "Surname",
        "Forename",
        "DOB",
        "Sex",
        "HomePostcode",
        "Date",
        "DeletionGround",
        "Destination",
        "Status",
    ];
    /// Schools list.
    pub const SCHOOLS: &[&str] = &["URN", "LAESTAB", "EstablishmentName", "Phase", "Sector"];
    /// Postcode to neighbourhood deprivation lookup.
    pub const POSTCODE_DEPRIVATION: &[&str] = &["Postcode", "LSOA", "IMDDecile"];
    /// Linkage input: one layout for every source.
    pub const LINK: &[&str] = &[
        "source",
        "record_id",
        "upn",
        "former_upn",
        "nhs_number",
        "forename",
        "middle_names",
        "surname",
        "former_surname",
        "dob",
        "sex",
        "postcode",
        "address",
        "truth",
    ];
}

/// Where a child who left a school roll went, as cnis reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    /// A source says another state-funded school, but the child is not on
    /// the next census under the UPN we know.
    AnotherSchool,
    /// Elective home education.
    HomeEducation,
    /// An independent school.
    IndependentSchool,
    /// Moved abroad.
    Abroad,
    /// Moved to Wales, Scotland or Northern Ireland.
    OutsideEngland,
    /// Died.
    Died,
    /// Known or suspected to be missing education.
    Cme,
    /// No source says where the child went.
    Unknown,
}

impl Destination {
    /// Every destination, in report order.
    pub const ALL: [Destination; 8] = [
        Destination::HomeEducation,
        Destination::IndependentSchool,
        Destination::Abroad,
        Destination::OutsideEngland,
        Destination::AnotherSchool,
        Destination::Died,
        Destination::Cme,
        Destination::Unknown,
    ];
    /// The snake-case name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Destination::AnotherSchool => "another_school",
            Destination::HomeEducation => "home_education",
            Destination::IndependentSchool => "independent_school",
            Destination::Abroad => "abroad",
            Destination::OutsideEngland => "outside_england",
            Destination::Died => "died",
            Destination::Cme => "cme",
            Destination::Unknown => "unknown",
        }
    }
    /// The inverse of [`Destination::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Destination::ALL.into_iter().find(|d| d.name() == s)
    }
    /// A label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Destination::AnotherSchool => "Another state school (not found on next census)",
            Destination::HomeEducation => "Elective home education",
            Destination::IndependentSchool => "Independent school",
            Destination::Abroad => "Moved abroad",
            Destination::OutsideEngland => "Wales, Scotland or Northern Ireland",
            Destination::Died => "Died",
            Destination::Cme => "Missing education (known or suspected)",
            Destination::Unknown => "Unknown",
        }
    }
}

/// What tracking needs of a pupil on the first census: identifiers and the
/// risk factors, without names or address (those are fetched for leavers only).
#[derive(Debug, Clone, PartialEq)]
pub struct CohortPupil {
    /// UPN on the first census.
    pub upn: Upn,
    /// The child's cnis id, where one has been given.
    pub child_id: Option<crate::ChildId>,
    /// Date of birth.
    pub dob: NaiveDate,
    /// Sex.
    pub sex: Sex,
    /// School on the first census.
    pub laestab: Laestab,
    /// NC year actual.
    pub nc_year: Option<i8>,
    /// SEN provision.
    pub sen: SenProvision,
    /// FSM eligible.
    pub fsm: bool,
    /// Absence band over the sessions on the census.
    pub absence: Option<AbsenceBand>,
    /// IMD decile of the home postcode, where the postcode is known and in the lookup.
    pub imd_decile: Option<ImdDecile>,
}

/// One record offered to linkage, from any source. Everything but the source
/// and record id is optional: lists without UPNs are the reason linkage exists.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkRecord {
    /// Which data set the record came from (`census-2022`, `ehe`, ...).
    pub source: String,
    /// The record's id within its source.
    pub record_id: String,
    /// UPN.
    pub upn: Option<Upn>,
    /// Former UPN.
    pub former_upn: Option<Upn>,
    /// A UPN as written where it failed its check (a wrong check letter, a
    /// character missing): never matched exactly, since two children can
    /// share a mistyped value, but close enough to compare character by
    /// character with another record's UPN.
    pub upn_text: Option<String>,
    /// NHS number.
    pub nhs_number: Option<crate::NhsNumber>,
    /// Forename.
    pub forename: Option<String>,
    /// Middle names.
    pub middle_names: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Former surname.
    pub former_surname: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Postcode as given, upper case without spaces; UK postcodes get their
    /// sector, district and area compared too.
    pub postcode: Option<String>,
    /// Free-text address.
    pub address: Option<String>,
    /// A known answer for evaluation (the same value = the same child).
    pub truth: Option<String>,
}
