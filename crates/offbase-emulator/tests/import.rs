//! The SDK's `importEntities(file)` over HTTP (`POST .../{Entity}/import`, a CSV file in a
//! multipart part named `file`): the records created with the fields their columns pair with,
//! all or nothing; a file the import refuses answers 200 with `status: "error"` and stores
//! nothing; past 10 MB the file is refused by the import, past the body limit with 413.

mod common;

use common::{Answer, Api, BOUNDARY, KEY, config, multipart, sample, start};
use offbase_base44::exports::csv::{IMPORT_BODY_MAX, IMPORT_MAX_BYTES};
use serde_json::{Value, json};

async fn import(api: &Api<'_>, entity: &str, body: Vec<u8>) -> Answer {
    let request = api
        .client
        .post(api.url(entity, "/import"))
        .header("api_key", KEY)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    api.send(request).await
}

fn csv(text: &str) -> Vec<u8> {
    multipart("file", "tasks.csv", "text/csv", text.as_bytes())
}

async fn task_count(api: &Api<'_>) -> Value {
    api.get("Task", "/count", &[]).await.json()["count"].clone()
}

#[tokio::test]
async fn a_csv_file_creates_its_records_all_or_nothing() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let before = task_count(&api).await;
    let count = |value: &Value| value.as_u64().unwrap_or_default();

    let answer = import(
        &api,
        "Task",
        csv("Title,Priority,Due Date,id,Created Date\nFrom CSV,2,2026-04-01,x,2020-01-01\n"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["status"], "success");
    assert_eq!(
        body["details"],
        "Successfully imported 1 entities with RLS enforcement"
    );
    let record = &body["output"][0];
    assert_eq!(
        (&record["title"], &record["priority"], &record["due_date"]),
        (&json!("From CSV"), &json!(2), &json!("2026-04-01"))
    );
    // The built-in columns pair with nothing: a new id and a fresh timestamp.
    assert_ne!(record["id"], "x");
    assert_ne!(record["created_date"], "2020-01-01");
    let stored = api
        .get(
            "Task",
            &format!("/{}", record["id"].as_str().unwrap_or_default()),
            &[],
        )
        .await;
    assert_eq!(stored.json()["title"], "From CSV");
    assert_eq!(count(&task_count(&api).await), count(&before) + 1);

    // The second row cannot be read: nothing is created, the first row either.
    let answer = import(&api, "Task", csv("title,priority\nFine,1\nNot fine,high\n")).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.json(),
        json!({"status": "error", "details": "tasks.csv:3: column `priority` (field `priority`): expected an integer: `high`", "output": null})
    );
    assert_eq!(count(&task_count(&api).await), count(&before) + 1);
}

#[tokio::test]
async fn files_past_the_limits_and_requests_without_a_file_are_refused() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);

    // Over 10 MB but within the body limit: the import's own refusal.
    let mut text = String::from("title\n");
    while text.len() <= IMPORT_MAX_BYTES {
        text.push_str("a task of the big file\n");
    }
    let answer = import(&api, "Task", csv(&text)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "error");
    assert!(
        answer.json()["details"]
            .as_str()
            .is_some_and(|details| details.contains("at most 10000000 bytes")),
        "{}",
        answer.text
    );
    // Past the body limit: 413, the file never held.
    while text.len() <= IMPORT_BODY_MAX {
        text.push_str("a task of the bigger file\n");
    }
    assert_eq!(import(&api, "Task", csv(&text)).await.status, 413);

    let no_file = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--{BOUNDARY}--\r\n"
    );
    let answer = import(&api, "Task", no_file.into_bytes()).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(import(&api, "Nope", csv("title\nx\n")).await.status, 404);
}
