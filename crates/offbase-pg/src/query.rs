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

/// The user with this email (compared ignoring case) in the loaded User table: id, email and
/// role (`role_column` when the table has one).
pub async fn find_user(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    columns: (&str, &str, Option<&str>),
    email: &str,
) -> Result<Option<(String, String, Option<String>)>, PgError> {
    use offbase_sql::quote_identifier;
    let (id_column, email_column, role_column) = columns;
    let role = match role_column {
        Some(column) => format!("t.{}::text", quote_identifier(column)),
        None => "NULL::text".to_owned(),
    };
    let sql = format!(
        "SELECT t.{id}::text AS id, t.{email}::text AS email, {role} AS role FROM {}.{} AS t \
         WHERE lower(t.{email}::text) = lower($1) ORDER BY t.{id} LIMIT 1",
        quote_identifier(pg_schema),
        quote_identifier(table),
        id = quote_identifier(id_column),
        email = quote_identifier(email_column),
    );
    let row = sqlx::query(&sql)
        .bind(email)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    match row {
        Some(row) => Ok(Some((
            get(&row, "id", &sql)?,
            get(&row, "email", &sql)?,
            get(&row, "role", &sql)?,
        ))),
        None => Ok(None),
    }
}

/// Makes the session's reads those of an app's caller: `SET ROLE role` and the user's session
/// settings (`settings`: name and value; an empty value is no user), so the access rules'
/// policies answer as they will for the app. The connecting role must be a member of `role`.
pub async fn act_as(
    connection: &mut PgConnection,
    role: &str,
    settings: &[(&str, &str)],
) -> Result<(), PgError> {
    for (name, value) in settings {
        let sql = "SELECT set_config($1, $2, false)";
        sqlx::query(sql)
            .bind(name)
            .bind(value)
            .execute(&mut *connection)
            .await
            .map_err(|error| statement_error(sql, error))?;
    }
    let sql = format!("SET ROLE {}", offbase_sql::quote_identifier(role));
    sqlx::query(&sql)
        .execute(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(())
}
