//! `read_app` on small apps written to temporary folders: layouts, precedence, skipped files
//! and errors.

use offbase_base44::{ReadOutcome, SchemaError, read_app};
use offbase_model::{FieldKind, SourceLayout};
use std::fs;
use std::path::Path;
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Writes `files` (relative path, content) under a new temporary folder.
fn app(files: &[(&str, &str)]) -> Result<TempDir, std::io::Error> {
    let root = tempfile::tempdir()?;
    for (relative, content) in files {
        let path = root.path().join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, content)?;
    }
    Ok(root)
}

fn names(outcome: &ReadOutcome) -> Vec<&str> {
    outcome
        .app
        .entities
        .iter()
        .map(|entity| entity.name.as_str())
        .collect()
}

const TASK: &str =
    r#"{"name": "Task", "type": "object", "properties": {"title": {"type": "string"}}}"#;

#[test]
fn invalid_json_error_names_the_file_and_position() -> TestResult {
    let root = app(&[
        (
            "base44/entities/Good.jsonc",
            r#"{"name": "Good", "properties": {}}"#,
        ),
        (
            "base44/entities/Task.jsonc",
            "// Task\n{\n  \"name\": \"Task\",\n  \"properties\": {\n    \"title\" {\"type\": \"string\"},\n  }\n}\n",
        ),
    ])?;
    match read_app(root.path()) {
        Err(error @ SchemaError::InvalidJson { .. }) => {
            let message = error.to_string();
            assert!(
                message.starts_with("base44/entities/Task.jsonc:5:13: invalid JSON: expected `:`"),
                "{message}"
            );
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
    Ok(())
}

#[test]
fn jsonc_with_comments_trailing_commas_and_escapes() -> TestResult {
    let root = app(&[(
        "base44/entities/menu-item.jsonc",
        "// The menu\n{\n  \"name\": \"MenuItem\", // inline\n  /* block */\n  \"properties\": {\n    \"label\": {\"type\": \"string\", \"default\": \"Caf\\u00e9\",},\n  },\n  \"required\": [\"label\",],\n}\n",
    )])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["MenuItem"]);
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    let entity = &outcome.app.entities[0];
    assert_eq!(entity.source.path, "base44/entities/menu-item.jsonc");
    assert_eq!(entity.source.layout, SourceLayout::Base44Entities);
    let label = entity.field("label").ok_or("no label")?;
    assert_eq!(label.default, Some(serde_json::json!("Café")));
    assert!(label.required);
    Ok(())
}

#[test]
fn sample_records_in_src_entities_are_skipped() -> TestResult {
    let root = app(&[
        ("src/entities/Task.json", TASK),
        (
            "src/entities/sample_tasks.json",
            r#"[{"id": "1", "title": "first"}]"#,
        ),
        ("src/entities/notes.txt", "not a schema"),
    ])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["Task"]);
    assert_eq!(outcome.warnings.len(), 1);
    let warning = &outcome.warnings[0];
    assert_eq!(warning.path, "src/entities/sample_tasks.json");
    assert!(warning.message.contains("sample records"), "{warning}");
    assert_eq!(
        outcome.app.entities[0].source.layout,
        SourceLayout::SrcEntities
    );
    Ok(())
}

#[test]
fn fields_list_format_is_skipped() -> TestResult {
    let root = app(&[
        ("entities/Task.json", TASK),
        (
            "entities/Other.json",
            r#"{"name": "Other", "fields": [{"name": "a", "type": "text"}]}"#,
        ),
    ])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["Task"]);
    assert_eq!(outcome.warnings.len(), 1);
    assert_eq!(outcome.warnings[0].path, "entities/Other.json");
    assert!(outcome.warnings[0].message.contains("`fields` list"));
    Ok(())
}

#[test]
fn empty_properties_give_an_entity_without_fields() -> TestResult {
    let root = app(&[(
        "base44/entities/User.jsonc",
        r#"{"name": "User", "type": "object", "properties": {}}"#,
    )])?;
    let outcome = read_app(root.path())?;
    let user = outcome.app.entity("User").ok_or("no User")?;
    assert!(user.fields.is_empty());
    assert!(outcome.warnings[0].message.contains("no declared fields"));
    Ok(())
}

