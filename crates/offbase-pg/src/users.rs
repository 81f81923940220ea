//! The users export's id map in the target database: `offbase.user_map`, one row per user of
//! a loaded schema and sign-in provider (the Base44 id, the id the provider gives the user,
//! the email), created in the state schema as [`crate::state::prepare_state`] creates its
//! tables, and replaced whole for a schema and provider by each export. A rewrite plan joins
//! it (`UPDATE ... FROM offbase.user_map`) to put the new ids into the loaded tables.

use crate::state::STATE_SCHEMA;
use crate::{PgError, execute, statement_error};
use offbase_sql::quote_identifier;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The table's name in the state schema (the access rules' Supabase dialect reads it by this
/// name).
pub const USER_MAP_TABLE: &str = offbase_sql::rls::USER_MAP_TABLE;

/// `offbase.user_map`, quoted.
pub fn user_map_table() -> String {
    format!(
        "{}.{}",
        quote_identifier(STATE_SCHEMA),
        quote_identifier(USER_MAP_TABLE)
    )
}

/// The statements that create the map when it is missing: the state schema, then the table.
/// Pure, so a rewrite plan for psql can carry the same statements.
pub fn user_map_statements() -> [String; 2] {
    [
        format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_identifier(STATE_SCHEMA)
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\
             pg_schema text NOT NULL, provider text NOT NULL, base44_id text NOT NULL, \
             new_id text NOT NULL, email text, app_id text, \
             updated_at timestamptz NOT NULL DEFAULT now(), \
             PRIMARY KEY (pg_schema, provider, base44_id))",
            user_map_table()
        ),
    ]
}

/// One user of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMapRow {
    pub base44_id: String,
    pub new_id: String,
    pub email: Option<String>,
}

/// Replaces the map of `pg_schema` and `provider` with `rows`, in one transaction (the state
/// schema and table are created first when missing, under the state's lock, so concurrent
/// runs take turns). Returns the rows written. Values travel as parameters, never as SQL text.
pub async fn replace_user_map(
    connection: &mut PgConnection,
    pg_schema: &str,
    provider: &str,
    app_id: Option<&str>,
    rows: &[UserMapRow],
) -> Result<u64, PgError> {
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    // The lock of `prepare_state`: CREATE ... IF NOT EXISTS races with itself.
    execute(&mut transaction, "SELECT pg_advisory_xact_lock(4404400044)").await?;
    for statement in user_map_statements() {
        execute(&mut transaction, &statement).await?;
    }
    let delete = format!(
        "DELETE FROM {} WHERE pg_schema = $1 AND provider = $2",
        user_map_table()
    );
    sqlx::query(&delete)
        .bind(pg_schema)
        .bind(provider)
        .execute(&mut *transaction)
        .await
        .map_err(|error| statement_error(&delete, error))?;
    let insert = format!(
        "INSERT INTO {} (pg_schema, provider, base44_id, new_id, email, app_id) \
         SELECT $1, $2, row.base44_id, row.new_id, row.email, $3 \
         FROM UNNEST($4::text[], $5::text[], $6::text[]) AS row(base44_id, new_id, email)",
        user_map_table()
    );
    let base44_ids: Vec<&str> = rows.iter().map(|row| row.base44_id.as_str()).collect();
    let new_ids: Vec<&str> = rows.iter().map(|row| row.new_id.as_str()).collect();
    let emails: Vec<Option<&str>> = rows.iter().map(|row| row.email.as_deref()).collect();
    let written = sqlx::query(&insert)
        .bind(pg_schema)
        .bind(provider)
        .bind(app_id)
        .bind(base44_ids)
        .bind(new_ids)
        .bind(emails)
        .execute(&mut *transaction)
        .await
        .map_err(|error| statement_error(&insert, error))?
        .rows_affected();
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))?;
    Ok(written)
}
