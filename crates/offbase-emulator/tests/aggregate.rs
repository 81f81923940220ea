//! `POST .../entities/{Entity}/aggregate` (the SDK's `aggregate(spec)`) over real HTTP, on the
//! `tasks` sample with two users added (a user and an admin): the exact rows of groupings,
//! computed fields, date buckets, `having`, `sort`, `limit` and `query`; the records a user
//! may read, and none for an anonymous visitor; refused specs (400) and unknown entities (404).
//!
//! One file: every test reads the one staged app and its users.

mod common;

use common::{Answer, Api, config, sample, sample_records, start};
use offbase_emulator::{RateLimits, Route, RunningEmulator};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::path::Path;

const NINA: &str = "nina.young@brightloop.example";
const NINA_ID: &str = "68833980ae54b1fc49cfdc41";
const ADA_ID: &str = "6650e44a00000000000000ad";

/// `samples/tasks` with a user (Nina, who reads the tasks she wrote or is assigned) and an
/// admin (Ada, who reads every task).
fn staged_app() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    copy_folder(
        &sample("tasks").join("base44"),
        &folder.path().join("base44"),
    );
    copy_folder(&sample("tasks").join("data"), &folder.path().join("data"));
    let users = [
        json!({"id": NINA_ID, "created_date": "2025-07-25T08:00:00.000000", "updated_date": "2025-07-25T08:00:00.000000", "email": NINA, "full_name": "Nina Young", "role": "user"}),
        json!({"id": ADA_ID, "created_date": "2025-07-01T08:00:00.000000", "updated_date": "2025-07-01T08:00:00.000000", "email": "ada.admin@brightloop.example", "full_name": "Ada Admin", "role": "admin"}),
    ];
    let lines: Vec<String> = users.iter().map(Value::to_string).collect();
    std::fs::write(
        folder.path().join("data/User.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    folder
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("{}: {error}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|error| panic!("{}: {error}", from.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_folder(&path, &target);
        } else {
            std::fs::copy(&path, &target)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        }
    }
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
enum Who {
    Key,
    User(&'static str),
    Anonymous,
}

async fn aggregate_as(api: &Api<'_>, who: Who, entity: &str, body: &str) -> Answer {
    let url = api.url(entity, "/aggregate");
    let request = match who {
        Who::Key => api.request(Method::POST, &url),
        Who::User(id) => api
            .client
            .post(&url)
            .bearer_auth(api.emulator.user_token(id)),
        Who::Anonymous => api.client.post(&url),
    };
    api.send(
        request
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

/// The answer to `spec` on Task, as the service role: `{rows, truncated}`.
async fn aggregate(api: &Api<'_>, spec: Value) -> Value {
    let answer = aggregate_as(api, Who::Key, "Task", &spec.to_string()).await;
    assert_eq!(answer.status, 200, "{spec}: {}", answer.text);
    answer.json()
}

/// Equal JSON, floats within 1e-9 relative.
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
            left.len() == right.len()
                && left.keys().eq(right.keys())
                && left.iter().all(|(key, value)| close(value, &right[key]))
        }
        _ => actual == expected,
    }
}

fn assert_close(label: &str, actual: &Value, expected: &Value) {
    assert!(
        close(actual, expected),
        "{label}:\n actual   {actual}\n expected {expected}"
    );
}

fn tasks() -> Vec<Map<String, Value>> {
    sample_records("tasks", "Task")
}

async fn emulator() -> (tempfile::TempDir, RunningEmulator) {
    let app = staged_app();
    let emulator = start(config(app.path())).await;
    (app, emulator)
}

#[tokio::test]
async fn groups_and_computed_fields_are_exact() {
    let (_app, emulator) = emulator().await;
    let api = Api::new(&emulator);

    // Text, null and missing are no numbers: `sum`/`avg` skip them; the statuses include one
    // outside the schema's enum (`blocked`), kept as stored.
    assert_close(
        "by status",
        &aggregate(
            &api,
            json!({"groupBy": "status", "sum": "estimateHours", "avg": "estimateHours",
                   "min": "estimateHours", "max": "estimateHours"}),
        )
        .await,
        &json!({"rows": [
            {"status": "blocked", "count": 3, "sum_estimateHours": 4.5, "avg_estimateHours": 4.5, "min_estimateHours": 4.5, "max_estimateHours": 4.5},
            {"status": "done", "count": 193, "sum_estimateHours": 657.5, "avg_estimateHours": 4.799270072992701, "min_estimateHours": 0.5, "max_estimateHours": 13},
            {"status": "in_progress", "count": 97, "sum_estimateHours": 336.5, "avg_estimateHours": 4.486666666666666, "min_estimateHours": 0.5, "max_estimateHours": 13},
            {"status": "todo", "count": 107, "sum_estimateHours": 363.5, "avg_estimateHours": 4.720779220779221, "min_estimateHours": 0.5, "max_estimateHours": 13},
        ], "truncated": false}),
    );

    // Two fields: ordered by both keys, null first, numbers before text.
    let rows = json!([
        {"status": "blocked", "priority": 1, "count": 1},
        {"status": "blocked", "priority": 2, "count": 2},
        {"status": "done", "priority": null, "count": 23},
        {"status": "done", "priority": 1, "count": 40},
        {"status": "done", "priority": 2, "count": 88},
        {"status": "done", "priority": 3, "count": 41},
        {"status": "done", "priority": "high", "count": 1},
        {"status": "in_progress", "priority": null, "count": 11},
        {"status": "in_progress", "priority": 1, "count": 21},
        {"status": "in_progress", "priority": 2, "count": 39},
        {"status": "in_progress", "priority": 3, "count": 26},
        {"status": "todo", "priority": null, "count": 7},
        {"status": "todo", "priority": 1, "count": 29},
        {"status": "todo", "priority": 2, "count": 42},
        {"status": "todo", "priority": 2.5, "count": 1},
        {"status": "todo", "priority": 3, "count": 28},
    ]);
    assert_eq!(
        aggregate(&api, json!({"groupBy": ["status", "priority"]})).await,
        json!({"rows": rows, "truncated": false})
    );

    // No grouping: one total row; distinct values without nulls.
    assert_eq!(
        aggregate(
            &api,
            json!({"countDistinct": ["project_id", "assignee_email"], "sum": "priority"})
        )
        .await["rows"],
        json!([{"count": 400, "sum_priority": 720.5, "count_distinct_project_id": 23,
                "count_distinct_assignee_email": 12}])
    );

    // `having` on the count, `query` before grouping, `max` of a date field (as text).
    assert_eq!(
        aggregate(
            &api,
            json!({"groupBy": "project_id", "having": {"count": {"$gt": 20}}, "count": true})
        )
        .await,
        json!({"rows": [
            {"project_id": "68e989f1ab8aec004aa1c82b", "count": 21},
            {"project_id": "68f86ce1a01210978787fb29", "count": 24},
            {"project_id": "68fc33ac00d17f4b5f96dcf0", "count": 27},
            {"project_id": "68fe1ddada053b643aea4f9b", "count": 21},
            {"project_id": "690babe727de4570070ce69a", "count": 23},
            {"project_id": "69194b77f94e6452921460de", "count": 24},
            {"project_id": "6928aa42add7854a6afe57c4", "count": 26},
            {"project_id": "6957d6266e518f8f7a696ef1", "count": 22},
            {"project_id": "696b3faf81e40625b0f6d613", "count": 22},
        ], "truncated": false})
    );
    assert_eq!(
        aggregate(
            &api,
            json!({"query": {"status": "done"}, "groupBy": "priority", "max": "due_date"})
        )
        .await["rows"],
        json!([
            {"priority": null, "count": 23, "max_due_date": "2026-03-17"},
            {"priority": 1, "count": 40, "max_due_date": "2026-04-16"},
            {"priority": 2, "count": 88, "max_due_date": "2026-04-14"},
            {"priority": 3, "count": 41, "max_due_date": "2026-05-04"},
            {"priority": "high", "count": 1, "max_due_date": "2026-03-06"},
        ])
    );

    // `sort` on a computed field, then `limit`: `truncated` tells more groups exist.
    assert_eq!(
        aggregate(
            &api,
            json!({"groupBy": "status", "sort": "-count", "limit": 2, "count": true})
        )
        .await,
        json!({"rows": [{"status": "done", "count": 193}, {"status": "todo", "count": 107}],
               "truncated": true})
    );
    assert_eq!(
        aggregate(
            &api,
            json!({"groupBy": "status", "sort": "status", "limit": 4})
        )
        .await["truncated"],
        json!(false)
    );

    assert_eq!(emulator.stats().responses(Route::Aggregate, 200), 7);
    emulator.shutdown().await;
}

/// The date of a timestamp text (UTC).
fn day_of(text: &str) -> chrono::NaiveDate {
    offbase_model::time::parse_timestamp(text)
        .unwrap_or_else(|| panic!("not a timestamp: {text}"))
        .date_naive()
}

#[tokio::test]
async fn date_buckets_start_their_day_week_month_or_year() {
    let (_app, emulator) = emulator().await;
    let api = Api::new(&emulator);

    assert_eq!(
        aggregate(
            &api,
            json!({"dateBucket": {"field": "created_date", "unit": "month"}})
        )
        .await,
        json!({"rows": [
            {"created_date": "2025-09-01", "count": 2},
            {"created_date": "2025-10-01", "count": 49},
            {"created_date": "2025-11-01", "count": 105},
            {"created_date": "2025-12-01", "count": 118},
            {"created_date": "2026-01-01", "count": 73},
            {"created_date": "2026-02-01", "count": 36},
            {"created_date": "2026-03-01", "count": 17},
        ], "truncated": false})
    );
    assert_eq!(
        aggregate(
            &api,
            json!({"dateBucket": {"field": "due_date", "unit": "month"}})
        )
        .await["rows"],
        json!([
            {"due_date": null, "count": 80},
            {"due_date": "2025-10-01", "count": 15},
            {"due_date": "2025-11-01", "count": 40},
            {"due_date": "2025-12-01", "count": 97},
            {"due_date": "2026-01-01", "count": 84},
            {"due_date": "2026-02-01", "count": 48},
            {"due_date": "2026-03-01", "count": 27},
            {"due_date": "2026-04-01", "count": 7},
            {"due_date": "2026-05-01", "count": 2},
        ])
    );
    assert_eq!(
        aggregate(
            &api,
            json!({"dateBucket": {"field": "updated_date", "unit": "year"}})
        )
        .await["rows"],
        json!([
            {"updated_date": "2025-01-01", "count": 225},
            {"updated_date": "2026-01-01", "count": 175},
        ])
    );

    // Days and ISO weeks, against the records' own dates: every record counted once, each
    // bucket its period's first day (a week from Monday), in order.
    let records = tasks();
    for (unit, start) in [
        (
            "day",
            (|day| day) as fn(chrono::NaiveDate) -> chrono::NaiveDate,
        ),
        ("week", |day: chrono::NaiveDate| {
            use chrono::Datelike;
            day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
        }),
    ] {
        let mut expected: std::collections::BTreeMap<chrono::NaiveDate, u64> = Default::default();
        for record in &records {
            let day = day_of(record["created_date"].as_str().unwrap_or_default());
            *expected.entry(start(day)).or_default() += 1;
        }
        let expected: Vec<Value> = expected
            .into_iter()
            .map(|(day, count)| {
                json!({"created_date": day.format("%Y-%m-%d").to_string(), "count": count})
            })
            .collect();
        assert_eq!(
            aggregate(
                &api,
                json!({"dateBucket": {"field": "created_date", "unit": unit}})
            )
            .await,
            json!({"rows": expected, "truncated": false}),
            "{unit}"
        );
    }

    // A bucket and a group field: the bucket first.
    let answer = aggregate(
        &api,
        json!({"dateBucket": {"field": "created_date", "unit": "year"}, "groupBy": "status",
               "count": false, "countDistinct": "project_id", "limit": 3}),
    )
    .await;
    assert_eq!(answer["truncated"], json!(true));
    let first = answer["rows"][0].as_object().cloned().unwrap_or_default();
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["created_date", "status", "count_distinct_project_id"]
    );
    assert_eq!(first["created_date"], json!("2025-01-01"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_user_groups_only_the_records_she_may_read() {
    let (_app, emulator) = emulator().await;
    let api = Api::new(&emulator);
    let records = tasks();
    let hers: Vec<&Map<String, Value>> = records
        .iter()
        .filter(|record| {
            record["created_by"] == NINA || record.get("assignee_email") == Some(&json!(NINA))
        })
        .collect();
    assert_eq!(hers.len(), 56, "the sample changed");
    let spec = json!({"groupBy": "status", "sum": "estimateHours"}).to_string();
    let answer = aggregate_as(&api, Who::User(NINA_ID), "Task", &spec).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.json(),
        json!({"rows": [
            {"status": "blocked", "count": 1, "sum_estimateHours": 0},
            {"status": "done", "count": 29, "sum_estimateHours": 91},
            {"status": "in_progress", "count": 12, "sum_estimateHours": 55.5},
            {"status": "todo", "count": 14, "sum_estimateHours": 61},
        ], "truncated": false})
    );
    let total: f64 = hers
        .iter()
        .filter_map(|record| record.get("estimateHours").and_then(Value::as_f64))
        .sum();
    assert_eq!(total, 207.5);

    // The list agrees: the same records, counted.
    let count = api
        .send(
            api.client
                .get(api.url("Task", "/count"))
                .bearer_auth(emulator.user_token(NINA_ID)),
        )
        .await
        .json();
    assert_eq!(count, json!({"count": 56}));

    // The admin reads every task; an anonymous visitor none (one total row of nothing).
    let answer = aggregate_as(&api, Who::User(ADA_ID), "Task", "{}").await;
    assert_eq!(answer.json()["rows"], json!([{"count": 400}]));
    let answer = aggregate_as(
        &api,
        Who::Anonymous,
        "Task",
        &json!({"avg": "estimateHours", "sum": "estimateHours"}).to_string(),
    )
    .await;
    assert_eq!(
        answer.json(),
        json!({"rows": [{"count": 0, "sum_estimateHours": 0, "avg_estimateHours": null}],
               "truncated": false})
    );
    let grouped = aggregate_as(&api, Who::Anonymous, "Task", r#"{"groupBy": "status"}"#).await;
    assert_eq!(grouped.json(), json!({"rows": [], "truncated": false}));

    // Deleted records are in the trash, not in the groups.
    let first = hers[0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(api.delete("Task", &format!("/{first}")).await.status, 200);
    let answer = aggregate_as(&api, Who::User(NINA_ID), "Task", "{}").await;
    assert_eq!(answer.json()["rows"], json!([{"count": 55}]));
    emulator.shutdown().await;
}

#[tokio::test]
async fn bad_specs_are_refused_with_400_naming_the_field() {
    let (_app, emulator) = emulator().await;
    let api = Api::new(&emulator);
    let cases = [
        (
            r#"{"groupBy": "nope"}"#,
            "`groupBy` names `nope`, which is no field of Task",
        ),
        (
            r#"{"groupBy": ["status", "priority", "project_id", "title", "tags"]}"#,
            "at most 4 fields",
        ),
        (
            r#"{"dateBucket": {"field": "created_date", "unit": "hour"}}"#,
            "must be day, week, month or year",
        ),
        (
            r#"{"dateBucket": {"field": "due_date", "unit": "week"}}"#,
            "a date field of the schema takes day, month or year",
        ),
        (
            r#"{"dateBucket": {"field": "title", "unit": "day"}}"#,
            "`title` is not",
        ),
        (
            r#"{"sum": "title"}"#,
            "`sum` needs a field of type number or integer; `title`",
        ),
        (
            r#"{"max": "tags"}"#,
            "`max` needs a field of type number, integer or string",
        ),
        (
            r#"{"having": {"sum_estimateHours": {"$gt": 1}}}"#,
            "`having` names `sum_estimateHours`",
        ),
        (r#"{"sort": "-priority"}"#, "`sort` names `priority`"),
        (r#"{"limit": 0}"#, "`limit` must be a whole number"),
        (r#"{"groupby": "status"}"#, "unknown key `groupby`"),
        (r#"{"query": {"status": {"$bogus": 1}}}"#, "invalid `query`"),
        (r#"["status"]"#, "must be a JSON object"),
        (r#"{not json"#, "not valid JSON"),
    ];
    for (body, expected) in cases {
        let answer = aggregate_as(&api, Who::Key, "Task", body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(
            answer.error().contains(expected),
            "{body}: {}",
            answer.error()
        );
    }
    let answer = aggregate_as(&api, Who::Key, "Nothing", "{}").await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    assert_eq!(
        emulator.stats().responses(Route::Aggregate, 400),
        cases.len() as u64
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn aggregates_share_the_list_rate_limit() {
    let app = staged_app();
    let mut settings = config(app.path());
    // 5% of the free plan: 5 list-class requests a minute.
    settings.rate_limits = RateLimits::Base44 { scale: 0.05 };
    let emulator = start(settings).await;
    let api = Api::new(&emulator);
    for _ in 0..3 {
        assert_eq!(api.get("Task", "/count", &[]).await.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(aggregate_as(&api, Who::Key, "Task", "{}").await.status, 200);
    }
    let answer = aggregate_as(&api, Who::Key, "Task", "{}").await;
    assert_eq!(answer.status, 429, "{}", answer.text);
    assert!(answer.header("retry-after").is_some());
    assert_eq!(api.get("Task", "", &[]).await.status, 429);
    emulator.shutdown().await;
}
