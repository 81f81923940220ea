//! Bad and awkward input: each case gives its documented outcome (an error or a warning) and a
//! message that names the file, and whatever is planned still applies to PostgreSQL.

use offbase_model::NoteLevel;
use offbase_pipeline::PipelineError;
use offbase_pipeline::plan::{PlanOutput, load_rules, plan};
use offbase_pipeline::progress::NoProgress;
use offbase_tests::TestSchema;
use std::path::Path;

/// Writes `files` (relative path, contents) under a fresh folder.
fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let folder = match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("temp dir: {error}"),
    };
    for (path, contents) in files {
        let path = folder.path().join(path);
        if let Some(parent) = path.parent()
            && let Err(error) = std::fs::create_dir_all(parent)
        {
            panic!("{error}");
        }
        if let Err(error) = std::fs::write(&path, contents) {
            panic!("{error}");
        }
    }
    folder
}

fn try_plan(source: &Path) -> Result<PlanOutput, PipelineError> {
    let rules = match load_rules(None) {
        Ok(rules) => rules,
        Err(error) => panic!("{error}"),
    };
    plan(source, &rules, &NoProgress)
}

fn planned(source: &Path) -> PlanOutput {
    match try_plan(source) {
        Ok(output) => output,
        Err(error) => panic!("planning failed: {error}"),
    }
}

fn warnings(output: &PlanOutput) -> Vec<String> {
    output
        .target
        .notes
        .iter()
        .filter(|note| note.level == NoteLevel::Warning)
        .map(|note| note.message.clone())
        .collect()
}

fn decisions(output: &PlanOutput) -> Vec<String> {
    output
        .target
        .notes
        .iter()
        .filter(|note| note.level == NoteLevel::Decision)
        .map(|note| format!("{:?}.{:?}: {}", note.entity, note.field, note.message))
        .collect()
}

async fn applies(label: &str, output: &PlanOutput) {
    TestSchema::with_plan(label, output).await.drop().await;
}

#[test]
fn invalid_json_names_the_file_line_and_column() {
    let folder = app(&[(
        "base44/entities/Task.jsonc",
        "{\n  \"name\": \"Task\",\n  \"properties\": {\n    \"title\": {\"type\": \"string\"\n  }\n",
    )]);
    let error = try_plan(folder.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("base44/entities/Task.jsonc:"), "{error}");
    assert!(error.contains("invalid JSON"), "{error}");
    // The object is never closed: serde reports the end of the input, line 6.
    assert!(error.contains("Task.jsonc:6:"), "{error}");
}

#[tokio::test]
async fn an_unknown_type_becomes_jsonb_with_a_warning_naming_the_file() {
    let folder = app(&[(
        "base44/entities/Task.jsonc",
        r#"{"name": "Task", "properties": {"when": {"type": "datetime"}}}"#,
    )]);
    let output = planned(folder.path());
    let all = warnings(&output).join("\n");
    assert!(all.contains("base44/entities/Task.jsonc"), "{all}");
    assert!(all.contains("datetime"), "{all}");
    let column = output
        .target
        .table_for_entity("Task")
        .and_then(|table| table.column("when"))
        .map(|column| column.pg_type.short());
    assert_eq!(column.as_deref(), Some("jsonb"));
    applies("unknown_type", &output).await;
}

