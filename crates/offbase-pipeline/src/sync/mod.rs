//! The sync stage: changes made in Base44 after a load, applied to the loaded tables until the
//! cutover. One pass ([`sync_once`]) does, per entity:
//!
//! 1. **Changes.** Records with `updated_date` at or after the entity's cursor minus an overlap
//!    window, read by keyset on `updated_date` (a page full of one timestamp is read again by
//!    `id` within that timestamp, so rows sharing one instant are never skipped). Each page is
//!    converted as the load converts records and upserted through a staging table: new ids
//!    are inserted, existing rows updated only when the incoming `updated_date` is newer. The
//!    page and the advanced cursor commit in one transaction, so a kill repeats at most a page,
//!    and repeating one writes nothing.
//! 2. **Deletes.** Ids in the entity's trash are deleted from the table. With reconciliation,
//!    the keys of every live record are listed (`fields=id,created_date`) and rows the source
//!    no longer has are deleted too (only rows created before the listing began, so a record
//!    created meanwhile is never taken for a deleted one).
//!
//! Records that cannot be loaded go to `reports/rejects/sync-<Entity>.jsonl` with the reason;
//! the table keeps the row it had. Foreign keys are taken off for the sync period: Base44
//! enforces no reference, so changes arrive in any order and may leave orphans.

pub mod continuous;
pub mod cutover;
mod deletes;
mod entity;
pub mod lag;
mod state;
mod status;
mod undo;

use entity::EntitySync;
pub use state::{EntitySyncReport, EntitySyncState, SOFT_DELETE_COLUMN, SyncOptions, SyncSummary};
use status::read_states;
pub use status::{EntityStatus, SyncStatus, status};

use crate::PipelineError;
use crate::load::rows::{BinaryRows, RowEncoder};
use crate::plan::plan_workspace;
use crate::progress::Reporter;
use crate::workspace::Workspace;
use offbase_base44::client::Client;
use offbase_copy::convert::EntityConverter;
use offbase_pg::load::{self as pg_load, LoadPhase};
use offbase_pg::sync::JunctionTarget;
use std::collections::{BTreeMap, BTreeSet};

/// One sync pass over every entity of the workspace's plan.
pub async fn sync_once(
    workspace: &Workspace,
    client: &Client,
    options: &SyncOptions,
    reporter: &dyn Reporter,
) -> Result<SyncSummary, PipelineError> {
    let mut connection = offbase_pg::connect(&options.target.database_url).await?;
    pg_load::prepare_state(&mut connection).await?;
    // Refuse before waiting: a schema that was cut over never takes a sync again.
    offbase_pg::cutover::refuse_if_cut_over(&mut connection, &options.target.pg_schema).await?;
    crate::lock::lock_target(&mut connection, &options.target.pg_schema, "sync", reporter).await?;
    let summary = sync_pass(workspace, client, options, &mut connection, reporter).await;
    let summary = release(&mut connection, &options.target.pg_schema, summary).await?;
    keep_lag(workspace, &summary, reporter);
    Ok(summary)
}

/// Adds the pass to the lag the report page charts, and refreshes the page on the first pass
/// and every [`PAGE_EVERY`] after (not every pass: a sync may run one a second for days). A
/// report that cannot be written is said, and the sync goes on: the pass itself is committed.
fn keep_lag(workspace: &Workspace, summary: &SyncSummary, reporter: &dyn Reporter) {
    let at = offbase_model::time::format_fresh(chrono::Utc::now());
    let written = lag::record_pass(workspace, summary, &at).and_then(|held| {
        if held == 1 || held % PAGE_EVERY == 0 {
            crate::page::write_index(workspace)?;
        }
        Ok(())
    });
    if let Err(error) = written {
        reporter.message(&format!("the sync's lag report was not written: {error}"));
    }
}

/// How many passes apart the sync refreshes the report page.
const PAGE_EVERY: usize = 60;

/// Releases the target lock after a run, keeping the run's own error when it failed (closing
/// the connection releases the lock in any case).
async fn release<T>(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
    outcome: Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    let unlocked = offbase_pg::cutover::unlock_target(connection, pg_schema).await;
    let value = outcome?;
    unlocked?;
    Ok(value)
}

/// Puts the source's current version of the named records into the target, whatever the
/// target holds (`entity → ids`, e.g. from the cutover's `cutover/repair.json`): each record is
/// fetched by id and written over the row, or its row deleted when the source no longer has
/// it. The repair for a row changed in the target alone, which a sync never reads again.
pub async fn reapply(
    workspace: &Workspace,
    client: &Client,
    options: &SyncOptions,
    records: &BTreeMap<String, BTreeSet<String>>,
    reporter: &dyn Reporter,
) -> Result<SyncSummary, PipelineError> {
    let mut connection = offbase_pg::connect(&options.target.database_url).await?;
    pg_load::prepare_state(&mut connection).await?;
    offbase_pg::cutover::refuse_if_cut_over(&mut connection, &options.target.pg_schema).await?;
    crate::lock::lock_target(
        &mut connection,
        &options.target.pg_schema,
        "sync --reapply",
        reporter,
    )
    .await?;
    let summary = sync_records(
        workspace,
        client,
        options,
        &mut connection,
        Some(records),
        reporter,
    )
    .await;
    release(&mut connection, &options.target.pg_schema, summary).await
}

/// One pass on a connection that holds the target lock (`sync_once`, or the cutover's final
/// pass). Refuses, writing nothing, when the schema was cut over.
pub(crate) async fn sync_pass(
    workspace: &Workspace,
    client: &Client,
    options: &SyncOptions,
    connection: &mut offbase_pg::PgConnection,
    reporter: &dyn Reporter,
) -> Result<SyncSummary, PipelineError> {
    sync_records(workspace, client, options, connection, None, reporter).await
}

