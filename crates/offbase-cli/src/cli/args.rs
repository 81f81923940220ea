//! The arguments of each command: its own flags, and the shared groups (`groups.rs`) it takes.
//! Where a command's help says more about a shared flag than the group does, `mut_arg` changes
//! that text for the command.

use super::groups::{
    ApiKeyArgs, ApiSourceArgs, LoadTuning, MappingsArgs, OutputArgs, RlsArgs, TargetArgs,
    WorkspaceArgs, WorkspaceFolderArgs,
};
use super::parse;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The help of `--mappings` for the commands after the load.
const MAPPINGS_OF_THE_LOAD: &str = "A per-app mapping file (TOML): the one the load used";

#[derive(Debug, Args)]
#[command(mut_arg("mappings", |arg| arg.help(
    "A per-app mapping file (TOML) layered over the defaults: renames, types, skips, enums, \
     foreign keys. See docs/mapping.md"
)))]
#[command(mut_arg("json", |arg| arg.help(
    "Print a machine-readable summary on stdout instead of the human one"
)))]
pub struct PlanArgs {
    /// The app: a code-export root, an entities folder, or one schema file.
    pub source: PathBuf,
    #[command(flatten)]
    pub mappings: MappingsArgs,
    /// Where to write plan.sql and mapping-report.md.
    #[arg(long, default_value = "offbase-plan", value_name = "DIR")]
    pub out: PathBuf,
    /// How to write the plan: `plain` (plan.sql, for psql), or a migration the tool applies as
    /// is, into --pg-schema: `dbmate` (OUT/db/migrations/), `sqlx` (OUT/migrations/),
    /// `supabase` (OUT/supabase/migrations/).
    #[arg(long, value_enum, default_value = "plain", value_name = "FORMAT")]
    pub format: PlanFormat,
    /// The migration's version (its file name's prefix): digits, default the UTC time now
    /// (20261205081500). Give it for files that must come out the same every time.
    #[arg(long, value_name = "DIGITS")]
    pub migration_version: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Also apply the plan to PostgreSQL, in one transaction. Refuses if its tables exist.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub rls: RlsArgs,
}

/// The values of `plan --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Plain,
    Dbmate,
    Sqlx,
    Supabase,
}

