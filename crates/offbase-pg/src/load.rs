//! The load's side of PostgreSQL: the `offbase` state schema (one run row per target schema,
//! one checkpoint row per entity), COPY of encoded batches committed in the same transaction as
//! their checkpoint, row isolation when PostgreSQL refuses a batch, and the post-load steps
//! (constraints that may already exist, orphan counts, validation, ANALYZE).

use crate::execute;
use crate::{PgError, get, statement_error};
use offbase_model::ForeignKey;
use offbase_sql::quote_identifier;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::{PgConnection, Postgres};
use sqlx::{Connection, Transaction};

pub use crate::state::{STATE_SCHEMA, prepare_state};

/// The binary COPY header and trailer (see `offbase_copy::binary`).
pub use offbase_copy::binary::{HEADER as COPY_HEADER, TRAILER as COPY_TRAILER};

/// Where a load of one target schema stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadPhase {
    /// Tables exist; data is going in.
    Data,
    /// Data is in; keys, indexes and checks are being built.
    PostLoad,
    /// Finished.
    Done,
}

impl LoadPhase {
    fn as_str(self) -> &'static str {
        match self {
            LoadPhase::Data => "data",
            LoadPhase::PostLoad => "post_load",
            LoadPhase::Done => "done",
        }
    }

    fn parse(text: &str) -> Option<LoadPhase> {
        match text {
            "data" => Some(LoadPhase::Data),
            "post_load" => Some(LoadPhase::PostLoad),
            "done" => Some(LoadPhase::Done),
            _ => None,
        }
    }
}

/// The run row of a target schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadRun {
    pub pg_schema: String,
    /// Identifies the workspace content, plan and options the load was started with.
    pub digest: String,
    pub phase: LoadPhase,
    /// The post-load report, once the load is done.
    pub report: Option<Value>,
}

