//! Dashboard CSV exports read from hand-made fixtures (`tests/fixtures/csv/`), one per quirk
//! real exports show: exact typed records, exact flags, exact warnings, with and without a
//! schema.
//!
//! One file past 800 lines on purpose: each test is a fixture and its exact expected records,
//! read top to bottom like the list of quirks it pins; splitting it would only scatter that
//! list.

use offbase_base44::csv_export::{
    CsvError, CsvImport, FLAGS_KEY, entity_schema_json, parse_csv_export, read_csv_export,
    read_csv_folder,
};
use offbase_base44::{ParsedFile, parse_entity_file, read_app};
use offbase_model::{App, Entity, Field, FieldKind, SourceLayout};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/csv");

fn fixture_path(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn schemas() -> Result<App, Box<dyn std::error::Error>> {
    Ok(read_app(&fixture_path("schemas"))?.app)
}

fn entity<'a>(app: &'a App, name: &str) -> Result<&'a Entity, String> {
    app.entity(name).ok_or_else(|| format!("no {name} schema"))
}

/// Reads a fixture as `file` (its bare name, so messages are stable).
fn import(file: &str, entity: &str, schema: Option<&Entity>) -> Result<CsvImport, CsvError> {
    let bytes = fs::read(fixture_path(file)).map_err(|source| CsvError::Io {
        path: file.to_owned(),
        source,
    })?;
    parse_csv_export(&bytes, file, entity, schema)
}

/// Compares records as serialized text, so key order counts.
fn assert_records(import: &CsvImport, expected: Value) -> TestResult {
    let found = serde_json::to_string_pretty(&import.records)?;
    let expected = serde_json::to_string_pretty(&expected)?;
    assert_eq!(found, expected);
    Ok(())
}

type FlagRow<'a> = (u64, Option<&'a str>, &'a str, &'a str, &'a str);

fn flags(import: &CsvImport) -> Vec<FlagRow<'_>> {
    import
        .flags
        .iter()
        .map(|flag| {
            (
                flag.line,
                flag.id.as_deref(),
                flag.field.as_str(),
                flag.raw.as_str(),
                flag.reason.as_str(),
            )
        })
        .collect()
}

fn kinds(entity: &Entity) -> Vec<(&str, String)> {
    entity
        .fields
        .iter()
        .map(|field| {
            let mut kind = field.kind.key().to_owned();
            if let Some(format) = &field.format {
                kind.push_str(&format!(" {format}"));
            }
            if let Some(items) = &field.items {
                kind.push_str(&format!(" of {}", items.kind.key()));
            }
            (field.name.as_str(), kind)
        })
        .collect()
}

