//! The Fellegi-Sunter model, one for each blocking rule.
//!
//! A pair is scored under the first blocking rule that finds it, by that
//! rule's own model: the share of matches among the rule's pairs (the
//! prior), then the evidence of each field the rule does not fix. Fields
//! the rule makes agree are not counted again, and the rule's model knows
//! how its other fields behave *given* that agreement.
//!
//! That matters because fields are not independent among different
//! children. Twins share a surname, a home and a date of birth; brothers
//! and sisters share a surname and a home. A single model that multiplies
//! each field's evidence, estimated over all pairs, counts a family's shared
//! home as if it were a coincidence, and links twins. Within the rule "same
//! date of birth and surname", the non-matches are mostly twins, so the rule's
//! model learns that a shared home says little there and that a different
//! forename says a lot.
//!
//! Training needs no labels. u (how often each level occurs among
//! different children) is first estimated from random pairs, as Splink
//! does. Then each rule's pairs (a deterministic sample of whole blocks)
//! are fitted by expectation maximisation as a mixture of matches and
//! non-matches: m for every field the rule leaves free, the match share,
//! and, for the fields families share (surname, date of birth, place), u
//! as it is within the rule's blocks, each pulled towards the estimate from
//! random pairs by a few pseudo-pairs so that a rule with few non-matches
//! keeps the overall u. Exact agreement on a name or postcode is weighted
//! by how common the value is. Pairs no rule finds are never scored;
//! `explain` shows them under an overall model (m averaged over the rules,
//! u from random pairs).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::blocking::{Blocks, Rule};
use crate::compare::{Cache, FIELDS, Field, NF, PLACE_SAME_POSTCODE, Pattern, compare, pack, unpack};
use crate::prepare::Prepared;

/// The model file format this version reads and writes.
pub const MODEL_VERSION: u32 = 3;

/// One level's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelParams {
    /// What the level means.
    pub label: String,
    /// P(level | same child).
    pub m: f64,
    /// P(level | different children).
    pub u: f64,
}

/// One field's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonParams {
    /// The field.
    pub field: Field,
    /// Pairs in training with a value on both sides (random pairs for the
    /// overall model, the rule's pairs for a rule's): 0 means the data has
    /// no such field and its levels carry no weight there.
    pub compared: u64,
    /// Levels, index = level; level 0 (missing) carries no weight.
    pub levels: Vec<LevelParams>,
}

/// One blocking rule and the model its pairs are scored by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleParams {
    /// The rule.
    pub rule: Rule,
    /// Pairs the rule made in training (before de-duplication).
    pub pairs: u64,
    /// Pairs its EM session looked at.
    pub em_pairs: u64,
    /// The share of matches among the rule's pairs; `None` when it had too
    /// few pairs to estimate, and its pairs are scored by the overall model.
    pub match_share: Option<f64>,
    /// m and u of each field among the rule's pairs (in pattern order);
    /// fields the rule fixes keep the overall values and carry no weight.
    pub comparisons: Vec<ComparisonParams>,
    /// EM iterations.
    pub em_iterations: u32,
    /// Whether EM converged before the limit.
    pub em_converged: bool,
}

/// What training saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingStats {
    /// Records trained on.
    pub records: u64,
    /// Random pairs compared to estimate u.
    pub u_pairs: u64,
    /// Blocked pairs compared for EM, over all rules.
    pub em_pairs: u64,
    /// Distinct comparison patterns among them.
    pub em_patterns: u64,
    /// EM iterations run, over all rules.
    pub em_iterations: u32,
    /// Whether every EM session converged before the iteration limit.
    pub em_converged: bool,
}

/// A trained model, saved as readable JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Format version ([`MODEL_VERSION`]).
    pub version: u32,
    /// Probability that two records drawn at random are the same child (for
    /// explaining a pair no rule finds).
    pub prior: f64,
    /// The overall comparisons: m averaged over the rules, u from random pairs.
    pub comparisons: Vec<ComparisonParams>,
    /// Blocking rules in the order they claim pairs, each with its model.
    pub rules: Vec<RuleParams>,
    /// Pairs at or above this match probability are joined into one child.
    pub link_threshold: f64,
    /// Pairs from here up to the link threshold go to clerical review.
    pub review_threshold: f64,
    /// What training saw.
    pub training: TrainingStats,
}

impl Model {
    /// The blocking rules, in order.
    pub fn blocking_rules(&self) -> Vec<Rule> {
        self.rules.iter().map(|r| r.rule).collect()
    }

