//! Reading through the emulator over real HTTP: authentication (the key; anonymous visitors),
//! the list endpoint's defaults, cap, sort, skip, fields, filters and its unstable unsorted
//! order, count, get, the trash list and the `v2/list` cursor.

mod common;

use common::{Api, KEY, big_app, config, ids, sample, sample_records, start};
use offbase_emulator::Route;
use offbase_model::time::parse_timestamp;
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

#[tokio::test]
async fn both_key_headers_are_accepted_and_wrong_credentials_are_refused_without_echoing_them() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let url = api.url("Task", "");
    let wrong = "wrong-key-0000";
    let refused = [
        api.client.get(&url).header("api_key", wrong),
        api.client.get(&url).header("api_key", ""),
        api.client.get(&url).bearer_auth(wrong),
        api.client
            .get(&url)
            .header("authorization", format!("Basic {KEY}")),
    ];
    for request in refused {
        let answer = api.send(request).await;
        assert_eq!(answer.status, 401, "{}", answer.text);
        let message = answer.error();
        assert!(message.contains("api_key"), "{message}");
        assert!(!answer.text.contains(KEY) && !answer.text.contains(wrong));
    }
    // No credentials (an unknown header is none) is an anonymous visitor, whom Task's `read`
    // rule shows nothing.
    for request in [
        api.client.get(&url),
        api.client.get(&url).header("x-api-key", KEY),
    ] {
        let answer = api.send(request).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.records().len(), 0);
    }
    let accepted = [
        api.client.get(&url).header("api_key", KEY),
        api.client.get(&url).bearer_auth(KEY),
        api.client
            .get(&url)
            .bearer_auth(KEY)
            .header("X-App-Id", "something-else"),
    ];
    for request in accepted {
        let answer = api.send(request).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.records().len(), 50);
    }

    let other_app = format!(
        "{}/api/apps/000000000000000000000bad/entities/Task",
        emulator.api_url()
    );
    let answer = api.send(api.request(Method::GET, &other_app)).await;
    assert_eq!(answer.status, 404);
    assert!(answer.error().contains("000000000000000000000bad"));
    let answer = api.get("Taks", "", &[]).await;
    assert_eq!(answer.status, 404);
    assert!(answer.error().contains("Taks"), "{}", answer.text);
    let nowhere = format!(
        "{}/api/apps/{}/nowhere",
        emulator.api_url(),
        emulator.app_id()
    );
    let answer = api.send(api.request(Method::GET, &nowhere)).await;
    assert_eq!(answer.status, 404);
    assert!(answer.error().contains("/nowhere"));
    let stats = emulator.stats();
    assert_eq!(stats.responses(Route::List, 401), 4);
    assert_eq!(stats.responses(Route::List, 200), 5);
    assert_eq!(stats.responses(Route::List, 404), 2);
    assert_eq!(stats.responses(Route::Unmatched, 404), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_list_returns_50_by_default_and_never_more_than_5000() {
    let app = big_app(6_000);
    let emulator = start(config(app.path())).await;
    let api = Api::new(&emulator);
    assert_eq!(api.get("Event", "", &[]).await.records().len(), 50);
    assert_eq!(
        api.get("Event", "", &[("limit", "10")])
            .await
            .records()
            .len(),
        10
    );
    for limit in ["5000", "5001", "6000", "100000"] {
        let answer = api.get("Event", "", &[("limit", limit)]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.records().len(), 5_000, "limit={limit}");
    }
    let rest = api
        .get(
            "Event",
            "",
            &[("limit", "5000"), ("skip", "5000"), ("sort", "seq")],
        )
        .await
        .records();
    assert_eq!(rest.len(), 1_000);
    assert_eq!(rest[0].get("seq"), Some(&json!(5000)));
    let answer = api.get("Event", "", &[("limit", "many")]).await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().contains("limit"));

    // The trash list has no cap.
    let store = emulator.store();
    for id in store.live_ids("Event").into_iter().take(5_001) {
        if let Err(error) = store.delete("Event", &id) {
            panic!("{error}");
        }
    }
    assert_eq!(api.get("Event", "/trash", &[]).await.records().len(), 5_001);
    assert_eq!(
        api.get("Event", "/trash", &[("limit", "7")])
            .await
            .records()
            .len(),
        7
    );
    assert_eq!(
        api.get("Event", "", &[("limit", "5000")])
            .await
            .records()
            .len(),
        999
    );
    emulator.shutdown().await;
}

