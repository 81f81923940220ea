//! The published `@base44/sdk` as a client of the tests' servers: `tests/sdk/run.mjs`, run
//! with the machine's Node, makes the SDK calls a test lists and prints what each returned or
//! the error it threw. The SDK is pinned in `tests/sdk/package.json` and its lock file;
//! `npm ci --prefix tests/sdk` installs it (`.ci/run` does).
//!
//! A call is a JSON object, `{"entity": "Task", "method": "filter", "args": [...], "service":
//! bool}` (`service`: through `client.asServiceRole`) or `{"auth": "me", "args": [...]}`; a
//! `label` key is for the tests ([`by_label`]) and ignored by the script. A result is
//! `{"ok": value}` or `{"error": {"status", "message", "code", "data"}}` (the SDK's
//! `Base44Error`; `status` null when no answer came, e.g. a timeout).
//!
//! [`task_reads`] and [`task_writes`] are the calls on `samples/tasks`' `Task` that the tests
//! make against the emulator and, the same calls, against `offbase serve`.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The variable that makes a missing Node or SDK fail the test instead of skipping it
/// (`.ci/run` sets it, and installs the SDK).
pub const REQUIRE: &str = crate::REQUIRE_CORPUS;

/// What a whole run of the script may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one call may take, inside the script.
const CALL_TIMEOUT_MS: u64 = 20_000;

/// The folder of the SDK harness: `tests/sdk`.
pub fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

/// Node and the installed SDK.
#[derive(Debug, Clone)]
pub struct Sdk {
    script: PathBuf,
    /// The SDK version installed in `tests/sdk/node_modules`.
    pub version: String,
}

impl Sdk {
    /// The harness when `node` runs and `tests/sdk/node_modules/@base44/sdk` holds the version
    /// `tests/sdk/package.json` pins; `None` otherwise.
    pub fn find() -> Option<Sdk> {
        Sdk::locate().ok()
    }

    /// [`Sdk::find`], or `None` after saying on stderr that `test` skipped and why; with
    /// `OFFBASE_REQUIRE_CORPUS=1` a missing Node or SDK fails the test instead.
    pub fn find_or_skip(test: &str) -> Option<Sdk> {
        match Sdk::locate() {
            Ok(sdk) => Some(sdk),
            Err(reason) => {
                if std::env::var(REQUIRE).is_ok_and(|value| value == "1") {
                    panic!(
                        "{test}: {reason} (run `npm ci --prefix tests/sdk` with Node on PATH), and {REQUIRE}=1 makes it mandatory"
                    );
                }
                // Straight to stderr, past the test harness's capture, so every run shows it.
                let _ = writeln!(
                    std::io::stderr(),
                    "{test}: skipped: {reason} (run `npm ci --prefix tests/sdk`; CI makes it mandatory: {REQUIRE}=1)"
                );
                None
            }
        }
    }