#[test]
fn newer_export_quoted_header_typed_by_schema() -> TestResult {
    let app = schemas()?;
    let task = entity(&app, "Task")?;
    let import = import("task_quoted.csv", "Task", Some(task))?;
    assert_eq!(import.entity, "Task");
    assert_eq!(import.inferred, None);
    assert_records(
        &import,
        json!([
            {
                "id": "69ad986c26e6d04c085ba8e1",
                "created_date": "2026-03-08T15:40:28.522000",
                "updated_date": "2026-03-08T15:40:28.522000",
                "created_by": "mari@example.com",
                "created_by_id": "6989205392f69694df37d206",
                "is_sample": false,
                "title": "Buy shoes",
                "status": "todo",
                "priority": 3,
                "estimate": 1.5,
                "done": true,
                "due_date": "2026-03-10",
                "remind_at": "2026-03-09T08:00:00.000Z",
                "tags": ["sale", "new"],
                "meta": {"color": "red"},
                "notes": "",
                "legacy_code": "A-1"
            },
            {
                "id": "69ad986c26e6d04c085ba8e2",
                "created_date": "2026-01-05T12:34:56.000000",
                "updated_date": "2026-01-06T09:00:00.123000",
                "created_by_id": "service_3f1c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
                "is_sample": false,
                "title": "[URGENT] call the supplier",
                "status": "blocked",
                "priority": 12,
                "estimate": 2,
                "done": false,
                "remind_at": "2026-03-09T10:15",
                "tags": [],
                "notes": "first line\nsecond line",
                "extra_info": {"a": [1, 2]}
            },
            {
                "id": "69ad986c26e6d04c085ba8e3",
                "created_date": "2026-03-08T15:40:28.000000",
                "updated_date": "2026-03-08T15:41:00.500000",
                "created_by": "mari@example.com",
                "created_by_id": "6989205392f69694df37d206",
                "is_sample": true,
                "title": "  שלום עולם 🚀  ",
                "priority": "high",
                "estimate": -0.25,
                "done": "yes",
                "due_date": "next week",
                "tags": ["a"],
                "meta": "[1,2]",
                "notes": "مرحبا 𝄞",
                "legacy_code": "B 2 ",
                "_offbase_flags": {
                    "priority": "expected an integer",
                    "done": "expected true or false",
                    "due_date": "expected a date (YYYY-MM-DD)",
                    "meta": "expected a JSON object, found an array"
                }
            },
            {
                "id": "69ad986c26e6d04c085ba8e4",
                "created_date": "yesterday",
                "updated_date": "2026-03-08T15:40:28.522000",
                "is_sample": false,
                "title": "Big",
                "priority": "9223372036854775808",
                "notes": "",
                "_offbase_flags": {
                    "created_date": "expected a date-time",
                    "priority": "integer out of the 64-bit range (or too large to read exactly)"
                }
            }
        ]),
    )?;
    let third = Some("69ad986c26e6d04c085ba8e3");
    let fourth = Some("69ad986c26e6d04c085ba8e4");
    assert_eq!(
        flags(&import),
        [
            (5, third, "priority", "high", "expected an integer"),
            (5, third, "done", "yes", "expected true or false"),
            (
                5,
                third,
                "due_date",
                "next week",
                "expected a date (YYYY-MM-DD)"
            ),
            (
                5,
                third,
                "meta",
                "[1,2]",
                "expected a JSON object, found an array"
            ),
            (
                6,
                fourth,
                "created_date",
                "yesterday",
                "expected a date-time"
            ),
            (
                6,
                fourth,
                "priority",
                "9223372036854775808",
                "integer out of the 64-bit range (or too large to read exactly)"
            ),
        ]
    );
    assert_eq!(
        import.warnings,
        ["task_quoted.csv:1: columns not in the schema of `Task`, kept as text: legacy_code"]
    );
    Ok(())
}

#[test]
fn newer_export_without_schema_is_inferred_and_text_stays_text() -> TestResult {
    let import = import("task_quoted.csv", "Task", None)?;
    let inferred = import.inferred.as_ref().ok_or("no inferred schema")?;
    assert_eq!(
        kinds(inferred),
        [
            ("title", "string".to_owned()),
            ("notes", "string".to_owned()),
            ("priority", "string".to_owned()),
            ("done", "string".to_owned()),
            ("status", "string".to_owned()),
            ("tags", "array of string".to_owned()),
            ("meta", "string".to_owned()),
            ("estimate", "number".to_owned()),
            ("due_date", "string".to_owned()),
            ("remind_at", "string date-time".to_owned()),
            ("extra_info", "object".to_owned()),
            ("legacy_code", "string".to_owned()),
        ]
    );
    // `[URGENT] ...` starts like JSON but the column is text: it stays text.
    assert_eq!(
        import.records[1].get("title"),
        Some(&json!("[URGENT] call the supplier"))
    );
    assert_eq!(import.records[2].get("meta"), Some(&json!("[1,2]")));
    assert_eq!(import.records[0].get("tags"), Some(&json!(["sale", "new"])));
    // Only the platform timestamp that does not parse is flagged.
    assert_eq!(
        flags(&import),
        [(
            6,
            Some("69ad986c26e6d04c085ba8e4"),
            "created_date",
            "yesterday",
            "expected a date-time"
        )]
    );
    assert!(import.warnings.is_empty(), "{:?}", import.warnings);
    Ok(())
}

#[test]
fn export_from_2025_unquoted_header_and_empty_is_sample() -> TestResult {
    let app = schemas()?;
    let import = import("task_2025.csv", "Task", Some(entity(&app, "Task")?))?;
    assert_records(
        &import,
        json!([
            {
                "id": "65a1f0c2b3d4e5f6a7b8c9d0",
                "created_date": "2025-01-15T10:00:00.000000",
                "updated_date": "2025-01-15T10:00:00.000000",
                "created_by_id": "65a1f0c2b3d4e5f6a7b8c9d1",
                "title": "Water plants",
                "status": "done",
                "priority": 1,
                "done": true
            },
            {
                "id": "65a1f0c2b3d4e5f6a7b8c9d2",
                "created_date": "2025-02-01T08:30:00.000000",
                "updated_date": "2025-02-01T08:30:00.000000",
                "created_by_id": "anonymous",
                "title": "Pay rent",
                "status": "todo"
            }
        ]),
    )?;
    assert!(import.flags.is_empty(), "{:?}", import.flags);
    assert_eq!(
        import.warnings,
        [
            "task_2025.csv:1: schema fields with no column (absent from every record): \
             estimate, due_date, remind_at, tags, meta, notes, extra_info"
        ]
    );
    Ok(())
}

