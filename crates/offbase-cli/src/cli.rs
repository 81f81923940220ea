//! Command-line parsing: every command, flag and help text of `offbase`.

use crate::commands;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Move a Base44 app onto PostgreSQL you own: schemas, data, sync and diffs.
#[derive(Debug, Parser)]
#[command(name = "offbase", version, about, long_about = None)]
#[command(
    after_help = "Start with `offbase plan PATH/TO/APP` to see what your data will look like in PostgreSQL."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Translate an app's entity schemas into PostgreSQL DDL and a mapping report.
    ///
    /// Reads every entity schema under SOURCE (a code-export root, a base44/entities,
    /// src/entities or entities folder, or one schema file), applies the default mapping
    /// (mappings/base44.toml) and your overrides, and writes OUT/plan.sql and
    /// OUT/mapping-report.md. The same input always gives byte-identical files, so plans can be
    /// reviewed in pull requests. With --apply, the plan is also run against PostgreSQL in one
    /// transaction.
    #[command(
        after_help = "Examples:\n  offbase plan samples/crm\n  offbase plan ./my-app --mappings my-app.toml --out review/\n  offbase plan ./my-app --apply --database-url postgres://me@localhost/app --pg-schema staging"
    )]
    Plan(PlanArgs),
    /// Export every record of an app into a workspace: from the Base44 API, CSV exports or seeds.
    ///
    /// From the API (--api-url), each entity is read in (created_date, id) order by keyset
    /// pages, never by `skip`, so the 5000-record cap and concurrent writes lose or repeat
    /// nothing. Every page is synced to data/<Entity>/part-NNNNN.jsonl before the checkpoint in
    /// state/pull.json counts it: stop it at any moment and run the same command again to
    /// continue. At the end each entity's count is compared with the API's own `count`, and
    /// manifest.json lists every part with its SHA-256. The API key is read from the environment
    /// (BASE44_API_KEY, or the variable --api-key-env names) and is never written anywhere.
    ///
    /// Exit codes: 0 all counts match, 1 a count differs (e.g. the app took writes meanwhile),
    /// 2 error.
    #[command(
        after_help = "Examples:\n  BASE44_API_KEY=... offbase pull --api-url https://app.base44.com --app-id 6989... --schema-from ./my-app --workspace ./ws\n  offbase pull --from-csv ./exports --schema-from ./my-app --workspace ./ws\n  offbase pull --from-seed ./my-app/base44/seed --schema-from ./my-app --workspace ./ws"
    )]
    Pull(PullArgs),
    /// Serve an app over HTTP as the Base44 entity API does, to rehearse a migration locally.
    ///
    /// Serves the schemas and records of APP_DIR (`base44/entities/*.jsonc` and
    /// `data/<Entity>.jsonl`, like the apps in samples/) at http://127.0.0.1:PORT: list with
    /// sort/limit/skip/fields/q (limit silently capped at 5000), the v2 cursor list, count, get,
    /// create, update, delete to the trash, bulk calls, restore, the free plan's rate limits, and
    /// the files the records link to. Faults and a background writer can be switched on to test
    /// a client's resilience. Runs until Ctrl-C.
    #[command(
        after_help = "Examples:\n  OFFBASE_EMULATOR_KEY=dev-key offbase emulate samples/crm --port 4444\n  BASE44_API_KEY=dev-key offbase pull --api-url http://127.0.0.1:4444 --app-id <printed id> --schema-from samples/crm --workspace ws\n  offbase emulate samples/crm --fail-rate 0.1 --truncate-rate 0.05 --write-rate 50 --write-for 60"
    )]
    Emulate(EmulateArgs),
    /// Load a workspace into PostgreSQL with COPY: resumable, every record loaded or rejected.
    ///
    /// Plans the workspace's schemas (schemas/), creates the tables in --pg-schema, then streams
    /// every entity's staged parts with binary COPY. Each batch is committed together with its
    /// checkpoint (in the `offbase` schema of the same database): kill it at any moment and run
    /// the same command again to continue, with no duplicates and no gaps. A record that cannot
    /// be loaded (a value of the wrong type, a missing required value, a value outside an enum,
    /// a NUL character, a duplicate id superseded by a newer copy) goes to
    /// reports/rejects/<Entity>.jsonl with its id, field, reason, value and the whole record.
    /// After the data: primary keys, indexes, foreign keys (validated where no orphans exist;
    /// orphans are counted in the report), ANALYZE. reports/load.md and load.json sum it up.
    ///
    /// A second load of a finished workspace does nothing and says so; --replace drops the
    /// earlier load's tables first. Exit codes: 0 loaded (rejects are listed, not errors),
    /// 2 error.
    #[command(
        after_help = "Examples:\n  offbase load --workspace ws --database-url postgres://me@localhost/app\n  offbase load --workspace ws --pg-schema staging --relax required,enums\n  offbase load --workspace ws --replace --json"
    )]
    Load(LoadArgs),
    /// Pull (or import), plan, load and verify in one command.
    ///
    /// --from takes a local folder: an app folder with data/<Entity>.jsonl (like samples/crm),
    /// a folder of dashboard CSV exports, or an app folder with base44/seed/. --api-url pulls
    /// from Base44 (or the emulator). The workspace is kept for sync and diff. The load ends with
    /// a verification: per entity, the rows in PostgreSQL are counted and hashed against the
    /// workspace. With no --database-url and no DATABASE_URL, it writes offbase-bundle.sql
    /// instead: apply it with `psql -v ON_ERROR_STOP=1 -f offbase-bundle.sql`.
    ///
    /// Exit codes: 0 done and verified, 1 a count or hash differs, 2 error.
    #[command(
        after_help = "Examples:\n  offbase migrate --from samples/crm --database-url postgres://me@localhost/app\n  offbase migrate --from samples/crm --bundle crm.sql\n  BASE44_API_KEY=... offbase migrate --api-url https://app.base44.com --app-id 6989... --schema-from ./my-app"
    )]
    Migrate(MigrateArgs),
    /// Write a workspace of plausible generated records for an app's schemas.
    ///
    /// For rehearsals, load tests and benchmarks when real data cannot leave the building:
    /// every record fits its planned column types, enums, required fields and formats, and
    /// references point at generated records of the referenced entity, so foreign keys
    /// validate. The same schemas, counts and --seed always give byte-identical files.
    #[command(
        after_help = "Examples:\n  offbase generate --schema-from samples/tasks --records 1000 --workspace ws\n  offbase generate --schema-from ./my-app --records 100 --records-for Task=1000000 --workspace bench"
    )]
    Generate(GenerateArgs),
    /// Keep a loaded schema in step with Base44 until the cutover: changes and deletes.
    ///
    /// Each pass reads, per entity, the records changed since its cursor (by `updated_date`,
    /// re-reading an overlap window, so records sharing one instant are never missed) and
    /// upserts them where they are newer, one transaction per page together with the cursor
    /// (in offbase.sync_state); then it deletes the rows of records in the trash and, with
    /// reconciliation, of records the source no longer lists. Foreign keys are taken off while
    /// syncing (Base44 enforces none). Kill it at any moment and start it again: nothing is
    /// applied twice. Ctrl-C or SIGTERM lets the pass in flight finish, then exits 0. The API
    /// URL and app id come from the workspace (written by a pull from the API); the key from
    /// the environment.
    ///
    /// Passes are paced to --requests-per-minute (60 by default, within the free plan's 100
    /// list requests a minute per app, which the live app shares); each pass says when the
    /// next one starts, and a throttled or retried request says what it waits for. A schema
    /// that was cut over is refused (exit 2, naming the switch); a sync running at the switch
    /// stops by itself (exit 0).
    #[command(
        after_help = "Examples:\n  BASE44_API_KEY=... offbase sync --workspace ws --database-url postgres://me@localhost/app --once\n  BASE44_API_KEY=... offbase sync --workspace ws --pg-schema staging --requests-per-minute 300\n  BASE44_API_KEY=... offbase sync --workspace ws --pg-schema staging --reapply ws/cutover/repair.json"
    )]
    Sync(SyncArgs),
    /// Show where the load and the sync of a schema stand, from the target database alone.
    ///
    /// Per entity: the sync cursor (the newest `updated_date` applied), the lag (now minus the
    /// cursor), the time since the last pass and since the last reconciliation, and the totals
    /// fetched, upserted, deleted and rejected.
    #[command(
        after_help = "Examples:\n  offbase status --database-url postgres://me@localhost/app --pg-schema staging\n  offbase status --json"
    )]
    Status(StatusArgs),
    /// Record intended edits of staged parts in the manifest, so the load accepts them.
    ///
    /// The load refuses a part whose lines, size or SHA-256 differ from what the manifest
    /// recorded when it was staged (nothing of it goes in). After editing a part on purpose
    /// (a record fixed by hand), reseal: every part is read again, each changed one is listed
    /// with its records and hash before and after, and the manifest is rewritten.
    #[command(
        after_help = "Examples:\n  offbase reseal --workspace ws\n  offbase reseal --workspace ws --json"
    )]
    Reseal(ResealArgs),
    /// Switch to PostgreSQL safely: gates first, then the write freeze, a final sync and a
    /// final verification.
    ///
    /// Gates: every entity synced recently (--max-lag); the source quiet for --quiet (the
    /// write freeze; or --freeze-confirmed); after a final sync pass, the target equal to a
    /// fresh pull of the source (counts and content hashes per entity); no unreviewed rejects
    /// (--rejects-reviewed); foreign-key orphans acknowledged (--orphans-acknowledged). When all
    /// pass, in one transaction, the foreign keys the sync took off are added back (validated
    /// where no orphans exist) and the schema is marked as cut over (offbase.cutovers: when,
    /// by which run): no sync or load writes into it again. A sync still running waits for
    /// the cutover, then stops. --dry-run rehearses all of it without that final step and
    /// writes reports/cutover-dry-run.md; the real run writes reports/cutover.md and
    /// cutover.json, never overwritten by a rehearsal. --undo lifts the mark for a rollback.
    /// See docs/runbook.md.
    ///
    /// Exit codes: 0 go, 1 no-go, 2 error (a schema already cut over included).
    #[command(
        after_help = "Examples:\n  BASE44_API_KEY=... offbase cutover --workspace ws --pg-schema staging --dry-run\n  BASE44_API_KEY=... offbase cutover --workspace ws --freeze-confirmed --rejects-reviewed\n  offbase cutover --workspace ws --pg-schema staging --undo"
    )]
    Cutover(CutoverArgs),
    /// Compare the old backend with the new one.
    #[command(subcommand)]
    Diff(DiffCommand),
    /// Build a behaviour corpus (the reads `diff behaviour` replays), one request a line.
    #[command(subcommand)]
    Corpus(CorpusCommand),
    /// Print a shell completion script for offbase on stdout.
    ///
    /// Install it where your shell looks for completions, then open a new shell.
    #[command(
        after_help = "Examples:\n  offbase completions bash > ~/.local/share/bash-completion/completions/offbase\n  offbase completions zsh > ~/.zfunc/_offbase   # with fpath+=(~/.zfunc) before compinit in ~/.zshrc\n  offbase completions fish > ~/.config/fish/completions/offbase.fish"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum CorpusCommand {
    /// Typical reads of every entity, built from the workspace's schemas and records.
    ///
    /// Per entity: the first page and every record, a count, each scalar field sorted both
    /// ways, paging windows, a projection, filters on enum values, booleans, date ranges,
    /// numbers, references and nulls (with values taken from the records), `$regex` prefixes
    /// with and without case, and gets. The same workspace gives the same corpus.
    #[command(
        after_help = "Examples:\n  offbase corpus generate --workspace ws --out ws/corpus.jsonl\n  offbase diff behaviour --workspace ws --corpus ws/corpus.jsonl"
    )]
    Generate(CorpusGenerateArgs),
    /// The entity reads of a HAR file captured in the browser on the live app.
    ///
    /// In the browser's developer tools, Network tab, use the app, then "Save all as HAR".
    /// Entity lists, filters, counts and gets become requests; writes, cursor pages
    /// (v2/list), other calls and repeats are skipped and counted. Headers (API keys, tokens)
    /// and credentials in URLs are never copied.
    #[command(
        after_help = "Examples:\n  offbase corpus from-har capture.har --out corpus.jsonl\n  offbase corpus from-har samples/har/crm.har"
    )]
    FromHar(CorpusFromHarArgs),
}