/// What the load of `pg_schema` was told (its mapping file, its relaxed constraints), so the
/// stages after it plan the same tables without being told again; `None` where no load was
/// started or the load recorded none (state made before it did). Read without assuming the
/// state tables exist, or have the column.
pub async fn read_settings(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<Option<Value>, PgError> {
    if !crate::state::state_table_exists(connection, "load_runs").await? {
        return Ok(None);
    }
    let sql = "SELECT to_jsonb(run) -> 'settings' AS settings FROM offbase.load_runs AS run \
               WHERE pg_schema = $1";
    let row = sqlx::query(sql)
        .bind(pg_schema)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    match row {
        Some(row) => {
            Ok(get::<Option<Value>>(&row, "settings", sql)?.filter(|value| !value.is_null()))
        }
        None => Ok(None),
    }
}

/// Replaces what the load of `pg_schema` recorded of its target (a rewrite of its file URLs
/// after the load records that the loaded rows now hold the new URLs); false when no load of
/// that schema is recorded.
pub async fn write_settings(
    connection: &mut PgConnection,
    pg_schema: &str,
    settings: &Value,
) -> Result<bool, PgError> {
    if !crate::state::state_table_exists(connection, "load_runs").await? {
        return Ok(false);
    }
    let sql = "UPDATE offbase.load_runs SET settings = $2 WHERE pg_schema = $1";
    let done = sqlx::query(sql)
        .bind(pg_schema)
        .bind(settings)
        .execute(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    Ok(done.rows_affected() > 0)
}

/// The run row of `pg_schema`, if a load was started there.
pub async fn read_run(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<Option<LoadRun>, PgError> {
    let sql = "SELECT digest, phase, report FROM offbase.load_runs WHERE pg_schema = $1";
    let row = sqlx::query(sql)
        .bind(pg_schema)
        .fetch_optional(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let digest: String = get(&row, "digest", sql)?;
    let phase: String = get(&row, "phase", sql)?;
    let report: Option<Value> = get(&row, "report", sql)?;
    let phase = LoadPhase::parse(&phase).ok_or_else(|| PgError::Statement {
        statement: sql.to_owned(),
        message: format!("unknown load phase {phase:?} in offbase.load_runs"),
    })?;
    Ok(Some(LoadRun {
        pg_schema: pg_schema.to_owned(),
        digest,
        phase,
        report,
    }))
}

/// What a target schema still holds, to tell whether the run row of a load describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPresence {
    /// The schema exists.
    pub schema_exists: bool,
    /// It holds at least one table.
    pub holds_tables: bool,
    /// It holds at least one of the tables asked about.
    pub holds_named: bool,
}

/// What `pg_schema` holds: whether it exists, holds any table, and any of `tables`.
pub async fn target_presence(
    connection: &mut PgConnection,
    pg_schema: &str,
    tables: &[String],
) -> Result<TargetPresence, PgError> {
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS schema_exists, \
         EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')) AS holds_tables, \
         EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname = ANY($2)) \
           AS holds_named";
    let row = sqlx::query(sql)
        .bind(pg_schema)
        .bind(tables)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    Ok(TargetPresence {
        schema_exists: get(&row, "schema_exists", sql)?,
        holds_tables: get(&row, "holds_tables", sql)?,
        holds_named: get(&row, "holds_named", sql)?,
    })
}

/// Refuses (`AlreadyExists`, naming up to ten) when any of `names` exists as a table or an
/// enum type in `pg_schema`: offbase never writes over what it did not create.
pub(crate) async fn refuse_existing(
    connection: &mut PgConnection,
    pg_schema: &str,
    names: &[String],
    what: &'static str,
    way_out: &'static str,
) -> Result<(), PgError> {
    let sql = "SELECT c.relname::text AS name FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = ANY($2) \
         UNION SELECT t.typname::text FROM pg_type t \
         JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = $1 AND t.typname = ANY($2) AND t.typtype = 'e' \
         ORDER BY 1";
    let rows = sqlx::query(sql)
        .bind(pg_schema)
        .bind(names)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    let existing = rows
        .iter()
        .map(|row| get::<String>(row, "name", sql))
        .collect::<Result<Vec<_>, _>>()?;
    if existing.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = existing.iter().take(10).map(String::as_str).collect();
    let more = existing.len().saturating_sub(shown.len());
    let mut listed = shown.join(", ");
    if more > 0 {
        listed.push_str(&format!(" and {more} more"));
    }
    Err(PgError::AlreadyExists {
        schema: pg_schema.to_owned(),
        what,
        names: listed,
        way_out,
    })
}

/// Starts a run: creates the schema and the tables (`tables`, already rendered) and records the
/// run, in one transaction. Refuses when any of `names` exists.
pub async fn begin_run(
    connection: &mut PgConnection,
    pg_schema: &str,
    digest: &str,
    settings: &Value,
    names: &[String],
    tables: &[String],
) -> Result<(), PgError> {
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    execute(
        &mut transaction,
        &format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote_identifier(pg_schema)
        ),
    )
    .await?;
    refuse_existing(
        &mut transaction,
        pg_schema,
        names,
        "tables or types this load creates",
        "; if a migration made them from this plan (offbase plan --format) and they are empty, load into them with --adopt",
    )
    .await?;
    execute(
        &mut transaction,
        &format!("SET LOCAL search_path TO {}", quote_identifier(pg_schema)),
    )
    .await?;
    for statement in tables {
        execute(&mut transaction, statement).await?;
    }
    record_run(&mut transaction, pg_schema, digest, settings).await?;
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))
}

/// Records the run of a load that starts (its tables made or adopted), in the data phase.
pub(crate) async fn record_run(
    connection: &mut PgConnection,
    pg_schema: &str,
    digest: &str,
    settings: &Value,
) -> Result<(), PgError> {
    let sql = "INSERT INTO offbase.load_runs (pg_schema, digest, phase, settings) \
               VALUES ($1, $2, $3, $4)";
    sqlx::query(sql)
        .bind(pg_schema)
        .bind(digest)
        .bind(LoadPhase::Data.as_str())
        .bind(settings)
        .execute(&mut *connection)
        .await
        .map(|_| ())
        .map_err(|error| statement_error(sql, error))
}

