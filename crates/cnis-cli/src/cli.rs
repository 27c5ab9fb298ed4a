//! Command-line arguments (clap derive) and logging set-up.

use std::path::PathBuf;

use chrono::NaiveDate;
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
    /// The SQLite database file (created if missing).
    #[arg(long, global = true, default_value = "cnis.db", env = "CNIS_DB")]
    pub db: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with identifiers (UPN, NHS number, ULN, child id).
    #[command(subcommand)]
    Id(IdCommand),
    /// Generate synthetic England: two spring censuses, destination sources and the truth.
    Synth(SynthArgs),
    /// Load files into the database; bad rows go to a quarantine file.
    ///
    /// Exit status 1 if any row was quarantined.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Compare two censuses: list every leaver of compulsory school age and where they went.
    Track(TrackArgs),
    /// Generate a population, load it, track it and show the result beside the truth.
    Demo(DemoArgs),
    /// Probabilistic record linkage: one child, one id, across data sets.
    #[command(subcommand)]
    Link(LinkCommand),
    /// List the files loaded into the database.
    Loads(LoadsArgs),
    /// Remove one load (a census, a list) and its rows from the database.
    Unload(UnloadArgs),
    /// Score a leaver list against the truth of a generated population, child by child.
    ///
    /// For synthetic data only: a real council has no truth file.
    Score(ScoreArgs),
    /// Print tracking's settings (how each deletion ground is read) as TOML, or check a settings file.
    Settings(SettingsArgs),
    /// Run the register service: the caseworkers' pages, the JSON API and its OpenAPI document.
    ///
    /// Runs on the embedded database with no configuration; `--register postgres://...` for a
    /// shared PostgreSQL. Stops cleanly on Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Accounts of the register service.
    #[command(subcommand)]
    User(UserCommand),
    /// The register service's audit: check the chain, export what is recorded about a child.
    ///
    /// `verify` exits 1 when the chain is broken, naming the first broken link.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The children not in school register: drafts from a tracking run, the daily sweep.
    #[command(subcommand)]
    Register(RegisterCommand),
}

/// Where the register service keeps its data.
#[derive(Debug, Args)]
pub struct RegisterDb {
    /// The register's database: an SQLite file (created if missing) or a
    /// `postgres://` URL.
    #[arg(long = "register", default_value = "register.db", env = "CNIS_REGISTER")]
    pub register: String,
    /// The register's settings (TOML): retention, the statutory identifier, lookup
    /// limits, sign-in lockout, fields required to confirm an entry (docs/register.md).
    #[arg(long = "register-settings", env = "CNIS_REGISTER_SETTINGS")]
    pub settings: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "CNIS_BIND")]
    pub bind: std::net::SocketAddr,
    /// The analytical database holding tracking runs, for imports (as `--db` names it).
    #[arg(long)]
    pub analytics: Option<PathBuf>,
    /// Send cookies without the Secure flag (only for plain HTTP on a test network; browsers
    /// treat localhost as secure, so it is not needed there).
    #[arg(long)]
    pub insecure_cookies: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account. A person's password is read from standard input
    /// (`--password-stdin`) or made up and printed once.
    Add(UserAddArgs),
    /// Issue an API token for an account (a partner agency's system); printed once.
    Token(UserTokenArgs),
    /// Let a council's caseworker, team manager or administrator act for another council too
    /// (a service shared by councils), or take that away; they switch council from the pages'
    /// header.
    Council(UserCouncilArgs),
}