    /// Reads a model from JSON and checks it fits this version: the format
    /// version, one comparison per field with the right levels,
    /// probabilities in (0, 1], a match share in (0, 1), thresholds in
    /// (0, 1) with review at most link, and blocking rules this version
    /// knows. The error says what is wrong.
    pub fn from_json(text: &str) -> Result<Model, Error> {
        let bad = |s: String| Error::InvalidModel(s);
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(MODEL_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "format version {v}; this version of cnis reads version {MODEL_VERSION}: train it again"
                )));
            }
            None => return Err(bad("no format version".into())),
        }
        let model: Model = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        model.validate()?;
        Ok(model)
    }

    /// Checks the model's shape and values (see [`Model::from_json`]).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |s: String| Err(Error::InvalidModel(s));
        let unit = |x: f64| x > 0.0 && x < 1.0;
        if !unit(self.link_threshold) || !unit(self.review_threshold) {
            return bad(format!(
                "thresholds must lie strictly between 0 and 1 (link {}, review {})",
                self.link_threshold, self.review_threshold
            ));
        }
        if self.review_threshold > self.link_threshold {
            return bad(format!(
                "the review threshold {} is above the link threshold {}",
                self.review_threshold, self.link_threshold
            ));
        }
        if !unit(self.prior) {
            return bad(format!("prior {} is not strictly between 0 and 1", self.prior));
        }
        check_comparisons(&self.comparisons, "the overall comparisons")?;
        if self.rules.is_empty() {
            return bad("no blocking rules".into());
        }
        for (i, r) in self.rules.iter().enumerate() {
            if self.rules[..i].iter().any(|x| x.rule == r.rule) {
                return bad(format!("blocking rule {} appears twice", r.rule.name()));
            }
            if let Some(s) = r.match_share
                && !unit(s)
            {
                return bad(format!("rule {}: match share {s} is not strictly between 0 and 1", r.rule.name()));
            }
            check_comparisons(&r.comparisons, &format!("rule {}", r.rule.name()))?;
        }
        Ok(())
    }
}

fn check_comparisons(cs: &[ComparisonParams], whose: &str) -> Result<(), Error> {
    let bad = |s: String| Err(Error::InvalidModel(s));
    if cs.len() != NF {
        return bad(format!("{whose}: {} comparisons, this version has {NF}", cs.len()));
    }
    for (c, field) in cs.iter().zip(FIELDS) {
        if c.field != field {
            return bad(format!("{whose}: comparison {} where {} was expected", c.field.name(), field.name()));
        }
        if c.levels.len() != field.levels().len() {
            return bad(format!(
                "{whose}: {} has {} levels, this version has {}",
                field.name(),
                c.levels.len(),
                field.levels().len()
            ));
        }
        for (l, lv) in c.levels.iter().enumerate().skip(1) {
            for (what, x) in [("m", lv.m), ("u", lv.u)] {
                if !(x > 0.0 && x <= 1.0) {
                    return bad(format!("{whose}: {} level {l}: {what} = {x} is not in (0, 1]", field.name()));
                }
            }
        }
    }
    Ok(())
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Random pairs for u (names use at most [`FUZZY_U_PAIRS`] of them).
    pub u_pairs: u64,
    /// Seed for the sample.
    pub seed: u64,
    /// EM iteration limit.
    pub max_iterations: u32,
    /// EM stops when no parameter moves more than this.
    pub tolerance: f64,
    /// Blocking rules; empty = chosen from the data ([`crate::blocking::choose`]).
    pub rules: Vec<Rule>,
    /// Pairs of each rule that its EM session looks at, at most (whole
    /// blocks, sampled); EM needs far fewer than a large data set offers.
    pub em_pairs_per_rule: u64,
    /// Refuse a blocking rule that generates more pairs than this.
    pub max_pairs: u64,
    /// Link threshold for the model.
    pub link_threshold: f64,
    /// Review threshold for the model.
    pub review_threshold: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            u_pairs: 2_000_000,
            seed: 42,
            max_iterations: 200,
            tolerance: 1e-6,
            rules: Vec::new(),
            em_pairs_per_rule: 200_000,
            max_pairs: DEFAULT_MAX_PAIRS,
            link_threshold: 0.9,
            review_threshold: 0.5,
        }
    }
}

/// The default limit on the pairs one blocking rule may make.
pub const DEFAULT_MAX_PAIRS: u64 = 500_000_000;
/// The default limit on the scored pairs kept (each costs 12 bytes in
/// memory and a line of `pairs.csv`).
pub const DEFAULT_MAX_KEPT: u64 = 50_000_000;

