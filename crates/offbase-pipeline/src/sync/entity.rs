//! One entity's sync: its changes read by keyset on `updated_date` (with the overlap that
//! catches late writes, and every record of a crowded instant), the newest copy of each id
//! converted and upserted in one transaction with its state, rejects written with their reason.

use super::state::*;
use crate::PipelineError;
use crate::load::rows::{RowEncoder, append_record_rows};
use crate::progress::Reporter;
use crate::workspace::rejects::RejectLine;
use crate::workspace::{Workspace, canonical_record};
use offbase_base44::client::{Client, ListQuery};
use offbase_copy::convert::{EntityConverter, RejectReason, Rejection};
use offbase_model::{BuiltIn, Entity, Table};
use offbase_pg::load::BatchError;
use offbase_pg::sync::{JunctionTarget, SyncTransaction, UpsertTarget};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

pub(super) struct EntitySync<'a> {
    pub(super) workspace: &'a Workspace,
    pub(super) client: &'a Client,
    pub(super) options: &'a SyncOptions,
    pub(super) entity: &'a Entity,
    pub(super) table: &'a Table,
    pub(super) converter: EntityConverter<'a>,
    /// One encoder per table: the entity's, then its junction tables'.
    pub(super) encoders: Vec<Box<dyn RowEncoder>>,
    /// The cursor the pass started from, and the lags of the changes newer than it.
    pub(super) started_from: Option<i64>,
    pub(super) lags: std::sync::Mutex<Vec<u64>>,
    /// The entity's junction tables (arrays of references), in the converter's order.
    pub(super) junctions: Vec<JunctionTarget>,
    /// Write whatever the stored version (the reviewed repair).
    pub(super) force: bool,
    /// The URL map and the copy of new uploads, when the target's file URLs were rewritten.
    pub(super) files: Option<&'a crate::files::uploads::SyncFiles>,
    /// Files of new uploads copied by this pass.
    pub(super) files_copied: std::sync::atomic::AtomicU64,
}

impl EntitySync<'_> {
    pub(super) async fn pass(
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
    pub(super) async fn repair(
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
        let mut transaction =
            SyncTransaction::begin(connection, &self.options.target.pg_schema).await?;
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
            files_copied: self
                .files_copied
                .swap(0, std::sync::atomic::Ordering::Relaxed),
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
            // A full page from an honest server ends past the bound it was asked from (or at
            // it, all of one instant, when the bound itself was included). One that ignores
            // `q` answers the first page again and again: checked before anything of it is
            // applied, so such a server is refused, not read forever.
            let moved = match (lower, last) {
                (Some(bound), Some(last)) => {
                    last > bound || (last == bound && !exclusive && first == Some(last))
                }
                _ => true,
            };
            if full && !moved {
                return Err(PipelineError::PageDidNotAdvance {
                    entity: self.entity.name.clone(),
                    bound: format!(
                        "of updated_date {} {}",
                        if exclusive { "after" } else { "from" },
                        lower.map(format_micros).unwrap_or_default()
                    ),
                });
            }
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
        let state: crate::stage::pull::PullState = self
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
            let before = after.take();
            after = page
                .last()
                .and_then(|record| record.get(id))
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.moved_past_id(full, before, &after, updated, &format_micros(instant))?;
            self.apply(connection, state, page, reporter).await?;
            if !full || after.is_none() {
                return Ok(());
            }
        }
    }

    /// Refuses a full page of one timestamp, read by id, that ended on the id the page before
    /// ended on: the server ignored `q` (the id's `$gt`) and would answer it forever. Checked
    /// before the page is used.
    pub(super) fn moved_past_id(
        &self,
        full: bool,
        before: Option<String>,
        after: &Option<String>,
        field: &str,
        timestamp: &str,
    ) -> Result<(), PipelineError> {
        match before {
            Some(before) if full && after.as_ref() == Some(&before) => {
                Err(PipelineError::PageDidNotAdvance {
                    entity: self.entity.name.clone(),
                    bound: format!("of {field} {timestamp} after id {before}"),
                })
            }
            _ => Ok(()),
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
                        &Rejection {
                            field: Some(BuiltIn::Id.field_name().to_owned()),
                            reason: RejectReason::WrongType,
                            message: "the record has no id".to_owned(),
                            value: None,
                        },
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
        if let Some(files) = self.files {
            let records: Vec<&Map<String, Value>> = newest.values().collect();
            if let Some(copied) = files
                .copy_new_uploads(self.workspace, &self.entity.name, &records, reporter)
                .await?
            {
                self.files_copied
                    .fetch_add(copied.copied as u64, std::sync::atomic::Ordering::Relaxed);
            }
        }
        // The entity's rows, then each junction table's.
        let mut tables: Vec<Vec<u8>> = vec![Vec::new(); 1 + self.junctions.len()];
        let mut rejected = rejects.len() as u64;
        {
            let urls = self.files.map(|files| files.urls());
            for record in newest.values() {
                // Rows from the record with its file URLs rewritten; a reject keeps it as it
                // came.
                let rewritten = urls.as_deref().map(|urls| {
                    let mut rewritten = record.clone();
                    crate::files::rewrite::rewrite_record(urls, &mut rewritten);
                    rewritten
                });
                if let Err(rejection) = append_record_rows(
                    &self.converter,
                    &self.encoders,
                    rewritten.as_ref().unwrap_or(record),
                    &mut tables,
                ) {
                    rejected += 1;
                    rejects.push((
                        reject_key(&self.converter, record),
                        reject_line(&self.entity.name, record, &rejection),
                    ));
                }
            }
        }
        let mut tables = tables.into_iter();
        let rows = tables.next().unwrap_or_default();
        let junction_rows: Vec<Vec<u8>> = tables.collect();
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
        let mut transaction =
            SyncTransaction::begin(connection, &self.options.target.pg_schema).await?;
        let upserted = if rows.is_empty() {
            0
        } else {
            let junctions: Vec<(JunctionTarget, Vec<u8>)> =
                self.junctions.iter().cloned().zip(junction_rows).collect();
            match transaction.upsert(&target, &rows, &junctions).await {
                Ok(written) => written,
                Err(BatchError::Data(message)) => {
                    return Err(PipelineError::PageRefused {
                        entity: self.entity.name.clone(),
                        message,
                    });
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

/// A reject line of a record a sync read from the API (`source` = `sync`).
pub(super) fn reject_line(
    entity: &str,
    record: &Map<String, Value>,
    rejection: &Rejection,
) -> Vec<u8> {
    let id = record
        .get(BuiltIn::Id.field_name())
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut line = RejectLine::new(entity, id, rejection, "sync");
    line.record = Some(record.clone());
    line.to_bytes()
}

/// A rejected version: the record's id and `updated_date`.
pub(super) fn reject_key(
    converter: &EntityConverter<'_>,
    record: &Map<String, Value>,
) -> Option<(String, i64)> {
    Some((
        converter.record_id(record)?.to_owned(),
        updated_micros(record)?,
    ))
}

pub(super) fn updated_micros(record: &Map<String, Value>) -> Option<i64> {
    record
        .get(BuiltIn::UpdatedDate.field_name())
        .and_then(Value::as_str)
        .and_then(offbase_model::time::parse_timestamp)
        .map(|instant| instant.timestamp_micros())
}

/// An instant as Base44 writes fresh timestamps, to the microsecond.
pub(super) fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|instant| instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

pub(super) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
