//! The published `@base44/sdk` (tests/sdk, run with the machine's Node) against the emulator
//! serving `samples/tasks`: the reads of `Task` (list, sorted list, `$in`/`$gte` filter,
//! projection, get, count, the `v2/list` cursor pages) as the service role, as a signed-in user
//! and anonymously, each answer equal to what the emulator's store holds and its access rules
//! let the caller see; the writes (create, update, delete, bulk create, bulk update) as the
//! service role and as the user, each visible in the store; `auth.me`/`auth.updateMe`. This pins
//! the harness and the SDK against the emulator; the same calls then run against `offbase serve`.
//! Skipped when Node or the SDK is absent (`npm ci --prefix tests/sdk`), unless
//! OFFBASE_REQUIRE_CORPUS=1 as in CI.

use offbase_emulator::{DEFAULT_CREATED_BY, EMULATOR_USER_ID, Record, RunningEmulator};
use offbase_model::time::parse_timestamp;
use offbase_tests::sdk::{
    ReadIds, Sdk, WriteIds, auth_call, by_label, created_fields, entity_call, error_status,
    next_page, ok, task_reads, task_writes,
};
use offbase_tests::{EMULATOR_KEY, sample, start_emulator};
use serde_json::{Map, Value, json};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// The user the tests sign in as: the author of 25 tasks of `samples/tasks` and the assignee
/// of 37 (the `Task` read rule: `created_by` or `assignee_email` is the user's email).
const NINA: &str = "nina.young@brightloop.example";

/// An id no record has.
const MISSING: &str = "000000000000000000000000";

/// The emulator on `samples/tasks`, with a `User` record for [`NINA`] (the sample has no
/// `User` data) and her token.
async fn emulator() -> (RunningEmulator, String, String) {
    let emulator = start_emulator(&sample("tasks"), None).await;
    let mut fields = Map::new();
    fields.insert("email".to_owned(), json!(NINA));
    fields.insert("full_name".to_owned(), json!("Nina Young"));
    fields.insert("role".to_owned(), json!("user"));
    let user = emulator
        .store()
        .create("User", fields)
        .unwrap_or_else(|error| panic!("creating the user: {error}"));
    let user_id = text(&user, "id");
    let token = emulator.user_token(&user_id);
    (emulator, user_id, token)
}

fn text(record: &Record, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn id_of(value: &Value) -> String {
    value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Whether the `Task` read rule lets [`NINA`] see `record`.
fn nina_sees(record: &Record) -> bool {
    text(record, "created_by") == NINA || text(record, "assignee_email") == NINA
}

/// `records` newest first (`-created_date` as instants: the data mixes the stored and the
/// `Z` forms; the sample's instants are all distinct, so ties never decide).
fn newest_first(records: &[Record]) -> Vec<Record> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|record| {
        let created = parse_timestamp(&text(record, "created_date"));
        (Reverse(created), text(record, "id"))
    });
    sorted
}

fn objects(records: &[Record]) -> Vec<Value> {
    records.iter().cloned().map(Value::Object).collect()
}

fn id_list(records: &[Record]) -> Vec<String> {
    records.iter().map(|record| text(record, "id")).collect()
}

/// The records the `filter in gte` call asks for: `status` todo or in_progress, numeric
/// `priority` >= 2.
fn in_gte(record: &Record) -> bool {
    matches!(
        record.get("status").and_then(Value::as_str),
        Some("todo" | "in_progress")
    ) && record
        .get("priority")
        .and_then(Value::as_f64)
        .is_some_and(|priority| priority >= 2.0)
}

fn is_done(record: &Record) -> bool {
    record.get("status").and_then(Value::as_str) == Some("done")
}

fn array<'a>(label: &str, value: &'a Value) -> &'a Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{label}: expected an array, got {value}"))
}

/// Asserts a 404 whose body is the emulator's `{"error": "no live Task record ..."}`.
fn assert_not_found(role: &str, label: &str, result: &Value, id: &str) {
    let label = format!("{role}: {label}");
    assert_eq!(error_status(&label, result), Some(404), "{label}: {result}");
    let body = result.pointer("/error/data/error").and_then(Value::as_str);
    assert_eq!(
        body,
        Some(format!("no live Task record has the id `{id}`").as_str()),
        "{label}: {result}"
    );
    let message = result.pointer("/error/message").and_then(Value::as_str);
    assert!(
        message.is_some_and(|message| !message.is_empty()),
        "{label}: {result}"
    );
}

