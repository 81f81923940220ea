//! Unit tests of reading HAR captures: URL shapes, parameters, skips and duplicates.

use super::*;
use crate::corpus::write_corpus;
use serde_json::json;

const APP: &str = "0dad9f07cd1e58f3fd183368";

/// A HAR holding one entry per `(method, url, status)`.
fn har(entries: &[(&str, &str, i64)]) -> String {
    let entries: Vec<Value> = entries
            .iter()
            .map(|(method, url, status)| {
                json!({
                    "request": {"method": method, "url": url, "headers": [], "queryString": []},
                    "response": {"status": status, "content": {"text": "[]", "mimeType": "application/json"}}
                })
            })
            .collect();
    json!({"log": {"version": "1.2", "entries": entries}}).to_string()
}

fn extract(entries: &[(&str, &str, i64)]) -> HarExtract {
    corpus_from_har(&har(entries)).unwrap_or_else(|error| panic!("{error}"))
}

fn entity_url(host: &str, rest: &str) -> String {
    format!("https://{host}/api/apps/{APP}/entities/{rest}")
}

fn reasons(extract: &HarExtract) -> Vec<String> {
    extract
        .skipped
        .iter()
        .map(|skip| skip.to_string())
        .collect()
}

#[test]
fn both_url_shapes_give_list_filter_count_and_get() {
    let list = entity_url("app.base44.com", "Task?sort=-created_date&limit=50");
    let filter = entity_url(
        "base44.app",
        "Task?q=%7B%22status%22%3A%22open%22%7D&skip=10",
    );
    let count = entity_url("base44.app", "Task/count?q=%7B%22done%22:true%7D");
    let get = entity_url("app.base44.com", "Task/68c6d92bc3e5e79221d2ebe8");
    // Any host and any prefix before `/api`: a proxy or a custom domain.
    let proxied = format!("http://localhost:8044/base44/api/apps/{APP}/entities/Project/");
    let result = extract(&[
        ("GET", &list, 200),
        ("get", &filter, 200),
        ("GET", &count, 200),
        ("GET", &get, 200),
        ("GET", &proxied, 200),
    ]);
    assert_eq!(reasons(&result), Vec::<String>::new());
    assert_eq!(
        write_corpus(&result.requests),
        concat!(
            r#"{"name":"har #1: GET Task?sort=-created_date&limit=50","entity":"Task","op":"list","sort":"-created_date","limit":50}"#,
            "\n",
            r#"{"name":"har #2: GET Task?q={\"status\":\"open\"}&skip=10","entity":"Task","op":"filter","q":{"status":"open"},"skip":10}"#,
            "\n",
            r#"{"name":"har #3: GET Task/count?q={\"done\":true}","entity":"Task","op":"count","q":{"done":true}}"#,
            "\n",
            r#"{"name":"har #4: GET Task/68c6d92bc3e5e79221d2ebe8","entity":"Task","op":"get","id":"68c6d92bc3e5e79221d2ebe8"}"#,
            "\n",
            r#"{"name":"har #5: GET Project","entity":"Project","op":"list"}"#,
            "\n",
        )
    );
}

