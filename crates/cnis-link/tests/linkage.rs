//! Linkage invariants on small hand-made data sets.

use chrono::NaiveDate;
use cnis_core::records::{LinkRecord, Sex};
use cnis_core::{LaCode, Upn};
use cnis_link::compare::{Cache, compare};
use cnis_link::model::probability;
use cnis_link::{Prepared, Scorer, TrainConfig, cluster, evaluate, predict, train};
use proptest::prelude::*;

fn upn(serial: u16) -> Upn {
    Upn::from_parts(LaCode::from_number(801).expect("LA"), 2000, 15, serial).expect("upn")
}

const FORENAMES: &[&str] = &["Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arthur", "Ivy", "Oscar"];
const SURNAMES: &[&str] =
    &["Smith", "Jones", "Patel", "Khan", "Brown", "Taylor", "Wilson", "Evans", "Walker", "Wright"];

/// `children` children, each on two sources, the second copy with a typo
/// for every third child and no UPN for every fourth.
fn records(children: u16) -> Vec<LinkRecord> {
    let mut out = Vec::new();
    for c in 0..children {
        let base = LinkRecord {
            source: "census-2022".into(),
            record_id: format!("a{c}"),
            upn: Some(upn(c + 1)),
            forename: Some(FORENAMES[usize::from(c) % 10].into()),
            surname: Some(SURNAMES[usize::from(c / 10) % 10].into()),
            dob: NaiveDate::from_ymd_opt(2012 + i32::from(c % 5), 1 + u32::from(c % 12), 1 + u32::from(c % 28)),
            sex: Some(if c % 2 == 0 { Sex::Female } else { Sex::Male }),
            postcode: Some(format!("QA{}A{}AB", c % 9 + 1, c % 7)),
            truth: Some(c.to_string()),
            ..LinkRecord::default()
        };
        let mut second = base.clone();
        second.source = "home-education".into();
        second.record_id = format!("b{c}");
        if c % 3 == 0 {
            second.forename = second.forename.map(|f| f.replacen('a', "e", 1));
        }
        if c % 4 == 0 {
            second.upn = None;
        }
        out.push(base);
        out.push(second);
    }
    out
}

#[test]
fn trains_links_and_evaluates() {
    let p = Prepared::new(&records(400));
    let model = train(&p, &TrainConfig { u_pairs: 200_000, ..TrainConfig::default() }).expect("trains");
    let (pairs, scored) = predict(&p, &model, 0.5).expect("predicts");
    assert!(scored >= 400);
    let c = cluster(&p, &pairs, model.link_threshold);
    let a = evaluate(&c.cluster, &p.truth);
    assert!(a.f1 > 0.98 && a.bcubed_f1 > 0.98, "{a:?}");
    // The model is readable JSON and reads back the same.
    let json = serde_json::to_string_pretty(&model).expect("json");
    let back: cnis_link::Model = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, model);
}

#[test]
fn training_is_deterministic() {
    let p = Prepared::new(&records(300));
    let config = TrainConfig { u_pairs: 100_000, ..TrainConfig::default() };
    assert_eq!(train(&p, &config).expect("model"), train(&p, &config).expect("model"));
}

#[test]
fn a_chain_across_two_upns_of_one_source_is_refused() {
    // Two census records with different UPNs, both near-identical to one
    // list record without a UPN: joining all three would put two census
    // children into one.
    let mut rs = records(300);
    let twin =
        LinkRecord { record_id: "twin".into(), upn: Some(upn(999)), truth: Some("twin".into()), ..rs[0].clone() };
    rs.push(twin);
    rs[1].upn = None;
    let p = Prepared::new(&rs);
    let model = train(&p, &TrainConfig { u_pairs: 100_000, ..TrainConfig::default() }).expect("model");
    let (pairs, _) = predict(&p, &model, 0.01).expect("pairs");
    let c = cluster(&p, &pairs, 1e-6);
    let (first, twin) =
        (p.index_of("census-2022", "a0").expect("a0"), p.index_of("census-2022", "twin").expect("twin"));
    assert_ne!(c.cluster[first], c.cluster[twin], "two census children were merged");
    assert!(!c.refused.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Comparison and weight are symmetric, and the probability is in [0, 1].
    #[test]
    fn symmetric_and_bounded(a in 0usize..200, b in 0usize..200) {
        let p = Prepared::new(&records(100));
        let model = train(&p, &TrainConfig { u_pairs: 50_000, ..TrainConfig::default() }).expect("model");
        let scorer = Scorer::new(&model).expect("scorer");
        let mut cache = Cache::default();
        let (x, y) = (compare(&p, a, b, &mut cache), compare(&p, b, a, &mut cache));
        prop_assert_eq!(x, y);
        let (wx, wy) = (scorer.weight(&p, &x, a, b), scorer.weight(&p, &y, b, a));
        prop_assert!((wx - wy).abs() < 1e-9);
        let prob = probability(wx);
        prop_assert!((0.0..=1.0).contains(&prob));
    }
}

/// Blocking unions its rules without scoring a pair twice, and scores
/// exactly the pairs some rule puts together (checked against every pair).
#[test]
fn blocking_scores_each_candidate_pair_exactly_once() {
    use cnis_link::{Blocks, Rule};
    let p = Prepared::new(&records(150));
    let blocks = Blocks::build(&p, &Rule::ALL);
    let mut got: Vec<(usize, usize)> = blocks.fold_pairs(
        &p,
        Vec::new,
        |v, a, b| v.push((a, b)),
        |mut x, y| {
            x.extend(y);
            x
        },
    );
    let n = got.len();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), n, "a pair was scored twice");
    let mut want = Vec::new();
    for a in 0..p.n {
        for b in a + 1..p.n {
            if Rule::ALL.iter().any(|r| r.agrees(&p, a, b)) {
                want.push((a, b));
            }
        }
    }
    assert_eq!(got, want);
    assert!(!want.is_empty());
}

/// The plan names every rule with its pair count, every comparison level,
/// and the thresholds; a rule past the limit is refused with its figure.
#[test]
fn the_plan_shows_rules_comparisons_and_thresholds() {
    use cnis_link::{Rule, plan};
    let p = Prepared::new(&records(200));
    let counts = plan::rule_counts(&p, &Rule::DEFAULT, 1_000_000).expect("within the limit");
    let model = train(&p, &TrainConfig { u_pairs: 100_000, ..TrainConfig::default() }).expect("model");
    let text = plan::render(p.n, &counts, Some(&model));
    for rule in Rule::DEFAULT {
        assert!(text.contains(rule.describe()), "{text}");
    }
    for needle in
        ["forename and surname swapped", "day and month swapped", "same sector", "prior:", "thresholds: link at"]
    {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    let err = plan::rule_counts(&p, &[Rule::DobSurname, Rule::Names], 10).expect_err("refused");
    assert!(err.to_string().contains("would compare"), "{err}");
}
