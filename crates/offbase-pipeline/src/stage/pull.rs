//! The pull stage: every record of every entity from the Base44 API into the workspace, exactly
//! once, resumable at any moment.
//!
//! Paging never trusts `skip`: records are read in `(created_date, id)` order by keyset. A page
//! sorted by `created_date` is complete only below its last timestamp, so the next page starts
//! at that timestamp; when a whole page shares one timestamp, its records are read on their own,
//! sorted by `id`, before moving past it. Each page
//! is written and synced before the checkpoint that counts it (see [`crate::workspace`]).

use crate::PipelineError;
use crate::progress::Reporter;
use crate::workspace::{
    EntityManifest, KeyOrder, Manifest, PartWriter, RecordKey, SourceInfo, Workspace,
    WriterPosition, canonical_record, entity_manifest, workspace_line,
};
use offbase_base44::client::{Client, ListQuery, RawRecords};
use offbase_model::{App, BuiltIn, Entity, SourceLayout};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Mutex, Semaphore};

/// What to pull and how.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Only these entities (by schema name); all the app's schema entities when `None`.
    pub entities: Option<Vec<String>>,
    /// Records per request (Base44 caps at 5000).
    pub page_size: usize,
    /// Records per part file.
    pub part_records: u64,
    /// Entities pulled at the same time.
    pub concurrency: usize,
    /// Start the named entities over, discarding what an earlier pull stored.
    pub fresh: bool,
    /// The longest time between checkpoints (each one syncs the data and writes the state);
    /// zero: after every page.
    pub checkpoint_interval: std::time::Duration,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            entities: None,
            page_size: offbase_base44::api::LIST_CAP,
            part_records: 100_000,
            concurrency: 4,
            fresh: false,
            checkpoint_interval: std::time::Duration::from_secs(1),
        }
    }
}

/// Where an entity's keyset paging stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Every record before this timestamp is stored.
    pub created_date: String,
    /// Reading the records that share `created_date`, after this id (`None`: from the start).
    /// `false`: that timestamp is done too.
    pub within_timestamp: bool,
    pub after_id: Option<String>,
    /// Outside a timestamp: `created_date` itself is not done yet (the last page ended inside
    /// it), so the next page starts at it rather than after it.
    #[serde(default)]
    pub inclusive: bool,
}

/// The checkpoint of one entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityPullState {
    pub complete: bool,
    pub writer: WriterPosition,
    pub cursor: Option<Cursor>,
    pub first_key: Option<RecordKey>,
    pub last_key: Option<RecordKey>,
    pub source_count: Option<u64>,
    /// The ids stored with the last stored timestamp, to drop repeats across a page boundary.
    #[serde(default)]
    pub boundary_ids: Vec<String>,
    /// When this entity's pull began (Unix microseconds, this machine's clock): every change
    /// the pull may have missed is stamped later, so a sync can start here.
    #[serde(default)]
    pub started_at: Option<i64>,
}

/// `state/pull.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullState {
    pub format: u32,
    pub source: Option<SourceInfo>,
    pub entities: BTreeMap<String, EntityPullState>,
}

/// The outcome for one entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityPullSummary {
    pub entity: String,
    pub records: u64,
    pub bytes: u64,
    pub source_count: Option<u64>,
    /// `records == source_count`.
    pub matches_source: bool,
    /// The entity was already complete: nothing was fetched.
    pub already_complete: bool,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullSummary {
    pub workspace: String,
    pub entities: Vec<EntityPullSummary>,
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub seconds: f64,
}

