//! The records cnis reads from council and DfE files, as valid domain values.
//!
//! Each file format's column names are here too ([`columns`]), so the
//! generator that writes them and the reader that loads them cannot drift.

use std::fmt;

use chrono::NaiveDate;

use crate::{IdError, ImdDecile, LaCode, Postcode, Upn};

pub use crate::deletion::{Confidence, DeletionGround, GroundMeaning, GroundText, Regulations};

/// Sex as recorded in the school census (`M`, `F`; `U` where a source allows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sex {
    /// `M`
    Male,
    /// `F`
    Female,
    /// `U`, or CIN `0`/`9`.
    #[default]
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

/// Enrolment status on a census (`EnrolStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnrolStatus {
    /// `C`: current, single registration.
    Single,
    /// `M`: current main, dual registration: the school and attendance that count.
    Main,
    /// `S`: current subsidiary, dual registration (e.g. a PRU or hospital school).
    Subsidiary,
    /// `G`: guest, not registered here.
    Guest,
    /// `F`: subsidiary provision at an FE college.
    FurtherEducation,
    /// `O`: other provider.
    Other,
    /// `P`: previous (historic) enrolment.
    Previous,
}

impl EnrolStatus {
    /// Parses the census code.
    pub fn parse(s: &str) -> Option<EnrolStatus> {
        Some(match s.trim().as_bytes() {
            [b'C' | b'c'] => EnrolStatus::Single,
            [b'M' | b'm'] => EnrolStatus::Main,
            [b'S' | b's'] => EnrolStatus::Subsidiary,
            [b'G' | b'g'] => EnrolStatus::Guest,
            [b'F' | b'f'] => EnrolStatus::FurtherEducation,
            [b'O' | b'o'] => EnrolStatus::Other,
            [b'P' | b'p'] => EnrolStatus::Previous,
            _ => return None,
        })
    }
    /// The census code.
    pub fn code(self) -> &'static str {
        match self {
            EnrolStatus::Single => "C",
            EnrolStatus::Main => "M",
            EnrolStatus::Subsidiary => "S",
            EnrolStatus::Guest => "G",
            EnrolStatus::FurtherEducation => "F",
            EnrolStatus::Other => "O",
            EnrolStatus::Previous => "P",
        }
    }
    /// Whether the row is a registration that puts the child on this school's
    /// roll as their main school: `C` or `M` (a missing status counts as `C`).
    pub fn is_main(status: Option<EnrolStatus>) -> bool {
        matches!(status, None | Some(EnrolStatus::Single | EnrolStatus::Main))
    }
}

