//! School days and deadlines.
//!
//! The law counts some periods in school days (a missing-education referral
//! after 10 school days of unexplained absence; a deletion after 20) and
//! others in calendar days (the notice to satisfy under s.437 EA 1996 gives
//! at least 15 days). A school day here is a weekday inside a term of the
//! council's calendar (or a school's own, where it differs) that is neither
//! a bank holiday in England nor a closure day the calendar lists (training
//! days). Councils publish terms as six periods a year, so a half-term is
//! the gap between two terms.
//!
//! England's bank holidays ship as a table (`data/bank-holidays-england.csv`,
//! from GOV.UK's list; years after the last published one follow the usual
//! rules and may change by proclamation). Where a council has loaded no term
//! dates, counting uses every weekday that is not a bank holiday, which can
//! only bring a deadline earlier than the real one, never later, and a
//! deadline so counted says so ([`Deadline::approximate`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};

const BANK_HOLIDAYS_CSV: &str = include_str!("../data/bank-holidays-england.csv");

/// England's bank holidays, by date, with their names.
pub fn bank_holidays() -> &'static BTreeMap<NaiveDate, &'static str> {
    static TABLE: OnceLock<BTreeMap<NaiveDate, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        BANK_HOLIDAYS_CSV
            .lines()
            .skip(1)
            .filter_map(|l| {
                let (d, name) = l.split_once(',')?;
                Some((NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?, name))
            })
            .collect()
    })
}

/// Whether `d` is a bank holiday in England.
pub fn is_bank_holiday(d: NaiveDate) -> bool {
    bank_holidays().contains_key(&d)
}

/// The years the shipped table covers.
pub fn bank_holiday_years() -> (i32, i32) {
    let t = bank_holidays();
    let first = t.keys().next().map_or(0, |d| d.year());
    let last = t.keys().next_back().map_or(0, |d| d.year());
    (first, last)
}

/// One term: its first and last day, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Term {
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
}

/// A calendar's line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    /// Line number (1 is the header).
    pub line: usize,
    /// Column.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, field {}: {}", self.line, self.field, self.reason)
    }
}

impl std::error::Error for CalendarError {}

/// Term dates and closure days: a council's, or a school's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchoolCalendar {
    /// Terms, in order, not overlapping.
    pub terms: Vec<Term>,
    /// Days in a term when the school is closed (training days).
    pub closures: BTreeSet<NaiveDate>,
}

/// The header of a calendar file.
pub const CALENDAR_HEADER: &str = "kind,start,end,description";

