//! Grounds for deleting a pupil from a school's admission register.
//!
//! Two sets of regulations give the grounds as lettered paragraphs, and the
//! same letter means different things in each: the Education (Pupil
//! Registration) (England) Regulations 2006, reg. 8(1), in force until
//! 18 August 2024, and the School Attendance (Pupil Registration) (England)
//! Regulations 2024, reg. 9(1), in force from 19 August 2024. Under 2006 (k)
//! a pupil ceases to be of compulsory school age; under 2024 (k) the pupil
//! has died. A ground is therefore read under the regulations in force on
//! its deletion date, unless the file names them (`8(1)(k)`, `9(1)(k)`) or
//! the load states which set a file uses.
//!
//! [`GroundMeaning`] is what a ground says happened, in the council's words.
//! The 2024 letters (a)-(e) were read in the legislation and (f)-(o) in
//! council forms; of the 2006 letters, (a)-(f), (h), (k) and (m) are
//! confirmed and the rest are our reading ([`DeletionGround::confidence`]).
//! What each meaning implies for a child's destination is not here: that is
//! a setting of tracking, which a council can change.

use std::fmt;

use chrono::NaiveDate;

/// Which regulations a deletion ground is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Regulations {
    /// Education (Pupil Registration) (England) Regulations 2006, reg. 8(1).
    Pupil2006,
    /// School Attendance (Pupil Registration) (England) Regulations 2024, reg. 9(1).
    Pupil2024,
}

impl Regulations {
    /// The day the 2024 Regulations came into force.
    pub fn changeover() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 8, 19).unwrap_or(NaiveDate::MIN)
    }

    /// The regulations in force on `date`.
    pub fn in_force_on(date: NaiveDate) -> Regulations {
        if date < Regulations::changeover() { Regulations::Pupil2006 } else { Regulations::Pupil2024 }
    }

    /// The regulation holding the grounds: `8(1)` or `9(1)`.
    pub fn paragraph(self) -> &'static str {
        match self {
            Regulations::Pupil2006 => "8(1)",
            Regulations::Pupil2024 => "9(1)",
        }
    }

    /// The year, as used on the command line and in settings (`2006`, `2024`).
    pub fn year(self) -> u16 {
        match self {
            Regulations::Pupil2006 => 2006,
            Regulations::Pupil2024 => 2024,
        }
    }

    /// Parses `2006`/`2024` (or `8(1)`/`9(1)`).
    pub fn parse(s: &str) -> Option<Regulations> {
        match s.trim() {
            "2006" | "8(1)" | "8" => Some(Regulations::Pupil2006),
            "2024" | "9(1)" | "9" => Some(Regulations::Pupil2024),
            _ => None,
        }
    }
}

/// What a deletion ground says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroundMeaning {
    /// Registered at another school (not a dual registration).
    OtherSchool,
    /// A school attendance order naming this school was amended to name another.
    AttendanceOrderAmended,
    /// A school attendance order was revoked because suitable education
    /// otherwise than at school has been arranged.
    AttendanceOrderRevoked,
    /// Dual registration ended: the pupil stays at the other school.
    DualRegistrationEnded,
    /// Nursery education completed, not expected to attend again.
    NurseryCompleted,
    /// The parent said in writing the child will be educated otherwise than at school.
    HomeEducation,
    /// No longer lives within reasonable distance of the school.
    MovedAway,
    /// Did not return after a leave of absence, whereabouts unknown.
    LeaveOfAbsence,
    /// Continuously absent for at least 20 school days, whereabouts unknown.
    ContinuousAbsence,
    /// Certified medically unfit to attend before leaving compulsory school age.
    MedicallyUnfit,
    /// Detained under a sentence of detention.
    Detained,
    /// Died.
    Died,
    /// Ceases to be of compulsory school age and will not stay on.
    CeasingCompulsorySchoolAge,
    /// Boarding fees unpaid.
    BoardingFeesUnpaid,
    /// Ceased to be a pupil of an independent or non-maintained special school.
    CeasedIndependentPupil,
    /// Permanently excluded.
    PermanentlyExcluded,
}

impl GroundMeaning {
    /// Every meaning, in a fixed order.
    pub const ALL: [GroundMeaning; 16] = [
        GroundMeaning::OtherSchool,
        GroundMeaning::AttendanceOrderAmended,
        GroundMeaning::AttendanceOrderRevoked,
        GroundMeaning::DualRegistrationEnded,
        GroundMeaning::NurseryCompleted,
        GroundMeaning::HomeEducation,
        GroundMeaning::MovedAway,
        GroundMeaning::LeaveOfAbsence,
        GroundMeaning::ContinuousAbsence,
        GroundMeaning::MedicallyUnfit,
        GroundMeaning::Detained,
        GroundMeaning::Died,
        GroundMeaning::CeasingCompulsorySchoolAge,
        GroundMeaning::BoardingFeesUnpaid,
        GroundMeaning::CeasedIndependentPupil,
        GroundMeaning::PermanentlyExcluded,
    ];

