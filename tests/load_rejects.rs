//! Bad records through `migrate` and `load`: each kind of record that cannot be loaded is
//! rejected with its reason (and only it), the loaded rows hold exactly their values, a
//! duplicate id keeps its newest copy, `--relax` lets what it relaxes in and says so, and a
//! finished load is neither redone nor overwritten without `--replace`.

use offbase_pipeline::load::{Existing, LoadOptions, LoadStatus, Relax, load};
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::{NoProgress, Reporter};
use offbase_pipeline::workspace::Workspace;
use offbase_tests::{TestSchema, database_url};
use serde_json::{Map, Value, json};
use sqlx::Row;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

const SCHEMA: &str = r#"{"name": "Item", "type": "object", "properties": {
  "name": {"type": "string"},
  "kind": {"type": "string", "enum": ["a", "b"]},
  "count": {"type": "integer"},
  "amount": {"type": "number"},
  "tags": {"type": "array", "items": {"type": "string"}},
  "meta": {"type": "object"},
  "due": {"type": "string", "format": "date"},
  "at": {"type": "string", "format": "date-time"}
}, "required": ["name"]}"#;

fn record(index: u32, changes: Value) -> Value {
    let mut record = json!({
        "id": format!("id{index:02}"),
        "created_date": "2026-01-01T00:00:00.000000",
        "updated_date": "2026-01-02T00:00:00.000000",
        "created_by": "a@example.com",
        "name": format!("item {index}"),
        "kind": "a"
    });
    if let (Some(record), Value::Object(changes)) = (record.as_object_mut(), changes) {
        for (key, value) in changes {
            if value == json!("<remove>") {
                record.remove(&key);
            } else {
                record.insert(key, value);
            }
        }
    }
    record
}

/// An app folder with one entity and the bad records, one of each kind.
fn bad_app(folder: &Path) {
    let entities = folder.join("base44").join("entities");
    let data = folder.join("data");
    for dir in [&entities, &data] {
        std::fs::create_dir_all(dir).unwrap_or_else(|error| panic!("{error}"));
    }
    std::fs::write(entities.join("Item.jsonc"), SCHEMA).unwrap_or_else(|error| panic!("{error}"));
    let lines = [
        record(
            1,
            json!({"at": "2026-03-01T10:00:00.123Z", "due": "2026-03-02", "tags": ["x", "y"],
                   "meta": {"k": [1, {"z": null}]}, "amount": 1.5, "count": i64::MIN}),
        )
        .to_string(),
        record(
            2,
            json!({"at": "2026-03-01T10:00:00.123456", "count": i64::MAX, "name": "non-BMP 😀 𝄞"}),
        )
        .to_string(),
        record(3, json!({"count": 9_223_372_036_854_775_808u64})).to_string(),
        record(4, json!({"name": "nul\u{0}byte"})).to_string(),
        r#"{"id":"id05","name":"broken"#.to_owned(),
        record(6, json!({"kind": "c"})).to_string(),
        record(7, json!({"name": "<remove>"})).to_string(),
        record(
            8,
            json!({"updated_date": "2026-02-01T00:00:00.000000", "name": "newer copy"}),
        )
        .to_string(),
        record(9, json!({"legacy": {"old": true}, "extra_text": "kept"})).to_string(),
        record(10, json!({"tags": ["x", 5]})).to_string(),
        record(
            8,
            json!({"updated_date": "2026-01-05T00:00:00.000000", "name": "older copy"}),
        )
        .to_string(),
        record(11, json!({"count": 2.5})).to_string(),
        record(12, json!({"at": "not a time"})).to_string(),
    ];
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    bytes.extend_from_slice(
        b"{\"id\":\"id13\",\"created_date\":\"2026-01-01T00:00:00.000000\",\"updated_date\":\"2026-01-02T00:00:00.000000\",\"name\":\"bad \xff byte\",\"kind\":\"a\"}\n",
    );
    std::fs::write(data.join("Item.jsonl"), bytes).unwrap_or_else(|error| panic!("{error}"));
}

