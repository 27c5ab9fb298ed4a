//! `cnis synth`: write synthetic England to a folder.

use std::process::ExitCode;

use anyhow::Context;
use cnis_synth::{SynthConfig, generate, write};

use crate::cli::{Global, SynthArgs};
use crate::progress::Spinner;

pub fn run(args: SynthArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let manifest = synthesise(args.pupils, args.seed, args.first_year, args.linkage, &args.out, g)?;
    if !g.quiet {
        eprintln!("wrote {} files to {}", manifest.rows.len(), args.out.display());
        for (file, rows) in &manifest.rows {
            eprintln!("  {file:<28} {rows:>12} rows");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Generates and writes a population; shared with `cnis demo`.
pub fn synthesise(
    pupils: u64,
    seed: u64,
    first_year: i32,
    linkage_file: bool,
    out: &std::path::Path,
    g: &Global,
) -> anyhow::Result<cnis_synth::Manifest> {
    let config = SynthConfig { pupils, seed, first_year, linkage_file, ..SynthConfig::default() };
    let spin = Spinner::new(g, format!("generating {pupils} pupils"));
    let pop = generate(config).context("generating the population")?;
    spin.set_message(format!("writing files to {}", out.display()));
    let manifest = write(&pop, out).context("writing the synthetic files")?;
    spin.finish();
    Ok(manifest)
}
