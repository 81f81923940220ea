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
use sqlx::{Connection, Executor, Transaction};

/// What a transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Prepares a pooled connection for the server: UTC, so a `date` column compares with an
/// instant the way the platform compares their strings (as `diff behaviour` reads), then
/// `at_rest`, the session a request starts from (`Session::set_config_sql` of
/// `offbase_sql::rls` for the session, not local): a request then sends only what differs
/// from it (`Session::changes_from_sql`), and every local change ends with its transaction.
pub async fn prepare(connection: &mut PgConnection, at_rest: Option<&str>) -> Result<(), PgError> {
    let sql = "SET TIME ZONE 'UTC'";
    sqlx::query(sql)
        .execute(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    if let Some(at_rest) = at_rest {
        connection
            .execute(at_rest)
            .await
            .map_err(|error| statement_error(at_rest, error))?;
    }
    Ok(())
}

/// The statement that puts a transaction in the connection's own role (the one it logged in
/// as), whatever role the connection rests in: for the server's own tables.
pub const OWN_ROLE: &str = "SET LOCAL ROLE NONE";

/// Begins a transaction, in the connection's own role, or in a caller's shoes when `acting`
/// holds the statement that puts it there (`Session::set_config_sql` of `offbase_sql::rls`,
/// local to the transaction): sent in one message with the `BEGIN`, so a request's set-up is
/// one round trip.
pub async fn begin<'c>(
    connection: &'c mut PgConnection,
    access: Access,
    acting: Option<&str>,
) -> Result<Transaction<'c, Postgres>, PgError> {
    let begin = match access {
        Access::ReadOnly => "BEGIN READ ONLY",
        Access::ReadWrite => "BEGIN READ WRITE",
    };
    // The settings first: in one message, they run in the implicit transaction that `BEGIN`
    // then turns into the explicit one, keeping them; when they fail (a role the connection
    // may not take), `BEGIN` never runs and no aborted transaction stays on the connection
    // (sqlx would not roll back a transaction whose `BEGIN` it saw fail).
    let statement = match acting {
        Some(acting) => format!("{acting}; {begin}"),
        None => begin.to_owned(),
    };
    connection
        .begin_with(statement.clone())
        .await
        .map_err(|error| statement_error(&statement, error))
}

/// A read in one message and one round trip: `acting` (what puts the connection in the
/// caller's shoes, `Session::changes_from_sql` of `offbase_sql::rls`), then `sql`, in the
/// read-only implicit transaction PostgreSQL makes of a message of several statements; or,
/// when the connection rests in the caller's shoes already (`None`), `sql` alone. The rows
/// `sql` returns. No `BEGIN` and no `ROLLBACK` to wait for: the settings
/// end with the message, and a failure anywhere in it leaves the connection idle. `sql`
/// carries its values as literals (the simple protocol has no parameters).
async fn read_at_once(
    connection: &mut PgConnection,
    acting: Option<&str>,
    sql: &str,
) -> Result<Vec<sqlx::postgres::PgRow>, PgError> {
    use futures_util::TryStreamExt;
    // Without settings to make, the statement alone (one `SELECT` this server wrote) is the
    // message and its own transaction.
    let (message, before) = match acting {
        Some(acting) => (format!("SET TRANSACTION READ ONLY; {acting}; {sql}"), 2),
        None => (sql.to_owned(), 0),
    };
    // Each statement's end comes as a result; the rows after those of the statements
    // before `sql` are its rows.
    let mut ended = 0;
    let mut rows = Vec::new();
    let mut stream = connection.fetch_many(message.as_str());
    while let Some(item) = stream
        .try_next()
        .await
        .map_err(|error| statement_error(sql, error))?
    {
        match item {
            sqlx::Either::Left(_) => ended += 1,
            sqlx::Either::Right(row) if ended == before => rows.push(row),
            sqlx::Either::Right(_) => {}
        }
    }
    Ok(rows)
}

