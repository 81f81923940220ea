//! Starting an emulator: the app id it serves, and clear errors for bad input (a broken data
//! line, a repeated id, no schemas, an empty key, a bad rate, a port in use).

mod common;

use common::{KEY, config, sample, start};
use offbase_emulator::{DEFAULT_APP_ID, EmulatorError, Faults};
use std::path::Path;

async fn start_error(config: offbase_emulator::EmulatorConfig) -> EmulatorError {
    match offbase_emulator::start(config, ([127, 0, 0, 1], 0).into()).await {
        Ok(_) => panic!("the emulator started"),
        Err(error) => error,
    }
}

fn app_with_data(folder: &Path, data: &str) {
    let entities = folder.join("base44/entities");
    std::fs::create_dir_all(&entities).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        entities.join("note.jsonc"),
        r#"{"name": "Note", "properties": {"text": {"type": "string"}}}"#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    std::fs::create_dir_all(folder.join("data")).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(folder.join("data/Note.jsonl"), data).unwrap_or_else(|error| panic!("{error}"));
}

#[tokio::test]
async fn the_app_id_comes_from_the_config_then_the_export_then_a_default() {
    let emulator = start(config(&sample("tasks"))).await;
    assert_eq!(emulator.app_id(), "f5f842e2b59f57295f65d0d0");
    assert!(emulator.api_url().starts_with("http://127.0.0.1:"));
    assert_eq!(emulator.api_url(), format!("http://{}", emulator.address()));
    emulator.shutdown().await;

    let mut settings = config(&sample("tasks"));
    settings.app_id = Some("0123456789abcdef01234567".to_owned());
    let emulator = start(settings).await;
    assert_eq!(emulator.app_id(), "0123456789abcdef01234567");
    emulator.shutdown().await;

    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    app_with_data(folder.path(), "{\"id\": \"n1\", \"text\": \"hello\"}\n\n");
    let emulator = start(config(folder.path())).await;
    assert_eq!(emulator.app_id(), DEFAULT_APP_ID);
    assert_eq!(emulator.store().live_ids("Note").len(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn bad_input_stops_the_start_with_a_message_that_says_where() {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    app_with_data(folder.path(), "{\"id\": \"n1\"}\n{\"id\": \"n2\",\n");
    let message = start_error(config(folder.path())).await.to_string();
    assert!(message.contains("Note.jsonl:2:"), "{message}");

    app_with_data(folder.path(), "{\"id\": \"n1\"}\n{\"id\": \"n1\"}\n");
    let message = start_error(config(folder.path())).await.to_string();
    assert!(
        message.contains("Note.jsonl:2:") && message.contains("n1"),
        "{message}"
    );

    app_with_data(folder.path(), "{\"text\": \"no id\"}\n");
    let message = start_error(config(folder.path())).await.to_string();
    assert!(
        message.contains("Note.jsonl:1:") && message.contains("id"),
        "{message}"
    );

    let empty = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let error = start_error(config(empty.path())).await;
    assert!(matches!(error, EmulatorError::Schema(_)), "{error}");

    let mut settings = config(&sample("tasks"));
    settings.api_key = " ".to_owned();
    let error = start_error(settings).await;
    assert!(matches!(error, EmulatorError::InvalidConfig(_)), "{error}");

    let mut settings = config(&sample("tasks"));
    settings.faults = Faults {
        fail_rate: 1.5,
        ..Faults::default()
    };
    let message = start_error(settings).await.to_string();
    assert!(message.contains("fail_rate"), "{message}");

    let running = start(config(&sample("tasks"))).await;
    let taken = offbase_emulator::start(config(&sample("tasks")), running.address()).await;
    match taken {
        Err(EmulatorError::Bind { address, .. }) => assert_eq!(address, running.address()),
        other => panic!("expected a bind error, got {other:?}"),
    }
    running.shutdown().await;
}

#[test]
fn the_config_debug_output_hides_the_key() {
    let text = format!("{:?}", config(&sample("tasks")));
    assert!(!text.contains(KEY), "{text}");
    assert!(text.contains("redacted"));
}
