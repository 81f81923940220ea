//! File hosting (every public file URL of the sample records, mapped to the emulator and served
//! without a key, same bytes every time) and the background writer (creates, updates and
//! deletes with shared timestamps, values that follow the schema, then it stops).

mod common;

use common::{Api, config, is_object_id, sample, sample_records, start};
use offbase_emulator::{DEFAULT_CREATED_BY, WriterConfig, file_bytes, local_file_url};
use offbase_model::time::parse_timestamp;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Every string in a record that looks like a URL.
fn urls(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) if text.starts_with("https://") => found.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| urls(item, found)),
        Value::Object(object) => object.values().for_each(|item| urls(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_public_file_url_of_the_samples_is_served_with_stable_bytes() {
    let emulator = start(config(&sample("marketplace"))).await;
    let api = Api::new(&emulator);
    let mut found = Vec::new();
    for entity in ["Listing", "User"] {
        for record in sample_records("marketplace", entity) {
            urls(&Value::Object(record), &mut found);
        }
    }
    let shapes = [
        "/files/public/",
        "/files/mp/public/",
        "media.base44.com/images/public/",
        ".supabase.co/storage/v1/object/public/",
    ];
    for shape in shapes {
        assert!(
            found.iter().any(|url| url.contains(shape)),
            "no sample URL has {shape}"
        );
    }
    let mut served = 0;
    for url in found
        .iter()
        .filter(|url| shapes.iter().any(|shape| url.contains(shape)))
    {
        let local =
            local_file_url(&emulator.api_url(), url).unwrap_or_else(|| panic!("not mapped: {url}"));
        let path = local
            .strip_prefix(&emulator.api_url())
            .unwrap_or_else(|| panic!("not on the emulator: {local}"));
        // No key: public files are public.
        let response = api
            .client
            .get(&local)
            .send()
            .await
            .unwrap_or_else(|error| panic!("{local}: {error}"));
        assert_eq!(response.status().as_u16(), 200, "{local}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("{local}: {error}"));
        assert_eq!(bytes.as_ref(), file_bytes(path).as_slice(), "{local}");
        if path.ends_with(".png") {
            assert_eq!(content_type, "image/png");
            assert!(bytes.starts_with(b"\x89PNG"));
        } else if path.ends_with(".jpg") {
            assert_eq!(content_type, "image/jpeg");
            assert!(bytes.starts_with(b"\xff\xd8\xff"));
        }
        served += 1;
    }
    assert!(served > 100, "{served}");
    // The shapes no sample holds: a file without `public/`, and older storage paths.
    let app = emulator.app_id();
    for url in [
        format!("https://base44.app/api/apps/{app}/files/2bf50e3b3_bare.jpg"),
        "https://abcd.supabase.co/storage/v1/object/public/base44-prod/public/user_68a1/c_me.png"
            .to_owned(),
        "https://abcd.supabase.co/storage/v1/object/public/base44-prod/public/0f0f0f0f0_old.png"
            .to_owned(),
    ] {
        let local = local_file_url(&emulator.api_url(), &url)
            .unwrap_or_else(|| panic!("not mapped: {url}"));
        let path = local
            .strip_prefix(&emulator.api_url())
            .unwrap_or_else(|| panic!("not on the emulator: {local}"));
        let response = api
            .client
            .get(&local)
            .send()
            .await
            .unwrap_or_else(|error| panic!("{local}: {error}"));
        assert_eq!(response.status().as_u16(), 200, "{local}");
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("{local}: {error}"));
        assert_eq!(bytes.as_ref(), file_bytes(path).as_slice(), "{local}");
    }
    // Private files are not served; other URLs are not mapped.
    let private = format!(
        "{}/api/apps/{}/files/private/x/abc_secret.pdf",
        emulator.api_url(),
        emulator.app_id()
    );
    let answer = api.send(api.client.get(&private)).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        local_file_url(&emulator.api_url(), "https://tidd.ly/x"),
        None
    );
    assert!(emulator.stats().requests_to(offbase_emulator::Route::File) > 100);
    emulator.shutdown().await;
}

/// Records the writer touched: live records changed at or after `since`.
fn touched_since(
    emulator: &offbase_emulator::RunningEmulator,
    since: chrono::DateTime<chrono::Utc>,
) -> Vec<(String, Map<String, Value>)> {
    let store = emulator.store();
    store
        .entity_names()
        .into_iter()
        .flat_map(|entity| {
            store
                .live_records(&entity)
                .into_iter()
                .map(move |record| (entity.clone(), record))
        })
        .filter(|(_, record)| {
            record
                .get("updated_date")
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
                .is_some_and(|instant| instant >= since)
        })
        .collect()
}

#[tokio::test]
async fn the_writer_creates_updates_and_deletes_in_bursts_sharing_timestamps_then_stops() {
    let started = chrono::Utc::now() - chrono::Duration::milliseconds(5);
    let mut settings = config(&sample("tasks"));
    settings.writer = Some(WriterConfig {
        rate_per_second: 300,
        duration: Duration::from_millis(800),
        seed: 21,
    });
    let emulator = start(settings).await;
    let before: BTreeMap<String, BTreeSet<String>> = ["Task", "Project", "Comment"]
        .iter()
        .map(|entity| ((*entity).to_owned(), emulator.store().live_ids(entity)))
        .collect();
    if tokio::time::timeout(Duration::from_secs(20), emulator.writer_done())
        .await
        .is_err()
    {
        panic!("the writer did not stop");
    }
    let stats = emulator.stats();
    assert!(stats.writer_creates > 0, "{stats:?}");
    assert!(stats.writer_updates > 0, "{stats:?}");
    assert!(stats.writer_deletes > 0, "{stats:?}");
    let total = stats.writer_creates + stats.writer_updates + stats.writer_deletes;
    assert!(
        (150..=400).contains(&total),
        "about 300/s for 0.8 s: {total}"
    );
    let trashed: usize = before
        .keys()
        .map(|entity| emulator.store().trash_ids(entity).len())
        .sum();
    assert_eq!(trashed as u64, stats.writer_deletes);

    // Writes follow the platform's rules and the schema.
    let touched = touched_since(&emulator, started);
    assert!(!touched.is_empty());
    for (entity, record) in &touched {
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        let created_here = !before.get(entity).is_some_and(|ids| ids.contains(id));
        if created_here {
            assert!(is_object_id(id), "{id}");
            assert_eq!(record.get("created_by"), Some(&json!(DEFAULT_CREATED_BY)));
            let stamp = |field: &str| {
                record
                    .get(field)
                    .and_then(Value::as_str)
                    .and_then(parse_timestamp)
            };
            // Equal unless a later burst updated it.
            assert!(stamp("created_date") >= Some(started));
            assert!(stamp("created_date") <= stamp("updated_date"));
        }
        if entity == "Task" && created_here {
            if let Some(status) = record.get("status") {
                assert!(
                    [json!("todo"), json!("in_progress"), json!("done")].contains(status),
                    "{status}"
                );
            }
            assert!(
                record.get("title").is_some_and(Value::is_string),
                "required: {record:?}"
            );
            if let Some(priority) = record.get("priority") {
                assert!(
                    [json!(1), json!(2), json!(3)].contains(priority),
                    "{priority}"
                );
            }
            assert!(!record.contains_key("sprint"));
        }
    }
    // Many operations share one exact timestamp.
    let mut by_stamp: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (entity, record) in &touched {
        if let Some(stamp) = record.get("updated_date").and_then(Value::as_str) {
            *by_stamp.entry((entity.as_str(), stamp)).or_default() += 1;
        }
    }
    let largest = by_stamp.values().copied().max().unwrap_or(0);
    assert!(largest >= 3, "no burst shares a timestamp: {by_stamp:?}");
    assert!(by_stamp.values().filter(|count| **count >= 2).count() >= 5);

    // Stopped: nothing changes any more.
    let after = emulator.stats();
    let snapshot = emulator.store().live_ids("Task");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(emulator.stats(), after);
    assert_eq!(emulator.store().live_ids("Task"), snapshot);
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_a_writer_writer_done_resolves_at_once() {
    let emulator = start(config(&sample("tasks"))).await;
    if tokio::time::timeout(Duration::from_secs(1), emulator.writer_done())
        .await
        .is_err()
    {
        panic!("writer_done should resolve without a writer");
    }
    assert_eq!(emulator.stats().writer_creates, 0);
    emulator.shutdown().await;
}
