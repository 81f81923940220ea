//! CSV exports and seed files land in the workspace in the same form as an API pull: the same
//! records give the same bytes, whichever way they came.

use offbase_emulator::{EmulatorConfig, RateLimits};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::stage::import::{import_csv, import_seed};
use offbase_pipeline::stage::pull::{PullOptions, pull};
use offbase_pipeline::workspace::Workspace;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

const KEY: &str = "import-test-key-93c1d";

fn temporary() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"))
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
    }
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{error}"));
}

const SCHEMA: &str = r#"{"name": "Deal", "type": "object", "properties": {
    "title": {"type": "string"},
    "stage": {"type": "string", "enum": ["Lead", "Won"]},
    "amount": {"type": "number"},
    "seats": {"type": "integer"},
    "won": {"type": "boolean"},
    "close_date": {"type": "string", "format": "date"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "meta": {"type": "object"}
}}"#;

fn records() -> Vec<Value> {
    (0..40)
        .map(|index| {
            // Timestamps as stored records carry them: 6 fractional digits, no Z.
            let created = format!(
                "2026-02-{:02}T10:{:02}:00.{:06}",
                1 + index % 20,
                index % 3,
                index * 1000
            );
            json!({
                "id": format!("{:024x}", 0xabc000 + index * 7919),
                "created_date": created, "updated_date": created,
                "created_by": "owner@example.com", "created_by_id": "6989205392f69694df37d206",
                "is_sample": false,
                "title": format!("[URGENT] deal {index}, \"quoted\"\nsecond line — שלום 😀"),
                "stage": if index % 2 == 0 { "Lead" } else { "Negotiation" },
                "amount": index as f64 * 12.5, "seats": index * 3, "won": index % 3 == 0,
                "close_date": "2026-05-01", "tags": ["a", format!("t{index}")],
                "meta": {"source": "import", "n": index}
            })
        })
        .collect()
}

/// A dashboard export of `records`: every value quoted, JSON as text, booleans as words.
fn csv_export(records: &[Value]) -> String {
    let columns = [
        "title",
        "stage",
        "amount",
        "seats",
        "won",
        "close_date",
        "tags",
        "meta",
        "id",
        "created_date",
        "updated_date",
        "created_by_id",
        "created_by",
        "is_sample",
    ];
    let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let mut lines = vec![
        columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(","),
    ];
    for record in records {
        let cells: Vec<String> = columns
            .iter()
            .map(|column| match record.get(*column) {
                Some(Value::String(text)) => quote(text),
                Some(Value::Null) | None => quote(""),
                Some(other) => quote(&other.to_string()),
            })
            .collect();
        lines.push(cells.join(","));
    }
    lines.join("\n")
}

fn part(workspace: &Workspace) -> String {
    std::fs::read_to_string(workspace.part_path("Deal", 0)).unwrap_or_default()
}

#[tokio::test]
async fn csv_and_api_pulls_of_the_same_records_give_identical_workspace_records() {
    let app = temporary();
    write(&app.path().join("base44/entities/Deal.jsonc"), SCHEMA);
    let lines: Vec<String> = records().iter().map(Value::to_string).collect();
    write(&app.path().join("data/Deal.jsonl"), &lines.join("\n"));
    let exports = temporary();
    write(
        &exports.path().join("Deal_export.csv"),
        &csv_export(&records()),
    );
    let schemas = offbase_base44::schema::read_app(app.path())
        .unwrap_or_else(|error| panic!("{error}"))
        .app;

    let mut config = EmulatorConfig::new(app.path(), KEY);
    config.rate_limits = RateLimits::Off;
    let emulator = offbase_emulator::start(
        config,
        "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let client = offbase_base44::client::Client::new(offbase_base44::client::ClientConfig::new(
        emulator.api_url(),
        emulator.app_id(),
        offbase_base44::client::ApiKey::new(KEY),
    ))
    .unwrap_or_else(|error| panic!("{error}"));
    let api_folder = temporary();
    let api = Workspace::new(api_folder.path());
    pull(
        &client,
        &schemas,
        &api,
        &PullOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    emulator.shutdown().await;

    let csv_folder = temporary();
    let csv = Workspace::new(csv_folder.path());
    let summary = import_csv(exports.path(), Some(&schemas), &csv, 100_000, &NoProgress)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(summary.entities.len(), 1);
    assert_eq!(summary.entities[0].records, 40);
    assert_eq!(summary.entities[0].flagged_records, 0);
    assert!(!part(&api).is_empty());
    assert_eq!(part(&csv), part(&api));
}

