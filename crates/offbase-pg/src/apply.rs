//! Applying a plan: every statement in one transaction, in a schema created if missing, after
//! checking that nothing of the plan exists there yet.

use crate::{PgError, statement_error};
use offbase_model::TargetSchema;
use offbase_sql::{PlanSql, quote_identifier};
use serde::Serialize;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyOutcome {
    pub schema: String,
    pub statements: usize,
    pub tables: usize,
}

/// Applies `sql` (both sections) into `pg_schema` in one transaction. Refuses when any table or
/// type of the plan already exists there.
pub async fn apply_plan(
    connection: &mut PgConnection,
    pg_schema: &str,
    target: &TargetSchema,
    sql: &PlanSql,
) -> Result<ApplyOutcome, PgError> {
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    let create_schema = format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        quote_identifier(pg_schema)
    );
    sqlx::raw_sql(&create_schema)
        .execute(&mut *transaction)
        .await
        .map_err(|error| statement_error(&create_schema, error))?;
    let set_path = format!("SET LOCAL search_path TO {}", quote_identifier(pg_schema));
    sqlx::raw_sql(&set_path)
        .execute(&mut *transaction)
        .await
        .map_err(|error| statement_error(&set_path, error))?;

    crate::load::refuse_existing(
        &mut transaction,
        pg_schema,
        &target.relation_names(),
        "tables or types this plan creates",
        "",
    )
    .await?;
    for statement in &sql.statements {
        sqlx::raw_sql(&statement.sql)
            .execute(&mut *transaction)
            .await
            .map_err(|error| statement_error(&statement.sql, error))?;
    }
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))?;
    Ok(ApplyOutcome {
        schema: pg_schema.to_owned(),
        statements: sql.statements.len(),
        tables: target.tables.len(),
    })
}