    /// The name used in settings files.
    pub fn name(self) -> &'static str {
        match self {
            GroundMeaning::OtherSchool => "other_school",
            GroundMeaning::AttendanceOrderAmended => "attendance_order_amended",
            GroundMeaning::AttendanceOrderRevoked => "attendance_order_revoked",
            GroundMeaning::DualRegistrationEnded => "dual_registration_ended",
            GroundMeaning::NurseryCompleted => "nursery_completed",
            GroundMeaning::HomeEducation => "home_education",
            GroundMeaning::MovedAway => "moved_away",
            GroundMeaning::LeaveOfAbsence => "leave_of_absence",
            GroundMeaning::ContinuousAbsence => "continuous_absence",
            GroundMeaning::MedicallyUnfit => "medically_unfit",
            GroundMeaning::Detained => "detained",
            GroundMeaning::Died => "died",
            GroundMeaning::CeasingCompulsorySchoolAge => "ceasing_compulsory_school_age",
            GroundMeaning::BoardingFeesUnpaid => "boarding_fees_unpaid",
            GroundMeaning::CeasedIndependentPupil => "ceased_independent_pupil",
            GroundMeaning::PermanentlyExcluded => "permanently_excluded",
        }
    }

    /// The inverse of [`GroundMeaning::name`].
    pub fn from_name(s: &str) -> Option<GroundMeaning> {
        GroundMeaning::ALL.into_iter().find(|m| m.name() == s.trim())
    }

    /// In the council's words.
    pub fn describe(self) -> &'static str {
        match self {
            GroundMeaning::OtherSchool => "registered at another school",
            GroundMeaning::AttendanceOrderAmended => "school attendance order amended to name another school",
            GroundMeaning::AttendanceOrderRevoked => {
                "school attendance order revoked: education otherwise than at school arranged"
            }
            GroundMeaning::DualRegistrationEnded => "dual registration ended; stays at the other school",
            GroundMeaning::NurseryCompleted => "nursery education completed, not expected to attend again",
            GroundMeaning::HomeEducation => "parent has said in writing the child will be educated at home",
            GroundMeaning::MovedAway => "no longer lives within reasonable distance of the school",
            GroundMeaning::LeaveOfAbsence => "did not return after a leave of absence",
            GroundMeaning::ContinuousAbsence => "absent for 20 school days in a row, whereabouts unknown",
            GroundMeaning::MedicallyUnfit => "certified unfit to attend before leaving compulsory school age",
            GroundMeaning::Detained => "detained under a sentence of detention",
            GroundMeaning::Died => "died",
            GroundMeaning::CeasingCompulsorySchoolAge => "ceasing to be of compulsory school age, not staying on",
            GroundMeaning::BoardingFeesUnpaid => "boarding fees unpaid",
            GroundMeaning::CeasedIndependentPupil => "ceased to be a pupil of an independent school",
            GroundMeaning::PermanentlyExcluded => "permanently excluded",
        }
    }
}

/// How sure the project is of a ground's meaning (the markers of the domain notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Confidence {
    /// Read in the legislation or a primary source.
    Confirmed,
    /// From council forms or secondary sources.
    Partly,
    /// Our reading; not found in the sources read.
    Unconfirmed,
}

impl Confidence {
    /// The domain notes' marker.
    pub fn marker(self) -> &'static str {
        match self {
            Confidence::Confirmed => "C",
            Confidence::Partly => "P",
            Confidence::Unconfirmed => "U",
        }
    }
}

/// One ground: a letter read under one set of regulations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeletionGround {
    regulations: Regulations,
    letter: u8,
}

/// A ground as written in a file: the letter, and the regulations if the
/// text names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroundText {
    /// The regulations the text names (`8(1)` or `9(1)`), if it does.
    pub regulations: Option<Regulations>,
    /// The paragraph letter, `a` to `o`.
    pub letter: u8,
}

impl GroundText {
    /// Parses `9(1)(f)`, `8(1)(d)`, `reg 9(1)(f)`, `9(1)f`, `(f)` or `f`.
    pub fn parse(s: &str) -> Option<GroundText> {
        let t: String = s.trim().to_ascii_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
        let t = t
            .strip_prefix("regulation")
            .or_else(|| t.strip_prefix("reg."))
            .or_else(|| t.strip_prefix("reg"))
            .unwrap_or(&t);
        let (regulations, rest) = if let Some(r) = t.strip_prefix("9(1)") {
            (Some(Regulations::Pupil2024), r)
        } else if let Some(r) = t.strip_prefix("8(1)") {
            (Some(Regulations::Pupil2006), r)
        } else {
            (None, t)
        };
        let rest = rest.strip_prefix('(').unwrap_or(rest);
        let rest = rest.strip_suffix(')').unwrap_or(rest);
        match rest.as_bytes() {
            [c @ b'a'..=b'o'] => Some(GroundText { regulations, letter: *c }),
            _ => None,
        }
    }
}