/// (id or "-", reason, field) of every reject line, sorted.
fn rejects(workspace: &Path) -> Vec<(String, String, String)> {
    let path = workspace.join("reports/rejects/Item.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut found: Vec<(String, String, String)> = text
        .lines()
        .map(|line| {
            let reject: Map<String, Value> =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("{line}: {error}"));
            assert!(
                reject.get("record").is_some_and(Value::is_object),
                "every reject carries the whole record: {line}"
            );
            let text = |key: &str| {
                reject
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_owned()
            };
            (text("id"), text("reason"), text("field"))
        })
        .collect();
    found.sort();
    found
}

fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = rows
        .iter()
        .map(|(id, reason, field)| ((*id).to_owned(), (*reason).to_owned(), (*field).to_owned()))
        .collect();
    rows.sort();
    rows
}

async fn rows(schema: &mut TestSchema) -> Vec<Value> {
    sqlx::raw_sql("SET TimeZone = 'UTC'")
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("SET TimeZone: {error}"));
    let sql = format!(
        "SELECT to_jsonb(t) - 'created_date' - 'updated_date' - 'created_by' - 'created_by_id' \
         - 'is_sample' AS row FROM \"{}\".item t ORDER BY id",
        schema.name
    );
    sqlx::query(&sql)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .map(|row| row.try_get::<Value, _>("row").unwrap_or(Value::Null))
        .collect()
}