/// A pass over every entity, or, with `only`, the reviewed repair: those records of those
/// entities fetched one by one and written whatever the stored version (deleted where the
/// source no longer has them).
async fn sync_records(
    workspace: &Workspace,
    client: &Client,
    options: &SyncOptions,
    connection: &mut offbase_pg::PgConnection,
    only: Option<&BTreeMap<String, BTreeSet<String>>>,
    reporter: &dyn Reporter,
) -> Result<SyncSummary, PipelineError> {
    let started = std::time::Instant::now();
    offbase_pg::cutover::refuse_if_cut_over(connection, &options.target.pg_schema).await?;
    if let Some(folder) = &options.schema_from {
        let outcome = offbase_base44::schema::read_app(folder)?;
        crate::stage::pull::write_schemas(workspace, &outcome.app.entities)?;
    }
    // The tables are the load's: planned with its mapping file, converted with its relax.
    let settled = options.target.settled(connection).await?;
    // Rows that hold rewritten URLs get the changed records' URLs rewritten, and the files of
    // new uploads copied first.
    let files = match settled.rewrite_urls {
        true => Some(crate::files::uploads::SyncFiles::open(workspace)?),
        false => None,
    };
    let output = plan_workspace(
        workspace,
        settled.mappings.as_ref(),
        &crate::progress::NoProgress,
    )?;
    match pg_load::read_run(connection, &options.target.pg_schema).await? {
        Some(run) if run.phase == LoadPhase::Done => {}
        _ => {
            return Err(PipelineError::NoFinishedLoad {
                pg_schema: options.target.pg_schema.clone(),
            });
        }
    }
    // Base44 enforces no reference: a record can point at one created after it, not yet synced,
    // or deleted. Foreign keys would refuse such changes, so they are taken off while syncing;
    // the cutover adds them back, validated where no orphans exist.
    let mut suspended = Vec::new();
    for key in &output.target.foreign_keys {
        if pg_load::constraint_exists(connection, &options.target.pg_schema, &key.table, &key.name)
            .await?
        {
            let sql = format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                offbase_sql::quote_identifier(&key.table),
                offbase_sql::quote_identifier(&key.name)
            );
            pg_load::execute_in(connection, &options.target.pg_schema, &sql).await?;
            suspended.push(key.name.clone());
        }
    }
    if !suspended.is_empty() {
        reporter.message(&format!(
            "foreign keys taken off while syncing (Base44 enforces none; the cutover adds them back): {}",
            suspended.join(", ")
        ));
    }
    let mut states = read_states(connection, &options.target.pg_schema).await?;
    // Schema drift: columns the plan has and the tables do not (a field the schemas gained)
    // are added, nullable; an entity without a table needs a load of its own.
    let catalog = offbase_pg::introspect(connection, &options.target.pg_schema).await?;
    let mut added_columns = Vec::new();
    let mut missing_tables = BTreeSet::new();
    for table in &output.target.tables {
        let Some(existing) = catalog.tables.get(&table.name) else {
            missing_tables.insert(table.name.clone());
            continue;
        };
        for column in &table.columns {
            if existing.column(&column.name).is_none() {
                let sql = offbase_sql::add_column(table, column);
                pg_load::execute_in(connection, &options.target.pg_schema, &sql).await?;
                let added = format!("{}.{} {}", table.name, column.name, column.pg_type);
                reporter.message(&format!(
                    "the schema gained a field: added column {added} (nullable; rows already there have NULL, or the value in _extra)"
                ));
                added_columns.push(added);
            }
        }
    }
    let enum_oids = pg_load::enum_type_oids(connection, &options.target.pg_schema).await?;
    let mut entities = Vec::new();
    let mut skipped = Vec::new();
    for entity in &output.app.entities {
        let Some(table) = output.target.table_for_entity(&entity.name) else {
            continue;
        };
        let repair = match only {
            Some(records) => match records.get(&entity.name) {
                Some(ids) => Some(ids),
                None => continue,
            },
            None => None,
        };
        if missing_tables.contains(&table.name) {
            let why = format!(
                "{}: table {} does not exist in schema {:?} (an entity the schemas gained): load it before syncing it",
                entity.name, table.name, options.target.pg_schema
            );
            reporter.message(&why);
            skipped.push(why);
            continue;
        }
        let converter = EntityConverter::new(&output.target, table, settled.relax);
        let mut encoders: Vec<Box<dyn RowEncoder>> =
            vec![Box::new(BinaryRows::new(table, &enum_oids)?)];
        let mut junctions = Vec::new();
        for junction in converter.junctions() {
            encoders.push(Box::new(BinaryRows::new(junction, &enum_oids)?));
            junctions.push(JunctionTarget {
                table: junction.name.clone(),
                columns: junction
                    .columns
                    .iter()
                    .map(|column| column.name.clone())
                    .collect(),
            });
        }
        let mut state = states.remove(&entity.name).unwrap_or_default();
        let context = EntitySync {
            workspace,
            client,
            options,
            entity,
            table,
            converter,
            encoders,
            started_from: state.cursor,
            lags: std::sync::Mutex::new(Vec::new()),
            junctions,
            force: repair.is_some(),
            files: files.as_ref(),
            files_copied: std::sync::atomic::AtomicU64::new(0),
        };
        let report = match repair {
            Some(ids) => {
                context
                    .repair(connection, &mut state, ids, reporter)
                    .await?
            }
            None => context.pass(connection, &mut state, reporter).await?,
        };
        entities.push(report);
    }
    Ok(SyncSummary {
        pg_schema: options.target.pg_schema.clone(),
        entities,
        skipped,
        suspended_foreign_keys: suspended,
        added_columns,
        seconds: started.elapsed().as_secs_f64(),
    })
}
