//! Linkage invariants on small hand-made data sets.

use chrono::NaiveDate;
use cnis_core::records::{LinkRecord, Sex};
use cnis_core::{LaCode, Upn};
use cnis_link::compare::{Cache, compare};
use cnis_link::model::{Scoring, probability};
use cnis_link::plan::Plan;
use cnis_link::{
    Blocks, Error, Evaluation, Model, Prepared, Rule, Scorer, TrainConfig, cluster, evaluate, predict, predict_with,
    train,
};
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
            postcode: Some(format!("QA{}A {}AB", c % 9 + 1, c % 7)),
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

fn config(u_pairs: u64) -> TrainConfig {
    TrainConfig { u_pairs, ..TrainConfig::default() }
}

#[test]
fn trains_links_and_evaluates() {
    let p = Prepared::new(&records(400));
    let model = train(&p, &config(200_000)).expect("trains");
    let (pairs, scored) = predict(&p, &model, 0.5).expect("predicts");
    assert!(scored >= 400);
    let c = cluster(&p, &pairs, model.link_threshold);
    let a = evaluate(&c.cluster, &p.truth_ids());
    assert!(a.f1 > 0.98 && a.bcubed_f1 > 0.98, "{a:?}");
    // The model is readable JSON and reads back the same, checked.
    let json = serde_json::to_string_pretty(&model).expect("json");
    assert_eq!(Model::from_json(&json).expect("parses"), model);
}

#[test]
fn training_is_deterministic() {
    let p = Prepared::new(&records(300));
    assert_eq!(train(&p, &config(100_000)).expect("model"), train(&p, &config(100_000)).expect("model"));
}

#[test]
fn a_chain_across_two_records_of_a_census_is_refused() {
    // Two census records with different UPNs, both near-identical to one
    // list record without a UPN: joining all three would put two census
    // children into one.
    let mut rs = records(300);
    let twin =
        LinkRecord { record_id: "twin".into(), upn: Some(upn(999)), truth: Some("twin".into()), ..rs[0].clone() };
    rs.push(twin);
    rs[1].upn = None;
    let mut p = Prepared::new(&rs);
    p.mark_unique("census-2022");
    let model = train(&p, &config(100_000)).expect("model");
    let (pairs, _) = predict(&p, &model, 0.01).expect("pairs");
    let c = cluster(&p, &pairs, 1e-6);
    let (first, twin) =
        (p.index_of("census-2022", "a0").expect("a0"), p.index_of("census-2022", "twin").expect("twin"));
    assert_ne!(c.cluster[first], c.cluster[twin], "two census children were merged");
    assert!(!c.refused.is_empty());
    // Two records of one census are never even compared.
    assert!(pairs.iter().all(|x| !p.same_unique_source(x.a as usize, x.b as usize)));
}

#[test]
fn a_register_may_hold_a_child_twice() {
    // The same child twice on a register (not a source that lists each
    // child once), under two UPNs, and once on a census: one child.
    let mut rs = records(300);
    let again = LinkRecord { record_id: "again".into(), upn: Some(upn(998)), ..rs[1].clone() };
    rs.push(again);
    let mut p = Prepared::new(&rs);
    p.mark_unique("census-2022");
    let model = train(&p, &config(100_000)).expect("model");
    let (pairs, _) = predict(&p, &model, 0.5).expect("pairs");
    let c = cluster(&p, &pairs, model.link_threshold);
    let (b0, again) =
        (p.index_of("home-education", "b0").expect("b0"), p.index_of("home-education", "again").expect("again"));
    assert_eq!(c.cluster[b0], c.cluster[again], "a register's two records of one child stay apart");
}

/// Two files that each list a person once: only pairs across them are
/// scored, and no child has two records of one file.
#[test]
fn link_only_scores_pairs_across_sources_only() {
    let mut rs: Vec<LinkRecord> = records(300).into_iter().map(|r| LinkRecord { upn: None, ..r }).collect();
    // Two people in file B who look alike: each must find at most one in A.
    rs.push(LinkRecord { record_id: "b0-copy".into(), truth: Some("copy".into()), ..rs[1].clone() });
    let mut p = Prepared::new(&rs);
    p.mark_all_unique();
    let model = train(&p, &config(100_000)).expect("model");
    let (pairs, _) = predict(&p, &model, 0.01).expect("pairs");
    assert!(!pairs.is_empty());
    assert!(pairs.iter().all(|x| p.source[x.a as usize] != p.source[x.b as usize]), "a pair within one file");
    let c = cluster(&p, &pairs, model.link_threshold);
    let mut seen = std::collections::HashSet::new();
    for i in 0..p.n {
        assert!(seen.insert((c.cluster[i], p.source[i])), "a child with two records of one file");
    }
    let e = Evaluation::new(&p, &pairs, &c, model.link_threshold, &[]);
    assert!(e.pairs.recall > 0.95, "{e:?}");
}

