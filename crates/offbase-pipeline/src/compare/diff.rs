//! `diff data`: whether the target holds the same records as the source, told apart from
//! noise, without reading every row of the target. Per entity:
//!
//! 1. Each source record gets a 64-bit row hash that PostgreSQL computes alike for the row a
//!    load wrote from it (`offbase_copy::row_hash`); the table's count and hash sum are
//!    computed while the workspace is read.
//! 2. When they differ, the id space is split into ranges at source ids (byte order), and
//!    only the ranges whose counts or sums differ are split again (data-diff style), level by
//!    level, one query a level, until ranges are small; their (id, hash) pairs are compared.
//! 3. Only the rows whose hashes differ (or that one side lacks) are read whole from both
//!    sides and compared in canonical form: timestamps as UTC instants to the microsecond,
//!    numbers by value (`1` = `1.0`), JSON objects with their keys sorted, `_extra` folded back
//!    into the record, and an absent field equal to a null one. Per record that differs: the
//!    fields, and a `similar`-rendered diff of the two canonical records.
//!
//! The source is the workspace, or the Base44 API (`compare::api_source`), which is read for
//! ids and `updated_date` only.

use crate::PipelineError;
use crate::compare::bisect::{Bisection, bisect};
pub use crate::compare::canonical::canonical_value;
use crate::compare::canonical::{canonical_source_record, target_records};
use crate::compare::sorted_rows::{SortedRows, SourceRow, row_sort};
use crate::files::rewrite::{line_may_be_rewritten, rewrite_record};
use crate::progress::Reporter;
use crate::target::{Opened, Target};
use crate::workspace::duplicates::{copy_rank, rank_copies};
use crate::workspace::parts::{PartReader, Position, parse_record, trim_line};
use crate::workspace::rejects::{read_rejects, rejects_path};
use crate::workspace::{EntityManifest, Workspace};
use offbase_base44::files::UrlRewrite;
use offbase_copy::convert::{EntityConverter, Relax};
use offbase_copy::row_hash::{row_hash, row_hash_sql};
use offbase_model::{BuiltIn, ColumnSource, PgType, Table, TargetSchema};
use offbase_pg::range_hash::{self, Buckets, HashedTable};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, Read, Seek, SeekFrom};

/// Where the records compared with the target come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffSource {
    /// The workspace's staged records (what a load writes).
    #[default]
    Workspace,
    /// The Base44 API: ids and `updated_date`, full records only where those differ.
    Api,
}

/// One record on both sides with other values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDiff {
    pub id: String,
    /// The fields whose canonical values differ.
    pub fields: Vec<String>,
    /// A unified diff of the two canonical records (source first).
    pub diff: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityDiff {
    pub entity: String,
    pub table: String,
    pub same: u64,
    /// Ids the source has and the target lacks (records the load rejected among them).
    pub missing_in_target: Vec<String>,
    /// Of those, the ones in the entity's reject file.
    pub rejected: Vec<String>,
    pub missing_in_source: Vec<String>,
    pub different: Vec<RecordDiff>,
    /// Records of the source and rows of the target.
    #[serde(default)]
    pub source_rows: u64,
    #[serde(default)]
    pub target_rows: u64,
    /// Queries that hashed ranges of the table (the whole table is the first).
    #[serde(default)]
    pub range_queries: u64,
    /// (id, hash) pairs read from the target for small differing ranges.
    #[serde(default)]
    pub hashes_fetched: u64,
    /// Whole rows read from the target (the rows whose hashes differ).
    #[serde(default)]
    pub rows_fetched: u64,
    /// Whole records read from the API (API source only).
    #[serde(default)]
    pub source_records_fetched: u64,
}

impl EntityDiff {
    pub(crate) fn new(entity: &str, table: &str) -> EntityDiff {
        EntityDiff {
            entity: entity.to_owned(),
            table: table.to_owned(),
            same: 0,
            missing_in_target: Vec::new(),
            rejected: Vec::new(),
            missing_in_source: Vec::new(),
            different: Vec::new(),
            source_rows: 0,
            target_rows: 0,
            range_queries: 0,
            hashes_fetched: 0,
            rows_fetched: 0,
            source_records_fetched: 0,
        }
    }

