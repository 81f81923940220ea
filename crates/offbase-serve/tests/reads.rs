//! `offbase serve` answers entity reads as the platform does: the sample `tasks` app served by
//! the emulator and, migrated into PostgreSQL, by `offbase serve`, asked the same requests
//! over HTTP, must give the same answers.
//!
//! One difference is by design, and the comparison states it rather than hides it: a field
//! stored as an explicit `null` is returned by the platform (and the emulator) as `null`,
//! while a column holds NULL for null and missing alike, so `offbase serve` leaves the field
//! out, as the platform does for a field never set (see docs/serve.md).

mod common;

use common::{Both, as_stored, database_url, drop_schema, get_json, start_both, unique_schema};
use offbase_serve::ServeConfig;
use serde_json::Value;

const KEY: &str = "serve-test-key";

impl Both {
    /// The status and JSON body of `GET {base}/api/apps/{app}/entities/{path}` from each.
    async fn ask(&self, path: &str, query: &[(&str, &str)]) -> ((u16, Value), (u16, Value)) {
        let old = self.get(&self.emulator.api_url(), path, query).await;
        let new = self.get(&self.server.api_url(), path, query).await;
        (old, new)
    }

    async fn get(&self, base: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{base}/api/apps/{}/entities/{path}", self.emulator.app_id());
        let request = self.http.get(&url).header("api_key", KEY).query(query);
        get_json(request, &url).await
    }
}

/// Records by id: without a `sort` the platform promises no order.
fn by_id(value: Value) -> Value {
    let Value::Array(mut records) = value else {
        panic!("not a list: {value}");
    };
    records.sort_by(|left, right| left["id"].as_str().cmp(&right["id"].as_str()));
    Value::Array(records)
}

fn same_records(label: &str, (old, new): ((u16, Value), (u16, Value)), ordered: bool) {
    assert_eq!((old.0, new.0), (200, 200), "{label}: {} / {}", old.1, new.1);
    let (mut old, mut new) = (as_stored(old.1), new.1);
    if !ordered {
        (old, new) = (by_id(old), by_id(new));
    }
    let count = old.as_array().map(Vec::len).unwrap_or_default();
    assert!(count > 0, "{label}: no records, nothing compared");
    let (Value::Array(old_records), Value::Array(new_records)) = (&old, &new) else {
        panic!("{label}: not lists: {old} / {new}");
    };
    assert_eq!(
        old_records.len(),
        new_records.len(),
        "{label}: record counts"
    );
    for (old, new) in old_records.iter().zip(new_records) {
        let mut differences = Vec::new();
        let mut fields: Vec<&String> = old
            .as_object()
            .into_iter()
            .flat_map(|record| record.keys())
            .collect();
        fields.extend(new.as_object().into_iter().flat_map(|record| record.keys()));
        fields.sort();
        fields.dedup();
        for field in fields {
            if old.get(field) != new.get(field) {
                differences.push(format!(
                    "{field}: {:?} / {:?}",
                    old.get(field),
                    new.get(field)
                ));
            }
        }
        assert!(
            differences.is_empty(),
            "{label}: record {} differs (emulator / serve): {differences:#?}",
            old["id"]
        );
    }
    assert_eq!(
        new, old,
        "{label}: offbase serve (left) and the emulator (right)"
    );
}

fn same_error(label: &str, (old, new): ((u16, Value), (u16, Value)), status: u16) {
    assert_eq!(
        (old.0, new.0),
        (status, status),
        "{label}: {} / {}",
        old.1,
        new.1
    );
    for body in [&old.1, &new.1] {
        // `message` is what the SDK shows; `error` the same text for older clients.
        assert!(
            body["error"].is_string()
                && body["message"] == body["error"]
                && body.as_object().map(|body| body.len()) == Some(2),
            "{label}: the error body is {{\"error\": text, \"message\": text}}, found {body}"
        );
    }
}

