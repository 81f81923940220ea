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

use crate::PipelineError;
use crate::load::LoadOptions;
use crate::plan::plan_workspace;
use crate::progress::Reporter;
use crate::staged::column_types;
use crate::workspace::{Workspace, canonical_record};
use offbase_base44::client::{Client, ListQuery};
use offbase_copy::binary::BinaryEncoder;
use offbase_copy::convert::{EntityConverter, Relax};
use offbase_model::{BuiltIn, Entity, Table};
use offbase_pg::load::{self as pg_load, BatchError, LoadPhase};
use offbase_pg::sync::{self as pg_sync, JunctionTarget, SyncTransaction, UpsertTarget};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

/// How a sync pass runs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub database_url: String,
    pub pg_schema: String,
    pub mappings: Option<std::path::PathBuf>,
    /// Records per request (Base44 caps at 5000).
    pub page_size: usize,
    /// How far before the cursor each pass reads again: writes that become visible late
    /// (stamped before an earlier pass read past their instant) are still seen.
    pub overlap: Duration,
    /// List every live key and delete rows the source no longer has.
    pub reconcile: bool,
    /// How often to reconcile (the first pass always does): listing every key costs a
    /// request per 5,000 records, against the platform's rate limit.
    pub reconcile_every: Duration,
    /// Mark deleted records' rows with a `deleted_at` timestamp instead of deleting them.
    pub soft_delete: bool,
    /// The app's schemas as they are now (a code export): copied into the workspace before
    /// each pass, so fields the schemas gained become columns.
    pub schema_from: Option<std::path::PathBuf>,
}

/// How much earlier than the pull's start the first pass reads: the pull's clock and the
/// platform's may disagree by this much.
const CLOCK_MARGIN_MICROS: i64 = 10 * 60 * 1_000_000;

/// The column `--soft-delete` adds and sets.
pub const SOFT_DELETE_COLUMN: &str = "deleted_at";

impl SyncOptions {
    pub fn new(database_url: impl Into<String>, pg_schema: impl Into<String>) -> Self {
        SyncOptions {
            database_url: database_url.into(),
            pg_schema: pg_schema.into(),
            mappings: None,
            page_size: offbase_base44::api::LIST_CAP,
            overlap: Duration::from_secs(5),
            reconcile: true,
            reconcile_every: Duration::from_secs(300),
            soft_delete: false,
            schema_from: None,
        }
    }

    /// The options of the load whose tables this sync keeps up to date.
    pub fn for_load(load: &LoadOptions) -> Self {
        let mut options = SyncOptions::new(load.database_url.clone(), load.pg_schema.clone());
        options.mappings = load.mappings.clone();
        options
    }
}

/// An entity's sync state, saved in `offbase.sync_state` with every page it applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySyncState {
    /// The newest `updated_date` applied, in microseconds since the Unix epoch.
    pub cursor: Option<i64>,
    pub passes: u64,
    pub fetched: u64,
    pub upserted: u64,
    pub deleted: u64,
    pub rejected: u64,
    /// When the last pass finished and when the last reconciliation began (Unix
    /// microseconds).
    pub last_pass: Option<i64>,
    pub last_reconcile: Option<i64>,
    /// Rejected versions (id, `updated_date` in microseconds) still inside the overlap window,
    /// so a record read again there is not rejected twice.
    #[serde(default)]
    pub recent_rejects: BTreeSet<(String, i64)>,
}

/// What one pass did for one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitySyncReport {
    pub entity: String,
    pub table: String,
    pub fetched: u64,
    pub upserted: u64,
    pub deleted: u64,
    pub rejected: u64,
    /// The newest `updated_date` applied (ISO 8601, UTC).
    pub cursor: Option<String>,
    /// Seconds between the newest applied change and the end of the pass.
    pub lag_seconds: Option<f64>,
    /// For each change this pass saw for the first time (newer than the cursor it started
    /// from), milliseconds from its `updated_date` to the commit that applied it; at most
    /// 10,000 a pass. Empty on an entity's first pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub change_lags_ms: Vec<u64>,
}

