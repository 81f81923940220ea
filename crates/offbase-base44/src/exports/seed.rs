//! Local seed records (`base44/seed/<Entity>.jsonc`) read into records.
//!
//! This module owns reading the seed files the Base44 CLI keeps next to the entity schemas:
//! JSONC (comments and trailing commas allowed) holding an array of records, or an object with
//! a `records` or `data` array. Values are kept exactly as written; only the key order is made
//! the same as every other source (system fields, then schema fields in schema order, then the
//! rest in file order), and a record without an id gets a deterministic one, with a warning, so
//! that it can be loaded and referenced again on the next run. A record that repeats a key (at
//! any depth) is kept as JSON reads it, the last value, and flagged with both values
//! ([`SeedImport::flagged`]), so the load rejects it instead of losing the first one silently.

use super::{find_entity, list_files, system_fields};
use crate::jsonc;
use offbase_model::names::snake_case;
use offbase_model::record::{DuplicateKey, PathStep, flag_repeated_keys, parse_value_collecting};
use offbase_model::{App, Entity};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

/// The records of one seed file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedImport {
    /// The entity name: the schema's name when one matches the file, otherwise the file stem
    /// in PascalCase.
    pub entity: String,
    /// The records in file order, keys ordered as described in the module docs.
    pub records: Vec<Map<String, Value>>,
    /// The importer's flags (`{field: reason}`, see [`offbase_model::record::FLAGS_KEY`]) of
    /// the records that repeat a key, by index into `records`.
    pub flagged: BTreeMap<usize, Map<String, Value>>,
    /// Things the user should know (generated ids, skipped non-records, ...), each starting
    /// with the file name.
    pub warnings: Vec<String>,
}

/// Why seed files could not be read. Every variant names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not UTF-8 text: save the file as UTF-8")]
    InvalidUtf8 { path: String, line: u64 },
    #[error("{path}:{line}:{column}: invalid JSON: {message} (fix the seed file)")]
    InvalidJson {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: no seed file (`<Entity>.jsonc`) found{found}: give the `base44/seed` folder of the export"
    )]
    NotFound { path: String, found: String },
    #[error(
        "{path}: the key `{key}` appears more than once at the top level: JSON keeps only the last, so the records of the other would be lost; keep one"
    )]
    DuplicateKey { path: String, key: String },
    #[error("{first} and {second} both hold entity `{entity}`: remove one of the two files")]
    DuplicateEntity {
        entity: String,
        first: String,
        second: String,
    },
}

/// The entity name of a seed file: the stem of a `.jsonc` or `.json` file, in PascalCase when
/// it is not already (`task-comment.jsonc` → `TaskComment`, `Task.jsonc` → `Task`). `None` for
/// other files.
pub fn entity_name_from_seed_file(file_name: &str) -> Option<String> {
    let stem = seed_stem(file_name)?;
    (!stem.is_empty()).then(|| pascal_case(stem))
}