#[tokio::test]
async fn reads_answer_as_the_emulator_does() {
    let schema = unique_schema("reads");
    let both = start_both(&schema, KEY, None).await;

    // Without `sort` the platform promises no order, and picks any 50 of more: compare a whole
    // entity of fewer (as sets), and of a larger one only the default page size.
    same_records("list", both.ask("Project", &[]).await, false);
    let (old, new) = both.ask("Task", &[]).await;
    let sizes = [&old.1, &new.1].map(|body| body.as_array().map(Vec::len));
    assert_eq!(sizes, [Some(50), Some(50)], "the default limit");
    same_records(
        "sorted, limit 10",
        both.ask("Task", &[("sort", "-created_date"), ("limit", "10")])
            .await,
        true,
    );
    same_records(
        "filter",
        both.ask(
            "Task",
            &[("q", r#"{"status":"done"}"#), ("sort", "created_date")],
        )
        .await,
        true,
    );
    same_records(
        "skip",
        both.ask(
            "Task",
            &[("sort", "created_date"), ("skip", "5"), ("limit", "7")],
        )
        .await,
        true,
    );
    same_records(
        "fields",
        both.ask(
            "Project",
            &[("fields", "name,status"), ("sort", "-updated_date")],
        )
        .await,
        true,
    );
    same_records(
        "equality parameter",
        both.ask(
            "Comment",
            &[
                ("sort", "created_date"),
                ("author_email", "quentin.evans@brightloop.example"),
            ],
        )
        .await,
        true,
    );

    // A get of a record the list returned.
    let (_, listed) = both
        .get(
            &both.emulator.api_url(),
            "Task",
            &[("sort", "created_date"), ("limit", "1")],
        )
        .await;
    let id = listed[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {listed}"))
        .to_owned();
    let (old, new) = both.ask(&format!("Task/{id}"), &[]).await;
    assert_eq!((old.0, new.0), (200, 200), "get: {} / {}", old.1, new.1);
    assert_eq!(new.1, as_stored(old.1), "get {id}");

    let (old, new) = both
        // Project: the load rejects a few Task records that break their schema (they are in the
        // workspace's rejects, not in PostgreSQL), so a count of all Tasks differs by them.
        .ask(
            "Project/count",
            &[("q", r#"{"status":{"$in":["active","archived"]}}"#)],
        )
        .await;
    assert_eq!((old.0, new.0), (200, 200));
    assert_eq!(new.1, old.1, "count");
    assert!(old.1["count"].as_u64().unwrap_or_default() > 0, "{}", old.1);

    same_error(
        "missing id",
        both.ask("Task/000000000000000000000000", &[]).await,
        404,
    );
    same_error("unknown entity", both.ask("Nothing", &[]).await, 404);
    same_error(
        "unknown entity count",
        both.ask("Nothing/count", &[]).await,
        404,
    );
    same_error("bad q", both.ask("Task", &[("q", "{not json")]).await, 400);
    same_error(
        "bad operator",
        both.ask("Task", &[("q", r#"{"status":{"$bogus":1}}"#)])
            .await,
        400,
    );
    same_error("bad sort", both.ask("Task", &[("sort", "-")]).await, 400);

    both.shutdown().await;
    drop_schema(&schema).await;
}

#[tokio::test]
async fn what_is_not_served_answers_501() {
    let schema = unique_schema("unserved");
    let both = start_both(&schema, KEY, None).await;
    let http = reqwest::Client::new();
    let base = format!(
        "{}/api/apps/{}/entities",
        both.server.api_url(),
        both.server.app_id()
    );
    let app = format!(
        "{}/api/apps/{}",
        both.server.api_url(),
        both.server.app_id()
    );
    let requests = [
        http.get(format!("{base}/Task/trash")),
        http.post(format!("{app}/integration-endpoints/Core/InvokeLLM")),
        http.post(format!("{app}/functions/legacyExport"))
            .body("{}"),
        http.get(format!("{}/nowhere", both.server.api_url())),
    ];
    for request in requests {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(response.status().as_u16(), 501);
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let body: Value = serde_json::from_slice(&body).unwrap_or_else(|error| panic!("{error}"));
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("not served yet"), "{body}");
    }
    // The SDK's fire-and-forget calls are accepted, not refused: pages would log errors.
    for path in [
        format!(
            "/api/app-logs/{}/log-user-in-app/Dashboard",
            both.server.app_id()
        ),
        format!("/api/apps/{}/analytics/track/batch", both.server.app_id()),
    ] {
        let response = http
            .post(format!("{}{path}", both.server.api_url()))
            .header("content-type", "application/json")
            .body(r#"{"events": []}"#)
            .send()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    both.shutdown().await;
    drop_schema(&schema).await;
}

#[tokio::test]
async fn the_built_frontend_is_served_beside_the_api_with_history_fallback() {
    let schema = unique_schema("frontend");
    let dist = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let write = |path: &str, text: &str| {
        let path = dist.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("{error}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    };
    write("index.html", "<!doctype html><div id=root></div>");
    write("assets/app-1a2b.js", "console.log('app')");
    // Outside the folder: never served.
    let outside = tempfile::NamedTempFile::new().unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(outside.path(), "secret").unwrap_or_else(|error| panic!("{error}"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), dist.path().join("escape.txt"))
        .unwrap_or_else(|error| panic!("{error}"));

    let both = start_both(&schema, KEY, Some(dist.path().to_path_buf())).await;
    let base = both.server.api_url();
    let get = |path: &str| {
        let url = format!("{base}{path}");
        let http = both.http.clone();
        async move {
            let response = http
                .get(&url)
                .send()
                .await
                .unwrap_or_else(|error| panic!("{url}: {error}"));
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response.text().await.unwrap_or_default();
            (status, kind, body)
        }
    };
    let (status, kind, body) = get("/").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "<!doctype html><div id=root></div>")
    );
    assert!(kind.starts_with("text/html"), "{kind}");
    let (status, kind, body) = get("/assets/app-1a2b.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log('app')"));
    assert!(kind.starts_with("text/javascript"), "{kind}");
    // The app's own routes get the app; a missing asset is a 404, not the page.
    let (status, _, body) = get("/projects/42/edit").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "<!doctype html><div id=root></div>")
    );
    assert_eq!(get("/assets/missing.js").await.0, 404);
    assert_eq!(get("/escape.txt").await.0, 404);
    assert_eq!(get("/assets/%2e%2e%2f%2e%2e%2fsecret").await.0, 400);
    // `/api` stays the API's: an unknown API path is never the page.
    let (status, _, body) = get("/api/apps/unknown/whatever").await;
    assert_eq!(status, 501, "{body}");
    let app = both.server.app_id().to_owned();
    let (status, _, body) = get(&format!("/api/apps/{app}/entities/Project?limit=1")).await;
    assert_eq!(status, 200, "{body}");
    both.shutdown().await;
    drop_schema(&schema).await;
}

#[tokio::test]
async fn a_server_whose_role_cannot_switch_to_the_rules_roles_refuses_to_start() {
    let schema = unique_schema("roles");
    let both = start_both(&schema, KEY, None).await;
    let login = format!("serve_login_{}", std::process::id());
    let mut connection = offbase_pg::connect(&database_url())
        .await
        .unwrap_or_else(|error| panic!("connect: {error}"));
    for sql in [
        format!("DROP ROLE IF EXISTS \"{login}\""),
        format!("CREATE ROLE \"{login}\" LOGIN"),
        // What a deployment grants the server's role besides the rules' roles: reading the
        // load's recorded settings and the app's schema.
        format!("GRANT USAGE ON SCHEMA offbase TO \"{login}\""),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA offbase TO \"{login}\""),
        format!("GRANT USAGE ON SCHEMA \"{schema}\" TO \"{login}\""),
    ] {
        sqlx::query(&sql)
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
    let url = database_url().replacen("://root@", &format!("://{login}@"), 1);
    let workspace = both.folder.path().join("workspace");
    let refused = offbase_serve::start(
        ServeConfig {
            app_id: Some(both.server.app_id().to_owned()),
            ..ServeConfig::new(&url, &schema, &workspace)
        },
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await;
    let message = match refused {
        Ok(_) => panic!("a server that cannot act as the rules' roles started"),
        Err(error) => error.to_string(),
    };
    assert!(
        message.contains("cannot switch to offbase_anon, offbase_service, offbase_user")
            && message.contains("GRANT offbase_anon, offbase_service, offbase_user TO"),
        "{message}"
    );
    for sql in [
        format!("DROP OWNED BY \"{login}\""),
        format!("DROP ROLE IF EXISTS \"{login}\""),
    ] {
        let _ = sqlx::query(&sql).execute(&mut connection).await;
    }
    both.shutdown().await;
    drop_schema(&schema).await;
}