/// The most change lags one pass reports per entity.
const MAX_LAG_SAMPLES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncSummary {
    pub pg_schema: String,
    pub entities: Vec<EntitySyncReport>,
    /// Entities the pass could not sync, with why.
    pub skipped: Vec<String>,
    /// Foreign keys this pass took off (the first pass after a load takes them all).
    pub suspended_foreign_keys: Vec<String>,
    /// Columns added for fields the schemas gained (`table.column type`).
    pub added_columns: Vec<String>,
    pub seconds: f64,
}

/// One sync pass over every entity of the workspace's plan.
pub async fn sync_once(
    workspace: &Workspace,
    client: &Client,
    options: &SyncOptions,
    reporter: &dyn Reporter,
) -> Result<SyncSummary, PipelineError> {
    let mut connection = offbase_pg::connect(&options.database_url).await?;
    pg_load::prepare_state(&mut connection).await?;
    // Refuse before waiting: a schema that was cut over never takes a sync again.
    offbase_pg::cutover::refuse_if_cut_over(&mut connection, &options.pg_schema).await?;
    crate::lock::lock_target(&mut connection, &options.pg_schema, "sync", reporter).await?;
    let summary = sync_pass(workspace, client, options, &mut connection, reporter).await;
    release(&mut connection, &options.pg_schema, summary).await
}

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
    let mut connection = offbase_pg::connect(&options.database_url).await?;
    pg_load::prepare_state(&mut connection).await?;
    offbase_pg::cutover::refuse_if_cut_over(&mut connection, &options.pg_schema).await?;
    crate::lock::lock_target(
        &mut connection,
        &options.pg_schema,
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
    release(&mut connection, &options.pg_schema, summary).await
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
    offbase_pg::cutover::refuse_if_cut_over(connection, &options.pg_schema).await?;
    if let Some(folder) = &options.schema_from {
        let outcome = offbase_base44::schema::read_app(folder)?;
        crate::pull::write_schemas(workspace, &outcome.app.entities)?;
    }
    let output = plan_workspace(
        workspace,
        options.mappings.as_deref(),
        &crate::progress::NoProgress,
    )?;
    match pg_load::read_run(connection, &options.pg_schema).await? {
        Some(run) if run.phase == LoadPhase::Done => {}
        _ => {
            return Err(PipelineError::Usage(format!(
                "schema {:?} holds no finished load: run `offbase load` (or `offbase migrate`) first, then sync",
                options.pg_schema
            )));
        }
    }
    // Base44 enforces no reference: a record can point at one created after it, not yet synced,
    // or deleted. Foreign keys would refuse such changes, so they are taken off while syncing;
    // the cutover adds them back, validated where no orphans exist.
    let mut suspended = Vec::new();
    for key in &output.target.foreign_keys {
        if pg_load::constraint_exists(connection, &options.pg_schema, &key.table, &key.name).await?
        {
            let sql = format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                offbase_sql::quote_identifier(&key.table),
                offbase_sql::quote_identifier(&key.name)
            );
            pg_load::execute_in(connection, &options.pg_schema, &sql).await?;
            suspended.push(key.name.clone());
        }
    }
    if !suspended.is_empty() {
        reporter.message(&format!(
            "foreign keys taken off while syncing (Base44 enforces none; the cutover adds them back): {}",
            suspended.join(", ")
        ));
    }
    let mut states = read_states(connection, &options.pg_schema).await?;
    // Schema drift: columns the plan has and the tables do not (a field the schemas gained)
    // are added, nullable; an entity without a table needs a load of its own.
    let catalog = offbase_pg::introspect(connection, &options.pg_schema).await?;
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
                pg_load::execute_in(connection, &options.pg_schema, &sql).await?;
                let added = format!("{}.{} {}", table.name, column.name, column.pg_type);
                reporter.message(&format!(
                    "the schema gained a field: added column {added} (nullable; rows already there have NULL, or the value in _extra)"
                ));
                added_columns.push(added);
            }
        }
    }
    let enum_oids = pg_load::enum_type_oids(connection, &options.pg_schema).await?;
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
                entity.name, table.name, options.pg_schema
            );
            reporter.message(&why);
            skipped.push(why);
            continue;
        }
        let converter = EntityConverter::new(&output.target, table, Relax::default());
        let mut junctions = Vec::new();
        for junction in converter.junctions() {
            let encoder =
                BinaryEncoder::new(&column_types(junction), &enum_oids).map_err(|error| {
                    PipelineError::Usage(format!("table {}: {error}", junction.name))
                })?;
            junctions.push((
                JunctionTarget {
                    table: junction.name.clone(),
                    columns: junction
                        .columns
                        .iter()
                        .map(|column| column.name.clone())
                        .collect(),
                },
                encoder,
            ));
        }
        let mut state = states.remove(&entity.name).unwrap_or_default();
        let context = EntitySync {
            workspace,
            client,
            options,
            entity,
            table,
            converter,
            encoder: BinaryEncoder::new(&column_types(table), &enum_oids)
                .map_err(|error| PipelineError::Usage(format!("table {}: {error}", table.name)))?,
            started_from: state.cursor,
            lags: std::sync::Mutex::new(Vec::new()),
            junctions,
            force: repair.is_some(),
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
        pg_schema: options.pg_schema.clone(),
        entities,
        skipped,
        suspended_foreign_keys: suspended,
        added_columns,
        seconds: started.elapsed().as_secs_f64(),
    })
}

