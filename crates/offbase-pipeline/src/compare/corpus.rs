//! `corpus generate`: a behaviour corpus built from a workspace's schemas and records, so
//! `diff behaviour` has the reads an app typically makes without a capture of the real app.
//! Per entity: the first page and every record, a count, each scalar field sorted both ways,
//! paging windows, filters on enum fields (values found in the data), booleans, date ranges
//! (around the median), numbers, references (`*_id`), nulls, `$regex` prefixes with and without
//! case, projections, and gets (found and not found). Values come from the records, so the
//! filters select something. Deterministic: the same workspace gives the same corpus.
//!
//! `corpus from-har` reads a browser capture; the extraction lives in `offbase_base44::har`.

use crate::PipelineError;
use crate::plan::plan_workspace;
use crate::workspace::Workspace;
use crate::workspace::duplicates::for_each_kept_line;
use offbase_base44::corpus::{CorpusRequest, Operation};
use offbase_base44::query::compare_values;
use offbase_model::{BuiltIn, Column, ColumnSource, PgType, Table};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Records a request of the corpus asks for when it wants them all.
const EVERY_RECORD: u64 = offbase_base44::api::LIST_CAP as u64;
/// Sorted pages are this long.
const PAGE: u64 = 20;
/// Distinct values kept per field while reading the records.
const VALUES_KEPT: usize = 2000;

/// The values one field holds in the workspace.
#[derive(Debug, Default)]
struct FieldValues {
    /// Distinct values (by their JSON text) with how often each occurs.
    counts: BTreeMap<String, (Value, u64)>,
    nulls: u64,
}

impl FieldValues {
    fn add(&mut self, value: &Value) {
        if value.is_null() {
            self.nulls += 1;
            return;
        }
        let key = value.to_string();
        if let Some(entry) = self.counts.get_mut(&key) {
            entry.1 += 1;
        } else if self.counts.len() < VALUES_KEPT {
            self.counts.insert(key, (value.clone(), 1));
        }
    }

    /// Values sorted as the platform sorts them.
    fn sorted(&self) -> Vec<&Value> {
        let mut values: Vec<&Value> = self.counts.values().map(|(value, _)| value).collect();
        values.sort_by(|left, right| compare_values(left, right));
        values
    }

    /// The most frequent values first (ties by JSON text), at most `count`.
    fn common(&self, count: usize) -> Vec<&Value> {
        let mut entries: Vec<(&String, &(Value, u64))> = self.counts.iter().collect();
        entries.sort_by(|left, right| right.1.1.cmp(&left.1.1).then_with(|| left.0.cmp(right.0)));
        entries
            .into_iter()
            .take(count)
            .map(|(_, (value, _))| value)
            .collect()
    }

    fn median(&self) -> Option<&Value> {
        let sorted = self.sorted();
        sorted.get(sorted.len() / 2).copied()
    }
}

/// Builds the corpus for every entity of the workspace.
pub fn generate_corpus(
    workspace: &Workspace,
    mappings: Option<&crate::target::MappingFile>,
) -> Result<Vec<CorpusRequest>, PipelineError> {
    let manifest = workspace.manifest()?;
    let output = plan_workspace(workspace, mappings, &crate::progress::NoProgress)?;
    let mut corpus = Vec::new();
    for (entity, entry) in &manifest.entities {
        let Some(table) = output.target.table_for_entity(entity) else {
            continue;
        };
        let references: Vec<&str> = output
            .target
            .foreign_keys
            .iter()
            .filter(|key| key.entity == *entity)
            .map(|key| key.field.as_str())
            .collect();
        let mut values: BTreeMap<String, FieldValues> = BTreeMap::new();
        let mut ids: Vec<String> = Vec::new();
        for_each_kept_line(workspace, &entry.parts, |_, _, text| {
            let Ok(record) = serde_json::from_slice::<Map<String, Value>>(text) else {
                return;
            };
            if let Some(id) = record.get(BuiltIn::Id.field_name()).and_then(Value::as_str) {
                ids.push(id.to_owned());
            }
            for column in scalar_columns(table) {
                if let Some(field) = &column.field {
                    values.entry(field.clone()).or_default().add(
                        record
                            .get(offbase_model::record::staged_key(field).as_ref())
                            .unwrap_or(&Value::Null),
                    );
                }
            }
        })?;
        ids.sort();
        corpus.extend(entity_requests(entity, table, &values, &ids, &references));
    }
    Ok(corpus)
}