/// Parses one seed file (JSONC). `file` names it in messages; `entity` is the entity name,
/// used for key order (with `schema`) and generated ids. Pure: touches no file.
pub fn parse_seed_file(
    text: &str,
    file: &str,
    entity: &str,
    schema: Option<&Entity>,
) -> Result<SeedImport, SeedError> {
    let (value, duplicates) =
        parse_value_collecting(&jsonc::strip(text)).map_err(|error| invalid_json(file, &error))?;
    let mut warnings = Vec::new();
    let (items, list_key) = record_list(value, file, &mut warnings);
    let mut repeated = repeated_keys_by_item(duplicates, list_key, file)?;

    let is_user = entity == "User" || schema.is_some_and(Entity::is_user);
    let system = system_fields(is_user);
    let prefix = snake_case(entity);
    let mut records = Vec::with_capacity(items.len());
    let mut flagged = BTreeMap::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let number = index + 1;
        let Value::Object(mut record) = item else {
            warnings.push(format!(
                "{file}: record {number} is {}, not an object: skipped",
                offbase_model::json_kind(&item)
            ));
            continue;
        };
        // Flagged first: a repeated id leaves the record without one, and none is made up.
        let had_id = record.contains_key("id");
        let flags = repeated
            .remove(&index)
            .and_then(|duplicates| flag_repeated_keys(&mut record, &duplicates, "id"));
        let id_repeated = had_id && !record.contains_key("id");
        match record.get("id") {
            None if id_repeated => {}
            Some(Value::String(id)) if !id.is_empty() => {}
            Some(Value::Number(id)) => {
                let text = id.to_string();
                warnings.push(format!(
                    "{file}: record {number}: `id` is the number {text}: read as the text \"{text}\""
                ));
                record.insert("id".to_owned(), Value::String(text));
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {
                let id = format!("seed-{prefix}-{number}");
                warnings.push(format!(
                    "{file}: record {number} has no id: given the id `{id}`; add \"id\" to the \
                     record to choose another"
                ));
                record.insert("id".to_owned(), Value::String(id));
            }
            Some(other) => warnings.push(format!(
                "{file}: record {number}: `id` is {}, not a text: kept as it is",
                offbase_model::json_kind(other)
            )),
        }
        if let Some(Value::String(id)) = record.get("id") {
            if let Some(first) = ids.get(id) {
                warnings.push(format!(
                    "{file}: record {number}: id `{id}` is also the id of record {first}"
                ));
            } else {
                ids.insert(id.clone(), number);
            }
        }
        if let Some(Value::Object(flags)) = flags {
            flagged.insert(records.len(), flags);
        }
        records.push(ordered(record, &system, schema));
    }
    Ok(SeedImport {
        entity: entity.to_owned(),
        records,
        flagged,
        warnings,
    })
}

/// The repeated keys of a seed file by the record (index into the list) they are in, seen
/// from it. A repeated `records` or `data` at the top level hides records: the file is refused.
fn repeated_keys_by_item(
    duplicates: Vec<DuplicateKey>,
    list_key: Option<&str>,
    file: &str,
) -> Result<BTreeMap<usize, Vec<DuplicateKey>>, SeedError> {
    let mut by_item: BTreeMap<usize, Vec<DuplicateKey>> = BTreeMap::new();
    let depth = usize::from(list_key.is_some());
    for duplicate in duplicates {
        if duplicate.path.is_empty() && matches!(duplicate.key.as_str(), "records" | "data") {
            return Err(SeedError::DuplicateKey {
                path: file.to_owned(),
                key: duplicate.key,
            });
        }
        let in_list = match (list_key, duplicate.path.first()) {
            (None, _) => true,
            (Some(list), Some(PathStep::Key(key))) => key == list,
            (Some(_), _) => false,
        };
        if let (true, Some(PathStep::Index(index))) = (in_list, duplicate.path.get(depth)) {
            by_item
                .entry(*index)
                .or_default()
                .push(duplicate.below(depth + 1));
        }
    }
    Ok(by_item)
}