#[test]
fn duplicate_entity_in_one_folder_is_an_error() -> TestResult {
    let other =
        r#"{"name": "Task", "type": "object", "properties": {"title": {"type": "integer"}}}"#;
    let root = app(&[
        ("base44/entities/Task.jsonc", TASK),
        ("base44/entities/task-copy.jsonc", other),
    ])?;
    match read_app(root.path()) {
        Err(error @ SchemaError::DuplicateEntity { .. }) => {
            let message = error.to_string();
            assert!(message.contains("base44/entities/Task.jsonc"), "{message}");
            assert!(
                message.contains("base44/entities/task-copy.jsonc"),
                "{message}"
            );
            assert!(message.contains("remove one"), "{message}");
        }
        other => panic!("expected DuplicateEntity, got {other:?}"),
    }
    Ok(())
}

/// Regression: a real app ships `Category.json` holding a copy of `AgencyCategory`; the two
/// identical definitions stopped the migration as if they disagreed.
#[test]
fn identical_copies_of_one_entity_stopped_the_read() -> TestResult {
    let agency = r#"{"name": "AgencyCategory", "type": "object",
        "properties": {"label": {"type": "string"}, "rank": {"type": "integer"}},
        "required": ["label"]}"#;
    // The same definition, spelled with other whitespace and a comment.
    let copy = "// copied\n{\"name\":\"AgencyCategory\",\"type\":\"object\",\"properties\":{\"label\":{\"type\":\"string\"},\"rank\":{\"type\":\"integer\"}},\"required\":[\"label\"]}";
    let root = app(&[
        ("entities/AgencyCategory.json", agency),
        ("entities/Category.json", copy),
        ("entities/Task.json", TASK),
    ])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["AgencyCategory", "Task"]);
    let kept = outcome
        .app
        .entity("AgencyCategory")
        .ok_or("no AgencyCategory")?;
    assert_eq!(kept.source.path, "entities/AgencyCategory.json");
    assert_eq!(kept.fields.len(), 2);
    let warnings: Vec<String> = outcome.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "entities/Category.json (AgencyCategory): ignored: an identical copy of the definition \
             in entities/AgencyCategory.json, which is kept; remove one of the two files to \
             silence this warning"
        ]
    );
    Ok(())
}

/// Regression: a folder whose files are all in another format planned only the platform
/// `User` table and succeeded; now it is an error saying no Base44 entity schema was found.
#[test]
fn a_folder_without_any_entity_schema_planned_only_user() -> TestResult {
    let other_format = r#"{"name": "Task", "fields": [{"name": "title", "type": "text"}]}"#;
    let root = app(&[
        ("entities/Task.json", other_format),
        ("entities/tasks.json", r#"[{"id": "1"}]"#),
    ])?;
    match read_app(root.path()) {
        Err(error @ SchemaError::NoEntitySchema { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("no Base44 entity schema found"),
                "{message}"
            );
            assert!(message.contains("2 candidates, all skipped"), "{message}");
            assert!(message.contains("entities/Task.json"), "{message}");
        }
        other => panic!("expected NoEntitySchema, got {other:?}"),
    }
    // One file given directly, in another format: the same.
    match read_app(&root.path().join("entities/Task.json")) {
        Err(error @ SchemaError::NoEntitySchema { .. }) => {
            assert!(
                error.to_string().contains("the only candidate was skipped"),
                "{error}"
            );
        }
        other => panic!("expected NoEntitySchema, got {other:?}"),
    }
    Ok(())
}

#[test]
fn base44_layout_wins_over_older_layouts() -> TestResult {
    let newer = r#"{"name": "Task", "properties": {"title": {"type": "string"}, "done": {"type": "boolean"}}}"#;
    let older = r#"{"name": "Task", "properties": {"title": {"type": "string"}, "legacy": {}}}"#;
    let root = app(&[
        ("base44/entities/Task.jsonc", newer),
        ("src/entities/Task.json", older),
        (
            "src/entities/Note.json",
            r#"{"name": "Note", "properties": {}}"#,
        ),
        ("entities/Task.json", TASK),
    ])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["Note", "Task"]);
    let task = outcome.app.entity("Task").ok_or("no Task")?;
    assert_eq!(task.source.path, "base44/entities/Task.jsonc");
    assert_eq!(task.fields.len(), 2);
    let messages: Vec<&str> = outcome
        .warnings
        .iter()
        .map(|warning| warning.message.as_str())
        .collect();
    let ignored = |loser: &str| {
        outcome.warnings.iter().any(|warning| {
            warning.path == loser
                && warning
                    .message
                    .starts_with("ignored: base44/entities/Task.jsonc defines the same entity")
        })
    };
    assert!(ignored("src/entities/Task.json"));
    assert!(ignored("entities/Task.json"));
    assert!(
        messages
            .iter()
            .any(|message| message.contains("(fields only in it: legacy;"))
    );
    assert!(messages.iter().any(|message| {
        message.starts_with("only in src/entities, not in base44/entities: kept")
    }));
    let note = outcome.app.entity("Note").ok_or("no Note")?;
    assert_eq!(note.source.layout, SourceLayout::SrcEntities);
    Ok(())
}