    /// Whether anything differs besides records the load rejected (and said so).
    pub fn clean(&self) -> bool {
        self.missing_in_target.len() == self.rejected.len()
            && self.missing_in_source.is_empty()
            && self.different.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataDiff {
    pub pg_schema: String,
    #[serde(default)]
    pub source: DiffSource,
    pub entities: Vec<EntityDiff>,
}

impl DataDiff {
    pub fn clean(&self) -> bool {
        self.entities.iter().all(EntityDiff::clean)
    }
}

/// Compares every entity of the workspace with its table in `destination.pg_schema`.
pub async fn diff_data(
    workspace: &Workspace,
    destination: &Target,
    reporter: &dyn Reporter,
) -> Result<DataDiff, PipelineError> {
    let manifest = workspace.manifest()?;
    let Opened {
        mut connection,
        target: destination,
        plan: output,
    } = destination.open(workspace).await?;
    let destination = &destination;
    let mut entities = Vec::new();
    for (entity, entry) in &manifest.entities {
        let Some(table) = output.target.table_for_entity(entity) else {
            continue;
        };
        reporter.started(entity, Some(entry.records));
        let result = diff_entity(
            &mut connection,
            workspace,
            entity,
            entry,
            &output.target,
            table,
            destination,
        )
        .await?;
        reporter.finished(entity);
        entities.push(result);
    }
    Ok(DataDiff {
        pg_schema: destination.pg_schema.clone(),
        source: DiffSource::Workspace,
        entities,
    })
}

async fn diff_entity(
    connection: &mut offbase_pg::PgConnection,
    workspace: &Workspace,
    entity: &str,
    entry: &EntityManifest,
    target: &TargetSchema,
    table: &Table,
    destination: &Target,
) -> Result<EntityDiff, PipelineError> {
    let hash_sql = row_hash_sql(table, "t");
    let id_column = id_column(table)?;
    let index_ranges =
        range_hash::id_sorts_by_bytes(connection, &destination.pg_schema, &table.name, &id_column)
            .await?;
    let hashed = HashedTable {
        pg_schema: &destination.pg_schema,
        table: &table.name,
        id_column: &id_column,
        hash_sql: &hash_sql,
        index_ranges,
    };
    // The workspace is read (and hashed) while PostgreSQL hashes the whole table.
    let reading = {
        let workspace = workspace.clone();
        let entity = entity.to_owned();
        let entry = entry.clone();
        let target = target.clone();
        let relax = destination.relax;
        let urls = destination.urls().cloned();
        tokio::task::spawn_blocking(move || {
            read_source(&workspace, &entity, &entry, &target, relax, urls.as_ref())
        })
    };
    let total = range_hash::bucket_hashes(connection, &hashed, Buckets::All).await;
    let rows = reading
        .await
        .map_err(|error| PipelineError::WorkerStopped {
            what: format!("reading {entity}"),
            why: error.to_string(),
            outcome: "the diff stopped".to_owned(),
        })??;
    let total = total?;
    let bisection = bisect(connection, &hashed, &rows, total.first().copied()).await?;

    let mut result = bisection_result(workspace, entity, &table.name, rows.len(), &bisection)?;
    drop(rows);
    if !bisection.both.is_empty() {
        let located: Vec<&SourceRow> = bisection.both.iter().collect();
        let ids: Vec<String> = bisection
            .both
            .iter()
            .map(|row| row.id.to_string())
            .collect();
        let source = source_records_at(workspace, entry, table, &located, destination.urls())?;
        let target_rows = target_records(connection, &hashed, table, &ids).await?;
        result.rows_fetched = target_rows.len() as u64;
        compare_records(&mut result, &source, &target_rows);
    }
    sort_findings(&mut result);
    Ok(result)
}

/// An entity's result as the bisection left it: the counts, and the ids on one side only
/// (those in the entity's reject file named as rejected).
pub(crate) fn bisection_result(
    workspace: &Workspace,
    entity: &str,
    table: &str,
    source_rows: usize,
    bisection: &Bisection,
) -> Result<EntityDiff, PipelineError> {
    let mut result = EntityDiff::new(entity, table);
    result.source_rows = source_rows as u64;
    result.target_rows = bisection.target_rows;
    result.range_queries = bisection.range_queries;
    result.hashes_fetched = bisection.hashes_fetched;
    result.same = bisection.same;
    let rejected_ids = rejected_ids(workspace, entity)?;
    for id in &bisection.source_only {
        if rejected_ids.contains(id) {
            result.rejected.push(id.clone());
        }
        result.missing_in_target.push(id.clone());
    }
    result.missing_in_source = bisection.target_only.clone();
    Ok(result)
}

/// Sorts every list of findings by id, so reports are deterministic.
pub(crate) fn sort_findings(result: &mut EntityDiff) {
    result.missing_in_target.sort();
    result.rejected.sort();
    result.missing_in_source.sort();
    result
        .different
        .sort_by(|left, right| left.id.cmp(&right.id));
}

/// Counts a record on both sides as the same or as a [`RecordDiff`].
pub(crate) fn compare_records(
    result: &mut EntityDiff,
    source: &BTreeMap<String, BTreeMap<String, Value>>,
    target: &BTreeMap<String, BTreeMap<String, Value>>,
) {
    for (id, record) in source {
        match target.get(id) {
            // Gone between the bisection and the fetch.
            None => result.missing_in_target.push(id.clone()),
            Some(row) if row == record => result.same += 1,
            Some(row) => result.different.push(record_diff(id, record, row)),
        }
    }
    for id in target.keys() {
        if !source.contains_key(id) {
            result.missing_in_source.push(id.clone());
        }
    }
}

/// The name of the table's id column.
pub(crate) fn id_column(table: &Table) -> Result<String, PipelineError> {
    table
        .columns
        .iter()
        .find(|column| column.source == ColumnSource::BuiltIn(BuiltIn::Id))
        .map(|column| column.name.clone())
        .ok_or_else(|| PipelineError::Table {
            table: table.name.clone(),
            message: "has no id column".to_owned(),
        })
}

/// Reads an entity's staged records: per kept line, its id and row hash (the hash of the
/// row a load writes from it), sorted by id on disk. Of a duplicate id, the copy a load
/// keeps.
fn read_source(
    workspace: &Workspace,
    entity: &str,
    entry: &EntityManifest,
    target: &TargetSchema,
    relax: Relax,
    urls: Option<&UrlRewrite>,
) -> Result<SortedRows, PipelineError> {
    let (folder, mut sort) = row_sort()?;
    let Some(table) = target.table_for_entity(entity) else {
        return SortedRows::build(folder, std::iter::empty());
    };
    let refused = crate::compare::verify::database_refused(workspace, entity)?;
    let part_files: Vec<&str> = entry.parts.iter().map(|part| part.file.as_str()).collect();
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 4);
    // One thread reads lines into batches; the workers parse, convert and hash them; this
    // thread sorts what they hash (on disk past a budget).
    let (sender, receiver) = std::sync::mpsc::sync_channel::<LineBatch>(workers * 2);
    let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
    let (hashed_sender, hashed) = std::sync::mpsc::sync_channel::<Vec<SourceRow>>(workers * 2);
    let (read, sorted) = std::thread::scope(|scope| {
        for _ in 0..workers {
            // Each worker holds the batches' receiver: when the last one stops, the reader's
            // sends fail and it stops too.
            let receiver = receiver.clone();
            let hashed_sender = hashed_sender.clone();
            let (refused, part_files) = (&refused, &part_files);
            scope.spawn(move || {
                let converter = EntityConverter::new(target, table, relax);
                let types: Vec<&PgType> =
                    table.columns.iter().map(|column| &column.pg_type).collect();
                loop {
                    let batch = match receiver.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => break,
                    };
                    let Ok(batch) = batch else {
                        break;
                    };
                    let mut rows = Vec::with_capacity(batch.lines.len());
                    for line in &batch.lines {
                        let text = batch.data.get(line.start..line.end).unwrap_or_default();
                        let refused_line = !refused.is_empty()
                            && refused.contains(&format!(
                                "{}:{}",
                                part_files.get(line.part as usize).copied().unwrap_or("?"),
                                line.line + 1
                            ));
                        let Some((id, hash)) = hash_line(&converter, &types, text, urls) else {
                            continue;
                        };
                        rows.push(SourceRow {
                            id: id.into_boxed_str(),
                            hash: hash.unwrap_or(0),
                            forced: hash.is_none() || refused_line,
                            part: line.part,
                            offset: line.offset,
                        });
                    }
                    if hashed_sender.send(rows).is_err() {
                        break;
                    }
                }
            });
        }
        drop(receiver);
        drop(hashed_sender);
        let reader = scope.spawn(|| read_batches(workspace, entry, sender));
        let mut sorted = Ok(());
        for rows in hashed {
            for row in rows {
                if let Err(error) = sort.push(row) {
                    sorted = Err(error);
                    break;
                }
            }
            if sorted.is_err() {
                // Dropping the receiver stops the workers, then the reader.
                break;
            }
        }
        let read = reader.join().unwrap_or_else(|_| {
            Err(PipelineError::WorkerStopped {
                what: format!("reading {entity}"),
                why: "the reading thread stopped".to_owned(),
                outcome: "the diff stopped".to_owned(),
            })
        });
        (read, sorted)
    });
    read?;
    sorted?;
    let newest = NewestCopies {
        workspace,
        entry,
        sorted: sort.into_sorted()?.peekable(),
        kept: std::collections::VecDeque::new(),
    };
    SortedRows::build(folder, newest)
}

