//! Verification after a load: per entity, the rows the workspace says should be loaded (every
//! staged record minus the rejected ones) are counted and hashed, and so are the rows of the
//! table, read back with binary COPY. The hash is order-independent and compares values by
//! type (a timestamp by its instant, a document by its content), so equal hashes mean the
//! table holds exactly the loaded records.

use crate::PipelineError;
use crate::load::{LoadOptions, rejects_path};
use crate::plan::plan_workspace;
use crate::progress::Reporter;
use crate::staged::{column_types, for_each_kept_line};
use crate::workspace::Workspace;
use offbase_copy::binary::BinaryDecoder;
use offbase_copy::convert::EntityConverter;
use offbase_copy::hash::ContentHash;
use offbase_model::Table;
use offbase_pg::load as pg_load;
use offbase_sql::quote_identifier;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::io::BufRead;

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

/// Compares every loaded table of `options.pg_schema` with the workspace.
pub async fn verify(
    workspace: &Workspace,
    options: &LoadOptions,
    reporter: &dyn Reporter,
) -> Result<VerifySummary, PipelineError> {
    let manifest = workspace.manifest()?;
    let output = plan_workspace(
        workspace,
        options.mappings.as_deref(),
        &crate::progress::NoProgress,
    )?;
    let target = &output.target;
    let mut connection = offbase_pg::connect(&options.database_url).await?;
    let mut entities = Vec::new();
    let task = "verify";
    reporter.started(task, Some(manifest.entities.len() as u64));
    for (entity, entry) in &manifest.entities {
        let Some(table) = target.table_for_entity(entity) else {
            reporter.advanced(task, 1);
            continue;
        };
        let expected = expected_hash(workspace, entity, entry, target, table, options)?;
        let actual = table_hash(&mut connection, &options.pg_schema, table).await?;
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
        pg_schema: options.pg_schema.clone(),
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
    options: &LoadOptions,
) -> Result<ContentHash, PipelineError> {
    let refused = database_refused(workspace, entity)?;
    let converter = EntityConverter::new(target, table, options.relax);
    let mut hash = ContentHash::default();
    for_each_kept_line(workspace, &entry.parts, |file, line, text| {
        if refused.contains(&format!("{file}:{}", line + 1)) {
            return;
        }
        // Read as the load reads it: a line that repeats a key is no record.
        if let Ok(record) = crate::staged::parse_record(text, 0)
            && let Ok(converted) = converter.convert(&record)
        {
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
    let path = rejects_path(workspace, entity);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(error) => return Err(PipelineError::io(&path, error)),
    };
    let mut refused = HashSet::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|error| PipelineError::io(&path, error))?;
        let Ok(reject) = serde_json::from_str::<Map<String, Value>>(&line) else {
            continue;
        };
        if reject.get("reason").and_then(Value::as_str) == Some("database")
            && let Some(source) = reject.get("source").and_then(Value::as_str)
        {
            refused.insert(source.to_owned());
        }
    }
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
    let mut decoder = BinaryDecoder::new(&types)
        .map_err(|error| PipelineError::Usage(format!("table {}: {error}", table.name)))?;
    let mut hash = ContentHash::default();
    pg_load::copy_out(connection, &statement, |chunk| {
        decoder.push(chunk);
        while let Some(row) = decoder.next_row().map_err(|error| error.to_string())? {
            hash.add_row(&row);
        }
        Ok(())
    })
    .await?;
    decoder
        .finish()
        .map_err(|error| PipelineError::Usage(format!("table {}: {error}", table.name)))?;
    Ok(hash)
}
