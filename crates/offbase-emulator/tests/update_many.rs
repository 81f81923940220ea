//! The SDK's `updateMany(query, data)` (`PATCH .../entities/{Entity}/update-many` with
//! `{"query", "data"}`) and `deleteMany(query)` (`DELETE .../entities/{Entity}` with the query
//! as the body) over real HTTP: the exact records after each update operator, batches of 500
//! with `has_more`, the access rules as PostgreSQL's row level security applies them (records
//! the caller may not read or change skipped, a new record failing the `update` rule refusing
//! the whole call), anonymous visitors, the trash, and the 400 answers to bad documents.

mod common;

use common::{Answer, Api, KEY, big_app, config, is_stored_form, start};
use offbase_emulator::{Route, RunningEmulator};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// An app with `Task` (held to rules: read own or public records, update own records that are
/// not locked, delete own records), `Note` (no rules) and two users.
fn app() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let entities = folder.path().join("base44/entities");
    let data = folder.path().join("data");
    for path in [&entities, &data] {
        std::fs::create_dir_all(path).unwrap_or_else(|error| panic!("{error}"));
    }
    let schemas = [
        json!({"name": "Task", "properties": {
                "title": {"type": "string"},
                "status": {"type": "string"},
                "views": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "note": {"type": "string"},
                "due": {"type": "string", "format": "date"},
                "public": {"type": "boolean"}},
            "rls": {"create": true,
                "read": {"$or": [{"created_by": "{{user.email}}"}, {"data.public": true}]},
                "update": {"created_by": "{{user.email}}", "data.status": {"$ne": "locked"}},
                "delete": {"created_by": "{{user.email}}"}}}),
        json!({"name": "Note", "properties": {"title": {"type": "string"}}}),
    ];
    for schema in schemas {
        let name = schema["name"].as_str().unwrap_or("Unnamed").to_owned();
        std::fs::write(entities.join(format!("{name}.jsonc")), schema.to_string())
            .unwrap_or_else(|error| panic!("{error}"));
    }
    let record = |id: &str, second: u32, by: &str, fields: Value| {
        let stamp = format!("2026-01-05T10:00:{second:02}.000000");
        let by_id = if by.starts_with("ann") {
            "u-ann"
        } else {
            "u-bob"
        };
        let mut record = json!({"id": id, "created_date": stamp, "updated_date": stamp,
            "created_by": by, "created_by_id": by_id, "is_sample": false});
        if let (Some(record), Value::Object(fields)) = (record.as_object_mut(), fields) {
            record.extend(fields);
        }
        record
    };
    let ann = "ann@example.com";
    let bob = "bob@example.com";
    let files = [
        (
            "User",
            vec![
                json!({"id": "u-ann", "created_date": "2026-01-01T00:00:00.000000",
                    "updated_date": "2026-01-01T00:00:00.000000", "email": ann,
                    "full_name": "Ann", "role": "user"}),
                json!({"id": "u-bob", "created_date": "2026-01-01T00:00:01.000000",
                    "updated_date": "2026-01-01T00:00:01.000000", "email": bob,
                    "full_name": "Bob", "role": "user"}),
            ],
        ),
        (
            "Task",
            vec![
                // Listed out of creation order: matches are taken in (created_date, id) order.
                record(
                    "t2",
                    2,
                    ann,
                    json!({"title": "two", "status": "open", "views": 5, "tags": ["b"],
                        "public": false}),
                ),
                record(
                    "t1",
                    1,
                    ann,
                    json!({"title": "one", "status": "open", "views": 1, "tags": ["a", "b"],
                        "note": "x", "due": "2026-02-01", "public": false}),
                ),
                record(
                    "t3",
                    3,
                    ann,
                    json!({"title": "three", "status": "locked", "views": 0, "tags": ["b"],
                        "public": false}),
                ),
                record(
                    "t4",
                    4,
                    bob,
                    json!({"title": "four", "status": "open", "views": 2, "tags": [],
                        "public": true}),
                ),
                record(
                    "t5",
                    5,
                    bob,
                    json!({"title": "five", "status": "open", "views": 3, "tags": ["b"],
                        "public": false}),
                ),
            ],
        ),
        (
            "Note",
            vec![
                record("n1", 1, bob, json!({"title": "first"})),
                record("n2", 2, bob, json!({"title": "second"})),
            ],
        ),
    ];
    for (entity, records) in files {
        let lines: Vec<String> = records.iter().map(Value::to_string).collect();
        std::fs::write(data.join(format!("{entity}.jsonl")), lines.join("\n"))
            .unwrap_or_else(|error| panic!("{error}"));
    }
    folder
}

