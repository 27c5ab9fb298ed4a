//! Scoring a leaver list against the truth, child by child: what the demo
//! prints and what the tests and benchmarks assert. It lives beside the
//! generator because only the generator knows the truth; no product code
//! path calls it.
//!
//! Each child of the cohort has a *knowable* destination: where they really
//! went if some current source row (with or without their UPN) says so,
//! "unknown" if none does (no method can know more than the files say), or
//! "not a leaver" if they are on the second roll. The leaver list gives each
//! child a *found* destination, or "not a leaver" if the child is not on it.

use std::collections::{BTreeMap, HashMap};

use cnis_core::records::Destination;

use crate::truth::TruthRow;

/// A child's class, known or found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Left the roll to this destination.
    Left(Destination),
    /// On the second roll (stayed, or moved to another state school).
    NotLeaver,
}

impl Class {
    /// For tables.
    pub fn name(self) -> &'static str {
        match self {
            Class::Left(d) => d.name(),
            Class::NotLeaver => "not_a_leaver",
        }
    }
}

/// A leaver list set beside the truth.
#[derive(Debug, Clone, Default)]
pub struct Score {
    /// (knowable, found) → children.
    pub confusion: BTreeMap<(Class, Class), u64>,
    /// Leavers listed whose UPN is in no cohort row of the truth.
    pub unmatched_leavers: u64,
}

impl Score {
    /// Scores `found` (each listed leaver's first-census UPN, as written,
    /// and destination) against the truth. `knowable` says how to read a
    /// truth row.
    pub fn of(truth: &[TruthRow], found: &[(String, Destination)], knowable: impl Fn(&TruthRow) -> Class) -> Score {
        let mut by_upn: HashMap<&str, Destination> = found.iter().map(|(u, d)| (u.as_str(), *d)).collect();
        // A leaver whose first-census UPN was mistyped is listed under the
        // UPN as written: find the child it is one slip away from.
        let known: std::collections::HashSet<&str> = truth.iter().map(|r| r.upn1.as_str()).collect();
        let mistyped: Vec<&str> =
            truth.iter().filter(|r| r.in_cohort && r.upn_mistyped.contains('A')).map(|r| r.upn1.as_str()).collect();
        for (u, d) in found {
            if !known.contains(u.as_str())
                && let Some(t) = mistyped.iter().find(|t| one_slip(t, u))
            {
                by_upn.insert(t, *d);
            }
        }
        let mut s = Score::default();
        let mut seen = 0u64;
        for r in truth.iter().filter(|r| r.in_cohort && !r.upn1.is_empty()) {
            let f = match by_upn.get(r.upn1.as_str()) {
                Some(d) => {
                    seen += 1;
                    Class::Left(*d)
                }
                None => Class::NotLeaver,
            };
            *s.confusion.entry((knowable(r), f)).or_default() += 1;
        }
        s.unmatched_leavers = found.len() as u64 - seen;
        s
    }

    /// Children in cells matching `pred`.
    pub fn count(&self, pred: impl Fn(Class, Class) -> bool) -> u64 {
        self.confusion.iter().filter(|((k, f), _)| pred(*k, *f)).map(|(_, n)| n).sum()
    }

    /// Share of children who are leavers in the truth or on the list that
    /// have the right destination.
    pub fn destination_accuracy(&self) -> f64 {
        let all = self.count(|k, f| k != Class::NotLeaver || f != Class::NotLeaver) + self.unmatched_leavers;
        let right = self.count(|k, f| k == f && k != Class::NotLeaver);
        if all == 0 { 1.0 } else { right as f64 / all as f64 }
    }

    /// Precision and recall of the list of leavers with destination `d`.
    pub fn precision_recall(&self, d: Destination) -> (f64, f64) {
        let x = Class::Left(d);
        let hit = self.count(|k, f| k == x && f == x);
        let listed = self.count(|_, f| f == x);
        let real = self.count(|k, _| k == x);
        (
            if listed == 0 { 1.0 } else { hit as f64 / listed as f64 },
            if real == 0 { 1.0 } else { hit as f64 / real as f64 },
        )
    }

    /// (found, knowable) counts of leavers with destination `d`.
    pub fn counts(&self, d: Destination) -> (u64, u64) {
        let x = Class::Left(d);
        (self.count(|_, f| f == x), self.count(|k, _| k == x))
    }

    /// The cells off the diagonal, largest first: (knowable, found, children).
    pub fn differences(&self) -> Vec<(Class, Class, u64)> {
        let mut v: Vec<(Class, Class, u64)> =
            self.confusion.iter().filter(|((k, f), _)| k != f).map(|((k, f), n)| (*k, *f, *n)).collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        v
    }
}

/// Whether `b` is `a` with one character changed, dropped, added, or two
/// neighbours swapped.
fn one_slip(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.len() as i64 - b.len() as i64 {
        0 => {
            let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            diff.len() == 1
                || (diff.len() == 2 && diff[1] == diff[0] + 1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]])
        }
        1 | -1 => {
            let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
            (0..long.len()).any(|i| long[..i] == short[..i] && long[i + 1..] == short[i..])
        }
        _ => false,
    }
}

/// The knowable destination: the truth file's `Knowable` column where it
/// has one (the destination some current source row records, `unknown`
/// when none does, `on_roll` for a child on the second roll), else the
/// older flags (the true destination if some row records it).
pub fn knowable(r: &TruthRow) -> Class {
    if !r.knowable.is_empty() {
        return Destination::from_name(&r.knowable).map_or(Class::NotLeaver, Class::Left);
    }
    match Destination::from_name(&r.fate) {
        Some(d) if r.evidence => Class::Left(d),
        Some(_) => Class::Left(Destination::Unknown),
        None => Class::NotLeaver,
    }
}
