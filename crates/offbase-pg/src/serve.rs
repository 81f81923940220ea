//! The statements of `offbase serve`: a transaction in the shoes of an app's caller (its role
//! and the session settings that carry its user, both local to the transaction, so a pooled
//! connection never keeps them), and rows written from their JSON form by
//! `jsonb_populate_record` (values travel as one parameter, names are quoted identifiers of
//! the plan), read back and deleted by id. Which SQLSTATE means what for a client is decided
//! here ([`WriteError`]).

use crate::{PgError, get, statement_error};
use offbase_sql::quote_identifier;
use serde_json::Value;
use sqlx::postgres::{PgConnection, Postgres};
use sqlx::{Connection, Transaction};

/// What a transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Prepares a pooled connection for the server: UTC, so a `date` column compares with an
/// instant the way the platform compares their strings (as `diff behaviour` reads).
pub async fn prepare(connection: &mut PgConnection) -> Result<(), PgError> {
    let sql = "SET TIME ZONE 'UTC'";
    sqlx::query(sql)
        .execute(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    Ok(())
}

/// Begins a transaction in the connection's own role.
pub async fn begin(
    connection: &mut PgConnection,
    access: Access,
) -> Result<Transaction<'_, Postgres>, PgError> {
    let begin = match access {
        Access::ReadOnly => "BEGIN READ ONLY",
        Access::ReadWrite => "BEGIN READ WRITE",
    };
    connection
        .begin_with(begin)
        .await
        .map_err(|error| statement_error(begin, error))
}

/// Puts the transaction in a caller's shoes: `settings` (name, value; an empty value is no
/// user) and `role` (`None`: the connection's own), both `LOCAL`, so they end with it.
pub async fn act_in(
    transaction: &mut Transaction<'_, Postgres>,
    role: Option<&str>,
    settings: &[(&str, &str)],
) -> Result<(), PgError> {
    for (name, value) in settings {
        let sql = "SELECT set_config($1, $2, true)";
        sqlx::query(sql)
            .bind(name)
            .bind(value)
            .execute(&mut **transaction)
            .await
            .map_err(|error| statement_error(sql, error))?;
    }
    if let Some(role) = role {
        set_role(transaction, role).await?;
    }
    Ok(())
}