#[derive(Debug, Args)]
pub struct CorpusGenerateArgs {
    /// The workspace to read schemas and records from.
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// A per-app mapping file (TOML): the one the load used.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    /// Where to write the corpus (JSONL); stdout when not given.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CorpusFromHarArgs {
    /// The HAR file.
    pub har: PathBuf,
    /// Where to write the corpus (JSONL); stdout when not given.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print what was kept and skipped as JSON (on stderr when the corpus goes to stdout).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DiffCommand {
    /// Whether the target holds the same records as the workspace, record by record.
    ///
    /// Both sides are compared in one canonical form: timestamps as UTC instants to the
    /// microsecond, numbers by value (1 = 1.0), JSON objects whatever their key order,
    /// `_extra` folded back into the record, an absent field equal to a null one. Per entity:
    /// the same records, the ids on one side only (records the load rejected are named as
    /// such), and per differing record its fields and a diff of the two. Writes
    /// reports/diff-data.md and .json in the workspace.
    ///
    /// Exit codes: 0 same, 1 differences found, 2 error.
    #[command(
        after_help = "Examples:\n  offbase diff data --workspace ws --pg-schema staging\n  offbase diff data --workspace ws --json\n  BASE44_API_KEY=... offbase diff data --workspace ws --source api --pg-schema staging"
    )]
    Data(DiffDataArgs),
    /// Whether PostgreSQL answers the app's reads as Base44 does.
    ///
    /// Each request of the corpus (JSONL: entity, op list|filter|get|count, q, sort, limit,
    /// skip, fields, id) is asked of the old backend (the Base44 API the workspace was pulled
    /// from) twice, to learn which fields change by themselves (noise, not compared), then of
    /// the new one: PostgreSQL, through a translation of q/sort/limit/skip into SQL, or with
    /// --target-url any endpoint that speaks the Base44 API. Answers are compared in one
    /// canonical form: in order when the request sorts, as a set when it does not (by size
    /// alone when an unordered page was cut by its limit), numbers within --float-tolerance.
    /// Records the load rejected are left out of the old backend's answers. Writes
    /// reports/diff-behaviour.md and .json in the workspace.
    ///
    /// Exit codes: 0 every request matches, 1 a mismatch or a request that could not be
    /// compared, 2 error.
    #[command(
        after_help = "Examples:\n  offbase corpus generate --workspace ws --out ws/corpus.jsonl\n  BASE44_API_KEY=... offbase diff behaviour --workspace ws --corpus ws/corpus.jsonl --pg-schema staging\n  BASE44_API_KEY=... offbase diff behaviour --workspace ws --corpus capture.jsonl --ignore updated_date --json"
    )]
    Behaviour(DiffBehaviourArgs),
}

