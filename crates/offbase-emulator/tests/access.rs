//! Access rules (`rls`) over real HTTP: an app whose entities use every rule shape, read and
//! written by each of its users (an admin, plain users, a custom role, a tenant key), by an
//! anonymous visitor and with the API key; user tokens from `auth/test-token`; `User/me`;
//! forged, stale and disabled tokens refused.
//!
//! One file: every test reads the one fixture app (its users and rule shapes) and its tables
//! of expected answers; split, each part would repeat them.

mod common;

use common::{Answer, Api, KEY, config, ids, start};
use offbase_emulator::{BareKeys, Route, RunningEmulator};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// The app: one schema per entity, records per entity.
fn access_app() -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let entities = folder.path().join("base44/entities");
    let data = folder.path().join("data");
    for path in [&entities, &data] {
        std::fs::create_dir_all(path).unwrap_or_else(|error| panic!("{error}"));
    }
    let user_query = json!({"$query": {"entity": "VendorStaff",
        "filter": {"email": "{{user.email}}"}, "field": "vendor_id"}});
    let schemas = [
        json!({"name": "User", "properties": {
            "salon_id": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "user", "teacher"]}}}),
        // No rules: open to everyone.
        json!({"name": "Public", "properties": {"title": {"type": "string"}}}),
        // Closed to everyone but the key, admins included.
        json!({"name": "Locked", "properties": {"title": {"type": "string"}},
            "rls": {"read": false, "write": false}}),
        // Own records by `created_by`; updates by `created_by_id`; admins delete.
        json!({"name": "Note", "properties": {"title": {"type": "string"}},
            "rls": {"create": true,
                "read": {"$or": [{"created_by": "{{user.email}}"},
                                 {"user_condition": {"role": "admin"}}]},
                "update": {"created_by_id": "{{user.id}}"},
                "delete": {"user_condition": {"role": "admin"}}}}),
        // A tenant key from the user's data; writes by admins and teachers of the tenant.
        json!({"name": "Booking", "properties": {
                "salon_id": {"type": "string"}, "status": {"type": "string"}},
            "rls": {"read": {"data.salon_id": "{{user.data.salon_id}}"},
                "write": {"data.salon_id": "{{user.data.salon_id}}",
                          "user_condition": {"role": {"$in": ["admin", "teacher"]}}}}}),
        // An array of member emails; `$all`; `$nor`.
        json!({"name": "Party", "properties": {
                "party_emails": {"type": "array", "items": {"type": "string"}},
                "status": {"type": "string"}},
            "rls": {"read": {"data.party_emails": "{{user.email}}"},
                "create": {"data.party_emails": "{{user.email}}"},
                "update": {"data.party_emails": {"$all": ["{{user.email}}"]}},
                "delete": {"$nor": [{"data.status": "locked"}]}}}),
        // `{}` and `null` are open; `$ne`, `$in` on the role, `$nin` with no user at all.
        json!({"name": "Lesson", "properties": {"status": {"type": "string"}},
            "rls": {"read": {}, "create": null,
                "update": {"data.status": {"$ne": "archived"},
                           "user_condition": {"role": {"$in": ["teacher", "admin"]}}},
                "delete": {"data.status": {"$nin": ["published", "archived"]}}}}),
        // A bare key (no `data.`).
        json!({"name": "Message", "properties": {
                "sender_email": {"type": "string"}, "text": {"type": "string"}},
            "rls": {"read": {"sender_email": "{{user.email}}"}, "create": true}}),
        // Sub-queries read these whatever their own rules say.
        json!({"name": "VendorStaff", "properties": {
                "email": {"type": "string"},
                "vendor_id": {"type": ["string", "array"]}},
            "rls": {"read": false, "write": false}}),
        json!({"name": "Vendor", "properties": {"region_id": {"type": "string"}}}),
        // One and two levels of `$query`.
        json!({"name": "Shift", "properties": {
                "vendor_id": {"type": "string"}, "region_id": {"type": "string"}},
            "rls": {"read": {"data.vendor_id": {"$in": [user_query.clone()]}},
                "update": {"data.region_id": {"$in": [{"$query": {"entity": "Vendor",
                    "filter": {"id": {"$in": [user_query]}}, "field": "region_id"}}]}},
                "create": false, "delete": false}}),
        // A field only admins read and write.
        json!({"name": "Salary", "properties": {
                "person_email": {"type": "string"},
                "amount": {"type": "number", "rls": {
                    "read": {"user_condition": {"role": "admin"}},
                    "write": {"user_condition": {"role": "admin"}}}}},
            "rls": {"read": true, "create": true, "update": true, "delete": false}}),
    ];
    for schema in schemas {
        let name = schema["name"].as_str().unwrap_or("Unnamed").to_owned();
        std::fs::write(entities.join(format!("{name}.jsonc")), schema.to_string())
            .unwrap_or_else(|error| panic!("{error}"));
    }
    let stamp = "2026-01-05T10:00:00.000000";
    let record = |id: &str, by: &str, by_id: &str, fields: Value| {
        let mut record = json!({"id": id, "created_date": stamp, "updated_date": stamp,
            "created_by": by, "created_by_id": by_id, "is_sample": false});
        if let (Some(record), Value::Object(fields)) = (record.as_object_mut(), fields) {
            record.extend(fields);
        }
        record
    };
    let root = |id: &str, fields: Value| record(id, "root@example.com", "u-admin", fields);
    let user = |id: &str, email: &str, role: &str, salon: &str, extra: Value| {
        let mut user = json!({"id": id, "created_date": stamp, "updated_date": stamp,
            "email": email, "full_name": id, "role": role, "salon_id": salon});
        if let (Some(user), Value::Object(extra)) = (user.as_object_mut(), extra) {
            user.extend(extra);
        }
        user
    };
    let files: Vec<(&str, Vec<Value>)> = vec![
        (
            "User",
            vec![
                user("u-admin", "root@example.com", "admin", "s1", json!({})),
                user("u-ann", "ann@example.com", "user", "s1", json!({})),
                user("u-bob", "bob@example.com", "user", "s2", json!({})),
                user("u-tea", "tea@example.com", "teacher", "s2", json!({})),
                user(
                    "u-off",
                    "off@example.com",
                    "user",
                    "s1",
                    json!({"disabled": true}),
                ),
            ],
        ),
        (
            "Public",
            vec![
                root("p1", json!({"title": "a"})),
                root("p2", json!({"title": "b"})),
            ],
        ),
        ("Locked", vec![root("l1", json!({"title": "secret"}))]),
        (
            "Note",
            vec![
                record(
                    "n-ann",
                    "ann@example.com",
                    "u-ann",
                    json!({"title": "ann's"}),
                ),
                record(
                    "n-bob",
                    "bob@example.com",
                    "u-bob",
                    json!({"title": "bob's"}),
                ),
                root("n-admin", json!({"title": "root's"})),
            ],
        ),
        (
            "Booking",
            vec![
                root("b1", json!({"salon_id": "s1", "status": "new"})),
                root("b2", json!({"salon_id": "s1", "status": "done"})),
                root("b3", json!({"salon_id": "s2", "status": "new"})),
            ],
        ),
        (
            "Party",
            vec![
                root(
                    "pa1",
                    json!({"party_emails": ["ann@example.com", "bob@example.com"], "status": "open"}),
                ),
                root(
                    "pa2",
                    json!({"party_emails": ["bob@example.com"], "status": "locked"}),
                ),
            ],
        ),
        (
            "Lesson",
            vec![
                root("le1", json!({"status": "draft"})),
                root("le2", json!({"status": "published"})),
                root("le3", json!({"status": "archived"})),
            ],
        ),
        (
            "Message",
            vec![
                root(
                    "m1",
                    json!({"sender_email": "ann@example.com", "text": "hi"}),
                ),
                root(
                    "m2",
                    json!({"sender_email": "bob@example.com", "text": "yo"}),
                ),
            ],
        ),
        (
            "VendorStaff",
            vec![
                root(
                    "vs1",
                    json!({"email": "ann@example.com", "vendor_id": "v1"}),
                ),
                root(
                    "vs2",
                    json!({"email": "bob@example.com", "vendor_id": ["v2", "v3"]}),
                ),
            ],
        ),
        (
            "Vendor",
            vec![
                root("v1", json!({"region_id": "r1"})),
                root("v2", json!({"region_id": "r2"})),
            ],
        ),
        (
            "Shift",
            vec![
                root("sh1", json!({"vendor_id": "v1", "region_id": "r1"})),
                root("sh2", json!({"vendor_id": "v2", "region_id": "r2"})),
                root("sh3", json!({"vendor_id": "v3", "region_id": "r9"})),
                root("sh4", json!({"vendor_id": "v9", "region_id": "r1"})),
            ],
        ),
        (
            "Salary",
            vec![root(
                "sa1",
                json!({"person_email": "ann@example.com", "amount": 100}),
            )],
        ),
    ];
    for (entity, records) in files {
        let lines: String = records.iter().map(|record| format!("{record}\n")).collect();
        std::fs::write(data.join(format!("{entity}.jsonl")), lines)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    folder
}

