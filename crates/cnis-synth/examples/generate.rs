//! Generates a population without the CLI, for timing the generator:
//! `cargo run --release -p cnis-synth --example generate -- PUPILS OUT [SEED] [PRESET] [council] [linkage]`,
//! PRESET being `default`, `hard` or `twin-heavy`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let pupils: u64 = arg(0, "250000").parse()?;
    let out = std::path::PathBuf::from(arg(1, "synthetic"));
    let seed: u64 = arg(2, "2024").parse()?;
    let rates = cnis_synth::Rates::preset(&arg(3, "default")).ok_or("unknown preset")?;
    let flags = &args[args.len().min(4)..];
    let layout =
        if flags.iter().any(|a| a == "council") { cnis_synth::Layout::Council } else { cnis_synth::Layout::Standard };
    let linkage_file = flags.iter().any(|a| a == "linkage");
    let config = cnis_synth::SynthConfig { pupils, seed, rates, layout, linkage_file, ..Default::default() };
    let start = Instant::now();
    let pop = cnis_synth::generate(config)?;
    let generated = start.elapsed();
    let manifest = cnis_synth::write(&pop, &out)?;
    eprintln!("generated in {generated:.2?}, written in {:.2?}", start.elapsed() - generated);
    for (file, rows) in &manifest.rows {
        eprintln!("  {file:<28} {rows:>12} rows");
    }
    Ok(())
}
