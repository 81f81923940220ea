//! The setup the integration tests of `offbase-serve` share: the database and the sample, a
//! fresh schema per test, the sample staged or migrated into it, the emulator and
//! `offbase serve` started over it.
//!
//! Each test file includes it (`mod common;`) and so builds its own copy into its own test
//! binary, which uses only a part of it: hence `dead_code` is allowed here.
#![allow(dead_code)]

use offbase_emulator::{EmulatorConfig, RateLimits, RunningEmulator};
use offbase_pipeline::compare::canonical::platform_timestamp;
use offbase_pipeline::load::LoadOptions;
use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::workspace::Workspace;
use offbase_serve::{RunningServer, ServeConfig};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The sample's users the tests stage: Nina, a user, and Ada, an admin.
pub const NINA: &str = "nina.young@brightloop.example";
pub const NINA_ID: &str = "68833980ae54b1fc49cfdc41";
pub const ADA: &str = "ada.admin@brightloop.example";
pub const ADA_ID: &str = "6650e44a00000000000000ad";

/// A free port on the loopback interface, for the servers under test.
const LOOPBACK: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

pub fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/tasks")
}

/// A schema name no other test (or run) uses: `serve_{label}_…`.
pub fn unique_schema(label: &str) -> String {
    unique_schema_named("serve", label)
}

/// A schema name no other test (or run) uses: `{prefix}_{label}_…`.
pub fn unique_schema_named(prefix: &str, label: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{label}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

pub async fn drop_schema(schema: &str) {
    let mut connection = offbase_pg::connect(&database_url())
        .await
        .unwrap_or_else(|error| panic!("connect: {error}"));
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::query(&sql)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

pub fn copy_folder(from: &Path, to: &Path) {
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

/// `samples/tasks` (schemas and data) copied into `app`, with `users` as its `User` records.
pub fn stage_sample(app: &Path, users: &[Value]) {
    copy_folder(&sample().join("base44"), &app.join("base44"));
    copy_folder(&sample().join("data"), &app.join("data"));
    let lines: Vec<String> = users.iter().map(Value::to_string).collect();
    std::fs::write(app.join("data/User.jsonl"), lines.join("\n") + "\n")
        .unwrap_or_else(|error| panic!("User.jsonl: {error}"));
}

/// Migrates the app in `folder` into `schema` with its workspace in `workspace`; `what` names
/// the app in the panic a failure is.
pub async fn migrate_folder(folder: PathBuf, workspace: &Path, schema: &str, what: &str) {
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder,
            schema_from: None,
        },
        workspace: Workspace::new(workspace),
        mappings: None,
        destination: Destination::Database(LoadOptions::new(database_url(), schema)),
    };
    if let Err(error) = migrate(&options, Arc::new(NoProgress)).await {
        panic!("migrate {what}: {error}");
    }
}

/// `samples/tasks` migrated into `schema`: a temporary folder, and the workspace in it.
pub async fn migrate_sample(schema: &str) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let workspace = folder.path().join("workspace");
    migrate_folder(sample(), &workspace, schema, "samples/tasks").await;
    (folder, workspace)
}

/// The emulator over the app in `app`, with the service key `key` and no rate limits.
pub async fn start_emulator(app: &Path, key: &str) -> RunningEmulator {
    let mut config = EmulatorConfig::new(app, key);
    config.rate_limits = RateLimits::Off;
    offbase_emulator::start(config, SocketAddr::from(LOOPBACK))
        .await
        .unwrap_or_else(|error| panic!("start the emulator: {error}"))
}

/// `offbase serve` over `schema` (loaded from `workspace`) as the app `app_id`, with the
/// service key `key`; the rest as `ServeConfig::new` has it.
pub fn serve_config(schema: &str, workspace: &Path, app_id: &str, key: &str) -> ServeConfig {
    ServeConfig {
        app_id: Some(app_id.to_owned()),
        service_key: Some(key.to_owned()),
        ..ServeConfig::new(&database_url(), schema, workspace)
    }
}

pub async fn start_server(config: ServeConfig) -> RunningServer {
    offbase_serve::start(config, SocketAddr::from(LOOPBACK))
        .await
        .unwrap_or_else(|error| panic!("start offbase serve: {error}"))
}

/// The emulator over an app, and `offbase serve` over the same app migrated into PostgreSQL.
pub struct Both {
    /// The temporary folder the workspace (and a staged app) are in.
    pub folder: tempfile::TempDir,
    pub emulator: RunningEmulator,
    pub server: RunningServer,
    pub http: reqwest::Client,
}

/// The emulator over `samples/tasks`, and `offbase serve` over the sample migrated into
/// `schema` (serving `frontend` beside the API when given), both with the service key `key`.
pub async fn start_both(schema: &str, key: &str, frontend: Option<PathBuf>) -> Both {
    let (folder, workspace) = migrate_sample(schema).await;
    let emulator = start_emulator(&sample(), key).await;
    let server = start_server(ServeConfig {
        frontend,
        ..serve_config(schema, &workspace, emulator.app_id(), key)
    })
    .await;
    Both::new(folder, emulator, server)
}

/// The status and JSON body of the answer to `request`, a `GET` of `url`.
pub async fn get_json(request: reqwest::RequestBuilder, url: &str) -> (u16, Value) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|error| panic!("GET {url}: not JSON ({error})"));
    (status, body)
}

impl Both {
    pub fn new(
        folder: tempfile::TempDir,
        emulator: RunningEmulator,
        server: RunningServer,
    ) -> Both {
        Both {
            folder,
            emulator,
            server,
            http: reqwest::Client::new(),
        }
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
        self.emulator.shutdown().await;
    }
}

/// The emulator's records as PostgreSQL can hold them: the differences by design (see the
/// module doc of tests/reads.rs and docs/serve.md), and only those. The emulator echoes the
/// sample's text, while a column holds the value:
/// - an explicit `null` is left out (a column cannot tell it from a missing field);
/// - `created_date`/`updated_date` written in the fresh form (`...sssZ`) read back in the
///   stored form (`...ssssss`, no `Z`), as the platform reads a stored record back;
/// - a `time` field given without seconds (`09:00`) reads back with them (`09:00:00`).
pub fn as_stored(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(as_stored).collect()),
        Value::Object(record) => Value::Object(
            record
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(field, value)| {
                    let value = match (field.as_str(), value) {
                        ("created_date" | "updated_date", Value::String(text)) => {
                            Value::String(platform_timestamp(&text).unwrap_or(text))
                        }
                        ("due_time", Value::String(text)) if text.len() == 5 => {
                            Value::String(format!("{text}:00"))
                        }
                        (_, value) => value,
                    };
                    (field, value)
                })
                .collect(),
        ),
        other => other,
    }
}