/// One source is given: the API, CSV exports or seeds (the API's URL may come from a project
/// file, so that none given on the command line is checked by the command).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").args(["api_url", "from_csv", "from_seed"])))]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace folder to write (created if missing)"
)))]
pub struct PullArgs {
    #[command(flatten)]
    pub api: ApiSourceArgs,
    /// A folder of dashboard CSV exports (<Entity>_export.csv).
    #[arg(long, value_name = "DIR")]
    pub from_csv: Option<PathBuf>,
    /// A folder of seed files (base44/seed/<Entity>.jsonc).
    #[arg(long, value_name = "DIR")]
    pub from_seed: Option<PathBuf>,
    /// The app's entity schemas (a code-export root or an entities folder). Optional with
    /// --from-csv: without it, each entity's schema is inferred from its values.
    #[arg(long, value_name = "DIR")]
    pub schema_from: Option<PathBuf>,
    #[command(flatten)]
    pub workspace: WorkspaceFolderArgs,
    /// Only these entities (comma-separated schema names).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub entities: Option<Vec<String>>,
    /// Stay under this many API requests per minute, across all entities (the free plan allows
    /// 100 list requests per minute).
    #[arg(long, value_name = "N")]
    pub requests_per_minute: Option<u32>,
    /// The longest wait for a server's `retry-after` (e.g. 30s, 2m); a server asking for
    /// longer gets this much, and the notice says so.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = parse::duration)]
    pub max_retry_wait: Duration,
    /// Records per request (at most 5000, the API's cap).
    #[arg(long, default_value_t = offbase_base44::api::LIST_CAP, value_name = "N")]
    pub page_size: usize,
    /// Entities pulled at the same time.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
    /// Discard what an earlier pull stored for these entities and start over.
    #[arg(long)]
    pub fresh: bool,
    /// The longest time between checkpoints; an interrupted pull reads at most this much again.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub checkpoint_interval_ms: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// PostgreSQL connection URL of the loaded app (a password in it is never printed).
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    pub database_url: String,
    /// The schema the app was loaded into (`offbase load --pg-schema`).
    #[arg(long, value_name = "NAME")]
    pub pg_schema: String,
    /// The workspace that was loaded: its schemas say which table holds which entity.
    #[arg(long, value_name = "DIR")]
    pub workspace: PathBuf,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8044)]
    pub port: u16,
    /// The address to listen on: 127.0.0.1 (this machine only) unless given, e.g. 0.0.0.0
    /// behind a reverse proxy that terminates TLS.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub host: std::net::IpAddr,
    /// The app id in the served paths (default: the one the workspace was pulled from).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// The secret sign-in tokens are signed with (HS256), read from this environment
    /// variable; unset: a random one, and tokens end when the server stops.
    #[arg(
        long,
        default_value = "OFFBASE_SERVE_TOKEN_SECRET",
        value_name = "NAME"
    )]
    pub token_secret_env: String,
    /// The service key backend code sends (the platform's `asServiceRole`, past the access
    /// rules), read from this environment variable; unset: no service access.
    #[arg(long, default_value = "OFFBASE_SERVE_SERVICE_KEY", value_name = "NAME")]
    pub service_key_env: String,
    /// The app's built frontend (e.g. `dist/` after `npm run build`), served on the same
    /// origin outside `/api`, `index.html` answering the app's own routes.
    #[arg(long, value_name = "DIR")]
    pub frontend: Option<PathBuf>,
    /// The SMTP server the account mails (verification codes, password resets, invitations)
    /// go through: `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`, or
    /// `smtp://host:port` unencrypted (a relay on this machine). Best given in the
    /// environment; its password is never printed. Unset: the calls that mail answer 501.
    #[arg(
        long,
        env = "OFFBASE_SERVE_SMTP_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub smtp_url: Option<String>,
    /// The sender of the account mails (`'App <no-reply@example.com>'`); needed with
    /// --smtp-url.
    #[arg(long, env = "OFFBASE_SERVE_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// The public origin of the app and this server (`https://app.example.com`): links in
    /// mails point there, and sign-ins may send browsers back to it (default: this server's
    /// own address).
    #[arg(long, env = "OFFBASE_SERVE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Where uploads (`Core.UploadFile`, `Core.UploadPrivateFile`) are kept and files are
    /// served from: a folder, or s3://bucket/prefix (settings from the AWS environment
    /// variables, as for `files copy --to`). A folder `files copy --to` filled serves its
    /// copies too. Unset: the file integrations answer 501.
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
    /// The URL the files are served at, a key (`public/<app_id>/<name>`) appended to make a
    /// `file_url`: a CDN or public bucket in front of --files-dir, as `files copy
    /// --public-url`. Default: this server's own /files (it then serves them).
    #[arg(long, value_name = "URL", requires = "files_dir")]
    pub files_public_url: Option<String>,
    /// The largest file an upload may have, in MiB (larger: 413).
    #[arg(long, default_value_t = 100, value_name = "MIB")]
    pub files_max_mb: u64,
}

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// The app to serve (schemas and data/<Entity>.jsonl records).
    pub app_dir: PathBuf,
    /// The port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 4444)]
    pub port: u16,
    /// The app id to serve (default: base44/.app.jsonc, else a fixed id).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// The key clients must send; read from this environment variable.
    #[arg(long, default_value = "OFFBASE_EMULATOR_KEY", value_name = "NAME")]
    pub api_key_env: String,
    /// Multiply the free plan's per-operation rate limits (e.g. 10 for a paid plan).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub rate_limit_scale: f64,
    /// Answer without rate limits.
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Share of requests answered 500, 502 or 503.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub fail_rate: f64,
    /// Share of requests answered 429 with retry-after: 1.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub throttle_rate: f64,
    /// Share of successful answers whose body is cut short.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub truncate_rate: f64,
    /// Share of successful answers whose connection is dropped mid-body.
    #[arg(long, default_value_t = 0.0, value_name = "SHARE")]
    pub reset_rate: f64,
    /// Fault file downloads too, at the same rates (by default files are always served).
    #[arg(long)]
    pub fault_files: bool,
    /// Serve every file with exactly this many bytes (for benchmarks); by default each file
    /// has its own length, 512 to 2,559 bytes.
    #[arg(long, value_name = "BYTES")]
    pub file_size: Option<usize>,
    /// Milliseconds added before every answer.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Creates, updates and deletes per second by a background writer.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub write_rate: u32,
    /// How long the background writer runs.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub write_for: u64,
    /// Seed of the faults and the writer, for repeatable runs.
    #[arg(long, default_value_t = 44)]
    pub seed: u64,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace to load (written by `offbase pull`)"
)))]
pub struct LoadArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub load: LoadTuning,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One source is given: a folder or the API (whose URL may come from a project file, so that
/// none given on the command line is checked by the command).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").args(["from", "api_url"])))]
#[command(mut_arg("api_url", |arg| arg.help(
    "The Base44 API origin (or an emulator's URL); needs --app-id and --schema-from"
)))]
#[command(mut_arg("app_id", |arg| arg.help("The app id")))]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace folder (kept for sync and diff)"
)))]
pub struct MigrateArgs {
    /// A local folder: an app with data/<Entity>.jsonl, CSV exports, or an app with base44/seed/.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub api: ApiSourceArgs,
    /// The app's entity schemas (for --api-url, or CSV exports without schemas beside them).
    #[arg(long, value_name = "DIR")]
    pub schema_from: Option<PathBuf>,
    /// The longest wait for a server's `retry-after` (e.g. 30s, 2m); a server asking for
    /// longer gets this much, and the notice says so.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = parse::duration)]
    pub max_retry_wait: Duration,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write a bundle (SQL for psql) to FILE instead of loading, even when DATABASE_URL is
    /// set. Without a database and without this flag, the bundle is offbase-bundle.sql.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub load: LoadTuning,
    /// Also copy every file the records point at on Base44's storage to DEST (a folder, or
    /// s3://bucket/prefix), then load with the URLs rewritten to --files-public-url + key.
    #[arg(long, value_name = "DEST", requires = "files_public_url")]
    pub files_to: Option<PathBuf>,
    /// Where the copied files will be served from (e.g. https://cdn.example.com/my-app).
    #[arg(long, value_name = "URL", requires = "files_to")]
    pub files_public_url: Option<String>,
    /// Fetch the files from this origin with their URLs' paths (a mirror, or `offbase emulate`).
    #[arg(long, value_name = "URL", requires = "files_to")]
    pub files_via: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help("The workspace folder to write")))]
