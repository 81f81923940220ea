//! PostgreSQL I/O for offbase: connecting (with errors that never show a password), applying a
//! plan in one transaction, and reading a schema back from the catalog.

pub mod adopt;
mod apply;
mod catalog;
mod connect;
pub mod cutover;
pub mod files;
pub mod load;
pub mod query;
pub mod range_hash;
pub mod serve;
pub mod state;
pub mod sync;
pub mod users;

pub use apply::{ApplyOutcome, apply_plan};
pub use catalog::{
    CatalogColumn, CatalogConstraint, CatalogIndex, CatalogSchema, CatalogTable, introspect,
};
pub use connect::{START_HINT, connect, connect_hint, redact_url};
pub use sqlx::postgres::PgConnection;

/// A transaction on a [`PgConnection`] (it derefs to the connection; nested ones are savepoints).
pub type PgTransaction<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

pub(crate) async fn execute(connection: &mut PgConnection, sql: &str) -> Result<(), PgError> {
    sqlx::raw_sql(sql)
        .execute(&mut *connection)
        .await
        .map(|_| ())
        .map_err(|error| statement_error(sql, error))
}

/// Begins a transaction (a savepoint inside one already open).
pub async fn begin(connection: &mut PgConnection) -> Result<PgTransaction<'_>, PgError> {
    use sqlx::Connection;
    connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))
}

/// Commits a transaction begun with [`begin`].
pub async fn commit(transaction: PgTransaction<'_>) -> Result<(), PgError> {
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))
}

/// What went wrong talking to PostgreSQL. Messages name the schema, table or statement and say
/// what to do; they never carry the connection password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot connect to PostgreSQL at {url}: {message}\n  {hint}")]
    Connect {
        url: String,
        message: String,
        /// What to do, fitting what the server answered (see `connect::connect_hint`).
        hint: String,
        /// No server answered, or it was starting or too busy: later may work.
        retriable: bool,
    },
    #[error(
        "the database URL is not valid: {message} (expected postgres://user[:password]@host[:port]/database)"
    )]
    InvalidUrl { message: String },
    #[error(
        "schema {schema:?} already has {what}: {names}\n  offbase will not overwrite them: drop them first, or choose another schema with --pg-schema{way_out}"
    )]
    AlreadyExists {
        schema: String,
        what: &'static str,
        names: String,
        /// Another way out where the caller has one (starts with its own separator).
        way_out: &'static str,
    },
    #[error(
        "schema {schema:?} cannot be adopted by the load: {why}\n  --adopt loads into tables a migration made from this plan (offbase plan --format) only while they are empty and exactly the plan's: apply the plan's migration unchanged, or load into another schema with --pg-schema"
    )]
    NotAdoptable { schema: String, why: String },
    #[error(
        "schema {schema:?} was cut over to PostgreSQL at {at} (by {by}): nothing syncs into it any more\n  The app's writes now go to PostgreSQL; a sync would overwrite or delete them. To roll back on purpose, see `offbase cutover --undo` in docs/runbook.md"
    )]
    CutOver {
        schema: String,
        at: String,
        by: String,
    },
    #[error("PostgreSQL refused {statement}: {message}")]
    Statement { statement: String, message: String },
}

impl PgError {
    /// Whether trying again later may succeed (the server was down or busy).
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            PgError::Connect {
                retriable: true,
                ..
            }
        )
    }
}

/// A column of a result row, its decoding error named by the statement.
pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r sqlx::postgres::PgRow,
    column: &str,
    sql: &str,
) -> Result<T, PgError> {
    use sqlx::Row;
    row.try_get(column)
        .map_err(|error| statement_error(sql, error))
}

/// Wraps a sqlx error for a statement, naming the statement by its first line.
pub(crate) fn statement_error(sql: &str, error: sqlx::Error) -> PgError {
    let first_line = sql.lines().next().unwrap_or_default();
    let statement = if first_line.chars().count() > 160 {
        let cut: String = first_line.chars().take(160).collect();
        format!("`{cut}...`")
    } else {
        format!("`{first_line}`")
    };
    let message = match &error {
        sqlx::Error::Database(database) => {
            let mut message = database.message().to_owned();
            if let Some(code) = database.code() {
                message.push_str(&format!(" (SQLSTATE {code})"));
            }
            message
        }
        other => other.to_string(),
    };
    PgError::Statement { statement, message }
}