/// Scoring settings: which pairs to keep, and the limits that stop a run
/// before it takes all the memory or disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scoring {
    /// Keep pairs at or above this match probability.
    pub min_probability: f64,
    /// Refuse a blocking rule that makes more pairs than this.
    pub max_pairs: u64,
    /// Stop with an error once more pairs than this are kept.
    pub max_kept: u64,
}

impl Scoring {
    /// Keep pairs at or above `min_probability`, with the default limits.
    pub fn at(min_probability: f64) -> Scoring {
        Scoring { min_probability, max_pairs: DEFAULT_MAX_PAIRS, max_kept: DEFAULT_MAX_KEPT }
    }
}

/// Counts of levels per field.
type LevelCounts = [[u64; 8]; NF];

fn add_counts(mut a: LevelCounts, b: LevelCounts) -> LevelCounts {
    for (x, y) in a.iter_mut().zip(b) {
        for (s, t) in x.iter_mut().zip(y) {
            *s += t;
        }
    }
    a
}

/// Random pairs whose names are compared for u; past this the other fields
/// go on being counted alone (fuzzy string measures dominate the cost, and
/// 2 million pairs pin down levels as rare as 1 in 10,000).
pub const FUZZY_U_PAIRS: u64 = 2_000_000;

/// Estimates u: level frequencies among pairs of different records drawn
/// at random, which are almost all of different children. As Splink does, it
/// draws a random sample of records and compares every pair within it: the
/// sample fits in cache, and repeated values hit the fuzzy-match cache.
fn estimate_u(p: &Prepared, pairs: u64, seed: u64) -> (Vec<Vec<f64>>, [u64; NF], u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // m records give m(m-1)/2 pairs.
    let m = (((8.0 * pairs as f64 + 1.0).sqrt() + 1.0) / 2.0).ceil() as usize;
    let m = m.min(p.n);
    let mut idx = rand::seq::index::sample(&mut rng, p.n, m).into_vec();
    idx.sort_unstable();
    let sub = p.subset(&idx);
    // Only the first rows' pairs compare names (see FUZZY_U_PAIRS); the
    // sample is in random order, so those pairs are a random subset too.
    let fuzzy_rows = (FUZZY_U_PAIRS as f64 / m.max(1) as f64).ceil() as usize;
    // Random pairs rarely repeat a pair of values: caching costs more than
    // it saves.
    let counts = (0..m)
        .into_par_iter()
        .fold(
            || ([[0u64; 8]; NF], Cache::disabled()),
            |(mut counts, mut cache), i| {
                cache.skip_fuzzy = i >= fuzzy_rows;
                for j in i + 1..m {
                    let pat = compare(&sub, i, j, &mut cache);
                    for (f, &l) in pat.iter().enumerate() {
                        counts[f][usize::from(l)] += 1;
                    }
                }
                (counts, cache)
            },
        )
        .map(|(c, _)| c)
        .reduce(|| [[0; 8]; NF], add_counts);
    let u = FIELDS
        .iter()
        .enumerate()
        .map(|(f, field)| {
            let levels = field.levels().len();
            let seen: u64 = counts[f][1..levels].iter().sum();
            (0..levels)
                .map(|l| {
                    if l == 0 {
                        1.0
                    } else {
                        // A level never seen among random pairs gets half a count.
                        (counts[f][l] as f64).max(0.5) / (seen as f64 + 1.0)
                    }
                })
                .collect()
        })
        .collect();
    let mut compared = [0u64; NF];
    for (f, c) in compared.iter_mut().enumerate() {
        *c = counts[f][1..].iter().sum();
    }
    (u, compared, (m * m.saturating_sub(1) / 2) as u64)
}

/// Where EM starts m: mostly exact agreement, the rest spread evenly.
fn initial_m(field: Field) -> Vec<f64> {
    let n = field.levels().len();
    let mut m = vec![1.0; n];
    m[1] = 0.85;
    let rest = 0.15 / (n - 2) as f64;
    for x in m.iter_mut().skip(2) {
        *x = rest;
    }
    m
}

/// Pseudo-pairs pulling a rule's m towards the starting m.
const PRIOR_M: f64 = 1.0;
/// Pseudo-pairs pulling a rule's u towards u from random pairs: a rule with
/// few pairs known to be two children keeps the overall u.
const PRIOR_U: f64 = 10.0;
/// Pairs known to be two children (within a source that lists each child
/// once) that each rule looks at for its u, at most.
const KNOWN_APART_PAIRS: u64 = 50_000;

