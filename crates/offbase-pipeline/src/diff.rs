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
//! The source is the workspace, or the Base44 API ([`crate::diff_api`]), which is read for
//! ids and `updated_date` only.

use crate::PipelineError;
use crate::load::{LoadOptions, rejects_path};
use crate::plan::plan_workspace;
use crate::progress::Reporter;
use crate::staged::{PartReader, Position, parse_record, trim_line};
use crate::workspace::{EntityManifest, Workspace};
use offbase_copy::convert::{EntityConverter, Relax};
use offbase_copy::row_hash::{row_hash, row_hash_sql};
use offbase_model::{BuiltIn, ColumnSource, PgType, Table, TargetSchema};
use offbase_pg::range_hash::{self, BucketHash, Buckets, HashedTable, IdRange};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, Read, Seek, SeekFrom};

/// Ranges of at most this many rows (on either side) are compared row by row.
const LEAF_ROWS: usize = 128;
/// A differing range is split into at most this many ranges a level.
const FAN_OUT: usize = 64;

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

/// One source record as the bisection sees it.
#[derive(Debug, Clone)]
pub(crate) struct SourceRow {
    pub(crate) id: Box<str>,
    pub(crate) hash: i64,
    /// A record the load could not write as is (rejected, or refused by PostgreSQL): its
    /// range always differs, so it is looked at row by row.
    pub(crate) forced: bool,
    /// Where the record's line starts (workspace source).
    pub(crate) part: u32,
    pub(crate) offset: u64,
}

/// What the bisection found for one entity.
#[derive(Debug, Default)]
pub(crate) struct Bisection {
    pub(crate) same: u64,
    /// Ids on both sides whose hashes differ (or whose source record is forced).
    pub(crate) both: Vec<String>,
    /// Indexes into the source rows of the ids the target lacks.
    pub(crate) source_only: Vec<usize>,
    pub(crate) target_only: Vec<String>,
    pub(crate) target_rows: u64,
    pub(crate) range_queries: u64,
    pub(crate) hashes_fetched: u64,
}