/// Sorted rows with only the copies a load keeps of an id staged more than once (the rule
/// of [`crate::workspace::duplicates`]; copies arrive by id, then position).
struct NewestCopies<'a, I: Iterator<Item = Result<SourceRow, PipelineError>>> {
    workspace: &'a Workspace,
    entry: &'a EntityManifest,
    sorted: std::iter::Peekable<I>,
    kept: std::collections::VecDeque<SourceRow>,
}

impl<I: Iterator<Item = Result<SourceRow, PipelineError>>> Iterator for NewestCopies<'_, I> {
    type Item = Result<SourceRow, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.kept.pop_front() {
            return Some(Ok(row));
        }
        let first = match self.sorted.next()? {
            Ok(row) => row,
            Err(error) => return Some(Err(error)),
        };
        let mut copies = vec![first];
        while let Some(Ok(next)) = self.sorted.peek() {
            if copies.first().is_some_and(|first| first.id != next.id) {
                break;
            }
            match self.sorted.next() {
                Some(Ok(row)) => copies.push(row),
                Some(Err(error)) => return Some(Err(error)),
                None => break,
            }
        }
        if copies.len() > 1 {
            let located: Vec<&SourceRow> = copies.iter().collect();
            let lines = match read_lines_at(self.workspace, self.entry, &located) {
                Ok(lines) => lines,
                Err(error) => return Some(Err(error)),
            };
            let mut ranked: Vec<(Option<i64>, (u32, u64))> = copies
                .iter()
                .zip(&lines)
                .filter_map(|(row, line)| Some((copy_rank(line)?, (row.part, row.offset))))
                .collect();
            if let Some((_, lost)) = rank_copies(&mut ranked) {
                let lost: HashSet<(u32, u64)> = lost.into_iter().collect();
                copies.retain(|row| !lost.contains(&(row.part, row.offset)));
            }
        }
        self.kept.extend(copies);
        self.kept.pop_front().map(Ok)
    }
}

