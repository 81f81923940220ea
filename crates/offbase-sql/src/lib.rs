//! Pure SQL for offbase: the planner that turns the schema IR and the mapping rules into a
//! target model, the renderer that writes it as PostgreSQL DDL with sea-query, the access
//! rules as row level security (`rls`), and the mapping report; Base44 reads as SQL (`query`)
//! and the SDK's `aggregate(spec)` as one grouped `SELECT` (`aggregate`). Nothing here does
//! I/O.

pub mod aggregate;
mod ddl;
mod names;
mod plan;
mod pretty;
pub mod query;
mod references;
mod report;
pub mod rls;
mod values;

pub use ddl::{
    ConstraintSql, LoadSql, PlanSql, PrimaryKeySql, RelaxedConstraint, Section, Statement,
    add_column, comment_safe, render, render_for_load,
};
pub use plan::{PlanError, plan};
pub use pretty::quote_identifier;
/// How the planner reads a field name as a reference (`project_id` → `project`, one); the
/// record generator (`offbase_pipeline::stage::generate`) uses it to make such text fields ids.
pub use references::{Shape, reference_stem};
pub use report::mapping_report;
pub use rls::{AccessRules, RlsMode, access_rules};
/// How the planner fits a schema value to a column type; the record generator uses it to keep
/// the enum members that fit a column.
pub use values::fit_scalar;