/// The `row` objects of a read ([`read_at_once`]).
pub async fn read_rows(
    connection: &mut PgConnection,
    acting: Option<&str>,
    sql: &str,
) -> Result<Vec<Value>, PgError> {
    let rows = read_at_once(connection, acting, sql).await?;
    row_values(&rows, sql)
}

/// The `count` of a translated count read ([`read_at_once`]).
pub async fn read_count(
    connection: &mut PgConnection,
    acting: Option<&str>,
    sql: &str,
) -> Result<u64, PgError> {
    let rows = read_at_once(connection, acting, sql).await?;
    let Some(row) = rows.first() else {
        return Err(PgError::Statement {
            statement: sql.to_owned(),
            message: "the count returned no row".to_owned(),
        });
    };
    let count: i64 = get(row, "count", sql)?;
    Ok(u64::try_from(count).unwrap_or_default())
}

/// Puts the open transaction in a caller's shoes: `acting` is the statement
/// `Session::set_config_sql` of `offbase_sql::rls` wrote, local to the transaction.
pub async fn act_in(
    transaction: &mut Transaction<'_, Postgres>,
    acting: &str,
) -> Result<(), PgError> {
    // A text without parameters goes by the simple protocol: a statement of literals that
    // changes with every user gains nothing from being prepared.
    (&mut **transaction)
        .execute(acting)
        .await
        .map_err(|error| statement_error(acting, error))?;
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
/// default or NULL); with `returning`, the row as stored (`to_jsonb`), which the role must be
/// allowed to read.
pub async fn insert_row(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    row: &Value,
    returning: bool,
) -> Result<Option<Value>, WriteError> {
    let qualified = qualified(pg_schema, table);
    let returning_sql = if returning {
        " RETURNING to_jsonb(t) AS row"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO {qualified} AS t SELECT * FROM jsonb_populate_record(NULL::{qualified}, $1::jsonb){returning_sql}"
    );
    let rows = sqlx::query(&sql)
        .bind(row)
        .fetch_all(&mut **transaction)
        .await
        .map_err(|error| write_error(&sql, error))?;
    Ok(row_values(&rows, &sql)?.into_iter().next())
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
    row_values(&rows, &sql)
}

/// The rows a write works through (`offbase_sql::query::matching_sql`, perhaps locked
/// `FOR UPDATE`): a refusal of a privilege or of row security is [`WriteError::Denied`].
pub async fn rows_for_write(
    transaction: &mut Transaction<'_, Postgres>,
    sql: &str,
) -> Result<Vec<Value>, WriteError> {
    let rows = sqlx::query(sql)
        .fetch_all(&mut **transaction)
        .await
        .map_err(|error| write_error(sql, error))?;
    row_values(&rows, sql).map_err(WriteError::Database)
}

/// The rows of a statement taking one text parameter (`$1`), prepared once per connection,
/// in the connection's (or the transaction's) current role and settings.
pub async fn query_rows_with(
    connection: &mut PgConnection,
    sql: &str,
    parameter: &str,
) -> Result<Vec<Value>, PgError> {
    let rows = sqlx::query(sql)
        .bind(parameter)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    row_values(&rows, sql)
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

// Accounts (`offbase serve`'s `accounts`): the users table `users export --format postgres`
// made, and the table of the codes and tokens mailed to its users. Every value travels as a
// parameter; codes and tokens only as their SHA-256.

/// The table of the codes and tokens mailed to users, beside the users table.
pub const AUTH_CODES_TABLE: &str = "offbase_auth_codes";

/// A user of the users table, as the account calls read it (no password, only whether there
/// is one, and the hash to check).
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub is_verified: bool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("has_password", &self.password_hash.is_some())
            .field("disabled", &self.disabled)
            .field("is_verified", &self.is_verified)
            .finish()
    }
}

/// A new user of the users table.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub full_name: Option<&'a str>,
    pub role: &'a str,
    pub app_id: &'a str,
}

/// Whether `pg_schema.table` exists.
pub async fn table_exists(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
) -> Result<bool, PgError> {
    let sql =
        "SELECT to_regclass(pg_catalog.format('%I.%I', $1::text, $2::text)) IS NOT NULL AS found";
    let row = sqlx::query(sql)
        .bind(pg_schema)
        .bind(table)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    get(&row, "found", sql)
}