#[test]
fn without_a_schema_the_csv_schema_is_inferred_saved_and_flagged_as_such() {
    let exports = temporary();
    write(
        &exports.path().join("Deal_export.csv"),
        &csv_export(&records()),
    );
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let summary = import_csv(exports.path(), None, &workspace, 100_000, &NoProgress)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(summary.entities[0].inferred_schema);
    assert!(
        summary
            .warnings
            .iter()
            .any(|warning| warning.contains("inferred"))
    );
    let schema =
        std::fs::read_to_string(workspace.schemas_dir().join("Deal.json")).unwrap_or_default();
    let schema: Value = serde_json::from_str(&schema).unwrap_or(Value::Null);
    assert_eq!(schema["x-offbase-inferred"], true);
    assert_eq!(schema["properties"]["seats"]["type"], "integer");
    assert_eq!(schema["properties"]["won"]["type"], "boolean");
    assert_eq!(schema["properties"]["tags"]["type"], "array");
    assert_eq!(schema["properties"]["meta"]["type"], "object");
    assert_eq!(schema["properties"]["title"]["type"], "string");
    // Enums are never guessed.
    assert!(schema["properties"]["stage"].get("enum").is_none());
    // The saved schema reads back as an ordinary schema file.
    let reread = offbase_base44::schema::read_app(&workspace.schemas_dir());
    assert!(reread.is_ok(), "{reread:?}");
}

#[test]
fn unconvertible_csv_cells_are_kept_raw_and_flagged() {
    let exports = temporary();
    let mut bad = records();
    bad[3]["seats"] = json!("about 50");
    bad[5]["won"] = json!("maybe");
    write(
        &exports.path().join("Deal_export.csv"),
        &csv_export(&bad[..8]),
    );
    let app = temporary();
    write(&app.path().join("base44/entities/Deal.jsonc"), SCHEMA);
    let schemas = offbase_base44::schema::read_app(app.path())
        .unwrap_or_else(|error| panic!("{error}"))
        .app;
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let summary = import_csv(
        exports.path(),
        Some(&schemas),
        &workspace,
        100_000,
        &NoProgress,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(summary.entities[0].records, 8);
    assert_eq!(summary.entities[0].flagged_records, 2);
    let text = part(&workspace);
    let flagged: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record.get("_offbase_flags").is_some())
        .collect();
    assert_eq!(flagged.len(), 2);
    let seats = flagged.iter().find(|record| record["seats"] == "about 50");
    assert!(
        seats.is_some_and(|record| record["_offbase_flags"].get("seats").is_some()),
        "{flagged:?}"
    );
}

#[test]
fn seed_records_without_ids_get_stable_ones() {
    let app = temporary();
    write(&app.path().join("base44/entities/Deal.jsonc"), SCHEMA);
    write(
        &app.path().join("base44/seed/Deal.jsonc"),
        "// seed\n[{\"title\": \"first\"}, {\"id\": \"seed-deal-x\", \"title\": \"second\"},]\n",
    );
    let schemas = offbase_base44::schema::read_app(app.path())
        .unwrap_or_else(|error| panic!("{error}"))
        .app;
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let summary = import_seed(
        &app.path().join("base44/seed"),
        Some(&schemas),
        &workspace,
        100_000,
        &NoProgress,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(summary.entities[0].records, 2);
    let text = part(&workspace);
    assert!(text.contains("\"seed-deal-1\""), "{text}");
    assert!(text.contains("\"seed-deal-x\""), "{text}");
}
