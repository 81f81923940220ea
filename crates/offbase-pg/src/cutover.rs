//! Who may write a target schema, and whether it still belongs to the sync: the target lock (a
//! session advisory lock per schema that a sync pass and the cutover take, so the two never run
//! at once, with the holder named from `pg_stat_activity`), and the cutover mark
//! (`offbase.cutovers`: when a schema was switched, by which run, and when that was undone).
//!
//! The mark is written in the transaction of the cutover's last step; every sync transaction
//! reads it first, so no sync can write a schema after its switch, whatever it started from.

use crate::state::STATE_SCHEMA;
use crate::{PgError, get, statement_error};
use offbase_sql::quote_identifier;
use sqlx::postgres::PgConnection;
use std::fmt;

/// The first key of every offbase target lock (the second is a hash of the schema's name).
const TARGET_LOCK_CLASS: i32 = 44_044;

/// The run holding a target lock, as PostgreSQL knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The server process of the holder's connection.
    pub backend_pid: i32,
    /// What the holder said it is (`offbase sync, pid 1234 on host, since 12:00:00Z`).
    pub application: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.application.is_empty() {
            write!(
                formatter,
                "a connection without a name (server process {})",
                self.backend_pid
            )
        } else {
            write!(formatter, "{}", self.application)
        }
    }
}

/// Takes the target lock of `pg_schema` for this connection's session if it is free, after
/// naming the session `who` (so a refused run can say who holds it). Returns the holder when
/// another session has it. A session may take it more than once; it is released by
/// [`unlock_target`] or when the connection closes.
pub async fn try_lock_target(
    connection: &mut PgConnection,
    pg_schema: &str,
    who: &str,
) -> Result<Option<LockHolder>, PgError> {
    // application_name holds at most 63 bytes: cut at a character boundary.
    let mut name = who.to_owned();
    while name.len() > 63 {
        name.pop();
    }
    let sql = "SELECT set_config('application_name', $1, false) AS name, \
               pg_try_advisory_lock($2, hashtext($3)) AS taken";
    let row = sqlx::query(sql)
        .bind(&name)
        .bind(TARGET_LOCK_CLASS)
        .bind(pg_schema)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    if get::<bool>(&row, "taken", sql)? {
        return Ok(None);
    }
    let holder = target_lock_holder(connection, pg_schema).await?;
    Ok(Some(holder.unwrap_or(LockHolder {
        backend_pid: 0,
        application: "another session (it has just released the lock)".to_owned(),
    })))
}

/// The session holding the target lock of `pg_schema`, if any.
pub async fn target_lock_holder(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<Option<LockHolder>, PgError> {
    let sql = "SELECT a.pid, coalesce(a.application_name, '') AS application \
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
               AND l.classid = $1::int4::oid AND l.objid = hashtext($2)::oid \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               LIMIT 1";
    let row = sqlx::query(sql)
        .bind(TARGET_LOCK_CLASS)
        .bind(pg_schema)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    row.map(|row| {
        Ok(LockHolder {
            backend_pid: get(&row, "pid", sql)?,
            application: get(&row, "application", sql)?,
        })
    })
    .transpose()
}

/// Releases the target lock of `pg_schema` taken by this session (every time it was taken).
pub async fn unlock_target(connection: &mut PgConnection, pg_schema: &str) -> Result<(), PgError> {
    let sql = "SELECT pg_advisory_unlock($1, hashtext($2)) AS released";
    loop {
        let row = sqlx::query(sql)
            .bind(TARGET_LOCK_CLASS)
            .bind(pg_schema)
            .fetch_one(&mut *connection)
            .await
            .map_err(|error| statement_error(sql, error))?;
        if !get::<bool>(&row, "released", sql)? {
            return Ok(());
        }
    }
}

/// A schema's switch to PostgreSQL: when (UTC, ISO 8601 to the microsecond) and by which run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CutoverMark {
    pub pg_schema: String,
    pub at: String,
    pub by: String,
}