fn instant(record: &Map<String, Value>, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    record
        .get(field)
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
}

#[tokio::test]
async fn sort_skip_and_fields() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);

    // Timestamps sort as instants, whatever their form (with or without `Z` or a fraction).
    let ascending = api
        .get("Task", "", &[("sort", "created_date"), ("limit", "1000")])
        .await
        .records();
    assert_eq!(ascending.len(), 400);
    for pair in ascending.windows(2) {
        assert!(instant(&pair[0], "created_date") <= instant(&pair[1], "created_date"));
    }
    let descending = api
        .get("Task", "", &[("sort", "-created_date"), ("limit", "1000")])
        .await
        .records();
    for pair in descending.windows(2) {
        assert!(instant(&pair[0], "created_date") >= instant(&pair[1], "created_date"));
    }
    let plus = api
        .get("Task", "", &[("sort", "+created_date"), ("limit", "1000")])
        .await
        .records();
    assert_eq!(ids(&plus), ids(&ascending));

    // Numbers sort numerically; missing values come first ascending.
    let by_hours = api
        .get("Task", "", &[("sort", "estimateHours"), ("limit", "1000")])
        .await
        .records();
    let hours: Vec<Option<f64>> = by_hours
        .iter()
        .map(|record| record.get("estimateHours").and_then(Value::as_f64))
        .collect();
    let first_number = hours
        .iter()
        .position(Option::is_some)
        .unwrap_or(hours.len());
    assert!(first_number > 0 && hours[first_number..].iter().all(Option::is_some));
    assert!(
        hours[first_number..]
            .windows(2)
            .all(|pair| pair[0] <= pair[1])
    );

    // Skip pages through a sorted list.
    let by_id = api
        .get("Task", "", &[("sort", "id"), ("limit", "1000")])
        .await
        .records();
    let page = api
        .get(
            "Task",
            "",
            &[("sort", "id"), ("limit", "10"), ("skip", "5")],
        )
        .await
        .records();
    assert_eq!(ids(&page), ids(&by_id[5..15]));
    assert!(
        api.get("Task", "", &[("skip", "400")])
            .await
            .records()
            .is_empty()
    );

    // Fields project, always keeping the id.
    let projected = api
        .get("Task", "", &[("fields", "title,status"), ("limit", "1000")])
        .await
        .records();
    assert_eq!(projected.len(), 400);
    for record in &projected {
        assert!(record.contains_key("id"));
        assert!(
            record
                .keys()
                .all(|key| ["id", "title", "status"].contains(&key.as_str()))
        );
    }
    assert!(projected.iter().any(|record| record.len() == 3));

    let answer = api.get("Task", "", &[("sort", "-")]).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    emulator.shutdown().await;
}

/// The sample's Task records a predicate selects, as a set of ids.
fn expected(predicate: impl Fn(&Map<String, Value>) -> bool) -> BTreeSet<String> {
    ids(&sample_records("tasks", "Task")
        .into_iter()
        .filter(|record| predicate(record))
        .collect::<Vec<_>>())
    .into_iter()
    .collect()
}

