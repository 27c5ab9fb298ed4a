//! The Fellegi-Sunter model: m and u probabilities per comparison level, a
//! prior, and the thresholds. Training estimates u from random pairs and m
//! by expectation maximisation over the blocked pairs; no labels needed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::blocking::{Blocks, Rule};
use crate::compare::{Cache, FIELDS, Field, Pattern, compare, pack, unpack};
use crate::prepare::Prepared;

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
    /// Whether exact agreement is weighted by how common the value is.
    pub term_frequency: bool,
    /// Levels, index = level; level 0 (missing) carries no weight.
    pub levels: Vec<LevelParams>,
}

/// What training saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingStats {
    /// Records trained on.
    pub records: u64,
    /// Random pairs compared to estimate u.
    pub u_pairs: u64,
    /// Blocked pairs compared for EM.
    pub em_pairs: u64,
    /// Distinct comparison patterns among them.
    pub em_patterns: u64,
    /// EM iterations run.
    pub em_iterations: u32,
    /// Whether EM converged before the iteration limit.
    pub em_converged: bool,
    /// EM's estimate of the share of blocked pairs that match.
    pub blocked_match_share: f64,
}

/// A trained model, saved as readable JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Format version.
    pub version: u32,
    /// Probability that two records drawn at random are the same child.
    pub prior: f64,
    /// Comparisons, in pattern order.
    pub comparisons: Vec<ComparisonParams>,
    /// Blocking rules, in the order they claim pairs.
    pub blocking_rules: Vec<Rule>,
    /// Pairs at or above this match probability are joined into one child.
    pub link_threshold: f64,
    /// Pairs from here up to the link threshold go to clerical review.
    pub review_threshold: f64,
    /// What training saw.
    pub training: TrainingStats,
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Random pairs for u (names and address use at most [`FUZZY_U_PAIRS`] of them).
    pub u_pairs: u64,
    /// Seed for the sample.
    pub seed: u64,
    /// EM iteration limit.
    pub max_iterations: u32,
    /// EM stops when no parameter moves more than this.
    pub tolerance: f64,
    /// Blocking rules.
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
            max_iterations: 100,
            tolerance: 1e-6,
            rules: Rule::DEFAULT.to_vec(),
            em_pairs_per_rule: 1_000_000,
            max_pairs: 500_000_000,
            link_threshold: 0.9,
            review_threshold: 0.5,
        }
    }
}

/// Counts of levels per field.
type LevelCounts = [[u64; 8]; 8];

fn add_counts(mut a: LevelCounts, b: LevelCounts) -> LevelCounts {
    for (x, y) in a.iter_mut().zip(b) {
        for (s, t) in x.iter_mut().zip(y) {
            *s += t;
        }
    }
    a
}

/// Random pairs whose names and address are compared for u; past this the
/// cheap fields go on being counted alone (fuzzy string measures dominate
/// the cost, and 2 million pairs pin down levels as rare as 1 in 10,000).
pub const FUZZY_U_PAIRS: u64 = 2_000_000;