pub struct GenerateArgs {
    /// The app's entity schemas (a code-export root or an entities folder).
    #[arg(long, value_name = "DIR")]
    pub schema_from: PathBuf,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    /// Records per entity.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub records: u64,
    /// Another count for one entity (repeatable).
    #[arg(long, value_name = "ENTITY=N")]
    pub records_for: Vec<String>,
    /// The seed: the same seed gives the same records.
    #[arg(long, default_value_t = 44)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace the schema was loaded from (pulled from the API)"
)))]
#[command(mut_arg("mappings", |arg| arg.help(MAPPINGS_OF_THE_LOAD)))]
#[command(mut_arg("json", |arg| arg.help(
    "Print one machine-readable summary per pass on stdout (JSON lines)"
)))]
pub struct SyncArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    /// The app's schemas as they are now (a code export): read before each pass, so a field
    /// the schemas gained becomes a new column (added nullable, reported).
    #[arg(long, value_name = "DIR")]
    pub schema_from: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The shortest time from one pass's start to the next (e.g. 1s, 500ms, 2m); longer when
    /// the request budget needs it.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse::duration)]
    pub interval: Duration,
    /// The sync's share of the app's API budget: a pass that made R requests is followed by
    /// the next no sooner than R × 60 / N seconds after it began. Base44 allows 100 list
    /// requests a minute per app on the free plan (paid plans multiples), shared with the live
    /// app; 0 turns pacing off.
    #[arg(long, default_value_t = offbase_pipeline::sync::continuous::DEFAULT_REQUESTS_PER_MINUTE, value_name = "N")]
    pub requests_per_minute: u32,
    /// One pass, then exit (for cron).
    #[arg(long)]
    pub once: bool,
    /// Put the source's current version of these records back over the target's rows (a
    /// reviewed repair, e.g. the cutover's cutover/repair.json: {"Entity": ["id", ...]}),
    /// then exit.
    #[arg(long, value_name = "FILE", conflicts_with = "once")]
    pub reapply: Option<PathBuf>,
    /// How far before its cursor each pass reads again.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse::duration)]
    pub overlap: Duration,
    /// Skip listing every live key to find deletes (the trash alone then finds them).
    #[arg(long)]
    pub no_reconcile: bool,
    /// How often to list every live key to find deletes the trash does not show (records
    /// removed from the trash for good); the first pass always does.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse::duration)]
    pub reconcile_every: Duration,
    /// Keep deleted records' rows, marked with a `deleted_at` timestamp (a column the first
    /// delete adds), instead of deleting them.
    #[arg(long)]
    pub soft_delete: bool,
    #[command(flatten)]
    pub key: ApiKeyArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help("The workspace whose parts were edited")))]