/// Who a request is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Key,
    Anonymous,
    Admin,
    Ann,
    Bob,
    Teacher,
}

const PEOPLE: [Who; 5] = [Who::Anonymous, Who::Admin, Who::Ann, Who::Bob, Who::Teacher];

impl Who {
    fn email(self) -> Option<&'static str> {
        match self {
            Who::Admin => Some("root@example.com"),
            Who::Ann => Some("ann@example.com"),
            Who::Bob => Some("bob@example.com"),
            Who::Teacher => Some("tea@example.com"),
            Who::Key | Who::Anonymous => None,
        }
    }
}

/// A client that signs each request in as someone.
struct Client<'a> {
    api: Api<'a>,
    tokens: BTreeMap<Who, String>,
}

impl<'a> Client<'a> {
    /// Tokens for every person, asked of `auth/test-token` with the key.
    async fn new(emulator: &'a RunningEmulator) -> Client<'a> {
        let api = Api::new(emulator);
        let mut tokens = BTreeMap::new();
        for who in PEOPLE {
            let Some(email) = who.email() else { continue };
            let answer = token_answer(&api, Some(KEY), &json!({"email": email})).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
            let body = answer.json();
            assert_eq!(body["user"]["email"], json!(email));
            let token = body["access_token"].as_str().unwrap_or_default().to_owned();
            tokens.insert(who, token);
        }
        Client { api, tokens }
    }

    fn request(&self, who: Who, method: Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.api.client.request(method, url);
        match who {
            Who::Key => request.header("api_key", KEY),
            Who::Anonymous => request,
            person => match self.tokens.get(&person) {
                Some(token) => request.bearer_auth(token),
                None => panic!("no token for {person:?}"),
            },
        }
    }

    async fn get(&self, who: Who, entity: &str, rest: &str, query: &[(&str, &str)]) -> Answer {
        let url = self.api.url(entity, rest);
        self.api
            .send(self.request(who, Method::GET, &url).query(query))
            .await
    }

    async fn write(
        &self,
        who: Who,
        method: Method,
        entity: &str,
        rest: &str,
        body: &Value,
    ) -> Answer {
        let url = self.api.url(entity, rest);
        let request = self
            .request(who, method, &url)
            .header("content-type", "application/json")
            .body(body.to_string());
        self.api.send(request).await
    }

    async fn delete(&self, who: Who, entity: &str, rest: &str) -> Answer {
        let url = self.api.url(entity, rest);
        self.api.send(self.request(who, Method::DELETE, &url)).await
    }

    /// The sorted ids `who` lists.
    async fn listed(&self, who: Who, entity: &str) -> Vec<String> {
        let answer = self
            .get(who, entity, "", &[("limit", "5000"), ("sort", "id")])
            .await;
        assert_eq!(answer.status, 200, "{who:?} {entity}: {}", answer.text);
        ids(&answer.records())
    }
}

async fn token_answer(api: &Api<'_>, key: Option<&str>, body: &Value) -> Answer {
    let url = format!(
        "{}/api/apps/{}/auth/test-token",
        api.emulator.api_url(),
        api.emulator.app_id()
    );
    let mut request = api
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("api_key", key);
    }
    api.send(request).await
}