struct EntitySync<'a> {
    workspace: &'a Workspace,
    client: &'a Client,
    options: &'a SyncOptions,
    entity: &'a Entity,
    table: &'a Table,
    converter: EntityConverter<'a>,
    encoder: BinaryEncoder,
    /// The cursor the pass started from, and the lags of the changes newer than it.
    started_from: Option<i64>,
    lags: std::sync::Mutex<Vec<u64>>,
    /// The entity's junction tables (arrays of references), in the converter's order.
    junctions: Vec<(JunctionTarget, BinaryEncoder)>,
    /// Write whatever the stored version (the reviewed repair).
    force: bool,
}

impl EntitySync<'_> {
    async fn pass(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
        reporter: &dyn Reporter,
    ) -> Result<EntitySyncReport, PipelineError> {
        let name = self.entity.name.as_str();
        reporter.started(name, None);
        let before = (state.fetched, state.upserted, state.deleted, state.rejected);
        self.changes(connection, state, reporter).await?;
        self.deletes(connection, state).await?;
        state.passes += 1;
        state.last_pass = Some(now_micros());
        self.finish(connection, state, before, reporter).await
    }

    /// The reviewed repair of `ids`: each fetched by id and written over its row, or its row
    /// deleted when the source no longer has the record.
    async fn repair(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
        ids: &BTreeSet<String>,
        reporter: &dyn Reporter,
    ) -> Result<EntitySyncReport, PipelineError> {
        let name = self.entity.name.as_str();
        reporter.started(name, Some(ids.len() as u64));
        let before = (state.fetched, state.upserted, state.deleted, state.rejected);
        let mut found = Vec::new();
        let mut gone = Vec::new();
        for id in ids {
            match self.client.get(name, id).await? {
                Some(record) => found.push(record),
                None => gone.push(id.clone()),
            }
        }
        while !found.is_empty() {
            let rest = found.split_off(found.len().min(self.options.page_size.max(1)));
            let page = std::mem::replace(&mut found, rest);
            self.apply(connection, state, page, reporter).await?;
        }
        self.delete_rows(connection, state, gone).await?;
        self.finish(connection, state, before, reporter).await
    }

    /// Saves the state after a pass or a repair and says what it did.
    async fn finish(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
        before: (u64, u64, u64, u64),
        reporter: &dyn Reporter,
    ) -> Result<EntitySyncReport, PipelineError> {
        let name = self.entity.name.as_str();
        let now = now_micros();
        let mut transaction = SyncTransaction::begin(connection, &self.options.pg_schema).await?;
        transaction.save_state(name, &json!(state)).await?;
        transaction.commit().await?;
        reporter.finished(name);
        Ok(EntitySyncReport {
            entity: name.to_owned(),
            table: self.table.name.clone(),
            fetched: state.fetched - before.0,
            upserted: state.upserted - before.1,
            deleted: state.deleted - before.2,
            rejected: state.rejected - before.3,
            cursor: state.cursor.map(format_micros),
            lag_seconds: state
                .cursor
                .map(|cursor| (now - cursor).max(0) as f64 / 1e6),
            change_lags_ms: self
                .lags
                .lock()
                .map(|mut lags| std::mem::take(&mut *lags))
                .unwrap_or_default(),
        })
    }

    /// Reads and applies every change at or after the cursor minus the overlap.
    async fn changes(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
        reporter: &dyn Reporter,
    ) -> Result<(), PipelineError> {
        let updated = BuiltIn::UpdatedDate.field_name();
        let overlap = i64::try_from(self.options.overlap.as_micros()).unwrap_or(i64::MAX);
        // The lower bound: `$gte` this instant. At the first pass, where the pull began (less
        // a margin for the clocks of this machine and the platform), or everything when the
        // workspace does not say.
        let mut lower: Option<i64> = match state.cursor {
            Some(cursor) => Some(cursor.saturating_sub(overlap)),
            None => self
                .pull_started()
                .map(|started| started.saturating_sub(overlap + CLOCK_MARGIN_MICROS)),
        };
        let mut exclusive = false;
        if state.cursor.is_none()
            && let Some(start) = lower
        {
            // Everything before the pull's start is in the load: the cursor starts there, so
            // a quiet entity does not read from the pull's start on every pass.
            state.cursor = Some(start.saturating_add(overlap));
        }
        loop {
            let q = lower.map(|bound| {
                let operator = if exclusive { "$gt" } else { "$gte" };
                json!({ updated: { operator: format_micros(bound) } })
            });
            let page = self
                .client
                .list(
                    &self.entity.name,
                    &ListQuery {
                        q,
                        sort: Some(updated.to_owned()),
                        limit: Some(self.options.page_size),
                        ..ListQuery::default()
                    },
                )
                .await?;
            let full = page.len() >= self.options.page_size;
            let first = page.first().and_then(updated_micros);
            let last = page.last().and_then(updated_micros);
            self.apply(connection, state, page, reporter).await?;
            if !full {
                return Ok(());
            }
            match (first, last) {
                (Some(first), Some(last)) if first == last => {
                    // A whole page of one instant: read that instant by id, then go past it.
                    self.within_instant(connection, state, last, reporter)
                        .await?;
                    lower = Some(last);
                    exclusive = true;
                }
                (_, Some(last)) => {
                    lower = Some(last);
                    exclusive = false;
                }
                // Records without a readable `updated_date` sort first; there is no key to
                // page on past them.
                (_, None) => return Ok(()),
            }
        }
    }

    /// When the pull of this entity began, from the workspace's `state/pull.json`.
    fn pull_started(&self) -> Option<i64> {
        let state: crate::pull::PullState = self
            .workspace
            .read_json(&self.workspace.pull_state_path())
            .ok()
            .flatten()?;
        state.entities.get(&self.entity.name)?.started_at
    }

    async fn within_instant(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
        instant: i64,
        reporter: &dyn Reporter,
    ) -> Result<(), PipelineError> {
        let updated = BuiltIn::UpdatedDate.field_name();
        let id = BuiltIn::Id.field_name();
        let mut after: Option<String> = None;
        loop {
            let mut q = Map::new();
            q.insert(updated.to_owned(), json!(format_micros(instant)));
            if let Some(after) = &after {
                q.insert(id.to_owned(), json!({ "$gt": after }));
            }
            let page = self
                .client
                .list(
                    &self.entity.name,
                    &ListQuery {
                        q: Some(Value::Object(q)),
                        sort: Some(id.to_owned()),
                        limit: Some(self.options.page_size),
                        ..ListQuery::default()
                    },
                )
                .await?;
            let full = page.len() >= self.options.page_size;
            after = page
                .last()
                .and_then(|record| record.get(id))
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.apply(connection, state, page, reporter).await?;
            if !full || after.is_none() {
                return Ok(());
            }
        }
    }

    /// Converts a page, upserts what converts and rejects the rest, and saves the advanced
    /// cursor, in one transaction.
    async fn apply(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
        page: Vec<Map<String, Value>>,
        reporter: &dyn Reporter,
    ) -> Result<(), PipelineError> {
        if page.is_empty() {
            return Ok(());
        }
        let fetched = page.len() as u64;
        // One version per id: the newest (a page can hold an id once; this is a guard).
        let mut newest: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        let mut cursor = state.cursor;
        let mut rejects = Vec::new();
        for record in page {
            let record = canonical_record(record, self.entity);
            let version = updated_micros(&record);
            cursor = cursor.max(version);
            let Some(id) = self.converter.record_id(&record).map(str::to_owned) else {
                rejects.push((
                    None,
                    reject_line(
                        &self.entity.name,
                        &record,
                        "wrong_type",
                        "the record has no id",
                        Some(BuiltIn::Id.field_name()),
                        None,
                    ),
                ));
                continue;
            };
            match newest.get(&id) {
                Some(kept) if updated_micros(kept) > version => {}
                _ => {
                    newest.insert(id, record);
                }
            }
        }
        let mut rows = Vec::new();
        let mut junction_rows: Vec<Vec<u8>> = vec![Vec::new(); self.junctions.len()];
        let mut rejected = rejects.len() as u64;
        for record in newest.values() {
            match self.converter.convert(record) {
                Ok(converted) => {
                    // All of a record's rows, or none of them.
                    let (rows_before, junctions_before): (usize, Vec<usize>) =
                        (rows.len(), junction_rows.iter().map(Vec::len).collect());
                    let mut encoded = self.encoder.encode_row(&converted.row, &mut rows);
                    for (junction, cells) in &converted.junction_rows {
                        if encoded.is_err() {
                            break;
                        }
                        if let (Some((_, encoder)), Some(out)) = (
                            self.junctions.get(*junction),
                            junction_rows.get_mut(*junction),
                        ) {
                            encoded = encoder.encode_row(cells, out);
                        }
                    }
                    if let Err(error) = encoded {
                        rows.truncate(rows_before);
                        for (out, length) in junction_rows.iter_mut().zip(junctions_before) {
                            out.truncate(length);
                        }
                        rejected += 1;
                        rejects.push((
                            reject_key(&self.converter, record),
                            reject_line(
                                &self.entity.name,
                                record,
                                "wrong_type",
                                &error.to_string(),
                                None,
                                None,
                            ),
                        ));
                    }
                }
                Err(rejection) => {
                    rejected += 1;
                    rejects.push((
                        reject_key(&self.converter, record),
                        reject_line(
                            &self.entity.name,
                            record,
                            rejection.reason.code(),
                            &rejection.message,
                            rejection.field.as_deref(),
                            rejection.value.as_deref(),
                        ),
                    ));
                }
            }
        }
        // A version rejected by an earlier pass (read again in the overlap) is not again.
        let mut fresh = Vec::new();
        let mut repeated = 0;
        for (key, line) in rejects {
            match key {
                Some(key) if state.recent_rejects.contains(&key) => repeated += 1,
                Some(key) => {
                    state.recent_rejects.insert(key);
                    fresh.push(line);
                }
                None => fresh.push(line),
            }
        }
        rejected -= repeated;
        if !fresh.is_empty() {
            self.write_rejects(&fresh)?;
        }
        let overlap = i64::try_from(self.options.overlap.as_micros()).unwrap_or(i64::MAX);
        if let Some(cursor) = cursor {
            let keep_from = cursor.saturating_sub(overlap.saturating_mul(2));
            state
                .recent_rejects
                .retain(|(_, version)| *version >= keep_from);
        }
        let target = UpsertTarget {
            table: self.table.name.clone(),
            columns: self
                .table
                .columns
                .iter()
                .map(|column| column.name.clone())
                .collect(),
            key: self.table.primary_key.clone(),
            version: self
                .table
                .column_for_field(BuiltIn::UpdatedDate.field_name())
                .map(|column| column.name.clone())
                .unwrap_or_else(|| BuiltIn::UpdatedDate.field_name().to_owned()),
            force: self.force,
        };
        let mut transaction = SyncTransaction::begin(connection, &self.options.pg_schema).await?;
        let upserted = if rows.is_empty() {
            0
        } else {
            let junctions: Vec<(JunctionTarget, Vec<u8>)> = self
                .junctions
                .iter()
                .map(|(junction, _)| junction.clone())
                .zip(junction_rows)
                .collect();
            match transaction.upsert(&target, &rows, &junctions).await {
                Ok(written) => written,
                Err(BatchError::Data(message)) => {
                    return Err(PipelineError::Usage(format!(
                        "{}: PostgreSQL refused a page of changes: {message}",
                        self.entity.name
                    )));
                }
                Err(BatchError::Other(error)) => return Err(error.into()),
            }
        };
        state.cursor = cursor;
        state.fetched += fetched;
        state.upserted += upserted;
        state.rejected += rejected;
        transaction
            .save_state(&self.entity.name, &json!(state))
            .await?;
        transaction.commit().await?;
        if let Some(from) = self.started_from
            && let Ok(mut lags) = self.lags.lock()
        {
            let committed = now_micros();
            for version in newest.values().filter_map(updated_micros) {
                if version > from && lags.len() < MAX_LAG_SAMPLES {
                    lags.push(u64::try_from((committed - version).max(0) / 1000).unwrap_or(0));
                }
            }
        }
        reporter.advanced(&self.entity.name, fetched);
        Ok(())
    }

    /// Deletes rows of records in the trash, then, when asked, rows whose record no longer
    /// exists in the source.
    async fn deletes(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
    ) -> Result<(), PipelineError> {
        let id = BuiltIn::Id.field_name();
        let id_column = self
            .table
            .column_for_field(id)
            .map(|column| column.name.clone())
            .unwrap_or_else(|| id.to_owned());
        let mut gone: BTreeSet<String> = BTreeSet::new();
        // The trash answers where the platform keeps one; without it, reconciliation alone.
        if let Ok(trash) = self
            .client
            .trash(
                &self.entity.name,
                &ListQuery {
                    fields: Some(vec![id.to_owned()]),
                    ..ListQuery::default()
                },
            )
            .await
        {
            gone.extend(
                trash
                    .iter()
                    .filter_map(|record| record.get(id).and_then(Value::as_str))
                    .map(str::to_owned),
            );
        }
        let every = i64::try_from(self.options.reconcile_every.as_micros()).unwrap_or(i64::MAX);
        let due = state
            .last_reconcile
            .is_none_or(|last| now_micros().saturating_sub(last) >= every);
        if self.options.reconcile && due {
            let began = now_micros();
            let live = self.live_ids().await?;
            let created_column = self
                .table
                .column_for_field(BuiltIn::CreatedDate.field_name())
                .map(|column| column.name.clone())
                .unwrap_or_else(|| BuiltIn::CreatedDate.field_name().to_owned());
            let overlap = i64::try_from(self.options.overlap.as_micros()).unwrap_or(i64::MAX);
            for (target_id, created) in pg_sync::target_ids(
                connection,
                &self.options.pg_schema,
                &self.table.name,
                &id_column,
                &created_column,
            )
            .await?
            {
                let settled = created.is_some_and(|created| created < began - overlap);
                if settled && !live.contains(&target_id) {
                    gone.insert(target_id);
                }
            }
            state.last_reconcile = Some(began);
        }
        self.delete_rows(connection, state, gone.into_iter().collect())
            .await
    }

    /// Deletes (or with `--soft-delete`, marks) the rows of these records, with their junction
    /// rows, and saves the state in the same transaction.
    async fn delete_rows(
        &self,
        connection: &mut offbase_pg::PgConnection,
        state: &mut EntitySyncState,
        ids: Vec<String>,
    ) -> Result<(), PipelineError> {
        if ids.is_empty() {
            return Ok(());
        }
        let id = BuiltIn::Id.field_name();
        let id_column = self
            .table
            .column_for_field(id)
            .map(|column| column.name.clone())
            .unwrap_or_else(|| id.to_owned());
        let mut transaction = SyncTransaction::begin(connection, &self.options.pg_schema).await?;
        let soft = self.options.soft_delete.then_some(SOFT_DELETE_COLUMN);
        if let Some(column) = soft {
            transaction
                .execute(&format!(
                    "ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS {} timestamptz",
                    offbase_sql::quote_identifier(&self.options.pg_schema),
                    offbase_sql::quote_identifier(&self.table.name),
                    offbase_sql::quote_identifier(column)
                ))
                .await?;
        }
        let deleted = transaction
            .delete(
                &self.table.name,
                &id_column,
                &ids,
                soft,
                &self
                    .junctions
                    .iter()
                    .map(|(junction, _)| junction.clone())
                    .collect::<Vec<_>>(),
            )
            .await?;
        state.deleted += deleted;
        transaction
            .save_state(&self.entity.name, &json!(state))
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Every live id, by keyset on `created_date` (keys only).
    async fn live_ids(&self) -> Result<BTreeSet<String>, PipelineError> {
        let created = BuiltIn::CreatedDate.field_name();
        let id = BuiltIn::Id.field_name();
        let mut ids = BTreeSet::new();
        let mut lower: Option<String> = None;
        loop {
            let page = self
                .client
                .list(
                    &self.entity.name,
                    &ListQuery {
                        q: lower
                            .as_ref()
                            .map(|bound| json!({ created: { "$gte": bound } })),
                        sort: Some(created.to_owned()),
                        limit: Some(self.options.page_size),
                        fields: Some(vec![id.to_owned(), created.to_owned()]),
                        ..ListQuery::default()
                    },
                )
                .await?;
            let full = page.len() >= self.options.page_size;
            let before = ids.len();
            for record in &page {
                if let Some(id) = record.get(id).and_then(Value::as_str) {
                    ids.insert(id.to_owned());
                }
            }
            let last = page
                .last()
                .and_then(|record| record.get(created))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if !full || last.is_none() {
                return Ok(ids);
            }
            if ids.len() == before {
                // A full page of one instant, all seen: read that instant by id.
                let mut after: Option<String> = None;
                loop {
                    let mut q = Map::new();
                    q.insert(created.to_owned(), json!(last));
                    if let Some(after) = &after {
                        q.insert(id.to_owned(), json!({ "$gt": after }));
                    }
                    let within = self
                        .client
                        .list(
                            &self.entity.name,
                            &ListQuery {
                                q: Some(Value::Object(q)),
                                sort: Some(id.to_owned()),
                                limit: Some(self.options.page_size),
                                fields: Some(vec![id.to_owned()]),
                                ..ListQuery::default()
                            },
                        )
                        .await?;
                    let within_full = within.len() >= self.options.page_size;
                    after = within
                        .last()
                        .and_then(|record| record.get(id))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    ids.extend(
                        within
                            .iter()
                            .filter_map(|record| record.get(id).and_then(Value::as_str))
                            .map(str::to_owned),
                    );
                    if !within_full || after.is_none() {
                        break;
                    }
                }
                lower = last.map(|last| {
                    offbase_model::time::parse_timestamp(&last)
                        .map(|instant| format_micros(instant.timestamp_micros() + 1))
                        .unwrap_or(last)
                });
            } else {
                lower = last;
            }
        }
    }

    fn write_rejects(&self, lines: &[Vec<u8>]) -> Result<(), PipelineError> {
        let path = self.workspace.rejects_path("sync-", &self.entity.name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| PipelineError::io(parent, error))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|error| PipelineError::io(&path, error))?;
        for line in lines {
            file.write_all(line)
                .map_err(|error| PipelineError::io(&path, error))?;
        }
        file.sync_data()
            .map_err(|error| PipelineError::io(&path, error))
    }
}