#[command(mut_arg("json", |arg| arg.help("Print the changed parts on stdout as JSON")))]
pub struct ResealArgs {
    #[command(flatten)]
    pub workspace: WorkspaceFolderArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace the schema was loaded from and is synced with"
)))]
#[command(mut_arg("mappings", |arg| arg.help(MAPPINGS_OF_THE_LOAD)))]
#[command(mut_arg("json", |arg| arg.help("Print the report on stdout as JSON")))]
pub struct CutoverArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Rehearse: every gate, the final sync and verification, but not the final step.
    #[arg(long)]
    pub dry_run: bool,
    /// Writes are frozen in the old app (maintenance mode): do not wait for quiet.
    #[arg(long)]
    pub freeze_confirmed: bool,
    /// How long the source must have taken no write to count as frozen.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse::duration)]
    pub quiet_period: Duration,
    /// How long to wait for that quiet before giving up (no-go).
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse::duration)]
    pub freeze_timeout: Duration,
    /// The longest time since an entity's last sync pass.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = parse::duration)]
    pub max_lag: Duration,
    /// The rejected records (reports/rejects) were read and may stay behind.
    #[arg(long)]
    pub rejects_reviewed: bool,
    /// Foreign-key orphans may stay: their keys are added back NOT VALID.
    #[arg(long)]
    pub orphans_acknowledged: bool,
    /// Loaded values that still point at Base44's storage (files that could not be copied,
    /// listed in the report) may stay: after the switch they break when the app is deleted.
    #[arg(long)]
    pub file_urls_acknowledged: bool,
    #[command(flatten)]
    pub key: ApiKeyArgs,
    /// Lift the mark of a cutover (for a rollback or a second attempt), so syncs may run again.
    /// Refused while the new backend has rows written after the switch, unless
    /// --discard-writes-after-switch.
    #[arg(long, conflicts_with_all = ["dry_run", "freeze_confirmed", "rejects_reviewed", "orphans_acknowledged", "file_urls_acknowledged"])]
    pub undo: bool,
    /// With --undo: the rows written after the switch were exported (or may be lost); the next
    /// sync overwrites or deletes them.
    #[arg(long, requires = "undo")]
    pub discard_writes_after_switch: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where `diff data` reads the records it compares with the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffDataSource {
    /// The workspace's staged records.
    Workspace,
    /// The Base44 API (ids and updated_date; whole records only where those differ).
    Api,
}

