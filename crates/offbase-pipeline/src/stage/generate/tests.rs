//! Unit tests of the generate stage: the record generator (values fit their columns,
//! references resolve, the same seed gives the same records in any order, ids, timestamps,
//! lengths), then the workspaces it writes (byte-identical for a seed, every column and
//! reference respected, skipped entities, refused counts).

use super::generator::{TimestampForm, format_timestamp};
use super::random::{MICROS, Random};
use super::values::{base64, fit_length, random_date, random_time, random_timestamp};
use super::*;
use crate::progress::NoProgress;
use crate::workspace::{EntityManifest, Manifest};
use offbase_model::time::{parse_date, parse_time, parse_timestamp};
use offbase_model::{
    App, Column, ColumnSource, Entity, Field, FieldKind, PgType, SchemaSource, SourceLayout, Table,
    TargetSchema,
};
use offbase_sql::fit_scalar;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// The record generator

fn is_date(text: &str) -> bool {
    parse_date(text).is_some()
}

fn is_time(text: &str) -> bool {
    parse_time(text).is_some()
}

fn is_timestamp(text: &str) -> bool {
    parse_timestamp(text).is_some()
}

fn entity(name: &str, fields: Vec<Field>) -> Entity {
    Entity {
        name: name.to_owned(),
        source: SchemaSource {
            path: format!("{name}.jsonc"),
            layout: SourceLayout::Base44Entities,
        },
        title: None,
        description: None,
        fields,
        rls: None,
        extra: BTreeMap::new(),
    }
}

fn declare(name: &str, kind: FieldKind, edit: impl FnOnce(&mut Field)) -> Field {
    let mut field = Field::new(name, kind);
    edit(&mut field);
    field
}

fn string(name: &str) -> Field {
    Field::new(name, FieldKind::String)
}

/// An app shaped like the samples: enums of strings and integers, formats, bounds,
/// required fields, arrays of objects, references one and many, a self reference, a
/// re-declared built-in and a `User` schema that redefines `role`.
fn app() -> App {
    let task = entity(
        "Task",
        vec![
            declare("title", FieldKind::String, |declared| {
                declared.required = true
            }),
            string("project_id"),
            declare("status", FieldKind::String, |declared| {
                declared.enum_values =
                    Some(vec![json!("todo"), json!("in_progress"), json!("done")]);
                declared.required = true;
            }),
            declare("priority", FieldKind::Integer, |declared| {
                declared.enum_values = Some(vec![json!(1), json!(2), json!(3)])
            }),
            declare("due_date", FieldKind::String, |declared| {
                declared.format = Some("date".into())
            }),
            declare("due_time", FieldKind::String, |declared| {
                declared.format = Some("time".into())
            }),
            declare("remind_at", FieldKind::String, |declared| {
                declared.format = Some("date-time".into())
            }),
            declare("assignee_email", FieldKind::String, |declared| {
                declared.format = Some("email".into())
            }),
            declare("tags", FieldKind::Array, |declared| {
                declared.items = Some(Box::new(declare("tag", FieldKind::String, |item| {
                    item.enum_values = Some(vec![json!("red"), json!("green")])
                })))
            }),
            declare("estimateHours", FieldKind::Number, |declared| {
                declared.minimum = Some(0.0);
                declared.maximum = Some(40.0);
            }),
            declare("attempts", FieldKind::Integer, |declared| {
                declared.minimum = Some(1.0);
                declared.maximum = Some(3.0);
                declared.required = true;
            }),
            string("parent_task_id"),
            declare("watcher_ids", FieldKind::Array, |declared| {
                declared.items = Some(Box::new(string("id")))
            }),
            declare("checklist", FieldKind::Array, |declared| {
                declared.items = Some(Box::new(declare("item", FieldKind::Object, |item| {
                    item.properties = Some(vec![
                        declare("text", FieldKind::String, |property| {
                            property.required = true
                        }),
                        Field::new("done", FieldKind::Boolean),
                    ])
                })))
            }),
            declare("code", FieldKind::String, |declared| {
                declared.min_length = Some(30);
                declared.max_length = Some(32);
            }),
            declare("created_date", FieldKind::String, |declared| {
                declared.format = Some("date-time".into())
            }),
            Field::new("anything", FieldKind::Any),
            declare("files", FieldKind::String, |declared| {
                declared.format = Some("file".into())
            }),
        ],
    );
    let project = entity(
        "Project",
        vec![
            declare("name", FieldKind::String, |declared| {
                declared.required = true;
                declared.min_length = Some(1);
                declared.max_length = Some(12);
            }),
            string("owner_id"),
            declare("budget", FieldKind::Number, |declared| {
                declared.minimum = Some(100.0)
            }),
        ],
    );
    let user = entity(
        "User",
        vec![
            declare("role", FieldKind::String, |declared| {
                declared.enum_values = Some(vec![json!("admin"), json!("manager"), json!("viewer")])
            }),
            string("team"),
        ],
    );
    App {
        name: "tasks".into(),
        app_id: Some("f5f842e2b59f57295f65d0d0".into()),
        entities: vec![project, task, user],
    }
}

