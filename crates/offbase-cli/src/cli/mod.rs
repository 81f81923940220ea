//! Command-line parsing: every command, flag and help text of `offbase`, as clap types and
//! nothing else. The shared flag groups are in `groups.rs`, each command's arguments in
//! `args.rs`, the value parsers in `parse.rs`.
//!
//! Nothing here runs a command: `run.rs` parses, lets the project file fill what the command
//! line left out (`project.rs`, through [`Command::groups`]), and calls `commands`.

mod args;
mod groups;
pub mod parse;

pub use args::*;
pub use groups::*;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Move a Base44 app onto PostgreSQL you own: schemas, data, sync and diffs.
#[derive(Debug, Parser)]
#[command(name = "offbase", version, about, long_about = None)]
#[command(
    after_help = "Start with `offbase plan PATH/TO/APP` to see what your data will look like in PostgreSQL."
)]
pub struct Cli {
    /// A project file of defaults for the workspace, the mappings, the source and the target
    /// (default: ./offbase.toml, when there is one); flags and environment variables win over
    /// it. See docs/runbook.md.
    #[arg(
        long,
        global = true,
        env = "OFFBASE_CONFIG",
        hide_env_values = true,
        value_name = "FILE",
        display_order = 900
    )]
    pub config: Option<PathBuf>,
    /// Less output: errors and each command's final line only (no progress, no notes).
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        display_order = 901
    )]
    pub quiet: bool,
    /// More output: a line for every finished step, and lists in full where they are cut
    /// short.
    #[arg(short, long, global = true, display_order = 902)]
    pub verbose: bool,
    /// When to color the output: auto (on a terminal, unless NO_COLOR is set), always or
    /// never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = ColorChoice::Auto,
        value_name = "WHEN",
        display_order = 903
    )]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