/// Estimates u: level frequencies among pairs of different records drawn
/// at random, which are almost all of different children. As Splink does, it
/// draws a random sample of records and compares every pair within it: the
/// sample fits in cache, and repeated values hit the fuzzy-match cache.
fn estimate_u(p: &Prepared, pairs: u64, seed: u64) -> (Vec<Vec<f64>>, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // m records give m(m-1)/2 pairs.
    let m = (((8.0 * pairs as f64 + 1.0).sqrt() + 1.0) / 2.0).ceil() as usize;
    let m = m.min(p.n);
    let mut idx = rand::seq::index::sample(&mut rng, p.n, m).into_vec();
    idx.sort_unstable();
    let sub = p.subset(&idx);
    // Only the first rows' pairs compare names and address (see FUZZY_U_PAIRS);
    // the sample is in random order, so those pairs are a random subset too.
    let fuzzy_rows = (FUZZY_U_PAIRS as f64 / m.max(1) as f64).ceil() as usize;
    let counts = (0..m)
        .into_par_iter()
        .fold(
            || ([[0u64; 8]; 8], Cache::default()),
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
        .reduce(|| [[0; 8]; 8], add_counts);
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
    (u, (m * m.saturating_sub(1) / 2) as u64)
}

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

type PatternCounts = FxHashMap<u32, u64>;

fn merge_counts((mut x, c): (PatternCounts, Cache), (y, _): (PatternCounts, Cache)) -> (PatternCounts, Cache) {
    for (k, v) in y {
        *x.entry(k).or_default() += v;
    }
    (x, c)
}

/// One EM run over `patterns` with u fixed, updating m only for the fields
/// in `free`; the others are left out of the likelihood. Returns the match
/// share, iterations and whether it converged.
fn em(
    patterns: &[(Pattern, f64)],
    u: &[Vec<f64>],
    m: &mut [Vec<f64>],
    free: &[bool; 8],
    config: &TrainConfig,
    update_m: bool,
) -> (f64, u32, bool) {
    let mut lambda = 0.3;
    for iteration in 1..=config.max_iterations {
        let mut m_num: Vec<Vec<f64>> = m.iter().map(|v| vec![0.0; v.len()]).collect();
        let (mut match_total, mut all) = (0.0, 0.0);
        for (pat, count) in patterns {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (f, &l) in pat.iter().enumerate() {
                if l > 0 && free[f] {
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
        if update_m {
            for (f, levels) in m_num.iter().enumerate() {
                let seen: f64 = levels[1..].iter().sum();
                if !free[f] || seen <= 0.0 {
                    continue;
                }
                for l in 1..levels.len() {
                    let new = (levels[l] / seen).max(1e-6);
                    shift = shift.max((new - m[f][l]).abs());
                    m[f][l] = new;
                }
            }
        }
        let new_lambda = (match_total / all).clamp(1e-9, 1.0 - 1e-9);
        shift = shift.max((new_lambda - lambda).abs());
        lambda = new_lambda;
        if shift < config.tolerance {
            return (lambda, iteration, true);
        }
    }
    (lambda, config.max_iterations, false)
}

/// Trains a model on the prepared records.
///
/// m is estimated the way Splink does it: one EM session per training rule,
/// on that rule's pairs, leaving out the fields the rule makes agree (they
/// say nothing within its blocks). Each field's m is the mean over the
/// sessions that estimated it. The share of matches among all blocked pairs
/// then sets the prior.
pub fn train(p: &Prepared, config: &TrainConfig) -> Result<Model, Error> {
    Ok(fit(p, config, None)?.0)
}

/// Trains and scores in one go: the pass over the blocked pairs that sets
/// the prior also scores them (the prior only shifts every weight by the same
/// amount), so each pair is compared once. Returns the model, the pairs at or
/// above `min_probability` and the number of pairs scored.
pub fn train_and_predict(
    p: &Prepared,
    config: &TrainConfig,
    min_probability: f64,
) -> Result<(Model, Vec<ScoredPair>, u64), Error> {
    let (model, pairs) = fit(p, config, Some(min_probability))?;
    let prior_weight = (model.prior / (1.0 - model.prior)).log2();
    let min_weight = (min_probability / (1.0 - min_probability)).log2();
    let scored = model.training.em_pairs;
    let kept = pairs
        .into_iter()
        .filter_map(|(a, b, w)| {
            let weight = f64::from(w) + prior_weight;
            (weight >= min_weight).then_some(ScoredPair { a, b, weight: weight as f32 })
        })
        .collect();
    Ok((model, kept, scored))
}

/// Weights without the prior, for every blocked pair, when asked for.
type Likelihoods = Vec<(u32, u32, f32)>;

fn fit(p: &Prepared, config: &TrainConfig, keep_above: Option<f64>) -> Result<(Model, Likelihoods), Error> {
    if p.n < 2 {
        return Err(Error::TooFewRecords(p.n));
    }
    let t = std::time::Instant::now();
    let blocks = Blocks::build(p, &config.rules);
    blocks.check(config.max_pairs)?;
    tracing::debug!(secs = t.elapsed().as_secs_f64(), "blocks built");
    let t = std::time::Instant::now();
    let (u, u_pairs) = estimate_u(p, config.u_pairs, config.seed);
    tracing::info!(pairs = u_pairs, secs = t.elapsed().as_secs_f64(), "u estimated from random pairs");
    let init = || (PatternCounts::default(), Cache::default());
    let to_vec =
        |c: PatternCounts| -> Vec<(Pattern, f64)> { c.into_iter().map(|(k, n)| (unpack(k), n as f64)).collect() };

    let mut sums: Vec<Vec<f64>> = FIELDS.iter().map(|f| vec![0.0; f.levels().len()]).collect();
    let mut sessions = vec![0u32; FIELDS.len()];
    let mut iterations = 0;
    let mut converged = true;
    for (k, &rule) in config.rules.iter().enumerate() {
        let counts = blocks
            .fold_rule_pairs(
                k,
                p,
                config.em_pairs_per_rule,
                init,
                |(c, cache), a, b| *c.entry(pack(&compare(p, a, b, cache))).or_default() += 1,
                merge_counts,
            )
            .0;
        let pairs: u64 = counts.values().sum();
        if pairs < 10 {
            continue;
        }
        let fixed = Blocks::fields_of(rule);
        let mut free = [true; 8];
        for (f, field) in FIELDS.iter().enumerate() {
            free[f] = !fixed.contains(field);
        }
        let mut m: Vec<Vec<f64>> = FIELDS.iter().map(|&f| initial_m(f)).collect();
        let (share, its, ok) = em(&to_vec(counts), &u, &mut m, &free, config, true);
        tracing::info!(
            rule = rule.describe(),
            pairs,
            match_share = share,
            iterations = its,
            converged = ok,
            "EM session"
        );
        iterations += its;
        converged &= ok;
        for f in 0..FIELDS.len() {
            if free[f] {
                sessions[f] += 1;
                for (s, x) in sums[f].iter_mut().zip(&m[f]) {
                    *s += x;
                }
            }
        }
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

    let comparisons = FIELDS
        .iter()
        .enumerate()
        .map(|(f, &field)| ComparisonParams {
            field,
            term_frequency: field.tf_level().is_some(),
            levels: field
                .levels()
                .iter()
                .enumerate()
                .map(|(l, label)| LevelParams { label: (*label).to_string(), m: m[f][l], u: u[f][l] })
                .collect(),
        })
        .collect();
    let mut model = Model {
        version: 1,
        prior: 0.5,
        comparisons,
        blocking_rules: config.rules.clone(),
        link_threshold: config.link_threshold,
        review_threshold: config.review_threshold,
        training: TrainingStats::default(),
    };

    // The prior: the share of matches among all distinct blocked pairs, with m
    // and u now fixed, scaled to all pairs. With a prior of one half the
    // scorer gives each pair's weight without the prior. When the caller
    // wants the pairs too, only those that could reach its threshold are
    // kept: the prior is at most (blocked pairs / all pairs), since at most
    // every blocked pair matches, which bounds the weight a pair can reach.
    let scorer = Scorer::new(&model)?;
    let total_pairs = p.n as f64 * (p.n as f64 - 1.0) / 2.0;
    let keep_from = keep_above.map(|min_p| {
        let most: f64 = blocks.pair_counts().iter().sum::<u64>() as f64 / total_pairs;
        let most = most.clamp(1e-300, 0.5);
        (min_p / (1.0 - min_p)).log2() - (most / (1.0 - most)).log2()
    });
    let (union, _, chunks) = blocks.fold_pairs(
        p,
        || (PatternCounts::default(), Cache::default(), Vec::<Likelihoods>::new()),
        |(c, cache, kept), a, b| {
            let pat = compare(p, a, b, cache);
            *c.entry(pack(&pat)).or_default() += 1;
            if let Some(from) = keep_from {
                let w = scorer.weight(p, &pat, a, b);
                if w >= from {
                    if kept.last().is_none_or(|v: &Likelihoods| v.len() >= 1 << 16) {
                        kept.push(Vec::with_capacity(1 << 16));
                    }
                    if let Some(v) = kept.last_mut() {
                        v.push((a as u32, b as u32, w as f32));
                    }
                }
            }
        },
        |(mut x, c, mut kx), (y, _, ky)| {
            for (k, v) in y {
                *x.entry(k).or_default() += v;
            }
            kx.extend(ky);
            (x, c, kx)
        },
    );
    let likelihoods: Likelihoods = chunks.into_iter().flatten().collect();
    let em_pairs: u64 = union.values().sum();
    if em_pairs == 0 {
        return Err(Error::NoBlockedPairs);
    }
    let union = to_vec(union);
    let mut fixed_m = m.clone();
    let (lambda, _, _) = em(&union, &u, &mut fixed_m, &[true; 8], config, false);
    model.prior = (lambda * em_pairs as f64 / total_pairs).clamp(1e-12, 0.5);
    tracing::info!(blocked_pairs = em_pairs, blocked_match_share = lambda, prior = model.prior, "prior estimated");
    model.training = TrainingStats {
        records: p.n as u64,
        u_pairs,
        em_pairs,
        em_patterns: union.len() as u64,
        em_iterations: iterations,
        em_converged: converged,
        blocked_match_share: lambda,
    };
    Ok((model, likelihoods))
}

/// A model ready to score: log2 Bayes factors per field and level.
pub struct Scorer<'a> {
    model: &'a Model,
    prior_weight: f64,
    weights: Vec<Vec<f64>>,
}

/// Match weight (log2 odds) to probability.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
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
    /// u, or the value's term frequency where that replaced it.
    pub u: f64,
    /// Whether `u` is a term frequency.
    pub term_frequency: bool,
    /// log2(m / u), 0 for a missing value.
    pub weight: f64,
}

impl<'a> Scorer<'a> {
    /// Prepares a model for scoring.
    pub fn new(model: &'a Model) -> Result<Self, Error> {
        if model.comparisons.len() != FIELDS.len()
            || model.comparisons.iter().zip(FIELDS).any(|(c, f)| c.field != f || c.levels.len() != f.levels().len())
        {
            return Err(Error::ModelShape);
        }
        let weights = model
            .comparisons
            .iter()
            .map(|c| c.levels.iter().enumerate().map(|(l, x)| if l == 0 { 0.0 } else { (x.m / x.u).log2() }).collect())
            .collect();
        let prior_weight = (model.prior / (1.0 - model.prior)).log2();
        Ok(Scorer { model, prior_weight, weights })
    }

    /// The weight of a pattern for records `a` and `b` (term frequencies
    /// come from the records' values).
    pub fn weight(&self, p: &Prepared, pat: &Pattern, a: usize, b: usize) -> f64 {
        let mut w = self.prior_weight;
        for (f, &l) in pat.iter().enumerate() {
            w += self.level_weight(p, f, l, a, b).0;
        }
        w
    }

    /// Weight of one field's level, and the u it used.
    fn level_weight(&self, p: &Prepared, f: usize, l: u8, a: usize, b: usize) -> (f64, f64, bool) {
        if l == 0 {
            return (0.0, 1.0, false);
        }
        let c = &self.model.comparisons[f];
        let lv = &c.levels[usize::from(l)];
        if c.term_frequency && Some(l) == c.field.tf_level() {
            let tf = match c.field {
                Field::Forename => p.name_tf[p.forename[a] as usize].max(p.name_tf[p.forename[b] as usize]),
                Field::Surname => p.name_tf[p.surname[a] as usize].max(p.name_tf[p.surname[b] as usize]),
                Field::Postcode => p.postcode_tf[p.postcode[a] as usize].max(p.postcode_tf[p.postcode[b] as usize]),
                _ => lv.u,
            };
            if tf > 0.0 {
                return ((lv.m / tf).log2(), tf, true);
            }
        }
        (self.weights[f][usize::from(l)], lv.u, false)
    }

    /// Each field's contribution to the weight of `a` against `b`.
    pub fn explain(&self, p: &Prepared, a: usize, b: usize) -> (f64, Vec<Contribution>) {
        let pat = compare(p, a, b, &mut Cache::default());
        let parts = pat
            .iter()
            .enumerate()
            .map(|(f, &l)| {
                let c = &self.model.comparisons[f];
                let (weight, u, tf) = self.level_weight(p, f, l, a, b);
                Contribution {
                    field: c.field,
                    level: l,
                    label: c.levels[usize::from(l)].label.clone(),
                    m: c.levels[usize::from(l)].m,
                    u,
                    term_frequency: tf,
                    weight,
                }
            })
            .collect();
        (self.prior_weight, parts)
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

/// Scores every blocked pair and keeps those at or above `min_probability`.
/// Returns them with the number of pairs scored.
pub fn predict(p: &Prepared, model: &Model, min_probability: f64) -> Result<(Vec<ScoredPair>, u64), Error> {
    predict_among(p, model, min_probability, None)
}

/// Scores only the pairs with at least one record marked in `new`: linking
/// new records to an existing population without scoring the old pairs
/// again.
pub fn predict_new(
    p: &Prepared,
    model: &Model,
    min_probability: f64,
    new: &[bool],
) -> Result<(Vec<ScoredPair>, u64), Error> {
    predict_among(p, model, min_probability, Some(new))
}

fn predict_among(
    p: &Prepared,
    model: &Model,
    min_probability: f64,
    new: Option<&[bool]>,
) -> Result<(Vec<ScoredPair>, u64), Error> {
    let scorer = Scorer::new(model)?;
    let blocks = Blocks::build(p, &model.blocking_rules);
    let min_weight = (min_probability / (1.0 - min_probability)).log2();
    let (pairs, scored, _) = blocks.fold_pairs(
        p,
        || (Vec::new(), 0u64, Cache::default()),
        |(out, n, cache), a, b| {
            if new.is_some_and(|new| !new[a] && !new[b]) {
                return;
            }
            *n += 1;
            let pat = compare(p, a, b, cache);
            let w = scorer.weight(p, &pat, a, b);
            if w >= min_weight {
                out.push(ScoredPair { a: a as u32, b: b as u32, weight: w as f32 });
            }
        },
        |(mut x, n, c), (y, m, _)| {
            x.extend(y);
            (x, n + m, c)
        },
    );
    Ok((pairs, scored))
}