/// Moves the run of `pg_schema` to `phase`, storing `report` when given.
pub async fn set_phase(
    connection: &mut PgConnection,
    pg_schema: &str,
    phase: LoadPhase,
    report: Option<&Value>,
) -> Result<(), PgError> {
    let sql = "UPDATE offbase.load_runs SET phase = $2, report = COALESCE($3, report), \
               updated_at = now() WHERE pg_schema = $1";
    sqlx::query(sql)
        .bind(pg_schema)
        .bind(phase.as_str())
        .bind(report)
        .execute(&mut *connection)
        .await
        .map(|_| ())
        .map_err(|error| statement_error(sql, error))
}

/// Drops what an earlier load of `pg_schema` created (`tables`, `types`) and forgets the run.
pub async fn discard_run(
    connection: &mut PgConnection,
    pg_schema: &str,
    tables: &[String],
    types: &[String],
) -> Result<(), PgError> {
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    for table in tables {
        execute(
            &mut transaction,
            &format!(
                "DROP TABLE IF EXISTS {}.{} CASCADE",
                quote_identifier(pg_schema),
                quote_identifier(table)
            ),
        )
        .await?;
    }
    for name in types {
        execute(
            &mut transaction,
            &format!(
                "DROP TYPE IF EXISTS {}.{} CASCADE",
                quote_identifier(pg_schema),
                quote_identifier(name)
            ),
        )
        .await?;
    }
    for sql in [
        "DELETE FROM offbase.load_checkpoints WHERE pg_schema = $1",
        "DELETE FROM offbase.load_runs WHERE pg_schema = $1",
    ] {
        sqlx::query(sql)
            .bind(pg_schema)
            .execute(&mut *transaction)
            .await
            .map_err(|error| statement_error(sql, error))?;
    }
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))
}

