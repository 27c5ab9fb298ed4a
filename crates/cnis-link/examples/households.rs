//! Writes the twin-heavy population the linkage tests use
//! (`tests/support/households.rs`) in the linkage layout, for the benchmark:
//!
//!     cargo run --release -p cnis-link --example households -- OUT.csv [HOUSEHOLDS] [SEED]

#![allow(clippy::print_stdout)]

#[path = "../tests/support/households.rs"]
mod households;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "households.csv".into());
    let households = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let pop = households::Population::new(seed, households::Rates { households, ..households::Rates::default() });
    pop.write_csv(std::path::Path::new(&out))?;
    let twins = pop.children.iter().filter(|c| c.twin_of.is_some()).count() / 2;
    println!("{} children ({twins} pairs of twins), {} records in {out}", pop.children.len(), pop.records.len());
    Ok(())
}