/// Creates, when missing, the table of the codes and tokens mailed to users
/// ([`AUTH_CODES_TABLE`] in `pg_schema`): one live code per user and purpose, as its SHA-256
/// (hex), when it expires, how many tries it had, when it was used, and how many were sent in
/// the current hour (the rate limit). `pending_password_hash` is the bcrypt hash a
/// registration sets once its code is verified.
pub async fn ensure_auth_codes_table(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<(), PgError> {
    let table = qualified(pg_schema, AUTH_CODES_TABLE);
    let statements = [
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
             user_id text NOT NULL, \
             purpose text NOT NULL, \
             code_sha256 text NOT NULL, \
             pending_password_hash text, \
             created_at timestamptz NOT NULL DEFAULT now(), \
             expires_at timestamptz NOT NULL, \
             attempts integer NOT NULL DEFAULT 0, \
             used_at timestamptz, \
             window_started_at timestamptz NOT NULL DEFAULT now(), \
             sent_in_window integer NOT NULL DEFAULT 1, \
             PRIMARY KEY (user_id, purpose))"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} (code_sha256)",
            quote_identifier(&format!("{AUTH_CODES_TABLE}_code_idx"))
        ),
    ];
    for sql in &statements {
        sqlx::query(sql)
            .execute(&mut *connection)
            .await
            .map_err(|error| statement_error(sql, error))?;
    }
    Ok(())
}

const ACCOUNT_COLUMNS: &str = "id, email, password_hash, coalesce(disabled, false) AS disabled, \
                               coalesce(is_verified, false) AS is_verified";

fn account(row: &sqlx::postgres::PgRow, sql: &str) -> Result<Account, PgError> {
    Ok(Account {
        id: get(row, "id", sql)?,
        email: get(row, "email", sql)?,
        password_hash: get(row, "password_hash", sql)?,
        disabled: get(row, "disabled", sql)?,
        is_verified: get(row, "is_verified", sql)?,
    })
}

/// The users whose email is `email` ignoring case (at most two: more than one is ambiguous),
/// locked for the transaction.
pub async fn accounts_by_email(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    email: &str,
) -> Result<Vec<Account>, PgError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM {} WHERE lower(email) = lower($1) ORDER BY id LIMIT 2 \
         FOR UPDATE",
        qualified(pg_schema, table)
    );
    let rows = sqlx::query(&sql)
        .bind(email)
        .fetch_all(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    rows.iter().map(|row| account(row, &sql)).collect()
}

/// The user `id`, locked for the transaction.
pub async fn account_by_id(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    id: &str,
) -> Result<Option<Account>, PgError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM {} WHERE id = $1 FOR UPDATE",
        qualified(pg_schema, table)
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    row.map(|row| account(&row, &sql)).transpose()
}

/// Adds a user without a password, not verified, enabled, not a service.
pub async fn insert_account(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    new: &NewAccount<'_>,
) -> Result<(), PgError> {
    let sql = format!(
        "INSERT INTO {} (id, email, full_name, role, disabled, is_verified, is_service, app_id, \
         created_date, updated_date) VALUES ($1, $2, $3, $4, false, false, false, $5, now(), now())",
        qualified(pg_schema, table)
    );
    sqlx::query(&sql)
        .bind(new.id)
        .bind(new.email)
        .bind(new.full_name)
        .bind(new.role)
        .bind(new.app_id)
        .execute(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(())
}

/// Sets the user's bcrypt hash (`None`: keeps it) and, when `verified`, marks the user
/// verified.
pub async fn update_account(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    id: &str,
    password_hash: Option<&str>,
    verified: bool,
) -> Result<(), PgError> {
    let sql = format!(
        "UPDATE {} SET password_hash = coalesce($2, password_hash), \
         is_verified = CASE WHEN $3 THEN true ELSE is_verified END, updated_date = now() \
         WHERE id = $1",
        qualified(pg_schema, table)
    );
    sqlx::query(&sql)
        .bind(id)
        .bind(password_hash)
        .bind(verified)
        .execute(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(())
}

/// A code (or token) to store, by its SHA-256.
#[derive(Clone)]
pub struct NewCode<'a> {
    pub user_id: &'a str,
    pub purpose: &'a str,
    pub code_sha256: &'a str,
    pub pending_password_hash: Option<&'a str>,
    pub lifetime_seconds: u32,
    pub max_per_hour: i32,
}

impl std::fmt::Debug for NewCode<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NewCode")
            .field("user_id", &self.user_id)
            .field("purpose", &self.purpose)
            .field("lifetime_seconds", &self.lifetime_seconds)
            .finish()
    }
}

