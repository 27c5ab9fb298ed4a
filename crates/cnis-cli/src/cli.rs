//! Command-line arguments (clap derive) and logging set-up.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes: 0 success; 1 the command ran but found a problem in the data
/// (an invalid identifier, quarantined rows); 2 the command could not run.
#[derive(Debug, Parser)]
#[command(name = "cnis", version, about = "Children not in school: identifiers, ingestion, tracking of leavers", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Print nothing but errors (no progress bars, no summaries).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with identifiers (UPN, NHS number, ULN, child id).
    #[command(subcommand)]
    Id(IdCommand),
}

#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Say which kind of identifier each value is and whether it is valid.
    ///
    /// Exit status 1 if any value is invalid.
    Check(IdCheckArgs),
    /// Mint new child ids (random, with a check character).
    New {
        /// How many ids to print.
        #[arg(short = 'n', long, default_value_t = 1)]
        count: usize,
    },
}

#[derive(Debug, Args)]
pub struct IdCheckArgs {
    /// The values to check (quote values that contain spaces).
    #[arg(required = true)]
    pub values: Vec<String>,
    /// Check every value as this kind instead of guessing from its shape.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Upn,
    Nhs,
    Uln,
    ChildId,
}

impl From<KindArg> for cnis_core::IdKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Upn => cnis_core::IdKind::Upn,
            KindArg::Nhs => cnis_core::IdKind::Nhs,
            KindArg::Uln => cnis_core::IdKind::Uln,
            KindArg::ChildId => cnis_core::IdKind::ChildId,
        }
    }
}

pub fn init_logging(g: &Global) {
    use tracing_subscriber::EnvFilter;
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