#[derive(Debug, Args)]
pub struct UserCouncilArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// The account's e-mail address.
    #[arg(long)]
    pub email: String,
    /// The other council's three-digit LA code, to give.
    #[arg(long, conflicts_with = "remove", required_unless_present = "remove")]
    pub add: Option<String>,
    /// The other council's three-digit LA code, to take away.
    #[arg(long)]
    pub remove: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// Sign-in e-mail address.
    #[arg(long)]
    pub email: String,
    /// Name shown.
    #[arg(long)]
    pub name: String,
    /// Role: caseworker, team_manager, council_admin, school, partner, national_analyst, auditor, inspector.
    #[arg(long)]
    pub role: String,
    /// The council's three-digit LA code (council roles and schools).
    #[arg(long)]
    pub council: Option<String>,
    /// The school's LAESTAB (school users).
    #[arg(long)]
    pub school: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct UserTokenArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// The account's e-mail address.
    #[arg(long)]
    pub email: String,
    /// What the token is for.
    #[arg(long, default_value = "api")]
    pub label: String,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole audit chain against its checkpoint file.
    Verify(RegisterDb),
    /// Write everything recorded about one child (a subject access request) as JSON.
    Export(AuditExportArgs),
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// The child's id.
    pub child_id: String,
    /// The file to write (readable by its owner only).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum RegisterCommand {
    /// Make draft entries from a tracking run's leavers of one council's schools.
    Import(RegisterImportArgs),
    /// Take off children past compulsory school age and delete entries past retention.
    Sweep(RegisterSweepArgs),
    /// Load the postcode lookup that eligibility condition A checks a home postcode against.
    ///
    /// The ONS National Statistics Postcode Lookup or Postcode Directory as published
    /// (columns `pcds`, `laua`, `cty`), or a file with `postcode` and `la` (the DfE
    /// three-digit number). Replaces the lookup; rows outside England are counted, rows that
    /// cannot be read go to the quarantine file with their line and reason. A running
    /// `cnis serve` reads the new lookup when it next starts.
    Postcodes(RegisterPostcodesArgs),
}

#[derive(Debug, Args)]
pub struct RegisterPostcodesArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// The postcode file (CSV).
    pub file: PathBuf,
    /// Where to write the rows not loaded, with their reasons.
    #[arg(long, default_value = "postcodes-quarantine.csv")]
    pub quarantine: PathBuf,
}

#[derive(Debug, Args)]
pub struct RegisterImportArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// The tracking run (in the database given by --db).
    #[arg(long)]
    pub run: i64,
    /// The caseworker making the drafts, by e-mail; their council's leavers are imported.
    #[arg(long = "as")]
    pub as_user: String,
}