/// Runs [`task_reads`] as one caller, then the page after `page 1`, and checks every answer
/// against `visible` (the live tasks the caller may read) and the store.
async fn check_reads(
    sdk: &Sdk,
    emulator: &RunningEmulator,
    role: &str,
    (token, service_token): (Option<&str>, Option<&str>),
    ids: &ReadIds<'_>,
    visible: &[Record],
) {
    let service = service_token.is_some();
    let url = emulator.api_url();
    let calls = task_reads(ids, service);
    let results = sdk
        .run(&url, emulator.app_id(), token, service_token, &calls)
        .await;
    let results = by_label(&calls, &results);
    let result = |label: &str| -> &Value {
        results
            .get(label)
            .unwrap_or_else(|| panic!("{role}: no result labelled {label}"))
    };
    let store = emulator.store();
    let visible_ids: BTreeSet<String> = ids_of(visible);
    let sorted = newest_first(visible);

    // list(): the default limit of 50, in no particular order; every record whole.
    let listed = array("list", ok("list", result("list")));
    assert_eq!(listed.len(), visible.len().min(50), "{role}: list() length");
    let listed_ids: BTreeSet<String> = listed.iter().map(id_of).collect();
    assert_eq!(
        listed_ids.len(),
        listed.len(),
        "{role}: list() repeats a record"
    );
    assert!(
        listed_ids.is_subset(&visible_ids),
        "{role}: list() returned records the caller may not read"
    );
    for record in listed {
        let stored = store.record("Task", &id_of(record)).map(Value::Object);
        assert_eq!(Some(record), stored.as_ref(), "{role}: list() record");
    }

    // list('-created_date', 5): the five newest, whole.
    assert_eq!(
        ok("list sorted", result("list sorted")),
        &Value::Array(objects(&sorted[..sorted.len().min(5)])),
        "{role}: list('-created_date', 5)"
    );

    // filter({status: {$in}, priority: {$gte: 2}}, '-created_date', 500).
    let filtered: Vec<Record> = sorted.iter().filter(|r| in_gte(r)).cloned().collect();
    let answer = array(
        "filter in gte",
        ok("filter in gte", result("filter in gte")),
    );
    assert_eq!(
        answer.iter().map(id_of).collect::<Vec<_>>(),
        id_list(&filtered),
        "{role}: filter with $in and $gte"
    );
    assert_eq!(answer, &objects(&filtered), "{role}: filter records");

    // filter({status: 'done'}, '-created_date', 3, 0, ['title', 'status']): id, title and
    // status only.
    let done: Vec<Record> = sorted.iter().filter(|r| is_done(r)).cloned().collect();
    let projected: Vec<Value> = done
        .iter()
        .take(3)
        .map(|record| {
            json!({"id": record["id"], "title": record["title"], "status": record["status"]})
        })
        .collect();
    let answer = array(
        "filter fields",
        ok("filter fields", result("filter fields")),
    );
    assert_eq!(answer, &projected, "{role}: filter with fields");
    for record in answer {
        let keys: Vec<&String> = record
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["id", "title", "status"], "{role}: projected fields");
    }

    // get(id): the record as stored, or a 404 for one the caller may not read or that does
    // not exist.
    for (label, id) in [("get known", ids.known), ("get hidden", ids.hidden)] {
        if visible_ids.contains(id) {
            let stored = store.record("Task", id).map(Value::Object);
            assert_eq!(
                Some(ok(label, result(label))),
                stored.as_ref(),
                "{role}: {label}"
            );
        } else {
            assert_not_found(role, label, result(label), id);
        }
    }
    assert_not_found(role, "get missing", result("get missing"), ids.missing);

    // count(query) and count(): numbers, what the SDK returns of `{count}`.
    assert_eq!(
        ok("count done", result("count done")),
        &json!(done.len()),
        "{role}: count({{status: 'done'}})"
    );
    assert_eq!(
        ok("count all", result("count all")),
        &json!(visible.len()),
        "{role}: count()"
    );

    // list({limit: 2}): the first v2/list page (newest first by default), then the next one
    // with its cursor.
    let page = ok("page 1", result("page 1"));
    let more = visible.len() > 2;
    assert_eq!(
        page["items"],
        json!(objects(&sorted[..sorted.len().min(2)])),
        "{role}: page 1"
    );
    assert_eq!(page["has_more"], json!(more), "{role}: page 1 has_more");
    let Some(cursor) = page["next_cursor"].as_str() else {
        assert!(!more, "{role}: page 1 has more but no cursor: {page}");
        assert_eq!(page["next_cursor"], Value::Null, "{role}: page 1 cursor");
        return;
    };
    let calls = [next_page(cursor, service)];
    let results = sdk
        .run(&url, emulator.app_id(), token, service_token, &calls)
        .await;
    let page = ok("page 2", &results[0]);
    assert_eq!(
        page["items"],
        json!(objects(&sorted[2..sorted.len().min(4)])),
        "{role}: page 2"
    );
    assert_eq!(
        page["has_more"],
        json!(visible.len() > 4),
        "{role}: page 2 has_more"
    );
}

