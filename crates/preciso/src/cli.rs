//! The command line. Flags override settings; `preciso --help` and each subcommand's help
//! are the reference.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "preciso",
    version,
    about = "Scraped offers in; an exact, deduplicated, versioned price catalog out."
)]
pub struct Cli {
    /// Config file (default: ./preciso.toml if present). Every key of it can also be set as
    /// PRECISO_<SECTION>__<KEY> (see `preciso config example`).
    #[arg(long, global = true, env = "PRECISO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (data_dir).
    #[arg(long, global = true, env = "PRECISO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, e.g. sqlite://preciso-data/preciso.sqlite (database_url).
    #[arg(long, global = true, env = "PRECISO_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest scraped files (JSON array, JSON Lines, CSV); directories are walked; `-` is stdin.
    Ingest(IngestArgs),
    /// Normalize price/list_price/rating/reviews of JSON Lines on stdin (scraper self-check).
    Normalize(NormalizeArgs),
    /// Generate deterministic, realistic, messy scraped data.
    Gen(GenArgs),
    /// Generate sample data, ingest it twice (a price change in between) and show the catalog.
    Demo(DemoArgs),
    /// Forensic data-quality analysis (docs/QUALITY.md): every check's result, each store's
    /// score. Exit 0 pass, 3 warn, 4 fail.
    Analyze(AnalyzeArgs),
    /// Serve the REST API and run the scheduler until SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Scheduled jobs: list them with their next fire times, or run one now.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// The run history of the scheduled jobs.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Version, backend, counts, last ingest, last/next run per job, disk usage.
    Status {
        /// Print the status document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The stores with their offer counts and the names records gave each; merge a store that
    /// a scraper split under two names.
    Stores {
        #[command(subcommand)]
        command: Option<StoresCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Manage API keys (stored hashed; the key is shown once, at creation).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Remove old logs, archived-and-verified raw files, backups beyond the keep policy and old
    /// run records; report what and how many bytes.
    Clean {
        /// List what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// The last lines of the server's newest log file (needs log.dir).
    Logs {
        /// Lines to print.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        tail: u32,
    },
    /// The raw-file archive: reconcile it with the ledger, upload what is missing.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Portable backups: create, list, verify, restore, prune.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Move the whole catalog between databases (SQLite ⇄ PostgreSQL).
    Copy {
        /// Source database URL.
        #[arg(long)]
        from: String,
        /// Target database URL.
        #[arg(long)]
        to: String,
        /// Replace a non-empty target.
        #[arg(long)]
        force: bool,
    },
    /// Print the OpenAPI document of the REST API (the same as GET /api/openapi.json).
    Openapi,
    /// Apply database migrations (also done automatically on start).
    Migrate,
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Report missing_in_archive, orphan_in_archive and size_mismatch (exit 1 if any).
    Verify {
        /// Also re-read every object and compare its SHA-256 (hash_mismatch).
        #[arg(long)]
        deep: bool,
        /// With --deep, re-read only this percentage of the objects.
        #[arg(long, requires = "deep", value_parser = clap::value_parser!(u8).range(1..=100))]
        sample: Option<u8>,
        #[arg(long)]
        json: bool,
    },
    /// Upload the missing raw files found under the drop directory's processed/ (and inbox).
    Sync {
        /// List what would be uploaded (and deleted); change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete objects the ledger does not know.
        #[arg(long)]
        delete_orphans: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write a consistent snapshot of the database to the backup directory, then apply the
    /// keep policy.
    Create {
        #[arg(long)]
        json: bool,
    },
    /// The backups, newest first, with size and last verification.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check a backup (default: the newest): hashes, then a restore into a scratch database
    /// with integrity and foreign-key checks and counts compared with the manifest.
    Verify {
        /// A backup file; default the newest in the backup directory.
        file: Option<std::path::PathBuf>,
        /// Check the hashes only.
        #[arg(long)]
        quick: bool,
        #[arg(long)]
        json: bool,
    },
    /// Replace the database (or --to URL) with a backup's contents.
    Restore {
        file: std::path::PathBuf,
        /// Target database URL (default: the configured database).
        #[arg(long)]
        to: Option<String>,
        /// Replace a non-empty target (a safety backup of it is taken first).
        #[arg(long)]
        force: bool,
    },
    /// Delete the backups the keep policy drops.
    Prune {
        /// List what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoresCommand {
    /// Move store FROM into store INTO in one transaction: offers re-keyed (where both hold
    /// an offer, histories merged and the latest row kept), ledger rows and names moved, and
    /// FROM's names kept as aliases of INTO so later files under either name land in INTO.
    Merge {
        from: String,
        into: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example preciso.toml.
    Example,
    /// Print the effective settings (secrets redacted).
    Show,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Each job with its schedule and next 3 fire times (local and UTC).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run a job now (trigger `manual`), through the same overlap rule as scheduled runs.
    Run {
        name: String,
        /// Run every read step and report the planned writes; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List {
        #[arg(long)]
        job: Option<String>,
        /// running, retry_wait, succeeded, failed, timed_out, skipped_overlap, abandoned, cancelled
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One run with every attempt and step.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: read, write, users (users and personalization), admin.
        #[arg(long, default_value = "read")]
        scopes: String,
    },
    /// List keys (never the secret).
    List,
    /// Revoke a key by id.
    Revoke { id: i64 },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to bind (http.listen; PRECISO_LISTEN also works).
    #[arg(long, env = "PRECISO_HTTP__LISTEN")]
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Json,
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or directories; `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Store slug for records without a store field; also selects that store's field mapping.
    #[arg(long)]
    pub store: Option<String>,
    /// Input format (default: from the extension, else sniffed from the content).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Currency for stores whose currency is not known otherwise (ISO 4217).
    #[arg(long)]
    pub currency: Option<String>,
    /// Report what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Ingest even if the same file content was already ingested.
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON (one object per file, then a total) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Records per transaction (overrides ingest.batch_size).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// A deliberate backfill of old scrapes: observations older than what is stored are
    /// recorded as backfilled (info), not as out-of-order arrivals (`C.history_order`).
    #[arg(long)]
    pub backfill: bool,
}

#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// The store currency: what a bare `$` and JSON numbers mean (ISO 4217).
    #[arg(long)]
    pub currency: String,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Only this store (slug or name).
    #[arg(long)]
    pub store: Option<String>,
    /// Only this category and those below it (name or key).
    #[arg(long)]
    pub category: Option<String>,
    /// Only offers seen at or after this time (RFC 3339, or YYYY-MM-DD in UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// The analysis time (default: now); fixes "stale" and "fresh" for a reproducible report.
    #[arg(long)]
    pub as_of: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: ReportFormat,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// How `preciso analyze` writes its report.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// The whole report (canonical).
    Json,
    /// One row per example of a failing check.
    Csv,
    /// One self-contained page: scores, findings by severity, examples.
    Html,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Number of records.
    #[arg(long, default_value_t = 1000)]
    pub offers: u64,
    /// Number of stores.
    #[arg(long, default_value_t = 5)]
    pub stores: u32,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: FormatArg,
    /// Scrape run number: run N>0 is the same catalog a day later with ~5% price changes.
    #[arg(long, default_value_t = 0)]
    pub run: u32,
    /// Invalid records per thousand.
    #[arg(long, default_value_t = 10)]
    pub invalid_permille: u32,
    /// Exact duplicate records per thousand.
    #[arg(long, default_value_t = 10)]
    pub duplicate_permille: u32,
    /// Every offer its own product: no GTIN, the SKU in the title.
    #[arg(long)]
    pub unique_products: bool,
    /// Output file (default: stdout).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Records per generated file.
    #[arg(long, default_value_t = 20_000)]
    pub offers: u64,
    #[arg(long, default_value_t = 8)]
    pub stores: u32,
    /// Only build the catalog; do not start the server afterwards.
    #[arg(long)]
    pub no_serve: bool,
    /// Address to serve on (overrides http.listen).
    #[arg(long)]
    pub listen: Option<String>,
}
