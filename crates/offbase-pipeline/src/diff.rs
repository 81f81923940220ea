//! `diff data`: whether the target holds the same records as the source, told apart from
//! noise. Both sides are put in one canonical form before comparing: timestamps as UTC
//! instants to the microsecond, numbers by value (`1` = `1.0`), JSON objects with their keys
//! sorted, `_extra` folded back into the record, and an absent field equal to a null one. Then
//! per entity: the ids on one side only, and per id on both, the fields that differ, with a
//! `similar`-rendered diff of the two canonical records.
//!
//! This first version reads every record of both sides (the workspace as the source); the
//! range-hash bisection that reads only differing ranges, and the API as a source, come next.

use crate::PipelineError;
use crate::load::{LoadOptions, rejects_path};
use crate::plan::plan_workspace;
use crate::progress::Reporter;
use crate::staged::for_each_kept_line;
use crate::workspace::{Manifest, Workspace};
use offbase_model::{BuiltIn, ColumnSource, PgType, Table};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

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
}

impl EntityDiff {
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
    pub entities: Vec<EntityDiff>,
}

impl DataDiff {
    pub fn clean(&self) -> bool {
        self.entities.iter().all(EntityDiff::clean)
    }
}

/// Compares every entity of the workspace with its table in `options.pg_schema`.
pub async fn diff_data(
    workspace: &Workspace,
    options: &LoadOptions,
    reporter: &dyn Reporter,
) -> Result<DataDiff, PipelineError> {
    let manifest: Manifest = workspace
        .read_json(&workspace.manifest_path())?
        .unwrap_or_default();
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
        let source = source_records(workspace, entry, table)?;
        let target = target_records(&mut connection, &options.pg_schema, table).await?;
        let rejected_ids = rejected_ids(workspace, entity)?;
        let mut result = EntityDiff {
            entity: entity.clone(),
            table: table.name.clone(),
            same: 0,
            missing_in_target: Vec::new(),
            rejected: Vec::new(),
            missing_in_source: Vec::new(),
            different: Vec::new(),
        };
        for (id, record) in &source {
            match target.get(id) {
                None => {
                    if rejected_ids.contains(id) {
                        result.rejected.push(id.clone());
                    }
                    result.missing_in_target.push(id.clone());
                }
                Some(row) if row == record => result.same += 1,
                Some(row) => result.different.push(record_diff(id, record, row)),
            }
        }
        result.missing_in_source = target
            .keys()
            .filter(|id| !source.contains_key(*id))
            .cloned()
            .collect();
        reporter.finished(entity);
        entities.push(result);
    }
    Ok(DataDiff {
        pg_schema: options.pg_schema.clone(),
        entities,
    })
}

/// The workspace's records of an entity, canonical, by id (a duplicate id: the copy the load
/// keeps).
fn source_records(
    workspace: &Workspace,
    entry: &crate::workspace::EntityManifest,
    table: &Table,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, PipelineError> {
    let mut records = BTreeMap::new();
    for_each_kept_line(workspace, &entry.parts, |_, _, text| {
        let Ok(record) = serde_json::from_slice::<Map<String, Value>>(text) else {
            return;
        };
        let Some(id) = record
            .get(BuiltIn::Id.field_name())
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let mut canonical = BTreeMap::new();
        for (field, value) in record {
            if field == offbase_sql::copy::convert::FLAGS_KEY {
                continue;
            }
            let pg_type = table.column_for_field(&field).map(|column| &column.pg_type);
            if let Some(value) = canonical_value(&value, pg_type) {
                canonical.insert(field, value);
            }
        }
        records.insert(id, canonical);
    })?;
    Ok(records)
}

/// A table's rows, canonical, by id: columns back to their fields, `_extra` folded in.
async fn target_records(
    connection: &mut offbase_pg::PgConnection,
    pg_schema: &str,
    table: &Table,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, PipelineError> {
    let rows = offbase_pg::load::rows_as_json(connection, pg_schema, &table.name).await?;
    let mut records = BTreeMap::new();
    for row in rows {
        let Value::Object(row) = row else {
            continue;
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
        let Some(id) = canonical
            .get(BuiltIn::Id.field_name())
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            continue;
        };
        records.insert(id, canonical);
    }
    Ok(records)
}

/// The ids in an entity's reject file.
fn rejected_ids(workspace: &Workspace, entity: &str) -> Result<BTreeSet<String>, PipelineError> {
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
    let folder = workspace.root().join("reports");
    workspace.write_json(&folder.join("diff-data.json"), diff)?;
    let mut text = format!(
        "# Data diff: workspace against schema `{}`: {}\n\n| entity | same | missing in target | of which rejected | missing in source | different |\n|---|---:|---:|---:|---:|---:|\n",
        diff.pg_schema,
        if diff.clean() { "clean" } else { "DIFFERENCES" }
    );
    for entity in &diff.entities {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            entity.entity,
            entity.same,
            entity.missing_in_target.len(),
            entity.rejected.len(),
            entity.missing_in_source.len(),
            entity.different.len()
        ));
    }
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
