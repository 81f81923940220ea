//! The sync's side of PostgreSQL: its state table (`offbase.sync_state`, one row per target
//! schema and entity), and the transaction that applies a page of changes: rows COPYed into a
//! staging table, then upserted into the target where they are newer, and deletes; the
//! entity's state is saved in the same transaction, so a kill never applies a page twice or
//! loses its cursor.

use crate::PgError;
use crate::execute;
use crate::get;
use crate::load::{BatchError, copy_rows, copy_statement};
use crate::state::STATE_SCHEMA;
use crate::statement_error;
use offbase_sql::quote_identifier;
use serde_json::Value;
use sqlx::postgres::{PgConnection, Postgres};
use sqlx::{Connection, Transaction};
use std::collections::BTreeMap;

/// Every entity's saved state for `pg_schema`.
pub async fn read_sync_states(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<BTreeMap<String, Value>, PgError> {
    let sql = format!(
        "SELECT entity, state FROM {}.sync_state WHERE pg_schema = $1",
        quote_identifier(STATE_SCHEMA)
    );
    let rows = sqlx::query(&sql)
        .bind(pg_schema)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    let mut states = BTreeMap::new();
    for row in rows {
        let entity: String = get(&row, "entity", &sql)?;
        let state: Value = get(&row, "state", &sql)?;
        states.insert(entity, state);
    }
    Ok(states)
}

/// The ids of a table's rows in byte order (`COLLATE "C"` of their text, the order of Rust's
/// `str` for UTF-8), each with its `created_date` in microseconds since the Unix epoch (`None`
/// when NULL), handed to `each` as they arrive: one row in memory at a time, whatever the
/// table's size. The first error, of PostgreSQL or of `each`, stops the read.
pub async fn target_ids<E: From<PgError>>(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    id_column: &str,
    created_column: &str,
    mut each: impl FnMut(String, Option<i64>) -> Result<(), E>,
) -> Result<(), E> {
    use futures_util::TryStreamExt;
    let sql = format!(
        "SELECT {id}::text AS id, \
         (extract(epoch FROM {created}) * 1000000)::bigint AS created FROM {schema}.{table} \
         ORDER BY {id}::text COLLATE \"C\"",
        id = quote_identifier(id_column),
        created = quote_identifier(created_column),
        schema = quote_identifier(pg_schema),
        table = quote_identifier(table)
    );
    let mut rows = sqlx::query(&sql).fetch(&mut *connection);
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|error| statement_error(&sql, error))?
    {
        each(
            get::<String>(&row, "id", &sql)?,
            get::<Option<i64>>(&row, "created", &sql)?,
        )?;
    }
    Ok(())
}

/// What an upsert writes into: the table, its columns in COPY order, its key, and the column
/// that says which version of a row is newer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertTarget {
    pub table: String,
    pub columns: Vec<String>,
    pub key: Vec<String>,
    pub version: String,
    /// Write every staged row whatever the stored version (a reviewed repair that puts the
    /// source's version back over a row changed in the target alone).
    pub force: bool,
}

/// A junction table filled from an array of references: its name and columns in COPY order;
/// the first column holds the owning row's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JunctionTarget {
    pub table: String,
    pub columns: Vec<String>,
}

/// One page of changes, applied with the entity's state in one transaction.
#[derive(Debug)]
pub struct SyncTransaction<'c> {
    transaction: Transaction<'c, Postgres>,
    pg_schema: String,
}

impl<'c> SyncTransaction<'c> {
    /// Begins the transaction; refuses (and writes nothing) when `pg_schema` was cut over, so
    /// a sync that was running at the switch stops at its next page.
    pub async fn begin(connection: &'c mut PgConnection, pg_schema: &str) -> Result<Self, PgError> {
        let mut transaction = connection
            .begin()
            .await
            .map_err(|error| statement_error("BEGIN", error))?;
        crate::cutover::refuse_if_cut_over(&mut transaction, pg_schema).await?;
        Ok(SyncTransaction {
            transaction,
            pg_schema: pg_schema.to_owned(),
        })
    }

