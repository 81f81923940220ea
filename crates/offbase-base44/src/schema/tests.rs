//! Unit tests of reading one schema file: entity keys, field types and options, names, skips.

use super::discover::normalize_relative;
use super::entity::{file_stem, pascal_case};
use super::*;
use offbase_model::{Entity, Field, FieldKind, RlsRule, SourceLayout};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn entity(text: &str, path: &str) -> Result<(Entity, Vec<ReadWarning>), String> {
    match parse_entity_file(text, path, SourceLayout::Base44Entities) {
        Ok(ParsedFile::Entity(entity, warnings)) => Ok((entity, warnings)),
        Ok(ParsedFile::Skipped(warning)) => Err(format!("skipped: {warning}")),
        Err(error) => Err(error.to_string()),
    }
}

fn skip_message(text: &str, path: &str) -> Result<ReadWarning, String> {
    match parse_entity_file(text, path, SourceLayout::SrcEntities) {
        Ok(ParsedFile::Skipped(warning)) => Ok(warning),
        Ok(ParsedFile::Entity(entity, _)) => Err(format!("read as entity {}", entity.name)),
        Err(error) => Err(error.to_string()),
    }
}

fn field<'a>(entity: &'a Entity, name: &str) -> Result<&'a Field, String> {
    entity.field(name).ok_or_else(|| format!("no field {name}"))
}

fn mentions(warnings: &[ReadWarning], needle: &str) -> bool {
    warnings
        .iter()
        .any(|warning| warning.message.contains(needle))
}

#[test]
fn reads_a_full_entity() -> TestResult {
    let text = r#"// Task entity
{
  "name": "Task",
  "type": "object",
  "title": "A task",
  "description": "Things to do",
  "$schema": "http://json-schema.org/draft-07/schema#",
  "rls_enabled": true,
  "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": 200, "index": true},
    "status": {"type": "string", "enum": ["todo", "done"], "enumNames": ["To do", "Done"],
               "default": "todo"},
    "score": {"type": "number", "minimum": 0, "maximum": 10.5},
    "due": {"type": "string", "format": "date", "title": "Due", "pattern": "^\\d+$"},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    "address": {"type": "object", "properties": {"street": {"type": "string"},
                "city": {"type": "string"}}, "required": ["city"]},
    "secret": {"type": "string", "rls": {"read": false}},
  },
  "required": ["title"],
  "rls": {"create": true, "read": {"created_by": "{{user.email}}"}, "write": false,
          "note": "x"},
}"#;
    let (entity, warnings) = entity(text, "base44/entities/task.jsonc")?;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(entity.name, "Task");
    assert_eq!(entity.title.as_deref(), Some("A task"));
    assert_eq!(entity.description.as_deref(), Some("Things to do"));
    assert_eq!(entity.source.path, "base44/entities/task.jsonc");
    assert_eq!(entity.source.layout, SourceLayout::Base44Entities);
    let names: Vec<&str> = entity
        .fields
        .iter()
        .map(|field| field.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "title", "status", "score", "due", "tags", "address", "secret"
        ]
    );
    assert_eq!(
        entity.extra.keys().collect::<Vec<_>>(),
        ["$schema", "rls_enabled"]
    );

    let title = field(&entity, "title")?;
    assert!(title.required);
    assert_eq!((title.min_length, title.max_length), (Some(1), Some(200)));
    assert_eq!(title.extra.get("index"), Some(&json!(true)));
    let status = field(&entity, "status")?;
    assert!(!status.required);
    assert_eq!(status.enum_values, Some(vec![json!("todo"), json!("done")]));
    assert_eq!(status.enum_names, Some(vec![json!("To do"), json!("Done")]));
    assert_eq!(status.default, Some(json!("todo")));
    let score = field(&entity, "score")?;
    assert_eq!((score.minimum, score.maximum), (Some(0.0), Some(10.5)));
    let due = field(&entity, "due")?;
    assert_eq!(due.format.as_deref(), Some("date"));
    assert_eq!(due.title.as_deref(), Some("Due"));
    assert_eq!(due.pattern.as_deref(), Some("^\\d+$"));
    let tags = field(&entity, "tags")?;
    assert_eq!(tags.kind, FieldKind::Array);
    let item = tags.items.as_deref().ok_or("no items")?;
    assert_eq!(
        (item.name.as_str(), &item.kind),
        ("tags[]", &FieldKind::String)
    );
    assert_eq!(tags.extra.get("maxItems"), Some(&json!(5)));
    let address = field(&entity, "address")?;
    assert_eq!(address.kind, FieldKind::Object);
    let nested = address.properties.as_deref().ok_or("no properties")?;
    assert_eq!(nested.len(), 2);
    assert!(!nested[0].required);
    assert!(nested[1].required);
    assert!(!address.extra.contains_key("required"));
    assert_eq!(field(&entity, "secret")?.rls, Some(json!({"read": false})));

    let rls = entity.rls.as_ref().ok_or("no rls")?;
    assert_eq!(rls.create, Some(RlsRule::Allow(true)));
    assert_eq!(
        rls.read,
        Some(RlsRule::Condition(json!({"created_by": "{{user.email}}"})))
    );
    assert_eq!(rls.write, Some(RlsRule::Allow(false)));
    assert_eq!(rls.update, None);
    assert_eq!(rls.extra.get("note"), Some(&json!("x")));
    Ok(())
}