fn expect(status: u16, answer: &Answer, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.text);
}

async fn start_app(app: &Path) -> RunningEmulator {
    start(config(app)).await
}

#[tokio::test]
async fn every_caller_lists_gets_and_counts_exactly_what_the_read_rules_show() {
    let app = access_app();
    let emulator = start_app(app.path()).await;
    let client = Client::new(&emulator).await;
    let none: &[&str] = &[];
    // entity, then what anonymous, the admin, ann, bob and the teacher see.
    let table: Vec<(&str, [&[&str]; 5])> = vec![
        (
            "Public",
            [
                &["p1", "p2"],
                &["p1", "p2"],
                &["p1", "p2"],
                &["p1", "p2"],
                &["p1", "p2"],
            ],
        ),
        ("Locked", [none, none, none, none, none]),
        (
            "Note",
            [
                none,
                &["n-admin", "n-ann", "n-bob"],
                &["n-ann"],
                &["n-bob"],
                none,
            ],
        ),
        (
            "Booking",
            [none, &["b1", "b2"], &["b1", "b2"], &["b3"], &["b3"]],
        ),
        ("Party", [none, none, &["pa1"], &["pa1", "pa2"], none]),
        ("Lesson", [&["le1", "le2", "le3"]; 5]),
        ("Message", [none, none, none, none, none]),
        ("VendorStaff", [none, none, none, none, none]),
        ("Vendor", [&["v1", "v2"]; 5]),
        ("Shift", [none, none, &["sh1"], &["sh2", "sh3"], none]),
        ("Salary", [&["sa1"]; 5]),
        (
            "User",
            [
                none,
                &["u-admin", "u-ann", "u-bob", "u-off", "u-tea"],
                &["u-ann"],
                &["u-bob"],
                &["u-tea"],
            ],
        ),
    ];
    for (entity, seen) in &table {
        let everything: Vec<String> = emulator.store().live_ids(entity).into_iter().collect();
        assert_eq!(
            client.listed(Who::Key, entity).await,
            everything,
            "the key, {entity}"
        );
        for (who, expected) in PEOPLE.into_iter().zip(seen) {
            let what = format!("{who:?} on {entity}");
            assert_eq!(client.listed(who, entity).await, *expected, "list: {what}");
            let count = client.get(who, entity, "/count", &[]).await;
            assert_eq!(
                count.json(),
                json!({"count": expected.len()}),
                "count: {what}"
            );
            let page = client
                .get(who, entity, "/v2/list", &[("limit", "1"), ("sort", "id")])
                .await;
            assert_eq!(
                page.json()["items"].as_array().map(Vec::len),
                Some(expected.len().min(1)),
                "v2/list: {what}"
            );
            assert_eq!(
                page.json()["has_more"],
                json!(expected.len() > 1),
                "v2/list: {what}"
            );
            for id in &everything {
                let answer = client.get(who, entity, &format!("/{id}"), &[]).await;
                let status = if expected.contains(&id.as_str()) {
                    200
                } else {
                    404
                };
                expect(status, &answer, &format!("get {id}: {what}"));
            }
        }
    }
    // Filters apply within what the rules show; the key sees the rest.
    let filtered = client
        .get(Who::Ann, "Booking", "", &[("q", r#"{"status": "new"}"#)])
        .await;
    assert_eq!(ids(&filtered.records()), ["b1"]);
    let paged = client
        .get(
            Who::Bob,
            "Shift",
            "/v2/list",
            &[("limit", "1"), ("sort", "id")],
        )
        .await
        .json();
    let cursor = paged["next_cursor"].as_str().unwrap_or_default().to_owned();
    let next = client
        .get(
            Who::Bob,
            "Shift",
            "/v2/list",
            &[("limit", "1"), ("cursor", &cursor)],
        )
        .await
        .json();
    assert_eq!(next["items"][0]["id"], json!("sh3"));
    assert_eq!(next["has_more"], json!(false));
    emulator.shutdown().await;
}

#[tokio::test]
async fn writes_are_allowed_and_refused_exactly_as_the_rules_say() {
    let app = access_app();
    let emulator = start_app(app.path()).await;
    let client = Client::new(&emulator).await;
    let store = emulator.store();

    // Note: anyone creates (stamped with who did); updates by the creator's id, not even an
    // admin's; deletes by admins; hidden records are 404s.
    let created = client
        .write(
            Who::Anonymous,
            Method::POST,
            "Note",
            "",
            &json!({"title": "x"}),
        )
        .await;
    expect(200, &created, "anonymous creates a Note");
    assert_eq!(created.json()["created_by"], json!("anonymous"));
    assert_eq!(created.json()["created_by_id"], Value::Null);
    let created = client
        .write(
            Who::Bob,
            Method::POST,
            "Note",
            "",
            &json!({"title": "mine"}),
        )
        .await;
    expect(200, &created, "bob creates a Note");
    assert_eq!(created.json()["created_by"], json!("bob@example.com"));
    assert_eq!(created.json()["created_by_id"], json!("u-bob"));
    let cases: Vec<(Who, Method, &str, &str, Value, u16)> = vec![
        (
            Who::Ann,
            Method::PUT,
            "Note",
            "/n-ann",
            json!({"title": "edited"}),
            200,
        ),
        (
            Who::Ann,
            Method::PUT,
            "Note",
            "/n-bob",
            json!({"title": "edited"}),
            404,
        ),
        (
            Who::Admin,
            Method::PUT,
            "Note",
            "/n-ann",
            json!({"title": "edited"}),
            403,
        ),
        (
            Who::Anonymous,
            Method::PUT,
            "Note",
            "/n-ann",
            json!({"title": "edited"}),
            404,
        ),
        (Who::Ann, Method::DELETE, "Note", "/n-ann", Value::Null, 403),
        (
            Who::Admin,
            Method::DELETE,
            "Note",
            "/n-bob",
            Value::Null,
            200,
        ),
        // Booking: admins and teachers of the tenant; the new record is checked too.
        (
            Who::Teacher,
            Method::POST,
            "Booking",
            "",
            json!({"salon_id": "s2"}),
            200,
        ),
        (
            Who::Teacher,
            Method::POST,
            "Booking",
            "",
            json!({"salon_id": "s1"}),
            403,
        ),
        (
            Who::Bob,
            Method::POST,
            "Booking",
            "",
            json!({"salon_id": "s2"}),
            403,
        ),
        (
            Who::Anonymous,
            Method::POST,
            "Booking",
            "",
            json!({"salon_id": "s2"}),
            403,
        ),
        (
            Who::Teacher,
            Method::PUT,
            "Booking",
            "/b3",
            json!({"status": "done"}),
            200,
        ),
        (
            Who::Teacher,
            Method::PUT,
            "Booking",
            "/b3",
            json!({"salon_id": "s1"}),
            403,
        ),
        (
            Who::Teacher,
            Method::PUT,
            "Booking",
            "/b1",
            json!({"status": "done"}),
            404,
        ),
        (
            Who::Admin,
            Method::PUT,
            "Booking",
            "/b1",
            json!({"status": "done"}),
            200,
        ),
        (Who::Bob, Method::DELETE, "Booking", "/b3", Value::Null, 403),
        (
            Who::Teacher,
            Method::DELETE,
            "Booking",
            "/b1",
            Value::Null,
            404,
        ),
        (
            Who::Admin,
            Method::DELETE,
            "Booking",
            "/b2",
            Value::Null,
            200,
        ),
        // Party: members only; `$all` on updates; `$nor` on deletes.
        (
            Who::Ann,
            Method::POST,
            "Party",
            "",
            json!({"party_emails": ["ann@example.com"]}),
            200,
        ),
        (
            Who::Ann,
            Method::POST,
            "Party",
            "",
            json!({"party_emails": ["bob@example.com"]}),
            403,
        ),
        (
            Who::Anonymous,
            Method::POST,
            "Party",
            "",
            json!({"party_emails": []}),
            403,
        ),
        (
            Who::Ann,
            Method::PUT,
            "Party",
            "/pa1",
            json!({"status": "full"}),
            200,
        ),
        (
            Who::Ann,
            Method::PUT,
            "Party",
            "/pa1",
            json!({"party_emails": ["bob@example.com"]}),
            403,
        ),
        (
            Who::Ann,
            Method::PUT,
            "Party",
            "/pa2",
            json!({"status": "open"}),
            404,
        ),
        (Who::Bob, Method::DELETE, "Party", "/pa2", Value::Null, 403),
        (Who::Bob, Method::DELETE, "Party", "/pa1", Value::Null, 200),
        // Lesson: `null` create is open; `$ne` and a role list on updates; deletes need no user.
        (
            Who::Anonymous,
            Method::POST,
            "Lesson",
            "",
            json!({"status": "draft"}),
            200,
        ),
        (
            Who::Teacher,
            Method::PUT,
            "Lesson",
            "/le1",
            json!({"status": "published"}),
            200,
        ),
        (
            Who::Ann,
            Method::PUT,
            "Lesson",
            "/le2",
            json!({"status": "draft"}),
            403,
        ),
        (
            Who::Anonymous,
            Method::PUT,
            "Lesson",
            "/le2",
            json!({"status": "draft"}),
            403,
        ),
        (
            Who::Admin,
            Method::PUT,
            "Lesson",
            "/le3",
            json!({"status": "draft"}),
            403,
        ),
        (
            Who::Anonymous,
            Method::DELETE,
            "Lesson",
            "/le1",
            Value::Null,
            403,
        ),
        (
            Who::Anonymous,
            Method::DELETE,
            "Lesson",
            "/le2",
            Value::Null,
            403,
        ),
        // Locked: closed to admins as well; the key writes anyway.
        (
            Who::Admin,
            Method::POST,
            "Locked",
            "",
            json!({"title": "t"}),
            403,
        ),
        (
            Who::Admin,
            Method::PUT,
            "Locked",
            "/l1",
            json!({"title": "t"}),
            404,
        ),
        (
            Who::Key,
            Method::PUT,
            "Locked",
            "/l1",
            json!({"title": "t"}),
            200,
        ),
        (
            Who::Key,
            Method::POST,
            "Locked",
            "",
            json!({"title": "t"}),
            200,
        ),
        // Shift: two levels of `$query`; creates and deletes closed.
        (
            Who::Ann,
            Method::PUT,
            "Shift",
            "/sh1",
            json!({"vendor_id": "v1"}),
            200,
        ),
        (
            Who::Ann,
            Method::PUT,
            "Shift",
            "/sh4",
            json!({"vendor_id": "v1"}),
            404,
        ),
        (
            Who::Bob,
            Method::PUT,
            "Shift",
            "/sh2",
            json!({"vendor_id": "v2"}),
            200,
        ),
        (
            Who::Bob,
            Method::PUT,
            "Shift",
            "/sh3",
            json!({"vendor_id": "v3"}),
            403,
        ),
        (
            Who::Bob,
            Method::POST,
            "Shift",
            "",
            json!({"vendor_id": "v2"}),
            403,
        ),
        (Who::Bob, Method::DELETE, "Shift", "/sh2", Value::Null, 403),
        // Public: open to all, anonymous visitors included.
        (
            Who::Anonymous,
            Method::PUT,
            "Public",
            "/p1",
            json!({"title": "z"}),
            200,
        ),
        (
            Who::Anonymous,
            Method::DELETE,
            "Public",
            "/p2",
            Value::Null,
            200,
        ),
    ];
    for (who, method, entity, rest, body, status) in cases {
        let what = format!("{who:?} {method} {entity}{rest} {body}");
        let before = store.live_records(entity);
        let answer = if method == Method::DELETE {
            client.delete(who, entity, rest).await
        } else {
            client.write(who, method.clone(), entity, rest, &body).await
        };
        expect(status, &answer, &what);
        if status != 200 {
            assert_eq!(
                store.live_records(entity),
                before,
                "a refused write changed data: {what}"
            );
            if status == 403 {
                assert!(answer.error().contains("rule"), "{what}: {}", answer.text);
                assert!(!answer.text.contains("ob1."), "a token in: {}", answer.text);
            }
        }
    }
    // A draft lesson deleted by an anonymous visitor would have needed the draft: le1 was
    // published above; a fresh draft goes.
    let draft = client
        .write(
            Who::Key,
            Method::POST,
            "Lesson",
            "",
            &json!({"status": "draft"}),
        )
        .await;
    let id = draft.json()["id"].as_str().unwrap_or_default().to_owned();
    expect(
        200,
        &client
            .delete(Who::Anonymous, "Lesson", &format!("/{id}"))
            .await,
        "anonymous deletes a draft",
    );
    // The trash is the key's.
    expect(
        403,
        &client.get(Who::Admin, "Note", "/trash", &[]).await,
        "trash as admin",
    );
    expect(
        403,
        &client
            .write(
                Who::Admin,
                Method::PUT,
                "Note",
                "/n-bob/restore",
                &json!({}),
            )
            .await,
        "restore",
    );
    expect(
        403,
        &client.delete(Who::Admin, "Note", "/n-bob/permanent").await,
        "purge",
    );
    expect(
        200,
        &client
            .write(Who::Key, Method::PUT, "Note", "/n-bob/restore", &json!({}))
            .await,
        "restore by the key",
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn bulk_writes_are_all_or_nothing() {
    let app = access_app();
    let emulator = start_app(app.path()).await;
    let client = Client::new(&emulator).await;
    let store = emulator.store();
    let bookings = store.live_records("Booking");
    let refused = client
        .write(
            Who::Teacher,
            Method::POST,
            "Booking",
            "/bulk",
            &json!([{"salon_id": "s2"}, {"salon_id": "s1"}]),
        )
        .await;
    expect(
        403,
        &refused,
        "bulk create with one record of another tenant",
    );
    assert!(refused.error().contains("record 1"), "{}", refused.text);
    assert_eq!(store.live_records("Booking"), bookings);
    let accepted = client
        .write(
            Who::Teacher,
            Method::POST,
            "Booking",
            "/bulk",
            &json!([{"salon_id": "s2"}, {"salon_id": "s2", "status": "new"}]),
        )
        .await;
    expect(200, &accepted, "bulk create");
    assert_eq!(accepted.records().len(), 2);
    assert_eq!(store.live_records("Booking").len(), bookings.len() + 2);

    let bookings = store.live_records("Booking");
    let refused = client
        .write(
            Who::Admin,
            Method::PUT,
            "Booking",
            "/bulk",
            &json!([{"id": "b1", "status": "x"}, {"id": "b3", "status": "x"}]),
        )
        .await;
    expect(404, &refused, "bulk update naming a hidden record");
    let refused = client
        .write(
            Who::Admin,
            Method::PUT,
            "Booking",
            "/bulk",
            &json!([{"id": "b1", "status": "x"}, {"id": "b2", "salon_id": "s2"}]),
        )
        .await;
    expect(
        403,
        &refused,
        "bulk update moving a record out of the tenant",
    );
    assert_eq!(store.live_records("Booking"), bookings);
    let accepted = client
        .write(
            Who::Admin,
            Method::PUT,
            "Booking",
            "/bulk",
            &json!([{"id": "b1", "status": "x"}, {"id": "b2", "status": "y"}]),
        )
        .await;
    expect(200, &accepted, "bulk update");
    assert_eq!(ids(&accepted.records()), ["b1", "b2"]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn field_rules_hide_a_field_and_refuse_setting_it() {
    let app = access_app();
    let emulator = start_app(app.path()).await;
    let client = Client::new(&emulator).await;
    for who in [Who::Anonymous, Who::Ann, Who::Teacher] {
        let listed = client.get(who, "Salary", "", &[]).await.records();
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].contains_key("amount"), "{who:?} sees the amount");
        assert_eq!(
            listed[0].get("person_email"),
            Some(&json!("ann@example.com"))
        );
        let got = client.get(who, "Salary", "/sa1", &[]).await.json();
        assert_eq!(got.get("amount"), None, "{who:?}");
    }
    for who in [Who::Admin, Who::Key] {
        let got = client.get(who, "Salary", "/sa1", &[]).await.json();
        assert_eq!(got["amount"], json!(100), "{who:?}");
    }
    let cases: Vec<(Who, Method, &str, Value, u16)> = vec![
        (
            Who::Ann,
            Method::PUT,
            "/sa1",
            json!({"person_email": "x@example.com"}),
            200,
        ),
        (Who::Ann, Method::PUT, "/sa1", json!({"amount": 200}), 403),
        // The value it already has is no change.
        (Who::Ann, Method::PUT, "/sa1", json!({"amount": 100}), 200),
        (Who::Admin, Method::PUT, "/sa1", json!({"amount": 300}), 200),
        (
            Who::Ann,
            Method::POST,
            "",
            json!({"person_email": "a", "amount": 1}),
            403,
        ),
        (
            Who::Ann,
            Method::POST,
            "",
            json!({"person_email": "a"}),
            200,
        ),
        (
            Who::Admin,
            Method::POST,
            "",
            json!({"person_email": "b", "amount": 1}),
            200,
        ),
    ];
    for (who, method, rest, body, status) in cases {
        let answer = client
            .write(who, method.clone(), "Salary", rest, &body)
            .await;
        expect(
            status,
            &answer,
            &format!("{who:?} {method} Salary{rest} {body}"),
        );
        if status == 200 && who == Who::Ann {
            assert_eq!(
                answer.json().get("amount"),
                None,
                "an answer shows the amount"
            );
        }
    }
    assert_eq!(
        emulator
            .store()
            .record("Salary", "sa1")
            .and_then(|r| r.get("amount").cloned()),
        Some(json!(300))
    );
    expect(
        403,
        &client.delete(Who::Admin, "Salary", "/sa1").await,
        "delete is closed",
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_user_entity_has_its_built_in_rules_and_me_is_the_signed_in_user() {
    let app = access_app();
    let emulator = start_app(app.path()).await;
    let client = Client::new(&emulator).await;
    let me = client.get(Who::Ann, "User", "/me", &[]).await;
    expect(200, &me, "ann's me");
    assert_eq!(me.json()["id"], json!("u-ann"));
    assert_eq!(me.json()["salon_id"], json!("s1"));
    expect(
        401,
        &client.get(Who::Anonymous, "User", "/me", &[]).await,
        "anonymous me",
    );
    expect(
        403,
        &client.get(Who::Key, "User", "/me", &[]).await,
        "the key's me",
    );
    let cases: Vec<(Who, Method, &str, Value, u16)> = vec![
        (
            Who::Ann,
            Method::PUT,
            "/me",
            json!({"salon_id": "s9", "full_name": "Ann"}),
            200,
        ),
        (Who::Ann, Method::PUT, "/me", json!({"role": "admin"}), 403),
        (Who::Ann, Method::PUT, "/me", json!({"role": "user"}), 200),
        (
            Who::Ann,
            Method::PUT,
            "/u-ann",
            json!({"email": "new@example.com"}),
            403,
        ),
        (
            Who::Ann,
            Method::PUT,
            "/u-bob",
            json!({"salon_id": "s9"}),
            404,
        ),
        (
            Who::Admin,
            Method::PUT,
            "/u-bob",
            json!({"role": "teacher"}),
            200,
        ),
        (
            Who::Teacher,
            Method::PUT,
            "/u-tea",
            json!({"salon_id": "s1"}),
            200,
        ),
        (
            Who::Ann,
            Method::POST,
            "",
            json!({"email": "x@example.com"}),
            403,
        ),
        (
            Who::Admin,
            Method::POST,
            "",
            json!({"email": "x@example.com", "role": "user"}),
            200,
        ),
        (Who::Ann, Method::DELETE, "/me", Value::Null, 403),
        (Who::Ann, Method::DELETE, "/u-bob", Value::Null, 404),
        (Who::Admin, Method::DELETE, "/u-off", Value::Null, 200),
    ];
    for (who, method, rest, body, status) in cases {
        let what = format!("{who:?} {method} User{rest} {body}");
        let answer = if method == Method::DELETE {
            client.delete(who, "User", rest).await
        } else {
            client.write(who, method.clone(), "User", rest, &body).await
        };
        expect(status, &answer, &what);
    }
    let store = emulator.store();
    let record = |id: &str, field: &str| {
        store
            .record("User", id)
            .and_then(|user| user.get(field).cloned())
    };
    assert_eq!(record("u-ann", "salon_id"), Some(json!("s9")));
    assert_eq!(record("u-ann", "role"), Some(json!("user")));
    assert_eq!(record("u-bob", "role"), Some(json!("teacher")));
    // The session follows the record: ann's tenant moved, and bob is a teacher now.
    assert_eq!(
        client.listed(Who::Ann, "Booking").await,
        Vec::<String>::new()
    );
    expect(
        200,
        &client
            .write(
                Who::Bob,
                Method::PUT,
                "Booking",
                "/b3",
                &json!({"status": "ok"}),
            )
            .await,
        "bob as a teacher",
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn bare_keys_are_read_literally_unless_the_emulator_is_told_otherwise() {
    let app = access_app();
    let emulator = start_app(app.path()).await;
    let client = Client::new(&emulator).await;
    for who in PEOPLE {
        assert_eq!(
            client.listed(who, "Message").await,
            Vec::<String>::new(),
            "{who:?}"
        );
    }
    emulator.set_bare_keys(BareKeys::Data);
    assert_eq!(client.listed(Who::Ann, "Message").await, ["m1"]);
    assert_eq!(client.listed(Who::Bob, "Message").await, ["m2"]);
    assert_eq!(
        client.listed(Who::Anonymous, "Message").await,
        Vec::<String>::new()
    );
    emulator.set_bare_keys(BareKeys::Literal);
    assert_eq!(
        client.listed(Who::Ann, "Message").await,
        Vec::<String>::new()
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn tokens_come_from_the_key_and_forged_stale_or_disabled_ones_are_refused() {
    let app = access_app();
    let emulator = start_app(app.path()).await;
    let client = Client::new(&emulator).await;
    let api = &client.api;
    // Asking for a token needs the key; the user must exist.
    expect(
        401,
        &token_answer(api, None, &json!({"email": "ann@example.com"})).await,
        "no key",
    );
    expect(
        401,
        &token_answer(api, Some("nope"), &json!({"email": "ann@example.com"})).await,
        "wrong key",
    );
    expect(
        404,
        &token_answer(api, Some(KEY), &json!({"email": "who@example.com"})).await,
        "no such user",
    );
    expect(
        400,
        &token_answer(api, Some(KEY), &json!({})).await,
        "no user named",
    );
    expect(
        403,
        &token_answer(api, Some(KEY), &json!({"email": "off@example.com"})).await,
        "disabled",
    );
    let by_id = token_answer(api, Some(KEY), &json!({"id": "u-ann"}))
        .await
        .json();
    assert_eq!(
        by_id["access_token"].as_str(),
        client.tokens.get(&Who::Ann).map(String::as_str)
    );
    assert_eq!(
        by_id["access_token"].as_str(),
        Some(emulator.user_token("u-ann").as_str())
    );
    // Case does not matter in the email.
    expect(
        200,
        &token_answer(api, Some(KEY), &json!({"email": "ANN@example.com"})).await,
        "email case",
    );

    let url = api.url("Note", "");
    let forged = offbase_emulator::user_token("another-key", emulator.app_id(), "u-admin");
    let refused = [
        forged.clone(),
        offbase_emulator::user_token(KEY, "000000000000000000000bad", "u-admin"),
        // A stale token (no such user) and a disabled user's token.
        emulator.user_token("u-gone"),
        emulator.user_token("u-off"),
        "ob1.752d61646d696e.00".to_owned(),
        "not-a-token".to_owned(),
    ];
    for token in &refused {
        let answer = api.send(api.client.get(&url).bearer_auth(token)).await;
        expect(401, &answer, &format!("token {token}"));
        assert!(!answer.text.contains(token.as_str()), "{}", answer.text);
    }
    // A valid token works on every entity route, and tokens are per app.
    let answer = api
        .send(
            api.client
                .get(&url)
                .bearer_auth(emulator.user_token("u-admin")),
        )
        .await;
    expect(200, &answer, "the admin's token");
    assert_eq!(answer.records().len(), 3);
    assert_eq!(emulator.stats().responses(Route::UserToken, 200), 6);
    emulator.shutdown().await;
}