    fn locate() -> Result<Sdk, String> {
        let node = std::process::Command::new("node")
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        match node {
            Ok(output) if output.status.success() => {}
            _ => return Err("Node (`node`) is not on PATH".to_owned()),
        }
        let dir = sdk_dir();
        let pinned = read_json(&dir.join("package.json"))?
            .pointer("/dependencies/@base44~1sdk")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "tests/sdk/package.json pins no @base44/sdk".to_owned())?;
        let installed = dir.join("node_modules/@base44/sdk/package.json");
        if !installed.is_file() {
            return Err("@base44/sdk is not installed in tests/sdk/node_modules".to_owned());
        }
        let version = read_json(&installed)?
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if version != pinned {
            return Err(format!(
                "tests/sdk/node_modules holds @base44/sdk {version}, package.json pins {pinned}"
            ));
        }
        Ok(Sdk {
            script: dir.join("run.mjs"),
            version,
        })
    }

    /// Runs `calls` in order with one SDK client of `server_url` and `app_id` (`token`: a
    /// user's; `service_token`: for the calls with `"service": true`; neither: anonymous), and
    /// returns one result per call. Panics, with the script's stderr, when the script fails or
    /// takes more than a minute.
    pub async fn run(
        &self,
        server_url: &str,
        app_id: &str,
        token: Option<&str>,
        service_token: Option<&str>,
        calls: &[Value],
    ) -> Vec<Value> {
        let input = json!({
            "server_url": server_url,
            "app_id": app_id,
            "token": token,
            "service_token": service_token,
            "timeout_ms": CALL_TIMEOUT_MS,
            "calls": calls,
        });
        let secrets: Vec<&str> = [token, service_token].into_iter().flatten().collect();
        let mut child = tokio::process::Command::new("node")
            .arg(&self.script)
            .current_dir(sdk_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting node {}: {error}", self.script.display()));
        if let Some(mut stdin) = child.stdin.take() {
            let bytes = serde_json::to_vec(&input).unwrap_or_default();
            if let Err(error) = stdin.write_all(&bytes).await {
                panic!("writing the calls to run.mjs: {error}");
            }
            // Dropping stdin closes it: the script reads to the end.
        }
        let output = match tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => panic!("run.mjs: {error}"),
            Err(_) => panic!(
                "run.mjs did not finish within {} s (the child is killed)",
                RUN_TIMEOUT.as_secs()
            ),
        };
        let stderr = redact(&String::from_utf8_lossy(&output.stderr), &secrets);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "run.mjs failed ({}):\n{stderr}",
            output.status
        );
        let document: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
            panic!(
                "run.mjs printed no JSON document ({error}):\n{}\nstderr:\n{stderr}",
                redact(&stdout, &secrets)
            )
        });
        let results = document
            .get("results")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            results.len(),
            calls.len(),
            "run.mjs answered {} results for {} calls; stderr:\n{stderr}",
            results.len(),
            calls.len()
        );
        results
    }
}

fn read_json(path: &std::path::Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret, "<redacted>")
        })
}

/// The results of `calls` by each call's `label` (calls without one are left out).
pub fn by_label(calls: &[Value], results: &[Value]) -> BTreeMap<String, Value> {
    calls
        .iter()
        .zip(results)
        .filter_map(|(call, result)| {
            let label = call.get("label")?.as_str()?;
            Some((label.to_owned(), result.clone()))
        })
        .collect()
}

/// The value of an `{"ok": value}` result; panics with the error of any other.
pub fn ok<'a>(label: &str, result: &'a Value) -> &'a Value {
    result
        .get("ok")
        .unwrap_or_else(|| panic!("{label}: expected a value, got {result}"))
}

/// The status of an `{"error": ...}` result (`None`: no answer came); panics on a value.
pub fn error_status(label: &str, result: &Value) -> Option<u64> {
    let error = result
        .get("error")
        .unwrap_or_else(|| panic!("{label}: expected an error, got {result}"));
    error.get("status").and_then(Value::as_u64)
}

/// One entity call.
pub fn entity_call(label: &str, entity: &str, method: &str, args: Value, service: bool) -> Value {
    json!({"label": label, "entity": entity, "method": method, "args": args, "service": service})
}

/// One `auth` call.
pub fn auth_call(label: &str, method: &str, args: Value) -> Value {
    json!({"label": label, "auth": method, "args": args})
}

/// One `users` call (the SDK's `users.inviteUser`).
pub fn users_call(label: &str, method: &str, args: Value) -> Value {
    json!({"label": label, "users": method, "args": args})
}

/// A file argument: the runner passes it to the SDK as a `File` of this name, text and type.
pub fn file_argument(name: &str, text: &str, content_type: &str) -> Value {
    json!({"$file": {"name": name, "text": text, "type": content_type}})
}

/// The filter of the `filter in gte` read: `status` `$in` two values and `priority` `$gte` 2.
pub fn in_gte_query() -> Value {
    json!({"status": {"$in": ["todo", "in_progress"]}, "priority": {"$gte": 2}})
}