fn rules(extra: &str) -> MappingRules {
    let mut rules = MappingRules::defaults().unwrap_or_else(|error| panic!("{error}"));
    if !extra.is_empty() {
        rules
            .merge(extra, "test.toml")
            .unwrap_or_else(|error| panic!("{error}"));
    }
    rules
}

fn planned(extra: &str) -> (App, TargetSchema) {
    let app = app();
    let target = offbase_sql::plan(&app, &rules(extra)).unwrap_or_else(|error| panic!("{error}"));
    (app, target)
}

fn generator(app: &App, target: &TargetSchema, counts: &GenerateCounts, seed: u64) -> Generator {
    Generator::new(app, target, counts, seed).unwrap_or_else(|error| panic!("{error}"))
}

/// Whether `value` loads into `column`: type, CHECK, enum type, NOT NULL.
fn fits(value: Option<&Value>, column: &Column, target: &TargetSchema) -> Result<(), String> {
    let value = match value {
        None | Some(Value::Null) if column.not_null => {
            return Err("missing in a NOT NULL column".into());
        }
        None | Some(Value::Null) => return Ok(()),
        Some(value) => value,
    };
    let allowed: Option<Vec<Value>> = match (&column.check, &column.pg_type) {
        (Some(check), _) => Some(check.allowed.clone()),
        (None, pg_type) => match pg_type.element().unwrap_or(pg_type) {
            PgType::Enum(name) => target
                .enum_types
                .iter()
                .find(|enum_type| &enum_type.name == name)
                .map(|enum_type| enum_type.values.iter().cloned().map(Value::from).collect()),
            _ => None,
        },
    };
    let scalars: Vec<&Value> = match (&column.pg_type, value) {
        (PgType::Array(_), Value::Array(items)) => items.iter().collect(),
        (PgType::Array(_), other) => return Err(format!("{other} is not an array")),
        (PgType::Jsonb | PgType::Json, _) => return Ok(()),
        (_, scalar) => vec![scalar],
    };
    let scalar_type = column.pg_type.element().unwrap_or(&column.pg_type);
    for scalar in scalars {
        fit_scalar(scalar, scalar_type)?;
        if let Some(allowed) = &allowed
            && !allowed.contains(scalar)
        {
            return Err(format!("{scalar} is not one of {allowed:?}"));
        }
    }
    Ok(())
}

fn check_all(app: &App, target: &TargetSchema, generator: &Generator) {
    let ids: BTreeMap<&str, BTreeSet<String>> = generator
        .entities()
        .map(|entity| {
            (
                entity.name(),
                (0..entity.count()).map(|index| entity.id(index)).collect(),
            )
        })
        .collect();
    for table in target
        .tables
        .iter()
        .filter(|table| table.junction.is_none())
    {
        let Some(entity) = generator.entity(&table.entity) else {
            panic!("no generator for {}", table.entity);
        };
        let schema = app.entity(&table.entity);
        for index in 0..entity.count() {
            let record = entity.record(index);
            for column in &table.columns {
                let Some(field) = column.field.as_deref() else {
                    continue;
                };
                if let Err(error) = fits(record.get(field), column, target) {
                    panic!(
                        "{}.{field} record {index}: {error}: {record:?}",
                        table.entity
                    );
                }
            }
            for key in target
                .foreign_keys
                .iter()
                .filter(|key| key.table == table.name)
            {
                if let Some(Value::String(id)) = record.get(&key.field) {
                    assert!(
                        ids.get(key.target_entity.as_str())
                            .is_some_and(|ids| ids.contains(id)),
                        "{}.{} = {id}: no such {}",
                        table.entity,
                        key.field,
                        key.target_entity
                    );
                }
            }
            for reference in target
                .array_references
                .iter()
                .filter(|reference| reference.table == table.name)
            {
                for id in record
                    .get(&reference.field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        id.as_str().is_some_and(|id| ids
                            .get(reference.target_entity.as_str())
                            .is_some_and(|ids| ids.contains(id))),
                        "{}.{} holds {id}",
                        table.entity,
                        reference.field
                    );
                }
            }
            // Declared bounds and lengths hold too, not only what the column enforces.
            for field in schema.into_iter().flat_map(|entity| &entity.fields) {
                let Some(value) = record.get(&field.name) else {
                    assert!(!field.required, "{}.{} missing", table.entity, field.name);
                    continue;
                };
                if let Some(number) = value.as_f64() {
                    assert!(field.minimum.is_none_or(|minimum| number >= minimum));
                    assert!(field.maximum.is_none_or(|maximum| number <= maximum));
                }
                if let Some(text) = value.as_str() {
                    let length = text.chars().count() as u64;
                    assert!(field.min_length.is_none_or(|minimum| length >= minimum));
                    assert!(field.max_length.is_none_or(|maximum| length <= maximum));
                    match field.format.as_deref() {
                        Some("date") => assert!(is_date(text), "{text}"),
                        Some("time") => assert!(is_time(text), "{text}"),
                        Some("date-time") => assert!(is_timestamp(text), "{text}"),
                        Some("email") => assert!(text.contains('@'), "{text}"),
                        _ => {}
                    }
                }
            }
        }
    }
}