#[test]
fn kinds_through_read_app() -> TestResult {
    let root = app(&[(
        "base44/entities/Thing.jsonc",
        r#"{"name": "Thing", "properties": {
            "maybe": {"type": ["string", "null"]},
            "free": {"description": "no type"},
            "list": {"type": "array"},
            "grade": {"enum": [1, 2, 3]},
            "odd": {"type": "decimal"},
            "label": {"type": "string", "enum": ["Children's", "Other"]}
        }}"#,
    )])?;
    let outcome = read_app(root.path())?;
    let thing = outcome.app.entity("Thing").ok_or("no Thing")?;
    let kind = |name: &str| thing.field(name).map(|field| field.kind.clone());
    assert_eq!(kind("maybe"), Some(FieldKind::String));
    assert!(thing.field("maybe").is_some_and(|field| field.nullable));
    assert_eq!(kind("free"), Some(FieldKind::Any));
    assert_eq!(kind("list"), Some(FieldKind::Array));
    assert_eq!(kind("grade"), Some(FieldKind::Integer));
    assert_eq!(kind("odd"), Some(FieldKind::Unknown("decimal".to_owned())));
    assert_eq!(
        thing
            .field("label")
            .and_then(|field| field.enum_values.clone()),
        Some(vec![
            serde_json::json!("Children's"),
            serde_json::json!("Other")
        ])
    );
    assert_eq!(outcome.warnings.len(), 1);
    assert_eq!(outcome.warnings[0].entity.as_deref(), Some("Thing"));
    assert!(
        outcome.warnings[0]
            .message
            .contains("unknown type `decimal`")
    );
    Ok(())
}

#[test]
fn name_from_file_stem_with_a_warning() -> TestResult {
    let root = app(&[(
        "entities/deal-stage.json",
        r#"{"type": "object", "properties": {"a": {"type": "string"}}}"#,
    )])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["DealStage"]);
    assert_eq!(outcome.warnings.len(), 1);
    assert_eq!(outcome.warnings[0].path, "entities/deal-stage.json");
    assert!(outcome.warnings[0].message.contains("no `name`"));
    Ok(())
}

#[test]
fn folder_of_schema_files_given_directly() -> TestResult {
    let root = app(&[
        ("base44/entities/Task.jsonc", TASK),
        (
            "base44/entities/Note.json",
            r#"{"name": "Note", "properties": {}}"#,
        ),
    ])?;
    let folder = root.path().join("base44/entities");
    let outcome = read_app(&folder)?;
    assert_eq!(outcome.app.name, "entities");
    assert_eq!(names(&outcome), ["Note", "Task"]);
    let task = outcome.app.entity("Task").ok_or("no Task")?;
    assert_eq!(task.source.path, "Task.jsonc");
    assert_eq!(task.source.layout, SourceLayout::Direct);
    Ok(())
}

#[test]
fn single_file_given_directly() -> TestResult {
    let root = app(&[("myapp/base44/entities/Task.jsonc", TASK)])?;
    let outcome = read_app(&root.path().join("myapp/base44/entities/Task.jsonc"))?;
    assert_eq!(outcome.app.name, "entities");
    assert_eq!(names(&outcome), ["Task"]);
    let task = &outcome.app.entities[0];
    assert_eq!(task.source.path, "Task.jsonc");
    assert_eq!(task.source.layout, SourceLayout::Direct);
    Ok(())
}

