//! offbase's own state in the target database: the `offbase` schema and its tables (the load's
//! runs and checkpoints, the sync's states, the cutover marks), created together under one
//! lock, and whether one of them exists (a read-only command creates nothing).

use crate::{PgError, execute, get, statement_error};
use offbase_sql::quote_identifier;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The schema holding offbase's own state in the target database.
pub const STATE_SCHEMA: &str = "offbase";

/// Creates the state schema and tables (of loads and syncs) when missing. Safe to run from
/// several processes at once.
pub async fn prepare_state(connection: &mut PgConnection) -> Result<(), PgError> {
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    // CREATE ... IF NOT EXISTS races with itself; one lock makes concurrent runs take turns.
    let lock = "SELECT pg_advisory_xact_lock(4404400044)";
    execute(&mut transaction, lock).await?;
    let statements = [
        format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_identifier(STATE_SCHEMA)
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {}.load_runs (\
             pg_schema text PRIMARY KEY, digest text NOT NULL, phase text NOT NULL, \
             report jsonb, started_at timestamptz NOT NULL DEFAULT now(), \
             updated_at timestamptz NOT NULL DEFAULT now())",
            quote_identifier(STATE_SCHEMA)
        ),
        // Added after the first release: state schemas made before it gain the column.
        format!(
            "ALTER TABLE {}.load_runs ADD COLUMN IF NOT EXISTS settings jsonb",
            quote_identifier(STATE_SCHEMA)
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {}.load_checkpoints (\
             pg_schema text NOT NULL, entity text NOT NULL, checkpoint jsonb NOT NULL, \
             updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pg_schema, entity))",
            quote_identifier(STATE_SCHEMA)
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {}.sync_state (\
             pg_schema text NOT NULL, entity text NOT NULL, state jsonb NOT NULL, \
             updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pg_schema, entity))",
            quote_identifier(STATE_SCHEMA)
        ),
    ];
    for statement in statements.iter().chain(&cutover_statements()) {
        execute(&mut transaction, statement).await?;
    }
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))
}

/// The statements that create the cutover table .
fn cutover_statements() -> [String; 2] {
    let schema = quote_identifier(STATE_SCHEMA);
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.cutovers (\
             pg_schema text NOT NULL, cut_over_at timestamptz NOT NULL, cut_over_by text NOT NULL, \
             report jsonb, undone_at timestamptz, undone_by text, \
             PRIMARY KEY (pg_schema, cut_over_at))"
        ),
        format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS cutovers_one_active ON {schema}.cutovers (pg_schema) \
             WHERE undone_at IS NULL"
        ),
    ]
}

/// Whether the table `offbase.<name>` exists (a read-only command creates nothing).
pub async fn state_table_exists(
    connection: &mut PgConnection,
    name: &str,
) -> Result<bool, PgError> {
    let sql = "SELECT to_regclass($1) IS NOT NULL AS present";
    let qualified = format!(
        "{}.{}",
        quote_identifier(STATE_SCHEMA),
        quote_identifier(name)
    );
    let row = sqlx::query(sql)
        .bind(qualified)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    get(&row, "present", sql)
}
