//! The published `@base44/sdk` (tests/sdk, run with the machine's Node) against the emulator
//! and against `offbase serve` over the same migrated app: `samples/tasks` with two users (a
//! user and an admin), its records as the load kept them. The same calls, as the service
//! role, the user, the admin and an anonymous visitor, must give the same answers on both:
//! records, counts and errors (by status), reads first, then writes (create, update, delete,
//! bulk create and update, `updateMany`, `deleteMany`, `User/me` and `updateMe`), with the
//! sample's access rules (`Task`: its author, assignee or an admin reads it; `Project`: its
//! owner or an admin writes it).
//!
//! What differs by design is normalised, and only that (docs/serve.md): an explicit `null` is
//! a missing field, timestamps compare in the stored form, a `time` reads with seconds; a
//! record created here has a fresh id and fresh timestamps on each side (their presence and
//! form are checked, not their values); the service role's creates carry no `created_by` on
//! the server.

use offbase_emulator::{DEFAULT_CREATED_BY, EMULATOR_USER_ID};
use offbase_pipeline::compare::canonical::platform_timestamp;
use offbase_tests::EMULATOR_KEY;
use offbase_tests::sdk::{
    ReadIds, Sdk, WriteIds, auth_call, by_label, entity_call, file_argument, task_reads,
    task_writes,
};
use offbase_tests::staging::{ADA_ID, NINA, NINA_ID, NINA_PASSWORD, TasksOnBoth};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const TOKEN_SECRET: &[u8] = b"serve-sdk-test-secret";
const MISSING: &str = "000000000000000000000000";

/// When the test began, in the stored form: later timestamps are the test's own writes.
static TEST_START: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What a write made anew on each side, which the comparison leaves to each.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fresh {
    /// A read: nothing.
    Nothing,
    /// An update: `updated_date` (now).
    Updated,
    /// A create: the id and both timestamps.
    Created,
}

impl Fresh {
    fn of(label: &str) -> Fresh {
        match label {
            "create" | "bulkCreate" => Fresh::Created,
            "update" | "bulkUpdate" | "project update" | "update me" => Fresh::Updated,
            _ => Fresh::Nothing,
        }
    }

    fn hides(self, field: &str) -> bool {
        match self {
            Fresh::Nothing => false,
            Fresh::Updated => field == "updated_date",
            Fresh::Created => matches!(field, "id" | "created_date" | "updated_date"),
        }
    }
}

/// A result as the server can give it (see the module doc), without what `fresh` made anew.
fn normal(value: &Value, fresh: Fresh) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|item| normal(item, fresh)).collect()),
        Value::Object(record) => {
            // A record an earlier round created: its id is each side's own, and the service
            // role's creates carry the emulator's own creator.
            let created_here = record
                .get("created_date")
                .and_then(Value::as_str)
                .and_then(platform_timestamp)
                .is_some_and(|stored| TEST_START.get().is_some_and(|start| stored >= *start));
            normal_record(record, fresh, created_here)
        }
        other => other.clone(),
    }
}

fn normal_record(
    record: &serde_json::Map<String, Value>,
    fresh: Fresh,
    created_here: bool,
) -> Value {
    Value::Object(
        record
            .iter()
            .filter(|(_, value)| !value.is_null())
            .filter(|(field, _)| !fresh.hides(field))
            .filter(|(field, _)| !(created_here && field.as_str() == "id"))
            // A cursor is each server's own opaque text.
            .filter(|(field, _)| field.as_str() != "next_cursor")
            .filter(|(field, value)| {
                !matches!(
                    (field.as_str(), value.as_str()),
                    ("created_by", Some(DEFAULT_CREATED_BY))
                        | ("created_by_id", Some(EMULATOR_USER_ID))
                )
            })
            .map(|(field, value)| {
                let value = match (field.as_str(), value) {
                    ("created_date" | "updated_date", Value::String(text)) => {
                        let stored = platform_timestamp(text).unwrap_or(text.clone());
                        // Written during the test: each side at its own instant.
                        if TEST_START.get().is_some_and(|start| stored >= *start) {
                            Value::String("(written by the test)".to_owned())
                        } else {
                            Value::String(stored)
                        }
                    }
                    ("due_time", Value::String(text)) if text.len() == 5 => {
                        Value::String(format!("{text}:00"))
                    }
                    (_, value) => normal(value, Fresh::Nothing),
                };
                (field.clone(), value)
            })
            .collect(),
    )
}