type PatternCounts = FxHashMap<u32, u64>;

/// What one EM session found.
struct Session {
    lambda: f64,
    m: Vec<Vec<f64>>,
    iterations: u32,
    converged: bool,
}

/// Fits one rule's patterns as a mixture of matches and non-matches with u
/// fixed: the match share (with one pseudo-pair of each kind, so a rule
/// whose pairs all look alike is not certain) and m for the fields in
/// `used` (with pseudo-counts towards `m0`).
fn em(
    patterns: &[(Pattern, f64)],
    m0: &[Vec<f64>],
    u: &[Vec<f64>],
    used: &[bool; NF],
    config: &TrainConfig,
) -> Session {
    let mut m = m0.to_vec();
    let share = |v: &[f64], l: usize| v[l] / v[1..].iter().sum::<f64>();
    let mut lambda = 0.5;
    for iteration in 1..=config.max_iterations {
        let mut m_num: Vec<Vec<f64>> = m.iter().map(|v| vec![0.0; v.len()]).collect();
        let (mut match_total, mut all) = (0.0, 0.0);
        for (pat, count) in patterns {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (f, &l) in pat.iter().enumerate() {
                if l > 0 && used[f] {
                    pm *= m[f][usize::from(l)];
                    pu *= u[f][usize::from(l)];
                }
            }
            let w = if pm + pu > 0.0 { pm / (pm + pu) } else { 0.0 };
            match_total += w * count;
            all += count;
            for (f, &l) in pat.iter().enumerate() {
                m_num[f][usize::from(l)] += w * count;
            }
        }
        let mut shift: f64 = 0.0;
        for f in (0..NF).filter(|&f| used[f]) {
            let seen: f64 = m_num[f][1..].iter().sum();
            for l in 1..m[f].len() {
                let new = ((m_num[f][l] + PRIOR_M * share(&m0[f], l)) / (seen + PRIOR_M)).max(1e-6);
                shift = shift.max((new - m[f][l]).abs());
                m[f][l] = new;
            }
        }
        let new_lambda = (match_total + 1.0) / (all + 2.0);
        shift = shift.max((new_lambda - lambda).abs());
        lambda = new_lambda;
        if shift < config.tolerance {
            return Session { lambda, m, iterations: iteration, converged: true };
        }
    }
    Session { lambda, m, iterations: config.max_iterations, converged: false }
}

/// `v` with the levels a rule rules out set to zero: for place, within a
/// rule that fixes part of it, only the levels it allows (so u and m are
/// shares among those levels, conditional on the rule's agreement).
fn restrict(rule: Rule, mut v: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    if let Some(allowed) = rule.place_levels() {
        let place = &mut v[Field::Place.index()];
        for (l, x) in place.iter_mut().enumerate().skip(1) {
            if !allowed.contains(&(l as u8)) {
                *x = 0.0;
            }
        }
    }
    v
}

/// u within one rule's blocks: level counts among pairs known to be two
/// children there, with [`PRIOR_U`] pseudo-pairs at the overall u (as a
/// share of the levels the rule allows).
fn conditional_u(rule: Rule, counts: &LevelCounts, u: &[Vec<f64>]) -> Vec<Vec<f64>> {
    restrict(rule, u.to_vec())
        .iter()
        .enumerate()
        .map(|(f, levels)| {
            let total: f64 = levels[1..].iter().sum();
            let seen: u64 = counts[f][1..levels.len()].iter().sum();
            (0..levels.len())
                .map(|l| {
                    if l == 0 {
                        1.0
                    } else {
                        let prior = if total > 0.0 { levels[l] / total } else { 0.0 };
                        ((counts[f][l] as f64 + PRIOR_U * prior) / (seen as f64 + PRIOR_U)).max(1e-9)
                    }
                })
                .collect()
        })
        .collect()
}

fn params(m: &[Vec<f64>], u: &[Vec<f64>], compared: &[u64; NF]) -> Vec<ComparisonParams> {
    FIELDS
        .iter()
        .enumerate()
        .map(|(f, &field)| ComparisonParams {
            field,
            compared: compared[f],
            levels: field
                .levels()
                .iter()
                .enumerate()
                .map(|(l, label)| LevelParams { label: (*label).to_string(), m: m[f][l], u: u[f][l] })
                .collect(),
        })
        .collect()
}