/// Reads every seed file (`*.jsonc`, `*.json`) of a folder (not its subfolders), sorted by
/// entity name. With `schemas`, a file's entity is the app entity whose name matches the file
/// stem ignoring case and separators (`task-comment` → `TaskComment`); an entity not in the
/// app keeps the PascalCase stem, with a warning. Other files are skipped, each with a warning
/// attached to the first import (hidden files are ignored). No seed file at all is an error.
pub fn read_seed_folder(dir: &Path, schemas: Option<&App>) -> Result<Vec<SeedImport>, SeedError> {
    let folder = dir.display().to_string();
    let names = list_files(dir).map_err(|source| SeedError::Io {
        path: folder.clone(),
        source,
    })?;

    let mut skipped = Vec::new();
    let mut imports: BTreeMap<String, (String, SeedImport)> = BTreeMap::new();
    for name in names {
        let Some(stem) = seed_stem(&name).filter(|stem| !stem.is_empty()) else {
            skipped.push(name);
            continue;
        };
        let path = dir.join(&name);
        let file = path.display().to_string();
        let schema = schemas.and_then(|app| match_schema(app, stem));
        let entity = schema.map_or_else(|| pascal_case(stem), |schema| schema.name.clone());
        let bytes = fs::read(&path).map_err(|source| SeedError::Io {
            path: file.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|error| {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            SeedError::InvalidUtf8 {
                path: file.clone(),
                line: 1 + valid.iter().filter(|byte| **byte == b'\n').count() as u64,
            }
        })?;
        let mut import = parse_seed_file(&text, &file, &entity, schema)?;
        if schemas.is_some() && schema.is_none() {
            import.warnings.insert(
                0,
                format!(
                    "{file}: the app has no schema for entity `{entity}`: records kept as they are"
                ),
            );
        }
        if let Some((first, _)) = imports.get(&entity) {
            return Err(SeedError::DuplicateEntity {
                entity,
                first: first.clone(),
                second: file,
            });
        }
        imports.insert(entity, (file, import));
    }

    let mut imports: Vec<SeedImport> = imports.into_values().map(|(_, import)| import).collect();
    match imports.first_mut() {
        None => {
            let found = if skipped.is_empty() {
                String::new()
            } else {
                format!(" (found only: {})", skipped.join(", "))
            };
            return Err(SeedError::NotFound {
                path: folder,
                found,
            });
        }
        Some(first) => {
            let notes = skipped.iter().map(|name| {
                format!("{folder}: `{name}` is not a seed file (`<Entity>.jsonc`): skipped")
            });
            first.warnings.splice(0..0, notes);
        }
    }
    Ok(imports)
}

/// The list of records in a seed file's top-level value, and the key holding it when the value
/// is an object; anything else gives no records and a warning.
fn record_list(
    value: Value,
    file: &str,
    warnings: &mut Vec<String>,
) -> (Vec<Value>, Option<&'static str>) {
    match value {
        Value::Array(items) => (items, None),
        Value::Object(mut object) => {
            let records = object.remove("records");
            let data = object.remove("data");
            match (records, data) {
                (Some(Value::Array(records)), data) => {
                    if data.is_some() {
                        warnings.push(format!(
                            "{file}: has both `records` and `data`: `records` read, `data` \
                             ignored; keep only one"
                        ));
                    }
                    (records, Some("records"))
                }
                (records, Some(Value::Array(data))) => {
                    if let Some(records) = records {
                        warnings.push(format!(
                            "{file}: `records` is {}, not a list: `data` read instead",
                            offbase_model::json_kind(&records)
                        ));
                    }
                    (data, Some("data"))
                }
                _ => {
                    warnings.push(format!(
                        "{file}: an object without a `records` or `data` list: no records read; \
                         write the records as a JSON array"
                    ));
                    (Vec::new(), None)
                }
            }
        }
        other => {
            warnings.push(format!(
                "{file}: {} at the top level, not a list of records: no records read",
                offbase_model::json_kind(&other)
            ));
            (Vec::new(), None)
        }
    }
}

/// The record with its keys in the shared order: system fields, schema fields, the rest.
fn ordered(
    record: Map<String, Value>,
    system: &[&str],
    schema: Option<&Entity>,
) -> Map<String, Value> {
    let order: Vec<&str> = system
        .iter()
        .copied()
        .chain(
            schema
                .into_iter()
                .flat_map(|schema| schema.fields.iter().map(|field| field.name.as_str())),
        )
        .collect();
    let mut placed: Vec<Option<(String, Value)>> = order.iter().map(|_| None).collect();
    let mut rest = Vec::new();
    for (key, value) in record {
        match order.iter().position(|name| *name == key) {
            Some(position) => placed[position] = Some((key, value)),
            None => rest.push((key, value)),
        }
    }
    placed.into_iter().flatten().chain(rest).collect()
}

/// The app entity a seed file stem names: exactly or ignoring case (as written or in
/// PascalCase), else ignoring case and separators (`ops-task` → `Ops_Task`).
fn match_schema<'a>(app: &'a App, stem: &str) -> Option<&'a Entity> {
    let key = loose_key(stem);
    find_entity(app, stem)
        .or_else(|| find_entity(app, &pascal_case(stem)))
        .or_else(|| {
            app.entities
                .iter()
                .find(|entity| loose_key(&entity.name) == key)
        })
}

