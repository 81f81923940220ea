//! Reads for `diff behaviour`: runs the queries `offbase_sql::query` translates from Base44
//! reads, in a read-only transaction-free session set to UTC (so a `date` column compares with
//! an instant the way the platform compares their strings).

use crate::{PgError, get, statement_error};
use serde_json::Value;
use sqlx::Executor;
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

/// Makes the session's reads those of an app's caller: `acting` is the statement
/// `Session::set_config_sql` of `offbase_sql::rls` wrote for the session (the role and the
/// user's settings), so the access rules' policies answer as they will for the app. The
/// connecting role must be a member of the role.
pub async fn act_as(connection: &mut PgConnection, acting: &str) -> Result<(), PgError> {
    connection
        .execute(acting)
        .await
        .map_err(|error| statement_error(acting, error))?;
    Ok(())
}

/// A write `diff behaviour --writes` tries as a user, always rolled back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WriteAttempt<'a> {
    /// An update that changes nothing (`SET id = id`): whether the user may update the row.
    Update,
    Delete,
    /// The insert of a copy of the row with these columns replaced (a new id, the creator's
    /// `created_by` and `created_by_id`), as a JSON object by column name.
    CreateLike {
        replaced: &'a Value,
    },
}

/// Whether the session's current role (with its session settings: the user the access rules
/// read) may make `attempt` on the row `id` of `pg_schema.table`. Runs in a read-write
/// transaction that is always rolled back. A refusal of row security or of a privilege
/// (SQLSTATE 42501) is `false`, and so is an update or delete that touches no row (the
/// policies hide it); a foreign key still pointing at a deleted row is `true` (the policies
/// let the delete through), and so is any error of an insert but a refusal: row security's
/// `WITH CHECK` runs before the table's constraints.
pub async fn attempt_write(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    id_column: &str,
    id: &str,
    attempt: WriteAttempt<'_>,
) -> Result<bool, PgError> {
    use offbase_sql::quote_identifier;
    use sqlx::Connection;
    let qualified = format!(
        "{}.{}",
        quote_identifier(pg_schema),
        quote_identifier(table)
    );
    let id_quoted = quote_identifier(id_column);
    let mut transaction = connection
        .begin_with("BEGIN READ WRITE")
        .await
        .map_err(|error| statement_error("BEGIN READ WRITE", error))?;
    let (sql, result) = match attempt {
        WriteAttempt::Update => {
            let sql =
                format!("UPDATE {qualified} SET {id_quoted} = {id_quoted} WHERE {id_quoted} = $1");
            let result = sqlx::query(&sql).bind(id).execute(&mut *transaction).await;
            (sql, result.map(|done| done.rows_affected() > 0))
        }
        WriteAttempt::Delete => {
            let sql = format!("DELETE FROM {qualified} WHERE {id_quoted} = $1");
            let result = sqlx::query(&sql).bind(id).execute(&mut *transaction).await;
            (sql, result.map(|done| done.rows_affected() > 0))
        }
        WriteAttempt::CreateLike { replaced } => {
            // The row as it is stored, read as the session's own user (past the policies),
            // then inserted back under the user's role.
            let role_sql = "SELECT current_user::text AS role";
            let row = sqlx::query(role_sql)
                .fetch_one(&mut *transaction)
                .await
                .map_err(|error| statement_error(role_sql, error))?;
            let role: String = get(&row, "role", role_sql)?;
            execute_in(&mut transaction, "SET LOCAL ROLE NONE").await?;
            let read =
                format!("SELECT to_jsonb(t) AS row FROM {qualified} AS t WHERE t.{id_quoted} = $1");
            let stored = sqlx::query(&read)
                .bind(id)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(|error| statement_error(&read, error))?;
            let Some(stored) = stored else {
                let _ = transaction.rollback().await;
                return Err(PgError::Statement {
                    statement: read,
                    message: format!("no row with id {id:?}"),
                });
            };
            let stored: Value = get(&stored, "row", &read)?;
            execute_in(
                &mut transaction,
                &format!("SET LOCAL ROLE {}", quote_identifier(&role)),
            )
            .await?;
            let sql = format!(
                "INSERT INTO {qualified} SELECT * FROM jsonb_populate_record(NULL::{qualified}, $1::jsonb || $2::jsonb)"
            );
            let result = sqlx::query(&sql)
                .bind(&stored)
                .bind(replaced)
                .execute(&mut *transaction)
                .await;
            let result = match result {
                Err(sqlx::Error::Database(error)) if error.code().as_deref() != Some("42501") => {
                    Ok(true)
                }
                other => other.map(|_| true),
            };
            (sql, result)
        }
    };
    let _ = transaction.rollback().await;
    match result {
        Ok(allowed) => Ok(allowed),
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42501") => Ok(false),
        Err(sqlx::Error::Database(error))
            if error.code().as_deref() == Some("23503")
                && matches!(attempt, WriteAttempt::Delete) =>
        {
            Ok(true)
        }
        Err(error) => Err(statement_error(&sql, error)),
    }
}

async fn execute_in(
    transaction: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    sql: &str,
) -> Result<(), PgError> {
    sqlx::query(sql)
        .execute(&mut **transaction)
        .await
        .map_err(|error| statement_error(sql, error))?;
    Ok(())
}