impl SchoolCalendar {
    /// Whether the calendar has any terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Reads a calendar file: a header `kind,start,end,description`, then a
    /// line per term (`term`) or closure (`closure`; `end` may be empty for
    /// one day), dates as `YYYY-MM-DD`. Terms may come in any order but must
    /// not overlap; a closure must fall in a term.
    pub fn parse_csv(text: &str) -> Result<SchoolCalendar, CalendarError> {
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
        let err = |line: usize, field: &'static str, reason: String| CalendarError { line, field, reason };
        let headers = rdr.headers().map_err(|e| err(1, "header", e.to_string()))?.clone();
        let want: Vec<&str> = CALENDAR_HEADER.split(',').collect();
        if headers.iter().take(3).map(|h| h.trim().to_ascii_lowercase()).ne(want.iter().take(3).map(|s| s.to_string()))
        {
            return Err(err(1, "header", format!("expected {CALENDAR_HEADER}")));
        }
        let mut cal = SchoolCalendar::default();
        let mut closures = Vec::new();
        // Each term with its line, so that an overlap names the later one.
        let mut terms: Vec<(Term, usize)> = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let line = rec.as_ref().ok().and_then(|r| r.position()).map_or(i + 2, |p| p.line() as usize);
            let rec = rec.map_err(|e| err(line, "line", e.to_string()))?;
            if rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            let date = |idx: usize, field: &'static str| -> Result<Option<NaiveDate>, CalendarError> {
                let v = rec.get(idx).unwrap_or("").trim();
                if v.is_empty() {
                    return Ok(None);
                }
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| err(line, field, "not a date as YYYY-MM-DD".into()))
            };
            let start = date(1, "start")?.ok_or_else(|| err(line, "start", "missing".into()))?;
            let end = date(2, "end")?;
            match rec.get(0).unwrap_or("").trim().to_ascii_lowercase().as_str() {
                "term" => {
                    let end = end.ok_or_else(|| err(line, "end", "a term needs its last day".into()))?;
                    if end < start {
                        return Err(err(line, "end", "before the term's start".into()));
                    }
                    if (end - start).num_days() > 200 {
                        return Err(err(line, "end", "a term longer than 200 days".into()));
                    }
                    terms.push((Term { start, end }, line));
                }
                "closure" => {
                    let end = end.unwrap_or(start);
                    if end < start || (end - start).num_days() > 31 {
                        return Err(err(
                            line,
                            "end",
                            "a closure must end on or after its start, within 31 days".into(),
                        ));
                    }
                    closures.push((line, start, end));
                }
                _ => return Err(err(line, "kind", "must be term or closure".into())),
            }
        }
        terms.sort();
        for w in terms.windows(2) {
            if let [(a, _), (b, line)] = w
                && b.start <= a.end
            {
                return Err(err(
                    *line,
                    "start",
                    format!("terms overlap: {} to {} and {} to {}", a.start, a.end, b.start, b.end),
                ));
            }
        }
        cal.terms = terms.into_iter().map(|(t, _)| t).collect();
        for (line, start, end) in closures {
            for d in start.iter_days().take_while(|d| *d <= end) {
                if !cal.in_term(d) {
                    return Err(err(line, "start", format!("closure day {d} is not in a term")));
                }
                cal.closures.insert(d);
            }
        }
        Ok(cal)
    }

    /// Writes the calendar in the form [`SchoolCalendar::parse_csv`] reads.
    pub fn to_csv(&self) -> String {
        let mut out = format!("{CALENDAR_HEADER}\n");
        for t in &self.terms {
            out.push_str(&format!("term,{},{},\n", t.start, t.end));
        }
        for d in &self.closures {
            out.push_str(&format!("closure,{d},{d},\n"));
        }
        out
    }

    fn in_term(&self, d: NaiveDate) -> bool {
        let i = self.terms.partition_point(|t| t.end < d);
        self.terms.get(i).is_some_and(|t| t.start <= d)
    }

    /// The last day the calendar knows about.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.terms.last().map(|t| t.end)
    }

    /// Whether `d` is a school day: a weekday in a term, not a bank
    /// holiday, not a closure. With no terms, any weekday that is not a
    /// bank holiday.
    pub fn is_school_day(&self, d: NaiveDate) -> bool {
        let weekday = !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        let in_term = self.terms.is_empty() || self.in_term(d);
        weekday && in_term && !is_bank_holiday(d) && !self.closures.contains(&d)
    }

    /// The `n`th school day after `from` (`from` itself not counted, so
    /// "within 5 school days of a Friday" runs from the Monday). `None`
    /// when the calendar ends first.
    pub fn add_school_days(&self, from: NaiveDate, n: u32) -> Option<NaiveDate> {
        let last = if self.terms.is_empty() { NaiveDate::MAX } else { self.last_day()? };
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d = d.checked_add_days(Days::new(1))?;
            if d > last {
                return None;
            }
            if self.is_school_day(d) {
                left -= 1;
            }
        }
        Some(d)
    }

    /// School days after `from` up to and including `to`.
    pub fn school_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| self.is_school_day(*d)).count() as u32
    }
}

/// A period the law or the council sets, in the unit it is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "unit", content = "count", rename_all = "snake_case")]
pub enum Period {
    /// School days, by the calendar.
    SchoolDays(u32),
    /// Calendar days (as s.437 counts its notice).
    CalendarDays(u32),
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::SchoolDays(1) => write!(f, "1 school day"),
            Period::SchoolDays(n) => write!(f, "{n} school days"),
            Period::CalendarDays(1) => write!(f, "1 day"),
            Period::CalendarDays(n) => write!(f, "{n} days"),
        }
    }
}

/// A deadline worked out from a start date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Deadline {
    /// From when.
    pub from: NaiveDate,
    /// How long.
    pub period: Period,
    /// The last day.
    pub due: NaiveDate,
    /// Counted without term dates (every weekday not a bank holiday).
    pub approximate: bool,
}

impl Period {
    /// Reads `10 school days`, `15 days` or `15 calendar days`.
    pub fn parse(s: &str) -> Option<Period> {
        let s = s.trim().to_ascii_lowercase();
        let (n, unit) = s.split_once(' ')?;
        let n: u32 = n.parse().ok().filter(|n| (1..=400).contains(n))?;
        match unit.trim() {
            "school day" | "school days" => Some(Period::SchoolDays(n)),
            "day" | "days" | "calendar day" | "calendar days" => Some(Period::CalendarDays(n)),
            _ => None,
        }
    }