#[test]
fn every_value_fits_its_column_and_every_reference_resolves() {
    let counts = GenerateCounts::uniform(300).with("User", 12);
    for extra in [
        "",
        "[options]\nenum_strategy = \"pg_enum\"\n",
        "[options]\nscalar_arrays = \"jsonb\"\narray_references = \"junction\"\n",
        "[entities.Project.fields.budget]\ntype = \"numeric(6,2)\"\n\n[entities.Project.fields.name]\ntype = \"varchar(8)\"\n\n[entities.Task.fields.due_date]\nskip = true\n",
    ] {
        let (app, target) = planned(extra);
        check_all(&app, &target, &generator(&app, &target, &counts, 7));
    }
}

#[test]
fn the_same_seed_gives_the_same_records_in_any_order() {
    let (app, target) = planned("");
    let counts = GenerateCounts::uniform(50);
    let first = generator(&app, &target, &counts, 42);
    let second = generator(&app, &target, &counts.clone().with("Task", 5), 42);
    let forward: Vec<_> = (0..50).map(|index| first.record("Task", index)).collect();
    let backward: Vec<_> = (0..50)
        .rev()
        .map(|index| first.record("Task", index))
        .collect();
    assert!(forward.iter().eq(backward.iter().rev()));
    // The entity's own count does not change its records (only the references' targets'
    // counts do).
    for index in [0, 3, 4] {
        assert_eq!(first.record("Task", index), second.record("Task", index));
    }
    assert_eq!(
        first
            .record("Task", 17)
            .ok()
            .and_then(|record| record.get("id").cloned()),
        Some(Value::String(first.id("Task", 17)))
    );
}

#[test]
fn different_seeds_give_different_records() {
    let (app, target) = planned("");
    let counts = GenerateCounts::uniform(10);
    let one = generator(&app, &target, &counts, 1);
    let two = generator(&app, &target, &counts, 2);
    for index in 0..10 {
        assert_ne!(one.record("Task", index), two.record("Task", index));
        assert_ne!(one.id("Task", index), two.id("Task", index));
    }
}

#[test]
fn ids_are_unique_object_ids_and_timestamps_follow_the_index() {
    let (app, target) = planned("");
    let generator = generator(&app, &target, &GenerateCounts::uniform(20_000), 9);
    let Some(tasks) = generator.entity("Task") else {
        panic!("no Task");
    };
    let mut ids = BTreeSet::new();
    let mut previous: Option<(String, String)> = None;
    for index in 0..20_000 {
        let record = tasks.record(index);
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        assert_eq!(id.len(), 24);
        assert!(
            id.bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
        );
        assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        let created = record
            .get("created_date")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let updated = record
            .get("updated_date")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(is_timestamp(&created) && is_timestamp(updated), "{created}");
        assert_eq!(created.ends_with('Z'), index % 7 == 6, "{created}");
        // Both forms sort as instants once the zone is cut: same length up to the fraction.
        let instant = |text: &str| text.trim_end_matches('Z').to_owned() + "000";
        assert!(instant(updated)[..26] >= instant(&created)[..26]);
        if let Some((previous_created, _)) = &previous {
            assert!(instant(&created)[..26] > instant(previous_created)[..26]);
        }
        // The id starts with the creation second, as an ObjectId does.
        let seconds = BASE_SECONDS + index * STEP_SECONDS;
        let prefix = u64::from_str_radix(&id[..8], 16).unwrap_or_default();
        assert!((seconds..seconds + STEP_SECONDS).contains(&prefix));
        previous = Some((created, id.to_owned()));
    }
}