#[derive(Debug, Args)]
pub struct DiffBehaviourArgs {
    /// The workspace pulled from the old backend (its schemas give the table layout).
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// The requests to replay (JSONL): from `offbase corpus generate`, `corpus from-har`, or
    /// written by hand.
    #[arg(long, value_name = "FILE")]
    pub corpus: PathBuf,
    /// A per-app mapping file (TOML): the one the load used.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The environment variable holding the old backend's API key.
    #[arg(long, default_value = "BASE44_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
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
    /// Print the whole result on stdout as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where `diff data` reads the records it compares with the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffDataSource {
    /// The workspace's staged records.
    Workspace,
    /// The Base44 API (ids and updated_date; whole records only where those differ).
    Api,
}

#[derive(Debug, Args)]
pub struct DiffDataArgs {
    /// The workspace the schema was loaded from.
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// A per-app mapping file (TOML): the one the load used.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The source side: the workspace, or the Base44 API it was pulled from.
    #[arg(long, value_enum, default_value = "workspace")]
    pub source: DiffDataSource,
    /// The API's base URL (`--source api`; default: the one the workspace was pulled from).
    #[arg(long, value_name = "URL", requires = "app_id")]
    pub api_url: Option<String>,
    /// The app's id (`--source api`, with --api-url).
    #[arg(long, value_name = "ID", requires = "api_url")]
    pub app_id: Option<String>,
    /// The environment variable that holds the API key.
    #[arg(long, default_value = "BASE44_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
    /// Stay under this many API requests per minute.
    #[arg(long, value_name = "N")]
    pub requests_per_minute: Option<u32>,
    /// Keys per request when listing the API (at most 5000, the API's cap).
    #[arg(long, default_value_t = offbase_base44::api::LIST_CAP, value_name = "N")]
    pub page_size: usize,
    /// Print the whole result on stdout as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CutoverArgs {
    /// The workspace the schema was loaded from and is synced with.
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// A per-app mapping file (TOML): the one the load used.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Rehearse: every gate, the final sync and verification, but not the final step.
    #[arg(long)]
    pub dry_run: bool,
    /// Writes are frozen in the old app (maintenance mode): do not wait for quiet.
    #[arg(long)]
    pub freeze_confirmed: bool,
    /// How long the source must have taken no write to count as frozen.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub quiet: std::time::Duration,
    /// How long to wait for that quiet before giving up (no-go).
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse_duration)]
    pub freeze_timeout: std::time::Duration,
    /// The longest time since an entity's last sync pass.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = parse_duration)]
    pub max_lag: std::time::Duration,
    /// The rejected records (reports/rejects) were read and may stay behind.
    #[arg(long)]
    pub rejects_reviewed: bool,
    /// Foreign-key orphans may stay: their keys are added back NOT VALID.
    #[arg(long)]
    pub orphans_acknowledged: bool,
    /// The environment variable that holds the API key.
    #[arg(long, default_value = "BASE44_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
    /// Lift the mark of a cutover (for a rollback or a second attempt), so syncs may run again.
    /// Refused while the new backend has rows written after the switch, unless
    /// --discard-writes-after-switch.
    #[arg(long, conflicts_with_all = ["dry_run", "freeze_confirmed", "rejects_reviewed", "orphans_acknowledged"])]
    pub undo: bool,
    /// With --undo: the rows written after the switch were exported (or may be lost); the next
    /// sync overwrites or deletes them.
    #[arg(long, requires = "undo")]
    pub discard_writes_after_switch: bool,
    /// Print the report on stdout as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResealArgs {
    /// The workspace whose parts were edited.
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// Print the changed parts on stdout as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The workspace the schema was loaded from (pulled from the API).
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// A per-app mapping file (TOML): the one the load used.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    /// The app's schemas as they are now (a code export): read before each pass, so a field
    /// the schemas gained becomes a new column (added nullable, reported).
    #[arg(long, value_name = "DIR")]
    pub schema_from: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The shortest time from one pass's start to the next (e.g. 1s, 500ms, 2m); longer when
    /// the request budget needs it.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// The sync's share of the app's API budget: a pass that made R requests is followed by
    /// the next no sooner than R × 60 / N seconds after it began. Base44 allows 100 list
    /// requests a minute per app on the free plan (paid plans multiples), shared with the live
    /// app; 0 turns pacing off.
    #[arg(long, default_value_t = offbase_pipeline::sync_loop::DEFAULT_REQUESTS_PER_MINUTE, value_name = "N")]
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
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_duration)]
    pub overlap: std::time::Duration,
    /// Skip listing every live key to find deletes (the trash alone then finds them).
    #[arg(long)]
    pub no_reconcile: bool,
    /// How often to list every live key to find deletes the trash does not show (records
    /// removed from the trash for good); the first pass always does.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub reconcile_every: std::time::Duration,
    /// Keep deleted records' rows, marked with a `deleted_at` timestamp (a column the first
    /// delete adds), instead of deleting them.
    #[arg(long)]
    pub soft_delete: bool,
    /// The environment variable that holds the API key.
    #[arg(long, default_value = "BASE44_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
    /// Print one machine-readable summary per pass on stdout (JSON lines).
    #[arg(long)]
    pub json: bool,
}

