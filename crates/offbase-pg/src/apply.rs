//! Applying a plan: every statement in one transaction, in a schema created if missing, after
//! checking that nothing of the plan exists there yet.

use crate::{PgError, statement_error};
use offbase_model::TargetSchema;
use offbase_sql::{PlanSql, quote_identifier};
use serde::Serialize;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};

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

    let mut names: Vec<String> = target
        .tables
        .iter()
        .map(|table| table.name.clone())
        .collect();
    names.extend(
        target
            .enum_types
            .iter()
            .map(|enum_type| enum_type.name.clone()),
    );
    let existing_query = "SELECT c.relname::text AS name FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = ANY($2) \
         UNION SELECT t.typname::text FROM pg_type t \
         JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = $1 AND t.typname = ANY($2) AND t.typtype = 'e' \
         ORDER BY 1";
    let existing: Vec<String> = sqlx::query(existing_query)
        .bind(pg_schema)
        .bind(&names)
        .fetch_all(&mut *transaction)
        .await
        .map_err(|error| statement_error(existing_query, error))?
        .iter()
        .filter_map(|row| row.try_get::<String, _>("name").ok())
        .collect();
    if !existing.is_empty() {
        let shown: Vec<&str> = existing.iter().take(10).map(String::as_str).collect();
        let more = existing.len().saturating_sub(shown.len());
        let mut names = shown.join(", ");
        if more > 0 {
            names.push_str(&format!(" and {more} more"));
        }
        return Err(PgError::AlreadyExists {
            schema: pg_schema.to_owned(),
            what: "tables or types this plan creates",
            names,
        });
    }
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