fn loose_key(name: &str) -> String {
    name.chars()
        .filter(|character| character.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The file name without `.jsonc` / `.json` (any case); `None` for other files.
fn seed_stem(file_name: &str) -> Option<&str> {
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    [".jsonc", ".json"].iter().find_map(|extension| {
        let cut = name.len().checked_sub(extension.len())?;
        let (stem, suffix) = (name.get(..cut)?, name.get(cut..)?);
        suffix.eq_ignore_ascii_case(extension).then_some(stem)
    })
}

/// `task-comment` → `TaskComment`, `taskComment` → `TaskComment`; a name made of letters,
/// digits and underscores that starts with a capital (`Task`, `Ops_Task`) is kept.
fn pascal_case(stem: &str) -> String {
    let already = stem.chars().next().is_some_and(char::is_uppercase)
        && stem
            .chars()
            .all(|character| character.is_alphanumeric() || character == '_');
    if already {
        return stem.to_owned();
    }
    let converted: String = stem
        .split(|character: char| !character.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let mut characters = part.chars();
            let first: String = characters
                .next()
                .into_iter()
                .flat_map(char::to_uppercase)
                .collect();
            [first, characters.collect()]
        })
        .collect();
    if converted.is_empty() {
        stem.to_owned()
    } else {
        converted
    }
}

fn invalid_json(file: &str, error: &serde_json::Error) -> SeedError {
    let (line, column, message) = jsonc::error_position(error);
    SeedError::InvalidJson {
        path: file.to_owned(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_file_names() {
        for (file, entity) in [
            ("Task.jsonc", Some("Task")),
            ("task-comment.jsonc", Some("TaskComment")),
            ("task_comment.JSON", Some("TaskComment")),
            ("taskComment.json", Some("TaskComment")),
            ("Ops_Task.jsonc", Some("Ops_Task")),
            ("notes.txt", None),
            (".jsonc", None),
        ] {
            assert_eq!(
                entity_name_from_seed_file(file).as_deref(),
                entity,
                "{file}"
            );
        }
    }

    /// Regression: a key repeated in a seed record kept its last value silently. The record is
    /// kept as JSON reads it and flagged with both values; a repeated id leaves it without one
    /// (none is made up); a BOM is no part of the file.
    #[test]
    fn a_record_that_repeats_a_key_is_flagged_with_both_values() {
        let text = "\u{feff}[{\"id\":\"a\",\"title\":\"x\",\"title\":\"y\"},\n\
                    {\"id\":\"b\",\"id\":\"c\"},\n\
                    {\"id\":\"d\",\"meta\":{\"k\":1,\"k\":2}},\n\
                    {\"id\":\"e\"}]";
        let import = match parse_seed_file(text, "Task.jsonc", "Task", None) {
            Ok(import) => import,
            Err(error) => panic!("{error}"),
        };
        let records: Vec<Value> = import.records.iter().cloned().map(Value::Object).collect();
        assert_eq!(
            records,
            vec![
                serde_json::json!({"id": "a", "title": "y"}),
                serde_json::json!({}),
                serde_json::json!({"id": "d", "meta": {"k": 2}}),
                serde_json::json!({"id": "e"}),
            ]
        );
        let flags: Vec<(usize, String, Value, Value)> = import
            .flagged
            .iter()
            .flat_map(|(index, flags)| {
                flags.iter().map(|(field, flag)| {
                    (
                        *index,
                        field.clone(),
                        flag["reason"].clone(),
                        flag["value"].clone(),
                    )
                })
            })
            .collect();
        let reason = Value::from("duplicate_key");
        assert_eq!(
            flags,
            vec![
                (
                    0,
                    "title".into(),
                    reason.clone(),
                    serde_json::json!(["x", "y"])
                ),
                (
                    1,
                    "id".into(),
                    reason.clone(),
                    serde_json::json!(["b", "c"])
                ),
                (2, "meta".into(), reason, serde_json::json!([1, 2])),
            ]
        );
        assert!(
            !import
                .warnings
                .iter()
                .any(|warning| warning.contains("has no id")),
            "{:?}",
            import.warnings
        );
        let repeated_list = parse_seed_file(
            r#"{"records": [{"id": "a"}], "records": [{"id": "b"}]}"#,
            "Task.jsonc",
            "Task",
            None,
        );
        assert!(
            matches!(repeated_list, Err(SeedError::DuplicateKey { ref key, .. }) if key == "records"),
            "{repeated_list:?}"
        );
    }
}
