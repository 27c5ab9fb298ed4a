//! `cnis synth`: write synthetic England to a folder; `cnis score`: set a
//! leaver list beside its truth.

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use anyhow::Context;
use cnis_synth::{SynthConfig, generate, write};

use crate::cli::{Global, ScoreArgs, SynthArgs};
use crate::progress::Spinner;

pub fn run(args: SynthArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let mut rates = cnis_synth::Rates::preset(&args.rates).context("unknown --rates preset")?;
    for r in &args.rate {
        rates.set_text(r).with_context(|| format!("--rate {r}"))?;
    }
    let config = SynthConfig {
        pupils: args.pupils,
        seed: args.seed,
        first_year: args.first_year,
        linkage_file: args.linkage,
        rates,
        layout: if args.council_layout { cnis_synth::Layout::Council } else { cnis_synth::Layout::Standard },
    };
    let manifest = synthesise(config, &args.out, g)?;
    if !g.quiet {
        eprintln!("wrote {} files to {}", manifest.rows.len(), args.out.display());
        for (file, rows) in &manifest.rows {
            eprintln!("  {file:<28} {rows:>12} rows");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Generates and writes a population; shared with `cnis demo`.
pub fn synthesise(config: SynthConfig, out: &std::path::Path, g: &Global) -> anyhow::Result<cnis_synth::Manifest> {
    let pupils = config.pupils;
    let spin = Spinner::new(g, format!("generating {pupils} pupils"));
    let pop = generate(config).context("generating the population")?;
    spin.set_message(format!("writing files to {}", out.display()));
    let manifest = write(&pop, out).context("writing the synthetic files")?;
    spin.finish();
    Ok(manifest)
}

/// Scores a leaver list against the truth and prints the headline figures
/// and every destination's count beside the truth.
pub fn score(args: ScoreArgs) -> anyhow::Result<ExitCode> {
    use cnis_core::records::Destination;
    use cnis_synth::score::{Score, knowable};
    let truth = cnis_synth::truth::read_truth(&args.truth).context("reading the truth")?;
    let mut rdr =
        csv::Reader::from_path(&args.leavers).with_context(|| format!("reading {}", args.leavers.display()))?;
    let headers = rdr.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("no column {name}"));
    let (upn, written, dest) = (col("upn")?, col("upn_as_written")?, col("destination")?);
    let mut found = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        let r = r?;
        let u = r.get(upn).filter(|u| !u.is_empty()).or(r.get(written)).unwrap_or("").to_string();
        let d = r
            .get(dest)
            .and_then(Destination::from_name)
            .with_context(|| format!("{}: line {}: not a destination", args.leavers.display(), i + 2))?;
        found.push((u, d));
    }
    let s = Score::of(&truth, &found, knowable);
    let (p, r) = s.precision_recall(Destination::Unknown);
    let per: Vec<serde_json::Value> = Destination::ALL
        .iter()
        .map(|&d| {
            let (f, k) = s.counts(d);
            let err = if k == 0 { if f == 0 { 0.0 } else { 1.0 } } else { (f as f64 - k as f64) / k as f64 };
            serde_json::json!({"destination": d.name(), "found": f, "knowable": k, "relative_difference": err})
        })
        .collect();
    let v = serde_json::json!({
        "destination_accuracy": s.destination_accuracy(),
        "unknown_precision": p,
        "unknown_recall": r,
        "destinations": per,
        "listed_not_in_truth": s.unmatched_leavers,
    });
    if args.json {
        println!("{v}");
    } else {
        println!("destination accuracy {:.4}; unknown list precision {p:.4}, recall {r:.4}", s.destination_accuracy());
        for x in per {
            println!(
                "  {:<22} found {:>7} knowable {:>7} ({:+.2}%)",
                x["destination"].as_str().unwrap_or(""),
                x["found"],
                x["knowable"],
                100.0 * x["relative_difference"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