/// The records [`task_reads`] asks for by id.
#[derive(Debug, Clone)]
pub struct ReadIds<'a> {
    /// A record the user of the test may read.
    pub known: &'a str,
    /// A record the user of the test may not read.
    pub hidden: &'a str,
    /// An id no record has.
    pub missing: &'a str,
}

/// The reads of `samples/tasks`' `Task` as the SDK makes them, each labelled:
/// - `list`: `list()` (the default limit, no sort);
/// - `list sorted`: `list('-created_date', 5)`;
/// - `filter in gte`: `filter(in_gte_query(), '-created_date', 500)`;
/// - `filter fields`: `filter({status: 'done'}, '-created_date', 3, 0, ['title', 'status'])`;
/// - `get known`, `get hidden`, `get missing`: `get(id)`;
/// - `count done`: `count({status: 'done'})`; `count all`: `count()`;
/// - `page 1`: `list({limit: 2})`, the `v2/list` cursor page (see [`next_page`]).
pub fn task_reads(ids: &ReadIds<'_>, service: bool) -> Vec<Value> {
    let task =
        |label: &str, method: &str, args: Value| entity_call(label, "Task", method, args, service);
    vec![
        task("list", "list", json!([])),
        task("list sorted", "list", json!(["-created_date", 5])),
        task(
            "filter in gte",
            "filter",
            json!([in_gte_query(), "-created_date", 500]),
        ),
        task(
            "filter fields",
            "filter",
            json!([{"status": "done"}, "-created_date", 3, 0, ["title", "status"]]),
        ),
        task("get known", "get", json!([ids.known])),
        task("get hidden", "get", json!([ids.hidden])),
        task("get missing", "get", json!([ids.missing])),
        task("count done", "count", json!([{"status": "done"}])),
        task("count all", "count", json!([])),
        task("page 1", "list", json!([{"limit": 2}])),
    ]
}

/// `page 2`: `list({limit: 2, cursor})`, the page after `page 1` of [`task_reads`].
pub fn next_page(cursor: &str, service: bool) -> Value {
    entity_call(
        "page 2",
        "Task",
        "list",
        json!([{"limit": 2, "cursor": cursor}]),
        service,
    )
}

/// The records [`task_writes`] changes.
#[derive(Debug, Clone)]
pub struct WriteIds<'a> {
    pub update: &'a str,
    pub delete: &'a str,
    pub bulk_update: [&'a str; 2],
}

/// The fields `create` sends (`not_in_schema` is not declared: the server drops it).
pub fn created_fields() -> Value {
    json!({"title": "Created through the SDK", "status": "todo", "priority": 2, "tags": ["sdk"], "not_in_schema": "dropped"})
}

/// The writes of `samples/tasks`' `Task` as the SDK makes them, each labelled:
/// - `create`: `create(created_fields())`;
/// - `update`: `update(update, {status: 'done', title: 'Updated through the SDK'})`;
/// - `delete`: `delete(delete)`, then `get deleted`: `get(delete)`;
/// - `bulkCreate`: two records, `Bulk one` (todo) and `Bulk two` (in_progress);
/// - `bulkUpdate`: `priority` 1 and 3 on the two `bulk_update` records.
pub fn task_writes(ids: &WriteIds<'_>, service: bool) -> Vec<Value> {
    let task =
        |label: &str, method: &str, args: Value| entity_call(label, "Task", method, args, service);
    let [first, second] = ids.bulk_update;
    vec![
        task("create", "create", json!([created_fields()])),
        task(
            "update",
            "update",
            json!([ids.update, {"status": "done", "title": "Updated through the SDK"}]),
        ),
        task("delete", "delete", json!([ids.delete])),
        task("get deleted", "get", json!([ids.delete])),
        task(
            "bulkCreate",
            "bulkCreate",
            json!([[{"title": "Bulk one", "status": "todo"}, {"title": "Bulk two", "status": "in_progress"}]]),
        ),
        task(
            "bulkUpdate",
            "bulkUpdate",
            json!([[{"id": first, "priority": 1}, {"id": second, "priority": 3}]]),
        ),
    ]
}