/// Pairs that may be compared: all pairs, less those within a source that
/// lists each child once.
fn comparable_pairs(p: &Prepared) -> f64 {
    let n = p.n as f64;
    let mut total = n * (n - 1.0) / 2.0;
    let mut per_source = vec![0u64; p.sources.len()];
    for &s in &p.source {
        per_source[usize::from(s)] += 1;
    }
    for (s, &k) in per_source.iter().enumerate() {
        if p.unique[s] {
            total -= k as f64 * (k as f64 - 1.0) / 2.0;
        }
    }
    total.max(1.0)
}

/// Trains a model on the prepared records (see the module documentation).
pub fn train(p: &Prepared, config: &TrainConfig) -> Result<Model, Error> {
    Ok(train_blocked(p, config)?.0)
}

/// [`train`], also returning the blocks, for scoring with them.
fn train_blocked(p: &Prepared, config: &TrainConfig) -> Result<(Model, Blocks), Error> {
    if p.n < 2 {
        return Err(Error::TooFewRecords(p.n));
    }
    p.check_keys()?;
    let rules =
        if config.rules.is_empty() { crate::blocking::chosen_rules(p, config.max_pairs) } else { config.rules.clone() };
    if rules.is_empty() {
        return Err(Error::NoBlockedPairs);
    }
    let t = std::time::Instant::now();
    let blocks = Blocks::build(p, &rules);
    blocks.check(config.max_pairs)?;
    let counts = blocks.pair_counts();
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "blocks built");
    let t = std::time::Instant::now();
    let (u, u_compared, u_pairs) = estimate_u(p, config.u_pairs, config.seed);
    tracing::info!(pairs = u_pairs, secs = t.elapsed().as_secs_f64(), "u estimated from random pairs");
    let m0: Vec<Vec<f64>> = FIELDS.iter().map(|&f| initial_m(f)).collect();

    let mut sums: Vec<Vec<f64>> = FIELDS.iter().map(|f| vec![0.0; f.levels().len()]).collect();
    let mut sessions = [0u32; NF];
    let mut stats = TrainingStats { records: p.n as u64, u_pairs, em_converged: true, ..TrainingStats::default() };
    let mut fitted = Vec::new();
    for (k, &rule) in rules.iter().enumerate() {
        let patterns = blocks
            .fold_rule_pairs(
                k,
                p,
                false,
                config.em_pairs_per_rule,
                || (PatternCounts::default(), Cache::default()),
                |(c, cache), a, b| *c.entry(pack(&compare(p, a, b, cache))).or_default() += 1,
                |(mut x, c), (y, _)| {
                    for (k, v) in y {
                        *x.entry(k).or_default() += v;
                    }
                    (x, c)
                },
            )
            .0;
        let em_pairs: u64 = patterns.values().sum();
        stats.em_pairs += em_pairs;
        stats.em_patterns += patterns.len() as u64;
        if em_pairs < 10 {
            fitted.push((rule, counts[k], em_pairs, None));
            continue;
        }
        // Pairs the rule finds within a source that lists each child once
        // are two children: how their fields compare is u within the rule.
        let (apart, _) = blocks.fold_rule_pairs(
            k,
            p,
            true,
            KNOWN_APART_PAIRS,
            || ([[0u64; 8]; NF], Cache::default()),
            |(c, cache), a, b| {
                for (f, &l) in compare(p, a, b, cache).iter().enumerate() {
                    c[f][usize::from(l)] += 1;
                }
            },
            |(x, c), (y, _)| (add_counts(x, y), c),
        );
        let ur = conditional_u(rule, &apart, &u);
        // Patterns in a fixed order, so sums (and the model) are the same to
        // the last bit whatever the hash map's order.
        let mut patterns: Vec<(Pattern, f64)> = patterns.into_iter().map(|(k, n)| (unpack(k), n as f64)).collect();
        patterns.sort_unstable_by_key(|(pat, _)| pack(pat));
        let mut compared = [0u64; NF];
        for (pat, n) in &patterns {
            for (f, &l) in pat.iter().enumerate() {
                if l > 0 {
                    compared[f] += *n as u64;
                }
            }
        }
        let mut used = [true; NF];
        for (f, field) in FIELDS.iter().enumerate() {
            used[f] = !rule.fixes().contains(field);
        }
        let s = em(&patterns, &restrict(rule, m0.clone()), &ur, &used, config);
        tracing::info!(
            rule = rule.describe(),
            pairs = em_pairs,
            known_apart = apart[0].iter().sum::<u64>(),
            match_share = s.lambda,
            iterations = s.iterations,
            converged = s.converged,
            "EM session"
        );
        stats.em_iterations += s.iterations;
        stats.em_converged &= s.converged;
        for f in 0..NF {
            if used[f] {
                sessions[f] += 1;
                for (sum, x) in sums[f].iter_mut().zip(&s.m[f]) {
                    *sum += x;
                }
            }
        }
        fitted.push((rule, counts[k], em_pairs, Some((s, ur, compared))));
    }
    if stats.em_pairs == 0 {
        return Err(Error::NoBlockedPairs);
    }
    let m: Vec<Vec<f64>> = FIELDS
        .iter()
        .enumerate()
        .map(|(f, &field)| {
            if sessions[f] == 0 {
                initial_m(field)
            } else {
                sums[f].iter().map(|s| s / f64::from(sessions[f])).collect()
            }
        })
        .collect();
    // The overall prior: at least as many matches as the richest rule finds.
    let matches = fitted
        .iter()
        .filter_map(|(_, pairs, _, s)| s.as_ref().map(|(s, _, _)| s.lambda * *pairs as f64))
        .fold(0.0f64, f64::max);
    let prior = (matches / comparable_pairs(p)).clamp(1e-12, 0.5);
    let rules = fitted
        .into_iter()
        .map(|(rule, pairs, em_pairs, s)| match s {
            Some((s, ur, compared)) => {
                // Fields the rule fixes keep the overall values.
                let mut rm = s.m;
                let mut ru = ur;
                for f in rule.fixes() {
                    rm[f.index()] = m[f.index()].clone();
                    ru[f.index()] = u[f.index()].clone();
                }
                RuleParams {
                    rule,
                    pairs,
                    em_pairs,
                    match_share: Some(s.lambda),
                    comparisons: params(&rm, &ru, &compared),
                    em_iterations: s.iterations,
                    em_converged: s.converged,
                }
            }
            None => RuleParams {
                rule,
                pairs,
                em_pairs,
                match_share: None,
                comparisons: params(&m, &u, &u_compared),
                em_iterations: 0,
                em_converged: true,
            },
        })
        .collect();
    let model = Model {
        version: MODEL_VERSION,
        prior,
        comparisons: params(&m, &u, &u_compared),
        rules,
        link_threshold: config.link_threshold,
        review_threshold: config.review_threshold,
        training: stats,
    };
    model.validate()?;
    Ok((model, blocks))
}

