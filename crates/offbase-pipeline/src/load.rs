//! The load stage: a workspace into PostgreSQL. Tables go in first (without primary keys and
//! relaxed constraints), then every entity's staged parts stream in with binary COPY, one
//! batch a transaction together with the entity's checkpoint; then primary keys, relaxed
//! constraints the data allows, indexes, foreign keys (validated where no orphans exist) and
//! ANALYZE. A kill at any moment and a rerun give exactly the rows of an uninterrupted load.
//!
//! Reading and encoding run on their own thread, one batch ahead of the database, so parsing
//! JSON and PostgreSQL's COPY work at the same time.

use crate::PipelineError;
use crate::plan::{PlanOutput, plan_workspace};
use crate::progress::Reporter;
use crate::staged::{
    BinaryRows, LineOutcome, LineProcessor, PartReader, Position, RowEncoder, find_duplicates,
};
use crate::workspace::{EntityManifest, Manifest, Workspace};
pub use offbase_copy::convert::Relax;
use offbase_copy::convert::{ConstraintKind, EntityConverter, RejectReason};
use offbase_model::{BuiltIn, Table, TargetSchema};
use offbase_pg::PgConnection;
use offbase_pg::load::{self as pg_load, BatchError, LoadPhase, LoadTransaction, copy_statement};
use offbase_sql::{LoadSql, render_for_load};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What to do when the target schema already holds a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Resume an unfinished load of the same workspace; do nothing for a finished one.
    #[default]
    Resume,
    /// Drop the tables of the earlier load and load again.
    Replace,
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub database_url: String,
    pub pg_schema: String,
    pub mappings: Option<PathBuf>,
    pub relax: Relax,
    pub existing: Existing,
    /// Records per batch (one transaction each).
    pub batch_records: usize,
    /// Encoded bytes per batch.
    pub batch_bytes: usize,
}

impl LoadOptions {
    pub fn new(database_url: impl Into<String>, pg_schema: impl Into<String>) -> Self {
        LoadOptions {
            database_url: database_url.into(),
            pg_schema: pg_schema.into(),
            mappings: None,
            relax: Relax::default(),
            existing: Existing::Resume,
            batch_records: 50_000,
            batch_bytes: 4 << 20,
        }
    }
}

/// An entity's progress, stored in the target with every batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityCheckpoint {
    pub position: Position,
    pub read: u64,
    pub loaded: u64,
    pub rejected: u64,
    /// Rejected as superseded duplicates (counted in `rejected` too).
    pub duplicates: u64,
    pub junction_rows: u64,
    /// Bytes of staged data consumed.
    pub bytes: u64,
    /// The length of the entity's reject file after the batch.
    pub reject_bytes: u64,
    /// Rejects by reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Rows let through a relaxed constraint: `column` → kind → rows.
    pub relaxed: BTreeMap<String, BTreeMap<String, u64>>,
    pub finished: bool,
    /// Seconds spent loading, over all runs.
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityLoadSummary {
    pub entity: String,
    /// The table, or `None` when the mapping skips the entity.
    pub table: Option<String>,
    pub read: u64,
    pub loaded: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub junction_rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub reasons: BTreeMap<String, u64>,
    /// The manifest's record count, which `read` must equal.
    pub staged: u64,
}