#[test]
fn resaved_export_bom_crlf_trailing_newline_unquoted_values() -> TestResult {
    let app = schemas()?;
    let import = import("task_resaved.csv", "Task", Some(entity(&app, "Task")?))?;
    assert_records(
        &import,
        json!([
            {
                "id": "66b000000000000000000001",
                "created_date": "2026-05-01T09:00:00.100000",
                "updated_date": "2026-05-01T09:00:00.100000",
                "created_by": "ops@example.com",
                "created_by_id": "66b0000000000000000000ff",
                "is_sample": false,
                "title": "Pick up order",
                "status": "doing",
                "priority": 2,
                "done": true,
                "tags": ["pickup"],
                "notes": "Gate code 1234\nring twice"
            },
            {
                "id": "66b000000000000000000002",
                "created_date": "2026-05-02T10:00:00.000000",
                "updated_date": "2026-05-02T10:00:00.000000",
                "created_by": "ops@example.com",
                "created_by_id": "66b0000000000000000000ff",
                "is_sample": true,
                "title": "Sort mail",
                "status": "done",
                "priority": 5,
                "done": false,
                "tags": [],
                "notes": ""
            }
        ]),
    )?;
    assert!(import.flags.is_empty(), "{:?}", import.flags);
    assert_eq!(
        import.warnings,
        [
            "task_resaved.csv:1: schema fields with no column (absent from every record): \
             estimate, due_date, remind_at, meta, extra_info"
        ]
    );
    Ok(())
}

#[test]
fn mid_2025_export_double_escaped_json_and_null_markers() -> TestResult {
    let app = schemas()?;
    let import = import("task_mid2025.csv", "Task", Some(entity(&app, "Task")?))?;
    assert_records(
        &import,
        json!([
            {
                "id": "6800aa000000000000000001",
                "created_date": "2025-06-10T12:00:00.000000",
                "updated_date": "2025-06-10T12:00:00.000000",
                "created_by_id": "null",
                "title": "Mid-year review",
                "tags": ["q2", "hr"],
                "meta": {"owner": "Ana", "score": 4}
            },
            {
                "id": "6800aa000000000000000002",
                "created_date": "2025-06-11T08:00:00.000000",
                "updated_date": "2025-06-11T08:00:00.000000",
                "created_by": "lee@example.com",
                "created_by_id": "6800aa0000000000000000ff",
                "is_sample": false,
                "title": "Plain [not json] text",
                "priority": 7,
                "done": true,
                "remind_at": "2025-06-12T09:30:00.000Z",
                "tags": ["a"],
                "meta": {},
                "extra_info": [1, "x"]
            },
            {
                "id": "6800aa000000000000000003",
                "created_date": "2025-06-12T00:00:00.000000",
                "updated_date": "2025-06-12T00:00:00.000000",
                "title": "",
                "tags": "[\"\"broken\"\"",
                "_offbase_flags": {"tags": "expected a JSON array, found text that is not JSON"}
            }
        ]),
    )?;
    assert_eq!(
        flags(&import),
        [(
            4,
            Some("6800aa000000000000000003"),
            "tags",
            "[\"\"broken\"\"",
            "expected a JSON array, found text that is not JSON"
        )]
    );
    assert_eq!(
        import.warnings,
        [
            "task_mid2025.csv:1: schema fields with no column (absent from every record): \
             status, estimate, due_date, notes"
        ]
    );
    Ok(())
}

#[test]
fn user_export_layout_typed_by_user_schema() -> TestResult {
    let app = schemas()?;
    let import = import("user.csv", "User", Some(entity(&app, "User")?))?;
    assert_records(
        &import,
        json!([
            {
                "id": "67a000000000000000000001",
                "created_date": "2026-02-01T10:00:00.000000",
                "updated_date": "2026-02-02T11:00:00.000000",
                "email": "ana@example.com",
                "full_name": "Ana Lima",
                "role": "manager",
                "disabled": false,
                "app_id": "6989205392f69694df37d200",
                "is_service": false,
                "force_password_reset": false,
                "collaborator_role": "editor",
                "_app_role": "admin",
                "department": "Sales"
            },
            {
                "id": "67a000000000000000000002",
                "created_date": "2026-02-03T10:00:00.000000",
                "updated_date": "2026-02-03T10:00:00.000000",
                "email": "bot@example.com",
                "disabled": true,
                "app_id": "6989205392f69694df37d200",
                "is_service": true,
                "disabled_reason": "spam",
                "force_password_reset": true,
                "department": ""
            }
        ]),
    )?;
    assert!(import.flags.is_empty(), "{:?}", import.flags);
    assert_eq!(
        import.warnings,
        ["user.csv:1: schema fields with no column (absent from every record): phone"]
    );
    Ok(())
}