/// When the output is colored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    Always,
    Never,
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
        after_help = "Examples:\n  offbase plan samples/crm\n  offbase plan ./my-app --mappings my-app.toml --out review/\n  offbase plan ./my-app --format dbmate --pg-schema app --out .   # then: dbmate up\n  offbase plan ./my-app --apply --database-url postgres://me@localhost/app --pg-schema staging"
    )]
    Plan(PlanArgs),
    /// Read an exported app's code and list what in it still depends on Base44.
    ///
    /// A static reading of APP_DIR (the code export or a repository: src/, base44/,
    /// functions/, public/, index.html, package.json), nothing run: every SDK call by kind
    /// (entities by method, sign-in, user management, functions, integrations, agents) with its
    /// file:line, found through aliases, destructuring and imports; the backend functions
    /// with what they import, read and call; hard-coded Base44 hosts and file URLs; the
    /// VITE_BASE44_* settings and the SDK version. Writes OUT/assessment.md, OUT/assessment.json
    /// and OUT/assessment.corpus.jsonl (the reads with literal arguments, for `offbase diff
    /// behaviour --corpus`). A file that does not parse is listed, never fatal.
    #[command(
        after_help = "Examples:\n  offbase assess ./my-app\n  offbase assess ./my-app --out review/ --json"
    )]
    Assess(AssessArgs),
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
    /// Serve the Base44 API from PostgreSQL, so the app's frontend runs with only its server
    /// changed.
    ///
    /// Answers what the published @base44/sdk calls, from the tables `offbase load` made in
    /// --pg-schema, in the platform's record shape: entity reads (list, filter, get, count,
    /// v2/list, aggregate) and writes (create, update, delete, bulk, updateMany, deleteMany,
    /// upsert, importEntities); sign-in, User/me, registration, codes, password resets and
    /// invitations (mailed through --smtp-url); uploads and signed URLs (--files-dir); the
    /// public-settings bootstrap and the login page. Every request runs as its caller, so the
    /// access rules the load turned into row level security decide what each one sees.
    /// Backend functions, other integrations, agents and realtime answer 501 naming what is
    /// missing. With --frontend, the built app is served on the same origin. Runs until
    /// Ctrl-C. See docs/serve.md.
    #[command(
        after_help = "Examples:\n  offbase migrate --from samples/tasks --workspace ws --database-url postgres://localhost/app --pg-schema tasks\n  offbase serve --database-url postgres://localhost/app --pg-schema tasks --workspace ws --app-id tasks-app\n  OFFBASE_SERVE_SMTP_URL=smtp://localhost:25 offbase serve --database-url postgres://localhost/app --pg-schema tasks --workspace ws --frontend dist --files-dir files --mail-from 'Tasks <no-reply@example.com>'\n  curl 'http://127.0.0.1:8044/api/apps/tasks-app/entities/Task?sort=-created_date&limit=5'"
    )]
    Serve(ServeArgs),
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
    /// workspace. With no --database-url and no DATABASE_URL (or with --bundle FILE), it writes
    /// offbase-bundle.sql instead: apply it with `psql -v ON_ERROR_STOP=1 -f offbase-bundle.sql`.
    /// With --files-to DEST and --files-public-url URL it also scans the records for files on
    /// Base44's storage, copies them to DEST (a folder or s3://bucket/prefix) and loads the
    /// records with their URLs rewritten to URL/<key>; a file that cannot be copied keeps its
    /// URL and makes the exit code 1.
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
    /// Gates: every entity synced recently (--max-lag); the source quiet for --quiet-period
    /// (the write freeze; or --freeze-confirmed); after a final sync pass, the target equal to a
    /// fresh pull of the source (counts and content hashes per entity); no unreviewed rejects
    /// (--rejects-reviewed); foreign-key orphans acknowledged (--orphans-acknowledged); no
    /// loaded value still pointing at Base44's file storage (run `offbase files copy` and
    /// `offbase files rewrite`; or --file-urls-acknowledged for those listed). When all
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
    /// The files an app's records and code point at on Base44's storage.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Your app's users, for the sign-in provider that takes over from Base44.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Print a shell completion script for offbase on stdout.
    ///
    /// Install it where your shell looks for completions, then open a new shell.
    #[command(
        after_help = "Examples:\n  offbase completions bash > ~/.local/share/bash-completion/completions/offbase\n  offbase completions zsh > ~/.zfunc/_offbase   # with fpath+=(~/.zfunc) before compinit in ~/.zshrc\n  offbase completions fish > ~/.config/fish/completions/offbase.fish"
    )]
    Completions(CompletionsArgs),
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

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Find every file the staged records (and the app's code) point at on Base44's storage.
    ///
    /// Every string of every record is searched, at any depth: URL fields, arrays and objects,
    /// `_extra`, URLs inside rich text and markdown, the User entity. Every URL shape Base44
    /// storage has is recognized (Supabase-hosted `base44-prod` paths, base44.app
    /// `/api/apps/<id>/files/...`, media.base44.com), and private `file_uri` values. With
    /// --code, the app's `src/`, `public/` and `index.html` are searched too (file and line).
    /// Writes WORKSPACE/files/manifest.json (each file once, with its destination key and
    /// every reference: entity, record id and JSON path) and WORKSPACE/reports/files.md.
    #[command(
        after_help = "Examples:\n  offbase files scan --workspace ws\n  offbase files scan --workspace ws --code ./my-app --json"
    )]
    Scan(FilesScanArgs),
    /// Copy every public file of the file manifest to a folder or an S3 bucket you control.
    ///
    /// Each file goes to DEST/<key> (the key the scan gave it), streamed through a SHA-256 and
    /// renamed into place only when whole; size, hash and content type are logged in
    /// WORKSPACE/files/copied.jsonl. With --to s3://bucket/prefix (any S3-compatible store:
    /// AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN), each file is downloaded into WORKSPACE/files/staging, then uploaded
    /// to prefix/<key> (in parts when large) with its content type and its SHA-256 as metadata
    /// (x-amz-meta-sha256). Run it again after a stop: files already copied are not sent again
    /// (a bucket's are checked with a HEAD). A file Base44 no longer has (404, 403, 410), or one still failing after every
    /// retry, is listed in WORKSPACE/reports/rejects/files.jsonl with the records that point at
    /// it, and its URL is left as it is. Private files (`file_uri`) are read through URLs the
    /// app's API signs, into DEST/private/.
    #[command(
        after_help = "Examples:\n  offbase files scan --workspace ws && offbase files copy --workspace ws --to ./files\n  offbase files copy --workspace ws --to ./files --via http://127.0.0.1:4000   # from `offbase emulate`\n  AWS_ENDPOINT_URL=https://s3.example.com offbase files copy --workspace ws --to s3://my-bucket/my-app"
    )]
    Copy(FilesCopyArgs),
    /// Rewrite the Base44 file URLs of a loaded target to the URLs of their copies.
    ///
    /// Applies WORKSPACE/files/url-map.json (written by `files copy --public-url`) to every
    /// text, text[], json and jsonb column of the loaded tables: a URL alone or inside longer
    /// text, at any depth of a JSON document. Rows are read in id order and written back only
    /// where they still hold what was read, so it is safe to run twice (the second run finds
    /// nothing) and beside a running sync. URLs the map does not have (files that could not be
    /// copied) stay as they are. Afterwards verify, diff and the sync rewrite the workspace's
    /// records the same way. To rewrite during the load instead: `offbase load --rewrite-urls`.
    ///
    /// Exit codes: 0 done (or dry run), 2 error.
    #[command(
        after_help = "Examples:\n  offbase files rewrite --workspace ws --pg-schema staging --dry-run\n  offbase files rewrite --workspace ws --pg-schema staging --json"
    )]
    Rewrite(FilesRewriteArgs),
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Write the staged users in the import format of Supabase, Auth0, Clerk, a CSV or a
    /// PostgreSQL users table.
    ///
    /// Reads the workspace's User entity (pulled from the API, the dashboard's User_export.csv
    /// or seed files) and writes its import files into --out (default WORKSPACE/users/FORMAT/,
    /// which git ignores): supabase-users.jsonl (one admin createUser payload a line),
    /// auth0-users-NNNN.json (bulk-import files under 500 KB), clerk-users.jsonl (one createUser
    /// payload a line), users.csv, or users.sql and login-tokens.csv (a users table and one
    /// one-time login token per user, in the clear: hand them out, then delete the file).
    ///
    /// Ids: Auth0 (user_id), Clerk (external_id), the CSV and the table keep the Base44 id;
    /// Supabase needs UUIDs, so each user gets a UUID v5 of (app id, Base44 id), the same on
    /// every run. Every format writes the map, WORKSPACE/users/id-map.json (Base44 id → new id,
    /// email). When ids change, WORKSPACE/users/rewrite-plan.sql rewrites created_by_id and
    /// every reference to User in the loaded tables of --pg-schema: review it, then apply it
    /// with psql after the last sync. With a database (--database-url or DATABASE_URL) the map
    /// goes to offbase.user_map too. References by email are kept as they are.
    ///
    /// Passwords: Base44 exports none. Where the app kept its own bcrypt hash (password_hash,
    /// pin_hash), it is carried into the formats that take one; everyone else needs a reset or
    /// a magic link. Secret-looking fields are never printed, and never put in the CSV or the
    /// metadata. WORKSPACE/reports/users.md counts who can sign in how. See docs/users.md.
    ///
    /// Exit codes: 0 every user exported, 1 some were not (no email, ...) or share an email,
    /// 2 error.
    #[command(
        after_help = "Examples:\n  offbase users export --workspace ws --format supabase --app-id 6989205392f69694df37d206\n  offbase users export --workspace ws --format supabase --database-url postgres://me@localhost/app --pg-schema staging\n  offbase users export --workspace ws --format auth0 --out ./auth0-import --json\n  offbase users export --workspace ws --format postgres --pg-schema app"
    )]
    Export(UsersExportArgs),
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