/// A reject line as the load writes them (entity, id, field, reason, message, value, the
/// whole record), where `source` says it came from the API by a sync.
fn reject_line(
    entity: &str,
    record: &Map<String, Value>,
    reason: &str,
    message: &str,
    field: Option<&str>,
    value: Option<&Value>,
) -> Vec<u8> {
    let line = json!({
        "entity": entity,
        "id": record.get(BuiltIn::Id.field_name()),
        "field": field,
        "reason": reason,
        "message": message,
        "value": value,
        "source": "sync",
        "record": record,
    });
    let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A rejected version: the record's id and `updated_date`.
fn reject_key(
    converter: &EntityConverter<'_>,
    record: &Map<String, Value>,
) -> Option<(String, i64)> {
    Some((
        converter.record_id(record)?.to_owned(),
        updated_micros(record)?,
    ))
}

fn updated_micros(record: &Map<String, Value>) -> Option<i64> {
    record
        .get(BuiltIn::UpdatedDate.field_name())
        .and_then(Value::as_str)
        .and_then(offbase_model::time::parse_timestamp)
        .map(|instant| instant.timestamp_micros())
}

/// An instant as Base44 writes fresh timestamps, to the microsecond.
fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|instant| instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Where the load and the sync of one target schema stand, read from the target alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub pg_schema: String,
    /// The load's phase (`data`, `post_load`, `done`), or `None` when nothing was loaded.
    pub load_phase: Option<String>,
    /// The switch, once the schema was cut over (no sync writes into it then).
    #[serde(default)]
    pub cut_over: Option<offbase_pg::cutover::CutoverMark>,
    pub entities: Vec<EntityStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityStatus {
    pub entity: String,
    /// The newest `updated_date` applied (ISO 8601, UTC).
    pub cursor: Option<String>,
    /// Now minus the cursor, in seconds.
    pub lag_seconds: Option<f64>,
    /// Seconds since the last finished pass and since the last reconciliation began.
    pub since_last_pass_seconds: Option<f64>,
    pub since_last_reconcile_seconds: Option<f64>,
    pub state: EntitySyncState,
}

/// Every entity's saved state for `pg_schema`.
async fn read_states(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
) -> Result<BTreeMap<String, EntitySyncState>, PipelineError> {
    let mut states = BTreeMap::new();
    for (entity, value) in pg_sync::read_sync_states(connection, pg_schema).await? {
        let state = serde_json::from_value(value).map_err(|error| {
            PipelineError::Usage(format!(
                "the sync state of {entity} in offbase.sync_state is damaged ({error}): delete its row to start that entity's sync over"
            ))
        })?;
        states.insert(entity, state);
    }
    Ok(states)
}

/// Reads the sync state of `pg_schema`.
pub async fn status(database_url: &str, pg_schema: &str) -> Result<SyncStatus, PipelineError> {
    let mut connection = offbase_pg::connect(database_url).await?;
    let connection = &mut connection;
    // Read-only: where offbase never ran, there is nothing to read and nothing is created.
    let loads = pg_sync::state_table_exists(connection, "load_runs").await?;
    let syncs = pg_sync::state_table_exists(connection, "sync_state").await?;
    let load_phase = if loads {
        pg_load::read_run(connection, pg_schema).await?
    } else {
        None
    }
    .map(|run| {
        serde_json::to_value(run.phase)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    let now = now_micros();
    let seconds = |micros: Option<i64>| micros.map(|micros| (now - micros).max(0) as f64 / 1e6);
    let mut entities = Vec::new();
    let states = if syncs {
        read_states(connection, pg_schema).await?
    } else {
        BTreeMap::new()
    };
    for (entity, state) in states {
        entities.push(EntityStatus {
            entity,
            cursor: state.cursor.map(format_micros),
            lag_seconds: seconds(state.cursor),
            since_last_pass_seconds: seconds(state.last_pass),
            since_last_reconcile_seconds: seconds(state.last_reconcile),
            state,
        });
    }
    let cut_over = offbase_pg::cutover::read_mark(connection, pg_schema).await?;
    Ok(SyncStatus {
        pg_schema: pg_schema.to_owned(),
        load_phase,
        cut_over,
        entities,
    })
}
