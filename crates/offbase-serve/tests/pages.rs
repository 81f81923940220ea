//! `offbase serve` answers the cursor list (`GET .../{Entity}/v2/list`, the SDK's
//! `list(options)` and `filter(query, options)`) as the emulator does: the sample `tasks` app
//! served by the emulator and, migrated into PostgreSQL, by `offbase serve`, walked page by
//! page with the same requests, must give the same records in the same order, the same
//! `has_more`, a null cursor on the last page, and the same error statuses.
//!
//! What may differ, by design, and only that:
//! - the cursor text (opaque; each server reads only its own);
//! - the records as PostgreSQL holds them (`as_stored`: an explicit `null` left out, stored
//!   timestamps, times with seconds; see tests/reads.rs and docs/serve.md);
//! - the Task records the load rejected (they break their schema: they are in the workspace's
//!   rejects, not in PostgreSQL). They take places in the emulator's pages, so page boundaries
//!   differ: the walks are compared whole, on the ids both have, and every id `offbase serve`
//!   returns must be one the emulator returns.
//! - `distinct`: the emulator does not define it (it reads it as an equality filter);
//!   `offbase serve` answers 501 naming it.

mod common;

use common::{Both, as_stored, drop_schema, get_json, start_both, unique_schema};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const KEY: &str = "serve-test-key";

/// Which of the two answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Emulator,
    Serve,
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum As {
    Service,
    Visitor,
}

/// One walk's pages, concatenated.
#[derive(Debug)]
struct Walked {
    records: Vec<Value>,
    pages: usize,
}

impl Both {
    fn base(&self, side: Side) -> String {
        match side {
            Side::Emulator => self.emulator.api_url(),
            Side::Serve => self.server.api_url(),
        }
    }

    /// The status and JSON body of `GET {base}/api/apps/{app}/entities/{path}`.
    async fn get(&self, side: Side, who: As, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let url = format!(
            "{}/api/apps/{}/entities/{path}",
            self.base(side),
            self.emulator.app_id()
        );
        let mut request = self.http.get(&url).query(query);
        if who == As::Service {
            request = request.header("api_key", KEY);
        }
        get_json(request, &url).await
    }

    /// One page of `entity` as the service role; panics unless it is a page.
    async fn page(&self, side: Side, entity: &str, query: &[(&str, &str)]) -> Value {
        let (status, body) = self
            .get(side, As::Service, &format!("{entity}/v2/list"), query)
            .await;
        assert_eq!(status, 200, "{side:?} {entity} {query:?}: {body}");
        check_page(&format!("{side:?} {entity} {query:?}"), &body);
        body
    }

    /// Every page of a walk: the first with `query`, the others with the cursor and `limit`.
    async fn walk(&self, side: Side, entity: &str, query: &[(&str, &str)]) -> Walked {
        let limit = query
            .iter()
            .find(|(name, _)| *name == "limit")
            .map(|(_, value)| *value);
        let mut page = self.page(side, entity, query).await;
        let mut walked = Walked {
            records: Vec::new(),
            pages: 0,
        };
        loop {
            walked.pages += 1;
            walked.records.extend(items(&page).iter().cloned());
            let Some(cursor) = page["next_cursor"].as_str().map(str::to_owned) else {
                break;
            };
            assert!(
                walked.pages < 2000,
                "{side:?} {query:?}: the walk does not end"
            );
            let mut next = vec![("cursor", cursor.as_str())];
            next.extend(limit.map(|limit| ("limit", limit)));
            page = self.page(side, entity, &next).await;
        }
        walked
    }

    async fn delete(&self, side: Side, entity: &str, id: &str) {
        let url = format!(
            "{}/api/apps/{}/entities/{entity}/{id}",
            self.base(side),
            self.emulator.app_id()
        );
        let response = self
            .http
            .delete(&url)
            .header("api_key", KEY)
            .send()
            .await
            .unwrap_or_else(|error| panic!("DELETE {url}: {error}"));
        assert_eq!(response.status().as_u16(), 200, "DELETE {url}");
    }
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
}