/// Trains, then scores every blocked pair, keeping those at or above
/// `scoring.min_probability`. Returns the model, the pairs and the number
/// of pairs scored.
pub fn train_and_predict(
    p: &Prepared,
    config: &TrainConfig,
    scoring: &Scoring,
) -> Result<(Model, Vec<ScoredPair>, u64), Error> {
    let (model, blocks) = train_blocked(p, config)?;
    blocks.check(scoring.max_pairs)?;
    let (pairs, scored) = score(p, &model, &blocks, scoring, None)?;
    Ok((model, pairs, scored))
}

/// Match weight (log2 odds) to probability.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

/// Probability to match weight.
pub fn weight_of(probability: f64) -> f64 {
    (probability / (1.0 - probability)).log2()
}

/// One field's part in a pair's match weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// The field.
    pub field: Field,
    /// The level reached.
    pub level: u8,
    /// Its label.
    pub label: String,
    /// m.
    pub m: f64,
    /// u.
    pub u: f64,
    /// The term-frequency adjustment added (0 where none applies).
    pub term_frequency: f64,
    /// Whether the blocking rule fixes the field (it then carries no weight
    /// but its term-frequency adjustment).
    pub fixed: bool,
    /// log2(m / u) plus the term-frequency adjustment; 0 for a missing
    /// value; the adjustment alone for a fixed field.
    pub weight: f64,
}

/// Why a pair has the weight it has: the model it was scored by, its
/// starting weight, and each field's part.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The blocking rule that finds the pair first; `None` when no rule
    /// does (`predict` never scores such a pair; the overall model is shown).
    pub rule: Option<Rule>,
    /// What the starting weight is, in words.
    pub start_label: String,
    /// The starting weight: log2 of the odds of a match before any field.
    pub start_weight: f64,
    /// Each field's part, in pattern order.
    pub parts: Vec<Contribution>,
}

impl Explanation {
    /// The total match weight.
    pub fn weight(&self) -> f64 {
        self.start_weight + self.parts.iter().map(|c| c.weight).sum::<f64>()
    }
}

