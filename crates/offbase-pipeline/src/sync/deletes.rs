//! Deletes: rows of records in the Base44 trash, then (when reconciling) rows whose record no
//! longer exists in the source, deleted or soft-deleted in one transaction with the state.

use super::entity::*;
use super::state::*;
use crate::PipelineError;
use offbase_base44::client::ListQuery;
use offbase_model::BuiltIn;
use offbase_pg::sync::{self as pg_sync, SyncTransaction};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

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
            for (target_id, created) in pg_sync::target_ids(
                connection,
                &self.options.target.pg_schema,
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
}