fn reporter() -> Arc<dyn Reporter> {
    Arc::new(NoProgress)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_record_is_rejected_with_its_reason_and_the_rest_loads_exactly() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    bad_app(&app);
    let workspace = Workspace::new(folder.path().join("workspace"));
    let mut schema = TestSchema::new("rejects").await;
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: app.clone(),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
    };
    let summary = migrate(&options, reporter())
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    let loaded = summary.load.clone().unwrap_or_else(|| panic!("no load"));
    assert!(loaded.balanced(), "{loaded:?}");
    assert!(summary.clean(), "verification: {:?}", summary.verify);
    let item = loaded
        .entities
        .iter()
        .find(|entity| entity.entity == "Item")
        .unwrap_or_else(|| panic!("no Item"));
    assert_eq!(
        (item.read, item.loaded, item.rejected, item.duplicates),
        (14, 4, 10, 1)
    );

    assert_eq!(
        rejects(workspace.root()),
        owned(&[
            ("-", "flagged", "_line"),
            ("id13", "flagged", "_line"),
            ("id03", "out_of_range", "count"),
            ("id04", "nul_character", "name"),
            ("id06", "enum", "kind"),
            ("id07", "not_null", "name"),
            ("id08", "duplicate_id", "id"),
            ("id10", "wrong_type", "tags"),
            ("id11", "wrong_type", "count"),
            ("id12", "wrong_type", "at"),
        ]),
    );
    let reject_text = std::fs::read_to_string(workspace.root().join("reports/rejects/Item.jsonl"))
        .unwrap_or_default();
    assert!(reject_text.contains("is not valid UTF-8"), "{reject_text}");
    assert!(
        reject_text.contains("is not a JSON object"),
        "{reject_text}"
    );
    assert!(reject_text.contains("newest updated_date"), "{reject_text}");

    assert_eq!(
        rows(&mut schema).await,
        vec![
            json!({"id": "id01", "name": "item 1", "kind": "a", "count": i64::MIN, "amount": 1.5,
                   "tags": ["x", "y"], "meta": {"k": [1, {"z": null}]}, "due": "2026-03-02",
                   "at": "2026-03-01T10:00:00.123+00:00", "_extra": null}),
            json!({"id": "id02", "name": "non-BMP 😀 𝄞", "kind": "a", "count": i64::MAX,
                   "amount": null, "tags": null, "meta": null, "due": null,
                   "at": "2026-03-01T10:00:00.123456+00:00", "_extra": null}),
            json!({"id": "id08", "name": "newer copy", "kind": "a", "count": null, "amount": null,
                   "tags": null, "meta": null, "due": null, "at": null, "_extra": null}),
            json!({"id": "id09", "name": "item 9", "kind": "a", "count": null, "amount": null,
                   "tags": null, "meta": null, "due": null, "at": null,
                   "_extra": {"legacy": {"old": true}, "extra_text": "kept"}}),
        ]
    );

    // A second load does nothing; other options on the same schema are refused without
    // --replace; --replace loads again, the same rows.
    let again = load(
        &workspace,
        &LoadOptions::new(database_url(), &schema.name),
        &NoProgress,
    )
    .await
    .unwrap_or_else(|error| panic!("second load: {error}"));
    assert_eq!(again.status, LoadStatus::AlreadyLoaded);
    let mut relaxed = LoadOptions::new(database_url(), &schema.name);
    relaxed.target.relax = Relax {
        required: true,
        enums: true,
    };
    let refused = load(&workspace, &relaxed, &NoProgress).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|error| error.to_string().contains("--replace")),
        "{refused:?}"
    );
    relaxed.existing = Existing::Replace;
    let replaced = load(&workspace, &relaxed, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("--replace: {error}"));
    assert_eq!(replaced.status, LoadStatus::Loaded);

    // Relaxed: the enum outsider and the missing name load, and both constraints stay off
    // because rows break them; everything else is rejected as before.
    assert_eq!(
        rejects(workspace.root()),
        owned(&[
            ("-", "flagged", "_line"),
            ("id13", "flagged", "_line"),
            ("id03", "out_of_range", "count"),
            ("id04", "nul_character", "name"),
            ("id08", "duplicate_id", "id"),
            ("id10", "wrong_type", "tags"),
            ("id11", "wrong_type", "count"),
            ("id12", "wrong_type", "at"),
        ])
    );
    let ids: Vec<Value> = rows(&mut schema)
        .await
        .into_iter()
        .map(|row| row["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![
            json!("id01"),
            json!("id02"),
            json!("id06"),
            json!("id07"),
            json!("id08"),
            json!("id09")
        ]
    );
    let kinds: BTreeSet<(String, String, u64, bool)> = replaced
        .relaxed
        .iter()
        .map(|relaxed| {
            (
                relaxed.column.clone(),
                format!("{:?}", relaxed.kind),
                relaxed.rows,
                relaxed.restored,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("kind".to_owned(), "Check".to_owned(), 1, false),
            ("name".to_owned(), "NotNull".to_owned(), 1, false),
        ])
    );
    let sql = format!(
        "SELECT (SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
           JOIN pg_namespace n ON n.oid = t.relnamespace \
           WHERE n.nspname = '{name}' AND t.relname = 'item' AND c.contype = 'c') AS checks, \
         (SELECT attnotnull FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = t.relnamespace \
           WHERE n.nspname = '{name}' AND t.relname = 'item' AND a.attname = 'name') AS name_not_null",
        name = schema.name
    );
    let row = sqlx::query(&sql)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    assert_eq!(row.try_get::<i64, _>("checks").ok(), Some(0));
    assert_eq!(row.try_get::<bool, _>("name_not_null").ok(), Some(false));
    schema.drop().await;
}