/// The shared flag groups one command takes, for a project file to fill (`None`: the command
/// does not take that flag).
#[derive(Debug, Default)]
pub struct Groups<'a> {
    pub workspace: Option<&'a mut WorkspaceFolderArgs>,
    pub mappings: Option<&'a mut MappingsArgs>,
    pub target: Option<&'a mut TargetArgs>,
    /// `--api-url`, `--app-id` and `--api-key-env`.
    pub api: Option<&'a mut ApiSourceArgs>,
    /// `--api-key-env` alone.
    pub api_key: Option<&'a mut ApiKeyArgs>,
}

impl Groups<'_> {
    /// Whether the command takes none of the flags a project file gives.
    pub fn is_empty(&self) -> bool {
        self.workspace.is_none()
            && self.mappings.is_none()
            && self.target.is_none()
            && self.api.is_none()
            && self.api_key.is_none()
    }

    fn from_workspace(workspace: &mut WorkspaceArgs) -> Groups<'_> {
        Groups {
            workspace: Some(&mut workspace.folder),
            mappings: Some(&mut workspace.mappings),
            ..Groups::default()
        }
    }
}

impl Command {
    /// The shared flag groups this command takes.
    pub fn groups(&mut self) -> Groups<'_> {
        match self {
            Command::Plan(arguments) => Groups {
                mappings: Some(&mut arguments.mappings),
                target: Some(&mut arguments.target),
                ..Groups::default()
            },
            Command::Pull(arguments) => Groups {
                workspace: Some(&mut arguments.workspace),
                api: Some(&mut arguments.api),
                ..Groups::default()
            },
            Command::Load(arguments) => Groups {
                target: Some(&mut arguments.target),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            Command::Migrate(arguments) => Groups {
                target: Some(&mut arguments.target),
                api: Some(&mut arguments.api),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            Command::Generate(arguments) => Groups::from_workspace(&mut arguments.workspace),
            Command::Sync(arguments) => Groups {
                target: Some(&mut arguments.target),
                api_key: Some(&mut arguments.key),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            Command::Status(arguments) => Groups {
                target: Some(&mut arguments.target),
                ..Groups::default()
            },
            Command::Reseal(arguments) => Groups {
                workspace: Some(&mut arguments.workspace),
                ..Groups::default()
            },
            Command::Cutover(arguments) => Groups {
                target: Some(&mut arguments.target),
                api_key: Some(&mut arguments.key),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            Command::Diff(DiffCommand::Data(arguments)) => Groups {
                target: Some(&mut arguments.target),
                api: Some(&mut arguments.api),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            Command::Diff(DiffCommand::Behaviour(arguments)) => Groups {
                target: Some(&mut arguments.target),
                api_key: Some(&mut arguments.key),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            Command::Corpus(CorpusCommand::Generate(arguments)) => {
                Groups::from_workspace(&mut arguments.workspace)
            }
            Command::Files(FilesCommand::Scan(arguments)) => Groups {
                workspace: Some(&mut arguments.workspace),
                ..Groups::default()
            },
            Command::Files(FilesCommand::Rewrite(arguments)) => Groups {
                target: Some(&mut arguments.target),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            Command::Files(FilesCommand::Copy(arguments)) => Groups {
                workspace: Some(&mut arguments.workspace),
                api: Some(&mut arguments.api),
                ..Groups::default()
            },
            Command::Users(UsersCommand::Export(arguments)) => Groups {
                target: Some(&mut arguments.target),
                ..Groups::from_workspace(&mut arguments.workspace)
            },
            // The emulator's --app-id and --api-key-env are the served app's, not the source's.
            Command::Emulate(_)
            | Command::Serve(_)
            | Command::Corpus(CorpusCommand::FromHar(_))
            | Command::Completions(_)
            | Command::Assess(_) => Groups::default(),
        }
    }
}
