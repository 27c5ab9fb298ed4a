//! Blocking: which pairs are worth comparing. Each rule groups records that
//! agree exactly on some fields; a pair is compared once, under the first
//! rule that finds it, however many rules would. Two records of a source
//! that lists each child once are never compared: they are two children.
//!
//! [`choose`] picks the rules from what the data has (identifiers, UK
//! postcodes or others, how many pairs the broad rules would make), and says
//! why for each, so the plan can show it.

use std::hash::{Hash, Hasher};

use rayon::prelude::*;
use rustc_hash::FxHasher;
use serde::{Deserialize, Serialize};

use crate::compare::Field;
use crate::prepare::Prepared;

/// A blocking rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Same UPN.
    Upn,
    /// Same NHS number.
    Nhs,
    /// Same case id.
    CaseId,
    /// Same date of birth and surname (catches forename changes and typos).
    DobSurname,
    /// Same date of birth and forename (catches surname changes and typos).
    DobForename,
    /// Same forename, surname and UK postcode district (catches date-of-birth errors).
    NamesDistrict,
    /// Same date of birth and UK postcode district (catches swapped or mistyped names).
    DobDistrict,
    /// Same forename and surname.
    Names,
    /// Same forename and surname, in either order (catches swapped names).
    NamesAnyOrder,
    /// Same postcode and surname.
    PostcodeSurname,
    /// Same postcode and forename.
    PostcodeForename,
    /// Same date of birth and postcode.
    DobPostcode,
    /// Same date of birth.
    Dob,
    /// Same postcode.
    Postcode,
    /// Same surname.
    Surname,
    /// Same forename.
    Forename,
}

impl Rule {
    /// Every rule, for parsing and help.
    pub const ALL: [Rule; 16] = [
        Rule::Upn,
        Rule::Nhs,
        Rule::CaseId,
        Rule::DobSurname,
        Rule::DobForename,
        Rule::NamesDistrict,
        Rule::DobDistrict,
        Rule::Names,
        Rule::NamesAnyOrder,
        Rule::PostcodeSurname,
        Rule::PostcodeForename,
        Rule::DobPostcode,
        Rule::Dob,
        Rule::Postcode,
        Rule::Surname,
        Rule::Forename,
    ];