/// Regression: at 30 seconds a record, the ten million records of the scale rehearsal ran
/// years past today, and the sync pass took every record "updated" after the pull's start for
/// a change (millions of upserts instead of 110). Past a million records the step shrinks: the
/// last record is created within the span, ids still start with the creation second, and the
/// order still follows the index. References name those same ids.
#[test]
fn records_of_a_large_entity_were_created_years_in_the_future() {
    let (app, target) = planned("");
    let count = 10_000_000;
    let large = generator(&app, &target, &GenerateCounts::uniform(count), 4);
    let Some(tasks) = large.entity("Task") else {
        panic!("no Task");
    };
    let span_end = BASE_SECONDS + SPAN_SECONDS;
    let mut previous = String::new();
    for index in [0, 1, 2, 999_999, 1_000_000, count / 2, count - 2, count - 1] {
        let record = tasks.record(index);
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        let seconds = |name: &str| {
            record
                .get(name)
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
                .map(|instant| instant.timestamp())
                .unwrap_or_default()
        };
        let (created, updated) = (seconds("created_date"), seconds("updated_date"));
        let step = SPAN_SECONDS as f64 / count as f64;
        let own = BASE_SECONDS as f64 + index as f64 * step;
        assert!(
            (own - 1.0..own + step + 1.0).contains(&(created as f64)),
            "{index}: {created}"
        );
        assert!(
            created < i64::try_from(span_end).unwrap_or(i64::MAX),
            "{index}"
        );
        // Edits come at most 30 days later: before 2026-01-13.
        assert!(
            (created..1_768_262_400).contains(&updated),
            "{index}: updated {updated}"
        );
        assert_eq!(
            u64::from_str_radix(&id[..8], 16).ok(),
            u64::try_from(created).ok()
        );
        assert!(id > previous.as_str() || index == 0, "{index}");
        assert_eq!(large.id("Task", index), id);
        previous = id.to_owned();
    }
    // A million records or fewer keep the 30-second step, so smaller workspaces stay as they
    // were generated before.
    let small = generator(&app, &target, &GenerateCounts::uniform(1_000_000), 4);
    let last = small.id("Task", 999_999);
    let seconds = BASE_SECONDS + 999_999 * STEP_SECONDS;
    let prefix = u64::from_str_radix(&last[..8], 16).unwrap_or_default();
    assert!((seconds..seconds + STEP_SECONDS).contains(&prefix));
}

#[test]
fn users_have_roles_from_the_schema_and_creators_are_users() {
    let (app, target) = planned("");
    let generator = generator(&app, &target, &GenerateCounts::uniform(30), 3);
    let users: Vec<_> = (0..30)
        .filter_map(|index| generator.record("User", index).ok())
        .collect();
    let emails: BTreeSet<&str> = users
        .iter()
        .filter_map(|user| user.get("email").and_then(Value::as_str))
        .collect();
    assert_eq!(emails.len(), 30);
    for user in &users {
        let role = user.get("role").and_then(Value::as_str).unwrap_or_default();
        assert!(["admin", "manager", "viewer"].contains(&role), "{role}");
        assert!(!user.contains_key("created_by"));
        assert!(user.get("full_name").and_then(Value::as_str).is_some());
    }
    for index in 0..30 {
        let task = generator.record("Task", index).unwrap_or_default();
        let creator = task
            .get("created_by")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(emails.contains(creator), "{creator}");
        assert_eq!(task.get("is_sample"), Some(&Value::Bool(false)));
    }
}

#[test]
fn counts_must_name_entities_of_the_app() {
    let (app, target) = planned("");
    let counts = GenerateCounts::uniform(1).with("Nope", 3);
    assert!(matches!(
        Generator::new(&app, &target, &counts, 0),
        Err(GenerateError::UnknownEntity { .. })
    ));
}