/// One pupil row of a spring school census.
#[derive(Debug, Clone, PartialEq)]
pub struct CensusPupil {
    /// `UPN`, where it passes its check.
    pub upn: Option<Upn>,
    /// The UPN as written where it failed its check: kept, never matched
    /// exactly, compared character by character in linkage.
    pub upn_text: Option<String>,
    /// `FormerUPN`
    pub former_upn: Option<Upn>,
    /// `Surname`
    pub surname: Option<String>,
    /// `Forename`
    pub forename: Option<String>,
    /// `MiddleNames`
    pub middle_names: Option<String>,
    /// `FormerSurname`
    pub former_surname: Option<String>,
    /// `DOB`, where it is a real date that makes the child 2 to 20 on the census day.
    pub dob: Option<NaiveDate>,
    /// `Sex`
    pub sex: Sex,
    /// `Ethnicity` (code as received)
    pub ethnicity: Option<String>,
    /// `LAESTAB` of the school making the return.
    pub laestab: Option<Laestab>,
    /// `EnrolStatus`
    pub enrol_status: Option<EnrolStatus>,
    /// `EntryDate`
    pub entry_date: Option<NaiveDate>,
    /// `NCyearActual` (0 = Reception)
    pub nc_year_actual: Option<i8>,
    /// `AddressLine1`
    pub address_line1: Option<String>,
    /// `Town`
    pub town: Option<String>,
    /// `HomePostcode`, where it is a valid postcode.
    pub postcode: Option<Postcode>,
    /// The postcode as written where it is not a valid one (kept for linkage).
    pub postcode_text: Option<String>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SourceKind {
    /// The LA's elective home education register.
    #[default]
    HomeEducation,
    /// The LA's list of children known or suspected to be missing education.
    Cme,
    /// School deletion notices (reg. 13 returns).
    Deletion,
    /// Pupils on the roll of independent schools.
    IndependentRoll,
    /// Children known to social care (CIN, s.47, CPP, CLA).
    SocialCare,
    /// Placements in alternative provision outside school (school- or LA-arranged).
    AlternativeProvision,
}

impl SourceKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SourceKind; 6] = [
        SourceKind::HomeEducation,
        SourceKind::Cme,
        SourceKind::Deletion,
        SourceKind::IndependentRoll,
        SourceKind::SocialCare,
        SourceKind::AlternativeProvision,
    ];
    /// The name used on the command line and in the database.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::HomeEducation => "home-education",
            SourceKind::Cme => "cme",
            SourceKind::Deletion => "deletions",
            SourceKind::IndependentRoll => "independent-roll",
            SourceKind::SocialCare => "social-care",
            SourceKind::AlternativeProvision => "alternative-provision",
        }
    }
    /// The inverse of [`SourceKind::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        SourceKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A CME list's status for a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmeStatus {
    /// Known to be missing education.
    Known,
    /// Suspected.
    Suspected,
}

impl CmeStatus {
    /// Parses `known`/`suspected` (and `K`/`S`).
    pub fn parse(s: &str) -> Option<CmeStatus> {
        match s.trim().to_ascii_lowercase().as_str() {
            "known" | "k" | "confirmed" => Some(CmeStatus::Known),
            "suspected" | "s" => Some(CmeStatus::Suspected),
            _ => None,
        }
    }
    /// The word used in files.
    pub fn name(self) -> &'static str {
        match self {
            CmeStatus::Known => "known",
            CmeStatus::Suspected => "suspected",
        }
    }
}

/// A child's involvement with children's social care, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocialCareStatus {
    /// Child in need (Children Act 1989 s.17).
    ChildInNeed,
    /// Child-protection enquiry under s.47 of the Children Act 1989.
    ProtectionEnquiry,
    /// Child-protection plan.
    ProtectionPlan,
    /// Looked after by the council.
    LookedAfter,
}

impl SocialCareStatus {
    /// Parses `CIN`, `S47`, `CPP`, `CLA` (and `LAC`, `CP`, and the words).
    pub fn parse(s: &str) -> Option<SocialCareStatus> {
        let t: String = s.trim().to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        Some(match t.as_str() {
            "cin" | "childinneed" => SocialCareStatus::ChildInNeed,
            "s47" | "section47" | "cpenquiry" | "childprotectionenquiry" => SocialCareStatus::ProtectionEnquiry,
            "cpp" | "cp" | "cpplan" | "childprotectionplan" => SocialCareStatus::ProtectionPlan,
            "cla" | "lac" | "lookedafter" | "lookedafterchild" | "childlookedafter" => SocialCareStatus::LookedAfter,
            _ => return None,
        })
    }
    /// The code used in files.
    pub fn code(self) -> &'static str {
        match self {
            SocialCareStatus::ChildInNeed => "CIN",
            SocialCareStatus::ProtectionEnquiry => "S47",
            SocialCareStatus::ProtectionPlan => "CPP",
            SocialCareStatus::LookedAfter => "CLA",
        }
    }
}