impl EntityLoadSummary {
    /// An entity nothing was read of yet.
    pub fn empty(entity: &str, table: Option<String>, staged: u64) -> Self {
        EntityLoadSummary {
            entity: entity.to_owned(),
            table,
            read: 0,
            loaded: 0,
            rejected: 0,
            duplicates: 0,
            junction_rows: 0,
            bytes: 0,
            seconds: 0.0,
            reasons: BTreeMap::new(),
            staged,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyReport {
    pub name: String,
    pub table: String,
    pub column: String,
    pub target_table: String,
    pub orphans: u64,
    /// Ids of referencing rows whose reference matches nothing (at most five).
    pub sample: Vec<String>,
    pub validated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelaxedReport {
    pub table: String,
    pub column: String,
    pub kind: ConstraintKind,
    pub rows: u64,
    /// Added back because no loaded row breaks it.
    pub restored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadStatus {
    Loaded,
    /// The schema already held a finished load of this workspace: nothing was done.
    AlreadyLoaded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub status: LoadStatus,
    pub workspace: String,
    pub database: String,
    pub pg_schema: String,
    pub entities: Vec<EntityLoadSummary>,
    pub foreign_keys: Vec<ForeignKeyReport>,
    pub relaxed: Vec<RelaxedReport>,
    pub rejects_folder: String,
    pub seconds: f64,
}

impl LoadSummary {
    /// Whether every entity's `read = loaded + rejected` and `read` = the staged count.
    pub fn balanced(&self) -> bool {
        self.entities.iter().all(|entity| {
            entity.table.is_none()
                || (entity.read == entity.loaded + entity.rejected && entity.read == entity.staged)
        })
    }

    pub fn rejected(&self) -> u64 {
        self.entities.iter().map(|entity| entity.rejected).sum()
    }
}

/// The reject file of an entity.
pub fn rejects_path(workspace: &Workspace, entity: &str) -> PathBuf {
    workspace.rejects_path("", entity)
}

/// Loads `workspace` into the database of `options`.
pub async fn load(
    workspace: &Workspace,
    options: &LoadOptions,
    reporter: &dyn Reporter,
) -> Result<LoadSummary, PipelineError> {
    let started = Instant::now();
    let manifest_path = workspace.manifest_path();
    let manifest_bytes = match fs::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(PipelineError::Usage(format!(
                "{} has no manifest.json: stage data first with `offbase pull` (or `offbase migrate`)",
                workspace.root().display()
            )));
        }
        Err(error) => return Err(PipelineError::io(&manifest_path, error)),
    };
    let _workspace_lock = crate::lock::lock_workspace(workspace, "load")?;
    let manifest: Manifest = workspace.read_json(&manifest_path)?.unwrap_or_default();
    let output = plan_workspace(workspace, options.mappings.as_deref(), reporter)?;
    let load_sql = render_for_load(&output.target, options.relax);
    let digest = load_digest(&manifest_bytes, &load_sql, options.relax);

    let mut connection = offbase_pg::connect(&options.database_url).await?;
    pg_load::prepare_state(&mut connection).await?;
    // One load of a schema at a time (two would copy every row twice), and no sync pass while
    // it runs; the lock lives as long as this connection.
    crate::lock::refuse_if_target_busy(&mut connection, &options.pg_schema, "load").await?;
    // A cut-over schema holds the app's live data: a load (above all `--replace`) never touches it.
    offbase_pg::cutover::refuse_if_cut_over(&mut connection, &options.pg_schema).await?;
    let names = output.target.relation_names();
    let run = pg_load::read_run(&mut connection, &options.pg_schema).await?;
    // The state in schema `offbase` outlives the tables it describes when someone drops the
    // target schema (or its tables) by hand: then it is stale, and the load starts afresh.
    let run = match run {
        Some(run) => {
            let table_names: Vec<String> = output
                .target
                .tables
                .iter()
                .map(|table| table.name.clone())
                .collect();
            let presence =
                pg_load::target_presence(&mut connection, &options.pg_schema, &table_names).await?;
            // Another load's tables are unknown here: only an empty schema proves them gone.
            let stale = if !presence.schema_exists {
                Some("the schema no longer exists")
            } else if run.digest == digest && !presence.holds_named {
                Some("the schema no longer holds the load's tables")
            } else if !presence.holds_tables {
                Some("the schema holds no table any more")
            } else {
                None
            };
            match stale {
                Some(why) => {
                    reporter.message(&format!(
                        "the load state of schema {:?} in schema offbase is stale ({why}): forgetting it and starting afresh",
                        options.pg_schema
                    ));
                    pg_load::discard_run(&mut connection, &options.pg_schema, &[], &[]).await?;
                    None
                }
                None => Some(run),
            }
        }
        None => None,
    };
    let rejects_folder = workspace.rejects_dir();
    // Whether this run starts a load (new tables, no rejects yet) or continues one.
    let starts = match run {
        Some(_) if options.existing == Existing::Replace => {
            reporter.message(&format!(
                "--replace: dropping the tables of the earlier load in schema {:?}",
                options.pg_schema
            ));
            let tables: Vec<String> = output
                .target
                .tables
                .iter()
                .map(|table| table.name.clone())
                .collect();
            let types: Vec<String> = output
                .target
                .enum_types
                .iter()
                .map(|enum_type| enum_type.name.clone())
                .collect();
            pg_load::discard_run(&mut connection, &options.pg_schema, &tables, &types).await?;
            true
        }
        Some(run) if run.digest != digest => {
            return Err(PipelineError::Usage(format!(
                "schema {:?} holds a load of other staged data, another plan or other --relax options: \
                 load into another schema with --pg-schema, or drop that load and start again with --replace",
                options.pg_schema
            )));
        }
        Some(run) if run.phase == LoadPhase::Done => {
            if let Some(mut summary) = run
                .report
                .and_then(|report| serde_json::from_value::<LoadSummary>(report).ok())
            {
                summary.status = LoadStatus::AlreadyLoaded;
                summary.seconds = started.elapsed().as_secs_f64();
                return Ok(summary);
            }
            false
        }
        Some(_) => {
            reporter.message(&format!(
                "resuming the unfinished load of schema {:?}",
                options.pg_schema
            ));
            false
        }
        None => true,
    };
    if starts {
        clear_rejects(&rejects_folder)?;
        pg_load::begin_run(
            &mut connection,
            &options.pg_schema,
            &digest,
            &names,
            &load_sql.tables,
        )
        .await?;
    }

    let enum_oids = pg_load::enum_type_oids(&mut connection, &options.pg_schema).await?;
    let enum_oids = Arc::new(enum_oids);
    let mut checkpoints: BTreeMap<String, EntityCheckpoint> = BTreeMap::new();
    for (entity, value) in pg_load::read_checkpoints(&mut connection, &options.pg_schema).await? {
        let checkpoint = serde_json::from_value(value).map_err(|error| PipelineError::Usage(
            format!("the checkpoint of {entity} in offbase.load_checkpoints is damaged ({error}): start again with --replace"),
        ))?;
        checkpoints.insert(entity, checkpoint);
    }
    let target = Arc::new(output.target.clone());
    let mut entities = Vec::new();
    for (entity, entry) in &manifest.entities {
        let Some(table) = target.table_for_entity(entity) else {
            reporter.message(&format!(
                "{entity}: no table (the mapping skips it): its {} staged records are not loaded",
                entry.records
            ));
            entities.push(EntityLoadSummary::empty(entity, None, entry.records));
            continue;
        };
        let checkpoint = checkpoints.remove(entity).unwrap_or_default();
        let context = EntityContext {
            workspace: workspace.clone(),
            entity: entity.clone(),
            manifest: entry.clone(),
            target: Arc::clone(&target),
            enum_oids: Arc::clone(&enum_oids),
            pg_schema: options.pg_schema.clone(),
            relax: options.relax,
            batch_records: options.batch_records.max(1),
            batch_bytes: options.batch_bytes.max(1 << 16),
        };
        let checkpoint = load_entity(&mut connection, &context, checkpoint, reporter).await?;
        entities.push(EntityLoadSummary {
            entity: entity.clone(),
            table: Some(table.name.clone()),
            read: checkpoint.read,
            loaded: checkpoint.loaded,
            rejected: checkpoint.rejected,
            duplicates: checkpoint.duplicates,
            junction_rows: checkpoint.junction_rows,
            bytes: checkpoint.bytes,
            seconds: checkpoint.seconds,
            reasons: checkpoint.reasons.clone(),
            staged: entry.records,
        });
        checkpoints.insert(entity.clone(), checkpoint);
    }
    pg_load::set_phase(
        &mut connection,
        &options.pg_schema,
        LoadPhase::PostLoad,
        None,
    )
    .await?;
    let (relaxed, foreign_keys) = post_load(
        &mut connection,
        &options.database_url,
        &options.pg_schema,
        &output,
        &load_sql,
        &checkpoints,
        reporter,
    )
    .await?;
    let summary = LoadSummary {
        status: LoadStatus::Loaded,
        workspace: workspace.root().display().to_string(),
        database: offbase_pg::redact_url(&options.database_url),
        pg_schema: options.pg_schema.clone(),
        entities,
        foreign_keys,
        relaxed,
        rejects_folder: rejects_folder.display().to_string(),
        seconds: started.elapsed().as_secs_f64(),
    };
    write_reports(workspace, &summary)?;
    let report = serde_json::to_value(&summary).ok();
    pg_load::set_phase(
        &mut connection,
        &options.pg_schema,
        LoadPhase::Done,
        report.as_ref(),
    )
    .await?;
    Ok(summary)
}

fn clear_rejects(folder: &Path) -> Result<(), PipelineError> {
    match fs::remove_dir_all(folder) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(PipelineError::io(folder, error)),
    }
}

/// Identifies what a load is of: the staged data (its manifest, which hashes every part), the
/// DDL and the relax options. A resume must match it.
fn load_digest(manifest: &[u8], load_sql: &LoadSql, relax: Relax) -> String {
    let mut hasher = Sha256::new();
    hasher.update(manifest);
    hasher.update(serde_json::to_vec(load_sql).unwrap_or_default());
    hasher.update(serde_json::to_vec(&relax).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Everything the reading thread of one entity needs, owned.
#[derive(Clone)]
struct EntityContext {
    workspace: Workspace,
    entity: String,
    manifest: EntityManifest,
    target: Arc<TargetSchema>,
    enum_oids: Arc<BTreeMap<String, u32>>,
    pg_schema: String,
    relax: Relax,
    batch_records: usize,
    batch_bytes: usize,
}

impl EntityContext {
    fn table(&self) -> Option<&Table> {
        self.target.table_for_entity(&self.entity)
    }

    fn part_files(&self) -> Vec<String> {
        self.manifest
            .parts
            .iter()
            .map(|part| part.file.clone())
            .collect()
    }

    fn processor<'t>(
        &'t self,
        duplicates: crate::staged::Duplicates,
    ) -> Result<LineProcessor<'t>, PipelineError> {
        let table = self.table().ok_or_else(|| {
            PipelineError::Usage(format!("{}: no table in the plan", self.entity))
        })?;
        let converter = EntityConverter::new(&self.target, table, self.relax);
        let mut encoders: Vec<Box<dyn RowEncoder + 't>> =
            vec![Box::new(BinaryRows::new(table, &self.enum_oids)?)];
        for junction in converter.junctions() {
            encoders.push(Box::new(BinaryRows::new(junction, &self.enum_oids)?));
        }
        Ok(LineProcessor {
            entity: self.entity.clone(),
            converter,
            encoders,
            duplicates,
            part_files: self.part_files(),
        })
    }

    /// COPY statements: the entity's table, then its junction tables.
    fn statements(&self) -> Vec<String> {
        let Some(table) = self.table() else {
            return Vec::new();
        };
        let converter = EntityConverter::new(&self.target, table, self.relax);
        let mut statements = vec![statement_for(&self.pg_schema, table)];
        statements.extend(
            converter
                .junctions()
                .iter()
                .map(|junction| statement_for(&self.pg_schema, junction)),
        );
        statements
    }
}

fn statement_for(pg_schema: &str, table: &Table) -> String {
    let columns: Vec<&str> = table
        .columns
        .iter()
        .map(|column| column.name.as_str())
        .collect();
    copy_statement(pg_schema, &table.name, &columns)
}

/// One batch, read and encoded.
#[derive(Debug, Default)]
struct Batch {
    start: Position,
    end: Position,
    read: u64,
    loaded: u64,
    junction_rows: u64,
    bytes: u64,
    tables: Vec<Vec<u8>>,
    rejects: Vec<u8>,
    reasons: BTreeMap<String, u64>,
    relaxed: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Batch {
    fn rejected(&self) -> u64 {
        self.reasons.values().sum()
    }

    fn absorb(&mut self, outcome: LineOutcome) {
        match outcome {
            LineOutcome::Rows {
                tables,
                junction_rows,
                relaxed,
            } => {
                self.loaded += 1;
                self.junction_rows += junction_rows;
                if self.tables.len() < tables.len() {
                    self.tables.resize(tables.len(), Vec::new());
                }
                for (out, rows) in self.tables.iter_mut().zip(tables) {
                    out.extend_from_slice(&rows);
                }
                for (column, kind) in relaxed {
                    *self
                        .relaxed
                        .entry(column)
                        .or_default()
                        .entry(kind_name(kind).to_owned())
                        .or_default() += 1;
                }
            }
            LineOutcome::Rejected { reason, line } => {
                self.rejects.extend_from_slice(&line);
                *self.reasons.entry(reason.code().to_owned()).or_default() += 1;
            }
        }
    }

    fn encoded_bytes(&self) -> usize {
        self.tables.iter().map(Vec::len).sum::<usize>() + self.rejects.len()
    }
}

fn kind_name(kind: ConstraintKind) -> &'static str {
    match kind {
        ConstraintKind::NotNull => "not_null",
        ConstraintKind::Check => "check",
    }
}

/// Reads and encodes batches from `start`, sending each to `sender`.
fn produce(
    context: &EntityContext,
    start: Position,
    sender: &tokio::sync::mpsc::Sender<Result<Batch, PipelineError>>,
    spare: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> Result<(), PipelineError> {
    let part_files = context.part_files();
    let duplicates = find_duplicates(&context.workspace, &context.manifest.parts, &part_files)?;
    let processor = context.processor(duplicates)?;
    let mut reader = PartReader::open(&context.workspace, &context.manifest.parts, start)?;
    let mut buffer = Vec::with_capacity(1 << 12);
    let fresh = |start: Position| {
        let mut tables = vec![Vec::new(); processor.table_count()];
        if let Some(first) = tables.first_mut() {
            // A buffer the database side is done with, or a new one with room for a full
            // batch and the row that crosses the limit, so it is never regrown to twice the
            // batch size. Reusing the buffers keeps memory at the three batches in flight
            // (being filled, waiting, being copied) instead of a new one every batch.
            *first = spare.try_recv().unwrap_or_default();
            first.clear();
            first.reserve_exact(context.batch_bytes + (1 << 20));
        }
        Batch {
            start,
            tables,
            ..Batch::default()
        }
    };
    let mut batch = fresh(start);
    let panic_at = crate::failpoint("load-reader-panic").then_some(10);
    loop {
        if panic_at.is_some_and(|at| batch.read >= at) {
            panic!("failpoint load-reader-panic");
        }
        let Some((part, line)) = reader.next_line(&mut buffer)? else {
            let end = reader.position();
            if batch.read > 0 || batch.start != end {
                batch.end = end;
                let _ = sender.blocking_send(Ok(batch));
            }
            return Ok(());
        };
        if part != batch.start.part {
            // A batch never spans parts, so a checkpoint names one part and an offset in it.
            let part_start = Position {
                part,
                line: 0,
                offset: 0,
            };
            if batch.read > 0 || batch.start != part_start {
                batch.end = part_start;
                let full = std::mem::replace(&mut batch, fresh(part_start));
                if sender.blocking_send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
            batch.start = part_start;
        }
        batch.read += 1;
        batch.bytes += buffer.len() as u64;
        batch.absorb(processor.process(part, line, &buffer));
        if batch.read as usize >= context.batch_records
            || batch.encoded_bytes() >= context.batch_bytes
        {
            batch.end = reader.position();
            let full = std::mem::replace(&mut batch, fresh(reader.position()));
            if sender.blocking_send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
}

async fn load_entity(
    connection: &mut PgConnection,
    context: &EntityContext,
    mut checkpoint: EntityCheckpoint,
    reporter: &dyn Reporter,
) -> Result<EntityCheckpoint, PipelineError> {
    let entity = context.entity.as_str();
    reporter.started(entity, Some(context.manifest.records));
    if checkpoint.finished {
        reporter.advanced(entity, checkpoint.read);
        reporter.finished(entity);
        return Ok(checkpoint);
    }
    reporter.advanced(entity, checkpoint.read);
    let rejects_path = rejects_path(&context.workspace, entity);
    let mut rejects = open_rejects(&rejects_path, checkpoint.reject_bytes)?;
    let statements = context.statements();
    let started = Instant::now();
    let seconds_before = checkpoint.seconds;

    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Batch, PipelineError>>(1);
    let (spare_sender, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    let thread_context = context.clone();
    let start = checkpoint.position;
    let producer = std::thread::spawn(move || {
        if let Err(error) = produce(&thread_context, start, &sender, &spare) {
            let _ = sender.blocking_send(Err(error));
        }
    });
    let result = async {
        while let Some(batch) = receiver.recv().await {
            let mut batch = batch?;
            let mut transaction = LoadTransaction::begin(connection).await?;
            let mut refused_data = None;
            for (statement, rows) in statements.iter().zip(&batch.tables) {
                if rows.is_empty() {
                    continue;
                }
                match transaction.copy(statement, rows).await {
                    Ok(_) => {}
                    Err(BatchError::Data(message)) => {
                        refused_data = Some(message);
                        break;
                    }
                    Err(BatchError::Other(error)) => return Err(error.into()),
                }
            }
            if let Some(message) = refused_data {
                drop(transaction);
                reporter.message(&format!(
                    "{entity}: PostgreSQL refused a batch ({message}); finding the rows it refuses"
                ));
                transaction = LoadTransaction::begin(connection).await?;
                isolate(context, &statements, &mut transaction, &mut batch).await?;
            }
            rejects
                .write_all(&batch.rejects)
                .and_then(|()| rejects.sync_data())
                .map_err(|error| PipelineError::io(&rejects_path, error))?;
            checkpoint.position = batch.end;
            checkpoint.read += batch.read;
            checkpoint.loaded += batch.loaded;
            checkpoint.rejected += batch.rejected();
            checkpoint.duplicates += batch
                .reasons
                .get(RejectReason::DuplicateId.code())
                .copied()
                .unwrap_or_default();
            checkpoint.junction_rows += batch.junction_rows;
            checkpoint.bytes += batch.bytes;
            checkpoint.reject_bytes += batch.rejects.len() as u64;
            for (reason, count) in &batch.reasons {
                *checkpoint.reasons.entry(reason.clone()).or_default() += count;
            }
            for (column, kinds) in &batch.relaxed {
                for (kind, count) in kinds {
                    *checkpoint
                        .relaxed
                        .entry(column.clone())
                        .or_default()
                        .entry(kind.clone())
                        .or_default() += count;
                }
            }
            checkpoint.seconds = seconds_before + started.elapsed().as_secs_f64();
            let stored = serde_json::to_value(&checkpoint).unwrap_or_default();
            transaction
                .save_checkpoint(&context.pg_schema, entity, &stored)
                .await?;
            transaction.commit().await?;
            reporter.advanced(entity, batch.read);
            if let Some(rows) = batch.tables.first_mut() {
                let _ = spare_sender.send(std::mem::take(rows));
            }
        }
        Ok::<(), PipelineError>(())
    }
    .await;
    drop(receiver);
    let joined = producer.join();
    result?;
    // A reader that died (a panic) ends its batches early: the load fails, and the entity's
    // checkpoint stays at the last batch that went in.
    if let Err(panic) = joined {
        let why = panic
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        return Err(PipelineError::Usage(format!(
            "{entity}: the thread reading the staged parts stopped ({why}): this is a bug in offbase; the load stopped at its last checkpoint, and a rerun resumes there"
        )));
    }

    // The end: every staged record must be accounted for, before the entity is marked done.
    if checkpoint.read != checkpoint.loaded + checkpoint.rejected {
        return Err(PipelineError::Usage(format!(
            "{entity}: read {} records but loaded {} and rejected {}: this is a bug in offbase; the load stopped",
            checkpoint.read, checkpoint.loaded, checkpoint.rejected
        )));
    }
    if checkpoint.read != context.manifest.records {
        return Err(PipelineError::Workspace {
            path: context.workspace.manifest_path(),
            message: format!(
                "{entity}: the manifest counts {} records but the parts held {}: the workspace changed while it was loaded; stage it again (or `offbase reseal` an intended edit) and load again",
                context.manifest.records, checkpoint.read
            ),
        });
    }
    checkpoint.finished = true;
    checkpoint.seconds = seconds_before + started.elapsed().as_secs_f64();
    let mut transaction = LoadTransaction::begin(connection).await?;
    let stored = serde_json::to_value(&checkpoint).unwrap_or_default();
    transaction
        .save_checkpoint(&context.pg_schema, entity, &stored)
        .await?;
    transaction.commit().await?;
    reporter.finished(entity);
    Ok(checkpoint)
}

/// Opens an entity's reject file at the length its checkpoint recorded, cutting the rejects of
/// a batch that never committed.
fn open_rejects(path: &Path, length: u64) -> Result<File, PipelineError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| PipelineError::io(parent, error))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .append(true)
        .open(path)
        .map_err(|error| PipelineError::io(path, error))?;
    let current = file
        .metadata()
        .map_err(|error| PipelineError::io(path, error))?
        .len();
    if current < length {
        return Err(PipelineError::Workspace {
            path: path.to_path_buf(),
            message: format!(
                "the reject file holds {current} bytes but the load's checkpoint counts {length}: it was changed by hand; start again with --replace"
            ),
        });
    }
    file.set_len(length)
        .map_err(|error| PipelineError::io(path, error))?;
    Ok(file)
}

/// Re-reads a refused batch and loads it row group by row group, rejecting the rows
/// PostgreSQL refuses with its message.
async fn isolate(
    context: &EntityContext,
    statements: &[String],
    transaction: &mut LoadTransaction<'_>,
    batch: &mut Batch,
) -> Result<(), PipelineError> {
    let part_files = context.part_files();
    let duplicates = find_duplicates(&context.workspace, &context.manifest.parts, &part_files)?;
    let processor = context.processor(duplicates)?;
    let mut reader = PartReader::open(&context.workspace, &context.manifest.parts, batch.start)?;
    let mut buffer = Vec::new();
    let mut fresh = Batch {
        start: batch.start,
        end: batch.end,
        tables: vec![Vec::new(); processor.table_count()],
        ..Batch::default()
    };
    let mut rows: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut lines: Vec<(usize, u64, Vec<u8>)> = Vec::new();
    while reader.position() != batch.end {
        let Some((part, line)) = reader.next_line(&mut buffer)? else {
            break;
        };
        if part != batch.start.part {
            break;
        }
        fresh.read += 1;
        fresh.bytes += buffer.len() as u64;
        match processor.process(part, line, &buffer) {
            LineOutcome::Rows {
                tables,
                junction_rows,
                relaxed,
            } => {
                rows.push(tables);
                lines.push((part, line, buffer.clone()));
                fresh.absorb(LineOutcome::Rows {
                    tables: Vec::new(),
                    junction_rows,
                    relaxed,
                });
            }
            outcome => fresh.absorb(outcome),
        }
    }
    let refused = transaction.copy_isolating(statements, &rows).await?;
    for (index, message) in refused {
        if let Some((part, line, text)) = lines.get(index) {
            fresh
                .rejects
                .extend_from_slice(&processor.database_reject(*part, *line, text, &message));
            *fresh
                .reasons
                .entry(RejectReason::Database.code().to_owned())
                .or_default() += 1;
            fresh.loaded -= 1;
        }
    }
    *batch = fresh;
    Ok(())
}

/// Primary keys, relaxed constraints the data allows, indexes, foreign keys (validated where
/// no orphans exist), ANALYZE. Each step checks the catalog first, so a rerun after a kill
/// picks up where it stopped.
async fn post_load(
    connection: &mut PgConnection,
    database_url: &str,
    pg_schema: &str,
    output: &PlanOutput,
    load_sql: &LoadSql,
    checkpoints: &BTreeMap<String, EntityCheckpoint>,
    reporter: &dyn Reporter,
) -> Result<(Vec<RelaxedReport>, Vec<ForeignKeyReport>), PipelineError> {
    let target = &output.target;
    let steps = (load_sql.primary_keys.len() * 2
        + load_sql.relaxed.len()
        + load_sql.indexes.len()
        + load_sql.foreign_keys.len()
        + target.tables.len()) as u64;
    let task = "keys, indexes, analyze";
    reporter.started(task, Some(steps));
    let mut second = offbase_pg::connect(database_url).await?;
    for session in [&mut *connection, &mut second] {
        pg_load::execute_in(session, pg_schema, INDEX_BUILD_MEMORY).await?;
    }
    // Index builds (primary keys' unique indexes included) take SHARE locks, which do not
    // conflict with each other: two connections build two indexes at a time.
    let mut builds = Vec::new();
    for key in &load_sql.primary_keys {
        if pg_load::constraint_exists(connection, pg_schema, &key.table, &key.name).await? {
            reporter.advanced(task, 1);
        } else {
            builds.push(key.index.as_str());
        }
    }
    builds.extend(load_sql.indexes.iter().map(String::as_str));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (first, other) = tokio::join!(
        build_indexes(connection, pg_schema, &builds, &next, reporter, task),
        build_indexes(&mut second, pg_schema, &builds, &next, reporter, task)
    );
    first?;
    other?;
    // ANALYZE on the second connection, beside the constraints and foreign keys on the first.
    let analyze = async {
        for table in &target.tables {
            let sql = format!("ANALYZE {}", offbase_sql::quote_identifier(&table.name));
            pg_load::execute_in(&mut second, pg_schema, &sql).await?;
            reporter.advanced(task, 1);
        }
        Ok::<(), PipelineError>(())
    };
    let keys = constraints_and_foreign_keys(
        connection,
        pg_schema,
        output,
        load_sql,
        checkpoints,
        reporter,
        task,
    );
    let (analyzed, keys) = tokio::join!(analyze, keys);
    analyzed?;
    let keys = keys?;
    reporter.finished(task);
    Ok(keys)
}

/// Runs index builds from `builds`, taking the next one not yet taken, until none is left.
async fn build_indexes(
    session: &mut PgConnection,
    pg_schema: &str,
    builds: &[&str],
    next: &std::sync::atomic::AtomicUsize,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<(), PipelineError> {
    while let Some(sql) = builds.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
        pg_load::execute_in(session, pg_schema, sql).await?;
        reporter.advanced(task, 1);
    }
    Ok(())
}

/// Memory for each index build's sort: enough to sort a few million keys without spilling to
/// disk, on each of the two connections that build indexes.
const INDEX_BUILD_MEMORY: &str = "SET maintenance_work_mem = '256MB'";

async fn constraints_and_foreign_keys(
    connection: &mut PgConnection,
    pg_schema: &str,
    output: &PlanOutput,
    load_sql: &LoadSql,
    checkpoints: &BTreeMap<String, EntityCheckpoint>,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<(Vec<RelaxedReport>, Vec<ForeignKeyReport>), PipelineError> {
    let target = &output.target;
    for key in &load_sql.primary_keys {
        if !pg_load::constraint_exists(connection, pg_schema, &key.table, &key.name).await? {
            pg_load::execute_in(connection, pg_schema, &key.sql).await?;
            reporter.advanced(task, 1);
        }
    }
    // Rows let through each relaxed constraint, by table and column.
    let mut broken: BTreeMap<(String, String, ConstraintKind), u64> = BTreeMap::new();
    for (entity, checkpoint) in checkpoints {
        let Some(table) = target.table_for_entity(entity) else {
            continue;
        };
        for (column, kinds) in &checkpoint.relaxed {
            for (kind, rows) in kinds {
                let kind = if kind == "check" {
                    ConstraintKind::Check
                } else {
                    ConstraintKind::NotNull
                };
                *broken
                    .entry((table.name.clone(), column.clone(), kind))
                    .or_default() += rows;
            }
        }
    }
    let mut relaxed = Vec::new();
    for constraint in &load_sql.relaxed {
        let rows = broken
            .get(&(
                constraint.table.clone(),
                constraint.column.clone(),
                constraint.kind,
            ))
            .copied()
            .unwrap_or_default();
        let restored = rows == 0;
        if restored {
            let present = match constraint.kind {
                ConstraintKind::NotNull => {
                    pg_load::column_not_null(
                        connection,
                        pg_schema,
                        &constraint.table,
                        &constraint.column,
                    )
                    .await?
                }
                ConstraintKind::Check => {
                    pg_load::constraint_exists(
                        connection,
                        pg_schema,
                        &constraint.table,
                        &constraint.name,
                    )
                    .await?
                }
            };
            if !present {
                pg_load::execute_in(connection, pg_schema, &constraint.sql).await?;
            }
        } else {
            reporter.message(&format!(
                "{}.{}: {} rows break its {} constraint: left relaxed",
                constraint.table,
                constraint.column,
                rows,
                kind_name(constraint.kind).replace('_', " ")
            ));
        }
        relaxed.push(RelaxedReport {
            table: constraint.table.clone(),
            column: constraint.column.clone(),
            kind: constraint.kind,
            rows,
            restored,
        });
        reporter.advanced(task, 1);
    }
    let mut foreign_keys = Vec::new();
    for (key, constraint) in target.foreign_keys.iter().zip(&load_sql.foreign_keys) {
        foreign_keys
            .push(add_foreign_key(connection, pg_schema, target, key, &constraint.sql).await?);
        reporter.advanced(task, 1);
    }
    Ok((relaxed, foreign_keys))
}

/// Adds a foreign key `NOT VALID` (where it is missing) and validates it; when validation
/// fails, counts its orphans with a few sample ids and leaves it NOT VALID. Validating finds
/// out whether orphans exist as fast as counting them would, so they are counted only then.
pub(crate) async fn add_foreign_key(
    connection: &mut PgConnection,
    pg_schema: &str,
    target: &TargetSchema,
    key: &offbase_model::ForeignKey,
    add_sql: &str,
) -> Result<ForeignKeyReport, PipelineError> {
    if !pg_load::constraint_exists(connection, pg_schema, &key.table, &key.name).await? {
        pg_load::execute_in(connection, pg_schema, add_sql).await?;
    }
    let validated = pg_load::constraint_validated(connection, pg_schema, &key.table, &key.name)
        .await?
        || pg_load::validate_foreign_key(connection, pg_schema, &key.table, &key.name).await?;
    let (orphans, sample) = if validated {
        (0, Vec::new())
    } else {
        let id_column = referencing_id_column(target, key);
        pg_load::count_orphans(connection, pg_schema, key, &id_column, 5).await?
    };
    Ok(ForeignKeyReport {
        name: key.name.clone(),
        table: key.table.clone(),
        column: key.column.clone(),
        target_table: key.target_table.clone(),
        orphans,
        sample,
        validated,
    })
}

/// The column that names a referencing row in orphan samples: its table's first primary key
/// column.
pub(crate) fn referencing_id_column(
    target: &TargetSchema,
    key: &offbase_model::ForeignKey,
) -> String {
    target
        .tables
        .iter()
        .find(|table| table.name == key.table)
        .and_then(|table| table.primary_key.first())
        .cloned()
        .unwrap_or_else(|| BuiltIn::Id.field_name().to_owned())
}

/// Writes `reports/load.md` and `reports/load.json`.
pub fn write_reports(workspace: &Workspace, summary: &LoadSummary) -> Result<(), PipelineError> {
    let folder = workspace.reports_dir();
    let mut json = serde_json::to_string_pretty(summary).unwrap_or_default();
    json.push('\n');
    crate::files::write_atomic(&folder.join("load.json"), json.as_bytes())?;
    crate::files::write_atomic(&folder.join("load.md"), load_report(summary).as_bytes())
}

/// The human report of a load.
pub fn load_report(summary: &LoadSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Load of {} into schema `{}`\n\n",
        summary.workspace, summary.pg_schema
    ));
    out.push_str(&format!("Database: {}\n\n", summary.database));
    out.push_str("| entity | table | read | loaded | rejected | duplicates | bytes | seconds |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for entity in &summary.entities {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} |\n",
            entity.entity,
            entity.table.as_deref().unwrap_or("(skipped)"),
            entity.read,
            entity.loaded,
            entity.rejected,
            entity.duplicates,
            entity.bytes,
            entity.seconds
        ));
    }
    let unbalanced: Vec<&EntityLoadSummary> = summary
        .entities
        .iter()
        .filter(|entity| {
            entity.table.is_some()
                && (entity.read != entity.loaded + entity.rejected || entity.read != entity.staged)
        })
        .collect();
    out.push('\n');
    if unbalanced.is_empty() {
        out.push_str("Every staged record was loaded or rejected (read = loaded + rejected).\n");
    } else {
        for entity in unbalanced {
            out.push_str(&format!(
                "**{}: read {} of {} staged, loaded {}, rejected {}.**\n",
                entity.entity, entity.read, entity.staged, entity.loaded, entity.rejected
            ));
        }
    }
    let rejected: Vec<&EntityLoadSummary> = summary
        .entities
        .iter()
        .filter(|entity| entity.rejected > 0)
        .collect();
    if !rejected.is_empty() {
        out.push_str(
            "\n## Rejects\n\nEach rejected record is in `reports/rejects/<Entity>.jsonl` with its id, field, reason, value and the whole record.\n\n| entity | reason | records |\n|---|---|---:|\n"
        );
        for entity in rejected {
            for (reason, count) in &entity.reasons {
                out.push_str(&format!("| {} | {} | {} |\n", entity.entity, reason, count));
            }
        }
    }
    if !summary.relaxed.is_empty() {
        out.push_str("\n## Relaxed constraints\n\n| table | column | constraint | rows breaking it | outcome |\n|---|---|---|---:|---|\n");
        for relaxed in &summary.relaxed {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                relaxed.table,
                relaxed.column,
                kind_name(relaxed.kind).replace('_', " "),
                relaxed.rows,
                if relaxed.restored {
                    "added back"
                } else {
                    "left out"
                }
            ));
        }
    }
    if !summary.foreign_keys.is_empty() {
        out.push_str("\n## Foreign keys\n\n| key | reference | orphans | sample ids | state |\n|---|---|---:|---|---|\n");
        for key in &summary.foreign_keys {
            out.push_str(&format!(
                "| {} | {}.{} → {} | {} | {} | {} |\n",
                key.name,
                key.table,
                key.column,
                key.target_table,
                key.orphans,
                key.sample.join(", "),
                if key.validated {
                    "validated"
                } else {
                    "NOT VALID: resolve the orphans, then VALIDATE"
                }
            ));
        }
    }
    out
}