/// One model's weights, ready to add up.
#[derive(Debug, Clone)]
struct Table {
    start: f64,
    weights: [[f64; 8]; NF],
    used: [bool; NF],
    tf: [bool; NF],
    /// Whether the rule makes the field agree, so its term-frequency
    /// adjustment is taken against pairs that share a value.
    within_block: [bool; NF],
}

impl Table {
    fn new(start: f64, cs: &[ComparisonParams], rule: Option<Rule>) -> Table {
        let mut t =
            Table { start, weights: [[0.0; 8]; NF], used: [true; NF], tf: [false; NF], within_block: [false; NF] };
        for (f, c) in cs.iter().enumerate() {
            let fixed = rule.is_some_and(|r| r.fixes().contains(&c.field));
            t.used[f] = !fixed;
            // A fixed field carries no weight of its own, but how common the
            // shared value is still tells: two Smiths born the same day are
            // less telling than two Ozturks.
            t.tf[f] = c.field.term_frequency();
            t.within_block[f] = fixed
                || (c.field == Field::Place && rule.and_then(Rule::place_levels) == Some(&PLACE_SAME_POSTCODE[..]));
            for (l, lv) in c.levels.iter().enumerate().skip(1) {
                t.weights[f][l] = if fixed { 0.0 } else { (lv.m / lv.u).log2() };
            }
        }
        t
    }
}

/// A model ready to score: log2 Bayes factors per rule, field and level.
pub struct Scorer<'a> {
    model: &'a Model,
    rules: Vec<Rule>,
    /// One table per rule, then the overall model's.
    tables: Vec<Table>,
}

impl<'a> Scorer<'a> {
    /// Prepares a model for scoring (checking it first).
    pub fn new(model: &'a Model) -> Result<Self, Error> {
        model.validate()?;
        let overall = Table::new(weight_of(model.prior), &model.comparisons, None);
        let mut tables: Vec<Table> = model
            .rules
            .iter()
            .map(|r| match r.match_share {
                Some(share) => Table::new(weight_of(share), &r.comparisons, Some(r.rule)),
                None => overall.clone(),
            })
            .collect();
        tables.push(overall);
        Ok(Scorer { model, rules: model.blocking_rules(), tables })
    }

    /// The first rule that finds `a` and `b` (its index), or the number of
    /// rules when none does.
    pub fn rule_of(&self, p: &Prepared, a: usize, b: usize) -> usize {
        self.rules.iter().position(|r| r.agrees(p, a, b)).unwrap_or(self.rules.len())
    }

    /// The term-frequency adjustment of field `f` at level `l` for a pair.
    #[inline]
    fn tf(p: &Prepared, t: &Table, f: usize, l: u8, a: usize) -> f64 {
        let (adj, column) = match FIELDS[f] {
            Field::Forename if l == 1 => (p.forename_tf[p.forename[a] as usize], 0),
            Field::Surname if l == 1 => (p.surname_tf[p.surname[a] as usize], 1),
            Field::Place if PLACE_SAME_POSTCODE.contains(&l) => (p.postcode_tf[p.postcode[a] as usize], 2),
            _ => return 0.0,
        };
        let shift = if t.within_block[f] { p.tf_within_block[column] } else { 0.0 };
        f64::from(adj + shift)
    }

    /// The match weight of records `a` and `b` with comparison pattern `pat`
    /// under rule `k`'s model (`k` = the number of rules: the overall model).
    #[inline]
    pub fn weight(&self, p: &Prepared, k: usize, pat: &Pattern, a: usize, _b: usize) -> f64 {
        let t = &self.tables[k.min(self.tables.len() - 1)];
        let mut w = t.start;
        for (f, &l) in pat.iter().enumerate() {
            if l > 0 {
                w += t.weights[f][usize::from(l)];
                if t.tf[f] {
                    w += Self::tf(p, t, f, l, a);
                }
            }
        }
        w
    }