/// Compares every entity of the workspace with its table in `options.pg_schema`.
pub async fn diff_data(
    workspace: &Workspace,
    options: &LoadOptions,
    reporter: &dyn Reporter,
) -> Result<DataDiff, PipelineError> {
    let manifest = workspace.manifest()?;
    let output = plan_workspace(
        workspace,
        options.mappings.as_deref(),
        &crate::progress::NoProgress,
    )?;
    let mut connection = offbase_pg::connect(&options.database_url).await?;
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
            options,
        )
        .await?;
        reporter.finished(entity);
        entities.push(result);
    }
    Ok(DataDiff {
        pg_schema: options.pg_schema.clone(),
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
    options: &LoadOptions,
) -> Result<EntityDiff, PipelineError> {
    let hash_sql = row_hash_sql(table, "t");
    let id_column = id_column(table)?;
    let index_ranges =
        range_hash::id_sorts_by_bytes(connection, &options.pg_schema, &table.name, &id_column)
            .await?;
    let hashed = HashedTable {
        pg_schema: &options.pg_schema,
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
        let relax = options.relax;
        tokio::task::spawn_blocking(move || {
            read_source(&workspace, &entity, &entry, &target, relax)
        })
    };
    let total = range_hash::bucket_hashes(connection, &hashed, Buckets::All).await;
    let rows = reading
        .await
        .map_err(|error| PipelineError::Usage(format!("reading {entity}: {error}")))??;
    let total = total?;
    let bisection = bisect(connection, &hashed, &rows, total.first().copied()).await?;

    let mut result = bisection_result(workspace, entity, &table.name, &rows, &bisection)?;
    if !bisection.both.is_empty() {
        let wanted: BTreeSet<&str> = bisection.both.iter().map(String::as_str).collect();
        let located: Vec<&SourceRow> = rows
            .iter()
            .filter(|row| wanted.contains(row.id.as_ref()))
            .collect();
        let source = source_records_at(workspace, entry, table, &located)?;
        let target_rows = target_records(connection, &hashed, table, &bisection.both).await?;
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
    rows: &[SourceRow],
    bisection: &Bisection,
) -> Result<EntityDiff, PipelineError> {
    let mut result = EntityDiff::new(entity, table);
    result.source_rows = rows.len() as u64;
    result.target_rows = bisection.target_rows;
    result.range_queries = bisection.range_queries;
    result.hashes_fetched = bisection.hashes_fetched;
    result.same = bisection.same;
    let rejected_ids = rejected_ids(workspace, entity)?;
    for &index in &bisection.source_only {
        if let Some(row) = rows.get(index) {
            let id = row.id.to_string();
            if rejected_ids.contains(&id) {
                result.rejected.push(id.clone());
            }
            result.missing_in_target.push(id);
        }
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
        .ok_or_else(|| PipelineError::Usage(format!("table {} has no id column", table.name)))
}

/// The count and hash sum of source rows (a forced row makes the range differ).
fn source_hash(rows: &[SourceRow]) -> (u64, i128, bool) {
    let mut sum: i128 = 0;
    let mut forced = false;
    for row in rows {
        sum += i128::from(row.hash);
        forced |= row.forced;
    }
    (rows.len() as u64, sum, forced)
}

/// A range of ids, `lo <= id < hi` (`None`: unbounded), with the source rows in it
/// (`from..to`, sorted by id) and the target's count.
#[derive(Debug, Clone)]
struct Range {
    lo: Option<String>,
    hi: Option<String>,
    from: usize,
    to: usize,
    target_rows: u64,
}

/// The bounds and bucket numbers of disjoint ranges, for one query.
fn buckets_of(ranges: &[Range]) -> (Vec<String>, Vec<i32>) {
    let mut bounds: BTreeSet<&str> = BTreeSet::new();
    for range in ranges {
        bounds.extend(range.lo.as_deref());
        bounds.extend(range.hi.as_deref());
    }
    let bounds: Vec<String> = bounds.into_iter().map(str::to_owned).collect();
    let wanted = ranges
        .iter()
        .map(|range| bucket_of(&bounds, range.lo.as_deref()))
        .collect();
    (bounds, wanted)
}

/// The `width_bucket` number of the range starting at `lo`.
fn bucket_of(bounds: &[String], lo: Option<&str>) -> i32 {
    match lo {
        None => 0,
        Some(lo) => bounds.partition_point(|bound| bound.as_str() <= lo) as i32,
    }
}

/// Splits the source rows `from..to` into ranges at source ids.
fn split(range: &Range, parts: usize, rows: &[SourceRow]) -> Vec<Range> {
    let length = range.to - range.from;
    let parts = parts.clamp(1, length.max(1));
    let mut children = Vec::with_capacity(parts);
    let mut lo = range.lo.clone();
    let mut from = range.from;
    for part in 1..parts {
        let at = range.from + length * part / parts;
        if at <= from {
            continue;
        }
        let Some(row) = rows.get(at) else {
            continue;
        };
        let bound = row.id.to_string();
        children.push(Range {
            lo: lo.clone(),
            hi: Some(bound.clone()),
            from,
            to: at,
            target_rows: 0,
        });
        lo = Some(bound);
        from = at;
    }
    children.push(Range {
        lo,
        hi: range.hi.clone(),
        from,
        to: range.to,
        target_rows: 0,
    });
    children
}

/// Finds the ids that differ between the sorted source rows and the table: ranges whose
/// count and hash sum agree are the same; the others are split and compared again, down to
/// small ranges whose (id, hash) pairs are compared.
pub(crate) async fn bisect(
    connection: &mut offbase_pg::PgConnection,
    table: &HashedTable<'_>,
    rows: &[SourceRow],
    total: Option<BucketHash>,
) -> Result<Bisection, PipelineError> {
    let mut result = Bisection {
        range_queries: 1,
        ..Bisection::default()
    };
    let total = total.unwrap_or(BucketHash {
        bucket: 0,
        rows: 0,
        sum: 0,
    });
    result.target_rows = total.rows;
    let (count, sum, forced) = source_hash(rows);
    if !forced && count == total.rows && sum == total.sum {
        result.same = count;
        return Ok(result);
    }
    let mut differing = vec![Range {
        lo: None,
        hi: None,
        from: 0,
        to: rows.len(),
        target_rows: total.rows,
    }];
    let mut leaves: Vec<Range> = Vec::new();
    while !differing.is_empty() {
        let mut children = Vec::new();
        let mut within = Vec::new();
        for range in differing {
            let length = range.to - range.from;
            let largest = length.max(usize::try_from(range.target_rows).unwrap_or(usize::MAX));
            if largest <= LEAF_ROWS || length < 2 {
                leaves.push(range);
            } else {
                let parts = largest.div_ceil(LEAF_ROWS).min(FAN_OUT);
                within.push((range.lo.clone(), range.hi.clone()));
                children.extend(split(&range, parts, rows));
            }
        }
        if children.is_empty() {
            break;
        }
        let (bounds, wanted) = buckets_of(&children);
        let hashes = range_hash::bucket_hashes(
            connection,
            table,
            Buckets::Of {
                bounds: &bounds,
                wanted: &wanted,
                within: &within,
            },
        )
        .await?;
        result.range_queries += 1;
        let by_bucket: BTreeMap<i32, BucketHash> =
            hashes.into_iter().map(|hash| (hash.bucket, hash)).collect();
        let mut next = Vec::new();
        for (mut child, bucket) in children.into_iter().zip(wanted) {
            let target = by_bucket.get(&bucket).copied().unwrap_or(BucketHash {
                bucket,
                rows: 0,
                sum: 0,
            });
            let (count, sum, forced) =
                source_hash(rows.get(child.from..child.to).unwrap_or_default());
            if !forced && count == target.rows && sum == target.sum {
                result.same += count;
            } else {
                child.target_rows = target.rows;
                next.push(child);
            }
        }
        differing = next;
    }
    if leaves.is_empty() {
        return Ok(result);
    }
    let pairs = if leaves.len() == 1
        && leaves
            .iter()
            .all(|leaf| leaf.lo.is_none() && leaf.hi.is_none())
    {
        range_hash::row_hashes(connection, table, Buckets::All).await?
    } else {
        let (bounds, wanted) = buckets_of(&leaves);
        let within: Vec<IdRange> = leaves
            .iter()
            .map(|leaf| (leaf.lo.clone(), leaf.hi.clone()))
            .collect();
        range_hash::row_hashes(
            connection,
            table,
            Buckets::Of {
                bounds: &bounds,
                wanted: &wanted,
                within: &within,
            },
        )
        .await?
    };
    result.range_queries += 1;
    result.hashes_fetched = pairs.len() as u64;
    let mut target: BTreeMap<String, i64> = pairs.into_iter().collect();
    for leaf in &leaves {
        for index in leaf.from..leaf.to {
            let Some(row) = rows.get(index) else {
                continue;
            };
            match target.remove(row.id.as_ref()) {
                None => result.source_only.push(index),
                Some(hash) if hash == row.hash && !row.forced => result.same += 1,
                Some(_) => result.both.push(row.id.to_string()),
            }
        }
    }
    result.target_only = target.into_keys().collect();
    Ok(result)
}

/// Reads an entity's staged records: per kept line, its id and row hash (the hash of the
/// row a load writes from it), sorted by id. Of a duplicate id, the copy a load keeps.
fn read_source(
    workspace: &Workspace,
    entity: &str,
    entry: &EntityManifest,
    target: &TargetSchema,
    relax: Relax,
) -> Result<Vec<SourceRow>, PipelineError> {
    let Some(table) = target.table_for_entity(entity) else {
        return Ok(Vec::new());
    };
    let refused = crate::verify::database_refused(workspace, entity)?;
    let part_files: Vec<&str> = entry.parts.iter().map(|part| part.file.as_str()).collect();
    let capacity = usize::try_from(entry.records).unwrap_or(0);
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 4);
    // One thread reads lines into batches; the workers parse, convert and hash them.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<LineBatch>(workers * 2);
    let receiver = std::sync::Mutex::new(receiver);
    let (mut rows, read) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let converter = EntityConverter::new(target, table, relax);
                    let types: Vec<&PgType> =
                        table.columns.iter().map(|column| &column.pg_type).collect();
                    let mut rows = Vec::with_capacity(capacity / workers + 1);
                    loop {
                        let batch = match receiver.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => break,
                        };
                        let Ok(batch) = batch else {
                            break;
                        };
                        for line in &batch.lines {
                            let text = batch.data.get(line.start..line.end).unwrap_or_default();
                            let refused_line = !refused.is_empty()
                                && refused.contains(&format!(
                                    "{}:{}",
                                    part_files.get(line.part as usize).copied().unwrap_or("?"),
                                    line.line + 1
                                ));
                            let Some((id, hash)) = hash_line(&converter, &types, text) else {
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
                    }
                    rows
                })
            })
            .collect();
        let read = read_batches(workspace, entry, sender);
        let mut rows: Vec<SourceRow> = Vec::with_capacity(capacity);
        for handle in handles {
            if let Ok(part) = handle.join() {
                rows.extend(part);
            }
        }
        (rows, read)
    });
    read?;
    rows.sort_unstable_by(|left, right| {
        left.id
            .as_bytes()
            .cmp(right.id.as_bytes())
            .then(left.part.cmp(&right.part))
            .then(left.offset.cmp(&right.offset))
    });
    keep_newest_copies(workspace, entry, &mut rows)?;
    Ok(rows)
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