fn ids_of(records: &[Record]) -> BTreeSet<String> {
    records.iter().map(|record| text(record, "id")).collect()
}

/// A known task Nina may read, one she may not, and every live task.
fn read_targets(emulator: &RunningEmulator) -> (String, String, Vec<Record>) {
    let tasks = emulator.store().live_records("Task");
    let known = tasks.iter().find(|r| nina_sees(r)).map(|r| text(r, "id"));
    let hidden = tasks.iter().find(|r| !nina_sees(r)).map(|r| text(r, "id"));
    let (Some(known), Some(hidden)) = (known, hidden) else {
        panic!("samples/tasks has no task Nina sees, or none she does not");
    };
    (known, hidden, tasks)
}

#[tokio::test]
async fn sdk_reads_as_the_service_role_a_user_and_anonymously() {
    let Some(sdk) = Sdk::find_or_skip("sdk_reads_as_the_service_role_a_user_and_anonymously")
    else {
        return;
    };
    let (emulator, _, token) = emulator().await;
    let (known, hidden, tasks) = read_targets(&emulator);
    assert_eq!(tasks.len(), 400, "samples/tasks' Task data");
    let instants: BTreeSet<_> = tasks
        .iter()
        .map(|record| parse_timestamp(&text(record, "created_date")))
        .collect();
    assert_eq!(
        instants.len(),
        tasks.len(),
        "two tasks share a created_date"
    );
    let nina: Vec<Record> = tasks.iter().filter(|r| nina_sees(r)).cloned().collect();
    let ids = ReadIds {
        known: &known,
        hidden: &hidden,
        missing: MISSING,
    };

    check_reads(
        &sdk,
        &emulator,
        "service role",
        (None, Some(EMULATOR_KEY)),
        &ids,
        &tasks,
    )
    .await;
    check_reads(&sdk, &emulator, "user", (Some(&token), None), &ids, &nina).await;
    // `Task` is readable by its author, its assignee and admins: an anonymous visitor reads
    // nothing.
    check_reads(&sdk, &emulator, "anonymous", (None, None), &ids, &[]).await;

    // ...but `Project` is readable by everyone.
    let calls = [entity_call(
        "projects",
        "Project",
        "list",
        json!(["-created_date", 5]),
        false,
    )];
    let results = sdk
        .run(&emulator.api_url(), emulator.app_id(), None, None, &calls)
        .await;
    let projects = newest_first(&emulator.store().live_records("Project"));
    assert_eq!(
        ok("anonymous: projects", &results[0]),
        &json!(objects(&projects[..5])),
        "anonymous: Project.list('-created_date', 5)"
    );
    emulator.shutdown().await;
}

/// Strips the timestamps, which a write answers in the fresh form (`...Z`) and the store keeps
/// in the stored form.
fn without_timestamps(value: &Value) -> Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        object.remove("created_date");
        object.remove("updated_date");
    }
    value
}

/// Checks that a written record as answered is the one stored, apart from the form of its
/// timestamps, which the answer gives with a `Z`.
fn assert_stored(emulator: &RunningEmulator, label: &str, written: &Value) {
    let stored = emulator
        .store()
        .record("Task", &id_of(written))
        .map(Value::Object)
        .unwrap_or_else(|| panic!("{label}: {} is not in the store", id_of(written)));
    assert_eq!(
        without_timestamps(written),
        without_timestamps(&stored),
        "{label}: the answer is not the stored record"
    );
    assert!(
        written["updated_date"]
            .as_str()
            .is_some_and(|date| date.ends_with('Z')),
        "{label}: updated_date {}",
        written["updated_date"]
    );
}