/// Who a request is made as.
#[derive(Debug, Clone, Copy)]
enum Who {
    Key,
    User(&'static str),
    Anonymous,
}

const ANN: Who = Who::User("u-ann");

async fn call(
    api: &Api<'_>,
    who: Who,
    method: Method,
    entity: &str,
    rest: &str,
    body: Option<String>,
) -> Answer {
    let url = api.url(entity, rest);
    let mut request = api.client.request(method, &url);
    request = match who {
        Who::Key => request.header("api_key", KEY),
        Who::User(id) => request.bearer_auth(api.emulator.user_token(id)),
        Who::Anonymous => request,
    };
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    api.send(request).await
}

/// `updateMany(query, data)` as the SDK sends it.
async fn update_many(api: &Api<'_>, who: Who, entity: &str, query: Value, data: Value) -> Answer {
    let body = json!({"query": query, "data": data}).to_string();
    call(api, who, Method::PATCH, entity, "/update-many", Some(body)).await
}

/// `deleteMany(query)` as the SDK sends it.
async fn delete_many(api: &Api<'_>, who: Who, entity: &str, query: Value) -> Answer {
    call(
        api,
        who,
        Method::DELETE,
        entity,
        "",
        Some(query.to_string()),
    )
    .await
}

fn expect(answer: &Answer, status: u16, body: Value) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.json(), body, "{}", answer.text);
}

fn expect_updated(answer: &Answer, updated: usize, has_more: bool) {
    expect(
        answer,
        200,
        json!({"success": true, "updated": updated, "has_more": has_more}),
    );
}

fn expect_error(answer: &Answer, status: u16, needles: &[&str]) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let message = answer.error();
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
}

fn stored(emulator: &RunningEmulator, entity: &str, id: &str) -> Map<String, Value> {
    emulator
        .store()
        .record(entity, id)
        .unwrap_or_else(|| panic!("no live {entity} {id}"))
}

/// The live records of `entity` by id.
fn all(emulator: &RunningEmulator, entity: &str) -> Vec<Map<String, Value>> {
    let mut records = emulator.store().live_records(entity);
    records.sort_by_key(|record| record["id"].to_string());
    records
}

/// `record` with `fields` set, `gone` removed and `updated_date` as given.
fn edited(
    record: &Map<String, Value>,
    fields: Value,
    gone: &[&str],
    updated_date: &Value,
) -> Map<String, Value> {
    let mut record = record.clone();
    if let Value::Object(fields) = fields {
        record.extend(fields);
    }
    for name in gone {
        record.remove(*name);
    }
    record.insert("updated_date".to_owned(), updated_date.clone());
    record
}

/// The `updated_date` the update-many gave `id`: in the stored form, not before the one it had
/// (two writes in one millisecond share a stamp: the platform's precision).
fn bumped(
    emulator: &RunningEmulator,
    before: &Map<String, Value>,
    entity: &str,
    id: &str,
) -> Value {
    let after = stored(emulator, entity, id)["updated_date"].clone();
    let text = after.as_str().unwrap_or_default();
    assert!(is_stored_form(text), "{after}");
    assert!(
        text >= before["updated_date"].as_str().unwrap_or_default(),
        "{after}"
    );
    after
}