impl DeletionGround {
    /// A ground: `letter` is `a` to `o`.
    pub fn new(regulations: Regulations, letter: char) -> Option<DeletionGround> {
        matches!(letter, 'a'..='o').then_some(DeletionGround { regulations, letter: letter as u8 })
    }

    /// 2024 (a): registered at another school.
    pub const OTHER_SCHOOL: DeletionGround = DeletionGround { regulations: Regulations::Pupil2024, letter: b'a' };
    /// 2024 (f): home education.
    pub const HOME_EDUCATION: DeletionGround = DeletionGround { regulations: Regulations::Pupil2024, letter: b'f' };
    /// 2024 (g): moved away.
    pub const MOVED_AWAY: DeletionGround = DeletionGround { regulations: Regulations::Pupil2024, letter: b'g' };
    /// 2024 (i): 20 days' continuous absence.
    pub const CONTINUOUS_ABSENCE: DeletionGround = DeletionGround { regulations: Regulations::Pupil2024, letter: b'i' };
    /// 2024 (k): died.
    pub const DIED: DeletionGround = DeletionGround { regulations: Regulations::Pupil2024, letter: b'k' };
    /// 2024 (o): permanently excluded.
    pub const PERMANENTLY_EXCLUDED: DeletionGround =
        DeletionGround { regulations: Regulations::Pupil2024, letter: b'o' };

    /// Reads a ground written in a file: under the regulations the text
    /// names, else those `stated` for the file, else those in force on `date`.
    pub fn resolve(text: GroundText, stated: Option<Regulations>, date: Option<NaiveDate>) -> Option<DeletionGround> {
        let regulations = text.regulations.or(stated).or(date.map(Regulations::in_force_on))?;
        Some(DeletionGround { regulations, letter: text.letter })
    }

    /// The regulations.
    pub fn regulations(self) -> Regulations {
        self.regulations
    }

    /// The paragraph letter.
    pub fn letter(self) -> char {
        char::from(self.letter)
    }

    /// What the ground says happened: 2006 (d) and 2024 (f) are both home
    /// education.
    pub fn meaning(self) -> GroundMeaning {
        self.reading().0
    }

    /// How sure the project is of [`DeletionGround::meaning`].
    pub fn confidence(self) -> Confidence {
        self.reading().1
    }

    fn reading(self) -> (GroundMeaning, Confidence) {
        use Confidence::*;
        use GroundMeaning::*;
        match (self.regulations, self.letter) {
            (Regulations::Pupil2024, b'a') => (OtherSchool, Confirmed),
            (Regulations::Pupil2024, b'b') => (NurseryCompleted, Confirmed),
            (Regulations::Pupil2024, b'c') => (DualRegistrationEnded, Confirmed),
            (Regulations::Pupil2024, b'd') => (AttendanceOrderAmended, Confirmed),
            (Regulations::Pupil2024, b'e') => (AttendanceOrderRevoked, Confirmed),
            (Regulations::Pupil2024, b'f') => (HomeEducation, Partly),
            (Regulations::Pupil2024, b'g') => (MovedAway, Partly),
            (Regulations::Pupil2024, b'h') => (LeaveOfAbsence, Partly),
            (Regulations::Pupil2024, b'i') => (ContinuousAbsence, Partly),
            (Regulations::Pupil2024, b'j') => (Detained, Partly),
            (Regulations::Pupil2024, b'k') => (Died, Partly),
            (Regulations::Pupil2024, b'l') => (CeasingCompulsorySchoolAge, Partly),
            (Regulations::Pupil2024, b'm') => (BoardingFeesUnpaid, Partly),
            (Regulations::Pupil2024, b'n') => (CeasedIndependentPupil, Partly),
            (Regulations::Pupil2024, _) => (PermanentlyExcluded, Partly),
            // 2006 reg. 8(1): (a) SAO substituted or revoked; (b) another
            // school; (c) dual registration ended; (d) home education; (e)
            // moved away; (f) leave of absence; (h) 20 days' absence; (k)
            // ceasing compulsory school age (2013 wording); (m) permanent
            // exclusion. The rest is our reading of the 2006 text.
            (Regulations::Pupil2006, b'a') => (AttendanceOrderAmended, Confirmed),
            (Regulations::Pupil2006, b'b') => (OtherSchool, Confirmed),
            (Regulations::Pupil2006, b'c') => (DualRegistrationEnded, Confirmed),
            (Regulations::Pupil2006, b'd') => (HomeEducation, Confirmed),
            (Regulations::Pupil2006, b'e') => (MovedAway, Confirmed),
            (Regulations::Pupil2006, b'f') => (LeaveOfAbsence, Confirmed),
            (Regulations::Pupil2006, b'g') => (MedicallyUnfit, Unconfirmed),
            (Regulations::Pupil2006, b'h') => (ContinuousAbsence, Confirmed),
            (Regulations::Pupil2006, b'i') => (Detained, Unconfirmed),
            (Regulations::Pupil2006, b'j') => (Died, Unconfirmed),
            (Regulations::Pupil2006, b'k') => (CeasingCompulsorySchoolAge, Confirmed),
            (Regulations::Pupil2006, b'l') => (CeasedIndependentPupil, Unconfirmed),
            (Regulations::Pupil2006, b'm') => (PermanentlyExcluded, Partly),
            (Regulations::Pupil2006, b'n') => (NurseryCompleted, Unconfirmed),
            (Regulations::Pupil2006, _) => (BoardingFeesUnpaid, Unconfirmed),
        }
    }

