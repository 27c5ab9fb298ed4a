//! Compulsory school age, school years and national-curriculum year groups.
//!
//! Education Act 1996 s.8: compulsory school age starts on the first
//! prescribed day (31 March, 31 August, 31 December) on or after the fifth
//! birthday, and ends on the school leaving date (the last Friday in June) of
//! the school year in which the child turns 16. Both ends are inclusive.
//!
//! The statute's school year begins with the first term after July; most
//! systems use 1 September. [`SchoolAgeRules::school_year_start`] keeps that
//! choice configurable: a child whose 16th birthday falls between 1 September
//! and the first day of the autumn term is the case it decides.

use chrono::{Datelike, NaiveDate, Weekday};

/// The rules that the statute leaves to orders and practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchoolAgeRules {
    /// Month and day on which a school year is taken to start (default 1 September).
    pub school_year_start: (u32, u32),
}

impl Default for SchoolAgeRules {
    fn default() -> Self {
        SchoolAgeRules { school_year_start: (9, 1) }
    }
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The date `years` after `d`; 29 February becomes 1 March in a common year.
pub fn add_years(d: NaiveDate, years: i32) -> Option<NaiveDate> {
    let y = d.year() + years;
    ymd(y, d.month(), d.day()).or_else(|| ymd(y, 3, 1))
}

/// The last Friday in June of `year`: the school leaving date.
pub fn leaving_date(year: i32) -> Option<NaiveDate> {
    let end = ymd(year, 6, 30)?;
    let back = (end.weekday().num_days_from_monday() + 7 - Weekday::Fri.num_days_from_monday()) % 7;
    end.checked_sub_days(chrono::Days::new(u64::from(back)))
}

impl SchoolAgeRules {
    /// The calendar year in which the school year containing `date` started.
    pub fn academic_year_of(&self, date: NaiveDate) -> i32 {
        let (m, d) = self.school_year_start;
        if (date.month(), date.day()) >= (m, d) { date.year() } else { date.year() - 1 }
    }

    /// First day of compulsory school age.
    pub fn csa_start(&self, dob: NaiveDate) -> Option<NaiveDate> {
        let b5 = add_years(dob, 5)?;
        let y = b5.year();
        [ymd(y, 3, 31)?, ymd(y, 8, 31)?, ymd(y, 12, 31)?].into_iter().find(|&p| p >= b5)
    }

    /// Last day of compulsory school age (the leaving date, inclusive).
    pub fn csa_end(&self, dob: NaiveDate) -> Option<NaiveDate> {
        let b16 = add_years(dob, 16)?;
        // The school year in which the child turns 16 ends in this calendar year.
        let ends_in = self.academic_year_of(b16) + 1;
        leaving_date(ends_in)
    }

    /// Whether a child born on `dob` is of compulsory school age on `date`.
    pub fn is_csa(&self, dob: NaiveDate, date: NaiveDate) -> bool {
        match (self.csa_start(dob), self.csa_end(dob)) {
            (Some(s), Some(e)) => s <= date && date <= e,
            _ => false,
        }
    }

    /// Chronological national-curriculum year in the school year starting in
    /// `academic_year`: 0 is Reception, 1..=13 Years 1 to 13, negative nursery.
    pub fn nc_year(&self, dob: NaiveDate, academic_year: i32) -> i32 {
        let (m, d) = self.school_year_start;
        // Age on the day before the school year starts.
        let Some(day_before) = ymd(academic_year, m, d).and_then(|s| s.pred_opt()) else {
            return i32::MIN;
        };
        let mut age = day_before.year() - dob.year();
        if (day_before.month(), day_before.day()) < (dob.month(), dob.day()) {
            age -= 1;
        }
        age - 4
    }
}

/// [`SchoolAgeRules::is_csa`] under the default rules.
pub fn is_compulsory_school_age(dob: NaiveDate, date: NaiveDate) -> bool {
    SchoolAgeRules::default().is_csa(dob, date)
}

/// [`SchoolAgeRules::nc_year`] under the default rules.
pub fn nc_year(dob: NaiveDate, academic_year: i32) -> i32 {
    SchoolAgeRules::default().nc_year(dob, academic_year)
}

/// The spring census day of the school year starting in `academic_year`:
/// the third Thursday in January of the following calendar year.
pub fn spring_census_date(academic_year: i32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(academic_year + 1, 1, Weekday::Thu, 3)
}
