//! Blocking: which pairs are worth comparing. Each rule groups records that
//! agree exactly on some fields; a pair is compared once, under the first
//! rule that finds it, however many rules would.

use std::hash::{Hash, Hasher};

use rayon::prelude::*;
use rustc_hash::FxHasher;
use serde::{Deserialize, Serialize};

use crate::prepare::Prepared;

/// A blocking rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Same UPN.
    Upn,
    /// Same NHS number.
    Nhs,
    /// Same date of birth and surname (catches forename changes and typos).
    DobSurname,
    /// Same date of birth and forename (catches surname changes and typos).
    DobForename,
    /// Same forename, surname and postcode district (catches date-of-birth errors).
    NamesDistrict,
    /// Same date of birth and postcode district (catches swapped or mistyped names).
    DobDistrict,
    /// Same forename and surname.
    Names,
    /// Same postcode and surname.
    PostcodeSurname,
    /// Same postcode and forename.
    PostcodeForename,
}

impl Rule {
    /// The default rules, in the order they claim pairs.
    pub const DEFAULT: [Rule; 6] =
        [Rule::Upn, Rule::Nhs, Rule::DobSurname, Rule::DobForename, Rule::NamesDistrict, Rule::DobDistrict];

    /// What the rule requires, for the plan.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Upn => "l.upn = r.upn",
            Rule::Nhs => "l.nhs_number = r.nhs_number",
            Rule::DobSurname => "l.dob = r.dob and l.surname = r.surname",
            Rule::DobForename => "l.dob = r.dob and l.forename = r.forename",
            Rule::NamesDistrict => {
                "l.forename = r.forename and l.surname = r.surname and l.postcode_district = r.postcode_district"
            }
            Rule::DobDistrict => "l.dob = r.dob and l.postcode_district = r.postcode_district",
            Rule::Names => "l.forename = r.forename and l.surname = r.surname",
            Rule::PostcodeSurname => "l.postcode = r.postcode and l.surname = r.surname",
            Rule::PostcodeForename => "l.postcode = r.postcode and l.forename = r.forename",
        }
    }

    /// Every rule, for parsing and help.
    pub const ALL: [Rule; 9] = [
        Rule::Upn,
        Rule::Nhs,
        Rule::DobSurname,
        Rule::DobForename,
        Rule::NamesDistrict,
        Rule::DobDistrict,
        Rule::Names,
        Rule::PostcodeSurname,
        Rule::PostcodeForename,
    ];

    /// The rule's name on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Upn => "upn",
            Rule::Nhs => "nhs",
            Rule::DobSurname => "dob_surname",
            Rule::DobForename => "dob_forename",
            Rule::NamesDistrict => "names_district",
            Rule::DobDistrict => "dob_district",
            Rule::Names => "names",
            Rule::PostcodeSurname => "postcode_surname",
            Rule::PostcodeForename => "postcode_forename",
        }
    }

    /// Parses [`Rule::name`].
    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == s.trim())
    }

    fn values(self, p: &Prepared, i: usize) -> Option<[u64; 3]> {
        let nz = |v: u32| (v != 0).then_some(u64::from(v));
        let dob = (p.dob[i] != i32::MIN).then_some(p.dob[i] as u64);
        Some(match self {
            Rule::Upn => [nz(p.upn[i])?, 0, 0],
            Rule::Nhs => [nz(p.nhs[i])?, 0, 0],
            Rule::DobSurname => [dob?, nz(p.surname[i])?, 0],
            Rule::DobForename => [dob?, nz(p.forename[i])?, 0],
            Rule::NamesDistrict => [nz(p.forename[i])?, nz(p.surname[i])?, nz(p.district[i])?],
            Rule::DobDistrict => [dob?, nz(p.district[i])?, 0],
            Rule::Names => [nz(p.forename[i])?, nz(p.surname[i])?, 0],
            Rule::PostcodeSurname => [nz(p.postcode[i])?, nz(p.surname[i])?, 0],
            Rule::PostcodeForename => [nz(p.postcode[i])?, nz(p.forename[i])?, 0],
        })
    }

    /// Whether the rule would put `a` and `b` in the same block.
    pub fn agrees(self, p: &Prepared, a: usize, b: usize) -> bool {
        match (self.values(p, a), self.values(p, b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        }
    }
}

/// The blocks of every rule: record indices sorted by key, cut into groups.
pub struct Blocks {
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// Per rule: record indices sorted by block key.
    order: Vec<Vec<u32>>,
    /// Per rule: (start, end) of each block of two or more in `order`.
    groups: Vec<Vec<(u32, u32)>>,
}

impl Blocks {
    /// Builds the blocks.
    pub fn build(p: &Prepared, rules: &[Rule]) -> Blocks {
        let (order, groups) = rules
            .par_iter()
            .map(|&rule| {
                let mut keyed: Vec<(u64, u32)> = (0..p.n)
                    .filter_map(|i| {
                        rule.values(p, i).map(|v| {
                            let mut h = FxHasher::default();
                            v.hash(&mut h);
                            (h.finish(), i as u32)
                        })
                    })
                    .collect();
                keyed.par_sort_unstable();
                let mut groups = Vec::new();
                let mut start = 0;
                for end in 1..=keyed.len() {
                    if end == keyed.len() || keyed[end].0 != keyed[start].0 {
                        if end - start >= 2 {
                            groups.push((start as u32, end as u32));
                        }
                        start = end;
                    }
                }
                (keyed.into_iter().map(|(_, i)| i).collect::<Vec<u32>>(), groups)
            })
            .unzip();
        Blocks { rules: rules.to_vec(), order, groups }
    }

