//! offbase stages, each callable in-process: `plan` (read schemas → plan → files, and optionally
//! apply) and `pull` (Base44 → workspace). Stages report progress through [`progress::Reporter`]; only the CLI draws.

pub mod behaviour;
pub mod bundle;
pub mod corpus;
pub mod cutover;
pub mod diff;
pub mod diff_api;
pub mod files;
pub mod generate;
pub mod import;
pub mod load;
pub mod lock;
pub mod migrate;
pub mod plan;
pub mod progress;
pub mod pull;
pub mod reseal;
pub mod staged;
pub mod sync;
pub mod sync_loop;
pub mod verify;
pub mod workspace;

use std::path::PathBuf;

/// A stage failed. Each variant names what it was working on.
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
    #[error("{0}")]
    Usage(String),
    #[error(
        "another offbase run holds {what}: {holder}. Wait for it to finish (or stop it), then run again"
    )]
    Busy { what: String, holder: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether the named failpoint is switched on (`OFFBASE_FAILPOINT=name`); always false without
/// the `failpoints` feature.
pub(crate) fn failpoint(name: &str) -> bool {
    cfg!(feature = "failpoints")
        && std::env::var("OFFBASE_FAILPOINT").is_ok_and(|value| value == name)
}

impl PipelineError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PipelineError::Io {
            path: path.into(),
            source,
        }
    }
}