/// What two results must share: an error's status, a value's normal form.
fn comparable(result: &Value, fresh: Fresh) -> Value {
    match result.get("error") {
        Some(error) => json!({"status": error["status"]}),
        None => normal(&result["ok"], fresh),
    }
}

/// A write's fresh timestamps end in `Z` on both sides (the form the platform answers with).
fn stamps_are_fresh(label: &str, result: &Value) {
    let records: Vec<&Value> = match &result["ok"] {
        Value::Array(items) => items.iter().collect(),
        record @ Value::Object(_) => vec![record],
        _ => Vec::new(),
    };
    for record in records {
        let stamp = record["updated_date"].as_str().unwrap_or_default();
        assert!(
            stamp.ends_with('Z'),
            "{label}: updated_date {stamp:?} is not fresh"
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Service,
    Nina,
    Ada,
    Anonymous,
}

impl Who {
    fn user_id(self) -> Option<&'static str> {
        match self {
            Who::Nina => Some(NINA_ID),
            Who::Ada => Some(ADA_ID),
            Who::Service | Who::Anonymous => None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_gets_the_same_answers_from_offbase_serve_as_from_the_platform() {
    let Some(sdk) = Sdk::find_or_skip("serve_sdk") else {
        return;
    };
    let _ = TEST_START.set(offbase_model::time::format_stored(chrono::Utc::now()));
    let both = TasksOnBoth::start("serve_sdk", TOKEN_SECRET, None).await;
    let (emulator, server, secret) = (&both.emulator, &both.server, &both.secret);
    let app_id = emulator.app_id().to_owned();

    // Ids from the data: a task Nina reads (hers), one she does not, and writes' targets.
    let tasks = emulator.store().live_records("Task");
    let id = |record: &serde_json::Map<String, Value>| {
        record["id"].as_str().unwrap_or_default().to_owned()
    };
    let nina_sees = |record: &&serde_json::Map<String, Value>| {
        record["created_by"] == NINA || record.get("assignee_email") == Some(&json!(NINA))
    };
    // Tasks nothing refers to: PostgreSQL holds the references the load inferred, so deleting
    // a referenced record is refused there (409), as pinned at the end.
    let mut referenced: BTreeSet<String> = emulator
        .store()
        .live_records("Comment")
        .iter()
        .filter_map(|comment| comment.get("task_id")?.as_str().map(str::to_owned))
        .collect();
    referenced.extend(
        tasks
            .iter()
            .filter_map(|task| task.get("parent_task_id")?.as_str().map(str::to_owned)),
    );
    let free = |record: &&serde_json::Map<String, Value>| !referenced.contains(&id(record));
    let hers: Vec<String> = tasks
        .iter()
        .filter(nina_sees)
        .filter(free)
        .map(id)
        .collect();
    let others: Vec<String> = tasks
        .iter()
        .filter(|record| !nina_sees(record))
        .filter(free)
        .map(id)
        .collect();
    let referenced_task = referenced
        .iter()
        .find(|task| tasks.iter().any(|record| &id(record) == *task))
        .cloned()
        .unwrap_or_default();
    assert!(hers.len() >= 8 && others.len() >= 12, "the sample changed");
    let projects = emulator.store().live_records("Project");
    let project = projects.first().map(id).unwrap_or_default();

    let mut compared = 0;
    for (round, who) in [Who::Service, Who::Nina, Who::Ada, Who::Anonymous]
        .into_iter()
        .enumerate()
    {
        let service = who == Who::Service;
        let known = if who == Who::Nina {
            &hers[0]
        } else {
            &others[0]
        };
        let mut calls: Vec<Value> = task_reads(
            &ReadIds {
                known,
                hidden: &others[1],
                missing: MISSING,
            },
            service,
        );
        calls.push(entity_call(
            "project list",
            "Project",
            "list",
            json!(["-created_date", 20]),
            service,
        ));
        calls.push(entity_call(
            "aggregate by status",
            "Task",
            "aggregate",
            json!([{"groupBy": "status", "sum": "estimateHours", "avg": "priority", "sort": "-count"}]),
            service,
        ));
        calls.push(entity_call(
            "aggregate by month",
            "Task",
            "aggregate",
            json!([{"dateBucket": {"field": "created_date", "unit": "month"}, "query": {"status": {"$ne": "done"}}, "countDistinct": "project_id"}]),
            service,
        ));
        calls.push(auth_call("me", "me", json!([])));
        // Writes: each round on its own records (a previous round's writes are already
        // made alike on both sides).
        let pick = |list: &[String], offset: usize| list[(offset + round * 2) % list.len()].clone();
        let (update, delete, first, second) = match who {
            Who::Nina => (
                pick(&hers, 1),
                pick(&hers, 2),
                pick(&hers, 3),
                pick(&hers, 4),
            ),
            _ => (
                pick(&others, 2),
                pick(&others, 3),
                pick(&others, 4),
                pick(&others, 5),
            ),
        };
        calls.extend(task_writes(
            &WriteIds {
                update: &update,
                delete: &delete,
                bulk_update: [&first, &second],
            },
            service,
        ));
        calls.push(entity_call(
            "project update",
            "Project",
            "update",
            json!([project, {"name": format!("Renamed in round {round}")}]),
            service,
        ));
        calls.push(entity_call(
            "update many",
            "Task",
            "updateMany",
            json!([{"status": "todo", "priority": 3}, {"$set": {"status": "in_progress"}, "$inc": {"estimateHours": 1}}]),
            service,
        ));
        // `importEntities(file)`: a CSV whose columns pair with fields by name (case, spaces
        // and punctuation aside), then two files the import refuses, all or nothing. Its two
        // records share their creation instant, so the second is one `delete many` removes
        // (the order of equal timestamps is each server's own).
        let csv = format!(
            "Title;Status;Priority;Due Date;Estimate Hours;tags;id\n\
             Imported in round {round};todo;2;2026-03-01;1.5;\"[\"\"csv\"\"]\";ignored\n\
             Bulk two;in_progress;;;;\"[\"\"a;b\"\"]\";\n"
        );
        calls.push(entity_call(
            "import",
            "Task",
            "importEntities",
            json!([file_argument("tasks.csv", &csv, "text/csv")]),
            service,
        ));
        calls.push(entity_call(
            "import bad value",
            "Task",
            "importEntities",
            json!([file_argument(
                "tasks.csv",
                "title,priority\nFine,1\nNot fine,high\n",
                "text/csv"
            )]),
            service,
        ));
        calls.push(entity_call(
            "import without title",
            "Task",
            "importEntities",
            json!([file_argument("tasks.csv", "status\ntodo\n", "text/csv")]),
            service,
        ));
        // Under the write rule of `Project` (its owner or an admin): one record it refuses
        // refuses the whole file.
        calls.push(entity_call(
            "import project",
            "Project",
            "importEntities",
            json!([file_argument(
                "projects.csv",
                &format!("Name,Owner Email\nImported {round},owner@example.com\n"),
                "text/csv"
            )]),
            service,
        ));
        calls.push(entity_call(
            "delete many",
            "Task",
            "deleteMany",
            json!([{"title": "Bulk two"}]),
            service,
        ));
        let title = format!("Upserted in round {round}");
        calls.push(entity_call(
            "upsert new",
            "Task",
            "upsert",
            json!([[{"title": title, "status": "todo"}], {"key": "title"}]),
            service,
        ));
        calls.push(entity_call(
            "upsert again",
            "Task",
            "upsert",
            json!([[{"title": title, "status": "done", "priority": 1}, {"title": format!("{title} too"), "status": "todo"}, {"title": title, "status": "in_progress"}], {"key": ["title"]}]),
            service,
        ));
        // Two tasks of the sample share this title: the key must identify one record.
        calls.push(entity_call(
            "upsert ambiguous",
            "Task",
            "upsert",
            json!([[{"title": "Write onboarding email", "status": "done"}], {"key": "title"}]),
            service,
        ));
        calls.push(entity_call(
            "upsert bad key",
            "Task",
            "upsert",
            json!([[{"nope": 1}], {"key": "nope"}]),
            service,
        ));
        calls.push(entity_call(
            "count after",
            "Task",
            "count",
            json!([]),
            service,
        ));
        calls.push(auth_call(
            "login wrong",
            "loginViaEmailPassword",
            json!([NINA, "not her password"]),
        ));
        calls.push(auth_call(
            "login",
            "loginViaEmailPassword",
            json!([NINA, NINA_PASSWORD]),
        ));
        calls.push(auth_call("me after login", "me", json!([])));
        calls.push(auth_call(
            "update me",
            "updateMe",
            json!([{"full_name": format!("Renamed {round}")}]),
        ));

        let (emulator_token, server_token) = match who.user_id() {
            Some(user) => (
                Some(emulator.user_token(user)),
                Some(secret.issue(&app_id, user)),
            ),
            None => (None, None),
        };
        let service_token = service.then_some(EMULATOR_KEY);
        let old = sdk
            .run(
                &emulator.api_url(),
                &app_id,
                emulator_token.as_deref(),
                service_token,
                &calls,
            )
            .await;
        let new = sdk
            .run(
                &server.api_url(),
                &app_id,
                server_token.as_deref(),
                service_token,
                &calls,
            )
            .await;
        // Equal answers must also be the right ones: the upserts and refusals checked here.
        let answers = by_label(&calls, &new);
        let again = &answers["upsert again"];
        // An anonymous visitor cannot read the task it created: its key finds nothing.
        let expected = if who == Who::Anonymous {
            (2, 0)
        } else {
            (1, 1)
        };
        assert_eq!(
            (&again["ok"]["created"], &again["ok"]["updated"]),
            (&json!(expected.0), &json!(expected.1)),
            "{who:?}: {again}"
        );
        assert_eq!(
            again["ok"]["records"][0]["status"], "in_progress",
            "{who:?}: {again}"
        );
        assert_eq!(answers["upsert bad key"]["error"]["status"], 400);
        let imported = &answers["import"]["ok"];
        assert_eq!(imported["status"], "success", "{who:?}: {imported}");
        assert_eq!(
            imported["details"],
            "Successfully imported 2 entities with RLS enforcement"
        );
        assert_eq!(
            imported["output"][0]["title"],
            format!("Imported in round {round}")
        );
        assert_eq!(imported["output"][0]["tags"], json!(["csv"]));
        assert_eq!(imported["output"][0]["estimateHours"], json!(1.5));
        assert_eq!(imported["output"][1]["tags"], json!(["a;b"]));
        assert_eq!(
            answers["import bad value"]["ok"],
            json!({"status": "error", "details": "tasks.csv:3: column `priority` (field `priority`): expected an integer: `high`", "output": null})
        );
        assert_eq!(answers["import without title"]["ok"]["status"], "error");
        assert_eq!(answers["login wrong"]["error"]["status"], 401);
        assert_eq!(answers["login"]["ok"]["user"]["email"], NINA, "{who:?}");
        assert_eq!(answers["me after login"]["ok"]["id"], NINA_ID, "{who:?}");
        if matches!(who, Who::Service | Who::Ada) {
            assert_eq!(answers["upsert ambiguous"]["error"]["status"], 409);
            assert_eq!(
                answers["project update"]["ok"]["name"],
                format!("Renamed in round {round}")
            );
        }
        let project_import = match who {
            Who::Service | Who::Ada => json!("success"),
            Who::Nina | Who::Anonymous => json!(null),
        };
        assert_eq!(
            answers["import project"]["ok"]["status"], project_import,
            "{who:?}: {}",
            answers["import project"]
        );
        if who == Who::Nina {
            assert_eq!(answers["import project"]["error"]["status"], 403);
            assert_eq!(answers["project update"]["error"]["status"], 403);
            assert_eq!(answers["get hidden"]["error"]["status"], 404);
        }
        for ((call, old), new) in calls.iter().zip(&old).zip(&new) {
            let label = format!("{who:?} {}", call["label"].as_str().unwrap_or_default());
            let fresh = Fresh::of(call["label"].as_str().unwrap_or_default());
            let (left, right) = (comparable(old, fresh), comparable(new, fresh));
            if call["label"] == "list" {
                // No sort: the platform promises no order, so which 50 come is its choice.
                assert_eq!(
                    left.as_array().map(Vec::len),
                    right.as_array().map(Vec::len),
                    "{label}"
                );
                continue;
            }
            assert!(
                left == right,
                "{label}:\n emulator {left}\n server   {right}"
            );
            if old.get("ok").is_some() && fresh != Fresh::Nothing {
                stamps_are_fresh(&format!("{label} (emulator)"), old);
                stamps_are_fresh(&format!("{label} (server)"), new);
            }
            compared += 1;
        }
    }
    assert!(compared > 60, "{compared} answers compared");
    println!("{compared} answers of the SDK compared, equal on both");

    // The one difference by design in writes: a record other records refer to.
    let calls = [entity_call(
        "delete referenced",
        "Task",
        "delete",
        json!([referenced_task]),
        true,
    )];
    let answers = sdk
        .run(&server.api_url(), &app_id, None, Some(EMULATOR_KEY), &calls)
        .await;
    assert_eq!(answers[0]["error"]["status"], 409, "{}", answers[0]);
    let message = answers[0]["error"]["data"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("other records still refer to it"),
        "{message}"
    );
    both.stop().await;
}