    /// Every ground of both sets, 2006 first.
    pub fn all() -> impl Iterator<Item = DeletionGround> {
        [Regulations::Pupil2006, Regulations::Pupil2024]
            .into_iter()
            .flat_map(|r| (b'a'..=b'o').map(move |letter| DeletionGround { regulations: r, letter }))
    }

    /// Parses the stored form, [`DeletionGround`]'s `Display`: `9(1)(f)` or `8(1)(d)`.
    pub fn parse_stored(s: &str) -> Option<DeletionGround> {
        let t = GroundText::parse(s)?;
        Some(DeletionGround { regulations: t.regulations?, letter: t.letter })
    }
}

impl fmt::Display for DeletionGround {
    /// `9(1)(f)` (2024) or `8(1)(d)` (2006): the regulation number tells the sets apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.regulations.paragraph(), char::from(self.letter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap_or(NaiveDate::MIN)
    }

    #[test]
    fn the_same_letter_means_different_things() {
        let k = GroundText::parse("k").expect("letter");
        let before = DeletionGround::resolve(k, None, Some(d(2024, 8, 18))).expect("2006");
        let after = DeletionGround::resolve(k, None, Some(d(2024, 8, 19))).expect("2024");
        assert_eq!(before.meaning(), GroundMeaning::CeasingCompulsorySchoolAge);
        assert_eq!(after.meaning(), GroundMeaning::Died);
        assert_eq!((before.to_string(), after.to_string()), ("8(1)(k)".to_string(), "9(1)(k)".to_string()));
    }

    #[test]
    fn text_naming_the_regulations_wins_over_the_date_and_the_file() {
        let t = GroundText::parse("8(1)(d)").expect("parses");
        let g = DeletionGround::resolve(t, Some(Regulations::Pupil2024), Some(d(2025, 1, 1))).expect("resolves");
        assert_eq!((g.regulations(), g.meaning()), (Regulations::Pupil2006, GroundMeaning::HomeEducation));
        let stated = DeletionGround::resolve(GroundText::parse("(d)").expect("p"), Some(Regulations::Pupil2006), None);
        assert_eq!(stated.map(DeletionGround::meaning), Some(GroundMeaning::HomeEducation));
        assert_eq!(DeletionGround::resolve(GroundText::parse("d").expect("p"), None, None), None);
    }

    #[test]
    fn parses_the_forms_councils_write() {
        for s in ["9(1)(f)", "9(1)f", "reg 9(1)(f)", "Reg. 9 (1) (f)", " 9(1)(F) "] {
            assert_eq!(
                GroundText::parse(s),
                Some(GroundText { regulations: Some(Regulations::Pupil2024), letter: b'f' }),
                "{s}"
            );
        }
        for s in ["(f)", "f", "F"] {
            assert_eq!(GroundText::parse(s), Some(GroundText { regulations: None, letter: b'f' }), "{s}");
        }
        for s in ["", "p", "9(1)(z)", "10(1)(a)", "ff", "9(2)(a)"] {
            assert_eq!(GroundText::parse(s), None, "{s}");
        }
    }

    #[test]
    fn every_ground_has_a_meaning_and_round_trips() {
        let all: Vec<DeletionGround> = DeletionGround::all().collect();
        assert_eq!(all.len(), 30);
        for g in all {
            assert_eq!(DeletionGround::parse_stored(&g.to_string()), Some(g));
            assert!(!g.meaning().describe().is_empty());
        }
        // The 2024 set has each meaning at most once.
        let mut seen = std::collections::HashSet::new();
        for g in DeletionGround::all().filter(|g| g.regulations() == Regulations::Pupil2024) {
            assert!(seen.insert(g.meaning()), "{g}");
        }
    }
}