/// `--api-url` and `--app-id` go together; they are checked by the command, since a project
/// file may give one of them.
#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help("The workspace the schema was loaded from")))]
#[command(mut_arg("mappings", |arg| arg.help(MAPPINGS_OF_THE_LOAD)))]
#[command(mut_arg("api_url", |arg| arg.help(
    "The API's base URL (`--source api`; default: the one the workspace was pulled from)"
)))]
#[command(mut_arg("app_id", |arg| arg.help("The app's id (`--source api`, with --api-url)")))]
#[command(mut_arg("json", |arg| arg.help("Print the whole result on stdout as JSON")))]
pub struct DiffDataArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The source side: the workspace, or the Base44 API it was pulled from.
    #[arg(long, value_enum, default_value = "workspace")]
    pub source: DiffDataSource,
    #[command(flatten)]
    pub api: ApiSourceArgs,
    /// Stay under this many API requests per minute.
    #[arg(long, value_name = "N")]
    pub requests_per_minute: Option<u32>,
    /// Keys per request when listing the API (at most 5000, the API's cap).
    #[arg(long, default_value_t = offbase_base44::api::LIST_CAP, value_name = "N")]
    pub page_size: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace pulled from the old backend (its schemas give the table layout)"
)))]
#[command(mut_arg("mappings", |arg| arg.help(MAPPINGS_OF_THE_LOAD)))]
#[command(mut_arg("api_key_env", |arg| arg.help(
    "The environment variable holding the old backend's API key"
)))]
#[command(mut_arg("json", |arg| arg.help("Print the whole result on stdout as JSON")))]
pub struct DiffBehaviourArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    /// The requests to replay (JSONL): from `offbase corpus generate`, `corpus from-har`, or
    /// written by hand.
    #[arg(long, value_name = "FILE")]
    pub corpus: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub key: ApiKeyArgs,
    /// Stay under this many requests per minute to the old backend (the free plan allows 100
    /// list requests per minute; each corpus request asks twice).
    #[arg(long, value_name = "N")]
    pub requests_per_minute: Option<u32>,
    /// Compare with this Base44-API endpoint instead of PostgreSQL (e.g. the new app's API).
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// The app id at --target-url (default: the old backend's).
    #[arg(long, value_name = "ID", requires = "target_url")]
    pub target_app_id: Option<String>,
    /// The environment variable holding --target-url's API key.
    #[arg(long, default_value = "OFFBASE_TARGET_API_KEY", value_name = "NAME")]
    pub target_api_key_env: String,
    /// Fields never compared (comma-separated or repeated), besides the noise found by asking
    /// the old backend twice.
    #[arg(long, value_name = "FIELD", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Numbers match when they differ by at most this fraction of the larger.
    #[arg(long, default_value_t = 1e-9, value_name = "FRACTION")]
    pub float_tolerance: f64,
    /// Ask both backends as this user of the app (an email of the User table, or `anonymous`),
    /// held to the access rules: the old backend with the user's access token (the emulator
    /// issues one; Base44 only at sign-in), PostgreSQL under the rules' role with the user's
    /// session settings (the connecting role must be a member of offbase_user and offbase_anon;
    /// of authenticated and anon for a load with `--rls supabase`, asked with the user's JWT
    /// claims).
    #[arg(long = "as", value_name = "EMAIL")]
    pub as_user: Option<String>,
    /// With --as and PostgreSQL: also try, as that user, the update, the delete and the create
    /// of a record like each of the first 20 records of every entity, and compare allowed or
    /// denied. PostgreSQL's writes are rolled back; nothing is written to the old backend (its
    /// access rules are evaluated on the workspace's records instead).
    #[arg(long, requires = "as_user", conflicts_with = "target_url")]
    pub writes: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace to read schemas and records from"
)))]
#[command(mut_arg("mappings", |arg| arg.help(MAPPINGS_OF_THE_LOAD)))]
pub struct CorpusGenerateArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    /// Where to write the corpus (JSONL); stdout when not given.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(mut_arg("json", |arg| arg.help(
    "Print what was kept and skipped as JSON (on stderr when the corpus goes to stdout)"
)))]
pub struct CorpusFromHarArgs {
    /// The HAR file.
    pub har: PathBuf,
    /// Where to write the corpus (JSONL); stdout when not given.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help("The workspace whose records are searched")))]
#[command(mut_arg("json", |arg| arg.help("Print what was found on stdout as JSON")))]
pub struct FilesScanArgs {
    #[command(flatten)]
    pub workspace: WorkspaceFolderArgs,
    /// The app's code (an export's root folder): its `src/`, `public/` and `index.html` are
    /// searched too.
    #[arg(long, value_name = "APP_DIR")]
    pub code: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help("The workspace that was loaded (its files/url-map.json is applied)")))]
