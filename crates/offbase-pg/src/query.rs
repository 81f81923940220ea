//! Reads for `diff behaviour`: runs the queries `offbase_sql::query` translates from Base44
//! reads, in a read-only transaction-free session set to UTC (so a `date` column compares with
//! an instant the way the platform compares their strings).

use crate::{PgError, get, statement_error};
use serde_json::Value;
use sqlx::postgres::PgConnection;

/// Prepares a connection for translated reads: UTC, read-only.
pub async fn prepare_reads(connection: &mut PgConnection) -> Result<(), PgError> {
    for sql in [
        "SET TIME ZONE 'UTC'",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    ] {
        sqlx::query(sql)
            .execute(&mut *connection)
            .await
            .map_err(|error| statement_error(sql, error))?;
    }
    Ok(())
}

/// The `row` column (`to_jsonb` of each row) of a translated list or get.
pub async fn query_rows(connection: &mut PgConnection, sql: &str) -> Result<Vec<Value>, PgError> {
    let rows = sqlx::query(sql)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    rows.iter()
        .map(|row| get::<Value>(row, "row", sql))
        .collect()
}

/// The `count` column of a translated count.
pub async fn query_count(connection: &mut PgConnection, sql: &str) -> Result<u64, PgError> {
    let row = sqlx::query(sql)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    let count: i64 = get(&row, "count", sql)?;
    Ok(u64::try_from(count).unwrap_or_default())
}