/// Runs [`task_writes`] (plus `extra` calls) as one caller on `targets` and checks each
/// answer and the store; `creator` is who creates are made for (`created_by`,
/// `created_by_id`). Returns the results by label.
async fn check_writes(
    sdk: &Sdk,
    emulator: &RunningEmulator,
    role: &str,
    (token, service_token): (Option<&str>, Option<&str>),
    targets: &[String; 4],
    creator: (&str, &str),
    extra: Vec<Value>,
) -> BTreeMap<String, Value> {
    let store = emulator.store();
    let before: BTreeMap<String, Record> = targets
        .iter()
        .filter_map(|id| store.record("Task", id).map(|record| (id.clone(), record)))
        .collect();
    let live_before = store.live_ids("Task");
    let [update, delete, first, second] = targets;
    let ids = WriteIds {
        update,
        delete,
        bulk_update: [first, second],
    };
    let mut calls = task_writes(&ids, service_token.is_some());
    calls.extend(extra);
    let results = sdk
        .run(
            &emulator.api_url(),
            emulator.app_id(),
            token,
            service_token,
            &calls,
        )
        .await;
    let results = by_label(&calls, &results);
    let result = |label: &str| -> &Value {
        results
            .get(label)
            .unwrap_or_else(|| panic!("{role}: no result labelled {label}"))
    };

    // create: a new id, the declared fields sent, the undeclared one dropped, the creator.
    let created = ok("create", result("create"));
    let created_id = id_of(created);
    assert!(
        !created_id.is_empty() && !live_before.contains(&created_id),
        "{role}: create gave no new id: {created}"
    );
    let sent = created_fields();
    for field in ["title", "status", "priority", "tags"] {
        assert_eq!(created[field], sent[field], "{role}: created {field}");
    }
    assert!(
        created.get("not_in_schema").is_none(),
        "{role}: undeclared field kept: {created}"
    );
    assert_eq!(
        created["created_by"],
        json!(creator.0),
        "{role}: created_by"
    );
    assert_eq!(
        created["created_by_id"],
        json!(creator.1),
        "{role}: created_by_id"
    );
    assert_stored(emulator, &format!("{role}: create"), created);

    // update: the fields sent merged into the record, the rest unchanged.
    let updated = ok("update", result("update"));
    let mut expected = before
        .get(update)
        .cloned()
        .unwrap_or_else(|| panic!("{role}: {update} was not live"));
    expected.insert("status".to_owned(), json!("done"));
    expected.insert("title".to_owned(), json!("Updated through the SDK"));
    assert_eq!(
        without_timestamps(updated),
        without_timestamps(&Value::Object(expected)),
        "{role}: update"
    );
    assert_stored(emulator, &format!("{role}: update"), updated);

    // delete: `{success: true}`, the record in the trash, then a 404.
    assert_eq!(
        ok("delete", result("delete")),
        &json!({"success": true}),
        "{role}: delete"
    );
    assert_eq!(
        store.record("Task", delete),
        None,
        "{role}: deleted record still live"
    );
    assert!(
        store.trash_ids("Task").contains(delete.as_str()),
        "{role}: not in the trash"
    );
    assert_not_found(role, "get deleted", result("get deleted"), delete);

    // bulkCreate: two new records, in order.
    let bulk = array("bulkCreate", ok("bulkCreate", result("bulkCreate")));
    let titles: Vec<&Value> = bulk.iter().map(|record| &record["title"]).collect();
    assert_eq!(
        titles,
        [&json!("Bulk one"), &json!("Bulk two")],
        "{role}: bulkCreate"
    );
    for record in bulk {
        assert!(
            !live_before.contains(&id_of(record)),
            "{role}: bulkCreate reused an id"
        );
        assert_eq!(
            record["created_by"],
            json!(creator.0),
            "{role}: bulk created_by"
        );
        assert_stored(emulator, &format!("{role}: bulkCreate"), record);
    }

    // bulkUpdate: each record its own change, in order.
    let bulk = array("bulkUpdate", ok("bulkUpdate", result("bulkUpdate")));
    for (record, (id, priority)) in bulk.iter().zip([(first, 1), (second, 3)]) {
        assert_eq!(&id_of(record), id, "{role}: bulkUpdate order");
        let mut expected = before.get(id).cloned().unwrap_or_default();
        expected.insert("priority".to_owned(), json!(priority));
        assert_eq!(
            without_timestamps(record),
            without_timestamps(&Value::Object(expected)),
            "{role}: bulkUpdate"
        );
        assert_stored(emulator, &format!("{role}: bulkUpdate"), record);
    }
    assert_eq!(bulk.len(), 2, "{role}: bulkUpdate");
    results
}