#[command(mut_arg("json", |arg| arg.help("Print what was (or would be) rewritten on stdout as JSON")))]
pub struct FilesRewriteArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Count and show what would change, per table and column, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help("The workspace whose files were scanned")))]
#[command(mut_arg("json", |arg| arg.help("Print what was copied on stdout as JSON")))]
pub struct FilesCopyArgs {
    #[command(flatten)]
    pub workspace: WorkspaceFolderArgs,
    /// Where the copies go: a folder, or an S3-compatible bucket as s3://bucket/prefix
    /// (endpoint, region and credentials from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL,
    /// AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN).
    #[arg(long, value_name = "DEST")]
    pub to: PathBuf,
    /// Downloads at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Fetch every file from this origin with its URL's path, instead of from Base44's hosts
    /// (a mirror, or `offbase emulate`).
    #[arg(long, value_name = "URL")]
    pub via: Option<String>,
    /// Where the copies will be served from (e.g. https://cdn.example.com/my-app): writes
    /// WORKSPACE/files/url-map.json, each copied file's URL and the URL of its copy.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The app's API, to sign URLs of private files (default: the API the workspace was pulled
    /// from, when its key is set); without it private files are counted, not copied.
    #[command(flatten)]
    pub api: ApiSourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The import format of `users export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserFormat {
    /// Supabase Auth admin createUser payloads (JSONL); ids become UUID v5.
    Supabase,
    /// Auth0 bulk user import files (JSON, under 500 KB each).
    Auth0,
    /// Clerk Backend API createUser payloads (JSONL).
    Clerk,
    /// One CSV row per user (no secret fields).
    Csv,
    /// A users table for PostgreSQL (SQL) and one-time login tokens.
    Postgres,
}

impl UserFormat {
    pub fn format(self) -> offbase_pipeline::users::Format {
        use offbase_pipeline::users::Format;
        match self {
            UserFormat::Supabase => Format::Supabase,
            UserFormat::Auth0 => Format::Auth0,
            UserFormat::Clerk => Format::Clerk,
            UserFormat::Csv => Format::Csv,
            UserFormat::Postgres => Format::Postgres,
        }
    }
}

#[derive(Debug, Args)]
#[command(mut_arg("workspace", |arg| arg.help(
    "The workspace whose staged User entity is exported"
)))]
#[command(mut_arg("mappings", |arg| arg.help(
    "A per-app mapping file (TOML): the one the load used (with a database, the load's is used)"
)))]
#[command(mut_arg("database_url", |arg| arg.help(
    "PostgreSQL connection URL: the id map goes to offbase.user_map there, and the tables are planned with the load's mapping file (a password in it is never printed)"
)))]
#[command(mut_arg("pg_schema", |arg| arg.help(
    "The loaded schema the rewrite plan and the map are for (and the schema of the postgres format's users table)"
)))]
#[command(mut_arg("json", |arg| arg.help(
    "Print the summary on stdout as JSON (counts, ids and file names: never a hash, token or secret)"
)))]
pub struct UsersExportArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    /// The target's import format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: UserFormat,
    /// Where to write the files (default: WORKSPACE/users/FORMAT/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The Base44 app id, which the supabase ids are made from (default: the API the
    /// workspace was pulled from, the users' app_id, the source folder's base44/.app.jsonc).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `offbase assess`.
#[derive(Debug, Args)]
pub struct AssessArgs {
    /// The exported app's folder (its src/, base44/, package.json).
    pub app_dir: PathBuf,
    /// Where to write assessment.md, assessment.json and assessment.corpus.jsonl.
    #[arg(long, default_value = "offbase-assessment", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}
