//! The load stage: a workspace into PostgreSQL. Tables go in first (without primary keys and
//! relaxed constraints), then every entity's staged parts stream in with binary COPY, one
//! batch a transaction together with the entity's checkpoint; then primary keys, relaxed
//! constraints the data allows, indexes, foreign keys (validated where no orphans exist) and
//! ANALYZE. A kill at any moment and a rerun give exactly the rows of an uninterrupted load.
//!
//! Reading and encoding run on their own thread, one batch ahead of the database, so parsing
//! JSON and PostgreSQL's COPY work at the same time.
//!
//! One file: the reading thread (`produce`), the loading task and the isolation of a batch
//! PostgreSQL refuses share `EntityContext` and `Batch`, whose fields move between them.

pub mod bundle;
mod post_load;
mod report;
pub mod rows;
mod start;

use post_load::post_load;
pub(crate) use post_load::{add_foreign_key, referencing_id_column};
use report::kind_name;
pub use report::{
    EntityCheckpoint, EntityLoadSummary, ForeignKeyReport, LoadStatus, LoadSummary, RelaxedReport,
    load_report, write_reports,
};

use crate::PipelineError;
use crate::load::rows::{BinaryRows, LineOutcome, LineProcessor, RowEncoder};
use crate::plan::plan_workspace;
use crate::progress::Reporter;
use crate::target::Target;
use crate::workspace::duplicates::{Duplicates, find_duplicates};
use crate::workspace::parts::{PartReader, Position};
use crate::workspace::rejects::rejects_path;
use crate::workspace::{EntityManifest, Manifest, Workspace};
use offbase_base44::files::UrlRewrite;
pub use offbase_copy::convert::Relax;
use offbase_copy::convert::{EntityConverter, RejectReason};
use offbase_model::{Table, TargetSchema};
use offbase_pg::PgConnection;
use offbase_pg::load::{self as pg_load, BatchError, LoadPhase, LoadTransaction, copy_statement};
use offbase_sql::{RlsMode, render_for_load};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
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
    pub target: Target,
    pub existing: Existing,
    /// Records per batch (one transaction each).
    pub batch_records: usize,
    /// Encoded bytes per batch.
    pub batch_bytes: usize,
    /// A load that starts loads into the plan's tables already in the schema (made by a
    /// migration tool from `plan --format`) once they prove empty and the plan's, instead of
    /// refusing them.
    pub adopt: bool,
}

