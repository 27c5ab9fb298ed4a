//! `cnis link`: plan, train, predict, evaluate, explain.

#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use cnis_core::ChildId;
use cnis_ingest::{ColumnMap, Quarantine};
use cnis_link::ids::IdEvent;
use cnis_link::model::probability;
use cnis_link::prepare::Partial;
use cnis_link::{Model, Prepared, TrainConfig, cluster, evaluate, plan, predict, train};
use cnis_store::LinkEvent;

use crate::cli::{Global, LinkCommand, LinkInput};
use crate::progress::Spinner;

pub fn run(cmd: LinkCommand, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        LinkCommand::Plan { input, model, max_pairs } => {
            let p = load(&input, g)?;
            let model = model.map(|m| read_model(&m)).transpose()?;
            let rules = model.as_ref().map_or_else(|| cnis_link::Rule::DEFAULT.to_vec(), |m| m.blocking_rules.clone());
            let counts = plan::rule_counts(&p, &rules, max_pairs)?;
            print!("{}", plan::render(p.n, &counts, model.as_ref()));
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Train { input, model, training } => {
            let config = train_config(&training)?;
            let p = load(&input, g)?;
            let counts = plan::rule_counts(&p, &config.rules, training.max_pairs)?;
            let spin = Spinner::new(g, "training: u from random pairs, m by EM");
            let t = Instant::now();
            let m = train(&p, &config)?;
            spin.finish();
            write_model(&m, &model)?;
            if !g.quiet {
                print!("{}", plan::render(p.n, &counts, Some(&m)));
                eprintln!(
                    "trained in {:.1}s on {} records: {} blocked pairs ({} patterns), EM {} iterations{}; model in {}",
                    t.elapsed().as_secs_f64(),
                    p.n,
                    m.training.em_pairs,
                    m.training.em_patterns,
                    m.training.em_iterations,
                    if m.training.em_converged { "" } else { " (not converged)" },
                    model.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Predict { input, model, out, threshold, train: train_first, assign_ids, new_files, training } => {
            let config = train_config(&training)?;
            anyhow::ensure!(!train_first || new_files.is_empty(), "--new links to an existing model: drop --train");
            let incremental = !new_files.is_empty();
            let assign_ids = assign_ids || incremental;
            let mut all = input.clone();
            all.files.extend(new_files.iter().cloned());
            let (p, new_keys) = load_marking(&all, &new_files, g)?;
            let spin = Spinner::new(g, "scoring pairs");
            let t = Instant::now();
            let (m, pairs, scored) = if train_first {
                let low = config.review_threshold.min(threshold.unwrap_or(config.link_threshold));
                let (m, pairs, scored) = cnis_link::train_and_predict(&p, &config, low)?;
                write_model(&m, &model)?;
                (m, pairs, scored)
            } else if incremental {
                let m = read_model(&model)?;
                let low = m.review_threshold.min(threshold.unwrap_or(m.link_threshold));
                let is_new: Vec<bool> = (0..p.n)
                    .map(|i| new_keys.contains(&(p.sources[p.source[i] as usize].clone(), p.record_id[i].clone())))
                    .collect();
                let (pairs, scored) = cnis_link::predict_new(&p, &m, low, &is_new)?;
                (m, pairs, scored)
            } else {
                let m = read_model(&model)?;
                let low = m.review_threshold.min(threshold.unwrap_or(m.link_threshold));
                let (pairs, scored) = predict(&p, &m, low)?;
                (m, pairs, scored)
            };
            let threshold = threshold.unwrap_or(m.link_threshold);
            tracing::debug!(secs = t.elapsed().as_secs_f64(), "scored");
            spin.set_message("clustering");
            let t = Instant::now();
            let mut decisions = reviewed(&p, g)?;
            if incremental {
                decisions.same.extend(existing_children(&p, g)?);
            }
            let c = cnis_link::cluster_with(&p, &pairs, threshold, &decisions);
            tracing::debug!(secs = t.elapsed().as_secs_f64(), "clustered");
            spin.finish();
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let child_ids = if assign_ids { Some(stable_ids(&p, &c.cluster, g)?) } else { None };
            let t = Instant::now();
            let (written, review) = std::thread::scope(|s| {
                let pairs_file = s.spawn(|| write_pairs(&p, &pairs, &out.join("pairs.csv")));
                let clusters = write_clusters(&p, &c.cluster, child_ids.as_deref(), &out.join("clusters.csv"));
                let review = write_review(&p, &pairs, &c, m.review_threshold, threshold, &out.join("review.csv"));
                let pairs_written = pairs_file.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                (pairs_written.and(clusters), review)
            });
            written?;
            let review = review?;
            tracing::debug!(secs = t.elapsed().as_secs_f64(), "written");
            if !g.quiet {
                let children = c.cluster.iter().enumerate().filter(|&(i, &r)| i as u32 == r).count();
                eprintln!(
                    "{} records, {scored} pairs scored, {} at or above {:.2}; {children} children; {review} pairs for review; files in {}",
                    p.n,
                    pairs.iter().filter(|x| x.probability() >= threshold).count(),
                    threshold,
                    out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Evaluate { input, model, threshold, json } => {
            let p = load(&input, g)?;
            anyhow::ensure!(p.truth.iter().any(|&t| t != 0), "no record has a value in the `truth` column");
            let m = read_model(&model)?;
            let threshold = threshold.unwrap_or(m.link_threshold);
            let (pairs, scored) = predict(&p, &m, threshold)?;
            let c = cluster(&p, &pairs, threshold);
            let a = evaluate(&c.cluster, &p.truth);
            if json {
                println!("{}", serde_json::json!({ "threshold": threshold, "pairs_scored": scored, "accuracy": a }));
            } else {
                println!("records with truth {}; pairs scored {scored}; threshold {threshold}", a.records);
                println!("pairwise: precision {:.4} recall {:.4} F1 {:.4}", a.precision, a.recall, a.f1);
                println!(
                    "  ({} true positive pairs, {} predicted, {} true)",
                    a.true_positive_pairs, a.predicted_pairs, a.true_pairs
                );
                println!(
                    "B-cubed:  precision {:.4} recall {:.4} F1 {:.4}",
                    a.bcubed_precision, a.bcubed_recall, a.bcubed_f1
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Decide { input, left, right, decision } => {
            let p = load(&input, g)?;
            let (a, b) = (find(&p, &left)?, find(&p, &right)?);
            let key = |i: usize| (p.sources[p.source[i] as usize].clone(), p.record_id[i].clone(), p.fingerprint(i));
            let same = matches!(decision, crate::cli::DecisionArg::Same);
            let mut store = crate::cmd::ingest::open_store(&g.db)?;
            store.save_decision(&cnis_store::Decision { left: key(a), right: key(b), same })?;
            if !g.quiet {
                let what = if same { "the same child" } else { "not the same child" };
                eprintln!(
                    "recorded: {left} and {right} are {what}; later runs respect it while both records are unchanged"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Explain { input, model, left, right, svg } => {
            let p = load(&input, g)?;
            let m = read_model(&model)?;
            let a = find(&p, &left)?;
            let b = find(&p, &right)?;
            let scorer = cnis_link::Scorer::new(&m)?;
            let (prior, parts) = scorer.explain(&p, a, b);
            println!("{:<12} {:<52} {:>8} {:>10} {:>8}", "field", "level", "m", "u", "weight");
            println!(
                "{:<12} {:<52} {:>8} {:>10} {:>+8.2}",
                "prior",
                "P(random pair matches)",
                "",
                format!("{:.2e}", m.prior),
                prior
            );
            let mut total = prior;
            for c in &parts {
                let u = if c.term_frequency { format!("{:.2e} tf", c.u) } else { format!("{:.2e}", c.u) };
                println!("{:<12} {:<52} {:>8.4} {:>10} {:>+8.2}", c.field.name(), c.label, c.m, u, c.weight);
                total += c.weight;
            }
            println!("total match weight {total:+.2}; match probability {:.6}", probability(total));
            if let Some(path) = svg {
                std::fs::write(&path, cnis_link::chart::waterfall_svg(prior, &parts))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reviewers' decisions from the database (if there is one) that still
/// apply: both records present and unchanged since the decision.
fn reviewed(p: &Prepared, g: &Global) -> anyhow::Result<cnis_link::Decisions> {
    let mut out = cnis_link::Decisions::default();
    if !g.db.exists() {
        return Ok(out);
    }
    let store = crate::cmd::ingest::open_store(&g.db)?;
    let all = store.decisions()?;
    if all.is_empty() {
        return Ok(out);
    }
    let index: std::collections::HashMap<(&str, &str), usize> =
        (0..p.n).map(|i| ((p.sources[p.source[i] as usize].as_str(), p.record_id[i].as_str()), i)).collect();
    let mut stale = 0;
    for d in &all {
        let at = |k: &(String, String, u64)| {
            index.get(&(k.0.as_str(), k.1.as_str())).copied().filter(|&i| p.fingerprint(i) == k.2)
        };
        match (at(&d.left), at(&d.right)) {
            (Some(a), Some(b)) => {
                let pair = if a < b { (a as u32, b as u32) } else { (b as u32, a as u32) };
                if d.same {
                    out.same.push(pair);
                } else {
                    out.different.insert(pair);
                }
            }
            _ => stale += 1,
        }
    }
    if !g.quiet {
        eprintln!(
            "{} reviewers' decisions applied; {stale} not (a record is missing or has changed since)",
            all.len() - stale
        );
    }
    Ok(out)
}

/// Child ids that last across runs: each cluster keeps the id most of its
/// records had in the database; merges, splits and new children are logged.
fn stable_ids(p: &Prepared, cluster: &[u32], g: &Global) -> anyhow::Result<Vec<ChildId>> {
    let mut store = crate::cmd::ingest::open_store(&g.db)?;
    let known = store.linked_ids()?;
    let mut in_use = store.child_ids_in_use()?;
    let previous: Vec<Option<ChildId>> = (0..p.n)
        .map(|i| known.get(&(p.sources[p.source[i] as usize].clone(), p.record_id[i].clone())).copied())
        .collect();
    let mut rng = rand::rng();
    let mint = || loop {
        let id = ChildId::random(&mut rng);
        if in_use.insert(id) {
            break id;
        }
    };
    let (ids, events) = cnis_link::ids::assign_ids(cluster, &previous, mint);
    let events: Vec<LinkEvent> = events
        .into_iter()
        .flat_map(|e| match e {
            IdEvent::New { child, records } => {
                vec![LinkEvent { kind: "new", child, other: None, records: Some(records as u64) }]
            }
            IdEvent::Merged { kept, absorbed } => absorbed
                .into_iter()
                .map(|a| LinkEvent { kind: "merged", child: kept, other: Some(a), records: None })
                .collect(),
            IdEvent::Split { from, to, records } => {
                vec![LinkEvent { kind: "split", child: from, other: Some(to), records: Some(records as u64) }]
            }
        })
        .collect();
    let assigned: Vec<(&str, &str, ChildId)> =
        (0..p.n).map(|i| (p.sources[p.source[i] as usize].as_str(), p.record_id[i].as_str(), ids[i])).collect();
    let run = store.save_link_run(&assigned, &events)?;
    if !g.quiet {
        let count = |k: &str| events.iter().filter(|e| e.kind == k).count();
        eprintln!(
            "linkage run {run}: {} new children, {} merges, {} splits recorded in {}",
            count("new"),
            count("merged"),
            count("split"),
            g.db.display()
        );
    }
    Ok(ids)
}

fn train_config(t: &crate::cli::TrainOpts) -> anyhow::Result<TrainConfig> {
    let rules = t
        .rules
        .iter()
        .map(|r| cnis_link::Rule::parse(r).with_context(|| format!("no blocking rule {r:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(TrainConfig { u_pairs: t.u_pairs, seed: t.seed, rules, max_pairs: t.max_pairs, ..TrainConfig::default() })
}

fn write_model(m: &Model, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(m)?).with_context(|| format!("writing {}", path.display()))
}

fn read_model(path: &Path) -> anyhow::Result<Model> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading model {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a cnis linkage model", path.display()))
}

fn find(p: &Prepared, key: &str) -> anyhow::Result<usize> {
    let (source, id) = key.split_once(':').context("a record is named SOURCE:RECORD_ID")?;
    p.index_of(source, id).with_context(|| format!("no record {key}"))
}

/// Existing children as must-link pairs: records that earlier runs gave
/// one child id stay together.
fn existing_children(p: &Prepared, g: &Global) -> anyhow::Result<Vec<(u32, u32)>> {
    let store = crate::cmd::ingest::open_store(&g.db)?;
    let known = store.linked_ids()?;
    let mut first: std::collections::HashMap<ChildId, u32> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for i in 0..p.n {
        let key = (p.sources[p.source[i] as usize].clone(), p.record_id[i].clone());
        if let Some(&id) = known.get(&key) {
            match first.get(&id) {
                Some(&j) => out.push((j.min(i as u32), j.max(i as u32))),
                None => {
                    first.insert(id, i as u32);
                }
            }
        }
    }
    Ok(out)
}

/// Loads every input file and prepares the records.
fn load(input: &LinkInput, g: &Global) -> anyhow::Result<Prepared> {
    Ok(load_marking(input, &[], g)?.0)
}

/// [`load`], also returning the (source, record id) of every record read
/// from one of `marked`.
fn load_marking(
    input: &LinkInput,
    marked: &[PathBuf],
    g: &Global,
) -> anyhow::Result<(Prepared, std::collections::HashSet<(String, String)>)> {
    let maps = input.maps.iter().map(|m| ColumnMap::parse(m)).collect::<Result<Vec<_>, _>>()?;
    let map = ColumnMap::merge(&maps)?;
    let mut parts = Vec::new();
    let mut keys = std::collections::HashSet::new();
    let spin = Spinner::new(g, "reading");
    for file in &input.files {
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "input".into());
        spin.set_message(format!("reading {}", file.display()));
        let qpath =
            input.quarantine_dir.clone().unwrap_or_else(|| PathBuf::from(".")).join(format!("{stem}.quarantine.csv"));
        let mut q = Quarantine::to_file(&qpath);
        // Each chunk of the file is read and interned on its own core.
        let (got, report) =
            cnis_ingest::read_link_records_chunked(file, &stem, &map, &mut q, Partial::new, Partial::push)?;
        let stats = report.stats;
        if marked.contains(file) {
            keys.extend(got.iter().flat_map(|part| part.keys().map(|(s, id)| (s.to_string(), id.to_string()))));
        }
        parts.extend(got);
        if !g.quiet && stats.rejected + stats.faults > 0 {
            eprintln!(
                "{}: {} rows rejected, {} faulty fields kept out, see {}",
                file.display(),
                stats.rejected,
                stats.faults,
                qpath.display()
            );
        }
    }
    spin.set_message("preparing records");
    let t = Instant::now();
    let p = Prepared::from_partials(parts);
    spin.finish();
    tracing::debug!(records = p.n, secs = t.elapsed().as_secs_f64(), "records prepared");
    Ok((p, keys))
}

fn write_pairs(p: &Prepared, pairs: &[cnis_link::ScoredPair], path: &Path) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record(["source_l", "record_id_l", "source_r", "record_id_r", "match_weight", "match_probability"])?;
    let (mut weight, mut prob) = (String::new(), String::new());
    for x in pairs {
        let (a, b) = (x.a as usize, x.b as usize);
        fixed(&mut weight, f64::from(x.weight), 3);
        fixed(&mut prob, x.probability(), 6);
        w.write_record([
            p.sources[p.source[a] as usize].as_str(),
            &p.record_id[a],
            &p.sources[p.source[b] as usize],
            &p.record_id[b],
            &weight,
            &prob,
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn write_clusters(p: &Prepared, cluster: &[u32], child_ids: Option<&[ChildId]>, path: &Path) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    if child_ids.is_some() {
        w.write_record(["source", "record_id", "cluster", "child_id"])?;
    } else {
        w.write_record(["source", "record_id", "cluster"])?;
    }
    let (mut id, mut child) = (String::new(), String::new());
    for (i, c) in cluster.iter().enumerate() {
        id.clear();
        let _ = write!(id, "{c}");
        let source = p.sources[p.source[i] as usize].as_str();
        match child_ids {
            Some(ids) => {
                child.clear();
                let _ = write!(child, "{}", ids[i]);
                w.write_record([source, &p.record_id[i], &id, &child])?;
            }
            None => w.write_record([source, &p.record_id[i], &id])?,
        }
    }
    w.flush()?;
    Ok(())
}

fn write_review(
    p: &Prepared,
    pairs: &[cnis_link::ScoredPair],
    c: &cnis_link::Clustering,
    low: f64,
    high: f64,
    path: &Path,
) -> anyhow::Result<usize> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record(["source_l", "record_id_l", "source_r", "record_id_r", "match_probability", "why"])?;
    let mut n = 0;
    let rows = pairs
        .iter()
        .filter(|x| (low..high).contains(&x.probability()))
        .map(|x| (x, "between the review and link thresholds"))
        .chain(c.refused.iter().map(|x| (x, "would join two records of one source with different UPNs")));
    for (x, why) in rows {
        let (a, b) = (x.a as usize, x.b as usize);
        w.write_record([
            p.sources[p.source[a] as usize].as_str(),
            &p.record_id[a],
            &p.sources[p.source[b] as usize],
            &p.record_id[b],
            &format!("{:.6}", x.probability()),
            why,
        ])?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// Writes `v` with `decimals` places into `out`, by integer arithmetic
/// (float formatting with a precision is the slow part of a large CSV).
fn fixed(out: &mut String, v: f64, decimals: u32) {
    out.clear();
    let scale = 10i64.pow(decimals);
    let n = (v * scale as f64).round() as i64;
    if n < 0 {
        out.push('-');
    }
    let n = n.unsigned_abs();
    let _ = write!(out, "{}.{:0width$}", n / scale as u64, n % scale as u64, width = decimals as usize);
}
