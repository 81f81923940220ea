//! The one error type of the stages: a variant per way a stage can fail, each message naming
//! what it was working on (the file, the schema, the entity, the table) and what to do.

use std::path::PathBuf;

/// A stage failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Schema(#[from] offbase_base44::schema::SchemaError),
    #[error(transparent)]
    Rules(#[from] offbase_model::RulesError),
    #[error(transparent)]
    Plan(#[from] offbase_sql::PlanError),
    #[error(transparent)]
    Postgres(#[from] offbase_pg::PgError),
    #[error(transparent)]
    Client(#[from] offbase_base44::client::ClientError),
    #[error(transparent)]
    Csv(#[from] offbase_base44::csv_export::CsvError),
    #[error(transparent)]
    Seed(#[from] offbase_base44::seed::SeedError),
    #[error("{path}: {message}")]
    Workspace { path: PathBuf, message: String },
    /// A stage that reads staged data was pointed at a folder without it.
    #[error("{} has no manifest.json: stage data first with `offbase pull` (or `offbase migrate`)", path.display())]
    NotStaged { path: PathBuf },
    /// A source folder holds nothing offbase can stage.
    #[error(
        "{} holds no records offbase knows: expected data/<Entity>.jsonl (an app folder like samples/crm), <Entity>_export.csv files (dashboard exports) or base44/seed/",
        folder.display()
    )]
    NoRecords { folder: PathBuf },
    /// Files are copied without saying where they will be served from: no URL to rewrite to.
    #[error(
        "copying files in a migrate needs the URL the copies will be served from (--files-public-url), so the records can point at them"
    )]
    FilesNeedPublicUrl,
    /// A comparison asked as a user could not act as that user.
    #[error("cannot ask as {user}: {message}")]
    UserSession { user: String, message: String },
    /// The workspace was staged from another source.
    #[error(
        "the workspace {} holds a pull of {previous}, not of {asked}: use another --workspace for {asked}, or add --fresh to drop what it holds and pull again",
        path.display()
    )]
    OtherSource {
        path: PathBuf,
        previous: String,
        asked: String,
    },
    #[error("unknown entity {name:?}: the schemas have {known}")]
    UnknownEntity { name: String, known: String },
    /// A source that does not page by keyset.
    #[error(
        "{entity}: the API answered the page {bound} with records that do not move past the page before: it ignored the filter `q`, so the records past the first page cannot be read by keyset. Stopped instead of asking for the same page forever; read from an API that honours `q` (Base44 itself, or `offbase emulate`), or pull from a dashboard CSV export with --from-csv"
    )]
    PageDidNotAdvance { entity: String, bound: String },
    /// The target schema holds a load made from other data or options.
    #[error(
        "schema {pg_schema:?} holds a load of other staged data, another plan, other --relax options or another URL map (--rewrite-urls): load into another schema with --pg-schema, or drop that load and start again with --replace"
    )]
    OtherLoad { pg_schema: String },
    /// A stage after the load was given a mapping file or relax other than the load's.
    #[error(
        "schema {pg_schema:?} was loaded with {what} {loaded}, and this run was given {given}: give the load's (or none, to use what the load recorded)"
    )]
    SettingsDiffer {
        pg_schema: String,
        what: String,
        loaded: String,
        given: String,
    },
    #[error(
        "schema {pg_schema:?} holds no finished load: run `offbase load` (or `offbase migrate`) first, then sync"
    )]
    NoFinishedLoad { pg_schema: String },
    #[error("schema {pg_schema:?} is not cut over: there is nothing to undo")]
    NotCutOver { pg_schema: String },
    /// offbase's own state in the target (a checkpoint, a sync state, recorded settings) does
    /// not parse.
    #[error("{what} is damaged ({message}): {remedy}")]
    DamagedState {
        what: String,
        message: String,
        remedy: String,
    },
    /// PostgreSQL refused a page of changes as a whole.
    #[error("{entity}: PostgreSQL refused a page of changes: {message}")]
    PageRefused { entity: String, message: String },
    /// A table of the plan lacks what a stage needs of it.
    #[error("table {table}: {message}")]
    Table { table: String, message: String },
    /// A worker thread or task of a stage stopped (a panic): the stage fails and its
    /// checkpoints stay where they were.
    #[error("{what} stopped unexpectedly ({why}): this is a bug in offbase; {outcome}")]
    WorkerStopped {
        what: String,
        why: String,
        outcome: String,
    },
    /// Records read ≠ loaded + rejected: a record went neither in nor to the rejects.
    #[error(
        "{entity}: read {read} records but loaded {loaded} and rejected {rejected}: a record went neither in nor to the rejects, which is a bug in offbase; the load stopped at its last checkpoint and nothing of this batch was committed"
    )]
    Unbalanced {
        entity: String,
        read: u64,
        loaded: u64,
        rejected: u64,
    },
    /// The record generator cannot do what it was asked.
    #[error(transparent)]
    Generate(#[from] crate::stage::generate::GenerateError),
    #[error(
        "another offbase run holds {what}: {holder}. Wait for it to finish (or stop it), then run again"
    )]
    Busy { what: String, holder: String },
    /// The object store a copy writes to (an S3-compatible bucket) failed, after its own
    /// retries: `location` is `s3://bucket/key`, the message never holds a secret.
    #[error("{location}: {action}: {message}")]
    ObjectStore {
        location: String,
        action: String,
        message: String,
    },
    /// `users export` over a workspace without a staged `User` entity.
    #[error(
        "{} has no staged User entity: stage the users first (`offbase pull` from the API, or the dashboard's User_export.csv with --from-csv, or base44/seed/User.jsonc with --from-seed)",
        path.display()
    )]
    NoUsers { path: PathBuf },
    /// A users export whose ids are made from the app id, without one.
    #[error(
        "the {format} export makes each user's id from the app id, and none is known for {}: give it with --app-id (24 hex characters, in the app's URL or base44/.app.jsonc)",
        path.display()
    )]
    AppIdUnknown { format: String, path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PipelineError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PipelineError::Io {
            path: path.into(),
            source,
        }
    }

    /// A worker that panicked, with the panic's message where it has one.
    pub(crate) fn worker_stopped(
        what: impl Into<String>,
        panic: &(dyn std::any::Any + Send),
        outcome: impl Into<String>,
    ) -> Self {
        let why = panic
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        PipelineError::WorkerStopped {
            what: what.into(),
            why,
            outcome: outcome.into(),
        }
    }
}
