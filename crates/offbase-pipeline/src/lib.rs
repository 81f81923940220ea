//! offbase stages, each callable in-process: `plan` (read schemas → plan → files, and optionally
//! apply) and `pull` (Base44 → workspace). Stages report progress through [`progress::Reporter`]; only the CLI draws.

pub mod compare;
pub mod files;
pub mod load;
pub mod lock;
pub mod migrate;
pub mod migrations;
pub mod page;
pub mod plan;
pub mod progress;
pub mod stage;
pub mod sync;
pub mod users;
pub mod workspace;

mod error;
pub mod target;

pub use error::PipelineError;

/// Whether the named failpoint is switched on (`OFFBASE_FAILPOINT=name`); always false without
/// the `failpoints` feature.
pub(crate) fn failpoint(name: &str) -> bool {
    cfg!(feature = "failpoints")
        && std::env::var("OFFBASE_FAILPOINT").is_ok_and(|value| value == name)
}