#[tokio::test]
async fn empty_properties_give_a_table_of_built_ins_with_a_warning() {
    let folder = app(&[(
        "base44/entities/Note.jsonc",
        r#"{"name": "Note", "type": "object", "properties": {}}"#,
    )]);
    let output = planned(folder.path());
    let all = warnings(&output).join("\n");
    assert!(all.contains("base44/entities/Note.jsonc"), "{all}");
    let columns: Vec<String> = output
        .target
        .table_for_entity("Note")
        .map(|table| {
            table
                .columns
                .iter()
                .map(|column| column.name.clone())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        columns,
        [
            "id",
            "created_date",
            "updated_date",
            "created_by",
            "created_by_id",
            "is_sample",
            "_extra"
        ]
    );
    applies("empty_properties", &output).await;
}

#[test]
fn duplicate_entity_names_in_one_folder_are_an_error_naming_both_files() {
    let folder = app(&[
        (
            "base44/entities/Task.jsonc",
            r#"{"name": "Task", "properties": {}}"#,
        ),
        (
            "base44/entities/task-copy.jsonc",
            r#"{"name": "Task", "properties": {"title": {"type": "string"}}}"#,
        ),
    ]);
    let error = try_plan(folder.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("base44/entities/Task.jsonc"), "{error}");
    assert!(error.contains("base44/entities/task-copy.jsonc"), "{error}");
}

#[tokio::test]
async fn names_colliding_after_snake_case_are_suffixed_and_reported() {
    let folder = app(&[
        (
            "base44/entities/OrderItem.jsonc",
            r#"{"name": "OrderItem", "properties": {
                "firstName": {"type": "string"}, "first_name": {"type": "integer"},
                "createdDate": {"type": "string"}, "xmin": {"type": "string"}}}"#,
        ),
        (
            "base44/entities/Order_Item.jsonc",
            r#"{"name": "Order_Item", "properties": {}}"#,
        ),
    ]);
    let output = planned(folder.path());
    let tables: Vec<&str> = output
        .target
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(tables, ["order_item", "order_item_2", "user"]);
    let table = output.target.table_for_entity("OrderItem");
    let column = |field: &str| {
        table
            .and_then(|table| table.column_for_field(field))
            .map(|column| column.name.clone())
            .unwrap_or_default()
    };
    assert_eq!(column("first_name"), "first_name");
    assert_eq!(column("firstName"), "first_name_2");
    assert_eq!(column("createdDate"), "created_date_2");
    assert_eq!(column("xmin"), "xmin_2");
    let all = decisions(&output).join("\n");
    assert!(all.contains("table renamed to \"order_item_2\""), "{all}");
    assert!(all.contains("column renamed to \"first_name_2\""), "{all}");
    assert!(all.contains("system column"), "{all}");
    applies("collisions", &output).await;
}

#[tokio::test]
async fn an_enum_value_with_a_quote_is_escaped() {
    let folder = app(&[(
        "entities/Shelf.json",
        r#"{"name": "Shelf", "properties": {"kind": {"type": "string",
            "enum": ["Collector's", "say \"hi\"", "back\\slash", "ünï"], "default": "Collector's"}}}"#,
    )]);
    let output = planned(folder.path());
    assert!(
        output.plan_file.contains(r"E'Collector\'s'"),
        "{}",
        output.plan_file
    );
    applies("quote", &output).await;
}

#[tokio::test]
async fn a_200_character_name_is_shortened_deterministically() {
    let long = "a".repeat(200);
    let schema = format!(
        r#"{{"name": "{long}", "properties": {{"{long}": {{"type": "string", "enum": ["x"]}}, "{long}_id": {{"type": "string"}}}}}}"#
    );
    let folder = app(&[("base44/entities/Long.jsonc", schema.as_str())]);
    let output = planned(folder.path());
    let table = output.target.tables.iter().find(|t| t.entity == long);
    let Some(table) = table else {
        panic!("no table for the long entity: {:?}", output.target.tables);
    };
    assert!(table.name.len() <= 63, "{}", table.name);
    for column in &table.columns {
        assert!(column.name.len() <= 63, "{}", column.name);
    }
    let names: std::collections::BTreeSet<&str> =
        table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names.len(),
        table.columns.len(),
        "column names are not unique"
    );
    assert_eq!(planned(folder.path()).plan_file, output.plan_file);
    let all = decisions(&output).join("\n");
    assert!(all.contains("longer than 63 bytes"), "{all}");
    applies("long_names", &output).await;
}

#[test]
fn a_sample_data_file_in_src_entities_is_skipped_with_a_warning_naming_it() {
    let folder = app(&[
        (
            "src/entities/Task.json",
            r#"{"name": "Task", "properties": {"title": {"type": "string"}}}"#,
        ),
        (
            "src/entities/sample-tasks.json",
            r#"[{"title": "a"}, {"title": "b"}]"#,
        ),
    ]);
    let output = planned(folder.path());
    let all = warnings(&output).join("\n");
    assert!(all.contains("src/entities/sample-tasks.json"), "{all}");
    let entities: Vec<&str> = output
        .app
        .entities
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(entities, ["Task", "User"]);
}

#[test]
fn a_mapping_file_naming_a_missing_entity_is_an_error() {
    let folder = app(&[(
        "base44/entities/Task.jsonc",
        r#"{"name": "Task", "properties": {}}"#,
    )]);
    let mut rules = match load_rules(None) {
        Ok(rules) => rules,
        Err(error) => panic!("{error}"),
    };
    if let Err(error) = rules.merge("[entities.Taks]\ntable = \"tasks\"\n", "app.toml") {
        panic!("{error}");
    }
    let error = plan(folder.path(), &rules, &NoProgress)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("\"Taks\""), "{error}");
    assert!(error.contains("Task"), "{error}");
}