fn ids(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

fn by_id(records: &[Map<String, Value>], id: &str) -> Map<String, Value> {
    records
        .iter()
        .find(|record| record["id"] == json!(id))
        .cloned()
        .unwrap_or_else(|| panic!("no record {id}"))
}

#[tokio::test]
async fn set_inc_unset_push_and_pull_as_the_key_write_exactly_what_they_say() {
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let before = all(&emulator, "Task");

    let answer = update_many(
        &api,
        Who::Key,
        "Task",
        json!({"status": "open"}),
        json!({"$set": {"note": "seen", "undeclared": 1}, "$inc": {"views": 1},
            "$unset": {"due": ""}, "$push": {"tags": "new"}}),
    )
    .await;
    expect_updated(&answer, 4, false);
    let stamp = bumped(&emulator, &by_id(&before, "t1"), "Task", "t1");
    let expected: [(&str, Value, &[&str]); 4] = [
        (
            "t1",
            json!({"note": "seen", "views": 2, "tags": ["a", "b", "new"]}),
            &["due"][..],
        ),
        (
            "t2",
            json!({"note": "seen", "views": 6, "tags": ["b", "new"]}),
            &[],
        ),
        (
            "t4",
            json!({"note": "seen", "views": 3, "tags": ["new"]}),
            &[],
        ),
        (
            "t5",
            json!({"note": "seen", "views": 4, "tags": ["b", "new"]}),
            &[],
        ),
    ];
    for (id, fields, gone) in expected {
        assert_eq!(
            stored(&emulator, "Task", id),
            edited(&by_id(&before, id), fields, gone, &stamp),
            "{id}"
        );
    }
    // The locked record did not match.
    assert_eq!(stored(&emulator, "Task", "t3"), by_id(&before, "t3"));

    // `$pull` with a condition, then with a value.
    let middle = all(&emulator, "Task");
    let answer = update_many(
        &api,
        Who::Key,
        "Task",
        json!({"tags": "b"}),
        json!({"$pull": {"tags": {"$in": ["b", "new"]}}, "$set": {"title": "pulled"}}),
    )
    .await;
    expect_updated(&answer, 4, false);
    let stamp = bumped(&emulator, &by_id(&middle, "t1"), "Task", "t1");
    for (id, tags) in [
        ("t1", json!(["a"])),
        ("t2", json!([])),
        ("t3", json!([])),
        ("t5", json!([])),
    ] {
        assert_eq!(
            stored(&emulator, "Task", id),
            edited(
                &by_id(&middle, id),
                json!({"tags": tags, "title": "pulled"}),
                &[],
                &stamp
            ),
            "{id}"
        );
    }
    assert_eq!(stored(&emulator, "Task", "t4"), by_id(&middle, "t4"));

    let answer = update_many(
        &api,
        Who::Key,
        "Task",
        json!({"title": "pulled"}),
        json!({"$pull": {"tags": "a"}}),
    )
    .await;
    expect_updated(&answer, 4, false);
    assert_eq!(stored(&emulator, "Task", "t1")["tags"], json!([]));

    // No match: nothing updated.
    let answer = update_many(
        &api,
        Who::Key,
        "Task",
        json!({"status": "nope"}),
        json!({"$set": {"title": "x"}}),
    )
    .await;
    expect_updated(&answer, 0, false);
    let stats = emulator.stats();
    assert_eq!(stats.responses(Route::UpdateMany, 200), 4);
}

#[tokio::test]
async fn more_than_500_matches_are_updated_500_at_a_time_in_creation_order() {
    let folder = big_app(1203);
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    // In (created_date, id) order.
    let before = emulator.store().live_records("Event");
    let order: Vec<String> = before
        .iter()
        .map(|record| record["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let processed = |emulator: &RunningEmulator| -> BTreeSet<String> {
        emulator
            .store()
            .live_records("Event")
            .into_iter()
            .filter(|record| record["title"] == json!("processed"))
            .map(|record| record["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let query = json!({"title": {"$ne": "processed"}});
    let data = json!({"$set": {"title": "processed"}});
    for (call, (updated, has_more, done)) in [
        (500, true, 500),
        (500, true, 1000),
        (203, false, 1203),
        (0, false, 1203),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = update_many(&api, Who::Key, "Event", query.clone(), data.clone()).await;
        expect_updated(&answer, updated, has_more);
        let expected: BTreeSet<String> = order[..done].iter().cloned().collect();
        assert_eq!(processed(&emulator), expected, "call {call}");
    }
    // A query that keeps matching what it updated takes the same first 500 again.
    for _ in 0..2 {
        let answer = update_many(
            &api,
            Who::Key,
            "Event",
            json!({}),
            json!({"$inc": {"seq": 10_000}}),
        )
        .await;
        expect_updated(&answer, 500, true);
    }
    for (index, record) in emulator.store().live_records("Event").iter().enumerate() {
        let seq = by_id(&before, &order[index])["seq"].as_i64().unwrap_or(-1);
        let bumped = if index < 500 { 20_000 } else { 0 };
        assert_eq!(record["id"], json!(order[index]));
        assert_eq!(record["seq"], json!(seq + bumped), "{index}");
    }
    // Exactly 500 matches: one batch, nothing more.
    let answer = update_many(
        &api,
        Who::Key,
        "Event",
        json!({"seq": {"$gte": 10_000}}),
        json!({"$set": {"kind": "b"}}),
    )
    .await;
    expect_updated(&answer, 500, false);
}

#[tokio::test]
async fn a_user_updates_only_the_records_the_rules_let_them_and_hidden_ones_stay_untouched() {
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let before = all(&emulator, "Task");

    // Ann reads t1, t2, t3 (hers) and t4 (public); she may update t1 and t2 only (t3 is
    // locked, t4 is Bob's); t5 is hidden from her.
    let answer = update_many(
        &api,
        ANN,
        "Task",
        json!({}),
        json!({"$inc": {"views": 10}, "$addToSet": {"tags": "b"}}),
    )
    .await;
    expect_updated(&answer, 2, false);
    let stamp = bumped(&emulator, &by_id(&before, "t1"), "Task", "t1");
    assert_eq!(
        stored(&emulator, "Task", "t1"),
        edited(&by_id(&before, "t1"), json!({"views": 11}), &[], &stamp)
    );
    assert_eq!(
        stored(&emulator, "Task", "t2"),
        edited(&by_id(&before, "t2"), json!({"views": 15}), &[], &stamp)
    );
    for id in ["t3", "t4", "t5"] {
        assert_eq!(stored(&emulator, "Task", id), by_id(&before, id), "{id}");
    }

    // A query naming the hidden record matches nothing: no 404, no 403.
    let answer = update_many(
        &api,
        ANN,
        "Task",
        json!({"id": {"$in": ["t5", "t4", "t3"]}}),
        json!({"$set": {"title": "mine now"}}),
    )
    .await;
    expect_updated(&answer, 0, false);
    for id in ["t3", "t4", "t5"] {
        assert_eq!(stored(&emulator, "Task", id), by_id(&before, id), "{id}");
    }

    // Bob, on the same call, updates his own two.
    let answer = update_many(
        &api,
        Who::User("u-bob"),
        "Task",
        json!({}),
        json!({"$set": {"note": "bob was here"}}),
    )
    .await;
    expect_updated(&answer, 2, false);
    assert_eq!(
        stored(&emulator, "Task", "t5")["note"],
        json!("bob was here")
    );
    assert_eq!(
        stored(&emulator, "Task", "t4")["note"],
        json!("bob was here")
    );
    assert_eq!(
        stored(&emulator, "Task", "t1").get("note"),
        Some(&json!("x"))
    );
}

#[tokio::test]
async fn a_new_record_failing_the_update_rule_refuses_the_whole_call_and_changes_nothing() {
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let before = all(&emulator, "Task");

    // Locking her records would leave records her `update` rule refuses (WITH CHECK).
    let answer = update_many(
        &api,
        ANN,
        "Task",
        json!({"status": "open"}),
        json!({"$set": {"status": "locked"}, "$inc": {"views": 1}}),
    )
    .await;
    expect_error(&answer, 403, &["`update` rule of Task", "ann@example.com"]);
    assert_eq!(all(&emulator, "Task"), before);

    // The key bypasses the rules.
    let answer = update_many(
        &api,
        Who::Key,
        "Task",
        json!({}),
        json!({"$set": {"status": "locked"}}),
    )
    .await;
    expect_updated(&answer, 5, false);
    assert_eq!(
        all(&emulator, "Task")
            .iter()
            .filter(|record| record["status"] == json!("locked"))
            .count(),
        5
    );
    let stats = emulator.stats();
    assert_eq!(stats.responses(Route::UpdateMany, 403), 1);
}

#[tokio::test]
async fn anonymous_visitors_change_nothing_the_rules_keep_from_them() {
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let tasks = all(&emulator, "Task");

    let answer = update_many(
        &api,
        Who::Anonymous,
        "Task",
        json!({}),
        json!({"$set": {"title": "defaced"}}),
    )
    .await;
    expect_updated(&answer, 0, false);
    let answer = delete_many(&api, Who::Anonymous, "Task", json!({})).await;
    expect(&answer, 200, json!({"success": true, "deleted": 0}));
    assert_eq!(all(&emulator, "Task"), tasks);

    // An entity without rules is open to everyone, anonymous visitors included.
    let answer = update_many(
        &api,
        Who::Anonymous,
        "Note",
        json!({}),
        json!({"$set": {"title": "anonymous"}, "$currentDate": {"title_at": true}}),
    )
    .await;
    expect_updated(&answer, 2, false);
    for record in all(&emulator, "Note") {
        assert_eq!(record["title"], json!("anonymous"));
        // Undeclared: dropped, as a plain update drops it.
        assert!(!record.contains_key("title_at"), "{record:?}");
    }
    let answer = delete_many(&api, Who::Anonymous, "Note", json!({"id": "n1"})).await;
    expect(&answer, 200, json!({"success": true, "deleted": 1}));
    assert_eq!(emulator.store().trash_ids("Note"), ids(&["n1"]));
}

#[tokio::test]
async fn delete_many_moves_the_matched_records_to_the_trash() {
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let before = all(&emulator, "Task");

    let answer = delete_many(
        &api,
        Who::Key,
        "Task",
        json!({"status": "open", "views": {"$gte": 2}}),
    )
    .await;
    expect(&answer, 200, json!({"success": true, "deleted": 3}));
    assert_eq!(emulator.store().trash_ids("Task"), ids(&["t2", "t4", "t5"]));
    assert_eq!(emulator.store().live_ids("Task"), ids(&["t1", "t3"]));
    // Unchanged in the trash, as a single delete leaves them.
    for record in emulator.store().trash_records("Task") {
        let id = record["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(record, by_id(&before, &id));
    }
    // Gone from reads.
    let listed = call(&api, Who::Key, Method::GET, "Task", "", None).await;
    assert_eq!(listed.records().len(), 2);

    // Ann deletes what she may read and delete (her own), not Bob's.
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let answer = delete_many(&api, ANN, "Task", json!({})).await;
    expect(&answer, 200, json!({"success": true, "deleted": 3}));
    assert_eq!(emulator.store().trash_ids("Task"), ids(&["t1", "t2", "t3"]));
    assert_eq!(emulator.store().live_ids("Task"), ids(&["t4", "t5"]));

    // `{}` matches every record; users are removed outright, not trashed.
    let answer = delete_many(&api, Who::Key, "Task", json!({})).await;
    expect(&answer, 200, json!({"success": true, "deleted": 2}));
    assert!(emulator.store().live_ids("Task").is_empty());
    let answer = delete_many(&api, Who::Key, "User", json!({"email": "bob@example.com"})).await;
    expect(&answer, 200, json!({"success": true, "deleted": 1}));
    assert_eq!(emulator.store().live_ids("User"), ids(&["u-ann"]));
    assert!(emulator.store().trash_ids("User").is_empty());
    let stats = emulator.stats();
    assert_eq!(stats.responses(Route::DeleteMany, 200), 3);

    // A single delete still answers `{"success": true}` only.
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let answer = call(&api, Who::Key, Method::DELETE, "Task", "/t1", None).await;
    expect(&answer, 200, json!({"success": true}));
}

#[tokio::test]
async fn bad_updates_and_queries_are_400_with_a_message_and_change_nothing() {
    let folder = app();
    let emulator = start(config(folder.path())).await;
    let api = Api::new(&emulator);
    let before = all(&emulator, "Task");

    let cases = [
        (
            json!({"$foo": {"title": "x"}}),
            vec!["unknown update operator `$foo`", "$set", "$pull"],
        ),
        (
            json!({"title": "x"}),
            vec![r#"use {"$set": {"title": ...}}"#],
        ),
        (json!({}), vec!["no operator"]),
        (
            json!({"$set": {"views": 1}, "$inc": {"views": 1}}),
            vec!["`views`", "`$set`", "`$inc`", "one operator"],
        ),
        (json!({"$set": {"id": "x"}}), vec!["`id`", "built-in"]),
        (
            json!({"$inc": {"views": "1"}}),
            vec!["`$inc`", "`views`", "number"],
        ),
        (
            json!({"$set": {"meta.a": 1}}),
            vec!["dotted", "the whole field `meta`"],
        ),
        (
            json!({"$push": {"tags": {"$each": ["a"], "$slice": 1}}}),
            vec!["`$slice`"],
        ),
        // Stored values of the wrong kind: the first record it fails on is named.
        (
            json!({"$inc": {"title": 1}}),
            vec!["record `t1`", "`title`", "nothing was changed"],
        ),
        (
            json!({"$push": {"title": "x"}}),
            vec!["`$push`", "`title`", "array"],
        ),
    ];
    for (data, needles) in cases {
        let answer = update_many(&api, Who::Key, "Task", json!({}), data.clone()).await;
        assert_eq!(answer.status, 400, "{data}: {}", answer.text);
        expect_error(&answer, 400, &needles);
    }

    // Bad queries, as a bad `q` is for a list.
    let answer = update_many(
        &api,
        Who::Key,
        "Task",
        json!({"status": {"$bogus": 1}}),
        json!({"$set": {"title": "x"}}),
    )
    .await;
    expect_error(&answer, 400, &["invalid query", "$bogus"]);
    let answer = delete_many(&api, Who::Key, "Task", json!({"status": {"$bogus": 1}})).await;
    expect_error(&answer, 400, &["invalid query", "$bogus"]);
    let answer = delete_many(&api, Who::Key, "Task", json!(["t1"])).await;
    expect_error(&answer, 400, &["invalid query", "object"]);

    // The body's shape.
    let body = |text: &str| Some(text.to_owned());
    for (text, needles) in [
        (
            r#"{"data": {"$set": {"title": "x"}}}"#,
            vec!["no `query`", "`{}` updates every record"],
        ),
        (
            r#"{"query": null, "data": {"$set": {"title": "x"}}}"#,
            vec!["no `query`"],
        ),
        (r#"{"query": {}}"#, vec!["no `data`"]),
        (r#"[]"#, vec!["JSON object"]),
        ("not json", vec!["not valid JSON"]),
    ] {
        let answer = call(
            &api,
            Who::Key,
            Method::PATCH,
            "Task",
            "/update-many",
            body(text),
        )
        .await;
        expect_error(&answer, 400, &needles);
    }
    let answer = call(&api, Who::Key, Method::DELETE, "Task", "", None).await;
    expect_error(
        &answer,
        400,
        &["needs the query", "`{}` deletes every record"],
    );

    assert_eq!(all(&emulator, "Task"), before);
    assert!(emulator.store().trash_ids("Task").is_empty());

    // Unknown entities are 404s, like every entity route.
    let answer = update_many(&api, Who::Key, "Nope", json!({}), json!({"$set": {"a": 1}})).await;
    expect_error(&answer, 404, &["`Nope`"]);
    let answer = delete_many(&api, Who::Key, "Nope", json!({})).await;
    expect_error(&answer, 404, &["`Nope`"]);
}
