//! Writing through the emulator over real HTTP: create (ids, built-ins, fresh and stored
//! timestamp forms, undeclared fields dropped), update merges, soft delete, the trash, restore,
//! permanent delete, and the bulk endpoints with their 500-record limit.

mod common;

use common::{
    Api, config, ids, is_fresh_form, is_object_id, is_stored_form, sample, sample_records, start,
};
use offbase_emulator::EMULATOR_USER_ID;
use offbase_model::time::parse_timestamp;
use reqwest::Method;
use serde_json::{Map, Value, json};

fn text<'a>(record: &'a Map<String, Value>, field: &str) -> &'a str {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string `{field}` in {record:?}"))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(record) => record,
        other => panic!("not an object: {other}"),
    }
}

#[tokio::test]
async fn a_create_gets_a_new_id_the_built_ins_and_only_declared_fields() {
    let mut settings = config(&sample("tasks"));
    settings.created_by = "owner@example.com".to_owned();
    let emulator = start(settings).await;
    let api = Api::new(&emulator);
    let sent = json!({
        "id": "my-own-id",
        "created_date": "2020-01-01T00:00:00",
        "updated_date": "2020-01-01T00:00:00",
        "created_by": "someone@example.com",
        "created_by_id": "000000000000000000000000",
        "title": "Write the emulator",
        "status": "todo",
        "priority": 2,
        "tags": ["rust"],
        "not_in_schema": "dropped",
        "sprint": "2025-S1"
    });
    let answer = api.write(Method::POST, "Task", "", &sent).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let created = object(answer.json());
    let id = text(&created, "id").to_owned();
    assert!(is_object_id(&id), "{id}");
    assert_ne!(id, "my-own-id");
    // Fresh form in the answer, the same instant for both timestamps.
    let created_date = text(&created, "created_date");
    assert!(is_fresh_form(created_date), "{created_date}");
    assert_eq!(created_date, text(&created, "updated_date"));
    let instant = parse_timestamp(created_date);
    assert!(instant > parse_timestamp("2026-01-01T00:00:00Z"));
    assert_eq!(text(&created, "created_by"), "owner@example.com");
    assert_eq!(text(&created, "created_by_id"), EMULATOR_USER_ID);
    assert_eq!(created.get("is_sample"), Some(&Value::Bool(false)));
    assert_eq!(text(&created, "title"), "Write the emulator");
    assert_eq!(created.get("priority"), Some(&json!(2)));
    assert_eq!(created.get("tags"), Some(&json!(["rust"])));
    assert!(!created.contains_key("not_in_schema") && !created.contains_key("sprint"));

    // Read back: the stored form, same instant, same fields.
    let stored = object(api.get("Task", &format!("/{id}"), &[]).await.json());
    let stored_date = text(&stored, "created_date");
    assert!(is_stored_form(stored_date), "{stored_date}");
    assert_eq!(parse_timestamp(stored_date), instant);
    assert_eq!(parse_timestamp(text(&stored, "updated_date")), instant);
    let without_dates = |record: &Map<String, Value>| {
        let mut record = record.clone();
        record.remove("created_date");
        record.remove("updated_date");
        record
    };
    assert_eq!(without_dates(&stored), without_dates(&created));
    assert_eq!(emulator.store().record("Task", &id), Some(stored));
    assert_eq!(
        api.get("Task", "/count", &[]).await.json(),
        json!({"count": 401})
    );

    // Not an object, or not JSON: 400.
    for body in ["[1]", "\"text\"", "{broken"] {
        let request = api
            .request(Method::POST, &api.url("Task", ""))
            .header("content-type", "application/json")
            .body(body);
        let answer = api.send(request).await;
        assert_eq!(answer.status, 400, "{body}");
        assert!(!answer.error().is_empty());
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_update_merges_declared_fields_and_bumps_updated_date() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let before = sample_records("tasks", "Task")
        .into_iter()
        .find(|record| record.get("status") == Some(&json!("todo")))
        .unwrap_or_else(|| panic!("no todo task"));
    let id = text(&before, "id").to_owned();
    let change = json!({
        "status": "done",
        "estimateHours": 3.5,
        "bogus": true,
        "id": "ffffffffffffffffffffffff",
        "created_date": "2000-01-01T00:00:00",
        "created_by": "intruder@example.com"
    });
    let answer = api
        .write(Method::PUT, "Task", &format!("/{id}"), &change)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let updated = object(answer.json());
    assert_eq!(text(&updated, "id"), id);
    assert_eq!(updated.get("status"), Some(&json!("done")));
    assert_eq!(updated.get("estimateHours"), Some(&json!(3.5)));
    assert!(!updated.contains_key("bogus"));
    // Untouched fields and built-ins keep their values.
    for field in [
        "title",
        "created_date",
        "created_by",
        "created_by_id",
        "project_id",
    ] {
        assert_eq!(updated.get(field), before.get(field), "{field}");
    }
    let bumped = text(&updated, "updated_date");
    assert!(is_fresh_form(bumped), "{bumped}");
    assert!(parse_timestamp(bumped) > parse_timestamp(text(&before, "updated_date")));
    let stored = object(api.get("Task", &format!("/{id}"), &[]).await.json());
    assert!(is_stored_form(text(&stored, "updated_date")));
    assert_eq!(
        parse_timestamp(text(&stored, "updated_date")),
        parse_timestamp(bumped)
    );
    // Field order is kept; a new field goes last.
    let keys: Vec<&String> = stored.keys().collect();
    let before_keys: Vec<&String> = before.keys().collect();
    assert_eq!(&keys[..before_keys.len()], &before_keys[..]);

    let answer = api
        .write(
            Method::PUT,
            "Task",
            "/ffffffffffffffffffffffff",
            &json!({"status": "done"}),
        )
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(api.delete("Task", &format!("/{id}")).await.status, 200);
    let answer = api
        .write(
            Method::PUT,
            "Task",
            &format!("/{id}"),
            &json!({"status": "todo"}),
        )
        .await;
    assert_eq!(answer.status, 404, "a deleted record cannot be updated");
    emulator.shutdown().await;
}

#[tokio::test]
async fn delete_trash_restore_and_permanent_delete() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let store = emulator.store();
    let original = sample_records("tasks", "Project").remove(3);
    let id = text(&original, "id").to_owned();
    let path = format!("/{id}");

    let answer = api.delete("Project", &path).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({"success": true}));
    assert_eq!(api.get("Project", &path, &[]).await.status, 404);
    assert_eq!(
        api.get("Project", "/count", &[]).await.json(),
        json!({"count": 19})
    );
    let listed = ids(&api.get("Project", "", &[("limit", "100")]).await.records());
    assert!(!listed.contains(&id));
    assert!(!store.live_ids("Project").contains(&id));
    assert!(store.trash_ids("Project").contains(&id));
    let trash = api.get("Project", "/trash", &[]).await.records();
    assert_eq!(trash, vec![original.clone()]);
    assert_eq!(
        api.delete("Project", &path).await.status,
        404,
        "already deleted"
    );

    let answer = api
        .send(api.request(Method::PUT, &api.url("Project", &format!("{path}/restore"))))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        object(answer.json()),
        original,
        "restore keeps the id and fields"
    );
    assert_eq!(
        object(api.get("Project", &path, &[]).await.json()),
        original
    );
    assert!(api.get("Project", "/trash", &[]).await.records().is_empty());
    let again = api
        .send(api.request(Method::PUT, &api.url("Project", &format!("{path}/restore"))))
        .await;
    assert_eq!(again.status, 404, "nothing to restore");

    // Permanent delete takes only trashed records.
    let permanent = api.url("Project", &format!("{path}/permanent"));
    assert_eq!(
        api.send(api.request(Method::DELETE, &permanent))
            .await
            .status,
        404
    );
    assert_eq!(api.delete("Project", &path).await.status, 200);
    let answer = api.send(api.request(Method::DELETE, &permanent)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({"success": true}));
    assert!(store.trash_ids("Project").is_empty() && !store.live_ids("Project").contains(&id));
    assert_eq!(api.get("Project", &path, &[]).await.status, 404);
    let restore = api
        .send(api.request(Method::PUT, &api.url("Project", &format!("{path}/restore"))))
        .await;
    assert_eq!(restore.status, 404, "gone for good");
    emulator.shutdown().await;
}