#[test]
fn a_skipped_entity_has_no_generator_and_references_to_nothing_are_null() {
    let (app, target) = planned("[entities.User]\nskip = true\n");
    let counts = GenerateCounts::uniform(20).with("Project", 0);
    let generator = generator(&app, &target, &counts, 5);
    assert!(generator.entity("User").is_none());
    assert!(generator.record("User", 0).is_err());
    for index in 0..20 {
        let task = generator.record("Task", index).unwrap_or_default();
        assert!(task.get("project_id").is_none_or(Value::is_null));
    }
}

#[test]
fn timestamps_and_dates_are_valid_calendar_values() {
    assert_eq!(
        format_timestamp(0, TimestampForm::Stored),
        "1970-01-01T00:00:00.000000"
    );
    assert_eq!(
        format_timestamp(1_709_210_096_481_000, TimestampForm::Fresh),
        "2024-02-29T12:34:56.481Z"
    );
    assert_eq!(
        format_timestamp(BASE_SECONDS * MICROS, TimestampForm::Minute),
        "2025-01-01T00:00"
    );
    let mut random = Random::new(1);
    for _ in 0..5000 {
        assert!(is_date(&random_date(&mut random)));
        assert!(is_time(&random_time(&mut random)));
        assert!(is_timestamp(&random_timestamp(&mut random)));
    }
}

#[test]
fn lengths_are_padded_and_cut_by_characters() {
    assert_eq!(fit_length("ab".into(), 5, None), "ab account");
    assert_eq!(fit_length("😀😀😀".into(), 0, Some(2)), "😀😀");
    assert_eq!(fit_length(String::new(), 3, Some(3)), "acc");
    assert_eq!(base64(&mut Random::new(0), 3).len(), 4);
}

#[test]
fn tables_without_a_schema_entity_are_ignored() {
    let (app, mut target) = planned("");
    target.tables.push(Table {
        entity: "Ghost".into(),
        name: "ghost".into(),
        columns: Vec::new(),
        primary_key: vec!["id".into()],
        primary_key_name: "ghost_pkey".into(),
        junction: None,
    });
    let generator = generator(&app, &target, &GenerateCounts::uniform(1), 0);
    assert!(generator.entity("Ghost").is_none());
}

// ---------------------------------------------------------------------------------------------
// Generated workspaces

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(name)
}

fn generate(
    app: &str,
    rules: &MappingRules,
    counts: &GenerateCounts,
    seed: u64,
    part_records: u64,
) -> (tempfile::TempDir, GenerateSummary) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = Workspace::new(folder.path());
    let summary = generate_workspace(
        &sample(app),
        rules,
        counts,
        seed,
        &workspace,
        part_records,
        &NoProgress,
    )
    .unwrap_or_else(|error| panic!("{app}: {error}"));
    (folder, summary)
}

/// Every file of a folder, by relative path.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder).unwrap_or_else(|error| panic!("{error}"));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .map(|relative| relative.display().to_string())
                    .unwrap_or_default();
                let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{error}"));
                found.insert(relative, bytes);
            }
        }
    }
    found
}

fn records(root: &Path, entry: &EntityManifest) -> Vec<Map<String, Value>> {
    let mut records = Vec::new();
    for part in &entry.parts {
        let text = std::fs::read_to_string(root.join(&part.file))
            .unwrap_or_else(|error| panic!("{error}"));
        for line in text.lines() {
            match serde_json::from_str(line) {
                Ok(Value::Object(record)) => records.push(record),
                other => panic!("{}: {other:?}", part.file),
            }
        }
    }
    records
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let counts = GenerateCounts::uniform(120).with("Comment", 300);
    let (first, summary) = generate("tasks", &rules(""), &counts, 11, 50);
    let (second, _) = generate("tasks", &rules(""), &counts, 11, 50);
    let (third, _) = generate("tasks", &rules(""), &counts, 12, 50);
    assert_eq!(files(first.path()), files(second.path()));
    assert_ne!(files(first.path()), files(third.path()));
    let comments = summary
        .entities
        .iter()
        .find(|entity| entity.entity == "Comment");
    assert_eq!(
        comments.map(|entity| (entity.records, entity.parts)),
        Some((300, 6))
    );
    assert!(first.path().join("schemas/Task.json").is_file());
    assert!(first.path().join("data/Task/part-00002.jsonl").is_file());
}