/// A schema name PostgreSQL keeps as it is: PostgreSQL cuts names past 63 bytes, so two long
/// names with one start would be one schema while offbase's state kept them apart.
fn parse_pg_schema(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("the schema name is empty".to_owned());
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{:?} holds control characters: choose a plain name",
            text
        ));
    }
    if text.len() > offbase_model::names::MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "{text:?} is {} bytes long; PostgreSQL keeps at most {} (it would cut the rest): choose a shorter name",
            text.len(),
            offbase_model::names::MAX_IDENTIFIER_BYTES
        ));
    }
    Ok(text.to_owned())
}

/// `500ms`, `2s`, `1m`, or a number of seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|character: char| character.is_ascii_alphabetic()) {
        Some(position) => text.split_at(position),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 2s, 1m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("{text:?} is longer than any wait offbase can make"))
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The app's entity schemas (a code-export root or an entities folder).
    #[arg(long, value_name = "DIR")]
    pub schema_from: PathBuf,
    /// The workspace folder to write.
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// Records per entity.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub records: u64,
    /// Another count for one entity (repeatable).
    #[arg(long, value_name = "ENTITY=N")]
    pub records_for: Vec<String>,
    /// A per-app mapping file (TOML); see docs/mapping.md.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    /// The seed: the same seed gives the same records.
    #[arg(long, default_value_t = 44)]
    pub seed: u64,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The workspace to load (written by `offbase pull`).
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// A per-app mapping file (TOML); see docs/mapping.md.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub load: LoadTuning,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Options shared by `load` and `migrate`.
#[derive(Debug, Args)]
pub struct LoadTuning {
    /// Relax these constraints instead of rejecting the records that break them: `required`
    /// (NOT NULL of required fields), `enums` (enum CHECKs), or both. Each relaxed constraint is
    /// added back after the load when no row breaks it, and reported.
    #[arg(long, value_name = "required,enums", default_value = "")]
    pub relax: String,
    /// Drop the tables of an earlier load into the same schema and load again.
    #[arg(long)]
    pub replace: bool,
    /// Records per batch; each batch is one transaction with its checkpoint.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    pub batch_records: usize,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from", "api_url"])))]
pub struct MigrateArgs {
    /// A local folder: an app with data/<Entity>.jsonl, CSV exports, or an app with base44/seed/.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// The Base44 API origin (or an emulator's URL); needs --app-id and --schema-from.
    #[arg(long, value_name = "URL", requires_all = ["app_id", "schema_from"])]
    pub api_url: Option<String>,
    /// The app id.
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// The app's entity schemas (for --api-url, or CSV exports without schemas beside them).
    #[arg(long, value_name = "DIR")]
    pub schema_from: Option<PathBuf>,
    /// The environment variable that holds the API key.
    #[arg(long, default_value = "BASE44_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
    /// The longest wait for a server's `retry-after` (e.g. 30s, 2m); a server asking for
    /// longer gets this much, and the notice says so.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = parse_duration)]
    pub max_retry_wait: std::time::Duration,
    /// The workspace folder (kept for sync and diff).
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// A per-app mapping file (TOML); see docs/mapping.md.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Without a database: where to write the bundle.
    #[arg(long, default_value = "offbase-bundle.sql", value_name = "FILE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub load: LoadTuning,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
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

/// Where PostgreSQL is: shared by every command that touches a database.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL (a password in it is never printed).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The PostgreSQL schema to work in; created if missing (at most 63 bytes).
    #[arg(long, default_value = "public", value_name = "NAME", value_parser = parse_pg_schema)]
    pub pg_schema: String,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The app: a code-export root, an entities folder, or one schema file.
    pub source: PathBuf,
    /// A per-app mapping file (TOML) layered over the defaults: renames, types, skips, enums,
    /// foreign keys. See docs/mapping.md.
    #[arg(long, value_name = "FILE")]
    pub mappings: Option<PathBuf>,
    /// Where to write plan.sql and mapping-report.md.
    #[arg(long, default_value = "offbase-plan", value_name = "DIR")]
    pub out: PathBuf,
    /// Print a machine-readable summary on stdout instead of the human one.
    #[arg(long)]
    pub json: bool,
    /// Also apply the plan to PostgreSQL, in one transaction. Refuses if its tables exist.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["api_url", "from_csv", "from_seed"])))]
pub struct PullArgs {
    /// The Base44 API origin, e.g. https://app.base44.com (or an emulator's URL).
    #[arg(long, value_name = "URL", requires_all = ["app_id", "schema_from"])]
    pub api_url: Option<String>,
    /// The app id (24 hex characters, in the app's URL or base44/.app.jsonc).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
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
    /// The workspace folder to write (created if missing).
    #[arg(long, default_value = "offbase-workspace", value_name = "DIR")]
    pub workspace: PathBuf,
    /// Only these entities (comma-separated schema names).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub entities: Option<Vec<String>>,
    /// Stay under this many API requests per minute, across all entities (the free plan allows
    /// 100 list requests per minute).
    #[arg(long, value_name = "N")]
    pub requests_per_minute: Option<u32>,
    /// The environment variable that holds the API key.
    #[arg(long, default_value = "BASE44_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
    /// The longest wait for a server's `retry-after` (e.g. 30s, 2m); a server asking for
    /// longer gets this much, and the notice says so.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = parse_duration)]
    pub max_retry_wait: std::time::Duration,
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
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `offbase completions SHELL`: the script clap derives from the commands above. Written whole
/// from memory, so a closed stdout is an error, not a panic.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "offbase", &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(|error| anyhow::anyhow!("cannot write the completion script: {error}"))?;
    Ok(ExitCode::SUCCESS)
}

pub fn run() -> ExitCode {
    // A database password given on the command line or in the environment is never printed.
    if let Ok(url) = std::env::var("DATABASE_URL") {
        crate::output::register_url_password(&url);
    }
    let arguments: Vec<String> = std::env::args().collect();
    for (index, argument) in arguments.iter().enumerate() {
        if let Some(url) = argument.strip_prefix("--database-url=") {
            crate::output::register_url_password(url);
        } else if argument == "--database-url"
            && let Some(url) = arguments.get(index + 1)
        {
            crate::output::register_url_password(url);
        }
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan(arguments) => commands::plan(arguments),
        Command::Pull(arguments) => commands::pull(arguments),
        Command::Emulate(arguments) => commands::emulate(arguments),
        Command::Load(arguments) => commands::load(arguments),
        Command::Migrate(arguments) => commands::migrate(arguments),
        Command::Generate(arguments) => commands::generate(arguments),
        Command::Sync(arguments) => crate::sync::sync(arguments),
        Command::Status(arguments) => commands::status(arguments),
        Command::Reseal(arguments) => commands::reseal(arguments),
        Command::Cutover(arguments) => crate::sync::cutover(arguments),
        Command::Diff(DiffCommand::Data(arguments)) => commands::diff_data(arguments),
        Command::Diff(DiffCommand::Behaviour(arguments)) => commands::diff_behaviour(arguments),
        Command::Corpus(CorpusCommand::Generate(arguments)) => commands::corpus_generate(arguments),
        Command::Corpus(CorpusCommand::FromHar(arguments)) => commands::corpus_from_har(arguments),
        Command::Completions(arguments) => completions(arguments.shell),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", crate::output::printable(&format!("{error:#}")));
            ExitCode::from(2)
        }
    }
}