#[test]
fn app_name_id_and_entities_dir() -> TestResult {
    let root = app(&[
        (
            "shop/base44/.app.jsonc",
            "// app\n{\"id\": \"65f0c0ffee\",}\n",
        ),
        (
            "shop/base44/config.jsonc",
            "{\"entitiesDir\": \"./schemas/\", // moved\n}",
        ),
        (
            "shop/base44/schemas/Order.jsonc",
            r#"{"name": "Order", "properties": {}}"#,
        ),
        (
            "shop/base44/entities/Stale.jsonc",
            r#"{"name": "Stale", "properties": {}}"#,
        ),
    ])?;
    let outcome = read_app(&root.path().join("shop"))?;
    assert_eq!(outcome.app.name, "shop");
    assert_eq!(outcome.app.app_id.as_deref(), Some("65f0c0ffee"));
    assert_eq!(names(&outcome), ["Order"]);
    assert_eq!(
        outcome.app.entities[0].source.path,
        "base44/schemas/Order.jsonc"
    );
    Ok(())
}

#[test]
fn names_only_from_entities_js() -> TestResult {
    let root = app(&[
        ("package.json", r#"{"name": "old-app"}"#),
        (
            "src/api/entities.js",
            "import { base44 } from './base44Client';\n\nexport const Task = base44.entities.Task;\n\nexport const Project = base44.entities.Project;\n\n// auth sdk:\nexport const User = base44.auth;\n",
        ),
    ])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["Project", "Task"]);
    for entity in &outcome.app.entities {
        assert_eq!(entity.source.layout, SourceLayout::NamesOnly);
        assert_eq!(entity.source.path, "src/api/entities.js");
        assert!(entity.fields.is_empty());
    }
    assert_eq!(outcome.warnings.len(), 2);
    assert!(outcome.warnings[0].message.contains("_extra"));
    Ok(())
}

#[test]
fn nothing_to_read_is_not_found() -> TestResult {
    let root = app(&[("package.json", r#"{"name": "x"}"#), ("src/main.js", "")])?;
    match read_app(root.path()) {
        Err(error @ SchemaError::NotFound { .. }) => {
            assert!(error.to_string().contains("no entity schemas found"));
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let empty = tempfile::tempdir()?;
    assert!(matches!(
        read_app(empty.path()),
        Err(SchemaError::NotFound { .. })
    ));
    Ok(())
}

#[test]
fn missing_source_is_an_io_error() {
    let result = read_app(Path::new("/definitely/not/here"));
    match result {
        Err(error @ SchemaError::Io { .. }) => {
            assert!(
                error
                    .to_string()
                    .starts_with("/definitely/not/here: cannot read")
            );
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn files_are_read_in_name_order_and_not_recursively() -> TestResult {
    let root = app(&[
        ("base44/entities/b.jsonc", r#"{"properties": {}}"#),
        ("base44/entities/a.jsonc", r#"{"properties": {}}"#),
        (
            "base44/entities/nested/C.jsonc",
            r#"{"name": "C", "properties": {}}"#,
        ),
    ])?;
    let outcome = read_app(root.path())?;
    assert_eq!(names(&outcome), ["A", "B"]);
    let paths: Vec<&str> = outcome
        .warnings
        .iter()
        .map(|warning| warning.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "base44/entities/a.jsonc",
            "base44/entities/a.jsonc",
            "base44/entities/b.jsonc",
            "base44/entities/b.jsonc"
        ]
    );
    Ok(())
}

#[test]
fn non_utf8_file_is_an_error_with_position() -> TestResult {
    let root = tempfile::tempdir()?;
    let folder = root.path().join("entities");
    fs::create_dir_all(&folder)?;
    fs::write(folder.join("Bad.json"), b"{\n  \"name\": \"B\xe9\"\n}")?;
    match read_app(root.path()) {
        Err(error @ SchemaError::InvalidUtf8 { .. }) => {
            assert_eq!(
                error.to_string(),
                "entities/Bad.json:2:13: not UTF-8 text: save the file as UTF-8"
            );
        }
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }
    Ok(())
}