/// Stores a new code for its user and purpose (replacing the one before, its tries reset;
/// without a pending hash, the one before stays), valid for `lifetime_seconds`, unless
/// `max_per_hour` were already sent in the current hour: `false` then, and the code before
/// stays.
pub async fn issue_code(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    code: &NewCode<'_>,
) -> Result<bool, PgError> {
    let table = qualified(pg_schema, AUTH_CODES_TABLE);
    let sql = format!(
        "INSERT INTO {table} AS c (user_id, purpose, code_sha256, pending_password_hash, \
         created_at, expires_at, attempts, used_at, window_started_at, sent_in_window) \
         VALUES ($1, $2, $3, $4, now(), now() + make_interval(secs => $5), 0, NULL, now(), 1) \
         ON CONFLICT (user_id, purpose) DO UPDATE SET code_sha256 = EXCLUDED.code_sha256, \
         pending_password_hash = coalesce(EXCLUDED.pending_password_hash, \
         c.pending_password_hash), created_at = now(), \
         expires_at = EXCLUDED.expires_at, attempts = 0, used_at = NULL, \
         window_started_at = CASE WHEN c.window_started_at <= now() - interval '1 hour' \
         THEN now() ELSE c.window_started_at END, \
         sent_in_window = CASE WHEN c.window_started_at <= now() - interval '1 hour' \
         THEN 1 ELSE c.sent_in_window + 1 END \
         WHERE c.window_started_at <= now() - interval '1 hour' OR c.sent_in_window < $6 \
         RETURNING c.user_id"
    );
    let row = sqlx::query(&sql)
        .bind(code.user_id)
        .bind(code.purpose)
        .bind(code.code_sha256)
        .bind(code.pending_password_hash)
        .bind(f64::from(code.lifetime_seconds))
        .bind(code.max_per_hour)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(row.is_some())
}

/// A live code's try: counts it, and gives the code's SHA-256 and pending hash to compare
/// with, when the code of `user_id` and `purpose` is unused, unexpired and has had fewer than
/// `max_attempts` tries. `None` otherwise (no try is counted then).
pub async fn try_code(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    user_id: &str,
    purpose: &str,
    max_attempts: i32,
) -> Result<Option<(String, Option<String>)>, PgError> {
    let sql = format!(
        "UPDATE {} SET attempts = attempts + 1 WHERE user_id = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > now() AND attempts < $3 \
         RETURNING code_sha256, pending_password_hash",
        qualified(pg_schema, AUTH_CODES_TABLE)
    );
    let row = sqlx::query(&sql)
        .bind(user_id)
        .bind(purpose)
        .bind(max_attempts)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    row.map(|row| {
        Ok((
            get(&row, "code_sha256", &sql)?,
            get(&row, "pending_password_hash", &sql)?,
        ))
    })
    .transpose()
}