    /// The deadline `self` after `from` by `calendar`; `None` when the
    /// calendar ends first (load the next year's term dates).
    pub fn deadline(self, from: NaiveDate, calendar: &SchoolCalendar) -> Option<Deadline> {
        let (due, approximate) = match self {
            Period::SchoolDays(n) => (calendar.add_school_days(from, n)?, calendar.is_empty()),
            Period::CalendarDays(n) => (from.checked_add_days(Days::new(u64::from(n)))?, false),
        };
        Some(Deadline { from, period: self, due, approximate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a date")
    }

    /// Easter Sunday (anonymous Gregorian algorithm).
    fn easter(y: i32) -> NaiveDate {
        let a = y % 19;
        let b = y / 100;
        let c = y % 100;
        let dd = b / 4;
        let e = b % 4;
        let f = (b + 8) / 25;
        let g = (b - f + 1) / 3;
        let h = (19 * a + b - dd - g + 15) % 30;
        let i = c / 4;
        let k = c % 4;
        let l = (32 + 2 * e + 2 * i - h - k) % 7;
        let m = (a + 11 * h + 22 * l) / 451;
        let month = (h + l - 7 * m + 114) / 31;
        let day = (h + l - 7 * m + 114) % 31 + 1;
        d(y, month as u32, day as u32)
    }

    fn nth_monday(y: i32, m: u32, first: bool) -> NaiveDate {
        let days: Vec<NaiveDate> =
            d(y, m, 1).iter_days().take_while(|x| x.month() == m).filter(|x| x.weekday() == Weekday::Mon).collect();
        if first { days[0] } else { *days.last().expect("a Monday") }
    }

    /// The usual rules, with the one-off changes of the years covered.
    fn by_rule(y: i32) -> BTreeSet<NaiveDate> {
        let mut s = BTreeSet::new();
        let next_weekday = |x: NaiveDate, taken: &BTreeSet<NaiveDate>| {
            let mut x = x;
            while matches!(x.weekday(), Weekday::Sat | Weekday::Sun) || taken.contains(&x) {
                x = x.succ_opt().expect("a next day");
            }
            x
        };
        s.insert(next_weekday(d(y, 1, 1), &s));
        s.insert(easter(y) - Days::new(2));
        s.insert(easter(y) + Days::new(1));
        s.insert(nth_monday(y, 5, true));
        s.insert(nth_monday(y, 5, false));
        s.insert(nth_monday(y, 8, false));
        let christmas = next_weekday(d(y, 12, 25), &s);
        s.insert(christmas);
        let boxing = next_weekday(d(y, 12, 26), &s);
        s.insert(boxing);
        match y {
            2020 => {
                s.remove(&d(2020, 5, 4));
                s.insert(d(2020, 5, 8));
            }
            2022 => {
                s.remove(&d(2022, 5, 30));
                s.extend([d(2022, 6, 2), d(2022, 6, 3), d(2022, 9, 19)]);
            }
            2023 => {
                s.insert(d(2023, 5, 8));
            }
            _ => {}
        }
        s
    }

    #[test]
    fn the_shipped_table_follows_the_rules_and_the_one_off_changes() {
        let (first, last) = bank_holiday_years();
        assert_eq!((first, last), (2018, 2030));
        for y in first..=last {
            let table: BTreeSet<NaiveDate> = bank_holidays().keys().copied().filter(|x| x.year() == y).collect();
            assert_eq!(table, by_rule(y), "bank holidays of {y}");
        }
        assert_eq!(bank_holidays().len(), BANK_HOLIDAYS_CSV.lines().count() - 1, "every line read");
    }

    /// Autumn 2025 in a council's published form: two half-terms with a
    /// week's gap, and a training day.
    fn autumn_2025() -> SchoolCalendar {
        SchoolCalendar::parse_csv(
            "kind,start,end,description\n\
             term,2025-09-03,2025-10-24,Autumn 1\n\
             term,2025-11-03,2025-12-19,Autumn 2\n\
             closure,2025-11-03,,Training day\n\
             term,2026-01-05,2026-02-13,Spring 1\n\
             term,2026-02-23,2026-03-27,Spring 2\n\
             term,2026-04-13,2026-05-22,Summer 1\n",
        )
        .expect("a calendar")
    }

    #[test]
    fn a_deadline_spanning_half_term_skips_it() {
        let cal = autumn_2025();
        // From Monday 13 October 2025, 10 school days: 14-17 (4), 20-24
        // (5: 9 so far), half-term 27-31 October, Monday 3 November a
        // training day, so the 10th is Tuesday 4 November.
        let dl = Period::SchoolDays(10).deadline(d(2025, 10, 13), &cal).expect("a deadline");
        assert_eq!(dl.due, d(2025, 11, 4));
        assert!(!dl.approximate);
        assert_eq!(cal.school_days_between(d(2025, 10, 13), d(2025, 11, 4)), 10);
    }

    #[test]
    fn a_deadline_starting_on_a_non_school_day_counts_from_the_next_school_day() {
        let cal = autumn_2025();
        // Saturday 25 October 2025, in half-term: 5 school days are
        // 4, 5, 6, 7 and 10 November (3 November being a training day).
        assert_eq!(cal.add_school_days(d(2025, 10, 25), 5), Some(d(2025, 11, 10)));
        // Sunday 21 December, the Christmas holiday: the first school day
        // is Monday 5 January 2026.
        assert_eq!(cal.add_school_days(d(2025, 12, 21), 1), Some(d(2026, 1, 5)));
    }

    #[test]
    fn twenty_school_days_across_easter_and_the_may_bank_holiday() {
        let cal = autumn_2025();
        // From Friday 20 March 2026: 23-27 March (5), Easter holiday to
        // 10 April, 13-17 April (10), 20-24 April (15), 27 April-1 May
        // (20): due Friday 1 May. Bank holidays 3 and 6 April fall in the
        // holiday anyway.
        assert_eq!(cal.add_school_days(d(2026, 3, 20), 20), Some(d(2026, 5, 1)));
        // 21 from the same day: Monday 4 May is a bank holiday, so Tuesday 5 May.
        assert_eq!(cal.add_school_days(d(2026, 3, 20), 21), Some(d(2026, 5, 5)));
    }

    #[test]
    fn periods_read_as_written() {
        assert_eq!(Period::parse("10 school days"), Some(Period::SchoolDays(10)));
        assert_eq!(Period::parse("1 school day"), Some(Period::SchoolDays(1)));
        assert_eq!(Period::parse("15 days"), Some(Period::CalendarDays(15)));
        assert_eq!(Period::parse("15 Calendar Days"), Some(Period::CalendarDays(15)));
        assert_eq!(Period::parse("0 days"), None);
        assert_eq!(Period::parse("ten days"), None);
        assert_eq!(Period::parse("10 weeks"), None);
        for p in [Period::SchoolDays(10), Period::CalendarDays(15), Period::SchoolDays(1)] {
            assert_eq!(Period::parse(&p.to_string()), Some(p));
        }
    }

    #[test]
    fn calendar_days_ignore_the_calendar() {
        let cal = autumn_2025();
        // A s.437 notice served on Friday 19 December 2025 gives at least
        // 15 days: to Saturday 3 January 2026, holidays and all.
        let dl = Period::CalendarDays(15).deadline(d(2025, 12, 19), &cal).expect("a value");
        assert_eq!(dl.due, d(2026, 1, 3));
    }

    #[test]
    fn without_term_dates_weekdays_less_bank_holidays_count_and_say_so() {
        let cal = SchoolCalendar::default();
        // From Wednesday 24 December 2025: 29, 30, 31 December, 2 January
        // 2026 (25, 26 December and 1 January are bank holidays).
        let dl = Period::SchoolDays(4).deadline(d(2025, 12, 24), &cal).expect("a value");
        assert_eq!(dl.due, d(2026, 1, 2));
        assert!(dl.approximate);
    }

    #[test]
    fn a_deadline_past_the_calendar_is_not_guessed() {
        let cal = autumn_2025();
        assert_eq!(cal.add_school_days(d(2026, 5, 18), 10), None);
        assert_eq!(Period::SchoolDays(10).deadline(d(2026, 5, 18), &cal), None);
    }

    #[test]
    fn bad_calendar_lines_are_named() {
        let e = SchoolCalendar::parse_csv("kind,start,end,description\nterm,2025-09-03,2025-13-01,x\n")
            .expect_err("an error");
        assert_eq!((e.line, e.field), (2, "end"));
        let e = SchoolCalendar::parse_csv("kind,start,end,description\nholiday,2025-09-03,2025-10-01,x\n")
            .expect_err("an error");
        assert_eq!((e.line, e.field), (2, "kind"));
        let e = SchoolCalendar::parse_csv(
            "kind,start,end,description\nterm,2025-09-03,2025-10-01,x\nclosure,2025-10-02,,y\n",
        )
        .expect_err("an error");
        assert_eq!((e.line, e.field), (3, "start"));
        let e = SchoolCalendar::parse_csv(
            "kind,start,end,description\nterm,2025-09-03,2025-10-24,x\nterm,2025-10-20,2025-12-19,y\n",
        )
        .expect_err("an error");
        assert!(e.reason.contains("overlap"), "{e}");
        assert_eq!(e.line, 3, "the later of the two terms");
        let e = SchoolCalendar::parse_csv("start,end\n").expect_err("an error");
        assert_eq!(e.field, "header");
    }

    #[test]
    fn a_calendar_survives_writing_and_reading() {
        let cal = autumn_2025();
        assert_eq!(SchoolCalendar::parse_csv(&cal.to_csv()).expect("read back"), cal);
    }
}