impl CutoverMark {
    /// The error a write into the cut-over schema gets.
    pub fn refusal(&self) -> PgError {
        PgError::CutOver {
            schema: self.pg_schema.clone(),
            at: self.at.clone(),
            by: self.by.clone(),
        }
    }
}

/// A timestamptz column as ISO 8601 in UTC, to the microsecond.
fn iso(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

/// The mark of `pg_schema` while it is cut over (not undone), without creating anything where
/// offbase never ran.
pub async fn read_mark(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<Option<CutoverMark>, PgError> {
    if !crate::state::state_table_exists(connection, "cutovers").await? {
        return Ok(None);
    }
    current_mark(connection, pg_schema).await
}

/// The mark of `pg_schema`, where the state tables exist (`prepare_state` ran): one query, for
/// the checks every sync transaction makes.
async fn current_mark(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<Option<CutoverMark>, PgError> {
    let sql = format!(
        "SELECT {at} AS at, cut_over_by AS by FROM {}.cutovers \
         WHERE pg_schema = $1 AND undone_at IS NULL",
        quote_identifier(STATE_SCHEMA),
        at = iso("cut_over_at"),
    );
    let row = sqlx::query(&sql)
        .bind(pg_schema)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    row.map(|row| {
        Ok(CutoverMark {
            pg_schema: pg_schema.to_owned(),
            at: get(&row, "at", &sql)?,
            by: get(&row, "by", &sql)?,
        })
    })
    .transpose()
}

/// Refuses with the switch's time when `pg_schema` is cut over: every sync transaction calls it
/// first, so a sync that started before the switch writes nothing after it. The state tables
/// must exist (`prepare_state`).
pub async fn refuse_if_cut_over(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<(), PgError> {
    match current_mark(connection, pg_schema).await? {
        Some(mark) => Err(mark.refusal()),
        None => Ok(()),
    }
}

/// Marks `pg_schema` as cut over now, by `by`, with the report so far; call it inside the
/// transaction of the cutover's last step. Returns the mark.
pub async fn write_mark(
    connection: &mut PgConnection,
    pg_schema: &str,
    by: &str,
    report: &serde_json::Value,
) -> Result<CutoverMark, PgError> {
    let sql = format!(
        "INSERT INTO {}.cutovers (pg_schema, cut_over_at, cut_over_by, report) \
         VALUES ($1, clock_timestamp(), $2, $3) RETURNING {at} AS at",
        quote_identifier(STATE_SCHEMA),
        at = iso("cut_over_at"),
    );
    let row = sqlx::query(&sql)
        .bind(pg_schema)
        .bind(by)
        .bind(report)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(CutoverMark {
        pg_schema: pg_schema.to_owned(),
        at: get(&row, "at", &sql)?,
        by: by.to_owned(),
    })
}

/// Undoes the mark of `pg_schema` (kept, with when and by whom it was undone), so syncs may run
/// again. Returns the mark that was undone, or `None` when the schema was not cut over.
pub async fn undo_mark(
    connection: &mut PgConnection,
    pg_schema: &str,
    by: &str,
) -> Result<Option<CutoverMark>, PgError> {
    let Some(mark) = read_mark(connection, pg_schema).await? else {
        return Ok(None);
    };
    let sql = format!(
        "UPDATE {}.cutovers SET undone_at = clock_timestamp(), undone_by = $2 \
         WHERE pg_schema = $1 AND undone_at IS NULL",
        quote_identifier(STATE_SCHEMA)
    );
    sqlx::query(&sql)
        .bind(pg_schema)
        .bind(by)
        .execute(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    Ok(Some(mark))
}

/// Rows of `table` whose version column is after `instant` (ISO 8601): writes the new backend
/// took after the switch.
pub async fn rows_changed_after(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    version_column: &str,
    instant: &str,
) -> Result<i64, PgError> {
    let sql = format!(
        "SELECT count(*) AS changed FROM {}.{} WHERE {} > $1::timestamptz",
        quote_identifier(pg_schema),
        quote_identifier(table),
        quote_identifier(version_column)
    );
    let row = sqlx::query(&sql)
        .bind(instant)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    get(&row, "changed", &sql)
}