#[test]
fn comments_trailing_commas_and_escapes() -> TestResult {
    let text = "\u{feff}// comment before\n{\n  \"name\": \"Caf\\u00e9Order\", /* inline */\n  \"properties\": {\n    \"kind\": {\"type\": \"string\", \"enum\": [\"caf\\u00e9\", \"th\\u00e9\",],},\n  },\n}\n";
    let (entity, warnings) = entity(text, "CafeOrder.jsonc")?;
    assert_eq!(entity.name, "CaféOrder");
    assert!(mentions(
        &warnings,
        "not made of letters, digits and underscores"
    ));
    let kind = field(&entity, "kind")?;
    assert_eq!(kind.enum_values, Some(vec![json!("café"), json!("thé")]));
    Ok(())
}

#[test]
fn invalid_json_names_file_line_and_column() {
    let text = "{\n  \"name\": \"Task\", // comment\n  \"properties\": {\n    \"a\": {\"type\": \"string\"},\n    \"b\" {}\n  }\n}";
    match parse_entity_file(
        text,
        "base44/entities/Task.jsonc",
        SourceLayout::Base44Entities,
    ) {
        Err(error @ SchemaError::InvalidJson { line, column, .. }) => {
            assert_eq!((line, column), (5, 9));
            let message = error.to_string();
            assert!(
                message.starts_with("base44/entities/Task.jsonc:5:9: invalid JSON: "),
                "{message}"
            );
            assert!(!message.contains(" at line "), "{message}");
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
}

#[test]
fn array_of_records_is_skipped() -> TestResult {
    let warning = skip_message(r#"[{"id": "1", "title": "x"}]"#, "src/entities/tasks.json")?;
    assert_eq!(warning.path, "src/entities/tasks.json");
    assert!(warning.message.contains("sample records"), "{warning}");
    assert!(warning.to_string().contains("src/entities/tasks.json"));
    Ok(())
}

#[test]
fn fields_list_format_is_skipped() -> TestResult {
    let warning = skip_message(
        r#"{"name": "Task", "fields": [{"name": "title", "type": "text"}]}"#,
        "entities/Task.json",
    )?;
    assert!(warning.message.contains("`fields` list"), "{warning}");
    Ok(())
}

#[test]
fn object_without_schema_keys_is_skipped() -> TestResult {
    let warning = skip_message(r#"{"id": "1", "count": 3}"#, "entities/data.json")?;
    assert!(
        warning.message.contains("not an entity schema"),
        "{warning}"
    );
    let warning = skip_message("\"just text\"", "entities/text.json")?;
    assert!(
        warning.message.contains("a string at the top level"),
        "{warning}"
    );
    Ok(())
}

#[test]
fn empty_or_missing_properties() -> TestResult {
    let (user, warnings) = entity(
        r#"{"name": "User", "type": "object", "properties": {}}"#,
        "User.jsonc",
    )?;
    assert!(user.fields.is_empty());
    assert!(mentions(&warnings, "no declared fields"));
    let (task, warnings) = entity(r#"{"name": "Task"}"#, "Task.jsonc")?;
    assert!(task.fields.is_empty());
    assert!(mentions(&warnings, "no `properties`"));
    Ok(())
}

#[test]
fn union_and_null_types() -> TestResult {
    let text = r#"{"name": "T", "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"type": ["number", "string", "null", "string"]},
            "c": {"type": "null"},
            "d": {"type": ["null"]}
        }}"#;
    let (entity, warnings) = entity(text, "T.json")?;
    assert!(warnings.is_empty(), "{warnings:?}");
    let a = field(&entity, "a")?;
    assert_eq!((&a.kind, a.nullable), (&FieldKind::String, true));
    let b = field(&entity, "b")?;
    assert_eq!(
        b.kind,
        FieldKind::Union(vec!["number".to_owned(), "string".to_owned()])
    );
    assert!(b.nullable);
    for name in ["c", "d"] {
        let null_only = field(&entity, name)?;
        assert_eq!(
            (&null_only.kind, null_only.nullable),
            (&FieldKind::Any, true)
        );
    }
    Ok(())
}

#[test]
fn missing_types_are_inferred() -> TestResult {
    let text = r#"{"name": "T", "properties": {
            "free": {"description": "anything"},
            "obj": {"properties": {"x": {"type": "integer"}}},
            "list": {"items": {"type": "string"}},
            "words": {"enum": ["a", "b"]},
            "levels": {"enum": [1, 2, 3]},
            "ratios": {"enum": [1, 2.5]},
            "flags": {"enum": [true, false, null]},
            "mixed": {"enum": ["a", 1]},
            "bare_array": {"type": "array"},
            "bare_object": {"type": "object"}
        }}"#;
    let (entity, warnings) = entity(text, "T.json")?;
    assert!(warnings.is_empty(), "{warnings:?}");
    let kinds: Vec<(&str, &FieldKind)> = entity
        .fields
        .iter()
        .map(|field| (field.name.as_str(), &field.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("free", &FieldKind::Any),
            ("obj", &FieldKind::Object),
            ("list", &FieldKind::Array),
            ("words", &FieldKind::String),
            ("levels", &FieldKind::Integer),
            ("ratios", &FieldKind::Number),
            ("flags", &FieldKind::Boolean),
            ("mixed", &FieldKind::Any),
            ("bare_array", &FieldKind::Array),
            ("bare_object", &FieldKind::Object),
        ]
    );
    assert!(field(&entity, "flags")?.nullable);
    assert!(field(&entity, "bare_array")?.items.is_none());
    assert!(field(&entity, "bare_object")?.properties.is_none());
    Ok(())
}

#[test]
fn integer_enum_with_type() -> TestResult {
    let text = r#"{"name": "T", "properties": {"grade": {"type": "integer", "enum": [1, 2, 3]}}}"#;
    let (entity, _) = entity(text, "T.json")?;
    let grade = field(&entity, "grade")?;
    assert_eq!(grade.kind, FieldKind::Integer);
    assert_eq!(grade.enum_values, Some(vec![json!(1), json!(2), json!(3)]));
    Ok(())
}

#[test]
fn enum_value_with_apostrophe_is_kept_exactly() -> TestResult {
    let text = r#"{"name": "T", "properties": {"kind": {"type": "string",
            "enum": ["Children's book", "O'Brien \"quoted\""]}}}"#;
    let (entity, _) = entity(text, "T.json")?;
    assert_eq!(
        field(&entity, "kind")?.enum_values,
        Some(vec![json!("Children's book"), json!("O'Brien \"quoted\"")])
    );
    Ok(())
}