    /// What the rule requires, for the plan.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Upn => "l.upn = r.upn",
            Rule::Nhs => "l.nhs_number = r.nhs_number",
            Rule::CaseId => "l.case_id = r.case_id",
            Rule::DobSurname => "l.dob = r.dob and l.surname = r.surname",
            Rule::DobForename => "l.dob = r.dob and l.forename = r.forename",
            Rule::NamesDistrict => {
                "l.forename = r.forename and l.surname = r.surname and l.postcode_district = r.postcode_district"
            }
            Rule::DobDistrict => "l.dob = r.dob and l.postcode_district = r.postcode_district",
            Rule::Names => "l.forename = r.forename and l.surname = r.surname",
            Rule::NamesAnyOrder => "{l.forename, l.surname} = {r.forename, r.surname} (either order)",
            Rule::PostcodeSurname => "l.postcode = r.postcode and l.surname = r.surname",
            Rule::PostcodeForename => "l.postcode = r.postcode and l.forename = r.forename",
            Rule::DobPostcode => "l.dob = r.dob and l.postcode = r.postcode",
            Rule::Dob => "l.dob = r.dob",
            Rule::Postcode => "l.postcode = r.postcode",
            Rule::Surname => "l.surname = r.surname",
            Rule::Forename => "l.forename = r.forename",
        }
    }

    /// The rule's name on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Upn => "upn",
            Rule::Nhs => "nhs",
            Rule::CaseId => "case_id",
            Rule::DobSurname => "dob_surname",
            Rule::DobForename => "dob_forename",
            Rule::NamesDistrict => "names_district",
            Rule::DobDistrict => "dob_district",
            Rule::Names => "names",
            Rule::NamesAnyOrder => "names_any_order",
            Rule::PostcodeSurname => "postcode_surname",
            Rule::PostcodeForename => "postcode_forename",
            Rule::DobPostcode => "dob_postcode",
            Rule::Dob => "dob",
            Rule::Postcode => "postcode",
            Rule::Surname => "surname",
            Rule::Forename => "forename",
        }
    }

    /// Parses [`Rule::name`].
    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == s.trim())
    }

    /// The fields a rule makes agree exactly; within its blocks they say
    /// nothing, so its model leaves them out.
    pub fn fixes(self) -> &'static [Field] {
        use Field::*;
        match self {
            Rule::Upn => &[Upn],
            Rule::Nhs => &[Nhs],
            Rule::CaseId => &[CaseId],
            Rule::DobSurname => &[Dob, Surname],
            Rule::DobForename => &[Dob, Forename],
            Rule::NamesDistrict | Rule::Names | Rule::NamesAnyOrder => &[Forename, Surname],
            Rule::DobDistrict | Rule::DobPostcode | Rule::Dob => &[Dob],
            Rule::PostcodeSurname | Rule::Surname => &[Surname],
            Rule::PostcodeForename | Rule::Forename => &[Forename],
            Rule::Postcode => &[],
        }
    }

    /// The place levels a pair can reach within the rule's blocks, where the
    /// rule makes part of the place agree: within "same postcode" only the
    /// levels of a shared postcode, within "same district" only those from
    /// a shared district up. `None` when any level can occur.
    pub fn place_levels(self) -> Option<&'static [u8]> {
        match self {
            Rule::PostcodeSurname | Rule::PostcodeForename | Rule::DobPostcode | Rule::Postcode => Some(&[1, 2]),
            Rule::NamesDistrict | Rule::DobDistrict => Some(&[1, 2, 3, 4, 5]),
            _ => None,
        }
    }

    /// Whether the rule makes part of the place agree (the postcode or its
    /// district): the postcode's term frequency then says nothing more.
    pub fn involves_place(self) -> bool {
        matches!(
            self,
            Rule::NamesDistrict
                | Rule::DobDistrict
                | Rule::PostcodeSurname
                | Rule::PostcodeForename
                | Rule::DobPostcode
                | Rule::Postcode
        )
    }

    fn values(self, p: &Prepared, i: usize) -> Option<[u64; 3]> {
        let nz = |v: u32| (v != 0).then_some(u64::from(v));
        let dob = (p.dob[i] != i32::MIN).then_some(p.dob[i] as u64);
        Some(match self {
            Rule::Upn => [(p.upn[i] != 0).then_some(p.upn[i])?, 0, 0],
            Rule::Nhs => [nz(p.nhs[i])?, 0, 0],
            Rule::CaseId => [nz(p.case_id[i])?, 0, 0],
            Rule::DobSurname => [dob?, nz(p.surname[i])?, 0],
            Rule::DobForename => [dob?, nz(p.forename[i])?, 0],
            Rule::NamesDistrict => [nz(p.forename[i])?, nz(p.surname[i])?, nz(p.district[i])?],
            Rule::DobDistrict => [dob?, nz(p.district[i])?, 0],
            Rule::Names => [nz(p.forename[i])?, nz(p.surname[i])?, 0],
            Rule::NamesAnyOrder => {
                let (f, s) = (nz(p.forename[i])?, nz(p.surname[i])?);
                [f.min(s), f.max(s), 0]
            }
            Rule::PostcodeSurname => [nz(p.postcode[i])?, nz(p.surname[i])?, 0],
            Rule::PostcodeForename => [nz(p.postcode[i])?, nz(p.forename[i])?, 0],
            Rule::DobPostcode => [dob?, nz(p.postcode[i])?, 0],
            Rule::Dob => [dob?, 0, 0],
            Rule::Postcode => [nz(p.postcode[i])?, 0, 0],
            Rule::Surname => [nz(p.surname[i])?, 0, 0],
            Rule::Forename => [nz(p.forename[i])?, 0, 0],
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

/// One block: `order[start..end]`, the pairs in it that are compared (all
/// of them, less those within a source that lists each child once), and
/// those within such a source (known to be two children).
#[derive(Debug, Clone, Copy, Hash)]
struct Group {
    start: u32,
    end: u32,
    pairs: u64,
    within: u64,
    /// Whether two different keys share the block's hash (checked once when
    /// the blocks are built): only then is each pair checked exactly.
    mixed: bool,
}

/// The blocks of every rule: record indices sorted by key, cut into groups.
pub struct Blocks {
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// Per rule: record indices sorted by block key.
    order: Vec<Vec<u32>>,
    /// Per rule: the blocks of two or more records.
    groups: Vec<Vec<Group>>,
    /// Per rule: each record's block key hash (odd), 0 when it has none:
    /// two records whose hashes differ cannot agree on the rule, which
    /// turns most pairs away before the exact check.
    keys: Vec<Vec<u64>>,
    /// Per rule: whether any two different keys share a hash. Every record
    /// with a key is in the rule's sorted order, so a shared hash shows as a
    /// block of mixed keys; without one, equal hashes are equal keys.
    collides: Vec<bool>,
}

impl Blocks {
    /// Builds the blocks.
    pub fn build(p: &Prepared, rules: &[Rule]) -> Blocks {
        let built: Vec<(Vec<u32>, Vec<Group>, Vec<u64>)> = rules.par_iter().map(|&rule| group(p, rule)).collect();
        let mut blocks = Blocks {
            rules: rules.to_vec(),
            order: Vec::new(),
            groups: Vec::new(),
            keys: Vec::new(),
            collides: Vec::new(),
        };
        for (order, groups, keys) in built {
            blocks.collides.push(groups.iter().any(|g| g.mixed));
            blocks.order.push(order);
            blocks.groups.push(groups);
            blocks.keys.push(keys);
        }
        blocks
    }

    /// Whether rule `k` puts `a` and `b` in one block (exact: equal hashes
    /// are checked against the values where the rule has a collision).
    #[inline(always)]
    fn agrees(&self, k: usize, p: &Prepared, a: usize, b: usize) -> bool {
        let keys = &self.keys[k];
        keys[a] != 0 && keys[a] == keys[b] && (!self.collides[k] || self.rules[k].agrees(p, a, b))
    }

    /// Whether `a` and `b`, both of rule `k`'s block `g`, agree on the rule:
    /// always, unless the block holds keys of equal hash.
    #[inline(always)]
    fn agrees_within(&self, k: usize, g: &Group, p: &Prepared, a: usize, b: usize) -> bool {
        !g.mixed || self.rules[k].agrees(p, a, b)
    }

    /// The pairs each rule would make, without keeping the blocks.
    pub fn count(p: &Prepared, rules: &[Rule]) -> Vec<u64> {
        rules.par_iter().map(|&rule| group(p, rule).1.iter().map(|g| g.pairs).sum()).collect()
    }

    /// Calls `f` for every pair in rule `k`'s blocks, whether or not an
    /// earlier rule also finds it (for training on one rule's pairs); with
    /// `known_apart`, for every pair within a source that lists each child
    /// once instead (pairs known to be two children). With `at_most` pairs,
    /// whole blocks are taken in an order fixed by a hash of their position
    /// (a deterministic random sample) until that many pairs.
    #[allow(clippy::too_many_arguments)]
    pub fn fold_rule_pairs<S, I, F, M>(
        &self,
        k: usize,
        p: &Prepared,
        known_apart: bool,
        at_most: u64,
        init: I,
        f: F,
        merge: M,
    ) -> S
    where
        S: Send,
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, usize, usize) + Sync + Send,
        M: Fn(S, S) -> S + Sync + Send,
    {
        let order = &self.order[k];
        let size = |g: &Group| if known_apart { g.within } else { g.pairs };
        let all: Vec<Group> = self.groups[k].iter().copied().filter(|g| size(g) > 0).collect();
        let total: u64 = all.iter().map(size).sum();
        let groups: Vec<Group> = if total <= at_most {
            all
        } else {
            let mut keyed: Vec<(u64, Group)> = all
                .into_iter()
                .map(|g| {
                    let mut h = FxHasher::default();
                    (g.start, g.end).hash(&mut h);
                    (h.finish(), g)
                })
                .collect();
            keyed.sort_unstable_by_key(|&(h, g)| (h, g.start));
            let mut taken = 0u64;
            keyed
                .into_iter()
                .map(|(_, g)| g)
                .take_while(|g| {
                    let more = taken < at_most;
                    taken += size(g);
                    more
                })
                .collect()
        };
        groups
            .par_iter()
            .fold(&init, |mut state, g| {
                each_pair(&order[g.start as usize..g.end as usize], |a, b| {
                    if p.same_unique_source(a, b) == known_apart && self.agrees_within(k, g, p, a, b) {
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

    /// Pairs each rule generates before de-duplication against earlier
    /// rules (pairs within a source that lists each child once left out).
    pub fn pair_counts(&self) -> Vec<u64> {
        self.groups.iter().map(|g| g.iter().map(|g| g.pairs).sum()).collect()
    }

    /// Calls `f(state, k, a, b)` once for every distinct pair any rule
    /// generates, `k` being the first rule that finds it, in parallel; each
    /// worker folds into its own state from `init`, and the states are
    /// merged with `merge`. A pair (a, b) comes with a < b.
    pub fn fold_pairs<S, I, F, M>(&self, p: &Prepared, init: I, f: F, merge: M) -> S
    where
        S: Send,
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, usize, usize, usize) + Sync + Send,
        M: Fn(S, S) -> S + Sync + Send,
    {
        let mut total = init();
        for (k, rule_groups) in self.groups.iter().enumerate() {
            let order = &self.order[k];
            let state = rule_groups
                .par_iter()
                .filter(|g| g.pairs > 0)
                .fold(&init, |mut state, g| {
                    each_pair(&order[g.start as usize..g.end as usize], |a, b| {
                        // Hash collisions can put unequal records in one block.
                        if !p.same_unique_source(a, b)
                            && self.agrees_within(k, g, p, a, b)
                            && !(0..k).any(|r| self.agrees(r, p, a, b))
                        {
                            f(&mut state, k, a, b);
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

/// One rule's blocks: record indices sorted by block key, and the groups of
/// two or more records that have a pair to compare.
fn group(p: &Prepared, rule: Rule) -> (Vec<u32>, Vec<Group>, Vec<u64>) {
    let any_unique = p.unique.iter().any(|&u| u);
    let keys: Vec<u64> = (0..p.n)
        .into_par_iter()
        .map(|i| {
            rule.values(p, i).map_or(0, |v| {
                let mut h = FxHasher::default();
                v.hash(&mut h);
                h.finish() | 1
            })
        })
        .collect();
    let mut keyed: Vec<(u64, u32)> =
        keys.iter().enumerate().filter(|&(_, &k)| k != 0).map(|(i, &k)| (k, i as u32)).collect();
    keyed.par_sort_unstable();
    let order: Vec<u32> = keyed.iter().map(|&(_, i)| i).collect();
    let mut groups = Vec::new();
    let mut start = 0;
    let mut sources: Vec<u16> = Vec::new();
    for end in 1..=keyed.len() {
        if end == keyed.len() || keyed[end].0 != keyed[start].0 {
            if end - start >= 2 {
                let all = pairs_among((end - start) as u64);
                let mut within = 0;
                if any_unique {
                    sources.clear();
                    sources.extend(order[start..end].iter().map(|&i| p.source[i as usize]));
                    sources.sort_unstable();
                    for run in sources.chunk_by(|x, y| x == y) {
                        if p.unique[usize::from(run[0])] {
                            within += pairs_among(run.len() as u64);
                        }
                    }
                }
                let first = rule.values(p, order[start] as usize);
                let mixed = order[start + 1..end].iter().any(|&i| rule.values(p, i as usize) != first);
                groups.push(Group { start: start as u32, end: end as u32, pairs: all - within, within, mixed });
            }
            start = end;
        }
    }
    (order, groups, keys)
}

/// Pairs among `n` records.
fn pairs_among(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Calls `f(a, b)` with a < b for every pair of records in a block.
fn each_pair(block: &[u32], mut f: impl FnMut(usize, usize)) {
    for (x, &i) in block.iter().enumerate() {
        for &j in &block[x + 1..] {
            if i < j { f(i as usize, j as usize) } else { f(j as usize, i as usize) }
        }
    }
}

/// What the data offers the rules: how many records carry each field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Profile {
    /// Records.
    pub records: u64,
    /// Records with a valid UPN.
    pub upn: u64,
    /// Records with an NHS number.
    pub nhs: u64,
    /// Records with a case id.
    pub case_id: u64,
    /// Records with a date of birth.
    pub dob: u64,
    /// Records with a forename.
    pub forename: u64,
    /// Records with a surname.
    pub surname: u64,
    /// Records with a postcode.
    pub postcode: u64,
    /// Records whose postcode is a UK postcode (so has a district).
    pub uk_postcode: u64,
}

impl Profile {
    /// Counts the fields of `p`.
    pub fn of(p: &Prepared) -> Profile {
        let count = |v: &[u32]| v.iter().filter(|&&x| x != 0).count() as u64;
        Profile {
            records: p.n as u64,
            upn: p.upn.iter().filter(|&&x| x != 0).count() as u64,
            nhs: count(&p.nhs),
            case_id: count(&p.case_id),
            dob: p.dob.iter().filter(|&&d| d != i32::MIN).count() as u64,
            forename: count(&p.forename),
            surname: count(&p.surname),
            postcode: count(&p.postcode),
            uk_postcode: count(&p.district),
        }
    }

    /// Whether most postcodes are UK postcodes.
    pub fn mostly_uk(&self) -> bool {
        self.postcode > 0 && self.uk_postcode * 2 >= self.postcode
    }

    fn share(&self, n: u64) -> String {
        format!("{:.0}%", 100.0 * n as f64 / self.records.max(1) as f64)
    }

    /// Why a rule can make no pairs on this data, if the data says.
    pub fn why_no_pairs(&self, rule: Rule) -> Option<String> {
        let missing = |n: u64, what: &str| (n < 2).then(|| format!("fewer than two records have {what}"));
        let district = || {
            (self.uk_postcode < 2).then(|| {
                format!(
                    "it needs a UK postcode district, and {} of {} postcodes are UK postcodes",
                    self.uk_postcode, self.postcode
                )
            })
        };
        match rule {
            Rule::Upn => missing(self.upn, "a valid UPN"),
            Rule::Nhs => missing(self.nhs, "an NHS number"),
            Rule::CaseId => missing(self.case_id, "a case id"),
            Rule::NamesDistrict | Rule::DobDistrict => district().or_else(|| missing(self.dob, "a date of birth")),
            Rule::Dob | Rule::DobSurname | Rule::DobForename | Rule::DobPostcode => {
                missing(self.dob, "a date of birth")
            }
            Rule::Postcode | Rule::PostcodeSurname | Rule::PostcodeForename => missing(self.postcode, "a postcode"),
            Rule::Surname => missing(self.surname, "a surname"),
            Rule::Forename | Rule::Names | Rule::NamesAnyOrder => missing(self.forename, "a forename"),
        }
    }
}

/// A rule considered by [`choose`], with its pairs and the reason it was
/// taken or left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The rule.
    pub rule: Rule,
    /// Pairs it makes (before de-duplication).
    pub pairs: u64,
    /// Whether it is used.
    pub chosen: bool,
    /// Why, in words.
    pub why: String,
}

/// Pairs a broad (one-field) rule may make and still be chosen: ten a
/// record, and at least 250,000 (nothing on a small file).
pub fn broad_budget(records: u64) -> u64 {
    (10 * records).max(250_000)
}

/// Chooses blocking rules from what the data has:
///
/// - a rule on each identifier the data carries (UPN, NHS number, case id);
/// - date of birth with surname, and with forename;
/// - where most postcodes are UK postcodes, rules on the postcode district
///   (names and district, date of birth and district); otherwise rules on
///   the whole postcode (postcode and surname, postcode and forename, date
///   of birth and postcode);
/// - forename and surname in either order;
/// - the broad one-field rules (date of birth, postcode, surname, forename)
///   only while each makes at most [`broad_budget`] pairs: on a small file
///   they find matches corrupted in every other field, on a large one they
///   would cost too much.
///
/// A rule that makes no pairs is left out, and one that makes more than
/// `max_pairs` is left out with its figure.
pub fn choose(p: &Prepared, max_pairs: u64) -> Vec<Choice> {
    let profile = Profile::of(p);
    let mut candidates = vec![Rule::Upn, Rule::Nhs, Rule::CaseId, Rule::DobSurname, Rule::DobForename];
    let place_reason = if profile.mostly_uk() {
        candidates.extend([Rule::NamesDistrict, Rule::DobDistrict]);
        format!("{} of {} postcodes are UK postcodes: blocks on the district", profile.uk_postcode, profile.postcode)
    } else {
        candidates.extend([Rule::PostcodeSurname, Rule::PostcodeForename, Rule::DobPostcode]);
        format!(
            "{} of {} postcodes are UK postcodes: blocks on the whole postcode",
            profile.uk_postcode, profile.postcode
        )
    };
    candidates.push(Rule::NamesAnyOrder);
    let broad = [Rule::Dob, Rule::Postcode, Rule::Surname, Rule::Forename];
    candidates.extend(broad);
    let budget = broad_budget(profile.records);
    candidates
        .iter()
        .zip(Blocks::count(p, &candidates))
        .map(|(&rule, pairs)| {
            let (chosen, why) = if pairs == 0 {
                (false, profile.why_no_pairs(rule).unwrap_or_else(|| "no two records agree on it".to_string()))
            } else if pairs > max_pairs {
                (false, format!("more pairs than the limit of {max_pairs}"))
            } else if broad.contains(&rule) && pairs > budget {
                (false, format!("a broad rule, over its budget of {budget} pairs (ten a record, at least 250,000)"))
            } else {
                let why = match rule {
                    Rule::Upn => format!("{} of records have a valid UPN", profile.share(profile.upn)),
                    Rule::Nhs => format!("{} of records have an NHS number", profile.share(profile.nhs)),
                    Rule::CaseId => format!("{} of records have a case id", profile.share(profile.case_id)),
                    r if r.involves_place() && !broad.contains(&r) => place_reason.clone(),
                    r if broad.contains(&r) => format!("a broad rule, within its budget of {budget} pairs"),
                    _ => "names and date of birth".to_string(),
                };
                (true, why)
            };
            Choice { rule, pairs, chosen, why }
        })
        .collect()
}

/// The rules [`choose`] takes, in order.
pub fn chosen_rules(p: &Prepared, max_pairs: u64) -> Vec<Rule> {
    choose(p, max_pairs).into_iter().filter(|c| c.chosen).map(|c| c.rule).collect()
}
