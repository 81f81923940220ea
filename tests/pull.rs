//! `pull` over real HTTP against the emulator on an ephemeral port: complete, exact, resumable
//! and quiet about the key, whatever the API does.

use offbase_base44::client::{ApiKey, Client, ClientConfig, ClientError};
use offbase_emulator::{EmulatorConfig, Faults, RateLimits, RunningEmulator, WriterConfig};
use offbase_model::App;
use offbase_pipeline::PipelineError;
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::stage::pull::{PullOptions, PullSummary, pull};
use offbase_pipeline::workspace::{Manifest, Workspace};
use offbase_tests::{SAMPLES, sample};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "test-key-0123456789abcdef-secret";

fn config(app_dir: &Path) -> EmulatorConfig {
    EmulatorConfig {
        app_dir: app_dir.to_path_buf(),
        app_id: None,
        api_key: KEY.to_owned(),
        rate_limits: RateLimits::Off,
        faults: Faults::default(),
        writer: None,
        created_by: "emulator@example.com".to_owned(),
        deleted_files: Default::default(),
        file_size: None,
        max_upload_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_BYTES,
        max_upload_total_bytes: offbase_emulator::DEFAULT_MAX_UPLOAD_TOTAL_BYTES,
    }
}

async fn start(config: EmulatorConfig) -> RunningEmulator {
    match offbase_emulator::start(
        config,
        "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
    )
    .await
    {
        Ok(running) => running,
        Err(error) => panic!("the emulator did not start: {error}"),
    }
}

fn client(emulator: &RunningEmulator, key: &str) -> Client {
    let mut config = ClientConfig::new(emulator.api_url(), emulator.app_id(), ApiKey::new(key));
    config.base_backoff = Duration::from_millis(5);
    config.max_backoff = Duration::from_millis(50);
    match Client::new(config) {
        Ok(client) => client,
        Err(error) => panic!("{error}"),
    }
}

fn schemas(app_dir: &Path) -> App {
    match offbase_base44::schema::read_app(app_dir) {
        Ok(outcome) => outcome.app,
        Err(error) => panic!("{error}"),
    }
}

async fn run_pull(
    emulator: &RunningEmulator,
    app: &App,
    workspace: &Workspace,
    options: &PullOptions,
) -> Result<PullSummary, PipelineError> {
    pull(
        &client(emulator, KEY),
        app,
        workspace,
        options,
        Arc::new(NoProgress),
    )
    .await
}

fn temporary() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(folder) => folder,
        Err(error) => panic!("{error}"),
    }
}

/// Every record of an entity in the workspace, in file order.
fn workspace_records(workspace: &Workspace, entity: &str) -> Vec<Map<String, Value>> {
    let manifest: Option<Manifest> = workspace
        .read_json(&workspace.manifest_path())
        .unwrap_or_else(|error| panic!("{error}"));
    let Some(manifest) = manifest else {
        panic!("no manifest in {}", workspace.root().display());
    };
    let Some(entry) = manifest.entities.get(entity) else {
        panic!("{entity} is not in the manifest");
    };
    let mut records = Vec::new();
    for part in &entry.parts {
        let text = std::fs::read_to_string(workspace.root().join(&part.file))
            .unwrap_or_else(|error| panic!("{}: {error}", part.file));
        for line in text.lines() {
            match serde_json::from_str(line) {
                Ok(Value::Object(record)) => records.push(record),
                other => panic!("{}: not a record: {other:?}", part.file),
            }
        }
    }
    assert_eq!(
        records.len() as u64,
        entry.records,
        "{entity}: manifest count"
    );
    records
}

fn sample_records(app_dir: &Path, entity: &str) -> Vec<Map<String, Value>> {
    let path = app_dir.join("data").join(format!("{entity}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter_map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(record)) => Some(record),
            _ => None,
        })
        .collect()
}

fn by_id(records: Vec<Map<String, Value>>) -> BTreeMap<String, Map<String, Value>> {
    records
        .into_iter()
        .map(|record| {
            let id = record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (id, record)
        })
        .collect()
}

