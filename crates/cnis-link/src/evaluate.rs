//! Accuracy against known answers, at two levels, always over every input
//! record (those the reader rejected included, as records linked to
//! nothing):
//!
//! - **pair level**: the scored pairs at or above the threshold against the
//!   true pairs (precision, recall, F1): how good the match probabilities
//!   are, before clustering;
//! - **cluster level**: the pairs the clusters imply (two records in one
//!   cluster) against the true pairs, and B-cubed precision and recall per
//!   record: how good the children are.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::cluster::Clustering;
use crate::model::{ScoredPair, weight_of};
use crate::prepare::Prepared;

/// Pair-level accuracy: scored pairs at or above the threshold against
/// the true pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairAccuracy {
    /// Scored pairs at or above the threshold that are the same child.
    pub true_positive_pairs: u64,
    /// Scored pairs at or above the threshold (both records labelled).
    pub predicted_pairs: u64,
    /// Pairs of records that are the same child.
    pub true_pairs: u64,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

/// Accuracy at both levels, over every input record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    /// The link threshold evaluated.
    pub threshold: f64,
    /// Records with a truth label, rejected ones included.
    pub records: u64,
    /// Of those, records the reader rejected (linked to nothing).
    pub rejected: u64,
    /// Pair level.
    pub pairs: PairAccuracy,
    /// Cluster level: pairs the clusters imply, and B-cubed.
    pub clusters: Accuracy,
}

impl Evaluation {
    /// Evaluates `pairs` (at `threshold`) and `clustering` against the truth
    /// labels of `p`'s records and of `rejected`, the truth labels of records
    /// the reader rejected (each counts as a record linked to nothing, so
    /// its true pairs are missed).
    pub fn new(
        p: &Prepared,
        pairs: &[ScoredPair],
        clustering: &Clustering,
        threshold: f64,
        rejected: &[String],
    ) -> Evaluation {
        let mut truth = p.truth_ids();
        let mut ids: FxHashMap<&str, u32> =
            (0..p.n).filter(|&i| truth[i] != 0).map(|i| (p.truth.get(i), truth[i])).collect();
        let mut next = truth.iter().copied().max().unwrap_or(0);
        let mut predicted = clustering.cluster.clone();
        for (k, label) in rejected.iter().enumerate() {
            let id = *ids.entry(label.as_str()).or_insert_with(|| {
                next += 1;
                next
            });
            truth.push(id);
            predicted.push((p.n + k) as u32);
        }
        let clusters = evaluate(&predicted, &truth);
        let min_weight = weight_of(threshold);
        let (mut tp, mut pp) = (0u64, 0u64);
        for x in pairs.iter().filter(|x| f64::from(x.weight) >= min_weight) {
            let (ta, tb) = (truth[x.a as usize], truth[x.b as usize]);
            if ta != 0 && tb != 0 {
                pp += 1;
                tp += u64::from(ta == tb);
            }
        }
        let tt = clusters.true_pairs;
        let precision = if pp == 0 { 1.0 } else { tp as f64 / pp as f64 };
        let recall = if tt == 0 { 1.0 } else { tp as f64 / tt as f64 };
        Evaluation {
            threshold,
            records: clusters.records,
            rejected: rejected.len() as u64,
            pairs: PairAccuracy {
                true_positive_pairs: tp,
                predicted_pairs: pp,
                true_pairs: tt,
                precision,
                recall,
                f1: f1(precision, recall),
            },
            clusters,
        }
    }
}

/// Cluster-level accuracy figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Accuracy {
    /// Records with a truth label.
    pub records: u64,
    /// Pairs in the same predicted and the same true cluster.
    pub true_positive_pairs: u64,
    /// Pairs in the same predicted cluster.
    pub predicted_pairs: u64,
    /// Pairs in the same true cluster.
    pub true_pairs: u64,
    /// Precision of the pairs the clusters imply.
    pub precision: f64,
    /// Recall of the pairs the clusters imply.
    pub recall: f64,
    /// F1 of the pairs the clusters imply.
    pub f1: f64,
    /// B-cubed precision.
    pub bcubed_precision: f64,
    /// B-cubed recall.
    pub bcubed_recall: f64,
    /// B-cubed F1.
    pub bcubed_f1: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
}

/// Compares predicted clusters with true ones, over the records that have a
/// truth label (`truth[i] != 0`).
pub fn evaluate(predicted: &[u32], truth: &[u32]) -> Accuracy {
    let mut cells: FxHashMap<(u32, u32), u64> = FxHashMap::default();
    let mut pred_size: FxHashMap<u32, u64> = FxHashMap::default();
    let mut true_size: FxHashMap<u32, u64> = FxHashMap::default();
    let mut records = 0;
    for (&c, &t) in predicted.iter().zip(truth) {
        if t == 0 {
            continue;
        }
        records += 1;
        *cells.entry((c, t)).or_default() += 1;
        *pred_size.entry(c).or_default() += 1;
        *true_size.entry(t).or_default() += 1;
    }
    let tp: u64 = cells.values().map(|&n| pairs(n)).sum();
    let pp: u64 = pred_size.values().map(|&n| pairs(n)).sum();
    let tt: u64 = true_size.values().map(|&n| pairs(n)).sum();
    let precision = if pp == 0 { 1.0 } else { tp as f64 / pp as f64 };
    let recall = if tt == 0 { 1.0 } else { tp as f64 / tt as f64 };
    // B-cubed: for each record, |pred ∩ true| / |pred| and / |true|; summed
    // per cell that is n^2 / |pred| and n^2 / |true|.
    let (mut bp, mut br) = (0.0, 0.0);
    for (&(c, t), &n) in &cells {
        let n = n as f64;
        bp += n * n / pred_size[&c] as f64;
        br += n * n / true_size[&t] as f64;
    }
    let (bp, br) = if records == 0 { (1.0, 1.0) } else { (bp / records as f64, br / records as f64) };
    Accuracy {
        records,
        true_positive_pairs: tp,
        predicted_pairs: pp,
        true_pairs: tt,
        precision,
        recall,
        f1: f1(precision, recall),
        bcubed_precision: bp,
        bcubed_recall: br,
        bcubed_f1: f1(bp, br),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_imperfect() {
        let a = evaluate(&[1, 1, 2, 3], &[7, 7, 8, 9]);
        assert_eq!((a.precision, a.recall, a.f1, a.bcubed_f1), (1.0, 1.0, 1.0, 1.0));
        // Everything in one cluster: 6 predicted pairs, 1 true.
        let b = evaluate(&[1, 1, 1, 1], &[7, 7, 8, 9]);
        assert_eq!((b.true_positive_pairs, b.predicted_pairs, b.true_pairs), (1, 6, 1));
        assert!((b.precision - 1.0 / 6.0).abs() < 1e-12 && b.recall == 1.0);
        assert!((b.bcubed_precision - (0.5 + 0.5 + 0.25 + 0.25) / 4.0).abs() < 1e-12);
        // Unlabelled records are ignored.
        assert_eq!(evaluate(&[1, 1], &[0, 0]).records, 0);
    }
}