/// Reads an entity's lines into batches of about 4,000 lines for the workers.
fn read_batches(
    workspace: &Workspace,
    entry: &EntityManifest,
    sender: std::sync::mpsc::SyncSender<LineBatch>,
) -> Result<(), PipelineError> {
    const BATCH_LINES: usize = 4096;
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
/// no id.
fn hash_line(
    converter: &EntityConverter<'_>,
    types: &[&PgType],
    text: &[u8],
) -> Option<(String, Option<i64>)> {
    if let Ok(line) = std::str::from_utf8(text)
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
    let record = parse_record(text, types.len()).ok()?;
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

/// Of each id staged more than once, keeps the copy a load keeps: the newest
/// `updated_date`, then the later line (rows sorted by id, then position).
fn keep_newest_copies(
    workspace: &Workspace,
    entry: &EntityManifest,
    rows: &mut Vec<SourceRow>,
) -> Result<(), PipelineError> {
    let repeated = rows
        .windows(2)
        .any(|pair| matches!(pair, [left, right] if left.id == right.id));
    if !repeated {
        return Ok(());
    }
    let mut losers: HashSet<(u32, u64)> = HashSet::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len()
            && rows.get(end).map(|row| &row.id) == rows.get(start).map(|row| &row.id)
        {
            end += 1;
        }
        if end - start > 1 {
            let copies: Vec<&SourceRow> = rows.get(start..end).unwrap_or_default().iter().collect();
            let lines = read_lines_at(workspace, entry, &copies)?;
            let mut ranked: Vec<(Option<i64>, u32, u64)> = copies
                .iter()
                .zip(&lines)
                .map(|(row, line)| {
                    let updated = serde_json::from_slice::<Map<String, Value>>(line)
                        .ok()
                        .and_then(|record| {
                            record
                                .get(BuiltIn::UpdatedDate.field_name())
                                .and_then(Value::as_str)
                                .and_then(offbase_model::time::parse_timestamp)
                        })
                        .map(|instant| instant.timestamp_micros());
                    (updated, row.part, row.offset)
                })
                .collect();
            ranked.sort();
            for &(_, part, offset) in ranked.iter().take(ranked.len() - 1) {
                losers.insert((part, offset));
            }
        }
        start = end;
    }
    rows.retain(|row| !losers.contains(&(row.part, row.offset)));
    Ok(())
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
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, PipelineError> {
    let lines = read_lines_at(workspace, entry, rows)?;
    let mut records = BTreeMap::new();
    for line in lines {
        if let Ok(record) = serde_json::from_slice::<Map<String, Value>>(&line)
            && let Some((id, canonical)) =
                canonical_source_record(offbase_model::record::source_record(record), table)
        {
            records.insert(id, canonical);
        }
    }
    Ok(records)
}

/// A source record (as the source holds it, not staged) in canonical form, with its id.
pub(crate) fn canonical_source_record(
    record: Map<String, Value>,
    table: &Table,
) -> Option<(String, BTreeMap<String, Value>)> {
    let id = record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .map(str::to_owned)?;
    let mut canonical = BTreeMap::new();
    for (field, value) in record {
        let pg_type = table.column_for_field(&field).map(|column| &column.pg_type);
        if let Some(value) = canonical_value(&value, pg_type) {
            canonical.insert(field, value);
        }
    }
    Some((id, canonical))
}

/// The target's rows with these ids, canonical, by id: columns back to their fields,
/// `_extra` folded in.
pub(crate) async fn target_records(
    connection: &mut offbase_pg::PgConnection,
    hashed: &HashedTable<'_>,
    table: &Table,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, PipelineError> {
    let mut records = BTreeMap::new();
    for chunk in ids.chunks(10_000) {
        let rows = range_hash::rows_by_id(
            connection,
            hashed.pg_schema,
            hashed.table,
            hashed.id_column,
            chunk,
        )
        .await?;
        for row in rows {
            if let Some((id, canonical)) = canonical_target_row(row, table) {
                records.insert(id, canonical);
            }
        }
    }
    Ok(records)
}

/// A row (`to_jsonb`) in canonical form, with its id.
pub(crate) fn canonical_target_row(
    row: Value,
    table: &Table,
) -> Option<(String, BTreeMap<String, Value>)> {
    let Value::Object(row) = row else {
        return None;
    };
    let mut canonical = BTreeMap::new();
    for column in &table.columns {
        let value = row.get(&column.name).cloned().unwrap_or(Value::Null);
        match (&column.source, column.field.as_deref()) {
            (ColumnSource::Extra, _) => {
                if let Value::Object(extra) = value {
                    for (field, value) in extra {
                        if let Some(value) = canonical_value(&value, None) {
                            canonical.insert(field, value);
                        }
                    }
                }
            }
            (_, Some(field)) => {
                if let Some(value) = canonical_value(&value, Some(&column.pg_type)) {
                    canonical.insert(field.to_owned(), value);
                }
            }
            (_, None) => {}
        }
    }
    let id = canonical
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .map(str::to_owned)?;
    Some((id, canonical))
}

/// The ids in an entity's reject file.
pub(crate) fn rejected_ids(
    workspace: &Workspace,
    entity: &str,
) -> Result<BTreeSet<String>, PipelineError> {
    let path = rejects_path(workspace, entity);
    let Ok(file) = std::fs::File::open(&path) else {
        return Ok(BTreeSet::new());
    };
    let mut ids = BTreeSet::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|error| PipelineError::io(&path, error))?;
        if let Ok(reject) = serde_json::from_str::<Map<String, Value>>(&line)
            && let Some(id) = reject.get("id").and_then(Value::as_str)
        {
            ids.insert(id.to_owned());
        }
    }
    Ok(ids)
}

/// A value in canonical form, read as a column of `pg_type` would hold it; `None` for null.
pub fn canonical_value(value: &Value, pg_type: Option<&PgType>) -> Option<Value> {
    match (value, pg_type) {
        (Value::Null, _) => None,
        (Value::String(text), Some(PgType::Timestamptz | PgType::Timestamp)) => {
            Some(match offbase_model::time::parse_timestamp(text) {
                Some(instant) => {
                    Value::String(instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                }
                None => value.clone(),
            })
        }
        (Value::String(text), Some(PgType::Time)) => {
            Some(match offbase_model::time::parse_time(text) {
                Some(time) => Value::String(time.format("%H:%M:%S%.6f").to_string()),
                None => value.clone(),
            })
        }
        (Value::Array(items), Some(PgType::Array(element))) => Some(Value::Array(
            items
                .iter()
                .map(|item| canonical_value(item, Some(element)).unwrap_or(Value::Null))
                .collect(),
        )),
        (Value::Array(items), _) => Some(Value::Array(
            items
                .iter()
                .map(|item| canonical_value(item, None).unwrap_or(Value::Null))
                .collect(),
        )),
        (Value::Object(map), _) => {
            // Sorted keys; nulls kept inside documents (jsonb keeps them).
            let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
            sorted.sort_by(|left, right| left.0.cmp(right.0));
            let mut canonical = Map::new();
            for (key, item) in sorted {
                canonical.insert(
                    key.clone(),
                    canonical_value(item, None).unwrap_or(Value::Null),
                );
            }
            Some(Value::Object(canonical))
        }
        (Value::Number(number), _) => Some(Value::Number(canonical_number(number))),
        _ => Some(value.clone()),
    }
}

/// `1`, `1.0` and `1e0` are one number: integral values as integers, the rest as doubles.
fn canonical_number(number: &Number) -> Number {
    if number.is_i64() || number.is_u64() {
        return number.clone();
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Number::from(float as i64),
        Some(float) => Number::from_f64(float).unwrap_or_else(|| number.clone()),
        None => number.clone(),
    }
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
    let pretty = |record: &BTreeMap<String, Value>| {
        let mut text = serde_json::to_string_pretty(record).unwrap_or_default();
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

/// Writes `reports/diff-data.md` and `reports/diff-data.json`.
pub fn write_reports(workspace: &Workspace, diff: &DataDiff) -> Result<(), PipelineError> {
    let folder = workspace.reports_dir();
    workspace.write_json(&folder.join("diff-data.json"), diff)?;
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
    crate::files::write_atomic(&folder.join("diff-data.md"), text.as_bytes())
}