    /// COPYs `rows` (binary, without header and trailer; at most one per key) into a staging
    /// table shaped like the target, then inserts the new keys and updates the rows whose
    /// stored version is older (or equal with other values: two writes in one instant).
    /// Returns the rows written.
    pub async fn upsert(
        &mut self,
        target: &UpsertTarget,
        rows: &[u8],
        junctions: &[(JunctionTarget, Vec<u8>)],
    ) -> Result<u64, BatchError> {
        let table = format!(
            "{}.{}",
            quote_identifier(&self.pg_schema),
            quote_identifier(&target.table)
        );
        // One staging table per target table: a transaction could stage more than one.
        let stage_name = format!("offbase_stage_{}", target.table);
        let stage = quote_identifier(&stage_name);
        let create = format!(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        );
        execute(&mut self.transaction, &create)
            .await
            .map_err(BatchError::Other)?;
        let columns: Vec<&str> = target.columns.iter().map(String::as_str).collect();
        let copy = copy_statement("pg_temp", &stage_name, &columns);
        copy_rows(&mut self.transaction, &copy, &[rows]).await?;
        let list = |prefix: &str| {
            target
                .columns
                .iter()
                .map(|column| format!("{prefix}{}", quote_identifier(column)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let updates = target
            .columns
            .iter()
            .filter(|column| !target.key.contains(column))
            .map(|column| format!("{name} = EXCLUDED.{name}", name = quote_identifier(column)))
            .collect::<Vec<_>>()
            .join(", ");
        let version = quote_identifier(&target.version);
        let upsert = format!(
            "INSERT INTO {table} AS t ({columns}) SELECT {columns} FROM {stage} \
             ON CONFLICT ({key}) DO UPDATE SET {updates} \
             WHERE {force} OR EXCLUDED.{version} > t.{version} OR t.{version} IS NULL \
             OR (EXCLUDED.{version} = t.{version} AND ({old}) IS DISTINCT FROM ({new}))",
            force = if target.force { "TRUE" } else { "FALSE" },
            columns = list(""),
            key = target
                .key
                .iter()
                .map(|column| quote_identifier(column))
                .collect::<Vec<_>>()
                .join(", "),
            old = list("t."),
            new = list("EXCLUDED."),
        );
        let written = sqlx::raw_sql(&upsert)
            .execute(&mut *self.transaction)
            .await
            .map_err(|error| BatchError::Other(statement_error(&upsert, error)))?
            .rows_affected();
        // Junction rows follow their owner: where the owning row now holds the staged version
        // (just written, or already there), its junction rows are replaced by the staged ones;
        // where it holds a newer version, they are left alone.
        let key = target.key.first().map(String::as_str).unwrap_or("id");
        for (junction, junction_rows) in junctions {
            let junction_table = format!(
                "{}.{}",
                quote_identifier(&self.pg_schema),
                quote_identifier(&junction.table)
            );
            let junction_stage_name = format!("offbase_stage_{}", junction.table);
            let junction_stage = quote_identifier(&junction_stage_name);
            let create = format!(
                "CREATE TEMP TABLE IF NOT EXISTS {junction_stage} (LIKE {junction_table}) ON COMMIT DROP"
            );
            execute(&mut self.transaction, &create)
                .await
                .map_err(BatchError::Other)?;
            let junction_columns: Vec<&str> = junction.columns.iter().map(String::as_str).collect();
            if !junction_rows.is_empty() {
                let copy = copy_statement("pg_temp", &junction_stage_name, &junction_columns);
                copy_rows(&mut self.transaction, &copy, &[junction_rows]).await?;
            }
            let owner = quote_identifier(junction_columns.first().copied().unwrap_or("source_id"));
            let current = format!(
                "SELECT s.{key} FROM {stage} s JOIN {table} t ON t.{key} = s.{key}                  WHERE t.{version} IS NOT DISTINCT FROM s.{version}",
                key = quote_identifier(key),
            );
            let replace = format!(
                "DELETE FROM {junction_table} WHERE {owner} IN ({current});                  INSERT INTO {junction_table} ({columns}) SELECT {columns} FROM {junction_stage}                  WHERE {owner} IN ({current}); TRUNCATE {junction_stage}",
                columns = junction_columns
                    .iter()
                    .map(|column| quote_identifier(column))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            execute(&mut self.transaction, &replace)
                .await
                .map_err(BatchError::Other)?;
        }
        execute(&mut self.transaction, &format!("TRUNCATE {stage}"))
            .await
            .map_err(BatchError::Other)?;
        Ok(written)
    }

    /// Deletes the rows with these ids (and their junction rows), or with
    /// `soft_delete_column`, sets it where it is NULL. Returns the rows affected.
    pub async fn delete(
        &mut self,
        table: &str,
        id_column: &str,
        ids: &[String],
        soft_delete_column: Option<&str>,
        junctions: &[JunctionTarget],
    ) -> Result<u64, PgError> {
        if ids.is_empty() {
            return Ok(0);
        }
        if soft_delete_column.is_none() {
            // Their foreign keys (ON DELETE CASCADE) are off while syncing.
            for junction in junctions {
                let owner = junction
                    .columns
                    .first()
                    .map(String::as_str)
                    .unwrap_or("source_id");
                let sql = format!(
                    "DELETE FROM {}.{} WHERE {}::text = ANY($1)",
                    quote_identifier(&self.pg_schema),
                    quote_identifier(&junction.table),
                    quote_identifier(owner)
                );
                sqlx::query(&sql)
                    .bind(ids)
                    .execute(&mut *self.transaction)
                    .await
                    .map_err(|error| statement_error(&sql, error))?;
            }
        }
        let table = format!(
            "{}.{}",
            quote_identifier(&self.pg_schema),
            quote_identifier(table)
        );
        let id = quote_identifier(id_column);
        let sql = match soft_delete_column {
            Some(column) => format!(
                "UPDATE {table} SET {column} = now() WHERE {id}::text = ANY($1) AND {column} IS NULL",
                column = quote_identifier(column)
            ),
            None => format!("DELETE FROM {table} WHERE {id}::text = ANY($1)"),
        };
        sqlx::query(&sql)
            .bind(ids)
            .execute(&mut *self.transaction)
            .await
            .map(|done| done.rows_affected())
            .map_err(|error| statement_error(&sql, error))
    }

    /// Runs one statement inside the transaction (a schema change, say).
    pub async fn execute(&mut self, sql: &str) -> Result<(), PgError> {
        execute(&mut self.transaction, sql).await
    }

    /// Saves the entity's state; it takes effect with the commit.
    pub async fn save_state(&mut self, entity: &str, state: &Value) -> Result<(), PgError> {
        let sql = format!(
            "INSERT INTO {}.sync_state (pg_schema, entity, state) VALUES ($1, $2, $3) \
             ON CONFLICT (pg_schema, entity) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            quote_identifier(STATE_SCHEMA)
        );
        sqlx::query(&sql)
            .bind(&self.pg_schema)
            .bind(entity)
            .bind(state)
            .execute(&mut *self.transaction)
            .await
            .map(|_| ())
            .map_err(|error| statement_error(&sql, error))
    }

    pub async fn commit(self) -> Result<(), PgError> {
        self.transaction
            .commit()
            .await
            .map_err(|error| statement_error("COMMIT", error))
    }
}
