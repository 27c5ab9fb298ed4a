//! The printable plan: blocking rules with the pairs each generates,
//! comparisons with their levels and weights, and the thresholds, shown
//! before anything is scored.

use std::fmt::Write;

use crate::Error;
use crate::blocking::{Blocks, Rule};
use crate::compare::FIELDS;
use crate::model::Model;
use crate::prepare::Prepared;

/// Pairs per rule, checked against `max_pairs` per rule.
pub fn rule_counts(p: &Prepared, rules: &[Rule], max_pairs: u64) -> Result<Vec<(Rule, u64)>, Error> {
    let blocks = Blocks::build(p, rules);
    blocks.check(max_pairs)?;
    Ok(rules.iter().copied().zip(blocks.pair_counts()).collect())
}

/// The plan as text.
pub fn render(records: usize, counts: &[(Rule, u64)], model: Option<&Model>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "records: {records}");
    let _ = writeln!(s, "blocking rules (a pair is scored once, under the first rule that finds it):");
    for (i, (rule, pairs)) in counts.iter().enumerate() {
        let _ = writeln!(s, "  {}. {:<100} {:>14} pairs before de-duplication", i + 1, rule.describe(), pairs);
    }
    let _ = writeln!(s, "comparisons (level: m, u, match weight log2(m/u)):");
    for (f, field) in FIELDS.iter().enumerate() {
        let tf = if field.tf_level().is_some() { " [exact weighted by term frequency]" } else { "" };
        let _ = writeln!(s, "  {}{tf}", field.name());
        for (l, label) in field.levels().iter().enumerate() {
            match model.map(|m| &m.comparisons[f].levels[l]) {
                Some(lv) if l > 0 => {
                    let _ =
                        writeln!(s, "    {l}. {label:<52} m={:.4} u={:.6} w={:+.2}", lv.m, lv.u, (lv.m / lv.u).log2());
                }
                _ => {
                    let _ = writeln!(s, "    {l}. {label}{}", if l == 0 { " (no weight)" } else { "" });
                }
            }
        }
    }
    if let Some(m) = model {
        let _ = writeln!(s, "prior: P(two random records match) = {:.3e}", m.prior);
        let _ = writeln!(
            s,
            "thresholds: link at match probability >= {}, clerical review from {}",
            m.link_threshold, m.review_threshold
        );
    } else {
        let _ = writeln!(s, "no model yet: `cnis link train` estimates m, u and the prior");
    }
    s
}
