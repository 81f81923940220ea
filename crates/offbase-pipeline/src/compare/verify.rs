//! Verification after a load: per entity, the rows the workspace says should be loaded (every
//! staged record minus the rejected ones) are counted and hashed, and so are the rows of the
//! table, read back with binary COPY. The hash is order-independent and compares values by
//! type (a timestamp by its instant, a document by its content), so equal hashes mean the
//! table holds exactly the loaded records.

use crate::PipelineError;
use crate::load::rows::column_types;
use crate::progress::Reporter;
use crate::target::{Opened, Target};
use crate::workspace::Workspace;
use crate::workspace::duplicates::for_each_kept_line;
use crate::workspace::rejects::{read_rejects, rejects_path};
use offbase_copy::binary::BinaryDecoder;
use offbase_copy::convert::{EntityConverter, RejectReason};
use offbase_copy::hash::ContentHash;
use offbase_model::Table;
use offbase_pg::load as pg_load;
use offbase_sql::quote_identifier;
use serde::{Deserialize, Serialize};

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityVerify {
    pub entity: String,
    pub table: String,
    pub expected_rows: u64,
    pub actual_rows: u64,
    pub expected_hash: String,
    pub actual_hash: String,
}

impl EntityVerify {
    pub fn matches(&self) -> bool {
        self.expected_rows == self.actual_rows && self.expected_hash == self.actual_hash
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifySummary {
    pub pg_schema: String,
    pub entities: Vec<EntityVerify>,
}

impl VerifySummary {
    pub fn matches(&self) -> bool {
        self.entities.iter().all(EntityVerify::matches)
    }
}

/// Compares every loaded table of `destination.pg_schema` with the workspace.
pub async fn verify(
    workspace: &Workspace,
    destination: &Target,
    reporter: &dyn Reporter,
) -> Result<VerifySummary, PipelineError> {
    let manifest = workspace.manifest()?;
    let Opened {
        mut connection,
        target: destination,
        plan: output,
    } = destination.open(workspace).await?;
    let destination = &destination;
    let target = &output.target;
    let mut entities = Vec::new();
    let task = "verify";
    reporter.started(task, Some(manifest.entities.len() as u64));
    for (entity, entry) in &manifest.entities {
        let Some(table) = target.table_for_entity(entity) else {
            reporter.advanced(task, 1);
            continue;
        };
        let expected = expected_hash(workspace, entity, entry, target, table, destination)?;
        let actual = table_hash(&mut connection, &destination.pg_schema, table).await?;
        entities.push(EntityVerify {
            entity: entity.clone(),
            table: table.name.clone(),
            expected_rows: expected.rows(),
            actual_rows: actual.rows(),
            expected_hash: expected.hex(),
            actual_hash: actual.hex(),
        });
        reporter.advanced(task, 1);
    }
    reporter.finished(task);
    Ok(VerifySummary {
        pg_schema: destination.pg_schema.clone(),
        entities,
    })
}

/// The hash of the rows a load of this entity puts in its table.
fn expected_hash(
    workspace: &Workspace,
    entity: &str,
    entry: &crate::workspace::EntityManifest,
    target: &offbase_model::TargetSchema,
    table: &Table,
    destination: &Target,
) -> Result<ContentHash, PipelineError> {
    let refused = database_refused(workspace, entity)?;
    let converter = EntityConverter::new(target, table, destination.relax);
    let mut hash = ContentHash::default();
    for_each_kept_line(workspace, &entry.parts, |file, line, text| {
        if refused.contains(&format!("{file}:{}", line + 1)) {
            return;
        }
        // Read as the load reads it: a line that repeats a key is no record.
        let Ok(mut record) = crate::workspace::parts::parse_record(text, 0) else {
            return;
        };
        if let Some(urls) = destination.urls() {
            crate::files::rewrite::rewrite_record(urls, &mut record);
        }
        if let Ok(converted) = converter.convert(&record) {
            hash.add_row(&converted.row);
        }
    })?;
    Ok(hash)
}

/// The sources (`part:line`) of records PostgreSQL itself refused during the load.
pub(crate) fn database_refused(
    workspace: &Workspace,
    entity: &str,
) -> Result<HashSet<String>, PipelineError> {
    let mut refused = HashSet::new();
    read_rejects(&rejects_path(workspace, entity), |reject| {
        if reject.reason == RejectReason::Database.code() {
            refused.insert(reject.source);
        }
    })?;
    Ok(refused)
}

/// The hash of a table's rows, read with binary COPY.
async fn table_hash(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
    table: &Table,
) -> Result<ContentHash, PipelineError> {
    let types = column_types(table);
    let statement = format!(
        "COPY (SELECT {} FROM {}.{}) TO STDOUT (FORMAT binary)",
        table
            .columns
            .iter()
            .map(|column| quote_identifier(&column.name))
            .collect::<Vec<_>>()
            .join(", "),
        quote_identifier(pg_schema),
        quote_identifier(&table.name)
    );
    let mut decoder = BinaryDecoder::new(&types).map_err(|error| PipelineError::Table {
        table: table.name.clone(),
        message: error.to_string(),
    })?;
    let mut hash = ContentHash::default();
    pg_load::copy_out(connection, &statement, |chunk| {
        decoder.push(chunk);
        while let Some(row) = decoder.next_row().map_err(|error| error.to_string())? {
            hash.add_row(&row);
        }
        Ok(())
    })
    .await?;
    decoder.finish().map_err(|error| PipelineError::Table {
        table: table.name.clone(),
        message: error.to_string(),
    })?;
    Ok(hash)
}
