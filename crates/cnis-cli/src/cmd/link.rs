//! `cnis link`: plan, train, predict, evaluate, decide, explain.

#![allow(clippy::print_stdout)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use cnis_core::ChildId;
use cnis_ingest::{ColumnMap, CsvOut, Quarantine, Written};
use cnis_link::ids::IdEvent;
use cnis_link::model::probability;
use cnis_link::plan::Plan;
use cnis_link::prepare::Partial;
use cnis_link::{Evaluation, Model, Prepared, Rule, Scoring, TrainConfig, cluster, predict_with, train};
use cnis_store::LinkEvent;

use crate::cli::{Global, LimitOpts, LinkCommand, LinkInput};
use crate::progress::Spinner;

pub fn run(cmd: LinkCommand, g: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        LinkCommand::Plan { input, model, rules, limits } => {
            let loaded = load(&input, g)?;
            let model = model.map(|m| read_model(&m)).transpose()?;
            let given = parse_rules(&rules)?;
            let rules = match &model {
                Some(m) => Some(m.blocking_rules()),
                None if !given.is_empty() => Some(given),
                None => None,
            };
            let plan = Plan::new(&loaded.p, rules.as_deref(), limits.max_pairs)?;
            print!("{}", plan.render(model.as_ref()));
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Train { input, model, training, limits } => {
            let config = train_config(&training, &limits)?;
            let loaded = load(&input, g)?;
            let p = &loaded.p;
            let spin = Spinner::new(g, "training: u from random pairs, each rule's model by EM");
            let t = Instant::now();
            let m = train(p, &config)?;
            spin.finish();
            write_model(&m, &model)?;
            if !g.quiet {
                let plan = Plan::new(p, Some(&m.blocking_rules()), limits.max_pairs)?;
                print!("{}", plan.render(Some(&m)));
                eprintln!(
                    "trained in {:.1}s on {} records: {} blocked pairs ({} patterns), EM {} iterations{}; model in {}",
                    t.elapsed().as_secs_f64(),
                    p.n,
                    m.training.em_pairs,
                    m.training.em_patterns,
                    m.training.em_iterations,
                    if m.training.em_converged { "" } else { " (not all converged)" },
                    model.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Predict {
            input,
            model,
            out,
            threshold,
            train: train_first,
            assign_ids,
            new_files,
            register,
            training,
            limits,
        } => {
            let config = train_config(&training, &limits)?;
            anyhow::ensure!(!train_first || new_files.is_empty(), "--new links to an existing model: drop --train");
            check_threshold(threshold)?;
            let incremental = !new_files.is_empty();
            let assign_ids = assign_ids || incremental;
            let mut all = input.clone();
            all.files.extend(new_files.iter().cloned());
            let loaded = load_marking(&all, &new_files, g)?;
            let p = &loaded.p;
            let spin = Spinner::new(g, "scoring pairs");
            let t = Instant::now();
            let scoring = |review: f64, link: f64| Scoring {
                min_probability: review.min(threshold.unwrap_or(link)),
                max_pairs: limits.max_pairs,
                max_kept: limits.max_kept_pairs,
            };
            let (m, pairs, scored) = if train_first {
                // One set of blocks for training and scoring.
                let s = scoring(config.review_threshold, config.link_threshold);
                let (m, pairs, scored) = cnis_link::train_and_predict(p, &config, &s)?;
                write_model(&m, &model)?;
                (m, pairs, scored)
            } else {
                let m = read_model(&model)?;
                let s = scoring(m.review_threshold, m.link_threshold);
                let (pairs, scored) = if incremental {
                    let is_new: Vec<bool> = (0..p.n)
                        .map(|i| loaded.new_keys.contains(&(p.source_name(i).to_string(), p.record_id[i].clone())))
                        .collect();
                    cnis_link::predict_new(p, &m, &s, &is_new)?
                } else {
                    predict_with(p, &m, &s)?
                };
                (m, pairs, scored)
            };
            let threshold = threshold.unwrap_or(m.link_threshold);
            tracing::debug!(secs = t.elapsed().as_secs_f64(), "scored");
            spin.set_message("clustering");
            let t = Instant::now();
            let mut decisions = reviewed(p, g)?;
            if let Some(register) = &register {
                kept_apart(p, g, register, &mut decisions)?;
            }
            if incremental {
                decisions.same.extend(existing_children(p, g)?);
            }
            let c = cnis_link::cluster_with(p, &pairs, threshold, &decisions);
            tracing::debug!(secs = t.elapsed().as_secs_f64(), "clustered");
            spin.finish();
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let child_ids = if assign_ids { Some(stable_ids(p, &c.cluster, g)?) } else { None };
            let t = Instant::now();
            // The three files are written under temporary names and appear
            // together, or not at all.
            let (pairs_file, clusters_file, review) = std::thread::scope(|s| {
                let pairs_file = s.spawn(|| write_pairs(p, &pairs, &out.join("pairs.csv")));
                let clusters = write_clusters(p, &c.cluster, child_ids.as_deref(), &out.join("clusters.csv"));
                let review = write_review(p, &pairs, &c, m.review_threshold, threshold, &out.join("review.csv"));
                let pairs_written = pairs_file.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                (pairs_written, clusters, review)
            });
            let (pairs_file, clusters_file, (review_file, review)) = (pairs_file?, clusters_file?, review?);
            for f in [pairs_file, clusters_file, review_file] {
                f.publish()?;
            }
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
        LinkCommand::Evaluate { input, model, threshold, json, limits } => {
            check_threshold(threshold)?;
            let loaded = load(&input, g)?;
            let p = &loaded.p;
            let rejected = rejected_truths(&input, &loaded)?;
            anyhow::ensure!(p.has_truth() || !rejected.is_empty(), "no record has a value in the `truth` column");
            let m = read_model(&model)?;
            let threshold = threshold.unwrap_or(m.link_threshold);
            let scoring =
                Scoring { min_probability: threshold, max_pairs: limits.max_pairs, max_kept: limits.max_kept_pairs };
            let (pairs, scored) = predict_with(p, &m, &scoring)?;
            let c = cluster(p, &pairs, threshold);
            let e = Evaluation::new(p, &pairs, &c, threshold, &rejected);
            let rejected_rows: u64 = loaded.files.iter().map(|f| f.rejected).sum();
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "threshold": threshold,
                        "pairs_scored": scored,
                        "rows_rejected": rejected_rows,
                        "evaluation": e,
                    })
                );
            } else {
                print!("{}", render_evaluation(&e, scored, rejected_rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        LinkCommand::Decide { input, left, right, decision } => {
            let loaded = load(&input, g)?;
            let p = &loaded.p;
            let (a, b) = (find(p, &left)?, find(p, &right)?);
            let key = |i: usize| (p.source_name(i).to_string(), p.record_id[i].clone(), p.fingerprint(i));
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
            let loaded = load(&input, g)?;
            let p = &loaded.p;
            let m = read_model(&model)?;
            let a = find(p, &left)?;
            let b = find(p, &right)?;
            let scorer = cnis_link::Scorer::new(&m)?;
            let e = scorer.explain(p, a, b);
            print!("{}", render_explanation(&e, &left, &right, p.same_unique_source(a, b)));
            if let Some(path) = svg {
                std::fs::write(&path, cnis_link::chart::waterfall_svg(&e))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check_threshold(t: Option<f64>) -> anyhow::Result<()> {
    if let Some(t) = t {
        anyhow::ensure!(t > 0.0 && t < 1.0, "--threshold must lie strictly between 0 and 1");
    }
    Ok(())
}

/// The evaluation as text, each figure labelled for what it measures.
fn render_evaluation(e: &Evaluation, scored: u64, rejected_rows: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "records with a truth label: {} ({} of them rejected by the reader and linked to nothing); rows rejected: {rejected_rows}",
        e.records, e.rejected
    );
    let _ = writeln!(s, "pairs scored: {scored}; threshold: match probability {}", e.threshold);
    let x = &e.pairs;
    let _ = writeln!(s, "pair level (scored pairs at or above the threshold, against every true pair):");
    let _ = writeln!(s, "  precision {:.4}  recall {:.4}  F1 {:.4}", x.precision, x.recall, x.f1);
    let _ = writeln!(
        s,
        "  ({} true positive pairs of {} scored at or above the threshold; {} true pairs)",
        x.true_positive_pairs, x.predicted_pairs, x.true_pairs
    );
    let c = &e.clusters;
    let _ =
        writeln!(s, "cluster level (pairs of records put in one child, against every true pair; B-cubed per record):");
    let _ = writeln!(s, "  precision {:.4}  recall {:.4}  F1 {:.4}", c.precision, c.recall, c.f1);
    let _ = writeln!(
        s,
        "  ({} true positive pairs of {} in clusters; {} true pairs)",
        c.true_positive_pairs, c.predicted_pairs, c.true_pairs
    );
    let _ = writeln!(
        s,
        "  B-cubed precision {:.4}  recall {:.4}  F1 {:.4}",
        c.bcubed_precision, c.bcubed_recall, c.bcubed_f1
    );
    s
}

/// The explanation as a table: the rule, its share of matches, each field.
fn render_explanation(e: &cnis_link::model::Explanation, left: &str, right: &str, apart: bool) -> String {
    let mut s = String::new();
    if apart {
        let _ = writeln!(
            s,
            "{left} and {right} are two records of a source that lists each child once: two children, never compared by `predict`"
        );
    }
    match e.rule {
        Some(r) => {
            let _ = writeln!(s, "{left} and {right}: scored under blocking rule {} ({})", r.name(), r.describe());
        }
        None => {
            let _ = writeln!(s, "{left} and {right}: no blocking rule finds this pair, so `predict` never scores it");
        }
    }
    let _ = writeln!(s, "{:<13} {:<68} {:>8} {:>12} {:>8}", "field", "level", "m", "u", "weight");
    let _ = writeln!(s, "{:<13} {:<68} {:>8} {:>12} {:>+8.2}", "prior", e.start_label, "", "", e.start_weight);
    for c in &e.parts {
        let (m, u) = if c.level == 0 || c.fixed {
            (String::new(), String::new())
        } else {
            (format!("{:.4}", c.m), format!("{:.2e}", c.u))
        };
        let mut label = c.label.clone();
        if c.fixed {
            label.push_str(" (fixed by the rule)");
        }
        if c.term_frequency != 0.0 {
            let _ = write!(label, " (term frequency {:+.2})", c.term_frequency);
        }
        let _ = writeln!(s, "{:<13} {:<68} {:>8} {:>12} {:>+8.2}", c.field.name(), label, m, u, c.weight);
    }
    let total = e.weight();
    let _ = writeln!(s, "total match weight {total:+.2}; match probability {:.6}", probability(total));
    s
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

/// Adds the register service's "not the same child" decisions to the
/// reviewers' own, as record pairs that never join.
fn kept_apart(p: &Prepared, g: &Global, register: &str, decisions: &mut cnis_link::Decisions) -> anyhow::Result<()> {
    let service =
        crate::cmd::register::open_service(&crate::cli::RegisterDb { register: register.to_string(), settings: None })?;
    let pairs = service.not_same_pairs()?;
    if pairs.is_empty() {
        return Ok(());
    }
    let known = if g.db.exists() { crate::cmd::ingest::open_store(&g.db)?.linked_ids()? } else { Default::default() };
    let child_of = (0..p.n)
        .filter_map(|i| known.get(&(p.sources[p.source[i] as usize].clone(), p.record_id[i].clone())).map(|&c| (i, c)));
    let apart = cnis_app::service::identity::record_exclusions(&pairs, child_of);
    if !g.quiet {
        eprintln!(
            "{} pairs of children kept apart by the register's decisions ({} record pairs)",
            pairs.len(),
            apart.len()
        );
    }
    decisions.different.extend(apart);
    Ok(())
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

fn parse_rules(names: &[String]) -> anyhow::Result<Vec<Rule>> {
    names
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            Rule::parse(r).with_context(|| {
                let all: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
                format!("no blocking rule {r:?}; the rules are {}", all.join(", "))
            })
        })
        .collect()
}

fn train_config(t: &crate::cli::TrainOpts, limits: &LimitOpts) -> anyhow::Result<TrainConfig> {
    Ok(TrainConfig {
        u_pairs: t.u_pairs,
        seed: t.seed,
        rules: parse_rules(&t.rules)?,
        max_pairs: limits.max_pairs,
        ..TrainConfig::default()
    })
}

fn write_model(m: &Model, path: &Path) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(m)?).with_context(|| format!("writing {}", path.display()))
}

fn read_model(path: &Path) -> anyhow::Result<Model> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading model {}", path.display()))?;
    Model::from_json(&text).with_context(|| format!("model {}", path.display()))
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

/// What one input file gave.
struct FileRead {
    path: PathBuf,
    /// The source of rows without a `source` value.
    stem: String,
    rejected: u64,
}

/// The prepared records and what each file gave.
struct Loaded {
    p: Prepared,
    files: Vec<FileRead>,
    /// (source, record id) of every record read from the marked files.
    new_keys: HashSet<(String, String)>,
}

/// Loads every input file and prepares the records.
fn load(input: &LinkInput, g: &Global) -> anyhow::Result<Loaded> {
    load_marking(input, &[], g)
}

/// [`load`], also noting the (source, record id) of every record read from
/// one of `marked`. Marks the sources that list each child once, and
/// refuses two records with one (source, record id).
fn load_marking(input: &LinkInput, marked: &[PathBuf], g: &Global) -> anyhow::Result<Loaded> {
    let maps = input.maps.iter().map(|m| ColumnMap::parse(m)).collect::<Result<Vec<_>, _>>()?;
    let map = ColumnMap::merge(&maps)?;
    let mut parts = Vec::new();
    let mut new_keys = HashSet::new();
    let mut files = Vec::new();
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
            new_keys.extend(got.iter().flat_map(|part| part.keys().map(|(s, id)| (s.to_string(), id.to_string()))));
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
        files.push(FileRead { path: file.clone(), stem, rejected: stats.rejected });
    }
    spin.set_message("preparing records");
    let t = Instant::now();
    let mut p = Prepared::from_partials(parts);
    spin.finish();
    tracing::debug!(records = p.n, secs = t.elapsed().as_secs_f64(), "records prepared");
    if let Some((source, record_id)) = p.duplicate.clone() {
        return Err(duplicate_error(input, &files, &source, &record_id));
    }
    for s in &input.unique_sources {
        anyhow::ensure!(p.mark_unique(s), "--unique-source {s}: no record has this source");
    }
    let census: Vec<String> = p.sources.iter().filter(|s| s.starts_with("census")).cloned().collect();
    for s in census {
        p.mark_unique(&s);
    }
    if input.link_only {
        anyhow::ensure!(p.sources.len() >= 2, "--link-only needs records from two sources or more");
        p.mark_all_unique();
    }
    Ok(Loaded { p, files, new_keys })
}

/// The column a field is read from, after `--map`.
fn mapped_column(input: &LinkInput, field: &str) -> String {
    let mut column = field.to_string();
    for part in input.maps.iter().flat_map(|m| m.split(',')) {
        if let Some((ours, theirs)) = part.split_once('=')
            && ours.trim().eq_ignore_ascii_case(field)
        {
            column = theirs.trim().to_string();
        }
    }
    column.to_ascii_lowercase()
}

/// One row of an input file as written, read without validation: only
/// its key and truth label.
struct RawRow {
    line: u64,
    source: String,
    record_id: String,
    truth: Option<String>,
}

/// Every row of `file`, whether the reader accepted it or not.
fn raw_rows(input: &LinkInput, file: &FileRead) -> anyhow::Result<Vec<RawRow>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_path(&file.path)
        .with_context(|| format!("reading {}", file.path.display()))?;
    let mut records = rdr.byte_records();
    let header = match records.next() {
        Some(h) => h.with_context(|| format!("reading {}", file.path.display()))?,
        None => return Ok(Vec::new()),
    };
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let at = |field: &str| {
        let want = mapped_column(input, field);
        names.iter().position(|n| *n == want)
    };
    let (source, record_id, truth) = (at("source"), at("record_id"), at("truth"));
    let mut out = Vec::new();
    for rec in records {
        let rec = rec.with_context(|| format!("reading {}", file.path.display()))?;
        if rec.len() == 1 && rec.get(0).is_some_and(<[u8]>::is_empty) {
            continue;
        }
        let get = |i: Option<usize>| {
            i.and_then(|i| rec.get(i)).map(|v| String::from_utf8_lossy(v).trim().to_string()).filter(|v| !v.is_empty())
        };
        out.push(RawRow {
            line: rec.position().map_or(0, |p| p.line()),
            source: get(source).unwrap_or_else(|| file.stem.clone()),
            record_id: get(record_id).unwrap_or_default(),
            truth: get(truth),
        });
    }
    Ok(out)
}

/// The error for two records with one (source, record id), naming the
/// files and lines (the key is not personal data; the rows are not shown).
fn duplicate_error(input: &LinkInput, files: &[FileRead], source: &str, record_id: &str) -> anyhow::Error {
    let mut seen: Vec<(String, u64)> = Vec::new();
    for f in files {
        if let Ok(rows) = raw_rows(input, f) {
            for r in rows.iter().filter(|r| r.source == source && r.record_id == record_id) {
                seen.push((f.path.display().to_string(), r.line));
            }
        }
    }
    match (seen.first(), seen.get(1)) {
        (Some((f1, l1)), Some((f2, l2))) => anyhow::anyhow!(
            "{f2}: line {l2}: record id {record_id:?} of source {source:?} is already on line {l1} of {f1}; each record needs its own (source, record_id)"
        ),
        _ => anyhow::anyhow!(
            "record id {record_id:?} of source {source:?} is on two records; each record needs its own (source, record_id)"
        ),
    }
}

/// The truth labels of the rows the reader rejected: every row's label,
/// less those of the records it accepted.
fn rejected_truths(input: &LinkInput, loaded: &Loaded) -> anyhow::Result<Vec<String>> {
    let p = &loaded.p;
    if loaded.files.iter().all(|f| f.rejected == 0) {
        return Ok(Vec::new());
    }
    let mut left: HashMap<String, i64> = HashMap::new();
    for f in &loaded.files {
        for r in raw_rows(input, f)? {
            if let Some(t) = r.truth {
                *left.entry(t).or_default() += 1;
            }
        }
    }
    for i in 0..p.n {
        if let Some(n) = left.get_mut(p.truth.get(i)) {
            *n -= 1;
        }
    }
    let mut out: Vec<String> = left.into_iter().flat_map(|(t, n)| std::iter::repeat_n(t, n.max(0) as usize)).collect();
    out.sort_unstable();
    Ok(out)
}

fn write_pairs(p: &Prepared, pairs: &[cnis_link::ScoredPair], path: &Path) -> anyhow::Result<Written> {
    let mut w = CsvOut::create(
        path,
        &["source_l", "record_id_l", "source_r", "record_id_r", "match_weight", "match_probability"],
    )?;
    let (mut weight, mut prob) = (String::new(), String::new());
    for x in pairs {
        let (a, b) = (x.a as usize, x.b as usize);
        fixed(&mut weight, f64::from(x.weight), 3);
        fixed(&mut prob, x.probability(), 6);
        w.row([
            p.sources[p.source[a] as usize].as_str(),
            &p.record_id[a],
            &p.sources[p.source[b] as usize],
            &p.record_id[b],
            &weight,
            &prob,
        ])?;
    }
    Ok(w.complete()?)
}

fn write_clusters(
    p: &Prepared,
    cluster: &[u32],
    child_ids: Option<&[ChildId]>,
    path: &Path,
) -> anyhow::Result<Written> {
    let header: &[&str] = if child_ids.is_some() {
        &["source", "record_id", "cluster", "child_id"]
    } else {
        &["source", "record_id", "cluster"]
    };
    let mut w = CsvOut::create(path, header)?;
    let (mut id, mut child) = (String::new(), String::new());
    for (i, c) in cluster.iter().enumerate() {
        id.clear();
        let _ = write!(id, "{c}");
        let source = p.sources[p.source[i] as usize].as_str();
        match child_ids {
            Some(ids) => {
                child.clear();
                let _ = write!(child, "{}", ids[i]);
                w.row([source, &p.record_id[i], &id, &child])?;
            }
            None => w.row([source, &p.record_id[i], &id])?,
        }
    }
    Ok(w.complete()?)
}

fn write_review(
    p: &Prepared,
    pairs: &[cnis_link::ScoredPair],
    c: &cnis_link::Clustering,
    low: f64,
    high: f64,
    path: &Path,
) -> anyhow::Result<(Written, usize)> {
    let mut w =
        CsvOut::create(path, &["source_l", "record_id_l", "source_r", "record_id_r", "match_probability", "why"])?;
    let mut n = 0;
    let rows = pairs
        .iter()
        .filter(|x| (low..high).contains(&x.probability()))
        .map(|x| (x, "between the review and link thresholds"))
        .chain(
            c.refused
                .iter()
                .map(|x| (x, "would put two records of a source that lists each child once into one child")),
        );
    for (x, why) in rows {
        let (a, b) = (x.a as usize, x.b as usize);
        w.row([
            p.sources[p.source[a] as usize].as_str(),
            &p.record_id[a],
            &p.sources[p.source[b] as usize],
            &p.record_id[b],
            &format!("{:.6}", x.probability()),
            why,
        ])?;
        n += 1;
    }
    Ok((w.complete()?, n))
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