    /// The fields a rule requires to agree; within its blocks they carry no
    /// information, so EM on its pairs leaves them out.
    pub fn fields_of(rule: Rule) -> &'static [crate::compare::Field] {
        use crate::compare::Field::*;
        match rule {
            Rule::Upn => &[Upn],
            Rule::Nhs => &[Nhs],
            Rule::DobSurname => &[Dob, Surname],
            Rule::DobForename => &[Dob, Forename],
            Rule::NamesDistrict => &[Forename, Surname, Postcode],
            Rule::DobDistrict => &[Dob, Postcode],
            Rule::Names => &[Forename, Surname],
            Rule::PostcodeSurname => &[Postcode, Surname],
            Rule::PostcodeForename => &[Postcode, Forename],
        }
    }

    /// Calls `f` for every pair in rule `k`'s blocks, whether or not an
    /// earlier rule also finds it (for training on one rule's pairs). With
    /// `at_most` pairs, whole blocks are taken in an order fixed by a hash of
    /// their position (a deterministic random sample) until that many pairs.
    pub fn fold_rule_pairs<S, I, F, M>(&self, k: usize, p: &Prepared, at_most: u64, init: I, f: F, merge: M) -> S
    where
        S: Send,
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, usize, usize) + Sync + Send,
        M: Fn(S, S) -> S + Sync + Send,
    {
        let order = &self.order[k];
        let rule = self.rules[k];
        let total: u64 = self.pair_counts()[k];
        let groups: Vec<(u32, u32)> = if total <= at_most {
            self.groups[k].clone()
        } else {
            let mut keyed: Vec<(u64, (u32, u32))> = self.groups[k]
                .iter()
                .map(|&g| {
                    let mut h = FxHasher::default();
                    g.hash(&mut h);
                    (h.finish(), g)
                })
                .collect();
            keyed.sort_unstable();
            let mut taken = 0u64;
            keyed
                .into_iter()
                .map(|(_, g)| g)
                .take_while(|&(s, e)| {
                    let more = taken < at_most;
                    taken += block_pairs(s, e);
                    more
                })
                .collect()
        };
        groups
            .par_iter()
            .fold(&init, |mut state, &(s, e)| {
                each_pair(&order[s as usize..e as usize], |a, b| {
                    if rule.agrees(p, a, b) {
                        f(&mut state, a, b);
                    }
                });
                state
            })
            .reduce(&init, &merge)
    }

    /// Fails with the figure if any rule generates more than `max_pairs`.
    pub fn check(&self, max_pairs: u64) -> Result<(), crate::Error> {
        for (rule, pairs) in self.rules.iter().zip(self.pair_counts()) {
            if pairs > max_pairs {
                return Err(crate::Error::TooManyPairs { rule: rule.describe().to_string(), pairs, limit: max_pairs });
            }
        }
        Ok(())
    }

    /// Pairs each rule generates before de-duplication against earlier rules.
    pub fn pair_counts(&self) -> Vec<u64> {
        self.groups.iter().map(|g| g.iter().map(|&(s, e)| block_pairs(s, e)).sum()).collect()
    }

    /// Calls `f` once for every distinct pair any rule generates, in
    /// parallel; each worker folds into its own state from `init`, and the
    /// states are merged with `merge`. A pair (a, b) comes with a < b.
    pub fn fold_pairs<S, I, F, M>(&self, p: &Prepared, init: I, f: F, merge: M) -> S
    where
        S: Send,
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, usize, usize) + Sync + Send,
        M: Fn(S, S) -> S + Sync + Send,
    {
        let mut total = init();
        for (k, rule_groups) in self.groups.iter().enumerate() {
            let order = &self.order[k];
            let earlier = &self.rules[..k];
            let state = rule_groups
                .par_iter()
                .fold(&init, |mut state, &(s, e)| {
                    each_pair(&order[s as usize..e as usize], |a, b| {
                        // Hash collisions can put unequal records in one block.
                        if self.rules[k].agrees(p, a, b) && !earlier.iter().any(|r| r.agrees(p, a, b)) {
                            f(&mut state, a, b);
                        }
                    });
                    state
                })
                .reduce(&init, &merge);
            total = merge(total, state);
        }
        total
    }
}

/// Pairs within the block `order[s..e]`.
fn block_pairs(s: u32, e: u32) -> u64 {
    u64::from(e - s) * u64::from(e - s - 1) / 2
}

/// Calls `f(a, b)` with a < b for every pair of records in a block.
fn each_pair(block: &[u32], mut f: impl FnMut(usize, usize)) {
    for (x, &i) in block.iter().enumerate() {
        for &j in &block[x + 1..] {
            if i < j { f(i as usize, j as usize) } else { f(j as usize, i as usize) }
        }
    }
}