#[derive(Debug, Args)]
pub struct RegisterSweepArgs {
    #[command(flatten)]
    pub db: RegisterDb,
    /// The day to sweep as of (default today).
    #[arg(long)]
    pub today: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The generator's truth.csv.
    pub truth: PathBuf,
    /// A leavers.csv written by `cnis track`.
    pub leavers: PathBuf,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoadsArgs {
    /// Include loads that were replaced or unloaded.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct UnloadArgs {
    /// The load's id, as `cnis loads` lists it.
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Check this settings file and print it with every value in full.
    #[arg(long)]
    pub check: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct LinkInput {
    /// Input CSVs in the linkage layout (see docs/formats.md); a file without
    /// a `source` column takes its file name as the source.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Map our field names to your columns: `forename=FirstName,dob=BirthDate` (repeatable).
    #[arg(long = "map", value_name = "FIELD=COLUMN,...")]
    pub maps: Vec<String>,
    /// Folder for quarantine files of bad rows [default: the working directory].
    #[arg(long)]
    pub quarantine_dir: Option<PathBuf>,
    /// A source that lists each child at most once, like a census: its
    /// records are never compared with each other, and never put into one
    /// child unless they carry the same UPN (repeatable). Sources whose name
    /// starts with `census` are treated so without being named.
    #[arg(long = "unique-source", value_name = "SOURCE")]
    pub unique_sources: Vec<String>,
    /// Link only: every source lists each person once (two files to link
    /// to each other), so only pairs across sources are scored and a child
    /// has at most one record of each.
    #[arg(long)]
    pub link_only: bool,
}

/// Limits that stop a run before it fills memory or disk.
#[derive(Debug, Args, Clone, Copy)]
pub struct LimitOpts {
    /// Refuse a blocking rule that would make more pairs than this.
    #[arg(long, default_value_t = cnis_link::model::DEFAULT_MAX_PAIRS)]
    pub max_pairs: u64,
    /// Stop with an error once more scored pairs than this are kept (each is
    /// a line of pairs.csv and 12 bytes of memory).
    #[arg(long, default_value_t = cnis_link::model::DEFAULT_MAX_KEPT)]
    pub max_kept_pairs: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DecisionArg {
    /// The same child.
    Same,
    /// Not the same child.
    Different,
}

/// How to train a linkage model.
#[derive(Debug, Args, Clone)]
pub struct TrainOpts {
    /// Random pairs compared to estimate u.
    #[arg(long, default_value_t = 2_000_000)]
    pub u_pairs: u64,
    /// Seed for the random pairs.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Blocking rules, in order [default: chosen from the data, see `cnis link plan`]:
    /// upn, nhs, case_id, dob_surname, dob_forename, names_district, dob_district, names,
    /// names_any_order, postcode_surname, postcode_forename, dob_postcode, dob, postcode,
    /// surname, forename.
    #[arg(long, value_delimiter = ',')]
    pub rules: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Print the sources, the blocking rules (chosen from the data, with the
    /// pairs each makes and why), warnings, the comparisons and thresholds.
    Plan {
        #[command(flatten)]
        input: LinkInput,
        /// A trained model whose rules and weights to show.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Blocking rules to plan instead of those chosen from the data.
        #[arg(long, value_delimiter = ',')]
        rules: Vec<String>,
        #[command(flatten)]
        limits: LimitOpts,
    },
    /// Estimate the model (u by random sampling, each rule's model by EM) and write it as JSON.
    Train {
        #[command(flatten)]
        input: LinkInput,
        /// Where to write the model.
        #[arg(long, default_value = "model.json")]
        model: PathBuf,
        #[command(flatten)]
        training: TrainOpts,
        #[command(flatten)]
        limits: LimitOpts,
    },
    /// Score pairs, cluster them into children, write pairs, clusters and the review queue.
    Predict {
        #[command(flatten)]
        input: LinkInput,
        /// The trained model.
        #[arg(long, default_value = "model.json")]
        model: PathBuf,
        /// Folder for pairs.csv, clusters.csv and review.csv.
        #[arg(long, short, default_value = "linkage")]
        out: PathBuf,
        /// Link threshold (match probability) instead of the model's.
        #[arg(long)]
        threshold: Option<f64>,
        /// Train first (writes the model to --model).
        #[arg(long)]
        train: bool,
        /// Give every child a stable child id, kept from earlier runs in the
        /// database (--db), and record merges and splits.
        #[arg(long)]
        assign_ids: bool,
        /// New records to link to the existing population (the positional
        /// files, already linked with --assign-ids): only pairs with a new
        /// record are scored, and existing children stay as they were.
        #[arg(long = "new", value_name = "FILE")]
        new_files: Vec<PathBuf>,
        /// The register service's database (an SQLite file or a
        /// `postgres://` URL): children its caseworkers decided are not the
        /// same child (an undone merge, "not the same child") are never put
        /// into one child. Their records are found by the child ids earlier
        /// runs gave them (--db).
        #[arg(long = "register", value_name = "DB")]
        register: Option<String>,
        #[command(flatten)]
        training: TrainOpts,
        #[command(flatten)]
        limits: LimitOpts,
    },
    /// Predict and cluster, then compare with the `truth` column: pair-level
    /// and cluster-level accuracy over every input record, rejected ones included.
    Evaluate {
        #[command(flatten)]
        input: LinkInput,
        /// The trained model.
        #[arg(long, default_value = "model.json")]
        model: PathBuf,
        /// Link threshold instead of the model's.
        #[arg(long)]
        threshold: Option<f64>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitOpts,
    },
    /// Record a reviewer's decision on two records: the same child or not.
    ///
    /// Every later `predict` respects it until either record's data changes.
    Decide {
        #[command(flatten)]
        input: LinkInput,
        /// The first record, as SOURCE:RECORD_ID.
        #[arg(long)]
        left: String,
        /// The second record, as SOURCE:RECORD_ID.
        #[arg(long)]
        right: String,
        /// The decision.
        #[arg(long, value_enum)]
        decision: DecisionArg,
    },
    /// Show each field's contribution to the match weight of two records.
    Explain {
        #[command(flatten)]
        input: LinkInput,
        /// The trained model.
        #[arg(long, default_value = "model.json")]
        model: PathBuf,
        /// The first record, as SOURCE:RECORD_ID.
        #[arg(long)]
        left: String,
        /// The second record, as SOURCE:RECORD_ID.
        #[arg(long)]
        right: String,
        /// Also write the waterfall chart as SVG here.
        #[arg(long)]
        svg: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// A pupil-level school census.
    ///
    /// A census for a day already loaded is replaced only with --replace.
    Census {
        /// The census CSV.
        file: PathBuf,
        /// The census day (YYYY-MM-DD), e.g. 2022-01-20 for spring 2022.
        #[arg(long)]
        census_date: NaiveDate,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// A destination source: home-education, cme, deletions, independent-roll, social-care or alternative-provision.
    ///
    /// Rows are added to those of the same kind already loaded; --replace replaces them instead.
    Source {
        /// Which source the file is.
        #[arg(value_parser = ["home-education", "cme", "deletions", "independent-roll", "social-care", "alternative-provision"])]
        kind: String,
        /// The CSV.
        file: PathBuf,
        /// The regulations bare deletion-ground letters are read under (2006 or 2024); without it, each
        /// row's deletion date decides (the 2024 Regulations from 19 August 2024).
        #[arg(long, value_parser = ["2006", "2024"])]
        regulations: Option<String>,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// A schools list (URN, LAESTAB, name, phase, sector).
    Schools {
        /// The CSV.
        file: PathBuf,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// A postcode to neighbourhood deprivation lookup.
    Postcodes {
        /// The CSV.
        file: PathBuf,
        #[command(flatten)]
        load: LoadArgs,
    },
}

#[derive(Debug, Args, Clone)]
pub struct LoadArgs {
    /// Map our field names to your columns: `upn=PupilUPN,dob=DateOfBirth` (repeatable).
    #[arg(long = "map", value_name = "FIELD=COLUMN,...")]
    pub maps: Vec<String>,
    /// Folder for the quarantine file of bad rows and faulty fields (written only when there are any).
    #[arg(long, default_value = "quarantine")]
    pub quarantine_dir: PathBuf,
    /// Replace what is loaded for the same census day, or of the same kind.
    #[arg(long)]
    pub replace: bool,
    /// With --replace, replace even with a file under half the size of what it replaces.
    #[arg(long, requires = "replace")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct TrackArgs {
    /// Day of the first census (YYYY-MM-DD).
    #[arg(long)]
    pub from: NaiveDate,
    /// Day of the second census (YYYY-MM-DD).
    #[arg(long)]
    pub to: NaiveDate,
    /// Folder for leavers.csv and summary.csv.
    #[arg(long, short, default_value = "cnis-track")]
    pub out: PathBuf,
    /// Also match by probabilistic linkage (names, date of birth, postcode),
    /// not only by UPN: finds children given a new UPN and list entries
    /// without one.
    #[arg(long)]
    pub link: bool,
    /// How to read each deletion ground, and other readings a council may
    /// change (TOML; `cnis settings` prints the defaults).
    #[arg(long)]
    pub settings: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Pupils on the first census roll.
    #[arg(long, default_value_t = 250_000)]
    pub pupils: u64,
    /// Seed for the generator.
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// Folder for the generated files, the database and the results (emptied first).
    #[arg(long, short, default_value = "cnis-demo")]
    pub out: PathBuf,
    /// The generator's rates: `default`, `hard` or `twin-heavy` (see `cnis synth --help`).
    #[arg(long, default_value = "default", value_parser = ["default", "hard", "twin-heavy"])]
    pub rates: String,
    /// Generate the files in a council's own layout and load them with the --map it needs.
    #[arg(long)]
    pub council_layout: bool,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Pupils on the first census roll (1,000 to the whole country, 8,500,000).
    #[arg(long, default_value_t = 250_000)]
    pub pupils: u64,
    /// Seed: the same seed and size give the same files.
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// Academic year of the first census (2021 = the spring census of January 2022).
    #[arg(long, default_value_t = 2021)]
    pub first_year: i32,
    /// Folder to write the files to.
    #[arg(long, short, default_value = "synthetic")]
    pub out: std::path::PathBuf,
    /// Also write linkage.csv: every record in the linkage layout, with its truth id.
    #[arg(long)]
    pub linkage: bool,
    /// How much of what councils really send (dual registrations, mistyped and
    /// blank UPNs, nicknames, twins, stale rows, ...): `default`, `hard`
    /// (every rate turned well up), `twin-heavy` (for linkage tests).
    #[arg(long, default_value = "default", value_parser = ["default", "hard", "twin-heavy"])]
    pub rates: String,
    /// Set one rate after the preset, e.g. `twins=0.2` (repeatable; `docs/synth.md` lists them).
    #[arg(long = "rate", value_name = "NAME=VALUE")]
    pub rate: Vec<String>,
    /// Write the files as a council's own export would (other column names,
    /// DD/MM/YYYY dates, CRLF, a byte-order mark); the manifest gives the --map.
    #[arg(long)]
    pub council_layout: bool,
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