/// Regression: a data file with a line that is not UTF-8 made the whole import fail
/// ("stream did not contain valid UTF-8") instead of rejecting that one line.
#[tokio::test]
async fn a_line_that_is_not_utf8_is_rejected_not_a_failed_import() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    bad_app(&app);
    let workspace = Workspace::new(folder.path().join("workspace"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: app,
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.path().join("bundle.sql"),
            options: offbase_pipeline::load::bundle::BundleOptions {
                pg_schema: "public".into(),
                mappings: None,
                relax: Relax::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
    };
    if let Err(error) = migrate(&options, reporter()).await {
        panic!("migrate: {error}");
    }
    let text = std::fs::read_to_string(workspace.root().join("reports/rejects/Item.jsonl"))
        .unwrap_or_default();
    let line = text
        .lines()
        .find(|line| line.contains("is not valid UTF-8"))
        .unwrap_or_else(|| panic!("no reject for the line that is not UTF-8: {text}"));
    assert!(line.contains("\"reason\":\"flagged\""), "{line}");
    assert!(line.contains("bad \u{FFFD} byte"), "{line}");
}

/// Regression: one row of a dashboard CSV export that was not UTF-8 stopped the whole import
/// (`not UTF-8 text: save the file as UTF-8`), while a JSONL line like it is rejected with its
/// reason. The row is rejected now, naming its file and line, and the other rows load.
#[tokio::test]
async fn a_csv_row_that_is_not_utf8_stopped_the_whole_import() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let exports = folder.path().join("exports");
    std::fs::create_dir_all(&exports).unwrap_or_else(|error| panic!("{error}"));
    let csv: &[u8] = b"id,created_date,updated_date,name,kind\n\
        id01,2026-01-01T00:00:00.000000,2026-01-02T00:00:00.000000,first,a\n\
        id02,2026-01-01T00:00:00.000000,2026-01-02T00:00:00.000000,caf\xE9,b\n\
        id03,2026-01-01T00:00:00.000000,2026-01-02T00:00:00.000000,third,a\n";
    std::fs::write(exports.join("Item_export.csv"), csv).unwrap_or_else(|error| panic!("{error}"));
    let schemas = folder.path().join("app");
    bad_app(&schemas);
    let workspace = Workspace::new(folder.path().join("workspace"));
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: exports.clone(),
            schema_from: Some(schemas),
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Bundle {
            path: folder.path().join("bundle.sql"),
            options: offbase_pipeline::load::bundle::BundleOptions {
                pg_schema: "public".into(),
                mappings: None,
                relax: Relax::default(),
                rewrite_urls: false,
                rls: Default::default(),
            },
        },
    };
    let summary = migrate(&options, reporter())
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    let bundle = summary.bundle.unwrap_or_else(|| panic!("no bundle"));
    let item = bundle
        .entities
        .iter()
        .find(|entity| entity.entity == "Item")
        .unwrap_or_else(|| panic!("no Item: {bundle:?}"));
    assert_eq!((item.loaded, item.rejected), (2, 1), "{bundle:?}");
    assert_eq!(
        rejects(workspace.root()),
        owned(&[("id02", "flagged", "_line")])
    );
    let text = std::fs::read_to_string(workspace.root().join("reports/rejects/Item.jsonl"))
        .unwrap_or_default();
    assert!(
        text.contains("Item_export.csv:3 is not valid UTF-8"),
        "{text}"
    );
}

/// A schema with a field named like the importer's flags, and `xmin` (a system column, so
/// renamed) beside `xmin_2` (spelled as its column, so kept).
const FLAGS_SCHEMA: &str = r#"{"name": "Marked", "type": "object", "properties": {
  "_offbase_flags": {"type": "object"},
  "xmin": {"type": "string"},
  "xmin_2": {"type": "string"}
}}"#;

