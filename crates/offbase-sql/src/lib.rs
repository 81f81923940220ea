//! Pure SQL for offbase: the planner that turns the schema IR and the mapping rules into a
//! target model, the renderer that writes it as PostgreSQL DDL with sea-query, and the mapping
//! report. Nothing here does I/O.

mod ddl;
mod names;
mod plan;
mod pretty;
mod references;
mod report;
mod values;

pub use ddl::{PlanSql, Section, Statement, render};
pub use plan::{PlanError, plan};
pub use pretty::quote_identifier;
pub use report::mapping_report;