/// Every entity checkpoint of `pg_schema`, as stored (the pipeline owns their shape).
pub async fn read_checkpoints(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<Vec<(String, Value)>, PgError> {
    let sql = "SELECT entity, checkpoint FROM offbase.load_checkpoints WHERE pg_schema = $1 \
               ORDER BY entity";
    let rows = sqlx::query(sql)
        .bind(pg_schema)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    rows.iter()
        .map(|row| Ok((get(row, "entity", sql)?, get(row, "checkpoint", sql)?)))
        .collect()
}

/// The OIDs of the enum types of `pg_schema`, by name.
pub async fn enum_type_oids(
    connection: &mut PgConnection,
    pg_schema: &str,
) -> Result<std::collections::BTreeMap<String, u32>, PgError> {
    let sql = "SELECT t.typname::text AS name, t.oid::int8 AS oid FROM pg_type t \
               JOIN pg_namespace n ON n.oid = t.typnamespace \
               WHERE n.nspname = $1 AND t.typtype = 'e'";
    let rows = sqlx::query(sql)
        .bind(pg_schema)
        .fetch_all(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    let mut oids = std::collections::BTreeMap::new();
    for row in rows {
        let name: String = get(&row, "name", sql)?;
        let oid: i64 = get(&row, "oid", sql)?;
        oids.insert(name, u32::try_from(oid).unwrap_or_default());
    }
    Ok(oids)
}

/// The `COPY ... FROM STDIN (FORMAT binary)` statement for `columns` of a table.
pub fn copy_statement(pg_schema: &str, table: &str, columns: &[&str]) -> String {
    format!(
        "COPY {}.{} ({}) FROM STDIN (FORMAT binary)",
        quote_identifier(pg_schema),
        quote_identifier(table),
        columns
            .iter()
            .map(|column| quote_identifier(column))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Why a batch did not go in.
#[derive(Debug)]
pub enum BatchError {
    /// PostgreSQL refused the data (a type, constraint or encoding error): isolate the rows.
    Data(String),
    /// Anything else (connection lost, server shutting down): stop and resume later.
    Other(PgError),
}

fn classify(statement: &str, error: sqlx::Error) -> BatchError {
    if let sqlx::Error::Database(database) = &error
        && let Some(code) = database.code()
        // Class 22 (data exception) and 23 (integrity constraint violation) are the row's fault.
        && (code.starts_with("22") || code.starts_with("23"))
    {
        let mut message = database.message().to_owned();
        if let Some(detail) = database
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .and_then(|error| error.r#where())
        {
            message.push_str(&format!(" ({detail})"));
        }
        message.push_str(&format!(" (SQLSTATE {code})"));
        return BatchError::Data(message);
    }
    BatchError::Other(statement_error(statement, error))
}

/// A transaction of the load: batches go in, then the checkpoint, then the commit, so the
/// checkpoint is durable exactly when the rows it counts are.
#[derive(Debug)]
pub struct LoadTransaction<'c> {
    transaction: Transaction<'c, Postgres>,
}

impl<'c> LoadTransaction<'c> {
    pub async fn begin(connection: &'c mut PgConnection) -> Result<Self, PgError> {
        let transaction = connection
            .begin()
            .await
            .map_err(|error| statement_error("BEGIN", error))?;
        Ok(LoadTransaction { transaction })
    }

    /// COPYs one table's rows (encoded, without header and trailer) with `statement`.
    pub async fn copy(&mut self, statement: &str, rows: &[u8]) -> Result<u64, BatchError> {
        copy_rows(&mut self.transaction, statement, &[rows]).await
    }

    /// COPYs rows one group at a time under savepoints, halving the groups PostgreSQL refuses
    /// until each refused row is alone: returns the indexes of the refused rows with the
    /// server's message. `rows[i]` holds row i's encoded rows per table (the entity's row and
    /// its junction rows), `statements[t]` the COPY statement of table t.
    pub async fn copy_isolating(
        &mut self,
        statements: &[String],
        rows: &[Vec<Vec<u8>>],
    ) -> Result<Vec<(usize, String)>, PgError> {
        let mut refused = Vec::new();
        let mut pending = vec![(0usize, rows.len())];
        while let Some((start, end)) = pending.pop() {
            if start >= end {
                continue;
            }
            execute(&mut self.transaction, "SAVEPOINT offbase_rows").await?;
            let mut failure = None;
            for (table, statement) in statements.iter().enumerate() {
                let parts: Vec<&[u8]> = rows
                    .get(start..end)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|row| row.get(table).map(Vec::as_slice))
                    .filter(|part| !part.is_empty())
                    .collect();
                if parts.is_empty() {
                    continue;
                }
                match copy_rows(&mut self.transaction, statement, &parts).await {
                    Ok(_) => {}
                    Err(BatchError::Data(message)) => {
                        failure = Some(message);
                        break;
                    }
                    Err(BatchError::Other(error)) => return Err(error),
                }
            }
            match failure {
                None => execute(&mut self.transaction, "RELEASE SAVEPOINT offbase_rows").await?,
                Some(message) => {
                    execute(&mut self.transaction, "ROLLBACK TO SAVEPOINT offbase_rows").await?;
                    execute(&mut self.transaction, "RELEASE SAVEPOINT offbase_rows").await?;
                    if end - start == 1 {
                        refused.push((start, message));
                    } else {
                        let middle = start + (end - start) / 2;
                        // Later half first on the stack so rows are retried in order.
                        pending.push((middle, end));
                        pending.push((start, middle));
                    }
                }
            }
        }
        refused.sort_by_key(|(index, _)| *index);
        Ok(refused)
    }

    /// Stores an entity's checkpoint in this transaction.
    pub async fn save_checkpoint(
        &mut self,
        pg_schema: &str,
        entity: &str,
        checkpoint: &Value,
    ) -> Result<(), PgError> {
        let sql = "INSERT INTO offbase.load_checkpoints (pg_schema, entity, checkpoint) \
                   VALUES ($1, $2, $3) ON CONFLICT (pg_schema, entity) \
                   DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = now()";
        sqlx::query(sql)
            .bind(pg_schema)
            .bind(entity)
            .bind(checkpoint)
            .execute(&mut *self.transaction)
            .await
            .map(|_| ())
            .map_err(|error| statement_error(sql, error))
    }

    pub async fn commit(self) -> Result<(), PgError> {
        self.transaction
            .commit()
            .await
            .map_err(|error| statement_error("COMMIT", error))
    }
}

/// The most COPY data handed to the connection at once.
const COPY_CHUNK_BYTES: usize = 256 * 1024;

pub(crate) async fn copy_rows(
    connection: &mut PgConnection,
    statement: &str,
    parts: &[&[u8]],
) -> Result<u64, BatchError> {
    let mut copy = connection
        .copy_in_raw(statement)
        .await
        .map_err(|error| classify(statement, error))?;
    let mut result = copy.send(COPY_HEADER).await.map(|_| ());
    // In slices: the connection buffers what one `send` gives it, and a whole batch there
    // would double the load's memory.
    for chunk in parts.iter().flat_map(|part| part.chunks(COPY_CHUNK_BYTES)) {
        if result.is_err() {
            break;
        }
        result = copy.send(chunk).await.map(|_| ());
    }
    if result.is_ok() {
        result = copy.send(COPY_TRAILER).await.map(|_| ());
    }
    match result {
        Ok(()) => copy
            .finish()
            .await
            .map_err(|error| classify(statement, error)),
        Err(error) => {
            // The server may have refused early; finishing reads its error and resets the
            // connection's state.
            let _ = copy.abort("offbase: sending failed").await;
            Err(classify(statement, error))
        }
    }
}

/// Runs one statement with `pg_schema` first on the search path.
pub async fn execute_in(
    connection: &mut PgConnection,
    pg_schema: &str,
    sql: &str,
) -> Result<(), PgError> {
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    execute(
        &mut transaction,
        &format!("SET LOCAL search_path TO {}", quote_identifier(pg_schema)),
    )
    .await?;
    execute(&mut transaction, sql).await?;
    transaction
        .commit()
        .await
        .map_err(|error| statement_error("COMMIT", error))
}

/// `ALTER TABLE ... VALIDATE CONSTRAINT` of a foreign key: `Ok(false)` when rows break it
/// (SQLSTATE 23503), so that orphans are only counted when there are some.
pub async fn validate_foreign_key(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    name: &str,
) -> Result<bool, PgError> {
    let sql = format!(
        "ALTER TABLE {}.{} VALIDATE CONSTRAINT {}",
        quote_identifier(pg_schema),
        quote_identifier(table),
        quote_identifier(name)
    );
    // In a transaction of its own (a savepoint inside the caller's), so a failed validation
    // leaves the caller's transaction usable.
    let mut transaction = connection
        .begin()
        .await
        .map_err(|error| statement_error("BEGIN", error))?;
    match sqlx::raw_sql(&sql).execute(&mut *transaction).await {
        Ok(_) => {
            transaction
                .commit()
                .await
                .map_err(|error| statement_error("COMMIT", error))?;
            Ok(true)
        }
        Err(sqlx::Error::Database(database)) if database.code().as_deref() == Some("23503") => {
            transaction
                .rollback()
                .await
                .map_err(|error| statement_error("ROLLBACK", error))?;
            Ok(false)
        }
        Err(error) => Err(statement_error(&sql, error)),
    }
}

/// Whether a constraint named `name` exists on `table` of `pg_schema`.
pub async fn constraint_exists(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    name: &str,
) -> Result<bool, PgError> {
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_constraint con \
               JOIN pg_class c ON c.oid = con.conrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = $1 AND c.relname = $2 AND con.conname = $3) AS flag";
    catalog_flag(connection, sql, [pg_schema, table, name]).await
}

/// Runs a catalog query of three text parameters (schema, table, constraint or column) that
/// answers one boolean column `flag`.
async fn catalog_flag(
    connection: &mut PgConnection,
    sql: &str,
    parameters: [&str; 3],
) -> Result<bool, PgError> {
    let [schema, table, name] = parameters;
    let row = sqlx::query(sql)
        .bind(schema)
        .bind(table)
        .bind(name)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(sql, error))?;
    get(&row, "flag", sql)
}

/// Whether a column of `table` is NOT NULL.
pub async fn column_not_null(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    column: &str,
) -> Result<bool, PgError> {
    let sql = "SELECT COALESCE((SELECT a.attnotnull FROM pg_attribute a \
               JOIN pg_class c ON c.oid = a.attrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3), false) AS flag";
    catalog_flag(connection, sql, [pg_schema, table, column]).await
}

/// The rows of `key`'s table that refer to no row of its target (its orphans), as the part of
/// a query after the select list: `FROM ... child WHERE ...`.
fn orphans_from(pg_schema: &str, key: &ForeignKey) -> String {
    let schema = quote_identifier(pg_schema);
    format!(
        "FROM {schema}.{} child WHERE child.{} IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM {schema}.{} parent WHERE parent.{} = child.{})",
        quote_identifier(&key.table),
        quote_identifier(&key.column),
        quote_identifier(&key.target_table),
        quote_identifier(&key.target_column),
        quote_identifier(&key.column),
    )
}

/// The query that lists the orphans of `key`: the referencing rows whose reference matches no
/// row, for people to read them (the load's report carries it).
pub fn orphans_query(pg_schema: &str, key: &ForeignKey) -> String {
    format!("SELECT child.* {};", orphans_from(pg_schema, key))
}

/// Orphans of a foreign key: how many rows reference a missing row, and up to `sample` of
/// their ids (the referencing rows' first primary key column), smallest first.
pub async fn count_orphans(
    connection: &mut PgConnection,
    pg_schema: &str,
    key: &ForeignKey,
    id_column: &str,
    sample: i64,
) -> Result<(u64, Vec<String>), PgError> {
    let from = orphans_from(pg_schema, key);
    let sql = format!(
        "SELECT (SELECT count(*) {from}) AS orphans, \
         ARRAY(SELECT child.{id}::text {from} ORDER BY 1 LIMIT $1) AS sample",
        id = quote_identifier(id_column)
    );
    let row = sqlx::query(&sql)
        .bind(sample)
        .fetch_one(&mut *connection)
        .await
        .map_err(|error| statement_error(&sql, error))?;
    let orphans: i64 = get(&row, "orphans", &sql)?;
    let sample: Vec<String> = get(&row, "sample", &sql)?;
    Ok((u64::try_from(orphans).unwrap_or_default(), sample))
}

/// Whether the constraint `name` of `table` is validated.
pub async fn constraint_validated(
    connection: &mut PgConnection,
    pg_schema: &str,
    table: &str,
    name: &str,
) -> Result<bool, PgError> {
    let sql = "SELECT COALESCE((SELECT con.convalidated FROM pg_constraint con \
               JOIN pg_class c ON c.oid = con.conrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = $1 AND c.relname = $2 AND con.conname = $3), false) AS flag";
    catalog_flag(connection, sql, [pg_schema, table, name]).await
}

/// Streams `COPY (...) TO STDOUT` output to `sink`, chunk by chunk.
pub async fn copy_out(
    connection: &mut PgConnection,
    statement: &str,
    mut sink: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), PgError> {
    use futures_util::StreamExt;
    let mut stream = connection
        .copy_out_raw(statement)
        .await
        .map_err(|error| statement_error(statement, error))?;
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| statement_error(statement, error))?;
        if failure.is_none()
            && let Err(message) = sink(&chunk)
        {
            // Read the stream to its end anyway so the connection stays usable.
            failure = Some(message);
        }
    }
    match failure {
        None => Ok(()),
        Some(message) => Err(PgError::Statement {
            statement: statement.to_owned(),
            message,
        }),
    }
}