#[test]
fn user_export_without_schema_keeps_platform_columns_out_of_the_inferred_schema() -> TestResult {
    let import = import("user.csv", "User", None)?;
    let inferred = import.inferred.as_ref().ok_or("no inferred schema")?;
    assert_eq!(kinds(inferred), [("department", "string".to_owned())]);
    assert_eq!(inferred.extra.get("x-offbase-inferred"), Some(&json!(true)));
    assert_eq!(inferred.source.path, "user.csv");
    assert_eq!(inferred.source.layout, SourceLayout::Direct);
    let second = serde_json::to_string(&import.records[1])?;
    assert_eq!(
        second,
        json!({
            "id": "67a000000000000000000002",
            "created_date": "2026-02-03T10:00:00.000000",
            "updated_date": "2026-02-03T10:00:00.000000",
            "email": "bot@example.com",
            "disabled": true,
            "app_id": "6989205392f69694df37d200",
            "is_service": true,
            "disabled_reason": "spam",
            "force_password_reset": true,
            "department": ""
        })
        .to_string()
    );
    Ok(())
}

#[test]
fn zero_byte_export() -> TestResult {
    let app = schemas()?;
    let with_schema = import("empty.csv", "Task", Some(entity(&app, "Task")?))?;
    assert_eq!(
        with_schema,
        CsvImport {
            entity: "Task".to_owned(),
            records: Vec::new(),
            flags: Vec::new(),
            inferred: None,
            warnings: Vec::new(),
        }
    );

    let without = import("empty.csv", "Comment", None)?;
    assert!(without.records.is_empty());
    let inferred = without.inferred.as_ref().ok_or("no inferred schema")?;
    assert_eq!(inferred.name, "Comment");
    assert!(inferred.fields.is_empty());
    assert_eq!(
        without.warnings,
        [
            "empty.csv: the file is empty (0 bytes): no records, and no columns to infer a \
             schema from: the inferred entity `Comment` has no fields"
        ]
    );
    Ok(())
}

#[test]
fn ragged_rows_and_missing_ids_are_kept_and_flagged() -> TestResult {
    let app = schemas()?;
    let import = import("task_ragged.csv", "Task", Some(entity(&app, "Task")?))?;
    assert_records(
        &import,
        json!([
            {
                "id": "70000000000000000000000a",
                "created_date": "2026-01-01T00:00:00.000000",
                "updated_date": "2026-01-01T00:00:00.000000",
                "title": "A",
                "priority": 1,
                "_extra_cell_6": "surplus",
                "_offbase_flags": {
                    "_extra_cell_6": "cell beyond the header: the row has 7 cells, the header 5"
                }
            },
            {
                "title": "B",
                "priority": 2,
                "_offbase_flags": {"id": "no id (the row ends before the id column)"}
            },
            {
                "id": "",
                "created_date": "2026-01-01T00:00:00.000000",
                "updated_date": "2026-01-01T00:00:00.000000",
                "title": "C",
                "priority": 3,
                "_offbase_flags": {"id": "no id"}
            }
        ]),
    )?;
    assert_eq!(
        flags(&import),
        [
            (
                2,
                Some("70000000000000000000000a"),
                "_extra_cell_6",
                "surplus",
                "cell beyond the header: the row has 7 cells, the header 5"
            ),
            (
                3,
                None,
                "id",
                "",
                "no id (the row ends before the id column)"
            ),
            (4, None, "id", "", "no id"),
        ]
    );
    assert_eq!(
        import.warnings,
        [
            "task_ragged.csv:1: schema fields with no column (absent from every record): \
             status, estimate, done, due_date, remind_at, tags, meta, notes, extra_info",
            "task_ragged.csv:2: the row has 7 cells, the header 5: the cells beyond it are kept \
             as _extra_cell_6 and flagged",
            "task_ragged.csv:3: the row has 2 cells, the header 5: the missing cells are absent",
        ]
    );
    Ok(())
}