/// Columns that hold one scalar a record (the ones a sort or a range makes sense on).
fn scalar_columns(table: &Table) -> impl Iterator<Item = &Column> {
    table.columns.iter().filter(|column| {
        column.field.is_some()
            && column.source != ColumnSource::Extra
            && column.pg_type.element().is_none()
            && !column.pg_type.is_json()
    })
}

fn named(mut request: CorpusRequest, name: String) -> CorpusRequest {
    request.name = Some(name);
    request
}

fn filter(entity: &str, q: Value, sort: Option<&str>, limit: u64) -> CorpusRequest {
    let mut request = CorpusRequest::new(entity, Operation::Filter);
    request.q = Some(q);
    request.sort = sort.map(str::to_owned);
    request.limit = Some(limit);
    request
}

fn count(entity: &str, q: Option<Value>) -> CorpusRequest {
    let mut request = CorpusRequest::new(entity, Operation::Count);
    request.q = q;
    request
}

fn entity_requests(
    entity: &str,
    table: &Table,
    values: &BTreeMap<String, FieldValues>,
    ids: &[String],
    references: &[&str],
) -> Vec<CorpusRequest> {
    let mut requests = Vec::new();
    requests.push(named(
        CorpusRequest::new(entity, Operation::List),
        format!("{entity}: first page, no sort"),
    ));
    let mut every = CorpusRequest::new(entity, Operation::List);
    every.limit = Some(EVERY_RECORD);
    requests.push(named(every, format!("{entity}: every record")));
    requests.push(named(count(entity, None), format!("{entity}: count")));

    // Each scalar field sorted both ways.
    for column in scalar_columns(table) {
        let Some(field) = &column.field else { continue };
        for descending in [false, true] {
            let mut request = CorpusRequest::new(entity, Operation::List);
            let sort = if descending {
                format!("-{field}")
            } else {
                field.clone()
            };
            request.sort = Some(sort.clone());
            request.limit = Some(PAGE);
            requests.push(named(request, format!("{entity}: sorted by {sort}")));
        }
    }
    // Paging windows.
    for (sort, limit, skip) in [
        ("created_date", 10, 0),
        ("created_date", 10, 10),
        ("-updated_date", 25, 25),
        ("id", 7, 3),
    ] {
        let mut request = CorpusRequest::new(entity, Operation::List);
        request.sort = Some(sort.to_owned());
        request.limit = Some(limit);
        request.skip = Some(skip);
        requests.push(named(
            request,
            format!("{entity}: page of {limit} after {skip}, sorted by {sort}"),
        ));
    }
    // A projection.
    let projected: Vec<String> = scalar_columns(table)
        .filter(|column| !matches!(column.source, ColumnSource::BuiltIn(_)))
        .filter_map(|column| column.field.clone())
        .take(2)
        .collect();
    if !projected.is_empty() {
        let mut request = CorpusRequest::new(entity, Operation::List);
        request.sort = Some("created_date".to_owned());
        request.limit = Some(PAGE);
        request.fields = Some(projected.clone());
        requests.push(named(
            request,
            format!("{entity}: only {}", projected.join(", ")),
        ));
    }

    for column in scalar_columns(table) {
        let Some(field) = column.field.as_deref() else {
            continue;
        };
        let Some(found) = values.get(field) else {
            continue;
        };
        if found.counts.is_empty() {
            continue;
        }
        let is_reference = references.contains(&field);
        let is_enum = column.check.is_some() || matches!(column.pg_type, PgType::Enum(_));
        match &column.pg_type {
            PgType::Boolean => {
                for flag in [true, false] {
                    let q = json!({ field: flag });
                    requests.push(named(
                        filter(entity, q.clone(), None, EVERY_RECORD),
                        format!("{entity}: {field} is {flag}"),
                    ));
                    requests.push(named(
                        count(entity, Some(q)),
                        format!("{entity}: count where {field} is {flag}"),
                    ));
                }
            }
            _ if is_enum || is_reference => {
                let common = found.common(3);
                for value in &common {
                    let q = json!({ field: value });
                    requests.push(named(
                        filter(entity, q.clone(), Some("-created_date"), EVERY_RECORD),
                        format!("{entity}: {field} = {value}"),
                    ));
                    requests.push(named(
                        count(entity, Some(q)),
                        format!("{entity}: count where {field} = {value}"),
                    ));
                }
                if common.len() >= 2 {
                    requests.push(named(
                        filter(
                            entity,
                            json!({ field: {"$in": [common[0], common[1]]} }),
                            None,
                            EVERY_RECORD,
                        ),
                        format!("{entity}: {field} in [{}, {}]", common[0], common[1]),
                    ));
                }
                if let Some(first) = common.first() {
                    requests.push(named(
                        filter(entity, json!({ field: {"$ne": first} }), None, EVERY_RECORD),
                        format!("{entity}: {field} is not {first}"),
                    ));
                }
            }
            PgType::Timestamptz | PgType::Timestamp | PgType::Date => {
                let sorted = found.sorted();
                if let Some(median) = found.median() {
                    for (operator, word) in [("$gte", "from"), ("$lt", "before")] {
                        let q = json!({ field: { operator: median } });
                        requests.push(named(
                            filter(entity, q.clone(), Some(field), PAGE),
                            format!("{entity}: {field} {word} {median}"),
                        ));
                        requests.push(named(
                            count(entity, Some(q)),
                            format!("{entity}: count where {field} {word} {median}"),
                        ));
                    }
                }
                let (low, high) = (sorted.len() / 4, sorted.len() * 3 / 4);
                if let (Some(low), Some(high)) = (sorted.get(low), sorted.get(high)) {
                    requests.push(named(
                        filter(
                            entity,
                            json!({ field: {"$gte": low, "$lt": high} }),
                            Some(&format!("-{field}")),
                            EVERY_RECORD,
                        ),
                        format!("{entity}: {field} from {low} before {high}"),
                    ));
                }
            }
            pg_type if pg_type.is_numeric() => {
                if let Some(median) = found.median() {
                    requests.push(named(
                        filter(
                            entity,
                            json!({ field: {"$gt": median} }),
                            Some(field),
                            EVERY_RECORD,
                        ),
                        format!("{entity}: {field} above {median}"),
                    ));
                    requests.push(named(
                        count(entity, Some(json!({ field: {"$lte": median} }))),
                        format!("{entity}: count where {field} at most {median}"),
                    ));
                }
            }
            pg_type if pg_type.is_textual() => {
                if let Some(prefix) = found.common(1).first().and_then(|value| prefix_of(value)) {
                    let pattern = format!("^{}", escape_regex(&prefix.to_lowercase()));
                    for options in ["", "i"] {
                        let mut q = Map::new();
                        let mut operator = Map::new();
                        operator.insert("$regex".to_owned(), Value::String(pattern.clone()));
                        if !options.is_empty() {
                            operator.insert("$options".to_owned(), Value::String(options.into()));
                        }
                        q.insert(field.to_owned(), Value::Object(operator));
                        requests.push(named(
                            filter(entity, Value::Object(q), None, EVERY_RECORD),
                            format!(
                                "{entity}: {field} starts with {prefix:?}{}",
                                if options.is_empty() {
                                    ", lower case"
                                } else {
                                    ", any case"
                                }
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
        if found.nulls > 0 && !matches!(column.source, ColumnSource::BuiltIn(_)) {
            requests.push(named(
                count(entity, Some(json!({ field: null }))),
                format!("{entity}: count where {field} is null"),
            ));
        }
    }

    // Gets: the first records by id, and one that is not there.
    for id in ids.iter().take(2) {
        let mut request = CorpusRequest::new(entity, Operation::Get);
        request.id = Some(id.clone());
        requests.push(named(request, format!("{entity}: get {id}")));
    }
    let mut missing = CorpusRequest::new(entity, Operation::Get);
    missing.id = Some("offbase-no-such-record".to_owned());
    requests.push(named(
        missing,
        format!("{entity}: get a record that is not there"),
    ));
    requests
}

/// The first three characters of a text value, when it has letters to match.
fn prefix_of(value: &Value) -> Option<String> {
    let text = value.as_str()?;
    let prefix: String = text.chars().take(3).collect();
    let plain = prefix
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c.is_ascii_punctuation());
    (plain && prefix.chars().any(char::is_alphabetic)).then_some(prefix)
}

/// A regular expression matching `text` literally (`prefix_of` keeps letters, digits, spaces
/// and ASCII punctuation; the punctuation is escaped).
fn escape_regex(text: &str) -> String {
    let mut escaped = String::new();
    for character in text.chars() {
        if character.is_alphanumeric() || character == ' ' {
            escaped.push(character);
        } else {
            escaped.push('\\');
            escaped.push(character);
        }
    }
    escaped
}