    /// Each field's contribution to the weight of `a` against `b`, under the
    /// model `predict` would use for them.
    pub fn explain(&self, p: &Prepared, a: usize, b: usize) -> Explanation {
        let k = self.rule_of(p, a, b);
        let pat = compare(p, a, b, &mut Cache::default());
        let rule = self.rules.get(k).copied();
        let t = &self.tables[k];
        let (cs, start_label) = match rule.and_then(|r| self.model.rules.get(k).map(|x| (r, x))) {
            Some((r, params)) => match params.match_share {
                Some(share) => {
                    (&params.comparisons, format!("share of matches {share:.4} among pairs with {}", r.describe()))
                }
                None => {
                    (&self.model.comparisons, format!("P(random pair matches) (too few pairs with {})", r.describe()))
                }
            },
            None => (&self.model.comparisons, "P(random pair matches) (no blocking rule finds this pair)".to_string()),
        };
        let parts = pat
            .iter()
            .enumerate()
            .map(|(f, &l)| {
                let lv = &cs[f].levels[usize::from(l)];
                let fixed = !t.used[f];
                let tf = if l > 0 && t.tf[f] { Self::tf(p, t, f, l, a) } else { 0.0 };
                Contribution {
                    field: FIELDS[f],
                    level: l,
                    label: lv.label.clone(),
                    m: lv.m,
                    u: lv.u,
                    term_frequency: tf,
                    fixed,
                    weight: if l == 0 {
                        0.0
                    } else if fixed {
                        tf
                    } else {
                        t.weights[f][usize::from(l)] + tf
                    },
                }
            })
            .collect();
        Explanation { rule, start_label, start_weight: t.start, parts }
    }
}

/// A scored pair of records (a < b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPair {
    /// First record.
    pub a: u32,
    /// Second record.
    pub b: u32,
    /// Match weight (log2 odds).
    pub weight: f32,
}

impl ScoredPair {
    /// Match probability.
    pub fn probability(&self) -> f64 {
        probability(f64::from(self.weight))
    }
}

/// Scores every blocked pair and keeps those at or above `min_probability`,
/// within the default limits ([`Scoring::at`]). Returns them with the
/// number of pairs scored.
pub fn predict(p: &Prepared, model: &Model, min_probability: f64) -> Result<(Vec<ScoredPair>, u64), Error> {
    predict_with(p, model, &Scoring::at(min_probability))
}

/// Scores every blocked pair and keeps those at or above
/// `scoring.min_probability`; refuses a rule that makes more than
/// `scoring.max_pairs` pairs, and stops once more than `scoring.max_kept`
/// are kept.
pub fn predict_with(p: &Prepared, model: &Model, scoring: &Scoring) -> Result<(Vec<ScoredPair>, u64), Error> {
    predict_among(p, model, scoring, None)
}

/// Scores only the pairs with at least one record marked in `new`: linking
/// new records to an existing population without scoring the old pairs
/// again. Limits as [`predict_with`].
pub fn predict_new(
    p: &Prepared,
    model: &Model,
    scoring: &Scoring,
    new: &[bool],
) -> Result<(Vec<ScoredPair>, u64), Error> {
    predict_among(p, model, scoring, Some(new))
}

fn predict_among(
    p: &Prepared,
    model: &Model,
    scoring: &Scoring,
    new: Option<&[bool]>,
) -> Result<(Vec<ScoredPair>, u64), Error> {
    p.check_keys()?;
    let blocks = Blocks::build(p, &model.blocking_rules());
    blocks.check(scoring.max_pairs)?;
    score(p, model, &blocks, scoring, new)
}

fn score(
    p: &Prepared,
    model: &Model,
    blocks: &Blocks,
    scoring: &Scoring,
    new: Option<&[bool]>,
) -> Result<(Vec<ScoredPair>, u64), Error> {
    let scorer = Scorer::new(model)?;
    let min_weight = weight_of(scoring.min_probability);
    let kept = AtomicU64::new(0);
    let full = AtomicBool::new(false);
    let (chunks, scored, _) = blocks.fold_pairs(
        p,
        || (Vec::<Vec<ScoredPair>>::new(), 0u64, Cache::default()),
        |(out, n, cache), k, a, b| {
            if new.is_some_and(|new| !new[a] && !new[b]) || full.load(Ordering::Relaxed) {
                return;
            }
            *n += 1;
            let pat = compare(p, a, b, cache);
            let w = scorer.weight(p, k, &pat, a, b);
            if w >= min_weight {
                if kept.fetch_add(1, Ordering::Relaxed) >= scoring.max_kept {
                    full.store(true, Ordering::Relaxed);
                    return;
                }
                if out.last().is_none_or(|v| v.len() >= 1 << 16) {
                    out.push(Vec::with_capacity(1 << 16));
                }
                if let Some(v) = out.last_mut() {
                    v.push(ScoredPair { a: a as u32, b: b as u32, weight: w as f32 });
                }
            }
        },
        |(mut x, n, c), (y, m, _)| {
            x.extend(y);
            (x, n + m, c)
        },
    );
    if full.load(Ordering::Relaxed) {
        return Err(Error::TooManyKept { limit: scoring.max_kept, min_probability: scoring.min_probability });
    }
    Ok((chunks.into_iter().flatten().collect(), scored))
}