#[tokio::test]
async fn bulk_create_and_bulk_update_all_or_nothing_with_at_most_500_updates() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let answer = api
        .write(
            Method::POST,
            "Comment",
            "/bulk",
            &json!([
                {"task_id": "a", "body": "first", "undeclared": 1},
                {"task_id": "b", "body": "second", "id": "mine"}
            ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let created = answer.records();
    assert_eq!(created.len(), 2);
    let new_ids = ids(&created);
    assert!(new_ids.iter().all(|id| is_object_id(id)) && new_ids[0] != new_ids[1]);
    assert!(
        created
            .iter()
            .all(|record| is_fresh_form(text(record, "created_date")))
    );
    assert!(!created[0].contains_key("undeclared"));
    assert_eq!(
        api.get("Comment", "/count", &[]).await.json(),
        json!({"count": 602})
    );
    let answer = api
        .write(
            Method::POST,
            "Comment",
            "/bulk",
            &json!([{"body": "ok"}, 3]),
        )
        .await;
    assert_eq!(answer.status, 400, "one bad item refuses the whole call");
    assert_eq!(
        api.get("Comment", "/count", &[]).await.json(),
        json!({"count": 602})
    );

    let answer = api
        .write(
            Method::PUT,
            "Comment",
            "/bulk",
            &json!([
                {"id": new_ids[1], "body": "second, edited"},
                {"id": new_ids[0], "mentions": ["x@example.com"], "bogus": 1}
            ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let updated = answer.records();
    assert_eq!(
        ids(&updated),
        vec![new_ids[1].clone(), new_ids[0].clone()],
        "sent order"
    );
    assert_eq!(updated[0].get("body"), Some(&json!("second, edited")));
    assert_eq!(updated[1].get("body"), Some(&json!("first")));
    assert_eq!(updated[1].get("mentions"), Some(&json!(["x@example.com"])));
    assert!(!updated[1].contains_key("bogus"));

    // 500 is fine, 501 is refused, and refusals change nothing.
    let comments = sample_records("tasks", "Comment");
    let batch = |count: usize, body: &str| {
        Value::Array(
            comments
                .iter()
                .take(count)
                .map(|record| json!({"id": record.get("id"), "body": body}))
                .collect(),
        )
    };
    let answer = api
        .write(Method::PUT, "Comment", "/bulk", &batch(501, "too many"))
        .await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().contains("500"), "{}", answer.text);
    let answer = api
        .write(Method::PUT, "Comment", "/bulk", &batch(500, "edited"))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.records().len(), 500);
    let edited = api
        .get("Comment", "/count", &[("q", r#"{"body": "edited"}"#)])
        .await
        .json();
    assert_eq!(edited, json!({"count": 500}));
    assert_eq!(
        api.get("Comment", "/count", &[("body", "too many")])
            .await
            .json(),
        json!({"count": 0})
    );

    let first = comments[0].get("id").cloned().unwrap_or(Value::Null);
    for (body, status) in [
        (
            json!([{"id": first, "body": "x"}, {"id": "ffffffffffffffffffffffff", "body": "x"}]),
            404,
        ),
        (
            json!([{"id": first, "body": "x"}, {"id": first, "body": "y"}]),
            400,
        ),
        (json!([{"body": "no id"}]), 400),
        (json!({"id": first}), 400),
    ] {
        let answer = api.write(Method::PUT, "Comment", "/bulk", &body).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.text);
    }
    assert_eq!(
        api.get("Comment", "/count", &[("body", "x")]).await.json(),
        json!({"count": 0}),
        "a refused bulk update changes nothing"
    );
    emulator.shutdown().await;
}