#[test]
fn name_from_title_or_file_stem() -> TestResult {
    let (entity_from_title, warnings) = entity(
        r#"{"title": "GlobalDestination", "properties": {}}"#,
        "src/entities/whatever.json",
    )?;
    assert_eq!(entity_from_title.name, "GlobalDestination");
    assert_eq!(
        entity_from_title.title.as_deref(),
        Some("GlobalDestination")
    );
    assert!(mentions(&warnings, "using the title"));

    let (from_stem, warnings) = entity(
        r#"{"title": "Deal stage", "properties": {"a": {"type": "string"}}}"#,
        "base44/entities/deal-stage.jsonc",
    )?;
    assert_eq!(from_stem.name, "DealStage");
    assert!(mentions(&warnings, "made from the file name"));
    assert!(
        warnings
            .iter()
            .all(|warning| warning.entity.as_deref() == Some("DealStage"))
    );

    let (from_snake, _) = entity(r#"{"properties": {}}"#, "entities/service_contact.json")?;
    assert_eq!(from_snake.name, "ServiceContact");
    Ok(())
}

#[test]
fn name_that_is_not_a_string_is_kept_in_extra() -> TestResult {
    let (entity, warnings) = entity(r#"{"name": 7, "properties": {}}"#, "x/Seven.json")?;
    assert_eq!(entity.name, "Seven");
    assert_eq!(entity.extra.get("name"), Some(&json!(7)));
    assert!(mentions(&warnings, "`name` is a number"));
    Ok(())
}

#[test]
fn underscores_in_entity_names_are_plain_names() -> TestResult {
    // Real apps name entities `Ops_Task`: Base44 accepts underscores.
    let (entity, warnings) = entity(
        r#"{"name": "Ops_Task", "properties": {}}"#,
        "Ops_Task.jsonc",
    )?;
    assert_eq!(entity.name, "Ops_Task");
    assert!(!mentions(&warnings, "not made of"));
    let (spaced, warnings) =
        super::tests::entity(r#"{"name": "Ops Task!", "properties": {}}"#, "x.jsonc")?;
    assert_eq!(spaced.name, "Ops Task!");
    assert!(mentions(
        &warnings,
        "not made of letters, digits and underscores"
    ));
    Ok(())
}

#[test]
fn unknown_type_is_kept_and_reported() -> TestResult {
    let text = r#"{"name": "T", "properties": {
            "when": {"type": "datetime"},
            "either": {"type": ["string", "date"]}
        }}"#;
    let (entity, warnings) = entity(text, "T.json")?;
    assert_eq!(
        field(&entity, "when")?.kind,
        FieldKind::Unknown("datetime".to_owned())
    );
    assert_eq!(
        field(&entity, "either")?.kind,
        FieldKind::Union(vec!["date".to_owned(), "string".to_owned()])
    );
    assert!(mentions(&warnings, "field `when`: unknown type `datetime`"));
    assert!(mentions(&warnings, "field `either`: unknown type `date`"));
    Ok(())
}

#[test]
fn non_object_field_definitions() -> TestResult {
    let text = r#"{"name": "T", "properties": {"a": "string", "b": true, "c": "money"}}"#;
    let (entity, warnings) = entity(text, "T.json")?;
    assert_eq!(field(&entity, "a")?.kind, FieldKind::String);
    let b = field(&entity, "b")?;
    assert_eq!(b.kind, FieldKind::Any);
    assert_eq!(b.extra.get("definition"), Some(&json!(true)));
    assert_eq!(
        field(&entity, "c")?.kind,
        FieldKind::Unknown("money".to_owned())
    );
    assert!(mentions(&warnings, "field `a` is the string \"string\""));
    assert!(mentions(&warnings, "field `b` is a boolean"));
    Ok(())
}

#[test]
fn required_names_that_are_not_properties() -> TestResult {
    let text = r#"{"name": "T", "properties": {"a": {"type": "string"},
            "o": {"type": "object", "properties": {"x": {}}, "required": ["y"]},
            "flag": {"type": "string", "required": true}},
            "required": ["a", "ghost"]}"#;
    let (entity, warnings) = entity(text, "T.json")?;
    assert!(field(&entity, "a")?.required);
    assert!(mentions(&warnings, "`required` lists `ghost`"));
    assert!(mentions(&warnings, "field `o`: `required` lists `y`"));
    assert_eq!(
        field(&entity, "flag")?.extra.get("required"),
        Some(&json!(true))
    );
    Ok(())
}

