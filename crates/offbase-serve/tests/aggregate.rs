//! `aggregate(spec)` (`POST .../entities/{Entity}/aggregate`) answered alike by the emulator
//! (in memory) and by `offbase serve` (one grouped `SELECT` under row level security), over
//! the same app: `samples/tasks` with a user and an admin, migrated into PostgreSQL, the
//! emulator started on the sample minus the records the load rejected (as
//! `tests/serve_sdk.rs` does), so every group counts the same records on both sides.
//!
//! Rows must be equal, field order included, floats within 1e-9 relative (the emulator adds
//! floats, PostgreSQL adds `numeric`s). One difference is by design (docs/serve.md) and
//! normalised here: a timestamp (`min_created_date`) reads in the platform's stored form from
//! PostgreSQL, while the emulator echoes the text it was given (some records carry `Z`).

mod common;

use common::{
    ADA, ADA_ID, Both, NINA, NINA_ID, drop_schema, migrate_folder, serve_config, stage_sample,
    start_emulator, start_server, unique_schema,
};
use offbase_pipeline::compare::canonical::platform_timestamp;
use offbase_serve::{ServeConfig, TokenSecret};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;

const KEY: &str = "serve-aggregate-key";
const SECRET: &[u8] = b"serve-aggregate-secret";

/// `samples/tasks` (schemas and data) in `app`, with a user (Nina) and an admin (Ada).
fn stage_app(app: &Path) {
    let users = [
        json!({"id": NINA_ID, "created_date": "2025-07-25T08:00:00.000000", "updated_date": "2025-07-25T08:00:00.000000", "email": NINA, "full_name": "Nina Young", "role": "user"}),
        json!({"id": ADA_ID, "created_date": "2025-07-01T08:00:00.000000", "updated_date": "2025-07-01T08:00:00.000000", "email": ADA, "full_name": "Ada Admin", "role": "admin"}),
    ];
    stage_sample(app, &users);
}

/// Takes out of `app`'s data the records the load rejected (`reports/rejects/`), so the
/// emulator serves what PostgreSQL holds. Returns how many it took out.
fn drop_rejected(app: &Path, workspace: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(workspace.join("reports/rejects")) else {
        return 0;
    };
    let mut dropped = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(entity) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let rejected: BTreeSet<String> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|reject| reject["id"].as_str().map(str::to_owned))
            .collect();
        if rejected.is_empty() {
            continue;
        }
        let data = app.join("data").join(format!("{entity}.jsonl"));
        let text = std::fs::read_to_string(&data).unwrap_or_default();
        let kept: Vec<&str> = text
            .lines()
            .filter(|line| {
                serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|record| record["id"].as_str().map(str::to_owned))
                    .is_none_or(|id| !rejected.contains(&id))
            })
            .collect();
        dropped += text.lines().count() - kept.len();
        std::fs::write(&data, kept.join("\n") + "\n")
            .unwrap_or_else(|error| panic!("{}: {error}", data.display()));
    }
    dropped
}

/// The emulator over the staged sample (less the rejected records), and `offbase serve` over
/// it migrated into `schema`; with how many records the load rejected.
async fn start_both(schema: &str) -> (Both, usize) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let app = folder.path().join("app");
    let workspace = folder.path().join("workspace");
    stage_app(&app);
    migrate_folder(app.clone(), &workspace, schema, "the staged sample").await;
    let dropped = drop_rejected(&app, &workspace);
    let emulator = start_emulator(&app, KEY).await;
    let server = start_server(ServeConfig {
        token_secret: Some(TokenSecret::new(SECRET)),
        ..serve_config(schema, &workspace, emulator.app_id(), KEY)
    })
    .await;
    (Both::new(folder, emulator, server), dropped)
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
enum Who {
    Key,
    User(&'static str),
    Anonymous,
}

impl Both {
    /// The status and JSON body of the aggregate of `body` on `entity`, from each.
    async fn ask(&self, who: Who, entity: &str, body: &str) -> ((u16, Value), (u16, Value)) {
        let app = self.emulator.app_id();
        let emulator_token = match who {
            Who::User(id) => Some(self.emulator.user_token(id)),
            _ => None,
        };
        let server_token = match who {
            Who::User(id) => Some(TokenSecret::new(SECRET).issue(app, id)),
            _ => None,
        };
        let old = self
            .post(&self.emulator.api_url(), entity, body, who, emulator_token)
            .await;
        let new = self
            .post(&self.server.api_url(), entity, body, who, server_token)
            .await;
        (old, new)
    }

