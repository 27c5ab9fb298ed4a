//! The printable plan: the sources and which of them list each child once,
//! the blocking rules with the pairs each makes and why each was chosen (or
//! left out), warnings, the comparisons with their levels and weights, each
//! rule's model, and the thresholds, shown before anything is scored.

use std::fmt::Write;

use crate::Error;
use crate::blocking::{Blocks, Choice, Profile, Rule, choose};
use crate::compare::FIELDS;
use crate::model::{Model, weight_of};
use crate::prepare::Prepared;

/// A rule in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRule {
    /// The rule.
    pub rule: Rule,
    /// Pairs it makes before de-duplication.
    pub pairs: u64,
    /// Why it is there.
    pub why: String,
}

/// What a run will do, before it does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Records.
    pub records: usize,
    /// Each source: name, records, whether it lists each child once.
    pub sources: Vec<(String, usize, bool)>,
    /// The rules used, in order.
    pub rules: Vec<PlannedRule>,
    /// Rules considered and left out (when they were chosen from the data).
    pub left_out: Vec<Choice>,
    /// Things the user should know: a rule that makes no pairs, no pairs at all.
    pub warnings: Vec<String>,
}

impl Plan {
    /// The plan for `p`: with `rules`, those rules (from a model or the
    /// user); without, the rules [`choose`] picks. A rule making more than
    /// `max_pairs` pairs is refused with its figure.
    pub fn new(p: &Prepared, rules: Option<&[Rule]>, max_pairs: u64) -> Result<Plan, Error> {
        let mut per_source = vec![0usize; p.sources.len()];
        for &s in &p.source {
            per_source[usize::from(s)] += 1;
        }
        let sources = p.sources.iter().zip(per_source).zip(&p.unique).map(|((s, n), &u)| (s.clone(), n, u)).collect();
        let mut warnings = Vec::new();
        let (planned, left_out) = match rules {
            Some(rules) => {
                let blocks = Blocks::build(p, rules);
                blocks.check(max_pairs)?;
                let profile = Profile::of(p);
                let planned: Vec<PlannedRule> = rules
                    .iter()
                    .zip(blocks.pair_counts())
                    .map(|(&rule, pairs)| PlannedRule { rule, pairs, why: "given".to_string() })
                    .collect();
                for (i, r) in planned.iter().enumerate() {
                    if r.pairs == 0 {
                        let why = profile.why_no_pairs(r.rule).unwrap_or_else(|| "no two records agree on it".into());
                        warnings.push(format!("rule {} ({}) makes no pairs: {why}", i + 1, r.rule.name()));
                    }
                }
                (planned, Vec::new())
            }
            None => {
                let (chosen, left): (Vec<Choice>, Vec<Choice>) =
                    choose(p, max_pairs).into_iter().partition(|c| c.chosen);
                let planned =
                    chosen.into_iter().map(|c| PlannedRule { rule: c.rule, pairs: c.pairs, why: c.why }).collect();
                (planned, left)
            }
        };
        if planned.iter().all(|r| r.pairs == 0) {
            warnings.push("no rule makes any pair: are the inputs mapped to the right columns?".to_string());
        }
        Ok(Plan { records: p.n, sources, rules: planned, left_out, warnings })
    }

    /// The rules, in order.
    pub fn rules(&self) -> Vec<Rule> {
        self.rules.iter().map(|r| r.rule).collect()
    }

    /// The plan as text, with the model's weights if there is one.
    pub fn render(&self, model: Option<&Model>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "records: {}", self.records);
        for (name, n, unique) in &self.sources {
            let once = if *unique { " (lists each child once: its records are never compared or joined)" } else { "" };
            let _ = writeln!(s, "  source {name}: {n} records{once}");
        }
        let _ = writeln!(s, "blocking rules (a pair is scored once, under the first rule that finds it):");
        for (i, r) in self.rules.iter().enumerate() {
            let _ = writeln!(s, "  {}. {:<20} {:>12} pairs  {}", i + 1, r.rule.name(), r.pairs, r.rule.describe());
            let _ = writeln!(s, "     why: {}", r.why);
        }
        if !self.left_out.is_empty() {
            let _ = writeln!(s, "rules left out:");
            for c in &self.left_out {
                let _ = writeln!(s, "  - {:<20} {:>12} pairs  {}", c.rule.name(), c.pairs, c.why);
            }
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        let _ = writeln!(s, "comparisons (level: m, u, match weight log2(m/u); overall model):");
        for (f, field) in FIELDS.iter().enumerate() {
            let tf = if field.term_frequency() { " [exact weighted by term frequency]" } else { "" };
            let none =
                if model.is_some_and(|m| m.comparisons[f].compared == 0) { " (no values in the data)" } else { "" };
            let _ = writeln!(s, "  {}{tf}{none}", field.name());
            for (l, label) in field.levels().iter().enumerate() {
                match model.filter(|m| m.comparisons[f].compared > 0).map(|m| &m.comparisons[f].levels[l]) {
                    Some(lv) if l > 0 => {
                        let _ = writeln!(
                            s,
                            "    {l}. {label:<68} m={:.4} u={:.6} w={:+.2}",
                            lv.m,
                            lv.u,
                            (lv.m / lv.u).log2()
                        );
                    }
                    _ => {
                        let _ = writeln!(s, "    {l}. {label}{}", if l == 0 { " (no weight)" } else { "" });
                    }
                }
            }
        }
        match model {
            Some(m) => {
                let _ = writeln!(
                    s,
                    "models by rule (match weight of each level 1, 2, ...; fields the rule fixes carry none):"
                );
                for r in &m.rules {
                    match r.match_share {
                        None => {
                            let _ = writeln!(
                                s,
                                "  {}: {} pairs in training, too few: scored by the overall model",
                                r.rule.name(),
                                r.em_pairs
                            );
                        }
                        Some(share) => {
                            let _ = writeln!(
                                s,
                                "  {}: share of matches {share:.4} (start {:+.2}), EM on {} pairs",
                                r.rule.name(),
                                weight_of(share),
                                r.em_pairs
                            );
                            for c in &r.comparisons {
                                if r.rule.fixes().contains(&c.field) {
                                    let _ = writeln!(s, "    {:<13} fixed by the rule", c.field.name());
                                    continue;
                                }
                                if c.compared == 0 {
                                    let _ = writeln!(s, "    {:<13} no values in these pairs", c.field.name());
                                    continue;
                                }
                                // Levels the rule rules out (a shared postcode
                                // leaves only two place levels) show as ".".
                                let allowed = |l: usize| {
                                    c.field != crate::compare::Field::Place
                                        || r.rule.place_levels().is_none_or(|a| a.contains(&(l as u8)))
                                };
                                let ws: Vec<String> = c
                                    .levels
                                    .iter()
                                    .enumerate()
                                    .skip(1)
                                    .map(|(l, lv)| {
                                        if allowed(l) {
                                            format!("{:+6.2}", (lv.m / lv.u).log2())
                                        } else {
                                            format!("{:>6}", ".")
                                        }
                                    })
                                    .collect();
                                let _ = writeln!(s, "    {:<13} {}", c.field.name(), ws.join(" "));
                            }
                        }
                    }
                }
                let _ = writeln!(s, "prior for pairs no rule finds: P(two random records match) = {:.3e}", m.prior);
                let _ = writeln!(
                    s,
                    "thresholds: link at match probability >= {}, clerical review from {}",
                    m.link_threshold, m.review_threshold
                );
            }
            None => {
                let _ = writeln!(s, "no model yet: `cnis link train` estimates each rule's model");
            }
        }
        s
    }
}
