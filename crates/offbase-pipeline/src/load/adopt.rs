//! `--adopt`: a load that starts in the plan's tables a migration tool made, instead of
//! creating its own (the checks and the reshaping are `offbase_pg::adopt`'s).

use super::LoadOptions;
use crate::PipelineError;
use crate::plan::PlanOutput;
use crate::progress::Reporter;
use offbase_pg::PgConnection;
use offbase_sql::LoadSql;

/// Starts the run in the plan's tables a migration made (`--adopt`), saying so.
pub(super) async fn adopt(
    connection: &mut PgConnection,
    options: &LoadOptions,
    output: &PlanOutput,
    load_sql: &LoadSql,
    digest: &str,
    reporter: &dyn Reporter,
) -> Result<(), PipelineError> {
    let plan: Vec<String> = output
        .sql
        .statements
        .iter()
        .filter(|statement| statement.section != offbase_sql::Section::AccessRules)
        .map(|statement| statement.sql.clone())
        .collect();
    let tables: Vec<String> = output
        .target
        .tables
        .iter()
        .map(|table| table.name.clone())
        .collect();
    let types: Vec<String> = output
        .target
        .enum_types
        .iter()
        .map(|enum_type| enum_type.name.clone())
        .collect();
    let shape = offbase_pg::adopt::AdoptShape {
        plan: &plan,
        load_tables: &load_sql.tables,
        tables: &tables,
        types: &types,
    };
    let adopted = offbase_pg::adopt::adopt_run(
        connection,
        &options.target.pg_schema,
        digest,
        &options.target.settings(),
        &shape,
    )
    .await?;
    reporter.message(&format!(
        "--adopt: loading into the {adopted} empty tables of the plan in schema {:?} (their keys, indexes and foreign keys come back after the data)",
        options.target.pg_schema
    ));
    Ok(())
}