    async fn post(
        &self,
        base: &str,
        entity: &str,
        body: &str,
        who: Who,
        token: Option<String>,
    ) -> (u16, Value) {
        let url = format!(
            "{base}/api/apps/{}/entities/{entity}/aggregate",
            self.emulator.app_id()
        );
        let mut request = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        request = match (who, token) {
            (Who::Key, _) => request.header("api_key", KEY),
            (Who::User(_), Some(token)) => request.bearer_auth(token),
            _ => request,
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {url}: {error}"));
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("POST {url}: {error}"));
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "POST {url}: not JSON ({error}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, body)
    }
}

/// Equal JSON, object keys in the same order, floats within 1e-9 relative.
fn close(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(left), Value::Number(right)) => match (left.as_f64(), right.as_f64()) {
            (Some(left), Some(right)) => {
                (left - right).abs() <= 1e-9 * left.abs().max(right.abs()).max(1.0)
            }
            _ => left == right,
        },
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len() && left.iter().zip(right).all(|(l, r)| close(l, r))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.keys().eq(right.keys())
                && left.iter().all(|(key, value)| close(value, &right[key]))
        }
        _ => actual == expected,
    }
}

/// The emulator's timestamps of `fields` in every row, in the stored form PostgreSQL reads
/// them back in (the difference by design).
fn stored_timestamps(mut answer: Value, fields: &[&str]) -> Value {
    if let Some(rows) = answer["rows"].as_array_mut() {
        for row in rows {
            for field in fields {
                if let Some(Value::String(text)) = row.get(*field) {
                    let stored = platform_timestamp(text).unwrap_or_else(|| text.clone());
                    row[*field] = Value::String(stored);
                }
            }
        }
    }
    answer
}

/// Both answered 200 with the same rows (at least one) and the same `truncated`.
fn same_rows(
    label: &str,
    ((old_status, old), (new_status, new)): ((u16, Value), (u16, Value)),
) -> Value {
    assert_eq!(
        (old_status, new_status),
        (200, 200),
        "{label}: emulator {old} / serve {new}"
    );
    assert!(
        old["rows"].as_array().is_some_and(|rows| !rows.is_empty()),
        "{label}: no rows, nothing compared: {old}"
    );
    assert!(
        close(&new, &old),
        "{label}: offbase serve and the emulator differ\n serve    {new}\n emulator {old}"
    );
    new
}

fn same_error(
    label: &str,
    ((old_status, old), (new_status, new)): ((u16, Value), (u16, Value)),
    status: u16,
) {
    assert_eq!(
        (old_status, new_status),
        (status, status),
        "{label}: emulator {old} / serve {new}"
    );
    assert_eq!(old["error"], new["error"], "{label}: the same message");
}