#[tokio::test]
async fn q_filters_with_the_query_language() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let field = |record: &Map<String, Value>, name: &str| record.get(name).cloned();
    let cases: Vec<(Value, BTreeSet<String>)> = vec![
        (
            json!({"status": "done"}),
            expected(|r| field(r, "status") == Some(json!("done"))),
        ),
        (
            json!({"priority": {"$in": [1, 2]}}),
            expected(|r| matches!(field(r, "priority"), Some(p) if p == json!(1) || p == json!(2))),
        ),
        (
            json!({"priority": {"$gte": 2}, "status": {"$ne": "done"}}),
            expected(|r| {
                field(r, "priority")
                    .and_then(|p| p.as_f64())
                    .is_some_and(|p| p >= 2.0)
                    && field(r, "status") != Some(json!("done"))
            }),
        ),
        (
            json!({"title": {"$regex": "^fix", "$options": "i"}}),
            expected(|r| {
                field(r, "title")
                    .and_then(|t| t.as_str().map(str::to_lowercase))
                    .is_some_and(|t| t.starts_with("fix"))
            }),
        ),
        (
            json!({"$or": [{"status": "todo"}, {"priority": 3}]}),
            expected(|r| {
                field(r, "status") == Some(json!("todo")) || field(r, "priority") == Some(json!(3))
            }),
        ),
        (
            json!({"tags": {"$size": 0}}),
            expected(|r| field(r, "tags").is_some_and(|t| t.as_array().is_some_and(Vec::is_empty))),
        ),
        (
            json!({"tags": "design"}),
            expected(|r| {
                field(r, "tags").is_some_and(|t| {
                    t.as_array()
                        .is_some_and(|tags| tags.contains(&json!("design")))
                })
            }),
        ),
        (
            json!({"due_time": {"$exists": true}}),
            expected(|r| r.contains_key("due_time")),
        ),
        (
            json!({"created_date": {"$gte": "2025-11-01T00:00:00Z"}}),
            expected(|r| instant(r, "created_date") >= parse_timestamp("2025-11-01T00:00:00Z")),
        ),
    ];
    for (q, want) in cases {
        let text = q.to_string();
        let got: BTreeSet<String> = ids(&api
            .get("Task", "", &[("q", &text), ("limit", "1000")])
            .await
            .records())
        .into_iter()
        .collect();
        assert!(!want.is_empty(), "{text}: the sample has no match");
        assert_eq!(got, want, "{text}");
        let count = api.get("Task", "/count", &[("q", &text)]).await.json();
        assert_eq!(count, json!({"count": want.len()}), "{text}");
    }
    for bad in ["{not json", "[1,2]", r#"{"a": {"$bogus": 1}}"#] {
        let answer = api.get("Task", "", &[("q", bad)]).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(!answer.error().is_empty());
        assert_eq!(api.get("Task", "/count", &[("q", bad)]).await.status, 400);
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unknown_parameter_is_an_equality_filter() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let done = expected(|r| r.get("status") == Some(&json!("done")));
    let got: BTreeSet<String> = ids(&api
        .get("Task", "", &[("status", "done"), ("limit", "1000")])
        .await
        .records())
    .into_iter()
    .collect();
    assert_eq!(got, done);
    // A number matches its JSON text.
    let high = expected(|r| r.get("priority") == Some(&json!(1)));
    let got = api
        .get("Task", "", &[("priority", "1"), ("limit", "1000")])
        .await
        .records();
    assert_eq!(ids(&got).into_iter().collect::<BTreeSet<_>>(), high);
    // Combined with q, both hold.
    let answer = api
        .get(
            "Task",
            "/count",
            &[("priority", "1"), ("q", r#"{"status": "done"}"#)],
        )
        .await
        .json();
    let both = expected(|r| {
        r.get("priority") == Some(&json!(1)) && r.get("status") == Some(&json!("done"))
    });
    assert_eq!(answer, json!({"count": both.len()}));
    // A misspelt parameter narrows to nothing rather than failing.
    let answer = api.get("Task", "", &[("stauts", "done")]).await;
    assert_eq!(answer.status, 200);
    assert!(answer.records().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_sort_the_order_is_stable_between_writes_and_changes_with_them() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let first = ids(&api.get("Project", "", &[]).await.records());
    let again = ids(&api.get("Project", "", &[]).await.records());
    assert_eq!(first.len(), 20);
    assert_eq!(first, again);
    let mut sorted = first.clone();
    sorted.sort();
    assert_ne!(
        first, sorted,
        "the unsorted order should not be the id order"
    );

    let created = api
        .write(Method::POST, "Project", "", &json!({"name": "Shuffle"}))
        .await;
    assert_eq!(created.status, 200);
    let after: Vec<String> = ids(&api.get("Project", "", &[]).await.records())
        .into_iter()
        .filter(|id| first.contains(id))
        .collect();
    assert_eq!(after.len(), 20);
    assert_ne!(after, first, "a write should change the unsorted order");
    emulator.shutdown().await;
}

#[tokio::test]
async fn count_and_get() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    assert_eq!(
        api.get("Task", "/count", &[]).await.json(),
        json!({"count": 400})
    );
    assert_eq!(
        api.get("Comment", "/count", &[]).await.json(),
        json!({"count": 600})
    );

    // A record reads back exactly as stored: same values, same field order.
    for record in sample_records("tasks", "Task").iter().step_by(37) {
        let Some(Value::String(id)) = record.get("id") else {
            panic!("no id");
        };
        let answer = api.get("Task", &format!("/{id}"), &[]).await;
        assert_eq!(answer.status, 200);
        let Value::Object(got) = answer.json() else {
            panic!("not an object");
        };
        assert_eq!(&got, record);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            record.keys().collect::<Vec<_>>()
        );
    }
    let answer = api.get("Task", "/ffffffffffffffffffffffff", &[]).await;
    assert_eq!(answer.status, 404);
    assert!(answer.error().contains("ffffffffffffffffffffffff"));

    let id = ids(&api.get("Task", "", &[("limit", "1")]).await.records()).remove(0);
    assert_eq!(api.delete("Task", &format!("/{id}")).await.status, 200);
    assert_eq!(api.get("Task", &format!("/{id}"), &[]).await.status, 404);
    assert_eq!(
        api.get("Task", "/count", &[]).await.json(),
        json!({"count": 399})
    );
    emulator.shutdown().await;
}

/// Reads every `v2/list` page, running `between` after each one. The limit is given on every
/// page (the cursor carries q, sort and fields, not the page size).
async fn all_pages(
    api: &Api<'_>,
    entity: &str,
    first: &[(&str, &str)],
    mut between: impl FnMut(usize, &[Map<String, Value>]),
) -> Vec<Vec<Map<String, Value>>> {
    let limit = first
        .iter()
        .find(|(name, _)| *name == "limit")
        .map_or("50", |(_, value)| *value);
    let mut pages = Vec::new();
    let mut answer = api.get(entity, "/v2/list", first).await;
    loop {
        assert_eq!(answer.status, 200, "{}", answer.text);
        let body = answer.json();
        let items: Vec<Map<String, Value>> = match body.get("items") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| item.as_object().cloned())
                .collect(),
            other => panic!("no items: {other:?}"),
        };
        between(pages.len(), &items);
        pages.push(items);
        let has_more = body.get("has_more") == Some(&Value::Bool(true));
        match body.get("next_cursor") {
            Some(Value::String(cursor)) if has_more => {
                answer = api
                    .get(entity, "/v2/list", &[("cursor", cursor), ("limit", limit)])
                    .await;
            }
            Some(Value::Null) if !has_more => return pages,
            other => panic!("has_more {has_more} with next_cursor {other:?}"),
        }
    }
}