#[tokio::test]
async fn sdk_writes_and_auth_as_the_service_role_a_user_and_anonymously() {
    let Some(sdk) =
        Sdk::find_or_skip("sdk_writes_and_auth_as_the_service_role_a_user_and_anonymously")
    else {
        return;
    };
    let (emulator, user_id, token) = emulator().await;
    let (_, _, tasks) = read_targets(&emulator);
    let four = |sees: bool| -> [String; 4] {
        let ids: Vec<String> = tasks
            .iter()
            .filter(|r| nina_sees(r) == sees)
            .take(4)
            .map(|r| text(r, "id"))
            .collect();
        ids.try_into()
            .unwrap_or_else(|ids| panic!("four tasks with nina_sees = {sees}: {ids:?}"))
    };
    let theirs = four(false);
    let hers = four(true);

    // The service role, on four tasks Nina does not see: creates are the emulator's own.
    check_writes(
        &sdk,
        &emulator,
        "service role",
        (None, Some(EMULATOR_KEY)),
        &theirs,
        (DEFAULT_CREATED_BY, EMULATOR_USER_ID),
        Vec::new(),
    )
    .await;

    // The user, on four of her tasks; a task she cannot see is a 404 to update; her own
    // record through auth.me and auth.updateMe.
    let extra = vec![
        entity_call(
            "update hidden",
            "Task",
            "update",
            json!([theirs[0], {"title": "not hers"}]),
            false,
        ),
        auth_call("me", "me", json!([])),
        auth_call("updateMe", "updateMe", json!([{"full_name": "Nina Y."}])),
        auth_call("me again", "me", json!([])),
    ];
    let results = check_writes(
        &sdk,
        &emulator,
        "user",
        (Some(&token), None),
        &hers,
        (NINA, &user_id),
        extra,
    )
    .await;
    assert_not_found(
        "user",
        "update hidden",
        &results["update hidden"],
        &theirs[0],
    );
    let store = emulator.store();
    assert_eq!(
        store.record("Task", &theirs[0]).map(|r| text(&r, "title")),
        Some("Updated through the SDK".to_owned()),
        "user: the hidden task changed"
    );
    let me = ok("user: me", &results["me"]);
    assert_eq!(me["id"], json!(user_id), "user: auth.me() id");
    assert_eq!(me["email"], json!(NINA), "user: auth.me() email");
    assert_eq!(
        me["full_name"],
        json!("Nina Young"),
        "user: auth.me() full_name"
    );
    let updated = ok("user: updateMe", &results["updateMe"]);
    assert_eq!(
        updated["full_name"],
        json!("Nina Y."),
        "user: auth.updateMe()"
    );
    assert_eq!(
        store
            .record("User", &user_id)
            .map(|r| text(&r, "full_name")),
        Some("Nina Y.".to_owned()),
        "user: updateMe in the store"
    );
    let again = ok("user: me again", &results["me again"]);
    assert_eq!(
        without_timestamps(again),
        without_timestamps(
            &store
                .record("User", &user_id)
                .map(Value::Object)
                .unwrap_or_default()
        ),
        "user: auth.me() after updateMe"
    );

    // Anonymous: no `me` (401); `Project` writes need its owner (403); signing in as a user
    // whose record keeps no password hash is refused like a wrong password (401).
    let calls = [
        auth_call("me", "me", json!([])),
        entity_call(
            "create project",
            "Project",
            "create",
            json!([{"name": "Anonymous project"}]),
            false,
        ),
        auth_call(
            "login",
            "loginViaEmailPassword",
            json!([NINA, "not-a-password"]),
        ),
    ];
    let projects_before = store.live_ids("Project");
    let results = sdk
        .run(&emulator.api_url(), emulator.app_id(), None, None, &calls)
        .await;
    let results = by_label(&calls, &results);
    assert_eq!(error_status("anonymous: me", &results["me"]), Some(401));
    assert_eq!(
        error_status("anonymous: create project", &results["create project"]),
        Some(403)
    );
    assert_eq!(
        store.live_ids("Project"),
        projects_before,
        "anonymous: a project was created"
    );
    assert_eq!(
        error_status("anonymous: login", &results["login"]),
        Some(401)
    );
    emulator.shutdown().await;
}