/// Staged lines read in one go, for a worker.
struct LineBatch {
    data: Vec<u8>,
    lines: Vec<BatchLine>,
}

struct BatchLine {
    part: u32,
    line: u64,
    offset: u64,
    start: usize,
    end: usize,
}

/// Reads an entity's lines into batches of about 1,000 lines for the workers (small: the
/// batches in flight are most of what the diff holds).
fn read_batches(
    workspace: &Workspace,
    entry: &EntityManifest,
    sender: std::sync::mpsc::SyncSender<LineBatch>,
) -> Result<(), PipelineError> {
    const BATCH_LINES: usize = 1024;
    let mut reader = PartReader::open(workspace, &entry.parts, Position::default())?;
    let mut buffer = Vec::new();
    let mut batch = LineBatch {
        data: Vec::with_capacity(BATCH_LINES * 600),
        lines: Vec::with_capacity(BATCH_LINES),
    };
    while let Some((part, line)) = reader.next_line(&mut buffer)? {
        let offset = reader.position().offset - buffer.len() as u64;
        let text = trim_line(&buffer);
        let start = batch.data.len();
        batch.data.extend_from_slice(text);
        batch.lines.push(BatchLine {
            part: part as u32,
            line,
            offset,
            start,
            end: batch.data.len(),
        });
        if batch.lines.len() == BATCH_LINES {
            let full = std::mem::replace(
                &mut batch,
                LineBatch {
                    data: Vec::with_capacity(BATCH_LINES * 600),
                    lines: Vec::with_capacity(BATCH_LINES),
                },
            );
            if sender.send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.lines.is_empty() {
        let _ = sender.send(batch);
    }
    Ok(())
}

/// A line's id and row hash (`None` for a record the load rejects); `None` for a line with
/// no id. File URLs are rewritten first when the target's were.
fn hash_line(
    converter: &EntityConverter<'_>,
    types: &[&PgType],
    text: &[u8],
    urls: Option<&UrlRewrite>,
) -> Option<(String, Option<i64>)> {
    if !line_may_be_rewritten(urls, text)
        && let Ok(line) = std::str::from_utf8(text)
        && let Some(slotted) = converter.parse_slotted(line)
        && let Some(id) = slotted.id(converter)
    {
        let hash = converter
            .convert_slotted(&slotted)
            .map(|converted| row_hash(&converted.row, types));
        if hash.is_some() {
            return Some((id.to_owned(), hash));
        }
    }
    let mut record = parse_record(text, types.len()).ok()?;
    if let Some(urls) = urls {
        rewrite_record(urls, &mut record);
    }
    let id = record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)?
        .to_owned();
    let hash = converter
        .convert(&record)
        .ok()
        .map(|converted| row_hash(&converted.row, types));
    Some((id, hash))
}

/// The lines that start where these rows say.
fn read_lines_at(
    workspace: &Workspace,
    entry: &EntityManifest,
    rows: &[&SourceRow],
) -> Result<Vec<Vec<u8>>, PipelineError> {
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(part) = entry.parts.get(row.part as usize) else {
            lines.push(Vec::new());
            continue;
        };
        let path = workspace.root().join(&part.file);
        let mut file =
            std::fs::File::open(&path).map_err(|error| PipelineError::io(&path, error))?;
        file.seek(SeekFrom::Start(row.offset))
            .map_err(|error| PipelineError::io(&path, error))?;
        let mut reader = std::io::BufReader::new(file.take(1 << 30));
        let mut line = Vec::new();
        reader
            .read_until(b'\n', &mut line)
            .map_err(|error| PipelineError::io(&path, error))?;
        lines.push(trim_line(&line).to_vec());
    }
    Ok(lines)
}