#[tokio::test]
async fn v2_cursor_pages_cover_every_record_once_even_when_records_are_deleted_between_pages() {
    let app = big_app(6_000);
    let emulator = start(config(app.path())).await;
    let api = Api::new(&emulator);
    let store = emulator.store();
    let everything = store.live_ids("Event");
    let mut deleted_early: BTreeSet<String> = BTreeSet::new();
    let mut deleted_late: BTreeSet<String> = BTreeSet::new();
    let mut seen_so_far: BTreeSet<String> = BTreeSet::new();
    let pages = all_pages(&api, "Event", &[("limit", "700")], |_, items| {
        seen_so_far.extend(ids(items));
        // Delete three records not read yet and one already read, as a live app would.
        let unseen: Vec<String> = store
            .live_ids("Event")
            .into_iter()
            .filter(|id| !seen_so_far.contains(id))
            .step_by(97)
            .take(3)
            .collect();
        for id in unseen {
            if let Err(error) = store.delete("Event", &id) {
                panic!("{error}");
            }
            deleted_early.insert(id);
        }
        if let Some(id) = seen_so_far
            .iter()
            .find(|id| !deleted_late.contains(*id))
            .cloned()
        {
            if let Err(error) = store.delete("Event", &id) {
                panic!("{error}");
            }
            deleted_late.insert(id);
        }
    })
    .await;
    let returned: Vec<String> = pages.iter().flat_map(|page| ids(page)).collect();
    let unique: BTreeSet<String> = returned.iter().cloned().collect();
    assert_eq!(unique.len(), returned.len(), "a record came back twice");
    let expected: BTreeSet<String> = everything.difference(&deleted_early).cloned().collect();
    assert_eq!(unique, expected);
    // Full pages except the last.
    let (last, full) = pages.split_last().unwrap_or_else(|| panic!("no pages"));
    assert!(
        full.iter().all(|page| page.len() == 700),
        "{:?}",
        pages.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(!last.is_empty() && last.len() <= 700);
    // Newest first by default.
    let all: Vec<&Map<String, Value>> = pages.iter().flatten().collect();
    for pair in all.windows(2) {
        assert!(instant(pair[0], "created_date") >= instant(pair[1], "created_date"));
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_v2_cursor_carries_q_sort_and_fields() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    let done = expected(|r| r.get("status") == Some(&json!("done")));
    let pages = all_pages(
        &api,
        "Task",
        &[
            ("q", r#"{"status": "done"}"#),
            ("sort", "title"),
            ("fields", "title"),
            ("limit", "7"),
        ],
        |_, _| {},
    )
    .await;
    let records: Vec<Map<String, Value>> = pages.into_iter().flatten().collect();
    assert_eq!(ids(&records).into_iter().collect::<BTreeSet<_>>(), done);
    assert_eq!(ids(&records).len(), done.len());
    assert!(
        records
            .iter()
            .all(|record| record.keys().all(|key| key == "id" || key == "title"))
    );
    // Missing titles come first ascending, then titles in order.
    let titles: Vec<Option<&str>> = records
        .iter()
        .map(|record| record.get("title").and_then(Value::as_str))
        .collect();
    assert!(
        titles.windows(2).all(|pair| pair[0] <= pair[1]),
        "{titles:?}"
    );

    // A cursor refuses a different q, and garbage.
    let first = api
        .get(
            "Task",
            "/v2/list",
            &[("q", r#"{"status": "done"}"#), ("limit", "5")],
        )
        .await
        .json();
    let Some(Value::String(cursor)) = first.get("next_cursor") else {
        panic!("no cursor: {first}");
    };
    let answer = api
        .get(
            "Task",
            "/v2/list",
            &[("cursor", cursor), ("q", r#"{"status": "todo"}"#)],
        )
        .await;
    assert_eq!(answer.status, 400);
    assert!(answer.error().contains("q"));
    let same = api
        .get(
            "Task",
            "/v2/list",
            &[("cursor", cursor), ("q", r#"{"status": "done"}"#)],
        )
        .await;
    assert_eq!(same.status, 200);
    let respaced = api
        .get(
            "Task",
            "/v2/list",
            &[("cursor", cursor), ("q", r#"{ "status" : "done" }"#)],
        )
        .await;
    assert_eq!(respaced.status, 200, "the same filter, spaced differently");
    let answer = api.get("Task", "/v2/list", &[("cursor", "garbage!")]).await;
    assert_eq!(answer.status, 400);
    let answer = api.get("Project", "/v2/list", &[("cursor", cursor)]).await;
    assert_eq!(answer.status, 400, "a cursor belongs to its entity");
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_user_entity_is_always_there_and_has_no_trash() {
    let emulator = start(config(&sample("tasks"))).await;
    let api = Api::new(&emulator);
    // The tasks app declares no User schema: the platform's entity is served, empty.
    assert!(emulator.store().entity_names().contains(&"User".to_owned()));
    assert_eq!(api.get("User", "", &[]).await.records().len(), 0);
    emulator.shutdown().await;

    let emulator = start(config(&sample("marketplace"))).await;
    let api = Api::new(&emulator);
    assert_eq!(
        api.get("User", "/count", &[]).await.json(),
        json!({"count": 80})
    );
    assert_eq!(api.get("User", "/trash", &[]).await.status, 404);
    emulator.shutdown().await;
}