/// Pulls the app's entities into `workspace`. `app` holds the schemas (the records' field
/// order and the entity list come from it).
pub async fn pull(
    client: &Client,
    app: &App,
    workspace: &Workspace,
    options: &PullOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<PullSummary, PipelineError> {
    let started = Instant::now();
    let entities = select_entities(app, options.entities.as_deref())?;
    let _workspace_lock = crate::lock::lock_workspace(workspace, "pull")?;
    let source = SourceInfo::Api {
        // A URL may carry credentials (`https://user:password@host`): never store them.
        api_url: offbase_pg::redact_url(client.api_url()),
        app_id: client.app_id().to_owned(),
    };
    let mut state: PullState = workspace
        .read_json(&workspace.pull_state_path())?
        .unwrap_or_default();
    if let Some(previous) = &state.source
        && *previous != source
        && !options.fresh
    {
        return Err(PipelineError::OtherSource {
            path: workspace.root().to_path_buf(),
            previous: previous.to_string(),
            asked: source.to_string(),
        });
    }
    state.format = crate::workspace::FORMAT;
    state.source = Some(source.clone());
    if options.fresh {
        for entity in &entities {
            state.entities.remove(&entity.name);
            let folder = workspace.entity_dir(&entity.name);
            if folder.exists() {
                std::fs::remove_dir_all(&folder)
                    .map_err(|error| PipelineError::io(&folder, error))?;
            }
        }
    }
    write_schemas(workspace, &entities)?;
    workspace.write_json(&workspace.pull_state_path(), &state)?;

    let state = Arc::new(Mutex::new(state));
    let semaphore = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for entity in entities {
        let client = client.clone();
        let workspace = workspace.clone();
        let options = options.clone();
        let state = Arc::clone(&state);
        let semaphore = Arc::clone(&semaphore);
        let reporter = Arc::clone(&reporter);
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            pull_entity(
                &client,
                &entity,
                &workspace,
                &options,
                &state,
                reporter.as_ref(),
            )
            .await
        });
    }
    let mut summaries = Vec::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(summary)) => summaries.push(summary),
            Ok(Err(error)) => {
                if first_error.is_none() {
                    first_error = Some(error);
                    // One entity failed for good: stop the others at their next page; their
                    // checkpoints keep what they have.
                    tasks.abort_all();
                }
            }
            Err(join_error) if join_error.is_cancelled() => {}
            Err(join_error) => {
                first_error.get_or_insert(PipelineError::WorkerStopped {
                    what: "an entity's pull".to_owned(),
                    why: join_error.to_string(),
                    outcome: "the pull stopped; its checkpoints keep what was written".to_owned(),
                });
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    summaries.sort_by(|left, right| left.entity.cmp(&right.entity));

    let state = state.lock().await.clone();
    write_manifest(workspace, &state, Some(source))?;
    let stats = client.stats();
    Ok(PullSummary {
        workspace: workspace.root().display().to_string(),
        entities: summaries,
        requests: stats.requests,
        retries: stats.retries,
        throttled: stats.throttled,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The entities to pull: those with a schema file, or the ones named (which must exist).
pub fn select_entities(app: &App, names: Option<&[String]>) -> Result<Vec<Entity>, PipelineError> {
    match names {
        None => Ok(app
            .entities
            .iter()
            .filter(|entity| entity.source.layout != SourceLayout::Platform)
            .cloned()
            .collect()),
        Some(names) => {
            let mut selected = Vec::new();
            for name in names {
                match app.entity(name) {
                    Some(entity) => selected.push(entity.clone()),
                    None => {
                        let known: Vec<&str> = app
                            .entities
                            .iter()
                            .map(|entity| entity.name.as_str())
                            .collect();
                        return Err(PipelineError::UnknownEntity {
                            name: name.clone(),
                            known: known.join(", "),
                        });
                    }
                }
            }
            selected.sort_by(|left, right| left.name.cmp(&right.name));
            selected.dedup_by(|left, right| left.name == right.name);
            Ok(selected)
        }
    }
}

/// Saves the schemas the data is read with, as Base44 schema files.
pub(crate) fn write_schemas(
    workspace: &Workspace,
    entities: &[Entity],
) -> Result<(), PipelineError> {
    for entity in entities {
        let path = workspace.schema_path(&entity.name);
        workspace.write_json(
            &path,
            &offbase_base44::csv_export::entity_schema_json(entity),
        )?;
    }
    Ok(())
}

/// Writes `manifest.json` for every complete entity of `state`, keeping entries of entities
/// this run did not touch.
pub fn write_manifest(
    workspace: &Workspace,
    state: &PullState,
    source: Option<SourceInfo>,
) -> Result<Manifest, PipelineError> {
    let mut manifest = workspace.manifest()?;
    manifest.format = crate::workspace::FORMAT;
    manifest.source = source;
    for (entity, entity_state) in &state.entities {
        if !entity_state.complete {
            manifest.entities.remove(entity);
            continue;
        }
        let entry: EntityManifest = entity_manifest(
            workspace,
            entity,
            &entity_state.writer,
            entity_state.source_count,
            entity_state.first_key.clone(),
            entity_state.last_key.clone(),
        )?;
        manifest.entities.insert(entity.clone(), entry);
    }
    workspace.write_json(&workspace.manifest_path(), &manifest)?;
    Ok(manifest)
}

async fn save_entity(
    workspace: &Workspace,
    state: &Mutex<PullState>,
    entity: &str,
    entity_state: &EntityPullState,
) -> Result<(), PipelineError> {
    let mut state = state.lock().await;
    state
        .entities
        .insert(entity.to_owned(), entity_state.clone());
    workspace.write_json(&workspace.pull_state_path(), &*state)
}

/// A page request running ahead of the writer.
type PageRequest = tokio::task::JoinHandle<Result<RawRecords, offbase_base44::client::ClientError>>;

/// A record of a page: its place in the pull order and its line in the workspace form (from
/// the text the API sent, or the record parsed and written again: see
/// [`workspace_line`]).
struct PageRecord<'p> {
    instant: Option<i64>,
    id: Option<String>,
    created_date: Option<String>,
    line: Cow<'p, str>,
}

impl<'p> PageRecord<'p> {
    /// The page's records in the pull order.
    fn sorted(
        page: &'p RawRecords,
        entity: &Entity,
        order: &KeyOrder,
    ) -> Result<Vec<PageRecord<'p>>, PipelineError> {
        let mut records = Vec::with_capacity(page.len());
        for (index, text) in page.iter().enumerate() {
            let record = match workspace_line(text, order) {
                Some(formed) => PageRecord::new(
                    formed.id.map(str::to_owned),
                    formed.created_date.map(str::to_owned),
                    formed.line,
                ),
                None => PageRecord::parsed(page, index, text, entity)?,
            };
            records.push(record);
        }
        records.sort_by(|left, right| {
            (left.instant, left.id.as_deref().unwrap_or_default())
                .cmp(&(right.instant, right.id.as_deref().unwrap_or_default()))
        });
        Ok(records)
    }

    /// A record with its place in the pull order: its `created_date` as an instant (records
    /// without a readable one first; the same rule as [`crate::workspace::pull_order`]), then its id.
    fn new(id: Option<String>, created_date: Option<String>, line: Cow<'p, str>) -> Self {
        let instant = created_date
            .as_deref()
            .and_then(offbase_model::time::parse_timestamp)
            .map(|instant| instant.timestamp_micros());
        PageRecord {
            instant,
            id,
            created_date,
            line,
        }
    }

    /// The long way: parsed, put in the workspace form and written again.
    fn parsed(
        page: &RawRecords,
        index: usize,
        text: &str,
        entity: &Entity,
    ) -> Result<PageRecord<'p>, PipelineError> {
        let unreadable = |message: String| {
            PipelineError::Client(offbase_base44::client::ClientError::InvalidBody {
                request: page.request().to_owned(),
                message: format!("record {} of the page: {message}", index + 1),
                attempts: 1,
            })
        };
        let record: Map<String, Value> =
            serde_json::from_str(text).map_err(|error| unreadable(error.to_string()))?;
        let string = |key: BuiltIn| {
            record
                .get(key.field_name())
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (id, created_date) = (string(BuiltIn::Id), string(BuiltIn::CreatedDate));
        let line = serde_json::to_string(&canonical_record(record, entity))
            .map_err(|error| unreadable(error.to_string()))?;
        Ok(PageRecord::new(id, created_date, Cow::Owned(line)))
    }

    /// Its key in the pull order, when it has both parts as strings.
    fn key(&self) -> Option<RecordKey> {
        Some(RecordKey {
            created_date: self.created_date.clone()?,
            id: self.id.clone()?,
        })
    }
}

/// The list request that reads the page after `cursor`.
fn page_query(cursor: Option<&Cursor>, page_size: usize) -> ListQuery {
    match cursor {
        Some(Cursor {
            created_date,
            within_timestamp: true,
            after_id,
            ..
        }) => {
            let mut q = json!({"created_date": {"$gte": created_date, "$lte": created_date}});
            if let (Some(after_id), Value::Object(map)) = (after_id, &mut q) {
                map.insert("id".to_owned(), json!({"$gt": after_id}));
            }
            ListQuery {
                q: Some(q),
                sort: Some("id".to_owned()),
                limit: Some(page_size),
                ..ListQuery::default()
            }
        }
        Some(Cursor {
            created_date,
            inclusive,
            ..
        }) => ListQuery {
            q: Some(if *inclusive {
                json!({"created_date": {"$gte": created_date}})
            } else {
                json!({"created_date": {"$gt": created_date}})
            }),
            sort: Some("created_date".to_owned()),
            limit: Some(page_size),
            ..ListQuery::default()
        },
        None => ListQuery {
            sort: Some("created_date".to_owned()),
            limit: Some(page_size),
            ..ListQuery::default()
        },
    }
}

/// Whether `next` lies past `current` in the pull order. An honest keyset walk always moves
/// on: through a timestamp `T`, the page starting at `T` (inclusive) comes before the pages of
/// the records sharing `T` (by id), which come before the page after `T`; and `T` itself only
/// grows. Comparing whole cursors rather than the pages' last records matters: two honest
/// pages can end with the same record (one ending inside a timestamp, the next one starting
/// at it).
fn advances(current: Option<&Cursor>, next: &Cursor) -> bool {
    let Some(current) = current else {
        return true;
    };
    let instant = |cursor: &Cursor| {
        offbase_model::time::parse_timestamp(&cursor.created_date)
            .map(|instant| instant.timestamp_micros())
    };
    match (instant(current), instant(next)) {
        (Some(current_instant), Some(next_instant)) => {
            cursor_rank(current_instant, current) < cursor_rank(next_instant, next)
        }
        // Timestamps that do not parse: at least never the same page twice.
        _ => current != next,
    }
}

/// A cursor's place in the pull order: its instant, then the phase at that instant (starting
/// at it, reading it by id, past it), then the id read up to.
fn cursor_rank(instant: i64, cursor: &Cursor) -> (i64, u8, Option<&str>) {
    match cursor {
        Cursor {
            within_timestamp: true,
            after_id,
            ..
        } => (instant, 1, after_id.as_deref()),
        Cursor {
            inclusive: true, ..
        } => (instant, 0, None),
        _ => (instant, 2, None),
    }
}

/// Which page a cursor asks for, for a message.
fn describe_bound(cursor: Option<&Cursor>) -> String {
    match cursor {
        None => "from the start".to_owned(),
        Some(Cursor {
            created_date,
            within_timestamp: true,
            after_id: Some(after_id),
            ..
        }) => format!("of created_date {created_date} after id {after_id}"),
        Some(Cursor {
            created_date,
            within_timestamp: true,
            ..
        }) => format!("of created_date {created_date}, by id"),
        Some(Cursor {
            created_date,
            inclusive: true,
            ..
        }) => format!("from created_date {created_date} on"),
        Some(Cursor { created_date, .. }) => format!("after created_date {created_date}"),
    }
}

async fn pull_entity(
    client: &Client,
    entity: &Entity,
    workspace: &Workspace,
    options: &PullOptions,
    state: &Mutex<PullState>,
    reporter: &dyn Reporter,
) -> Result<EntityPullSummary, PipelineError> {
    let started = Instant::now();
    let name = entity.name.as_str();
    let mut entity_state = state
        .lock()
        .await
        .entities
        .get(name)
        .cloned()
        .unwrap_or_default();
    if entity_state.complete {
        let records = entity_state.writer.records();
        reporter.started(name, Some(records));
        reporter.advanced(name, records);
        reporter.finished(name);
        return Ok(EntityPullSummary {
            entity: name.to_owned(),
            records,
            bytes: entity_state.writer.bytes(),
            source_count: entity_state.source_count,
            matches_source: entity_state.source_count == Some(records),
            already_complete: true,
            seconds: 0.0,
        });
    }
    if entity_state.started_at.is_none() {
        entity_state.started_at = Some(chrono::Utc::now().timestamp_micros());
    }
    let expected = client.count(name, None).await?;
    reporter.started(name, Some(expected.max(entity_state.writer.records())));
    reporter.advanced(name, entity_state.writer.records());
    let mut writer = PartWriter::resume(
        workspace,
        name,
        options.part_records,
        entity_state.writer.clone(),
    )?;
    let page_size = options.page_size.clamp(1, offbase_base44::api::LIST_CAP);
    let mut prefetched: Option<PageRequest> = None;
    let order = KeyOrder::new(entity);
    let mut last_checkpoint = Instant::now();
    loop {
        let cursor = entity_state.cursor.clone();
        let phase_within = cursor
            .as_ref()
            .is_some_and(|cursor| cursor.within_timestamp);
        let answer = match prefetched.take() {
            Some(handle) => match handle.await {
                Ok(result) => result?,
                Err(join_error) => {
                    return Err(PipelineError::WorkerStopped {
                        what: format!("a page request of {name}"),
                        why: join_error.to_string(),
                        outcome: "the pull stopped; its checkpoints keep what was written"
                            .to_owned(),
                    });
                }
            },
            None => {
                client
                    .list_raw(name, &page_query(cursor.as_ref(), page_size))
                    .await?
            }
        };
        let full = answer.len() >= page_size;
        let page = PageRecord::sorted(&answer, entity, &order)?;
        let (accepted, next_cursor, finished) = if phase_within {
            let created_date = cursor
                .as_ref()
                .map(|cursor| cursor.created_date.clone())
                .unwrap_or_default();
            let last_id = page.last().and_then(|record| record.id.clone());
            let next = Cursor {
                created_date,
                within_timestamp: full,
                after_id: if full { last_id } else { None },
                inclusive: false,
            };
            (page, Some(next), false)
        } else if !full {
            let next = page
                .last()
                .and_then(PageRecord::key)
                .map(|key| Cursor {
                    created_date: key.created_date,
                    within_timestamp: false,
                    after_id: None,
                    inclusive: false,
                })
                .or_else(|| cursor.clone());
            (page, next, true)
        } else {
            // A full page is complete only below its last timestamp. The next page starts at
            // that timestamp; when a whole page shares one timestamp, its records are read on
            // their own, by id.
            let first_instant = page.first().and_then(|record| record.instant);
            let last_instant = page.last().and_then(|record| record.instant);
            let last_created = page
                .last()
                .and_then(|record| record.created_date.clone())
                .unwrap_or_default();
            let single_timestamp = first_instant == last_instant;
            let accepted: Vec<_> = page
                .into_iter()
                .filter(|record| record.instant < last_instant)
                .collect();
            let next = Cursor {
                created_date: last_created,
                within_timestamp: single_timestamp,
                after_id: None,
                inclusive: !single_timestamp,
            };
            (accepted, Some(next), false)
        };
        // A server that ignores `q` answers every page alike: the keyset would never move and
        // the pull would ask forever (storing repeats). Each page must move the cursor on;
        // checked before anything of the page is stored.
        if !finished
            && let Some(next) = &next_cursor
            && !advances(cursor.as_ref(), next)
        {
            return Err(PipelineError::PageDidNotAdvance {
                entity: name.to_owned(),
                bound: describe_bound(cursor.as_ref()),
            });
        }
        // Ask for the next page now, so the network works while this one is written and synced.
        if !finished {
            let client = client.clone();
            let entity_name = name.to_owned();
            let query = page_query(next_cursor.as_ref(), page_size);
            prefetched = Some(tokio::spawn(async move {
                client.list_raw(&entity_name, &query).await
            }));
        }
        let previous_ids: BTreeSet<String> = entity_state.boundary_ids.iter().cloned().collect();
        let records: Vec<PageRecord> = accepted
            .into_iter()
            .filter(|record| {
                record
                    .id
                    .as_deref()
                    .is_none_or(|id| !previous_ids.contains(id))
            })
            .collect();
        if !records.is_empty() {
            // Never flagged: a source's key named like the importer's flags is staged under
            // another name (see `canonical_record`).
            for record in &records {
                writer.append_line(record.line.as_bytes(), false)?;
            }
            if entity_state.first_key.is_none() {
                entity_state.first_key = records.first().and_then(PageRecord::key);
            }
            entity_state.last_key = records
                .last()
                .and_then(PageRecord::key)
                .or(entity_state.last_key);
            // Only records sharing the last timestamp can come back across the boundary.
            let last_instant = records.last().and_then(|record| record.instant);
            entity_state.boundary_ids = records
                .iter()
                .rev()
                .take_while(|record| record.instant == last_instant)
                .filter_map(|record| record.id.clone())
                .collect();
        }
        entity_state.cursor = next_cursor;
        if finished {
            entity_state.complete = true;
            entity_state.boundary_ids.clear();
            entity_state.source_count = Some(client.count(name, None).await?);
        }
        // A checkpoint syncs the parts first, then records their length with the cursor that
        // produced them. Between checkpoints the pages are in the files but uncounted: a
        // resumed pull cuts them and reads them again.
        if finished || last_checkpoint.elapsed() >= options.checkpoint_interval {
            entity_state.writer = writer.sync()?;
            save_entity(workspace, state, name, &entity_state).await?;
            last_checkpoint = Instant::now();
        }
        reporter.advanced(name, records.len() as u64);
        if finished {
            break;
        }
    }
    reporter.finished(name);
    let records = entity_state.writer.records();
    Ok(EntityPullSummary {
        entity: name.to_owned(),
        records,
        bytes: entity_state.writer.bytes(),
        source_count: entity_state.source_count,
        matches_source: entity_state.source_count == Some(records),
        already_complete: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(
        created_date: &str,
        within_timestamp: bool,
        inclusive: bool,
        after_id: Option<&str>,
    ) -> Cursor {
        Cursor {
            created_date: created_date.to_owned(),
            within_timestamp,
            after_id: after_id.map(str::to_owned),
            inclusive,
        }
    }

    #[test]
    fn an_honest_keyset_walk_always_advances() {
        let t1 = "2026-03-01T00:00:01.000000";
        let t2 = "2026-03-01T00:00:02Z";
        let steps = [
            at(t1, false, true, None),       // a full page ended inside t1
            at(t1, true, false, None),       // a full page all at t1: read it by id
            at(t1, true, false, Some("a1")), // ...
            at(t1, true, false, Some("b7")),
            at(t1, false, false, None), // t1 done
            at(t2, false, true, None),
            at(t2, true, false, None),
        ];
        assert!(advances(None, &steps[0]));
        for pair in steps.windows(2) {
            assert!(advances(Some(&pair[0]), &pair[1]), "{pair:?}");
            assert!(!advances(Some(&pair[1]), &pair[0]), "{pair:?}");
        }
    }

    #[test]
    fn a_page_that_does_not_move_on_is_caught() {
        let t1 = "2026-03-01T00:00:01Z";
        let t0 = "2026-03-01T00:00:00Z";
        // The same page again.
        let same = at(t1, false, true, None);
        assert!(!advances(Some(&same), &same.clone()));
        let within = at(t1, true, false, Some("b7"));
        assert!(!advances(Some(&within), &within.clone()));
        // A full page wholly at or before the bound: back into a timestamp already done, or
        // to an earlier one.
        assert!(!advances(
            Some(&at(t1, false, false, None)),
            &at(t1, true, false, None)
        ));
        assert!(!advances(
            Some(&at(t1, false, false, None)),
            &at(t0, false, true, None)
        ));
        assert!(!advances(
            Some(&at(t1, false, true, None)),
            &at(t0, true, false, None)
        ));
        // Timestamps that do not parse: only the very same cursor is caught.
        let odd = at("yesterday", true, false, Some("x"));
        assert!(!advances(Some(&odd), &odd.clone()));
        assert!(advances(
            Some(&odd),
            &at("yesterday", true, false, Some("y"))
        ));
    }
}