fn ids(records: &[Map<String, Value>]) -> Vec<String> {
    records
        .iter()
        .map(|record| {
            record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn assert_no_duplicates(entity: &str, records: &[Map<String, Value>]) {
    let all = ids(records);
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(
        all.len(),
        unique.len(),
        "{entity}: duplicated ids in the workspace"
    );
}

/// Writes an app with one entity of `count` generated records (several sharing timestamps).
fn big_app(folder: &Path, count: usize) {
    let entities = folder.join("base44/entities");
    std::fs::create_dir_all(&entities).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        entities.join("Event.jsonc"),
        r#"{"name": "Event", "type": "object", "properties": {
            "title": {"type": "string"}, "seq": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}"#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let data = folder.join("data");
    std::fs::create_dir_all(&data).unwrap_or_else(|error| panic!("{error}"));
    let mut lines = String::new();
    for index in 0..count {
        // Bursts of 7 records share one timestamp, as bulk creates do.
        let second = index / 7;
        let created = format!(
            "2026-0{}-{:02}T{:02}:{:02}:{:02}.{:06}",
            1 + second / 400_000,
            1 + (second / 86_400) % 28,
            (second / 3600) % 24,
            (second / 60) % 60,
            second % 60,
            (second * 37) % 1_000_000
        );
        let id = format!(
            "{:024x}",
            (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8
        );
        let record = json!({
            "id": id, "created_date": created, "updated_date": created,
            "created_by": "a@example.com", "is_sample": false,
            "title": format!("event {index}"), "seq": index, "tags": ["x"]
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(data.join("Event.jsonl"), lines).unwrap_or_else(|error| panic!("{error}"));
}

#[tokio::test]
async fn a_full_pull_of_each_sample_equals_the_sample_record_for_record() {
    for name in SAMPLES {
        let app_dir = sample(name);
        let emulator = start(config(&app_dir)).await;
        let app = schemas(&app_dir);
        let folder = temporary();
        let workspace = Workspace::new(folder.path());
        let summary = match run_pull(&emulator, &app, &workspace, &PullOptions::default()).await {
            Ok(summary) => summary,
            Err(error) => panic!("{name}: {error}"),
        };
        for entity in &app.entities {
            if entity.source.layout == offbase_model::SourceLayout::Platform {
                continue;
            }
            let pulled = workspace_records(&workspace, &entity.name);
            assert_no_duplicates(&entity.name, &pulled);
            let expected = by_id(sample_records(&app_dir, &entity.name));
            let pulled = by_id(pulled);
            assert_eq!(
                pulled.len(),
                expected.len(),
                "{name}/{}: record count",
                entity.name
            );
            for (id, record) in &expected {
                assert_eq!(
                    pulled.get(id),
                    Some(record),
                    "{name}/{}: record {id}",
                    entity.name
                );
            }
        }
        assert!(
            summary.entities.iter().all(|entity| entity.matches_source),
            "{summary:?}"
        );
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn an_entity_of_12345_records_pulls_completely_despite_the_5000_cap() {
    let app_folder = temporary();
    big_app(app_folder.path(), 12_345);
    let emulator = start(config(app_folder.path())).await;
    let app = schemas(app_folder.path());
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let options = PullOptions {
        part_records: 5_000,
        ..PullOptions::default()
    };
    if let Err(error) = run_pull(&emulator, &app, &workspace, &options).await {
        panic!("{error}");
    }
    let records = workspace_records(&workspace, "Event");
    assert_eq!(records.len(), 12_345);
    assert_no_duplicates("Event", &records);
    let sequence: BTreeSet<i64> = records
        .iter()
        .filter_map(|record| record.get("seq").and_then(Value::as_i64))
        .collect();
    assert_eq!(sequence.len(), 12_345);
    let manifest: Option<Manifest> = workspace
        .read_json(&workspace.manifest_path())
        .unwrap_or(None);
    let parts = manifest.and_then(|m| m.entities.get("Event").map(|e| e.parts.len()));
    assert_eq!(parts, Some(3), "5000-record parts");
    emulator.shutdown().await;
}

#[tokio::test]
async fn with_the_background_writer_every_lasting_record_is_pulled_exactly_once() {
    let app_folder = temporary();
    big_app(app_folder.path(), 9_000);
    let mut settings = config(app_folder.path());
    settings.writer = Some(WriterConfig {
        rate_per_second: 400,
        duration: Duration::from_secs(4),
        seed: 7,
    });
    // Slow answers keep the pull running while the writer works.
    settings.faults.latency = Duration::from_millis(150);
    let emulator = start(settings).await;
    let before = emulator.store().live_ids("Event");
    let app = schemas(app_folder.path());
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let options = PullOptions {
        page_size: 500,
        ..PullOptions::default()
    };
    if let Err(error) = run_pull(&emulator, &app, &workspace, &options).await {
        panic!("{error}");
    }
    emulator.writer_done().await;
    let after = emulator.store().live_ids("Event");
    let records = workspace_records(&workspace, "Event");
    assert_no_duplicates("Event", &records);
    let pulled: BTreeSet<String> = ids(&records).into_iter().collect();
    let lasting: BTreeSet<&String> = before.intersection(&after).collect();
    let missing: Vec<&&String> = lasting.iter().filter(|id| !pulled.contains(**id)).collect();
    assert!(
        missing.is_empty(),
        "{} lasting records missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let stats = emulator.stats();
    assert!(
        stats.writer_creates > 0 && stats.writer_updates > 0 && stats.writer_deletes > 0,
        "{stats:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn faults_5xx_429_and_truncated_bodies_do_not_change_the_result() {
    let app_dir = sample("crm");
    let clean = start(config(&app_dir)).await;
    let app = schemas(&app_dir);
    let clean_folder = temporary();
    let clean_workspace = Workspace::new(clean_folder.path());
    let options = PullOptions {
        page_size: 250,
        ..PullOptions::default()
    };
    if let Err(error) = run_pull(&clean, &app, &clean_workspace, &options).await {
        panic!("{error}");
    }
    clean.shutdown().await;

    let mut settings = config(&app_dir);
    settings.faults = Faults {
        fail_rate: 0.10,
        throttle_rate: 0.05,
        truncate_rate: 0.05,
        reset_rate: 0.05,
        latency: Duration::ZERO,
        seed: 11,
        files: false,
    };
    let faulty = start(settings).await;
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let summary = match run_pull(&faulty, &app, &workspace, &options).await {
        Ok(summary) => summary,
        Err(error) => panic!("{error}"),
    };
    assert!(summary.retries > 0, "no fault was met: {summary:?}");
    let clean_manifest: Option<Manifest> = clean_workspace
        .read_json(&clean_workspace.manifest_path())
        .unwrap_or(None);
    let manifest: Option<Manifest> = workspace
        .read_json(&workspace.manifest_path())
        .unwrap_or(None);
    let hashes = |manifest: Option<Manifest>| {
        manifest.map(|manifest| {
            manifest
                .entities
                .into_iter()
                .map(|(entity, entry)| {
                    (
                        entity,
                        entry
                            .parts
                            .into_iter()
                            .map(|part| part.sha256)
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<BTreeMap<_, _>>()
        })
    };
    assert_eq!(hashes(manifest), hashes(clean_manifest));
    faulty.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_a_message_that_does_not_show_it() {
    let app_dir = sample("tasks");
    let emulator = start(config(&app_dir)).await;
    let app = schemas(&app_dir);
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let wrong = "wrong-key-zyxwvutsrqponm";
    let error = pull(
        &client(&emulator, wrong),
        &app,
        &workspace,
        &PullOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .err();
    let message = error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        matches!(
            error,
            Some(PipelineError::Client(ClientError::Unauthorized { .. }))
        ),
        "{message}"
    );
    assert!(message.contains("BASE44_API_KEY"), "{message}");
    assert!(!message.contains(wrong), "{message}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unknown_entity_is_named() {
    let app_dir = sample("tasks");
    let emulator = start(config(&app_dir)).await;
    let app = schemas(&app_dir);
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let options = PullOptions {
        entities: Some(vec!["Taks".to_owned()]),
        ..PullOptions::default()
    };
    let message = run_pull(&emulator, &app, &workspace, &options)
        .await
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(message.contains("\"Taks\""), "{message}");
    assert!(message.contains("Task"), "{message}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_second_pull_of_a_finished_workspace_fetches_nothing() {
    let app_dir = sample("tasks");
    let emulator = start(config(&app_dir)).await;
    let app = schemas(&app_dir);
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let first = run_pull(&emulator, &app, &workspace, &PullOptions::default()).await;
    assert!(first.is_ok(), "{first:?}");
    let manifest = std::fs::read(workspace.manifest_path()).unwrap_or_default();
    let second = match run_pull(&emulator, &app, &workspace, &PullOptions::default()).await {
        Ok(summary) => summary,
        Err(error) => panic!("{error}"),
    };
    assert!(second.entities.iter().all(|entity| entity.already_complete));
    assert_eq!(second.requests, 0);
    assert_eq!(
        std::fs::read(workspace.manifest_path()).unwrap_or_default(),
        manifest
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn more_records_sharing_one_timestamp_than_a_page_holds_are_all_pulled_once() {
    let app_folder = temporary();
    big_app(app_folder.path(), 300);
    // 1,200 more records created in one bulk call: one timestamp for all of them.
    let mut lines =
        std::fs::read_to_string(app_folder.path().join("data/Event.jsonl")).unwrap_or_default();
    for index in 0..1_200 {
        let record = json!({
            "id": format!("b{:023x}", (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 12),
            "created_date": "2026-01-01T00:00:30.500000", "updated_date": "2026-01-01T00:00:30.500000",
            "title": format!("bulk {index}"), "seq": 100_000 + index
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    std::fs::write(app_folder.path().join("data/Event.jsonl"), lines)
        .unwrap_or_else(|error| panic!("{error}"));
    let emulator = start(config(app_folder.path())).await;
    let app = schemas(app_folder.path());
    let folder = temporary();
    let workspace = Workspace::new(folder.path());
    let options = PullOptions {
        page_size: 500,
        ..PullOptions::default()
    };
    if let Err(error) = run_pull(&emulator, &app, &workspace, &options).await {
        panic!("{error}");
    }
    let records = workspace_records(&workspace, "Event");
    assert_no_duplicates("Event", &records);
    assert_eq!(records.len(), 1_500);
    emulator.shutdown().await;
}