#[test]
fn percent_decoding_reads_escapes_plus_and_stray_percent_signs() {
    assert_eq!(
        percent_decode("%7B%22a%22%3A%22b+c%20d%22%7D", true).as_deref(),
        Some(r#"{"a":"b c d"}"#)
    );
    // In a path `+` is itself; a `%` without two hex digits stays.
    assert_eq!(percent_decode("a+b%2", false).as_deref(), Some("a+b%2"));
    assert_eq!(percent_decode("100%zz", true).as_deref(), Some("100%zz"));
    assert_eq!(percent_decode("caf%C3%A9", true).as_deref(), Some("café"));
    assert_eq!(percent_decode("%FF", true), None);

    // The way axios (the Base44 SDK) encodes `q`: braces and quotes escaped, `:`, `$`, `,`
    // and brackets kept, spaces as `+`.
    let url = entity_url(
        "base44.app",
        "Deal?q=%7B%22stage%22:%7B%22$in%22:[%22Closed+Won%22,%22Lead%22]%7D%7D&fields=title,+amount",
    );
    let result = extract(&[("GET", &url, 200)]);
    let request = result.requests.first().cloned();
    assert_eq!(
        request.as_ref().and_then(|request| request.q.clone()),
        Some(json!({"stage": {"$in": ["Closed Won", "Lead"]}}))
    );
    assert_eq!(
        request.and_then(|request| request.fields),
        Some(vec!["title".to_owned(), "amount".to_owned()])
    );

    let bad = entity_url("base44.app", "Deal?title=%FF");
    assert_eq!(
        reasons(&extract(&[("GET", &bad, 200)])),
        [format!(
            "har #1: GET /api/apps/{APP}/entities/Deal: bad parameter: the value of `title` is not UTF-8 text once percent-decoded"
        )]
    );
}

#[test]
fn unknown_parameters_are_equality_filters() {
    let alone = entity_url("base44.app", "Task?priority=2&project_id=p1&sort=title");
    let with_q = entity_url("base44.app", "Task?q=%7B%22done%22%3Afalse%7D&done=true");
    let repeated = entity_url("base44.app", "Task?tag=a&tag=b");
    // The count endpoint defines only `q`: its `sort` is a filter on a field named sort.
    let count = entity_url("base44.app", "Task/count?sort=x");
    let result = extract(&[
        ("GET", &alone, 200),
        ("GET", &with_q, 200),
        ("GET", &repeated, 200),
        ("GET", &count, 200),
    ]);
    let filters: Vec<(Operation, Option<Value>)> = result
        .requests
        .iter()
        .map(|request| (request.op, request.q.clone()))
        .collect();
    assert_eq!(
        filters,
        [
            (
                Operation::Filter,
                Some(json!({"priority": {"$in": ["2", 2]}, "project_id": {"$in": ["p1"]}}))
            ),
            (
                Operation::Filter,
                Some(json!({"$and": [{"done": false}, {"done": {"$in": ["true", true]}}]}))
            ),
            (
                Operation::Filter,
                Some(json!({"$and": [{"tag": {"$in": ["a"]}}, {"tag": {"$in": ["b"]}}]}))
            ),
            (Operation::Count, Some(json!({"sort": {"$in": ["x"]}}))),
        ]
    );
    assert_eq!(
        result
            .requests
            .first()
            .and_then(|request| request.sort.as_deref()),
        Some("title")
    );
}

#[test]
fn writes_other_methods_and_other_calls_are_skipped() {
    let collection = entity_url("base44.app", "Task");
    let record = entity_url("base44.app", "Task/68c6d92bc3e5e79221d2ebe8");
    let restore = entity_url("base44.app", "Task/68c6d92bc3e5e79221d2ebe8/restore");
    let result = extract(&[
        ("POST", &collection, 201),
        ("PUT", &record, 200),
        ("DELETE", &record, 200),
        ("OPTIONS", &collection, 204),
        ("GET", &restore, 200),
        (
            "GET",
            "https://crm.base44.app/assets/index-a1b2.js?v=3",
            200,
        ),
        (
            "GET",
            &format!("https://base44.app/api/apps/{APP}/auth/me"),
            200,
        ),
        ("GET", &entity_url("base44.app", "User/me"), 200),
        ("GET", &record, 404),
        ("GET", &record, 0),
    ]);
    assert!(result.requests.is_empty());
    let path = format!("/api/apps/{APP}/entities");
    assert_eq!(
        reasons(&result),
        [
            format!("har #1: POST {path}/Task: writes are not replayed (POST)"),
            format!(
                "har #2: PUT {path}/Task/68c6d92bc3e5e79221d2ebe8: writes are not replayed (PUT)"
            ),
            format!(
                "har #3: DELETE {path}/Task/68c6d92bc3e5e79221d2ebe8: writes are not replayed (DELETE)"
            ),
            format!("har #4: OPTIONS {path}/Task: only GET requests are replayed (OPTIONS)"),
            format!(
                "har #5: GET {path}/Task/68c6d92bc3e5e79221d2ebe8/restore: not a list, filter, count or get of an entity"
            ),
            "har #6: GET /assets/index-a1b2.js: not an entity call".to_owned(),
            format!("har #7: GET /api/apps/{APP}/auth/me: not an entity call"),
            format!("har #8: GET {path}/User/me: the signed-in user (User/me) is not replayed"),
            format!(
                "har #9: GET {path}/Task/68c6d92bc3e5e79221d2ebe8: response status 404, not 2xx"
            ),
            format!("har #10: GET {path}/Task/68c6d92bc3e5e79221d2ebe8: no response (status 0)"),
        ]
    );
}

#[test]
fn cursor_list_and_trash_are_skipped() {
    let cursor = entity_url("base44.app", "Task/v2/list?limit=100&cursor=eyJrIjoxfQ");
    let trash = entity_url("app.base44.com", "Task/trash?limit=10");
    let result = extract(&[("GET", &cursor, 200), ("GET", &trash, 200)]);
    assert!(result.requests.is_empty());
    assert_eq!(
        reasons(&result),
        [
            format!(
                "har #1: GET /api/apps/{APP}/entities/Task/v2/list: cursor paging (v2/list) is not replayed"
            ),
            format!("har #2: GET /api/apps/{APP}/entities/Task/trash: the trash is not replayed"),
        ]
    );
}

#[test]
fn no_secret_reaches_the_output() {
    let api_key = "sk-live-2f0a9c1b7e";
    let bearer = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig";
    let url = entity_url(
        "base44.app",
        &format!("Task?limit=5&api_key={api_key}&access_token={bearer}&X-Api-Key={api_key}"),
    );
    let write = entity_url("base44.app", &format!("Task?api_key={api_key}"));
    let text = json!({"log": {"entries": [
            {
                "request": {
                    "method": "GET",
                    "url": url,
                    "headers": [
                        {"name": "api_key", "value": api_key},
                        {"name": "Authorization", "value": format!("Bearer {bearer}")},
                        {"name": "Cookie", "value": format!("session={bearer}")}
                    ],
                    "queryString": [{"name": "api_key", "value": api_key}],
                    "cookies": [{"name": "session", "value": bearer}]
                },
                "response": {"status": 200, "content": {"text": format!("{{\"token\":\"{bearer}\"}}")}}
            },
            {
                "request": {"method": "POST", "url": write, "headers": [{"name": "api_key", "value": api_key}],
                            "postData": {"text": api_key}},
                "response": {"status": 200}
            }
        ]}})
        .to_string();
    let result = corpus_from_har(&text).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(result.requests.len(), 1);
    let output = format!(
        "{}{}",
        write_corpus(&result.requests),
        reasons(&result).join("\n")
    );
    assert!(!output.contains(api_key), "{output}");
    assert!(!output.contains(bearer), "{output}");
    assert!(!output.contains("sk-live"), "{output}");
    assert_eq!(
        result
            .requests
            .first()
            .and_then(|request| request.name.as_deref()),
        Some("har #1: GET Task?limit=5")
    );
}

#[test]
fn duplicates_are_removed_and_counted() {
    let first = entity_url(
        "base44.app",
        "Task?q=%7B%22a%22%3A1%2C%22b%22%3A2%7D&limit=5&sort=x",
    );
    // The same request: other parameter order, other key order in `q`, other host.
    let again = entity_url(
        "app.base44.com",
        "Task?sort=x&limit=5&q=%7B%22b%22%3A2%2C%22a%22%3A1%7D",
    );
    let other = entity_url(
        "base44.app",
        "Task?q=%7B%22a%22%3A1%2C%22b%22%3A2%7D&limit=6&sort=x",
    );
    let result = extract(&[
        ("GET", &first, 200),
        ("GET", &again, 200),
        ("GET", &other, 200),
        ("GET", &first, 200),
    ]);
    assert_eq!(result.requests.len(), 2);
    assert_eq!(result.duplicates(), 2);
    assert_eq!(
        reasons(&result),
        [
            format!("har #2: GET /api/apps/{APP}/entities/Task: duplicate of har #1"),
            format!("har #4: GET /api/apps/{APP}/entities/Task: duplicate of har #1"),
        ]
    );
    assert_eq!(
        result.skip_counts(),
        BTreeMap::from([("duplicate".to_owned(), 2)])
    );
}

#[test]
fn bad_parameters_q_and_checks_are_skipped_with_the_reason() {
    let result = extract(&[
        ("GET", &entity_url("base44.app", "Task?limit=ten"), 200),
        ("GET", &entity_url("base44.app", "Task?q=%7Bstatus%7D"), 200),
        (
            "GET",
            &entity_url(
                "base44.app",
                "Task?q=%7B%22a%22%3A%7B%22%24bad%22%3A1%7D%7D",
            ),
            200,
        ),
        ("GET", &entity_url("base44.app", "Task?sort=-"), 200),
        ("GET", &entity_url("base44.app", "Task-Archive"), 200),
    ]);
    assert!(result.requests.is_empty());
    let reasons: Vec<String> = result
        .skipped
        .iter()
        .map(|skip| skip.reason.to_string())
        .collect();
    assert_eq!(
        reasons.first().map(String::as_str),
        Some("bad parameter: `limit` must be a whole number of 0 or more, found `ten`")
    );
    assert_eq!(
        reasons.get(1).map(String::as_str),
        Some("unparsable q: key must be a string at line 1 column 2")
    );
    assert!(
        reasons
            .get(2)
            .is_some_and(|reason| reason.starts_with("not a valid request: invalid `q`")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .get(3)
            .is_some_and(|reason| reason.starts_with("not a valid request: invalid `sort`")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .get(4)
            .is_some_and(|reason| reason.starts_with("not a valid request: entity `Task-Archive`")),
        "{reasons:?}"
    );
    assert_eq!(
        result.skip_counts(),
        BTreeMap::from([
            ("bad parameter".to_owned(), 1),
            ("not a valid request".to_owned(), 3),
            ("unparsable q".to_owned(), 1),
        ])
    );
}

#[test]
fn query_string_is_used_only_when_the_url_has_no_query() {
    let url = entity_url("base44.app", "Deal");
    // Chrome copies the encoded text into `queryString`.
    let chrome = json!({"log": {"entries": [{
        "request": {"method": "GET", "url": url,
                    "queryString": [{"name": "q", "value": "%7B%22stage%22%3A%22Closed%20Won%22%7D"},
                                    {"name": "limit", "value": "3"}]},
        "response": {"status": 200}
    }]}});
    // Firefox decodes it; the URL, encoded in both, is what is read.
    let firefox = json!({"log": {"entries": [{
        "request": {"method": "GET", "url": format!("{url}?q=%7B%22stage%22%3A%22Closed+Won%22%7D&limit=3"),
                    "queryString": [{"name": "q", "value": "{\"stage\":\"Closed Won\"}"},
                                    {"name": "limit", "value": "3"}]},
        "response": {"status": 200}
    }]}});
    for text in [chrome.to_string(), firefox.to_string()] {
        let result = corpus_from_har(&text).unwrap_or_else(|error| panic!("{error}"));
        let request = result.requests.first().cloned();
        assert_eq!(
            request.as_ref().and_then(|request| request.q.clone()),
            Some(json!({"stage": "Closed Won"}))
        );
        assert_eq!(request.and_then(|request| request.limit), Some(3));
    }
}

#[test]
fn errors_say_what_is_wrong_with_the_file() {
    let message = |text: &str| corpus_from_har(text).err().map(|error| error.to_string());
    assert_eq!(
        message("{\"log\": {\"entries\": [}\n").as_deref(),
        Some("not a HAR: not JSON: expected value at line 1 column 22")
    );
    assert!(
        message("{\"log\": {}}").is_some_and(|text| text.starts_with("not a HAR: no log.entries")),
    );
    assert_eq!(
        message("{\"log\": {\"entries\": {}}}").as_deref(),
        Some("not a HAR: log.entries is not a list")
    );
    // A byte-order mark and an empty log are fine.
    assert_eq!(
        corpus_from_har("\u{feff}{\"log\": {\"entries\": []}}").ok(),
        Some(HarExtract::default())
    );
    let result = corpus_from_har("{\"log\": {\"entries\": [{\"request\": {}}]}}")
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        reasons(&result),
        ["har #1: not a HAR request: no request.method or request.url"]
    );
}