#[test]
fn sample_workspaces_respect_every_column_and_reference() {
    for app in ["crm", "tasks", "marketplace"] {
        let rules = rules("");
        let output = crate::plan::plan(&sample(app), &rules, &NoProgress)
            .unwrap_or_else(|error| panic!("{error}"));
        let counts = GenerateCounts::uniform(150);
        let (folder, summary) = generate(app, &rules, &counts, 2026, 100_000);
        let workspace = Workspace::new(folder.path());
        let manifest: Manifest = workspace
            .read_json(&workspace.manifest_path())
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{app}: no manifest"));
        assert_eq!(manifest.source, Some(SourceInfo::Generated { seed: 2026 }));
        let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut all: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
        for (entity, entry) in &manifest.entities {
            let records = records(folder.path(), entry);
            assert_eq!(records.len(), 150, "{app}.{entity}");
            assert_eq!(entry.source_count, Some(150));
            let keys: Vec<_> = records.iter().filter_map(record_key).collect();
            assert_eq!(entry.first_key.as_ref(), keys.first());
            assert_eq!(entry.last_key.as_ref(), keys.last());
            // Pull order: (created_date as an instant, id).
            let order: Vec<_> = records.iter().map(crate::workspace::pull_order).collect();
            assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{entity}");
            ids.insert(
                entity.clone(),
                records
                    .iter()
                    .filter_map(|record| record.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect(),
            );
            all.insert(entity.clone(), records);
        }
        assert_eq!(summary.records, 150 * manifest.entities.len() as u64);
        for table in output
            .target
            .tables
            .iter()
            .filter(|table| table.junction.is_none())
        {
            let records = all.get(&table.entity).cloned().unwrap_or_default();
            assert_eq!(ids.get(&table.entity).map(BTreeSet::len), Some(150));
            for record in &records {
                for column in &table.columns {
                    let Some(field) = column.field.as_deref() else {
                        continue;
                    };
                    let value = record.get(field).filter(|value| !value.is_null());
                    let Some(value) = value else {
                        assert!(!column.not_null, "{}.{field} missing", table.entity);
                        continue;
                    };
                    if let Some(check) = &column.check {
                        let values: Vec<&Value> = match value {
                            Value::Array(items) if check.elements => items.iter().collect(),
                            scalar => vec![scalar],
                        };
                        for value in values {
                            assert!(
                                check.allowed.contains(value),
                                "{}.{field} = {value}",
                                table.entity
                            );
                        }
                    }
                    let declared = output
                        .app
                        .entity(&table.entity)
                        .and_then(|entity| entity.field(field));
                    if let (Some(declared), Some(number)) = (declared, value.as_f64()) {
                        assert!(declared.minimum.is_none_or(|minimum| number >= minimum));
                        assert!(declared.maximum.is_none_or(|maximum| number <= maximum));
                    }
                    match (&column.pg_type, value) {
                        (PgType::Array(_), value) => assert!(value.is_array()),
                        (PgType::Boolean, value) => assert!(value.is_boolean()),
                        (pg_type, value) if pg_type.is_numeric() => {
                            assert!(value.is_number())
                        }
                        (PgType::Jsonb, _) => {}
                        (_, value) => assert!(value.is_string(), "{field}: {value}"),
                    }
                    if column.source == ColumnSource::BuiltIn(offbase_model::BuiltIn::Role) {
                        assert!(value.is_string());
                    }
                }
            }
        }
        for key in &output.target.foreign_keys {
            for record in all.get(&key.entity).into_iter().flatten() {
                if let Some(Value::String(id)) = record.get(&key.field) {
                    assert!(
                        ids.get(&key.target_entity)
                            .is_some_and(|ids| ids.contains(id)),
                        "{app}: {}.{} = {id} is an orphan",
                        key.entity,
                        key.field
                    );
                }
            }
        }
    }
}

#[test]
fn skipped_entities_get_a_schema_and_no_data() {
    let rules = rules("[entities.Comment]\nskip = true\n");
    let counts = GenerateCounts::uniform(5).with("Comment", 10);
    let (folder, summary) = generate("tasks", &rules, &counts, 1, 100);
    assert_eq!(summary.skipped, ["Comment"]);
    assert!(folder.path().join("schemas/Comment.json").is_file());
    assert!(!folder.path().join("data/Comment").exists());
    assert!(folder.path().join("data/Task/part-00000.jsonl").is_file());
}

#[test]
fn counts_for_unknown_entities_are_refused() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let result = generate_workspace(
        &sample("tasks"),
        &rules(""),
        &GenerateCounts::uniform(1).with("Invoice", 3),
        0,
        &Workspace::new(folder.path()),
        100,
        &NoProgress,
    );
    match result {
        Err(PipelineError::Generate(GenerateError::UnknownEntity {
            entity: message, ..
        })) => {
            assert!(message.contains("Invoice"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
