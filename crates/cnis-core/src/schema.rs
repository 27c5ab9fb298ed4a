//! The layout of each file format cnis reads and the generator writes: one
//! table a format, so the reader and the writer cannot drift apart.
//!
//! Each format is a field enum (our names, used in code and in `--map`) and
//! a [`Schema`] (the default column header and what the field means),
//! declared together by one macro so their order always agrees. Whether a
//! field must be present is the reader's business, since it depends on the
//! kind of source; the schema says only what each column holds.

/// One column of a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Our name for the field (`upn`, `dob`); what `--map` takes.
    pub field: &'static str,
    /// The default column header (DfE/CBDS names where there are any).
    pub header: &'static str,
    /// What it holds, for `docs/formats.md` and the load report.
    pub about: &'static str,
}

/// A file format: its columns in their default order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// The format's name in messages.
    pub name: &'static str,
    /// Columns, in order.
    pub columns: &'static [Column],
}

impl Schema {
    /// The default header row.
    pub fn headers(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.header).collect()
    }

    /// Our field names, in column order.
    pub fn fields(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.field).collect()
    }

    /// The position of a field (by our name).
    pub fn position(&self, field: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.field == field)
    }
}

macro_rules! schema {
    ($(#[$doc:meta])* $name:ident, $schema:ident, $label:literal, [$($(#[$vdoc:meta])* $var:ident => ($field:literal, $header:literal, $about:literal)),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum $name {
            $($(#[$vdoc])* $var),*
        }

        impl $name {
            /// Every field, in column order.
            pub const ALL: &'static [$name] = &[$($name::$var),*];
            /// The field's column in the default layout (and its index in a layout table).
            pub fn index(self) -> usize {
                self as usize
            }
            /// Our name for the field.
            pub fn name(self) -> &'static str {
                $schema.columns[self as usize].field
            }
        }

        #[doc = concat!("The ", $label, " format.")]
        pub const $schema: Schema = Schema {
            name: $label,
            columns: &[$(Column { field: $field, header: $header, about: $about }),*],
        };
    };
}

schema!(
    /// Fields of a pupil-level spring census (DfE census names).
    CensusField, CENSUS, "census", [
    /// Unique pupil number.
    Upn => ("upn", "UPN", "unique pupil number"),
    /// A UPN the pupil had before.
    FormerUpn => ("former_upn", "FormerUPN", "a UPN the pupil had before"),
    /// Surname.
    Surname => ("surname", "Surname", "legal surname"),
    /// Forename.
    Forename => ("forename", "Forename", "forename"),
    /// Middle names.
    MiddleNames => ("middle_names", "MiddleNames", "middle names"),
    /// Former surname.
    FormerSurname => ("former_surname", "FormerSurname", "a surname the pupil had before"),
    /// Date of birth.
    Dob => ("dob", "DOB", "date of birth"),
    /// Sex.
    Sex => ("sex", "Sex", "M, F or U"),
    /// Ethnicity code.
    Ethnicity => ("ethnicity", "Ethnicity", "ethnicity code"),
    /// School.
    Laestab => ("laestab", "LAESTAB", "the school making the return (LA number and establishment)"),
    /// Enrolment status.
    EnrolStatus => ("enrol_status", "EnrolStatus", "C single registration, M main or S subsidiary dual registration, G guest, ..."),
    /// Entry date.
    EntryDate => ("entry_date", "EntryDate", "date the pupil joined the school"),
    /// NC year.
    NcYearActual => ("nc_year_actual", "NCyearActual", "national curriculum year (R, 1-14)"),
    /// First address line.
    AddressLine1 => ("address_line1", "AddressLine1", "first line of the home address"),
    /// Town.
    Town => ("town", "Town", "town"),
    /// Home postcode.
    Postcode => ("postcode", "HomePostcode", "home postcode"),
    /// FSM eligibility.
    FsmEligible => ("fsm_eligible", "FSMEligible", "eligible for free school meals (1/0)"),
    /// SEN provision.
    SenProvision => ("sen_provision", "SENprovision", "N, K (SEN support) or E (EHC plan)"),
    /// SEN primary need.
    SenNeed => ("sen_need", "SENneed", "primary type of special educational need"),
    /// Sessions possible.
    SessionsPossible => ("sessions_possible", "SessionsPossible", "sessions possible in the term"),
    /// Sessions of authorised absence.
    SessionsAuthorised => ("sessions_authorised", "SessionsAuthorised", "sessions of authorised absence"),
    /// Sessions of unauthorised absence.
    SessionsUnauthorised => ("sessions_unauthorised", "SessionsUnauthorised", "sessions of unauthorised absence"),
]);

schema!(
    /// Fields of a destination source (one layout for every kind; the
    /// columns a kind does not use are left empty or left out).
    SourceField, SOURCE, "destination source", [
    /// The LA holding the record.
    La => ("la", "LA", "the council holding the record (3-digit LA number)"),
    /// A school.
    Laestab => ("laestab", "LAESTAB", "the school deleting the pupil (deletions) or the school (independent roll)"),
    /// A school's unique reference number.
    Urn => ("urn", "URN", "the school's unique reference number (independent roll, instead of LAESTAB)"),
    /// The council's own reference.
    LocalId => ("local_id", "LAchildID", "the council's own reference for the child"),
    /// UPN.
    Upn => ("upn", "UPN", "unique pupil number, where known"),
    /// Surname.
    Surname => ("surname", "Surname", "surname"),
    /// Forename.
    Forename => ("forename", "Forename", "forename"),
    /// Middle names.
    MiddleNames => ("middle_names", "MiddleNames", "middle names"),
    /// Date of birth.
    Dob => ("dob", "DOB", "date of birth"),
    /// Sex.
    Sex => ("sex", "Sex", "M, F or U"),
    /// Home postcode.
    Postcode => ("postcode", "HomePostcode", "home postcode"),
    /// The row's date.
    Date => ("date", "Date", "deletion date, register entry, placement or episode start"),
    /// End date.
    EndDate => ("end_date", "EndDate", "placement or episode end"),
    /// Deletion ground.
    DeletionGround => ("deletion_ground", "DeletionGround", "the ground for deletion: 9(1)(f) (2024 Regulations), 8(1)(d) (2006), or the letter"),
    /// Destination school or code.
    Destination => ("destination", "Destination", "destination LAESTAB, MMMMMMM (abroad) or XXXXXXX (unknown)"),
    /// Status.
    Status => ("status", "Status", "CME: known or suspected; social care: CIN, S47, CPP or CLA"),
    /// Alternative-provision provider.
    Provider => ("provider", "ProviderID", "alternative-provision provider (URN, UKPRN or the council's id)"),
    /// Hours a week.
    Hours => ("hours", "Hours", "hours a week of the placement"),
]);

schema!(
    /// Fields of a schools list (a GIAS-style extract).
    SchoolField, SCHOOLS, "schools list", [
    /// URN.
    Urn => ("urn", "URN", "unique reference number"),
    /// LAESTAB.
    Laestab => ("laestab", "LAESTAB", "LA number and establishment number"),
    /// Name.
    Name => ("name", "EstablishmentName", "establishment name"),
    /// Phase.
    Phase => ("phase", "Phase", "phase code (PS, SS, SP, PR, ...)"),
    /// Sector.
    Sector => ("sector", "Sector", "state-funded or independent"),
]);

schema!(
    /// Fields of a postcode deprivation lookup.
    PostcodeField, POSTCODE_DEPRIVATION, "postcode lookup", [
    /// Postcode.
    Postcode => ("postcode", "Postcode", "postcode"),
    /// LSOA.
    Lsoa => ("lsoa", "LSOA", "lower-layer super output area code"),
    /// IMD decile.
    ImdDecile => ("imd_decile", "IMDDecile", "Index of Multiple Deprivation decile (1 most deprived)"),
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_and_tables_agree() {
        for s in [CENSUS, SOURCE, SCHOOLS, POSTCODE_DEPRIVATION] {
            let mut fields = s.fields();
            fields.sort_unstable();
            fields.dedup();
            assert_eq!(fields.len(), s.columns.len(), "{}: duplicate field", s.name);
            let mut headers: Vec<String> = s.headers().iter().map(|h| h.to_ascii_lowercase()).collect();
            headers.sort_unstable();
            headers.dedup();
            assert_eq!(headers.len(), s.columns.len(), "{}: duplicate header", s.name);
        }
        assert_eq!(CensusField::ALL.len(), CENSUS.columns.len());
        assert_eq!(CensusField::Postcode.name(), "postcode");
        assert_eq!(CENSUS.columns[CensusField::Postcode.index()].header, "HomePostcode");
        assert_eq!(SourceField::Hours.name(), "hours");
        assert_eq!(SOURCE.position("status"), Some(SourceField::Status.index()));
    }
}