impl LoadOptions {
    pub fn new(database_url: impl Into<String>, pg_schema: impl Into<String>) -> Self {
        LoadOptions {
            target: Target::new(database_url, pg_schema),
            existing: Existing::Resume,
            batch_records: 50_000,
            batch_bytes: 4 << 20,
            adopt: false,
        }
    }
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
            return Err(PipelineError::NotStaged {
                path: workspace.root().to_path_buf(),
            });
        }
        Err(error) => return Err(PipelineError::io(&manifest_path, error)),
    };
    let _workspace_lock = crate::lock::lock_workspace(workspace, "load")?;
    let manifest: Manifest = workspace.read_json(&manifest_path)?.unwrap_or_default();
    let output = plan_workspace(workspace, options.target.mappings.as_ref(), reporter)?;
    let load_sql = render_for_load(&output.target, options.target.relax);
    // URLs are rewritten with the map the workspace holds now; a resume with another map
    // would mix old and new URLs, so the map is part of what the load is of.
    let urls = match options.target.rewrite_urls {
        true => Some(Arc::new(crate::files::rewrite::read_url_map(workspace)?)),
        false => None,
    };
    let digest = start::load_digest(
        &manifest_bytes,
        &load_sql,
        options.target.relax,
        urls.as_deref(),
    );

    let mut connection = offbase_pg::connect(&options.target.database_url).await?;
    pg_load::prepare_state(&mut connection).await?;
    // One load of a schema at a time (two would copy every row twice), and no sync pass while
    // it runs; the lock lives as long as this connection.
    crate::lock::refuse_if_target_busy(&mut connection, &options.target.pg_schema, "load").await?;
    // A cut-over schema holds the app's live data: a load (above all `--replace`) never touches it.
    offbase_pg::cutover::refuse_if_cut_over(&mut connection, &options.target.pg_schema).await?;
    let names = output.target.relation_names();
    let run = pg_load::read_run(&mut connection, &options.target.pg_schema).await?;
    // The state in schema `offbase` outlives the tables it describes when someone drops the
    // target schema (or its tables) by hand: then it is stale, and the load starts afresh.
    let run = match run {
        Some(run) => {
            let table_names = output.target.table_names();
            let presence =
                pg_load::target_presence(&mut connection, &options.target.pg_schema, &table_names)
                    .await?;
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
                        options.target.pg_schema
                    ));
                    pg_load::discard_run(&mut connection, &options.target.pg_schema, &[], &[])
                        .await?;
                    None
                }
                None => Some(run),
            }
        }
        None => None,
    };
    let rejects_folder = workspace.rejects_dir();
    // The access rules run last: a load that starts with Supabase's dialect into a database
    // that is not Supabase is refused before it drops or copies anything, not after the
    // whole load. (A resumed load applies the mode its run recorded, checked by the section.)
    if options.target.rls == RlsMode::Supabase
        && output.access.has_rules
        && (run.is_none() || options.existing == Existing::Replace)
    {
        pg_load::execute_in(
            &mut connection,
            &options.target.pg_schema,
            &offbase_sql::rls::supabase_check(),
        )
        .await?;
    }
    // Whether this run starts a load (new tables, no rejects yet) or continues one.
    let starts = match run {
        Some(_) if options.existing == Existing::Replace => {
            reporter.message(&format!(
                "--replace: dropping the tables of the earlier load in schema {:?}",
                options.target.pg_schema
            ));
            pg_load::discard_run(
                &mut connection,
                &options.target.pg_schema,
                &output.target.table_names(),
                &output.target.enum_type_names(),
            )
            .await?;
            true
        }
        Some(run) if run.digest != digest => {
            return Err(PipelineError::OtherLoad {
                pg_schema: options.target.pg_schema.clone(),
            });
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
                options.target.pg_schema
            ));
            false
        }
        None => true,
    };
    if starts {
        start::clear_rejects(&rejects_folder)?;
        if options.adopt {
            start::adopt(
                &mut connection,
                options,
                &output,
                &load_sql,
                &digest,
                reporter,
            )
            .await?;
        } else {
            pg_load::begin_run(
                &mut connection,
                &options.target.pg_schema,
                &digest,
                &options.target.settings(),
                &names,
                &load_sql.tables,
            )
            .await?;
        }
    }

    let enum_oids = pg_load::enum_type_oids(&mut connection, &options.target.pg_schema).await?;
    let enum_oids = Arc::new(enum_oids);
    let mut checkpoints: BTreeMap<String, EntityCheckpoint> = BTreeMap::new();
    for (entity, value) in
        pg_load::read_checkpoints(&mut connection, &options.target.pg_schema).await?
    {
        let checkpoint =
            serde_json::from_value(value).map_err(|error| PipelineError::DamagedState {
                what: format!("the checkpoint of {entity} in offbase.load_checkpoints"),
                message: error.to_string(),
                remedy: "start again with --replace".to_owned(),
            })?;
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
            pg_schema: options.target.pg_schema.clone(),
            relax: options.target.relax,
            urls: urls.clone(),
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
            urls_rewritten: checkpoint.urls_rewritten.clone(),
            staged: entry.records,
        });
        checkpoints.insert(entity.clone(), checkpoint);
    }
    pg_load::set_phase(
        &mut connection,
        &options.target.pg_schema,
        LoadPhase::PostLoad,
        None,
    )
    .await?;
    let (relaxed, foreign_keys) = post_load(
        &mut connection,
        &options.target.database_url,
        &options.target.pg_schema,
        &output,
        &load_sql,
        &checkpoints,
        reporter,
    )
    .await?;
    let summary = LoadSummary {
        status: LoadStatus::Loaded,
        workspace: workspace.root().display().to_string(),
        database: offbase_pg::redact_url(&options.target.database_url),
        pg_schema: options.target.pg_schema.clone(),
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
        &options.target.pg_schema,
        LoadPhase::Done,
        report.as_ref(),
    )
    .await?;
    Ok(summary)
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
    urls: Option<Arc<UrlRewrite>>,
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

    fn processor<'t>(&'t self, duplicates: Duplicates) -> Result<LineProcessor<'t>, PipelineError> {
        let table = self.table().ok_or_else(|| PipelineError::Table {
            table: self.entity.clone(),
            message: "the plan has no table for this entity".to_owned(),
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
            urls: self.urls.clone(),
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
    urls_rewritten: BTreeMap<String, u64>,
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
                rewritten,
            } => {
                self.loaded += 1;
                for (field, count) in rewritten {
                    *self.urls_rewritten.entry(field).or_default() += count;
                }
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
    let lose_at = crate::failpoint("load-lose-record").then_some(start.line + 5);
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
        if lose_at == Some(line) {
            continue;
        }
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
            // Every line read must have become rows or a reject before the batch counts: a
            // batch that lost one is not committed, so its checkpoint stays where it was.
            if batch.read != batch.loaded + batch.rejected() {
                return Err(PipelineError::Unbalanced {
                    entity: entity.to_owned(),
                    read: checkpoint.read + batch.read,
                    loaded: checkpoint.loaded + batch.loaded,
                    rejected: checkpoint.rejected + batch.rejected(),
                });
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
            for (field, count) in &batch.urls_rewritten {
                *checkpoint.urls_rewritten.entry(field.clone()).or_default() += count;
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
        return Err(PipelineError::worker_stopped(
            format!("{entity}: the thread reading the staged parts"),
            &*panic,
            "the load stopped at its last checkpoint, and a rerun resumes there",
        ));
    }

    // The end: every staged record must be accounted for, before the entity is marked done.
    if checkpoint.read != checkpoint.loaded + checkpoint.rejected {
        return Err(PipelineError::Unbalanced {
            entity: entity.to_owned(),
            read: checkpoint.read,
            loaded: checkpoint.loaded,
            rejected: checkpoint.rejected,
        });
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
                rewritten,
            } => {
                rows.push(tables);
                lines.push((part, line, buffer.clone()));
                fresh.absorb(LineOutcome::Rows {
                    tables: Vec::new(),
                    junction_rows,
                    relaxed,
                    rewritten,
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
