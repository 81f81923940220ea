//! `diff data --source api`: the Base44 API as the source of the comparison. Per entity the
//! API is read for keys and `updated_date` only (`fields=id,updated_date`, keyset-paged by
//! id), and the table is hashed over the same two columns, so ranges compare by (id,
//! `updated_date`) with the bisection of [`crate::compare::diff`]. Whole records are read, from both
//! sides, only for the ids whose `updated_date` differs or that one side lacks, and compared
//! in canonical form like the workspace source.
//!
//! What it cannot see: a row of the target edited without its `updated_date` changing (the
//! API's `updated_date` is the only thing compared for records on both sides).

use crate::PipelineError;
use crate::compare::bisect::bisect;
use crate::compare::canonical::{canonical_source_record, target_records};
use crate::compare::diff::{
    DataDiff, DiffSource, EntityDiff, bisection_result, compare_records, id_column, sort_findings,
};
use crate::compare::sorted_rows::{SortedRows, SourceRow, row_sort};
use crate::progress::Reporter;
use crate::target::{Opened, Target};
use crate::workspace::Workspace;
use offbase_base44::client::{Client, ListQuery};
use offbase_copy::Cell;
use offbase_copy::cell::POSTGRES_EPOCH_MICROS;
use offbase_copy::row_hash::{row_hash, row_hash_sql};
use offbase_model::{BuiltIn, ColumnSource, PgType, Table};
use offbase_pg::range_hash::{self, Buckets, HashedTable};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Ids asked for in one full-records request.
const IDS_PER_REQUEST: usize = 100;

/// Compares every entity table of `destination.pg_schema` with the records the API serves.
pub async fn diff_data_api(
    workspace: &Workspace,
    destination: &Target,
    client: &Client,
    page_size: usize,
    reporter: &dyn Reporter,
) -> Result<DataDiff, PipelineError> {
    let Opened {
        mut connection,
        target: destination,
        plan: output,
    } = destination.open(workspace).await?;
    let destination = &destination;
    let mut entities = Vec::new();
    let mut tables: Vec<&Table> = output
        .target
        .tables
        .iter()
        .filter(|table| table.junction.is_none())
        .collect();
    tables.sort_by(|left, right| left.entity.cmp(&right.entity));
    for table in tables {
        reporter.started(&table.entity, None);
        let result = diff_entity(
            &mut connection,
            workspace,
            client,
            table,
            destination,
            page_size,
        )
        .await?;
        reporter.finished(&table.entity);
        entities.push(result);
    }
    Ok(DataDiff {
        pg_schema: destination.pg_schema.clone(),
        source: DiffSource::Api,
        entities,
    })
}

async fn diff_entity(
    connection: &mut offbase_pg::PgConnection,
    workspace: &Workspace,
    client: &Client,
    table: &Table,
    destination: &Target,
    page_size: usize,
) -> Result<EntityDiff, PipelineError> {
    let entity = table.entity.as_str();
    let keys = key_table(table)?;
    let hash_sql = row_hash_sql(&keys, "t");
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
    // The keys are listed while PostgreSQL hashes the whole table.
    let (rows, total) = tokio::join!(
        list_keys(client, entity, page_size),
        range_hash::bucket_hashes(connection, &hashed, Buckets::All)
    );
    let rows = rows?;
    let total = total?;
    let bisection = bisect(connection, &hashed, &rows, total.first().copied()).await?;
    let mut result = bisection_result(workspace, entity, &table.name, rows.len(), &bisection)?;
    drop(rows);
    if !bisection.both.is_empty() {
        let both: Vec<String> = bisection
            .both
            .iter()
            .map(|row| row.id.to_string())
            .collect();
        let mut source = BTreeMap::new();
        for chunk in both.chunks(IDS_PER_REQUEST) {
            let records = client
                .list(
                    entity,
                    &ListQuery {
                        q: Some(json!({ BuiltIn::Id.field_name(): { "$in": chunk } })),
                        sort: Some(BuiltIn::Id.field_name().to_owned()),
                        limit: Some(IDS_PER_REQUEST),
                        ..ListQuery::default()
                    },
                )
                .await?;
            result.source_records_fetched += records.len() as u64;
            for record in records {
                if let Some((id, canonical)) = canonical_source_record(record, table) {
                    source.insert(id, canonical);
                }
            }
        }
        let target = target_records(connection, &hashed, table, &both).await?;
        result.rows_fetched = target.len() as u64;
        compare_records(&mut result, &source, &target);
    }
    sort_findings(&mut result);
    Ok(result)
}

/// The table reduced to its id and `updated_date` columns: what the API side can hash.
fn key_table(table: &Table) -> Result<Table, PipelineError> {
    let column = |built_in: BuiltIn| {
        table
            .columns
            .iter()
            .find(|column| column.source == ColumnSource::BuiltIn(built_in))
            .cloned()
            .ok_or_else(|| PipelineError::Table {
                table: table.name.clone(),
                message: format!(
                    "has no {} column: diff --source api compares ids and updated_date",
                    built_in.field_name()
                ),
            })
    };
    Ok(Table {
        columns: vec![column(BuiltIn::Id)?, column(BuiltIn::UpdatedDate)?],
        ..table.clone()
    })
}

/// Every id and `updated_date` the API serves for an entity, keyset-paged by id, as rows
/// hashed like [`key_table`]'s columns, sorted by id on disk (one row an id).
async fn list_keys(
    client: &Client,
    entity: &str,
    page_size: usize,
) -> Result<SortedRows, PipelineError> {
    let id = BuiltIn::Id.field_name();
    let updated = BuiltIn::UpdatedDate.field_name();
    let types = [&PgType::Text, &PgType::Timestamptz];
    let (folder, mut rows) = row_sort()?;
    let mut after: Option<String> = None;
    loop {
        let page = client
            .list(
                entity,
                &ListQuery {
                    q: after.as_ref().map(|after| json!({ id: { "$gt": after } })),
                    sort: Some(id.to_owned()),
                    limit: Some(page_size),
                    fields: Some(vec![id.to_owned(), updated.to_owned()]),
                    ..ListQuery::default()
                },
            )
            .await?;
        let full = page.len() >= page_size;
        let mut last = None;
        for record in &page {
            let Some(key) = record.get(id).and_then(Value::as_str) else {
                continue;
            };
            let instant = record
                .get(updated)
                .and_then(Value::as_str)
                .and_then(offbase_model::time::parse_timestamp);
            let cell = match (record.get(updated), instant) {
                (_, Some(instant)) => {
                    Cell::Timestamp(instant.timestamp_micros() - POSTGRES_EPOCH_MICROS)
                }
                (None | Some(Value::Null), None) => Cell::Null,
                // A value the load would reject: compared row by row.
                (Some(_), None) => Cell::Text(""),
            };
            let forced = matches!(cell, Cell::Text(_));
            rows.push(SourceRow {
                id: key.into(),
                hash: if forced {
                    0
                } else {
                    row_hash(&[Cell::Text(key), cell], &types)
                },
                forced,
                part: 0,
                offset: 0,
            })?;
            last = Some(key.to_owned());
        }
        match last {
            Some(last) if full => after = Some(last),
            _ => break,
        }
    }
    let mut previous: Option<Box<str>> = None;
    let unique = rows.into_sorted()?.filter(move |row| match row {
        Ok(row) if previous.as_ref() == Some(&row.id) => false,
        Ok(row) => {
            previous = Some(row.id.clone());
            true
        }
        Err(_) => true,
    });
    SortedRows::build(folder, unique)
}