/// One row of a destination source. Which fields a kind uses is in
/// `docs/formats.md`; every field is optional, because a row is kept as long
/// as it can identify a child (a UPN, the council's own id, or two of
/// forename, surname and date of birth).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceRecord {
    /// Which source.
    pub kind: SourceKind,
    /// The LA holding the record.
    pub la: Option<LaCode>,
    /// The school (deletions: the school deleting; independent roll: the school).
    pub laestab: Option<Laestab>,
    /// The school's URN (independent roll, where no LAESTAB is given).
    pub urn: Option<u32>,
    /// The LA's own reference for the child (e.g. `LAchildID`).
    pub local_id: Option<String>,
    /// UPN where the source holds one that passes its check.
    pub upn: Option<Upn>,
    /// A UPN as written where it failed its check.
    pub upn_text: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Forename.
    pub forename: Option<String>,
    /// Middle names.
    pub middle_names: Option<String>,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Home postcode.
    pub postcode: Option<Postcode>,
    /// A postcode as written where it is not a valid one.
    pub postcode_text: Option<String>,
    /// Deletion date, register entry, placement or episode start.
    pub date: Option<NaiveDate>,
    /// Placement or episode end.
    pub end_date: Option<NaiveDate>,
    /// Deletion ground, read under the regulations that applied.
    pub deletion_ground: Option<DeletionGround>,
    /// Destination (deletions only).
    pub destination: Option<DestinationCode>,
    /// CME list status.
    pub cme_status: Option<CmeStatus>,
    /// Social-care status.
    pub social_care: Option<SocialCareStatus>,
    /// Alternative-provision provider.
    pub provider: Option<String>,
    /// Hours a week (alternative provision).
    pub hours: Option<f32>,
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

/// Column names of the linkage layout (the other formats are in [`crate::schema`]).
pub mod columns {
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
        "case_id",
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
    /// In an alternative-provision placement outside school.
    AlternativeProvision,
    /// Detained under a sentence of detention.
    Custody,
    /// No source says where the child went.
    Unknown,
}

impl Destination {
    /// Every destination, in report order.
    pub const ALL: [Destination; 10] = [
        Destination::HomeEducation,
        Destination::IndependentSchool,
        Destination::AlternativeProvision,
        Destination::Abroad,
        Destination::OutsideEngland,
        Destination::AnotherSchool,
        Destination::Custody,
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
            Destination::AlternativeProvision => "alternative_provision",
            Destination::Custody => "custody",
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
            Destination::AlternativeProvision => "Alternative provision outside school",
            Destination::Custody => "Detained (youth custody)",
            Destination::Unknown => "Unknown",
        }
    }
}

/// A loaded census, by its database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CensusId(pub i64);

/// One load of a file into the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoadId(pub i64);

/// One pupil row of a loaded census.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PupilKey {
    /// The census.
    pub census: CensusId,
    /// The row's number in the database.
    pub row: i64,
}

/// One row of a loaded destination source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey(pub i64);

/// Any record cnis holds: a census row or a source row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// A census row.
    Pupil(PupilKey),
    /// A destination-source row.
    Source(SourceKey),
}

/// What tracking needs of a pupil on a census: identifiers, school and the
/// risk factors, without names or address (those are fetched for leavers
/// only).
#[derive(Debug, Clone, PartialEq)]
pub struct CohortPupil {
    /// The row.
    pub key: PupilKey,
    /// UPN, where it passes its check.
    pub upn: Option<Upn>,
    /// The UPN as written where it failed its check.
    pub upn_text: Option<String>,
    /// A former UPN the census records.
    pub former_upn: Option<Upn>,
    /// The child's cnis id, where one has been given.
    pub child_id: Option<crate::ChildId>,
    /// Date of birth.
    pub dob: NaiveDate,
    /// Sex.
    pub sex: Sex,
    /// School.
    pub laestab: Option<Laestab>,
    /// Enrolment status (main or subsidiary registration).
    pub enrol_status: Option<EnrolStatus>,
    /// Date the pupil joined the school.
    pub entry_date: Option<NaiveDate>,
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
    /// Another identifier that means the same person wherever it appears (a
    /// council's own case or person number shared by the sources that carry
    /// it): compared exactly and within one or two edits.
    pub case_id: Option<String>,
}
