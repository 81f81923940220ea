//! Deletes: rows of records in the Base44 trash, then (when reconciling) rows whose record no
//! longer exists in the source, deleted or soft-deleted in one transaction with the state.
//!
//! Reconciliation holds neither side whole: the source's live ids go through an external sort
//! (4 MiB in memory by default, runs under the system's temporary folder past that), the target's ids
//! come from PostgreSQL in the same byte order, and the two are merged ([`Reconcile`]). What
//! stays in memory is the ids to delete.

use super::entity::*;
use super::state::*;
use crate::PipelineError;
use crate::workspace::external_sort::{ExternalSort, Sorted, memory_budget, temporary_folder};
use offbase_base44::client::ListQuery;
use offbase_model::BuiltIn;
use offbase_pg::sync::{self as pg_sync, SyncTransaction};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashSet};

/// Runs merged at once.
const LIVE_FAN_IN: usize = 64;

impl EntitySync<'_> {
    /// Deletes rows of records in the trash, then, when asked, rows whose record no longer
    /// exists in the source.
    pub(super) async fn deletes(
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
            let mut reconcile = Reconcile::new(
                live,
                began.saturating_sub(overlap),
                &self.table.name,
                &mut gone,
            )?;
            pg_sync::target_ids(
                connection,
                &self.options.target.pg_schema,
                &self.table.name,
                &id_column,
                &created_column,
                |target_id, created| reconcile.target(target_id, created),
            )
            .await?;
            state.last_reconcile = Some(began);
        }
        self.delete_rows(connection, state, gone.into_iter().collect())
            .await
    }

    /// Deletes (or with `--soft-delete`, marks) the rows of these records, with their junction
    /// rows, and saves the state in the same transaction.
    pub(super) async fn delete_rows(
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
        let mut transaction =
            SyncTransaction::begin(connection, &self.options.target.pg_schema).await?;
        let soft = self.options.soft_delete.then_some(SOFT_DELETE_COLUMN);
        if let Some(column) = soft {
            transaction
                .execute(&format!(
                    "ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS {} timestamptz",
                    offbase_sql::quote_identifier(&self.options.target.pg_schema),
                    offbase_sql::quote_identifier(&self.table.name),
                    offbase_sql::quote_identifier(column)
                ))
                .await?;
        }
        let deleted = transaction
            .delete(&self.table.name, &id_column, &ids, soft, &self.junctions)
            .await?;
        state.deleted += deleted;
        transaction
            .save_state(&self.entity.name, &json!(state))
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Every live id, by keyset on `created_date` (keys only), in byte order; an id read on
    /// two pages comes twice.
    async fn live_ids(&self) -> Result<Sorted<String>, PipelineError> {
        let created = BuiltIn::CreatedDate.field_name();
        let id = BuiltIn::Id.field_name();
        let mut ids = ExternalSort::<String>::new(
            temporary_folder("offbase-live"),
            // A quarter of the budget: full from about 100,000 ids on.
            memory_budget() / 4,
            LIVE_FAN_IN,
        )?;
        // The ids a page at `lower` can repeat: those read since `lower` last moved, with the
        // page that moved it. A page `$gte lower` holds nothing from before that page (its
        // records were all created at or before the bound before), so "no id outside these"
        // is "no id not seen yet", in memory of about a page or two.
        let mut recent: HashSet<String> = HashSet::new();
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
            let page_ids: Vec<String> = page
                .iter()
                .filter_map(|record| record.get(id).and_then(Value::as_str))
                .map(str::to_owned)
                .collect();
            let unseen = page_ids.iter().any(|id| !recent.contains(id));
            for id in &page_ids {
                ids.push(id.clone())?;
            }
            let last = page
                .last()
                .and_then(|record| record.get(created))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if !full || last.is_none() {
                return ids.into_sorted();
            }
            let before = lower.clone();
            if !unseen {
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
                    let before = after.take();
                    after = within
                        .last()
                        .and_then(|record| record.get(id))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    // A server ignoring `q` would answer this page forever, each copy pushed
                    // to the sort on disk.
                    self.moved_past_id(
                        within_full,
                        before,
                        &after,
                        created,
                        last.as_deref().unwrap_or_default(),
                    )?;
                    for id in within
                        .iter()
                        .filter_map(|record| record.get(id).and_then(Value::as_str))
                    {
                        ids.push(id.to_owned())?;
                    }
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
            if lower != before {
                recent.clear();
            }
            recent.extend(page_ids);
        }
    }
}

/// The merge of the source's live ids (in byte order, repeats allowed) with the target's ids
/// in the same order: each settled target id (created before `cutoff`) that the source lacks
/// goes into `gone`. Holds the source's next id and the target's last one.
struct Reconcile<'g, S> {
    source: S,
    /// The smallest source id not passed yet; `None` once the source is done.
    ahead: Option<String>,
    /// The target id before, to refuse a target out of order (a server whose `COLLATE "C"`
    /// is not Rust's byte order would otherwise take live rows for gone ones).
    previous: Option<String>,
    cutoff: i64,
    table: &'g str,
    gone: &'g mut BTreeSet<String>,
}

impl<'g, S: Iterator<Item = Result<String, PipelineError>>> Reconcile<'g, S> {
    fn new(
        mut source: S,
        cutoff: i64,
        table: &'g str,
        gone: &'g mut BTreeSet<String>,
    ) -> Result<Self, PipelineError> {
        let ahead = source.next().transpose()?;
        Ok(Reconcile {
            source,
            ahead,
            previous: None,
            cutoff,
            table,
            gone,
        })
    }

    /// The next target id, with its creation instant (microseconds).
    fn target(&mut self, id: String, created: Option<i64>) -> Result<(), PipelineError> {
        if self
            .previous
            .as_ref()
            .is_some_and(|previous| *previous > id)
        {
            return Err(PipelineError::Table {
                table: self.table.to_owned(),
                message: format!(
                    "PostgreSQL listed the id {id:?} after {:?}, out of byte order (COLLATE \"C\"): \
                     reconciliation stopped before deleting anything; is the database's encoding UTF8?",
                    self.previous.as_deref().unwrap_or_default()
                ),
            });
        }
        while self.ahead.as_ref().is_some_and(|ahead| *ahead < id) {
            self.ahead = self.source.next().transpose()?;
        }
        let live = self.ahead.as_ref() == Some(&id);
        let settled = created.is_some_and(|created| created < self.cutoff);
        if settled && !live {
            self.gone.insert(id.clone());
        }
        self.previous = Some(id);
        Ok(())
    }
}

/// The settled target ids (created before `cutoff`) the source lacks: [`Reconcile`] over
/// whole streams.
#[cfg(test)]
fn settled_and_gone(
    source: impl Iterator<Item = Result<String, PipelineError>>,
    target: impl IntoIterator<Item = (String, Option<i64>)>,
    cutoff: i64,
) -> Result<BTreeSet<String>, PipelineError> {
    let mut gone = BTreeSet::new();
    let mut reconcile = Reconcile::new(source, cutoff, "table", &mut gone)?;
    for (id, created) in target {
        reconcile.target(id, created)?;
    }
    Ok(gone)
}

#[cfg(test)]
#[path = "deletes_tests.rs"]
mod tests;