/// Marks the code of `user_id` and `purpose` used (and forgets its pending hash).
pub async fn use_code(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    user_id: &str,
    purpose: &str,
) -> Result<(), PgError> {
    let sql = format!(
        "UPDATE {} SET used_at = now(), pending_password_hash = NULL \
         WHERE user_id = $1 AND purpose = $2",
        qualified(pg_schema, AUTH_CODES_TABLE)
    );
    sqlx::query(&sql)
        .bind(user_id)
        .bind(purpose)
        .execute(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(())
}

/// Uses a token of `purpose` given by its SHA-256, once: the user it was issued to, when it is
/// unused and unexpired; it is then used.
pub async fn use_token(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    purpose: &str,
    token_sha256: &str,
) -> Result<Option<String>, PgError> {
    let sql = format!(
        "UPDATE {} SET used_at = now(), attempts = attempts + 1 \
         WHERE purpose = $1 AND code_sha256 = $2 AND used_at IS NULL AND expires_at > now() \
         RETURNING user_id",
        qualified(pg_schema, AUTH_CODES_TABLE)
    );
    let row = sqlx::query(&sql)
        .bind(purpose)
        .bind(token_sha256)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    row.map(|row| get(&row, "user_id", &sql)).transpose()
}

/// Uses the one-time login token of the users export (`login_token_sha256`), once: the user's
/// id, when no one used it before; `login_token_used_at` is then set.
pub async fn use_login_token(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    token_sha256: &str,
) -> Result<Option<String>, PgError> {
    let sql = format!(
        "UPDATE {} SET login_token_used_at = now() \
         WHERE login_token_sha256 = $1 AND login_token_used_at IS NULL RETURNING id",
        qualified(pg_schema, table)
    );
    let row = sqlx::query(&sql)
        .bind(token_sha256)
        .fetch_optional(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    row.map(|row| get(&row, "id", &sql)).transpose()
}

/// The ids of the rows of `pg_schema.table` whose `email_column` is `email` ignoring case (at
/// most two), under the transaction's role.
pub async fn ids_by_email(
    transaction: &mut Transaction<'_, Postgres>,
    pg_schema: &str,
    table: &str,
    id_column: &str,
    email_column: &str,
    email: &str,
) -> Result<Vec<String>, PgError> {
    let sql = format!(
        "SELECT {id}::text AS id FROM {} WHERE lower({email}::text) = lower($1) ORDER BY 1 LIMIT 2",
        qualified(pg_schema, table),
        id = quote_identifier(id_column),
        email = quote_identifier(email_column),
    );
    let rows = sqlx::query(&sql)
        .bind(email)
        .fetch_all(&mut **transaction)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    rows.iter().map(|row| get(row, "id", &sql)).collect()
}

/// Switches the transaction back to the connection's own role (`SET LOCAL ROLE NONE`).
pub async fn reset_role(transaction: &mut Transaction<'_, Postgres>) -> Result<(), PgError> {
    let sql = "SET LOCAL ROLE NONE";
    sqlx::query(sql)
        .execute(&mut **transaction)
        .await
        .map_err(|error| statement_error(sql, error))?;
    Ok(())
}

/// Those of `roles` the connection's role cannot switch to (`SET ROLE` needs membership; a
/// superuser may switch to any existing role). A role that does not exist is missing too.
pub async fn roles_out_of_reach(
    connection: &mut PgConnection,
    roles: &[&str],
) -> Result<Vec<String>, PgError> {
    let sql = "SELECT name FROM unnest($1::text[]) AS name \
               WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = name \
                 AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')) ORDER BY name";
    let names: Vec<String> = roles.iter().map(|role| (*role).to_owned()).collect();
    let rows = sqlx::query(sql)
        .bind(&names)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    rows.iter().map(|row| get(row, "name", sql)).collect()
}

/// Serialises the transactions that may add a user with `email` (compared ignoring case) until
/// this one ends, so two registrations of one address cannot both add it.
pub async fn lock_email(
    transaction: &mut Transaction<'_, Postgres>,
    email: &str,
) -> Result<(), PgError> {
    let sql = "SELECT pg_advisory_xact_lock(hashtextextended(lower($1), 0))";
    sqlx::query(sql)
        .bind(email)
        .execute(&mut **transaction)
        .await
        .map_err(|error| statement_error(sql, error))?;
    Ok(())
}

/// The `row` column (`to_jsonb` of each row) of statements that select one.
fn row_values(rows: &[sqlx::postgres::PgRow], sql: &str) -> Result<Vec<Value>, PgError> {
    rows.iter()
        .map(|row| get::<Value>(row, "row", sql))
        .collect()
}