#[test]
fn nested_items_and_properties_are_named_by_path() -> TestResult {
    let text = r#"{"name": "T", "properties": {"lines": {"type": "array", "items": {
            "type": "object", "required": ["sku"], "properties": {
                "sku": {"type": "string"}, "qty": {"type": "wholenumber"},
                "codes": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}
            }}}}}"#;
    let (entity, warnings) = entity(text, "T.json")?;
    let item = field(&entity, "lines")?.items.as_deref().ok_or("no item")?;
    assert_eq!(item.name, "lines[]");
    let properties = item.properties.as_deref().ok_or("no properties")?;
    assert!(properties[0].required);
    let codes = properties[2].items.as_deref().ok_or("no codes item")?;
    let inner = codes.items.as_deref().ok_or("no inner item")?;
    assert_eq!(
        (codes.name.as_str(), inner.name.as_str()),
        ("codes[]", "codes[][]")
    );
    assert_eq!(inner.kind, FieldKind::Integer);
    assert!(mentions(
        &warnings,
        "field `lines[].qty`: unknown type `wholenumber`"
    ));
    Ok(())
}

#[test]
fn wrongly_typed_options_go_to_extra() -> TestResult {
    let text = r#"{"name": "T", "properties": {"a": {"type": "string",
            "maxLength": "20", "minimum": "0", "enum": "a,b", "format": 5}},
            "rls": true, "type": "array"}"#;
    let (entity, warnings) = entity(text, "T.json")?;
    let a = field(&entity, "a")?;
    assert_eq!(a.max_length, None);
    for key in ["maxLength", "minimum", "enum", "format"] {
        assert!(a.extra.contains_key(key), "{key}");
    }
    assert_eq!(entity.rls, None);
    assert_eq!(entity.extra.get("rls"), Some(&json!(true)));
    assert_eq!(entity.extra.get("type"), Some(&json!("array")));
    assert!(mentions(&warnings, "`rls` is a boolean"));
    assert!(mentions(&warnings, "top-level `type` is \"array\""));
    Ok(())
}

#[test]
fn helpers() {
    assert_eq!(pascal_case("deal-stage"), "DealStage");
    assert_eq!(pascal_case("dealStage"), "DealStage");
    assert_eq!(pascal_case("---"), "---");
    assert_eq!(file_stem("a/b/Deal.Stage.JSONC"), "Deal.Stage");
    assert_eq!(file_stem("x.json"), "x");
    assert_eq!(normalize_relative("base44/./entities/"), "base44/entities");
    assert_eq!(normalize_relative("base44/../schemas"), "schemas");
    assert_eq!(normalize_relative("base44/../../up"), "../up");
}
