//! Pure SQL for offbase: the planner that turns the schema IR and the mapping rules into a
//! target model, the renderer that writes it as PostgreSQL DDL with sea-query, and the mapping
//! report. Nothing here does I/O.

mod ddl;
pub mod generate;
mod names;
mod plan;
mod pretty;
pub mod query;
mod references;
mod report;
mod values;

pub use ddl::{
    ConstraintSql, LoadSql, PlanSql, PrimaryKeySql, RelaxedConstraint, Section, Statement,
    add_column, comment_safe, render, render_for_load,
};
pub use plan::{PlanError, plan};
pub use pretty::quote_identifier;
pub use report::mapping_report;