/// Pair-level and cluster-level figures count every record, and a record
/// the reader rejected is a record linked to nothing.
#[test]
fn evaluation_counts_rejected_records() {
    let p = Prepared::new(&records(200));
    let model = train(&p, &config(100_000)).expect("model");
    let (pairs, _) = predict(&p, &model, model.link_threshold).expect("pairs");
    let c = cluster(&p, &pairs, model.link_threshold);
    let all = Evaluation::new(&p, &pairs, &c, model.link_threshold, &[]);
    // Ten more records of children already present, rejected by the reader.
    let rejected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let with = Evaluation::new(&p, &pairs, &c, model.link_threshold, &rejected);
    assert_eq!(with.records, all.records + 10);
    assert_eq!(with.rejected, 10);
    // Each adds two true pairs (with the child's two records), all missed.
    assert_eq!(with.pairs.true_pairs, all.pairs.true_pairs + 20);
    assert_eq!(with.pairs.true_positive_pairs, all.pairs.true_positive_pairs);
    assert!(with.pairs.recall < all.pairs.recall && with.clusters.recall < all.clusters.recall);
    assert!(with.clusters.bcubed_recall < all.clusters.bcubed_recall);
}

#[test]
fn two_records_with_one_key_are_refused() {
    let mut rs = records(50);
    // Records 2 and 6 are census records a1 and a3.
    rs[6].record_id = rs[2].record_id.clone();
    let p = Prepared::new(&rs);
    match p.check_keys() {
        Err(Error::DuplicateRecord { source_name, record_id }) => {
            assert_eq!((source_name.as_str(), record_id.as_str()), ("census-2022", "a1"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(train(&p, &config(10_000)), Err(Error::DuplicateRecord { .. })));
}

/// Every scoring path honours the pair limits: a rule making too many
/// pairs is refused, and keeping too many scored pairs stops the run.
#[test]
fn scoring_stops_at_the_limits() {
    let p = Prepared::new(&records(300));
    let model = train(&p, &config(100_000)).expect("model");
    let (all, _) = predict(&p, &model, 0.01).expect("pairs");
    assert!(all.len() > 20);
    let tight = Scoring { min_probability: 0.01, max_pairs: 10, max_kept: u64::MAX };
    let err = predict_with(&p, &model, &tight).expect_err("too many pairs");
    assert!(matches!(err, Error::TooManyPairs { limit: 10, .. }), "{err}");
    let few = Scoring { min_probability: 0.01, max_pairs: u64::MAX, max_kept: 20 };
    let err = predict_with(&p, &model, &few).expect_err("too many kept");
    assert!(matches!(err, Error::TooManyKept { limit: 20, .. }), "{err}");
    let new = vec![true; p.n];
    assert!(matches!(cnis_link::predict_new(&p, &model, &few, &new), Err(Error::TooManyKept { .. })));
    let enough = Scoring { min_probability: 0.01, max_pairs: u64::MAX, max_kept: all.len() as u64 };
    assert_eq!(predict_with(&p, &model, &enough).expect("within").0.len(), all.len());
}

/// A model file is checked when read: each fault is named.
#[test]
fn model_files_are_validated() {
    let p = Prepared::new(&records(100));
    let model = train(&p, &config(50_000)).expect("model");
    let json: serde_json::Value = serde_json::to_value(&model).expect("json");
    let check = |edit: &dyn Fn(&mut serde_json::Value), want: &str| {
        let mut v = json.clone();
        edit(&mut v);
        let err = Model::from_json(&v.to_string()).expect_err(want);
        assert!(err.to_string().contains(want), "{err} lacks {want:?}");
    };
    check(&|v| v["version"] = 1.into(), "format version 1");
    check(&|v| v["link_threshold"] = 1.5.into(), "thresholds must lie strictly between 0 and 1");
    check(&|v| v["review_threshold"] = 0.95.into(), "review threshold 0.95 is above the link threshold");
    check(&|v| v["comparisons"][3]["levels"][1]["m"] = 0.0.into(), "forename level 1: m = 0 is not in (0, 1]");
    check(&|v| v["rules"][0]["comparisons"][5]["levels"][2]["u"] = 1.5.into(), "surname level 2: u = 1.5");
    check(
        &|v| {
            if let Some(a) = v["comparisons"][6]["levels"].as_array_mut() {
                a.pop();
            }
        },
        "dob has 5 levels, this version has 6",
    );
    check(&|v| v["rules"][0]["rule"] = "shoe_size".into(), "unknown variant `shoe_size`");
    check(&|v| v["rules"][0]["match_share"] = 1.0.into(), "match share 1 is not strictly between 0 and 1");
    check(&|v| v["comparisons"][2]["field"] = "forename".into(), "comparison forename where case_id was expected");
    assert!(Model::from_json("{").expect_err("not json").to_string().contains("not JSON"));
}

/// The plan warns about a rule that makes no pairs, and says why.
#[test]
fn the_plan_warns_about_a_rule_that_makes_no_pairs() {
    // Postcodes that are not UK postcodes: no district.
    let rs: Vec<LinkRecord> =
        records(100).into_iter().map(|r| LinkRecord { postcode: Some("2119".into()), ..r }).collect();
    let p = Prepared::new(&rs);
    let plan = Plan::new(&p, Some(&[Rule::DobSurname, Rule::NamesDistrict]), 1_000_000).expect("plan");
    let text = plan.render(None);
    assert!(
        text.contains("warning: rule 2 (names_district) makes no pairs: it needs a UK postcode district, and 0 of 200 postcodes are UK postcodes"),
        "{text}"
    );
    // Chosen from the data instead: no district rules, whole-postcode ones.
    let chosen = Plan::new(&p, None, 1_000_000).expect("plan");
    assert!(chosen.warnings.is_empty(), "{:?}", chosen.warnings);
    assert!(!chosen.rules().contains(&Rule::NamesDistrict) && chosen.rules().contains(&Rule::PostcodeSurname));
    assert!(chosen.render(None).contains("0 of 200 postcodes are UK postcodes: blocks on the whole postcode"));
}

/// Rules follow the data: UK postcodes give district rules, identifiers
/// their own rules, and broad rules only while they are cheap.
#[test]
fn rules_are_chosen_from_the_data() {
    let p = Prepared::new(&records(300));
    let rules = cnis_link::blocking::chosen_rules(&p, u64::MAX);
    assert_eq!(rules[..3], [Rule::Upn, Rule::DobSurname, Rule::DobForename]);
    assert!(rules.contains(&Rule::NamesDistrict) && !rules.contains(&Rule::PostcodeSurname));
    assert!(!rules.contains(&Rule::Nhs) && !rules.contains(&Rule::CaseId));
    let choices = cnis_link::blocking::choose(&p, u64::MAX);
    let nhs = choices.iter().find(|c| c.rule == Rule::Nhs).expect("considered");
    assert_eq!(nhs.why, "fewer than two records have an NHS number");
    // A budget of ten pairs a record leaves out a broad rule that would
    // make more on a large set.
    assert_eq!(cnis_link::blocking::broad_budget(1_000_000), 10_000_000);
}

/// Blocking unions its rules without scoring a pair twice, and scores
/// exactly the pairs some rule puts together (checked against every pair),
/// leaving out pairs within a source that lists each child once.
#[test]
fn blocking_scores_each_candidate_pair_exactly_once() {
    let mut p = Prepared::new(&records(150));
    p.mark_unique("census-2022");
    let blocks = Blocks::build(&p, &Rule::ALL);
    let mut got: Vec<(usize, usize, usize)> = blocks.fold_pairs(
        &p,
        Vec::new,
        |v, k, a, b| v.push((a, b, k)),
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
            if p.same_unique_source(a, b) {
                continue;
            }
            if let Some(k) = Rule::ALL.iter().position(|r| r.agrees(&p, a, b)) {
                want.push((a, b, k));
            }
        }
    }
    assert_eq!(got, want);
    assert!(!want.is_empty());
    let counted: u64 = Blocks::count(&p, &Rule::ALL).iter().sum();
    assert!(counted >= want.len() as u64);
}

/// The plan names every rule with its pair count and reason, every
/// comparison level, each rule's model and the thresholds; a rule past the
/// limit is refused with its figure.
#[test]
fn the_plan_shows_rules_comparisons_and_thresholds() {
    let p = Prepared::new(&records(200));
    let model = train(&p, &config(100_000)).expect("model");
    let plan = Plan::new(&p, Some(&model.blocking_rules()), 1_000_000).expect("within the limit");
    let text = plan.render(Some(&model));
    for rule in model.blocking_rules() {
        assert!(text.contains(rule.describe()), "{text}");
    }
    for needle in [
        "forename and surname swapped",
        "day and month swapped",
        "same postcode and address",
        "share of matches",
        "thresholds: link at",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    let err = Plan::new(&p, Some(&[Rule::DobSurname, Rule::Surname]), 10).expect_err("refused");
    assert!(err.to_string().contains("would compare"), "{err}");
}

fn small_model() -> &'static (Prepared, Model) {
    static M: std::sync::OnceLock<(Prepared, Model)> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let mut p = Prepared::new(&records(100));
        p.mark_unique("census-2022");
        let model = train(&p, &config(50_000)).expect("model");
        (p, model)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Comparison and weight are symmetric in (a, b), and the match
    /// probability is in [0, 1], under every rule's model.
    #[test]
    fn symmetric_and_bounded(a in 0usize..200, b in 0usize..200) {
        let (p, model) = small_model();
        let scorer = Scorer::new(model).expect("scorer");
        let mut cache = Cache::default();
        let (x, y) = (compare(p, a, b, &mut cache), compare(p, b, a, &mut cache));
        prop_assert_eq!(x, y);
        prop_assert_eq!(scorer.rule_of(p, a, b), scorer.rule_of(p, b, a));
        for k in 0..=model.rules.len() {
            let (wx, wy) = (scorer.weight(p, k, &x, a, b), scorer.weight(p, k, &y, b, a));
            prop_assert!((wx - wy).abs() < 1e-9, "rule {} {} {}", k, wx, wy);
            let prob = probability(wx);
            prop_assert!((0.0..=1.0).contains(&prob));
        }
        let e = scorer.explain(p, a, b);
        prop_assert!((e.weight() - scorer.explain(p, b, a).weight()).abs() < 1e-9);
    }
}