#[tokio::test]
async fn aggregates_answer_as_the_emulator_does() {
    let schema = unique_schema("aggregate");
    let (both, dropped) = start_both(&schema).await;
    assert!(
        dropped > 0,
        "the load rejected no record: the sample changed"
    );

    let specs = [
        (
            "by status, every measure",
            json!({"groupBy": "status", "sum": "estimateHours", "avg": "estimateHours",
                   "min": "estimateHours", "max": "estimateHours"}),
        ),
        (
            "two fields",
            json!({"groupBy": ["status", "priority"], "sum": "priority"}),
        ),
        (
            "day",
            json!({"dateBucket": {"field": "created_date", "unit": "day"}}),
        ),
        (
            "week",
            json!({"dateBucket": {"field": "created_date", "unit": "week"}, "avg": "estimateHours"}),
        ),
        (
            "month",
            json!({"dateBucket": {"field": "created_date", "unit": "month"}, "groupBy": "status"}),
        ),
        (
            "year of updated_date",
            json!({"dateBucket": {"field": "updated_date", "unit": "year"}}),
        ),
        (
            "month of a date field",
            json!({"dateBucket": {"field": "due_date", "unit": "month"}, "max": "due_date",
                   "min": "title"}),
        ),
        (
            "distinct values, one total row",
            json!({"countDistinct": ["project_id", "assignee_email", "tags"],
                   "sum": "estimateHours"}),
        ),
        (
            "having",
            json!({"groupBy": "project_id", "having": {"count": {"$gt": 20}}}),
        ),
        (
            "having on a sum, or",
            json!({"groupBy": "assignee_email", "sum": "estimateHours",
                   "having": {"$or": [{"sum_estimateHours": {"$gte": 100}},
                                      {"assignee_email": null}]}}),
        ),
        (
            "sort on a computed field, limit",
            json!({"groupBy": "project_id", "sort": "-count", "limit": 5,
                   "avg": "estimateHours"}),
        ),
        (
            "sort on a group field, descending",
            json!({"groupBy": ["assignee_email", "status"], "sort": "-assignee_email",
                   "count": false, "max": "estimateHours"}),
        ),
        (
            "query",
            json!({"query": {"status": "done", "estimateHours": {"$gte": 2}},
                   "groupBy": "priority", "sum": "estimateHours"}),
        ),
        ("arrays group whole", json!({"groupBy": "tags"})),
        (
            "no measure but the keys",
            json!({"groupBy": "status", "count": false}),
        ),
    ];
    for (label, spec) in &specs {
        let answer = same_rows(label, both.ask(Who::Key, "Task", &spec.to_string()).await);
        if *label == "sort on a computed field, limit" {
            assert_eq!(answer["truncated"], json!(true), "{label}");
            assert_eq!(answer["rows"].as_array().map(Vec::len), Some(5), "{label}");
        }
    }

    // Timestamps read in the stored form from PostgreSQL (the difference by design).
    let spec = json!({"groupBy": "project_id", "min": "created_date", "max": "updated_date"});
    let (old, new) = both.ask(Who::Key, "Task", &spec.to_string()).await;
    same_rows(
        "timestamps",
        (
            (
                old.0,
                stored_timestamps(old.1, &["min_created_date", "max_updated_date"]),
            ),
            new,
        ),
    );

    // Another entity, with an enum and a `having` on an average.
    same_rows(
        "projects",
        both.ask(
            Who::Key,
            "Project",
            &json!({"groupBy": "status", "having": {"count": {"$gte": 1}}}).to_string(),
        )
        .await,
    );

    // As a user: the groups of the records the rules let her read; the admin reads all; an
    // anonymous visitor none.
    let spec = json!({"groupBy": "status", "sum": "estimateHours", "avg": "estimateHours"});
    let hers = same_rows(
        "as Nina",
        both.ask(Who::User(NINA_ID), "Task", &spec.to_string())
            .await,
    );
    let (_, all) = both.ask(Who::Key, "Task", r#"{"count": true}"#).await;
    let (_, counted) = both.ask(Who::User(NINA_ID), "Task", "{}").await;
    let total: u64 = hers["rows"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|row| row["count"].as_u64()).sum())
        .unwrap_or_default();
    assert_eq!(counted.1["rows"][0]["count"].as_u64(), Some(total));
    assert!(
        total > 0 && Some(total) < all.1["rows"][0]["count"].as_u64(),
        "Nina reads some tasks, not all: {hers}"
    );
    same_rows(
        "as Ada",
        both.ask(Who::User(ADA_ID), "Task", &spec.to_string()).await,
    );
    same_rows(
        "anonymous",
        both.ask(Who::Anonymous, "Task", r#"{"sum": "estimateHours"}"#)
            .await,
    );
    let (old, new) = both
        .ask(Who::Anonymous, "Task", r#"{"groupBy": "status"}"#)
        .await;
    assert_eq!((old.0, new.0), (200, 200));
    assert_eq!(old.1, json!({"rows": [], "truncated": false}));
    assert_eq!(new.1, old.1, "anonymous, grouped");

    // Refused alike, with the same message.
    for (label, body) in [
        ("unknown field", r#"{"groupBy": "nope"}"#),
        ("a field outside the schema", r#"{"groupBy": "sprint"}"#),
        (
            "five fields",
            r#"{"groupBy": ["status", "priority", "project_id", "title", "tags"]}"#,
        ),
        (
            "bad unit",
            r#"{"dateBucket": {"field": "created_date", "unit": "hour"}}"#,
        ),
        (
            "week of a date field",
            r#"{"dateBucket": {"field": "due_date", "unit": "week"}}"#,
        ),
        ("sum of text", r#"{"sum": "title"}"#),
        (
            "having on a missing field",
            r#"{"having": {"avg_estimateHours": {"$gt": 1}}}"#,
        ),
        ("bad limit", r#"{"limit": -1}"#),
        ("bad query", r#"{"query": {"status": {"$bogus": 1}}}"#),
        ("not JSON", r#"{"groupBy": "#),
    ] {
        same_error(label, both.ask(Who::Key, "Task", body).await, 400);
    }
    let ((old_status, _), (new_status, _)) = both.ask(Who::Key, "Nothing", "{}").await;
    assert_eq!((old_status, new_status), (404, 404), "unknown entity");

    both.shutdown().await;
    drop_schema(&schema).await;
}
