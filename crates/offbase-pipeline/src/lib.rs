//! offbase stages, each callable in-process: for now `plan` (read schemas → plan → files, and
//! optionally apply). Stages report progress through [`progress::Reporter`]; only the CLI draws.

pub mod files;
pub mod plan;
pub mod progress;

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
}