/// Switches the transaction's role (`SET LOCAL ROLE`).
pub async fn set_role(
    transaction: &mut Transaction<'_, Postgres>,
    role: &str,
) -> Result<(), PgError> {
    let sql = format!("SET LOCAL ROLE {}", quote_identifier(role));
    sqlx::query(&sql)
        .execute(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(())
}

/// Why PostgreSQL refused a write, as a client is told.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Row security or a privilege refused it (SQLSTATE 42501).
    #[error("{0}")]
    Denied(String),
    /// A constraint or a value the column cannot hold (SQLSTATE classes 22 and 23): the
    /// message names the constraint or the value.
    #[error("{0}")]
    Refused(String),
    /// A foreign key still points at the row (SQLSTATE 23503).
    #[error("{0}")]
    Referenced(String),
    #[error(transparent)]
    Database(#[from] PgError),
}

fn write_error(sql: &str, error: sqlx::Error) -> WriteError {
    if let sqlx::Error::Database(database) = &error {
        let code = database.code().unwrap_or_default().into_owned();
        let message = match database.constraint() {
            Some(constraint) => format!("{} (constraint {constraint})", database.message()),
            None => database.message().to_owned(),
        };
        if code == "42501" {
            return WriteError::Denied(message);
        }
        if code == "23503" {
            return WriteError::Referenced(message);
        }
        if code.starts_with("22") || code.starts_with("23") {
            return WriteError::Refused(message);
        }
    }
    WriteError::Database(statement_error(sql, error))
}

fn qualified(pg_schema: &str, table: &str) -> String {
    format!(
        "{}.{}",
        quote_identifier(pg_schema),
        quote_identifier(table)
    )
}

/// Inserts one row given as a JSON object by column name (a missing column takes its
/// default or NULL).
pub async fn insert_row(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    row: &Value,
) -> Result<(), WriteError> {
    let qualified = qualified(pg_schema, table);
    let sql = format!(
        "INSERT INTO {qualified} SELECT * FROM jsonb_populate_record(NULL::{qualified}, $1::jsonb)"
    );
    sqlx::query(&sql)
        .bind(row)
        .execute(&mut **transaction)
        .await
        .map_err(|error| write_error(&sql, error))?;
    Ok(())
}

/// Sets `columns` of the row `id` to their values in `row` (a JSON object by column name).
/// `false` when no row was changed: none with this id is visible to the update's policy.
pub async fn update_row(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    id_column: &str,
    id: &str,
    columns: &[&str],
    row: &Value,
) -> Result<bool, WriteError> {
    if columns.is_empty() {
        return Ok(true);
    }
    let qualified = qualified(pg_schema, table);
    let names: Vec<String> = columns.iter().map(|name| quote_identifier(name)).collect();
    let values: Vec<String> = names.iter().map(|name| format!("r.{name}")).collect();
    let sql = format!(
        "UPDATE {qualified} AS t SET ({}) = (SELECT {} FROM jsonb_populate_record(NULL::{qualified}, $1::jsonb) AS r) WHERE t.{} = $2",
        names.join(", "),
        values.join(", "),
        quote_identifier(id_column)
    );
    // A one-column list needs ROW(...) on the right in PostgreSQL's grammar; a sub-select
    // serves any count.
    let done = sqlx::query(&sql)
        .bind(row)
        .bind(id)
        .execute(&mut **transaction)
        .await
        .map_err(|error| write_error(&sql, error))?;
    Ok(done.rows_affected() > 0)
}

/// Deletes the rows with these ids that the delete's policy lets go; how many went.
pub async fn delete_rows(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    id_column: &str,
    ids: &[String],
) -> Result<u64, WriteError> {
    let sql = format!(
        "DELETE FROM {} WHERE {} = ANY($1)",
        qualified(pg_schema, table),
        quote_identifier(id_column)
    );
    let done = sqlx::query(&sql)
        .bind(ids)
        .execute(&mut **transaction)
        .await
        .map_err(|error| write_error(&sql, error))?;
    Ok(done.rows_affected())
}

/// The rows with these ids as `to_jsonb` objects, in no order, under the transaction's role.
pub async fn rows_by_id(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    id_column: &str,
    ids: &[String],
) -> Result<Vec<Value>, PgError> {
    let sql = format!(
        "SELECT to_jsonb(t) AS row FROM {} AS t WHERE t.{} = ANY($1)",
        qualified(pg_schema, table),
        quote_identifier(id_column)
    );
    let rows = sqlx::query(&sql)
        .bind(ids)
        .fetch_all(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    rows.iter()
        .map(|row| get::<Value>(row, "row", &sql))
        .collect()
}

/// The ids of the rows a translated list selects (`sql` from `offbase_sql::query::list_sql`,
/// whose rows are `to_jsonb` objects), under the transaction's role.
pub async fn query_rows_in(
    transaction: &mut Transaction<'_, Postgres>,
    sql: &str,
) -> Result<Vec<Value>, PgError> {
    let rows = sqlx::query(sql)
        .fetch_all(&mut **transaction)
        .await
        .map_err(|error| statement_error(sql, error))?;
    rows.iter()
        .map(|row| get::<Value>(row, "row", sql))
        .collect()
}

/// The count of a translated count, under the transaction's role.
pub async fn query_count_in(
    transaction: &mut Transaction<'_, Postgres>,
    sql: &str,
) -> Result<u64, PgError> {
    let row = sqlx::query(sql)
        .fetch_one(&mut **transaction)
        .await
        .map_err(|error| statement_error(sql, error))?;
    let count: i64 = get(&row, "count", sql)?;
    Ok(u64::try_from(count).unwrap_or_default())
}

/// Whether row level security is on for any table of `pg_schema` (the load applied an
/// access-rules section), so requests must run as the section's roles.
pub async fn schema_has_row_security(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<bool, PgError> {
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relrowsecurity) AS secured";
    let row = sqlx::query(sql)
        .bind(pg_schema)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    get(&row, "secured", sql)
}

/// A user's sign-in credentials in the users table `users export --format postgres` made
/// (`<pg-schema>.users`): the id, the bcrypt hash (none: the user has no password yet) and
/// whether the user is disabled. `Ok(None)`: no user with this email (compared ignoring case);
/// `Err` names a missing table.
pub async fn sign_in_credentials(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    email: &str,
) -> Result<Option<(String, Option<String>, bool)>, PgError> {
    let sql = format!(
        "SELECT id, password_hash, coalesce(disabled, false) AS disabled FROM {} \
         WHERE lower(email) = lower($1) ORDER BY id LIMIT 2",
        qualified(pg_schema, table)
    );
    let rows = sqlx::query(&sql)
        .bind(email)
        .fetch_all(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    let [row] = rows.as_slice() else {
        return Ok(None);
    };
    Ok(Some((
        get(row, "id", &sql)?,
        get(row, "password_hash", &sql)?,
        get(row, "disabled", &sql)?,
    )))
}
