//! The `tasks` sample staged for `offbase serve`'s end-to-end tests: a copy with two users
//! (Nina, a user, with a bcrypt password in her record as some apps keep one; Ada, an admin
//! without one), the records the load rejected taken out of the copy so the emulator serves
//! what PostgreSQL holds, and the users export's table applied with `psql` as its users would.

use crate::{database_url, sample};
use offbase_pipeline::progress::NoProgress;
use offbase_pipeline::users::{ExportOptions, Format, export};
use offbase_pipeline::workspace::Workspace;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const NINA: &str = "nina.young@brightloop.example";
pub const NINA_ID: &str = "68833980ae54b1fc49cfdc41";
pub const ADA: &str = "ada.admin@brightloop.example";
pub const ADA_ID: &str = "6650e44a00000000000000ad";
/// Nina's password, kept in her record as a bcrypt hash.
pub const NINA_PASSWORD: &str = "a long test passphrase";

/// Copies `samples/tasks` (schemas and data) into `app`, with the two users.
pub fn stage_tasks(app: &Path) {
    copy_folder(&sample("tasks").join("base44"), &app.join("base44"));
    copy_folder(&sample("tasks").join("data"), &app.join("data"));
    // The lowest cost bcrypt takes: a server checks any cost, and the tests stay quick.
    let hash = bcrypt::hash(NINA_PASSWORD, 4).unwrap_or_else(|error| panic!("bcrypt: {error}"));
    let users = [
        json!({"id": NINA_ID, "created_date": "2025-07-25T08:00:00.000000", "updated_date": "2025-07-25T08:00:00.000000", "email": NINA, "full_name": "Nina Young", "role": "user", "password_hash": hash}),
        json!({"id": ADA_ID, "created_date": "2025-07-01T08:00:00.000000", "updated_date": "2025-07-01T08:00:00.000000", "email": ADA, "full_name": "Ada Admin", "role": "admin"}),
    ];
    let lines: Vec<String> = users.iter().map(Value::to_string).collect();
    write_text(&app.join("data/User.jsonl"), &(lines.join("\n") + "\n"));
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

pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

pub fn write_text(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
}

/// Takes out of `app`'s data the records the load of `workspace` rejected, so an emulator on
/// `app` serves what PostgreSQL holds.
pub fn drop_rejected(app: &Path, workspace: &Path) {
    let Ok(entries) = std::fs::read_dir(workspace.join("reports/rejects")) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(entity) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let rejected: BTreeSet<String> = read_text(&path)
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
        write_text(&data, &(kept.join("\n") + "\n"));
    }
}

/// Applies an SQL file as `offbase users export` tells its user to: `psql -v ON_ERROR_STOP=1`.
pub fn psql_file(file: &Path) {
    let output = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file)
        .arg(database_url())
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "psql refused {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("cannot run psql: {error}"),
    }
}

/// The `users.sql` of `offbase users export --format postgres --pg-schema <pg_schema>`.
pub async fn export_users(workspace: &Path, pg_schema: &str) -> PathBuf {
    let mut options = ExportOptions::new(Format::Postgres);
    options.pg_schema = pg_schema.to_owned();
    let summary = export(&Workspace::new(workspace), &options, &NoProgress)
        .await
        .unwrap_or_else(|error| panic!("users export: {error}"));
    assert!(summary.problems().is_empty(), "{:?}", summary.problems());
    summary
        .files
        .iter()
        .find(|file| file.path.ends_with("users.sql"))
        .map(|file| PathBuf::from(&file.path))
        .unwrap_or_else(|| panic!("the users export wrote no users.sql: {:?}", summary.files))
}

/// Migrates the app staged in `app` (its schemas and `data/`) through `workspace` into the
/// PostgreSQL schema `pg_schema`, as `offbase migrate --from app` does.
pub async fn migrate_staged(app: &Path, workspace: &Path, pg_schema: &str) {
    use offbase_pipeline::load::LoadOptions;
    use offbase_pipeline::migrate::{Destination, MigrateOptions, MigrateSource, migrate};
    let options = MigrateOptions {
        files: None,
        source: MigrateSource::Folder {
            folder: app.to_path_buf(),
            schema_from: None,
        },
        workspace: Workspace::new(workspace),
        mappings: None,
        destination: Destination::Database(LoadOptions::new(database_url(), pg_schema)),
    };
    if let Err(error) = migrate(&options, std::sync::Arc::new(NoProgress)).await {
        panic!("migrate the staged app: {error}");
    }
}

/// The staged `tasks` sample served twice: by the emulator, and by `offbase serve` over its
/// migration into a fresh schema (the records the load rejected taken out of the emulator's
/// copy, the users export's table applied), with one service key and the same app id.
pub struct TasksOnBoth {
    /// Holds the staged app (`app/`) and the workspace (`workspace/`).
    pub folder: tempfile::TempDir,
    pub schema: crate::TestSchema,
    pub emulator: offbase_emulator::RunningEmulator,
    pub server: offbase_serve::RunningServer,
    /// What signs the server's user tokens.
    pub secret: offbase_serve::TokenSecret,
}

impl std::fmt::Debug for TasksOnBoth {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TasksOnBoth")
            .field("schema", &self.schema.name)
            .field("emulator", &self.emulator.api_url())
            .field("server", &self.server.api_url())
            .finish()
    }
}

impl TasksOnBoth {
    /// Stages, migrates and starts both; the server mails through `smtp` when given.
    pub async fn start(
        label: &str,
        token_secret: &[u8],
        smtp: Option<offbase_serve::SmtpSettings>,
    ) -> TasksOnBoth {
        let folder = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let app = folder.path().join("app");
        let workspace = folder.path().join("workspace");
        stage_tasks(&app);
        let schema = crate::TestSchema::new(label).await;
        migrate_staged(&app, &workspace, &schema.name).await;
        drop_rejected(&app, &workspace);
        // Nina's password, carried by the users export into the server's users table.
        psql_file(&export_users(&workspace, &schema.name).await);
        let emulator = crate::start_emulator(&app, None).await;
        let secret = offbase_serve::TokenSecret::new(token_secret);
        let server = offbase_serve::start(
            offbase_serve::ServeConfig {
                app_id: Some(emulator.app_id().to_owned()),
                token_secret: Some(secret.clone()),
                service_key: Some(crate::EMULATOR_KEY.to_owned()),
                smtp,
                ..offbase_serve::ServeConfig::new(&database_url(), &schema.name, &workspace)
            },
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        )
        .await
        .unwrap_or_else(|error| panic!("start offbase serve: {error}"));
        TasksOnBoth {
            folder,
            schema,
            emulator,
            server,
            secret,
        }
    }

    /// Stops the server and drops the schema.
    pub async fn stop(self) {
        self.server.shutdown().await;
        self.schema.drop().await;
    }
}