/// The shape every page has: exactly `items`, `next_cursor`, `has_more`, a cursor exactly when
/// more remain.
fn check_page(label: &str, page: &Value) {
    let keys: Vec<&str> = page
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["items", "next_cursor", "has_more"],
        "{label}: {page}"
    );
    let has_more = page["has_more"]
        .as_bool()
        .unwrap_or_else(|| panic!("{label}: has_more is no boolean: {page}"));
    assert_eq!(
        page["next_cursor"].is_string(),
        has_more,
        "{label}: a cursor exactly when more remain: {page}"
    );
    assert!(
        page["next_cursor"].is_string() || page["next_cursor"].is_null(),
        "{label}: {page}"
    );
}

fn id_of(record: &Value) -> &str {
    record["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {record}"))
}

fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(id_of).collect()
}

/// The same records in the same order, on the ids both have; `offbase serve` has no record
/// the emulator lacks, and lacks only records the load rejected (`rejected`).
fn same_walk(label: &str, old: &[Value], new: &[Value], rejected: &BTreeSet<String>) {
    let new_ids: BTreeSet<&str> = ids(new).into_iter().collect();
    let old_ids: BTreeSet<&str> = ids(old).into_iter().collect();
    assert_eq!(new_ids.len(), new.len(), "{label}: serve repeats a record");
    assert_eq!(
        old_ids.len(),
        old.len(),
        "{label}: the emulator repeats a record"
    );
    let unknown: Vec<&&str> = new_ids.difference(&old_ids).collect();
    assert!(
        unknown.is_empty(),
        "{label}: only serve returns {unknown:?}"
    );
    let missing: Vec<&&str> = old_ids
        .difference(&new_ids)
        .filter(|id| !rejected.contains(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "{label}: serve lacks {missing:?}, which the load kept"
    );
    let old: Vec<Value> = old
        .iter()
        .filter(|record| new_ids.contains(id_of(record)))
        .cloned()
        .map(as_stored)
        .collect();
    assert!(!old.is_empty(), "{label}: no records, nothing compared");
    assert_eq!(ids(new), ids(&old), "{label}: the order (serve, emulator)");
    for (old, new) in old.iter().zip(new) {
        assert_eq!(new, old, "{label}: record {} (serve, emulator)", id_of(old));
    }
}

/// The Task ids the emulator has and PostgreSQL does not: the records the load rejected.
async fn rejected_tasks(both: &Both) -> BTreeSet<String> {
    let everything = [("sort", "created_date"), ("limit", "5000")];
    let old = both.page(Side::Emulator, "Task", &everything).await;
    let new = both.page(Side::Serve, "Task", &everything).await;
    let new_ids: BTreeSet<&str> = ids(items(&new)).into_iter().collect();
    let rejected: BTreeSet<String> = ids(items(&old))
        .into_iter()
        .filter(|id| !new_ids.contains(id))
        .map(str::to_owned)
        .collect();
    assert!(
        rejected.len() * 20 < items(&old).len(),
        "the load rejected {} of {} Task records",
        rejected.len(),
        items(&old).len()
    );
    rejected
}

#[tokio::test]
async fn pages_walk_as_the_emulator_walks() {
    let schema = unique_schema("pages");
    let both = start_both(&schema, KEY, None).await;
    let rejected = rejected_tasks(&both).await;

    // Sorts of every kind: the default (newest first), integers, dates with nulls (last
    // descending), text with ties, numbers with fractions, a field kept in `_extra` (JSON:
    // four records have it); each walked a page of 7 and of 100 at a time, some one by one.
    let sorts: [(Option<&str>, &[&str]); 7] = [
        (None, &["1", "7", "100"]),
        (Some("priority"), &["7", "100"]),
        (Some("-due_date"), &["1", "7", "100"]),
        (Some("title"), &["7", "100"]),
        (Some("-estimateHours"), &["7"]),
        (Some("sprint"), &["1", "100"]),
        (Some("-sprint"), &["7"]),
    ];
    for (sort, limits) in sorts {
        for limit in limits {
            let mut query = vec![("limit", *limit)];
            query.extend(sort.map(|sort| ("sort", sort)));
            let label = format!("Task {query:?}");
            let old = both.walk(Side::Emulator, "Task", &query).await;
            let new = both.walk(Side::Serve, "Task", &query).await;
            same_walk(&label, &old.records, &new.records, &rejected);
            if *limit == "100" {
                assert_eq!(new.records.len().div_ceil(100), new.pages, "{label}: pages");
            }
        }
    }

    // A filter, a projection, an equality parameter, and both with the default limit.
    let walks: [&[(&str, &str)]; 4] = [
        &[
            ("q", r#"{"status": {"$in": ["todo", "in_progress"]}}"#),
            ("sort", "priority"),
            ("limit", "7"),
        ],
        &[("fields", "title,priority"), ("limit", "7")],
        &[("status", "done"), ("sort", "-due_date"), ("limit", "7")],
        &[("q", r#"{"priority": 2}"#), ("fields", "title")],
    ];
    for query in walks {
        let label = format!("Task {query:?}");
        let old = both.walk(Side::Emulator, "Task", query).await;
        let new = both.walk(Side::Serve, "Task", query).await;
        same_walk(&label, &old.records, &new.records, &rejected);
        if query.iter().any(|(name, _)| *name == "fields") {
            for record in &new.records {
                let keys: BTreeSet<&str> = record
                    .as_object()
                    .map(|record| record.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                assert!(
                    keys.iter()
                        .all(|key| ["id", "title", "priority"].contains(key)),
                    "{label}: {record}"
                );
            }
        }
    }

    // The default page size, and the last page: no cursor, nothing more.
    for side in [Side::Emulator, Side::Serve] {
        let page = both.page(side, "Task", &[]).await;
        assert_eq!(items(&page).len(), 50, "{side:?}: the default limit");
        assert_eq!(page["has_more"], json!(true));
        let last = both.page(side, "Project", &[("limit", "5000")]).await;
        assert_eq!(
            (&last["next_cursor"], &last["has_more"]),
            (&Value::Null, &json!(false)),
            "{side:?}: {last}"
        );
    }
    // A whole entity the load kept entirely, page by page: the same pages exactly.
    for limit in ["3", "20"] {
        let query = [("sort", "-updated_date"), ("limit", limit)];
        let old = both.walk(Side::Emulator, "Project", &query).await;
        let new = both.walk(Side::Serve, "Project", &query).await;
        assert_eq!(new.pages, old.pages, "Project pages of {limit}");
        same_walk(
            &format!("Project {query:?}"),
            &old.records,
            &new.records,
            &BTreeSet::new(),
        );
    }

    both.shutdown().await;
    drop_schema(&schema).await;
}

/// The ids of the Task records no Comment (`task_id`) and no Task (`parent_task_id`) refers
/// to.
async fn unreferenced_tasks(both: &Both) -> Vec<String> {
    let everything = [("limit", "5000")];
    let comments = both.page(Side::Emulator, "Comment", &everything).await;
    let tasks = both.page(Side::Emulator, "Task", &everything).await;
    let referenced: BTreeSet<&str> = items(&comments)
        .iter()
        .filter_map(|comment| comment["task_id"].as_str())
        .chain(
            items(&tasks)
                .iter()
                .filter_map(|task| task["parent_task_id"].as_str()),
        )
        .collect();
    let free: Vec<String> = ids(items(&tasks))
        .into_iter()
        .filter(|id| !referenced.contains(id))
        .map(str::to_owned)
        .collect();
    assert!(
        free.len() > 30,
        "only {} tasks nothing refers to",
        free.len()
    );
    free
}

#[tokio::test]
async fn a_delete_between_pages_shifts_nothing() {
    let schema = unique_schema("pages_delete");
    let both = start_both(&schema, KEY, None).await;
    let rejected = rejected_tasks(&both).await;
    // Only tasks nothing refers to (no comment, no sub-task): the database keeps the
    // references as foreign keys and refuses to delete a referenced record (409), which the
    // emulator does not check.
    let free = unreferenced_tasks(&both).await;
    let q = json!({"id": {"$in": free}}).to_string();
    let first = [("q", q.as_str()), ("sort", "priority"), ("limit", "7")];

    let mut walks = Vec::new();
    for side in [Side::Emulator, Side::Serve] {
        let label = format!("{side:?}");
        // Three pages of an undisturbed walk.
        let page1 = both.page(side, "Task", &first).await;
        let cursor1 = page1["next_cursor"].as_str().unwrap_or_default().to_owned();
        let page2 = both
            .page(side, "Task", &[("cursor", &cursor1), ("limit", "7")])
            .await;
        let cursor2 = page2["next_cursor"].as_str().unwrap_or_default().to_owned();
        let page3 = both
            .page(side, "Task", &[("cursor", &cursor2), ("limit", "7")])
            .await;

        // Every record of the first page goes, the last one (where the cursor points) too,
        // and the first of the second page.
        for record in items(&page1) {
            both.delete(side, "Task", id_of(record)).await;
        }
        both.delete(side, "Task", id_of(&items(&page2)[0])).await;

        // The second page again: where it was, less the record deleted from it, plus the
        // first of the third page.
        let again = both
            .page(side, "Task", &[("cursor", &cursor1), ("limit", "7")])
            .await;
        let mut expected: Vec<Value> = items(&page2)[1..].to_vec();
        expected.push(items(&page3)[0].clone());
        assert_eq!(
            ids(items(&again)),
            ids(&expected),
            "{label}: the second page after the deletes"
        );
        assert_eq!(again["has_more"], json!(true), "{label}");
        // The records before the page are gone from a new walk too.
        let restart = both.page(side, "Task", &first).await;
        let gone: Vec<&str> = ids(items(&page1));
        assert!(
            ids(items(&restart)).iter().all(|id| !gone.contains(id)),
            "{label}: a new walk still holds deleted records"
        );
        let mut walked: Vec<Value> = items(&page1).to_vec();
        walked.extend(items(&page2).iter().cloned());
        walked.extend(items(&page3).iter().cloned());
        walks.push(walked);
    }
    // Both walked the same records before the deletes (on the ids both have).
    same_walk("three pages by priority", &walks[0], &walks[1], &rejected);

    both.shutdown().await;
    drop_schema(&schema).await;
}

#[tokio::test]
async fn cursor_mistakes_and_visitors_answer_as_the_emulator() {
    let schema = unique_schema("pages_errors");
    let both = start_both(&schema, KEY, None).await;
    let q = r#"{"status": "done"}"#;
    let first = [("q", q), ("sort", "-due_date"), ("limit", "5")];

    for side in [Side::Emulator, Side::Serve] {
        let label = |what: &str| format!("{side:?}: {what}");
        let page = both.page(side, "Task", &first).await;
        let cursor = page["next_cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{side:?}: no cursor: {page}"))
            .to_owned();
        let cursor = cursor.as_str();
        let signed = both
            .page(side, "Task", &[("sort", " +priority"), ("limit", "5")])
            .await;
        let signed = signed["next_cursor"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let signed = signed.as_str();
        let project = both.page(side, "Project", &[("limit", "2")]).await;
        let project_cursor = project["next_cursor"].as_str().unwrap_or_default();
        let cases: Vec<Case> = vec![
            ("the cursor alone", vec![("cursor", cursor)], 200),
            (
                "the same walk given again, spaced otherwise",
                vec![
                    ("cursor", cursor),
                    ("q", r#"{"status":"done"}"#),
                    ("sort", "-due_date"),
                ],
                200,
            ),
            (
                "the sort given again in another spelling",
                vec![("cursor", signed), ("sort", "priority")],
                200,
            ),
            (
                "another q",
                vec![("cursor", cursor), ("q", r#"{"status": "todo"}"#)],
                400,
            ),
            (
                "another sort",
                vec![("cursor", cursor), ("sort", "due_date")],
                400,
            ),
            (
                "other fields",
                vec![("cursor", cursor), ("fields", "title")],
                400,
            ),
            (
                "an equality parameter",
                vec![("cursor", cursor), ("priority", "2")],
                400,
            ),
            ("a garbage cursor", vec![("cursor", "not-a-cursor!")], 400),
            (
                "a cursor of base64 but no cursor",
                vec![("cursor", "eyJoZWxsbyI6IDF9")],
                400,
            ),
            (
                "another entity's cursor",
                vec![("cursor", project_cursor)],
                400,
            ),
            ("a blank cursor is none", vec![("cursor", " ")], 200),
            ("a bad limit", vec![("limit", "many")], 400),
            ("a bad sort", vec![("sort", "-")], 400),
            ("a bad q", vec![("q", "{not json")], 400),
            (
                "a bad operator",
                vec![("q", r#"{"title": {"$bogus": 1}}"#)],
                400,
            ),
        ];
        for (what, query, expected) in cases {
            assert_eq!(
                status_of(&both, side, &query).await,
                expected,
                "{}",
                label(what)
            );
        }
        let (code, _) = both.get(side, As::Service, "Nothing/v2/list", &[]).await;
        assert_eq!(code, 404, "{}", label("an unknown entity"));

        // Task's read rule hides every record from an anonymous visitor: one empty last page.
        let (code, body) = both
            .get(side, As::Visitor, "Task/v2/list", &[("limit", "5")])
            .await;
        assert_eq!(
            (code, body),
            (
                200,
                json!({"items": [], "next_cursor": null, "has_more": false})
            ),
            "{}",
            label("an anonymous visitor")
        );
    }

    // `distinct` is not served: 501 naming it (the emulator reads it as an equality filter).
    let (code, body) = both
        .get(
            Side::Serve,
            As::Service,
            "Task/v2/list",
            &[("distinct", "status")],
        )
        .await;
    assert_eq!(code, 501, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("distinct"),
        "{body}"
    );
    // A cursor whose position the sort field cannot hold is refused, never sent to SQL.
    let forged = base64_url(
        &json!({
            "v": 1, "app": both.emulator.app_id(), "entity": "Task", "q": null,
            "sort": "-due_date", "fields": null, "equals": [],
            "after": ["2025-10-01'; DROP TABLE task; --", "x"]
        })
        .to_string(),
    );
    let (code, body) = both
        .get(
            Side::Serve,
            As::Service,
            "Task/v2/list",
            &[("cursor", &forged)],
        )
        .await;
    assert_eq!(code, 400, "{body}");

    both.shutdown().await;
    drop_schema(&schema).await;
}

/// A request that must answer a status: what it is, its query, the status.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);

/// The status of a service-role `Task` page; an error's body has an `error` text.
async fn status_of(both: &Both, side: Side, query: &[(&str, &str)]) -> u16 {
    let (status, body) = both.get(side, As::Service, "Task/v2/list", query).await;
    if status != 200 {
        assert!(
            body["error"].is_string(),
            "{side:?} {query:?}: the error body has an `error` text, found {body}"
        );
    }
    status
}

/// URL-safe base64 without padding (the cursor's encoding).
fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (index, byte)| {
            group | u32::from(*byte) << (16 - 8 * index)
        });
        for index in 0..=chunk.len() {
            let sextet = (group >> (18 - 6 * index)) & 0x3f;
            out.push(char::from(ALPHABET[sextet as usize]));
        }
    }
    out
}