#[test]
fn unbalanced_quote_names_the_file_and_line() {
    match import("task_malformed.csv", "Task", None) {
        Err(error @ CsvError::Malformed { .. }) => assert_eq!(
            error.to_string(),
            "task_malformed.csv:3: malformed CSV: a quoted cell that starts on this line is \
             never closed: add the closing quote (a quote inside a cell is written twice: \"\")"
        ),
        other => panic!("expected Malformed, got {other:?}"),
    }
    match parse_csv_export(b"a,b\n1,2\n\"x\"y,3\n", "t.csv", "T", None) {
        Err(CsvError::Malformed { path, line, .. }) => {
            assert_eq!((path.as_str(), line), ("t.csv", 3))
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    match parse_csv_export(b"title,id\n\"caf\xe9\",\"1\"", "t.csv", "T", None) {
        Err(error @ CsvError::InvalidUtf8 { .. }) => assert_eq!(
            error.to_string(),
            "t.csv:2: not UTF-8 text: save the file as UTF-8 (\"CSV UTF-8\" in a spreadsheet)"
        ),
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }
}

#[test]
fn io_error_names_the_file() {
    let path = fixture_path("no_such_export.csv");
    match read_csv_export(&path, None) {
        Err(error @ CsvError::Io { .. }) => {
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{}: cannot read: ", path.display())),
                "{error}"
            );
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn header_names_that_cannot_be_keys_are_renamed() -> TestResult {
    let import = parse_csv_export(
        b"title,title,,_offbase_flags,id\n\"a\",\"b\",\"c\",\"d\",\"x1\"",
        "t.csv",
        "T",
        None,
    )?;
    assert_records(
        &import,
        json!([{"id": "x1", "title": "a", "_column_2": "b", "_column_3": "c", "_column_4": "d"}]),
    )?;
    assert_eq!(
        import.warnings,
        [
            "t.csv:1: column 2 repeats the name `title` of an earlier column: its cells are kept \
             under `_column_2`",
            "t.csv:1: column 3 has no name: its cells are kept under `_column_3`",
            "t.csv:1: column 4 is named `_offbase_flags`, which offbase uses for flags: its cells \
             are kept under `_column_4`",
        ]
    );
    assert_eq!(FLAGS_KEY, "_offbase_flags");
    Ok(())
}

#[test]
fn file_without_id_column_flags_every_row() -> TestResult {
    let import = parse_csv_export(b"title\r\nx\r\n", "t.csv", "T", None)?;
    assert_records(
        &import,
        json!([{"title": "x", "_offbase_flags": {"id": "no id (the file has no id column)"}}]),
    )?;
    assert_eq!(
        import.warnings,
        ["t.csv:1: no `id` column: every record is kept without an id and flagged"]
    );
    Ok(())
}

#[test]
fn unions_free_json_and_closed_enums() -> TestResult {
    let schema = r#"{"name": "Mix", "properties": {
        "either": {"type": ["string", "number"]},
        "flagish": {"type": ["integer", "boolean"]},
        "free": {},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "open": {"type": "string", "enum": ["", "a"]}
    }}"#;
    let ParsedFile::Entity(mix, _) = parse_entity_file(schema, "Mix.json", SourceLayout::Direct)?
    else {
        return Err("not an entity".into());
    };
    let csv = "id,either,flagish,free,kind,open\n\
               m1,12,true,\"\"\"text\"\"\",,\n\
               m2,abc,x,text,z,\n";
    let import = parse_csv_export(csv.as_bytes(), "mix.csv", "Mix", Some(&mix))?;
    assert_records(
        &import,
        json!([
            {"id": "m1", "either": 12, "flagish": true, "free": "text", "open": ""},
            {
                "id": "m2", "either": "abc", "flagish": "x", "free": "text", "kind": "z", "open": "",
                "_offbase_flags": {
                    "flagish": "expected a value of type boolean or integer",
                    "free": "expected JSON, found text that is not JSON"
                }
            }
        ]),
    )?;
    Ok(())
}

#[test]
fn inference_types_every_column_and_round_trips_as_a_schema_file() -> TestResult {
    let import = import("inference.csv", "Gadget", None)?;
    let inferred = import.inferred.as_ref().ok_or("no inferred schema")?;
    assert_eq!(
        kinds(inferred),
        [
            ("flag", "boolean".to_owned()),
            ("count", "integer".to_owned()),
            ("ratio", "number".to_owned()),
            ("when", "string date-time".to_owned()),
            ("day", "string date".to_owned()),
            ("labels", "array of string".to_owned()),
            ("scores", "array of number".to_owned()),
            ("profile", "object".to_owned()),
            ("mixed", "string".to_owned()),
            ("blank", "string".to_owned()),
            ("code", "string".to_owned()),
        ]
    );
    assert_records(
        &import,
        json!([
            {
                "id": "i1",
                "created_date": "2026-01-01T10:00:00.000000",
                "updated_date": "2026-01-01T10:00:00.000000",
                "is_sample": false,
                "flag": true, "count": 1, "ratio": 1.5,
                "when": "2026-01-01T10:00:00Z", "day": "2026-01-01",
                "labels": ["a", "b"], "scores": [1, 2.5], "profile": {"k": 1},
                "mixed": "1", "blank": "", "code": "007"
            },
            {
                "id": "i2",
                "created_date": "2026-01-02T10:00:00.000000",
                "updated_date": "2026-01-02T10:00:00.000000",
                "is_sample": false,
                "flag": false, "count": -2, "ratio": 3,
                "when": "2026-01-02T10:00", "day": "2026-01-02",
                "labels": [], "scores": [3], "profile": {},
                "mixed": "x", "blank": "", "code": "12"
            },
            {
                "id": "i3",
                "created_date": "2026-01-03T10:00:00.000000",
                "updated_date": "2026-01-03T10:00:00.000000",
                "is_sample": false,
                "labels": ["c"], "mixed": "", "blank": "", "code": "A1"
            }
        ]),
    )?;
    assert!(import.flags.is_empty(), "{:?}", import.flags);

    let schema = entity_schema_json(inferred);
    assert_eq!(
        serde_json::to_string(&schema)?,
        json!({
            "name": "Gadget",
            "type": "object",
            "properties": {
                "flag": {"type": "boolean"},
                "count": {"type": "integer"},
                "ratio": {"type": "number"},
                "when": {"type": "string", "format": "date-time"},
                "day": {"type": "string", "format": "date"},
                "labels": {"type": "array", "items": {"type": "string"}},
                "scores": {"type": "array", "items": {"type": "number"}},
                "profile": {"type": "object"},
                "mixed": {"type": "string"},
                "blank": {"type": "string"},
                "code": {"type": "string"}
            },
            "x-offbase-inferred": true
        })
        .to_string()
    );
    let text = serde_json::to_string(&schema)?;
    let ParsedFile::Entity(read_back, warnings) =
        parse_entity_file(&text, "inference.csv", SourceLayout::Direct)?
    else {
        return Err("the written schema was skipped".into());
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(read_back.fields, inferred.fields);
    assert_eq!(&read_back, inferred);
    Ok(())
}

#[test]
fn a_rich_schema_round_trips_through_entity_schema_json() -> TestResult {
    let text = r#"{
      "name": "Order", "title": "Order", "description": "An order", "type": "object",
      "properties": {
        "number": {"type": "integer", "minimum": 1, "maximum": 99999, "title": "No."},
        "total": {"type": ["number", "null"], "minimum": 0.5},
        "state": {"type": "string", "enum": ["new", "paid"], "enumNames": ["New", "Paid"], "default": "new"},
        "code": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[A-Z]+$", "x-ui": "mono"},
        "either": {"type": ["string", "integer"]},
        "free": {"description": "anything"},
        "nothing": {"type": "null"},
        "weird": {"type": "decimal"},
        "bad_type": {"type": 5},
        "lines": {"type": "array", "items": {"type": "object",
                  "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}, "required": ["sku"]}},
        "address": {"type": "object", "properties": {"street": {"type": "string"}, "zip": {"type": "string"}},
                    "required": ["zip"]},
        "flagged": {"type": "boolean", "required": true},
        "secret": {"type": "string", "rls": {"read": {"created_by": "{{user.email}}"}}},
        "only_enum": {"enum": ["a", "b", null]}
      },
      "required": ["number", "state"],
      "rls": {"create": true, "read": {"created_by": "{{user.email}}"}, "x-note": "kept"},
      "icon": "cart"
    }"#;
    let ParsedFile::Entity(original, _) =
        parse_entity_file(text, "Order.json", SourceLayout::Direct)?
    else {
        return Err("not an entity".into());
    };
    let written = serde_json::to_string(&entity_schema_json(&original))?;
    let ParsedFile::Entity(read_back, _) =
        parse_entity_file(&written, "Order.json", SourceLayout::Direct)?
    else {
        return Err("the written schema was skipped".into());
    };
    assert_eq!(read_back.fields, original.fields);
    assert_eq!(read_back, original);
    assert!(
        original
            .fields
            .iter()
            .any(|field| field.kind == FieldKind::Unknown("decimal".to_owned()))
    );
    Ok(())
}

#[test]
fn folder_with_schemas() -> TestResult {
    let app = schemas()?;
    let folder = fixture_path("folder");
    let imports = read_csv_folder(&folder, Some(&app))?;
    let names: Vec<&str> = imports
        .iter()
        .map(|import| import.entity.as_str())
        .collect();
    assert_eq!(names, ["Comment", "Task"]);

    let shown = folder.display().to_string();
    let comment_file = folder.join("Comment_export.csv").display().to_string();
    let task_file = folder.join("Task_export.csv").display().to_string();
    let comment = &imports[0];
    assert!(comment.records.is_empty());
    assert!(comment.inferred.is_some());
    assert_eq!(
        comment.warnings,
        [
            format!(
                "{shown}: `notes.txt` is not a dashboard export (`<Entity>_export.csv`): skipped"
            ),
            format!(
                "{comment_file}: the app has no schema for entity `Comment`: column types \
                 inferred from the data"
            ),
            format!(
                "{comment_file}: the file is empty (0 bytes): no records, and no columns to \
                 infer a schema from: the inferred entity `Comment` has no fields"
            ),
        ]
    );
    let task = &imports[1];
    assert_eq!(task.inferred, None);
    assert_records(
        task,
        json!([{
            "id": "68f000000000000000000001",
            "created_date": "2026-04-01T00:00:00.000000",
            "updated_date": "2026-04-01T00:00:00.000000",
            "title": "Folder task",
            "priority": 4
        }]),
    )?;
    assert_eq!(
        task.warnings,
        [format!(
            "{task_file}:1: schema fields with no column (absent from every record): status, \
             estimate, done, due_date, remind_at, tags, meta, notes, extra_info"
        )]
    );
    Ok(())
}

#[test]
fn folder_without_schemas_infers_every_entity() -> TestResult {
    let imports = read_csv_folder(&fixture_path("folder"), None)?;
    let task = imports.get(1).ok_or("no Task import")?;
    let inferred = task.inferred.as_ref().ok_or("no inferred Task")?;
    assert_eq!(
        kinds(inferred),
        [
            ("title", "string".to_owned()),
            ("priority", "integer".to_owned())
        ]
    );
    let expected = Field::new("priority", FieldKind::Integer);
    assert_eq!(inferred.field("priority"), Some(&expected));
    Ok(())
}

#[test]
fn folder_errors() -> TestResult {
    let root = tempfile::tempdir()?;
    fs::write(root.path().join("a.txt"), "x")?;
    match read_csv_folder(root.path(), None) {
        Err(error @ CsvError::NotFound { .. }) => assert_eq!(
            error.to_string(),
            format!(
                "{}: no dashboard CSV export (`<Entity>_export.csv`) found (found only: a.txt): \
                 give the folder that holds the exported files",
                root.path().display()
            )
        ),
        other => panic!("expected NotFound, got {other:?}"),
    }

    fs::write(root.path().join("Task_export.csv"), "id\n1\n")?;
    fs::write(root.path().join("task_export.csv"), "id\n2\n")?;
    let app = schemas()?;
    match read_csv_folder(root.path(), Some(&app)) {
        Err(CsvError::DuplicateEntity { entity, .. }) => assert_eq!(entity, "Task"),
        other => panic!("expected DuplicateEntity, got {other:?}"),
    }
    // Without schemas the two names are two entities.
    assert_eq!(read_csv_folder(root.path(), None)?.len(), 2);
    Ok(())
}

#[test]
fn read_one_file_takes_the_entity_from_its_name() -> TestResult {
    let import = read_csv_export(&fixture_path("folder/Task_export.csv"), None)?;
    assert_eq!(import.entity, "Task");
    let app = schemas()?;
    let import = read_csv_export(&fixture_path("task_2025.csv"), Some(entity(&app, "Task")?))?;
    assert_eq!(import.entity, "Task");
    assert_eq!(import.records.len(), 2);
    let import = read_csv_export(&fixture_path("task_2025.csv"), None)?;
    assert_eq!(import.entity, "task_2025");
    assert!(
        import.warnings[0].ends_with(
            "task_2025.csv: the name does not follow `<Entity>_export.csv`: entity `task_2025` \
             taken from the file name; rename the file to choose another"
        ),
        "{:?}",
        import.warnings
    );
    Ok(())
}

#[test]
fn inference_keeps_codes_that_look_like_numbers_as_text() -> TestResult {
    let csv = "id,zip,phone,big,small,price\n\
               a,02134,+4915112345678,12345678901234567890,0,0.5\n\
               b,10001,+4930123456,98765432109876543210,-3,12\n";
    let import = parse_csv_export(csv.as_bytes(), "t.csv", "T", None)?;
    let inferred = import.inferred.as_ref().ok_or("no inferred schema")?;
    assert_eq!(
        kinds(inferred),
        [
            ("zip", "string".to_owned()),
            ("phone", "string".to_owned()),
            ("big", "string".to_owned()),
            ("small", "integer".to_owned()),
            ("price", "number".to_owned()),
        ]
    );
    assert_records(
        &import,
        json!([
            {"id": "a", "zip": "02134", "phone": "+4915112345678", "big": "12345678901234567890", "small": 0, "price": 0.5},
            {"id": "b", "zip": "10001", "phone": "+4930123456", "big": "98765432109876543210", "small": -3, "price": 12}
        ]),
    )?;
    Ok(())
}

/// Regression: one row that is not UTF-8 stopped the whole import, while the JSONL importer
/// rejects such a line with its reason. The row is kept now, as its bytes, flagged with the
/// file and line, and the other rows are read as before; a file that is mostly not UTF-8 (saved
/// in another encoding) still stops, at its first invalid byte.
#[test]
fn one_row_that_is_not_utf8_stopped_the_whole_import() -> TestResult {
    let bytes: &[u8] = b"\xEF\xBB\xBFid,title,count\n\
        a1,caf\xC3\xA9,1\n\
        a2,caf\xE9 au lait,2\n\
        a3,\"two\nlines \xFF\",3\n\
        a4,plain,4\n\
        a5,fine,5\n";
    let import = parse_csv_export(bytes, "t.csv", "T", None)?;
    assert_eq!(import.records.len(), 5);
    assert_eq!(import.records[0]["title"], json!("café"));
    assert_eq!(import.records[3]["count"], json!(4));
    // The inferred schema comes from the readable rows: `count` stays an integer.
    let inferred = import.inferred.as_ref().ok_or("no inferred schema")?;
    let count = inferred.field("count").ok_or("no count")?;
    assert_eq!(count.kind, FieldKind::Integer);

    let second = Value::Object(import.records[1].clone());
    let raw = b"a2,caf\xE9 au lait,2";
    assert_eq!(
        second,
        json!({
            "id": "a2",
            "_line": String::from_utf8_lossy(raw),
            "_line_base64": offbase_model::record::base64(raw),
            FLAGS_KEY: {"_line": "t.csv:3 is not valid UTF-8 (invalid utf-8 sequence of 1 bytes from index 6): its bytes are kept in _line_base64"},
        })
    );
    // A row over two lines: the line of the invalid byte, the bytes of the whole row.
    let third = &import.records[2];
    assert_eq!(third["id"], json!("a3"));
    let reason = third[FLAGS_KEY]["_line"].as_str().unwrap_or_default();
    assert!(reason.starts_with("t.csv:5 is not valid UTF-8"), "{reason}");
    assert_eq!(
        third["_line_base64"],
        json!(offbase_model::record::base64(b"a3,\"two\nlines \xFF\",3"))
    );
    let flagged: Vec<(u64, Option<&str>, &str)> = import
        .flags
        .iter()
        .map(|flag| (flag.line, flag.id.as_deref(), flag.field.as_str()))
        .collect();
    assert_eq!(
        flagged,
        [(3, Some("a2"), "_line"), (4, Some("a3"), "_line")]
    );
    assert!(
        import
            .warnings
            .iter()
            .any(|warning| warning.starts_with("t.csv: 2 of 5 rows are not UTF-8 text")),
        "{:?}",
        import.warnings
    );

    // Mostly not UTF-8 (three rows of five), or a header that is not: the clear stop.
    let latin1: &[u8] = b"id,title\na1,caf\xE9\na2,th\xE9\na3,ok\na4,cr\xE8me\na5,ok\n";
    let header: &[u8] = b"id,t\xEEtle\na1,ok\n";
    for (bytes, line) in [(latin1, 2), (header, 1)] {
        match parse_csv_export(bytes, "t.csv", "T", None) {
            Err(error @ CsvError::InvalidUtf8 { .. }) => assert_eq!(
                error.to_string(),
                format!(
                    "t.csv:{line}: not UTF-8 text: save the file as UTF-8 (\"CSV UTF-8\" in a spreadsheet)"
                )
            ),
            other => panic!("expected InvalidUtf8, got {other:?}"),
        }
    }
    Ok(())
}