/// The canonical records at these rows' positions, by id.
fn source_records_at(
    workspace: &Workspace,
    entry: &EntityManifest,
    table: &Table,
    rows: &[&SourceRow],
    urls: Option<&UrlRewrite>,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, PipelineError> {
    let lines = read_lines_at(workspace, entry, rows)?;
    let mut records = BTreeMap::new();
    for line in lines {
        let Ok(mut record) = serde_json::from_slice::<Map<String, Value>>(&line) else {
            continue;
        };
        if let Some(urls) = urls {
            rewrite_record(urls, &mut record);
        }
        if let Some((id, canonical)) =
            canonical_source_record(offbase_model::record::source_record(record), table)
        {
            records.insert(id, canonical);
        }
    }
    Ok(records)
}

/// The ids in an entity's reject file.
pub(crate) fn rejected_ids(
    workspace: &Workspace,
    entity: &str,
) -> Result<BTreeSet<String>, PipelineError> {
    let mut ids = BTreeSet::new();
    read_rejects(&rejects_path(workspace, entity), |reject| {
        ids.extend(reject.id);
    })?;
    Ok(ids)
}

fn record_diff(
    id: &str,
    source: &BTreeMap<String, Value>,
    target: &BTreeMap<String, Value>,
) -> RecordDiff {
    let keys: BTreeSet<&String> = source.keys().chain(target.keys()).collect();
    let fields = keys
        .into_iter()
        .filter(|key| source.get(*key) != target.get(*key))
        .cloned()
        .collect();
    // A secret-looking field (a password hash, a token) is named among the fields that
    // differ, never shown.
    let pretty = |record: &BTreeMap<String, Value>| {
        let mut value = serde_json::to_value(record).unwrap_or_default();
        crate::users::fields::redact_secrets(&mut value);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    };
    let (old, new) = (pretty(source), pretty(target));
    let diff = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(1)
        .header("source", "target")
        .to_string();
    RecordDiff {
        id: id.to_owned(),
        fields,
        diff,
    }
}

/// Writes `reports/diff-data.md` and `reports/diff-data.json`, and the page
/// `reports/index.html`.
pub fn write_reports(workspace: &Workspace, diff: &DataDiff) -> Result<(), PipelineError> {
    let folder = workspace.reports_dir();
    workspace.write_json(&folder.join("diff-data.json"), diff)?;
    crate::workspace::files::write_atomic(
        &folder.join("diff-data.md"),
        data_diff_report(diff).as_bytes(),
    )?;
    crate::page::write_index(workspace)
}

/// `reports/diff-data.md`: a table of counts per entity, then each difference by id.
pub fn data_diff_report(diff: &DataDiff) -> String {
    let mut text = format!(
        "# Data diff: {} against schema `{}`: {}\n\n| entity | same | missing in target | of which rejected | missing in source | different | source rows | target rows | range queries | hashes read | rows read |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        match diff.source {
            DiffSource::Workspace => "workspace",
            DiffSource::Api => "Base44 API",
        },
        diff.pg_schema,
        if diff.clean() { "clean" } else { "DIFFERENCES" }
    );
    for entity in &diff.entities {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            entity.entity,
            entity.same,
            entity.missing_in_target.len(),
            entity.rejected.len(),
            entity.missing_in_source.len(),
            entity.different.len(),
            entity.source_rows,
            entity.target_rows,
            entity.range_queries,
            entity.hashes_fetched,
            entity.rows_fetched
        ));
    }
    text.push_str(
        "\nRanges of ids are compared by count and hash sum, and split again only where they differ; *hashes read* are the (id, hash) pairs of the small ranges that still differ, *rows read* the whole target rows compared field by field.\n",
    );
    for entity in &diff.entities {
        let unexplained: Vec<&String> = entity
            .missing_in_target
            .iter()
            .filter(|id| !entity.rejected.contains(id))
            .collect();
        if !unexplained.is_empty() {
            text.push_str(&format!(
                "\n## {}: missing in the target\n\n{}\n",
                entity.entity,
                unexplained
                    .iter()
                    .map(|id| format!("- `{id}`"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        if !entity.missing_in_source.is_empty() {
            text.push_str(&format!(
                "\n## {}: missing in the source\n\n{}\n",
                entity.entity,
                entity
                    .missing_in_source
                    .iter()
                    .map(|id| format!("- `{id}`"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        for record in &entity.different {
            text.push_str(&format!(
                "\n## {} `{}`: {}\n\n```diff\n{}```\n",
                entity.entity,
                record.id,
                record.fields.join(", "),
                record.diff
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record diff showed every field's value, a password hash's too.
    #[test]
    fn a_record_diff_showed_the_value_of_a_secret_field() {
        let record = |hash: &str, name: &str| -> BTreeMap<String, Value> {
            BTreeMap::from([
                ("password_hash".to_owned(), Value::from(hash)),
                ("name".to_owned(), Value::from(name)),
            ])
        };
        let found = record_diff(
            "u1",
            &record("$2b$10$sourcesourcesource", "Ada"),
            &record("$2b$10$targettargettarget", "Ada L."),
        );
        assert_eq!(found.fields, ["name", "password_hash"]);
        assert!(!found.diff.contains("$2b$"), "{}", found.diff);
        assert!(found.diff.contains("Ada L."), "{}", found.diff);
    }
}