/// Regression (hostile input): a BOM lost the first record; timestamps outside PostgreSQL's
/// grammar loaded (`+99:00`, one-digit months) and 7-digit fractions were cut, not rounded; a
/// repeated key kept its last value silently; a line that is not UTF-8 lost its bytes and its
/// id; a source field named `_offbase_flags` passed for the importer's flags; `xmin_2` became
/// `xmin_2_2`. Each now loads or is rejected exactly, with its reason, field and value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_loaded_or_rejected_exactly() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    let entities = app.join("base44").join("entities");
    let data = app.join("data");
    for dir in [&entities, &data] {
        std::fs::create_dir_all(dir).unwrap_or_else(|error| panic!("{error}"));
    }
    std::fs::write(entities.join("Item.jsonc"), SCHEMA).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(entities.join("Marked.jsonc"), FLAGS_SCHEMA)
        .unwrap_or_else(|error| panic!("{error}"));
    let head = r#""created_date":"2026-01-01T00:00:00.000000","updated_date":"2026-01-02T00:00:00.000000","kind":"a""#;
    let not_utf8: Vec<u8> = [
        format!(r#"{{"id":"id11",{head},"name":"bad "#).as_bytes(),
        b"\xff\xfe",
        b" bytes\"}",
    ]
    .concat();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    for line in [
        record(1, json!({"name": "after the BOM"})).to_string(),
        record(2, json!({"at": "2024-01-01T00:00:00+99:00"})).to_string(),
        record(3, json!({"due": "2024-1-1"})).to_string(),
        record(4, json!({"at": "2024-1-1T00:00:00Z"})).to_string(),
        record(5, json!({"at": "2024-01-01T00:00:00.1234565Z"})).to_string(),
        record(6, json!({"at": "2024-01-01T23:59:59.9999995+15:59"})).to_string(),
        format!(r#"{{"id":"id07",{head},"name":"first","name":"second"}}"#),
        format!(r#"{{"id":"id08",{head},"name":"two ids","id":"id09"}}"#),
        record(10, json!({"_offbase_flags": {"name": "forged"}})).to_string(),
        format!(r#"{{"id":"id12",{head},"name":"x","meta":{{"k":1,"k":2}}}}"#),
    ] {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(&not_utf8);
    bytes.push(b'\n');
    std::fs::write(data.join("Item.jsonl"), bytes).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        data.join("Marked.jsonl"),
        format!(
            "\u{feff}{}\n",
            json!({"id": "m1", "created_date": "2026-01-01T00:00:00.000000",
                   "_offbase_flags": {"xmin": "forged"}, "xmin": "a", "xmin_2": "b"})
        ),
    )
    .unwrap_or_else(|error| panic!("{error}"));

    let workspace = Workspace::new(folder.path().join("workspace"));
    let mut schema = TestSchema::new("hostile").await;
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: app.clone(),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
    };
    let summary = migrate(&options, reporter())
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    let loaded = summary.load.clone().unwrap_or_else(|| panic!("no load"));
    assert!(loaded.balanced(), "{loaded:?}");
    assert!(summary.clean(), "verification: {:?}", summary.verify);
    let counts: Vec<(String, u64, u64, u64)> = loaded
        .entities
        .iter()
        .filter(|entity| entity.read > 0)
        .map(|entity| {
            (
                entity.entity.clone(),
                entity.read,
                entity.loaded,
                entity.rejected,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![("Item".into(), 11, 4, 7), ("Marked".into(), 1, 1, 0)]
    );

    // Every reject: (id, reason, field, value).
    let text = std::fs::read_to_string(workspace.root().join("reports/rejects/Item.jsonl"))
        .unwrap_or_default();
    let mut found: Vec<(Value, String, String, Value)> = Vec::new();
    let mut bytes_kept = None;
    for line in text.lines() {
        let reject: Map<String, Value> =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{line}: {error}"));
        let text = |key: &str| {
            reject
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned()
        };
        if let Some(kept) = reject["record"].get("_line_base64") {
            bytes_kept = Some(kept.clone());
        }
        found.push((
            reject["id"].clone(),
            text("reason"),
            text("field"),
            reject["value"].clone(),
        ));
    }
    found.sort_by_key(|reject| format!("{reject:?}"));
    let mut expected = vec![
        (
            json!("id02"),
            "wrong_type".into(),
            "at".into(),
            json!("2024-01-01T00:00:00+99:00"),
        ),
        (
            json!("id03"),
            "wrong_type".into(),
            "due".into(),
            json!("2024-1-1"),
        ),
        (
            json!("id04"),
            "wrong_type".into(),
            "at".into(),
            json!("2024-1-1T00:00:00Z"),
        ),
        (
            json!("id07"),
            "duplicate_key".into(),
            "name".into(),
            json!(["first", "second"]),
        ),
        (
            Value::Null,
            "duplicate_key".into(),
            "id".into(),
            json!(["id08", "id09"]),
        ),
        (
            json!("id11"),
            "flagged".into(),
            "_line".into(),
            json!("bad \u{FFFD}\u{FFFD} bytes\"}"),
        ),
        (
            json!("id12"),
            "duplicate_key".into(),
            "meta".into(),
            json!([1, 2]),
        ),
    ];
    expected.sort_by_key(|reject| format!("{reject:?}"));
    // The line that is not UTF-8: rejected with its id, and its bytes kept exactly.
    if let Some((_, _, _, value)) = expected.iter_mut().find(|reject| reject.2 == "_line") {
        *value = json!(String::from_utf8_lossy(&not_utf8));
    }
    assert_eq!(found, expected, "{text}");
    assert_eq!(
        bytes_kept,
        Some(json!(offbase_model::record::base64(&not_utf8)))
    );

    assert_eq!(
        rows(&mut schema).await,
        vec![
            json!({"id": "id01", "name": "after the BOM", "kind": "a", "count": null,
                   "amount": null, "tags": null, "meta": null, "due": null, "at": null,
                   "_extra": null}),
            json!({"id": "id05", "name": "item 5", "kind": "a", "count": null, "amount": null,
                   "tags": null, "meta": null, "due": null,
                   "at": "2024-01-01T00:00:00.123456+00:00", "_extra": null}),
            json!({"id": "id06", "name": "item 6", "kind": "a", "count": null, "amount": null,
                   "tags": null, "meta": null, "due": null,
                   "at": "2024-01-01T08:01:00+00:00", "_extra": null}),
            json!({"id": "id10", "name": "item 10", "kind": "a", "count": null, "amount": null,
                   "tags": null, "meta": null, "due": null, "at": null,
                   "_extra": {"_offbase_flags": {"name": "forged"}}}),
        ]
    );
    // The rounding is PostgreSQL's own: the loaded instants equal its casts of the texts.
    let sql = format!(
        "SELECT bool_and(CASE id \
           WHEN 'id05' THEN at = '2024-01-01T00:00:00.1234565Z'::timestamptz \
           WHEN 'id06' THEN at = '2024-01-01T23:59:59.9999995+15:59'::timestamptz END) AS same \
         FROM \"{}\".item WHERE id IN ('id05', 'id06')",
        schema.name
    );
    let same = sqlx::query(&sql)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    assert_eq!(same.try_get::<bool, _>("same").ok(), Some(true));

    let sql = format!(
        "SELECT to_jsonb(t) - 'created_date' - 'updated_date' - 'created_by' - 'created_by_id' \
         - 'is_sample' AS row FROM \"{}\".marked t",
        schema.name
    );
    let marked: Vec<Value> = sqlx::query(&sql)
        .fetch_all(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .map(|row| row.try_get::<Value, _>("row").unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        marked,
        vec![
            json!({"id": "m1", "_offbase_flags": {"xmin": "forged"}, "xmin_3": "a",
                    "xmin_2": "b", "_extra": null})
        ]
    );
    schema.drop().await;
}

/// A reporter that keeps the messages, to check what a stage said.
#[derive(Debug, Default)]
struct Messages(std::sync::Mutex<Vec<String>>);

impl Reporter for Messages {
    fn started(&self, _task: &str, _total: Option<u64>) {}
    fn advanced(&self, _task: &str, _amount: u64) {}
    fn finished(&self, _task: &str) {}
    fn message(&self, text: &str) {
        if let Ok(mut messages) = self.0.lock() {
            messages.push(text.to_owned());
        }
    }
}

impl Messages {
    fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut messages| std::mem::take(&mut *messages))
            .unwrap_or_default()
    }
}

/// Regression: with the target schema dropped by hand, the next load was refused ("holds a
/// load of other staged data ...") or, with the same options, answered "already loaded" over
/// no table at all: the state in schema `offbase` outlived the tables it described. Such state
/// is stale now: the load says so in one line and starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_state_outliving_its_dropped_schema_blocked_the_next_load() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    bad_app(&app);
    let workspace = Workspace::new(folder.path().join("workspace"));
    let mut schema = TestSchema::new("stale_state").await;
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: app.clone(),
            schema_from: None,
        },
        workspace: workspace.clone(),
        mappings: None,
        destination: Destination::Database(LoadOptions::new(database_url(), &schema.name)),
    };
    migrate(&options, reporter())
        .await
        .unwrap_or_else(|error| panic!("migrate: {error}"));
    let drop_schema = |recreate: bool| {
        let mut sql = format!("DROP SCHEMA \"{}\" CASCADE", schema.name);
        if recreate {
            sql.push_str(&format!("; CREATE SCHEMA \"{}\"", schema.name));
        }
        sql
    };
    let item_rows = format!("SELECT count(*) AS rows FROM \"{}\".item", schema.name);

    // The schema dropped, then a load with other options (another digest): loaded afresh.
    sqlx::raw_sql(&drop_schema(false))
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("drop: {error}"));
    let mut relaxed = LoadOptions::new(database_url(), &schema.name);
    relaxed.target.relax = Relax {
        required: true,
        enums: true,
    };
    let messages = Messages::default();
    let summary = load(&workspace, &relaxed, &messages)
        .await
        .unwrap_or_else(|error| panic!("load after the schema was dropped: {error}"));
    assert_eq!(summary.status, LoadStatus::Loaded);
    let said = messages.take();
    let stale: Vec<&String> = said
        .iter()
        .filter(|message| message.contains("stale"))
        .collect();
    assert_eq!(stale.len(), 1, "{said:?}");
    assert!(stale[0].contains("no longer exists"), "{said:?}");
    assert!(stale[0].contains(&schema.name), "{said:?}");
    let rows = sqlx::query(&item_rows)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{item_rows}: {error}"));
    assert_eq!(rows.try_get::<i64, _>("rows").ok(), Some(6));

    // The tables dropped, the schema kept, then the same load again: loaded afresh, not
    // "already loaded".
    sqlx::raw_sql(&drop_schema(true))
        .execute(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("drop: {error}"));
    let summary = load(&workspace, &relaxed, &messages)
        .await
        .unwrap_or_else(|error| panic!("load after the tables were dropped: {error}"));
    assert_eq!(summary.status, LoadStatus::Loaded);
    let said = messages.take();
    assert!(
        said.iter()
            .any(|message| message.contains("stale") && message.contains("no longer holds")),
        "{said:?}"
    );
    let rows = sqlx::query(&item_rows)
        .fetch_one(&mut schema.connection)
        .await
        .unwrap_or_else(|error| panic!("{item_rows}: {error}"));
    assert_eq!(rows.try_get::<i64, _>("rows").ok(), Some(6));

    // State that still describes its tables is kept: the same load does nothing, another
    // is refused as before.
    let again = load(&workspace, &relaxed, &messages)
        .await
        .unwrap_or_else(|error| panic!("third load: {error}"));
    assert_eq!(again.status, LoadStatus::AlreadyLoaded);
    let refused = load(
        &workspace,
        &LoadOptions::new(database_url(), &schema.name),
        &messages,
    )
    .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|error| error.to_string().contains("holds a load of other")),
        "{refused:?}"
    );
    assert!(
        !messages
            .take()
            .iter()
            .any(|message| message.contains("stale")),
        "live state was called stale"
    );
    schema.drop().await;
}
