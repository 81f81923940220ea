//! Seed files (`base44/seed/<Entity>.jsonc`) read from hand-made fixtures
//! (`tests/fixtures/seed/`): shapes, entity names, generated ids, key order and errors.

use offbase_base44::read_app;
use offbase_base44::seed::{SeedError, SeedImport, parse_seed_file, read_seed_folder};
use offbase_model::App;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed");

fn fixtures() -> PathBuf {
    PathBuf::from(FIXTURES)
}

fn schemas() -> Result<App, Box<dyn std::error::Error>> {
    Ok(read_app(&Path::new(FIXTURES).join("schemas"))?.app)
}

fn file(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// Compares records as serialized text, so key order counts.
fn assert_records(import: &SeedImport, expected: Value) -> TestResult {
    assert_eq!(
        serde_json::to_string_pretty(&import.records)?,
        serde_json::to_string_pretty(&expected)?
    );
    Ok(())
}

#[test]
fn seed_folder_with_schemas() -> TestResult {
    let app = schemas()?;
    let imports = read_seed_folder(&fixtures(), Some(&app))?;
    let names: Vec<&str> = imports
        .iter()
        .map(|import| import.entity.as_str())
        .collect();
    assert_eq!(names, ["Settings", "Task", "TaskComment", "User"]);

    let settings = &imports[0];
    assert!(settings.records.is_empty());
    assert_eq!(
        settings.warnings,
        [
            format!("{FIXTURES}: `README.md` is not a seed file (`<Entity>.jsonc`): skipped"),
            format!(
                "{}: the app has no schema for entity `Settings`: records kept as they are",
                file("Settings.jsonc")
            ),
            format!(
                "{}: an object without a `records` or `data` list: no records read; write the \
                 records as a JSON array",
                file("Settings.jsonc")
            ),
        ]
    );

    let task = &imports[1];
    // Schema order (status, title) after the system fields, then the rest in file order.
    assert_records(
        task,
        json!([
            {"id": "seed-task-a", "created_date": "2026-01-01T00:00:00Z", "status": "todo", "title": "First", "custom": 1},
            {"id": "seed-task-2", "status": "done", "title": "No id here"},
            {"id": "7", "title": "Numeric id"},
            {"id": "seed-task-a", "title": "Duplicate"}
        ]),
    )?;
    let task_file = file("Task.jsonc");
    assert_eq!(
        task.warnings,
        [
            format!(
                "{task_file}: record 2 has no id: given the id `seed-task-2`; add \"id\" to the \
                 record to choose another"
            ),
            format!("{task_file}: record 3 is a number, not an object: skipped"),
            format!("{task_file}: record 4: `id` is the number 7: read as the text \"7\""),
            format!("{task_file}: record 5: id `seed-task-a` is also the id of record 1"),
        ]
    );

    // `task-comment.jsonc` names the entity `TaskComment`; `records` holds the list.
    let comment = &imports[2];
    assert_records(
        comment,
        json!([{"id": "seed-task_comment-1", "task_id": "seed-task-a", "body": "Looks good"}]),
    )?;
    assert_eq!(
        comment.warnings,
        [format!(
            "{}: record 1 has no id: given the id `seed-task_comment-1`; add \"id\" to the \
             record to choose another",
            file("task-comment.jsonc")
        )]
    );

    // `user.json` with a `data` list: the User built-ins come first.
    let user = &imports[3];
    assert_records(
        user,
        json!([{"id": "u1", "email": "a@example.com", "role": "admin", "department": "Ops"}]),
    )?;
    assert_eq!(
        user.warnings,
        [format!(
            "{}: the app has no schema for entity `User`: records kept as they are",
            file("user.json")
        )]
    );
    Ok(())
}

#[test]
fn seed_folder_without_schemas_keeps_file_order() -> TestResult {
    let imports = read_seed_folder(&fixtures(), None)?;
    let names: Vec<&str> = imports
        .iter()
        .map(|import| import.entity.as_str())
        .collect();
    assert_eq!(names, ["Settings", "Task", "TaskComment", "User"]);
    assert_records(
        &imports[1],
        json!([
            {"id": "seed-task-a", "created_date": "2026-01-01T00:00:00Z", "title": "First", "status": "todo", "custom": 1},
            {"id": "seed-task-2", "status": "done", "title": "No id here"},
            {"id": "7", "title": "Numeric id"},
            {"id": "seed-task-a", "title": "Duplicate"}
        ]),
    )?;
    assert_records(
        &imports[2],
        json!([{"id": "seed-task_comment-1", "body": "Looks good", "task_id": "seed-task-a"}]),
    )?;
    // Only the first import carries the folder's skipped files.
    assert_eq!(imports[0].warnings.len(), 2);
    Ok(())
}

#[test]
fn shapes_and_invalid_json() -> TestResult {
    let both = parse_seed_file(
        r#"{"records": [{"id": "a"}], "data": [{"id": "b"}]}"#,
        "x.jsonc",
        "X",
        None,
    )?;
    assert_records(&both, json!([{"id": "a"}]))?;
    assert_eq!(
        both.warnings,
        ["x.jsonc: has both `records` and `data`: `records` read, `data` ignored; keep only one"]
    );
    let wrong = parse_seed_file(
        r#"{"records": 3, "data": [{"id": "b"}]}"#,
        "x.jsonc",
        "X",
        None,
    )?;
    assert_records(&wrong, json!([{"id": "b"}]))?;
    assert_eq!(
        wrong.warnings,
        ["x.jsonc: `records` is a number, not a list: `data` read instead"]
    );
    let scalar = parse_seed_file("\"hello\"", "x.jsonc", "X", None)?;
    assert!(scalar.records.is_empty());
    assert_eq!(
        scalar.warnings,
        ["x.jsonc: a string at the top level, not a list of records: no records read"]
    );

    match parse_seed_file("[\n  {\"id\": \"a\",,}\n]", "x.jsonc", "X", None) {
        Err(error @ SeedError::InvalidJson { .. }) => {
            let message = error.to_string();
            assert!(message.starts_with("x.jsonc:2:"), "{message}");
            assert!(message.ends_with("(fix the seed file)"), "{message}");
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
    Ok(())
}

#[test]
fn seed_folder_errors() -> TestResult {
    let root = tempfile::tempdir()?;
    fs::write(root.path().join("notes.txt"), "x")?;
    match read_seed_folder(root.path(), None) {
        Err(error @ SeedError::NotFound { .. }) => assert_eq!(
            error.to_string(),
            format!(
                "{}: no seed file (`<Entity>.jsonc`) found (found only: notes.txt): give the \
                 `base44/seed` folder of the export",
                root.path().display()
            )
        ),
        other => panic!("expected NotFound, got {other:?}"),
    }
    fs::write(root.path().join("Task.jsonc"), "[]")?;
    fs::write(root.path().join("task.json"), "[]")?;
    match read_seed_folder(root.path(), None) {
        Err(SeedError::DuplicateEntity { entity, .. }) => assert_eq!(entity, "Task"),
        other => panic!("expected DuplicateEntity, got {other:?}"),
    }
    fs::remove_file(root.path().join("task.json"))?;
    fs::write(root.path().join("Bad.jsonc"), b"[\"caf\xe9\"]")?;
    match read_seed_folder(root.path(), None) {
        Err(error @ SeedError::InvalidUtf8 { .. }) => {
            assert!(
                error.to_string().contains("Bad.jsonc:1: not UTF-8"),
                "{error}"
            );
        }
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }
    Ok(())
}
